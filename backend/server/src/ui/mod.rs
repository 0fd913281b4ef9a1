//! The dashboard inside the API's actix app: hearth-ui's pages rendered on the server under
//! `/ui`, its server functions under `/ui/fn`, the browser bundle under `/pkg`, and the
//! sign-in and sign-out forms. hearth-ui knows nothing of this crate: it reads through the
//! [`Dashboard`] provided here as context, which calls the same services and role checks
//! as the REST API.

mod billing;
mod history;
mod jobs;
mod overview;
mod policies;
mod pool_list;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use hearth_core::model::NodeState;
use hearth_ui::backend::{Backend, UiBackend, UiError};
use hearth_ui::model::{
    Billing, BillingQuery, DecisionLine, HourRange, InstanceRow, JobList, JobPage, NewPool,
    NewToken, NodeTile, OutputTail, Overview, PoolFilter, PoolList, PoolPage, Settings, SlotTile,
    SlotWork, StateCount, Tally, TaskFilter, TaskList, TaskPage, TaskRow, TokenLine, UserLine,
    Viewer,
};
use leptos::prelude::*;
use leptos_actix::LeptosRoutes;
use sea_orm::EntityTrait;

use crate::auth::Caller;
use crate::entities::{tenant, user};
use crate::error::ApiError;
use crate::services::sessions::{self, Credentials, SignInError};
use crate::services::{accounts, pools, tasks};
use crate::state::AppState;

/// Pool states in the order of the state machine (DESIGN.md §2).
const POOL_STATES: [&str; 9] = [
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "Closing",
    "Closed",
    "Failure",
    "PendingDelete",
];

/// The digest of the dashboard sources this binary was built from (`build.rs`).
const SOURCES: &str = env!("HEARTH_UI_SOURCES");

const BUNDLE_FILES: [(&str, &str); 2] = [
    ("hearth_ui.js", "text/javascript; charset=utf-8"),
    ("hearth_ui_bg.wasm", "application/wasm"),
];

/// The committed bundle, embedded when `build.rs` found it built from these sources.
#[cfg(hearth_bundle)]
const EMBEDDED: Option<[&[u8]; 2]> = Some([
    include_bytes!("../../../../frontend/bundle/hearth_ui.js"),
    include_bytes!("../../../../frontend/bundle/hearth_ui_bg.wasm"),
]);
#[cfg(not(hearth_bundle))]
const EMBEDDED: Option<[&[u8]; 2]> = None;

/// Where the browser bundle comes from. Only a bundle built from the sources of this very
/// binary is served (its `SOURCES` file names their digest): another would hydrate the
/// pages with other code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bundle {
    /// A folder from `scripts/build-ui.sh` (`HEARTH_UI_BUNDLE`, else `target/site/pkg`).
    Folder(PathBuf),
    /// The committed `frontend/bundle`, inside the binary.
    Embedded,
    /// None fits: the pages render on the server only.
    Absent,
}

impl Bundle {
    /// A built folder first (a developer's fresh build), then the embedded one.
    pub fn find() -> Bundle {
        let folder = match std::env::var_os("HEARTH_UI_BUNDLE") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/site/pkg"
            )),
        };
        if Self::fits(&folder) {
            Bundle::Folder(folder)
        } else if EMBEDDED.is_some() {
            Bundle::Embedded
        } else {
            Bundle::Absent
        }
    }

    /// Whether a folder holds a complete bundle built from this binary's sources.
    pub fn fits(dir: &std::path::Path) -> bool {
        let stamp = std::fs::read_to_string(dir.join("SOURCES")).unwrap_or_default();
        stamp.split_whitespace().next() == Some(SOURCES)
            && BUNDLE_FILES
                .iter()
                .all(|(name, _)| dir.join(name).is_file())
    }

    async fn read(&self, index: usize) -> Option<web::Bytes> {
        match self {
            Bundle::Folder(dir) => tokio::fs::read(dir.join(BUNDLE_FILES[index].0))
                .await
                .ok()
                .map(web::Bytes::from),
            Bundle::Embedded => EMBEDDED.map(|files| web::Bytes::from_static(files[index])),
            Bundle::Absent => None,
        }
    }
}

