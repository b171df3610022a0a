//! Writing to Kafka: an idempotent producer, topics created on first use, and offsets stored
//! only once the broker acknowledged every record before them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode as Code;
use serde_json::Value as Json;
use tokio::sync::{mpsc, watch};

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::CaptureConfig;
use crate::debezium::Record;
use crate::{CaptureError, Stats};

/// Records waiting for their acknowledgement at most; more makes `send` wait.
const IN_FLIGHT: usize = 200_000;
/// Streaming offsets are written at most this often (and once more when the capture stops);
/// snapshot progress at once.
const OFFSET_EVERY: Duration = Duration::from_secs(1);

enum Pending {
    Delivery(DeliveryFuture),
    Position(Json),
}

/// The Kafka side of a capture.
pub struct Sink {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    topics: HashSet<String>,
    partitions: i32,
    pending: mpsc::Sender<Pending>,
    acker: Option<tokio::task::JoinHandle<Result<(), CaptureError>>>,
    acked: watch::Receiver<Option<Json>>,
}

/// A producer with the settings the capture needs (idempotent, all replicas acknowledge).
fn producer_config(config: &CaptureConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("message.timeout.ms", "300000");
    for (key, value) in &config.producer {
        client.set(key, value);
    }
    client
}

impl Sink {
    /// Connects, creates the offsets topic if it is missing, and reads the last stored offset.
    pub async fn connect(config: &CaptureConfig, stats: Arc<Stats>) -> Result<(Sink, Option<Json>), CaptureError> {
        let client = producer_config(config);
        let producer: FutureProducer = client.create().map_err(|e| CaptureError::kafka("creating the producer", e))?;
        let admin: AdminClient<DefaultClientContext> =
            client.create().map_err(|e| CaptureError::kafka("creating the admin client", e))?;
        let offsets_topic = config.offsets_topic();
        let (pending, receiver) = mpsc::channel(IN_FLIGHT);
        let (acked_sender, acked) = watch::channel(None);
        let mut sink = Sink {
            producer: producer.clone(),
            admin,
            topics: HashSet::new(),
            partitions: config.topic_partitions,
            pending,
            acker: None,
            acked,
        };
        sink.ensure_topic_with(&offsets_topic, 1).await?;
        let last = read_offset(config, &offsets_topic).await?;
        let acker = Acker {
            producer,
            topic: offsets_topic,
            key: config.name.clone(),
            acked: acked_sender,
            stored: last.clone(),
            stats,
        };
        sink.acker = Some(tokio::spawn(acker.run(receiver)));
        Ok((sink, last))
    }

    /// Creates `topic` with the configured partitions if it does not exist yet.
    pub async fn ensure_topic(&mut self, topic: &str) -> Result<(), CaptureError> {
        self.ensure_topic_with(topic, self.partitions).await
    }

    async fn ensure_topic_with(&mut self, topic: &str, partitions: i32) -> Result<(), CaptureError> {
        if self.topics.contains(topic) {
            return Ok(());
        }
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results =
            self.admin.create_topics([&new], &options).await.map_err(|e| CaptureError::kafka("creating topics", e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, Code::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(CaptureError::Kafka(format!(
                        "creating topic {topic}: {code}; create it yourself or grant the capture CREATE on the cluster"
                    )));
                }
            }
        }
        self.topics.insert(topic.to_string());
        Ok(())
    }

    /// Hands `records` to the producer. `flagged` adds the header `dualsync.writer: 1`.
    pub async fn send(&mut self, records: Vec<Record>, flagged: bool) -> Result<(), CaptureError> {
        for record in records {
            self.ensure_topic(&record.topic).await?;
            loop {
                let mut future = FutureRecord::<[u8], [u8]>::to(&record.topic);
                if let Some(key) = &record.key {
                    future = future.key(key);
                }
                if let Some(value) = &record.value {
                    future = future.payload(value);
                }
                if flagged {
                    future =
                        future.headers(OwnedHeaders::new().insert(Header { key: "dualsync.writer", value: Some("1") }));
                }
                match self.producer.send_result(future) {
                    Ok(delivery) => {
                        self.pending.send(Pending::Delivery(delivery)).await.map_err(|_| self.acker_failed())?;
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((e, _)) => return Err(CaptureError::kafka(&format!("producing to {}", record.topic), e)),
                }
            }
        }
        Ok(())
    }

    /// Marks a point the capture may resume from once everything sent before it is acknowledged.
    pub async fn position(&mut self, position: Json) -> Result<(), CaptureError> {
        self.pending.send(Pending::Position(position)).await.map_err(|_| self.acker_failed())
    }

    /// The last position whose records are all acknowledged.
    pub fn acked(&self) -> watch::Receiver<Option<Json>> {
        self.acked.clone()
    }

    fn acker_failed(&self) -> CaptureError {
        CaptureError::Kafka("the broker stopped acknowledging records (see the error logged before)".into())
    }

    /// Waits for every record to be acknowledged and stores the last position.
    pub async fn close(mut self) -> Result<(), CaptureError> {
        let acker = self.acker.take();
        drop(self.pending);
        match acker {
            Some(acker) => acker.await.map_err(|e| CaptureError::Kafka(format!("acknowledgement task: {e}")))?,
            None => Ok(()),
        }
    }
}

