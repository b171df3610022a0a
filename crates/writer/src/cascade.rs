//! Deleting a row that other rows still reference, as `ON DELETE CASCADE` would: the rows that
//! reference it (and the rows that reference those, and so on) go first, in the delete's own
//! transaction, and only when the delete wins its conflict guard.
//!
//! A delete that loses to a newer version of its row takes fewer: the rows referencing the row
//! that are not newer than the delete (see [`Reach::NotNewer`]). The other side's cascade removed
//! them there — MySQL's and MariaDB's own cascades are not even in the binlog — and nothing else
//! would remove them here.
//!
//! This is how a two-way sync keeps a parent's delete from waiting for ever on a target whose
//! foreign keys restrict deletes: a child written on the target while the other side deleted its
//! parent never gets a delete of its own (the other side never had it), and the parent's delete,
//! which won, would otherwise stay refused. Its mirror is [`missing_parents`]: the child that
//! waits on the other side for the parent deleted there.

use dualsync_mapping::TableName;
use sqlx::Row as _;

use std::sync::Arc;

use dualsync_conflict::Kind;
use dualsync_envelope::Value;
use dualsync_mapping::{RowChange, RowChangeKind};

use crate::plan::Statement;
use crate::schema::TableSchema;
use crate::writer::Pool;
use crate::{Dialect, WriteError};
use crate::{TablePolicy, tombstone};

/// A foreign key of `child` that references another table, `parent`: its columns and, in the
/// same order, the referenced columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    pub(crate) child: TableName,
    pub(crate) columns: Vec<String>,
    pub(crate) parent: TableName,
    pub(crate) referenced: Vec<String>,
}

/// How deep a chain of references is followed.
const MAX_DEPTH: usize = 8;

/// Which rows that reference a deleted row go with it.
pub(crate) enum Reach<'a> {
    /// All of them, and the rows referencing those, and so on: a delete that wins.
    All,
    /// A delete that lost to a newer version of its row: the other side's cascade (or its
    /// application) removed the rows referencing it there, so here too go the rows that directly
    /// reference it and are not newer than its delete as its tombstone table (`tomb`, written
    /// earlier in the transaction) records it, with everything referencing those. `stamp` gives
    /// a referencing table's timestamp conflict column, or `None` to leave the table alone (its
    /// rows cannot be compared with the delete's time).
    NotNewer { tomb: &'a TableName, stamp: &'a (dyn Fn(&TableName) -> Option<String> + Sync) },
}

