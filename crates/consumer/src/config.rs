//! The consumer's configuration file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dualsync_envelope::{BinaryMode, ConnectorSettings, DecimalMode};
use serde::Deserialize;

/// The consumer's configuration, read from one YAML file.
///
/// ```yaml
/// kafka:
///   brokers: 127.0.0.1:9092
///   group: dualsync-legacy-to-revamp
///   topics: [legacy.shop.users]
/// target:
///   url: postgres://dualsync:secret@127.0.0.1:5432/revamp
/// mapping: shop.yaml        # relative to this file's folder
/// batch:
///   max_events: 500
///   linger_ms: 100
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to read change events.
    pub kafka: KafkaConfig,
    /// Where to write them.
    pub target: TargetConfig,
    /// The mapping file; a relative path is relative to the configuration file's folder.
    pub mapping: PathBuf,
    /// How events are grouped into database transactions.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Settings of the Debezium connector that wrote the topics, where they change the encoding.
    #[serde(default)]
    pub debezium: DebeziumConfig,
    /// The dead-letter topic. Without it, an event that cannot be applied stops the consumer.
    #[serde(default)]
    pub dlq: Option<DlqConfig>,
    /// The HTTP endpoints (`/healthz`, `/readyz`, `/metrics`); none when absent.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// How long some failures are retried.
    #[serde(default)]
    pub retry: RetryConfig,
    /// On SIGTERM/SIGINT, how long the batch in hand may take to be written before the consumer
    /// exits anyway (the batch is then delivered again after the restart), in milliseconds.
    #[serde(default = "Config::default_shutdown_timeout_ms")]
    pub shutdown_timeout_ms: u64,
    /// How many days the tombstones of hard deletes are kept (tables with a conflict rule): an
    /// older change that arrives later than this can bring a deleted row back.
    #[serde(default = "Config::default_tombstone_retention_days")]
    pub tombstone_retention_days: u64,
}

/// Retry settings. Transient failures (lost connections, deadlocks, lock timeouts) are retried
/// until they pass, with exponential backoff; these settings bound the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// How long a change refused for a missing referenced row (a foreign key) waits for it before
    /// it is dead-lettered: the parent may arrive from another topic. The waiting change is
    /// parked and holds nothing else back (see `docs/consumer.md`).
    #[serde(default = "RetryConfig::default_foreign_key_seconds")]
    pub foreign_key_seconds: u64,
}

impl RetryConfig {
    /// Long enough for a parent written in the same source transaction to arrive from its topic
    /// even when that topic lags by minutes (a snapshot, a consumer restarted): a parked child
    /// costs only its event in memory and holds the partition's committed offset back.
    const DEFAULT_FOREIGN_KEY_SECONDS: u64 = 600;

    fn default_foreign_key_seconds() -> u64 {
        Self::DEFAULT_FOREIGN_KEY_SECONDS
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { foreign_key_seconds: Self::DEFAULT_FOREIGN_KEY_SECONDS }
    }
}

/// The HTTP endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` to listen on, e.g. `0.0.0.0:9400` (port 0 picks a free one).
    pub listen: String,
}

/// The dead-letter queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqConfig {
    /// The topic events that cannot be applied are written to, with their context in headers.
    pub topic: String,
}

/// The connector settings that change how values are encoded, in Debezium's own spelling.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebeziumConfig {
    /// `decimal.handling.mode`: `precise` (default), `string` or `double`.
    #[serde(rename = "decimal.handling.mode", default)]
    pub decimal_handling_mode: DecimalHandling,
    /// `binary.handling.mode`: `bytes` (default), `base64`, `base64-url-safe` or `hex`.
    #[serde(rename = "binary.handling.mode", default)]
    pub binary_handling_mode: BinaryHandling,
    /// `unavailable.value.placeholder` (default `__debezium_unavailable_value`).
    #[serde(rename = "unavailable.value.placeholder", default)]
    pub unavailable_value_placeholder: Option<String>,
}

/// Debezium's `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DecimalHandling {
    #[default]
    Precise,
    String,
    Double,
}

/// Debezium's `binary.handling.mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum BinaryHandling {
    #[default]
    Bytes,
    Base64,
    Base64UrlSafe,
    Hex,
}

impl DebeziumConfig {
    /// The decoder's view of these settings.
    pub fn settings(&self) -> ConnectorSettings {
        let defaults = ConnectorSettings::default();
        ConnectorSettings {
            decimal_handling_mode: match self.decimal_handling_mode {
                DecimalHandling::Precise => DecimalMode::Precise,
                DecimalHandling::String => DecimalMode::String,
                DecimalHandling::Double => DecimalMode::Double,
            },
            binary_handling_mode: match self.binary_handling_mode {
                BinaryHandling::Bytes => BinaryMode::Bytes,
                BinaryHandling::Base64 => BinaryMode::Base64,
                BinaryHandling::Base64UrlSafe => BinaryMode::Base64UrlSafe,
                BinaryHandling::Hex => BinaryMode::Hex,
            },
            unavailable_value_placeholder: self
                .unavailable_value_placeholder
                .clone()
                .unwrap_or(defaults.unavailable_value_placeholder),
        }
    }
}

