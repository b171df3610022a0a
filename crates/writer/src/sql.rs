//! SQL text for each dialect. Pure string building; values are never inlined, only placeholders.

use dualsync_mapping::TableName;

use dualsync_conflict::Guard;

use crate::TableSchema;
use crate::cascade::ParentTomb;

/// The SQL dialect of a target database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `"ident"`, `$n` placeholders, `ON CONFLICT`.
    Postgres,
    /// MySQL and MariaDB: `` `ident` ``, `?` placeholders, `ON DUPLICATE KEY UPDATE`.
    MySql,
}

/// The columns [`Dialect::weigh`] reads of each incoming row: the key, the conflict column, and
/// the columns of the foreign keys to `parents`.
pub(crate) fn weighed_columns<'a>(
    schema: &'a TableSchema,
    guard: &'a Guard,
    parents: &'a [ParentTomb],
) -> Vec<&'a str> {
    let mut columns: Vec<&str> = schema.key.iter().map(String::as_str).collect();
    let more = std::iter::once(&guard.column).chain(parents.iter().flat_map(|p| &p.columns));
    for column in more {
        if !columns.contains(&column.as_str()) {
            columns.push(column);
        }
    }
    columns
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
    pub(crate) fn placeholder(self, n: usize, schema: &TableSchema, column: &str) -> String {
        match self {
            Dialect::Postgres => match schema.column(column) {
                Some(c) => format!("${n}::{}", c.cast_type),
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

    /// PostgreSQL: `COPY table (columns) FROM STDIN`, for rows known not to be stored (text
    /// format; see `encode::push_copy_field`). Its data arrives after the statement.
    pub fn copy(self, schema: &TableSchema, columns: &[&str]) -> String {
        let names: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
        format!("COPY {} ({}) FROM STDIN", self.table(&schema.name), names.join(", "))
    }

    /// PostgreSQL: `SELECT u.c::type, … FROM UNNEST($1::text[], …) AS u(c, …)`, the columns'
    /// values as text arrays, one parameter per column.
    fn unnest(self, schema: &TableSchema, columns: &[&str]) -> String {
        let typed: Vec<String> = columns.iter().map(|c| self.cast("u", c, schema)).collect();
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

    /// `DELETE` the `rows` rows whose primary keys are given: PostgreSQL joins the key columns'
    /// text arrays (one parameter per key column), MySQL lists key tuples.
    ///
    /// With a `guard`, each row also carries the delete's stamp (its value of the conflict column,
    /// bound after the key's), and a stored row is only deleted when it is not newer than the
    /// delete: a delete wins over older changes and ties, and loses to newer ones.
    pub fn delete(self, schema: &TableSchema, rows: usize, guard: Option<&Guard>) -> String {
        let table = self.table(&schema.name);
        let key: Vec<&str> = schema.key.iter().map(String::as_str).collect();
        // A delete wins ties.
        let guard = guard.map(|g| Guard { incoming_wins_ties: true, ..g.clone() });
        match self {
            Dialect::Postgres => {
                let mut conditions: Vec<String> =
                    key.iter().map(|k| format!("target.{0} = {1}", self.quote(k), self.cast("u", k, schema))).collect();
                let mut aliases: Vec<String> = key.iter().map(|k| self.quote(k)).collect();
                if let Some(g) = &guard {
                    let column = self.quote(&g.column);
                    conditions.push(g.condition(&format!("target.{column}"), &self.cast("u", &g.column, schema)));
                    aliases.push(column);
                }
                let arrays: Vec<String> = (1..=aliases.len()).map(|i| format!("${i}::text[]")).collect();
                format!(
                    "DELETE FROM {table} AS target USING UNNEST({}) AS u({}) WHERE {}",
                    arrays.join(", "),
                    aliases.join(", "),
                    conditions.join(" AND ")
                )
            }
            Dialect::MySql => {
                let names: Vec<String> = key.iter().map(|k| self.quote(k)).collect();
                match &guard {
                    None => {
                        let tuple = format!("({})", vec!["?"; key.len()].join(", "));
                        format!(
                            "DELETE FROM {table} WHERE ({}) IN ({})",
                            names.join(", "),
                            vec![tuple; rows].join(", ")
                        )
                    }
                    Some(g) => {
                        let mut parts: Vec<String> = names.iter().map(|k| format!("{k} = ?")).collect();
                        parts.push(g.condition(&self.quote(&g.column), "?"));
                        let one = format!("({})", parts.join(" AND "));
                        format!("DELETE FROM {table} WHERE {}", vec![one; rows].join(" OR "))
                    }
                }
            }
        }
    }

    /// `alias.column` converted to the column's type: PostgreSQL casts the text it arrives as,
    /// MySQL compares as given.
    fn cast(self, alias: &str, column: &str, schema: &TableSchema) -> String {
        match self {
            Dialect::Postgres => {
                let ty = schema.column(column).map_or("text", |c| c.cast_type.as_str());
                format!("{alias}.{}::{ty}", self.quote(column))
            }
            Dialect::MySql => match schema.column(column) {
                // Bytes travel as hex in JSON.
                Some(c) if is_binary(&c.sql_type) => format!("UNHEX({alias}.{})", self.quote(column)),
                _ => format!("{alias}.{}", self.quote(column)),
            },
        }
    }

    /// The query that weighs incoming rows against the stored ones before they are written, for
    /// the decision counters, the tombstone check and (with `report_new`) to find the rows that
    /// are not stored yet. The rows' key columns' values, then their conflict value, arrive as PostgreSQL one text array per column, MySQL one JSON array of rows
    /// (`JSON_TABLE`); the query numbers the rows from 1. It returns `(number, verdict)` for each
    /// row that is not plainly applied: [`PREVENTED`] (an upsert of a row deleted at or after its
    /// time, per `tombstones`), [`NEW`] (no stored row; only with `report_new`), [`STALE`] (the
    /// stored row is newer, or has a time and the incoming row none), [`TIE`]. Each row finds its
    /// stored row by an index lookup (PostgreSQL: a lateral subquery with `LIMIT 1`, which the
    /// planner cannot turn into a hash join over a scan of the whole table, as it would for a few
    /// hundred rows). Each row's verdict is worked out once and the rows without one are left out
    /// after it (PostgreSQL: outside a subquery that `OFFSET 0` keeps from being merged; MySQL:
    /// `HAVING`), so the tombstone lookup does not run twice for the rows reported.
    pub(crate) fn weigh(
        self,
        schema: &TableSchema,
        guard: &Guard,
        tombstones: Option<&TableSchema>,
        parents: &[ParentTomb],
        report_new: bool,
    ) -> String {
        let key: Vec<&str> = schema.key.iter().map(String::as_str).collect();
        let columns = weighed_columns(schema, guard, parents);
        let on = |alias: &str| -> String {
            key.iter()
                .map(|k| format!("{alias}.{} = {}", self.quote(k), self.cast("u", k, schema)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let exists = format!("t.{} IS NOT NULL", self.quote(key[0]));
        let mut cases = String::new();
        let incoming = self.cast("u", &guard.column, schema);
        let stored = format!("t.{}", self.quote(&guard.column));
        let wanted = format!("t.{}, {stored}", self.quote(key[0]));
        if let Some(tomb) = tombstones {
            let prevented = format!(
                "EXISTS (SELECT 1 FROM {} AS d WHERE {} AND ({incoming} IS NULL OR d.{} >= {incoming}))",
                self.table(&tomb.name),
                on("d"),
                self.quote(crate::tombstone::DELETED_AT)
            );
            cases.push_str(&format!("WHEN {prevented} THEN {PREVENTED} "));
        }
        for parent in parents {
            let on: Vec<String> = (parent.referenced.iter().zip(&parent.columns))
                .map(|(referenced, own)| format!("p.{} = {}", self.quote(referenced), self.cast("u", own, schema)))
                .collect();
            let gone = format!(
                "EXISTS (SELECT 1 FROM {} AS p WHERE {} AND {incoming} IS NOT NULL AND p.{} >= {incoming})",
                self.table(&parent.tomb),
                on.join(" AND "),
                self.quote(crate::tombstone::DELETED_AT)
            );
            cases.push_str(&format!("WHEN {gone} THEN {PREVENTED} "));
        }
        if report_new {
            cases.push_str(&format!("WHEN NOT ({exists}) THEN {NEW} "));
        }
        let stale = format!("({exists} AND {stored} IS NOT NULL AND ({incoming} IS NULL OR {stored} > {incoming}))");
        let tie = format!("({exists} AND {stored} = {incoming})");
        cases.push_str(&format!("WHEN {stale} THEN {STALE} WHEN {tie} THEN {TIE}"));
        let table = self.table(&schema.name);
        match self {
            Dialect::Postgres => format!(
                "SELECT dualsync_n, dualsync_verdict FROM (SELECT u.dualsync_n, (CASE {cases} END)::bigint AS dualsync_verdict \
                 FROM {} LEFT JOIN LATERAL (SELECT {wanted} FROM {table} AS t WHERE {} LIMIT 1) AS t ON true OFFSET 0) AS w \
                 WHERE dualsync_verdict IS NOT NULL",
                self.incoming(schema, &columns),
                on("t")
            ),
            Dialect::MySql => format!(
                "SELECT u.dualsync_n, CAST(CASE {cases} END AS SIGNED) AS dualsync_verdict \
                 FROM {} LEFT JOIN {table} AS t ON {} HAVING dualsync_verdict IS NOT NULL",
                self.incoming(schema, &columns),
                on("t")
            ),
        }
    }

    /// The query that locks the stored rows of incoming rows, as [`Dialect::weigh`] takes them,
    /// in key order, before they are weighed: an application's delete of one of them that is
    /// under way then commits first, and the weighing (a later statement, which sees it) finds
    /// its tombstone, instead of weighing against the row still there and then inserting it
    /// again when the upsert finds it gone.
    pub(crate) fn lock_stored(self, schema: &TableSchema, columns: &[&str]) -> String {
        let on: Vec<String> =
            schema.key.iter().map(|k| format!("t.{} = {}", self.quote(k), self.cast("u", k, schema))).collect();
        let order: Vec<String> = schema.key.iter().map(|k| format!("t.{}", self.quote(k))).collect();
        let lock = match self {
            Dialect::Postgres => "FOR UPDATE OF t",
            Dialect::MySql => "FOR UPDATE",
        };
        format!(
            "SELECT 1 FROM {} JOIN {} AS t ON {} ORDER BY {} {lock}",
            self.incoming(schema, columns),
            self.table(&schema.name),
            on.join(" AND "),
            order.join(", ")
        )
    }

    /// The incoming rows of `columns` as the derived table `u`, numbered from 1 in
    /// `dualsync_n`: PostgreSQL one text array per column (`UNNEST … WITH ORDINALITY`), MySQL one
    /// JSON array of rows (`JSON_TABLE`, typed as the columns).
    fn incoming(self, schema: &TableSchema, columns: &[&str]) -> String {
        match self {
            Dialect::Postgres => {
                let arrays: Vec<String> = (1..=columns.len()).map(|i| format!("${i}::text[]")).collect();
                let aliases: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
                format!("UNNEST({}) WITH ORDINALITY AS u({}, dualsync_n)", arrays.join(", "), aliases.join(", "))
            }
            Dialect::MySql => {
                let typed: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let ty = schema.column(c).map_or("TEXT", |c| json_table_type(&c.sql_type));
                        format!("{} {ty} PATH '$[{i}]'", self.quote(c))
                    })
                    .collect();
                format!("JSON_TABLE(?, '$[*]' COLUMNS(dualsync_n FOR ORDINALITY, {})) AS u", typed.join(", "))
            }
        }
    }

    /// The query that compares incoming snapshot rows (the bootstrap) with the rows stored under
    /// their keys; the rows' `columns` (the key among them) arrive as for [`Dialect::weigh`]. It
    /// returns `(number, differs, stored)` for each row whose key is stored: `differs` is 1 when
    /// one of `columns` holds another value there (NULLs equal), and `stored` is the stored row
    /// as JSON text, for the report of a collision.
    pub fn compare(self, schema: &TableSchema, columns: &[&str]) -> String {
        let on: Vec<String> =
            schema.key.iter().map(|k| format!("t.{} = {}", self.quote(k), self.cast("u", k, schema))).collect();
        let same: Vec<String> = columns
            .iter()
            .map(|c| {
                let stored = format!("t.{}", self.quote(c));
                let incoming = self.cast("u", c, schema);
                let kind = schema.column(c).map_or("", |c| c.cast_type.as_str());
                match self {
                    // `json` and `xml` have no equality; JSON compares by value.
                    Dialect::Postgres if kind == "json" => {
                        format!("{stored}::jsonb IS NOT DISTINCT FROM {incoming}::jsonb")
                    }
                    Dialect::Postgres if kind == "xml" => {
                        format!("{stored}::text IS NOT DISTINCT FROM {incoming}::text")
                    }
                    Dialect::Postgres => format!("{stored} IS NOT DISTINCT FROM {incoming}"),
                    Dialect::MySql => format!("{stored} <=> {incoming}"),
                }
            })
            .collect();
        let (on, same, table) = (on.join(" AND "), same.join(" AND "), self.table(&schema.name));
        match self {
            Dialect::Postgres => format!(
                "SELECT u.dualsync_n, (CASE WHEN {same} THEN 0 ELSE 1 END)::bigint, to_jsonb(t)::text \
                 FROM {} JOIN LATERAL (SELECT * FROM {table} AS t WHERE {on} LIMIT 1) AS t ON true",
                self.incoming(schema, columns)
            ),
            Dialect::MySql => format!(
                "SELECT u.dualsync_n, CAST(CASE WHEN {same} THEN 0 ELSE 1 END AS SIGNED), \
                 CAST({} AS CHAR) FROM {} JOIN {table} AS t ON {on}",
                self.json_row(schema),
                self.incoming(schema, columns)
            ),
        }
    }

    /// MySQL: the row `t` of `schema`'s table as a JSON object, bytes as hex.
    pub(crate) fn json_row(self, schema: &TableSchema) -> String {
        let fields: Vec<String> = schema
            .columns
            .iter()
            .map(|c| {
                let value = format!("t.{}", self.quote(&c.name));
                let value = if is_binary(&c.sql_type) { format!("HEX({value})") } else { value };
                format!("'{}', {value}", c.name.replace('\'', "''"))
            })
            .collect();
        format!("JSON_OBJECT({})", fields.join(", "))
    }
}

/// Whether a MySQL column type holds bytes.
pub(crate) fn is_binary(sql_type: &str) -> bool {
    let t = sql_type.to_ascii_lowercase();
    t.contains("binary") || t.contains("blob")
}

/// The `JSON_TABLE` column type that reads a MySQL column's values from JSON: the column's own
/// type, except bytes (hex text, see [`Dialect::cast`]) and enumerations (their text).
fn json_table_type(sql_type: &str) -> &str {
    let t = sql_type.to_ascii_lowercase();
    if is_binary(&t) {
        "TEXT"
    } else if t.starts_with("enum") || t.starts_with("set") {
        "VARCHAR(255)"
    } else {
        sql_type
    }
}

/// PostgreSQL: moves the sequence that generates `schema`'s key (bound as `$1`) past the largest
/// stored key *of its own values* — `START + k × INCREMENT BY` — so the next local insert does not
/// collide. Keys outside that residue class (the other side's range, as `dualsync check` advises:
/// odd ids here, even ids there) are never ones the sequence hands out, so they are ignored:
/// moving onto them would put this side's next ids in the other side's range. A descending
/// sequence is left alone. `max` with this filter is answered by a backward scan of the key's
/// index, stopping at the first key in the class.
pub(crate) fn advance_sequence(schema: &TableSchema) -> String {
    let key = Dialect::Postgres.quote(&schema.key[0]);
    let sequence = |column: &str| format!("(SELECT {column} FROM pg_sequence WHERE seqrelid = $1::regclass)");
    let (start, step) = (sequence("seqstart"), sequence("seqincrement"));
    format!(
        "SELECT setval($1::regclass, m) FROM (SELECT max({key})::bigint AS m FROM {table} \
         WHERE ({key}::bigint - {start}) % {step} = 0) x \
         WHERE m IS NOT NULL AND {step} > 0 AND m > coalesce(pg_sequence_last_value($1::regclass), 0)",
        table = Dialect::Postgres.table(&schema.name),
    )
}

/// A verdict of [`Dialect::weigh`]: the upsert would bring back a row deleted later.
pub const PREVENTED: i64 = 1;
/// A verdict of [`Dialect::weigh`]: the stored row is newer.
pub const STALE: i64 = 2;
/// A verdict of [`Dialect::weigh`]: the stored row has the same conflict value.
pub const TIE: i64 = 3;
/// A verdict of [`Dialect::weigh`]: no row with the key is stored (yet).
pub const NEW: i64 = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;

    fn schema() -> TableSchema {
        TableSchema {
            name: TableName { namespace: Some("s".into()), name: "t\"x".into() },
            columns: vec![
                Column { name: "id".into(), sql_type: "integer".into(), cast_type: "integer".into() },
                Column { name: "na`me".into(), sql_type: "text".into(), cast_type: "text".into() },
            ],
            key: vec!["id".into()],
            sequence: None,
            generated_key: false,
            self_referencing: false,
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
            Dialect::Postgres.delete(&s, 3, None),
            r#"DELETE FROM "s"."t""x" AS target USING UNNEST($1::text[]) AS u("id") WHERE target."id" = u."id"::integer"#
        );
        assert_eq!(
            Dialect::Postgres.update(&s, &["na`me", "id"], None),
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
        assert_eq!(Dialect::MySql.delete(&s, 2, None), "DELETE FROM `s`.`t\"x` WHERE (`id`) IN ((?), (?))");
    }

    #[test]
    fn guarded_upserts_assign_the_conflict_column_last() {
        let mut s = schema();
        let ts = "timestamp with time zone";
        s.columns.push(Column { name: "ts".into(), sql_type: ts.into(), cast_type: ts.into() });
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