/// The statements that delete, deepest first, the rows that reference the row of `root`
/// selected by `filter` (a condition on `root`'s own columns with placeholders from 1) that
/// `reach` takes, then nothing else: the caller's delete of the row follows. The first
/// statement locks the row, so the guard in `filter` holds until the transaction ends.
pub(crate) async fn statements(
    pool: &Pool,
    root: &TableSchema,
    filter: &str,
    reach: Reach<'_>,
) -> Result<Vec<String>, WriteError> {
    let dialect = pool.dialect();
    // A level of the walk: a table, the tables on the way to it, and the condition that
    // selects its rows to delete.
    struct Level {
        table: TableName,
        path: Vec<TableName>,
        condition: String,
    }
    let select = |level: &Level, columns: &[String]| {
        let columns: Vec<String> = columns.iter().map(|c| dialect.quote(c)).collect();
        format!("SELECT {} FROM {} WHERE {}", columns.join(", "), dialect.table(&level.table), level.condition)
    };
    let root_level = Level { table: root.name.clone(), path: vec![root.name.clone()], condition: filter.to_string() };
    let mut out = vec![format!("{} FOR UPDATE", select(&root_level, &root.key))];
    let mut deletes = Vec::new();
    let mut frontier = vec![root_level];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for level in &frontier {
            for reference in referencing(pool, &level.table).await? {
                if level.path.contains(&reference.child) {
                    continue;
                }
                let own: Vec<String> = reference.columns.iter().map(|c| dialect.quote(c)).collect();
                let mut condition = format!("({}) IN ({})", own.join(", "), select(level, &reference.referenced));
                if let (Reach::NotNewer { tomb, stamp }, 1) = (&reach, level.path.len()) {
                    let Some(stamp) = stamp(&reference.child) else { continue };
                    condition = format!("{condition} AND {}", not_newer(dialect, &reference, tomb, &stamp));
                }
                deletes.push(format!("DELETE FROM {} WHERE {condition}", dialect.table(&reference.child)));
                let mut path = level.path.clone();
                path.push(reference.child.clone());
                next.push(Level { table: reference.child, path, condition });
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    out.extend(deletes.into_iter().rev());
    Ok(out)
}

/// The condition on `reference`'s child rows that their conflict column `stamp` is not newer
/// than the recorded delete of the row they reference.
fn not_newer(dialect: Dialect, reference: &Reference, tomb: &TableName, stamp: &str) -> String {
    let child = dialect.table(&reference.child);
    let on: Vec<String> = (reference.columns.iter().zip(&reference.referenced))
        .map(|(own, referenced)| format!("d.{} = {child}.{}", dialect.quote(referenced), dialect.quote(own)))
        .collect();
    format!(
        "{child}.{stamp} <= (SELECT d.{} FROM {} AS d WHERE {})",
        dialect.quote(crate::tombstone::DELETED_AT),
        dialect.table(tomb),
        on.join(" AND "),
        stamp = dialect.quote(stamp),
    )
}

/// A foreign key of a table with a timestamp conflict rule whose referenced table keeps
/// tombstones by timestamp. A row of the table that is not newer than its parent's recorded delete
/// went with that delete on the delete's side, or goes with it here (see [`Reach::NotNewer`]),
/// so an upsert of it is not written, even after the parent came back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParentTomb {
    /// The referenced table's tombstone table.
    pub(crate) tomb: TableName,
    /// The table's own columns of the key and, in the same order, the referenced ones.
    pub(crate) columns: Vec<String>,
    /// See `columns`.
    pub(crate) referenced: Vec<String>,
}

impl crate::Writer {
    /// The statements that delete the rows referencing the row of `change`, a delete that lost
    /// to a newer version of the row, that are not newer than the delete (see
    /// [`crate::cascade::Reach::NotNewer`]): on the delete's side they went with it, by a cascade
    /// or by the application. Only timestamps compare across tables: a table whose conflict rule
    /// is a version, or that has none, keeps its rows.
    pub(crate) async fn lost_delete_cascade<'c>(
        &self,
        change: &'c RowChange,
        schema: &TableSchema,
    ) -> Result<Vec<Statement<'c>>, WriteError> {
        let RowChangeKind::Delete(row) = &change.kind else { return Ok(Vec::new()) };
        let policy = self.policies.get(&change.table);
        let (Some(tomb), Some(Kind::Timestamp)) =
            (tombstone::schema(schema, policy), policy.and_then(|p| p.guard.as_ref()).map(|g| g.kind))
        else {
            return Ok(Vec::new());
        };
        let dialect = self.dialect();
        let stamp = |child: &TableName| {
            let (_, policy) = self.policies.iter().find(|(t, _)| t.matches(child.namespace.as_deref(), &child.name))?;
            let guard = policy.guard.as_ref().filter(|g| g.kind == Kind::Timestamp && policy.soft_delete.is_none())?;
            Some(guard.column.clone())
        };
        let filter: Vec<String> = (schema.key.iter().enumerate())
            .map(|(i, k)| format!("{} = {}", dialect.quote(k), dialect.placeholder(i + 1, schema, k)))
            .collect();
        let reach = crate::cascade::Reach::NotNewer { tomb: &tomb.name, stamp: &stamp };
        let statements = crate::cascade::statements(&self.pool, schema, &filter.join(" AND "), reach).await?;
        let table = change.table.to_string();
        let values = (schema.key.iter())
            .map(|k| crate::plan::encode(dialect, &table, k, row.get(k).unwrap_or(&Value::Null)))
            .collect::<Result<Vec<_>, _>>()?;
        // Only the lock of the row itself: no row references it.
        if statements.len() == 1 {
            return Ok(Vec::new());
        }
        Ok(statements
            .into_iter()
            .map(|sql| Statement {
                sql,
                values: values.clone(),
                copy: None,
                context: format!("deleting the rows that went with the lost delete of a row of {table} on its side"),
                key: &[],
            })
            .collect())
    }

    /// Finds, once, the foreign keys of `schema`'s table (if its conflict rule is a timestamp) to
    /// tables that keep tombstones by timestamp, and creates those tombstone tables.
    pub(crate) async fn ensure_parent_tombs(&mut self, schema: &TableSchema) -> Result<(), WriteError> {
        if self.parent_tombs.contains_key(&schema.name) {
            return Ok(());
        }
        let timestamped = |policy: &TablePolicy| {
            policy.soft_delete.is_none() && policy.guard.as_ref().is_some_and(|g| g.kind == Kind::Timestamp)
        };
        let mut found = Vec::new();
        if self.policies.get(&schema.name).is_some_and(timestamped) {
            for reference in crate::cascade::references(&self.pool, &schema.name).await? {
                let parent = &reference.parent;
                let Some(name) = (self.policies.iter())
                    .find(|(t, p)| t.matches(parent.namespace.as_deref(), &parent.name) && timestamped(p))
                    .map(|(t, _)| t.clone())
                else {
                    continue;
                };
                let parent_schema = self.schema(&name).await?;
                self.ensure_tombstones(&parent_schema).await?;
                if let Some(tomb) = tombstone::schema(&parent_schema, self.policies.get(&name)) {
                    let (columns, referenced) = (reference.columns, reference.referenced);
                    found.push(ParentTomb { tomb: tomb.name, columns, referenced });
                }
            }
        }
        self.parent_tombs.insert(schema.name.clone(), Arc::new(found));
        Ok(())
    }
}

