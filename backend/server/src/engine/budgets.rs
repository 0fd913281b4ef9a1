//! The budget loop: every `Settings::budget_refresh` of the injected clock (looked at once a
//! second of real time, so a test moving the clock is noticed at once), each tenant's
//! budgets are evaluated again (see `services::budgets`): thresholds crossed fire, and the
//! verdicts new pools and tasks are checked against are refreshed.

use actix_web::web;
use tokio::sync::watch;
use tracing::Instrument;

use crate::state::AppState;

const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn run(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    tracing::info!("budget loop started");
    let mut last: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let now = state.clock.now();
        // A clock set back (tests) also counts as due.
        let due = last.is_none_or(|at| now < at || now - at >= state.settings.budget_refresh);
        if due {
            let evaluated = crate::services::budgets::evaluate_all(&state)
                .instrument(tracing::debug_span!("budget evaluation"))
                .await;
            if let Err(e) = evaluated {
                tracing::error!(error = %e, "budget evaluation failed");
            }
            last = Some(now);
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = stop.changed() => break,
        }
    }
    tracing::info!("budget loop stopped");
}
