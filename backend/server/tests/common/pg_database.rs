//! A PostgreSQL database per test, shared by the API and end-to-end harnesses (included with
//! `#[path]`). `HEARTH_TEST_DATABASE=postgres` selects PostgreSQL; `HEARTH_TEST_PG_URL` names
//! the server (default: the local one, user postgres).

use sea_orm::{ConnectionTrait, DatabaseConnection};

fn use_postgres() -> bool {
    std::env::var("HEARTH_TEST_DATABASE")
        .map(|v| v.eq_ignore_ascii_case("postgres") || v.eq_ignore_ascii_case("postgresql"))
        .unwrap_or(false)
}

fn pg_base_url() -> String {
    std::env::var("HEARTH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

async fn admin_connection(base_url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = sea_orm::ConnectOptions::new(base_url.to_string());
    options
        .max_connections(1)
        .min_connections(0)
        .sqlx_logging(false);
    sea_orm::Database::connect(options).await
}

/// A PostgreSQL database created for one test and dropped with it.
pub struct PgDatabase {
    base_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// `prefix` tells the suites' databases apart (`hearth_test`, `hearth_e2e`).
    async fn create(prefix: &str) -> Self {
        let base_url = pg_base_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_connection(&base_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {base_url}: {e}"));
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        let mut url = reqwest::Url::parse(&base_url).expect("HEARTH_TEST_PG_URL is a URL");
        url.set_path(&format!("/{name}"));
        PgDatabase {
            base_url,
            name,
            url: url.to_string(),
        }
    }

    /// A fresh database when the suite runs on PostgreSQL, else `None` (SQLite).
    pub async fn maybe(prefix: &str) -> Option<Self> {
        if use_postgres() {
            Some(Self::create(prefix).await)
        } else {
            None
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let base_url = self.base_url.clone();
        let name = self.name.clone();
        // Drop cannot be async: run the DROP on a thread with its own small runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = admin_connection(&base_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}
