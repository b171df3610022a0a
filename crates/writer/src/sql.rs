//! SQL text for each dialect. Pure string building; values are never inlined, only placeholders.

use dualsync_mapping::TableName;

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
    /// the same primary key. `columns` must include the key columns.
    pub fn upsert(self, schema: &TableSchema, columns: &[&str]) -> String {
        let table = self.table(&schema.name);
        let names: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
        let values: Vec<String> = columns.iter().enumerate().map(|(i, c)| self.placeholder(i + 1, schema, c)).collect();
        let updates: Vec<&str> = columns.iter().copied().filter(|c| !schema.key.iter().any(|k| k == c)).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), values.join(", "));
        match self {
            Dialect::Postgres => {
                let key: Vec<String> = schema.key.iter().map(|k| self.quote(k)).collect();
                sql.push_str(&format!(" ON CONFLICT ({}) DO ", key.join(", ")));
                if updates.is_empty() {
                    sql.push_str("NOTHING");
                } else {
                    let set: Vec<String> =
                        updates.iter().map(|c| format!("{0} = EXCLUDED.{0}", self.quote(c))).collect();
                    sql.push_str(&format!("UPDATE SET {}", set.join(", ")));
                }
            }
            Dialect::MySql => {
                // A row whose every column is a key column has nothing to update: assigning the
                // first key column to itself makes the duplicate a no-op.
                let set: Vec<String> = if updates.is_empty() {
                    vec![format!("{0} = {0}", self.quote(&schema.key[0]))]
                } else {
                    updates.iter().map(|c| format!("{0} = VALUES({0})", self.quote(c))).collect()
                };
                sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", set.join(", ")));
            }
        }
        sql
    }

    /// `DELETE … WHERE` every primary-key column equals its parameter, in `schema.key` order.
    pub fn delete(self, schema: &TableSchema) -> String {
        let conditions: Vec<String> = schema
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} = {}", self.quote(k), self.placeholder(i + 1, schema, k)))
            .collect();
        format!("DELETE FROM {} WHERE {}", self.table(&schema.name), conditions.join(" AND "))
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
        }
    }

    #[test]
    fn postgres_upsert_and_delete() {
        let s = schema();
        assert_eq!(
            Dialect::Postgres.upsert(&s, &["id", "na`me"]),
            r#"INSERT INTO "s"."t""x" ("id", "na`me") VALUES ($1::integer, $2::text) ON CONFLICT ("id") DO UPDATE SET "na`me" = EXCLUDED."na`me""#
        );
        assert_eq!(
            Dialect::Postgres.upsert(&s, &["id"]),
            r#"INSERT INTO "s"."t""x" ("id") VALUES ($1::integer) ON CONFLICT ("id") DO NOTHING"#
        );
        assert_eq!(Dialect::Postgres.delete(&s), r#"DELETE FROM "s"."t""x" WHERE "id" = $1::integer"#);
    }

    #[test]
    fn mysql_upsert_and_delete() {
        let s = schema();
        assert_eq!(
            Dialect::MySql.upsert(&s, &["id", "na`me"]),
            "INSERT INTO `s`.`t\"x` (`id`, `na``me`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `na``me` = VALUES(`na``me`)"
        );
        assert_eq!(
            Dialect::MySql.upsert(&s, &["id"]),
            "INSERT INTO `s`.`t\"x` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id` = `id`"
        );
        assert_eq!(Dialect::MySql.delete(&s), "DELETE FROM `s`.`t\"x` WHERE `id` = ?");
    }
}
