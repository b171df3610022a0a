//! End-to-end consumer throughput against the real services: the `legacy-to-revamp` binary reads
//! Debezium events of a 10-column table from a 6-partition topic and applies them to PostgreSQL,
//! then to MariaDB; beside each run, the database's bulk-load ceiling for the same number of rows,
//! measured in the same run (the machine is shared, so the ratio is what travels).
//!
//! `cargo bench -p dualsync-consumer --bench e2e` (services from `testing/services.sh up`, env
//! from `testing/services.sh env`). `BENCH_EVENTS` (default 500000) events, 70% updates, 20%
//! inserts and 10% deletes over `BENCH_KEYS` (default 50000) keys, a key always in partition
//! `key % 6`. Throughput counts from the consumer's start (connecting, joining the group) to the
//! moment its checkpoints in the target cover every event; peak RSS is the process's `VmHWM`.
//! Producing takes minutes (one record per batch, for the test broker): `BENCH_TOPIC` reuses the
//! topic an earlier run of the same size printed.

use std::time::{Duration, Instant};

use dualsync_testkit::{Kind, Record, TestDb, create_topic, kafka_brokers, produce_partitioned, unique};

const PARTITIONS: i32 = 6;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small deterministic generator (xorshift), so every run replays the same events.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The row values of key `id` at change `n`, by column.
fn values(id: u64, n: u64) -> serde_json::Value {
    let city = ["Berlin", "Lyon", "Porto"][(id % 3) as usize];
    serde_json::json!({
        "id": id, "name": format!("item {id}"), "qty": (n % 1000) as i64, "note": "a note of modest length",
        "active": n.is_multiple_of(2), "version": n, "city": city,
        "score": (n % 100) as f64 / 4.0, "updated_ms": 1_700_000_000_000u64 + n, "tag": format!("t{}", n % 17),
    })
}

/// The events, and the number of rows that exist at the end.
fn events(count: usize, keys: u64) -> (Vec<(i32, Record)>, usize) {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut exists = vec![false; keys as usize];
    let mut live: Vec<u64> = Vec::new();
    let mut out = Vec::with_capacity(count);
    for n in 0..count as u64 {
        let roll = random.below(100);
        let (op, id) = if (roll < 20 || live.is_empty()) && live.len() < keys as usize {
            let mut id = random.below(keys);
            while exists[id as usize] {
                id = (id + 1) % keys;
            }
            exists[id as usize] = true;
            live.push(id);
            ("c", id)
        } else if roll < 30 {
            let id = live.swap_remove(random.below(live.len() as u64) as usize);
            exists[id as usize] = false;
            ("d", id)
        } else {
            ("u", live[random.below(live.len() as u64) as usize])
        };
        let row = values(id, n);
        let (before, after) = if op == "d" { (row, serde_json::Value::Null) } else { (serde_json::Value::Null, row) };
        let event = serde_json::json!({
            "op": op, "before": before, "after": after,
            "source": {"db": "shop", "table": "items", "ts_ms": 1_700_000_000_000u64 + n},
        });
        let record = (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()));
        out.push(((id % PARTITIONS as u64) as i32, record));
    }
    (out, live.len())
}

const COLUMNS: &str = "id BIGINT PRIMARY KEY, name VARCHAR(64), qty INTEGER, note VARCHAR(64), active BOOLEAN, \
     version BIGINT, city VARCHAR(32), score DOUBLE PRECISION, updated_ms BIGINT, tag VARCHAR(16)";

