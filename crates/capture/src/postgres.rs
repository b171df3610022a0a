//! PostgreSQL capture: a pgoutput slot and publication, an initial snapshot under the slot's
//! exported snapshot, then the logical replication stream. The slot's confirmed flush position
//! is advanced only to commits whose records the broker acknowledged, so the slot is the offset.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use pg_walstream::{LogicalReplicationMessage, LogicalReplicationParser, TupleData};
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent};
use serde_json::{Value as Json, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row as _};
use tokio::sync::watch;

use crate::config::{CaptureConfig, SnapshotMode, WriterTransactions};
use crate::debezium::{self, Change, Column, Connector, Record, Table, TransactionMeta};
use crate::pg_values::{self, PgType};
use crate::sink::Sink;
use crate::snapshot::Progress;
use crate::{CaptureError, MARKER_TABLE, SourceUrl};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The session settings the text decoders rely on.
const SESSION: &str = "-c datestyle=ISO,MDY -c intervalstyle=iso_8601 -c timezone=UTC -c extra_float_digits=3";

/// A connection with the session settings the text decoders rely on (the same as [`SESSION`]).
async fn connect(config: &CaptureConfig) -> Result<PgConnection, CaptureError> {
    let mut conn = PgConnection::connect(&config.source)
        .await
        .map_err(|e| CaptureError::source(&format!("connecting to {}", crate::redact(&config.source)), e))?;
    for setting in [
        "SET DateStyle = 'ISO, MDY'",
        "SET IntervalStyle = 'iso_8601'",
        "SET TimeZone = 'UTC'",
        "SET extra_float_digits = 3",
    ] {
        sqlx::query(setting).execute(&mut conn).await.map_err(|e| CaptureError::source(setting, e))?;
    }
    Ok(conn)
}

/// The catalog connection: table and type descriptions.
struct Catalog {
    conn: PgConnection,
    types: HashMap<u32, PgType>,
    config: CaptureConfig,
    database: String,
}