/// A row that a row refused by a foreign key references and that is not there.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingParent {
    /// Its table.
    pub table: TableName,
    /// The referenced columns and the values the child gives them, as text.
    pub key: Vec<(String, String)>,
    /// Whether the table's tombstones remember its delete: then it will not come.
    pub deleted: bool,
}

/// The rows that a row of `child` (its column values by name, as text) references through its
/// foreign keys and that are not there, each with whether its delete is remembered.
pub(crate) async fn missing_parents(
    pool: &Pool,
    child: &TableName,
    values: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Vec<MissingParent>, WriteError> {
    let dialect = pool.dialect();
    let mut missing = Vec::new();
    for reference in references(pool, child).await? {
        let Some(key) = reference.columns.iter().map(|c| values(c)).collect::<Option<Vec<String>>>() else {
            continue;
        };
        // Compared as text: the parent's column types are not at hand, and this runs once per
        // parked child that waited its whole time.
        let matches = |columns: &[String]| -> String {
            let parts: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| match dialect {
                    Dialect::Postgres => format!("{}::text = ${}", dialect.quote(c), i + 1),
                    Dialect::MySql => format!("{} = ?", dialect.quote(c)),
                })
                .collect();
            parts.join(" AND ")
        };
        let parent = &reference.parent;
        let exists = |table: &TableName| {
            format!(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM {} WHERE {}) THEN 1 ELSE 0 END",
                dialect.table(table),
                matches(&reference.referenced)
            )
        };
        if flag(pool, &exists(parent), &key).await? {
            continue;
        }
        let tomb = TableName {
            namespace: parent.namespace.clone(),
            name: dualsync_mapping::tombstone::table_name(&parent.name),
        };
        // No tombstone table (the parent has no conflict rule): nothing remembers the delete.
        let deleted = flag(pool, &exists(&tomb), &key).await.unwrap_or(false);
        let key = reference.referenced.iter().cloned().zip(key).collect();
        missing.push(MissingParent { table: parent.clone(), key, deleted });
    }
    Ok(missing)
}

/// Which of `parents` exist now, in order; `schema` gives a table's column types where known,
/// so that PostgreSQL compares through the key's index (`column = $1::type`).
pub(crate) async fn present(
    pool: &Pool,
    parents: &[MissingParent],
    schema: &(dyn Fn(&TableName) -> Option<std::sync::Arc<TableSchema>> + Sync),
) -> Result<Vec<bool>, WriteError> {
    let dialect = pool.dialect();
    let mut found = Vec::with_capacity(parents.len());
    for chunk in parents.chunks(100) {
        let mut values: Vec<String> = Vec::new();
        let mut tests: Vec<String> = Vec::new();
        for parent in chunk {
            let table = schema(&parent.table);
            let mut parts = Vec::new();
            for (column, value) in &parent.key {
                values.push(value.clone());
                let n = values.len();
                let column_sql = dialect.quote(column);
                parts.push(match (dialect, &table) {
                    (Dialect::Postgres, Some(t)) => format!("{column_sql} = {}", dialect.placeholder(n, t, column)),
                    (Dialect::Postgres, None) => format!("{column_sql}::text = ${n}"),
                    (Dialect::MySql, _) => format!("{column_sql} = ?"),
                });
            }
            let test = format!("EXISTS (SELECT 1 FROM {} WHERE {})", dialect.table(&parent.table), parts.join(" AND "));
            tests.push(format!("CASE WHEN {test} THEN 1 ELSE 0 END"));
        }
        let sql = sqlx::AssertSqlSafe(format!("SELECT {}", tests.join(", ")));
        let context = || WriteError::database("looking whether the rows parked changes wait for are there");
        let row_flags: Vec<bool> = match pool {
            Pool::Postgres(pool) => {
                let mut query = sqlx::query(sql);
                for value in &values {
                    query = query.bind(value);
                }
                let row = query.fetch_one(pool).await.map_err(context())?;
                (0..chunk.len()).map(|i| row.get::<i32, _>(i) == 1).collect()
            }
            Pool::MySql(pool) => {
                let mut query = sqlx::query(sql);
                for value in &values {
                    query = query.bind(value);
                }
                let row = query.fetch_one(pool).await.map_err(context())?;
                (0..chunk.len()).map(|i| row.get::<i64, _>(i) == 1).collect()
            }
        };
        found.extend(row_flags);
    }
    Ok(found)
}

