//! SQL text for each dialect. Pure string building; values are never inlined, only placeholders.

use dualsync_mapping::TableName;

use dualsync_conflict::Guard;

use crate::TableSchema;

/// The SQL dialect of a target database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `"ident"`, `$n` placeholders, `ON CONFLICT`.
    Postgres,
    /// MySQL and MariaDB: `` `ident` ``, `?` placeholders, `ON DUPLICATE KEY UPDATE`.
    MySql,
}

impl Dialect {
    /// Quotes an identifier, doubling any quote character inside it.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
            Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        }
    }

    /// The quoted, possibly qualified table name.
    pub fn table(self, table: &TableName) -> String {
        match &table.namespace {
            Some(ns) => format!("{}.{}", self.quote(ns), self.quote(&table.name)),
            None => self.quote(&table.name),
        }
    }

    /// Placeholder number `n` (1-based) for `column`. PostgreSQL casts each parameter to the
    /// column's type, so one Rust type per value kind binds into any compatible column.
    fn placeholder(self, n: usize, schema: &TableSchema, column: &str) -> String {
        match self {
            Dialect::Postgres => match schema.column(column) {
                Some(c) => format!("${n}::{}", c.sql_type),
                None => format!("${n}"),
            },
            Dialect::MySql => "?".to_string(),
        }
    }

    /// `INSERT … (columns) VALUES (…)` that updates every non-key column of an existing row with
    /// the same primary key. `columns` must include the key columns. With a `guard` (and its
    /// column among `columns`), an existing row is only updated when the guard lets the incoming
    /// row through.
    ///
    /// MySQL's `ON DUPLICATE KEY UPDATE` fires on *any* unique key, so the first assignment checks
    /// that the row found has the incoming primary key; if not (the row collided on a secondary
    /// unique key), it assigns NULL to the key column, which fails the statement instead of
    /// merging two different rows.
    ///
    /// The statement writes `rows` rows. PostgreSQL takes each column's values as one text array
    /// (`UNNEST($1::text[], …)`, cast to the column types), so a column set has one statement
    /// shape whatever the row count; MySQL repeats the `VALUES` tuple.
    pub fn upsert(self, schema: &TableSchema, columns: &[&str], rows: usize, guard: Option<&Guard>) -> String {
        let table = self.table(&schema.name);
        let names: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
        let is_key = |c: &str| schema.key.iter().any(|k| k == c);
        let guard = guard.filter(|g| columns.contains(&g.column.as_str()) && !is_key(&g.column));
        // The guard column is assigned last: MySQL evaluates assignments left to right, so every
        // other column's guard still sees the stored value.
        let mut updates: Vec<&str> = columns.iter().copied().filter(|c| !is_key(c)).collect();
        if let Some(g) = guard {
            updates.retain(|c| *c != g.column);
            updates.push(&g.column);
        }
        match self {
            Dialect::Postgres => {
                let key: Vec<String> = schema.key.iter().map(|k| self.quote(k)).collect();
                let mut sql = format!(
                    "INSERT INTO {table} AS target ({}) {} ON CONFLICT ({}) DO ",
                    names.join(", "),
                    self.unnest(schema, columns),
                    key.join(", ")
                );
                if updates.is_empty() {
                    sql.push_str("NOTHING");
                } else {
                    let set: Vec<String> =
                        updates.iter().map(|c| format!("{0} = EXCLUDED.{0}", self.quote(c))).collect();
                    sql.push_str(&format!("UPDATE SET {}", set.join(", ")));
                    // Echo suppression: a row that already holds these values is not rewritten,
                    // so it produces no change event to send back. Types without an equality
                    // operator compare as text.
                    let compared = |side: &str| -> String {
                        let parts: Vec<String> = updates
                            .iter()
                            .map(|c| {
                                let no_equality = schema.column(c).is_some_and(|col| {
                                    let t = col.sql_type.as_str();
                                    ["json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"]
                                        .contains(&t)
                                });
                                let cast = if no_equality { "::text" } else { "" };
                                format!("{side}.{}{cast}", self.quote(c))
                            })
                            .collect();
                        format!("ROW({})", parts.join(", "))
                    };
                    sql.push_str(&format!(" WHERE {} IS DISTINCT FROM {}", compared("target"), compared("EXCLUDED")));
                    if let Some(g) = guard {
                        let column = self.quote(&g.column);
                        sql.push_str(&format!(
                            " AND {}",
                            g.condition(&format!("target.{column}"), &format!("EXCLUDED.{column}"))
                        ));
                    }
                }
                sql
            }
            Dialect::MySql => {
                let mut set: Vec<String> = schema
                    .key
                    .iter()
                    .map(|k| format!("{0} = IF({0} <=> VALUES({0}), {0}, NULL)", self.quote(k)))
                    .collect();
                let condition = guard.map(|g| {
                    let column = self.quote(&g.column);
                    g.condition(&column, &format!("VALUES({column})"))
                });
                for c in &updates {
                    let c = self.quote(c);
                    set.push(match &condition {
                        Some(cond) => format!("{c} = IF({cond}, VALUES({c}), {c})"),
                        None => format!("{c} = VALUES({c})"),
                    });
                }
                let tuple = format!("({})", vec!["?"; columns.len()].join(", "));
                format!(
                    "INSERT INTO {table} ({}) VALUES {} ON DUPLICATE KEY UPDATE {}",
                    names.join(", "),
                    vec![tuple; rows].join(", "),
                    set.join(", ")
                )
            }
        }
    }

    /// PostgreSQL: `SELECT u.c::type, … FROM UNNEST($1::text[], …) AS u(c, …)`, the columns'
    /// values as text arrays, one parameter per column.
    fn unnest(self, schema: &TableSchema, columns: &[&str]) -> String {
        let typed: Vec<String> = columns
            .iter()
            .map(|c| {
                let ty = schema.column(c).map_or("text", |col| col.sql_type.as_str());
                format!("u.{}::{ty}", self.quote(c))
            })
            .collect();
        let arrays: Vec<String> = (1..=columns.len()).map(|i| format!("${i}::text[]")).collect();
        let aliases: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
        format!("SELECT {} FROM UNNEST({}) AS u({})", typed.join(", "), arrays.join(", "), aliases.join(", "))
    }

    /// `UPDATE … SET` `columns` `WHERE` the primary key matches (and the guard lets the incoming
    /// row through): for rows that lack some values (unchanged TOAST), which cannot be inserted.
    /// Parameters: the set columns' values, then the key's, then (with a guard among the set
    /// columns) the incoming conflict value again.
    pub fn update(self, schema: &TableSchema, columns: &[&str], guard: Option<&Guard>) -> String {
        let is_key = |c: &str| schema.key.iter().any(|k| k == c);
        let set: Vec<&str> = columns.iter().copied().filter(|c| !is_key(c)).collect();
        let mut n = 0;
        let mut next = |column: &str| {
            n += 1;
            self.placeholder(n, schema, column)
        };
        let assignments: Vec<String> = set.iter().map(|c| format!("{} = {}", self.quote(c), next(c))).collect();
        let mut conditions: Vec<String> =
            schema.key.iter().map(|k| format!("{} = {}", self.quote(k), next(k))).collect();
        if let Some(g) = guard.filter(|g| set.contains(&g.column.as_str())) {
            conditions.push(g.condition(&self.quote(&g.column), &next(&g.column)));
        }
        format!("UPDATE {} SET {} WHERE {}", self.table(&schema.name), assignments.join(", "), conditions.join(" AND "))
    }

    /// `UPDATE … SET` the soft-delete columns `WHERE` every primary-key column equals its
    /// parameter; the set columns' parameters come first, then the key's.
    pub fn soft_delete(self, schema: &TableSchema, set: &[&str]) -> String {
        let assignments: Vec<String> = set
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = {}", self.quote(c), self.placeholder(i + 1, schema, c)))
            .collect();
        let conditions: Vec<String> = schema
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} = {}", self.quote(k), self.placeholder(set.len() + i + 1, schema, k)))
            .collect();
        format!("UPDATE {} SET {} WHERE {}", self.table(&schema.name), assignments.join(", "), conditions.join(" AND "))
    }

    /// `DELETE` the `rows` rows whose primary keys are given: PostgreSQL joins the key columns'
    /// text arrays (one parameter per key column), MySQL lists key tuples.
    pub fn delete(self, schema: &TableSchema, rows: usize) -> String {
        let table = self.table(&schema.name);
        let key: Vec<&str> = schema.key.iter().map(String::as_str).collect();
        match self {
            Dialect::Postgres => {
                let conditions: Vec<String> = key
                    .iter()
                    .map(|k| {
                        let ty = schema.column(k).map_or("text", |c| c.sql_type.as_str());
                        format!("target.{0} = u.{0}::{ty}", self.quote(k))
                    })
                    .collect();
                let arrays: Vec<String> = (1..=key.len()).map(|i| format!("${i}::text[]")).collect();
                let aliases: Vec<String> = key.iter().map(|k| self.quote(k)).collect();
                format!(
                    "DELETE FROM {table} AS target USING UNNEST({}) AS u({}) WHERE {}",
                    arrays.join(", "),
                    aliases.join(", "),
                    conditions.join(" AND ")
                )
            }
            Dialect::MySql => {
                let names: Vec<String> = key.iter().map(|k| self.quote(k)).collect();
                let tuple = format!("({})", vec!["?"; key.len()].join(", "));
                format!("DELETE FROM {table} WHERE ({}) IN ({})", names.join(", "), vec![tuple; rows].join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;

    fn schema() -> TableSchema {
        TableSchema {
            name: TableName { namespace: Some("s".into()), name: "t\"x".into() },
            columns: vec![
                Column { name: "id".into(), sql_type: "integer".into() },
                Column { name: "na`me".into(), sql_type: "text".into() },
            ],
            key: vec!["id".into()],
            sequence: None,
        }
    }

    #[test]
    fn postgres_upsert_and_delete() {
        let s = schema();
        assert_eq!(
            Dialect::Postgres.upsert(&s, &["id", "na`me"], 2, None),
            r#"INSERT INTO "s"."t""x" AS target ("id", "na`me") SELECT u."id"::integer, u."na`me"::text FROM UNNEST($1::text[], $2::text[]) AS u("id", "na`me") ON CONFLICT ("id") DO UPDATE SET "na`me" = EXCLUDED."na`me" WHERE ROW(target."na`me") IS DISTINCT FROM ROW(EXCLUDED."na`me")"#
        );
        assert_eq!(
            Dialect::Postgres.upsert(&s, &["id"], 1, None),
            r#"INSERT INTO "s"."t""x" AS target ("id") SELECT u."id"::integer FROM UNNEST($1::text[]) AS u("id") ON CONFLICT ("id") DO NOTHING"#
        );
        assert_eq!(
            Dialect::Postgres.delete(&s, 3),
            r#"DELETE FROM "s"."t""x" AS target USING UNNEST($1::text[]) AS u("id") WHERE target."id" = u."id"::integer"#
        );
        assert_eq!(
            Dialect::Postgres.soft_delete(&s, &["na`me"]),
            r#"UPDATE "s"."t""x" SET "na`me" = $1::text WHERE "id" = $2::integer"#
        );
    }

    #[test]
    fn mysql_upsert_and_delete() {
        let s = schema();
        assert_eq!(
            Dialect::MySql.upsert(&s, &["id", "na`me"], 2, None),
            "INSERT INTO `s`.`t\"x` (`id`, `na``me`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `id` = IF(`id` <=> VALUES(`id`), `id`, NULL), `na``me` = VALUES(`na``me`)"
        );
        assert_eq!(
            Dialect::MySql.upsert(&s, &["id"], 1, None),
            "INSERT INTO `s`.`t\"x` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id` = IF(`id` <=> VALUES(`id`), `id`, NULL)"
        );
        assert_eq!(Dialect::MySql.delete(&s, 2), "DELETE FROM `s`.`t\"x` WHERE (`id`) IN ((?), (?))");
    }

    #[test]
    fn guarded_upserts_assign_the_conflict_column_last() {
        let mut s = schema();
        s.columns.push(Column { name: "ts".into(), sql_type: "timestamp with time zone".into() });
        let guard = Guard { kind: dualsync_conflict::Kind::Timestamp, column: "ts".into(), incoming_wins_ties: false };
        assert!(Dialect::Postgres.upsert(&s, &["id", "ts", "na`me"], 1, Some(&guard)).ends_with(
            r#"DO UPDATE SET "na`me" = EXCLUDED."na`me", "ts" = EXCLUDED."ts" WHERE ROW(target."na`me", target."ts") IS DISTINCT FROM ROW(EXCLUDED."na`me", EXCLUDED."ts") AND (target."ts" IS NULL OR target."ts" < EXCLUDED."ts")"#
        ));
        assert_eq!(
            Dialect::MySql.upsert(&s, &["id", "ts", "na`me"], 1, Some(&guard)),
            "INSERT INTO `s`.`t\"x` (`id`, `ts`, `na``me`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `id` = IF(`id` <=> VALUES(`id`), `id`, NULL), \
             `na``me` = IF((`ts` IS NULL OR `ts` < VALUES(`ts`)), VALUES(`na``me`), `na``me`), `ts` = IF((`ts` IS NULL OR `ts` < VALUES(`ts`)), VALUES(`ts`), `ts`)"
        );
    }
}
