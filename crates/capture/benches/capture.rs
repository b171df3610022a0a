//! Capture throughput and latency against the real services, for MariaDB and PostgreSQL.
//!
//! `cargo bench -p dualsync-capture --bench capture` (services from `testing/services.sh up`,
//! env from `testing/services.sh env`).
//!
//! - **Throughput.** One transaction updates `BENCH_ROWS` (default 100,000) rows. The clock
//!   starts when its commit returns and stops when the broker has acknowledged a record for every
//!   row. Beside it, in the same run: a bare rdkafka producer writing as many records of the
//!   same size with the same settings (the broker's ceiling on this machine).
//! - **Latency.** Single-row update transactions paced at `BENCH_RATE` per second (default
//!   1,000) for `BENCH_SECONDS` (default 10). A reader on the topic notes when each record
//!   arrives. Latency is arrival minus the moment the commit returned: commit → Kafka → a reader,
//!   so it includes the reader's fetch wait (`fetch.wait.max.ms=5`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dualsync_capture::{CaptureConfig, SnapshotMode, Stats};
use dualsync_testkit::{Kind, TestDb, unique};
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{FutureProducer, FutureRecord};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Capture {
    config: CaptureConfig,
    stats: Arc<Stats>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), dualsync_capture::CaptureError>>,
}