/// What every actix worker shares to mount the dashboard (built once per server).
#[derive(Clone)]
pub struct Mount {
    routes: Vec<leptos_actix::ActixRouteListing>,
    options: LeptosOptions,
    backend: Arc<dyn Backend>,
    hydrate: bool,
    bundle: Bundle,
}

impl Mount {
    pub fn new(state: web::Data<AppState>) -> Mount {
        let bundle = Bundle::find();
        match &bundle {
            Bundle::Folder(dir) => {
                tracing::info!(dir = %dir.display(), "dashboard: serving the browser bundle")
            }
            Bundle::Embedded => tracing::info!("dashboard: serving the browser bundle (embedded)"),
            Bundle::Absent => tracing::info!(
                "dashboard: no browser bundle built from these sources (scripts/build-ui.sh); \
                 pages render on the server only"
            ),
        }
        let hydrate = bundle != Bundle::Absent;
        let options = LeptosOptions::builder()
            .output_name(hearth_ui::BUNDLE_NAME)
            .site_pkg_dir("pkg")
            .build();
        Mount {
            routes: leptos_actix::generate_route_list(hearth_ui::App),
            options,
            backend: Arc::new(Dashboard { state }),
            hydrate,
            bundle,
        }
    }

    /// Registers the dashboard's routes; none of them is part of `/openapi.json`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let backend = self.backend.clone();
        let context = move || provide_context(UiBackend(backend.clone()));
        let options = self.options.clone();
        let hydrate = self.hydrate;
        cfg.route("/", web::get().to(root))
            .app_data(web::Data::new(self.bundle.clone()))
            .route("/pkg/{file}", web::get().to(bundle_file))
            .route("/ui/session", web::post().to(sign_in))
            .route("/ui/session/end", web::post().to(sign_out))
            .route("/ui/billing/usage", web::get().to(billing::download))
            .route(
                &format!("{}/{{tail:.*}}", hearth_ui::SERVER_FN_PREFIX),
                leptos_actix::handle_server_fns_with_context(context.clone()),
            );
        (&mut *cfg).leptos_routes_with_context(self.routes.clone(), context, move || {
            hearth_ui::shell(options.clone(), hydrate)
        });
    }
}

/// `GET /`: browsers go to the dashboard; API clients get the API's 404.
async fn root(req: HttpRequest) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        see_other("/ui/")
    } else {
        actix_web::ResponseError::error_response(&ApiError::NotFound("no such route".into()))
    }
}

/// `/pkg/…`: the bundle's files, revalidated by their sources' digest (`ETag`).
async fn bundle_file(
    req: HttpRequest,
    bundle: web::Data<Bundle>,
    file: web::Path<String>,
) -> HttpResponse {
    let Some(index) = BUNDLE_FILES
        .iter()
        .position(|(name, _)| *name == file.as_str())
    else {
        return HttpResponse::NotFound().finish();
    };
    let etag = format!("\"{}\"", &SOURCES[..16]);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh && **bundle != Bundle::Absent {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    match bundle.read(index).await {
        Some(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, BUNDLE_FILES[index].1))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::ETAG, etag))
            .body(bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

#[derive(serde::Deserialize)]
struct SignInForm {
    email: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// `POST /ui/session` (a plain form): opens a session and goes to the Overview, or back to
/// the form with the one refusal message.
async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    fn filled(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let credentials = match (filled(&form.token), filled(&form.email), &form.password) {
        (Some(token), _, _) => Credentials::Token(token),
        (None, Some(email), Some(password)) if !password.is_empty() => {
            Credentials::Password { email, password }
        }
        _ => return see_other("/ui/sign-in?refused=1"),
    };
    let client = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    match sessions::sign_in(&state, credentials, &client).await {
        Ok(opened) => {
            let secure = state
                .settings
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                hearth_ui::SESSION_COOKIE,
                opened.secret,
                opened.max_age.num_seconds(),
                if secure { "; Secure" } else { "" }
            );
            let mut answer = see_other("/ui/");
            if let Ok(value) = header::HeaderValue::from_str(&cookie) {
                answer.headers_mut().insert(header::SET_COOKIE, value);
            }
            answer
        }
        Err(SignInError::Refused) => see_other("/ui/sign-in?refused=1"),
        Err(SignInError::Failed(e)) => {
            tracing::error!(error = %e, "dashboard sign-in failed");
            see_other("/ui/sign-in?refused=1")
        }
    }
}

/// `POST /ui/session/end`: deletes the session row and the cookie.
async fn sign_out(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(secret) = session_of(&req)
        && let Err(e) = sessions::sign_out(&state, &secret).await
    {
        tracing::error!(error = %e, "dashboard sign-out failed");
    }
    let mut answer = see_other("/ui/sign-in");
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        hearth_ui::SESSION_COOKIE
    );
    if let Ok(value) = header::HeaderValue::from_str(&cookie) {
        answer.headers_mut().insert(header::SET_COOKIE, value);
    }
    answer
}

