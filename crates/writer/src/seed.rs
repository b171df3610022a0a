//! The bootstrap of two non-empty sides: snapshot rows ([`RowChangeKind::Seed`]) are compared
//! with the rows stored under their keys before anything is written. A row the target lacks is
//! inserted; a row it holds with the same values is left alone; a *different* row is a collision
//! of two entities that the two applications created under one key before sync began, and the
//! table's [`OnCollision`] policy settles it — never a silent merge by the conflict column.
//!
//! Live creates ([`RowChangeKind::Create`]) into a table whose key the target generates (a
//! surrogate id) are compared the same way: a different row under the new row's id is another
//! entity the other side's application created with the same id (overlapping id ranges). If the
//! conflict rule would let the create through, it would merge the two; it is left out and
//! reported instead. (If the stored row is newer, the create loses as usual, and the other side
//! reports the collision when this side's create arrives there.)

use std::collections::HashMap;
use std::sync::Arc;

use dualsync_conflict::OnCollision;
use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};

use crate::plan::{Statement, table_rows};
use crate::{Dialect, TablePolicy, TableSchema, WriteError, key_text};

/// A snapshot row the target holds differently under its key, left alone (policy `refuse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The key, as (column, value as text), target names.
    pub key: Vec<(String, String)>,
    /// The stored row, as JSON text.
    pub stored: String,
    /// A live create met it (both sides' applications handed out the same id), rather than a
    /// snapshot row (the bootstrap).
    pub create: bool,
}

/// What the comparison decided for one snapshot row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The target lacks the row: it is written as an upsert.
    Insert,
    /// The target holds the same values: nothing to write.
    Identical,
    /// A different row, which the incoming one replaces (policy `overwrite`).
    Overwrite,
    /// A different row, which the conflict rule weighs as for a live change (policy `newest`).
    Newest,
    /// A different row, which stays (policy `keep`).
    Keep,
    /// A different row, left alone and reported (policy `refuse`).
    Refused(Collision),
    /// A live create meeting a different row: a collision if the conflict rule lets it through.
    Contested(Collision),
}

/// One comparison query: some snapshot rows of one table.
pub(crate) struct Comparison<'a> {
    pub(crate) statement: Statement<'a>,
    /// The batch positions of the rows, in query order (the query numbers them from 1).
    pub(crate) positions: Vec<usize>,
    /// The table's policy.
    pub(crate) policy: OnCollision,
    /// Whether the table has a conflict rule (`newest` needs one).
    pub(crate) guarded: bool,
    /// Whether the rows are live creates rather than snapshot rows.
    pub(crate) creates: bool,
}

