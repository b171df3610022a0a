//! Test support for dualsync: connection settings of the real local services, a fresh database,
//! schema or topic per test (named by a UUID, so tests run in parallel and in any order), and the
//! shared Debezium fixtures.
//!
//! The services are started by `testing/services.sh up`, which also prints the environment
//! variables read here; `testing/test.sh` does both before running the tests.

use std::path::PathBuf;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};

mod db;
pub mod debezium;
pub use db::{Kind, TestDb};

fn setting(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: these tests need the real services. Run `testing/test.sh`, or \
             `testing/services.sh up && eval \"$(testing/services.sh env)\"` before `cargo test`."
        )
    })
}

/// The MariaDB/MySQL URL of the test database (`DUALSYNC_TEST_MYSQL_URL`).
pub fn mysql_url() -> String {
    setting("DUALSYNC_TEST_MYSQL_URL")
}

/// The MariaDB that real Debezium's MySQL connector reads (`DUALSYNC_TEST_MYSQL_DEBEZIUM_URL`):
/// it reports its version as `5.5.5-…`, which the connector needs and dualsync's own capture
/// cannot read (see `testing/services.sh`).
pub fn debezium_mysql_url() -> String {
    setting("DUALSYNC_TEST_MYSQL_DEBEZIUM_URL")
}

/// The PostgreSQL URL of the test database (`DUALSYNC_TEST_PG_URL`).
pub fn pg_url() -> String {
    setting("DUALSYNC_TEST_PG_URL")
}

/// The test server URL of `kind` (without a database of the test's own): [`mysql_url`] or
/// [`pg_url`].
pub fn server_url(kind: Kind) -> String {
    match kind {
        Kind::MySql => mysql_url(),
        Kind::Postgres => pg_url(),
    }
}

/// The Kafka bootstrap servers (`DUALSYNC_TEST_KAFKA`).
pub fn kafka_brokers() -> String {
    setting("DUALSYNC_TEST_KAFKA")
}

/// A name no other test uses: `prefix_` followed by a UUID without dashes.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The high watermark of partition 0 of `topic` (0 when it cannot be read): how many records a
/// one-partition topic holds.
pub fn end_offset(topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().expect("consumer");
    consumer.fetch_watermarks(topic, 0, Duration::from_secs(5)).map(|(_, high)| high).unwrap_or(0)
}

/// Creates a topic with `partitions` partitions (the test broker does not create topics itself).
pub async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().expect("admin client");
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))))
        .await
        .expect("create topic");
    for result in results {
        result.unwrap_or_else(|(topic, code)| panic!("creating topic {topic}: {code}"));
    }
}

/// A Kafka record: key and value bytes, either of which may be absent (a tombstone has no value).
pub type Record = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Produces records to partition 0 of `topic` on the test broker, in order, and waits until the
/// broker acknowledged each of them.
pub async fn produce(topic: &str, records: &[Record]) {
    produce_to(&kafka_brokers(), topic, records).await;
}

/// Produces records to partition 0 of `topic` on `brokers`, in order, each acknowledged.
pub async fn produce_to(brokers: &str, topic: &str, records: &[Record]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for (key, value) in records {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).partition(0);
        if let Some(key) = key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = value {
            record = record.payload(value.as_slice());
        }
        producer.send(record, Duration::from_secs(30)).await.unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
    }
}

/// Produces records to the given partitions of `topic`, many at a time (the idempotent producer
/// keeps each partition's order), and waits until the broker acknowledged all of them. Each
/// record travels in a batch of its own: tansu 0.6.0 cannot fetch from an offset inside a
/// multi-record batch (a consumer resuming there stalls), and consumers resume mid-topic.
pub async fn produce_partitioned(topic: &str, records: &[(i32, Record)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("batch.num.messages", "1")
        .create()
        .expect("producer");
    for chunk in records.chunks(5000) {
        let mut deliveries = Vec::with_capacity(chunk.len());
        for (partition, (key, value)) in chunk {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).partition(*partition);
            if let Some(key) = key {
                record = record.key(key.as_slice());
            }
            if let Some(value) = value {
                record = record.payload(value.as_slice());
            }
            deliveries.push(producer.send_result(record).unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}")));
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => panic!("produce to {topic}: {e}"),
                Err(_) => panic!("produce to {topic}: the producer went away"),
            }
        }
    }
}

/// The offsets consumer group `group` committed for partitions `0..partitions` of `topic`
/// (`-1` where none).
pub fn committed_offsets(group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut list = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(list, Duration::from_secs(30)).expect("committed offsets");
    (0..partitions)
        .map(|p| match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(rdkafka::Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// The folder of the shared Debezium fixtures (`shared/fixtures/debezium` beside the checkout, or
/// `DUALSYNC_FIXTURES`).
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("DUALSYNC_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/debezium"))
}

/// The non-empty lines of a fixture file, e.g. `flink/debezium-data-schema-include.txt`.
pub fn fixture_lines(relative: &str) -> Vec<String> {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// Rows written compactly for assertions, from string slices where `"NULL"` stands for SQL NULL.
pub fn rows(expected: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    expected.iter().map(|r| r.iter().map(|v| (*v != "NULL").then(|| v.to_string())).collect()).collect()
}

/// Reads the first `count` records of `topic` from the start (with a group of its own), waiting
/// up to 60 s for them.
pub async fn read_records(topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
    use rdkafka::Message as _;
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", unique("reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        // Whole record batches per fetch: the test broker stalls a reader whose position falls
        // inside a multi-record batch.
        .set("max.partition.fetch.bytes", "104857600")
        .set("fetch.max.bytes", "104857600")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::with_capacity(count);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while out.len() < count {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => out.push(message.detach()),
            Ok(Err(e)) => panic!("reading {topic}: {e}"),
            Err(_) => panic!("only {} of {count} records arrived on {topic} in 60 s", out.len()),
        }
    }
    out.sort_by_key(|m| m.offset());
    out
}
