//! A parent's delete and the rows that reference it, against the real MariaDB and PostgreSQL
//! servers.

use dualsync_conflict::{Guard, Kind as Conflict};
use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb, rows};
use dualsync_writer::{Decisions, TablePolicy, Writer};

const KINDS: [Kind; 2] = [Kind::Postgres, Kind::MySql];

fn table(db: &TestDb, name: &str) -> TableName {
    TableName { namespace: Some(db.namespace.clone()), name: name.into() }
}

fn at(time: &str) -> Value {
    Value::Timestamp(chrono::NaiveDateTime::parse_from_str(&format!("2024-01-01 {time}"), "%Y-%m-%d %H:%M:%S").unwrap())
}

/// An upsert into `name` of `(column, value)` pairs.
fn upsert(db: &TestDb, name: &str, values: &[(&str, Value)]) -> RowChange {
    let row = Row(values.iter().map(|(c, v)| (c.to_string(), v.clone())).collect());
    RowChange { table: table(db, name), kind: RowChangeKind::Upsert(row) }
}

/// people ← posts ← likes, and people ← badges (no conflict rule), every foreign key cascading
/// as on both sides of a synced pair; people, posts and likes last-writer-wins on `modified`.
async fn shop(kind: Kind) -> (TestDb, Writer) {
    let db = TestDb::new(kind).await;
    let ts = if kind == Kind::Postgres { "TIMESTAMP(6)" } else { "DATETIME(6)" };
    db.exec(&format!("CREATE TABLE {{ns}}.people (id BIGINT PRIMARY KEY, name VARCHAR(20), modified {ts})")).await;
    db.exec(&format!(
        "CREATE TABLE {{ns}}.posts (id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, modified {ts}, \
         FOREIGN KEY (person_id) REFERENCES {{ns}}.people (id) ON DELETE CASCADE)"
    ))
    .await;
    db.exec(&format!(
        "CREATE TABLE {{ns}}.likes (post_id BIGINT NOT NULL, who VARCHAR(20) NOT NULL, modified {ts}, \
         PRIMARY KEY (post_id, who), FOREIGN KEY (post_id) REFERENCES {{ns}}.posts (id) ON DELETE CASCADE)"
    ))
    .await;
    db.exec(
        "CREATE TABLE {ns}.badges (id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, \
         FOREIGN KEY (person_id) REFERENCES {ns}.people (id) ON DELETE CASCADE)",
    )
    .await;
    let mut writer = Writer::connect(&db.url).await.unwrap();
    for name in ["people", "posts", "likes"] {
        let guard = Guard { kind: Conflict::Timestamp, column: "modified".into(), incoming_wins_ties: false };
        writer.set_policy(table(&db, name), TablePolicy { guard: Some(guard), ..Default::default() });
    }
    (db, writer)
}

/// The values of `column` in `name`, in order, as text.
async fn ids(db: &TestDb, name: &str, column: &str) -> Vec<Vec<Option<String>>> {
    let text = match db.kind {
        Kind::Postgres => format!("{column}::text"),
        Kind::MySql => format!("CAST({column} AS CHAR)"),
    };
    db.rows(&format!("SELECT {text} FROM {{ns}}.{name} ORDER BY {column}")).await
}

