//! One side's database as the harness sees it: a pool, transactions of literal SQL statements,
//! and rows read as text. Errors are returned, never panicked on: a database outage is one of
//! the faults, and the writers carry on through it.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor as _, Row as _};

/// Text rows: every column read as optional text (the queries cast).
pub type Rows = Vec<Vec<Option<String>>>;

/// A pool on one side.
#[derive(Clone)]
pub enum Db {
    /// PostgreSQL (the legacy side).
    Pg(PgPool),
    /// MariaDB (the revamp side).
    My(MySqlPool),
}

impl Db {
    /// A pool of `size` connections. On MariaDB every connection hands out even ids
    /// (`auto_increment_increment = 2`, `auto_increment_offset = 2`), PostgreSQL's sequences
    /// hand out odd ones: the two applications' id ranges are disjoint.
    pub async fn connect(url: &str, size: u32) -> anyhow::Result<Db> {
        let timeout = Duration::from_secs(3);
        if url.starts_with("mysql:") {
            let pool = MySqlPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "SET SESSION auto_increment_increment = 2, auto_increment_offset = 2, time_zone = '+00:00'",
                        )
                        .await
                        .map(drop)
                    })
                })
                .connect_lazy(url)
                .context("MariaDB URL")?;
            Ok(Db::My(pool))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout)
                .after_connect(|conn, _| Box::pin(async move { conn.execute("SET TIME ZONE 'UTC'").await.map(drop) }))
                .connect_lazy(url)
                .context("PostgreSQL URL")?;
            Ok(Db::Pg(pool))
        }
    }

    /// Whether this is the PostgreSQL side.
    pub fn is_pg(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    /// Runs `statements` in one transaction and returns the rows of the last one.
    pub async fn transaction(&self, statements: &[String]) -> Result<Rows, sqlx::Error> {
        let Some((last, first)) = statements.split_last() else { return Ok(Vec::new()) };
        // The same steps on either pool (their transaction types differ).
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                for statement in first {
                    tx.execute(AssertSqlSafe(statement.clone())).await?;
                }
                let rows = sqlx::query(AssertSqlSafe(last.clone())).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows.iter().map(|r| (0..r.len()).map(|i| r.try_get(i)).collect()).collect()
            }};
        }
        match self {
            Db::Pg(pool) => run!(pool),
            Db::My(pool) => run!(pool),
        }
    }

    /// The rows of one query, outside a transaction.
    pub async fn rows(&self, sql: &str) -> Result<Rows, sqlx::Error> {
        self.transaction(&[sql.to_string()]).await
    }

    /// Runs a script of `;`-separated statements (schema set-up).
    pub async fn script(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Db::Pg(pool) => pool.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string()))).await.map(drop),
            Db::My(pool) => pool.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string()))).await.map(drop),
        }
    }
}
