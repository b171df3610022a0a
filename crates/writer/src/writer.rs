//! The writer: a connection pool to the target database and the batch apply.

use std::collections::HashMap;
use std::sync::Arc;

use dualsync_envelope::Value;
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Database, Encode, MySqlPool, PgPool, Type};

use dualsync_conflict::Guard;

use crate::checkpoint::{self, CHECKPOINT_TABLE, Checkpoint};
use crate::collapse::collapse;
use crate::encode::Bound;
use crate::plan::{Statement, plan};
use crate::triggers;
use crate::{Dialect, TableSchema, WriteError};

/// Connections held open to the target database.
const POOL_SIZE: u32 = 4;

/// Writes mapped changes into one target database.
///
/// Contract for callers:
/// - [`Writer::apply`] writes a whole batch in one transaction, in the order given, or nothing.
/// - When it returns `Ok`, the batch is committed and durable; only then may the caller mark the
///   batch's source events as done (store their Kafka offsets).
/// - Batches may be replayed: upserts and deletes are idempotent, so applying a batch again
///   leaves the same rows.
/// - Target table schemas are read once, on first use, and cached.
pub struct Writer {
    pool: Pool,
    tables: HashMap<TableName, Arc<TableSchema>>,
    policies: HashMap<TableName, TablePolicy>,
}

/// How writes into one target table resolve conflicts and deletes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TablePolicy {
    /// Last writer wins: an existing row is only updated when this rule lets the incoming row
    /// through. `None`: every upsert updates.
    pub guard: Option<Guard>,
    /// Soft delete: the column and value a delete sets instead of removing the row.
    pub soft_delete: Option<(String, Value)>,
}

pub(crate) enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl Writer {
    /// Connects to the target database named by `url` (`postgres://…` or `mysql://…`).
    pub async fn connect(url: &str) -> Result<Writer, WriteError> {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        let context = || format!("connecting to the target database ({scheme}://…)");
        let pool = match scheme {
            "postgres" | "postgresql" => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(POOL_SIZE)
                    .connect(url)
                    .await
                    .map_err(WriteError::database(context()))?,
            ),
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                Pool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(POOL_SIZE)
                        .connect(&url)
                        .await
                        .map_err(WriteError::database(context()))?,
                )
            }
            other => {
                return Err(WriteError::UnsupportedUrl { scheme: other.to_string() });
            }
        };
        let writer = Writer { pool, tables: HashMap::new(), policies: HashMap::new() };
        writer.ensure_checkpoint_table().await?;
        Ok(writer)
    }

    /// The target's SQL dialect.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
        }
    }

    /// Sets how writes into `table` resolve conflicts and deletes.
    pub fn set_policy(&mut self, table: TableName, policy: TablePolicy) {
        self.policies.insert(table, policy);
    }

    /// The schema of a target table, read from the database on first use.
    pub async fn schema(&mut self, table: &TableName) -> Result<Arc<TableSchema>, WriteError> {
        if let Some(schema) = self.tables.get(table) {
            return Ok(schema.clone());
        }
        let schema = Arc::new(match &self.pool {
            Pool::Postgres(pool) => TableSchema::read_postgres(pool, table).await?,
            Pool::MySql(pool) => TableSchema::read_mysql(pool, table).await?,
        });
        self.tables.insert(table.clone(), schema.clone());
        Ok(schema)
    }

    /// The catalog description of a table, or `None` if it does not exist.
    pub async fn table_info(&self, table: &TableName) -> Result<Option<crate::TableInfo>, WriteError> {
        crate::TableInfo::read(&self.pool, table).await
    }

    /// Installs (or replaces) the trigger that sets `column` of `table` to `local` on every
    /// insert and update dualsync does not make.
    pub async fn install_flag_trigger(&self, table: &TableName, column: &str, local: &str) -> Result<(), WriteError> {
        self.run_all(
            triggers::install(self.dialect(), table, column, local),
            &format!("installing the flag trigger on {table}"),
        )
        .await
    }

    /// Removes the flag trigger from `table` (nothing happens if there is none).
    pub async fn uninstall_flag_trigger(&self, table: &TableName) -> Result<(), WriteError> {
        self.run_all(triggers::uninstall(self.dialect(), table), &format!("removing the flag trigger from {table}"))
            .await
    }

    async fn run_all(&self, statements: Vec<String>, context: &str) -> Result<(), WriteError> {
        for sql in statements {
            let result = match &self.pool {
                Pool::Postgres(pool) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await.map(drop),
                Pool::MySql(pool) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(pool).await.map(drop),
            };
            result.map_err(WriteError::database(context))?;
        }
        Ok(())
    }

    /// The server's version string (e.g. `10.11.19-MariaDB…`, `PostgreSQL 15.20 …`).
    pub async fn server_version(&self) -> Result<String, WriteError> {
        let context = WriteError::database("reading the server version");
        match &self.pool {
            Pool::Postgres(pool) => sqlx::query_scalar("SELECT version()").fetch_one(pool).await.map_err(context),
            Pool::MySql(pool) => {
                sqlx::query_scalar("SELECT CONCAT('MySQL protocol ', VERSION())").fetch_one(pool).await.map_err(context)
            }
        }
    }

    /// Applies a batch in one transaction (see the contract on [`Writer`]), together with the
    /// batch's checkpoints. Several changes to one row collapse to its final state first.
    pub async fn apply(&mut self, changes: &[RowChange], checkpoints: &[Checkpoint]) -> Result<(), WriteError> {
        let mut keys = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            let schema = self.schema(&change.table).await?;
            let row = match &change.kind {
                RowChangeKind::Upsert(row) | RowChangeKind::Delete(row) => row,
                // A truncate keeps its place among the changes around it.
                RowChangeKind::Truncate => {
                    keys.push(format!("\u{0}truncate {i}"));
                    continue;
                }
            };
            let values: Option<Vec<&Value>> = schema.key.iter().map(|k| row.get(k)).collect();
            keys.push(match values {
                Some(values) => format!("{}\u{0}{values:?}", change.table),
                // No key: the statement reports it; never merge it with another change.
                None => format!("\u{0}{i}"),
            });
        }
        let changes = collapse(changes, &keys);
        let mut schemas = Vec::with_capacity(changes.len());
        for change in changes.iter() {
            schemas.push(self.schema(&change.table).await?);
        }
        let mut statements = plan(self.dialect(), &changes, &schemas, &self.policies)?;
        // Explicit ids written into a table whose key a sequence generates: move the sequence past
        // them, so the next local insert does not collide.
        let mut advanced: Vec<&TableName> = Vec::new();
        for (change, schema) in changes.iter().zip(&schemas) {
            if let (RowChangeKind::Upsert(_), Some(sequence)) = (&change.kind, &schema.sequence)
                && !advanced.contains(&&change.table)
            {
                advanced.push(&change.table);
                statements.push(Statement {
                    sql: format!(
                        "SELECT setval($1::regclass, m) FROM (SELECT max({})::bigint AS m FROM {}) x \
                         WHERE m IS NOT NULL AND m > coalesce(pg_sequence_last_value($1::regclass), 0)",
                        self.dialect().quote(&schema.key[0]),
                        self.dialect().table(&schema.name)
                    ),
                    values: vec![Bound::Text(sequence.as_str().into())],
                    context: format!("advancing the sequence {sequence}"),
                    key: &[],
                });
            }
        }
        let checkpoint_sql = checkpoint::upsert_sql(self.dialect());
        for c in checkpoints {
            statements.push(Statement {
                sql: checkpoint_sql.clone(),
                values: vec![
                    Bound::Text(c.consumer.as_str().into()),
                    Bound::Text(c.topic.as_str().into()),
                    Bound::Int(c.partition.into()),
                    Bound::Int(c.offset),
                ],
                context: format!("recording the checkpoint of {}[{}]", c.topic, c.partition),
                key: &[],
            });
        }
        let mark = triggers::mark_session(self.dialect());
        match &self.pool {
            Pool::Postgres(pool) => execute(pool, mark, &statements).await,
            Pool::MySql(pool) => execute(pool, mark, &statements).await,
        }
    }

    /// The checkpoints `consumer` recorded in this database.
    pub async fn checkpoints(&self, consumer: &str) -> Result<Vec<Checkpoint>, WriteError> {
        let sql = AssertSqlSafe(checkpoint::select_sql(self.dialect()));
        let context = WriteError::database("reading checkpoints");
        let rows: Vec<(String, i32, i64)> = match &self.pool {
            Pool::Postgres(pool) => sqlx::query_as(sql).bind(consumer).fetch_all(pool).await.map_err(context)?,
            Pool::MySql(pool) => sqlx::query_as(sql).bind(consumer).fetch_all(pool).await.map_err(context)?,
        };
        Ok(rows
            .into_iter()
            .map(|(topic, partition, offset)| Checkpoint { consumer: consumer.to_string(), topic, partition, offset })
            .collect())
    }

    /// Creates the checkpoint table if it is missing. Two writers starting at once may race to
    /// create it; the loser finds it there.
    async fn ensure_checkpoint_table(&self) -> Result<(), WriteError> {
        let sql = AssertSqlSafe(checkpoint::create_sql(self.dialect()));
        let created = match &self.pool {
            Pool::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Pool::MySql(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        };
        match created {
            Ok(()) => Ok(()),
            Err(_)
                if self.table_info(&TableName { namespace: None, name: CHECKPOINT_TABLE.into() }).await?.is_some() =>
            {
                Ok(())
            }
            Err(source) => Err(WriteError::Database {
                context: format!("creating the {CHECKPOINT_TABLE} table (the target user needs CREATE privilege once)"),
                source,
            }),
        }
    }
}

