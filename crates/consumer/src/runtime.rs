//! The consume loop: reads Kafka, routes each partition's events to one of the workers, cuts
//! batches by size or linger time, pauses partitions whose worker falls behind, and on partition
//! revoke or shutdown lets the batches in flight finish and commits their offsets.
//!
//! ```text
//!              ┌─ worker 0 (own connection): partitions p % n == 0, each in order
//! Kafka ─ loop ┤
//!              └─ worker 1 (own connection): partitions p % n == 1, each in order
//! ```

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use dualsync_dlq::DeadLetters;
use dualsync_mapping::{Direction, MappingError};
use dualsync_writer::WriteError;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientConfig, ClientContext, Statistics, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::worker::{Handles, Worker};
use crate::{Config, Health};

/// Counters of what a consumer did, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) consumed: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) redelivered: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) done: AtomicU64,
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
    /// Events sent to the dead-letter topic.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
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
    /// The HTTP endpoints could not listen.
    #[error("http.listen {listen}: {source}")]
    Http {
        /// The address.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
    /// A dead letter could not be written; the batch's offsets are not stored.
    #[error(transparent)]
    DeadLetter(dualsync_dlq::DlqError),
    /// One event of a batch is refused by the target for a reason retrying will not fix, and no
    /// dead-letter topic is configured (the batch's other changes may be applied already; its
    /// offsets are not stored, so they are read again).
    #[error("{event}: the target refuses the change: {error}; fix it (or configure dlq.topic) and restart")]
    Refused {
        /// The event's `topic[partition]@offset`.
        event: String,
        /// The database's refusal.
        error: String,
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

/// What the consume loop, the workers and the rebalance callbacks share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Batches handed to workers and not finished, per (topic, partition).
    in_flight: Mutex<HashMap<(String, i32), usize>>,
    /// Signalled whenever a batch finishes.
    finished: Condvar,
    /// Per (topic, partition), the offset after the last event whose batch is committed in the
    /// target: what a revoke commits.
    done_offsets: Mutex<HashMap<(String, i32), i64>>,
    /// Per (topic, partition), the offset after the last event a worker has handled (applied,
    /// skipped, dead-lettered or parked), not held back by parked changes: how far every worker
    /// has got, for the waits of parked changes.
    handled: Mutex<HashMap<(String, i32), i64>>,
    /// Partitions revoked since the consume loop last looked: it drops their events in hand
    /// (their offsets are not stored, so their next owner reads them).
    revoked: Mutex<Vec<(String, i32)>>,
    /// Bumped at each assignment: workers read the checkpoints again, since another consumer
    /// of the group may have applied events of a partition meanwhile.
    pub(crate) generation: AtomicU64,
    /// How long a revoke waits for the batches in flight.
    deadline: Duration,
}

impl Shared {
    /// Marks events as in flight: a revoke of their partitions waits for them.
    pub(crate) fn started(&self, batch: &[OwnedMessage]) {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        for key in next_offsets(batch).into_keys() {
            *in_flight.entry(key).or_default() += 1;
        }
    }

    /// Records, per partition, the offset up to which everything is committed in the target
    /// (what a revoke commits). Never backwards.
    pub(crate) fn advance(&self, done: &BTreeMap<(String, i32), i64>) {
        let mut done_offsets = self.done_offsets.lock().expect("done-offsets lock");
        for (key, offset) in done {
            let next = done_offsets.entry(key.clone()).or_default();
            *next = (*next).max(*offset);
        }
    }

    /// Records, per partition, the offset after the last event a worker handled. Never backwards.
    pub(crate) fn handled(&self, partition: &(String, i32), next: i64) {
        let mut handled = self.handled.lock().expect("handled lock");
        let slot = handled.entry(partition.clone()).or_default();
        *slot = (*slot).max(next);
    }

    /// How far the workers have handled each partition (see [`Shared::handled`]).
    pub(crate) fn handled_offsets(&self) -> BTreeMap<(String, i32), i64> {
        self.handled.lock().expect("handled lock").iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Marks events in flight as finished, after [`Shared::advance`] for those applied (a
    /// failed batch advances nothing).
    pub(crate) fn finished(&self, batch: &[OwnedMessage]) {
        let offsets = next_offsets(batch);
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        for key in offsets.into_keys() {
            if let Some(n) = in_flight.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    in_flight.remove(&key);
                }
            }
        }
        self.finished.notify_all();
    }

    /// Forgets the batches in flight (their workers were stopped; nothing more will finish).
    fn abandon(&self) {
        self.in_flight.lock().expect("in-flight lock").clear();
        self.finished.notify_all();
    }

    /// Waits until no batch of `revoked` is in flight, at most the deadline; whether it got there.
    fn wait_idle(&self, revoked: &[(String, i32)]) -> bool {
        let in_flight = self.in_flight.lock().expect("in-flight lock");
        let (_in_flight, timeout) = self
            .finished
            .wait_timeout_while(in_flight, self.deadline, |in_flight| revoked.iter().any(|k| in_flight.contains_key(k)))
            .expect("in-flight lock");
        !timeout.timed_out()
    }
}

/// Per (topic, partition) of a batch, the offset after its last event: where a consumer resumes
/// once the batch is done.
pub(crate) fn next_offsets(batch: &[OwnedMessage]) -> BTreeMap<(String, i32), i64> {
    let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in batch {
        let slot = next.entry((m.topic().to_string(), m.partition())).or_default();
        *slot = (*slot).max(m.offset() + 1);
    }
    next
}

/// A partition list with these offsets (the consumer's positions to store or commit).
pub(crate) fn offset_list(offsets: impl IntoIterator<Item = ((String, i32), i64)>) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        if let Err(e) = list.add_partition_offset(&topic, partition, rdkafka::Offset::Offset(offset)) {
            warn!(topic, partition, error = %e, "cannot record offset");
        }
    }
    list
}