impl Catalog {
    async fn connect(config: &CaptureConfig) -> Result<Catalog, CaptureError> {
        let mut conn = connect(config).await?;
        let database: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| CaptureError::source("reading the database name", e))?;
        Ok(Catalog { conn, types: HashMap::new(), config: config.clone(), database })
    }

    /// The current text of `columns` (positions in `table.columns`) of the row whose key
    /// columns have the texts `key`: `None` for each when the row is gone (its delete follows
    /// in the stream) or a value is NULL.
    async fn reselect(
        &mut self,
        table: &Table,
        columns: &[usize],
        key: &[String],
    ) -> Result<Vec<Option<String>>, CaptureError> {
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let select: Vec<String> = columns.iter().map(|&i| format!("{}::text", quote(&table.columns[i].name))).collect();
        // Untyped literals take the key column's own type, so the primary key's index is used.
        let filter: Vec<String> = table
            .key
            .iter()
            .zip(key)
            .map(|(&i, text)| format!("{} = '{}'", quote(&table.columns[i].name), text.replace('\'', "''")))
            .collect();
        let sql = format!(
            "SELECT {} FROM {}.{} WHERE {}",
            select.join(", "),
            quote(&table.namespace),
            quote(&table.name),
            filter.join(" AND ")
        );
        let rows = self.query(&sql, "reading back unchanged TOAST values").await?;
        Ok(match rows.first() {
            Some(row) => (0..columns.len()).map(|i| row.try_get(i).ok().flatten()).collect(),
            None => vec![None; columns.len()],
        })
    }

    async fn query(&mut self, sql: &str, context: &str) -> Result<Vec<sqlx::postgres::PgRow>, CaptureError> {
        sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| CaptureError::source(context, e))
    }

    /// The captured tables: (schema, table, oid), in name order. dualsync's own tables are never
    /// captured, but for the tombstone tables (see [`crate::is_internal_table`]).
    async fn tables(&mut self) -> Result<Vec<(String, String, u32)>, CaptureError> {
        let rows = self
            .query(
                "SELECT n.nspname::text, c.relname::text, c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
                "listing tables",
            )
            .await?;
        let include_default = self.config.include.is_empty();
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<i64, _>(2) as u32))
            .filter(|(_, table, _)| !crate::is_internal_table(table))
            .filter(|(schema, table, _)| {
                if include_default {
                    schema == "public" && self.config.captures(schema, table)
                } else {
                    self.config.captures(schema, table)
                }
            })
            .collect())
    }

    /// The type behind `oid`: domains resolved to their base type, arrays to their element.
    async fn pg_type(&mut self, oid: u32, typmod: i32) -> Result<PgType, CaptureError> {
        if let Some(t) = self.types.get(&oid) {
            return Ok(PgType { typmod, ..t.clone() });
        }
        let mut current = oid;
        let mut array = false;
        let resolved = loop {
            let row = sqlx::query(
                "SELECT typname::text, typtype::text, typcategory::text, typelem::int8, typbasetype::int8 FROM pg_type WHERE oid = $1",
            )
            .bind(i64::from(current))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| CaptureError::source(&format!("describing type {current}"), e))?;
            let (name, typtype, category, element, base): (String, String, String, i64, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            if typtype == "d" {
                current = base as u32;
            } else if category == "A" && element != 0 && !array {
                array = true;
                current = element as u32;
            } else {
                let labels = if typtype == "e" {
                    let rows =
                        sqlx::query("SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder")
                            .bind(i64::from(current))
                            .fetch_all(&mut self.conn)
                            .await
                            .map_err(|e| CaptureError::source("reading enum labels", e))?;
                    Some(rows.iter().map(|r| r.get::<String, _>(0)).collect())
                } else {
                    None
                };
                break PgType { name, typmod, array, labels };
            }
        };
        self.types.insert(oid, resolved.clone());
        Ok(resolved)
    }

    /// The columns of table `oid`, in order.
    async fn columns(&mut self, oid: u32) -> Result<Vec<PgColumn>, CaptureError> {
        let rows = sqlx::query(
            "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, a.attnotnull, \
             coalesce(a.attnum = ANY(i.indkey), false), format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(i64::from(oid))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| CaptureError::source(&format!("describing table {oid}"), e))?;
        Ok(rows
            .iter()
            .map(|r| PgColumn {
                name: r.get(0),
                type_oid: r.get::<i64, _>(1) as u32,
                typmod: r.get(2),
                not_null: r.get(3),
                key: r.get(4),
                type_text: r.get(5),
            })
            .collect())
    }

    /// Builds a table from its columns.
    async fn table(&mut self, schema: &str, name: &str, columns: &[PgColumn]) -> Result<Table, CaptureError> {
        let mut out = Vec::with_capacity(columns.len());
        let mut key = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            let ty = self.pg_type(column.type_oid, column.typmod).await?;
            let kind = pg_values::kind(&ty, self.config.interval_handling_mode);
            out.push(Column { name: column.name.clone(), kind, optional: !column.not_null });
            if column.key {
                key.push(i);
            }
        }
        Ok(Table::new(Connector::Postgres, self.config.prefix(), schema, name, out, key))
    }
}

/// One column as the catalog describes it.
#[derive(Debug, Clone)]
struct PgColumn {
    name: String,
    type_oid: u32,
    typmod: i32,
    not_null: bool,
    /// Part of the primary key (or, from a relation message, of the replica identity).
    key: bool,
    /// `format_type()`: the type as SQL spells it.
    type_text: String,
}

/// The parts of a connection URL the replication protocol needs.
fn replication_config(config: &CaptureConfig) -> Result<ReplicationConfig, CaptureError> {
    let url = SourceUrl::parse(&config.source)?;
    Ok(ReplicationConfig::new(url.host, url.user, url.password, url.database, config.slot(), config.publication())
        .with_port(url.port.unwrap_or(5432))
        .with_options(SESSION)
        .with_application_name(format!("dualsync-capture-{}", config.name))
        .with_status_interval(Duration::from_millis(500))
        .with_buffer_size(16_384))
}

