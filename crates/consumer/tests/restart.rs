//! A consumer killed with SIGKILL and restarted at once, before the group coordinator gave up on
//! its previous run. The broker keeps the dead member, with its partitions, until its session
//! times out (Kafka's classic group protocol; the test broker does the same), so the restarted
//! consumer gets nothing until then. With librdkafka's default session timeout (45 s) that was a
//! 45 s stall after every crash; dualsync's default (10 s) bounds it, and static membership
//! (`kafka.instance_id`) lets the restarted instance take its partitions back at once.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    checkpointed, group_of, item_event, items_mapping, spawn_legacy_to_revamp, temp_dir, wait_until, write_config,
};
use dualsync_testkit::{Kind, TestDb, create_topic, produce_partitioned, unique};

/// Runs a consumer until it applied 100 events, kills it, starts it again at once, and returns
/// how long the second run took to apply 100 more, with its log.
async fn restart_after_sigkill(target: &TestDb, config: &Path, topic: &str) -> (Duration, String) {
    let events = |ids: std::ops::Range<i64>| -> Vec<_> {
        ids.map(|id| ((id % 2) as i32, item_event("c", id, Some("x")))).collect()
    };
    let group = group_of(config);
    produce_partitioned(topic, &events(0..100)).await;
    let mut first = spawn_legacy_to_revamp(config, &[], &[]);
    wait_until(90, "the first events", || async { checkpointed(target, &group).await >= 100 }).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let restarted = Instant::now();
    let mut second = spawn_legacy_to_revamp(config, &[], &[]);
    produce_partitioned(topic, &events(100..200)).await;
    while checkpointed(target, &group).await < 200 && restarted.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = restarted.elapsed();
    second.kill().expect("SIGKILL");
    let output = second.wait_with_output().expect("reap");
    (took, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The consumer's configuration for a fresh topic, with the test's session timeout removed (so
/// dualsync's default applies) and `extra` added to the Kafka section.
async fn setup(extra: &str) -> (TestDb, std::path::PathBuf, String) {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT)").await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 2).await;
    let config = write_config(&temp_dir(), &topic, &target, &items_mapping(&target));
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace("  options:\n    session.timeout.ms: \"6000\"\n", &format!("{extra}  options: {{}}\n"));
    std::fs::write(&config, text).expect("config");
    // The checkpoint table exists before the consumers start (the test polls it).
    dualsync_writer::Writer::connect(&target.url).await.expect("writer");
    (target, config, topic)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_restarted_after_sigkill_resumes_within_the_default_session() {
    let (target, config, topic) = setup("").await;
    let (took, log) = restart_after_sigkill(&target, &config, &topic).await;
    // librdkafka's own default session would have held the partitions for 45 s, and the test
    // broker often never hands them over (the consumer then rejoins by itself after 20 s).
    assert!(took < Duration::from_secs(45), "resumed after {took:?}; its log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_member_restarted_after_sigkill_resumes_at_once() {
    let (target, config, topic) = setup(&format!("  instance_id: {}\n", unique("instance"))).await;
    let text = std::fs::read_to_string(&config).expect("config");
    // A long session, which only static membership can skip.
    std::fs::write(&config, text.replace("  options: {}\n", "  options:\n    session.timeout.ms: \"45000\"\n"))
        .expect("config");
    let (took, log) = restart_after_sigkill(&target, &config, &topic).await;
    assert!(
        took < Duration::from_secs(30),
        "resumed after {took:?}, as if the 45 s session had to expire; its log:\n{log}"
    );
}