/// Kafka settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Consumer group; its committed offsets are where a restarted consumer resumes.
    pub group: String,
    /// Topics to consume (Debezium writes one topic per table).
    pub topics: Vec<String>,
    /// Static group membership (Kafka's `group.instance.id`): a name for this consumer instance,
    /// stable across its restarts and unique within the group (a StatefulSet pod's name, a
    /// systemd unit's). A restarted instance then takes its partitions back at once; without it,
    /// a consumer restarted after a crash waits until the broker gives up on its previous run
    /// (`session.timeout.ms`, 10 s by dualsync's default). Two running instances with one name
    /// fence each other: never share it.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Extra librdkafka settings, passed through unchanged (e.g. `session.timeout.ms`,
    /// `security.protocol`). They override dualsync's defaults, except the offset handling
    /// settings, which dualsync owns.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for KafkaConfig {
    /// Option values whose key mentions a password or secret are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: BTreeMap<&str, &str> = self
            .options
            .iter()
            .map(|(k, v)| {
                let secret = ["password", "secret", "key"].iter().any(|s| k.contains(s));
                (k.as_str(), if secret { "…" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("topics", &self.topics)
            .field("instance_id", &self.instance_id)
            .field("options", &options)
            .finish()
    }
}

/// The target database.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `postgres://user:password@host:port/database` or `mysql://…`. Never logged.
    pub url: String,
}

impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.url.split_once("://").map_or("?", |(s, _)| s);
        write!(f, "TargetConfig {{ url: {scheme}://… }}")
    }
}

/// Batching: a batch is written when it holds `max_events` events or its first event has waited
/// `linger_ms`, whichever comes first.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events in one database transaction.
    #[serde(default = "BatchConfig::default_max_events")]
    pub max_events: usize,
    /// Longest time, in milliseconds, an event waits for its batch to fill.
    #[serde(default = "BatchConfig::default_linger_ms")]
    pub linger_ms: u64,
    /// Batches written at once, each by its own worker with its own database connection. A
    /// partition always goes to the same worker, so each partition's events (and so each row's)
    /// are applied in order. Default: the number of CPUs.
    #[serde(default = "BatchConfig::default_workers")]
    pub workers: usize,
}

impl BatchConfig {
    /// Large enough to amortise a transaction commit, small enough to keep a batch's memory and
    /// lock time short.
    const DEFAULT_MAX_EVENTS: usize = 500;
    /// Adds at most this much latency when traffic is light.
    const DEFAULT_LINGER_MS: u64 = 100;

    fn default_max_events() -> usize {
        Self::DEFAULT_MAX_EVENTS
    }

    fn default_linger_ms() -> u64 {
        Self::DEFAULT_LINGER_MS
    }

    fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }

    /// The linger time.
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: Self::DEFAULT_MAX_EVENTS,
            linger_ms: Self::DEFAULT_LINGER_MS,
            workers: Self::default_workers(),
        }
    }
}

