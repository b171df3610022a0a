//! A batch's changes → the fewest statements: runs of upserts (same table, same columns) and of
//! hard deletes (same table) become one multi-row statement each, in chunks of fixed sizes so
//! prepared statements are reused.

use std::collections::HashMap;
use std::sync::Arc;

use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};

use crate::encode::{Bound, bind, push_copy_field, push_pg_element};
use dualsync_conflict::Guard;

use crate::cascade::ParentTomb;
use crate::{Dialect, TablePolicy, TableSchema, WriteError, tombstone};

/// Most rows in one statement.
const MAX_ROWS: usize = 4096;
/// A statement binds at most this many parameters (both databases' protocol limit).
const MAX_PARAMETERS: usize = 65_535;

/// One statement of a batch with the values to bind, in placeholder order.
pub(crate) struct Statement<'a> {
    pub(crate) sql: String,
    pub(crate) values: Vec<Bound<'a>>,
    /// For a `COPY … FROM STDIN` statement, the rows in COPY's text format.
    pub(crate) copy: Option<String>,
    pub(crate) context: String,
    /// For upserts, the key columns: a NULL assigned to one of them means a unique-key collision.
    pub(crate) key: &'a [String],
}

/// The statements for `changes` (collapsed: one change per row), in order; each change checked
/// against its table. Columns whose value is [`Value::Unavailable`] (unchanged TOAST) are left
/// out, so the row keeps its value. Upserts whose `fresh` flag is set (their row is not stored:
/// see [`weighings`]) are copied in with `COPY`, ahead of the other upserts of their run.
pub(crate) fn plan<'a>(
    dialect: Dialect,
    changes: &'a [RowChange],
    schemas: &'a [Arc<TableSchema>],
    policies: &'a HashMap<TableName, TablePolicy>,
    fresh: &[bool],
) -> Result<Vec<Statement<'a>>, WriteError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let (change, schema) = (&changes[i], &*schemas[i]);
        let policy = policies.get(&change.table);
        let table = schema.name.to_string();
        match &change.kind {
            // A row that lacks values (unchanged TOAST) exists at the source: update what it has.
            RowChangeKind::Upsert(row) | RowChangeKind::Create(row) | RowChangeKind::Seed(row) if partial(row) => {
                let columns = check_upsert(schema, row)?;
                let guard = policy.and_then(|p| p.guard.as_ref());
                let set: Vec<&str> = columns.iter().copied().filter(|c| !schema.key.iter().any(|k| k == c)).collect();
                let mut params: Vec<&str> = set.clone();
                params.extend(schema.key.iter().map(String::as_str));
                if let Some(g) = guard.filter(|g| set.contains(&g.column.as_str())) {
                    params.push(&g.column);
                }
                let values = params
                    .iter()
                    .map(|c| encode(dialect, &table, c, row.get(c).unwrap_or(&Value::Null)))
                    .collect::<Result<_, _>>()?;
                out.push(Statement {
                    sql: dialect.update(schema, &columns, guard),
                    values,
                    copy: None,
                    context: format!("update of {table}"),
                    key: &[],
                });
                i += 1;
            }
            RowChangeKind::Upsert(row) | RowChangeKind::Create(row) | RowChangeKind::Seed(row) => {
                let columns = check_upsert(schema, row)?;
                let mut rows: Vec<&Row> = vec![row];
                while let Some(RowChangeKind::Upsert(next)) = changes.get(i + rows.len()).map(|c| &c.kind) {
                    let same_table = changes[i + rows.len()].table == change.table;
                    // The same columns as the first row (the common case) need only the key check.
                    let same_columns = next.0.len() == columns.len()
                        && next.iter().zip(&columns).all(|((c, _), expected)| c == *expected)
                        && keyed(schema, next);
                    if !same_table || partial(next) || !(same_columns || check_upsert(schema, next)? == columns) {
                        break;
                    }
                    rows.push(next);
                }
                // Rows not stored yet are copied in (PostgreSQL's bulk path, several times faster
                // than the upsert); the others are upserted.
                let first = i;
                i += rows.len();
                let is_new = |n: usize| fresh.get(first + n).copied().unwrap_or(false);
                let new: Vec<&Row> = rows.iter().enumerate().filter(|(n, _)| is_new(*n)).map(|(_, r)| *r).collect();
                let rows: Vec<&Row> = rows.iter().enumerate().filter(|(n, _)| !is_new(*n)).map(|(_, r)| *r).collect();
                if !new.is_empty() {
                    out.push(Statement {
                        sql: dialect.copy(schema, &columns),
                        values: Vec::new(),
                        copy: Some(copy_rows(dialect, &table, &columns, &new)?),
                        context: format!("copy of new rows into {table}"),
                        key: &schema.key,
                    });
                }
                let guard = policy.and_then(|p| p.guard.as_ref());
                let mut start = 0;
                for chunk in chunks(dialect, rows.len(), columns.len()) {
                    out.push(Statement {
                        sql: dialect.upsert(schema, &columns, chunk, guard),
                        values: values(dialect, &table, &columns, &rows[start..start + chunk])?,
                        copy: None,
                        context: format!("upsert into {table}"),
                        key: &schema.key,
                    });
                    start += chunk;
                }
            }
            RowChangeKind::Delete(key) => {
                let guard = policy.and_then(|p| p.guard.as_ref());
                // The delete's time, when the mapping knows it: weighed against the stored row.
                let stamped = |row: &Row| guard.and_then(|g| row.get(&g.column)).is_some_and(|v| !v.is_null());
                if let Some((column, value)) = policy.and_then(|p| p.soft_delete.as_ref()) {
                    // Soft delete: set the column and, with the delete's time, the conflict column
                    // too, so older changes arriving later lose to the delete.
                    let mut columns = vec![column.as_str()];
                    let mut values = vec![encode(dialect, &table, column, value)?];
                    let stamp = guard.and_then(|g| key.get(&g.column).filter(|v| !v.is_null()).map(|at| (g, at)));
                    if let Some((g, at)) = stamp {
                        columns.push(&g.column);
                        values.push(encode(dialect, &table, &g.column, at)?);
                    }
                    columns.extend(schema.key.iter().map(String::as_str));
                    values.extend(key_values(dialect, schema, key, "delete")?);
                    let delete_guard = stamp.map(|(g, at)| (Guard { incoming_wins_ties: true, ..g.clone() }, at));
                    if let Some((g, at)) = &delete_guard {
                        values.push(encode(dialect, &table, &g.column, at)?);
                    }
                    out.push(Statement {
                        sql: dialect.update(schema, &columns, delete_guard.as_ref().map(|(g, _)| g)),
                        values,
                        copy: None,
                        context: format!("soft delete in {table}"),
                        key: &[],
                    });
                    i += 1;
                    continue;
                }
                let with_stamp = stamped(key);
                key_values(dialect, schema, key, "delete")?;
                let mut keys: Vec<&Row> = vec![key];
                while let Some(RowChangeKind::Delete(next)) = changes.get(i + keys.len()).map(|c| &c.kind) {
                    if changes[i + keys.len()].table != change.table || stamped(next) != with_stamp {
                        break;
                    }
                    key_values(dialect, schema, next, "delete")?;
                    keys.push(next);
                }
                i += keys.len();
                let guard = guard.filter(|_| with_stamp);
                let mut columns: Vec<&str> = schema.key.iter().map(String::as_str).collect();
                if let Some(g) = guard {
                    columns.push(&g.column);
                }
                let mut start = 0;
                for chunk in chunks(dialect, keys.len(), columns.len()) {
                    out.push(Statement {
                        sql: dialect.delete(schema, chunk, guard),
                        values: values(dialect, &table, &columns, &keys[start..start + chunk])?,
                        copy: None,
                        context: format!("delete from {table}"),
                        key: &[],
                    });
                    start += chunk;
                }
                // Remember the deletes, so older changes arriving later do not bring the rows back.
                if let (Some(g), Some(tomb)) = (guard, tombstone::schema(schema, policy)) {
                    let tomb_columns: Vec<&str> = tomb.columns.iter().map(|c| c.name.as_str()).collect();
                    let mut start = 0;
                    for chunk in chunks(dialect, keys.len(), columns.len()) {
                        out.push(Statement {
                            sql: dialect.upsert(&tomb, &tomb_columns, chunk, Some(&tombstone::guard(g.kind))),
                            values: values(dialect, &table, &columns, &keys[start..start + chunk])?,
                            copy: None,
                            context: format!("recording deletes from {table} in {}", tomb.name),
                            key: &[],
                        });
                        start += chunk;
                    }
                }
            }
            // MySQL's TRUNCATE commits the transaction by itself, so it deletes every row instead.
            RowChangeKind::Truncate => {
                out.push(Statement {
                    sql: match dialect {
                        Dialect::Postgres => format!("TRUNCATE {}", dialect.table(&schema.name)),
                        Dialect::MySql => format!("DELETE FROM {}", dialect.table(&schema.name)),
                    },
                    values: Vec::new(),
                    copy: None,
                    context: format!("truncate {table}"),
                    key: &[],
                });
                i += 1;
            }
        }
    }
    Ok(out)
}

