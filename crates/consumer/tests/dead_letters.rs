//! Poison events among good ones: exactly those land in the dead-letter topic, with their
//! original bytes and their context in headers, and everything else is applied.

mod common;

use common::{consume, item_event, items_mapping, temp_dir, write_config};
use dualsync_consumer::Direction;
use dualsync_testkit::{Kind, Record, TestDb, create_topic, produce, read_records, rows, unique};
use rdkafka::Message as _;
use rdkafka::message::Headers as _;

fn create(id: i64, name: Option<&str>) -> Record {
    item_event("c", id, name)
}

#[tokio::test]
async fn poison_events_go_to_the_dead_letter_topic_and_the_rest_is_applied() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await;
    let (topic, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&topic, 1).await;
    create_topic(&dlq, 1).await;
    let keyless_delete =
        serde_json::json!({"op": "d", "before": null, "after": null, "source": {"db": "shop", "table": "items"}});
    let events = vec![
        create(1, Some("one")),
        (Some(b"{\"id\":9}".to_vec()), Some(b"not json at all".to_vec())), // offset 1: cannot be decoded
        create(2, Some("two")),
        (None, Some(keyless_delete.to_string().into_bytes())), // offset 3: cannot be mapped (which row?)
        create(3, None),                                       // offset 4: the target refuses NULL
        create(4, Some("four")),
    ];
    produce(&topic, &events).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!("dlq:\n  topic: {dlq}\n"));
    std::fs::write(&config, text).expect("config");

    let stats = consume(&config, Direction::LegacyToRevamp, events.len() as u64).await;
    assert_eq!((stats.applied(), stats.dead_lettered()), (3, 3));
    assert_eq!(
        target.rows("SELECT id::text, name FROM {ns}.items ORDER BY id").await,
        rows(&[&["1", "one"], &["2", "two"], &["4", "four"]])
    );

    let letters = read_records(&dlq, 3).await;
    let header = |m: &rdkafka::message::OwnedMessage, name: &str| {
        let headers = m.headers().expect("headers");
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| panic!("header {name} missing"))
    };
    let summary: Vec<(String, String, String)> = letters
        .iter()
        .map(|m| {
            (header(m, "dualsync.original.offset"), header(m, "dualsync.stage"), header(m, "dualsync.error.class"))
        })
        .collect();
    let expected = [("1", "decode"), ("3", "map"), ("4", "write")];
    assert_eq!(summary, expected.map(|(o, s)| (o.to_string(), s.to_string(), "data".to_string())));
    for (letter, (offset, _)) in letters.iter().zip(expected) {
        let original = &events[offset.parse::<usize>().expect("offset")];
        assert_eq!(letter.key(), original.0.as_deref(), "the original key, unchanged");
        assert_eq!(letter.payload(), original.1.as_deref(), "the original value, unchanged");
        assert_eq!(header(letter, "dualsync.original.topic"), topic);
        assert_eq!(header(letter, "dualsync.original.partition"), "0");
        assert!(!header(letter, "dualsync.consumer").is_empty());
        assert_eq!(header(letter, "dualsync.version"), env!("CARGO_PKG_VERSION"));
    }
    assert!(header(&letters[0], "dualsync.error.message").starts_with("value: not valid JSON"));
    assert!(header(&letters[1], "dualsync.error.message").contains("neither a Kafka key nor a `before` row"));
    assert!(header(&letters[2], "dualsync.error.message").contains("violates not-null constraint"));
    // The batch of four changes failed, then its right half, then the change alone.
    assert_eq!(header(&letters[2], "dualsync.attempts"), "3");
}

