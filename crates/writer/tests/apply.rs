//! Upserts and deletes against the real MariaDB and PostgreSQL servers.

use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb, rows};
use dualsync_writer::{Decisions, ErrorClass, WriteError, Writer};

const KINDS: [Kind; 2] = [Kind::Postgres, Kind::MySql];

async fn products(kind: Kind) -> (TestDb, Writer) {
    let db = TestDb::new(kind).await;
    db.exec("CREATE TABLE {ns}.items (id INTEGER PRIMARY KEY, title VARCHAR(100) NOT NULL, weight DOUBLE PRECISION, active BOOLEAN)")
        .await;
    let writer = Writer::connect(&db.url).await.unwrap();
    (db, writer)
}

fn table(db: &TestDb, name: &str) -> TableName {
    TableName { namespace: Some(db.namespace.clone()), name: name.into() }
}

fn upsert(db: &TestDb, id: i64, title: &str, weight: Option<f64>) -> RowChange {
    let weight = weight.map_or(Value::Null, Value::Float);
    let row = Row(vec![
        ("id".into(), Value::Int(id)),
        ("title".into(), Value::Text(title.into())),
        ("weight".into(), weight),
    ]);
    RowChange { table: table(db, "items"), kind: RowChangeKind::Upsert(row) }
}

fn delete(db: &TestDb, id: i64) -> RowChange {
    RowChange { table: table(db, "items"), kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(id))])) }
}

async fn contents(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let sql = match db.kind {
        Kind::Postgres => "SELECT id::text, title, weight::text FROM {ns}.items ORDER BY id",
        Kind::MySql => "SELECT CAST(id AS CHAR), title, CAST(weight AS CHAR) FROM {ns}.items ORDER BY id",
    };
    db.rows(sql).await
}

#[tokio::test]
async fn batch_applied_twice_leaves_the_same_rows() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let batch = [
            upsert(&db, 1, "saw", Some(1.5)),
            upsert(&db, 2, "axe", None),
            upsert(&db, 1, "saw, sharp", Some(1.25)),
            upsert(&db, 3, "it's \"quoted\"", Some(-0.5)),
            delete(&db, 2),
        ];
        writer.apply(&batch, &[]).await.unwrap();
        let expected = rows(&[&["1", "saw, sharp", "1.25"], &["3", "it's \"quoted\"", "-0.5"]]);
        assert_eq!(contents(&db).await, expected, "{kind:?} first apply");
        writer.apply(&batch, &[]).await.unwrap();
        assert_eq!(contents(&db).await, expected, "{kind:?} second apply");
    }
}

#[tokio::test]
async fn new_rows_are_copied_in_and_stored_rows_upserted() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let items = table(&db, "items");
        let copied = |d: &std::collections::HashMap<TableName, Decisions>| d[&items].copied;
        // New rows only: one COPY on PostgreSQL.
        let tricky = "tab\there, newline\n, backslash N \\N, quote \"";
        let first = [upsert(&db, 1, tricky, Some(1.5)), upsert(&db, 2, "saw", None)];
        let decided = writer.apply(&first, &[]).await.unwrap();
        assert_eq!(copied(&decided), if kind == Kind::Postgres { 2 } else { 0 }, "{kind:?} new rows");
        // A stored row and a new one: the copy collides, the batch is upserted instead...
        let second = [upsert(&db, 2, "axe", Some(2.0)), upsert(&db, 3, "adze", None)];
        let decided = writer.apply(&second, &[]).await.unwrap();
        assert_eq!(copied(&decided), 0, "{kind:?} mixed batch");
        // ...and copies into the table pause for the next batch, then resume.
        let decided = writer.apply(&[upsert(&db, 4, "plane", None)], &[]).await.unwrap();
        assert_eq!(copied(&decided), 0, "{kind:?} paused");
        let decided = writer.apply(&[upsert(&db, 5, "file", None)], &[]).await.unwrap();
        assert_eq!(copied(&decided), u64::from(kind == Kind::Postgres), "{kind:?} resumed");
        let expected = [
            ["1", tricky, "1.5"],
            ["2", "axe", "2"],
            ["3", "adze", "NULL"],
            ["4", "plane", "NULL"],
            ["5", "file", "NULL"],
        ];
        let expected: Vec<&[&str]> = expected.iter().map(|r| &r[..]).collect();
        assert_eq!(contents(&db).await, rows(&expected), "{kind:?}");
        // With a conflict rule the weighing knows which rows are new: only they are copied, in
        // the same batch as a stale change and a newer one.
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("version", Conflict::Version, false));
        writer
            .apply(&[doc(&db, 1, "one", "2024-01-01 10:00:00", 5), doc(&db, 2, "two", "2024-01-01 10:00:00", 5)], &[])
            .await
            .unwrap();
        let batch = [
            doc(&db, 1, "stale", "2024-01-01 10:00:00", 4),
            doc(&db, 2, "newer", "2024-01-01 10:00:00", 6),
            doc(&db, 3, "new", "2024-01-01 10:00:00", 1),
        ];
        let decided = writer.apply(&batch, &[]).await.unwrap();
        let copied = u64::from(kind == Kind::Postgres);
        assert_eq!(decided[&docs], Decisions { applied: 2, stale: 1, copied, ..Decisions::default() }, "{kind:?}");
        assert_eq!(
            bodies(&db).await,
            rows(&[&["1", "one", "5", "false"], &["2", "newer", "6", "false"], &["3", "new", "1", "false"]]),
            "{kind:?} guarded"
        );
    }
}

#[tokio::test]
async fn a_table_that_refuses_copy_gets_upserts() {
    // PostgreSQL refuses COPY FROM into a table under row-level security.
    let (db, mut writer) = products(Kind::Postgres).await;
    db.exec(
        "ALTER TABLE {ns}.items ENABLE ROW LEVEL SECURITY; ALTER TABLE {ns}.items FORCE ROW LEVEL SECURITY; \
         CREATE POLICY everything ON {ns}.items USING (true) WITH CHECK (true)",
    )
    .await;
    let items = table(&db, "items");
    for id in [1, 2] {
        let decided = writer.apply(&[upsert(&db, id, "new", None)], &[]).await.unwrap();
        assert_eq!(decided[&items], Decisions { applied: 1, ..Decisions::default() });
    }
    assert_eq!(contents(&db).await, rows(&[&["1", "new", "NULL"], &["2", "new", "NULL"]]));
}