/// One query of [`Dialect::weigh`]: rows of a batch weighed against the stored rows before the
/// batch is written.
pub(crate) struct Weighing<'a> {
    pub(crate) statement: Statement<'a>,
    /// For upserts, the statement that locks their stored rows first (see
    /// [`Dialect::lock_stored`]).
    pub(crate) lock: Option<Statement<'a>>,
    /// The table.
    pub(crate) table: &'a TableName,
    /// The batch positions of the weighed rows, in query order (the query numbers them from 1).
    pub(crate) positions: Vec<usize>,
    /// Whether the rows are deletes (which win ties) rather than upserts.
    pub(crate) deletes: bool,
    /// Whether incoming upserts win ties.
    pub(crate) incoming_wins_ties: bool,
}

/// The weighings for `changes`: per table with a conflict rule, its whole-row upserts and its
/// deletes that carry their time, in chunks. On PostgreSQL they also report the upserts whose row
/// is not stored yet, which [`plan`] may copy in.
pub(crate) fn weighings<'a>(
    dialect: Dialect,
    changes: &'a [RowChange],
    schemas: &'a [Arc<TableSchema>],
    policies: &'a HashMap<TableName, TablePolicy>,
    parent_tombs: &'a HashMap<TableName, Arc<Vec<ParentTomb>>>,
) -> Result<Vec<Weighing<'a>>, WriteError> {
    let report_new = dialect == Dialect::Postgres;
    let mut groups: Vec<(&TableName, bool, Vec<usize>)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let Some(guard) = policies.get(&change.table).and_then(|p| p.guard.as_ref()) else { continue };
        let (row, deletes) = match &change.kind {
            RowChangeKind::Upsert(row) if !partial(row) => (row, false),
            RowChangeKind::Delete(row) => (row, true),
            _ => continue,
        };
        // Rows without the conflict column are written unguarded; deletes without a time too.
        match row.get(&guard.column) {
            None => continue,
            Some(v) if deletes && v.is_null() => continue,
            Some(_) => {}
        }
        match groups.iter_mut().find(|(t, d, _)| *t == &change.table && *d == deletes) {
            Some((_, _, positions)) => positions.push(i),
            None => groups.push((&change.table, deletes, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (table, deletes, positions) in groups {
        let schema = &*schemas[positions[0]];
        let policy = policies.get(table);
        let guard = policy.and_then(|p| p.guard.as_ref()).expect("grouped by guard");
        let tomb = if deletes { None } else { tombstone::schema(schema, policy) };
        let parents: &[ParentTomb] = match parent_tombs.get(table) {
            Some(parents) if !deletes => parents,
            _ => &[],
        };
        let columns = crate::sql::weighed_columns(schema, guard, parents);
        let name = schema.name.to_string();
        let mut start = 0;
        // One parameter per column (PostgreSQL) or for all rows (MySQL): any number of rows fits.
        for chunk in chunks(Dialect::Postgres, positions.len(), columns.len()) {
            let part = &positions[start..start + chunk];
            let rows: Vec<&Row> = part
                .iter()
                .map(|&i| match &changes[i].kind {
                    RowChangeKind::Upsert(row)
                    | RowChangeKind::Create(row)
                    | RowChangeKind::Seed(row)
                    | RowChangeKind::Delete(row) => row,
                    RowChangeKind::Truncate => unreachable!("only upserts and deletes are weighed"),
                })
                .collect();
            let values = table_rows(dialect, &name, &columns, &rows)?;
            let lock = (!deletes).then(|| Statement {
                sql: dialect.lock_stored(schema, &columns),
                values: values.clone(),
                copy: None,
                context: format!("locking the stored rows of {name} that incoming rows change"),
                key: &[],
            });
            out.push(Weighing {
                lock,
                statement: Statement {
                    sql: dialect.weigh(schema, guard, tomb.as_ref(), parents, report_new && !deletes),
                    values,
                    copy: None,
                    context: format!("comparing incoming rows of {name} with the stored ones"),
                    key: &[],
                },
                table,
                positions: part.to_vec(),
                deletes,
                incoming_wins_ties: guard.incoming_wins_ties,
            });
            start += chunk;
        }
    }
    Ok(out)
}

/// `rows` × `columns` as the parameters of a query over a derived table of them (see
/// `Dialect::incoming`): PostgreSQL one text array per column, MySQL one JSON array of rows.
pub(crate) fn table_rows<'a>(
    dialect: Dialect,
    table: &str,
    columns: &[&str],
    rows: &[&'a Row],
) -> Result<Vec<Bound<'a>>, WriteError> {
    match dialect {
        Dialect::Postgres => values(dialect, table, columns, rows),
        Dialect::MySql => Ok(vec![Bound::Text(json_rows(dialect, table, columns, rows)?.into())]),
    }
}

/// `rows` × `columns` as one JSON array of arrays, for MySQL's `JSON_TABLE`: numbers and
/// booleans as themselves, bytes as hex, everything else as the text MySQL parses.
fn json_rows(dialect: Dialect, table: &str, columns: &[&str], rows: &[&Row]) -> Result<String, WriteError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut items = Vec::with_capacity(columns.len());
        for column in columns {
            items.push(match encode(dialect, table, column, row.get(column).unwrap_or(&Value::Null))? {
                Bound::Null => serde_json::Value::Null,
                Bound::Bool(b) => serde_json::Value::from(u8::from(b)),
                Bound::Int(i) => serde_json::Value::from(i),
                Bound::Float(x) => serde_json::Value::from(x),
                Bound::Text(s) => serde_json::Value::from(s.into_owned()),
                Bound::Bytes(b) => serde_json::Value::from(hex::encode(b)),
            });
        }
        out.push(serde_json::Value::Array(items));
    }
    Ok(serde_json::Value::Array(out).to_string())
}

