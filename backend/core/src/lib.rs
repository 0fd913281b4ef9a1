//! hearth domain core