#[tokio::test]
async fn over_long_values_are_refused_not_truncated() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let long = "x".repeat(101); // title is VARCHAR(100)
        // A new row (PostgreSQL: copied in) and a stored row (upserted) alike.
        let error = writer.apply(&[upsert(&db, 1, &long, None)], &[]).await.unwrap_err();
        assert!(error.to_string().contains("too long"), "{kind:?}: {error}");
        writer.apply(&[upsert(&db, 1, "short", None)], &[]).await.unwrap();
        let error = writer.apply(&[upsert(&db, 1, &long, None)], &[]).await.unwrap_err();
        assert!(error.to_string().contains("too long"), "{kind:?}: {error}");
        let mut partial = upsert(&db, 1, &long, None);
        if let RowChangeKind::Upsert(row) = &mut partial.kind {
            row.0[2].1 = Value::Unavailable;
        }
        let error = writer.apply(&[partial], &[]).await.unwrap_err();
        assert!(error.to_string().contains("too long"), "{kind:?}: {error}");
        assert_eq!(contents(&db).await, rows(&[&["1", "short", "NULL"]]), "{kind:?}");
    }
}

#[tokio::test]
async fn delete_of_a_missing_row_succeeds() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        writer.apply(&[delete(&db, 42), delete(&db, 42)], &[]).await.unwrap();
        assert!(contents(&db).await.is_empty());
    }
}

#[tokio::test]
async fn a_failing_batch_writes_nothing() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let mut bad = upsert(&db, 2, "x", None);
        if let RowChangeKind::Upsert(row) = &mut bad.kind {
            row.0[1].1 = Value::Null; // title is NOT NULL
        }
        let err = writer.apply(&[upsert(&db, 1, "kept?", None), bad], &[]).await.unwrap_err();
        assert!(matches!(err, WriteError::Database { .. }), "{kind:?}: {err}");
        assert_eq!(err.class(), ErrorClass::Data, "{kind:?}: a NOT NULL violation is the data's");
        assert!(contents(&db).await.is_empty(), "{kind:?}: the transaction was rolled back");
    }
}

#[tokio::test]
async fn setup_mistakes_are_explained() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        db.exec("CREATE TABLE {ns}.nokey (id INTEGER)").await;
        let ns = &db.namespace;

        let missing = RowChange { table: table(&db, "nope"), ..upsert(&db, 1, "a", None) };
        let err = writer.apply(&[missing], &[]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("target table {ns}.nope does not exist; create it or fix the table name in the mapping")
        );
        assert_eq!(err.class(), ErrorClass::Setup);

        let nokey = RowChange { table: table(&db, "nokey"), ..upsert(&db, 1, "a", None) };
        let err = writer.apply(&[nokey], &[]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("target table {ns}.nokey has no primary key; add one (upserts and deletes find rows by it)")
        );
        assert_eq!(err.class(), ErrorClass::Setup);

        let mut extra = upsert(&db, 1, "a", None);
        if let RowChangeKind::Upsert(row) = &mut extra.kind {
            row.0.push(("colour".into(), Value::Text("red".into())));
        }
        let err = writer.apply(std::slice::from_ref(&extra), &[]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("target table {ns}.items has no column \"colour\"; rename it in the mapping or add the column")
        );
        assert_eq!(err.class(), ErrorClass::Setup);
        // Once the operator adds the column, the same change goes through (the schema is read
        // again after a setup error).
        db.exec("ALTER TABLE {ns}.items ADD COLUMN colour VARCHAR(10)").await;
        writer.forget_schemas();
        writer.apply(&[extra], &[]).await.unwrap();

        let keyless = RowChange {
            table: table(&db, "items"),
            kind: RowChangeKind::Delete(Row(vec![("title".into(), Value::Text("a".into()))])),
        };
        let err = writer.apply(&[keyless], &[]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("delete for {ns}.items has no value for key column \"id\"; the source event must carry it")
        );
        assert_eq!(err.class(), ErrorClass::Data);

        // A column dropped behind the writer's back (its cached schema still has it): the
        // database's own error is a setup error too.
        db.exec("ALTER TABLE {ns}.items DROP COLUMN colour").await;
        let mut extra = upsert(&db, 2, "b", None);
        if let RowChangeKind::Upsert(row) = &mut extra.kind {
            row.0.push(("colour".into(), Value::Text("red".into())));
        }
        let err = writer.apply(&[extra], &[]).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Setup, "{kind:?}: {err}");
    }
}

#[tokio::test]
async fn values_bind_into_other_column_types() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        db.exec("CREATE TABLE {ns}.typed (id BIGINT PRIMARY KEY, price NUMERIC(10,2), note TEXT, flag BOOLEAN, small SMALLINT)").await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let row = Row(vec![
            ("id".into(), Value::Int(9_007_199_254_740_993)),
            ("price".into(), Value::Text("12.34".into())),
            ("note".into(), Value::Null),
            ("flag".into(), Value::Bool(true)),
            ("small".into(), Value::Int(-7)),
        ]);
        writer.apply(&[RowChange { table: table(&db, "typed"), kind: RowChangeKind::Upsert(row) }], &[]).await.unwrap();
        let sql = match kind {
            Kind::Postgres => "SELECT id::text, price::text, note, flag::text, small::text FROM {ns}.typed",
            Kind::MySql => {
                "SELECT CAST(id AS CHAR), CAST(price AS CHAR), note, CAST(flag AS CHAR), CAST(small AS CHAR) FROM {ns}.typed"
            }
        };
        let flag = if kind == Kind::Postgres { "true" } else { "1" };
        assert_eq!(db.rows(sql).await, rows(&[&["9007199254740993", "12.34", "NULL", flag, "-7"]]), "{kind:?}");
    }
}