/// Runs the statements in one transaction.
async fn execute<DB>(pool: &sqlx::Pool<DB>, mark: &'static str, statements: &[Statement<'_>]) -> Result<(), WriteError>
where
    DB: Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'v> bool: Encode<'v, DB> + Type<DB>,
    for<'v> i64: Encode<'v, DB> + Type<DB>,
    for<'v> f64: Encode<'v, DB> + Type<DB>,
    for<'v> &'v str: Encode<'v, DB> + Type<DB>,
    for<'v> Option<&'v str>: Encode<'v, DB> + Type<DB>,
    for<'v> &'v [u8]: Encode<'v, DB> + Type<DB>,
{
    let mut tx = pool.begin().await.map_err(WriteError::database("beginning a transaction"))?;
    // Marks the transaction as dualsync's, for the source-flag triggers.
    sqlx::query::<DB>(mark).execute(&mut *tx).await.map_err(WriteError::database("marking the session"))?;
    for statement in statements {
        let mut query = sqlx::query::<DB>(AssertSqlSafe(statement.sql.clone()));
        for value in &statement.values {
            query = match value {
                Bound::Null => query.bind(None::<&str>),
                Bound::Bool(b) => query.bind(*b),
                Bound::Int(i) => query.bind(*i),
                Bound::Float(x) => query.bind(*x),
                Bound::Text(s) => query.bind(s.as_ref()),
                Bound::Bytes(b) => query.bind(*b),
            };
        }
        query
            .execute(&mut *tx)
            .await
            .map_err(|source| WriteError::classify(statement.context.clone(), statement.key, source))?;
    }
    tx.commit().await.map_err(WriteError::database("committing the batch"))
}
