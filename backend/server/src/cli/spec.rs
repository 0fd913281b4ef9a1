//! The TOML of `hearth pools apply` and `hearth pools export`: a pool as a file, either of a
//! fixed size (`slots = N`) or scaled by ordered `[[policies]]`, each with its
//! `[[policies.periods]]`.
//!
//! Both sides of a comparison are [`PoolSpec::normalized`] first (the server's defaults
//! filled in, days in lower case, times `HH:MM:SS`), so a file that leaves a default out
//! matches the pool it made, and `export` writes the normalized form.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use hearth_client::Pool;
use hearth_client::scaling::{ScalingPeriod, ScalingPolicy};
use serde::{Deserialize, Serialize};

/// A pool as `apply` reads it and `export` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub name: String,
    pub profile: String,
    /// A fixed pool's size; absent when `policies` scale the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots_per_node: Option<u32>,
    /// Seconds between two evaluations of the scaling (absent: left as it is, 90 s for
    /// a new pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_period: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// In order: the first whose periods contain now applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicySpec>,
}

/// One scaling policy: `type = "Fixed"` (with `slots`) or `type = "ManagedTasksQueue"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fixed: the slots the pool holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
    /// ManagedTasksQueue (defaults 0, 1, 0, 0 and 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_total_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_idle_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_idle_time_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_factor: Option<f64>,
    /// When the policy applies; none: always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<PeriodSpec>,
}

/// `type = "Always"`, `"Weekly"` (`days`, `start`, `end` as UTC `HH:MM[:SS]`; an end
/// before the start runs across midnight) or `"DateRange"` (`from`, `to` as RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

const FIXED: &str = "Fixed";
const QUEUE: &str = "ManagedTasksQueue";

impl PoolSpec {
    /// The file form of a live pool: its policies when it is scaled by them (Qarnot's
    /// elastic settings read as the one queue policy they stand for), else its size.
    pub fn from_pool(pool: &Pool) -> PoolSpec {
        let elastic = &pool.elastic_property;
        let policies: Vec<PolicySpec> = match &pool.scaling {
            Some(scaling) if !scaling.policies.is_empty() => {
                scaling.policies.iter().map(PolicySpec::from_wire).collect()
            }
            _ if elastic.is_elastic == Some(true) => vec![PolicySpec {
                kind: QUEUE.into(),
                name: Some("elastic".into()),
                slots: None,
                min_total_slots: elastic.min_total_slots.map(clamp),
                max_total_slots: elastic.max_total_slots.map(clamp),
                min_idle_slots: elastic.min_idle_slots.map(clamp),
                min_idle_time_seconds: elastic.min_idle_time_seconds.map(clamp),
                scaling_factor: elastic.ramp_resize_factor,
                periods: Vec::new(),
            }],
            _ => Vec::new(),
        };
        let spec = PoolSpec {
            name: pool.name.clone(),
            profile: pool.profile.clone(),
            slots: policies
                .is_empty()
                .then(|| pool.instance_count.max(0) as u32),
            slots_per_node: Some(pool.multi_slots_settings.slots_per_node.max(1) as u32),
            resize_period: u32::try_from(pool.resize_period).ok(),
            tags: pool.tags.clone(),
            constants: pool
                .constants
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect(),
            labels: pool.labels.clone(),
            policies,
        };
        // The server stores policies normalized already: this only fills what an older
        // server left out, and keeps the spec as read should it not check.
        spec.clone().normalized().unwrap_or(spec)
    }

    /// Checks the file (exactly one of `slots` and `policies`, each policy's fields for its
    /// type, days and times that read) and fills in the server's defaults; the error names
    /// the field.
    pub fn normalized(mut self) -> Result<PoolSpec, String> {
        match (self.slots, self.policies.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "give either `slots` (a fixed pool) or `[[policies]]`, not both".into(),
                );
            }
            (None, true) => {
                return Err("give `slots` (a fixed pool) or at least one `[[policies]]`".into());
            }
            _ => {}
        }
        for (i, policy) in self.policies.iter_mut().enumerate() {
            policy.normalize(&format!("policies[{i}]"))?;
        }
        Ok(self)
    }

    /// The policies as the API takes them.
    pub fn wire_policies(&self) -> Vec<ScalingPolicy> {
        self.policies.iter().map(PolicySpec::to_wire).collect()
    }
}

