//! The dead-letter queue.
//!
//! An event that cannot be applied — undecodable, unmappable, or refused by the target for a
//! reason retrying will not fix — is never dropped and never stops the consumer: it goes to a
//! dead-letter topic with its original key and value bytes unchanged, and headers that say where
//! it came from and why it failed. [`DeadLetters::send`] returns only once the broker has
//! acknowledged the message, so the consumer may then commit the event's offset.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Header names, all prefixed `dualsync.`.
pub mod header {
    /// The topic the event was read from.
    pub const TOPIC: &str = "dualsync.original.topic";
    /// Its partition.
    pub const PARTITION: &str = "dualsync.original.partition";
    /// Its offset.
    pub const OFFSET: &str = "dualsync.original.offset";
    /// Its Kafka timestamp (milliseconds), when it had one.
    pub const TIMESTAMP: &str = "dualsync.original.timestamp";
    /// Where it failed: `decode`, `map` or `write`.
    pub const STAGE: &str = "dualsync.stage";
    /// The error class: `data` (only errors in the data are dead-lettered; the environment's and
    /// the setup's are retried until they pass).
    pub const ERROR_CLASS: &str = "dualsync.error.class";
    /// The error message.
    pub const ERROR_MESSAGE: &str = "dualsync.error.message";
    /// How many attempts were made.
    pub const ATTEMPTS: &str = "dualsync.attempts";
    /// The consumer (its group).
    pub const CONSUMER: &str = "dualsync.consumer";
    /// The dualsync version that wrote it.
    pub const VERSION: &str = "dualsync.version";
}

/// Where in the pipeline an event failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The record could not be decoded.
    Decode,
    /// The event could not be mapped.
    Map,
    /// The target refused the write.
    Write,
    /// A snapshot row (the bootstrap) met a different row stored under its key, and the table's
    /// `sync.bootstrap` is `refuse`: both rows were left as they are (the stored one is in the
    /// error text).
    Collision,
}

impl Stage {
    /// The header value.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Map => "map",
            Stage::Write => "write",
            Stage::Collision => "collision",
        }
    }
}

/// One event that cannot be applied, with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter<'a> {
    /// The original key bytes.
    pub key: Option<&'a [u8]>,
    /// The original value bytes.
    pub value: Option<&'a [u8]>,
    /// The topic it was read from.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its Kafka timestamp, milliseconds.
    pub timestamp: Option<i64>,
    /// Where it failed.
    pub stage: Stage,
    /// Why.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// The consumer (group) that gave up on it.
    pub consumer: &'a str,
}

/// Why a dead letter could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The producer could not be created.
    #[error("dead-letter producer: {0}")]
    Client(#[source] rdkafka::error::KafkaError),
    /// The broker did not acknowledge the message.
    #[error("writing to the dead-letter topic {topic}: {source}")]
    Send {
        /// The dead-letter topic.
        topic: String,
        /// The broker's error.
        source: rdkafka::error::KafkaError,
    },
}

/// The dead-letter topic's producer (idempotent: a retried send is written once).
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

/// How long a send may wait in the producer queue when it is full.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

impl DeadLetters {
    /// A producer for `topic` on `brokers`, with extra librdkafka `options` (security settings).
    pub fn new<'o>(
        brokers: &str,
        topic: &str,
        options: impl IntoIterator<Item = (&'o String, &'o String)>,
    ) -> Result<DeadLetters, DlqError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        for (key, value) in options {
            // Consumer-only settings would make the producer fail; the rest applies to both.
            if !key.starts_with("session.") && !key.starts_with("group.") && !key.starts_with("auto.") {
                config.set(key, value);
            }
        }
        config.set("enable.idempotence", "true");
        let producer = config.create().map_err(DlqError::Client)?;
        Ok(DeadLetters { producer, topic: topic.to_string() })
    }

    /// The dead-letter topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes one dead letter and waits until the broker acknowledged it.
    pub async fn send(&self, letter: &DeadLetter<'_>) -> Result<(), DlqError> {
        let (partition, offset) = (letter.partition.to_string(), letter.offset.to_string());
        let (timestamp, attempts) = (letter.timestamp.map(|t| t.to_string()), letter.attempts.to_string());
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: header::TOPIC, value: Some(letter.topic) })
            .insert(Header { key: header::PARTITION, value: Some(&partition) })
            .insert(Header { key: header::OFFSET, value: Some(&offset) })
            .insert(Header { key: header::STAGE, value: Some(letter.stage.name()) })
            .insert(Header { key: header::ERROR_CLASS, value: Some("data") })
            .insert(Header { key: header::ERROR_MESSAGE, value: Some(&letter.error) })
            .insert(Header { key: header::ATTEMPTS, value: Some(&attempts) })
            .insert(Header { key: header::CONSUMER, value: Some(letter.consumer) })
            .insert(Header { key: header::VERSION, value: Some(env!("CARGO_PKG_VERSION")) });
        if let Some(timestamp) = &timestamp {
            headers = headers.insert(Header { key: header::TIMESTAMP, value: Some(timestamp) });
        }
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).headers(headers);
        if let Some(key) = letter.key {
            record = record.key(key);
        }
        if let Some(value) = letter.value {
            record = record.payload(value);
        }
        self.producer
            .send(record, QUEUE_TIMEOUT)
            .await
            .map(drop)
            .map_err(|(source, _)| DlqError::Send { topic: self.topic.clone(), source })
    }
}