/// `rows` × `columns` in COPY's text format: a line per row, fields separated by tabs.
fn copy_rows(dialect: Dialect, table: &str, columns: &[&str], rows: &[&Row]) -> Result<String, WriteError> {
    let mut out = String::with_capacity(rows.len() * columns.len() * 12);
    for row in rows {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            push_copy_field(&mut out, &encode(dialect, table, column, row.get(column).unwrap_or(&Value::Null))?);
        }
        out.push('\n');
    }
    Ok(out)
}

/// Whether `row` lacks some values (unchanged TOAST): it can update a stored row, not be inserted.
pub(crate) fn partial(row: &Row) -> bool {
    row.iter().any(|(_, v)| *v == Value::Unavailable)
}

/// Whether `row` has a value for every key column.
fn keyed(schema: &TableSchema, row: &Row) -> bool {
    schema.key.iter().all(|k| row.get(k).is_some_and(|v| !matches!(v, Value::Null | Value::Unavailable)))
}

/// The written columns of an upsert row, after checking it against the table.
fn check_upsert<'r>(schema: &TableSchema, row: &'r Row) -> Result<Vec<&'r str>, WriteError> {
    let table = schema.name.to_string();
    if let Some((column, _)) = row.iter().find(|(c, _)| schema.column(c).is_none()) {
        return Err(WriteError::UnknownColumn { table, column: column.to_string() });
    }
    for column in &schema.key {
        if row.get(column).is_none_or(|v| matches!(v, Value::Null | Value::Unavailable)) {
            return Err(WriteError::MissingKey { table, column: column.clone(), op: "upsert" });
        }
    }
    Ok(row.iter().filter(|(_, v)| **v != Value::Unavailable).map(|(c, _)| c).collect())
}

