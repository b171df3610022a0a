//! A batch's changes → the fewest statements: runs of upserts (same table, same columns) and of
//! hard deletes (same table) become one multi-row statement each, in chunks of fixed sizes so
//! prepared statements are reused.

use std::collections::HashMap;
use std::sync::Arc;

use dualsync_envelope::{Row, Value};
use dualsync_mapping::{RowChange, RowChangeKind, TableName};

use crate::encode::{Bound, bind, push_pg_element};
use crate::{Dialect, TablePolicy, TableSchema, WriteError};

/// Most rows in one statement.
const MAX_ROWS: usize = 4096;
/// A statement binds at most this many parameters (both databases' protocol limit).
const MAX_PARAMETERS: usize = 65_535;

/// One statement of a batch with the values to bind, in placeholder order.
pub(crate) struct Statement<'a> {
    pub(crate) sql: String,
    pub(crate) values: Vec<Bound<'a>>,
    pub(crate) context: String,
    /// For upserts, the key columns: a NULL assigned to one of them means a unique-key collision.
    pub(crate) key: &'a [String],
}

/// The statements for `changes` (collapsed: one change per row), in order; each change checked
/// against its table. Columns whose value is [`Value::Unavailable`] (unchanged TOAST) are left
/// out, so the row keeps its value.
pub(crate) fn plan<'a>(
    dialect: Dialect,
    changes: &'a [RowChange],
    schemas: &'a [Arc<TableSchema>],
    policies: &'a HashMap<TableName, TablePolicy>,
) -> Result<Vec<Statement<'a>>, WriteError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let (change, schema) = (&changes[i], &*schemas[i]);
        let policy = policies.get(&change.table);
        let table = schema.name.to_string();
        match &change.kind {
            // A row that lacks values (unchanged TOAST) exists at the source: update what it has.
            RowChangeKind::Upsert(row) if row.iter().any(|(_, v)| *v == Value::Unavailable) => {
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
                    context: format!("update of {table}"),
                    key: &[],
                });
                i += 1;
            }
            RowChangeKind::Upsert(row) => {
                let columns = check_upsert(schema, row)?;
                let mut rows: Vec<&Row> = vec![row];
                while let Some(RowChangeKind::Upsert(next)) = changes.get(i + rows.len()).map(|c| &c.kind) {
                    let same_table = changes[i + rows.len()].table == change.table;
                    let partial = next.iter().any(|(_, v)| *v == Value::Unavailable);
                    if !same_table || partial || check_upsert(schema, next)? != columns {
                        break;
                    }
                    rows.push(next);
                }
                i += rows.len();
                let guard = policy.and_then(|p| p.guard.as_ref());
                let mut start = 0;
                for chunk in chunks(dialect, rows.len(), columns.len()) {
                    out.push(Statement {
                        sql: dialect.upsert(schema, &columns, chunk, guard),
                        values: values(dialect, &table, &columns, &rows[start..start + chunk])?,
                        context: format!("upsert into {table}"),
                        key: &schema.key,
                    });
                    start += chunk;
                }
            }
            RowChangeKind::Delete(key) => {
                if let Some((column, value)) = policy.and_then(|p| p.soft_delete.as_ref()) {
                    let mut values = vec![encode(dialect, &table, column, value)?];
                    values.extend(key_values(dialect, schema, key, "delete")?);
                    out.push(Statement {
                        sql: dialect.soft_delete(schema, &[column.as_str()]),
                        values,
                        context: format!("soft delete in {table}"),
                        key: &[],
                    });
                    i += 1;
                    continue;
                }
                key_values(dialect, schema, key, "delete")?;
                let mut keys: Vec<&Row> = vec![key];
                while let Some(RowChangeKind::Delete(next)) = changes.get(i + keys.len()).map(|c| &c.kind) {
                    if changes[i + keys.len()].table != change.table {
                        break;
                    }
                    key_values(dialect, schema, next, "delete")?;
                    keys.push(next);
                }
                i += keys.len();
                let key_columns: Vec<&str> = schema.key.iter().map(String::as_str).collect();
                let mut start = 0;
                for chunk in chunks(dialect, keys.len(), key_columns.len()) {
                    out.push(Statement {
                        sql: dialect.delete(schema, chunk),
                        values: values(dialect, &table, &key_columns, &keys[start..start + chunk])?,
                        context: format!("delete from {table}"),
                        key: &[],
                    });
                    start += chunk;
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
                    context: format!("truncate {table}"),
                    key: &[],
                });
                i += 1;
            }
        }
    }
    Ok(out)
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

fn encode<'a>(dialect: Dialect, table: &str, column: &str, value: &'a Value) -> Result<Bound<'a>, WriteError> {
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