#[tokio::test]
async fn every_value_kind_is_copied_in_as_it_is_upserted_into_postgres() {
    use chrono::{FixedOffset, NaiveDate, NaiveTime};
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "CREATE TYPE {ns}.mood AS ENUM ('sad', 'happy'); \
         CREATE TABLE {ns}.every (id BIGINT PRIMARY KEY, i BIGINT, d NUMERIC(20,5), f DOUBLE PRECISION, b BOOLEAN, \
         t TEXT, v VARCHAR(40), c CHAR(5), by BYTEA, dt DATE, tm TIME(6), ttz TIMETZ, ts TIMESTAMP(6), \
         tstz TIMESTAMPTZ, inf TIMESTAMP, iv INTERVAL, j JSON, jb JSONB, u UUID, ia INTEGER[], ta TEXT[], \
         bits BIT(9), e {ns}.mood)",
    )
    .await;
    let mut writer = Writer::connect(&db.url).await.unwrap();
    let every = table(&db, "every");
    let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let at = day.and_hms_micro_opt(3, 4, 5, 678_901).unwrap();
    let values = vec![
        ("i".to_string(), Value::Int(i64::MIN)),
        ("d".into(), Value::Decimal("-123456789012345.12345".parse().unwrap())),
        ("f".into(), Value::Float(0.1)),
        ("b".into(), Value::Bool(false)),
        ("t".into(), Value::Text("tab\there\nline\r\\N back\\slash \"q\" ü 😀".into())),
        ("v".into(), Value::Text("x".repeat(40))),
        ("c".into(), Value::Text("ab".into())),
        ("by".into(), Value::Bytes(vec![0, 1, b'\\', b'\t', 255])),
        ("dt".into(), Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())),
        ("tm".into(), Value::Time((13 * 3600 + 14 * 60 + 15) * 1_000_000_000 + 123_456_000)),
        (
            "ttz".into(),
            Value::TimeTz(
                NaiveTime::from_hms_milli_opt(10, 11, 12, 500).unwrap(),
                FixedOffset::east_opt(19_800).unwrap(),
            ),
        ),
        ("ts".into(), Value::Timestamp(at)),
        ("tstz".into(), Value::TimestampTz(at.and_local_timezone(FixedOffset::east_opt(7200).unwrap()).unwrap())),
        ("inf".into(), Value::Infinity { negative: true }),
        ("iv".into(), Value::Interval(dualsync_envelope::Interval { months: 14, days: -3, micros: 4_000_001 })),
        ("j".into(), Value::Json(r#"{"a": [1, "x\ty\\"], "b": null}"#.into())),
        ("jb".into(), Value::Json(r#"{"b": 1, "a": "\\"}"#.into())),
        ("u".into(), Value::Uuid("67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap())),
        ("ia".into(), Value::Array(vec![Value::Int(1), Value::Null, Value::Int(-3)])),
        (
            "ta".into(),
            Value::Array(vec![
                Value::Text("a,b".into()),
                Value::Text("q\"uote".into()),
                Value::Text("back\\slash\ttab".into()),
                Value::Null,
                Value::Text(String::new()),
            ]),
        ),
        ("bits".into(), Value::Bits { bytes: vec![0b0000_0101, 0b1], length: 9 }),
        ("e".into(), Value::Enum("happy".into())),
    ];
    let row = |id: i64, values: &[(String, Value)]| {
        let mut row = vec![("id".to_string(), Value::Int(id))];
        row.extend(values.iter().cloned());
        RowChange { table: every.clone(), kind: RowChangeKind::Upsert(Row(row)) }
    };
    // Row 1 is new: copied in. Row 2 is stored first, then upserted with the same values.
    let decided = writer.apply(&[row(1, &values)], &[]).await.unwrap();
    assert_eq!(decided[&every].copied, 1);
    writer.apply(&[row(2, &[])], &[]).await.unwrap();
    let decided = writer.apply(&[row(2, &values)], &[]).await.unwrap();
    assert_eq!(decided[&every], Decisions { applied: 1, ..Decisions::default() }, "upserted");
    let columns: Vec<String> = values.iter().map(|(c, _)| format!("{c}::text")).collect();
    let read = |id: i64| format!("SELECT {} FROM {{ns}}.every WHERE id = {id}", columns.join(", "));
    let (copied, upserted) = (db.rows(&read(1)).await, db.rows(&read(2)).await);
    assert_eq!(copied, upserted, "the copy and the upsert store the same values");
    let expected = [
        "-9223372036854775808",
        "-123456789012345.12345",
        "0.1",
        "false",
        "tab\there\nline\r\\N back\\slash \"q\" ü 😀",
        &"x".repeat(40),
        "ab", // char(5) as text drops the padding
        r"\x00015c09ff",
        "2024-02-29",
        "13:14:15.123456",
        "10:11:12.5+05:30",
        "2024-01-02 03:04:05.678901",
        "2024-01-02 01:04:05.678901+00",
        "-infinity",
        "1 year 2 mons -3 days +00:00:04.000001",
        r#"{"a": [1, "x\ty\\"], "b": null}"#,
        r#"{"a": "\\", "b": 1}"#,
        "67e55044-10b1-426f-9247-bb680e5fe0c8",
        "{1,NULL,-3}",
        r#"{"a,b","q\"uote","back\\slash	tab",NULL,""}"#,
        "100000101",
        "happy",
    ];
    assert_eq!(copied, rows(&[&expected]), "copied");
}

#[tokio::test]
async fn checkpoints_commit_with_their_batch() {
    use dualsync_writer::Checkpoint;
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let consumer = dualsync_testkit::unique("group");
        let at = |offset| Checkpoint { consumer: consumer.clone(), topic: "t".into(), partition: 0, offset };
        writer.apply(&[upsert(&db, 1, "a", None)], &[at(7)]).await.unwrap();
        assert_eq!(writer.checkpoints(&consumer).await.unwrap(), vec![at(7)], "{kind:?}");
        // An older offset (a late retry) never moves the checkpoint back.
        writer.apply(&[], &[at(3)]).await.unwrap();
        assert_eq!(writer.checkpoints(&consumer).await.unwrap(), vec![at(7)], "{kind:?}");
        // A failing batch records nothing.
        let mut bad = upsert(&db, 2, "x", None);
        if let RowChangeKind::Upsert(row) = &mut bad.kind {
            row.0[1].1 = Value::Null;
        }
        assert!(writer.apply(&[bad], &[at(9)]).await.is_err());
        assert_eq!(writer.checkpoints(&consumer).await.unwrap(), vec![at(7)], "{kind:?}");
        assert!(writer.checkpoints("someone else").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn changes_to_one_row_collapse_within_a_batch() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let batch = [
            delete(&db, 1),
            upsert(&db, 1, "created after its delete", Some(1.0)),
            upsert(&db, 2, "gone", None),
            delete(&db, 2),
            upsert(&db, 3, "first", None),
            upsert(&db, 3, "last", Some(3.0)),
        ];
        writer.apply(&batch, &[]).await.unwrap();
        assert_eq!(
            contents(&db).await,
            rows(&[&["1", "created after its delete", "1"], &["3", "last", "3"]]),
            "{kind:?}"
        );
    }
}

/// A table with a timestamp conflict column and a version column, on `kind`.
async fn versioned(kind: Kind) -> (TestDb, Writer) {
    let db = TestDb::new(kind).await;
    let ts = if kind == Kind::Postgres { "TIMESTAMPTZ" } else { "DATETIME(6)" };
    db.exec(&format!(
        "CREATE TABLE {{ns}}.docs (id INTEGER PRIMARY KEY, body VARCHAR(50), modified {ts}, version INTEGER, deleted BOOLEAN NOT NULL DEFAULT FALSE, \
         code VARCHAR(10) UNIQUE)"
    ))
    .await;
    let writer = Writer::connect(&db.url).await.unwrap();
    (db, writer)
}

fn doc(db: &TestDb, id: i64, body: &str, modified: &str, version: i64) -> RowChange {
    let modified = chrono::NaiveDateTime::parse_from_str(modified, "%Y-%m-%d %H:%M:%S").unwrap();
    let row = Row(vec![
        ("id".into(), Value::Int(id)),
        ("body".into(), Value::Text(body.into())),
        ("modified".into(), Value::Timestamp(modified)),
        ("version".into(), Value::Int(version)),
    ]);
    RowChange { table: table(db, "docs"), kind: RowChangeKind::Upsert(row) }
}

async fn bodies(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let sql = match db.kind {
        Kind::Postgres => "SELECT id::text, body, version::text, deleted::text FROM {ns}.docs ORDER BY id",
        Kind::MySql => {
            "SELECT CAST(id AS CHAR), body, CAST(version AS CHAR), IF(deleted, 'true', 'false') FROM {ns}.docs ORDER BY id"
        }
    };
    db.rows(sql).await
}

fn guard(column: &str, kind: dualsync_conflict::Kind, incoming_wins_ties: bool) -> dualsync_writer::TablePolicy {
    dualsync_writer::TablePolicy {
        guard: Some(dualsync_conflict::Guard { kind, column: column.into(), incoming_wins_ties }),
        ..Default::default()
    }
}

#[tokio::test]
async fn last_writer_wins_by_timestamp() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, false));
        let decided = writer.apply(&[doc(&db, 1, "v2", "2024-01-01 10:00:02", 2)], &[]).await.unwrap();
        // PostgreSQL copies a row the weighing found not stored yet.
        let copied = u64::from(kind == Kind::Postgres);
        assert_eq!(decided[&docs], Decisions { applied: 1, copied, ..Decisions::default() }, "{kind:?} new row");
        // A stale change (older timestamp) is skipped, columns and conflict column alike.
        let decided = writer.apply(&[doc(&db, 1, "v1", "2024-01-01 10:00:01", 1)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "v2", "2", "false"]]), "{kind:?} stale");
        assert_eq!(decided[&docs], Decisions { stale: 1, ..Decisions::default() }, "{kind:?} stale");
        // A tie is lost when the incoming side is not the tie winner...
        let decided = writer.apply(&[doc(&db, 1, "tie", "2024-01-01 10:00:02", 3)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "v2", "2", "false"]]), "{kind:?} tie lost");
        assert_eq!(decided[&docs], Decisions { ties_lost: 1, ..Decisions::default() }, "{kind:?} tie lost");
        // ...and won when it is.
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, true));
        let decided = writer.apply(&[doc(&db, 1, "tie", "2024-01-01 10:00:02", 3)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "tie", "3", "false"]]), "{kind:?} tie won");
        assert_eq!(decided[&docs], Decisions { applied: 1, ties_won: 1, ..Decisions::default() }, "{kind:?} tie won");
        // A newer change applies; in one batch with a stale change to another row.
        let batch = [doc(&db, 1, "v4", "2024-01-01 10:00:04", 4), doc(&db, 2, "new", "2024-01-01 10:00:00", 1)];
        writer.apply(&batch[1..], &[]).await.unwrap();
        let older = doc(&db, 2, "old", "2023-01-01 10:00:00", 0);
        let decided = writer.apply(&[batch[0].clone(), older], &[]).await.unwrap();
        assert_eq!(
            bodies(&db).await,
            rows(&[&["1", "v4", "4", "false"], &["2", "new", "1", "false"]]),
            "{kind:?} newer and stale"
        );
        assert_eq!(decided[&docs], Decisions { applied: 1, stale: 1, ..Decisions::default() }, "{kind:?} mixed");
    }
}

