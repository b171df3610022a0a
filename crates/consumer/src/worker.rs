//! A worker: decodes, maps and writes the batches of the partitions routed to it, in order, with
//! its own database connection; dead-letters what cannot be applied; stores offsets only after
//! the batch is committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dualsync_dlq::{DeadLetter, DeadLetters, Stage};
use dualsync_envelope::{Decoder, TypeHints};
use dualsync_mapping::{Direction, Mapped, Mapping, RowChange, RowChangeKind, Skip, TableName, tombstone};
use dualsync_writer::{Checkpoint, Collision, Decisions, ErrorClass, TablePolicy, WriteError, Writer, debezium_type};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::collision::{collision_text, collisions, log_collision};
use crate::parked::{Parking, Partition};
use crate::policy::{ParkedStep, Retries, Step, parked_step};
use crate::runtime::{ConsumerError, Context, Shared, Stats, offset_list};
use crate::{Config, Health};

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
        // The source's tombstone table holds its key columns and the conflict column's time as
        // `deleted_at` (see `dualsync_mapping::tombstone`).
        let (guard, tomb) = (pair.guard(direction), tombstone::table_name(&pair.source(direction).name));
        for column in &schema.columns {
            let source_column = pair.target_column(direction.reverse(), &column.name);
            // A converted column is represented differently on the two sides, so the target's
            // type says nothing about how the source sends it.
            let converted = pair.conversions.iter().any(|(c, _)| c == pair.legacy_name(direction, source_column));
            if let Some(field_type) = debezium_type(writer.dialect(), &column.sql_type).filter(|_| !converted) {
                hints.insert(&pair.source(direction).name, source_column, field_type.clone());
                if guard.as_ref().is_some_and(|g| g.column == column.name) {
                    hints.insert(&tomb, tombstone::DELETED_AT, field_type);
                } else if guard.is_some() && schema.key.contains(&column.name) {
                    hints.insert(&tomb, source_column, field_type);
                }
            }
        }
    }
    hints
}

/// Decode, map and write, without Kafka: what the consumer applies events with, for tools that
/// apply records directly (`dualsync dlq replay --apply`).
pub struct Pipeline {
    /// The decoder, with the connector settings and the target's column types.
    pub decoder: Decoder,
    /// The mapping.
    pub mapping: Mapping,
    /// The writer, with each target table's conflict and delete policy.
    pub writer: Writer,
}

impl Pipeline {
    /// Loads the mapping, connects to the target database, and sets up decoding and writing for
    /// `direction` as the consumer does.
    pub async fn new(config: &Config, direction: Direction) -> Result<Pipeline, ConsumerError> {
        let mut mapping = Mapping::load(&config.mapping)?;
        for table in tombstone_streams(&mapping, direction, &config.kafka.topics) {
            mapping.read_tombstones_of(table);
        }
        let mut writer = Writer::connect(&config.target.url).await.map_err(ConsumerError::Target)?;
        writer.set_tombstone_retention(config.tombstone_retention_days);
        let hints = type_hints(&mapping, direction, &mut writer).await;
        for pair in mapping.tables() {
            writer.set_policy(pair.target(direction).clone(), table_policy(pair, direction));
        }
        Ok(Pipeline { decoder: Decoder::new(config.debezium.settings(), hints), mapping, writer })
    }

    /// Decodes, maps and writes one record of `topic` in its own transaction; says what
    /// happened.
    pub async fn apply(
        &mut self,
        direction: Direction,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<String, String> {
        let decoded = self.decoder.decode(key, value).map_err(|e| format!("cannot decode: {e}"))?;
        let decoded = decoded.named_from_topic(topic);
        match self.mapping.map(direction, &decoded).map_err(|e| format!("cannot map: {e}"))? {
            Mapped::Skip(reason) => Ok(format!("skipped ({})", skip_reason(reason))),
            Mapped::Apply(change) => {
                let table = change.table.to_string();
                let decisions = self.writer.apply(&[change], &[]).await.map_err(|e| format!("cannot write: {e}"))?;
                match collisions(decisions).next() {
                    Some((table, collision)) => Err(collision_text(&table, &collision)),
                    None => Ok(format!("applied to {table}")),
                }
            }
        }
    }
}

/// How writes in `direction` into `pair`'s target table resolve conflicts, deletes and bootstrap
/// collisions, as the mapping says.
pub fn table_policy(pair: &dualsync_mapping::TablePair, direction: Direction) -> TablePolicy {
    TablePolicy {
        guard: pair.guard(direction),
        soft_delete: pair.soft_delete(direction),
        on_collision: pair.on_collision(direction),
        source_flag: pair.source_flag(direction.reverse()).map(|f| f.column.to_string()),
    }
}

/// The source tables whose tombstone topic (`<prefix>.<namespace>.dualsync_tomb_<table>`) is
/// among `topics`.
fn tombstone_streams(mapping: &Mapping, direction: Direction, topics: &[String]) -> Vec<TableName> {
    let streams: Vec<(Option<&str>, &str)> = topics
        .iter()
        .filter_map(|topic| {
            let mut parts = topic.rsplit('.');
            let table = parts.next()?;
            table.starts_with(tombstone::TOMBSTONE_PREFIX).then(|| (parts.next(), table))
        })
        .collect();
    mapping
        .tables()
        .iter()
        .map(|pair| pair.source(direction))
        .filter(|source| {
            streams.iter().any(|(ns, tomb)| {
                tombstone::is_tombstone_of(tomb, &source.name)
                    && source.namespace.as_deref().is_none_or(|wanted| *ns == Some(wanted))
            })
        })
        .cloned()
        .collect()
}

/// The metrics label of a skip reason.
fn skip_reason(reason: Skip) -> &'static str {
    match reason {
        Skip::Tombstone => "tombstone",
        Skip::UnmappedTable => "unmapped_table",
        Skip::Truncate => "truncate",
        Skip::Message => "message",
        Skip::Metadata => "metadata",
        Skip::Filtered => "filtered",
        Skip::Echo => "loop",
        Skip::DeleteWithoutTime => "delete_without_time",
    }
}

