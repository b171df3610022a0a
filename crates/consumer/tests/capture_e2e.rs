//! The whole two-way pipeline with dualsync's own capture: MariaDB and PostgreSQL each captured
//! into the broker, each consumer writing into the other side, and no change echoing back.

mod common;

use std::time::Duration;

use common::{temp_dir, wait_until, write_config};
use dualsync_capture::CaptureConfig;
use dualsync_consumer::{Config, Consumer, Direction};
use dualsync_testkit::{Kind, TestDb, create_topic, end_offset, rows};

fn capture(db: &TestDb) -> CaptureConfig {
    let source = dualsync_testkit::server_url(db.kind);
    let mut config = CaptureConfig::new(&dualsync_testkit::unique("cap"), &source, &dualsync_testkit::kafka_brokers());
    config.include = vec![format!("{}.*", db.namespace)];
    config.snapshot = dualsync_capture::SnapshotMode::Never;
    // The test broker (tansu 0.6.0) numbers a multi-record batch wrongly: one record per batch.
    config.producer.insert("batch.num.messages".into(), "1".into());
    config
}

async fn start_capture(config: CaptureConfig) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let offsets = config.offsets_topic();
    let task =
        tokio::spawn(
            async move { dualsync_capture::run(config, stopped, Default::default()).await.expect("capture runs") },
        );
    wait_until(60, "the capture stored its first offset", || {
        let offsets = offsets.clone();
        async move { end_offset(&offsets) > 0 }
    })
    .await;
    (stop, task)
}

/// A running consumer: how to stop it, and its task.
type RunningConsumer =
    (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), dualsync_consumer::ConsumerError>>);
/// A running capture: how to stop it, and its task.
type RunningCapture = (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// Stops the consumers, then the captures, and drops the PostgreSQL capture's slot and
/// publication.
async fn stop_all(
    consumers: Vec<RunningConsumer>,
    captures: [RunningCapture; 2],
    revamp: &TestDb,
    slot: &str,
    publication: &str,
) {
    for (stop, task) in consumers {
        let _ = stop.send(());
        task.await.expect("consumer task").expect("consumer run");
    }
    for (stop, task) in captures {
        let _ = stop.send(true);
        task.await.expect("capture");
    }
    revamp
        .exec(&format!(
            "SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active"
        ))
        .await;
    revamp.exec(&format!("DROP PUBLICATION IF EXISTS \"{publication}\"")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_travel_both_ways_and_never_echo() {
    let legacy = TestDb::new(Kind::MySql).await;
    let revamp = TestDb::new(Kind::Postgres).await;
    legacy.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50))", legacy.qualified("items"))).await;
    revamp.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50))", revamp.qualified("items"))).await;
    let (legacy_capture, revamp_capture) = (capture(&legacy), capture(&revamp));
    let legacy_topic = format!("{}.{}.items", legacy_capture.prefix(), legacy.namespace);
    let revamp_topic = format!("{}.{}.items", revamp_capture.prefix(), revamp.namespace);
    create_topic(&legacy_topic, 1).await;
    create_topic(&revamp_topic, 1).await;
    let slot = revamp_capture.slot();
    let publication = revamp_capture.publication();
    let (stop_legacy, legacy_task) = start_capture(legacy_capture).await;
    let (stop_revamp, revamp_task) = start_capture(revamp_capture).await;

    let mapping = format!(
        "version: 1\ntables:\n  - legacy: {}.items\n    revamp: {}.items\n",
        legacy.namespace, revamp.namespace
    );
    let to_revamp = write_config(&temp_dir(), &legacy_topic, &revamp, &mapping);
    let to_legacy = write_config(&temp_dir(), &revamp_topic, &legacy, &mapping);
    let mut consumers = Vec::new();
    for (config, direction) in [(to_revamp, Direction::LegacyToRevamp), (to_legacy, Direction::RevampToLegacy)] {
        let consumer = Consumer::start(Config::load(&config).expect("config"), direction).await.expect("start");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(consumer.run(async {
            let _ = stopped.await;
        }));
        consumers.push((stop, task));
    }

    let both = |expected: Vec<Vec<Option<String>>>| {
        let (legacy, revamp, expected) = (&legacy, &revamp, expected);
        async move {
            let on_legacy = format!("SELECT CAST(id AS CHAR), name FROM {} ORDER BY id", legacy.qualified("items"));
            let on_revamp = format!("SELECT id::text, name FROM {} ORDER BY id", revamp.qualified("items"));
            legacy.rows(&on_legacy).await == expected && revamp.rows(&on_revamp).await == expected
        }
    };
    revamp.exec(&format!("INSERT INTO {} VALUES (1, 'made in the revamp')", revamp.qualified("items"))).await;
    legacy.exec(&format!("INSERT INTO {} VALUES (2, 'made in legacy')", legacy.qualified("items"))).await;
    wait_until(180, "both inserts on both sides", || {
        both(rows(&[&["1", "made in the revamp"], &["2", "made in legacy"]]))
    })
    .await;
    revamp.exec(&format!("UPDATE {} SET name = 'renamed in the revamp' WHERE id = 2", revamp.qualified("items"))).await;
    legacy.exec(&format!("DELETE FROM {} WHERE id = 1", legacy.qualified("items"))).await;
    wait_until(180, "the update and the delete on both sides", || both(rows(&[&["2", "renamed in the revamp"]]))).await;

    // Each side's topic holds only its applications' changes: the revamp's insert and update,
    // legacy's insert and delete (+ tombstone). The consumers' writes were not captured.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(end_offset(&revamp_topic), 2, "the revamp capture saw only the revamp's two changes");
    assert_eq!(end_offset(&legacy_topic), 3, "the legacy capture saw only legacy's two changes (and a tombstone)");

    stop_all(consumers, [(stop_legacy, legacy_task), (stop_revamp, revamp_task)], &revamp, &slot, &publication).await;
}