/// The Kafka client's callbacks: partition revoke and assignment, statistics (consumer lag).
pub(crate) struct Context {
    shared: Arc<Shared>,
}

impl ClientContext for Context {
    /// Consumer lag per partition, from librdkafka's statistics (`statistics.interval.ms`).
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!("dualsync_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                        .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for Context {
    /// Before partitions leave: lets their batches in flight finish (within the shutdown
    /// deadline) and commits their stored offsets, so their next owner starts right after them.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else { return };
        let revoked: Vec<(String, i32)> =
            list.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
        if revoked.is_empty() {
            return;
        }
        self.shared.revoked.lock().expect("revoked lock").extend(revoked.iter().cloned());
        // The callback runs inside the consume loop's poll; on a multi-threaded runtime the
        // workers keep running meanwhile. (On a single-threaded one they cannot, so it does not
        // wait: the next owner's checkpoint check then skips what they apply.)
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let idle = if multi_thread { tokio::task::block_in_place(|| self.shared.wait_idle(&revoked)) } else { true };
        if !idle {
            warn!(partitions = ?revoked, "revoked partitions still have a batch in flight; its events will be delivered again");
        }
        // Commits the revoked partitions' finished batches explicitly: their workers may not
        // have stored the offsets yet (storing waits for this callback to return).
        let list = {
            let mut done = self.shared.done_offsets.lock().expect("done-offsets lock");
            offset_list(revoked.iter().filter_map(|key| Some((key.clone(), done.remove(key)?))))
        };
        if list.count() > 0
            && let Err(e) = consumer.commit(&list, CommitMode::Sync)
        {
            warn!(error = %e, "commit on revoke failed; the revoked partitions' last events will be delivered again");
        }
        info!(partitions = ?revoked, "partitions revoked; their finished batches are committed");
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
            let assigned: Vec<String> =
                list.elements().iter().map(|e| format!("{}[{}]", e.topic(), e.partition())).collect();
            info!(partitions = ?assigned, "partitions assigned");
        }
    }
}

