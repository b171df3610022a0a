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
    /// `r`: a row was read by a snapshot.
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
/// `source`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// `connector`: `mysql`, `postgresql`, …
    pub connector: Option<String>,
    /// `name`: the connector's logical name (topic prefix).
    pub name: Option<String>,
    /// `db`: the database.
    pub db: Option<String>,
    /// `schema`: the PostgreSQL schema (absent for MySQL).
    pub schema: Option<String>,
    /// `table`: the table.
    pub table: Option<String>,
    /// `ts_ms`: when the change was committed in the source database, epoch milliseconds.
    pub ts_ms: Option<i64>,
    /// `snapshot`: `true`, `last`, `false`, … (older connectors send a boolean, kept as its text).
    pub snapshot: Option<String>,
}

impl Source {
    /// The namespace a table lives in: the PostgreSQL schema when there is one, else the MySQL
    /// database.
    pub fn namespace(&self) -> Option<&str> {
        self.schema.as_deref().or(self.db.as_deref())
    }
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
    /// The envelope's own `ts_ms`: when the connector processed the change.
    pub ts_ms: Option<i64>,
}

/// What one Kafka record decodes to.
// Nearly every record is a change; boxing it would add an allocation per event to spare the rare
// tombstone a few hundred bytes on the stack.
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
}

impl Decoded {
    /// The change event, unless this is a tombstone.
    pub fn change(&self) -> Option<&ChangeEvent> {
        match self {
            Decoded::Change(event) => Some(event),
            Decoded::Tombstone { .. } => None,
        }
    }
}