/// The other side deleted person 1 at 10:00:05, after this side updated the person at 10:00:10:
/// the delete loses, the person stays. There its cascade (or its application) also removed the
/// person's posts and their likes, which this side must remove too — unless changed here after
/// the delete (post 11), whose change then brings them back there. Before, every one of them
/// stayed here: MariaDB's cascades are not in the binlog, so nothing else ever removed them.
#[tokio::test]
async fn a_losing_parent_delete_takes_the_rows_not_newer_than_it() {
    for kind in KINDS {
        let (db, mut writer) = shop(kind).await;
        let person = |id: i64, time: &str| {
            upsert(&db, "people", &[("id", Value::Int(id)), ("name", Value::Text("p".into())), ("modified", at(time))])
        };
        let post = |id: i64, person: i64, time: &str| {
            upsert(&db, "posts", &[("id", Value::Int(id)), ("person_id", Value::Int(person)), ("modified", at(time))])
        };
        let like = |post: i64, time: &str| {
            upsert(
                &db,
                "likes",
                &[("post_id", Value::Int(post)), ("who", Value::Text("x".into())), ("modified", at(time))],
            )
        };
        let badge =
            |id: i64, person: i64| upsert(&db, "badges", &[("id", Value::Int(id)), ("person_id", Value::Int(person))]);
        let start = [
            person(1, "10:00:10"),
            person(2, "10:00:01"),
            post(10, 1, "10:00:01"),
            post(11, 1, "10:00:09"),
            post(20, 2, "10:00:01"),
            like(10, "10:00:08"),
            like(11, "10:00:01"),
            like(20, "10:00:01"),
            badge(1, 1),
        ];
        writer.apply(&start, &[]).await.unwrap();
        let delete = RowChange {
            table: table(&db, "people"),
            kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(1)), ("modified".into(), at("10:00:05"))])),
        };
        let decided = writer.apply(&[delete], &[]).await.unwrap();
        assert_eq!(decided[&table(&db, "people")], Decisions { stale: 1, ..Decisions::default() }, "{kind:?}");
        assert_eq!(ids(&db, "people", "id").await, rows(&[&["1"], &["2"]]), "{kind:?}");
        assert_eq!(
            ids(&db, "posts", "id").await,
            rows(&[&["11"], &["20"]]),
            "{kind:?}: post 10 went with the delete on its side, post 11 changed here after it"
        );
        assert_eq!(
            ids(&db, "likes", "post_id").await,
            rows(&[&["11"], &["20"]]),
            "{kind:?}: the like of post 10 went with its post, however new"
        );
        assert_eq!(
            ids(&db, "badges", "id").await,
            rows(&[&["1"]]),
            "{kind:?}: a table without a conflict rule cannot be compared with the delete's time"
        );
        // A delete that wins takes every row referencing its row, by the foreign keys' cascade.
        let delete = RowChange {
            table: table(&db, "people"),
            kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(2)), ("modified".into(), at("10:00:05"))])),
        };
        writer.apply(&[delete], &[]).await.unwrap();
        assert_eq!(ids(&db, "posts", "id").await, rows(&[&["11"]]), "{kind:?}");
    }
}

/// A child that is not newer than its parent's delete, arriving after the delete (from another
/// topic, or parked until the parent came back), went with that delete on the delete's side —
/// or, written there before the delete reached it, goes with the lost delete here (see above):
/// it is not written, even though the parent came back. A newer child is.
#[tokio::test]
async fn a_child_not_newer_than_its_parents_delete_is_not_written() {
    for kind in KINDS {
        let (db, mut writer) = shop(kind).await;
        let person = upsert(
            &db,
            "people",
            &[("id", Value::Int(1)), ("name", Value::Text("p".into())), ("modified", at("10:00:10"))],
        );
        writer.apply(&[person], &[]).await.unwrap();
        let delete = RowChange {
            table: table(&db, "people"),
            kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(1)), ("modified".into(), at("10:00:05"))])),
        };
        writer.apply(&[delete], &[]).await.unwrap();
        let post = |id: i64, time: &str| {
            upsert(&db, "posts", &[("id", Value::Int(id)), ("person_id", Value::Int(1)), ("modified", at(time))])
        };
        let decided =
            writer.apply(&[post(10, "10:00:03"), post(11, "10:00:05"), post(12, "10:00:07")], &[]).await.unwrap();
        let posts = table(&db, "posts");
        assert_eq!(decided[&posts].resurrections_prevented, 2, "{kind:?}");
        assert_eq!(ids(&db, "posts", "id").await, rows(&[&["12"]]), "{kind:?}: a tie goes to the delete");
    }
}
