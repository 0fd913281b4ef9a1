//! Pools on Qarnot's wire: bodies into policies, rows into the pool answer.

use chrono::NaiveTime;
pub use hearth_api::qarnot::pool::{
    ECHOED_KEYS, Elastic, MultiSlots, PoolBody, Scaling, ScalingPeriod, ScalingPolicy,
};
use hearth_api::qarnot::pool::{Pool, PoolScaling, SlotsPerNode};
use hearth_api::qarnot::{Echoed, RetrySettings, Status};
use hearth_core::scaling::{
    ElasticProperty, ManagedQueue, Period, Policy, PolicyRule, parse_weekday, weekday_name,
};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

fn non_negative(v: Option<i64>, field: &str, default: i64) -> ApiResult<u32> {
    let v = v.unwrap_or(default);
    if !(0..=i64::from(u32::MAX)).contains(&v) {
        return Err(ApiError::field(field, "must be >= 0"));
    }
    Ok(v as u32)
}

fn parse_time(text: &Option<String>, field: &str) -> ApiResult<NaiveTime> {
    let text = text
        .as_deref()
        .ok_or_else(|| ApiError::field(field, "is required (HH:MM:SS)"))?;
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .map_err(|_| ApiError::field(field, format!("must be a time HH:MM:SS, got '{text}'")))
}

/// A period of the wire as hearth's domain, and back.
pub trait PeriodCore: Sized {
    fn to_core(&self, path: &str) -> ApiResult<Period>;
    fn from_core(period: &Period) -> Self;
}

impl PeriodCore for ScalingPeriod {
    fn to_core(&self, path: &str) -> ApiResult<Period> {
        let name = self.name.clone();
        match self.kind.as_deref() {
            Some("Always") | None => Ok(Period::Always { name }),
            Some("Weekly") => {
                let days = self
                    .days
                    .as_ref()
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| {
                        ApiError::field(&format!("{path}.days"), "must list at least one day")
                    })?
                    .iter()
                    .map(|d| {
                        parse_weekday(d).ok_or_else(|| {
                            ApiError::field(
                                &format!("{path}.days"),
                                format!("has an unknown day '{d}'"),
                            )
                        })
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
                Ok(Period::Weekly {
                    name,
                    days,
                    start: parse_time(&self.start_time_utc, &format!("{path}.startTimeUtc"))?,
                    end: parse_time(&self.end_time_utc, &format!("{path}.endTimeUtc"))?,
                })
            }
            Some("DateRange") => {
                let from = self
                    .from
                    .ok_or_else(|| ApiError::field(&format!("{path}.from"), "is required"))?;
                let to = self
                    .to
                    .ok_or_else(|| ApiError::field(&format!("{path}.to"), "is required"))?;
                Ok(Period::DateRange { name, from, to })
            }
            Some(other) => Err(ApiError::field(
                &format!("{path}.type"),
                format!("must be Always, Weekly or DateRange, got '{other}'"),
            )),
        }
    }

    /// Normalized stored form: days lowercase, times `HH:MM:SS`.
    fn from_core(period: &Period) -> ScalingPeriod {
        match period {
            Period::Always { name } => ScalingPeriod {
                kind: Some("Always".into()),
                name: name.clone(),
                ..Default::default()
            },
            Period::Weekly {
                name,
                days,
                start,
                end,
            } => ScalingPeriod {
                kind: Some("Weekly".into()),
                name: name.clone(),
                days: Some(days.iter().map(|d| weekday_name(*d).to_owned()).collect()),
                start_time_utc: Some(start.format("%H:%M:%S").to_string()),
                end_time_utc: Some(end.format("%H:%M:%S").to_string()),
                ..Default::default()
            },
            Period::DateRange { name, from, to } => ScalingPeriod {
                kind: Some("DateRange".into()),
                name: name.clone(),
                from: Some(*from),
                to: Some(*to),
                ..Default::default()
            },
        }
    }
}

/// A policy of the wire as hearth's domain, and back (normalized).
pub trait PolicyCore: Sized {
    fn to_core(&self, path: &str) -> ApiResult<Policy>;
    fn from_core(policy: &Policy) -> Self;
}

impl PolicyCore for ScalingPolicy {
    fn to_core(&self, path: &str) -> ApiResult<Policy> {
        let enabled_periods = self
            .enabled_periods
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_core(&format!("{path}.enabledPeriods[{i}]")))
            .collect::<ApiResult<Vec<_>>>()?;
        let rule = match self.kind.as_deref() {
            Some("Fixed") => PolicyRule::Fixed {
                slots_count: non_negative(
                    Some(self.slots_count.ok_or_else(|| {
                        ApiError::field(
                            &format!("{path}.slotsCount"),
                            "is required for a Fixed policy",
                        )
                    })?),
                    &format!("{path}.slotsCount"),
                    0,
                )?,
            },
            Some("ManagedTasksQueue") => PolicyRule::ManagedTasksQueue(ManagedQueue {
                min_total_slots: non_negative(
                    self.min_total_slots,
                    &format!("{path}.minTotalSlots"),
                    0,
                )?,
                max_total_slots: non_negative(
                    self.max_total_slots,
                    &format!("{path}.maxTotalSlots"),
                    1,
                )?,
                min_idle_slots: non_negative(
                    self.min_idle_slots,
                    &format!("{path}.minIdleSlots"),
                    0,
                )?,
                min_idle_time_seconds: u64::from(non_negative(
                    self.min_idle_time_seconds,
                    &format!("{path}.minIdleTimeSeconds"),
                    0,
                )?),
                scaling_factor: self.scaling_factor.unwrap_or(1.0),
            }),
            Some(other) => {
                return Err(ApiError::field(
                    &format!("{path}.type"),
                    format!("must be Fixed or ManagedTasksQueue, got '{other}'"),
                ));
            }
            None => return Err(ApiError::field(&format!("{path}.type"), "is required")),
        };
        Ok(Policy {
            name: self.name.clone(),
            rule,
            enabled_periods,
        })
    }