/// Why a configuration file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the configuration file: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit.
    #[error("{path}: {message}")]
    Invalid {
        /// The file, with `:line:column` where known.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Within a typical orchestrator's grace period (30 s for Kubernetes) with room to spare.
    const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 20_000;

    fn default_shutdown_timeout_ms() -> u64 {
        Self::DEFAULT_SHUTDOWN_TIMEOUT_MS
    }

    /// A week: far longer than a change normally takes to cross, short enough to stay small.
    fn default_tombstone_retention_days() -> u64 {
        7
    }

    /// The shutdown deadline.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// Reads a configuration file; the mapping path is resolved against the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let mut config = Config::from_yaml(&text, &shown)?;
        config.override_from(|name| std::env::var(name).ok())?;
        if config.mapping.is_relative() {
            config.mapping = path.parent().unwrap_or(Path::new(".")).join(&config.mapping);
        }
        Ok(config)
    }

    /// Applies overrides from the environment (`env` looks a variable up): every setting has one,
    /// and a secret can come from a file (`…_FILE`, e.g. a mounted secret):
    ///
    /// | variable | setting |
    /// | --- | --- |
    /// | `DUALSYNC_KAFKA_BROKERS`, `DUALSYNC_KAFKA_GROUP` | `kafka.brokers`, `kafka.group` |
    /// | `DUALSYNC_KAFKA_TOPICS` | `kafka.topics`, comma-separated |
    /// | `DUALSYNC_KAFKA_INSTANCE_ID` | `kafka.instance_id` |
    /// | `DUALSYNC_KAFKA_SASL_USERNAME`, `DUALSYNC_KAFKA_SASL_PASSWORD[_FILE]` | `sasl.username`, `sasl.password` |
    /// | `DUALSYNC_TARGET_URL[_FILE]` | `target.url` |
    /// | `DUALSYNC_MAPPING` | `mapping` |
    /// | `DUALSYNC_BATCH_MAX_EVENTS`, `DUALSYNC_BATCH_LINGER_MS`, `DUALSYNC_BATCH_WORKERS` | `batch.*` |
    /// | `DUALSYNC_DLQ_TOPIC`, `DUALSYNC_HTTP_LISTEN` | `dlq.topic`, `http.listen` |
    /// | `DUALSYNC_RETRY_FOREIGN_KEY_SECONDS`, `DUALSYNC_SHUTDOWN_TIMEOUT_MS` | `retry.foreign_key_seconds`, `shutdown_timeout_ms` |
    /// | `DUALSYNC_TOMBSTONE_RETENTION_DAYS` | `tombstone_retention_days` |
    pub fn override_from(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let invalid = |name: &str, message: String| ConfigError::Invalid { path: format!("${name}"), message };
        let secret = |name: &str| -> Result<Option<String>, ConfigError> {
            if let Some(value) = env(name) {
                return Ok(Some(value));
            }
            match env(&format!("{name}_FILE")) {
                Some(file) => std::fs::read_to_string(&file)
                    .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                    .map_err(|e| invalid(&format!("{name}_FILE"), format!("cannot read {file}: {e}"))),
                None => Ok(None),
            }
        };
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            env(name).map(|v| v.parse().map_err(|_| invalid(name, format!("{v:?} is not a whole number")))).transpose()
        };
        if let Some(v) = env("DUALSYNC_KAFKA_BROKERS") {
            self.kafka.brokers = v;
        }
        if let Some(v) = env("DUALSYNC_KAFKA_GROUP") {
            self.kafka.group = v;
        }
        if let Some(v) = env("DUALSYNC_KAFKA_INSTANCE_ID") {
            self.kafka.instance_id = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("DUALSYNC_KAFKA_TOPICS") {
            self.kafka.topics = v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = env("DUALSYNC_KAFKA_SASL_USERNAME") {
            self.kafka.options.insert("sasl.username".into(), v);
        }
        if let Some(v) = secret("DUALSYNC_KAFKA_SASL_PASSWORD")? {
            self.kafka.options.insert("sasl.password".into(), v);
        }
        if let Some(v) = secret("DUALSYNC_TARGET_URL")? {
            self.target.url = v;
        }
        if let Some(v) = env("DUALSYNC_MAPPING") {
            self.mapping = PathBuf::from(v);
        }
        if let Some(v) = number("DUALSYNC_BATCH_MAX_EVENTS")? {
            self.batch.max_events = v as usize;
        }
        if let Some(v) = number("DUALSYNC_BATCH_WORKERS")? {
            self.batch.workers = v as usize;
        }
        if let Some(v) = number("DUALSYNC_BATCH_LINGER_MS")? {
            self.batch.linger_ms = v;
        }
        if let Some(v) = number("DUALSYNC_SHUTDOWN_TIMEOUT_MS")? {
            self.shutdown_timeout_ms = v;
        }
        if let Some(v) = number("DUALSYNC_TOMBSTONE_RETENTION_DAYS")? {
            self.tombstone_retention_days = v;
        }
        if let Some(v) = number("DUALSYNC_RETRY_FOREIGN_KEY_SECONDS")? {
            self.retry.foreign_key_seconds = v;
        }
        if let Some(v) = env("DUALSYNC_DLQ_TOPIC") {
            self.dlq = Some(DlqConfig { topic: v });
        }
        if let Some(v) = env("DUALSYNC_HTTP_LISTEN") {
            self.http = Some(HttpConfig { listen: v });
        }
        self.validate().map_err(|message| ConfigError::Invalid { path: "environment overrides".into(), message })
    }

    /// Parses configuration YAML; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_yaml::from_str(text).map_err(|e| {
            let (path, message) = dualsync_mapping::locate_yaml_error(origin, &e);
            ConfigError::Invalid { path, message }
        })?;
        config.validate().map_err(|message| ConfigError::Invalid { path: origin.to_string(), message })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.kafka.topics.is_empty() {
            return Err("kafka.topics: list at least one topic".into());
        }
        if self.batch.workers == 0 {
            return Err("batch.workers: must be at least 1".into());
        }
        if self.batch.max_events == 0 {
            return Err("batch.max_events: must be at least 1".into());
        }
        Ok(())
    }
}