/// The session cookie of a request, if it has one.
pub fn session_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(hearth_ui::backend::session_cookie)
        .map(str::to_owned)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// hearth-ui's reads, answered by the services for the session's tenant and role.
struct Dashboard {
    state: web::Data<AppState>,
}

impl Dashboard {
    async fn caller(&self, session: &str) -> Result<Caller, UiError> {
        sessions::caller(&self.state, session)
            .await
            .map_err(ui_error)
    }

    async fn tenant_of(&self, session: &str) -> Result<uuid::Uuid, UiError> {
        self.caller(session).await?.tenant().map_err(ui_error)
    }
}

fn ui_error(e: ApiError) -> UiError {
    match e {
        ApiError::Unauthorized(_) => UiError::SignedOut,
        ApiError::Forbidden(m) => UiError::Forbidden(m),
        ApiError::NotFound(m) => UiError::NotFound(m),
        e @ (ApiError::Validation(_)
        | ApiError::Conflict(_)
        | ApiError::PaymentRequired(_)
        | ApiError::Gone(_)
        | ApiError::Unprocessable(_)
        | ApiError::TooManyRequests(_)) => {
            use actix_web::ResponseError;
            UiError::Refused(e.status_code().as_u16(), e.to_string())
        }
        other => {
            tracing::error!(error = %other, "dashboard read failed");
            UiError::Failed("the server could not answer this; its log says why".into())
        }
    }
}

fn db_error(e: sea_orm::DbErr) -> UiError {
    ui_error(e.into())
}

#[async_trait::async_trait]
impl Backend for Dashboard {
    async fn viewer(&self, session: &str) -> Result<Viewer, UiError> {
        let caller = self.caller(session).await?;
        let db = &self.state.db;
        let email = user::Entity::find_by_id(caller.user_id)
            .one(db)
            .await
            .map_err(db_error)?
            .map(|u| u.email)
            .unwrap_or_default();
        let tenant = match caller.tenant_id {
            Some(id) => tenant::Entity::find_by_id(id)
                .one(db)
                .await
                .map_err(db_error)?
                .map(|t| t.name)
                .unwrap_or_default(),
            None => "platform".to_owned(),
        };
        Ok(Viewer {
            email,
            role: caller.role.as_str().to_owned(),
            tenant,
        })
    }