/// A child that arrives before its parent (from another topic) is retried for
/// `retry.foreign_key_seconds`: applied when the parent shows up in time, dead-lettered when not.
#[tokio::test]
async fn children_wait_for_their_parents_for_a_while() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec("CREATE TABLE {ns}.parents (id INTEGER PRIMARY KEY); CREATE TABLE {ns}.children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES {ns}.parents (id))")
        .await;
    let child = |id: i64, parent: i64| -> Record {
        let event = serde_json::json!({"op": "c", "after": {"id": id, "parent_id": parent}, "source": {"db": "shop", "table": "children"}});
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let mapping =
        format!("version: 1\ntables:\n  - legacy: shop.children\n    revamp: {}.children\n", target.namespace);
    let run = |seconds: u64| {
        let (target, mapping) = (&target, &mapping);
        async move {
            let (topic, dlq) = (unique("legacy.shop.children"), unique("dualsync.dlq"));
            create_topic(&topic, 1).await;
            create_topic(&dlq, 1).await;
            let config = write_config(&temp_dir(), &topic, target, mapping);
            let mut text = std::fs::read_to_string(&config).expect("config");
            text.push_str(&format!("dlq:\n  topic: {dlq}\nretry:\n  foreign_key_seconds: {seconds}\n"));
            std::fs::write(&config, text).expect("config");
            (topic, config)
        }
    };

    // GIVEN a child of parent 1, which is not there yet, WHEN the parent arrives 2 s later
    let (topic, config) = run(60).await;
    produce(&topic, &[child(10, 1)]).await;
    let late_parent = {
        let target_url = target.url.clone();
        let ns = target.namespace.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let parent = TestDb { kind: Kind::Postgres, namespace: ns, url: target_url };
            parent.exec("INSERT INTO {ns}.parents VALUES (1)").await;
        })
    };
    let stats = consume(&config, Direction::LegacyToRevamp, 1).await;
    late_parent.await.expect("parent");
    // THEN the child is applied, nothing dead-lettered
    assert_eq!((stats.applied(), stats.dead_lettered()), (1, 0));

    // GIVEN a child whose parent never comes, THEN it is dead-lettered after the retry time
    let (topic, config) = run(1).await;
    produce(&topic, &[child(20, 2)]).await;
    let stats = consume(&config, Direction::LegacyToRevamp, 1).await;
    assert_eq!((stats.applied(), stats.dead_lettered()), (0, 1));
    assert_eq!(target.rows("SELECT id::text, parent_id::text FROM {ns}.children").await, rows(&[&["10", "1"]]));
}

/// A setup error (here: the target lacks a column the events carry) is not the data's fault:
/// with a dead-letter topic configured, nothing goes there (before the fix every event was
/// bisected and dead-lettered one by one), `/readyz` fails with the error, and once the operator
/// adds the column the consumer resumes by itself and applies every event.
#[tokio::test(flavor = "multi_thread")]
async fn setup_errors_wait_for_the_fix_and_fill_no_dead_letters() {
    use common::{Running, add_dlq_and_http, get, wait_until};
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY)").await;
    let (topic, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&topic, 1).await;
    create_topic(&dlq, 1).await;
    let events: Vec<Record> = (1..=20).map(|id| create(id, Some("named"))).collect();
    produce(&topic, &events).await;
    let path = write_config(&temp_dir(), &topic, &target, &items_mapping(&target));
    add_dlq_and_http(&path, &dlq);
    let consumer = Running::start(&path).await;
    let addr = consumer.addr;
    // GIVEN events naming a column the target lacks, THEN /readyz says what to fix
    wait_until(30, "/readyz to report the setup error", || async {
        let (status, body) = get(addr, "/readyz").await;
        status == 503 && body.contains("has no column \"name\"") && body.contains("waiting for the target to be fixed")
    })
    .await;
    assert_eq!(consumer.stats.dead_lettered(), 0);
    assert_eq!(consumer.stats.done(), 0, "nothing is applied or skipped meanwhile");
    // WHEN the operator adds the column, THEN every event is applied and none dead-lettered
    target.exec("ALTER TABLE {ns}.items ADD COLUMN name TEXT").await;
    let stats = consumer.stats.clone();
    wait_until(60, "the events after the fix", || async { stats.done() >= 20 }).await;
    assert_eq!((stats.applied(), stats.dead_lettered()), (20, 0));
    assert_eq!(target.rows("SELECT count(*)::text FROM {ns}.items WHERE name = 'named'").await, rows(&[&["20"]]));
    wait_until(10, "/readyz to report ready", || async { get(addr, "/readyz").await.0 == 200 }).await;
    consumer.stop().await;
}

