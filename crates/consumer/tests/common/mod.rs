//! Helpers shared by the end-to-end tests: consumer configurations and running a consumer until
//! it has applied a known number of events.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use dualsync_consumer::{Config, Consumer, Direction};
use dualsync_testkit::{TestDb, kafka_brokers, unique};

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("dualsync-e2e"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes a mapping and a consumer configuration into `dir`; returns the configuration's path.
pub fn write_config(dir: &Path, topic: &str, target: &TestDb, mapping: &str) -> PathBuf {
    std::fs::write(dir.join("mapping.yaml"), mapping).expect("write mapping");
    let config = format!(
        "kafka:\n  brokers: {}\n  group: {}\n  topics: [{topic}]\n  options:\n    session.timeout.ms: \"6000\"\n\
         target:\n  url: {}\nmapping: mapping.yaml\nbatch:\n  max_events: 5\n  linger_ms: 50\n",
        kafka_brokers(),
        unique("group"),
        target.url,
    );
    let path = dir.join("consumer.yaml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// Gives the configuration a new consumer group, so the next consumer re-reads the whole topic.
pub fn new_group(config: &Path) {
    let text = std::fs::read_to_string(config).expect("read config");
    let text = text
        .lines()
        .map(|l| if l.starts_with("  group: ") { format!("  group: {}", unique("group")) } else { l.to_string() });
    std::fs::write(config, text.collect::<Vec<_>>().join("\n")).expect("write config");
}

/// Runs a consumer in-process until it has applied and stored `events` events, then stops it.
pub async fn consume(config: &Path, direction: Direction, events: u64) -> std::sync::Arc<dualsync_consumer::Stats> {
    let consumer = Consumer::start(Config::load(config).expect("config"), direction).await.expect("start consumer");
    let stats = consumer.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while stats.done() < events {
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer did only {} of {events} events in 90 s",
            stats.done()
        );
        assert!(!running.is_finished(), "consumer stopped early: {:?}", running.await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    running.await.expect("consumer task").expect("consumer run");
    assert_eq!(stats.consumed(), events, "nothing beyond the topic's events was consumed");
    stats
}

/// A Debezium MySQL-style event of `shop.items` (schemaless), keyed by `id`, committed at a fixed
/// time (so the lag gauge has a value).
pub fn item_event(op: &str, id: i64, name: Option<&str>) -> dualsync_testkit::Record {
    let event = serde_json::json!({
        "op": op, "after": {"id": id, "name": name},
        "source": {"db": "shop", "table": "items", "ts_ms": 1_700_000_000_000i64}
    });
    (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
}

/// The mapping of legacy `shop.items` to `items` in the test's namespace.
pub fn items_mapping(target: &TestDb) -> String {
    format!("version: 1\ntables:\n  - legacy: shop.items\n    revamp: {}.items\n", target.namespace)
}

/// Starts the `legacy-to-revamp` binary with `config`, extra arguments and environment; its
/// standard error is captured.
pub fn spawn_legacy_to_revamp(config: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_legacy-to-revamp"))
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start legacy-to-revamp")
}

/// Stops a consumer binary with SIGTERM; asserts it exits 0 and returns its standard error.
pub fn stop_with_sigterm(child: std::process::Child) -> String {
    let status = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait for the consumer");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "exit status {:?}; stderr:\n{stderr}", output.status);
    stderr
}

/// The consumer group a configuration written by [`write_config`] uses.
pub fn group_of(config: &Path) -> String {
    let text = std::fs::read_to_string(config).expect("read config");
    text.lines().find_map(|l| l.strip_prefix("  group: ")).expect("group line").to_string()
}

/// Events the target holds according to its checkpoints: per partition, the last applied offset
/// plus one, summed.
pub async fn checkpointed(target: &TestDb, group: &str) -> i64 {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(kafka_offset + 1), 0) AS CHAR) FROM dualsync_checkpoints WHERE consumer = '{group}'"
    );
    let sql = if target.kind == dualsync_testkit::Kind::Postgres { sql.replace("AS CHAR", "AS TEXT") } else { sql };
    target.rows(&sql).await[0][0].as_deref().unwrap_or("0").parse().expect("sum")
}

/// Waits (up to `seconds`) until `done` says so, failing with `what`.
pub async fn wait_until<F, Fut>(seconds: u64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "waited {seconds} s for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain HTTP/1.1 GET: the status code and the body.
pub async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The sum over the series of metric `name` whose labels include all of `labels`, in a
/// Prometheus text exposition.
pub fn metric_sum(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Adds a dead-letter topic and HTTP endpoints on a free port to a configuration written by
/// [`write_config`].
pub fn add_dlq_and_http(config: &Path, dlq: &str) {
    let mut text = std::fs::read_to_string(config).expect("config");
    text.push_str(&format!("dlq:\n  topic: {dlq}\nhttp:\n  listen: 127.0.0.1:0\n"));
    std::fs::write(config, text).expect("config");
}

/// A consumer running in this process.
pub struct Running {
    /// Where its HTTP endpoints listen.
    pub addr: std::net::SocketAddr,
    /// Its counters.
    pub stats: std::sync::Arc<dualsync_consumer::Stats>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), dualsync_consumer::ConsumerError>>,
}

impl Running {
    /// Starts a `legacy-to-revamp` consumer with the configuration at `config` (with HTTP).
    pub async fn start(config: &Path) -> Running {
        let running = Running::start_as(config, Direction::LegacyToRevamp).await;
        assert!(running.addr.port() != 0, "the configuration has an http section");
        running
    }

    /// Starts a consumer of `direction` with the configuration at `config`; `addr` is
    /// `0.0.0.0:0` without an http section.
    pub async fn start_as(config: &Path, direction: Direction) -> Running {
        let consumer = Consumer::start(Config::load(config).expect("config"), direction).await.expect("start");
        let addr = consumer.http_addr().unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
        let stats = consumer.stats();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(consumer.run(async {
            let _ = stopped.await;
        }));
        Running { addr, stats, stop, task }
    }

    /// Whether the consumer stopped by itself.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Fails with the consumer's error if it stopped by itself.
    pub async fn assert_running(&mut self) {
        if self.task.is_finished() {
            let result = (&mut self.task).await;
            panic!("the consumer stopped by itself: {result:?}");
        }
    }

    /// Stops it and asserts it ended cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("consumer task").expect("consumer run");
    }
}

/// Polls `read` until it returns `expected` (up to `seconds`); on timeout fails with both, so
/// the difference shows. Fails at once with its error if one of `consumers` stops meanwhile.
pub async fn wait_for_rows<F, Fut>(
    seconds: u64,
    what: &str,
    expected: &[Vec<Option<String>>],
    consumers: &mut [&mut Running],
    mut read: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<Vec<Option<String>>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let got = read().await;
        if got == expected {
            return;
        }
        for consumer in consumers.iter_mut() {
            consumer.assert_running().await;
        }
        if tokio::time::Instant::now() >= deadline {
            assert_eq!(got, expected, "waited {seconds} s for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