    async fn overview(&self, session: &str) -> Result<Overview, UiError> {
        let caller = self.caller(session).await?;
        let tenant = caller.tenant().map_err(ui_error)?;
        let db = &self.state.db;
        let mut overview = Overview::default();
        let mut by_state = [0u32; POOL_STATES.len()];
        let mut names = std::collections::HashMap::new();
        for pool in pools::list(db, tenant).await.map_err(ui_error)? {
            names.insert(pool.id, pool.name.clone());
            if let Some(i) = POOL_STATES.iter().position(|s| *s == pool.state) {
                by_state[i] += 1;
            }
            let figures = pools::figures(db, &pool).await.map_err(ui_error)?;
            let mut ready = 0u32;
            for node in pools::live_nodes(db, pool.id).await.map_err(ui_error)? {
                let slots = node.slots.max(0) as u32;
                match node.state.parse::<NodeState>() {
                    Ok(NodeState::Ready) => ready += slots,
                    Ok(s) if s.is_starting() => overview.slots_booting += slots,
                    _ => {}
                }
            }
            let busy = figures.running_instances.min(ready);
            overview.slots_busy += busy;
            overview.slots_idle += ready - busy;
            overview.queued_instances += figures
                .queued_or_running
                .saturating_sub(figures.running_instances);
        }
        // A count in the database: the Overview's cost does not grow with the tasks.
        overview.running_tasks = {
            use crate::entities::task;
            use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
            task::Entity::find()
                .filter(task::Column::TenantId.eq(tenant))
                .filter(task::Column::State.is_in(["PartiallyExecuting", "FullyExecuting"]))
                .count(db)
                .await
                .map_err(db_error)? as u32
        };
        overview.pools_by_state = POOL_STATES
            .iter()
            .zip(by_state)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| StateCount {
                state: (*s).to_owned(),
                count: n,
            })
            .collect();
        if caller.role.can_read_billing() {
            overview.spend = Some(
                overview::spend(&self.state, tenant)
                    .await
                    .map_err(ui_error)?,
            );
        }
        overview.feed = overview::feed(&self.state, tenant, &names)
            .await
            .map_err(ui_error)?;
        Ok(overview)
    }

    async fn pool_page(&self, session: &str, pool: &str) -> Result<PoolPage, UiError> {
        let caller = self.caller(session).await?;
        let tenant = caller.tenant().map_err(ui_error)?;
        let id = pool_id(pool)?;
        let db = &self.state.db;
        let pool = pools::load(db, tenant, id).await.map_err(ui_error)?;
        let now = self.state.clock.now();
        let figures = pools::figures(db, &pool).await.map_err(ui_error)?;
        let nodes = slot_map(db, &pool, now).await.map_err(ui_error)?;
        let decisions = decision_lines(db, pool.id).await.map_err(ui_error)?;
        let closable = pools::state_of(&pool).accepts_tasks();
        Ok(PoolPage {
            id: pool.id.to_string(),
            name: pool.name.clone(),
            profile: pool.profile_name.clone(),
            state: pool.state.clone(),
            slots_per_node: pool.slots_per_node.max(0) as u32,
            slots_total: figures.total_slots,
            target_slots: decisions.first().map(|d| d.target_slots),
            queued_instances: figures
                .queued_or_running
                .saturating_sub(figures.running_instances),
            active_policy: pools::active_policy_name(&pool, now),
            can_write: caller.writer().is_ok(),
            closable,
            nodes,
            decisions,
            policies: policies::cards(&pool, now),
            history: history::size_history(db, pool.id, now)
                .await
                .map_err(ui_error)?,
        })
    }

    async fn resize_pool(&self, session: &str, pool: &str) -> Result<String, UiError> {
        let tenant = self.caller(session).await?.writer().map_err(ui_error)?;
        let pool = pools::load(&self.state.db, tenant, pool_id(pool)?)
            .await
            .map_err(ui_error)?;
        let row = crate::engine::resize::evaluate_pool(&self.state, pool.id)
            .await
            .map_err(ui_error)?;
        let line = decision_line(&row);
        Ok(format!(
            "{}: {}",
            hearth_ui::format::decision_headline(&line.action, line.from_slots, line.target_slots),
            line.reason
        ))
    }

    async fn set_policy_hours(
        &self,
        session: &str,
        pool: &str,
        hours: &HourRange,
    ) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.writer().map_err(ui_error)?;
        policies::set_hours(&self.state, tenant, pool_id(pool)?, hours)
            .await
            .map_err(ui_error)
    }

    async fn billing(&self, session: &str, query: &BillingQuery) -> Result<Billing, UiError> {
        let caller = self.caller(session).await?;
        billing::page(&self.state, &caller, query)
            .await
            .map_err(ui_error)
    }

    async fn close_pool(&self, session: &str, pool: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.writer().map_err(ui_error)?;
        crate::engine::close_pool(&self.state, tenant, pool_id(pool)?)
            .await
            .map_err(ui_error)?;
        Ok(())
    }

    async fn tasks(&self, session: &str, filter: &TaskFilter) -> Result<TaskList, UiError> {
        let tenant = self.tenant_of(session).await?;
        task_list(&self.state.db, tenant, filter).await
    }

    async fn task_page(
        &self,
        session: &str,
        task: &str,
        from: u32,
        instance: Option<i32>,
    ) -> Result<TaskPage, UiError> {
        let caller = self.caller(session).await?;
        let tenant = caller.tenant().map_err(ui_error)?;
        let db = &self.state.db;
        let t = tasks::load(db, tenant, task_id(task)?)
            .await
            .map_err(ui_error)?;
        let now = self.state.clock.now();
        let pool_name = pool_names(db, vec![t.pool_id])
            .await
            .map_err(db_error)?
            .remove(&t.pool_id)
            .unwrap_or_default();
        let instances = instance_rows(db, t.id, from, now).await.map_err(ui_error)?;
        // The instance asked for, else the first listed that started.
        let shown = instance.or_else(|| {
            instances
                .iter()
                .find(|i| i.started.is_some())
                .map(|i| i.instance_id)
        });
        let output = match shown {
            Some(n) => output_tail(db, t.id, n).await.map_err(db_error)?,
            None => None,
        };
        Ok(TaskPage {
            id: t.id.to_string(),
            name: t.name.clone(),
            pool_id: t.pool_id.to_string(),
            pool_name,
            state: t.state.clone(),
            tags: tags_of(&t),
            created: t.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            tally: tally(&t),
            can_write: caller.writer().is_ok(),
            abortable: !tasks::state_of(&t).is_finished(),
            instances_from: from,
            instances,
            output,
        })
    }

    async fn jobs(&self, session: &str) -> Result<JobList, UiError> {
        let tenant = self.tenant_of(session).await?;
        jobs::list(&self.state, tenant).await.map_err(ui_error)
    }

    async fn job_page(&self, session: &str, job: &str) -> Result<JobPage, UiError> {
        let caller = self.caller(session).await?;
        jobs::page(&self.state, &caller, job_id(job)?)
            .await
            .map_err(ui_error)
    }

    async fn terminate_job(&self, session: &str, job: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.writer().map_err(ui_error)?;
        crate::services::jobs::terminate(&self.state, tenant, job_id(job)?)
            .await
            .map_err(ui_error)?;
        Ok(())
    }

    async fn abort_task(&self, session: &str, task: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.writer().map_err(ui_error)?;
        crate::engine::abort_task(&self.state, tenant, task_id(task)?)
            .await
            .map_err(ui_error)?;
        Ok(())
    }

    async fn settings(&self, session: &str) -> Result<Settings, UiError> {
        let tenant = self.caller(session).await?.owner().map_err(ui_error)?;
        settings_of(&self.state, tenant).await.map_err(ui_error)
    }

    async fn create_token(
        &self,
        session: &str,
        name: &str,
        role: &str,
        expires_in_days: u32,
    ) -> Result<NewToken, UiError> {
        let caller = self.caller(session).await?;
        let tenant = caller.owner().map_err(ui_error)?;
        let body = hearth_api::accounts::TokenBody {
            name: Some(name.to_owned()),
            role: Some(role.to_owned()),
            expires_in_seconds: (expires_in_days > 0).then(|| i64::from(expires_in_days) * 86_400),
            ..Default::default()
        };
        let made = accounts::create_token(&self.state, tenant, caller.user_id, body)
            .await
            .map_err(ui_error)?;
        Ok(NewToken {
            name: made.token_info.name,
            secret: made.token,
        })
    }

    async fn revoke_token(&self, session: &str, token: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.owner().map_err(ui_error)?;
        let id = uuid::Uuid::parse_str(token)
            .map_err(|_| UiError::NotFound(format!("no token {token}")))?;
        accounts::revoke_token(&self.state, tenant, id)
            .await
            .map_err(ui_error)
    }

    async fn add_user(&self, session: &str, email: &str, role: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.owner().map_err(ui_error)?;
        let body = hearth_api::accounts::UserBody {
            email: Some(email.trim().to_owned()),
            role: Some(role.to_owned()),
        };
        accounts::create_user(&self.state, tenant, body)
            .await
            .map_err(ui_error)?;
        Ok(())
    }

    async fn set_password(&self, session: &str, user: &str, password: &str) -> Result<(), UiError> {
        let tenant = self.caller(session).await?.owner().map_err(ui_error)?;
        let id = uuid::Uuid::parse_str(user)
            .map_err(|_| UiError::NotFound(format!("no user {user}")))?;
        sessions::set_password(&self.state, tenant, id, Some(password))
            .await
            .map_err(ui_error)
    }

    async fn pools(&self, session: &str, filter: &PoolFilter) -> Result<PoolList, UiError> {
        let caller = self.caller(session).await?;
        pool_list::list(&self.state, &caller, filter)
            .await
            .map_err(ui_error)
    }

    async fn create_pool(&self, session: &str, pool: &NewPool) -> Result<String, UiError> {
        let caller = self.caller(session).await?;
        pool_list::create(&self.state, &caller, pool)
            .await
            .map_err(ui_error)
    }
}

