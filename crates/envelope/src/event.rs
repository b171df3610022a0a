//! The typed change event and its parts.

use crate::Value;

/// What a change event did to its row (the envelope's `op` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `c`: a row was inserted.
    Create,
    /// `u`: a row was updated.
    Update,
    /// `d`: a row was deleted.
    Delete,
    /// `r`: a row was read by a snapshot. Also used for a flattened record that carries no
    /// operation: it states the row as it is now.
    Read,
    /// `t`: the table was truncated.
    Truncate,
    /// `m`: a logical decoding message (PostgreSQL `pg_logical_emit_message`).
    Message,
}

impl Op {
    /// Parses Debezium's one-letter operation code.
    pub fn from_code(code: &str) -> Option<Op> {
        Some(match code {
            "c" => Op::Create,
            "u" => Op::Update,
            "d" => Op::Delete,
            "r" => Op::Read,
            "t" => Op::Truncate,
            "m" => Op::Message,
            _ => return None,
        })
    }

    /// Debezium's one-letter code for this operation.
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
            Op::Message => "m",
        }
    }
}

/// A row: column names with their values, in the order the event listed them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<(String, Value)>);

impl Row {
    /// The value of column `name`, if the row has that column.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets column `name` to `value`, replacing its value or adding it at the end.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name, value)),
        }
    }

    /// The columns in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The connector's `source` block: where and when the change happened.
///
/// This is the envelope's top-level `source` field, never a row column that happens to be called
/// `source`. Fields a connector does not send are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// `version`: the connector's version.
    pub version: Option<String>,
    /// `connector`: `mysql`, `postgresql`, …
    pub connector: Option<String>,
    /// `name`: the connector's logical name (topic prefix).
    pub name: Option<String>,
    /// `ts_ms`: when the change was committed in the source database, epoch milliseconds.
    pub ts_ms: Option<i64>,
    /// `ts_us`: the same in microseconds (Debezium 2.6+).
    pub ts_us: Option<i64>,
    /// `ts_ns`: the same in nanoseconds (Debezium 2.6+).
    pub ts_ns: Option<i64>,
    /// `snapshot`: `true`, `first`, `first_in_data_collection`, `last_in_data_collection`,
    /// `last`, `incremental` or `false` (connectors before 1.x sent a boolean, kept as its text).
    pub snapshot: Option<String>,
    /// `db`: the database.
    pub db: Option<String>,
    /// `schema`: the PostgreSQL schema.
    pub schema: Option<String>,
    /// `table`: the table.
    pub table: Option<String>,
    /// MySQL `server_id`.
    pub server_id: Option<i64>,
    /// MySQL `gtid`.
    pub gtid: Option<String>,
    /// MySQL binlog `file`.
    pub file: Option<String>,
    /// MySQL binlog `pos`.
    pub pos: Option<i64>,
    /// MySQL `row` within the binlog event.
    pub row: Option<i64>,
    /// MySQL `thread`.
    pub thread: Option<i64>,
    /// MySQL `query` (with `binlog_rows_query_log_events`).
    pub query: Option<String>,
    /// PostgreSQL `lsn`.
    pub lsn: Option<i64>,
    /// PostgreSQL `txId`.
    pub tx_id: Option<i64>,
    /// PostgreSQL `xmin`.
    pub xmin: Option<i64>,
    /// `sequence`: PostgreSQL's `["last committed LSN","current LSN"]`, as sent.
    pub sequence: Option<String>,
    /// Any other field, as its JSON text.
    pub other: Vec<(String, String)>,
}

impl Source {
    /// The namespace a table lives in: the PostgreSQL schema when there is one, else the MySQL
    /// database.
    pub fn namespace(&self) -> Option<&str> {
        self.schema.as_deref().or(self.db.as_deref())
    }

    /// Names the table from the record's topic when the record itself does not: a topic named
    /// as Debezium names change topics, `<topic.prefix>.<database or schema>.<table>`, gives
    /// the table and, when neither is set, the namespace (as `db`). `ExtractNewRecordState`
    /// drops the source block unless its `add.fields` names `db`/`schema`/`table`. A topic of
    /// another shape (rerouted) leaves the source as it is.
    pub fn name_from_topic(&mut self, topic: &str) {
        if self.table.is_some() {
            return;
        }
        let mut parts = topic.rsplitn(3, '.');
        if let (Some(table), Some(namespace), Some(_prefix)) = (parts.next(), parts.next(), parts.next()) {
            self.table = Some(table.to_string());
            if self.namespace().is_none() {
                self.db = Some(namespace.to_string());
            }
        }
    }

    /// Whether the event was read by a snapshot (initial or incremental) rather than streamed
    /// from the log: `snapshot` is set and not `false`.
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.as_deref().is_some_and(|s| !s.is_empty() && s != "false")
    }
}

