//! The MariaDB capture across a server restart (its own test binary: it restarts the shared
//! MariaDB server, which no other test may use meanwhile).

mod common;

use common::{Running, changes};
use dualsync_capture::SnapshotMode;
use dualsync_envelope::Value;
use dualsync_testkit::TestDb;

/// A restarted server ends its binlog file with a stop event, not a rotate: the dump thread
/// moves on to the next file with an artificial rotate, which the capture ignored (found by the
/// convergence harness, `testing/torture.sh`). It then stored the new file's positions under the
/// old file's name, and the next start read from the middle of an event (`ERROR 1236 … log
/// event entry exceeded max_allowed_packet`) and never streamed again. Now the position follows
/// the file, and a capture started, stopped and started again across the restart loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_resumes_across_a_server_restart() {
    let db = TestDb::mysql().await;
    let t = db.qualified("items");
    db.exec(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, n INT)")).await;
    let mut config = common::config(&db);
    config.snapshot = SnapshotMode::Never;
    let topic = format!("{}.{}.items", config.prefix(), db.namespace);

    let capture = Running::start(config.clone()).await;
    db.exec(&format!("INSERT INTO {t} VALUES (1, 1)")).await;
    changes(&topic, 1).await;
    capture.stop().await.expect("clean stop");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testing/services.sh");
    let status = std::process::Command::new(script).args(["outage", "mariadb", "1"]).status().expect("outage");
    assert!(status.success(), "services.sh outage mariadb");

    // From the old file's end into the new one, then stopped: the stored position is in the new file.
    let capture = Running::start(config.clone()).await;
    db.exec(&format!("INSERT INTO {t} VALUES (2, 2)")).await;
    changes(&topic, 2).await;
    capture.stop().await.expect("clean stop");

    let capture = Running::start(config.clone()).await;
    db.exec(&format!("INSERT INTO {t} VALUES (3, 3)")).await;
    let events = changes(&topic, 3).await;
    let ids: Vec<Value> = events
        .iter()
        .map(|e| e.as_ref().expect("a change").after.as_ref().expect("after").get("id").cloned().expect("id"))
        .collect();
    assert_eq!(ids, vec![Value::Int(1), Value::Int(2), Value::Int(3)], "each insert once, in order");
    capture.stop().await.expect("clean stop");
}
