//! Apply throughput against the real services, beside the database's own bulk-load ceiling and a
//! naive applier, measured in the same run (the machine is shared, so only ratios travel).
//!
//! `cargo bench -p dualsync-writer --bench apply` (services from `testing/services.sh up`, env
//! from `testing/services.sh env`). `BENCH_ROWS` (default 200000) rows are inserted, then
//! updated, in batches of `BENCH_BATCH` (default 500, the consumer's default) — one transaction
//! per batch, as the consumer applies them. The ceiling is PostgreSQL `COPY` / the largest
//! multi-row MariaDB `INSERT` of the same rows in one transaction. Beside it:
//! - the engine's own bulk update of the same rows (PostgreSQL `COPY` into a temporary table and
//!   one `UPDATE … FROM`; MariaDB the largest multi-row `INSERT … ON DUPLICATE KEY UPDATE`), which
//!   shows how far below an insert-only load the engines themselves update;
//! - the engine's own bulk load in transactions of `BENCH_BATCH` rows, which shows what a batch
//!   size costs the database itself, before any work of the writer's.
//!
//! Everything but the naive applier runs `BENCH_ROUNDS` (default 3) times, one after the other,
//! each round into new tables, and each figure is its best round's. The naive applier
//! writes one single-row upsert per event, each in its own transaction, over `BENCH_NAIVE_ROWS`
//! (default 10000) rows. Like every writer transaction, each of the naive applier's also writes
//! the marker row change capture recognises, so its per-event cost includes that second
//! statement. The same inserts and updates run once more into a table with a conflict rule
//! (version column) and hard deletes, whose tombstone table first gets `BENCH_ROWS`/10 tombstones
//! of other rows: this adds the weighing query per batch (decision counts and the tombstone
//! check), to show its cost.

use std::time::Instant;

use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};
use dualsync_testkit::{Kind, TestDb};
use dualsync_writer::Writer;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const COLUMNS: &str = "id BIGINT PRIMARY KEY, name VARCHAR(64), qty INTEGER, price NUMERIC(12,2), note VARCHAR(64), \
     active BOOLEAN, version BIGINT";

fn row(id: i64, round: i64) -> Row {
    Row(vec![
        ("id".into(), Value::Int(id)),
        ("name".into(), Value::Text(format!("item {id} r{round}"))),
        ("qty".into(), Value::Int(id % 1000 + round)),
        ("price".into(), Value::Decimal(bigdecimal::BigDecimal::new((id * 7 + round).into(), 2))),
        ("note".into(), Value::Text("a note of modest length".into())),
        ("active".into(), Value::Bool((id + round) % 2 == 0)),
        ("version".into(), Value::Int(round)),
    ])
}

/// Deletes of rows `ids`, stamped with version 0: into a table with a conflict rule, each leaves
/// a tombstone.
fn deletes(table: &TableName, ids: std::ops::Range<i64>) -> Vec<RowChange> {
    ids.map(|id| RowChange {
        table: table.clone(),
        kind: RowChangeKind::Delete(Row(vec![("id".into(), Value::Int(id)), ("version".into(), Value::Int(0))])),
    })
    .collect()
}

fn upserts(table: &TableName, ids: std::ops::Range<i64>, round: i64) -> Vec<RowChange> {
    ids.map(|id| RowChange { table: table.clone(), kind: RowChangeKind::Upsert(row(id, round)) }).collect()
}

async fn fresh(db: &TestDb, name: &str) -> TableName {
    db.exec(&format!("CREATE TABLE {{ns}}.{name} ({COLUMNS})")).await;
    TableName { namespace: Some(db.namespace.clone()), name: name.into() }
}

/// Rows per second applying `changes` in batches, one transaction each.
async fn apply_rate(writer: &mut Writer, changes: &[RowChange], batch: usize) -> f64 {
    let started = Instant::now();
    for chunk in changes.chunks(batch) {
        writer.apply(chunk, &[]).await.expect("apply");
    }
    changes.len() as f64 / started.elapsed().as_secs_f64()
}