    fn from_core(policy: &Policy) -> ScalingPolicy {
        let mut wire = ScalingPolicy {
            name: policy.name.clone(),
            enabled_periods: policy
                .enabled_periods
                .iter()
                .map(ScalingPeriod::from_core)
                .collect(),
            ..Default::default()
        };
        match &policy.rule {
            PolicyRule::Fixed { slots_count } => {
                wire.kind = Some("Fixed".into());
                wire.slots_count = Some(i64::from(*slots_count));
            }
            PolicyRule::ManagedTasksQueue(q) => {
                wire.kind = Some("ManagedTasksQueue".into());
                wire.min_total_slots = Some(i64::from(q.min_total_slots));
                wire.max_total_slots = Some(i64::from(q.max_total_slots));
                wire.min_idle_slots = Some(i64::from(q.min_idle_slots));
                wire.min_idle_time_seconds = Some(q.min_idle_time_seconds as i64);
                wire.scaling_factor = Some(q.scaling_factor);
            }
        }
        wire
    }
}

/// Qarnot's elastic settings as hearth's domain, and back.
pub trait ElasticCore: Sized {
    /// Qarnot's defaults for what the SDK leaves out.
    fn to_core(&self) -> ApiResult<ElasticProperty>;
    fn from_core(e: &ElasticProperty) -> Self;
}

impl ElasticCore for Elastic {
    fn to_core(&self) -> ApiResult<ElasticProperty> {
        let p = "elasticProperty";
        let elastic = ElasticProperty {
            is_elastic: self.is_elastic.unwrap_or(false),
            min_total_slots: non_negative(self.min_total_slots, &format!("{p}.minTotalSlots"), 0)?,
            max_total_slots: non_negative(self.max_total_slots, &format!("{p}.maxTotalSlots"), 1)?,
            min_idle_slots: non_negative(self.min_idle_slots, &format!("{p}.minIdleSlots"), 0)?,
            resize_period_seconds: non_negative(
                self.resize_period,
                &format!("{p}.resizePeriod"),
                90,
            )?,
            ramp_resize_factor: self.ramp_resize_factor.unwrap_or(1.0),
            min_idle_time_seconds: u64::from(non_negative(
                self.min_idle_time_seconds,
                &format!("{p}.minIdleTimeSeconds"),
                0,
            )?),
        };
        if elastic.resize_period_seconds < 1 {
            return Err(ApiError::field(
                &format!("{p}.resizePeriod"),
                "must be >= 1 (seconds)",
            ));
        }
        Ok(elastic)
    }

    fn from_core(e: &ElasticProperty) -> Elastic {
        Elastic {
            is_elastic: Some(e.is_elastic),
            min_total_slots: Some(i64::from(e.min_total_slots)),
            max_total_slots: Some(i64::from(e.max_total_slots)),
            min_idle_slots: Some(i64::from(e.min_idle_slots)),
            resize_period: Some(i64::from(e.resize_period_seconds)),
            ramp_resize_factor: Some(e.ramp_resize_factor),
            min_idle_time_seconds: Some(e.min_idle_time_seconds as i64),
        }
    }
}

/// Where a pool's policies came from; decides what reads back under `scaling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingSource {
    Scaling,
    Elastic,
    Fixed,
}