async fn flag(pool: &Pool, sql: &str, values: &[String]) -> Result<bool, WriteError> {
    let context = || WriteError::database("looking for a deleted parent row");
    let value: i32 = match pool {
        Pool::Postgres(pool) => {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()));
            for value in values {
                query = query.bind(value);
            }
            query.fetch_one(pool).await.map_err(context())?
        }
        Pool::MySql(pool) => {
            let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()));
            for value in values {
                query = query.bind(value);
            }
            query.fetch_one(pool).await.map_err(context())? as i32
        }
    };
    Ok(value == 1)
}

/// The foreign keys of `child` that reference other tables.
pub(crate) async fn references(pool: &Pool, child: &TableName) -> Result<Vec<Reference>, WriteError> {
    foreign_keys(pool, child, false).await
}

/// The foreign keys of other tables that reference `parent`.
async fn referencing(pool: &Pool, parent: &TableName) -> Result<Vec<Reference>, WriteError> {
    foreign_keys(pool, parent, true).await
}

/// The foreign keys between `table` and other tables: those that reference it (`to_it`), or its
/// own.
async fn foreign_keys(pool: &Pool, table: &TableName, to_it: bool) -> Result<Vec<Reference>, WriteError> {
    let context = || WriteError::database(format!("reading the foreign keys of {table}"));
    match pool {
        Pool::Postgres(pool) => {
            let columns = |keys: &str, rel: &str| {
                format!(
                    "ARRAY(SELECT a.attname::text FROM unnest(k.{keys}) WITH ORDINALITY AS u(attnum, i) \
                     JOIN pg_attribute a ON a.attrelid = k.{rel} AND a.attnum = u.attnum ORDER BY u.i)"
                )
            };
            let side = if to_it { "k.confrelid" } else { "k.conrelid" };
            let sql = format!(
                "SELECT cn.nspname::text, c.relname::text, {}, pn.nspname::text, p.relname::text, {} FROM pg_constraint k \
                 JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace \
                 JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                 WHERE k.contype = 'f' AND {side} = to_regclass($1) AND k.conrelid <> k.confrelid \
                 ORDER BY 1, 2, k.conname",
                columns("conkey", "conrelid"),
                columns("confkey", "confrelid")
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(Dialect::Postgres.table(table))
                .fetch_all(pool)
                .await
                .map_err(context())?;
            Ok(rows
                .iter()
                .map(|r| Reference {
                    child: TableName { namespace: Some(r.get(0)), name: r.get(1) },
                    columns: r.get(2),
                    parent: TableName { namespace: Some(r.get(3)), name: r.get(4) },
                    referenced: r.get(5),
                })
                .collect())
        }
        Pool::MySql(pool) => {
            let side = if to_it { "REFERENCED_TABLE_SCHEMA" } else { "TABLE_SCHEMA" };
            let name = if to_it { "REFERENCED_TABLE_NAME" } else { "TABLE_NAME" };
            let sql = format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME, \
                        REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME \
                 FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE {side} = COALESCE(?, DATABASE()) AND {name} = ? AND REFERENCED_TABLE_NAME IS NOT NULL \
                   AND NOT (TABLE_SCHEMA = REFERENCED_TABLE_SCHEMA AND TABLE_NAME = REFERENCED_TABLE_NAME) \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(table.namespace.as_deref())
                .bind(&table.name)
                .fetch_all(pool)
                .await
                .map_err(context())?;
            let mut out: Vec<(String, Reference)> = Vec::new();
            for row in &rows {
                let (schema, table, constraint): (String, String, String) = (row.get(0), row.get(1), row.get(2));
                let id = format!("{schema}.{table}.{constraint}");
                if out.last().is_none_or(|(last, _)| *last != id) {
                    let child = TableName { namespace: Some(schema), name: table };
                    let parent = TableName { namespace: Some(row.get(5)), name: row.get(6) };
                    out.push((id, Reference { child, columns: Vec::new(), parent, referenced: Vec::new() }));
                }
                let (_, reference) = out.last_mut().expect("pushed");
                reference.columns.push(row.get(3));
                reference.referenced.push(row.get(4));
            }
            Ok(out.into_iter().map(|(_, r)| r).collect())
        }
    }
}
