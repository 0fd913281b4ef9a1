//! hearth's pure domain: the pool and task state machines, scaling evaluation,
//! placement, instance ranges and the small vocabularies the rest of hearth speaks.
//!
//! No IO, no async, no framework types: time comes from an injected [`clock::Clock`],
//! so everything here is a function of its inputs and tested as such.

mod wire;

pub mod billing;
pub mod clock;
pub mod model;
pub mod placement;
pub mod pool_state;
pub mod ranges;
pub mod scaling;
pub mod task_state;
pub mod timespan;
pub mod transition;
pub mod validation;

pub use wire::UnknownName;