/// Checks wal_level, the replication privilege, a free slot and each table's replica identity.
pub(crate) async fn preflight(config: &CaptureConfig) -> Result<Vec<String>, CaptureError> {
    let mut catalog = Catalog::connect(config).await?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let row = catalog
        .query(
            &format!(
                "SELECT current_setting('wal_level'), \
                 (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), \
                 current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int, \
                 EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '{}')",
                config.slot().replace('\'', "''")
            ),
            "reading server settings",
        )
        .await?;
    let (wal_level, replication, free_slots, slot_exists): (String, bool, i32, bool) =
        (row[0].get(0), row[0].get(1), row[0].get(2), row[0].get(3));
    if wal_level != "logical" {
        problems.push(format!(
            "setting wal_level: expected logical, found {wal_level} (set wal_level = logical in postgresql.conf and restart)"
        ));
    }
    if !replication {
        problems.push("privilege REPLICATION: the capture's user lacks it (ALTER ROLE <user> REPLICATION)".into());
    }
    if !slot_exists && free_slots < 1 {
        problems.push(format!(
            "setting max_replication_slots: expected a free slot, found {free_slots} free (raise it or drop unused slots)"
        ));
    }
    let tables = catalog.tables().await?;
    if tables.is_empty() {
        problems.push("include: no table matches (check the include and exclude patterns)".into());
    }
    for (schema, table, oid) in &tables {
        let identity: String = sqlx::query_scalar("SELECT relreplident::text FROM pg_class WHERE oid = $1")
            .bind(i64::from(*oid))
            .fetch_one(&mut catalog.conn)
            .await
            .map_err(|e| CaptureError::source("reading replica identity", e))?;
        match identity.as_str() {
            "f" => {}
            "n" => warnings.push(format!(
                "{schema}.{table}: REPLICA IDENTITY NOTHING: updates and deletes cannot be captured \
                 (ALTER TABLE {schema}.{table} REPLICA IDENTITY FULL)"
            )),
            _ => warnings.push(format!(
                "{schema}.{table}: REPLICA IDENTITY {}: updates carry no before-image and deletes only the key \
                 (ALTER TABLE {schema}.{table} REPLICA IDENTITY FULL for full before-images)",
                if identity == "i" { "USING INDEX" } else { "DEFAULT" }
            )),
        }
    }
    if !problems.is_empty() {
        return Err(CaptureError::Preflight(problems.join("; ")));
    }
    Ok(warnings)
}

/// Creates the publication with the captured tables and every `dualsync_checkpoints` table
/// (whose writes mark the writer's transactions), or adds the missing ones.
async fn ensure_publication(catalog: &mut Catalog, tables: &[(String, String, u32)]) -> Result<(), CaptureError> {
    let markers = catalog
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = '{MARKER_TABLE}' AND c.relkind = 'r'"
            ),
            "finding the writer's checkpoint tables",
        )
        .await?;
    let mut wanted: Vec<(String, String)> = tables.iter().map(|(s, t, _)| (s.clone(), t.clone())).collect();
    if markers.is_empty() {
        // Created here so the publication can include it before the writer's first transaction.
        let sql = dualsync_writer::checkpoint_table_sql(dualsync_writer::Dialect::Postgres);
        catalog.query(&sql, "creating dualsync_checkpoints (the writer's marker table)").await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut catalog.conn)
            .await
            .map_err(|e| CaptureError::source("reading the current schema", e))?;
        wanted.push((schema, MARKER_TABLE.to_string()));
    }
    wanted.extend(markers.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))));
    let publication = catalog.config.publication();
    let quoted = |(s, t): &(String, String)| format!("\"{}\".\"{}\"", s.replace('"', "\"\""), t.replace('"', "\"\""));
    let existing = catalog
        .query(
            &format!(
                "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = '{}'",
                publication.replace('\'', "''")
            ),
            "reading the publication",
        )
        .await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
        .bind(&publication)
        .fetch_one(&mut catalog.conn)
        .await
        .map_err(|e| CaptureError::source("reading the publication", e))?;
    let have: Vec<(String, String)> = existing.iter().map(|r| (r.get(0), r.get(1))).collect();
    let missing: Vec<String> = wanted.iter().filter(|t| !have.contains(t)).map(quoted).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sql = if exists {
        format!("ALTER PUBLICATION \"{publication}\" ADD TABLE {}", missing.join(", "))
    } else {
        format!("CREATE PUBLICATION \"{publication}\" FOR TABLE {}", missing.join(", "))
    };
    catalog
        .query(&sql, &format!("setting up publication {publication} (the capture's user must own the tables)"))
        .await?;
    Ok(())
}

