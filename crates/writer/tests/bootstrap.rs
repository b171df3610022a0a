//! Snapshot rows (the bootstrap of two non-empty sides) against rows already stored, on the real
//! MariaDB and PostgreSQL servers: copied when missing, left alone when identical, and a
//! different row under the same key settled by the table's policy — never merged silently.

use dualsync_conflict::{Guard, Kind as Conflict, OnCollision};
use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb, rows};
use dualsync_writer::{TablePolicy, Writer};

const KINDS: [Kind; 2] = [Kind::Postgres, Kind::MySql];

fn table(db: &TestDb) -> TableName {
    TableName { namespace: Some(db.namespace.clone()), name: "people".into() }
}

fn row(id: i64, name: &str, note: Option<&str>, modified: &str) -> Row {
    let modified = chrono::NaiveDateTime::parse_from_str(modified, "%Y-%m-%d %H:%M:%S").unwrap();
    Row(vec![
        ("id".into(), Value::Int(id)),
        ("name".into(), Value::Text(name.into())),
        ("note".into(), note.map_or(Value::Null, |n| Value::Text(n.into()))),
        ("modified".into(), Value::Timestamp(modified)),
    ])
}

/// A table holding the target application's own rows 1–3.
async fn seeded(kind: Kind) -> (TestDb, Writer) {
    let db = TestDb::new(kind).await;
    let ts = if kind == Kind::Postgres { "TIMESTAMP" } else { "DATETIME(6)" };
    db.exec(&format!("CREATE TABLE {{ns}}.people (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, note VARCHAR(50), modified {ts})"))
        .await;
    db.exec(
        "INSERT INTO {ns}.people VALUES (1, 'ada', NULL, '2024-01-01 10:00:01'), (2, 'bob', 'x', '2024-01-01 10:00:02'), \
         (3, 'cy', NULL, '2024-01-01 10:00:05')",
    )
    .await;
    let writer = Writer::connect(&db.url).await.unwrap();
    (db, writer)
}

/// The other side's snapshot: row 1 the same, 2 a different and newer entity, 3 a different and
/// older one, 4 only there.
fn snapshot(db: &TestDb) -> Vec<RowChange> {
    [
        row(1, "ada", None, "2024-01-01 10:00:01"),
        row(2, "bea", Some("x"), "2024-01-01 10:00:03"),
        row(3, "cid", None, "2024-01-01 10:00:04"),
        row(4, "dan", None, "2024-01-01 10:00:00"),
    ]
    .into_iter()
    .map(|r| RowChange { table: table(db), kind: RowChangeKind::Seed(r) })
    .collect()
}

async fn names(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.rows("SELECT name FROM {ns}.people ORDER BY id").await
}

fn policy(on_collision: OnCollision) -> TablePolicy {
    let guard = Guard { kind: Conflict::Timestamp, column: "modified".into(), incoming_wins_ties: false };
    TablePolicy { guard: Some(guard), on_collision, ..TablePolicy::default() }
}

#[tokio::test]
async fn refuse_leaves_both_entities_alone_and_reports_each_key() {
    for kind in KINDS {
        let (db, mut writer) = seeded(kind).await;
        writer.set_policy(table(&db), policy(OnCollision::Refuse));
        let decided = writer.apply(&snapshot(&db), &[]).await.unwrap();
        let d = &decided[&table(&db)];
        assert_eq!(names(&db).await, rows(&[&["ada"], &["bob"], &["cy"], &["dan"]]), "{kind:?}: only row 4 is copied");
        assert_eq!((d.applied, d.identical, d.collisions_settled), (1, 1, 0), "{kind:?}");
        let keys: Vec<&str> = d.collisions.iter().map(|c| c.key[0].1.as_str()).collect();
        assert_eq!(keys, ["2", "3"], "{kind:?}: the colliding keys");
        assert!(
            d.collisions[0].key[0].0 == "id" && d.collisions[0].stored.contains("bob"),
            "{kind:?}: {:?}",
            d.collisions
        );
        assert!(d.collisions[1].stored.contains("cy"), "{kind:?}: the stored row travels with the report");
        // The same snapshot again: nothing changes, the same two are reported.
        let decided = writer.apply(&snapshot(&db), &[]).await.unwrap();
        assert_eq!((decided[&table(&db)].identical, decided[&table(&db)].collisions.len()), (2, 2), "{kind:?}");
        // A table without the policy set refuses too: it is the default.
        writer.set_policy(table(&db), TablePolicy::default());
        let decided = writer.apply(&snapshot(&db), &[]).await.unwrap();
        assert_eq!(decided[&table(&db)].collisions.len(), 2, "{kind:?}: refuse is the default, even without a guard");
        assert_eq!(names(&db).await, rows(&[&["ada"], &["bob"], &["cy"], &["dan"]]), "{kind:?}");
    }
}