/// A running consumer: one direction, one target database, several workers.
pub struct Consumer {
    config: Arc<Config>,
    direction: Direction,
    workers: Vec<Worker>,
    /// What `/readyz` reports.
    health: Arc<Health>,
    /// The HTTP listener, bound at start, served while running.
    http: Option<tokio::net::TcpListener>,
    kafka: Arc<StreamConsumer<Context>>,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
}

/// Leaves and rejoins the group when the consumer has held no partition for two session
/// timeouts although no other member is there to hold them. A consumer restarted at once after
/// a crash joins while the group still counts its previous run, and gets nothing until the
/// coordinator gives up on that run and rebalances; the test broker (tansu 0.6.0) sometimes never
/// rebalances then (measured: with a 10 s session, an empty assignment for over 120 s, every
/// time). Rejoining asks for a new assignment; a member that is idle beside others that hold the
/// partitions (more consumers than partitions) is left alone.
struct Rejoin {
    /// How long an empty assignment is waited out first.
    after: Duration,
    /// Since when the consumer has held no partition.
    since: Option<Instant>,
}

impl Rejoin {
    fn new(config: &Config) -> Rejoin {
        let session = config.kafka.options.get("session.timeout.ms").and_then(|v| v.parse().ok()).unwrap_or(10_000);
        Rejoin { after: Duration::from_millis(session) * 2, since: None }
    }

