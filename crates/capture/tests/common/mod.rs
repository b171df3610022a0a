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
    let source = dualsync_testkit::server_url(db.kind);
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while high_watermark(topic) < count as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic} has {} of {count} records after 180 s",
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

/// With transaction metadata and `writer_transactions: flag`: the writer's transaction is
/// written with the `dualsync.writer` header, an application's without, and each carries its
/// `transaction` block and BEGIN/END records, as Debezium's `provide.transaction.metadata` does.
pub async fn transaction_metadata_and_flagged_writer_transactions(db: TestDb) {
    use rdkafka::Message as _;
    use rdkafka::message::Headers as _;
    for table in ["a", "b"] {
        db.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50))", db.qualified(table))).await;
    }
    let mut config = config(&db);
    config.transaction_metadata = true;
    config.writer_transactions = dualsync_capture::WriterTransactions::Flag;
    let capture = Running::start(config.clone()).await;
    let mut writer = dualsync_writer::Writer::connect(&db.url).await.expect("writer");
    let mut row = dualsync_envelope::Row::default();
    row.set("id", dualsync_envelope::Value::Int(1));
    row.set("name", dualsync_envelope::Value::Text("from the other side".into()));
    let table = dualsync_mapping::TableName { namespace: Some(db.namespace.clone()), name: "a".into() };
    let change = dualsync_mapping::RowChange { table, kind: dualsync_mapping::RowChangeKind::Upsert(row) };
    writer.apply(&[change], &[]).await.expect("writer apply");
    let (a, b) = (db.qualified("a"), db.qualified("b"));
    db.exec(&format!("BEGIN; INSERT INTO {a} VALUES (2, 'x'); INSERT INTO {b} VALUES (1, 'y'); INSERT INTO {a} VALUES (3, 'z'); COMMIT"))
        .await;
    let topic_a = format!("{}.{}.a", config.prefix(), db.namespace);
    changes(&topic_a, 3).await;
    let records = dualsync_testkit::read_records(&topic_a, 3).await;
    let flagged: Vec<bool> = records
        .iter()
        .map(|r| {
            r.headers().is_some_and(|h| h.iter().any(|h| h.key == "dualsync.writer" && h.value == Some(&b"1"[..])))
        })
        .collect();
    assert_eq!(flagged, [true, false, false], "only the writer's record is flagged");
    let events: Vec<ChangeEvent> = records
        .iter()
        .map(|r| match dualsync_envelope::decode(r.key(), r.payload()).expect("decodes") {
            Decoded::Change(c) => c,
            other => panic!("{other:?}"),
        })
        .collect();
    let app = events[1].transaction.clone().expect("transaction block");
    assert_eq!((app.total_order, app.data_collection_order), (Some(1), Some(1)));
    let third = events[2].transaction.clone().expect("transaction block");
    assert_eq!(
        (third.id.as_str(), third.total_order, third.data_collection_order),
        (app.id.as_str(), Some(3), Some(2))
    );
    assert_ne!(events[0].transaction.as_ref().map(|t| t.id.clone()), Some(app.id.clone()));
    let markers = dualsync_testkit::read_records(&format!("{}.transaction", config.prefix()), 4).await;
    let decoded: Vec<dualsync_envelope::TransactionMarker> = markers
        .iter()
        .map(|r| match dualsync_envelope::decode(r.key(), r.payload()).expect("decodes") {
            Decoded::Transaction(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    let end = decoded.iter().find(|m| !m.begin && m.id == app.id).expect("the END of the application's transaction");
    assert_eq!(end.event_count, Some(3));
    let mut collections = end.data_collections.clone();
    collections.sort();
    assert_eq!(collections, [(format!("{}.a", db.namespace), 2), (format!("{}.b", db.namespace), 1)]);
    assert!(decoded.iter().any(|m| m.begin && m.id == app.id));
    capture.stop().await.expect("clean stop");
    if db.kind == Kind::Postgres {
        drop_pg_slot(&config).await;
    }
}

/// Snapshots `products` (created by the caller like the fixture's table) after inserting the
/// fixture's first row, and compares the record with the fixture's first line: the same schema
/// (names differ by the topic prefix only), the same payload and source fields, the same row.
pub async fn same_shape_as_the_fixture(db: TestDb, fixture: &str, their_topic: &str) {
    use rdkafka::Message as _;
    db.exec(&format!(
        "INSERT INTO {} VALUES (101, 'scooter', 'Small 2-wheel scooter', 3.14)",
        db.qualified("products")
    ))
    .await;
    let config = config(&db);
    let capture = Running::start(config.clone()).await;
    let topic = format!("{}.{}.products", config.prefix(), db.namespace);
    changes(&topic, 1).await;
    let record = &dualsync_testkit::read_records(&topic, 1).await[0];
    let ours: serde_json::Value = serde_json::from_slice(record.payload().unwrap()).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&dualsync_testkit::fixture_lines(fixture)[0]).unwrap();
    let schema = |v: &serde_json::Value, prefix: &str| {
        v["schema"].to_string().replace(prefix, "PREFIX").replace("\"version\":1,", "")
    };
    assert_eq!(schema(&ours, &topic), schema(&theirs, their_topic));
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours["payload"]), keys(&theirs["payload"]));
    assert_eq!(keys(&ours["payload"]["source"]), keys(&theirs["payload"]["source"]));
    assert_eq!(ours["payload"]["after"], theirs["payload"]["after"], "the same row, the same values");
    capture.stop().await.expect("clean stop");
    if db.kind == Kind::Postgres {
        drop_pg_slot(&config).await;
    }
}

