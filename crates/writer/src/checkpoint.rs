//! Checkpoints: the Kafka position of the last event each batch applied, written in the same
//! transaction as the batch, so a consumer that restarts (or is sent events again) knows exactly
//! which events are already in the target.

use crate::Dialect;

/// The table dualsync keeps its checkpoints in, in the target connection's default schema or
/// database. Its writes also mark dualsync's own transactions for change capture.
pub const CHECKPOINT_TABLE: &str = "dualsync_checkpoints";

/// The position of the last applied event of one partition, for one consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The consumer (its Kafka consumer group).
    pub consumer: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset of the last event applied.
    pub offset: i64,
}

/// The consumer name of the marker row a transaction without checkpoints writes.
pub const MARKER_CONSUMER: &str = "dualsync:marker";

/// The row a transaction without checkpoints writes, so change capture still recognises it.
pub(crate) fn marker() -> Checkpoint {
    Checkpoint { consumer: MARKER_CONSUMER.into(), topic: String::new(), partition: -1, offset: 0 }
}

/// `CREATE TABLE IF NOT EXISTS` for the checkpoint table (change capture creates it too, so its
/// publication can include it before the writer's first transaction).
pub fn create_sql(dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (consumer TEXT NOT NULL, topic TEXT NOT NULL, \
             kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             PRIMARY KEY (consumer, topic, kafka_partition))"
        ),
        Dialect::MySql => format!(
            "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (consumer VARCHAR(190) NOT NULL, topic VARCHAR(190) NOT NULL, \
             kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL, \
             updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
             PRIMARY KEY (consumer, topic, kafka_partition)) CHARACTER SET utf8mb4"
        ),
    }
}

/// Records a checkpoint; an older offset never replaces a newer one.
pub(crate) fn upsert_sql(dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "INSERT INTO {CHECKPOINT_TABLE} (consumer, topic, kafka_partition, kafka_offset) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE \
             SET kafka_offset = GREATEST({CHECKPOINT_TABLE}.kafka_offset, EXCLUDED.kafka_offset), updated_at = now()"
        ),
        Dialect::MySql => format!(
            "INSERT INTO {CHECKPOINT_TABLE} (consumer, topic, kafka_partition, kafka_offset) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE kafka_offset = GREATEST(kafka_offset, VALUES(kafka_offset)), updated_at = CURRENT_TIMESTAMP(6)"
        ),
    }
}

pub(crate) fn select_sql(dialect: Dialect) -> String {
    let placeholder = match dialect {
        Dialect::Postgres => "$1",
        Dialect::MySql => "?",
    };
    format!(
        "SELECT topic, kafka_partition, kafka_offset FROM {CHECKPOINT_TABLE} WHERE consumer = {placeholder} ORDER BY topic, kafka_partition"
    )
}
