//! The consume → decode → map → write → store-offset loop.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dualsync_envelope::{Decoder, TypeHints};
use dualsync_mapping::{Direction, Mapped, Mapping, MappingError, RowChange, Skip};
use dualsync_writer::{Checkpoint, TablePolicy, WriteError, Writer, debezium_type};
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::Config;

/// Counters of what a consumer did, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    consumed: AtomicU64,
    applied: AtomicU64,
    skipped: AtomicU64,
    redelivered: AtomicU64,
    done: AtomicU64,
}

impl Stats {
    /// Events read from Kafka.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }
    /// Row changes written to the target.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }
    /// Events that needed no write (tombstones, unmapped tables, truncates, messages).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
    /// Events skipped because the target's checkpoint shows they were applied already (Kafka
    /// delivered them again, e.g. after a crash before the offset commit).
    pub fn redelivered(&self) -> u64 {
        self.redelivered.load(Ordering::Relaxed)
    }
    /// Events whose batch is committed in the target and whose offsets are stored for commit.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// Why the consumer stopped. Each error names the Kafka position of the event concerned, so the
/// operator can inspect it (its offset is not committed: after a fix, a restart re-reads it).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The mapping file is invalid.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The Kafka client could not be created or could not subscribe.
    #[error("kafka: {0}")]
    Kafka(#[source] KafkaError),
    /// The target database could not be reached or set up.
    #[error("target database: {0}")]
    Target(#[source] WriteError),
    /// An event could not be decoded.
    #[error("{topic}[{partition}]@{offset}: cannot decode the event: {source}")]
    Decode {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// What is wrong with it.
        source: dualsync_envelope::DecodeError,
    },
    /// An event could not be mapped.
    #[error("{topic}[{partition}]@{offset}: cannot map the event: {source}")]
    Map {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
        /// What is wrong with it.
        source: dualsync_mapping::MapError,
    },
    /// A batch could not be written, for a reason retrying will not fix.
    #[error("batch of offsets {first} to {last} cannot be written: {source}")]
    Write {
        /// The first event's `topic[partition]@offset`.
        first: String,
        /// The last event's `topic[partition]@offset`.
        last: String,
        /// The database's refusal.
        source: WriteError,
    },
}

/// Column types for records without a schema, read off the target tables: for each mapped
/// table, each target column whose SQL type says how Debezium encodes it (decimals, temporal
/// types, booleans from TINYINT(1), binary, UUID, JSON), under its source table and column name.
/// A target table that cannot be read yet gets no hints; the writer reports it when it is used.
async fn type_hints(mapping: &Mapping, direction: Direction, writer: &mut Writer) -> TypeHints {
    let mut hints = TypeHints::default();
    for pair in mapping.tables() {
        let schema = match writer.schema(pair.target(direction)).await {
            Ok(schema) => schema,
            Err(e) => {
                warn!(table = %pair.target(direction), error = %e, "no column types for schemaless events of this table");
                continue;
            }
        };
        for column in &schema.columns {
            let source_column = pair.target_column(direction.reverse(), &column.name);
            // A converted column is represented differently on the two sides, so the target's
            // type says nothing about how the source sends it.
            let converted = pair.conversions.iter().any(|(c, _)| c == pair.legacy_name(direction, source_column));
            if let Some(field_type) = debezium_type(writer.dialect(), &column.sql_type).filter(|_| !converted) {
                hints.insert(&pair.source(direction).name, source_column, field_type);
            }
        }
    }
    hints
}

/// A running consumer: one direction, one target database.
pub struct Consumer {
    config: Config,
    direction: Direction,
    decoder: Decoder,
    mapping: Mapping,
    writer: Writer,
    /// Per (topic, partition), the offset of the last event the target already holds.
    applied_up_to: HashMap<(String, i32), i64>,
    kafka: Arc<StreamConsumer>,
    stats: Arc<Stats>,
}

/// How long to wait before the first retry of a transient write failure; it doubles up to
/// [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between retries of a transient failure.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

impl Consumer {
    /// Loads the mapping, connects to the target database and subscribes to the topics.
    pub async fn start(config: Config, direction: Direction) -> Result<Consumer, ConsumerError> {
        let mapping = Mapping::load(&config.mapping)?;
        let mut writer = Writer::connect(&config.target.url).await.map_err(ConsumerError::Target)?;
        let hints = type_hints(&mapping, direction, &mut writer).await;
        for pair in mapping.tables() {
            let policy = TablePolicy { guard: pair.guard(direction), soft_delete: pair.soft_delete(direction) };
            writer.set_policy(pair.target(direction).clone(), policy);
        }
        let applied_up_to = writer
            .checkpoints(&config.kafka.group)
            .await
            .map_err(ConsumerError::Target)?
            .into_iter()
            .map(|c| ((c.topic, c.partition), c.offset))
            .collect();
        let decoder = Decoder::new(config.debezium.settings(), hints);
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.kafka.brokers)
            .set("group.id", &config.kafka.group)
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky");
        for (key, value) in &config.kafka.options {
            client.set(key, value);
        }
        // Offsets are stored by dualsync after the batch is durable, then committed
        // periodically and at shutdown; these settings are not the operator's to change.
        client.set("enable.auto.offset.store", "false").set("enable.auto.commit", "true");
        let kafka: StreamConsumer = client.create().map_err(ConsumerError::Kafka)?;
        let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
        kafka.subscribe(&topics).map_err(ConsumerError::Kafka)?;
        info!(direction = direction.name(), group = %config.kafka.group, topics = ?config.kafka.topics, "consumer started");
        Ok(Consumer {
            config,
            direction,
            decoder,
            mapping,
            writer,
            applied_up_to,
            kafka: Arc::new(kafka),
            stats: Arc::default(),
        })
    }

    /// The consumer's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Consumes until `shutdown` completes, then writes the batch in hand, commits the stored
    /// offsets and returns. Returns early with an error when an event cannot be decoded, mapped
    /// or written; that event's offset is not committed.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ConsumerError> {
        tokio::pin!(shutdown);
        let mut batch: Vec<OwnedMessage> = Vec::with_capacity(self.config.batch.max_events);
        let mut flush_at: Option<Instant> = None;
        let result = loop {
            let linger = async {
                match flush_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break self.flush(&mut batch).await,
                () = linger => {
                    flush_at = None;
                    if let Err(e) = self.flush(&mut batch).await {
                        break Err(e);
                    }
                }
                received = self.kafka.recv() => match received {
                    Ok(message) => {
                        self.stats.consumed.fetch_add(1, Ordering::Relaxed);
                        batch.push(message.detach());
                        flush_at.get_or_insert_with(|| Instant::now() + self.config.batch.linger());
                        if batch.len() >= self.config.batch.max_events {
                            flush_at = None;
                            if let Err(e) = self.flush(&mut batch).await {
                                break Err(e);
                            }
                        }
                    }
                    // librdkafka reconnects by itself; its errors here are reports, not ends.
                    Err(e) => warn!(error = %e, "kafka consumer error"),
                },
            }
        };
        self.commit().await;
        info!(
            direction = self.direction.name(),
            consumed = self.stats.consumed(),
            applied = self.stats.applied(),
            skipped = self.stats.skipped(),
            "consumer stopped"
        );
        result
    }

