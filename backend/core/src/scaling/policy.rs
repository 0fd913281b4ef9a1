//! Scaling policies: what size a pool should be while one of its periods is enabled,
//! and the checks a user's policies must pass before they are stored.

use serde::{Deserialize, Serialize};

use super::period::Period;
use crate::validation::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub name: Option<String>,
    pub rule: PolicyRule,
    /// Empty means always enabled.
    pub enabled_periods: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum PolicyRule {
    /// Exactly this many slots, whatever the queue.
    Fixed { slots_count: u32 },
    /// Follow the task queue between a floor and a ceiling.
    ManagedTasksQueue(ManagedQueue),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedQueue {
    pub min_total_slots: u32,
    pub max_total_slots: u32,
    /// Free slots kept ready on top of the demand, so new work starts at once.
    pub min_idle_slots: u32,
    /// How long a node must have been entirely idle before it may be released.
    pub min_idle_time_seconds: u64,
    /// Share of the missing slots added per evaluation, in (0, 1].
    pub scaling_factor: f64,
}

impl Policy {
    pub fn is_enabled_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.enabled_periods.is_empty() || self.enabled_periods.iter().any(|p| p.contains(now))
    }

    /// `'name'` or `#n` (1-based), for reasons and messages.
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => format!("'{name}'"),
            None => format!("#{}", index + 1),
        }
    }
}

impl PolicyRule {
    /// The wire `type` of the policy.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyRule::Fixed { .. } => "Fixed",
            PolicyRule::ManagedTasksQueue(_) => "ManagedTasksQueue",
        }
    }
}

/// Qarnot's older `elasticProperty`. Its wire defaults are what the SDK sends for a
/// non-elastic pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElasticProperty {
    pub is_elastic: bool,
    pub min_total_slots: u32,
    pub max_total_slots: u32,
    pub min_idle_slots: u32,
    pub resize_period_seconds: u32,
    pub ramp_resize_factor: f64,
    pub min_idle_time_seconds: u64,
}

impl Default for ElasticProperty {
    fn default() -> Self {
        Self {
            is_elastic: false,
            min_total_slots: 0,
            max_total_slots: 1,
            min_idle_slots: 0,
            resize_period_seconds: 90,
            ramp_resize_factor: 1.0,
            min_idle_time_seconds: 0,
        }
    }
}

pub const ELASTIC_POLICY_NAME: &str = "elastic";

impl ElasticProperty {
    /// The one always-enabled `ManagedTasksQueue` policy it stands for (DESIGN §3).
    pub fn to_policy(&self) -> Policy {
        Policy {
            name: Some(ELASTIC_POLICY_NAME.to_owned()),
            rule: PolicyRule::ManagedTasksQueue(self.managed_queue()),
            enabled_periods: Vec::new(),
        }
    }

    fn managed_queue(&self) -> ManagedQueue {
        ManagedQueue {
            min_total_slots: self.min_total_slots,
            max_total_slots: self.max_total_slots,
            min_idle_slots: self.min_idle_slots,
            min_idle_time_seconds: self.min_idle_time_seconds,
            scaling_factor: self.ramp_resize_factor,
        }
    }
}

/// The policies a pool actually follows. A non-empty `scaling` replaces
/// `elasticProperty` (the SDK documents that scaling "replaces elastic properties");
/// an elastic property with `isElastic` comes next; otherwise the pool is static and
/// holds `instanceCount` slots.
pub fn effective_policies(
    instance_count: u32,
    elastic: Option<&ElasticProperty>,
    scaling: &[Policy],
) -> Vec<Policy> {
    if !scaling.is_empty() {
        return scaling.to_vec();
    }
    match elastic {
        Some(e) if e.is_elastic => vec![e.to_policy()],
        _ => vec![Policy {
            name: Some("static".to_owned()),
            rule: PolicyRule::Fixed {
                slots_count: instance_count,
            },
            enabled_periods: Vec::new(),
        }],
    }
}

/// Checks a pool's policies; the first problem found is returned with its wire path.
pub fn validate_policies(policies: &[Policy], slots_per_node: u32) -> Result<(), FieldError> {
    if slots_per_node == 0 {
        return Err(FieldError::new(
            crate::validation::SLOTS_PER_NODE_FIELD,
            "slotsPerNode must be at least 1",
        ));
    }
    for (i, policy) in policies.iter().enumerate() {
        let path = format!("scaling.policies[{i}]");
        if let PolicyRule::ManagedTasksQueue(q) = &policy.rule {
            validate_managed_queue(q, slots_per_node, &path, "scalingFactor")?;
        }
        for (j, period) in policy.enabled_periods.iter().enumerate() {
            validate_period(period, &format!("{path}.enabledPeriods[{j}]"))?;
        }
    }
    Ok(())
}