pub(crate) fn encode<'a>(
    dialect: Dialect,
    table: &str,
    column: &str,
    value: &'a Value,
) -> Result<Bound<'a>, WriteError> {
    bind(value, dialect).map_err(|reason| WriteError::Unwritable {
        table: table.to_string(),
        column: column.to_string(),
        reason,
    })
}

fn key_values<'a>(
    dialect: Dialect,
    schema: &TableSchema,
    row: &'a Row,
    op: &'static str,
) -> Result<Vec<Bound<'a>>, WriteError> {
    let table = schema.name.to_string();
    schema
        .key
        .iter()
        .map(|column| match row.get(column) {
            Some(value) if !matches!(value, Value::Null | Value::Unavailable) => encode(dialect, &table, column, value),
            _ => Err(WriteError::MissingKey { table: table.clone(), column: column.clone(), op }),
        })
        .collect()
}

/// The parameters for `rows` × `columns`: PostgreSQL one text array per column, MySQL every
/// value, row by row.
fn values<'a>(dialect: Dialect, table: &str, columns: &[&str], rows: &[&'a Row]) -> Result<Vec<Bound<'a>>, WriteError> {
    let value = |row: &'a Row, column: &str| row.get(column).unwrap_or(&Value::Null);
    match dialect {
        Dialect::Postgres => columns
            .iter()
            .map(|column| {
                let mut literal = String::with_capacity(rows.len() * 16 + 2);
                literal.push('{');
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        literal.push(',');
                    }
                    push_pg_element(&mut literal, &encode(dialect, table, column, value(row, column))?);
                }
                literal.push('}');
                Ok(Bound::Text(literal.into()))
            })
            .collect(),
        Dialect::MySql => {
            let mut out = Vec::with_capacity(rows.len() * columns.len());
            for row in rows {
                for column in columns {
                    out.push(encode(dialect, table, column, value(row, column))?);
                }
            }
            Ok(out)
        }
    }
}

