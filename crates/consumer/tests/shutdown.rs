//! Shutdown with a deadline: a batch the target cannot take in time is abandoned (rolled back, its
//! offsets not committed) so the consumer still exits, and the next run applies it.

mod common;

use std::time::Duration;

use common::{consume, item_event, items_mapping, temp_dir, write_config};
use dualsync_consumer::{Config, Consumer, Direction};
use dualsync_testkit::{Kind, TestDb, create_topic, produce, rows, unique};
use sqlx::{AssertSqlSafe, Connection};

#[tokio::test]
async fn a_stuck_batch_does_not_hold_the_shutdown() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO {ns}.items VALUES (1, 'old')")
        .await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 1).await;
    produce(&topic, &[item_event("u", 1, Some("new"))]).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("shutdown_timeout_ms: 1000\n");
    std::fs::write(&config, text).expect("config");

    // GIVEN the row is locked by another transaction, so the consumer's write waits
    let mut locker = sqlx::PgConnection::connect(&target.url).await.expect("connect");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "BEGIN; SELECT * FROM \"{}\".items WHERE id = 1 FOR UPDATE",
        target.namespace
    )))
    .execute(&mut locker)
    .await
    .expect("lock");
    let consumer =
        Consumer::start(Config::load(&config).expect("config"), Direction::LegacyToRevamp).await.expect("start");
    let stats = consumer.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stats.consumed() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the event was not consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // the batch is now waiting on the lock
    assert_eq!(stats.done(), 0);

    // WHEN shutdown is requested
    let asked = tokio::time::Instant::now();
    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(10), running).await.expect("stopped in time").expect("task");

    // THEN the consumer stops within the deadline, without error, having applied nothing
    assert!(result.is_ok(), "{result:?}");
    assert!(asked.elapsed() < Duration::from_secs(5), "took {:?}", asked.elapsed());
    assert_eq!(stats.done(), 0);
    sqlx::raw_sql("ROLLBACK").execute(&mut locker).await.expect("unlock");
    assert_eq!(target.rows("SELECT name FROM {ns}.items").await, rows(&[&["old"]]));

    // AND the next run of the same group applies the event (its offset was never committed)
    consume(&config, Direction::LegacyToRevamp, 1).await;
    assert_eq!(target.rows("SELECT name FROM {ns}.items").await, rows(&[&["new"]]));
}