/// A child and a later update of it arrive before their parent, which comes from another topic
/// into the same worker, behind them. Before the fix the worker waited for the parent it would
/// itself apply next (the whole `retry.foreign_key_seconds`, here 600 s), then dead-lettered the
/// child. Now the child is parked, the rest flows (an unrelated row behind it is applied), the
/// parent lands, and the child follows with its update in order; nothing is dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_before_its_parent_waits_without_holding_anything_back() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec("CREATE TABLE {ns}.users (id INTEGER PRIMARY KEY, name TEXT); \
               CREATE TABLE {ns}.posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES {ns}.users (id), title TEXT)")
        .await;
    let record = |table: &str, op: &str, after: serde_json::Value| -> Record {
        let id = after["id"].clone();
        let event = serde_json::json!({"op": op, "after": after, "source": {"db": "shop", "table": table}});
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let (posts, users, dlq) = (unique("legacy.shop.posts"), unique("legacy.shop.users"), unique("dualsync.dlq"));
    for topic in [&posts, &users, &dlq] {
        create_topic(topic, 1).await;
    }
    produce(
        &posts,
        &[
            record("posts", "c", serde_json::json!({"id": 10, "user_id": 1, "title": "first"})),
            record("posts", "u", serde_json::json!({"id": 10, "user_id": 1, "title": "first, edited"})),
            record("posts", "c", serde_json::json!({"id": 11, "user_id": 2, "title": "by an existing user"})),
        ],
    )
    .await;
    target.exec("INSERT INTO {ns}.users VALUES (2, 'existing')").await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: shop.users\n    revamp: {ns}.users\n  - legacy: shop.posts\n    revamp: {ns}.posts\n",
        ns = target.namespace
    );
    let config = write_config(&temp_dir(), &posts, &target, &mapping);
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(&format!("topics: [{posts}]"), &format!("topics: [{posts}, {users}]"));
    let text = text.replace("batch:\n", "batch:\n  workers: 1\n");
    std::fs::write(&config, format!("{text}dlq:\n  topic: {dlq}\nretry:\n  foreign_key_seconds: 600\n"))
        .expect("config");
    let parent_later = {
        let users = users.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            produce(&users, &[record("users", "c", serde_json::json!({"id": 1, "name": "parent"}))]).await;
        })
    };
    let stats = consume(&config, Direction::LegacyToRevamp, 4).await;
    parent_later.await.expect("parent");
    assert_eq!((stats.applied(), stats.dead_lettered()), (4, 0));
    assert_eq!(
        target.rows("SELECT id::text, user_id::text, title FROM {ns}.posts ORDER BY id").await,
        rows(&[&["10", "1", "first, edited"], &["11", "2", "by an existing user"]])
    );
}

/// PostgreSQL logs a parent's delete before the deletes its `ON DELETE CASCADE` makes of the
/// children, and they travel on different topics: on a MariaDB target whose foreign key
/// restricts deletes, the parent's delete can arrive while the children are still there (error
/// 1451, found by the convergence harness). Before the fix that was a data error and the delete
/// was dead-lettered, so the parent stayed on one side for ever. Now the delete is parked like a
/// child waiting for its parent, and applied once the children's deletes have landed.
#[tokio::test(flavor = "multi_thread")]
async fn a_parent_delete_before_its_childrens_waits_for_them() {
    let target = TestDb::new(Kind::MySql).await;
    target
        .exec(
            "CREATE TABLE {ns}.users (id INTEGER PRIMARY KEY, name TEXT); \
               CREATE TABLE {ns}.posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT, \
               FOREIGN KEY (user_id) REFERENCES {ns}.users (id)); \
               INSERT INTO {ns}.users VALUES (1, 'parent'); INSERT INTO {ns}.posts VALUES (10, 1, 'child')",
        )
        .await;
    let record = |table: &str, id: i64| -> Record {
        let event = serde_json::json!({"op": "d", "before": {"id": id}, "source": {"db": "shop", "table": table}});
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let (posts, users, dlq) = (unique("legacy.shop.posts"), unique("legacy.shop.users"), unique("dualsync.dlq"));
    for topic in [&posts, &users, &dlq] {
        create_topic(topic, 1).await;
    }
    produce(&users, &[record("users", 1)]).await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: shop.users\n    revamp: {ns}.users\n  - legacy: shop.posts\n    revamp: {ns}.posts\n",
        ns = target.namespace
    );
    let config = write_config(&temp_dir(), &users, &target, &mapping);
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(&format!("topics: [{users}]"), &format!("topics: [{users}, {posts}]"));
    std::fs::write(&config, format!("{text}dlq:\n  topic: {dlq}\n")).expect("config");
    let children_later = {
        let posts = posts.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            produce(&posts, &[record("posts", 10)]).await;
        })
    };
    let stats = consume(&config, Direction::LegacyToRevamp, 2).await;
    children_later.await.expect("children");
    assert_eq!((stats.applied(), stats.dead_lettered()), (2, 0));
    assert_eq!(target.rows("SELECT CAST(count(*) AS CHAR) FROM {ns}.users").await, rows(&[&["0"]]));
}

