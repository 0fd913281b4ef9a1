//! The retention loop: raw usage older than `Settings::usage_retention_days` of the
//! injected clock is deleted (see `services::billing::prune_raw_usage`); the day rollups
//! keep billing those days. The horizon moves once a UTC day; it is looked at once a
//! second of real time, so a test moving the clock is noticed at once.

use actix_web::web;
use tokio::sync::watch;

use crate::services::billing;
use crate::state::AppState;

const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn run(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    let mut pruned_to: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let horizon = billing::raw_horizon(state.clock.now(), state.settings.usage_retention_days);
        if pruned_to.is_none_or(|at| horizon > at) {
            match prune(&state, horizon).await {
                Ok(done) => {
                    if done != billing::Pruned::default() {
                        tracing::info!(
                            horizon = %horizon,
                            intervals = done.intervals,
                            interval_days = done.interval_days,
                            executions = done.executions,
                            "raw usage pruned"
                        );
                    }
                    pruned_to = Some(horizon);
                }
                Err(e) => tracing::error!(error = %e, "pruning raw usage failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stop.changed() => break,
        }
    }
}

async fn prune(
    state: &AppState,
    horizon: chrono::DateTime<chrono::Utc>,
) -> crate::error::ApiResult<billing::Pruned> {
    let txn = state.write().await?;
    let done = billing::prune_raw_usage(&txn, horizon).await?;
    txn.commit().await?;
    Ok(done)
}