/// Stops `capture` and, for PostgreSQL, drops its slot and publication.
pub async fn finish(capture: Running, db: &TestDb) {
    let config = capture.config.clone();
    capture.stop().await.expect("clean stop");
    if db.kind == Kind::Postgres {
        drop_pg_slot(&config).await;
    }
}

/// The value of column `name` of `row`.
pub fn get<'a>(row: &'a dualsync_envelope::Row, name: &str) -> &'a dualsync_envelope::Value {
    row.get(name).unwrap_or_else(|| panic!("no column {name} in {row:?}"))
}

/// The dualsync writer's transactions (an upsert, then a delete, which no before-image flag could
/// filter) produce no records; an application's transaction on the same table, running at the
/// same time, does.
pub async fn writer_transactions_are_dropped(db: TestDb) {
    use dualsync_envelope::Value;
    let t = db.qualified("items");
    db.exec(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(50))")).await;
    let config = config(&db);
    let capture = Running::start(config.clone()).await;
    let mut writer = dualsync_writer::Writer::connect(&db.url).await.expect("writer");
    let table = dualsync_mapping::TableName { namespace: Some(db.namespace.clone()), name: "items".into() };
    let mut row = dualsync_envelope::Row::default();
    row.set("id", Value::Int(1));
    row.set("name", Value::Text("from the other side".into()));
    let upsert = dualsync_mapping::RowChange {
        table: table.clone(),
        kind: dualsync_mapping::RowChangeKind::Upsert(row.clone()),
    };
    // An application's transaction on the same table, open while the writer's transactions run,
    // committed after them.
    let application = Application::begin(&db, &format!("INSERT INTO {t} VALUES (2, 'local edit')")).await;
    writer.apply(std::slice::from_ref(&upsert), &[]).await.expect("writer apply");
    let delete = dualsync_mapping::RowChange { table, kind: dualsync_mapping::RowChangeKind::Delete(row) };
    writer.apply(&[delete], &[]).await.expect("writer delete");
    application.commit().await;
    let topic = format!("{}.{}.items", config.prefix(), db.namespace);
    let events = changes(&topic, 1).await;
    assert_eq!(get(events[0].as_ref().unwrap().after.as_ref().unwrap(), "id"), &Value::Int(2));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(high_watermark(&topic), 1, "only the application's change is captured");
    finish(capture, &db).await;
}

/// A snapshot in chunks (2,500 rows from `fill`, chunks of 1,000), then streaming; the capture is
/// killed, changes are made while it is down, and after the restart every one of them arrives,
/// in commit order, and the snapshot is not read again.
pub async fn snapshot_then_stream_and_resume(db: TestDb, fill: &str) {
    use dualsync_envelope::{Op, Value};
    let t = db.qualified("big");
    db.exec(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT)")).await;
    db.exec(&format!("INSERT INTO {t} {fill}")).await;
    let mut config = config(&db);
    config.snapshot_chunk_rows = 1000;
    let capture = Running::start(config.clone()).await;
    let topic = format!("{}.{}.big", config.prefix(), db.namespace);
    let snapshot = changes(&topic, 2500).await;
    assert!(snapshot.iter().all(|e| e.as_ref().unwrap().op == Op::Read));
    let ids: Vec<&Value> = snapshot.iter().map(|e| get(e.as_ref().unwrap().after.as_ref().unwrap(), "id")).collect();
    assert_eq!((ids[0], ids[999], ids[2499]), (&Value::Int(1), &Value::Int(1000), &Value::Int(2500)));
    db.exec(&format!("UPDATE {t} SET v = -v WHERE id <= 10")).await;
    let _ = changes(&topic, 2510).await;
    // Killed mid-stream; changes made while it is down arrive after the restart.
    capture.abort();
    db.exec(&format!("UPDATE {t} SET v = 0 WHERE id BETWEEN 11 AND 20")).await;
    db.exec(&format!("DELETE FROM {t} WHERE id = 21")).await;
    let capture = Running::start(config.clone()).await;
    let all = changes(&topic, 2520).await;
    let tail: Vec<(Op, i64)> = all[2500..]
        .iter()
        .flatten()
        .map(|e| {
            let row = e.after.as_ref().or(e.before.as_ref()).unwrap();
            let Value::Int(id) = get(row, "id") else { panic!() };
            (e.op, *id)
        })
        .collect();
    for id in 11..=20 {
        assert!(tail.contains(&(Op::Update, id)), "update of {id} after the restart is missing: {tail:?}");
    }
    let positions: Vec<usize> = (11..=20).map(|id| tail.iter().position(|e| *e == (Op::Update, id)).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "updates out of commit order: {tail:?}");
    let _ = changes(&topic, 2522).await;
    assert!(all[..2500].iter().all(|e| e.as_ref().unwrap().op == Op::Read), "the snapshot is not read again");
    finish(capture, &db).await;
}