/// A child written on the target while the other side deleted its parent never gets a delete
/// of its own, so on a target whose foreign key restricts deletes the parent's delete, which
/// won, waited for ever and then went to the dead-letter topic, and the parent stayed on this
/// side only (found by the convergence harness). Now a parked delete takes the rows that still
/// reference its row with it, as ON DELETE CASCADE would, in its own transaction; a delete that
/// loses to a newer version of the row deletes nothing, its children included.
#[tokio::test(flavor = "multi_thread")]
async fn a_winning_parent_delete_takes_the_children_written_here_with_it() {
    let target = TestDb::new(Kind::MySql).await;
    target
        .exec("CREATE TABLE {ns}.users (id INTEGER PRIMARY KEY, version INTEGER NOT NULL); \
               CREATE TABLE {ns}.posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, \
               FOREIGN KEY (user_id) REFERENCES {ns}.users (id)); \
               CREATE TABLE {ns}.likes (post_id INTEGER NOT NULL PRIMARY KEY, FOREIGN KEY (post_id) REFERENCES {ns}.posts (id)); \
               INSERT INTO {ns}.users VALUES (1, 1), (2, 5); INSERT INTO {ns}.posts VALUES (10, 1), (20, 2); \
               INSERT INTO {ns}.likes VALUES (10), (20)")
        .await;
    let delete = |id: i64, version: i64| -> Record {
        let before = serde_json::json!({"id": id, "version": version});
        let event = serde_json::json!({"op": "d", "before": before, "source": {"db": "shop", "table": "users"}});
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let (users, dlq) = (unique("legacy.shop.users"), unique("dualsync.dlq"));
    for topic in [&users, &dlq] {
        create_topic(topic, 1).await;
    }
    produce(&users, &[delete(1, 1), delete(2, 1)]).await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: shop.users\n    revamp: {ns}.users\n    sync:\n      \
         conflict: {{kind: version, legacy: version, revamp: version, tie: legacy}}\n",
        ns = target.namespace
    );
    let config = write_config(&temp_dir(), &users, &target, &mapping);
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}dlq:\n  topic: {dlq}\n")).expect("config");
    let stats = consume(&config, Direction::LegacyToRevamp, 2).await;
    assert_eq!(stats.dead_lettered(), 0);
    assert_eq!(target.rows("SELECT CAST(id AS CHAR) FROM {ns}.users ORDER BY id").await, rows(&[&["2"]]));
    assert_eq!(target.rows("SELECT CAST(id AS CHAR) FROM {ns}.posts ORDER BY id").await, rows(&[&["20"]]));
    assert_eq!(target.rows("SELECT CAST(post_id AS CHAR) FROM {ns}.likes").await, rows(&[&["20"]]));
}

/// The mirror of the case above, on the side where the parent was deleted: the child written on
/// the other side arrives after its parent's delete and waits for a parent that will not come.
/// Before the fix it was dead-lettered after `retry.foreign_key_seconds` (valid data in the
/// dead-letter topic, and an operator with nothing to fix). Now, when the parent's delete is
/// remembered (its tombstone), the child is left out, as the parent's delete took the other
/// side's copy with it; a child whose parent was never there is still dead-lettered.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_whose_parent_was_deleted_is_left_out_not_dead_lettered() {
    let target = TestDb::new(Kind::Postgres).await;
    target
        .exec(
            "CREATE TABLE {ns}.users (id INTEGER PRIMARY KEY, version INTEGER NOT NULL); \
               CREATE TABLE {ns}.posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES {ns}.users (id), \
               version INTEGER NOT NULL DEFAULT 1); \
               CREATE TABLE {ns}.likes (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES {ns}.posts (id))",
        )
        .await;
    let record = |table: &str, op: &str, row: serde_json::Value| -> Record {
        let id = row["id"].clone();
        let image = if op == "d" { "before" } else { "after" };
        let event = serde_json::json!({"op": op, image: row, "source": {"db": "shop", "table": table}});
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let (users, posts, dlq) = (unique("legacy.shop.users"), unique("legacy.shop.posts"), unique("dualsync.dlq"));
    let likes = unique("legacy.shop.likes");
    for topic in [&users, &posts, &likes, &dlq] {
        create_topic(topic, 1).await;
    }
    produce(
        &users,
        &[
            record("users", "c", serde_json::json!({"id": 1, "version": 1})),
            record("users", "d", serde_json::json!({"id": 1, "version": 1})),
        ],
    )
    .await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: shop.users\n    revamp: {ns}.users\n    sync:\n      \
         conflict: {{kind: version, legacy: version, revamp: version, tie: legacy}}\n  \
         - legacy: shop.posts\n    revamp: {ns}.posts\n    sync:\n      \
         conflict: {{kind: version, legacy: version, revamp: version, tie: legacy}}\n  \
         - legacy: shop.likes\n    revamp: {ns}.likes\n",
        ns = target.namespace
    );
    let config = write_config(&temp_dir(), &users, &target, &mapping);
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(&format!("topics: [{users}]"), &format!("topics: [{users}, {posts}, {likes}]"));
    std::fs::write(&config, format!("{text}dlq:\n  topic: {dlq}\nretry:\n  foreign_key_seconds: 3\n")).expect("config");
    let children_later = {
        let (posts, likes) = (posts.clone(), likes.clone());
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let orphan = record("posts", "c", serde_json::json!({"id": 10, "user_id": 1, "version": 1}));
            let stray = record("posts", "c", serde_json::json!({"id": 20, "user_id": 2, "version": 1}));
            produce(&posts, &[orphan, stray]).await;
            // The orphan's own child: left out in its turn (the orphan is remembered as deleted).
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            produce(&likes, &[record("likes", "c", serde_json::json!({"id": 100, "post_id": 10}))]).await;
        })
    };
    let stats = consume(&config, Direction::LegacyToRevamp, 5).await;
    children_later.await.expect("children");
    assert_eq!((stats.applied(), stats.skipped(), stats.dead_lettered()), (2, 2, 1));
    assert_eq!(target.rows("SELECT count(*)::text FROM {ns}.posts").await, rows(&[&["0"]]));
}