/// Awaits acknowledgements in order and writes positions to the offsets topic.
struct Acker {
    producer: FutureProducer,
    topic: String,
    key: String,
    acked: watch::Sender<Option<Json>>,
    stored: Option<Json>,
    stats: Arc<Stats>,
}

impl Acker {
    async fn run(mut self, mut receiver: mpsc::Receiver<Pending>) -> Result<(), CaptureError> {
        let mut latest: Option<Json> = None;
        let mut last_write = Instant::now();
        while let Some(pending) = receiver.recv().await {
            match pending {
                Pending::Delivery(delivery) => match delivery.await {
                    Ok(Ok(_)) => {
                        self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err((e, message))) => {
                        let error = CaptureError::kafka(&format!("delivering to {}", message.topic()), e);
                        tracing::error!(%error, "a record was not acknowledged; stopping so the capture resumes from the last stored offset");
                        return Err(error);
                    }
                    Err(_) => return Err(CaptureError::Kafka("the producer was dropped".into())),
                },
                Pending::Position(position) => {
                    self.acked.send_replace(Some(position.clone()));
                    // Snapshot progress is stored at once: a restart must not read a finished
                    // snapshot again. Streaming positions are stored at most once per interval.
                    let progressed = self.stored.as_ref().is_none_or(|s| s["snapshot"] != position["snapshot"]);
                    latest = Some(position);
                    if progressed || last_write.elapsed() >= OFFSET_EVERY {
                        self.store(latest.take()).await?;
                        last_write = Instant::now();
                    }
                }
            }
        }
        self.store(latest).await
    }

    async fn store(&mut self, position: Option<Json>) -> Result<(), CaptureError> {
        let Some(position) = position else { return Ok(()) };
        if self.stored.as_ref() == Some(&position) {
            return Ok(());
        }
        let value = position.to_string();
        let record = FutureRecord::to(&self.topic).key(&self.key).payload(&value).partition(0);
        self.producer
            .send(record, Duration::from_secs(60))
            .await
            .map_err(|(e, _)| CaptureError::kafka(&format!("storing the offset in {}", self.topic), e))?;
        self.stored = Some(position);
        Ok(())
    }
}

/// The last offset stored for this capture, reading the offsets topic to its end.
async fn read_offset(config: &CaptureConfig, topic: &str) -> Result<Option<Json>, CaptureError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.kafka)
        .set("group.id", format!("dualsync-capture-offsets-{}", config.name))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(|e| CaptureError::kafka("creating the offsets reader", e))?;
    let topic = topic.to_string();
    let key = config.name.clone();
    tokio::task::spawn_blocking(move || {
        let (low, high) = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(30))
            .map_err(|e| CaptureError::kafka(&format!("reading the offsets topic {topic}"), e))?;
        if high <= low {
            return Ok(None);
        }
        let mut assignment = rdkafka::TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, rdkafka::Offset::Beginning)
            .map_err(|e| CaptureError::kafka("assigning the offsets topic", e))?;
        consumer.assign(&assignment).map_err(|e| CaptureError::kafka("assigning the offsets topic", e))?;
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if Instant::now() > deadline {
                return Err(CaptureError::Kafka(format!(
                    "reading the offsets topic {topic} to its end ({high}) took over 60 s"
                )));
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
            let message = message.map_err(|e| CaptureError::kafka(&format!("reading {topic}"), e))?;
            if message.key() == Some(key.as_bytes())
                && let Some(payload) = message.payload()
            {
                last = Some(serde_json::from_slice(payload).map_err(|e| {
                    CaptureError::Kafka(format!("offset record at {topic}[0]@{} is not JSON: {e}", message.offset()))
                })?);
            }
            if message.offset() + 1 >= high {
                return Ok(last);
            }
        }
    })
    .await
    .map_err(|e| CaptureError::Kafka(format!("offsets reader: {e}")))?
}
