//! Connecting to SQLite (embedded default, WAL) or PostgreSQL, and running migrations.

use std::time::Duration;

use hearth_migrations::{Migrator, MigratorTrait};
use std::future::Future;
use std::pin::Pin;

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// The connections of a server: `read` for everything outside a write transaction, and
/// `write` for write transactions (`write`, `in_write`).
///
/// On SQLite the writer is a connection of its own. SQLite has one writer at a time anyway;
/// a connection keeps its page cache only while no other connection changes the database,
/// so with every write transaction on the same connection its cache stays warm, where
/// rotating over the pool made each transaction read its pages from the file again. On
/// PostgreSQL both are the same pool.
pub async fn connect_pair(url: &str) -> anyhow::Result<(DatabaseConnection, DatabaseConnection)> {
    let read = connect(url).await?;
    let write = if url.starts_with("sqlite:") {
        connect_with(url, 1).await?
    } else {
        read.clone()
    };
    Ok((read, write))
}

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, 4).await
}

/// `sqlite_connections`: the pool's size on SQLite (PostgreSQL pools have 16).
async fn connect_with(url: &str, sqlite_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        // Every statement in the log (target `sqlx::query`): a debugging aid, off by default.
        .sqlx_logging(std::env::var_os("HEARTH_SQL_LOG").is_some())
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if sqlite {
        // One writer at a time in SQLite: small pools avoid lock storms; WAL lets readers on.
        options
            .max_connections(sqlite_connections)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(16);
    }
    Ok(Database::connect(options).await?)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction that
/// reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT) when another writer got there
/// first, while an immediate one waits its turn under the busy timeout. PostgreSQL ignores it.
pub async fn write(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs `f` in a write transaction: committed on `Ok`, rolled back on `Err`.
pub async fn in_write<F, T>(db: &DatabaseConnection, f: F) -> Result<T, crate::error::ApiError>
where
    F: for<'c> FnOnce(
            &'c DatabaseTransaction,
        ) -> Pin<
            Box<dyn Future<Output = Result<T, crate::error::ApiError>> + Send + 'c>,
        > + Send,
    T: Send,
{
    let txn = write(db).await?;
    match f(&txn).await {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}