/// The tenant's tokens and users, oldest first (a bounded page of each).
async fn settings_of(state: &AppState, tenant: uuid::Uuid) -> Result<Settings, ApiError> {
    use std::collections::HashMap;
    let paging = crate::services::paging::Paging::of(&hearth_api::page::PageQuery {
        limit: Some(Settings::ROWS as u32),
        page_token: None,
    })?;
    let users = accounts::list_users(state, tenant, &paging).await?.items;
    let tokens = accounts::list_tokens(state, tenant, &paging).await?.items;
    let emails: HashMap<uuid::Uuid, String> =
        users.iter().map(|u| (u.uuid, u.email.clone())).collect();
    let now = state.clock.now();
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    Ok(Settings {
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                id: t.uuid.to_string(),
                status: if t.revoked {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                }
                .to_owned(),
                name: t.name,
                role: t.role,
                user: emails.get(&t.user_uuid).cloned().unwrap_or_default(),
                created: at(t.creation_date),
                expires: t.expires_at.map(at),
            })
            .collect(),
        users: users
            .into_iter()
            .map(|u| UserLine {
                id: u.uuid.to_string(),
                email: u.email,
                role: u.role,
                created: at(u.creation_date),
            })
            .collect(),
    })
}

/// A job named in a page's path.
fn job_id(text: &str) -> Result<uuid::Uuid, UiError> {
    uuid::Uuid::parse_str(text).map_err(|_| UiError::NotFound(format!("no job {text}")))
}