/// Killed in the middle of its snapshot, the capture resumes it after the last chunk it stored:
/// every row arrives, the chunks already acknowledged are not read again, and streaming follows.
pub async fn snapshot_resumes_after_a_crash(db: TestDb, fill: &str) {
    use dualsync_envelope::{Op, Value};
    let t = db.qualified("big");
    db.exec(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT)")).await;
    db.exec(&format!("INSERT INTO {t} {fill}")).await;
    let mut config = config(&db);
    config.snapshot_chunk_rows = 100;
    // One request in flight at a time, so the crash comes before the broker has everything.
    config.producer.insert("max.in.flight.requests.per.connection".into(), "1".into());
    let topic = format!("{}.{}.big", config.prefix(), db.namespace);
    let capture = Running::start(config.clone()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while high_watermark(&topic) < 700 {
        assert!(tokio::time::Instant::now() < deadline, "the snapshot did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    capture.abort();
    let sent_before = high_watermark(&topic);
    assert!(sent_before < 2500, "the snapshot finished before the crash ({sent_before} records)");
    db.exec(&format!("UPDATE {t} SET v = -1 WHERE id = 2500")).await;
    let capture = Running::start(config.clone()).await;
    // Wait for the update, which streaming delivers after the snapshot.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let events = loop {
        let count = high_watermark(&topic) as usize;
        let events = changes(&topic, count).await;
        let updated = events.iter().flatten().any(|e| {
            e.after.as_ref().is_some_and(|a| get(a, "id") == &Value::Int(2500) && get(a, "v") == &Value::Int(-1))
        });
        if updated {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "the resumed capture did not reach the update");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut read: Vec<i64> = events
        .iter()
        .flatten()
        .filter(|e| e.op == Op::Read)
        .map(|e| match get(e.after.as_ref().unwrap(), "id") {
            Value::Int(id) => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    // The first chunk was acknowledged and its progress stored long before the crash: a resumed
    // snapshot does not read it again (one that started over would).
    let first_chunk_reads = read.iter().filter(|&&id| id <= 100).count();
    assert_eq!(first_chunk_reads, 100, "the snapshot started over instead of resuming");
    read.sort_unstable();
    read.dedup();
    assert_eq!(read, (1..=2500).collect::<Vec<_>>(), "every row was snapshotted");
    finish(capture, &db).await;
}

/// A column added while the capture streams shows up in the next change, with the right value
/// (MySQL: the table is described again after the ALTER in the binlog; PostgreSQL: from the
/// relation message that follows a schema change).
pub async fn a_schema_change_is_picked_up(db: TestDb) {
    use dualsync_envelope::Value;
    let t = db.qualified("evolving");
    db.exec(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(20))")).await;
    let config = config(&db);
    let capture = Running::start(config.clone()).await;
    db.exec(&format!("INSERT INTO {t} VALUES (1, 'before')")).await;
    db.exec(&format!("ALTER TABLE {t} ADD COLUMN qty INT")).await;
    db.exec(&format!("INSERT INTO {t} VALUES (2, 'after', 7)")).await;
    let topic = format!("{}.{}.evolving", config.prefix(), db.namespace);
    let events = changes(&topic, 2).await;
    let first = events[0].as_ref().unwrap().after.as_ref().unwrap();
    assert!(first.get("qty").is_none(), "the first change predates the column: {first:?}");
    let second = events[1].as_ref().unwrap().after.as_ref().unwrap();
    assert_eq!((get(second, "id"), get(second, "qty")), (&Value::Int(2), &Value::Int(7)));
    finish(capture, &db).await;
}

/// An application transaction held open on its own connection.
pub enum Application {
    MySql(sqlx::MySqlConnection),
    Postgres(sqlx::PgConnection),
}

impl Application {
    /// Begins a transaction on a new connection to `db` and runs `sql` in it.
    pub async fn begin(db: &TestDb, sql: &str) -> Application {
        use sqlx::Connection as _;
        let sql = sqlx::AssertSqlSafe(format!("BEGIN; {sql}"));
        match db.kind {
            Kind::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect("application statement");
                Application::MySql(conn)
            }
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect("application statement");
                Application::Postgres(conn)
            }
        }
    }

    /// Commits it.
    pub async fn commit(self) {
        match self {
            Application::MySql(mut conn) => sqlx::raw_sql("COMMIT").execute(&mut conn).await.map(drop),
            Application::Postgres(mut conn) => sqlx::raw_sql("COMMIT").execute(&mut conn).await.map(drop),
        }
        .expect("commit");
    }
}