/// The database's own bulk write of the same rows, rows per second: round 0 loaded into the
/// empty table (the ceiling), then round 1 as updates of them (the engine's own bulk update); and
/// round 0 loaded once more, into a second table (dropped afterwards), in transactions of `batch`
/// rows.
async fn ceilings(db: &TestDb, table: &TableName, rows: usize, batch: usize) -> (f64, f64, f64) {
    let text = |v: &Value| match v {
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Text(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let round = |round| -> Vec<Vec<Option<String>>> {
        (0..rows as i64).map(|id| row(id, round).0.iter().map(|(_, v)| text(v)).collect()).collect()
    };
    let columns: Vec<String> = row(0, 0).0.into_iter().map(|(c, _)| c).collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let load = db.bulk_load(&table.name, &round(0)).await;
    let update = db.bulk_update(&table.name, &columns, &round(1)).await;
    let batched = format!("{}_batched", table.name);
    db.exec(&format!("CREATE TABLE {{ns}}.{batched} ({COLUMNS})")).await;
    let rate = db.bulk_load_batched(&batched, &round(0), batch).await;
    db.exec(&format!("DROP TABLE {{ns}}.{batched}")).await;
    (load, update, rate)
}

/// A naive applier: one single-row upsert per event, each in its own transaction.
async fn naive_rate(writer: &mut Writer, changes: &[RowChange]) -> f64 {
    let started = Instant::now();
    for change in changes {
        writer.apply(std::slice::from_ref(change), &[]).await.expect("apply");
    }
    changes.len() as f64 / started.elapsed().as_secs_f64()
}

/// One round's figures, rows per second.
#[derive(Clone, Copy, Default)]
struct Rates {
    ceiling: f64,
    update_ceiling: f64,
    batched_ceiling: f64,
    inserts: f64,
    updates: f64,
    guarded_inserts: f64,
    guarded_updates: f64,
}

impl Rates {
    /// The better of two rounds' figures, each on its own: a slow moment of the shared machine
    /// must neither flatter nor spoil a ratio.
    fn best(self, other: Rates) -> Rates {
        Rates {
            ceiling: self.ceiling.max(other.ceiling),
            update_ceiling: self.update_ceiling.max(other.update_ceiling),
            batched_ceiling: self.batched_ceiling.max(other.batched_ceiling),
            inserts: self.inserts.max(other.inserts),
            updates: self.updates.max(other.updates),
            guarded_inserts: self.guarded_inserts.max(other.guarded_inserts),
            guarded_updates: self.guarded_updates.max(other.guarded_updates),
        }
    }
}

/// One round: the ceilings, then the writer's inserts and updates, then the same into a table
/// with a conflict rule, each into tables of its own (dropped afterwards; the small tombstone
/// tables stay).
async fn round(db: &TestDb, writer: &mut Writer, n: usize, rows: usize, batch: usize) -> Rates {
    let bulk = fresh(db, &format!("bulk{n}")).await;
    let (ceiling, update_ceiling, batched_ceiling) = ceilings(db, &bulk, rows, batch).await;
    let ours = fresh(db, &format!("ours{n}")).await;
    let inserts = apply_rate(writer, &upserts(&ours, 0..rows as i64, 0), batch).await;
    let updates = apply_rate(writer, &upserts(&ours, 0..rows as i64, 1), batch).await;
    let guarded = fresh(db, &format!("guarded{n}")).await;
    let guard = dualsync_conflict::Guard {
        kind: dualsync_conflict::Kind::Version,
        column: "version".into(),
        incoming_wins_ties: false,
    };
    writer.set_policy(guarded.clone(), dualsync_writer::TablePolicy { guard: Some(guard), ..Default::default() });
    // Tombstones of other rows, as a table that has seen deletes has: each incoming row's lookup
    // in the tombstone table then searches a real index.
    let deleted = rows as i64..rows as i64 + rows as i64 / 10;
    apply_rate(writer, &deletes(&guarded, deleted), batch).await;
    let guarded_inserts = apply_rate(writer, &upserts(&guarded, 0..rows as i64, 0), batch).await;
    let guarded_updates = apply_rate(writer, &upserts(&guarded, 0..rows as i64, 1), batch).await;
    for table in [&bulk.name, &ours.name, &guarded.name] {
        db.exec(&format!("DROP TABLE {{ns}}.{table}")).await;
    }
    Rates { ceiling, update_ceiling, batched_ceiling, inserts, updates, guarded_inserts, guarded_updates }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rows = setting("BENCH_ROWS", 200_000);
    let batch = setting("BENCH_BATCH", 500);
    let naive_rows = setting("BENCH_NAIVE_ROWS", 10_000);
    let rounds = setting("BENCH_ROUNDS", 3).max(1);
    println!(
        "apply throughput: {rows} rows inserted then updated, batches of {batch}, best of {rounds} rounds; \
         naive applier over {naive_rows} rows"
    );
    for kind in [Kind::Postgres, Kind::MySql] {
        let db = TestDb::new(kind).await;
        let mut writer = Writer::connect(&db.url).await.expect("writer");
        let mut best = Rates::default();
        for n in 0..rounds {
            best = best.best(round(&db, &mut writer, n, rows, batch).await);
        }
        let Rates { ceiling, update_ceiling, batched_ceiling, inserts, updates, guarded_inserts, guarded_updates } =
            best;
        let naive = fresh(&db, "naive").await;
        let naive_inserts = naive_rate(&mut writer, &upserts(&naive, 0..naive_rows as i64, 0)).await;
        let naive_updates = naive_rate(&mut writer, &upserts(&naive, 0..naive_rows as i64, 1)).await;
        println!(
            "{kind:?}: ceiling {ceiling:>8.0} rows/s | inserts {inserts:>8.0} rows/s ({:.0}% of ceiling, {:.1}x naive {naive_inserts:.0}) \
             | updates {updates:>8.0} rows/s ({:.0}% of ceiling, {:.1}x naive {naive_updates:.0})",
            100.0 * inserts / ceiling,
            inserts / naive_inserts,
            100.0 * updates / ceiling,
            updates / naive_updates,
        );
        println!(
            "{kind:?}: the engine's own bulk update of the same rows {update_ceiling:>8.0} rows/s ({:.0}% of ceiling); \
             updates are {:.0}% of it",
            100.0 * update_ceiling / ceiling,
            100.0 * updates / update_ceiling,
        );
        println!(
            "{kind:?}: the engine's own bulk load in transactions of {batch} rows {batched_ceiling:>8.0} rows/s \
             ({:.0}% of ceiling); inserts are {:.0}% of it",
            100.0 * batched_ceiling / ceiling,
            100.0 * inserts / batched_ceiling,
        );
        println!(
            "{kind:?}: with a conflict rule and tombstones: inserts {guarded_inserts:>8.0} rows/s ({:.0}% of ceiling) \
             | updates {guarded_updates:>8.0} rows/s ({:.0}% of ceiling)",
            100.0 * guarded_inserts / ceiling,
            100.0 * guarded_updates / ceiling,
        );
    }
}