/// A change that loses writes nothing: before the fix, MySQL's `ON DUPLICATE KEY UPDATE` of a
/// stale row assigned the stored values back, which fired the application's `BEFORE UPDATE`
/// trigger (here: it re-stamps the row), so a lost change still changed the row.
#[tokio::test]
async fn a_change_that_loses_fires_no_trigger() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, false));
        writer.apply(&[doc(&db, 1, "v2", "2024-01-01 10:00:02", 2)], &[]).await.unwrap();
        match kind {
            Kind::MySql => db.exec("CREATE TRIGGER {ns}.restamp BEFORE UPDATE ON {ns}.docs FOR EACH ROW SET NEW.body = 'touched'").await,
            Kind::Postgres => {
                db.exec(
                    "CREATE FUNCTION {ns}.restamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.body := 'touched'; RETURN NEW; END $$; \
                     CREATE TRIGGER restamp BEFORE UPDATE ON {ns}.docs FOR EACH ROW EXECUTE FUNCTION {ns}.restamp()",
                )
                .await
            }
        }
        let stale = doc(&db, 1, "v1", "2024-01-01 10:00:01", 1);
        let tie = doc(&db, 1, "tie", "2024-01-01 10:00:02", 3);
        for (change, what) in [(stale, "stale"), (tie, "tie lost")] {
            writer.apply(&[change], &[]).await.unwrap();
            assert_eq!(bodies(&db).await, rows(&[&["1", "v2", "2", "false"]]), "{kind:?} {what}");
        }
        // A change that wins still goes through the trigger, as any update does.
        writer.apply(&[doc(&db, 1, "v3", "2024-01-01 10:00:03", 3)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "touched", "3", "false"]]), "{kind:?} newer");
    }
}

#[tokio::test]
async fn higher_version_wins() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        writer.set_policy(table(&db, "docs"), guard("version", Conflict::Version, false));
        writer.apply(&[doc(&db, 1, "v5", "2024-01-01 10:00:00", 5)], &[]).await.unwrap();
        // The version decides, whatever the timestamp says.
        writer.apply(&[doc(&db, 1, "v4", "2030-01-01 00:00:00", 4)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "v5", "5", "false"]]), "{kind:?}");
        writer.apply(&[doc(&db, 1, "v6", "2000-01-01 00:00:00", 6)], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "v6", "6", "false"]]), "{kind:?}");
    }
}