/// The comparisons for the snapshot rows among `changes`: per table and set of columns, in
/// chunks. Each row's columns are compared, the key among them.
pub(crate) fn comparisons<'a>(
    dialect: Dialect,
    changes: &'a [RowChange],
    schemas: &'a [Arc<TableSchema>],
    policies: &HashMap<TableName, TablePolicy>,
) -> Result<Vec<Comparison<'a>>, WriteError> {
    let mut groups: Vec<(Vec<&str>, bool, Vec<usize>)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let policy = policies.get(&change.table);
        let (row, creates) = match &change.kind {
            RowChangeKind::Seed(row) => (row, false),
            RowChangeKind::Create(row) if schemas[i].generated_key && policy.is_some_and(|p| p.guard.is_some()) => {
                (row, true)
            }
            _ => continue,
        };
        let flag = policy.and_then(|p| p.source_flag.as_deref());
        let columns: Vec<&str> = row.iter().map(|(c, _)| c).filter(|c| Some(*c) != flag).collect();
        let group =
            groups.iter_mut().find(|(c, k, p)| changes[p[0]].table == change.table && *k == creates && *c == columns);
        match group {
            Some((_, _, positions)) => positions.push(i),
            None => groups.push((columns, creates, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (columns, creates, positions) in groups {
        let (schema, table) = (&*schemas[positions[0]], &changes[positions[0]].table);
        if let Some(column) = columns.iter().find(|c| schema.column(c).is_none()) {
            return Err(WriteError::UnknownColumn { table: schema.name.to_string(), column: column.to_string() });
        }
        let policy = policies.get(table);
        let name = schema.name.to_string();
        for part in positions.chunks(4096) {
            let rows: Vec<&Row> = part.iter().filter_map(|&i| changes[i].kind.written_row()).collect();
            out.push(Comparison {
                statement: Statement {
                    sql: dialect.compare(schema, &columns),
                    values: table_rows(dialect, &name, &columns, &rows)?,
                    copy: None,
                    context: format!("comparing snapshot rows of {name} with the stored ones"),
                    key: &[],
                },
                positions: part.to_vec(),
                policy: policy.map(|p| p.on_collision).unwrap_or_default(),
                guarded: policy.is_some_and(|p| p.guard.is_some()),
                creates,
            });
        }
    }
    Ok(out)
}

/// The outcome of a compared row: `differs` and `stored` as [`Dialect::compare`] returned them.
pub(crate) fn outcome(
    comparison: &Comparison<'_>,
    row: &Row,
    schema: &TableSchema,
    differs: bool,
    stored: String,
) -> Outcome {
    if !differs {
        return Outcome::Identical;
    }
    if comparison.creates {
        return Outcome::Contested(collision(row, schema, stored, true));
    }
    match comparison.policy {
        OnCollision::Overwrite => Outcome::Overwrite,
        OnCollision::Keep => Outcome::Keep,
        OnCollision::Newest if comparison.guarded => Outcome::Newest,
        OnCollision::Newest | OnCollision::Refuse => Outcome::Refused(collision(row, schema, stored, false)),
    }
}

/// The collision of `row` with the `stored` row under its key.
fn collision(row: &Row, schema: &TableSchema, stored: String, create: bool) -> Collision {
    let key = schema.key.iter().map(|k| (k.clone(), row.get(k).and_then(key_text).unwrap_or_default())).collect();
    Collision { key, stored, create }
}

/// The snapshot rows and creates of `changes` settled: each becomes an upsert, and those that
/// write nothing (identical, kept, refused) or are written unguarded (overwritten) leave
/// `changes`, `schemas` and `copy` (kept in step). The counts go to `decisions`.
pub(crate) struct Settled {
    /// The snapshot rows that replace a different stored row, as upserts to write without the
    /// conflict rule.
    pub(crate) overwrites: Vec<RowChange>,
    /// Their tables.
    pub(crate) overwrite_schemas: Vec<Arc<TableSchema>>,
    /// Creates that met a different row, by their position in the settled `changes`: if the
    /// weighing lets one through, it is a collision and left out.
    pub(crate) contested: Vec<(usize, Collision)>,
}

/// Compares the snapshot rows among `changes` with the stored rows, in `tx`, and settles them
/// (see [`Settled`]).
pub(crate) async fn settle(
    tx: &mut crate::writer::Tx,
    dialect: Dialect,
    changes: &mut std::borrow::Cow<'_, [RowChange]>,
    schemas: &mut Vec<Arc<TableSchema>>,
    copy: &mut Vec<bool>,
    policies: &HashMap<TableName, TablePolicy>,
    decisions: &mut HashMap<TableName, crate::Decisions>,
) -> Result<Settled, WriteError> {
    let mut settled = Settled { overwrites: Vec::new(), overwrite_schemas: Vec::new(), contested: Vec::new() };
    if !changes.iter().any(|c| matches!(c.kind, RowChangeKind::Seed(_) | RowChangeKind::Create(_))) {
        return Ok(settled);
    }
    // Every compared row is stored; those the query does not return are not.
    let mut outcomes = vec![Outcome::Insert; changes.len()];
    for comparison in comparisons(dialect, changes, schemas, policies)? {
        for (n, differs, stored) in tx.fetch::<(i64, i64, String)>(&comparison.statement).await? {
            let Some(&position) = usize::try_from(n - 1).ok().and_then(|n| comparison.positions.get(n)) else {
                continue;
            };
            if let Some(row) = changes[position].kind.written_row() {
                outcomes[position] = outcome(&comparison, row, &schemas[position], differs != 0, stored);
            }
        }
    }
    let owned = changes.to_mut();
    let mut kept = Vec::with_capacity(owned.len());
    for (position, outcome) in outcomes.into_iter().enumerate() {
        let change = &mut owned[position];
        let (RowChangeKind::Seed(row) | RowChangeKind::Create(row)) = &mut change.kind else {
            kept.push(position);
            continue;
        };
        change.kind = RowChangeKind::Upsert(std::mem::take(row));
        let counts = decisions.entry(change.table.clone()).or_default();
        match outcome {
            Outcome::Insert | Outcome::Newest => kept.push(position),
            Outcome::Contested(collision) => {
                settled.contested.push((kept.len(), collision));
                kept.push(position);
            }
            Outcome::Overwrite => {
                counts.collisions_settled += 1;
                settled.overwrites.push(change.clone());
                settled.overwrite_schemas.push(schemas[position].clone());
            }
            Outcome::Identical => {
                counts.identical += 1;
                counts.applied -= 1;
            }
            Outcome::Keep => {
                counts.collisions_settled += 1;
                counts.applied -= 1;
            }
            Outcome::Refused(collision) => {
                counts.collisions.push(collision);
                counts.applied -= 1;
            }
        }
    }
    if kept.len() < owned.len() {
        *changes = kept.iter().map(|&i| owned[i].clone()).collect::<Vec<_>>().into();
        *schemas = kept.iter().map(|&i| schemas[i].clone()).collect();
        *copy = kept.iter().map(|&i| copy[i]).collect();
    }
    Ok(settled)
}

impl crate::Writer {
    /// Which of `changes` (snapshot rows) meet a *different* row stored under their key here,
    /// read-only (the transaction is rolled back): what the bootstrap would report with the
    /// default policy, for `dualsync check`.
    pub async fn collisions(&mut self, changes: &[RowChange]) -> Result<Vec<(TableName, Collision)>, WriteError> {
        let schemas = self.schemas(changes).await?;
        let mut tx = crate::writer::Tx::begin(&self.pool).await?;
        let mut out = Vec::new();
        for comparison in comparisons(self.dialect(), changes, &schemas, &self.policies)? {
            for (n, differs, stored) in tx.fetch::<(i64, i64, String)>(&comparison.statement).await? {
                let Some(&position) = usize::try_from(n - 1).ok().and_then(|n| comparison.positions.get(n)) else {
                    continue;
                };
                if let (true, Some(row)) = (differs != 0, changes[position].kind.written_row()) {
                    out.push((changes[position].table.clone(), collision(row, &schemas[position], stored, false)));
                }
            }
        }
        Ok(out)
    }

    /// Every row of `table`, read here as a snapshot would carry it, for comparing it with the
    /// other side: each row as JSON (PostgreSQL `to_jsonb`, MySQL `JSON_OBJECT`), its values as
    /// JSON gives them (numbers, booleans, text; timestamps as ISO text; bytes decoded).
    pub async fn scan(
        &mut self,
        table: &TableName,
    ) -> Result<impl futures_util::Stream<Item = Result<Row, WriteError>> + '_, WriteError> {
        use futures_util::StreamExt as _;
        let schema = self.schema(table).await?;
        let dialect = self.dialect();
        let sql = match dialect {
            Dialect::Postgres => format!("SELECT to_jsonb(t)::text FROM {} AS t", dialect.table(&schema.name)),
            Dialect::MySql => {
                format!("SELECT CAST({} AS CHAR) FROM {} AS t", dialect.json_row(&schema), dialect.table(&schema.name))
            }
        };
        let context = format!("reading the rows of {}", schema.name);
        let decode = move |json: Result<String, sqlx::Error>| {
            let json = json.map_err(WriteError::database(context.clone()))?;
            json_row(&schema, dialect, &json).map_err(|reason| WriteError::Unwritable {
                table: schema.name.to_string(),
                column: "*".into(),
                reason,
            })
        };
        let rows = match &self.pool {
            crate::writer::Pool::Postgres(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch(pool).map(decode).boxed()
            }
            crate::writer::Pool::MySql(pool) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch(pool).map(decode).boxed()
            }
        };
        Ok(rows)
    }
}

/// A row read as JSON (see [`crate::Writer::scan`]) as values, in the table's column order.
fn json_row(schema: &TableSchema, dialect: Dialect, json: &str) -> Result<Row, String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("the row is not a JSON object: {e}"))?;
    let mut row = Vec::with_capacity(schema.columns.len());
    for column in &schema.columns {
        let json = object.get(&column.name).cloned().unwrap_or(serde_json::Value::Null);
        let binary = match dialect {
            Dialect::Postgres => column.sql_type == "bytea",
            Dialect::MySql => crate::sql::is_binary(&column.sql_type),
        };
        let value = match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.to_string().parse().map(Value::Decimal).unwrap_or_else(|_| Value::Text(n.to_string())),
            },
            serde_json::Value::String(s) if binary => {
                Value::Bytes(hex::decode(s.trim_start_matches("\\x")).map_err(|e| format!("{}: {e}", column.name))?)
            }
            serde_json::Value::String(s) => Value::Text(s),
            other => Value::Json(other.to_string()),
        };
        row.push((column.name.clone(), value));
    }
    Ok(Row(row))
}
