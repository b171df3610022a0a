//! Native change capture: MySQL/MariaDB binlog and PostgreSQL logical replication (pgoutput),
//! written to Kafka as Debezium's JSON converter would write them, so the consumers cannot tell
//! them from Debezium's.
//!
//! Data path: the source (`mysql` or `postgres`) reads row changes (an initial snapshot, then
//! the log), turns each value into its Debezium encoding (`debezium`), and hands the records to
//! the `sink`, which produces them and stores the source position in the offsets topic only
//! once every record before it is acknowledged. Transactions of the dualsync writer, recognised
//! by their write to `dualsync_checkpoints`, are dropped (or flagged) so they never echo back.

mod config;
pub mod debezium;
mod my_values;
mod mysql;
mod pg_values;
mod postgres;
mod sink;
mod snapshot;

pub use config::{CaptureConfig, IntervalMode, SnapshotMode, WriterTransactions, redact};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// The table whose writes mark a transaction as the dualsync writer's.
pub const MARKER_TABLE: &str = "dualsync_checkpoints";

/// Whether `table` is one of dualsync's own tables that is never captured (`dualsync_…`). The
/// tombstone tables (`dualsync_tomb_…`) are captured: the delete trigger writes a row there in
/// the application's delete transaction, with the delete's exact time, which the consumer on
/// the other side applies (see `dualsync_mapping::tombstone`).
pub fn is_internal_table(table: &str) -> bool {
    table.starts_with("dualsync_") && !table.starts_with(dualsync_writer::TOMBSTONE_PREFIX)
}

/// Why a capture stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The configuration is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A server setting or privilege the capture needs is missing.
    #[error("preflight: {0}")]
    Preflight(String),
    /// The source database failed.
    #[error("source: {0}")]
    Source(String),
    /// Kafka failed.
    #[error("kafka: {0}")]
    Kafka(String),
}

impl CaptureError {
    fn kafka(context: &str, error: impl std::fmt::Display) -> CaptureError {
        CaptureError::Kafka(format!("{context}: {error}"))
    }

    fn source(context: &str, error: impl std::fmt::Display) -> CaptureError {
        CaptureError::Source(format!("{context}: {error}"))
    }
}

/// What a running capture has done so far, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) acknowledged: AtomicU64,
}

impl Stats {
    /// Records the broker has acknowledged (change records and tombstones).
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }
}

/// Runs a capture until `stop` turns true (or an error), then waits for the records sent so far
/// to be acknowledged and stores the offset. The preflight checks run first: problems stop it,
/// warnings are logged. `stats` counts as it goes.
pub async fn run(config: CaptureConfig, stop: watch::Receiver<bool>, stats: Arc<Stats>) -> Result<(), CaptureError> {
    for warning in preflight(&config).await? {
        tracing::warn!("{warning}");
    }
    if config.source.starts_with("postgres") {
        postgres::run(&config, stop, stats).await
    } else {
        mysql::run(&config, stop, stats).await
    }
}

/// Checks the source's settings and privileges without capturing anything. Returns warnings.
pub async fn preflight(config: &CaptureConfig) -> Result<Vec<String>, CaptureError> {
    config.check()?;
    if config.source.starts_with("postgres") {
        postgres::preflight(config).await
    } else {
        mysql::preflight(config).await
    }
}

/// The parts of a source URL the replication protocols need.
struct SourceUrl {
    host: String,
    port: Option<u16>,
    user: String,
    password: String,
    database: String,
}

impl SourceUrl {
    fn parse(source: &str) -> Result<SourceUrl, CaptureError> {
        let url = url::Url::parse(source)
            .map_err(|e| CaptureError::Config(format!("source {} is not a URL: {e}", redact(source))))?;
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        Ok(SourceUrl {
            host: url.host_str().unwrap_or("localhost").to_string(),
            port: url.port(),
            user: decode(url.username()),
            password: url.password().map(decode).unwrap_or_default(),
            database: decode(url.path().trim_start_matches('/')),
        })
    }
}
