//! The writer: a connection pool to the target database and the batch apply.

use std::collections::HashMap;
use std::sync::Arc;

use dualsync_envelope::Value;
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Arguments, AssertSqlSafe, Database, Encode, MySqlPool, PgPool, Type};

use dualsync_conflict::Guard;

use crate::cascade::ParentTomb;
use crate::checkpoint::{self, CHECKPOINT_TABLE, Checkpoint};
use crate::collapse::{collapse, deletes_first};
use crate::encode::Bound;
use crate::plan::{self, Statement, plan};
use crate::sql::{self, NEW, PREVENTED, STALE, TIE};
use crate::{Dialect, TableSchema, WriteError};
use crate::{tombstone, triggers};

/// How often a table's old tombstones are pruned.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
/// Connections held open to the target database.
const POOL_SIZE: u32 = 4;
/// How long a write waits for a connection before it fails (as a transient failure, which the
/// consumer retries): short, so an unreachable database shows at once in logs and `/readyz`.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes mapped changes into one target database.
///
/// Contract for callers:
/// - [`Writer::apply`] writes a whole batch in one transaction, or nothing: each row's final
///   state, in the order given, except that within a run of changes to one table (which does not
///   reference itself) the deletes go first, so the run takes two statements.
/// - When it returns `Ok`, the batch is committed and durable; only then may the caller mark the
///   batch's source events as done (store their Kafka offsets).
/// - Batches may be replayed: upserts and deletes are idempotent, so applying a batch again
///   leaves the same rows.
/// - Target table schemas are read once, on first use, and cached.
pub struct Writer {
    pub(crate) pool: Pool,
    /// Whether every connection has Nagle's algorithm off, which the bulk path (`COPY`) needs.
    nodelay: Arc<AtomicBool>,
    tables: HashMap<TableName, Arc<TableSchema>>,
    pub(crate) policies: HashMap<TableName, TablePolicy>,
    /// Tables whose tombstone table (if their policy keeps one) is known to exist, with when its
    /// old tombstones were last pruned.
    tombstones: HashMap<TableName, std::time::Instant>,
    /// Per table with a timestamp conflict rule, its foreign keys to tables that keep
    /// tombstones by timestamp (see [`ParentTomb`]).
    pub(crate) parent_tombs: HashMap<TableName, Arc<Vec<ParentTomb>>>,
    /// Days tombstones are kept.
    tombstone_retention_days: u64,
    /// Tables whose last copy of new rows was refused (see [`WriteError::refuses_copy`]).
    copy_backoff: HashMap<TableName, CopyBackoff>,
    /// While [`Writer::apply_cascading`] runs: the statements that delete the rows referencing
    /// the deleted row, and the row's columns their placeholders take.
    cascade: Option<Cascade>,
}

/// See [`Writer::cascade`].
#[derive(Debug)]
struct Cascade {
    statements: Vec<String>,
    columns: Vec<String>,
}

/// Most batches the copies into a table pause after a refused copy (see [`Writer::apply`]).
const MAX_COPY_PAUSE: u32 = 64;

/// The pause of the copies into one table after refused copies.
#[derive(Debug, Default)]
struct CopyBackoff {
    /// Batches left before the next copy into the table is tried.
    skip: u32,
    /// The length of the current pause; it doubles with each refusal, up to [`MAX_COPY_PAUSE`].
    pause: u32,
}

/// How writes into one target table resolve conflicts and deletes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TablePolicy {
    /// Last writer wins: an existing row is only updated when this rule lets the incoming row
    /// through. `None`: every upsert updates.
    pub guard: Option<Guard>,
    /// Soft delete: the column and value a delete sets instead of removing the row.
    pub soft_delete: Option<(String, Value)>,
    /// What a snapshot row does to a different row stored under its key (the bootstrap).
    pub on_collision: dualsync_conflict::OnCollision,
    /// The target's source-flag column (see `sync.source_flag`), which says who wrote a row, not
    /// what it holds: a snapshot row is compared without it.
    pub source_flag: Option<String>,
}