fn clamp(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl PolicySpec {
    fn from_wire(p: &ScalingPolicy) -> PolicySpec {
        let fixed = p.kind.as_deref() == Some(FIXED);
        PolicySpec {
            kind: p.kind.clone().unwrap_or_default(),
            name: p.name.clone(),
            slots: if fixed {
                p.slots_count.map(clamp)
            } else {
                None
            },
            min_total_slots: p.min_total_slots.map(clamp),
            max_total_slots: p.max_total_slots.map(clamp),
            min_idle_slots: p.min_idle_slots.map(clamp),
            min_idle_time_seconds: p.min_idle_time_seconds.map(clamp),
            scaling_factor: p.scaling_factor,
            periods: p
                .enabled_periods
                .iter()
                .map(PeriodSpec::from_wire)
                .collect(),
        }
    }

    fn to_wire(&self) -> ScalingPolicy {
        ScalingPolicy {
            kind: Some(self.kind.clone()),
            name: self.name.clone(),
            slots_count: self.slots.map(i64::from),
            min_total_slots: self.min_total_slots.map(i64::from),
            max_total_slots: self.max_total_slots.map(i64::from),
            min_idle_slots: self.min_idle_slots.map(i64::from),
            min_idle_time_seconds: self.min_idle_time_seconds.map(i64::from),
            scaling_factor: self.scaling_factor,
            enabled_periods: self.periods.iter().map(PeriodSpec::to_wire).collect(),
        }
    }

    fn normalize(&mut self, at: &str) -> Result<(), String> {
        let queue_fields = self.min_total_slots.is_some()
            || self.max_total_slots.is_some()
            || self.min_idle_slots.is_some()
            || self.min_idle_time_seconds.is_some()
            || self.scaling_factor.is_some();
        match self.kind.as_str() {
            FIXED => {
                if self.slots.is_none() {
                    return Err(format!("{at}.slots: is required for a Fixed policy"));
                }
                if queue_fields {
                    return Err(format!(
                        "{at}: a Fixed policy takes `slots` only (the min/max/idle fields are \
                         ManagedTasksQueue's)"
                    ));
                }
            }
            QUEUE => {
                if self.slots.is_some() {
                    return Err(format!(
                        "{at}.slots: a ManagedTasksQueue policy takes min_total_slots and \
                         max_total_slots instead"
                    ));
                }
                self.min_total_slots.get_or_insert(0);
                let max = *self.max_total_slots.get_or_insert(1);
                if max < 1 {
                    return Err(format!("{at}.max_total_slots: must be at least 1"));
                }
                if self.min_total_slots > self.max_total_slots {
                    return Err(format!(
                        "{at}.min_total_slots: must not exceed max_total_slots ({max})"
                    ));
                }
                self.min_idle_slots.get_or_insert(0);
                self.min_idle_time_seconds.get_or_insert(0);
                let factor = *self.scaling_factor.get_or_insert(1.0);
                if !(factor > 0.0 && factor <= 1.0) {
                    return Err(format!(
                        "{at}.scaling_factor: must be above 0 and at most 1, got {factor}"
                    ));
                }
            }
            other => {
                return Err(format!(
                    "{at}.type: must be Fixed or ManagedTasksQueue, got '{other}'"
                ));
            }
        }
        for (i, period) in self.periods.iter_mut().enumerate() {
            period.normalize(&format!("{at}.periods[{i}]"))?;
        }
        Ok(())
    }
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl PeriodSpec {
    fn from_wire(p: &ScalingPeriod) -> PeriodSpec {
        let instant = |t: &Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        };
        PeriodSpec {
            kind: p.kind.clone().unwrap_or_else(|| "Always".into()),
            name: p.name.clone(),
            days: p.days.clone(),
            start: p.start_time_utc.clone(),
            end: p.end_time_utc.clone(),
            from: instant(&p.from),
            to: instant(&p.to),
        }
    }

    fn to_wire(&self) -> ScalingPeriod {
        let instant = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        ScalingPeriod {
            kind: Some(self.kind.clone()),
            name: self.name.clone(),
            days: self.days.clone(),
            start_time_utc: self.start.clone(),
            end_time_utc: self.end.clone(),
            from: instant(&self.from),
            to: instant(&self.to),
        }
    }

    fn normalize(&mut self, at: &str) -> Result<(), String> {
        let weekly = self.days.is_some() || self.start.is_some() || self.end.is_some();
        let range = self.from.is_some() || self.to.is_some();
        match self.kind.as_str() {
            "Always" if weekly || range => Err(format!(
                "{at}: an Always period takes no days, times or dates"
            )),
            "Always" => Ok(()),
            "Weekly" => {
                if range {
                    return Err(format!(
                        "{at}: a Weekly period takes days, start and end (from/to are DateRange's)"
                    ));
                }
                let days = self
                    .days
                    .as_mut()
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| format!("{at}.days: must list at least one day"))?;
                for day in days.iter_mut() {
                    let lower = day.trim().to_lowercase();
                    if !DAYS.contains(&lower.as_str()) {
                        return Err(format!("{at}.days: '{day}' is not a day (monday … sunday)"));
                    }
                    *day = lower;
                }
                for (field, value) in [("start", &mut self.start), ("end", &mut self.end)] {
                    let text = value
                        .as_deref()
                        .ok_or_else(|| format!("{at}.{field}: is required (HH:MM:SS, UTC)"))?;
                    let time = NaiveTime::parse_from_str(text, "%H:%M:%S")
                        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
                        .map_err(|_| format!("{at}.{field}: must be HH:MM[:SS], got '{text}'"))?;
                    *value = Some(time.format("%H:%M:%S").to_string());
                }
                Ok(())
            }
            "DateRange" => {
                if weekly {
                    return Err(format!(
                        "{at}: a DateRange period takes from and to (days/start/end are Weekly's)"
                    ));
                }
                let mut bounds = Vec::new();
                for (field, value) in [("from", &mut self.from), ("to", &mut self.to)] {
                    let text = value
                        .as_deref()
                        .ok_or_else(|| format!("{at}.{field}: is required (RFC 3339)"))?;
                    let t = DateTime::parse_from_rfc3339(text)
                        .map_err(|_| {
                            format!("{at}.{field}: must be an RFC 3339 instant, got '{text}'")
                        })?
                        .with_timezone(&Utc);
                    *value = Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                    bounds.push(t);
                }
                if bounds[0] >= bounds[1] {
                    return Err(format!("{at}.to: must be after from"));
                }
                Ok(())
            }
            other => Err(format!(
                "{at}.type: must be Always, Weekly or DateRange, got '{other}'"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PoolSpec, String> {
        toml::from_str::<PoolSpec>(text)
            .map_err(|e| e.to_string())?
            .normalized()
    }

    const SCALED: &str = r#"
name = "render"
profile = "docker-batch"
resize_period = 30

[[policies]]
type = "Fixed"
name = "office-hours"
slots = 4

[[policies.periods]]
type = "Weekly"
days = ["Monday", "friday"]
start = "8:00"
end = "18:30"

[[policies]]
type = "ManagedTasksQueue"
name = "rest"
max_total_slots = 8
min_idle_slots = 1
"#;

    #[test]
    fn a_scaled_pool_reads_with_the_servers_defaults_and_writes_back_the_same() {
        let spec = parse(SCALED).unwrap();
        let office = &spec.policies[0];
        assert_eq!(office.slots, Some(4));
        assert_eq!(
            office.periods[0].days.as_deref(),
            Some(&["monday".to_owned(), "friday".to_owned()][..])
        );
        assert_eq!(office.periods[0].start.as_deref(), Some("08:00:00"));
        let rest = &spec.policies[1];
        assert_eq!(rest.min_total_slots, Some(0));
        assert_eq!(rest.min_idle_time_seconds, Some(0));
        assert_eq!(rest.scaling_factor, Some(1.0));
        // Written and read again: the same spec (export → apply is a fixed point).
        let again = parse(&toml::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
        // And the wire form round-trips through from_wire.
        let wire = spec.wire_policies();
        assert_eq!(wire[0].slots_count, Some(4));
        assert_eq!(
            wire[0].enabled_periods[0].start_time_utc.as_deref(),
            Some("08:00:00")
        );
        let back: Vec<PolicySpec> = wire.iter().map(PolicySpec::from_wire).collect();
        assert_eq!(back, spec.policies);
    }

    #[test]
    fn bad_files_are_refused_naming_the_field() {
        let both = "name='p'\nprofile='x'\nslots=1\n[[policies]]\ntype='Fixed'\nslots=2\n";
        assert!(parse(both).unwrap_err().contains("not both"));
        let neither = "name='p'\nprofile='x'\n";
        assert!(parse(neither).unwrap_err().contains("`slots`"));
        let cases = [
            ("type='Fixed'\n", "policies[0].slots"),
            (
                "type='Fixed'\nslots=1\nmax_total_slots=3\n",
                "policies[0]: a Fixed",
            ),
            ("type='Elastic'\n", "policies[0].type"),
            (
                "type='ManagedTasksQueue'\nmax_total_slots=0\n",
                "max_total_slots",
            ),
            (
                "type='ManagedTasksQueue'\nmin_total_slots=5\nmax_total_slots=2\n",
                "min_total_slots",
            ),
            (
                "type='ManagedTasksQueue'\nscaling_factor=1.5\n",
                "scaling_factor",
            ),
            (
                "type='Fixed'\nslots=1\n[[policies.periods]]\ntype='Weekly'\ndays=['funday']\nstart='1:00'\nend='2:00'\n",
                "policies[0].periods[0].days",
            ),
            (
                "type='Fixed'\nslots=1\n[[policies.periods]]\ntype='Weekly'\ndays=['monday']\nstart='25:00'\nend='2:00'\n",
                "policies[0].periods[0].start",
            ),
            (
                "type='Fixed'\nslots=1\n[[policies.periods]]\ntype='DateRange'\nfrom='2026-01-02T00:00:00Z'\nto='2026-01-01T00:00:00Z'\n",
                "policies[0].periods[0].to",
            ),
        ];
        for (policy, field) in cases {
            let text = format!("name='p'\nprofile='x'\n[[policies]]\n{policy}");
            let err = parse(&text).unwrap_err();
            assert!(err.contains(field), "{policy:?}: {err}");
        }
        // Unknown keys are refused by name.
        let typo = "name='p'\nprofile='x'\nslot=1\n";
        assert!(parse(typo).unwrap_err().contains("slot"));
    }

    #[test]
    fn a_fixed_file_stays_a_fixed_file() {
        let spec = parse("name='p'\nprofile='x'\nslots=3\n").unwrap();
        assert_eq!(spec.slots, Some(3));
        let text = toml::to_string(&spec).unwrap();
        assert!(!text.contains("policies"), "{text}");
    }
}
