//! The consumers fed by **real Debezium 3.6** connectors (the registrations in `debezium/`, run
//! by `testing/debezium.sh`): changes travel both ways without echoing, and a matrix of column
//! types with edge values reaches the other database exactly, with the JSON converter with and
//! without schemas and through `ExtractNewRecordState`.
//!
//! When Debezium cannot be installed on the machine, each test says so loudly and passes
//! without running (see `dualsync_testkit::debezium::available`).

mod common;

use std::time::Duration;

use common::{Running, temp_dir, wait_for_rows, write_config};
use dualsync_consumer::Direction;
use dualsync_testkit::debezium::Debezium;
use dualsync_testkit::{Kind, TestDb, create_topic, end_offset};

/// How the connector's records are encoded.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// `JsonConverter` with `schemas.enable=true` (the files in `debezium/`).
    Schemas,
    /// `JsonConverter` with `schemas.enable=false`: the consumer types values by the target.
    NoSchemas,
    /// `ExtractNewRecordState` (3.x options), with schemas.
    Flattened,
}

impl Encoding {
    fn settings(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Encoding::Schemas => vec![],
            Encoding::NoSchemas => {
                vec![("key.converter.schemas.enable", "false"), ("value.converter.schemas.enable", "false")]
            }
            Encoding::Flattened => vec![
                ("transforms", "unwrap"),
                ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
                ("transforms.unwrap.delete.tombstone.handling.mode", "rewrite-with-tombstone"),
                ("transforms.unwrap.add.fields", "op,source.ts_ms"),
            ],
        }
    }
}

/// The connector registration of each kind of source, as operators use it.
fn connector_file(kind: Kind) -> &'static str {
    match kind {
        Kind::MySql => "legacy-mysql.json",
        Kind::Postgres => "revamp-postgres.json",
    }
}

/// Starts real Debezium on `tables` of `db`; `None` when it cannot run here.
async fn debezium(db: &TestDb, tables: &[&str], extra: &[(&str, &str)]) -> Option<Debezium> {
    let mut settings = vec![("snapshot.mode", "no_data")];
    settings.extend_from_slice(extra);
    Debezium::start(connector_file(db.kind), db, tables, &settings).await
}

/// Drops the replication slot and publication a PostgreSQL connector left (its JVM is gone).
async fn drop_slot(db: &TestDb, debezium: Debezium) {
    let name = debezium.prefix.clone();
    drop(debezium);
    if db.kind == Kind::Postgres {
        for _ in 0..50 {
            let left =
                db.rows(&format!("SELECT active::text FROM pg_replication_slots WHERE slot_name = '{name}'")).await;
            if left.first().and_then(|r| r[0].as_deref()) != Some("true") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        db.exec(&format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}'"
        ))
        .await;
        db.exec(&format!("DROP PUBLICATION IF EXISTS \"{name}\"")).await;
    }
}

/// A new namespace on a server that real Debezium reads: MariaDB's is a server of its own.
async fn source_db(kind: Kind) -> TestDb {
    match kind {
        Kind::MySql => TestDb::mysql_on(&dualsync_testkit::debezium_mysql_url()).await,
        Kind::Postgres => TestDb::postgres().await,
    }
}

fn items_ddl(db: &TestDb) -> String {
    format!("CREATE TABLE {} (id INT PRIMARY KEY, name VARCHAR(50), origin VARCHAR(10))", db.qualified("items"))
}

