//! `dualsync capture` as a process: killed with SIGKILL mid-stream and started again, every
//! committed change still reaches Kafka, in commit order per key.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dualsync_envelope::{Decoded, Value};
use dualsync_testkit::{Kind, TestDb, end_offset, unique};

fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dualsync"))
        .args(["capture", "--config"])
        .arg(config)
        .env("DUALSYNC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dualsync capture")
}

async fn killed_mid_stream_loses_nothing(kind: Kind) {
    let db = TestDb::new(kind).await;
    let table = db.qualified("counters");
    db.exec(&format!("CREATE TABLE {table} (id INT PRIMARY KEY, n INT NOT NULL)")).await;
    if kind == Kind::Postgres {
        db.exec(&format!("ALTER TABLE {table} REPLICA IDENTITY FULL")).await;
    }
    let name = unique("cap");
    let source = dualsync_testkit::server_url(kind);
    let dir = std::env::temp_dir().join(unique("capture"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("capture.yaml");
    // One record per batch: the test broker numbers multi-record batches wrongly.
    std::fs::write(
        &config,
        format!(
            "name: {name}\nsource: {source}\nkafka: {}\ninclude: [\"{}.*\"]\nproducer:\n  batch.num.messages: \"1\"\n",
            dualsync_testkit::kafka_brokers(),
            db.namespace
        ),
    )
    .unwrap();
    let topic = format!("{name}.{}.counters", db.namespace);
    let offsets = format!("{name}.dualsync-offsets");
    let mut child = spawn(&config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while end_offset(&offsets) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the capture stored no offset in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    const KEYS: i64 = 10;
    const ROUNDS: i64 = 150;
    let writer = {
        let db = TestDb { kind, namespace: db.namespace.clone(), url: db.url.clone() };
        let table = table.clone();
        tokio::spawn(async move {
            for id in 0..KEYS {
                db.exec(&format!("INSERT INTO {table} VALUES ({id}, 0)")).await;
            }
            // One transaction per update, a round of them per round trip.
            for _ in 0..ROUNDS {
                let round: String = (0..KEYS)
                    .map(|id| format!("BEGIN; UPDATE {table} SET n = n + 1 WHERE id = {id}; COMMIT;"))
                    .collect();
                db.exec(&round).await;
            }
        })
    };
    // SIGKILL while the changes stream in; the writer goes on meanwhile.
    while end_offset(&topic) < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut child = spawn(&config);
    writer.await.expect("writer");

    let expected = KEYS * (ROUNDS + 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut last = -1;
    loop {
        let now = end_offset(&topic);
        if now >= expected && now == last {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {now} of at least {expected} records after 120 s");
        last = now;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    child.kill().expect("stop");
    child.wait().expect("reap");

    let records = dualsync_testkit::read_records(&topic, last as usize).await;
    let mut per_key: Vec<Vec<i64>> = vec![Vec::new(); KEYS as usize];
    for record in &records {
        use rdkafka::Message as _;
        let Decoded::Change(change) = dualsync_envelope::decode(record.key(), record.payload()).expect("decodes")
        else {
            panic!("unexpected record")
        };
        let row = change.after.expect("inserts and updates only");
        let (Some(Value::Int(id)), Some(Value::Int(n))) = (row.get("id"), row.get("n")) else { panic!("{row:?}") };
        per_key[*id as usize].push(*n);
    }
    for (id, values) in per_key.iter().enumerate() {
        // Every committed value is there …
        let mut seen: Vec<i64> = values.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, (0..=ROUNDS).collect::<Vec<_>>(), "key {id}: a committed change is missing");
        // … first seen in commit order, and the last record is the last commit.
        let mut first = Vec::new();
        for v in values {
            if !first.contains(v) {
                first.push(*v);
            }
        }
        assert!(first.windows(2).all(|w| w[0] < w[1]), "key {id}: out of commit order: {values:?}");
        assert_eq!(values.last(), Some(&ROUNDS), "key {id}: the last record is not the last commit");
    }
    assert!(records.len() as i64 >= expected);
    if kind == Kind::Postgres {
        db.exec(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'dualsync_{}' AND NOT active",
            name
        ))
        .await;
        db.exec(&format!("DROP PUBLICATION IF EXISTS dualsync_{name}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_capture_killed_mid_stream_loses_nothing() {
    killed_mid_stream_loses_nothing(Kind::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_capture_killed_mid_stream_loses_nothing() {
    killed_mid_stream_loses_nothing(Kind::Postgres).await;
}

/// `--check` runs only the preflight checks: it passes on a table it can capture, and names the
/// problem when the configuration captures nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_problems_with_what_to_do() {
    for kind in [Kind::MySql, Kind::Postgres] {
        let db = TestDb::new(kind).await;
        db.exec(&format!("CREATE TABLE {} (id INT PRIMARY KEY)", db.qualified("t"))).await;
        let source = dualsync_testkit::server_url(kind);
        let dir = std::env::temp_dir().join(unique("capture"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("capture.yaml");
        let run = |include: &str| {
            std::fs::write(
                &config,
                format!(
                    "name: {}\nsource: {source}\nkafka: {}\ninclude: [\"{include}\"]\n",
                    unique("check"),
                    dualsync_testkit::kafka_brokers()
                ),
            )
            .unwrap();
            Command::new(env!("CARGO_BIN_EXE_dualsync"))
                .args(["capture", "--check", "--config"])
                .arg(&config)
                .output()
                .expect("run dualsync capture --check")
        };
        let passed = run(&format!("{}.*", db.namespace));
        let stdout = String::from_utf8_lossy(&passed.stdout);
        assert!(passed.status.success(), "{kind:?}: {}", String::from_utf8_lossy(&passed.stderr));
        assert!(stdout.contains("preflight passed"), "{stdout}");
        if kind == Kind::Postgres {
            // The table has the default replica identity: updates would carry no before-image.
            assert!(stdout.contains("REPLICA IDENTITY DEFAULT"), "{stdout}");
        }
        assert!(!stdout.contains(":dualsync@"), "the password is never printed: {stdout}");
        let failed = run("no_such_namespace.*");
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(!failed.status.success());
        assert!(stderr.contains("include: no table matches"), "{kind:?}: {stderr}");
    }
}
