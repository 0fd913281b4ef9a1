//! The dashboard inside the API's actix app: hearth-ui's pages rendered on the server under
//! `/ui`, its server functions under `/ui/fn`, the browser bundle under `/pkg`, and the
//! sign-in and sign-out forms. hearth-ui knows nothing of this crate: it reads through the
//! [`Dashboard`] provided here as context, which calls the same services and role checks
//! as the REST API.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use hearth_core::model::NodeState;
use hearth_ui::backend::{Backend, UiBackend, UiError};
use hearth_ui::model::{Overview, PoolRow, StateCount, Viewer};
use leptos::prelude::*;
use leptos_actix::LeptosRoutes;
use sea_orm::EntityTrait;

use crate::auth::Caller;
use crate::entities::{tenant, user};
use crate::error::ApiError;
use crate::services::pools;
use crate::services::sessions::{self, Credentials, SignInError};
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

/// The browser bundle's folder: `HEARTH_UI_BUNDLE`, else where `scripts/build-ui.sh` puts
/// it in this checkout.
pub fn bundle_dir() -> PathBuf {
    match std::env::var_os("HEARTH_UI_BUNDLE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/site/pkg"
        )),
    }
}

const BUNDLE_FILES: [(&str, &str); 2] = [
    ("hearth_ui.js", "text/javascript; charset=utf-8"),
    ("hearth_ui_bg.wasm", "application/wasm"),
];

/// Whether the bundle is there to hydrate the pages with; without it they are plain SSR.
pub fn bundle_present(dir: &std::path::Path) -> bool {
    BUNDLE_FILES
        .iter()
        .all(|(name, _)| dir.join(name).is_file())
}

/// What every actix worker shares to mount the dashboard (built once per server).
#[derive(Clone)]
pub struct Mount {
    routes: Vec<leptos_actix::ActixRouteListing>,
    options: LeptosOptions,
    backend: Arc<dyn Backend>,
    hydrate: bool,
}

impl Mount {
    pub fn new(state: web::Data<AppState>) -> Mount {
        let hydrate = bundle_present(&bundle_dir());
        if hydrate {
            tracing::info!(dir = %bundle_dir().display(), "dashboard: serving the browser bundle");
        } else {
            tracing::info!(
                "dashboard: no browser bundle (scripts/build-ui.sh); pages render on the server only"
            );
        }
        let options = LeptosOptions::builder()
            .output_name(hearth_ui::BUNDLE_NAME)
            .site_pkg_dir("pkg")
            .build();
        Mount {
            routes: leptos_actix::generate_route_list(hearth_ui::App),
            options,
            backend: Arc::new(Dashboard { state }),
            hydrate,
        }
    }

    /// Registers the dashboard's routes; none of them is part of `/openapi.json`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let backend = self.backend.clone();
        let context = move || provide_context(UiBackend(backend.clone()));
        let options = self.options.clone();
        let hydrate = self.hydrate;
        cfg.route("/", web::get().to(root))
            .route("/pkg/{file}", web::get().to(bundle_file))
            .route("/ui/session", web::post().to(sign_in))
            .route("/ui/session/end", web::post().to(sign_out))
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

async fn bundle_file(file: web::Path<String>) -> HttpResponse {
    let Some((name, kind)) = BUNDLE_FILES.iter().find(|(name, _)| *name == file.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    match tokio::fs::read(bundle_dir().join(name)).await {
        Ok(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *kind))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(bytes),
        Err(_) => HttpResponse::NotFound().finish(),
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
        let tenant = self.tenant_of(session).await?;
        let db = &self.state.db;
        let mut overview = Overview::default();
        let mut by_state = [0u32; POOL_STATES.len()];
        for pool in pools::list(db, tenant).await.map_err(ui_error)? {
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
        Ok(overview)
    }

    async fn pools(&self, session: &str) -> Result<Vec<PoolRow>, UiError> {
        let tenant = self.tenant_of(session).await?;
        let db = &self.state.db;
        let mut rows = Vec::new();
        for pool in pools::list(db, tenant).await.map_err(ui_error)? {
            let figures = pools::figures(db, &pool).await.map_err(ui_error)?;
            rows.push(PoolRow {
                id: pool.id.to_string(),
                name: pool.name,
                profile: pool.profile_name,
                state: pool.state,
                slots_busy: figures.running_instances.min(figures.total_slots),
                slots_total: figures.total_slots,
            });
        }
        Ok(rows)
    }
}