/// An event of the batch that cannot be applied.
struct Failure {
    /// Its index in the batch.
    index: usize,
    stage: Stage,
    error: String,
    attempts: u32,
    /// The target refused it for a missing parent row: it is parked, not dead-lettered.
    parent_missing: bool,
}

/// What the workers share with the consume loop.
#[derive(Clone)]
pub(crate) struct Handles {
    /// Where events that cannot be applied go; without it such an event stops the consumer.
    pub(crate) dead_letters: Option<Arc<DeadLetters>>,
    /// What `/readyz` reports.
    pub(crate) health: Arc<Health>,
    /// The Kafka client, to store offsets.
    pub(crate) kafka: Arc<StreamConsumer<Context>>,
    /// The counters.
    pub(crate) stats: Arc<Stats>,
    /// In-flight batches and the assignment generation.
    pub(crate) shared: Arc<Shared>,
}

/// One worker's state: its own decoder, mapping and database connection.
pub(crate) struct Worker {
    pub(crate) config: Arc<Config>,
    pub(crate) direction: Direction,
    pub(crate) decoder: Decoder,
    pub(crate) mapping: Mapping,
    pub(crate) writer: Writer,
    /// Per (topic, partition), the offset of the last event the target already holds.
    pub(crate) applied_up_to: HashMap<(String, i32), i64>,
    /// The assignment generation `applied_up_to` was read in.
    pub(crate) generation: u64,
    /// Changes waiting for their parent row (see [`Parking`]).
    pub(crate) parking: Parking,
    /// Per partition, the offset after the last event handled (applied, skipped, dead-lettered
    /// or parked): where the durable positions go once nothing before it is parked.
    pub(crate) handled: BTreeMap<Partition, i64>,
    /// Snapshot rows the target holds differently, left alone by the last writes (policy
    /// `refuse`): reported by the caller of the write with the event they came from.
    pub(crate) collisions: Vec<(TableName, Collision)>,
    /// Where events that cannot be applied go; without it such an event stops the consumer.
    pub(crate) dead_letters: Option<Arc<DeadLetters>>,
    pub(crate) health: Arc<Health>,
    pub(crate) kafka: Arc<StreamConsumer<Context>>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) shared: Arc<Shared>,
}

impl Worker {
    /// Connects the worker's own pipeline (and database connection) and reads the checkpoints.
    pub(crate) async fn new(
        config: Arc<Config>,
        direction: Direction,
        handles: Handles,
    ) -> Result<Worker, ConsumerError> {
        let Handles { dead_letters, health, kafka, stats, shared } = handles;
        let Pipeline { decoder, mapping, writer } = Pipeline::new(&config, direction).await?;
        let mut worker = Worker {
            config,
            direction,
            decoder,
            mapping,
            writer,
            applied_up_to: HashMap::new(),
            generation: 0,
            parking: Parking::default(),
            handled: BTreeMap::new(),
            collisions: Vec::new(),
            dead_letters,
            health,
            kafka,
            stats,
            shared,
        };
        worker.read_checkpoints().await?;
        Ok(worker)
    }

    /// Reads the checkpoints the target holds for this consumer group. The in-memory ones never
    /// move backwards; the target's move forwards when another consumer of the group applied
    /// events of a partition while it was assigned there.
    async fn read_checkpoints(&mut self) -> Result<(), ConsumerError> {
        self.generation = self.shared.generation.load(Ordering::Acquire);
        let checkpoints = self.writer.checkpoints(&self.config.kafka.group).await.map_err(ConsumerError::Target)?;
        for c in checkpoints {
            let done = self.applied_up_to.entry((c.topic, c.partition)).or_insert(c.offset);
            *done = (*done).max(c.offset);
        }
        // Parked changes of partitions revoked meanwhile are read again by their next owner (from
        // before the oldest of them); if that is this consumer again, they must not count as done.
        if !self.parking.is_empty() {
            let assigned = self.kafka.assignment().unwrap_or_default();
            let held = |topic: &str, partition: i32| {
                assigned.elements().iter().any(|e| e.topic() == topic && e.partition() == partition)
            };
            let floor = self.parking.floor();
            self.parking.retain(held);
            let kept = self.parking.floor();
            for (partition, oldest) in floor.into_iter().filter(|(p, _)| !kept.contains_key(p)) {
                warn!(
                    topic = partition.0,
                    partition = partition.1,
                    "partition revoked with changes waiting for their parent; its next owner reads them again"
                );
                if let Some(done) = self.applied_up_to.get_mut(&partition) {
                    *done = (*done).min(oldest - 1);
                }
                self.handled.remove(&partition);
            }
        }
        Ok(())
    }