#[tokio::test]
async fn soft_delete_sets_the_column() {
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        writer.set_policy(
            table(&db, "docs"),
            dualsync_writer::TablePolicy {
                soft_delete: Some(("deleted".into(), Value::Bool(true))),
                ..Default::default()
            },
        );
        writer.apply(&[doc(&db, 1, "kept", "2024-01-01 10:00:00", 1)], &[]).await.unwrap();
        let delete = RowChange {
            table: table(&db, "docs"),
            kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(1))])),
        };
        writer.apply(std::slice::from_ref(&delete), &[]).await.unwrap();
        writer.apply(&[delete], &[]).await.unwrap();
        assert_eq!(bodies(&db).await, rows(&[&["1", "kept", "1", "true"]]), "{kind:?}");
    }
}

/// A delete as the mapping gives it: the key, and the delete's time in the conflict column.
fn delete_at(db: &TestDb, id: i64, at: &str) -> RowChange {
    let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
    RowChange {
        table: table(db, "docs"),
        kind: RowChangeKind::Delete(Row(vec![
            ("id".into(), Value::Int(id)),
            ("modified".into(), Value::TimestampTz(at)),
        ])),
    }
}

/// The tombstones recorded for `docs`: id and the delete's time, as text.
async fn tombstones(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let sql = match db.kind {
        Kind::Postgres => {
            "SELECT id::text, to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM {ns}.dualsync_tomb_docs ORDER BY id"
        }
        Kind::MySql => {
            "SELECT CAST(id AS CHAR), DATE_FORMAT(deleted_at, '%Y-%m-%d %H:%i:%s') FROM {ns}.dualsync_tomb_docs ORDER BY id"
        }
    };
    db.rows(sql).await
}

/// Delete versus update under last writer wins: a delete removes rows not newer than itself,
/// loses to newer ones, and is remembered, so an older change arriving after it does not bring
/// the row back (a tie goes to the delete) while a newer one does.
#[tokio::test]
async fn a_delete_is_not_undone_by_an_older_change() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, true));
        let start = [doc(&db, 1, "one", "2024-01-01 10:00:02", 1), doc(&db, 2, "two", "2024-01-01 10:00:02", 1)];
        writer.apply(&start, &[]).await.unwrap();
        let decided = writer.apply(&[delete_at(&db, 1, "2024-01-01T10:00:05Z")], &[]).await.unwrap();
        assert_eq!(decided[&docs], Decisions { applied: 1, ..Decisions::default() }, "{kind:?}");
        assert_eq!(bodies(&db).await, rows(&[&["2", "two", "1", "false"]]), "{kind:?} deleted");
        for (at, what) in [("2024-01-01 10:00:04", "older"), ("2024-01-01 10:00:05", "tie")] {
            let decided = writer.apply(&[doc(&db, 1, what, at, 2)], &[]).await.unwrap();
            assert_eq!(bodies(&db).await, rows(&[&["2", "two", "1", "false"]]), "{kind:?} {what}: not resurrected");
            assert_eq!(decided[&docs], Decisions { resurrections_prevented: 1, ..Decisions::default() }, "{kind:?}");
        }
        writer.apply(&[doc(&db, 1, "newer", "2024-01-01 10:00:06", 3)], &[]).await.unwrap();
        // A delete older than the stored row loses to it.
        let decided = writer.apply(&[delete_at(&db, 2, "2024-01-01T10:00:01Z")], &[]).await.unwrap();
        assert_eq!(decided[&docs], Decisions { stale: 1, ..Decisions::default() }, "{kind:?}");
        assert_eq!(
            bodies(&db).await,
            rows(&[&["1", "newer", "3", "false"], &["2", "two", "1", "false"]]),
            "{kind:?} re-created by a newer change; kept against an older delete"
        );
        // The delete's time is an instant; a column without zone takes the wall-clock time at
        // the instant's offset (the target side's zone).
        writer.apply(&[delete_at(&db, 3, "2024-01-01T12:30:00+02:00")], &[]).await.unwrap();
        let third = match kind {
            Kind::Postgres => "2024-01-01 10:30:00",
            Kind::MySql => "2024-01-01 12:30:00",
        };
        assert_eq!(
            tombstones(&db).await,
            rows(&[&["1", "2024-01-01 10:00:05"], &["2", "2024-01-01 10:00:01"], &["3", third]]),
            "{kind:?}"
        );
    }
}

/// A delete made by the application on a side is remembered there by the delete trigger, so an
/// older change from the other side, arriving after it, does not bring the row back; dualsync's
/// own deletes are recorded with their source time, not by the trigger.
#[tokio::test]
async fn application_deletes_are_remembered_by_the_delete_trigger() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        let policy = guard("modified", Conflict::Timestamp, false);
        let tomb = writer.install_tombstone_trigger(&docs, policy.guard.as_ref().unwrap(), "UTC").await.unwrap();
        assert_eq!(tomb.unwrap().name, "dualsync_tomb_docs");
        writer.set_policy(docs.clone(), policy);
        let start = [doc(&db, 1, "one", "2024-01-01 10:00:02", 1), doc(&db, 2, "two", "2024-01-01 10:00:02", 1)];
        writer.apply(&start, &[]).await.unwrap();
        db.exec("DELETE FROM {ns}.docs WHERE id = 1").await;
        writer.apply(&[delete_at(&db, 2, "2024-01-01T10:00:09Z")], &[]).await.unwrap();
        let recorded = tombstones(&db).await;
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert!(recorded[0][1].as_deref().unwrap().starts_with(&today), "{kind:?}: {recorded:?}");
        assert_eq!(recorded[1], rows(&[&["2", "2024-01-01 10:00:09"]])[0], "{kind:?}");
        // An edit made on the other side before the application's delete arrives late.
        let decided = writer.apply(&[doc(&db, 1, "late edit", "2024-01-01 10:00:03", 2)], &[]).await.unwrap();
        assert_eq!(decided[&docs].resurrections_prevented, 1, "{kind:?}");
        assert!(bodies(&db).await.is_empty(), "{kind:?}");
        writer.uninstall_triggers(&docs).await.unwrap();
        db.exec("DELETE FROM {ns}.dualsync_tomb_docs").await;
        writer.apply(&[doc(&db, 3, "three", "2024-01-01 10:00:02", 1)], &[]).await.unwrap();
        db.exec("DELETE FROM {ns}.docs WHERE id = 3").await;
        assert!(tombstones(&db).await.is_empty(), "{kind:?}: uninstalled");
    }
}