#[tokio::test]
async fn each_policy_settles_the_collisions_its_way() {
    let cases = [
        (OnCollision::Overwrite, ["ada", "bea", "cid", "dan"]),
        (OnCollision::Keep, ["ada", "bob", "cy", "dan"]),
        (OnCollision::Newest, ["ada", "bea", "cy", "dan"]),
    ];
    for kind in KINDS {
        for (on_collision, expected) in cases {
            let (db, mut writer) = seeded(kind).await;
            writer.set_policy(table(&db), policy(on_collision));
            let decided = writer.apply(&snapshot(&db), &[]).await.unwrap();
            let expected: Vec<&[&str]> = expected.iter().map(std::slice::from_ref).collect();
            assert_eq!(names(&db).await, rows(&expected), "{kind:?} {on_collision:?}");
            let d = &decided[&table(&db)];
            assert!(d.collisions.is_empty(), "{kind:?} {on_collision:?}: settled, not reported");
            assert_eq!(d.identical, 1, "{kind:?} {on_collision:?}");
            if on_collision != OnCollision::Newest {
                assert_eq!(d.collisions_settled, 2, "{kind:?} {on_collision:?}");
            }
            // An overwrite replaces the whole row, conflict column included: the two sides hold
            // the same row afterwards, which a replay finds identical.
            if on_collision == OnCollision::Overwrite {
                let again = writer.apply(&snapshot(&db), &[]).await.unwrap();
                assert_eq!(again[&table(&db)].identical, 4, "{kind:?}: after the overwrite every row is identical");
            }
        }
    }
}

#[tokio::test]
async fn a_snapshot_row_does_not_resurrect_a_row_deleted_after_it() {
    for kind in KINDS {
        let (db, mut writer) = seeded(kind).await;
        writer.set_policy(table(&db), policy(OnCollision::Refuse));
        // Row 4 was deleted on this side after the other side's snapshot read it.
        let mut deleted = row(4, "dan", None, "2024-01-01 10:00:09");
        deleted.0.retain(|(c, _)| c == "id" || c == "modified");
        writer.apply(&[RowChange { table: table(&db), kind: RowChangeKind::Delete(deleted) }], &[]).await.unwrap();
        writer.apply(&snapshot(&db), &[]).await.unwrap();
        assert_eq!(names(&db).await, rows(&[&["ada"], &["bob"], &["cy"]]), "{kind:?}: the tombstone wins");
    }
}

/// Both applications handed out id 2 for a new person (overlapping id ranges). The create that
/// arrives would win by its time and merge the two people into one; it is left out and reported
/// instead. A create that loses by its time is just stale (the other side reports it), one already
/// stored is a re-delivery, and a table whose key is not generated (a natural key) merges as usual.
#[tokio::test]
async fn a_create_over_a_different_row_under_a_generated_id_is_a_collision() {
    for kind in KINDS {
        let (db, mut writer) = seeded(kind).await;
        let generated = match kind {
            Kind::Postgres => {
                "CREATE SEQUENCE {ns}.people_id_seq OWNED BY {ns}.people.id; \
                 ALTER TABLE {ns}.people ALTER COLUMN id SET DEFAULT nextval('{ns}.people_id_seq')"
            }
            Kind::MySql => "ALTER TABLE {ns}.people MODIFY id INTEGER NOT NULL AUTO_INCREMENT",
        };
        writer.set_policy(table(&db), policy(OnCollision::Refuse));
        let create =
            |id, name, at| RowChange { table: table(&db), kind: RowChangeKind::Create(row(id, name, None, at)) };
        // A natural key first: the newer create wins, as any newer change.
        let decided = writer.apply(&[create(2, "bea", "2024-01-01 10:00:03")], &[]).await.unwrap();
        assert!(decided[&table(&db)].collisions.is_empty(), "{kind:?}");
        assert_eq!(names(&db).await, rows(&[&["ada"], &["bea"], &["cy"]]), "{kind:?}: merged by last writer wins");
        db.exec(generated).await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        writer.set_policy(table(&db), policy(OnCollision::Refuse));
        let decided = writer.apply(&[create(3, "cid", "2024-01-01 10:00:06")], &[]).await.unwrap();
        let d = &decided[&table(&db)];
        assert_eq!((d.applied, d.collisions.len()), (0, 1), "{kind:?}: {d:?}");
        assert!(d.collisions[0].create && d.collisions[0].key == [("id".to_string(), "3".to_string())], "{kind:?}");
        assert!(d.collisions[0].stored.contains("cy"), "{kind:?}: {:?}", d.collisions[0]);
        // Older than the stored row: stale, not reported here.
        let decided = writer.apply(&[create(3, "cid", "2024-01-01 10:00:04")], &[]).await.unwrap();
        assert_eq!((decided[&table(&db)].stale, decided[&table(&db)].collisions.len()), (1, 0), "{kind:?}");
        // The row already stored (a re-delivery), and a new id: nothing to report.
        let batch = [create(1, "ada", "2024-01-01 10:00:01"), create(7, "eve", "2024-01-01 10:00:07")];
        let decided = writer.apply(&batch, &[]).await.unwrap();
        assert_eq!((decided[&table(&db)].identical, decided[&table(&db)].collisions.len()), (1, 0), "{kind:?}");
        assert_eq!(names(&db).await, rows(&[&["ada"], &["bea"], &["cy"], &["eve"]]), "{kind:?}");
    }
}