    async fn check(&mut self, assigned: bool, kafka: &Arc<StreamConsumer<Context>>, config: &Config) {
        if assigned {
            self.since = None;
            return;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.after {
            return;
        }
        self.since = Some(Instant::now());
        let (client, group) = (kafka.clone(), config.kafka.group.clone());
        let members = tokio::task::spawn_blocking(move || {
            let groups = client.fetch_group_list(Some(&group), Duration::from_secs(5)).ok()?;
            groups.groups().iter().find(|g| g.name() == group).map(|g| g.members().len())
        })
        .await
        .ok()
        .flatten();
        if members.is_some_and(|n| n > 1) {
            return; // others hold the partitions: an idle member beside them
        }
        warn!(
            waited_s = self.after.as_secs(),
            members = ?members,
            "no partitions assigned and no other group member holds them; rejoining the group"
        );
        metrics::counter!("dualsync_group_rejoins_total").increment(1);
        kafka.unsubscribe();
        let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
        if let Err(e) = kafka.subscribe(&topics) {
            warn!(error = %e, "subscribing again failed; retrying later");
        }
    }
}

/// A lane is full when this many batches wait in it while its worker is busy: the consume loop
/// stops reading (librdkafka's prefetch, capped, then stops fetching) until the worker finishes
/// a batch. This bounds the events held beside the ones librdkafka prefetches.
const FULL_AT_BATCHES: usize = 16;
/// A lane full for this long has its partitions paused, so the loop reads again (for the other
/// lanes, and to stay in the group: librdkafka leaves it when not polled for
/// `max.poll.interval.ms`). Pausing is kept for long stalls because it discards what librdkafka
/// prefetched for those partitions, which is then fetched again.
const HOLD_LIMIT: Duration = Duration::from_secs(20);
/// Paused partitions resume once fewer than this many batches wait.
const RESUME_BELOW_BATCHES: usize = 8;

/// A worker's lane in the consume loop.
struct Lane {
    /// Hands batches to the worker task.
    send: mpsc::Sender<Vec<OwnedMessage>>,
    /// A batch is with the worker.
    busy: bool,
    /// Events waiting for the next batch.
    pending: Vec<OwnedMessage>,
    /// When the pending events must be written, however few.
    flush_at: Option<Instant>,
    /// Partitions paused because this lane is full.
    paused: Vec<(String, i32)>,
}

impl Consumer {
    /// Loads the mapping, connects the workers to the target database and subscribes to the
    /// topics.
    pub async fn start(config: Config, direction: Direction) -> Result<Consumer, ConsumerError> {
        let config = Arc::new(config);
        let shared = Arc::new(Shared { deadline: config.shutdown_timeout(), ..Shared::default() });
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.kafka.brokers)
            .set("group.id", &config.kafka.group)
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // Bounds what librdkafka prefetches: the in-flight memory beside the batches.
            .set("queued.max.messages.kbytes", "16384")
            .set("statistics.interval.ms", "5000")
            // A consumer killed and restarted gets no partitions until the group coordinator gives
            // up on its previous run, after the session timeout: librdkafka's 45 s stalls a
            // crash-restart that long. 10 s still rides out a brief network hiccup (heartbeats
            // every 3 s), and `kafka.instance_id` (static membership) avoids the wait entirely.
            .set("session.timeout.ms", "10000");
        if let Some(instance) = &config.kafka.instance_id {
            client.set("group.instance.id", instance);
        }
        for (key, value) in &config.kafka.options {
            client.set(key, value);
        }
        // Offsets are stored by dualsync after the batch is durable, then committed
        // periodically, on revoke and at shutdown; these settings are not the operator's to change.
        client.set("enable.auto.offset.store", "false").set("enable.auto.commit", "true");
        let kafka: Arc<StreamConsumer<Context>> =
            Arc::new(client.create_with_context(Context { shared: shared.clone() }).map_err(ConsumerError::Kafka)?);
        let http = match &config.http {
            Some(http) => Some(
                tokio::net::TcpListener::bind(&http.listen)
                    .await
                    .map_err(|source| ConsumerError::Http { listen: http.listen.clone(), source })?,
            ),
            None => None,
        };
        crate::http::prometheus();
        let health = Arc::new(Health::default());
        health.target_ok.store(true, Ordering::Relaxed);
        let dead_letters = match &config.dlq {
            Some(dlq) => Some(Arc::new(
                DeadLetters::new(&config.kafka.brokers, &dlq.topic, &config.kafka.options)
                    .map_err(ConsumerError::DeadLetter)?,
            )),
            None => None,
        };
        let stats: Arc<Stats> = Arc::default();
        let mut workers = Vec::with_capacity(config.batch.workers);
        let handles = Handles {
            dead_letters,
            health: health.clone(),
            kafka: kafka.clone(),
            stats: stats.clone(),
            shared: shared.clone(),
        };
        for _ in 0..config.batch.workers {
            workers.push(Worker::new(config.clone(), direction, handles.clone()).await?);
        }
        let topics: Vec<&str> = config.kafka.topics.iter().map(String::as_str).collect();
        kafka.subscribe(&topics).map_err(ConsumerError::Kafka)?;
        info!(direction = direction.name(), group = %config.kafka.group, topics = ?config.kafka.topics, workers = workers.len(), "consumer started");
        Ok(Consumer { config, direction, workers, health, http, kafka, shared, stats })
    }