/// A task named in a page's path.
fn task_id(text: &str) -> Result<uuid::Uuid, UiError> {
    uuid::Uuid::parse_str(text).map_err(|_| UiError::NotFound(format!("no task {text}")))
}

fn tags_of(t: &crate::entities::task::Model) -> Vec<String> {
    serde_json::from_value(t.tags.clone()).unwrap_or_default()
}

pub(crate) fn tally(t: &crate::entities::task::Model) -> Tally {
    let n = tasks::tally_of(t);
    Tally {
        total: n.total,
        queued: n.queued,
        running: n.assigned + n.executing,
        succeeded: n.succeeded,
        failed: n.failed,
        cancelled: n.cancelled,
    }
}

/// Task states the "active" filter keeps (not finished, not being deleted).
const ACTIVE_TASK_STATES: [&str; 6] = [
    "Submitted",
    "PartiallyDispatched",
    "FullyDispatched",
    "PartiallyExecuting",
    "FullyExecuting",
    "PendingCancel",
];

/// The tenant's newest tasks matching the filter, read from the `(tenant, seq)` index
/// backwards: a bounded page whatever the number of tasks.
async fn task_list(
    db: &sea_orm::DatabaseConnection,
    tenant: uuid::Uuid,
    filter: &TaskFilter,
) -> Result<TaskList, UiError> {
    use crate::entities::task;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut query = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(task::Column::State.ne("PendingDelete"));
    match filter.state.as_str() {
        "" => {}
        "active" => query = query.filter(task::Column::State.is_in(ACTIVE_TASK_STATES)),
        "finished" => {
            query = query.filter(task::Column::State.is_in(["Success", "Failure", "Cancelled"]))
        }
        one => {
            let state: hearth_core::task_state::TaskState = one
                .parse()
                .map_err(|_| UiError::Refused(400, format!("state: no task state '{one}'")))?;
            query = query.filter(task::Column::State.eq(state.as_str()));
        }
    }
    let tag = filter.tag.trim();
    let tag_filter = if tag.is_empty() {
        None
    } else {
        let f = crate::wire::filter::Filter::parse(
            &serde_json::json!({"operator": "Equal", "field": "Tags", "value": tag}),
            "tag",
        )
        .map_err(ui_error)?;
        let column = crate::services::keyset::narrowable(
            task::Column::Tags,
            task::Column::Name,
            task::Column::State,
        );
        if let Some(narrow) = f.narrowing(&column) {
            query = query.filter(narrow);
        }
        Some(f)
    };
    let mut found = query
        .order_by_desc(task::Column::Seq)
        .limit(TaskList::ROWS as u64 + 1)
        .all(db)
        .await
        .map_err(db_error)?;
    if let Some(f) = &tag_filter {
        let mut kept = Vec::with_capacity(found.len());
        for t in found {
            if f.matches(&t).map_err(ui_error)? {
                kept.push(t);
            }
        }
        found = kept;
    }
    let more = found.len() > TaskList::ROWS;
    found.truncate(TaskList::ROWS);
    let names = pool_names(db, found.iter().map(|t| t.pool_id).collect())
        .await
        .map_err(db_error)?;
    let rows = found
        .iter()
        .map(|t| TaskRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            pool_id: t.pool_id.to_string(),
            pool_name: names.get(&t.pool_id).cloned().unwrap_or_default(),
            state: t.state.clone(),
            tags: tags_of(t),
            created: t.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            tally: tally(t),
        })
        .collect();
    Ok(TaskList { rows, more })
}