/// Soft delete with a conflict rule: the delete also sets the conflict column to its time, so
/// an older change arriving later loses to it like to any newer row.
#[tokio::test]
async fn soft_delete_carries_the_delete_time() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        let mut policy = guard("modified", Conflict::Timestamp, false);
        policy.soft_delete = Some(("deleted".into(), Value::Bool(true)));
        writer.set_policy(docs.clone(), policy);
        writer.apply(&[doc(&db, 1, "one", "2024-01-01 10:00:02", 1)], &[]).await.unwrap();
        writer.apply(&[delete_at(&db, 1, "2024-01-01T10:00:05Z")], &[]).await.unwrap();
        let decided = writer.apply(&[doc(&db, 1, "older", "2024-01-01 10:00:04", 2)], &[]).await.unwrap();
        assert_eq!(decided[&docs].stale, 1, "{kind:?}");
        assert_eq!(bodies(&db).await, rows(&[&["1", "one", "1", "true"]]), "{kind:?}");
        let modified = match kind {
            Kind::Postgres => "SELECT to_char(modified AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM {ns}.docs",
            Kind::MySql => "SELECT DATE_FORMAT(modified, '%H:%i:%s') FROM {ns}.docs",
        };
        assert_eq!(db.rows(modified).await, rows(&[&["10:00:05"]]), "{kind:?}");
        // A delete older than the row does not mark it.
        writer.apply(&[doc(&db, 2, "two", "2024-01-01 10:00:02", 1)], &[]).await.unwrap();
        writer.apply(&[delete_at(&db, 2, "2024-01-01T10:00:01Z")], &[]).await.unwrap();
        assert_eq!(bodies(&db).await[1], rows(&[&["2", "two", "1", "false"]])[0], "{kind:?}");
    }
}

#[tokio::test]
async fn a_secondary_unique_key_collision_is_reported_not_merged() {
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let with_code = |id: i64, body: &str| {
            let row = Row(vec![
                ("id".into(), Value::Int(id)),
                ("body".into(), Value::Text(body.into())),
                ("code".into(), Value::Text("A-1".into())),
            ]);
            RowChange { table: table(&db, "docs"), kind: RowChangeKind::Upsert(row) }
        };
        writer.apply(&[with_code(1, "first")], &[]).await.unwrap();
        let err = writer.apply(&[with_code(2, "second")], &[]).await.unwrap_err();
        assert!(matches!(err, WriteError::KeyCollision { .. }), "{kind:?}: {err}");
        assert_eq!(err.class(), ErrorClass::Data);
        assert!(err.to_string().contains("collides with another row on a unique key"), "{err}");
        // Nothing was merged into row 1, and no row 2 exists.
        assert_eq!(bodies(&db).await, rows(&[&["1", "first", "NULL", "false"]]), "{kind:?}");
    }
}

/// Echo suppression: an upsert whose values the PostgreSQL row already holds rewrites nothing,
/// so it produces no change event (the row version, `xmin`, stays the same). MySQL does the
/// same by itself: an update that changes no value writes no row event.
#[tokio::test]
async fn identical_upserts_write_nothing_on_postgres() {
    let (db, mut writer) = products(Kind::Postgres).await;
    const XMIN: &str = "SELECT xmin::text FROM {ns}.items WHERE id = 1";
    writer.apply(&[upsert(&db, 1, "saw", Some(1.5))], &[]).await.unwrap();
    let first = db.rows(XMIN).await;
    writer.apply(&[upsert(&db, 1, "saw", Some(1.5))], &[]).await.unwrap();
    assert_eq!(db.rows(XMIN).await, first, "identical values: no new row version");
    writer.apply(&[upsert(&db, 1, "saw", Some(2.5))], &[]).await.unwrap();
    assert_ne!(db.rows(XMIN).await, first, "a changed value is written");
}

/// With the flag trigger installed, the flag marks the change: dualsync's writes keep its value,
/// and an application edit of a row dualsync wrote last is stamped as the application's, even
/// when the application never touches the flag column.
#[tokio::test]
async fn flag_triggers_mark_application_changes() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        db.exec("CREATE TABLE {ns}.notes (id INTEGER PRIMARY KEY, body VARCHAR(50), origin VARCHAR(16) NOT NULL DEFAULT 'app')").await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let notes = table(&db, "notes");
        writer.install_flag_trigger(&notes, "origin", "app").await.unwrap();
        writer.install_flag_trigger(&notes, "origin", "app").await.unwrap(); // idempotent
        let row = Row(vec![
            ("id".into(), Value::Int(1)),
            ("body".into(), Value::Text("synced".into())),
            ("origin".into(), Value::Text("dualsync".into())),
        ]);
        writer.apply(&[RowChange { table: notes.clone(), kind: RowChangeKind::Upsert(row) }], &[]).await.unwrap();
        let origins = || db.rows("SELECT CAST(id AS CHAR), body, origin FROM {ns}.notes ORDER BY id");
        assert_eq!(origins().await, rows(&[&["1", "synced", "dualsync"]]), "{kind:?}: dualsync's write keeps its flag");
        db.exec("UPDATE {ns}.notes SET body = 'edited' WHERE id = 1").await;
        db.exec("INSERT INTO {ns}.notes (id, body, origin) VALUES (2, 'new', 'dualsync')").await;
        assert_eq!(
            origins().await,
            rows(&[&["1", "edited", "app"], &["2", "new", "app"]]),
            "{kind:?}: application changes"
        );
        writer.uninstall_triggers(&notes).await.unwrap();
        db.exec("UPDATE {ns}.notes SET body = 'edited again', origin = 'dualsync' WHERE id = 1").await;
        assert_eq!(origins().await[0], rows(&[&["1", "edited again", "dualsync"]])[0], "{kind:?}: uninstalled");
        let info = writer.table_info(&notes).await.unwrap().unwrap();
        assert!(info.triggers.is_empty(), "{kind:?}: {:?}", info.triggers);
    }
}

