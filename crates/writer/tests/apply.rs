//! Upserts and deletes against the real MariaDB and PostgreSQL servers.

use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb, rows};
use dualsync_writer::{WriteError, Writer};

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
        assert!(!err.is_transient(), "{kind:?}: a NOT NULL violation is permanent");
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
        assert_eq!(
            writer.apply(&[missing], &[]).await.unwrap_err().to_string(),
            format!("target table {ns}.nope does not exist; create it or fix the table name in the mapping")
        );

        let nokey = RowChange { table: table(&db, "nokey"), ..upsert(&db, 1, "a", None) };
        assert_eq!(
            writer.apply(&[nokey], &[]).await.unwrap_err().to_string(),
            format!("target table {ns}.nokey has no primary key; add one (upserts and deletes find rows by it)")
        );

        let mut extra = upsert(&db, 1, "a", None);
        if let RowChangeKind::Upsert(row) = &mut extra.kind {
            row.0.push(("colour".into(), Value::Text("red".into())));
        }
        assert_eq!(
            writer.apply(&[extra], &[]).await.unwrap_err().to_string(),
            format!("target table {ns}.items has no column \"colour\"; rename it in the mapping or add the column")
        );

        let keyless = RowChange {
            table: table(&db, "items"),
            kind: RowChangeKind::Delete(Row(vec![("title".into(), Value::Text("a".into()))])),
        };
        assert_eq!(
            writer.apply(&[keyless], &[]).await.unwrap_err().to_string(),
            format!("delete for {ns}.items has no value for key column \"id\"; the source event must carry it")
        );
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