    /// The consumer's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Where the HTTP endpoints listen, when configured.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Consumes until `shutdown` completes, then lets the batches in hand be written (within the
    /// shutdown deadline), commits the stored offsets and returns. Returns with an error when an
    /// event cannot be decoded, mapped or written and no dead-letter topic is configured; that
    /// event's offset is not committed.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ConsumerError> {
        tokio::pin!(shutdown);
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(listener) = self.http.take() {
            tokio::spawn(crate::http::serve(listener, self.health.clone(), async {
                let _ = http_stopped.await;
            }));
        }
        // Each worker runs as its own task; the loop hands it batches and hears when each is done.
        let (done_send, mut done) = mpsc::unbounded_channel::<(usize, Result<(), ConsumerError>)>();
        let mut lanes = Vec::with_capacity(self.workers.len());
        let mut tasks = tokio::task::JoinSet::new();
        for (index, mut worker) in std::mem::take(&mut self.workers).into_iter().enumerate() {
            let (send, mut receive) = mpsc::channel::<Vec<OwnedMessage>>(1);
            let done_send = done_send.clone();
            let shared = self.shared.clone();
            tasks.spawn(async move {
                // Parked changes (waiting for their parent) are retried once a second too, so a
                // parent applied by another worker is noticed without new events here.
                let mut retry = tokio::time::interval(Duration::from_secs(1));
                loop {
                    let mut batch = tokio::select! {
                        batch = receive.recv() => match batch {
                            Some(batch) => batch,
                            None => break,
                        },
                        _ = retry.tick(), if worker.has_parked() => {
                            if let Err(e) = worker.retry_parked().await {
                                let _ = done_send.send((index, Err(e)));
                                break;
                            }
                            continue;
                        }
                    };
                    let result = worker.flush(&mut batch).await;
                    let failed = result.is_err();
                    if failed {
                        shared.finished(&batch);
                    }
                    let _ = done_send.send((index, result));
                    if failed {
                        break;
                    }
                }
            });
            lanes.push(Lane { send, busy: false, pending: Vec::new(), flush_at: None, paused: Vec::new() });
        }
        let max_events = self.config.batch.max_events;
        let mut health_tick = tokio::time::interval(Duration::from_secs(1));
        let mut rejoin = Rejoin::new(&self.config);
        let mut failure: Option<ConsumerError> = None;
        // Since when a full lane has held the reading back.
        let mut held_since: Option<Instant> = None;
        loop {
            let full = |l: &Lane| l.busy && l.paused.is_empty() && l.pending.len() >= FULL_AT_BATCHES * max_events;
            let holding = lanes.iter().any(full);
            held_since = if holding { held_since.or(Some(Instant::now())) } else { None };
            let hold_limit = async {
                match held_since {
                    Some(since) => tokio::time::sleep_until(since + HOLD_LIMIT).await,
                    None => std::future::pending().await,
                }
            };
            let next_flush = lanes.iter().filter(|l| !l.busy).filter_map(|l| l.flush_at).min();
            let linger = async {
                match next_flush {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = health_tick.tick() => {
                    let assigned = self.kafka.assignment().is_ok_and(|a| a.count() > 0);
                    self.health.assigned.store(assigned, Ordering::Relaxed);
                    rejoin.check(assigned, &self.kafka, &self.config).await;
                }
                Some((index, result)) = done.recv() => {
                    lanes[index].busy = false;
                    if let Err(e) = result {
                        failure = Some(e);
                        break;
                    }
                    let now = Instant::now();
                    let lane = &mut lanes[index];
                    if lane.pending.len() >= max_events || lane.flush_at.is_some_and(|at| at <= now) {
                        self.hand_over(lane);
                    }
                    self.resume(lane);
                }
                () = hold_limit => {
                    for (index, lane) in lanes.iter_mut().enumerate().filter(|(_, l)| full(l)) {
                        self.pause(index, lane);
                    }
                }
                () = linger => {
                    let now = Instant::now();
                    for lane in lanes.iter_mut().filter(|l| !l.busy && l.flush_at.is_some_and(|at| at <= now)) {
                        self.hand_over(lane);
                    }
                }
                received = self.kafka.recv(), if !holding => {
                    match received {
                        Ok(message) => {
                            self.stats.consumed.fetch_add(1, Ordering::Relaxed);
                            let index = lane_of(message.partition(), lanes.len());
                            let lane = &mut lanes[index];
                            lane.pending.push(message.detach());
                            if lane.flush_at.is_none() {
                                lane.flush_at = Some(Instant::now() + self.config.batch.linger());
                            }
                            if !lane.busy && lane.pending.len() >= max_events {
                                self.hand_over(lane);
                            }
                        }
                        // librdkafka reconnects by itself; its errors here are reports, not ends.
                        Err(e) => warn!(error = %e, "kafka consumer error"),
                    }
                    self.drop_revoked(&mut lanes);
                }
            }
        }
        // Shutdown (or a failure): no more reading; write what is in hand within the deadline.
        let deadline = Instant::now() + self.config.shutdown_timeout();
        let finished = tokio::time::timeout_at(deadline, async {
            loop {
                if failure.is_none() {
                    for lane in lanes.iter_mut().filter(|l| !l.busy && !l.pending.is_empty()) {
                        self.hand_over(lane);
                    }
                }
                if lanes.iter().all(|l| !l.busy) {
                    break;
                }
                match done.recv().await {
                    Some((index, result)) => {
                        lanes[index].busy = false;
                        if let Err(e) = result {
                            failure.get_or_insert(e);
                        }
                    }
                    None => break,
                }
            }
        })
        .await;
        if finished.is_err() {
            warn!(
                deadline_ms = self.config.shutdown_timeout().as_millis() as u64,
                "shutdown deadline passed; the batches in hand are not committed and will be delivered again"
            );
        }
        // Stops the workers; a transaction still open rolls back.
        drop(lanes);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        self.shared.abandon();
        self.commit().await;
        let _ = stop_http.send(());
        info!(
            direction = self.direction.name(),
            consumed = self.stats.consumed(),
            applied = self.stats.applied(),
            skipped = self.stats.skipped(),
            "consumer stopped"
        );
        failure.map_or(Ok(()), Err)
    }