/// Pools' names by id (only the two columns).
pub(crate) async fn pool_names(
    db: &sea_orm::DatabaseConnection,
    mut ids: Vec<uuid::Uuid>,
) -> Result<std::collections::HashMap<uuid::Uuid, String>, sea_orm::DbErr> {
    use crate::entities::pool;
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(pool::Entity::find()
        .select_only()
        .columns([pool::Column::Id, pool::Column::Name])
        .filter(pool::Column::Id.is_in(ids))
        .into_tuple::<(uuid::Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// One page of a task's instances by number, without their output.
async fn instance_rows(
    db: &sea_orm::DatabaseConnection,
    task_id: uuid::Uuid,
    from: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<InstanceRow>, ApiError> {
    let page =
        tasks::instance_page(db, task_id, u64::from(from), TaskPage::INSTANCES as u64).await?;
    Ok(page
        .into_iter()
        .map(|i| InstanceRow {
            instance_id: i.instance_id,
            state: i.state.as_str().to_owned(),
            node: i.node_id.map(|n| n.to_string()),
            slot: i.slot_index.map(|s| s.max(0) as u32),
            attempts: i.attempts,
            exit_code: i.exit_code,
            started: i
                .started_at
                .map(|s| s.format("%Y-%m-%d %H:%M:%S").to_string()),
            seconds: i
                .started_at
                .map(|s| (i.ended_at.unwrap_or(now) - s).num_seconds().max(0) as u64),
        })
        .collect())
}

/// The newest output of one instance (at most `OutputTail::TAIL_BYTES` of each stream).
async fn output_tail(
    db: &sea_orm::DatabaseConnection,
    task_id: uuid::Uuid,
    number: i32,
) -> Result<Option<OutputTail>, sea_orm::DbErr> {
    use crate::entities::instance;
    use hearth_core::model::InstanceState;
    use sea_orm::{ColumnTrait, QueryFilter};
    let Some(row) = instance::Entity::find()
        .filter(instance::Column::TaskId.eq(task_id))
        .filter(instance::Column::InstanceId.eq(number))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let tail = |text: &str, dropped: i64| {
        let mut from = text.len().saturating_sub(OutputTail::TAIL_BYTES);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        (
            text[from..].to_owned(),
            dropped + text.len() as i64,
            from > 0 || dropped > 0,
        )
    };
    let (stdout, stdout_end, stdout_cut) = tail(&row.stdout, row.stdout_dropped);
    let (stderr, stderr_end, stderr_cut) = tail(&row.stderr, row.stderr_dropped);
    Ok(Some(OutputTail {
        instance_id: row.instance_id,
        finished: row
            .state
            .parse::<InstanceState>()
            .is_ok_and(|s| s.is_finished()),
        state: row.state,
        exit_code: row.exit_code,
        stdout,
        stderr,
        stdout_end,
        stderr_end,
        stdout_cut,
        stderr_cut,
    }))
}

/// A pool named in a page's path; anything but a uuid is no pool at all.
fn pool_id(text: &str) -> Result<uuid::Uuid, UiError> {
    uuid::Uuid::parse_str(text).map_err(|_| UiError::NotFound(format!("no pool {text}")))
}

/// Failed nodes stay on the slot map this long after they end, so a failure is seen.
const FAILED_SHOWN_FOR: chrono::Duration = chrono::Duration::minutes(15);

/// The pool's live nodes (and those failed lately), each with its slots and what runs on
/// them. Reads only the running instances' placement columns (never their output): its
/// cost follows the pool's slots, not its tasks.
async fn slot_map(
    db: &sea_orm::DatabaseConnection,
    pool: &crate::entities::pool::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<NodeTile>, ApiError> {
    use crate::entities::{instance, node, task};
    use hearth_core::model::InstanceState;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    use std::collections::HashMap;

    let nodes = node::Entity::find()
        .filter(node::Column::PoolId.eq(pool.id))
        .filter(
            sea_orm::Condition::any()
                .add(
                    node::Column::State
                        .is_not_in([NodeState::Terminated.as_str(), NodeState::Failed.as_str()]),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(node::Column::State.eq(NodeState::Failed.as_str()))
                        .add(node::Column::EndedAt.gt(now - FAILED_SHOWN_FOR)),
                ),
        )
        .order_by_asc(node::Column::CreatedAt)
        .order_by_asc(node::Column::Id)
        .all(db)
        .await?;
    type Placed = (
        uuid::Uuid,
        i32,
        Option<uuid::Uuid>,
        Option<i32>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let running: Vec<Placed> = instance::Entity::find()
        .select_only()
        .columns([
            instance::Column::TaskId,
            instance::Column::InstanceId,
            instance::Column::NodeId,
            instance::Column::SlotIndex,
            instance::Column::StartedAt,
        ])
        .filter(instance::Column::PoolId.eq(pool.id))
        .filter(instance::Column::State.is_in([
            InstanceState::Assigned.as_str(),
            InstanceState::Executing.as_str(),
        ]))
        .into_tuple()
        .all(db)
        .await?;
    let mut task_ids: Vec<uuid::Uuid> = running.iter().map(|r| r.0).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    let names: HashMap<uuid::Uuid, String> = if task_ids.is_empty() {
        HashMap::new()
    } else {
        task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::Name])
            .filter(task::Column::Id.is_in(task_ids))
            .into_tuple::<(uuid::Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    // On a slot, the instance that started first is the one running (another may be
    // assigned behind it).
    let mut on_slot: HashMap<(uuid::Uuid, i32), SlotWork> = HashMap::new();
    for (task_id, instance_id, node_id, slot, started) in running {
        let (Some(node_id), Some(slot)) = (node_id, slot) else {
            continue;
        };
        let work = SlotWork {
            task_id: task_id.to_string(),
            task_name: names.get(&task_id).cloned().unwrap_or_default(),
            instance_id,
            running_seconds: started.map(|s| (now - s).num_seconds().max(0) as u64),
        };
        on_slot
            .entry((node_id, slot))
            .and_modify(|kept| {
                if kept.running_seconds.is_none() && work.running_seconds.is_some() {
                    *kept = work.clone();
                }
            })
            .or_insert(work);
    }
    Ok(nodes
        .into_iter()
        .map(|n| NodeTile {
            id: n.id.to_string(),
            state: n.state.clone(),
            slots: (0..n.slots.max(0))
                .map(|i| SlotTile {
                    index: i as u32,
                    work: on_slot.remove(&(n.id, i)),
                })
                .collect(),
        })
        .collect())
}

/// The pool's newest decisions, as the timeline shows them.
async fn decision_lines(
    db: &sea_orm::DatabaseConnection,
    pool_id: uuid::Uuid,
) -> Result<Vec<DecisionLine>, ApiError> {
    use crate::entities::scaling_decision;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    Ok(scaling_decision::Entity::find()
        .filter(scaling_decision::Column::PoolId.eq(pool_id))
        .order_by_desc(scaling_decision::Column::Seq)
        .limit(PoolPage::DECISIONS as u64)
        .all(db)
        .await?
        .iter()
        .map(decision_line)
        .collect())
}

fn decision_line(row: &crate::entities::scaling_decision::Model) -> DecisionLine {
    let from_slots = row
        .detail
        .pointer("/inputs/total")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0) as u32;
    DecisionLine {
        id: row.id.to_string(),
        at: row.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        action: row.action.clone(),
        from_slots,
        target_slots: row.target_slots.max(0) as u32,
        reason: row.reason.clone(),
        policy: row.active_policy_name.clone(),
        evaluations: row.evaluations,
    }
}
