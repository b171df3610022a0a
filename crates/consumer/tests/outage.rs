//! The target database stopped for 10 s in the middle of a run (its own test binary: it stops
//! the shared MariaDB server, which no other test may use meanwhile).

mod common;

use common::{
    Running, add_dlq_and_http, get, item_event, items_mapping, metric_sum, temp_dir, wait_until, write_config,
};
use dualsync_testkit::{Kind, TestDb, create_topic, produce_partitioned, rows, unique};

/// Events `ids` of `shop.items`, id `i` in partition `i % 2`.
fn creates(ids: std::ops::Range<i64>) -> Vec<(i32, dualsync_testkit::Record)> {
    ids.map(|id| ((id % 2) as i32, item_event("c", id, Some("x")))).collect()
}

/// While the target is down the consumer retries (nothing goes to the dead-letter topic and no
/// offset moves past an unwritten event), `/readyz` says it is not ready; when the target is back
/// it resumes by itself and every event is applied once.
#[tokio::test(flavor = "multi_thread")]
async fn the_target_down_for_ten_seconds_loses_nothing() {
    let target = TestDb::new(Kind::MySql).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT)").await;
    let (topic, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&topic, 2).await;
    create_topic(&dlq, 1).await;
    produce_partitioned(&topic, &creates(0..1000)).await;
    let path = write_config(&temp_dir(), &topic, &target, &items_mapping(&target));
    add_dlq_and_http(&path, &dlq);
    let consumer = Running::start(&path).await;
    let (addr, stats) = (consumer.addr, consumer.stats.clone());
    wait_until(60, "the first events", || async { stats.done() >= 1000 }).await;

    // The target goes away for 10 s while more events arrive.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testing/services.sh");
    let outage = std::process::Command::new(script)
        .args(["outage", "mariadb", "10"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("services.sh outage");
    let down = || async {
        use sqlx::Connection as _;
        sqlx::MySqlConnection::connect(&target.url).await.is_err()
    };
    wait_until(30, "MariaDB to stop", down).await;
    produce_partitioned(&topic, &creates(1000..2000)).await;
    wait_until(30, "/readyz to report the target down", || async { get(addr, "/readyz").await.0 == 503 }).await;
    assert!(!consumer.is_finished(), "the consumer keeps running while the target is down");
    let outage = tokio::task::spawn_blocking(move || outage.wait_with_output()).await.expect("join").expect("wait");
    assert!(outage.status.success(), "{}", String::from_utf8_lossy(&outage.stderr));

    // Back: everything is applied, nothing was dead-lettered, and the endpoints say so.
    wait_until(90, "the events after the outage", || async { stats.done() >= 2000 }).await;
    assert_eq!(target.rows("SELECT CAST(count(*) AS CHAR) FROM {ns}.items").await, rows(&[&["2000"]]));
    assert_eq!(stats.dead_lettered(), 0);
    assert_eq!(stats.applied(), 2000, "each event applied once");
    wait_until(10, "/readyz to report ready", || async { get(addr, "/readyz").await.0 == 200 }).await;
    let (_, metrics) = get(addr, "/metrics").await;
    let direction = ["direction=\"legacy-to-revamp\""];
    assert!(metric_sum(&metrics, "dualsync_retries_total", &direction) >= 1.0, "{metrics}");
    assert_eq!(metric_sum(&metrics, "dualsync_events_dead_lettered_total", &direction), 0.0, "{metrics}");
    let applied = ["decision=\"applied\"", &format!("table=\"{}.items\"", target.namespace)];
    assert!(metric_sum(&metrics, "dualsync_conflict_decisions_total", &applied) >= 2000.0, "{metrics}");
    assert!(metrics.contains(&format!("dualsync_consumer_lag{{topic=\"{topic}\",partition=\"0\"}}")), "{metrics}");
    consumer.stop().await;
}