/// Runs the PostgreSQL capture.
pub(crate) async fn run(
    config: &CaptureConfig,
    mut stop: watch::Receiver<bool>,
    stats: Arc<crate::Stats>,
) -> Result<(), CaptureError> {
    let mut catalog = Catalog::connect(config).await?;
    let tables = catalog.tables().await?;
    ensure_publication(&mut catalog, &tables).await?;
    let (mut sink, stored) = Sink::connect(config, stats).await?;
    let mut progress = Progress::from_offset(stored.as_ref());
    let slot = config.slot();
    let slot_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)")
            .bind(&slot)
            .fetch_one(&mut catalog.conn)
            .await
            .map_err(|e| CaptureError::source("reading replication slots", e))?;
    let mut client = ReplicationClient::connect_gated(replication_config(config)?)
        .await
        .map_err(|e| CaptureError::source("opening the replication connection", e))?;
    let mut exported = None;
    if !slot_exists {
        let rows = client
            .simple_query(&format!("CREATE_REPLICATION_SLOT \"{slot}\" LOGICAL pgoutput EXPORT_SNAPSHOT"))
            .await
            .map_err(|e| CaptureError::source(&format!("creating replication slot {slot}"), e))?;
        let text = |i: usize| {
            rows.first().and_then(|r| r.get(i).cloned().flatten()).map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        tracing::info!(slot, consistent_point = text(1).unwrap_or_default(), "replication slot created");
        exported = text(2);
        // A new slot starts a new history: any earlier snapshot progress is void.
        progress = Progress::default();
    }
    if config.snapshot == SnapshotMode::Initial && !progress.done {
        snapshot(config, &mut catalog, &tables, &mut sink, &mut progress, exported.as_deref(), &stop).await?;
    } else if !progress.done {
        progress.done = true;
        sink.position(offset(&progress, Json::Null)).await?;
    }
    if *stop.borrow() {
        return sink.close().await;
    }
    client.start().await.map_err(|e| CaptureError::source("starting replication", e))?;
    client
        .wait_started()
        .await
        .map_err(|e| CaptureError::source(&format!("starting replication from slot {slot}"), e))?;
    tracing::info!(slot, "streaming changes");
    let mut stream = Stream {
        config,
        parser: LogicalReplicationParser::with_protocol_version(1),
        relations: HashMap::new(),
        markers: HashSet::new(),
        last_position: 0,
        tx: None,
        database: catalog.database.clone(),
    };
    let mut acked = sink.acked();
    let result = loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break Ok(()) },
            changed = acked.changed() => {
                if changed.is_ok()
                    && let Some(lsn) = acked.borrow().as_ref().and_then(|o| o["lsn"].as_u64())
                {
                    client.update_applied_lsn(Lsn(lsn));
                }
            }
            event = client.recv() => match event {
                // Idle, with everything sent acknowledged: confirm the server's position, so the
                // slot keeps no WAL for changes (of other databases or tables) it never sends.
                Ok(Some(ReplicationEvent::KeepAlive { wal_end, .. }))
                    if stream.tx.is_none()
                        && acked.borrow().as_ref().and_then(|o| o["lsn"].as_u64()).unwrap_or(0) >= stream.last_position =>
                {
                    client.update_applied_lsn(wal_end);
                }
                Ok(Some(event)) => {
                    if let Err(e) = stream.handle(event, &mut catalog, &mut sink, &progress).await {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(CaptureError::source("replication stream", e)),
            }
        }
    };
    client.stop();
    let closed = sink.close().await;
    if let Some(lsn) = acked.borrow().as_ref().and_then(|o| o["lsn"].as_u64()) {
        client.update_applied_lsn(Lsn(lsn));
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), client.shutdown()).await;
    result.and(closed)
}

