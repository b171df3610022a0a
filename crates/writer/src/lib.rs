//! Idempotent writes of mapped rows into the target database.
//!
//! [`Writer::apply`] writes a batch of [`RowChange`]s in one transaction: upserts as
//! `INSERT … ON CONFLICT (key) DO UPDATE` (PostgreSQL) or `INSERT … ON DUPLICATE KEY UPDATE`
//! (MySQL/MariaDB), deletes as `DELETE … WHERE key = …`; on PostgreSQL, rows not stored yet are
//! copied in with `COPY` instead. Identifiers are quoted, values are always bound as parameters
//! (or sent as `COPY` data). Applying the same batch twice leaves the same rows, so Kafka
//! redelivery is harmless.
//!
//! [`RowChange`]: dualsync_mapping::RowChange

mod cascade;
mod catalog;
mod checkpoint;
mod collapse;
mod encode;
mod error;
mod hint;
pub mod nodelay;
mod plan;
mod schema;
mod seed;
mod sql;
mod tombstone;
mod triggers;
mod writer;

pub use cascade::MissingParent;
pub use catalog::{ColumnInfo, TableInfo};
pub use checkpoint::{CHECKPOINT_TABLE, Checkpoint, MARKER_CONSUMER, create_sql as checkpoint_table_sql};
pub use error::{ErrorClass, WriteError};
pub use hint::debezium_type;
pub use schema::{Column, TableSchema};
pub use seed::Collision;
pub use sql::Dialect;
pub use tombstone::{DELETED_AT, TOMBSTONE_PREFIX};
pub use triggers::TRIGGER_PREFIX;
pub use writer::{Decisions, TablePolicy, Writer, key_text};