/// Checks an `elasticProperty`; one that is not elastic is ignored, so its values
/// (the SDK always sends some) cannot refuse a static pool.
pub fn validate_elastic_property(
    e: &ElasticProperty,
    slots_per_node: u32,
) -> Result<(), FieldError> {
    if !e.is_elastic {
        return Ok(());
    }
    if e.resize_period_seconds == 0 {
        return Err(FieldError::new(
            "elasticProperty.resizePeriod",
            "resizePeriod must be at least 1 second",
        ));
    }
    validate_managed_queue(
        &e.managed_queue(),
        slots_per_node.max(1),
        "elasticProperty",
        "rampResizeFactor",
    )
}

fn validate_managed_queue(
    q: &ManagedQueue,
    slots_per_node: u32,
    path: &str,
    factor_field: &str,
) -> Result<(), FieldError> {
    let field = |name: &str| format!("{path}.{name}");
    let (min, max, spn) = (q.min_total_slots, q.max_total_slots, slots_per_node);
    if max < min {
        return Err(FieldError::new(
            field("maxTotalSlots"),
            format!("maxTotalSlots must be >= minTotalSlots (got {max} < {min})"),
        ));
    }
    if !(q.scaling_factor > 0.0 && q.scaling_factor <= 1.0) {
        return Err(FieldError::new(
            field(factor_field),
            format!(
                "{factor_field} must be in (0, 1] (got {})",
                q.scaling_factor
            ),
        ));
    }
    if max > 0 && max < spn {
        return Err(FieldError::new(
            field("maxTotalSlots"),
            format!(
                "maxTotalSlots ({max}) is below slotsPerNode ({spn}): a pool cannot hold a partial node"
            ),
        ));
    }
    // Nodes come whole: the floor rounds up, the ceiling down, and they must meet.
    if min.div_ceil(spn) > max / spn {
        return Err(FieldError::new(
            field("minTotalSlots"),
            format!(
                "no whole number of {spn}-slot nodes lies between minTotalSlots ({min}) and maxTotalSlots ({max})"
            ),
        ));
    }
    Ok(())
}