/// The `transaction` block of a change event (when the connector has
/// `provide.transaction.metadata=true`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transaction {
    /// The transaction's id.
    pub id: String,
    /// Position of the event among all events of the transaction.
    pub total_order: Option<i64>,
    /// Position of the event among the transaction's events on its table.
    pub data_collection_order: Option<i64>,
}

/// A logical decoding message (op `m`): `pg_logical_emit_message(transactional, prefix, content)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogicalMessage {
    /// The message's prefix.
    pub prefix: String,
    /// The message's content.
    pub content: Vec<u8>,
}

/// One decoded Debezium change event.
///
/// `before` is absent for creates and snapshot reads, and also for updates and deletes when the
/// source table does not log old rows (PostgreSQL's default `REPLICA IDENTITY` sends none for
/// updates and only the key for deletes); the Kafka `key` then identifies the row.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// What happened.
    pub op: Op,
    /// The Kafka record key (the row's primary key), when the record had one.
    pub key: Option<Row>,
    /// The row before the change.
    pub before: Option<Row>,
    /// The row after the change; absent for deletes.
    pub after: Option<Row>,
    /// The connector's source block.
    pub source: Source,
    /// The `transaction` block, when the connector provides transaction metadata.
    pub transaction: Option<Transaction>,
    /// The message of an op `m` event.
    pub message: Option<LogicalMessage>,
    /// The envelope's own `ts_ms`: when the connector processed the change.
    pub ts_ms: Option<i64>,
    /// The envelope's `ts_us` (Debezium 2.6+).
    pub ts_us: Option<i64>,
    /// The envelope's `ts_ns` (Debezium 2.6+).
    pub ts_ns: Option<i64>,
    /// Fields an `ExtractNewRecordState` transform added (`add.fields`, prefixed `__`) that are not
    /// source-block fields, e.g. `__op`-independent extras such as `__name`.
    pub added: Vec<(String, Value)>,
}

impl ChangeEvent {
    /// An event with only the operation set.
    pub fn new(op: Op) -> ChangeEvent {
        ChangeEvent {
            op,
            key: None,
            before: None,
            after: None,
            source: Source::default(),
            transaction: None,
            message: None,
            ts_ms: None,
            ts_us: None,
            ts_ns: None,
            added: Vec::new(),
        }
    }
}

/// A message on Debezium's transaction metadata topic (`<prefix>.transaction`).
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionMarker {
    /// `BEGIN` (`true`) or `END` (`false`).
    pub begin: bool,
    /// The transaction id.
    pub id: String,
    /// `END` only: how many events the transaction produced.
    pub event_count: Option<i64>,
    /// `END` only: events per table, as (data collection, count).
    pub data_collections: Vec<(String, i64)>,
    /// When the marker was written.
    pub ts_ms: Option<i64>,
}

/// What one Kafka record decodes to.
// Nearly every record is a change; boxing it would add an allocation per event to spare the rare
// other records a few hundred bytes on the stack.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A change event.
    Change(ChangeEvent),
    /// A tombstone: a record with a key and a null value, which Debezium writes after a delete so
    /// that log compaction can drop the key. It carries no change of its own.
    Tombstone {
        /// The decoded key, when the record had one.
        key: Option<Row>,
    },
    /// A transaction BEGIN or END marker from the transaction metadata topic.
    Transaction(TransactionMarker),
    /// A heartbeat (`__debezium-heartbeat.<prefix>` topic): the connector is alive.
    Heartbeat {
        /// When it was written.
        ts_ms: Option<i64>,
    },
    /// A schema change from the schema change topic (`<prefix>`): DDL, not row data.
    SchemaChange {
        /// `databaseName`.
        database: Option<String>,
        /// `schemaName`.
        schema: Option<String>,
        /// `ddl`.
        ddl: Option<String>,
    },
}

impl Decoded {
    /// This record, its change event's table named from `topic` where the record does not
    /// name it (see [`Source::name_from_topic`]).
    pub fn named_from_topic(mut self, topic: &str) -> Decoded {
        if let Decoded::Change(event) = &mut self {
            event.source.name_from_topic(topic);
        }
        self
    }

    /// The change event, if this is one.
    pub fn change(&self) -> Option<&ChangeEvent> {
        match self {
            Decoded::Change(event) => Some(event),
            _ => None,
        }
    }

    /// A short name for what this is: `change`, `tombstone`, `transaction`, `heartbeat` or
    /// `schema-change`.
    pub fn kind(&self) -> &'static str {
        match self {
            Decoded::Change(_) => "change",
            Decoded::Tombstone { .. } => "tombstone",
            Decoded::Transaction(_) => "transaction",
            Decoded::Heartbeat { .. } => "heartbeat",
            Decoded::SchemaChange { .. } => "schema-change",
        }
    }
}