/// A delete whose commit time is older than the row it deleted (MySQL binlog times have whole
/// seconds, PostgreSQL commit times milliseconds, and an application's clock may run ahead: here
/// each row is stamped 2 s ahead) must still delete the row on the other side. Before the fix the
/// delete carried its commit time, lost to the row's newer time there, and the row stayed for ever
/// on one side only. PostgreSQL keeps its default replica identity, so its delete event carries
/// the key alone: the exact time comes from the delete trigger's row in the tombstone table,
/// captured in the same transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_wins_over_the_row_it_deleted_both_ways() {
    use dualsync_conflict::{Guard, Kind as Conflict};
    let legacy = TestDb::new(Kind::MySql).await;
    let revamp = TestDb::new(Kind::Postgres).await;
    legacy
        .exec(&format!(
            "CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50), modified DATETIME(6))",
            legacy.qualified("items")
        ))
        .await;
    revamp
        .exec(&format!(
            "CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50), modified TIMESTAMP(6))",
            revamp.qualified("items")
        ))
        .await;
    let guard = Guard { kind: Conflict::Timestamp, column: "modified".into(), incoming_wins_ties: false };
    for db in [&legacy, &revamp] {
        let mut writer = dualsync_writer::Writer::connect(&db.url).await.expect("writer");
        let items = dualsync_mapping::TableName { namespace: Some(db.namespace.clone()), name: "items".into() };
        writer.install_tombstone_trigger(&items, &guard, "UTC").await.expect("delete trigger");
    }
    let (legacy_capture, revamp_capture) = (capture(&legacy), capture(&revamp));
    let topics =
        |prefix: &str, ns: &str| [format!("{prefix}.{ns}.items"), format!("{prefix}.{ns}.dualsync_tomb_items")];
    let legacy_topics = topics(legacy_capture.prefix(), &legacy.namespace);
    let revamp_topics = topics(revamp_capture.prefix(), &revamp.namespace);
    for topic in legacy_topics.iter().chain(&revamp_topics) {
        create_topic(topic, 1).await;
    }
    let (slot, publication) = (revamp_capture.slot(), revamp_capture.publication());
    let (stop_legacy, legacy_task) = start_capture(legacy_capture).await;
    let (stop_revamp, revamp_task) = start_capture(revamp_capture).await;

    let mapping = format!(
        "version: 1\ntables:\n  - legacy: {}.items\n    revamp: {}.items\n    sync:\n      conflict: {{kind: timestamp, legacy: modified, revamp: modified, tie: legacy}}\n",
        legacy.namespace, revamp.namespace
    );
    let mut consumers = Vec::new();
    for (topics, target, direction) in
        [(&legacy_topics, &revamp, Direction::LegacyToRevamp), (&revamp_topics, &legacy, Direction::RevampToLegacy)]
    {
        let config = write_config(&temp_dir(), &topics[0], target, &mapping);
        let text = std::fs::read_to_string(&config).expect("config");
        std::fs::write(
            &config,
            text.replace(&format!("topics: [{}]", topics[0]), &format!("topics: [{}, {}]", topics[0], topics[1])),
        )
        .expect("config");
        let consumer = Consumer::start(Config::load(&config).expect("config"), direction).await.expect("start");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(consumer.run(async {
            let _ = stopped.await;
        }));
        consumers.push((stop, task));
    }
    async fn ids(db: &TestDb) -> Vec<Vec<Option<String>>> {
        let sql = match db.kind {
            Kind::MySql => format!("SELECT CAST(id AS CHAR) FROM {} ORDER BY id", db.qualified("items")),
            Kind::Postgres => format!("SELECT id::text FROM {} ORDER BY id", db.qualified("items")),
        };
        db.rows(&sql).await
    }
    let on_both = |expected: Vec<Vec<Option<String>>>| {
        let (legacy, revamp) = (&legacy, &revamp);
        async move { ids(legacy).await == expected && ids(revamp).await == expected }
    };
    // GIVEN a row from each side, stamped 2 s ahead, synced to the other side
    revamp
        .exec(&format!(
            "INSERT INTO {} VALUES (1, 'revamp', (clock_timestamp() AT TIME ZONE 'UTC') + interval '2 seconds')",
            revamp.qualified("items")
        ))
        .await;
    legacy
        .exec(&format!(
            "INSERT INTO {} VALUES (2, 'legacy', UTC_TIMESTAMP(6) + INTERVAL 2 SECOND)",
            legacy.qualified("items")
        ))
        .await;
    wait_until(180, "both rows on both sides", || on_both(rows(&[&["1"], &["2"]]))).await;
    // WHEN each side deletes its row at once
    revamp.exec(&format!("DELETE FROM {} WHERE id = 1", revamp.qualified("items"))).await;
    legacy.exec(&format!("DELETE FROM {} WHERE id = 2", legacy.qualified("items"))).await;
    // THEN both rows are gone from both sides
    wait_until(180, "both deletes on both sides", || on_both(Vec::new())).await;

    stop_all(consumers, [(stop_legacy, legacy_task), (stop_revamp, revamp_task)], &revamp, &slot, &publication).await;
}
