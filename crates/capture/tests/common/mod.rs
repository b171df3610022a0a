//! Helpers for the capture tests: run a capture in-process against the real services and read
//! what it wrote.

#![allow(dead_code)]

use std::time::Duration;

use dualsync_capture::CaptureConfig;
use dualsync_envelope::{ChangeEvent, Decoded};
use dualsync_testkit::Kind;
use dualsync_testkit::TestDb;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use tokio::sync::watch;

/// A capture running in a task of this test.
pub struct Running {
    pub config: CaptureConfig,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), dualsync_capture::CaptureError>>,
}

/// A capture configuration for the tables of `db`, named uniquely.
pub fn config(db: &TestDb) -> CaptureConfig {
    let name = dualsync_testkit::unique("cap");
    let source = match db.kind {
        Kind::MySql => dualsync_testkit::mysql_url(),
        Kind::Postgres => dualsync_testkit::pg_url(),
    };
    let mut config = CaptureConfig::new(&name, &source, &dualsync_testkit::kafka_brokers());
    config.include = vec![format!("{}.*", db.namespace)];
    // The test broker (tansu 0.6.0) gives a multi-record batch fewer offsets than records, so a
    // topic's end offset no longer counts its records: one record per batch keeps them equal.
    config.producer.insert("batch.num.messages".into(), "1".into());
    config
}

impl Running {
    /// Starts `config` and waits until it stored its first offset (it then captures every
    /// change committed from now on).
    pub async fn start(config: CaptureConfig) -> Running {
        // DUALSYNC_LOG=debug shows what the capture does.
        if let Ok(filter) = std::env::var("DUALSYNC_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(dualsync_capture::run(config.clone(), stopped, Default::default()));
        let running = Running { config, stop, task };
        running.wait_for_offsets(1).await;
        running
    }

    /// Waits until the offsets topic holds at least `count` records.
    pub async fn wait_for_offsets(&self, count: i64) {
        let topic = self.config.offsets_topic();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            assert!(!self.task.is_finished(), "the capture stopped early");
            if high_watermark(&topic) >= count {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the capture stored no offset in 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops it and returns how it ended.
    pub async fn stop(self) -> Result<(), dualsync_capture::CaptureError> {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the capture stops within 30 s")
            .expect("no panic")
    }

    /// Stops it without waiting for anything: as close to kill -9 as a task gets.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// The high watermark of partition 0 of `topic` (0 when it does not exist yet).
pub fn high_watermark(topic: &str) -> i64 {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", dualsync_testkit::kafka_brokers()).create().expect("consumer");
    consumer.fetch_watermarks(topic, 0, Duration::from_secs(5)).map(|(_, high)| high).unwrap_or(0)
}

/// The first `count` records of `topic`, decoded; tombstones are `None`.
pub async fn changes(topic: &str, count: usize) -> Vec<Option<ChangeEvent>> {
    // Wait until the broker has them all (the capture also creates the topic with its first record).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while high_watermark(topic) < count as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic} has {} of {count} records after 60 s",
            high_watermark(topic)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    dualsync_testkit::read_records(topic, count)
        .await
        .iter()
        .map(|m| {
            use rdkafka::Message as _;
            match dualsync_envelope::decode(m.key(), m.payload()).unwrap_or_else(|e| panic!("decoding {topic}: {e}")) {
                Decoded::Change(change) => Some(change),
                Decoded::Tombstone { .. } => None,
                other => panic!("unexpected record {other:?}"),
            }
        })
        .collect()
}

/// Drops a PostgreSQL capture's slot and publication.
pub async fn drop_pg_slot(config: &CaptureConfig) {
    let db = TestDb { kind: Kind::Postgres, namespace: String::new(), url: dualsync_testkit::pg_url() };
    db.exec(&format!(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{}' AND NOT active",
        config.slot()
    ))
    .await;
    db.exec(&format!("DROP PUBLICATION IF EXISTS \"{}\"", config.publication())).await;
}