/// After dualsync inserts explicit ids into a PostgreSQL table with a SERIAL or IDENTITY key,
/// the sequence is past them: the next local insert does not collide. (MySQL's AUTO_INCREMENT
/// moves by itself.)
#[tokio::test]
async fn key_sequences_advance_past_explicit_ids() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = if kind == Kind::Postgres { "id SERIAL PRIMARY KEY" } else { "id INT AUTO_INCREMENT PRIMARY KEY" };
        let other = if kind == Kind::Postgres {
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        } else {
            "id BIGINT AUTO_INCREMENT PRIMARY KEY"
        };
        db.exec(&format!(
            "CREATE TABLE {{ns}}.serial_t ({key}, v TEXT); CREATE TABLE {{ns}}.identity_t ({other}, v TEXT)"
        ))
        .await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        for name in ["serial_t", "identity_t"] {
            let row = |id| Row(vec![("id".into(), Value::Int(id)), ("v".into(), Value::Text("synced".into()))]);
            let changes = [
                RowChange { table: table(&db, name), kind: RowChangeKind::Upsert(row(100)) },
                RowChange { table: table(&db, name), kind: RowChangeKind::Upsert(row(41)) },
            ];
            writer.apply(&changes, &[]).await.unwrap();
            db.exec(&format!("INSERT INTO {{ns}}.{name} (v) VALUES ('local')")).await;
            let cast = if kind == Kind::Postgres { "id::text" } else { "CAST(id AS CHAR)" };
            let sql = format!("SELECT {cast} AS i, v FROM {{ns}}.{name} ORDER BY id");
            assert_eq!(
                db.rows(&sql).await,
                rows(&[&["41", "synced"], &["100", "synced"], &["101", "local"]]),
                "{kind:?} {name}"
            );
        }
    }
}

/// Disjoint id ranges, as `dualsync check` advises: this side's sequence hands out odd ids, the
/// other side's even ones. Even ids written here by dualsync must not move the sequence onto the
/// even ids (before the fix, `setval(max(id))` did: the next local insert took the other side's
/// next id, and the two rows met under one key). An odd id from elsewhere still moves it.
#[tokio::test]
async fn key_sequences_stay_in_their_own_residue_class() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("CREATE TABLE {ns}.odd (id BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 1 INCREMENT BY 2) PRIMARY KEY, v TEXT)")
        .await;
    let mut writer = Writer::connect(&db.url).await.unwrap();
    let upsert = |id| RowChange {
        table: table(&db, "odd"),
        kind: RowChangeKind::Upsert(Row(vec![
            ("id".into(), Value::Int(id)),
            ("v".into(), Value::Text("synced".into())),
        ])),
    };
    let local = || db.exec("INSERT INTO {ns}.odd (v) VALUES ('local')");
    let ids = || db.rows("SELECT id::text, v FROM {ns}.odd ORDER BY odd.id");
    local().await;
    writer.apply(&[upsert(100), upsert(42)], &[]).await.unwrap();
    local().await;
    assert_eq!(
        ids().await,
        rows(&[&["1", "local"], &["3", "local"], &["42", "synced"], &["100", "synced"]]),
        "even ids leave the odd sequence alone"
    );
    writer.apply(&[upsert(201), upsert(102)], &[]).await.unwrap();
    local().await;
    let last = ids().await.last().cloned().unwrap();
    assert_eq!(last, vec![Some("203".to_string()), Some("local".to_string())], "an odd id moves the sequence past it");
}

#[tokio::test]
async fn truncate_empties_the_table() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        let truncate = RowChange { table: table(&db, "items"), kind: RowChangeKind::Truncate };
        writer.apply(&[upsert(&db, 1, "gone", None), truncate, upsert(&db, 2, "after", None)], &[]).await.unwrap();
        assert_eq!(contents(&db).await, rows(&[&["2", "after", "NULL"]]), "{kind:?}");
    }
}

/// Precision: the incoming timestamp is brought to the target column's precision before the
/// comparison (PostgreSQL rounds, MariaDB truncates: each as it stores), so an echo of the same
/// write from a side with finer timestamps compares equal, not newer.
#[tokio::test]
async fn timestamps_compare_at_the_target_columns_precision() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let ts = if kind == Kind::Postgres { "TIMESTAMP(0)" } else { "DATETIME(0)" };
        db.exec(&format!("CREATE TABLE {{ns}}.coarse (id INTEGER PRIMARY KEY, body VARCHAR(20), modified {ts})")).await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let coarse = table(&db, "coarse");
        writer.set_policy(coarse.clone(), guard("modified", Conflict::Timestamp, false));
        let write = |body: &str, at: &str| {
            let at = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f").unwrap();
            let row = Row(vec![
                ("id".into(), Value::Int(1)),
                ("body".into(), Value::Text(body.into())),
                ("modified".into(), Value::Timestamp(at)),
            ]);
            RowChange { table: coarse.clone(), kind: RowChangeKind::Upsert(row) }
        };
        writer.apply(&[write("stored", "2024-01-01 10:00:00.000")], &[]).await.unwrap();
        // 10:00:00.4 becomes the stored second: an equal time, and this side does not win ties.
        writer.apply(&[write("echo", "2024-01-01 10:00:00.400")], &[]).await.unwrap();
        let body = || db.rows("SELECT body FROM {ns}.coarse");
        assert_eq!(body().await, rows(&[&["stored"]]), "{kind:?}");
        // 10:00:01.2 is the next second: newer.
        writer.apply(&[write("newer", "2024-01-01 10:00:01.200")], &[]).await.unwrap();
        assert_eq!(body().await, rows(&[&["newer"]]), "{kind:?}");
    }
}

/// A column the source did not send (unchanged TOAST) keeps its stored value.
#[tokio::test]
async fn unavailable_columns_are_left_untouched() {
    for kind in KINDS {
        let (db, mut writer) = products(kind).await;
        writer.apply(&[upsert(&db, 1, "kept title", Some(1.5))], &[]).await.unwrap();
        let row = Row(vec![
            ("id".into(), Value::Int(1)),
            ("title".into(), Value::Unavailable),
            ("weight".into(), Value::Float(2.5)),
        ]);
        writer.apply(&[RowChange { table: table(&db, "items"), kind: RowChangeKind::Upsert(row) }], &[]).await.unwrap();
        assert_eq!(contents(&db).await, rows(&[&["1", "kept title", "2.5"]]), "{kind:?}");
        // Under a guard, a stale partial update is skipped too.
        writer.set_policy(table(&db, "items"), guard("weight", dualsync_conflict::Kind::Version, false));
        let stale = Row(vec![
            ("id".into(), Value::Int(1)),
            ("title".into(), Value::Unavailable),
            ("weight".into(), Value::Float(2.0)),
        ]);
        writer
            .apply(&[RowChange { table: table(&db, "items"), kind: RowChangeKind::Upsert(stale) }], &[])
            .await
            .unwrap();
        assert_eq!(contents(&db).await, rows(&[&["1", "kept title", "2.5"]]), "{kind:?}");
    }
}

