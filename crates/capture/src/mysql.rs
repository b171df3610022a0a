//! MySQL/MariaDB capture: an initial snapshot in a consistent-snapshot transaction with the
//! binlog position taken under it, then the binlog from that position (file/pos, with the
//! MariaDB GTID recorded). Offsets go to the offsets topic once the broker acknowledged every
//! record of the transactions before them.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt as _;
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::prelude::Queryable as _;
use mysql_async::{BinlogStreamRequest, Conn, Opts, Value};
use serde_json::{Value as Json, json};
use tokio::sync::watch;

use crate::config::{CaptureConfig, SnapshotMode, WriterTransactions};
use crate::debezium::{self, Change, Column, Connector, Table, TransactionMeta};
use crate::my_values::{self, MyColumn, Origin};
use crate::sink::Sink;
use crate::snapshot::Progress;
use crate::{CaptureError, MARKER_TABLE};

/// MariaDB's GTID event, which mysql_common does not model.
const MARIADB_GTID_EVENT: u8 = 162;

fn url(config: &CaptureConfig) -> String {
    config.source.replacen("mariadb://", "mysql://", 1)
}

async fn connect(config: &CaptureConfig) -> Result<Conn, CaptureError> {
    let opts = Opts::from_url(&url(config)).map_err(|e| CaptureError::Config(format!("source URL: {e}")))?;
    Conn::new(opts)
        .await
        .map_err(|e| CaptureError::source(&format!("connecting to {}", crate::redact(&config.source)), e))
}

async fn query_strings(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>, CaptureError> {
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.map_err(|e| CaptureError::source(sql, e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .map(|v| match v {
                    Value::NULL => None,
                    other => Some(my_values::key_text(&other)),
                })
                .collect()
        })
        .collect())
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A captured table with its columns as information_schema describes them.
struct Described {
    table: Table,
    columns: Vec<MyColumn>,
}

/// Table descriptions from information_schema, cached until a DDL statement in the binlog.
struct Catalog {
    conn: Conn,
    tables: HashMap<(String, String), Option<Arc<Described>>>,
    config: CaptureConfig,
    /// The database the source URL selects: what is captured without an include list.
    default_db: Option<String>,
}

impl Catalog {
    fn new(conn: Conn, config: &CaptureConfig) -> Catalog {
        let default_db = Opts::from_url(&url(config)).ok().and_then(|o| o.db_name().map(str::to_string));
        Catalog { conn, tables: HashMap::new(), config: config.clone(), default_db }
    }

    /// The captured tables, (database, table), in name order. dualsync's own tables never are.
    async fn list(&mut self) -> Result<Vec<(String, String)>, CaptureError> {
        let rows = query_strings(
            &mut self.conn,
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2",
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?)))
            .filter(|(db, table)| self.wanted(db, table))
            .collect())
    }

    fn wanted(&self, db: &str, table: &str) -> bool {
        if crate::is_internal_table(table) {
            return false;
        }
        if self.config.include.is_empty() {
            return self.default_db.as_deref() == Some(db) && self.config.captures(db, table);
        }
        self.config.captures(db, table)
    }

    /// The table, described now, or `None` when it is not captured.
    async fn get(&mut self, db: &str, table: &str) -> Result<Option<Arc<Described>>, CaptureError> {
        let key = (db.to_string(), table.to_string());
        if let Some(known) = self.tables.get(&key) {
            return Ok(known.clone());
        }
        let described = if self.wanted(db, table) { Some(Arc::new(self.describe(db, table).await?)) } else { None };
        self.tables.insert(key, described.clone());
        Ok(described)
    }

    async fn describe(&mut self, db: &str, table: &str) -> Result<Described, CaptureError> {
        let rows = query_strings(
            &mut self.conn,
            &format!(
                "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, \
                 DATETIME_PRECISION, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
                 ORDER BY ORDINAL_POSITION",
                quote(db),
                quote(table)
            ),
        )
        .await?;
        // MariaDB's JSON is a LONGTEXT with a json_valid() check.
        let checks = query_strings(
            &mut self.conn,
            &format!(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {} AND TABLE_NAME = {}",
                quote(db),
                quote(table)
            ),
        )
        .await
        .unwrap_or_default();
        let keys = query_strings(
            &mut self.conn,
            &format!(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
                 AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                quote(db),
                quote(table)
            ),
        )
        .await?;
        let number = |v: &Option<String>| v.as_deref().and_then(|t| t.parse::<u64>().ok());
        let columns: Vec<MyColumn> = rows
            .iter()
            .map(|r| {
                let name = r[0].clone().unwrap_or_default();
                let json = checks.iter().flatten().flatten().any(|c| c.contains(&format!("json_valid(`{name}`)")));
                MyColumn {
                    data_type: r[1].clone().unwrap_or_default(),
                    column_type: r[2].clone().unwrap_or_default(),
                    nullable: r[3].as_deref() == Some("YES"),
                    precision: number(&r[4]),
                    scale: number(&r[5]),
                    fraction: number(&r[6]),
                    json,
                    name,
                }
            })
            .collect();
        let key: Vec<usize> = keys
            .iter()
            .filter_map(|k| k.first().cloned().flatten())
            .filter_map(|k| columns.iter().position(|c| c.name == k))
            .collect();
        let out =
            columns.iter().map(|c| Column { name: c.name.clone(), kind: c.kind(), optional: c.nullable }).collect();
        Ok(Described { table: Table::new(Connector::MySql, self.config.prefix(), db, table, out, key), columns })
    }
}