    /// Decodes, maps and writes the batch, then stores its offsets.
    async fn flush(&mut self, batch: &mut Vec<OwnedMessage>) -> Result<(), ConsumerError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut changes: Vec<RowChange> = Vec::with_capacity(batch.len());
        let (mut skipped, mut redelivered) = (0, 0);
        let mut checkpoints: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for message in batch.iter() {
            let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
            let slot = checkpoints.entry((topic, partition)).or_insert(offset);
            *slot = (*slot).max(offset);
            if self.applied_up_to.get(&(topic.to_string(), partition)).is_some_and(|done| offset <= *done) {
                redelivered += 1;
                continue;
            }
            let decoded = self
                .decoder
                .decode(message.key(), message.payload())
                .map_err(|source| ConsumerError::Decode { topic: topic.to_string(), partition, offset, source })?;
            match self.mapping.map(self.direction, &decoded) {
                Ok(Mapped::Apply(change)) => changes.push(change),
                Ok(Mapped::Skip(reason)) => {
                    skipped += 1;
                    if reason == Skip::Truncate {
                        warn!(
                            topic,
                            partition,
                            offset,
                            "truncate ignored; set `sync.truncate: apply` in the mapping to apply truncates"
                        );
                    } else {
                        debug!(topic, partition, offset, ?reason, "event skipped");
                    }
                }
                Err(source) => return Err(ConsumerError::Map { topic: topic.to_string(), partition, offset, source }),
            }
        }
        let checkpoints: Vec<Checkpoint> = checkpoints
            .into_iter()
            .map(|((topic, partition), offset)| Checkpoint {
                consumer: self.config.kafka.group.clone(),
                topic: topic.to_string(),
                partition,
                offset,
            })
            .collect();
        self.write(&changes, &checkpoints, batch).await?;
        for c in checkpoints {
            self.applied_up_to.insert((c.topic, c.partition), c.offset);
        }
        self.store_offsets(batch);
        info!(events = batch.len(), applied = changes.len(), skipped, redelivered, "batch written");
        self.stats.applied.fetch_add(changes.len() as u64, Ordering::Relaxed);
        self.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.stats.redelivered.fetch_add(redelivered, Ordering::Relaxed);
        self.stats.done.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }

    /// Writes the changes, retrying transient failures with exponential backoff until they pass.
    async fn write(
        &mut self,
        changes: &[RowChange],
        checkpoints: &[Checkpoint],
        batch: &[OwnedMessage],
    ) -> Result<(), ConsumerError> {
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            match self.writer.apply(changes, checkpoints).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() => {
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "transient write failure; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_RETRY_DELAY);
                }
                Err(source) => {
                    let position = |m: &OwnedMessage| format!("{}[{}]@{}", m.topic(), m.partition(), m.offset());
                    return Err(ConsumerError::Write {
                        first: batch.first().map(position).unwrap_or_default(),
                        last: batch.last().map(position).unwrap_or_default(),
                        source,
                    });
                }
            }
        }
    }

    /// Stores, per partition, the offset after the batch's last event, for the next commit.
    fn store_offsets(&self, batch: &[OwnedMessage]) {
        let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
        for message in batch {
            let slot = next.entry((message.topic(), message.partition())).or_default();
            *slot = (*slot).max(message.offset() + 1);
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            if let Err(e) = list.add_partition_offset(topic, partition, Offset::Offset(offset)) {
                warn!(topic, partition, error = %e, "cannot record offset");
            }
        }
        // A partition revoked meanwhile cannot be stored; its new owner re-reads the events,
        // which the idempotent writes make harmless.
        if let Err(e) = self.kafka.store_offsets(&list) {
            warn!(error = %e, "storing offsets failed; the events will be re-delivered");
        }
    }

    /// Commits the stored offsets synchronously (librdkafka's commit blocks, so off the runtime).
    async fn commit(&self) {
        let kafka = self.kafka.clone();
        match tokio::task::spawn_blocking(move || kafka.commit_consumer_state(CommitMode::Sync)).await {
            Ok(Ok(())) | Ok(Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset))) => {}
            Ok(Err(e)) => warn!(error = %e, "final offset commit failed; uncommitted events will be re-delivered"),
            Err(e) => warn!(error = %e, "final offset commit did not run"),
        }
    }
}