/// Deletes go first within a table's run, except in a table that references itself, where the
/// order is kept: here a child is detached from its parent before the parent is deleted, which
/// the other order would refuse.
#[tokio::test]
async fn a_self_referencing_table_keeps_the_order_of_its_changes() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        db.exec("CREATE TABLE {ns}.nodes (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES {ns}.nodes (id))").await;
        db.exec("CREATE TABLE {ns}.flat (id INTEGER PRIMARY KEY, name TEXT)").await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let (nodes, flat) = (table(&db, "nodes"), table(&db, "flat"));
        assert!(writer.schema(&nodes).await.unwrap().self_referencing, "{kind:?}");
        assert!(!writer.schema(&flat).await.unwrap().self_referencing, "{kind:?}");
        let node = |id: i64, parent: Option<i64>| RowChange {
            table: nodes.clone(),
            kind: RowChangeKind::Upsert(Row(vec![
                ("id".into(), Value::Int(id)),
                ("parent".into(), parent.map_or(Value::Null, Value::Int)),
            ])),
        };
        writer.apply(&[node(1, None), node(2, Some(1))], &[]).await.unwrap();
        let remove =
            RowChange { table: nodes.clone(), kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(1))])) };
        writer.apply(&[node(2, None), remove], &[]).await.unwrap();
        let sql = "SELECT CAST(id AS CHAR), CAST(parent AS CHAR) FROM {ns}.nodes";
        let sql = if kind == Kind::Postgres { sql.replace("AS CHAR", "AS TEXT") } else { sql.to_string() };
        assert_eq!(db.rows(&sql).await, rows(&[&["2", "NULL"]]), "{kind:?}");
    }
}

/// Tombstones are kept for the retention from when they were first recorded, then pruned.
#[tokio::test]
async fn old_tombstones_are_pruned() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, false));
        let batch = [delete_at(&db, 1, "2024-01-01T10:00:05Z"), delete_at(&db, 2, "2024-01-01T10:00:06Z")];
        writer.apply(&batch, &[]).await.unwrap();
        let ten_days_ago = match kind {
            Kind::Postgres => "now() - interval '10 days'",
            Kind::MySql => "NOW() - INTERVAL 10 DAY",
        };
        db.exec(&format!("UPDATE {{ns}}.dualsync_tomb_docs SET recorded_at = {ten_days_ago} WHERE id = 1")).await;
        // A writer starting afresh prunes on its first batch for the table.
        let mut writer = Writer::connect(&db.url).await.unwrap();
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, false));
        writer.set_tombstone_retention(7);
        writer.apply(&[doc(&db, 3, "three", "2024-01-01 10:00:00", 1)], &[]).await.unwrap();
        assert_eq!(tombstones(&db).await, rows(&[&["2", "2024-01-01 10:00:06"]]), "{kind:?}");
    }
}

/// One row's delete arrives twice in one batch, from two topics in either order: from the table's
/// topic with the binlog's whole-second time (older than the row's last update), and from the
/// tombstone topic with the exact time. The batch keeps the newer one, whatever the order, so
/// the delete wins over the row it deleted (the convergence harness found it losing).
#[tokio::test]
async fn of_two_deletes_of_one_row_in_a_batch_the_newer_is_kept() {
    use dualsync_conflict::Kind as Conflict;
    for kind in KINDS {
        let (db, mut writer) = versioned(kind).await;
        let docs = table(&db, "docs");
        writer.set_policy(docs.clone(), guard("modified", Conflict::Timestamp, false));
        let deleted = |at: &str| {
            let RowChangeKind::Upsert(mut row) = doc(&db, 1, "", at, 0).kind else { unreachable!() };
            row.0.retain(|(c, _)| c == "id" || c == "modified");
            RowChange { table: docs.clone(), kind: RowChangeKind::Delete(row) }
        };
        for order in [[0, 1], [1, 0]] {
            writer.apply(&[doc(&db, 1, "v1", "2024-01-01 10:00:05", 1)], &[]).await.unwrap();
            let twins = [deleted("2024-01-01 10:00:07"), deleted("2024-01-01 10:00:04")];
            writer.apply(&[twins[order[0]].clone(), twins[order[1]].clone()], &[]).await.unwrap();
            assert_eq!(bodies(&db).await, rows(&[]), "{kind:?} {order:?}: the exact delete wins");
            // Its tombstone keeps the exact time: an update older than it stays out.
            writer.apply(&[doc(&db, 1, "v2", "2024-01-01 10:00:06", 2)], &[]).await.unwrap();
            assert_eq!(bodies(&db).await, rows(&[]), "{kind:?} {order:?}: not resurrected");
            db.exec("DELETE FROM {ns}.dualsync_tomb_docs").await;
        }
    }
}

/// A child refused for its missing parent names that parent; once the parent is written, the
/// look at the parked children's parents sees it (by the key's own type on PostgreSQL, so through
/// its index), and a parent still missing stays missing.
#[tokio::test]
async fn missing_parents_are_seen_once_they_arrive() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        db.exec("CREATE TABLE {ns}.people (id BIGINT PRIMARY KEY, name VARCHAR(20))").await;
        db.exec(
            "CREATE TABLE {ns}.posts (id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL REFERENCES {ns}.people (id))",
        )
        .await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let post = |id: i64, person: i64| RowChange {
            table: table(&db, "posts"),
            kind: RowChangeKind::Upsert(Row(vec![
                ("id".into(), Value::Int(id)),
                ("person_id".into(), Value::Int(person)),
            ])),
        };
        let person = |id: i64| RowChange {
            table: table(&db, "people"),
            kind: RowChangeKind::Upsert(Row(vec![
                ("id".into(), Value::Int(id)),
                ("name".into(), Value::Text("p".into())),
            ])),
        };
        let refused = writer.apply(&[post(10, 1)], &[]).await.unwrap_err();
        assert_eq!(refused.class(), ErrorClass::WaitingForParent, "{kind:?}");
        let mut missing = writer.missing_parents(&post(10, 1)).await.unwrap();
        missing.extend(writer.missing_parents(&post(11, 2)).await.unwrap());
        assert_eq!(missing.len(), 2, "{kind:?}: each post names its person");
        assert_eq!(missing[0].key, vec![("id".to_string(), "1".to_string())], "{kind:?}");
        assert_eq!(writer.present(&missing).await.unwrap(), vec![false, false], "{kind:?}");
        writer.apply(&[person(1)], &[]).await.unwrap();
        assert_eq!(writer.present(&missing).await.unwrap(), vec![true, false], "{kind:?}: person 1 arrived");
        assert_eq!(writer.present(&[]).await.unwrap(), Vec::<bool>::new(), "{kind:?}");
    }
}
