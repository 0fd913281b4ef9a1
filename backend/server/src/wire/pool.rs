//! Pool bodies and pool JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use hearth_core::scaling::{
    ElasticProperty, ManagedQueue, Period, Policy, PolicyRule, parse_weekday, weekday_name,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{KeyValue, date, opt_date};
use crate::error::{ApiError, ApiResult};

/// `POST /pools` and `PUT /pools/{uuid}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolBody {
    pub name: Option<String>,
    pub shortname: Option<String>,
    pub profile: Option<String>,
    pub constants: Option<Vec<KeyValue>>,
    pub instance_count: Option<i64>,
    pub tags: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub elastic_property: Option<ElasticWire>,
    pub scaling: Option<ScalingWire>,
    pub multi_slots_settings: Option<MultiSlotsWire>,
    pub default_retry_settings: Option<RetrySettingsWire>,
    /// Everything else the SDK sends, kept to read back (see `ECHOED_KEYS`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

/// Keys stored as sent and returned as they came, when they hold a value of the right kind.
pub const ECHOED_KEYS: &[&str] = &[
    "preparationTask",
    "hardwareConstraints",
    "forcedNetworkRules",
    "privileges",
    "secretsAccessRights",
    "schedulingType",
    "autoDeleteOnCompletion",
    "completionTimeToLive",
    "taskDefaultWaitForPoolResourcesSynchronization",
    "maxTimeQueueSeconds",
    "defaultResourcesCacheTTLSec",
    "projectUuid",
    "targetedReservationName",
    "constraints",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetrySettingsWire {
    pub max_total_retries: Option<i64>,
    pub max_per_instance_retries: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiSlotsWire {
    pub slots_per_node: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElasticWire {
    pub is_elastic: Option<bool>,
    pub min_total_slots: Option<i64>,
    pub max_total_slots: Option<i64>,
    pub min_idle_slots: Option<i64>,
    pub resize_period: Option<i64>,
    pub ramp_resize_factor: Option<f64>,
    pub min_idle_time_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ScalingWire {
    pub policies: Option<Vec<PolicyWire>>,
}

/// One policy as Qarnot spells it; also the stored form (normalized) of a pool's policies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyWire {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_total_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_idle_slots: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_idle_time_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled_periods: Vec<PeriodWire>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodWire {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time_utc: Option<String>,
    /// DateRange (hearth's extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

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

impl PeriodWire {
    pub fn to_core(&self, path: &str) -> ApiResult<Period> {
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
    fn from_core(period: &Period) -> PeriodWire {
        match period {
            Period::Always { name } => PeriodWire {
                kind: Some("Always".into()),
                name: name.clone(),
                ..Default::default()
            },
            Period::Weekly {
                name,
                days,
                start,
                end,
            } => PeriodWire {
                kind: Some("Weekly".into()),
                name: name.clone(),
                days: Some(days.iter().map(|d| weekday_name(*d).to_owned()).collect()),
                start_time_utc: Some(start.format("%H:%M:%S").to_string()),
                end_time_utc: Some(end.format("%H:%M:%S").to_string()),
                ..Default::default()
            },
            Period::DateRange { name, from, to } => PeriodWire {
                kind: Some("DateRange".into()),
                name: name.clone(),
                from: Some(*from),
                to: Some(*to),
                ..Default::default()
            },
        }
    }
}

impl PolicyWire {
    pub fn to_core(&self, path: &str) -> ApiResult<Policy> {
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

    pub fn from_core(policy: &Policy) -> PolicyWire {
        let mut wire = PolicyWire {
            name: policy.name.clone(),
            enabled_periods: policy
                .enabled_periods
                .iter()
                .map(PeriodWire::from_core)
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

impl ElasticWire {
    /// Qarnot's defaults for what the SDK leaves out.
    pub fn to_core(&self) -> ApiResult<ElasticProperty> {
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

    pub fn from_core(e: &ElasticProperty) -> ElasticWire {
        ElasticWire {
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

impl PoolBody {
    pub fn scaling_spec(&self, instance_count: u32) -> ApiResult<ScalingSpec> {
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

pub fn stored_policies(pool: &crate::entities::pool::Model) -> Vec<PolicyWire> {
    serde_json::from_value(pool.policies.clone()).unwrap_or_default()
}

pub fn pool_json(view: &PoolView<'_>) -> Value {
    let pool = view.pool;
    let elastic: ElasticWire = serde_json::from_value(pool.elastic.clone()).unwrap_or_default();
    let scaling = if ScalingSource::parse(&pool.scaling_source) == ScalingSource::Scaling {
        json!({
            "policies": stored_policies(pool),
            "activePolicyName": view.active_policy_name,
        })
    } else {
        Value::Null
    };
    let spec = pool.spec.as_object().cloned().unwrap_or_default();
    let retry = spec
        .get("defaultRetrySettings")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"maxTotalRetries": null, "maxPerInstanceRetries": null}));
    let mut out = json!({
        "uuid": pool.id,
        "name": pool.name,
        "shortname": pool.shortname.clone().unwrap_or_else(|| pool.id.to_string()),
        "profile": pool.profile_name,
        "instanceCount": pool.instance_count,
        "state": pool.state,
        "previousState": pool.previous_state,
        "stateTransitionTime": date(pool.state_transition_time),
        "previousStateTransitionTime": opt_date(pool.previous_state_transition_time),
        "creationDate": date(pool.created_at),
        "lastModified": date(pool.updated_at),
        "endDate": opt_date(pool.end_date),
        "constants": pool.constants,
        "tags": pool.tags,
        "labels": pool.labels,
        "errors": [],
        "elasticProperty": elastic,
        "scaling": scaling,
        "resizePeriod": pool.resize_period_seconds,
        "multiSlotsSettings": {"slotsPerNode": pool.slots_per_node},
        "defaultRetrySettings": retry,
        "hardwareConstraints": [],
        "forcedNetworkRules": [],
        "privileges": {"exportApiAndStorageCredentialsInEnvironment": false},
        "secretsAccessRights": {"bySecret": [], "byPrefix": []},
        "resourceBuckets": [],
        "advancedResourceBuckets": [],
        "status": super::empty_status(view.figures.running_instances),
        "runningCoreCount": view.figures.running_cores,
        "runningInstanceCount": view.figures.running_instances,
        "totalSlotCapacity": view.figures.total_slots,
        "queuedOrRunningTaskInstancesCount": view.figures.queued_or_running,
        "poolUsage": if view.figures.total_slots == 0 { 0.0 } else {
            f64::from(view.figures.running_instances) / f64::from(view.figures.total_slots)
        },
    });
    // Echo what was sent, keeping the defaults above where the sent value is the wrong kind.
    super::merge_echoed(&mut out, &spec);
    out
}