fn validate_period(period: &Period, path: &str) -> Result<(), FieldError> {
    match period {
        Period::Always { .. } => Ok(()),
        Period::Weekly { days, .. } if days.is_empty() => Err(FieldError::new(
            format!("{path}.days"),
            "a weekly period needs at least one day",
        )),
        Period::Weekly { .. } => Ok(()),
        Period::DateRange { from, to, .. } if to <= from => Err(FieldError::new(
            format!("{path}.to"),
            "a date range must end after it starts",
        )),
        Period::DateRange { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PolicyRule::ManagedTasksQueue;
    use chrono::{NaiveTime, TimeZone, Utc, Weekday};

    fn managed(min: u32, max: u32, factor: f64) -> Policy {
        Policy {
            name: None,
            rule: ManagedTasksQueue(ManagedQueue {
                min_total_slots: min,
                max_total_slots: max,
                min_idle_slots: 0,
                min_idle_time_seconds: 0,
                scaling_factor: factor,
            }),
            enabled_periods: vec![],
        }
    }

    fn fixed(n: u32, periods: Vec<Period>) -> Policy {
        Policy {
            name: None,
            rule: PolicyRule::Fixed { slots_count: n },
            enabled_periods: periods,
        }
    }

    #[test]
    fn valid_policies_pass() {
        let weekly = Period::Weekly {
            name: None,
            days: vec![Weekday::Mon],
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        };
        let cases: Vec<(Vec<Policy>, u32)> = vec![
            (vec![], 1),
            (vec![managed(0, 0, 1.0)], 4),
            (vec![managed(0, 4, 0.5)], 4),
            (vec![managed(1, 6, 0.01)], 4),
            (vec![managed(8, 8, 1.0)], 4),
            (vec![fixed(5, vec![weekly]), managed(0, 10, 1.0)], 4),
            (vec![fixed(0, vec![])], 1),
        ];
        for (policies, spn) in cases {
            assert_eq!(validate_policies(&policies, spn), Ok(()), "{policies:?}");
        }
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let t = |h| Utc.with_ymd_and_hms(2024, 1, 1, h, 0, 0).unwrap();
        let cases: Vec<(Vec<Policy>, u32, &str, &str)> = vec![
            (
                vec![managed(5, 4, 1.0)],
                1,
                "scaling.policies[0].maxTotalSlots",
                "maxTotalSlots must be >= minTotalSlots (got 4 < 5)",
            ),
            (
                vec![fixed(1, vec![]), managed(0, 4, 0.0)],
                1,
                "scaling.policies[1].scalingFactor",
                "scalingFactor must be in (0, 1] (got 0)",
            ),
            (
                vec![managed(0, 4, 1.5)],
                1,
                "scaling.policies[0].scalingFactor",
                "scalingFactor must be in (0, 1] (got 1.5)",
            ),
            (
                vec![managed(0, 4, f64::NAN)],
                1,
                "scaling.policies[0].scalingFactor",
                "scalingFactor must be in (0, 1] (got NaN)",
            ),
            (
                vec![managed(0, 2, 1.0)],
                4,
                "scaling.policies[0].maxTotalSlots",
                "maxTotalSlots (2) is below slotsPerNode (4): a pool cannot hold a partial node",
            ),
            (
                vec![managed(5, 6, 1.0)],
                4,
                "scaling.policies[0].minTotalSlots",
                "no whole number of 4-slot nodes lies between minTotalSlots (5) and maxTotalSlots (6)",
            ),
            (
                vec![fixed(
                    1,
                    vec![
                        Period::Always { name: None },
                        Period::Weekly {
                            name: None,
                            days: vec![],
                            start: NaiveTime::MIN,
                            end: NaiveTime::MIN,
                        },
                    ],
                )],
                1,
                "scaling.policies[0].enabledPeriods[1].days",
                "a weekly period needs at least one day",
            ),
            (
                vec![fixed(
                    1,
                    vec![Period::DateRange {
                        name: None,
                        from: t(5),
                        to: t(5),
                    }],
                )],
                1,
                "scaling.policies[0].enabledPeriods[0].to",
                "a date range must end after it starts",
            ),
            (
                vec![],
                0,
                "multiSlotsSettings.slotsPerNode",
                "slotsPerNode must be at least 1",
            ),
        ];
        for (policies, spn, field, message) in cases {
            let err = validate_policies(&policies, spn).expect_err(field);
            assert_eq!((err.field.as_str(), err.message.as_str()), (field, message));
        }
    }

    #[test]
    fn elastic_property_is_one_always_enabled_managed_queue() {
        let e = ElasticProperty {
            is_elastic: true,
            min_total_slots: 1,
            max_total_slots: 8,
            min_idle_slots: 2,
            resize_period_seconds: 30,
            ramp_resize_factor: 0.25,
            min_idle_time_seconds: 60,
        };
        let p = e.to_policy();
        assert_eq!(p.name.as_deref(), Some("elastic"));
        assert!(p.enabled_periods.is_empty());
        assert!(p.is_enabled_at(Utc.with_ymd_and_hms(2031, 7, 4, 3, 0, 0).unwrap()));
        assert_eq!(
            p.rule,
            ManagedTasksQueue(ManagedQueue {
                min_total_slots: 1,
                max_total_slots: 8,
                min_idle_slots: 2,
                min_idle_time_seconds: 60,
                scaling_factor: 0.25,
            })
        );
    }

    #[test]
    fn elastic_property_validation() {
        let sdk_default = ElasticProperty::default();
        assert_eq!(
            validate_elastic_property(&sdk_default, 4),
            Ok(()),
            "not elastic: ignored"
        );
        let bad_ramp = ElasticProperty {
            is_elastic: true,
            max_total_slots: 4,
            ramp_resize_factor: 0.0,
            ..Default::default()
        };
        let err = validate_elastic_property(&bad_ramp, 1).unwrap_err();
        assert_eq!(err.field, "elasticProperty.rampResizeFactor");
        assert_eq!(err.message, "rampResizeFactor must be in (0, 1] (got 0)");
        let partial = ElasticProperty {
            is_elastic: true,
            max_total_slots: 2,
            ..Default::default()
        };
        assert_eq!(
            validate_elastic_property(&partial, 4).unwrap_err().field,
            "elasticProperty.maxTotalSlots"
        );
        let no_period = ElasticProperty {
            is_elastic: true,
            resize_period_seconds: 0,
            ..Default::default()
        };
        assert_eq!(
            validate_elastic_property(&no_period, 1).unwrap_err().field,
            "elasticProperty.resizePeriod"
        );
    }

    #[test]
    fn scaling_replaces_elastic_which_replaces_instance_count() {
        let elastic = ElasticProperty {
            is_elastic: true,
            max_total_slots: 4,
            ..Default::default()
        };
        let scaling = vec![fixed(3, vec![])];
        assert_eq!(effective_policies(2, Some(&elastic), &scaling), scaling);
        assert_eq!(
            effective_policies(2, Some(&elastic), &[]),
            vec![elastic.to_policy()]
        );
        let static_pool = effective_policies(2, Some(&ElasticProperty::default()), &[]);
        assert_eq!(static_pool.len(), 1);
        assert_eq!(static_pool[0].rule, PolicyRule::Fixed { slots_count: 2 });
        assert_eq!(
            effective_policies(3, None, &[])[0].rule,
            PolicyRule::Fixed { slots_count: 3 }
        );
    }

    #[test]
    fn policies_serialize_with_wire_like_names() {
        let json = serde_json::to_value(managed(0, 4, 0.5)).unwrap();
        assert_eq!(json["rule"]["type"], "ManagedTasksQueue");
        assert_eq!(json["rule"]["maxTotalSlots"], 4);
        assert_eq!(json["enabledPeriods"], serde_json::json!([]));
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, managed(0, 4, 0.5));
    }
}
