//! Checks on user input that the API reports as a `400` naming the field, or a `403`
//! for a feature the tenant is not entitled to.

use serde::{Deserialize, Serialize};

/// A refused field: `field` is the wire path (`scaling.policies[1].maxTotalSlots`),
/// `message` says what is wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub const SLOTS_PER_NODE_FIELD: &str = "multiSlotsSettings.slotsPerNode";
pub const RESIZE_PERIOD_FIELD: &str = "elasticProperty.resizePeriod";

/// Why a pool's `slotsPerNode` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotsPerNodeRefusal {
    /// Out of range for the profile: a 400.
    #[error(transparent)]
    Invalid(FieldError),
    /// More than one slot per node without the operator's grant: a 403.
    #[error(
        "slotsPerNode {slots_per_node} needs multi-slotting, which this tenant is not entitled to; ask the platform operator"
    )]
    NotEntitled { slots_per_node: u32 },
}

/// `slots_per_node` must be 1..=`profile_max`, and above 1 only with the entitlement.
pub fn validate_slots_per_node(
    slots_per_node: u32,
    profile_max: u32,
    multi_slot_entitled: bool,
) -> Result<(), SlotsPerNodeRefusal> {
    if slots_per_node == 0 {
        return Err(SlotsPerNodeRefusal::Invalid(FieldError::new(
            SLOTS_PER_NODE_FIELD,
            "slotsPerNode must be at least 1",
        )));
    }
    if slots_per_node > profile_max {
        return Err(SlotsPerNodeRefusal::Invalid(FieldError::new(
            SLOTS_PER_NODE_FIELD,
            format!(
                "slotsPerNode ({slots_per_node}) is above this profile's maximum of {profile_max}"
            ),
        )));
    }
    if slots_per_node > 1 && !multi_slot_entitled {
        return Err(SlotsPerNodeRefusal::NotEntitled { slots_per_node });
    }
    Ok(())
}

/// DESIGN §3: a pool is evaluated every `resizePeriod` seconds, at least 1.
pub fn validate_resize_period(seconds: u32) -> Result<(), FieldError> {
    if seconds == 0 {
        return Err(FieldError::new(
            RESIZE_PERIOD_FIELD,
            "resizePeriod must be at least 1 second",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_node() {
        // (slots, profile max, entitled, outcome)
        let invalid = |m: &str| {
            Err(SlotsPerNodeRefusal::Invalid(FieldError::new(
                SLOTS_PER_NODE_FIELD,
                m,
            )))
        };
        let table = [
            (1, 1, false, Ok(())),
            (1, 8, false, Ok(())),
            (4, 8, true, Ok(())),
            (8, 8, true, Ok(())),
            (0, 8, true, invalid("slotsPerNode must be at least 1")),
            (
                9,
                8,
                true,
                invalid("slotsPerNode (9) is above this profile's maximum of 8"),
            ),
            (
                2,
                8,
                false,
                Err(SlotsPerNodeRefusal::NotEntitled { slots_per_node: 2 }),
            ),
        ];
        for (slots, max, entitled, expected) in table {
            assert_eq!(
                validate_slots_per_node(slots, max, entitled),
                expected,
                "{slots}/{max}/{entitled}"
            );
        }
    }

    #[test]
    fn resize_period() {
        assert!(validate_resize_period(1).is_ok());
        assert_eq!(
            validate_resize_period(0).unwrap_err().field,
            RESIZE_PERIOD_FIELD
        );
    }
}