pub(crate) enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl Pool {
    /// The database's SQL dialect.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
        }
    }
}

impl Writer {
    /// Connects to the target database named by `url` (`postgres://…` or `mysql://…`).
    pub async fn connect(url: &str) -> Result<Writer, WriteError> {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        let context = || format!("connecting to the target database ({scheme}://…)");
        // Whether every connection so far has Nagle's algorithm off (see `nodelay`): only then
        // does the writer copy new rows in.
        let nodelay = Arc::new(AtomicBool::new(true));
        let after_connect = |port: u16, socket: bool| {
            let (nodelay, scheme) = (nodelay.clone(), scheme.to_string());
            move || {
                if !socket && !crate::nodelay::set_for_peer_port(port) && nodelay.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "could not turn off Nagle's algorithm on a connection to the target ({scheme}://…); \
                         a PostgreSQL target gets upserts from now on, never copies of new rows, which is slower for inserts"
                    );
                }
            }
        };
        let pool = match scheme {
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url).map_err(WriteError::database(context()))?;
                let set = after_connect(options.get_port(), options.get_socket().is_some());
                Pool::Postgres(open_pool(options, set).await.map_err(WriteError::database(context()))?)
            }
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let options = MySqlConnectOptions::from_str(&url).map_err(WriteError::database(context()))?;
                let set = after_connect(options.get_port(), options.get_socket().is_some());
                Pool::MySql(open_pool(options, set).await.map_err(WriteError::database(context()))?)
            }
            other => {
                return Err(WriteError::UnsupportedUrl { scheme: other.to_string() });
            }
        };
        let writer = Writer {
            pool,
            nodelay,
            tables: HashMap::new(),
            policies: HashMap::new(),
            tombstones: HashMap::new(),
            parent_tombs: HashMap::new(),
            tombstone_retention_days: 7,
            copy_backoff: HashMap::new(),
            cascade: None,
        };
        writer.ensure_checkpoint_table().await?;
        Ok(writer)
    }

    /// The target's SQL dialect.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
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

    /// Forgets the table schemas read so far, so the next use reads them again: after a setup
    /// error an operator may have fixed a table (added a column, a key).
    pub fn forget_schemas(&mut self) {
        self.tables.clear();
        self.tombstones.clear();
        self.parent_tombs.clear();
    }

    /// The schema of each change's table (see [`Writer::schema`]); consecutive changes to one
    /// table share one lookup.
    pub(crate) async fn schemas(&mut self, changes: &[RowChange]) -> Result<Vec<Arc<TableSchema>>, WriteError> {
        let mut out: Vec<Arc<TableSchema>> = Vec::with_capacity(changes.len());
        for change in changes {
            let schema = match out.last() {
                Some(last) if last.name == change.table => last.clone(),
                _ => self.schema(&change.table).await?,
            };
            out.push(schema);
        }
        Ok(out)
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

    /// Installs (or replaces) the delete trigger of `table`: it records the application's hard
    /// deletes in the table's tombstone table (created if missing), stamped with the time of the
    /// delete in the conflict column's terms (`zone`: the side's declared time zone, for columns
    /// without zone) or, for versions, the deleted row's version. Returns the tombstone table, or
    /// `None` when `table` has no column `guard.column`.
    pub async fn install_tombstone_trigger(
        &mut self,
        table: &TableName,
        guard: &Guard,
        zone: &str,
    ) -> Result<Option<TableName>, WriteError> {
        let schema = self.schema(table).await?;
        let policy = TablePolicy { guard: Some(guard.clone()), ..TablePolicy::default() };
        let (Some(tomb), Some(column)) = (tombstone::schema(&schema, Some(&policy)), schema.column(&guard.column))
        else {
            return Ok(None);
        };
        let stamp = tombstone::trigger_stamp(self.dialect(), guard, column, zone);
        let mut statements = vec![tombstone::create_sql(self.dialect(), &tomb)];
        statements.extend(triggers::install_tombstone(self.dialect(), &schema, &tomb, &stamp));
        self.run_all(statements, &format!("installing the delete trigger on {table}")).await?;
        Ok(Some(tomb.name))
    }

    /// Removes the flag trigger and the delete trigger from `table` (nothing happens for triggers
    /// that are not there; tombstone tables stay).
    pub async fn uninstall_triggers(&self, table: &TableName) -> Result<(), WriteError> {
        let mut statements = triggers::uninstall(self.dialect(), table);
        statements.extend(triggers::uninstall_tombstone(self.dialect(), table));
        self.run_all(statements, &format!("removing the triggers from {table}")).await
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
    /// batch's checkpoints. Several changes to one row collapse to its final state first. Returns,
    /// per table, what the conflict rules decided.
    pub async fn apply(
        &mut self,
        changes: &[RowChange],
        checkpoints: &[Checkpoint],
    ) -> Result<HashMap<TableName, Decisions>, WriteError> {
        let schemas = self.schemas(changes).await?;
        let mut keys = Vec::with_capacity(changes.len());
        for (i, (change, schema)) in changes.iter().zip(&schemas).enumerate() {
            let row = match &change.kind {
                RowChangeKind::Upsert(row)
                | RowChangeKind::Create(row)
                | RowChangeKind::Seed(row)
                | RowChangeKind::Delete(row) => row,
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
        let mut changes = collapse(changes, &keys, |c| self.policies.get(&c.table).and_then(|p| p.guard.clone()));
        let mut schemas = match &changes {
            std::borrow::Cow::Borrowed(_) => schemas,
            std::borrow::Cow::Owned(collapsed) => self.schemas(collapsed).await?,
        };
        for (i, schema) in schemas.iter().enumerate() {
            if i == 0 || !Arc::ptr_eq(schema, &schemas[i - 1]) {
                self.ensure_tombstones(schema).await?;
                self.ensure_parent_tombs(schema).await?;
            }
        }
        let self_referencing: Vec<bool> = schemas.iter().map(|s| s.self_referencing).collect();
        if let Some(order) = deletes_first(&changes, &self_referencing) {
            changes = order.iter().map(|&i| changes[i].clone()).collect::<Vec<_>>().into();
            schemas = order.iter().map(|&i| schemas[i].clone()).collect();
        }
        tombstone::localize(self.dialect(), &mut changes, &schemas, &self.policies);
        // Which upserts may be copied in: on PostgreSQL, unless a copy into their table was
        // refused lately.
        let may_copy = self.dialect() == Dialect::Postgres && self.nodelay.load(Ordering::Relaxed);
        let copy: Vec<bool> = changes
            .iter()
            .map(|c| {
                may_copy
                    && c.kind.written_row().is_some()
                    && self.copy_backoff.get(&c.table).is_none_or(|b| b.skip == 0)
            })
            .collect();
        for backoff in self.copy_backoff.values_mut() {
            backoff.skip = backoff.skip.saturating_sub(1);
        }
        let mut copied: Vec<&TableName> = Vec::new();
        for (change, _) in changes.iter().zip(&copy).filter(|(_, copy)| **copy) {
            if !copied.contains(&&change.table) {
                copied.push(&change.table);
            }
        }
        match self.write(&changes, schemas.clone(), checkpoints, &copy).await {
            Ok(decisions) => {
                for table in copied {
                    self.copy_backoff.remove(table);
                }
                Ok(decisions)
            }
            // A row copied in as new is stored already (or collides on another unique key), or the
            // table refuses COPY: the whole batch again, upserted, which decides (or reports) it.
            // Copies into those tables pause for a while (longer after each refusal), so a stream
            // of updates does not pay for a failed copy in every batch.
            Err(Attempt::CopyRefused(error)) => {
                tracing::debug!(%error, "the copy of new rows was refused; writing the batch again as upserts");
                for table in copied {
                    let backoff = self.copy_backoff.entry(table.clone()).or_default();
                    backoff.pause = (backoff.pause * 2).clamp(1, MAX_COPY_PAUSE);
                    backoff.skip = backoff.pause;
                }
                self.write(&changes, schemas, checkpoints, &vec![false; changes.len()])
                    .await
                    .map_err(Attempt::into_error)
            }
            Err(Attempt::Failed(error)) => Err(error),
        }
    }

    /// Writes collapsed, ordered `changes` in one transaction. Upserts whose `copy` flag is set
    /// are copied in (PostgreSQL `COPY`) when their row is not stored: a table with a conflict
    /// rule learns that from the weighing, any other table is simply hoped to have none of them
    /// yet. A copy that fails where upserts may not is returned as [`Attempt::CopyRefused`], with
    /// the transaction rolled back.
    async fn write(
        &self,
        changes: &[RowChange],
        mut schemas: Vec<Arc<TableSchema>>,
        checkpoints: &[Checkpoint],
        copy: &[bool],
    ) -> Result<HashMap<TableName, Decisions>, Attempt> {
        let dialect = self.dialect();
        let mut copy = copy.to_vec();
        let mut changes: std::borrow::Cow<[RowChange]> = changes.into();
        let mut decisions: HashMap<TableName, Decisions> = HashMap::new();
        for change in changes.iter().filter(|c| !matches!(c.kind, RowChangeKind::Truncate)) {
            match decisions.get_mut(&change.table) {
                Some(counts) => counts.applied += 1,
                None => {
                    decisions.insert(change.table.clone(), Decisions { applied: 1, ..Decisions::default() });
                }
            }
        }
        let mut tx = Tx::begin(&self.pool).await?;
        // Snapshot rows first: compared with the stored rows, and settled by the bootstrap policy.
        let seeds = crate::seed::settle(
            &mut tx,
            dialect,
            &mut changes,
            &mut schemas,
            &mut copy,
            &self.policies,
            &mut decisions,
        )
        .await?;
        // The rows they replace are written whatever the conflict column says.
        let unguarded: HashMap<TableName, TablePolicy> = (seeds.overwrites.iter())
            .map(|c| {
                (
                    c.table.clone(),
                    TablePolicy { guard: None, ..self.policies.get(&c.table).cloned().unwrap_or_default() },
                )
            })
            .collect();
        // Weigh the incoming rows against the stored ones, for the counters, to leave out the
        // upserts that lose (stale, a tie lost, a row deleted later), and to find the rows not
        // stored yet. A losing upsert writes nothing at all: MySQL's `ON DUPLICATE KEY UPDATE`
        // fires the table's `BEFORE UPDATE` triggers even when it assigns the stored values back,
        // and an application trigger that re-stamps the row would turn a lost change into a new
        // one. The writes below still decide by themselves (a row may change after the weighing).
        let mut left_out = vec![false; changes.len()];
        let mut lost_deletes = vec![false; changes.len()];
        let guarded = |c: &RowChange| self.policies.get(&c.table).is_some_and(|p| p.guard.is_some());
        let whole_row = |c: &RowChange| matches!(&c.kind, RowChangeKind::Upsert(row) if !plan::partial(row));
        let mut fresh: Vec<bool> =
            changes.iter().zip(&copy).map(|(c, copy)| *copy && !guarded(c) && whole_row(c)).collect();
        let weighings = plan::weighings(dialect, &changes, &schemas, &self.policies, &self.parent_tombs)?;
        // All locks first, then every weighing in statements of their own (see
        // `Dialect::lock_stored`).
        for lock in weighings.iter().filter_map(|w| w.lock.as_ref()) {
            tx.execute(lock).await?;
        }
        for weighing in weighings {
            for (n, verdict) in tx.fetch::<(i64, i64)>(&weighing.statement).await? {
                let position = usize::try_from(n - 1).ok().and_then(|n| weighing.positions.get(n)).copied();
                let (Some(position), Some(counts)) = (position, decisions.get_mut(weighing.table)) else { continue };
                let lost = match verdict {
                    NEW => {
                        fresh[position] = copy[position];
                        false
                    }
                    PREVENTED => {
                        counts.resurrections_prevented += 1;
                        true
                    }
                    STALE => {
                        counts.stale += 1;
                        true
                    }
                    TIE if weighing.deletes => false,
                    TIE if weighing.incoming_wins_ties => {
                        counts.ties_won += 1;
                        false
                    }
                    _ => {
                        counts.ties_lost += 1;
                        true
                    }
                };
                counts.applied -= u64::from(lost);
                // A delete that loses matches no row by itself, and its tombstone is still kept.
                left_out[position] |= lost && !weighing.deletes;
                lost_deletes[position] |= lost && weighing.deletes;
            }
        }
        // A create that would be written over a different row under its generated id: the two
        // sides' applications created two entities with one id. Left alone and reported.
        for (position, collision) in seeds.contested {
            if let (false, Some(counts)) = (left_out[position], decisions.get_mut(&changes[position].table)) {
                left_out[position] = true;
                counts.applied -= 1;
                counts.collisions.push(collision);
            }
        }
        if left_out.contains(&true) {
            let kept: Vec<usize> = (0..changes.len()).filter(|&i| !left_out[i]).collect();
            changes = kept.iter().map(|&i| changes[i].clone()).collect::<Vec<_>>().into();
            schemas = kept.iter().map(|&i| schemas[i].clone()).collect();
            fresh = kept.iter().map(|&i| fresh[i]).collect();
            lost_deletes = kept.iter().map(|&i| lost_deletes[i]).collect();
        }

        // The checkpoints come first: a change capture on this database recognises the writer's
        // transactions by their first change being to the checkpoint table, and drops them. A
        // batch without checkpoints (a dead letter replayed) writes a marker row instead.
        let marker = [checkpoint::marker()];
        let checkpoints = if checkpoints.is_empty() { &marker[..] } else { checkpoints };
        let checkpoint_sql = checkpoint::upsert_sql(dialect);
        let mut statements: Vec<Statement> = checkpoints
            .iter()
            .map(|c| Statement {
                sql: checkpoint_sql.clone(),
                values: vec![
                    Bound::Text(c.consumer.as_str().into()),
                    Bound::Text(c.topic.as_str().into()),
                    Bound::Int(c.partition.into()),
                    Bound::Int(c.offset),
                ],
                copy: None,
                context: format!("recording the checkpoint of {}[{}]", c.topic, c.partition),
                key: &[],
            })
            .collect();
        if let (Some(cascade), [change]) = (&self.cascade, &changes[..])
            && let RowChangeKind::Delete(row) = &change.kind
        {
            let table = change.table.to_string();
            let values = cascade
                .columns
                .iter()
                .map(|c| crate::plan::encode(dialect, &table, c, row.get(c).unwrap_or(&Value::Null)))
                .collect::<Result<Vec<_>, _>>()?;
            statements.extend(cascade.statements.iter().map(|sql| Statement {
                sql: sql.clone(),
                values: values.clone(),
                copy: None,
                context: format!("deleting the rows that reference the deleted row of {table}"),
                key: &[],
            }));
        }
        statements.extend(plan(dialect, &seeds.overwrites, &seeds.overwrite_schemas, &unguarded, &[])?);
        statements.extend(plan(dialect, &changes, &schemas, &self.policies, &fresh)?);
        // After the deletes' tombstones: the rows that went with the lost deletes on their side.
        for (i, _) in lost_deletes.iter().enumerate().filter(|(_, lost)| **lost) {
            statements.extend(self.lost_delete_cascade(&changes[i], &schemas[i]).await?);
        }
        // Explicit ids written into a table whose key a sequence generates: move the sequence past
        // them, so the next local insert does not collide.
        let mut advanced: Vec<&TableName> = Vec::new();
        for (change, schema) in changes.iter().zip(&schemas) {
            if let (RowChangeKind::Upsert(_), Some(sequence)) = (&change.kind, &schema.sequence)
                && !advanced.contains(&&change.table)
            {
                advanced.push(&change.table);
                statements.push(Statement {
                    sql: sql::advance_sequence(schema),
                    values: vec![Bound::Text(sequence.as_str().into())],
                    copy: None,
                    context: format!("advancing the sequence {sequence}"),
                    key: &[],
                });
            }
        }
        for statement in &statements {
            match tx.execute(statement).await {
                Err(error) if statement.copy.is_some() && error.refuses_copy() => {
                    return Err(Attempt::CopyRefused(error));
                }
                result => result?,
            }
        }
        tx.commit().await?;
        // Every written change's table has its counts already (see above).
        for (change, _) in changes.iter().zip(&fresh).filter(|(_, fresh)| **fresh) {
            if let Some(counts) = decisions.get_mut(&change.table) {
                counts.copied += 1;
            }
        }
        Ok(decisions)
    }

    /// Applies one delete that a foreign key refused because other rows still reference its row
    /// ([`ErrorClass::WaitingForParent`] on a delete): those rows, and the rows referencing them,
    /// are deleted first, in the same transaction, as `ON DELETE CASCADE` would, but only when
    /// the delete wins its conflict guard (the row is locked, and the guard is part of what
    /// selects the rows to delete). Any other change is applied as [`Writer::apply`] does.
    pub async fn apply_cascading(
        &mut self,
        change: &RowChange,
        checkpoints: &[Checkpoint],
    ) -> Result<HashMap<TableName, Decisions>, WriteError> {
        let RowChangeKind::Delete(row) = &change.kind else {
            return self.apply(std::slice::from_ref(change), checkpoints).await;
        };
        let schema = self.schema(&change.table).await?;
        let dialect = self.dialect();
        let mut columns = schema.key.clone();
        // A delete wins ties.
        let guard = (self.policies.get(&change.table).and_then(|p| p.guard.clone()))
            .filter(|g| row.get(&g.column).is_some_and(|v| !v.is_null()))
            .map(|g| dualsync_conflict::Guard { incoming_wins_ties: true, ..g });
        if let Some(guard) = &guard {
            columns.push(guard.column.clone());
        }
        let conditions: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let placeholder = dialect.placeholder(i + 1, &schema, c);
                if i < schema.key.len() {
                    format!("{} = {placeholder}", dialect.quote(c))
                } else {
                    guard.as_ref().expect("the guard's column").condition(&dialect.quote(c), &placeholder)
                }
            })
            .collect();
        let statements =
            crate::cascade::statements(&self.pool, &schema, &conditions.join(" AND "), crate::cascade::Reach::All)
                .await?;
        self.cascade = Some(Cascade { statements, columns });
        let result = self.apply(std::slice::from_ref(change), checkpoints).await;
        self.cascade = None;
        result
    }

    /// The rows `change` (an upsert a foreign key refused) references that are not there, each
    /// with whether this database's tombstones remember its delete: then the child can never be
    /// written, and the other side's copy of it went with the parent's delete there (by that
    /// side's cascade, or by [`Writer::apply_cascading`]). Key values that [`key_text`] cannot
    /// spell are not looked up.
    pub async fn missing_parents(&self, change: &RowChange) -> Result<Vec<crate::MissingParent>, WriteError> {
        let Some(row) = change.kind.written_row() else { return Ok(Vec::new()) };
        let text = |column: &str| row.get(column).and_then(key_text);
        crate::cascade::missing_parents(&self.pool, &change.table, &text).await
    }

    /// Which of `parents` (rows found missing earlier, see [`Writer::missing_parents`]) are
    /// there now, in order: a cheap look (one query per hundred rows, by primary or unique key)
    /// so that a change still waiting for its parent is not written again only to be refused.
    pub async fn present(&mut self, parents: &[crate::MissingParent]) -> Result<Vec<bool>, WriteError> {
        let mut schemas = HashMap::new();
        for parent in parents {
            if !schemas.contains_key(&parent.table) {
                schemas.insert(parent.table.clone(), self.schema(&parent.table).await.ok());
            }
        }
        let lookup = |table: &TableName| schemas.get(table).cloned().flatten();
        crate::cascade::present(&self.pool, parents, &lookup).await
    }

    /// Creates the tombstone table of `schema`'s table, if its policy keeps one, once,
    /// and prunes its tombstones older than the retention, at most once per [`PRUNE_EVERY`].
    pub(crate) async fn ensure_tombstones(&mut self, schema: &TableSchema) -> Result<(), WriteError> {
        if self.tombstones.get(&schema.name).is_some_and(|checked| checked.elapsed() < PRUNE_EVERY) {
            return Ok(());
        }
        if let Some(tomb) = tombstone::schema(schema, self.policies.get(&schema.name)) {
            if !self.tombstones.contains_key(&schema.name) {
                let context =
                    format!("creating the tombstone table {} (the target user needs CREATE privilege once)", tomb.name);
                self.run_all(vec![tombstone::create_sql(self.dialect(), &tomb)], &context).await?;
            }
            let prune = tombstone::prune_sql(self.dialect(), &tomb, self.tombstone_retention_days);
            self.run_all(vec![prune], &format!("pruning old tombstones from {}", tomb.name)).await?;
        }
        self.tombstones.insert(schema.name.clone(), std::time::Instant::now());
        Ok(())
    }

    /// Sets how many days tombstones are kept (default 7): a change older than a hard delete
    /// that arrives later than this (a dead letter replayed after weeks) is no longer stopped.
    pub fn set_tombstone_retention(&mut self, days: u64) {
        self.tombstone_retention_days = days;
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

/// A pool of [`POOL_SIZE`] connections to the database `options` name, running `on_connect` for
/// each new connection.
async fn open_pool<DB: sqlx::Database>(
    options: <DB::Connection as sqlx::Connection>::Options,
    on_connect: impl Fn() + Send + Sync + 'static,
) -> Result<sqlx::Pool<DB>, sqlx::Error> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(CONNECT_TIMEOUT)
        .after_connect(move |_, _| {
            on_connect();
            Box::pin(async { Ok(()) })
        })
        .connect_with(options)
        .await
}

/// What the conflict rule decided for the rows of one table in one batch. Every upsert and
/// delete counts once: applied, or skipped for one of the reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    /// Rows written (or left as they were when they already held the incoming values).
    pub applied: u64,
    /// Rows skipped because the stored row is newer.
    pub stale: u64,
    /// Rows whose time equals the stored row's, written because their side wins ties (counted in
    /// `applied` too).
    pub ties_won: u64,
    /// Rows whose time equals the stored row's, skipped because the other side wins ties.
    pub ties_lost: u64,
    /// Upserts skipped because the row was deleted at or after their time.
    pub resurrections_prevented: u64,
    /// Of the applied rows, those copied in as new rows with PostgreSQL's `COPY` (the bulk path)
    /// rather than upserted.
    pub copied: u64,
    /// Snapshot rows the target already held with the same values (not written).
    pub identical: u64,
    /// Snapshot rows the target held differently, settled by the table's bootstrap policy: the
    /// incoming row replaced the stored one (counted in `applied` too), or the stored one stayed.
    pub collisions_settled: u64,
    /// Snapshot rows the target holds differently, left alone for the operator (policy `refuse`).
    pub collisions: Vec<crate::Collision>,
}

/// How one write of a batch failed.
enum Attempt {
    /// The batch could not be written.
    Failed(WriteError),
    /// The copy of new rows failed where upserts may not (see [`WriteError::refuses_copy`]).
    CopyRefused(WriteError),
}

impl Attempt {
    fn into_error(self) -> WriteError {
        match self {
            Attempt::Failed(error) | Attempt::CopyRefused(error) => error,
        }
    }
}

impl From<WriteError> for Attempt {
    fn from(error: WriteError) -> Attempt {
        Attempt::Failed(error)
    }
}

/// An open transaction on the target, marked as dualsync's (for the source-flag triggers).
pub(crate) enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Tx {
    /// Begins a transaction and marks it as dualsync's, in one round trip.
    pub(crate) async fn begin(pool: &Pool) -> Result<Tx, WriteError> {
        let context = || WriteError::database("beginning a transaction");
        // Read committed on both: each statement sees what committed before it, so a weighing
        // after the lock of the stored rows sees the tombstone of a delete that had held them
        // (MySQL's default, repeatable read, keeps the transaction's first snapshot).
        let begin = |dialect| {
            let isolation =
                if dialect == Dialect::MySql { "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; " } else { "" };
            AssertSqlSafe(format!("{isolation}BEGIN; {}", triggers::mark_session(dialect)))
        };
        Ok(match pool {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin_with(begin(Dialect::Postgres)).await.map_err(context())?),
            Pool::MySql(pool) => Tx::MySql(pool.begin_with(begin(Dialect::MySql)).await.map_err(context())?),
        })
    }

    async fn execute(&mut self, statement: &Statement<'_>) -> Result<(), WriteError> {
        let sql = AssertSqlSafe(statement.sql.clone());
        let result: Result<(), sqlx::Error> = async {
            match self {
                Tx::Postgres(tx) if let Some(data) = &statement.copy => {
                    let mut copy = tx.copy_in_raw(&statement.sql).await?;
                    copy.send(data.as_bytes()).await?;
                    copy.finish().await?;
                }
                Tx::Postgres(tx) => {
                    sqlx::query_with(sql, arguments::<sqlx::Postgres>(statement)?).execute(&mut **tx).await?;
                }
                Tx::MySql(tx) => {
                    sqlx::query_with(sql, arguments::<sqlx::MySql>(statement)?).execute(&mut **tx).await?;
                }
            }
            Ok(())
        }
        .await;
        result.map_err(|source| WriteError::classify(statement.context.clone(), statement.key, source))
    }

    /// Runs a query and returns its rows.
    pub(crate) async fn fetch<T>(&mut self, statement: &Statement<'_>) -> Result<Vec<T>, WriteError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow>,
        T: Send + Unpin,
    {
        let sql = AssertSqlSafe(statement.sql.clone());
        let result: Result<Vec<T>, sqlx::Error> = async {
            match self {
                Tx::Postgres(tx) => {
                    sqlx::query_as_with(sql, arguments::<sqlx::Postgres>(statement)?).fetch_all(&mut **tx).await
                }
                Tx::MySql(tx) => {
                    sqlx::query_as_with(sql, arguments::<sqlx::MySql>(statement)?).fetch_all(&mut **tx).await
                }
            }
        }
        .await;
        result.map_err(|source| WriteError::classify(statement.context.clone(), statement.key, source))
    }

    async fn commit(self) -> Result<(), WriteError> {
        let context = WriteError::database("committing the batch");
        match self {
            Tx::Postgres(tx) => tx.commit().await.map_err(context),
            Tx::MySql(tx) => tx.commit().await.map_err(context),
        }
    }
}

/// The statement's parameters, bound in order.
fn arguments<DB>(statement: &Statement<'_>) -> Result<DB::Arguments, sqlx::Error>
where
    DB: Database,
    for<'v> bool: Encode<'v, DB> + Type<DB>,
    for<'v> i64: Encode<'v, DB> + Type<DB>,
    for<'v> f64: Encode<'v, DB> + Type<DB>,
    for<'v> &'v str: Encode<'v, DB> + Type<DB>,
    for<'v> Option<&'v str>: Encode<'v, DB> + Type<DB>,
    for<'v> &'v [u8]: Encode<'v, DB> + Type<DB>,
{
    let mut arguments = DB::Arguments::default();
    for value in &statement.values {
        match value {
            Bound::Null => arguments.add(None::<&str>),
            Bound::Bool(b) => arguments.add(*b),
            Bound::Int(i) => arguments.add(*i),
            Bound::Float(x) => arguments.add(*x),
            Bound::Text(s) => arguments.add(s.as_ref()),
            Bound::Bytes(b) => arguments.add(*b),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// A key value as text, the way [`Writer::missing_parents`] compares it: integers, decimals,
/// text and UUIDs; `None` for any other kind.
pub fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Decimal(d) => Some(d.to_string()),
        Value::Text(t) | Value::Enum(t) => Some(t.clone()),
        Value::Uuid(u) => Some(u.to_string()),
        _ => None,
    }
}
