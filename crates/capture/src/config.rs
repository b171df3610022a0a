//! The capture's configuration file (`dualsync capture --config FILE`).

use std::path::Path;

use serde::Deserialize;

use crate::CaptureError;

/// One capture: one source database, its tables, and where the events go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    /// A name unique among captures: the key of this capture's offsets, and the default slot and
    /// publication name stem.
    pub name: String,
    /// The source database: `mysql://user:password@host:port/` or `postgres://…/database`.
    pub source: String,
    /// Kafka bootstrap servers.
    pub kafka: String,
    /// Topic prefix (Debezium's `topic.prefix`, also the `source.name` field). Default: `name`.
    #[serde(default)]
    pub topic_prefix: Option<String>,
    /// Which tables: patterns `namespace.table` (MySQL database or PostgreSQL schema), `*`
    /// matching any run of characters. Empty: every table of the connection's database or of
    /// the `public` schema.
    #[serde(default)]
    pub include: Vec<String>,
    /// Tables left out even when included, same patterns.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Write the schema with every record (Debezium's JSON converter `schemas.enable`).
    #[serde(default = "yes")]
    pub schemas_enable: bool,
    /// After a delete, also write a tombstone (null value) with the same key.
    #[serde(default = "yes")]
    pub tombstones_on_delete: bool,
    /// PostgreSQL: fill an update's unchanged TOAST values (which pgoutput leaves out under the
    /// default replica identity) by reading them back from the table by key, as Debezium's
    /// `ReselectColumnsPostProcessor` does (default `true`). Without it the record carries
    /// Debezium's placeholder, and a two-way sync can keep a value the other side overwrote,
    /// or lose the update of a row the other side does not hold.
    #[serde(default = "yes")]
    pub reselect_unchanged_toast: bool,
    /// Debezium's `provide.transaction.metadata`: a `transaction` block in every change, and
    /// BEGIN/END records on `<prefix>.transaction`.
    #[serde(default)]
    pub transaction_metadata: bool,
    /// What to do with the changes of a transaction the dualsync writer made (recognised by its
    /// write to `dualsync_checkpoints`): `drop` them (default) or `flag` them with the Kafka
    /// header `dualsync.writer: 1`.
    #[serde(default)]
    pub writer_transactions: WriterTransactions,
    /// The initial snapshot: `initial` (default: snapshot the tables once, then stream) or
    /// `never` (stream from the current position).
    #[serde(default)]
    pub snapshot: SnapshotMode,
    /// Rows per snapshot chunk (primary-key order). Default 10,000.
    #[serde(default = "default_chunk")]
    pub snapshot_chunk_rows: u64,
    /// PostgreSQL intervals: `numeric` (Debezium's default, `io.debezium.time.MicroDuration`,
    /// a month counted as 30.4375 days) or `string` (ISO 8601, exact).
    #[serde(default)]
    pub interval_handling_mode: IntervalMode,
    /// The topic the capture stores its offsets in (one partition; created if missing).
    /// Default: `<topic_prefix>.dualsync-offsets`.
    #[serde(default)]
    pub offsets_topic: Option<String>,
    /// Partitions of the change topics the capture creates (existing topics are kept).
    #[serde(default = "one")]
    pub topic_partitions: i32,
    /// MySQL: the replica server id this capture registers with; unique among the server's
    /// replicas. Default: 5400 plus a number derived from `name`.
    #[serde(default)]
    pub server_id: Option<u32>,
    /// PostgreSQL: the replication slot. Default `dualsync_<name>`.
    #[serde(default)]
    pub slot: Option<String>,
    /// PostgreSQL: the publication. Default `dualsync_<name>`.
    #[serde(default)]
    pub publication: Option<String>,
    /// Extra librdkafka producer settings.
    #[serde(default)]
    pub producer: std::collections::BTreeMap<String, String>,
}

/// What happens to the changes of the dualsync writer's own transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriterTransactions {
    /// Not written to Kafka.
    #[default]
    Drop,
    /// Written with the header `dualsync.writer: 1`.
    Flag,
}

/// Whether to snapshot the tables first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    /// Snapshot once (resuming an unfinished snapshot), then stream.
    #[default]
    Initial,
    /// Stream only.
    Never,
}

/// How PostgreSQL intervals are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalMode {
    /// `io.debezium.time.MicroDuration`.
    #[default]
    Numeric,
    /// `io.debezium.time.Interval`.
    String,
}

fn yes() -> bool {
    true
}

fn one() -> i32 {
    1
}

fn default_chunk() -> u64 {
    10_000
}