/// Statement sizes for `rows` rows of `columns` parameters each. PostgreSQL's shape does not
/// depend on the row count, so it only caps it. MySQL's does: chunks are powers of two (the
/// largest that fits the parameter limit, then smaller ones), so a table has a handful of shapes.
fn chunks(dialect: Dialect, rows: usize, columns: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = rows;
    match dialect {
        Dialect::Postgres => {
            while left > 0 {
                let n = left.min(MAX_ROWS);
                out.push(n);
                left -= n;
            }
        }
        Dialect::MySql => {
            let fit = (MAX_PARAMETERS / columns.max(1)).min(MAX_ROWS);
            let largest = if fit == 0 { 1 } else { 1 << fit.ilog2() };
            while left > 0 {
                let n = if left >= largest { largest } else { 1 << left.ilog2() };
                out.push(n);
                left -= n;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunks(Dialect::Postgres, 9000, 10), vec![4096, 4096, 808]);
        assert_eq!(chunks(Dialect::MySql, 1000, 10), vec![512, 256, 128, 64, 32, 8]);
        assert_eq!(chunks(Dialect::MySql, 5000, 10), vec![4096, 512, 256, 128, 8]);
        // 100 columns: at most 655 rows by the parameter limit, so 512.
        assert_eq!(chunks(Dialect::MySql, 600, 100), vec![512, 64, 16, 8]);
        assert_eq!(chunks(Dialect::MySql, 0, 3), Vec::<usize>::new());
    }
}
