//! `/healthz`, `/readyz` and `/metrics` report what a consumer did.

mod common;

use std::time::Duration;

use common::{Running, add_dlq_and_http, get, item_event, items_mapping, metric_sum, temp_dir, write_config};
use dualsync_testkit::{Kind, TestDb, create_topic, produce, unique};

#[tokio::test]
async fn endpoints_report_the_run() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await;
    let (topic, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&topic, 1).await;
    create_topic(&dlq, 1).await;
    produce(&topic, &[item_event("c", 1, Some("a")), item_event("c", 2, None), item_event("c", 3, Some("c"))]).await;
    let mapping = items_mapping(&target);
    let path = write_config(&temp_dir(), &topic, &target, &mapping);
    add_dlq_and_http(&path, &dlq);
    let consumer = Running::start(&path).await;
    let (addr, stats) = (consumer.addr, consumer.stats.clone());
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_string()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stats.done() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "not done in 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Readiness follows the assignment, refreshed every second.
    let mut ready = get(addr, "/readyz").await;
    while ready.0 != 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        ready = get(addr, "/readyz").await;
    }
    assert_eq!(ready, (200, "ready\n".to_string()));
    let (status, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let sum = |name: &str, labels: &[&str]| metric_sum(&metrics, name, labels);
    // Other tests in this process may have counted too: at least this run's events are there.
    let this_run = ["direction=\"legacy-to-revamp\"", "table=\"items\"", "op=\"c\""];
    assert!(sum("dualsync_events_consumed_total", &this_run) >= 3.0, "{metrics}");
    assert!(sum("dualsync_events_applied_total", &this_run) >= 2.0, "{metrics}");
    let write_failures = [this_run.as_slice(), &["stage=\"write\""]].concat();
    assert!(sum("dualsync_events_dead_lettered_total", &write_failures) >= 1.0, "{metrics}");
    // The two new rows went into PostgreSQL by COPY.
    let target_table = format!("table=\"{}.items\"", target.namespace);
    assert!(sum("dualsync_rows_copied_total", &[&target_table]) >= 2.0, "{metrics}");
    assert!(metrics.contains("dualsync_end_to_end_lag_seconds{"), "{metrics}");
    assert!(metrics.contains("dualsync_apply_seconds"), "{metrics}");
    assert!(metrics.contains("dualsync_batch_events"), "{metrics}");
    consumer.stop().await;
}