/// The positions of a new tuple's unchanged (TOAST) columns and the texts of its key, when it
/// has unchanged columns and its whole key.
fn unchanged_and_key(tuple: &TupleData, table: &Table) -> Option<(Vec<usize>, Vec<String>)> {
    let unchanged: Vec<usize> =
        tuple.columns.iter().enumerate().filter(|(_, d)| d.is_unchanged()).map(|(i, _)| i).collect();
    if unchanged.is_empty() || table.key.is_empty() {
        return None;
    }
    let key = table
        .key
        .iter()
        .map(|&i| {
            tuple
                .columns
                .get(i)
                .filter(|d| !d.is_null() && !d.is_unchanged())
                .map(|d| String::from_utf8_lossy(d.as_bytes()).into_owned())
        })
        .collect::<Option<Vec<String>>>()?;
    Some((unchanged, key))
}

/// The transaction being read.
struct Transaction {
    xid: u32,
    commit_ms: i64,
    /// `Some(true)`: the writer's; `Some(false)`: an application's; `None`: no change seen yet.
    writer: Option<bool>,
    /// Its transaction metadata (with `transaction_metadata`).
    meta: Option<TransactionMeta>,
}

/// The streaming state.
struct Stream<'a> {
    config: &'a CaptureConfig,
    parser: LogicalReplicationParser,
    /// Captured tables by relation id; `None` for relations not captured.
    relations: HashMap<u32, Option<Arc<Table>>>,
    /// Relation ids of `dualsync_checkpoints` tables.
    markers: HashSet<u32>,
    /// The last position handed to the sink (a commit's end).
    last_position: u64,
    tx: Option<Transaction>,
    database: String,
}