async fn start(db: &TestDb) -> Capture {
    let source = dualsync_testkit::server_url(db.kind);
    let mut config = CaptureConfig::new(&unique("bench"), &source, &dualsync_testkit::kafka_brokers());
    config.include = vec![format!("{}.*", db.namespace)];
    config.snapshot = SnapshotMode::Never;
    config.schemas_enable = true;
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(dualsync_capture::run(config.clone(), stopped, stats.clone()));
    // Started once it stored its first offset.
    let offsets = config.offsets_topic();
    let reader: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", dualsync_testkit::kafka_brokers()).create().expect("reader");
    while reader.fetch_watermarks(&offsets, 0, Duration::from_secs(5)).map(|w| w.1).unwrap_or(0) == 0 {
        assert!(!task.is_finished(), "the capture stopped: {:?}", task.await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Capture { config, stats, stop, task }
}

impl Capture {
    async fn stop(self, db: &TestDb) {
        let _ = self.stop.send(true);
        self.task.await.expect("capture task").expect("capture ran");
        if db.kind == Kind::Postgres {
            db.exec(&format!(
                "SELECT pg_drop_replication_slot('{0}') FROM pg_replication_slots WHERE slot_name = '{0}' AND NOT active",
                self.config.slot()
            ))
            .await;
            db.exec(&format!("DROP PUBLICATION IF EXISTS \"{}\"", self.config.publication())).await;
        }
    }
}

/// Rows per second of a bare producer writing `count` records of `size` bytes, acknowledged.
async fn producer_ceiling(count: u64, key_size: usize, value_size: usize) -> f64 {
    let topic = unique("bench.ceiling");
    dualsync_testkit::create_topic(&topic, 1).await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", dualsync_testkit::kafka_brokers())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let key = vec![b'k'; key_size];
    let value = vec![b'v'; value_size];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(count as usize);
    for _ in 0..count {
        loop {
            match producer.send_result(FutureRecord::to(&topic).key(&key).payload(&value)) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((_, _)) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
    for delivery in pending {
        delivery.await.expect("delivered").expect("acknowledged");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn throughput(kind: Kind, rows: u64) {
    let db = TestDb::new(kind).await;
    let table = db.qualified("burst");
    db.exec(&format!("CREATE TABLE {table} (id INT PRIMARY KEY, n INT NOT NULL, note VARCHAR(100))")).await;
    let generate = match kind {
        Kind::MySql => format!("INSERT INTO {table} SELECT seq, 0, 'a note of modest length' FROM seq_1_to_{rows}"),
        Kind::Postgres => {
            format!("INSERT INTO {table} SELECT g, 0, 'a note of modest length' FROM generate_series(1, {rows}) g")
        }
    };
    db.exec(&generate).await;
    let capture = start(&db).await;
    let before = capture.stats.acknowledged();
    let update_started = Instant::now();
    db.exec(&format!("UPDATE {table} SET n = n + 1")).await;
    let committed = Instant::now();
    while capture.stats.acknowledged() - before < rows {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = committed.elapsed().as_secs_f64();
    let rate = rows as f64 / seconds;
    // The same number of records of about the same size (schema included) through a bare producer.
    let topic = format!("{}.{}.burst", capture.config.prefix(), db.namespace);
    let sample = dualsync_testkit::read_records(&topic, 1).await;
    let (key_size, value_size) = (sample[0].key().map_or(0, <[u8]>::len), sample[0].payload().map_or(0, <[u8]>::len));
    capture.stop(&db).await;
    let ceiling = producer_ceiling(rows, key_size, value_size).await;
    println!(
        "{kind:?} burst of {rows} updates: {rate:.0} events/s ({seconds:.2} s after the commit; the UPDATE itself took {:.2} s); \
         bare producer, {value_size}-byte records: {ceiling:.0} records/s; capture = {:.0}% of the producer",
        (committed - update_started).as_secs_f64(),
        100.0 * rate / ceiling
    );
}

async fn latency(kind: Kind, rate: u64, seconds: u64) {
    let db = TestDb::new(kind).await;
    let table = db.qualified("paced");
    db.exec(&format!("CREATE TABLE {table} (id INT PRIMARY KEY, n BIGINT NOT NULL)")).await;
    db.exec(&format!("INSERT INTO {table} VALUES (1, -1)")).await;
    let capture = start(&db).await;
    let topic = format!("{}.{}.paced", capture.config.prefix(), db.namespace);
    let total = rate * seconds;
    let committed: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..total).map(|_| std::sync::OnceLock::new()).collect());
    // The reader, on its own thread: notes when each sequence number arrives.
    let reader = {
        let topic = topic.clone();
        std::thread::spawn(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", dualsync_testkit::kafka_brokers())
                .set("group.id", unique("latency"))
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "false")
                .set("fetch.wait.max.ms", "5")
                .set("fetch.max.bytes", "104857600")
                .set("max.partition.fetch.bytes", "104857600")
                .create()
                .expect("reader");
            let deadline = Instant::now() + Duration::from_secs(seconds + 120);
            let mut arrivals: Vec<Option<Instant>> = vec![None; total as usize];
            let mut seen = 0;
            while seen < total && Instant::now() < deadline {
                if consumer.subscription().map(|s| s.count()).unwrap_or(0) == 0 {
                    let _ = consumer.subscribe(&[&topic]);
                }
                let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else { continue };
                let now = Instant::now();
                let Ok(dualsync_envelope::Decoded::Change(change)) =
                    dualsync_envelope::decode(message.key(), message.payload())
                else {
                    continue;
                };
                if let Some(dualsync_envelope::Value::Int(n)) = change.after.as_ref().and_then(|a| a.get("n"))
                    && *n >= 0
                    && (*n as u64) < total
                    && arrivals[*n as usize].is_none()
                {
                    arrivals[*n as usize] = Some(now);
                    seen += 1;
                }
            }
            arrivals
        })
    };
    let pool = match kind {
        Kind::MySql => Pool::MySql(sqlx::MySqlPool::connect(&db.url).await.expect("pool")),
        Kind::Postgres => Pool::Postgres(sqlx::PgPool::connect(&db.url).await.expect("pool")),
    };
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let paced_started = Instant::now();
    for n in 0..total {
        tick.tick().await;
        let sql = format!("UPDATE {table} SET n = {n} WHERE id = 1");
        match &pool {
            Pool::MySql(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await.map(drop),
            Pool::Postgres(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await.map(drop),
        }
        .expect("update");
        let _ = committed[n as usize].set(Instant::now());
    }
    let achieved = total as f64 / paced_started.elapsed().as_secs_f64();
    let arrivals = tokio::task::spawn_blocking(move || reader.join().expect("reader")).await.expect("join");
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .enumerate()
        .filter_map(|(n, arrived)| {
            let arrived = (*arrived)?;
            let committed = *committed[n].get()?;
            Some(arrived.saturating_duration_since(committed).as_secs_f64() * 1000.0)
        })
        .collect();
    let missing = total as usize - latencies.len();
    assert!(!latencies.is_empty(), "the reader saw none of the {total} changes on {topic}");
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{kind:?} paced at {rate}/s (achieved {achieved:.0}/s) for {seconds} s: commit → Kafka → reader latency \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {missing} of {total} not seen",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    capture.stop(&db).await;
}

enum Pool {
    MySql(sqlx::MySqlPool),
    Postgres(sqlx::PgPool),
}

#[tokio::main]
async fn main() {
    let rows = setting("BENCH_ROWS", 100_000);
    let rate = setting("BENCH_RATE", 1_000);
    let seconds = setting("BENCH_SECONDS", 10);
    for kind in [Kind::Postgres, Kind::MySql] {
        throughput(kind, rows).await;
        latency(kind, rate, seconds).await;
    }
}