impl CaptureConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<CaptureConfig, CaptureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CaptureError::Config(format!("cannot read {}: {e}", path.display())))?;
        let config: CaptureConfig =
            serde_yaml::from_str(&text).map_err(|e| CaptureError::Config(format!("{}: {e}", path.display())))?;
        config.check()?;
        Ok(config)
    }

    /// A configuration with defaults for everything but the essentials.
    pub fn new(name: &str, source: &str, kafka: &str) -> CaptureConfig {
        serde_yaml::from_str(&format!("{{name: {name:?}, source: {source:?}, kafka: {kafka:?}}}"))
            .expect("a minimal configuration parses")
    }

    /// Rejects settings that cannot work, saying which and why.
    pub fn check(&self) -> Result<(), CaptureError> {
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(CaptureError::Config(format!(
                "name {:?} must be non-empty ASCII letters, digits, '_' or '-' (it names the slot and offsets)",
                self.name
            )));
        }
        if !(self.source.starts_with("mysql://")
            || self.source.starts_with("mariadb://")
            || self.source.starts_with("postgres://")
            || self.source.starts_with("postgresql://"))
        {
            return Err(CaptureError::Config(format!(
                "source must be a mysql:// or postgres:// URL, not {:?}",
                redact(&self.source)
            )));
        }
        if self.snapshot_chunk_rows == 0 {
            return Err(CaptureError::Config("snapshot_chunk_rows must be at least 1".into()));
        }
        if self.topic_partitions < 1 {
            return Err(CaptureError::Config("topic_partitions must be at least 1".into()));
        }
        for pattern in self.include.iter().chain(&self.exclude) {
            if !pattern.contains('.') {
                return Err(CaptureError::Config(format!(
                    "table pattern {pattern:?} must be namespace.table (e.g. inventory.* or public.orders)"
                )));
            }
        }
        Ok(())
    }

    /// The topic prefix.
    pub fn prefix(&self) -> &str {
        self.topic_prefix.as_deref().unwrap_or(&self.name)
    }

    /// The offsets topic.
    pub fn offsets_topic(&self) -> String {
        self.offsets_topic.clone().unwrap_or_else(|| format!("{}.dualsync-offsets", self.prefix()))
    }

    /// The PostgreSQL slot name.
    pub fn slot(&self) -> String {
        self.slot.clone().unwrap_or_else(|| format!("dualsync_{}", self.name.replace('-', "_")))
    }

    /// The PostgreSQL publication name.
    pub fn publication(&self) -> String {
        self.publication.clone().unwrap_or_else(|| format!("dualsync_{}", self.name.replace('-', "_")))
    }

    /// The MySQL replica server id.
    pub fn server_id(&self) -> u32 {
        self.server_id.unwrap_or_else(|| {
            let hash = self.name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            5400 + hash % 100_000
        })
    }

    /// Whether `namespace.table` is captured.
    pub fn captures(&self, namespace: &str, table: &str) -> bool {
        let name = format!("{namespace}.{table}");
        let included = self.include.is_empty() || self.include.iter().any(|p| matches(p, &name));
        included && !self.exclude.iter().any(|p| matches(p, &name))
    }
}

/// `pattern` with `*` matching any run of characters, against the whole of `name`.
fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// A URL with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names() {
        assert!(matches("inventory.*", "inventory.products"));
        assert!(!matches("inventory.*", "inventory2.products"));
        assert!(matches("*.orders", "shop.orders"));
        assert!(!matches("*.orders", "shop.orders_old"));
        assert!(matches("shop.ord*s", "shop.orders"));
        assert!(matches("shop.orders", "shop.orders"));
        assert!(!matches("shop.orders", "shop.orders2"));
    }

    #[test]
    fn include_and_exclude() {
        let mut config = CaptureConfig::new("c", "mysql://u:p@h/", "k");
        assert!(config.captures("a", "b"));
        config.include = vec!["shop.*".into()];
        config.exclude = vec!["shop.audit_*".into()];
        assert!(config.captures("shop", "orders"));
        assert!(!config.captures("shop", "audit_log"));
        assert!(!config.captures("other", "orders"));
    }

    #[test]
    fn the_example_configurations_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../debezium");
        for (file, ns, table) in
            [("capture-legacy-mysql.yaml", "shop", "orders"), ("capture-revamp-postgres.yaml", "public", "purchases")]
        {
            let config = CaptureConfig::load(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(config.captures(ns, table), "{file}");
            assert!(config.captures(ns, &format!("dualsync_tomb_{table}")), "{file}: the tombstone table");
            assert!(!config.captures(ns, "other"), "{file}");
        }
        let typo = serde_yaml::from_str::<CaptureConfig>("{name: a, source: 'mysql://h/', kafka: k, snapshots: never}");
        assert!(typo.unwrap_err().to_string().contains("unknown field `snapshots`"));
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let mut config = CaptureConfig::new("c", "mysql://u:p@h/", "k");
        config.include = vec!["orders".into()];
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("namespace.table"), "{error}");
        let config = CaptureConfig::new("c", "oracle://u:secret@h/", "k");
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("u:***@h") && !error.contains("secret"), "{error}");
    }
}