    /// Hands the lane's oldest pending events, up to a batch, to its worker.
    fn hand_over(&self, lane: &mut Lane) {
        let size = lane.pending.len().min(self.config.batch.max_events);
        if size == 0 {
            lane.flush_at = None;
            return;
        }
        let batch: Vec<OwnedMessage> = lane.pending.drain(..size).collect();
        lane.flush_at = (!lane.pending.is_empty()).then(|| Instant::now() + self.config.batch.linger());
        self.shared.started(&batch);
        lane.busy = true;
        if let Err(e) = lane.send.try_send(batch) {
            // The worker task ended (it failed; the failure is on its way to the loop).
            warn!(error = %e, "worker stopped; batch not handed over");
        }
    }

    /// Backpressure for long stalls: lane `index` has been full for [`HOLD_LIMIT`], so its
    /// partitions stop fetching until the worker has caught up.
    fn pause(&self, index: usize, lane: &mut Lane) {
        let Ok(assignment) = self.kafka.assignment() else { return };
        let mut list = TopicPartitionList::new();
        for e in assignment.elements() {
            let key = (e.topic().to_string(), e.partition());
            if lane_of(e.partition(), self.config.batch.workers) == index && !lane.paused.contains(&key) {
                list.add_partition(e.topic(), e.partition());
                lane.paused.push(key);
            }
        }
        if list.count() > 0 {
            metrics::counter!("dualsync_partition_pauses_total", "direction" => self.direction.name()).increment(1);
            if let Err(e) = self.kafka.pause(&list) {
                warn!(error = %e, "cannot pause partitions");
            }
        }
    }

    /// Resumes the lane's paused partitions once it has room again.
    fn resume(&self, lane: &mut Lane) {
        if lane.paused.is_empty() || lane.pending.len() >= RESUME_BELOW_BATCHES * self.config.batch.max_events {
            return;
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition) in lane.paused.drain(..) {
            list.add_partition(&topic, partition);
        }
        if let Err(e) = self.kafka.resume(&list) {
            warn!(error = %e, "cannot resume partitions");
        }
    }

    /// Drops the events in hand of partitions revoked meanwhile (their next owner reads them).
    fn drop_revoked(&self, lanes: &mut [Lane]) {
        let revoked = std::mem::take(&mut *self.shared.revoked.lock().expect("revoked lock"));
        if revoked.is_empty() {
            return;
        }
        for lane in lanes {
            lane.pending.retain(|m| !revoked.iter().any(|(t, p)| t == m.topic() && *p == m.partition()));
            lane.paused.retain(|k| !revoked.contains(k));
            if lane.pending.is_empty() {
                lane.flush_at = None;
            }
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

/// The lane (worker) of a partition: the same one for the partition's whole life, so its events
/// are applied in order.
fn lane_of(partition: i32, workers: usize) -> usize {
    partition.unsigned_abs() as usize % workers
}