/// Checks the binlog settings, the server id and the replication privileges.
pub(crate) async fn preflight(config: &CaptureConfig) -> Result<Vec<String>, CaptureError> {
    let mut conn = connect(config).await?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let settings =
        query_strings(&mut conn, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, @@version")
            .await?;
    let get = |i: usize| settings.first().and_then(|r| r.get(i).cloned().flatten()).unwrap_or_default();
    if get(0) != "1" {
        problems.push(format!("setting log_bin: expected ON, found {} (start the server with log-bin)", get(0)));
    }
    if !get(1).eq_ignore_ascii_case("ROW") {
        problems
            .push(format!("setting binlog_format: expected ROW, found {} (SET GLOBAL binlog_format = 'ROW')", get(1)));
    }
    if !get(2).eq_ignore_ascii_case("FULL") {
        problems.push(format!(
            "setting binlog_row_image: expected FULL, found {} (SET GLOBAL binlog_row_image = 'FULL')",
            get(2)
        ));
    }
    if get(3) == "0" {
        problems
            .push("setting server_id: expected non-zero, found 0 (set server_id in the server configuration)".into());
    }
    if get(3) == config.server_id().to_string() {
        problems.push(format!(
            "server_id: the capture's server_id {} equals the server's; choose another",
            config.server_id()
        ));
    }
    match query_strings(&mut conn, "SELECT @@binlog_row_metadata").await {
        Ok(rows) => {
            let metadata = rows.first().and_then(|r| r[0].clone()).unwrap_or_default();
            if !metadata.eq_ignore_ascii_case("FULL") {
                warnings.push(format!(
                    "setting binlog_row_metadata: expected FULL, found {metadata}; columns are read from information_schema, \
                     which is wrong for events written before a schema change (SET GLOBAL binlog_row_metadata = 'FULL')"
                ));
            }
        }
        Err(_) => {
            warnings.push("binlog_row_metadata is not available (server older than MySQL 8.0.1 / MariaDB 10.5)".into())
        }
    }
    let grants = query_strings(&mut conn, "SHOW GRANTS").await?;
    let grants: String = grants.iter().flatten().flatten().map(|g| g.to_uppercase()).collect::<Vec<_>>().join("\n");
    let all = grants.contains("ALL PRIVILEGES ON *.*");
    for needed in ["REPLICATION SLAVE", "SELECT"] {
        let granted =
            all || grants.contains(needed) || (needed == "REPLICATION SLAVE" && grants.contains("REPLICATION REPLICA"));
        if !granted {
            problems.push(format!("privilege {needed}: not granted (GRANT {needed} ON *.* TO <capture user>)"));
        }
    }
    if !all && !grants.contains("REPLICATION CLIENT") && !grants.contains("BINLOG MONITOR") {
        problems.push("privilege REPLICATION CLIENT (MariaDB: BINLOG MONITOR): not granted".into());
    }
    let mut catalog = Catalog::new(conn, config);
    if catalog.list().await?.is_empty() {
        problems.push("include: no table matches (check the include and exclude patterns)".into());
    }
    if !problems.is_empty() {
        return Err(CaptureError::Preflight(problems.join("; ")));
    }
    Ok(warnings)
}

/// A binlog position.
#[derive(Debug, Clone, PartialEq)]
struct Position {
    file: String,
    pos: u64,
    gtid: Option<String>,
}

fn offset(progress: &Progress, position: &Position) -> Json {
    json!({"snapshot": progress, "file": position.file, "pos": position.pos, "gtid": position.gtid})
}

/// Runs the MySQL capture.
pub(crate) async fn run(
    config: &CaptureConfig,
    mut stop: watch::Receiver<bool>,
    stats: Arc<crate::Stats>,
) -> Result<(), CaptureError> {
    let conn = connect(config).await?;
    let mut catalog = Catalog::new(conn, config);
    let (mut sink, stored) = Sink::connect(config, stats).await?;
    let mut progress = Progress::from_offset(stored.as_ref());
    let stored_position = stored.as_ref().and_then(|o| {
        Some(Position {
            file: o["file"].as_str()?.to_string(),
            pos: o["pos"].as_u64()?,
            gtid: o["gtid"].as_str().map(str::to_string),
        })
    });
    let mut position = match (stored_position, config.snapshot) {
        (Some(position), _) => position,
        (None, _) => current_position(&mut catalog.conn).await?,
    };
    if config.snapshot == SnapshotMode::Initial && !progress.done {
        position = snapshot(config, &mut catalog, &mut sink, &mut progress, position, &stop).await?;
    } else if !progress.done {
        progress.done = true;
    }
    sink.position(offset(&progress, &position)).await?;
    if *stop.borrow() {
        return sink.close().await;
    }

    let mut conn = connect(config).await?;
    conn.query_drop("SET @mariadb_slave_capability = 4")
        .await
        .map_err(|e| CaptureError::source("announcing MariaDB GTID support", e))?;
    let request =
        BinlogStreamRequest::new(config.server_id()).with_filename(position.file.as_bytes()).with_pos(position.pos);
    let mut stream = conn
        .get_binlog_stream(request)
        .await
        .map_err(|e| CaptureError::source(&format!("starting the binlog at {}:{}", position.file, position.pos), e))?;
    tracing::info!(file = position.file, pos = position.pos, "streaming the binlog");
    let mut tx = Transaction::default();
    // Whether the stream's first format description has arrived: the artificial rotates after
    // it are the dump thread moving on to the next file.
    let mut described = false;
    let result = loop {
        let event = tokio::select! {
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { break Ok(()) } else { continue },
            event = stream.next() => event,
        };
        let event = match event {
            Some(Ok(event)) => event,
            Some(Err(e)) => break Err(binlog_error(&position, e)),
            None => break Err(CaptureError::Source("the server ended the binlog stream".into())),
        };
        let header = event.header();
        let end = u64::from(header.log_pos());
        let start = end.saturating_sub(u64::from(header.event_size()));
        if header.event_type_raw() == MARIADB_GTID_EVENT {
            let data = event.data();
            if data.len() >= 13 {
                let seq = u64::from_le_bytes(data[0..8].try_into().expect("8 bytes"));
                let domain = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
                tx = Transaction {
                    gtid: Some(format!("{domain}-{}-{seq}", header.server_id())),
                    start,
                    ..Transaction::default()
                };
            }
            continue;
        }
        let data = match event.read_data() {
            Ok(Some(data)) => data,
            Ok(None) => continue,
            Err(e) => {
                break Err(CaptureError::source(&format!("decoding the binlog event at {}:{start}", position.file), e));
            }
        };
        match data {
            // The artificial rotate the server sends first (log_pos 0) repeats the requested
            // position, and arrives before the format description, so its name would be read
            // with the checksum bytes in it. A file that ends without a rotate event (the server
            // was restarted: it ends with a stop event) is followed by another artificial rotate,
            // after the format description: that one moves the position to the next file.
            // Before the fix it was ignored, and the new file's positions were stored under the
            // old file's name, where a restart then read from the middle of an event.
            EventData::RotateEvent(rotate) if header.log_pos() != 0 || described => {
                position.file = rotate.name().into_owned();
                position.pos = rotate.position();
            }
            EventData::FormatDescriptionEvent(_) => described = true,
            EventData::QueryEvent(query) => {
                let sql = query.query();
                let statement = sql.trim_start().to_ascii_uppercase();
                if statement.starts_with("BEGIN") {
                    tx.thread = Some(query.thread_id());
                    if tx.gtid.is_none() {
                        tx.start = start;
                    }
                } else {
                    if ["ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE"].iter().any(|k| statement.starts_with(k)) {
                        // The next change to any table describes it again.
                        catalog.tables.clear();
                    }
                    // COMMIT of a non-transactional engine, or a DDL statement: a boundary.
                    if let Err(e) =
                        commit(std::mem::take(&mut tx), &mut position, end, &progress, &mut sink, config).await
                    {
                        break Err(e);
                    }
                }
            }
            EventData::XidEvent(_) => {
                if let Err(e) = commit(std::mem::take(&mut tx), &mut position, end, &progress, &mut sink, config).await
                {
                    break Err(e);
                }
            }
            // MySQL's own GTIDs (MariaDB's arrive as raw events, above).
            EventData::GtidEvent(gtid) => {
                let sid = gtid.sid();
                let uuid = uuid::Uuid::from_bytes(sid);
                tx = Transaction { gtid: Some(format!("{uuid}:{}", gtid.gno())), start, ..Transaction::default() };
            }
            EventData::RowsEvent(rows) => {
                let Some(tme) = stream.get_tme(rows.table_id()) else {
                    break Err(CaptureError::Source(format!(
                        "rows event at {}:{start} without its table map",
                        position.file
                    )));
                };
                let (db, table_name) = (tme.database_name().into_owned(), tme.table_name().into_owned());
                let marker = table_name == MARKER_TABLE;
                let writer = *tx.writer.get_or_insert(marker);
                if marker || (writer && config.writer_transactions == WriterTransactions::Drop) {
                    continue;
                }
                let described = match catalog.get(&db, &table_name).await {
                    Ok(Some(described)) => described,
                    Ok(None) => continue,
                    Err(e) => break Err(e),
                };
                let (table, columns) = (&described.table, &described.columns);
                let op = match rows {
                    RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => 'c',
                    RowsEventData::UpdateRowsEvent(_)
                    | RowsEventData::UpdateRowsEventV1(_)
                    | RowsEventData::PartialUpdateRowsEvent(_) => 'u',
                    RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => 'd',
                };
                let mut records = Vec::new();
                let mut failed = None;
                for (row_number, row) in rows.rows(tme).enumerate() {
                    let decoded = row
                        .map_err(|e| {
                            CaptureError::source(
                                &format!("decoding a row of {db}.{table_name} at {}:{start}", position.file),
                                e,
                            )
                        })
                        .and_then(|(before, after)| {
                            let decode = |row: mysql_async::binlog::row::BinlogRow| decode_row(table, columns, row);
                            Ok((before.map(decode).transpose()?, after.map(decode).transpose()?))
                        });
                    let (before, after) = match decoded {
                        Ok(rows) => rows,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    let source = json!({
                        "version": debezium::VERSION, "connector": "mysql", "name": config.prefix(),
                        "ts_ms": i64::from(header.timestamp()) * 1000, "snapshot": "false", "db": db, "table": table_name,
                        "server_id": header.server_id(), "gtid": tx.gtid, "file": position.file, "pos": start,
                        "row": row_number, "thread": tx.thread, "query": null
                    });
                    let transaction = if config.transaction_metadata {
                        let id = tx.gtid.clone().unwrap_or_else(|| format!("{}:{}", position.file, tx.start));
                        let meta = tx.meta.get_or_insert_with(|| TransactionMeta::new(id));
                        if meta.is_empty() {
                            records.push(meta.record(config.prefix(), false, config.schemas_enable));
                        }
                        Some(meta.next(&format!("{db}.{table_name}")))
                    } else {
                        None
                    };
                    records.extend(table.records(
                        Change { op, before, after, source, transaction },
                        config.schemas_enable,
                        config.tombstones_on_delete,
                    ));
                }
                if let Some(e) = failed {
                    break Err(e);
                }
                if let Err(e) = sink.send(records, writer).await {
                    break Err(e);
                }
            }
            _ => {}
        }
    };
    let closed = sink.close().await;
    let _ = stream.close().await;
    result.and(closed)
}

/// A failed binlog read, with what to do when the stored position no longer exists.
fn binlog_error(position: &Position, error: mysql_async::Error) -> CaptureError {
    let text = error.to_string();
    let hint = if text.contains("first log file") || text.contains("purged") || text.contains("exceeds") {
        format!(
            " (the binlog at {}:{} is gone, purged or rotated away while the capture was stopped: keep binlogs longer \
             (binlog_expire_logs_seconds), and take a new snapshot by giving the capture a new name or deleting its offsets)",
            position.file, position.pos
        )
    } else {
        String::new()
    };
    CaptureError::Source(format!("reading the binlog at {}:{}: {text}{hint}", position.file, position.pos))
}

/// The transaction being read.
#[derive(Default)]
struct Transaction {
    gtid: Option<String>,
    /// Where it starts in the binlog file.
    start: u64,
    thread: Option<u32>,
    /// Decided at the first row change: the writer's (its first change is to the checkpoint table).
    writer: Option<bool>,
    /// Its transaction metadata, once it wrote an event (with `transaction_metadata`).
    meta: Option<TransactionMeta>,
}

/// Ends `tx` at binlog position `end`: its END record (with transaction metadata), then the
/// position to resume from, stored once every record before it is acknowledged.
async fn commit(
    tx: Transaction,
    position: &mut Position,
    end: u64,
    progress: &Progress,
    sink: &mut Sink,
    config: &CaptureConfig,
) -> Result<(), CaptureError> {
    if let Some(meta) = tx.meta.filter(|m| !m.is_empty()) {
        sink.send(vec![meta.record(config.prefix(), true, config.schemas_enable)], tx.writer == Some(true)).await?;
    }
    position.pos = end;
    position.gtid = tx.gtid.or(position.gtid.take());
    sink.position(offset(progress, position)).await
}

fn decode_row(
    table: &Table,
    columns: &[MyColumn],
    row: mysql_async::binlog::row::BinlogRow,
) -> Result<Vec<Json>, CaptureError> {
    let values = row.unwrap();
    if values.len() != columns.len() {
        return Err(CaptureError::Source(format!(
            "{}.{}: the binlog row has {} columns, information_schema {}: the table changed after this event was written; \
             set binlog_row_metadata = FULL and restart from a position after the change",
            table.namespace,
            table.name,
            values.len(),
            columns.len()
        )));
    }
    values
        .into_iter()
        .zip(columns.iter().zip(&table.columns))
        .map(|(value, (column, out))| {
            let value = match value {
                mysql_async::binlog::value::BinlogValue::Value(v) => v,
                mysql_async::binlog::value::BinlogValue::Jsonb(j) => {
                    let dom = j.parse().map_err(|e| CaptureError::source("decoding binary JSON", e))?;
                    Value::Bytes(serde_json::Value::from(dom).to_string().into_bytes())
                }
                mysql_async::binlog::value::BinlogValue::JsonDiff(_) => return Ok(out.kind.unavailable()),
            };
            my_values::value(column, &out.kind, value, Origin::Binlog)
                .map_err(|e| CaptureError::Source(format!("{}.{}.{}: {e}", table.namespace, table.name, column.name)))
        })
        .collect()
}

async fn current_position(conn: &mut Conn) -> Result<Position, CaptureError> {
    let rows = query_strings(conn, "SHOW MASTER STATUS").await?;
    let row = rows
        .first()
        .ok_or_else(|| CaptureError::Preflight("SHOW MASTER STATUS is empty: binary logging is off".into()))?;
    let gtid =
        query_strings(conn, "SELECT @@gtid_binlog_pos").await.ok().and_then(|r| r.first().and_then(|r| r[0].clone()));
    Ok(Position {
        file: row[0].clone().unwrap_or_default(),
        pos: row[1].as_deref().and_then(|p| p.parse().ok()).unwrap_or(4),
        gtid: gtid.filter(|g| !g.is_empty()),
    })
}

/// Reads the snapshot in a consistent-snapshot transaction and returns the binlog position to
/// stream from: the one taken under that transaction, or, when resuming an unfinished snapshot,
/// the one stored when it began (so nothing changed meanwhile is missed).
async fn snapshot(
    config: &CaptureConfig,
    catalog: &mut Catalog,
    sink: &mut Sink,
    progress: &mut Progress,
    stored: Position,
    stop: &watch::Receiver<bool>,
) -> Result<Position, CaptureError> {
    let resuming = progress.current.is_some() || !progress.tables_done.is_empty();
    let mut conn = connect(config).await?;
    for statement in [
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "SET time_zone = '+00:00'",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    ] {
        conn.query_drop(statement).await.map_err(|e| CaptureError::source(statement, e))?;
    }
    // MariaDB reports the binlog position matching the consistent snapshot.
    let status = query_strings(&mut conn, "SHOW STATUS LIKE 'binlog_snapshot_%'").await?;
    let status = |name: &str| status.iter().find(|r| r[0].as_deref() == Some(name)).and_then(|r| r[1].clone());
    let position = if resuming {
        stored
    } else if let (Some(file), Some(pos)) = (status("binlog_snapshot_file"), status("binlog_snapshot_position")) {
        Position { file, pos: pos.parse().unwrap_or(4), gtid: stored.gtid }
    } else {
        // MySQL has no such status: the position read before the snapshot began (changes in
        // between are streamed again; the consumers apply them idempotently).
        stored
    };
    sink.position(offset(progress, &position)).await?;
    let started = chrono::Utc::now().timestamp_millis();
    for (db, name) in catalog.list().await? {
        let qualified = format!("{db}.{name}");
        if progress.finished(&qualified) {
            continue;
        }
        let described = catalog.describe(&db, &name).await?;
        let (table, columns) = (&described.table, &described.columns);
        let quote_ident = |s: &str| format!("`{}`", s.replace('`', "``"));
        let select: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let key: Vec<String> = table.key.iter().map(|&i| quote_ident(&table.columns[i].name)).collect();
        let chunked = !key.is_empty();
        let mut rows_read = 0u64;
        tracing::info!(table = qualified, "snapshot of table started");
        loop {
            let after = progress.resume_after(&qualified);
            let mut sql = format!("SELECT {} FROM {}.{}", select.join(", "), quote_ident(&db), quote_ident(&name));
            if chunked {
                if after.is_some() {
                    sql.push_str(&format!(" WHERE ({}) > ({})", key.join(", "), vec!["?"; key.len()].join(", ")));
                }
                sql.push_str(&format!(" ORDER BY {} LIMIT {}", key.join(", "), config.snapshot_chunk_rows));
            }
            let params: Vec<Value> = after.iter().flatten().map(|t| Value::Bytes(t.clone().into_bytes())).collect();
            let rows: Vec<mysql_async::Row> = conn
                .exec(sql, mysql_async::Params::Positional(params))
                .await
                .map_err(|e| CaptureError::source(&format!("reading {qualified}"), e))?;
            let count = rows.len() as u64;
            let mut last_key = None;
            for row in rows {
                let values = row.unwrap();
                last_key = Some(table.key.iter().map(|&i| my_values::key_text(&values[i])).collect::<Vec<_>>());
                let mut after_row = Vec::with_capacity(values.len());
                for ((value, column), out) in values.into_iter().zip(columns).zip(&table.columns) {
                    after_row.push(
                        my_values::value(column, &out.kind, value, Origin::Query)
                            .map_err(|e| CaptureError::Source(format!("{qualified}.{}: {e}", column.name)))?,
                    );
                }
                let source = json!({
                    "version": debezium::VERSION, "connector": "mysql", "name": config.prefix(), "ts_ms": started,
                    "snapshot": "true", "db": db, "table": name, "server_id": 0, "gtid": position.gtid,
                    "file": position.file, "pos": position.pos, "row": 0, "thread": null, "query": null
                });
                let change = Change { op: 'r', before: None, after: Some(after_row), source, transaction: None };
                sink.send(table.records(change, config.schemas_enable, false), false).await?;
            }
            rows_read += count;
            if !chunked || count < config.snapshot_chunk_rows {
                break;
            }
            progress.chunk_read(&qualified, last_key);
            sink.position(offset(progress, &position)).await?;
            tracing::info!(table = qualified, rows_read, "snapshot progress");
            if *stop.borrow() {
                return Ok(position);
            }
        }
        progress.table_read(&qualified);
        sink.position(offset(progress, &position)).await?;
        tracing::info!(table = qualified, rows_read, "snapshot of table finished");
    }
    conn.query_drop("COMMIT").await.map_err(|e| CaptureError::source("ending the snapshot", e))?;
    progress.done = true;
    Ok(position)
}