/// `id, name` of every row of `items`, in id order.
async fn items(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let sql = match db.kind {
        Kind::MySql => format!("SELECT CAST(id AS CHAR), name FROM {} ORDER BY id", db.qualified("items")),
        Kind::Postgres => format!("SELECT id::text, name FROM {} ORDER BY id", db.qualified("items")),
    };
    db.rows(&sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_travel_both_ways_through_real_debezium_and_never_echo() {
    let legacy = source_db(Kind::MySql).await;
    let revamp = source_db(Kind::Postgres).await;
    legacy.exec(&items_ddl(&legacy)).await;
    revamp.exec(&items_ddl(&revamp)).await;
    let Some(legacy_dbz) = debezium(&legacy, &["items"], &[]).await else { return };
    let Some(revamp_dbz) = debezium(&revamp, &["items"], &[]).await else { return };
    let (legacy_topic, revamp_topic) = (legacy_dbz.topic(&legacy, "items"), revamp_dbz.topic(&revamp, "items"));
    create_topic(&legacy_topic, 1).await;
    create_topic(&revamp_topic, 1).await;

    // Loop prevention with Debezium is by source flag: dualsync stamps `origin = 'dualsync'` on
    // what it writes and drops changes that carry it.
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: {}.items\n    revamp: {}.items\n    sync:\n      source_flag:\n        \
         legacy: {{column: origin, local: app, dualsync: dualsync}}\n        \
         revamp: {{column: origin, local: app, dualsync: dualsync}}\n",
        legacy.namespace, revamp.namespace
    );
    let mut consumers = [
        Running::start_as(&write_config(&temp_dir(), &legacy_topic, &revamp, &mapping), Direction::LegacyToRevamp)
            .await,
        Running::start_as(&write_config(&temp_dir(), &revamp_topic, &legacy, &mapping), Direction::RevampToLegacy)
            .await,
    ];
    revamp.exec(&format!("INSERT INTO {} VALUES (1, 'made in the revamp', 'app')", revamp.qualified("items"))).await;
    legacy.exec(&format!("INSERT INTO {} VALUES (2, 'made in legacy', 'app')", legacy.qualified("items"))).await;
    let both = dualsync_testkit::rows(&[&["1", "made in the revamp"], &["2", "made in legacy"]]);
    wait_for_rows(180, "both inserts on legacy", &both, &mut consumers.iter_mut().collect::<Vec<_>>(), || {
        items(&legacy)
    })
    .await;
    wait_for_rows(60, "both inserts on the revamp", &both, &mut consumers.iter_mut().collect::<Vec<_>>(), || {
        items(&revamp)
    })
    .await;
    revamp
        .exec(&format!(
            "UPDATE {} SET name = 'renamed in the revamp', origin = 'app' WHERE id = 2",
            revamp.qualified("items")
        ))
        .await;
    legacy.exec(&format!("DELETE FROM {} WHERE id = 1", legacy.qualified("items"))).await;
    let after = dualsync_testkit::rows(&[&["2", "renamed in the revamp"]]);
    wait_for_rows(
        180,
        "the update and the delete on legacy",
        &after,
        &mut consumers.iter_mut().collect::<Vec<_>>(),
        || items(&legacy),
    )
    .await;
    wait_for_rows(
        60,
        "the update and the delete on the revamp",
        &after,
        &mut consumers.iter_mut().collect::<Vec<_>>(),
        || items(&revamp),
    )
    .await;

    // Each topic holds its side's application changes and dualsync's own writes (Debezium sees
    // every change); the echoes were dropped, so nothing bounced back: after a quiet period the
    // topics stop growing and both sides still agree.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ends = (end_offset(&legacy_topic), end_offset(&revamp_topic));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!((end_offset(&legacy_topic), end_offset(&revamp_topic)), ends, "the topics still grow: an echo loop");
    // legacy: its insert, dualsync's insert of 1, its delete of 1 (+ tombstone), dualsync's update of 2
    assert_eq!(ends.0, 5, "legacy's topic: 2 inserts, 1 delete and its tombstone, 1 update");
    // revamp: its insert, dualsync's insert of 2, its update of 2, dualsync's delete of 1 (+ tombstone)
    assert_eq!(ends.1, 5, "the revamp's topic: 2 inserts, 1 update, 1 delete and its tombstone");

    for consumer in consumers {
        consumer.stop().await;
    }
    drop(legacy_dbz);
    drop_slot(&revamp, revamp_dbz).await;
}

/// One column of a type matrix: its name, its type on the source and on the target, and how the
/// target renders it as text for the comparison.
struct Column {
    name: &'static str,
    source: &'static str,
    target: &'static str,
    read: &'static str,
}

/// A source table of many column types, rows of edge values (SQL literals per column, `id`
/// first) and the text each target column must read back.
struct Matrix {
    columns: Vec<Column>,
    rows: Vec<Vec<&'static str>>,
    expected: Vec<Vec<Option<&'static str>>>,
}

impl Matrix {
    fn ddl(&self, db: &TestDb, source: bool) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let kind = if source { c.source } else { c.target };
                format!("{} {}", c.name, kind.replace("{ns}", &format!("\"{}\"", db.namespace)))
            })
            .collect();
        format!("CREATE TABLE {} (id INT PRIMARY KEY, {})", db.qualified("types"), columns.join(", "))
    }

    fn insert(&self, db: &TestDb) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        let rows: Vec<String> = self.rows.iter().map(|r| format!("({})", r.join(", "))).collect();
        format!("INSERT INTO {} (id, {}) VALUES {}", db.qualified("types"), names.join(", "), rows.join(", "))
    }

    fn select(&self, db: &TestDb) -> String {
        let id = if db.kind == Kind::MySql { "CAST(id AS CHAR)" } else { "id::text" };
        let reads: Vec<String> = self.columns.iter().map(|c| c.read.replace("{}", c.name)).collect();
        format!("SELECT {id}, {} FROM {} ORDER BY id", reads.join(", "), db.qualified("types"))
    }

    fn expected(&self) -> Vec<Vec<Option<String>>> {
        self.expected.iter().map(|r| r.iter().map(|v| v.map(str::to_string)).collect()).collect()
    }
}

