//! Real Debezium 3.6 connectors in the tests: `testing/debezium.sh run` starts one of the
//! connector registrations in `debezium/` (the files operators use), pointed at this test's
//! database and the test broker.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{Kind, TestDb, kafka_brokers, unique};

/// A running Debezium connector (one JVM), killed when dropped.
pub struct Debezium {
    child: Child,
    ready: PathBuf,
    /// The connector's `topic.prefix`: its topics are `<prefix>.<db or schema>.<table>`.
    pub prefix: String,
    /// The state folder (offsets, schema history, the JVM's log in `debezium.log`).
    pub state: PathBuf,
}

/// Where the checkout's `testing/` folder is.
fn testing_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testing")
}

/// The checkout's connector registration `debezium/<file>`.
pub fn connector_file(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../debezium").join(file)
}

/// Whether real Debezium can run here: `testing/debezium.sh install` is run once per test binary.
/// When it cannot install (no Java 17, PyPI unreachable), this says so loudly on stderr and the
/// caller skips; any other failure panics.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let status = Command::new(testing_dir().join("debezium.sh"))
            .arg("install")
            .status()
            .expect("run testing/debezium.sh install");
        match status.code() {
            Some(0) => true,
            Some(3) => {
                eprintln!(
                    "\n**********\nSKIPPED: real Debezium cannot be installed on this machine (see the message \
                     above); the real-Debezium tests did not run.\n**********\n"
                );
                false
            }
            _ => panic!("testing/debezium.sh install failed: {status}"),
        }
    })
}

/// The parts of a `scheme://user:password@host:port/database` URL.
struct UrlParts {
    user: String,
    password: String,
    host: String,
    port: String,
    database: String,
}

fn url_parts(url: &str) -> UrlParts {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (userinfo, rest) = rest.split_once('@').expect("a user in the test URL");
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (hostport, database) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = hostport.split_once(':').expect("a port in the test URL");
    let database = database.split('?').next().unwrap_or("").to_string();
    UrlParts { user: user.into(), password: password.into(), host: host.into(), port: port.into(), database }
}

impl Debezium {
    /// Starts the connector of `debezium/<file>` capturing `tables` (names without namespace) of
    /// `db` (on MariaDB, a database of [`crate::debezium_mysql_url`]'s server), with `overrides`
    /// on top, and waits until its task runs. `None` when Debezium is not
    /// [`available`]. The database, table lists, connection, topic prefix, slot and publication
    /// (PostgreSQL) and server id (MySQL) are this test's own.
    pub async fn start(file: &str, db: &TestDb, tables: &[&str], overrides: &[(&str, &str)]) -> Option<Debezium> {
        if !available() {
            return None;
        }
        // One JVM starts at a time (its start-up takes both cores of a small machine for seconds).
        static STARTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        let _starting = STARTS.acquire().await.expect("the semaphore is never closed");
        let parts = url_parts(&db.url);
        let prefix = unique("dbz");
        let state = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&state).expect("state dir");
        let ready = state.join("ready");
        let tables = tables.iter().map(|t| format!("{}.{t}", db.namespace)).collect::<Vec<_>>().join(",");
        let mut settings: Vec<(String, String)> = vec![
            ("kafka.bootstrap.servers".into(), kafka_brokers()),
            // The test broker (tansu 0.6.0) gives a multi-record batch fewer offsets than it
            // holds records: one record per batch.
            ("producer.batch.size".into(), "0".into()),
            ("runner.state.dir".into(), state.display().to_string()),
            ("runner.ready.file".into(), ready.display().to_string()),
            ("name".into(), prefix.clone()),
            ("topic.prefix".into(), prefix.clone()),
            ("database.hostname".into(), parts.host),
            ("database.port".into(), parts.port),
            ("database.user".into(), parts.user),
            ("database.password".into(), parts.password),
            ("table.include.list".into(), tables),
        ];
        match db.kind {
            Kind::MySql => {
                settings.push(("database.include.list".into(), db.namespace.clone()));
                let server_id = 100_000 + (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u64;
                settings.push(("database.server.id".into(), server_id.to_string()));
            }
            Kind::Postgres => {
                settings.push(("database.dbname".into(), parts.database));
                settings.push(("schema.include.list".into(), db.namespace.clone()));
                settings.push(("slot.name".into(), prefix.clone()));
                settings.push(("publication.name".into(), prefix.clone()));
            }
        }
        settings.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let log = std::fs::File::create(state.join("debezium.log")).expect("log file");
        let child = Command::new(testing_dir().join("debezium.sh"))
            .arg("run")
            .arg(connector_file(file))
            .args(settings.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start testing/debezium.sh run");
        let mut debezium = Debezium { child, ready, prefix, state };
        debezium.wait_started().await;
        Some(debezium)
    }

    /// Waits (up to 120 s) until the connector's task has started; panics with the log if the
    /// JVM exits first.
    async fn wait_started(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !self.ready.exists() {
            if let Some(status) = self.child.try_wait().expect("poll the JVM") {
                panic!("Debezium exited ({status}) before it started:\n{}", self.log());
            }
            assert!(tokio::time::Instant::now() < deadline, "Debezium did not start in 120 s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The topic of `table` in `db`.
    pub fn topic(&self, db: &TestDb, table: &str) -> String {
        format!("{}.{}.{table}", self.prefix, db.namespace)
    }

    /// The last 60 lines of the JVM's log.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.state.join("debezium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Whether the JVM still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("poll the JVM").is_none()
    }
}

impl Drop for Debezium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