impl Stream<'_> {
    async fn handle(
        &mut self,
        event: ReplicationEvent,
        catalog: &mut Catalog,
        sink: &mut Sink,
        progress: &Progress,
    ) -> Result<(), CaptureError> {
        match event {
            ReplicationEvent::Begin { xid, commit_time_micros, final_lsn } => {
                let meta =
                    self.config.transaction_metadata.then(|| TransactionMeta::new(format!("{xid}:{}", final_lsn.0)));
                self.tx = Some(Transaction {
                    xid,
                    commit_ms: (commit_time_micros + PG_EPOCH_MICROS) / 1000,
                    writer: None,
                    meta,
                });
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                if let Some(tx) = self.tx.take()
                    && let Some(meta) = tx.meta.filter(|m| !m.is_empty())
                {
                    let end = meta.record(self.config.prefix(), true, self.config.schemas_enable);
                    sink.send(vec![end], tx.writer == Some(true)).await?;
                }
                sink.position(offset(progress, json!(end_lsn.0))).await?;
                self.last_position = end_lsn.0;
            }
            ReplicationEvent::Message { lsn, prefix, content, transactional } => {
                if transactional
                    && self.tx.as_ref().and_then(|t| t.writer) == Some(true)
                    && self.config.writer_transactions == WriterTransactions::Drop
                {
                    return Ok(());
                }
                let source = self.source(
                    None,
                    lsn.0,
                    self.tx.as_ref().map_or(chrono::Utc::now().timestamp_millis(), |t| t.commit_ms),
                );
                sink.send(
                    vec![debezium::message_record(
                        self.config.prefix(),
                        &prefix,
                        &content,
                        source,
                        self.config.schemas_enable,
                    )],
                    false,
                )
                .await?;
                if !transactional {
                    // Not part of a transaction: its own position, so an idle acknowledgement
                    // never passes it before the broker has it.
                    sink.position(offset(progress, json!(lsn.0))).await?;
                    self.last_position = self.last_position.max(lsn.0);
                }
            }
            ReplicationEvent::XLogData { wal_start, data, .. } => {
                let message = self
                    .parser
                    .parse_wal_message_bytes(data)
                    .map_err(|e| CaptureError::source("decoding pgoutput", e))?;
                self.change(message.message, wal_start.0, catalog, sink).await?;
            }
            ReplicationEvent::KeepAlive { .. } | ReplicationEvent::StoppedAt { .. } => {}
        }
        Ok(())
    }

    fn source(&self, table: Option<&Table>, lsn: u64, ts_ms: i64) -> Json {
        json!({
            "version": debezium::VERSION,
            "connector": "postgresql",
            "name": self.config.prefix(),
            "ts_ms": ts_ms,
            "snapshot": "false",
            "db": self.database,
            "schema": table.map_or("", |t| t.namespace.as_str()),
            "table": table.map_or("", |t| t.name.as_str()),
            "txId": self.tx.as_ref().map(|t| t.xid),
            "lsn": lsn,
            "xmin": null
        })
    }

    async fn change(
        &mut self,
        message: LogicalReplicationMessage,
        lsn: u64,
        catalog: &mut Catalog,
        sink: &mut Sink,
    ) -> Result<(), CaptureError> {
        let (relation, op, before, after) = match message {
            LogicalReplicationMessage::Relation { relation_id, namespace, relation_name, columns, .. } => {
                let table = if relation_name.as_ref() == MARKER_TABLE
                    || crate::is_internal_table(&relation_name)
                    || !self.config.captures(&namespace, &relation_name)
                {
                    None
                } else {
                    let described = catalog.columns(relation_id).await?;
                    let merged: Vec<PgColumn> = columns
                        .iter()
                        .map(|c| PgColumn {
                            name: c.name.to_string(),
                            type_oid: c.type_id,
                            typmod: c.type_modifier,
                            not_null: described.iter().any(|d| d.name == c.name.as_ref() && d.not_null),
                            key: c.is_key(),
                            type_text: String::new(),
                        })
                        .collect();
                    Some(Arc::new(catalog.table(&namespace, &relation_name, &merged).await?))
                };
                self.relations.insert(relation_id, table);
                // Marker tables are known by name, even though they produce no records.
                if relation_name.as_ref() == MARKER_TABLE {
                    self.markers.insert(relation_id);
                }
                return Ok(());
            }
            LogicalReplicationMessage::Insert { relation_id, tuple } => (relation_id, 'c', None, Some(tuple)),
            LogicalReplicationMessage::Update { relation_id, old_tuple, new_tuple, .. } => {
                (relation_id, 'u', old_tuple, Some(new_tuple))
            }
            LogicalReplicationMessage::Delete { relation_id, old_tuple, .. } => {
                (relation_id, 'd', Some(old_tuple), None)
            }
            LogicalReplicationMessage::Truncate { relation_ids, .. } => {
                for relation_id in relation_ids {
                    if self.is_writer(relation_id) {
                        return Ok(());
                    }
                    if let Some(Some(table)) = self.relations.get(&relation_id).cloned() {
                        let source = self.source(Some(&table), lsn, self.commit_ms());
                        let (mut records, transaction) = self.transaction_block(&table);
                        let change = Change { op: 't', before: None, after: None, source, transaction };
                        records.extend(table.records(change, self.config.schemas_enable, false));
                        sink.send(records, self.flagged()).await?;
                    }
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if self.is_writer(relation) {
            return Ok(());
        }
        let Some(Some(table)) = self.relations.get(&relation).cloned() else { return Ok(()) };
        let decode = |tuple: TupleData| -> Result<Vec<Json>, CaptureError> {
            tuple
                .columns
                .iter()
                .zip(&table.columns)
                .map(|(data, column)| {
                    if data.is_null() {
                        Ok(Json::Null)
                    } else if data.is_unchanged() {
                        Ok(column.kind.unavailable())
                    } else {
                        let text = String::from_utf8_lossy(data.as_bytes());
                        pg_values::value(&column.kind, &text).map_err(|e| {
                            CaptureError::Source(format!("{}.{}.{}: {e}", table.namespace, table.name, column.name))
                        })
                    }
                })
                .collect()
        };
        // Under the default replica identity an update leaves unchanged TOAST values out: read
        // them back by key (see `reselect_unchanged_toast`).
        let reselect = match &after {
            Some(tuple) if op == 'u' && self.config.reselect_unchanged_toast => unchanged_and_key(tuple, &table),
            _ => None,
        };
        let before = before.map(decode).transpose()?;
        let mut after = after.map(decode).transpose()?;
        if let (Some((columns, key)), Some(values)) = (reselect, after.as_mut()) {
            for (index, text) in columns.iter().zip(catalog.reselect(&table, &columns, &key).await?) {
                if let Some(text) = text {
                    let column = &table.columns[*index];
                    values[*index] = pg_values::value(&column.kind, &text).map_err(|e| {
                        CaptureError::Source(format!("{}.{}.{}: {e}", table.namespace, table.name, column.name))
                    })?;
                }
            }
        }
        let source = self.source(Some(&table), lsn, self.commit_ms());
        let (mut records, transaction) = self.transaction_block(&table);
        let change = Change { op, before, after, source, transaction };
        records.extend(table.records(change, self.config.schemas_enable, self.config.tombstones_on_delete));
        sink.send(records, self.flagged()).await
    }

    /// With transaction metadata: the `transaction` block of the next event on `table`, after
    /// the transaction's BEGIN record when this is its first event.
    fn transaction_block(&mut self, table: &Table) -> (Vec<Record>, Option<Json>) {
        let Some(meta) = self.tx.as_mut().and_then(|t| t.meta.as_mut()) else { return (Vec::new(), None) };
        let begin = if meta.is_empty() {
            vec![meta.record(self.config.prefix(), false, self.config.schemas_enable)]
        } else {
            Vec::new()
        };
        (begin, Some(meta.next(&format!("{}.{}", table.namespace, table.name))))
    }

    fn commit_ms(&self) -> i64 {
        self.tx.as_ref().map_or_else(|| chrono::Utc::now().timestamp_millis(), |t| t.commit_ms)
    }

    /// Decides, at a transaction's first change, whether it is the writer's (its first change is
    /// to `dualsync_checkpoints`, which the writer writes first). `true` when its changes are
    /// to be dropped.
    fn is_writer(&mut self, relation: u32) -> bool {
        let marker = self.markers.contains(&relation);
        let Some(tx) = self.tx.as_mut() else { return false };
        let writer = *tx.writer.get_or_insert(marker);
        if marker && !writer {
            tracing::warn!(
                xid = tx.xid,
                "a transaction wrote dualsync_checkpoints after other changes: its earlier changes were captured"
            );
        }
        writer && self.config.writer_transactions == WriterTransactions::Drop || marker
    }

    fn flagged(&self) -> bool {
        self.tx.as_ref().and_then(|t| t.writer) == Some(true)
    }
}

/// Reads the snapshot: every table in primary-key chunks, resuming after the last stored key.
async fn snapshot(
    config: &CaptureConfig,
    catalog: &mut Catalog,
    tables: &[(String, String, u32)],
    sink: &mut Sink,
    progress: &mut Progress,
    exported: Option<&str>,
    stop: &watch::Receiver<bool>,
) -> Result<(), CaptureError> {
    let mut conn = connect(config).await?;
    let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    sqlx::query(begin).execute(&mut conn).await.map_err(|e| CaptureError::source(begin, e))?;
    if let Some(name) = exported {
        sqlx::query(AssertSqlSafe(format!("SET TRANSACTION SNAPSHOT '{}'", name.replace('\'', "''"))))
            .execute(&mut conn)
            .await
            .map_err(|e| CaptureError::source("importing the slot's snapshot", e))?;
    } else {
        tracing::info!(
            "resuming the snapshot with a new snapshot: rows changed meanwhile are also streamed from the slot"
        );
    }
    let lsn: i64 =
        sqlx::query_scalar("SELECT (pg_current_wal_lsn() - '0/0')::int8").fetch_one(&mut conn).await.unwrap_or(0);
    let started = chrono::Utc::now().timestamp_millis();
    for (schema, name, oid) in tables {
        let qualified = format!("{schema}.{name}");
        if progress.finished(&qualified) {
            continue;
        }
        let columns = catalog.columns(*oid).await?;
        let table = catalog.table(schema, name, &columns).await?;
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        // Aliased: ORDER BY a bare name would sort by the text output column of that name.
        // A cast of char(n) to text drops its padding; its output function keeps it, as pgoutput does.
        let select: Vec<String> = table
            .columns
            .iter()
            .zip(&columns)
            .enumerate()
            .map(|(i, (c, pg))| {
                if pg.type_text.starts_with("character(") || pg.type_text == "character" {
                    format!("bpcharout({})::text AS c{i}", quote(&c.name))
                } else {
                    format!("{}::text AS c{i}", quote(&c.name))
                }
            })
            .collect();
        let key_columns: Vec<String> = table.key.iter().map(|&i| quote(&table.columns[i].name)).collect();
        let placeholders: Vec<String> =
            table.key.iter().enumerate().map(|(n, &i)| format!("${}::{}", n + 1, columns[i].type_text)).collect();
        let chunked = !table.key.is_empty();
        tracing::info!(table = qualified, "snapshot of table started");
        let mut rows_read = 0u64;
        loop {
            let mut sql = format!("SELECT {} FROM {}.{}", select.join(", "), quote(schema), quote(name));
            let after = progress.resume_after(&qualified);
            if chunked {
                if after.is_some() {
                    sql.push_str(&format!(" WHERE ({}) > ({})", key_columns.join(", "), placeholders.join(", ")));
                }
                sql.push_str(&format!(" ORDER BY {} LIMIT {}", key_columns.join(", "), config.snapshot_chunk_rows));
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for value in after.iter().flatten() {
                query = query.bind(value.clone());
            }
            let rows = query
                .fetch_all(&mut conn)
                .await
                .map_err(|e| CaptureError::source(&format!("reading {qualified}"), e))?;
            let count = rows.len() as u64;
            let mut last_key = None;
            for row in rows {
                let texts: Vec<Option<String>> =
                    (0..table.columns.len()).map(|i| row.get::<Option<String>, _>(i)).collect();
                let mut values = Vec::with_capacity(texts.len());
                for (text, column) in texts.iter().zip(&table.columns) {
                    values.push(match text {
                        None => Json::Null,
                        Some(t) => pg_values::value(&column.kind, t)
                            .map_err(|e| CaptureError::Source(format!("{qualified}.{}: {e}", column.name)))?,
                    });
                }
                let source = json!({
                    "version": debezium::VERSION, "connector": "postgresql", "name": config.prefix(), "ts_ms": started,
                    "snapshot": "true", "db": catalog.database, "schema": schema, "table": name,
                    "txId": null, "lsn": lsn, "xmin": null
                });
                last_key = Some(table.key.iter().map(|&i| texts[i].clone().unwrap_or_default()).collect::<Vec<_>>());
                sink.send(
                    table.records(
                        Change { op: 'r', before: None, after: Some(values), source, transaction: None },
                        config.schemas_enable,
                        false,
                    ),
                    false,
                )
                .await?;
            }
            rows_read += count;
            if !chunked || count < config.snapshot_chunk_rows {
                break;
            }
            progress.chunk_read(&qualified, last_key);
            sink.position(offset(progress, Json::Null)).await?;
            tracing::info!(table = qualified, rows_read, "snapshot progress");
            if *stop.borrow() {
                return Ok(());
            }
        }
        progress.table_read(&qualified);
        sink.position(offset(progress, Json::Null)).await?;
        tracing::info!(table = qualified, rows_read, "snapshot of table finished");
    }
    sqlx::query("COMMIT").execute(&mut conn).await.map_err(|e| CaptureError::source("ending the snapshot", e))?;
    progress.done = true;
    sink.position(offset(progress, Json::Null)).await?;
    Ok(())
}

/// The offset stored for a PostgreSQL capture: snapshot progress and the last acknowledged
/// commit's end position (informational: the slot is what streaming resumes from).
fn offset(progress: &Progress, lsn: Json) -> Json {
    json!({"snapshot": progress, "lsn": lsn})
}