/// Peak resident memory of process `pid`, in MB.
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Events the target holds according to the group's checkpoints.
async fn checkpointed(db: &TestDb, group: &str) -> u64 {
    let cast = if db.kind == Kind::Postgres { "TEXT" } else { "CHAR" };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(kafka_offset + 1), 0) AS {cast}) FROM dualsync_checkpoints WHERE consumer = '{group}'"
    );
    db.rows(&sql).await[0][0].as_deref().unwrap_or("0").parse().unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let count = setting("BENCH_EVENTS", 500_000);
    let keys = setting("BENCH_KEYS", 50_000) as u64;
    let (events, live) = events(count, keys);
    // The events are the same in every run, so a topic an earlier run filled can be reused.
    let topic = match std::env::var("BENCH_TOPIC") {
        Ok(topic) => topic,
        Err(_) => {
            let topic = unique("legacy.shop.items");
            create_topic(&topic, PARTITIONS).await;
            let produced = Instant::now();
            produce_partitioned(&topic, &events).await;
            println!("produced {count} events into {topic} in {:.1} s", produced.elapsed().as_secs_f64());
            topic
        }
    };
    println!(
        "end-to-end: {count} events (70% updates, 20% inserts, 10% deletes) over {keys} keys, {PARTITIONS} partitions"
    );
    drop(events);
    for kind in [Kind::Postgres, Kind::MySql] {
        let db = TestDb::new(kind).await;
        db.exec(&format!("CREATE TABLE {{ns}}.items ({COLUMNS})")).await;
        db.exec(&format!("CREATE TABLE {{ns}}.bulk ({COLUMNS})")).await;
        // The ceiling: the database's own bulk load of as many rows as there are events.
        let rows: Vec<Vec<Option<String>>> = (0..count as u64)
            .map(|id| {
                let v = values(id, id);
                ["id", "name", "qty", "note", "active", "version", "city", "score", "updated_ms", "tag"]
                    .iter()
                    .map(|c| match &v[*c] {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
                        other => Some(other.to_string()),
                    })
                    .collect()
            })
            .collect();
        let ceiling = db.bulk_load("bulk", &rows).await;
        drop(rows);
        // The consumer's own tables exist before the clock starts.
        dualsync_writer::Writer::connect(&db.url).await.expect("writer");

        let dir = std::env::temp_dir().join(unique("dualsync-bench"));
        std::fs::create_dir_all(&dir).expect("bench dir");
        std::fs::write(
            dir.join("mapping.yaml"),
            format!("version: 1\ntables:\n  - legacy: shop.items\n    revamp: {}.items\n", db.namespace),
        )
        .expect("mapping");
        let group = unique("bench");
        std::fs::write(
            dir.join("consumer.yaml"),
            format!(
                "kafka:\n  brokers: {}\n  group: {group}\n  topics: [{topic}]\n  options:\n    session.timeout.ms: \"6000\"\n\
                 target:\n  url: {}\nmapping: mapping.yaml\n",
                kafka_brokers(),
                db.url
            ),
        )
        .expect("config");
        let started = Instant::now();
        let mut consumer = std::process::Command::new(env!("CARGO_BIN_EXE_legacy-to-revamp"))
            .arg("--config")
            .arg(dir.join("consumer.yaml"))
            .env("DUALSYNC_LOG", std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()))
            .spawn()
            .expect("start legacy-to-revamp");
        let mut first_at = None;
        loop {
            let done = checkpointed(&db, &group).await;
            if done > 0 && first_at.is_none() {
                first_at = Some(started.elapsed());
            }
            if done >= count as u64 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1800), "{kind:?}: only {done} of {count} events in 30 min");
            assert!(consumer.try_wait().expect("consumer status").is_none(), "{kind:?}: the consumer stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let elapsed = started.elapsed();
        let rss = peak_rss_mb(consumer.id());
        std::process::Command::new("kill").arg("-TERM").arg(consumer.id().to_string()).status().expect("kill");
        assert!(consumer.wait().expect("consumer exit").success(), "{kind:?}: the consumer failed");
        let cast = if kind == Kind::Postgres { "TEXT" } else { "CHAR" };
        let rows = db.rows(&format!("SELECT CAST(count(*) AS {cast}) FROM {{ns}}.items")).await;
        assert_eq!(rows[0][0].as_deref(), Some(live.to_string().as_str()), "{kind:?}: final row count");
        let rate = count as f64 / elapsed.as_secs_f64();
        let first = first_at.unwrap_or_default();
        let steady = count as f64 / (elapsed - first).as_secs_f64();
        println!(
            "{kind:?}: {rate:>7.0} events/s from start ({:.1} s; first batch after {:.1} s, {steady:.0} events/s after it) \
             | peak RSS {rss:.0} MB | bulk-load ceiling {ceiling:.0} rows/s (consumer at {:.0}% of it)",
            elapsed.as_secs_f64(),
            first.as_secs_f64(),
            100.0 * rate / ceiling
        );
    }
}
