//! Building and running the application: database, migrations, bootstrap, HTTP server.
//! Tests call `Application::build` with port 0 and a fresh data directory.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{App, HttpResponse, HttpServer, web};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};
use utoipa_actix_web::AppExt;

use std::sync::Arc;

use crate::bootstrap::{self, Bootstrapped};
use crate::engine::EngineTasks;
use crate::entities::task;
use crate::error::ApiError;
use crate::keys::JwtKeys;
use crate::launcher::process::ProcessLauncher;
pub use crate::settings::Settings;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    tokens: Bootstrapped,
    engine: EngineTasks,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let (db, writer) = crate::db::connect_pair(&settings.database_url()).await?;
        crate::db::migrate(&writer).await?;
        let secret = bootstrap::signing_secret(&settings.data_dir)?;
        let last_seq = task::Entity::find()
            .select_only()
            .column(task::Column::Seq)
            .order_by_desc(task::Column::Seq)
            .into_tuple::<i64>()
            .one(&db)
            .await?
            .unwrap_or(0);
        let listener = TcpListener::bind(&settings.bind)?;
        let port = listener.local_addr()?.port();
        let server_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let program = match &settings.agent_program {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let launcher = Arc::new(ProcessLauncher::new(
            program,
            settings.data_dir.join("nodes"),
        ));
        let state = web::Data::new(AppState::new(
            db,
            writer,
            settings.clone(),
            JwtKeys::from_secret(&secret),
            launcher,
            server_url,
            last_seq,
        ));
        let tokens = bootstrap::run(&state).await?;
        let server = run(listener, state.clone())?;
        let engine = crate::engine::start(state.clone()).await?;
        Ok(Application {
            port,
            server,
            state,
            tokens,
            engine,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn owner_token(&self) -> &str {
        &self.tokens.owner_token
    }

    pub fn operator_token(&self) -> &str {
        &self.tokens.operator_token
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the server is stopped; the engine keeps running beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until `stop` resolves, then stops cleanly: loops end, nodes are terminated
    /// (no orphaned agent), the HTTP server drains.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        stop.await;
        self.state.stopping.send_replace(true);
        tracing::info!("stopping: terminating nodes");
        self.engine.shutdown(&self.state).await;
        handle.stop(true).await;
        let _ = server.await;
        Ok(())
    }
}

impl Application {
    /// Serves until `stop` resolves, then stops as a killed server would, but in-process:
    /// loops end and the HTTP server stops, while nodes and their agents run on with their
    /// usage open, for the next start on the same database to adopt (restart tests).
    pub async fn run_until_abandoning_nodes(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        stop.await;
        self.engine.stop_loops().await;
        handle.stop(false).await;
        let _ = server.await;
        Ok(())
    }
}

/// No route took the request: a wrong method on a known path is 405 (with `Allow`), any
/// other request 404.
async fn not_found(
    req: actix_web::HttpRequest,
    routes: web::Data<crate::contract::RouteTable>,
) -> Result<HttpResponse, ApiError> {
    match routes.methods_of(req.path()) {
        Some(methods) if !methods.is_empty() => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow: methods.join(", "),
        }),
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let dashboard = crate::ui::Mount::new(state.clone());
    let server = HttpServer::new(move || {
        let (app, api) = App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .configure(crate::routes::configure)
            .split_for_parts();
        let mut api = api;
        crate::contract::complete(&mut api);
        let routes = web::Data::new(crate::contract::RouteTable::of(&api));
        let api = web::Data::new(api);
        app.app_data(api)
            .app_data(routes)
            .route(
                "/openapi.json",
                web::get().to(|api: web::Data<utoipa::openapi::OpenApi>| async move {
                    HttpResponse::Ok().json(api.get_ref())
                }),
            )
            // The dashboard is added after the API document is taken: no UI route is in it.
            .configure(|cfg| dashboard.configure(cfg))
            .default_service(web::to(not_found))
            .wrap(crate::telemetry::RequestMetrics)
            // `//settings` (an SDK URL ending in '/') and `POST /jobs/` reach their routes.
            .wrap(NormalizePath::new(TrailingSlash::Trim))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(5)
    .run();
    Ok(server)
}