impl ScalingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingSource::Scaling => "scaling",
            ScalingSource::Elastic => "elastic",
            ScalingSource::Fixed => "fixed",
        }
    }

    pub fn parse(s: &str) -> ScalingSource {
        match s {
            "scaling" => ScalingSource::Scaling,
            "elastic" => ScalingSource::Elastic,
            _ => ScalingSource::Fixed,
        }
    }
}

/// The policies a body asks for, with their precedence: a non-empty `scaling.policies` list,
/// else `elasticProperty` when `isElastic`, else a Fixed policy of `instanceCount` slots.
pub struct ScalingSpec {
    pub source: ScalingSource,
    pub policies: Vec<Policy>,
    pub elastic: ElasticProperty,
}

/// The policies a pool body asks for.
pub trait PoolScalingSpec {
    fn scaling_spec(&self, instance_count: u32) -> ApiResult<ScalingSpec>;
}

impl PoolScalingSpec for PoolBody {
    fn scaling_spec(&self, instance_count: u32) -> ApiResult<ScalingSpec> {
        let elastic = self
            .elastic_property
            .clone()
            .unwrap_or_default()
            .to_core()?;
        let listed = self
            .scaling
            .as_ref()
            .and_then(|s| s.policies.as_ref())
            .filter(|p| !p.is_empty());
        let (source, policies) = if let Some(list) = listed {
            let policies = list
                .iter()
                .enumerate()
                .map(|(i, p)| p.to_core(&format!("scaling.policies[{i}]")))
                .collect::<ApiResult<Vec<_>>>()?;
            (ScalingSource::Scaling, policies)
        } else if elastic.is_elastic {
            (ScalingSource::Elastic, vec![elastic.to_policy()])
        } else {
            let fixed = Policy {
                name: Some("fixed".into()),
                rule: PolicyRule::Fixed {
                    slots_count: instance_count,
                },
                enabled_periods: vec![],
            };
            (ScalingSource::Fixed, vec![fixed])
        };
        Ok(ScalingSpec {
            source,
            policies,
            elastic,
        })
    }
}

/// A pool's live figures, computed from its nodes and instances.
#[derive(Debug, Clone, Default)]
pub struct PoolFigures {
    pub total_slots: u32,
    pub running_instances: u32,
    pub running_cores: u32,
    pub queued_or_running: u32,
}

pub struct PoolView<'a> {
    pub pool: &'a crate::entities::pool::Model,
    pub figures: PoolFigures,
    pub active_policy_name: Option<String>,
}

pub fn stored_policies(pool: &crate::entities::pool::Model) -> Vec<ScalingPolicy> {
    serde_json::from_value(pool.policies.clone()).unwrap_or_default()
}

/// A stored JSON column read as `T`, or `T`'s default when it does not read (a row written
/// by an older version).
pub(crate) fn column<T: serde::de::DeserializeOwned + Default>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

pub fn pool_answer(view: &PoolView<'_>) -> Pool {
    let pool = view.pool;
    let scaling =
        (ScalingSource::parse(&pool.scaling_source) == ScalingSource::Scaling).then(|| {
            PoolScaling {
                policies: stored_policies(pool),
                active_policy_name: view.active_policy_name.clone(),
            }
        });
    let spec = pool.spec.as_object();
    let figures = &view.figures;
    Pool {
        uuid: pool.id,
        name: pool.name.clone(),
        shortname: pool
            .shortname
            .clone()
            .unwrap_or_else(|| pool.id.to_string()),
        profile: pool.profile_name.clone(),
        instance_count: pool.instance_count,
        state: pool.state.clone(),
        previous_state: pool.previous_state.clone(),
        state_transition_time: pool.state_transition_time,
        previous_state_transition_time: pool.previous_state_transition_time,
        creation_date: pool.created_at,
        last_modified: pool.updated_at,
        end_date: pool.end_date,
        constants: column(&pool.constants),
        tags: column(&pool.tags),
        labels: column(&pool.labels),
        errors: vec![],
        elastic_property: column(&pool.elastic),
        scaling,
        resize_period: pool.resize_period_seconds,
        multi_slots_settings: SlotsPerNode {
            slots_per_node: pool.slots_per_node,
        },
        default_retry_settings: spec
            .and_then(|s| s.get("defaultRetrySettings"))
            .map(column::<RetrySettings>)
            .unwrap_or_default(),
        echoed: Echoed::over_defaults(spec.and_then(|s| s.get("echo")).and_then(Value::as_object)),
        status: Status::empty(figures.running_instances),
        running_core_count: figures.running_cores,
        running_instance_count: figures.running_instances,
        total_slot_capacity: figures.total_slots,
        queued_or_running_task_instances_count: figures.queued_or_running,
        pool_usage: if figures.total_slots == 0 {
            0.0
        } else {
            f64::from(figures.running_instances) / f64::from(figures.total_slots)
        },
    }
}
