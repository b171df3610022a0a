//! The writer against an application writing the same rows at the same moment, on the real
//! MariaDB and PostgreSQL servers.

use dualsync_conflict::{Guard, Kind as Conflict};
use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb};
use dualsync_writer::{TablePolicy, Writer};
use sqlx::Connection as _;

/// The application deletes a row while an older change to it from the other side is being
/// written. Before, the writer weighed the change against the row still there (the delete not
/// committed), then its upsert waited for the delete and, finding no row, inserted it: the
/// deleted row came back on this side only (seen once in a 10-minute soak). Now the writer locks
/// the stored rows before weighing, so it weighs after the delete, against its tombstone.
#[tokio::test]
async fn a_row_deleted_while_an_older_change_is_written_stays_deleted() {
    for kind in [Kind::Postgres, Kind::MySql] {
        let db = TestDb::new(kind).await;
        let ts = if kind == Kind::Postgres { "TIMESTAMPTZ" } else { "DATETIME(6)" };
        db.exec(&format!("CREATE TABLE {{ns}}.docs (id INTEGER PRIMARY KEY, body VARCHAR(50), modified {ts})")).await;
        let mut writer = Writer::connect(&db.url).await.unwrap();
        let docs = TableName { namespace: Some(db.namespace.clone()), name: "docs".into() };
        let guard = Guard { kind: Conflict::Timestamp, column: "modified".into(), incoming_wins_ties: false };
        writer.install_tombstone_trigger(&docs, &guard, "UTC").await.unwrap();
        writer.set_policy(docs.clone(), TablePolicy { guard: Some(guard), ..Default::default() });
        let doc = |body: &str, minute: u32| {
            let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(10, minute, 0).unwrap();
            let row = Row(vec![
                ("id".into(), Value::Int(1)),
                ("body".into(), Value::Text(body.into())),
                ("modified".into(), Value::Timestamp(at)),
            ]);
            RowChange { table: docs.clone(), kind: RowChangeKind::Upsert(row) }
        };
        writer.apply(&[doc("first", 0)], &[]).await.unwrap();
        // The application's delete, not committed yet.
        let delete = db.expand("DELETE FROM {ns}.docs WHERE id = 1");
        let application = match kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN; {delete}"))).execute(&mut conn).await.unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                    sqlx::raw_sql("COMMIT").execute(&mut conn).await.unwrap();
                })
            }
            Kind::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("BEGIN; {delete}"))).execute(&mut conn).await.unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                    sqlx::raw_sql("COMMIT").execute(&mut conn).await.unwrap();
                })
            }
        };
        let decided = writer.apply(&[doc("an older edit from the other side", 1)], &[]).await.unwrap();
        application.await.unwrap();
        assert_eq!(decided[&docs].resurrections_prevented, 1, "{kind:?}");
        assert!(db.rows("SELECT body FROM {ns}.docs").await.is_empty(), "{kind:?}: the deleted row came back");
    }
}