/// The bootstrap of two non-empty sides: the other side's snapshot meets rows this side's
/// application created itself. A row both hold alike is left alone, a row only the source holds
/// is copied, and a *different* row under the same key is neither merged nor overwritten: it is
/// dead-lettered with both rows. Once the operator chooses a policy, the dead letter replayed
/// settles it.
#[tokio::test]
async fn a_snapshot_row_colliding_with_a_different_stored_row_is_dead_lettered_with_both() {
    let target = TestDb::new(Kind::Postgres).await;
    target.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await;
    target.exec("INSERT INTO {ns}.items VALUES (1, 'one'), (2, 'two')").await;
    let snapshot = |id: i64, name: &str| -> Record {
        let event = serde_json::json!({
            "op": "r", "after": {"id": id, "name": name},
            "source": {"db": "shop", "table": "items", "ts_ms": 1_700_000_000_000i64, "snapshot": "true"}
        });
        (Some(format!("{{\"id\":{id}}}").into_bytes()), Some(event.to_string().into_bytes()))
    };
    let events = vec![snapshot(1, "one"), snapshot(2, "deux"), snapshot(3, "three")];
    let (topic, dlq) = (unique("legacy.shop.items"), unique("dualsync.dlq"));
    create_topic(&topic, 1).await;
    create_topic(&dlq, 1).await;
    produce(&topic, &events).await;
    let mapping = items_mapping(&target);
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!("dlq:\n  topic: {dlq}\n"));
    std::fs::write(&config, text).expect("config");

    let stats = consume(&config, Direction::LegacyToRevamp, events.len() as u64).await;
    assert_eq!(stats.dead_lettered(), 1);
    let items = || target.rows("SELECT id::text, name FROM {ns}.items ORDER BY id");
    assert_eq!(items().await, rows(&[&["1", "one"], &["2", "two"], &["3", "three"]]), "row 2 is left alone");
    let letter = read_records(&dlq, 1).await.remove(0);
    let header = |name: &str| {
        let headers = letter.headers().expect("headers");
        let found = headers.iter().find(|h| h.key == name).and_then(|h| h.value).expect(name);
        String::from_utf8_lossy(found).into_owned()
    };
    assert_eq!((header("dualsync.stage"), header("dualsync.original.offset")), ("collision".into(), "1".into()));
    assert_eq!(letter.payload(), events[1].1.as_deref(), "the incoming row, as it came");
    let error = header("dualsync.error.message");
    assert!(error.contains("under (id=2)") && error.contains(r#""name": "two""#), "the stored row: {error}");
    assert!(error.contains("sync.bootstrap"), "the next step: {error}");

    // The operator lets the legacy side win and replays the dead letter into the topic.
    // (A consumer of a new group reads the whole topic again: the snapshot, then the replay.)
    let mapping = format!("{mapping}    sync:\n      bootstrap: legacy-wins\n");
    let config = write_config(&temp_dir(), &topic, &target, &mapping);
    produce(&topic, &[(letter.key().map(<[u8]>::to_vec), letter.payload().map(<[u8]>::to_vec))]).await;
    consume(&config, Direction::LegacyToRevamp, events.len() as u64 + 1).await;
    assert_eq!(items().await, rows(&[&["1", "one"], &["2", "deux"], &["3", "three"]]), "settled by the policy");
}
