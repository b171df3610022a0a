//! The same workload through both capture paths, in one run: MariaDB → Kafka → `legacy-to-revamp`
//! → PostgreSQL, once with dualsync's own capture and once with real Debezium 3.6's MySQL
//! connector (`testing/debezium.sh`; its MariaDB is the second private server, configured alike).
//!
//! `cargo bench -p dualsync-consumer --bench capture_paths` (services from `testing/services.sh
//! up`, env from `testing/services.sh env`). `BENCH_ROWS` (default 20000) rows are inserted in
//! transactions of 1,000, then each row is updated once (transactions of 1,000). Printed per path:
//! the time from the first commit until the capture's topic holds every record, and until every
//! row's last value is readable in PostgreSQL, as records/s.

use std::time::{Duration, Instant};

use dualsync_consumer::{Config, Consumer, Direction};
use dualsync_testkit::debezium::Debezium;
use dualsync_testkit::{Kind, TestDb, create_topic, end_offset, kafka_brokers, unique};

fn rows_setting() -> usize {
    std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

/// Which capture feeds the consumer.
#[derive(Debug, Clone, Copy)]
enum Path {
    Dualsync,
    Debezium,
}

/// A running capture: dualsync's (a task) or Debezium (a JVM); stopped when dropped.
enum Running {
    Dualsync(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>),
    Debezium(Debezium),
}

async fn start(path: Path, source: &TestDb) -> (Running, String) {
    match path {
        Path::Dualsync => {
            let mut config = dualsync_capture::CaptureConfig::new(
                &unique("bench"),
                &dualsync_testkit::mysql_url(),
                &kafka_brokers(),
            );
            config.include = vec![format!("{}.*", source.namespace)];
            config.snapshot = dualsync_capture::SnapshotMode::Never;
            // The test broker (tansu 0.6.0) numbers a multi-record batch wrongly.
            config.producer.insert("batch.num.messages".into(), "1".into());
            let topic = format!("{}.{}.items", config.prefix(), source.namespace);
            create_topic(&topic, 1).await;
            let offsets = config.offsets_topic();
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(async move {
                dualsync_capture::run(config, stopped, Default::default()).await.expect("capture runs")
            });
            while end_offset(&offsets) == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (Running::Dualsync(stop, task), topic)
        }
        Path::Debezium => {
            let debezium = Debezium::start("legacy-mysql.json", source, &["items"], &[("snapshot.mode", "no_data")])
                .await
                .expect("real Debezium can run here");
            let topic = debezium.topic(source, "items");
            create_topic(&topic, 1).await;
            (Running::Debezium(debezium), topic)
        }
    }
}

async fn run(path: Path, rows: usize) {
    let source = match path {
        Path::Dualsync => TestDb::mysql().await,
        Path::Debezium => TestDb::mysql_on(&dualsync_testkit::debezium_mysql_url()).await,
    };
    let target = TestDb::new(Kind::Postgres).await;
    let ddl = "CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50), qty INT, note VARCHAR(100))";
    source.exec(&ddl.replace("{}", &source.qualified("items"))).await;
    target.exec(&ddl.replace("{}", &target.qualified("items"))).await;
    let (capture, topic) = start(path, &source).await;

    let dir = std::env::temp_dir().join(unique("bench"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("mapping.yaml"),
        format!(
            "version: 1\ntables:\n  - legacy: {}.items\n    revamp: {}.items\n",
            source.namespace, target.namespace
        ),
    )
    .expect("mapping");
    let config = format!(
        "kafka:\n  brokers: {}\n  group: {}\n  topics: [{topic}]\ntarget:\n  url: {}\nmapping: mapping.yaml\n",
        kafka_brokers(),
        unique("group"),
        target.url
    );
    std::fs::write(dir.join("consumer.yaml"), config).expect("config");
    let consumer =
        Consumer::start(Config::load(&dir.join("consumer.yaml")).expect("config"), Direction::LegacyToRevamp)
            .await
            .expect("consumer");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i}, 'item {i}', {i}, 'a note')")).collect();
        source.exec(&format!("INSERT INTO {} VALUES {}", source.qualified("items"), values.join(", "))).await;
    }
    for start in (0..rows).step_by(1000) {
        source
            .exec(&format!(
                "UPDATE {} SET qty = qty + 1 WHERE id >= {start} AND id < {}",
                source.qualified("items"),
                start + 1000
            ))
            .await;
    }
    let records = 2 * rows as i64;
    while end_offset(&topic) < records {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let captured = started.elapsed();
    let done = format!("SELECT count(*)::text FROM {} WHERE qty = id + 1", target.qualified("items"));
    while target.rows(&done).await[0][0].as_deref() != Some(&rows.to_string()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied = started.elapsed();
    let rate = |d: Duration| records as f64 / d.as_secs_f64();
    println!(
        "{path:?}: {records} records; in Kafka after {:.2} s ({:.0}/s); applied in PostgreSQL after {:.2} s ({:.0}/s)",
        captured.as_secs_f64(),
        rate(captured),
        applied.as_secs_f64(),
        rate(applied)
    );
    let _ = stop.send(());
    consumer.await.expect("consumer task").expect("consumer run");
    match capture {
        Running::Dualsync(stop, task) => {
            let _ = stop.send(true);
            task.await.expect("capture");
        }
        Running::Debezium(debezium) => drop(debezium),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if !dualsync_testkit::debezium::available() {
        return;
    }
    let rows = rows_setting();
    println!("{rows} inserts then {rows} updates, in transactions of 1,000, MariaDB -> PostgreSQL");
    for path in [Path::Dualsync, Path::Debezium] {
        run(path, rows).await;
    }
}