fn col(name: &'static str, source: &'static str, target: &'static str, read: &'static str) -> Column {
    Column { name, source, target, read }
}

/// MariaDB 10.11 → PostgreSQL 15: integers at both ends of each width, unsigned 64-bit max, huge
/// decimals, 4-byte UTF-8, binary, zero and extreme dates, times with microseconds, YEAR, ENUM,
/// SET, JSON, bit strings.
fn mariadb_to_postgres() -> Matrix {
    let text = "{}::text";
    Matrix {
        columns: vec![
            col("i8", "TINYINT", "SMALLINT", text),
            col("i16", "SMALLINT", "SMALLINT", text),
            col("i24", "MEDIUMINT", "INT", text),
            col("i64", "BIGINT", "BIGINT", text),
            col("u64", "BIGINT UNSIGNED", "NUMERIC(20,0)", text),
            col("u32", "INT UNSIGNED", "BIGINT", text),
            col("flag", "TINYINT(1)", "BOOLEAN", text),
            col("amount", "DECIMAL(38,10)", "NUMERIC(38,10)", text),
            col("f64", "DOUBLE", "DOUBLE PRECISION", text),
            col("vc", "VARCHAR(100)", "VARCHAR(100)", text),
            col("txt", "LONGTEXT", "TEXT", "md5({})"),
            col("bin", "VARBINARY(16)", "BYTEA", "encode({}, 'hex')"),
            col("d", "DATE", "DATE", text),
            col("dt", "DATETIME(6)", "TIMESTAMP(6)", text),
            col("ts", "TIMESTAMP(6) NULL", "TIMESTAMPTZ", "({} AT TIME ZONE 'UTC')::text"),
            col("tm", "TIME(6)", "TIME(6)", text),
            col("yr", "YEAR", "INT", text),
            col("en", "ENUM('small','large')", "TEXT", text),
            col("st", "SET('red','green','blue')", "TEXT", text),
            col("js", "JSON", "JSONB", text),
            col("b10", "BIT(10)", "BIT(10)", text),
            col("b1", "BIT(1)", "BOOLEAN", text),
        ],
        rows: vec![
            vec![
                "1",
                "127",
                "32767",
                "8388607",
                "9223372036854775807",
                "18446744073709551615",
                "4294967295",
                "1",
                "9999999999999999999999999999.9999999999",
                "1.7976931348623157e308",
                "'😀 naïve ☃ 𝄞'",
                "REPEAT('ab😀', 10000)",
                "X'00FF10'",
                "'9999-12-31'",
                "'9999-12-31 23:59:59.999999'",
                "'2038-01-19 03:14:07.999999'",
                "'23:59:59.999999'",
                "2155",
                "'large'",
                "'red,blue'",
                "'{\"a\": [1, 2.5, \"x\"], \"b\": null}'",
                "b'1010101010'",
                "b'1'",
            ],
            vec![
                "2",
                "-128",
                "-32768",
                "-8388608",
                "-9223372036854775808",
                "0",
                "0",
                "0",
                "-9999999999999999999999999999.9999999999",
                "-2.2250738585072014e-308",
                "''",
                "''",
                "X''",
                "'1000-01-01'",
                "'1000-01-01 00:00:00'",
                "'1970-01-01 00:00:01'",
                "'00:00:00'",
                "1901",
                "'small'",
                "''",
                "'[]'",
                "b'0'",
                "b'0'",
            ],
            vec![
                "3",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "'0000-00-00'",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
            ],
        ],
        expected: vec![
            vec![
                Some("1"),
                Some("127"),
                Some("32767"),
                Some("8388607"),
                Some("9223372036854775807"),
                Some("18446744073709551615"),
                Some("4294967295"),
                Some("true"),
                Some("9999999999999999999999999999.9999999999"),
                Some("1.7976931348623157e+308"),
                Some("😀 naïve ☃ 𝄞"),
                Some(MD5_AB_EMOJI_10000),
                Some("00ff10"),
                Some("9999-12-31"),
                Some("9999-12-31 23:59:59.999999"),
                Some("2038-01-19 03:14:07.999999"),
                Some("23:59:59.999999"),
                Some("2155"),
                Some("large"),
                Some("red,blue"),
                Some("{\"a\": [1, 2.5, \"x\"], \"b\": null}"),
                Some("1010101010"),
                Some("true"),
            ],
            vec![
                Some("2"),
                Some("-128"),
                Some("-32768"),
                Some("-8388608"),
                Some("-9223372036854775808"),
                Some("0"),
                Some("0"),
                Some("false"),
                Some("-9999999999999999999999999999.9999999999"),
                Some("-2.2250738585072014e-308"),
                Some(""),
                Some(MD5_EMPTY),
                Some(""),
                Some("1000-01-01"),
                Some("1000-01-01 00:00:00"),
                Some("1970-01-01 00:00:01"),
                Some("00:00:00"),
                Some("1901"),
                Some("small"),
                Some(""),
                Some("[]"),
                Some("0000000000"),
                Some("false"),
            ],
            vec![
                Some("3"),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
        ],
    }
}

/// md5 of `REPEAT('ab😀', 10000)` in UTF-8. (An update carries the value twice, before and
/// after, JSON-escaped: with 40,000 repeats the record passed the producer's default
/// `max.request.size` of 1 MB and Debezium stopped with RecordTooLargeException.)
const MD5_AB_EMOJI_10000: &str = "ac57a23d64a243d39c94fc32cf883ad6";
/// md5 of the empty string.
const MD5_EMPTY: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// PostgreSQL 15 → PostgreSQL 15 (a same-kind pair keeps what only PostgreSQL has): NaN and
/// ±infinity, numerics beyond 64 bits with and without a declared scale, 4-byte UTF-8, bytea,
/// ±infinity dates and timestamps, time zones, intervals, UUID, JSON and JSONB, arrays, an enum,
/// bit strings, and a large TOASTed value that a later update does not touch.
fn postgres_to_postgres() -> Matrix {
    let text = "{}::text";
    Matrix {
        columns: vec![
            col("i16", "SMALLINT", "SMALLINT", text),
            col("i64", "BIGINT", "BIGINT", text),
            col("num", "NUMERIC(40,10)", "NUMERIC(40,10)", text),
            col("numv", "NUMERIC", "NUMERIC", text),
            col("f64", "DOUBLE PRECISION", "DOUBLE PRECISION", text),
            col("f32", "REAL", "REAL", text),
            col("cash", "MONEY", "MONEY", text),
            col("vc", "VARCHAR(100)", "VARCHAR(100)", text),
            col("big", "TEXT", "TEXT", "md5({})"),
            col("bin", "BYTEA", "BYTEA", "encode({}, 'hex')"),
            col("d", "DATE", "DATE", text),
            col("ts", "TIMESTAMP(6)", "TIMESTAMP(6)", text),
            col("ts3", "TIMESTAMP(3)", "TIMESTAMP(3)", text),
            col("tstz", "TIMESTAMPTZ", "TIMESTAMPTZ", "({} AT TIME ZONE 'UTC')::text"),
            col("tm", "TIME(6)", "TIME(6)", text),
            // Debezium sends a time with zone in UTC (io.debezium.time.ZonedTime): compared in UTC.
            col("tmtz", "TIMETZ", "TIMETZ", "({} AT TIME ZONE 'UTC')::text"),
            col("iv", "INTERVAL", "INTERVAL", text),
            col("u", "UUID", "UUID", text),
            col("js", "JSON", "JSON", text),
            col("jsb", "JSONB", "JSONB", text),
            col("ints", "INT[]", "INT[]", text),
            col("texts", "TEXT[]", "TEXT[]", text),
            col("mood", "{ns}.mood", "{ns}.mood", text),
            col("b10", "BIT(10)", "BIT(10)", text),
            // Debezium sends a VARBIT with the column's declared length, not the value's: the
            // value arrives with leading zeros (`B'101'` as 17 zeros and 101).
            col("vb", "VARBIT(20)", "VARBIT(20)", "ltrim({}::text, '0')"),
            col("flag", "BOOLEAN", "BOOLEAN", text),
        ],
        rows: vec![
            vec![
                "1",
                "32767",
                "9223372036854775807",
                "123456789012345678901234567890.0123456789",
                "-0.000000000000000000000000000001",
                "'NaN'",
                "'Infinity'",
                "'92233720368547758.07'",
                "'😀 naïve ☃ 𝄞'",
                "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g)",
                "'\\x00ff10'",
                "'infinity'",
                "'infinity'",
                "'infinity'",
                "'-infinity'",
                "'23:59:59.999999'",
                "'12:34:56+05:30'",
                "'1 year 2 mons 3 days 04:05:06.789'",
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
                "'{\"a\": [1, 2.5, \"x\"], \"b\": null}'",
                "'{\"k\": \"😀\", \"n\": 1e400}'",
                "'{1,NULL,-3}'",
                "'{\"a b\",\"\",NULL}'",
                "'happy'",
                "B'1010101010'",
                "B'101'",
                "true",
            ],
            vec![
                "2",
                "-32768",
                "-9223372036854775808",
                "-123456789012345678901234567890.0123456789",
                "0",
                "'-Infinity'",
                "'-Infinity'",
                "'-92233720368547758.08'",
                "''",
                "''",
                "'\\x'",
                "'-infinity'",
                "'-infinity'",
                "'-infinity'",
                "'infinity'",
                "'00:00:00'",
                "'00:00:00-12'",
                "'-1 days -00:00:00.000001'",
                "'00000000-0000-0000-0000-000000000000'",
                "'[]'",
                "'{}'",
                "'{}'",
                "'{}'",
                "'sad'",
                "B'0000000000'",
                "B''",
                "false",
            ],
            vec![
                "3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
                "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
                "NULL",
            ],
        ],
        expected: vec![],
    }
}

/// The rows of `matrix` as `db` reads them back.
async fn read_types(db: &TestDb, matrix: &Matrix) -> Vec<Vec<Option<String>>> {
    db.rows(&matrix.select(db)).await
}

/// Runs `matrix` from a `source` database through real Debezium (`encoding`) and the
/// `legacy-to-revamp` consumer into a `target` database: the inserted rows, then an update of one
/// column of row 1 (a TOASTed value beside it untouched) and the delete of row 2, must read back
/// exactly. `matrix.expected` empty means "exactly what the source reads back".
async fn run_matrix(source: Kind, target: Kind, matrix: Matrix, encoding: Encoding) {
    // The consumer's log shows with --nocapture (a decode or write error, a dead letter).
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (source, target) = (source_db(source).await, TestDb::new(target).await);
    for db in [&source, &target] {
        if db.kind == Kind::Postgres {
            db.exec(&format!("CREATE TYPE \"{}\".mood AS ENUM ('sad', 'happy')", db.namespace)).await;
        }
    }
    source.exec(&matrix.ddl(&source, true)).await;
    target.exec(&matrix.ddl(&target, false)).await;
    let Some(dbz) = debezium(&source, &["types"], &encoding.settings()).await else { return };
    let topic = dbz.topic(&source, "types");
    create_topic(&topic, 1).await;
    let mapping = format!(
        "version: 1\ntables:\n  - legacy: {}.types\n    revamp: {}.types\n",
        source.namespace, target.namespace
    );
    let mut consumer =
        Running::start_as(&write_config(&temp_dir(), &topic, &target, &mapping), Direction::LegacyToRevamp).await;

    source.exec(&matrix.insert(&source)).await;
    let mut expected = if matrix.expected.is_empty() { read_types(&source, &matrix).await } else { matrix.expected() };
    assert_eq!(expected.len(), 3, "the source holds the three rows");
    eprintln!("matrix {encoding:?}: topic {topic}");
    let what = format!("{encoding:?}: the inserted rows in the target");
    wait_for_rows(180, &what, &expected, &mut [&mut consumer], || read_types(&target, &matrix)).await;

    source.exec(&format!("UPDATE {} SET vc = 'updated' WHERE id = 1", source.qualified("types"))).await;
    source.exec(&format!("DELETE FROM {} WHERE id = 2", source.qualified("types"))).await;
    let vc = 1 + matrix.columns.iter().position(|c| c.name == "vc").expect("a vc column");
    expected[0][vc] = Some("updated".into());
    expected.remove(1);
    let what = format!("{encoding:?}: the update and the delete in the target");
    wait_for_rows(120, &what, &expected, &mut [&mut consumer], || read_types(&target, &matrix)).await;

    consumer.stop().await;
    drop_slot(&source, dbz).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_types_reach_postgres_exactly_with_schemas() {
    run_matrix(Kind::MySql, Kind::Postgres, mariadb_to_postgres(), Encoding::Schemas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_types_reach_postgres_exactly_without_schemas() {
    run_matrix(Kind::MySql, Kind::Postgres, mariadb_to_postgres(), Encoding::NoSchemas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_types_reach_postgres_exactly_through_extract_new_record_state() {
    run_matrix(Kind::MySql, Kind::Postgres, mariadb_to_postgres(), Encoding::Flattened).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_types_reach_postgres_exactly_with_schemas() {
    run_matrix(Kind::Postgres, Kind::Postgres, postgres_to_postgres(), Encoding::Schemas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_types_reach_postgres_exactly_without_schemas() {
    run_matrix(Kind::Postgres, Kind::Postgres, postgres_to_postgres(), Encoding::NoSchemas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_types_reach_postgres_exactly_through_extract_new_record_state() {
    run_matrix(Kind::Postgres, Kind::Postgres, postgres_to_postgres(), Encoding::Flattened).await;
}