    /// Whether changes wait for their parent row.
    pub(crate) fn has_parked(&self) -> bool {
        !self.parking.is_empty()
    }

    /// Decodes, maps and writes the batch, then stores its offsets.
    pub(crate) async fn flush(&mut self, batch: &mut Vec<OwnedMessage>) -> Result<(), ConsumerError> {
        if batch.is_empty() {
            return Ok(());
        }
        // Partitions may have changed hands since the checkpoints were read.
        if self.shared.generation.load(Ordering::Acquire) != self.generation {
            self.read_checkpoints().await?;
        }
        // Each change with the index of the message it came from.
        let mut changes: Vec<(usize, RowChange)> = Vec::with_capacity(batch.len());
        let mut failed: Vec<Failure> = Vec::new();
        let (mut skipped, mut redelivered, mut parked, mut refused_parent) = (0, 0, 0, 0);
        // Per partition, the offset of the batch's last event.
        let mut last: BTreeMap<Partition, i64> = BTreeMap::new();
        // Per message: its source table and op, for the metrics ("-" when unknown).
        let mut labels: Vec<(String, &'static str)> = vec![("-".to_string(), "-"); batch.len()];
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let direction = self.direction.name();
        for (index, message) in batch.iter().enumerate() {
            let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
            let slot = last.entry((topic.to_string(), partition)).or_insert(offset);
            *slot = (*slot).max(offset);
            if self.parking.contains(message)
                || self.applied_up_to.get(&(topic.to_string(), partition)).is_some_and(|done| offset <= *done)
            {
                redelivered += 1;
                continue;
            }
            let decoded = match self.decoder.decode(message.key(), message.payload()) {
                Ok(decoded) => decoded.named_from_topic(topic),
                Err(source) if self.dead_letters.is_some() => {
                    failed.push(Failure {
                        index,
                        stage: Stage::Decode,
                        error: source.to_string(),
                        attempts: 1,
                        parent_missing: false,
                    });
                    continue;
                }
                Err(source) => {
                    return Err(ConsumerError::Decode { topic: topic.to_string(), partition, offset, source });
                }
            };
            if let Some(event) = decoded.change() {
                let table = event.source.table.clone().unwrap_or_else(|| "-".to_string());
                if let Some(ts_ms) = event.source.ts_ms.filter(|t| *t > 0) {
                    metrics::gauge!("dualsync_end_to_end_lag_seconds", "direction" => direction, "table" => table.clone())
                        .set((now_ms - ts_ms) as f64 / 1000.0);
                }
                labels[index] = (table, event.op.code());
            } else {
                labels[index].1 = decoded.kind();
            }
            match self.mapping.map(self.direction, &decoded) {
                // An earlier change of the same row waits for its parent: this one waits behind it.
                Ok(Mapped::Apply(change)) if self.parking.holds_key(message) => {
                    self.parking.park(message.clone(), change);
                    parked += 1;
                }
                Ok(Mapped::Apply(change)) => changes.push((index, change)),
                Ok(Mapped::Skip(reason)) => {
                    skipped += 1;
                    let (table, op) = &labels[index];
                    metrics::counter!("dualsync_events_skipped_total", "direction" => direction, "table" => table.clone(), "op" => *op, "reason" => skip_reason(reason))
                        .increment(1);
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
                Err(source) if self.dead_letters.is_some() => {
                    failed.push(Failure {
                        index,
                        stage: Stage::Map,
                        error: source.to_string(),
                        attempts: 1,
                        parent_missing: false,
                    });
                }
                Err(source) => return Err(ConsumerError::Map { topic: topic.to_string(), partition, offset, source }),
            }
        }
        for (partition, offset) in &last {
            let handled = self.handled.entry(partition.clone()).or_insert(offset + 1);
            *handled = (*handled).max(offset + 1);
            self.shared.handled(partition, *handled);
        }
        // The batch's transaction records the checkpoints, held back before any parked change.
        let partitions: Vec<Partition> = last.keys().cloned().collect();
        let checkpoints = self.checkpoints(partitions.clone());
        let write_started = std::time::Instant::now();
        if let Some(refused) = self.write(&changes, &checkpoints, batch).await? {
            // Bisected: the changes refused for a missing parent are parked, the others
            // dead-lettered; then the checkpoints, held back before the parked changes.
            for failure in refused {
                if failure.parent_missing {
                    let change = changes.iter().find(|(i, _)| *i == failure.index).map(|(_, c)| c.clone());
                    if let Some(change) = change {
                        self.parking.park(batch[failure.index].clone(), change);
                        parked += 1;
                        refused_parent += 1;
                    }
                } else {
                    failed.push(failure);
                }
            }
            if let Some(refused) =
                failed.iter().find(|f| f.stage == Stage::Write).filter(|_| self.dead_letters.is_none())
            {
                let event = position(&batch[refused.index]);
                return Err(ConsumerError::Refused { event, error: refused.error.clone() });
            }
            let checkpoints = self.checkpoints(partitions.clone());
            self.apply_retrying(&[], &checkpoints).await.map_err(|source| self.write_error(batch, source))?;
        }
        debug!(write_ms = write_started.elapsed().as_millis() as u64, changes = changes.len(), "batch write");
        let refused_seeds = self.report_collisions(&changes, batch, &mut failed);
        // Dead letters are acknowledged before any offset of the batch is stored.
        self.send_dead_letters(&failed, batch).await?;
        // Never backwards: a batch of re-delivered events ends below what the target holds.
        for (partition, offset) in last {
            let done = self.applied_up_to.entry(partition).or_insert(offset);
            *done = (*done).max(offset);
        }
        // The batch is done: a revoke may now commit its offsets (held back before parked
        // changes); then stored for the next periodic commit.
        self.release(partitions);
        self.shared.finished(batch);
        if parked > 0 {
            warn!(
                parked,
                waiting = self.parking.len(),
                "changes wait for their parent row; the rest of the batch is applied"
            );
        }
        let applied =
            changes.len() - failed.iter().filter(|f| f.stage == Stage::Write).count() - refused_parent - refused_seeds;
        info!(
            events = batch.len(),
            applied,
            skipped,
            redelivered,
            parked,
            dead_lettered = failed.len(),
            "batch written"
        );
        for (index, (table, op)) in labels.iter().enumerate() {
            let labels = [("direction", direction.to_string()), ("table", table.clone()), ("op", op.to_string())];
            metrics::counter!("dualsync_events_consumed_total", &labels).increment(1);
            if let Some(failure) = failed.iter().find(|f| f.index == index) {
                let mut labels = labels.to_vec();
                labels.push(("stage", failure.stage.name().to_string()));
                metrics::counter!("dualsync_events_dead_lettered_total", &labels).increment(1);
            } else if changes.iter().any(|(i, _)| *i == index) && !self.parking.contains(&batch[index]) {
                metrics::counter!("dualsync_events_applied_total", &labels).increment(1);
            }
        }
        metrics::counter!("dualsync_events_redelivered_total", "direction" => direction).increment(redelivered);
        metrics::histogram!("dualsync_batch_events", "direction" => direction).record(batch.len() as f64);
        self.stats.applied.fetch_add(applied as u64, Ordering::Relaxed);
        self.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.stats.redelivered.fetch_add(redelivered, Ordering::Relaxed);
        self.stats.dead_lettered.fetch_add(failed.len() as u64, Ordering::Relaxed);
        // A parked event is done once applied (or dead-lettered) by a retry.
        self.stats.done.fetch_add((batch.len() - parked) as u64, Ordering::Relaxed);
        batch.clear();
        // A parent may just have arrived.
        self.retry_parked().await
    }

    /// Writes the changes with the batch's checkpoints in one transaction, taking the error
    /// policy's steps. `None`: done. When the target refuses the batch for a missing parent row,
    /// or (with a dead-letter topic) for its data, the batch is bisected to isolate exactly the
    /// refused changes: the others are applied and the refused ones returned, and the caller
    /// records the checkpoints (they were not). A missing parent never holds the batch back: the
    /// refused child is parked by the caller and retried later.
    async fn write(
        &mut self,
        changes: &[(usize, RowChange)],
        checkpoints: &[Checkpoint],
        batch: &[OwnedMessage],
    ) -> Result<Option<Vec<Failure>>, ConsumerError> {
        let all: Vec<RowChange> = changes.iter().map(|(_, c)| c.clone()).collect();
        match self.apply_retrying(&all, checkpoints).await {
            Ok(()) => Ok(None),
            Err(source) if source.class() == ErrorClass::WaitingForParent || self.dead_letters.is_some() => {
                warn!(error = %source, "the target refused the batch; isolating the refused changes");
                Ok(Some(self.isolate(changes, &source).await))
            }
            Err(source) => Err(self.write_error(batch, source)),
        }
    }

    /// After the whole of `changes` failed with `error`: applies halves of it, each in its own
    /// transaction, halving again whatever fails, down to single changes, and returns the ones the
    /// target refuses. Order is kept: a left half is written before its right.
    async fn isolate(&mut self, changes: &[(usize, RowChange)], error: &WriteError) -> Vec<Failure> {
        let write_failure = |index: usize, error: &WriteError, attempts: u32| Failure {
            index,
            stage: Stage::Write,
            error: error.to_string(),
            attempts,
            parent_missing: error.class() == ErrorClass::WaitingForParent,
        };
        if let [(index, _)] = changes {
            return vec![write_failure(*index, error, 1)];
        }
        let mut failed = Vec::new();
        // Ranges to try, with the attempts their changes will have had; a stack, left on top.
        let halves = |range: std::ops::Range<usize>, attempts: u32| {
            let middle = range.start + range.len() / 2;
            [(middle..range.end, attempts), (range.start..middle, attempts)]
        };
        let mut work: Vec<_> = halves(0..changes.len(), 2).into();
        while let Some((range, attempts)) = work.pop() {
            let slice: Vec<RowChange> = changes[range.clone()].iter().map(|(_, c)| c.clone()).collect();
            match self.apply_retrying(&slice, &[]).await {
                Ok(()) => {}
                Err(e) if range.len() == 1 => failed.push(write_failure(changes[range.start].0, &e, attempts)),
                Err(_) => work.extend(halves(range, attempts + 1)),
            }
        }
        failed
    }

    /// Applies, taking the error policy's step after each failure (see [`Retries::next_step`]):
    /// transient and setup failures are retried until they pass; returns the failures the
    /// policy gives up on (a missing parent, refused data).
    async fn apply_retrying(&mut self, changes: &[RowChange], checkpoints: &[Checkpoint]) -> Result<(), WriteError> {
        let mut retries = Retries::new();
        let direction = self.direction.name();
        loop {
            let started = Instant::now();
            let error = match self.writer.apply(changes, checkpoints).await {
                Ok(decisions) => {
                    self.health.target_ok.store(true, Ordering::Relaxed);
                    self.health.set_setup_error(None);
                    metrics::gauge!("dualsync_retries_in_progress", "direction" => direction).set(0.0);
                    metrics::histogram!("dualsync_apply_seconds", "direction" => direction)
                        .record(started.elapsed().as_secs_f64());
                    record_decisions(direction, &decisions);
                    self.collisions.extend(collisions(decisions));
                    return Ok(());
                }
                Err(error) => error,
            };
            let class = error.class();
            let Step::Retry(delay) = retries.next_step(class) else {
                return Err(error);
            };
            let retry_in_ms = delay.as_millis() as u64;
            match class {
                ErrorClass::Setup => {
                    error!(error = %error, retry_in_ms, next_step = class.next_step(), "the target is not set up for this change");
                    self.health.set_setup_error(Some(error.to_string()));
                    // The operator may fix the table meanwhile: read its schema again.
                    self.writer.forget_schemas();
                }
                _ => {
                    warn!(error = %error, retry_in_ms, "transient write failure; retrying");
                    self.health.target_ok.store(false, Ordering::Relaxed);
                }
            }
            metrics::counter!("dualsync_retries_total", "direction" => direction, "class" => class.name()).increment(1);
            metrics::gauge!("dualsync_retries_in_progress", "direction" => direction).set(1.0);
            tokio::time::sleep(delay).await;
        }
    }

    fn write_error(&self, batch: &[OwnedMessage], source: WriteError) -> ConsumerError {
        ConsumerError::Write {
            first: batch.first().map(position).unwrap_or_default(),
            last: batch.last().map(position).unwrap_or_default(),
            source,
        }
    }

    /// Sends the failed events of the batch to the dead-letter topic, each acknowledged.
    async fn send_dead_letters(&self, failed: &[Failure], batch: &[OwnedMessage]) -> Result<(), ConsumerError> {
        let Some(dead_letters) = &self.dead_letters else { return Ok(()) };
        for failure in failed {
            let message = &batch[failure.index];
            let letter = DeadLetter {
                key: message.key(),
                value: message.payload(),
                topic: message.topic(),
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
                stage: failure.stage,
                error: failure.error.clone(),
                attempts: failure.attempts,
                consumer: &self.config.kafka.group,
            };
            warn!(
                topic = letter.topic,
                partition = letter.partition,
                offset = letter.offset,
                stage = failure.stage.name(),
                error = %failure.error,
                dead_letter_topic = dead_letters.topic(),
                "event sent to the dead-letter topic"
            );
            dead_letters.send(&letter).await.map_err(ConsumerError::DeadLetter)?;
        }
        Ok(())
    }

    /// Per partition of `partitions`, where a consumer may resume: after the last event handled,
    /// held back to the oldest parked change.
    fn positions(&self, partitions: impl IntoIterator<Item = Partition>) -> BTreeMap<Partition, i64> {
        let mut next: BTreeMap<Partition, i64> =
            partitions.into_iter().filter_map(|p| Some((p.clone(), *self.handled.get(&p)?))).collect();
        self.parking.cap(&mut next);
        next
    }

    /// The checkpoints of `partitions`: the event before [`Worker::positions`].
    fn checkpoints(&self, partitions: impl IntoIterator<Item = Partition>) -> Vec<Checkpoint> {
        self.positions(partitions)
            .into_iter()
            .map(|((topic, partition), next)| Checkpoint {
                consumer: self.config.kafka.group.clone(),
                topic,
                partition,
                offset: next - 1,
            })
            .collect()
    }

    /// Moves the durable positions of `partitions` forward to what was handled, held back
    /// before the oldest parked change: what a revoke commits, and the offsets stored for the
    /// next commit.
    fn release(&self, partitions: impl IntoIterator<Item = Partition>) {
        let next = self.positions(partitions);
        self.shared.advance(&next);
        // A partition revoked meanwhile cannot be stored: its revoke committed these offsets
        // already. Otherwise the events are delivered again, which the checkpoints and
        // idempotent writes make harmless.
        if let Err(e) = self.kafka.store_offsets(&offset_list(next)) {
            warn!(
                error = %e,
                "storing offsets failed; unless the partition was just revoked (its revoke committed them), the events will be delivered again"
            );
        }
        metrics::gauge!("dualsync_changes_waiting_for_parent", "direction" => self.direction.name())
            .set(self.parking.len() as f64);
    }

    /// Reports the snapshot rows the last writes of the batch left alone for a collision (see
    /// [`Worker::collisions`]): with a dead-letter topic, each event becomes a dead letter
    /// carrying the stored row; without one, an error in the log. Returns how many there were.
    fn report_collisions(
        &mut self,
        changes: &[(usize, RowChange)],
        batch: &[OwnedMessage],
        failed: &mut Vec<Failure>,
    ) -> usize {
        let reported = std::mem::take(&mut self.collisions);
        for (table, collision) in &reported {
            let matches = |change: &RowChange| {
                change.table == *table
                    && change.kind.written_row().is_some_and(|row| {
                        (collision.key.iter())
                            .all(|(c, v)| row.get(c).and_then(dualsync_writer::key_text).as_ref() == Some(v))
                    })
            };
            let Some((index, _)) = changes.iter().rev().find(|(_, c)| matches(c)) else { continue };
            match self.dead_letters.is_some() {
                true => failed.push(Failure {
                    index: *index,
                    stage: Stage::Collision,
                    error: collision_text(table, collision),
                    attempts: 1,
                    parent_missing: false,
                }),
                false => log_collision(&position(&batch[*index]), table, collision),
            }
        }
        reported.len()
    }

    /// Per assigned partition, how far the workers have handled it (a partition none has handled
    /// yet: the consumer's position in it) and, when `ends` is asked for, its high watermark, in
    /// one request to the broker for all partitions (`ListOffsets` for the latest offsets); empty
    /// when they cannot be read. Asking each partition's watermarks in turn took 1.6–3.5 s a
    /// round on the test broker and starved the worker (the 10-minute soak fell 10,000 events
    /// behind), so a round asks only when a newly parked change needs its horizon.
    async fn progress(&self, ends: bool) -> (BTreeMap<Partition, i64>, BTreeMap<Partition, i64>) {
        let (kafka, mut handled) = (self.kafka.clone(), self.shared.handled_offsets());
        let ask = move || {
            let mut high = BTreeMap::new();
            let Ok(positions) = kafka.position() else { return (handled, high) };
            for e in positions.elements() {
                let partition = (e.topic().to_string(), e.partition());
                if let (rdkafka::Offset::Offset(at), false) = (e.offset(), handled.contains_key(&partition)) {
                    handled.insert(partition, at);
                }
            }
            if ends {
                high = latest_offsets(kafka.as_ref());
            }
            (handled, high)
        };
        tokio::task::spawn_blocking(ask).await.unwrap_or_default()
    }

    /// Retries the parked changes, in order, each in its own transaction: applied once its
    /// parent is there; dead-lettered (or, without a dead-letter topic, the consumer stops) once
    /// it has waited `retry.foreign_key_seconds`, or when the target refuses its data; kept on a
    /// transient or setup failure. Then the checkpoints and offsets move past what went.
    pub(crate) async fn retry_parked(&mut self) -> Result<(), ConsumerError> {
        if self.parking.is_empty() {
            return Ok(());
        }
        if self.shared.generation.load(Ordering::Acquire) != self.generation {
            self.read_checkpoints().await?;
        }
        // In flight, so that a revoke of their partitions waits for this round.
        let messages: Vec<OwnedMessage> = self.parking.changes().iter().map(|p| p.message.clone()).collect();
        self.shared.started(&messages);
        let result = self.retry_parked_round().await;
        self.shared.finished(&messages);
        result
    }

    /// Per parked change, whether a row it was refused for is still not there (one look for all
    /// of them): writing it again would only be refused. Under a backlog thousands of children
    /// may wait, and writing each of them in its own transaction every round starved the
    /// worker (the 10-minute soak fell 10,000 events behind). When the look fails, every change
    /// is written again, as before.
    async fn still_missing(&mut self) -> Vec<bool> {
        let mut owners = Vec::new();
        let mut parents = Vec::new();
        for (i, parked) in self.parking.changes().iter().enumerate() {
            for parent in &parked.missing {
                owners.push(i);
                parents.push(parent.clone());
            }
        }
        let mut missing = vec![false; self.parking.len()];
        if let Ok(present) = self.writer.present(&parents).await {
            for (owner, present) in owners.into_iter().zip(present) {
                missing[owner] |= !present;
            }
        }
        missing
    }

    async fn retry_parked_round(&mut self) -> Result<(), ConsumerError> {
        let wait = Duration::from_secs(self.config.retry.foreign_key_seconds);
        // After a restart or an outage the consumer is behind, and a missing parent may still be
        // unread on another partition: a change's wait counts once what came before it is read.
        // What every worker has handled: a parent read but still queued for another worker is
        // not there yet either.
        let started = std::time::Instant::now();
        let (handled, ends) = self.progress(self.parking.needs_horizon()).await;
        let progress_took = started.elapsed();
        self.parking.start_waits(&handled, &ends);
        let (mut applied, mut dead): (Vec<usize>, Vec<(usize, String)>) = (Vec::new(), Vec::new());
        let mut orphans: Vec<usize> = Vec::new();
        // Applied snapshot rows that collided, for the dead-letter topic.
        let mut collided: Vec<(usize, String)> = Vec::new();
        let still_missing = self.still_missing().await;
        let look_took = started.elapsed() - progress_took;
        let mut attempts = 0;
        for (i, still_missing) in still_missing.into_iter().enumerate() {
            if self.parking.behind(i, &applied) {
                continue;
            }
            let (change, waited) = (self.parking.changes()[i].change.clone(), self.parking.changes()[i].waited());
            if waited < wait && still_missing {
                continue;
            }
            // A parked delete waits for the rows that still reference its row: those the source
            // deleted too arrive by themselves, but a child written here while the other side
            // deleted the parent never does. The delete, once it wins, takes them with it.
            attempts += 1;
            match self.writer.apply_cascading(&change, &[]).await {
                Ok(decisions) => {
                    record_decisions(self.direction.name(), &decisions);
                    let message = self.parking.changes()[i].message.clone();
                    for (table, collision) in collisions(decisions) {
                        match self.dead_letters.is_some() {
                            true => collided.push((i, collision_text(&table, &collision))),
                            false => log_collision(&position(&message), &table, &collision),
                        }
                    }
                    applied.push(i);
                }
                Err(e) => match parked_step(e.class(), waited, wait) {
                    ParkedStep::Wait if e.class() == ErrorClass::WaitingForParent => {
                        let missing = self.writer.missing_parents(&change).await.unwrap_or_default();
                        self.parking.set_missing(i, missing);
                    }
                    ParkedStep::Wait => {}
                    ParkedStep::DeadLetter if self.dead_letters.is_none() => {
                        let event = position(&self.parking.changes()[i].message);
                        return Err(ConsumerError::Refused { event, error: e.to_string() });
                    }
                    ParkedStep::DeadLetter if e.class() == ErrorClass::WaitingForParent => {
                        let change = self.parking.changes()[i].change.clone();
                        let parents = self.writer.missing_parents(&change).await.unwrap_or_default();
                        if parents.iter().any(|p| p.deleted) {
                            // Its parent was deleted here: the other side's copy of it went with
                            // the parent's delete there. Remembered as deleted with its parent
                            // (a tombstone at its own time): a later, older change does not
                            // bring it back, and the rows referencing it are left out in turn.
                            if let Some(row) = change.kind.written_row() {
                                let deleted =
                                    RowChange { table: change.table.clone(), kind: RowChangeKind::Delete(row.clone()) };
                                if let Err(e) = self.writer.apply(&[deleted], &[]).await {
                                    warn!(error = %e, "retrying the changes that wait for their parent later");
                                    break;
                                }
                            }
                            let table = change.table.to_string();
                            warn!(event = %position(&self.parking.changes()[i].message), table, "left out: the row it references was deleted");
                            metrics::counter!("dualsync_events_skipped_total", "direction" => self.direction.name(), "table" => table, "op" => "u", "reason" => "parent_deleted").increment(1);
                            orphans.push(i);
                        } else if !parents.iter().any(|p| self.parking.holds(&p.table, &p.key)) {
                            dead.push((i, format!("{e} (waited for the referenced row for {} s)", wait.as_secs())));
                        }
                        // Else its parent waits here too: it is decided first.
                    }
                    ParkedStep::DeadLetter => dead.push((i, e.to_string())),
                    ParkedStep::Pause => {
                        warn!(error = %e, "retrying the changes that wait for their parent later");
                        break;
                    }
                },
            }
        }
        debug!(
            parked = self.parking.len(),
            attempts,
            progress_ms = progress_took.as_millis() as u64,
            look_ms = look_took.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "retry round"
        );
        if applied.is_empty() && dead.is_empty() && orphans.is_empty() {
            return Ok(());
        }
        let partitions: Vec<Partition> = self.parking.floor().into_keys().collect();
        let stages = dead.iter().map(|d| (d, Stage::Write)).chain(collided.iter().map(|c| (c, Stage::Collision)));
        let letters: Vec<OwnedMessage> =
            stages.clone().map(|((i, _), _)| self.parking.changes()[*i].message.clone()).collect();
        let failures: Vec<Failure> = stages
            .enumerate()
            .map(|(index, ((_, error), stage))| Failure {
                index,
                stage,
                error: error.clone(),
                attempts: 1,
                parent_missing: false,
            })
            .collect();
        self.send_dead_letters(&failures, &letters).await?;
        let mut gone: Vec<usize> =
            applied.iter().copied().chain(dead.iter().map(|(i, _)| *i)).chain(orphans.iter().copied()).collect();
        gone.sort_unstable();
        self.parking.remove(&gone);
        info!(
            applied = applied.len(),
            dead_lettered = dead.len(),
            left_out = orphans.len(),
            waiting = self.parking.len(),
            "changes that waited for their parent"
        );
        let checkpoints = self.checkpoints(partitions.clone());
        self.apply_retrying(&[], &checkpoints).await.map_err(|source| self.write_error(&letters, source))?;
        self.release(partitions);
        self.stats.applied.fetch_add(applied.len() as u64, Ordering::Relaxed);
        self.stats.dead_lettered.fetch_add(dead.len() as u64, Ordering::Relaxed);
        self.stats.skipped.fetch_add(orphans.len() as u64, Ordering::Relaxed);
        self.stats.done.fetch_add(gone.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// An event's place, `topic[partition]@offset`, for messages an operator reads.
fn position(m: &OwnedMessage) -> String {
    format!("{}[{}]@{}", m.topic(), m.partition(), m.offset())
}

/// Counts what the conflict rules decided, per table: `dualsync_conflict_decisions_total`; and
/// the rows copied in as new rows: `dualsync_rows_copied_total`.
fn record_decisions(direction: &'static str, decisions: &HashMap<TableName, Decisions>) {
    for (table, d) in decisions {
        if d.copied > 0 {
            metrics::counter!("dualsync_rows_copied_total", "direction" => direction, "table" => table.to_string())
                .increment(d.copied);
        }
        for (decision, count) in [
            ("applied", d.applied),
            ("stale", d.stale),
            ("tie_won", d.ties_won),
            ("tie_lost", d.ties_lost),
            ("resurrection_prevented", d.resurrections_prevented),
            ("identical", d.identical),
            ("collision_settled", d.collisions_settled),
            ("collision_refused", d.collisions.len() as u64),
        ] {
            if count > 0 {
                metrics::counter!("dualsync_conflict_decisions_total", "direction" => direction, "table" => table.to_string(), "decision" => decision)
                    .increment(count);
            }
        }
    }
}

/// The latest offset (the high watermark) of every partition assigned to `kafka`, in one request
/// per broker (`ListOffsets` for the timestamp -1, "latest"); empty when the broker does not
/// answer. (`offsets_for_timestamp(-1)` cannot say this: rdkafka refuses -1 as an offset.)
pub(crate) fn latest_offsets<C: rdkafka::consumer::ConsumerContext>(
    kafka: &impl rdkafka::consumer::Consumer<C>,
) -> BTreeMap<Partition, i64> {
    let mut out = BTreeMap::new();
    let Ok(assignment) = kafka.assignment() else { return out };
    let mut latest = rdkafka::TopicPartitionList::new();
    for e in assignment.elements() {
        if latest.add_partition_offset(e.topic(), e.partition(), rdkafka::Offset::End).is_err() {
            return out;
        }
    }
    if let Ok(answer) = kafka.offsets_for_times(latest, Duration::from_secs(5)) {
        for e in answer.elements() {
            if let rdkafka::Offset::Offset(end) = e.offset() {
                out.insert((e.topic().to_string(), e.partition()), end);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

    use super::*;

    /// The ends a parked change's horizon is taken from: before, the request was refused by
    /// rdkafka itself (-1 is no offset), the ends were always empty, and a new parked change's
    /// wait never started (the third soak stalled with 800 children parked for ever).
    #[test]
    fn latest_offsets_are_the_partitions_high_watermarks() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("t", 2, 1).expect("topic");
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .expect("producer");
        for (partition, count) in [(0, 3), (1, 5)] {
            for _ in 0..count {
                producer.send(BaseRecord::<(), str>::to("t").partition(partition).payload("x")).expect("send");
            }
        }
        producer.flush(Duration::from_secs(10)).expect("flush");
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "g")
            .create()
            .expect("consumer");
        let mut assignment = rdkafka::TopicPartitionList::new();
        assignment.add_partition("t", 0);
        assignment.add_partition("t", 1);
        consumer.assign(&assignment).expect("assign");
        let ends = latest_offsets(&consumer);
        assert_eq!(ends, BTreeMap::from([(("t".to_string(), 0), 3), (("t".to_string(), 1), 5)]));
    }
}
