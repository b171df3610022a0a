//! `dualsync dlq list|show|replay` against the real broker.

use std::process::Command;

use dualsync_dlq::{DeadLetter, DeadLetters, Stage};
use dualsync_testkit::{create_topic, kafka_brokers, read_records, unique};
use rdkafka::Message as _;

fn dualsync(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dualsync")).args(args).output().expect("run dualsync");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn list_show_and_replay_to_the_original_partition() {
    let (source, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&source, 3).await;
    create_topic(&dlq, 1).await;
    let letters = DeadLetters::new(&kafka_brokers(), &dlq, std::iter::empty()).expect("producer");
    let value = br#"{"op":"c","after":{"id":7,"name":null},"source":{"table":"items"}}"#;
    for (offset, stage, error) in
        [(41, Stage::Write, "null value in column \"name\""), (42, Stage::Decode, "value: not valid JSON")]
    {
        let payload: &[u8] = if stage == Stage::Decode { b"garbage" } else { value };
        let letter = DeadLetter {
            key: Some(br#"{"id":7}"#),
            value: Some(payload),
            topic: &source,
            partition: 2,
            offset,
            timestamp: Some(1_700_000_000_000),
            stage,
            error: error.to_string(),
            attempts: 3,
            consumer: "group-1",
        };
        letters.send(&letter).await.expect("dead letter");
    }
    let brokers = kafka_brokers();
    let (code, out, err) = dualsync(&["dlq", "list", "--brokers", &brokers, "--topic", &dlq]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "0\t{source}[2]@41\twrite\tnull value in column \"name\"\n1\t{source}[2]@42\tdecode\tvalue: not valid JSON\n"
        )
    );
    assert!(err.contains("2 dead letters"), "{err}");

    let (code, out, _) = dualsync(&["dlq", "show", "--brokers", &brokers, "--topic", &dlq, "--offset", "0"]);
    assert_eq!(code, 0);
    assert!(out.contains("dualsync.stage: write") && out.contains("dualsync.attempts: 3"), "{out}");
    assert!(out.contains("decoded: Change(ChangeEvent { op: Create"), "{out}");
    let (code, _, err) = dualsync(&["dlq", "show", "--brokers", &brokers, "--topic", &dlq, "--offset", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no dead letter at offset 9"), "{err}");

    let (code, out, err) = dualsync(&["dlq", "replay", "--brokers", &brokers, "--topic", &dlq, "--offset", "0"]);
    assert_eq!((code, out.as_str()), (0, "replayed 1 dead letters\n"), "{err}");
    let replayed = read_records(&source, 1).await;
    assert_eq!(replayed[0].partition(), 2, "the original partition keeps per-key order");
    assert_eq!(replayed[0].key(), Some(&br#"{"id":7}"#[..]));
    assert_eq!(replayed[0].payload(), Some(&value[..]));
}

#[tokio::test]
async fn replay_applies_directly_once_the_cause_is_fixed() {
    let target = dualsync_testkit::TestDb::new(dualsync_testkit::Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await;
    let dlq = unique("dualsync.dlq");
    create_topic(&dlq, 1).await;
    let letters = DeadLetters::new(&kafka_brokers(), &dlq, std::iter::empty()).expect("producer");
    let value = br#"{"op":"c","after":{"id":7,"name":null},"source":{"table":"items"}}"#;
    let letter = DeadLetter {
        key: Some(br#"{"id":7}"#),
        value: Some(value),
        topic: "legacy.shop.items",
        partition: 0,
        offset: 5,
        timestamp: None,
        stage: Stage::Write,
        error: "null value in column \"name\"".into(),
        attempts: 1,
        consumer: "group-1",
    };
    letters.send(&letter).await.expect("dead letter");
    let dir = std::env::temp_dir().join(unique("dualsync-dlq-apply"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("mapping.yaml"),
        format!("version: 1\ntables:\n  - legacy: items\n    revamp: {}.items\n", target.namespace),
    )
    .expect("mapping");
    let config = dir.join("consumer.yaml");
    std::fs::write(
        &config,
        format!(
            "kafka:\n  brokers: {}\n  group: g\n  topics: [t]\ntarget:\n  url: {}\nmapping: mapping.yaml\n",
            kafka_brokers(),
            target.url
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    let brokers = kafka_brokers();
    let args = [
        "dlq",
        "replay",
        "--brokers",
        &brokers,
        "--topic",
        &dlq,
        "--apply",
        &config,
        "--direction",
        "legacy-to-revamp",
    ];
    // The cause is still there: reported, exit 1.
    let (code, out, err) = dualsync(&args);
    assert_eq!(code, 1, "{out}{err}");
    // The row is new, so PostgreSQL gets it by COPY.
    assert!(out.starts_with("0: cannot write: copy of new rows into") && out.contains("not-null"), "{out}");
    // Fixed: applied.
    target.exec("ALTER TABLE {ns}.items ALTER COLUMN name DROP NOT NULL").await;
    let (code, out, err) = dualsync(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, format!("0: applied to {}.items\napplied 1 dead letters\n", target.namespace));
    assert_eq!(target.rows("SELECT id::text, name FROM {ns}.items").await, dualsync_testkit::rows(&[&["7", "NULL"]]));
}
