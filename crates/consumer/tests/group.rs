//! Consumers under load in a group, through the real binary: several partitions, a second
//! instance taking over, SIGTERM in the middle of a run.

mod common;

use common::{
    checkpointed, group_of, item_event, items_mapping, spawn_legacy_to_revamp, stop_with_sigterm, temp_dir, wait_until,
    write_config,
};
use dualsync_testkit::{Kind, TestDb, committed_offsets, create_topic, produce_partitioned, rows, unique};

/// Keys × rounds of updates, key `k` always in partition `k % partitions`; round `r` names the
/// row `v r`.
fn rounds(keys: i64, rounds: i64, partitions: i32) -> Vec<(i32, dualsync_testkit::Record)> {
    let mut out = Vec::with_capacity((keys * rounds) as usize);
    for round in 0..rounds {
        for key in 0..keys {
            let op = if round == 0 { "c" } else { "u" };
            out.push(((key % i64::from(partitions)) as i32, item_event(op, key, Some(&format!("v {round}")))));
        }
    }
    out
}

/// Two instances of `legacy-to-revamp` in one group share four partitions; one is stopped in the
/// middle of the run (each update takes a millisecond, so the run lasts) and the other takes its
/// partitions over. Every row ends in its last state,
/// and no row ever went back to an older state (a trigger records any update that does).
#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_takes_over_without_loss_or_reordering() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec(
            "CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT); \
             CREATE TABLE {ns}.backwards (id INTEGER, old TEXT, new TEXT); \
             CREATE FUNCTION {ns}.forwards_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               PERFORM pg_sleep(0.001); \
               IF split_part(NEW.name, ' ', 2)::int < split_part(OLD.name, ' ', 2)::int THEN \
                 INSERT INTO {ns}.backwards VALUES (NEW.id, OLD.name, NEW.name); END IF; RETURN NEW; END $$; \
             CREATE TRIGGER forwards_only BEFORE UPDATE ON {ns}.items FOR EACH ROW EXECUTE FUNCTION {ns}.forwards_only()",
        )
        .await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 4).await;
    let (keys, last) = (400, 30);
    produce_partitioned(&topic, &rounds(keys, last, 4)).await;
    let config = write_config(&temp_dir(), &topic, &target, &items_mapping(&target));
    let group = group_of(&config);
    // The checkpoint table exists before the consumers start (the test polls it).
    dualsync_writer::Writer::connect(&target.url).await.expect("writer");
    let env = [("DUALSYNC_BATCH_MAX_EVENTS", "40"), ("DUALSYNC_BATCH_WORKERS", "2"), ("DUALSYNC_LOG", "info")];
    let total = keys * last;
    let first = spawn_legacy_to_revamp(&config, &[], &env);
    wait_until(90, "the first instance to start", || async { checkpointed(&target, &group).await >= total / 10 }).await;
    let second = spawn_legacy_to_revamp(&config, &[], &env);
    // The second joins the group (a join waits about half the session timeout).
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let first_log = stop_with_sigterm(first);
    let done = format!("v {}", last - 1);
    let finished = || async {
        let sql = format!("SELECT count(*)::text FROM {{ns}}.items WHERE name = '{done}'");
        target.rows(&sql).await == rows(&[&[&keys.to_string()]])
    };
    wait_until(90, "the second instance to finish the run", finished).await;
    let second_log = stop_with_sigterm(second);
    assert!(target.rows("SELECT * FROM {ns}.backwards").await.is_empty(), "a row went back to an older state");
    assert_eq!(target.rows("SELECT count(*)::text FROM {ns}.items").await, rows(&[&[&keys.to_string()]]));
    // Both worked, and between them applied each event exactly once: the first committed what
    // it applied when its partitions left it, and the second started right after.
    let applied = |log: &str| -> i64 {
        let line = log.lines().find(|l| l.contains("consumer stopped")).expect("stop line");
        line.split("applied=").nth(1).and_then(|v| v.split_whitespace().next()?.parse().ok()).expect("applied count")
    };
    let (by_first, by_second) = (applied(&first_log), applied(&second_log));
    assert!(by_first > 0 && by_second > 0, "first applied {by_first}, second {by_second}");
    assert_eq!(by_first + by_second, total, "first applied {by_first}, second {by_second}");
    assert_eq!(committed_offsets(&group, &topic, 4), vec![keys * last / 4; 4], "all offsets committed");
}

/// SIGTERM while six partitions are being applied: the consumer stops reading, finishes the
/// batches in hand, commits, and exits 0 within the deadline; the committed offsets are exactly
/// the applied events (each event inserts its own row, so the rows of a partition are its first
/// `committed` events).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_commits_exactly_what_was_applied() {
    let target = TestDb::new(Kind::MySql).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT)").await;
    let topic = unique("legacy.shop.items");
    create_topic(&topic, 6).await;
    let total: i64 = 30_000;
    let events: Vec<_> = (0..total).map(|id| ((id % 6) as i32, item_event("c", id, Some("x")))).collect();
    produce_partitioned(&topic, &events).await;
    let config = write_config(&temp_dir(), &topic, &target, &items_mapping(&target));
    let group = group_of(&config);
    // The checkpoint table exists before the consumers start (the test polls it).
    dualsync_writer::Writer::connect(&target.url).await.expect("writer");
    let env = [("DUALSYNC_BATCH_MAX_EVENTS", "100"), ("DUALSYNC_SHUTDOWN_TIMEOUT_MS", "5000")];
    let consumer = spawn_legacy_to_revamp(&config, &[], &env);
    wait_until(90, "the first events", || async { checkpointed(&target, &group).await >= 2000 }).await;
    let stopping = std::time::Instant::now();
    stop_with_sigterm(consumer);
    let took = stopping.elapsed();
    assert!(took < std::time::Duration::from_secs(6), "exit took {took:?}, over the 5 s deadline");
    let applied = target.rows("SELECT CAST(count(*) AS CHAR) FROM {ns}.items").await[0][0].clone().unwrap();
    assert!(applied.parse::<i64>().unwrap() < total, "stopped mid-run ({applied} of {total} applied)");
    let committed = committed_offsets(&group, &topic, 6);
    for (partition, offset) in committed.iter().enumerate() {
        let sql = format!(
            "SELECT CAST(count(*) AS CHAR), CAST(COALESCE(MAX(id), -1) AS CHAR) FROM {{ns}}.items WHERE id % 6 = {partition}"
        );
        let applied = (*offset).max(0);
        let last_id = if applied == 0 { -1 } else { (applied - 1) * 6 + partition as i64 };
        assert_eq!(
            target.rows(&sql).await,
            rows(&[&[&applied.to_string(), &last_id.to_string()]]),
            "partition {partition}: committed offsets {committed:?}"
        );
    }
}
