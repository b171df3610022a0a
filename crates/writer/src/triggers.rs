//! Source-flag triggers: the flag must mark the *change*, not the row. A trigger on each synced
//! table resets the source-flag column to the side's local value on every insert and update that
//! dualsync did not make, so an application edit of a row dualsync wrote last is seen as the
//! application's (and synced), without any change to the application. dualsync's own sessions
//! mark themselves: PostgreSQL `SET LOCAL dualsync.writer = 'on'`, MySQL `SET @dualsync_writer = 1`.

use dualsync_mapping::TableName;

use crate::tombstone::{DELETED_AT, TOMBSTONE_PREFIX};
use crate::{Dialect, TableSchema};

/// The prefix of every object dualsync creates for its triggers.
pub const TRIGGER_PREFIX: &str = "dualsync_flag";

/// The statement that marks a dualsync transaction, run first in each one.
pub(crate) fn mark_session(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SET LOCAL dualsync.writer = 'on'",
        Dialect::MySql => "SET @dualsync_writer = 1",
    }
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The object name for `table`, within the 63/64-character identifier limits.
fn object_name(table: &TableName, suffix: &str) -> String {
    let mut name = format!("{TRIGGER_PREFIX}_{}{suffix}", table.name);
    name.truncate(60);
    name
}

/// Statements that (re)install the flag trigger on `table`.
pub(crate) fn install(dialect: Dialect, table: &TableName, column: &str, local: &str) -> Vec<String> {
    let qualified = dialect.table(table);
    let column = dialect.quote(column);
    match dialect {
        Dialect::Postgres => {
            let function = TableName { namespace: table.namespace.clone(), name: object_name(table, "") };
            let function = dialect.table(&function);
            vec![
                format!(
                    "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $dualsync$ \
                     BEGIN IF coalesce(current_setting('dualsync.writer', true), '') <> 'on' THEN NEW.{column} := {}; END IF; \
                     RETURN NEW; END $dualsync$",
                    literal(local)
                ),
                format!("DROP TRIGGER IF EXISTS {TRIGGER_PREFIX} ON {qualified}"),
                format!(
                    "CREATE TRIGGER {TRIGGER_PREFIX} BEFORE INSERT OR UPDATE ON {qualified} FOR EACH ROW EXECUTE FUNCTION {function}()"
                ),
            ]
        }
        Dialect::MySql => ["insert", "update"]
            .iter()
            .flat_map(|event| {
                let trigger = dialect.table(&TableName {
                    namespace: table.namespace.clone(),
                    name: object_name(table, &format!("_{event}")),
                });
                [
                    format!("DROP TRIGGER IF EXISTS {trigger}"),
                    format!(
                        "CREATE TRIGGER {trigger} BEFORE {} ON {qualified} FOR EACH ROW \
                         BEGIN IF @dualsync_writer IS NULL THEN SET NEW.{column} = {}; END IF; END",
                        event.to_uppercase(),
                        literal(local)
                    ),
                ]
            })
            .collect(),
    }
}

/// Statements that remove the flag trigger from `table`.
pub(crate) fn uninstall(dialect: Dialect, table: &TableName) -> Vec<String> {
    match dialect {
        Dialect::Postgres => {
            let function =
                dialect.table(&TableName { namespace: table.namespace.clone(), name: object_name(table, "") });
            vec![
                format!("DROP TRIGGER IF EXISTS {TRIGGER_PREFIX} ON {}", dialect.table(table)),
                format!("DROP FUNCTION IF EXISTS {function}()"),
            ]
        }
        Dialect::MySql => ["insert", "update"]
            .iter()
            .map(|event| {
                let trigger =
                    TableName { namespace: table.namespace.clone(), name: object_name(table, &format!("_{event}")) };
                format!("DROP TRIGGER IF EXISTS {}", dialect.table(&trigger))
            })
            .collect(),
    }
}

/// Statements that (re)install the delete trigger of `target`, which records the application's
/// hard deletes in the tombstone table `tomb`, stamped with `stamp` (see
/// [`crate::tombstone::trigger_stamp`]). dualsync's own deletes are recorded by the writer, with
/// the delete's time at its source.
pub(crate) fn install_tombstone(
    dialect: Dialect,
    target: &TableSchema,
    tomb: &TableSchema,
    stamp: &str,
) -> Vec<String> {
    let qualified = dialect.table(&target.name);
    let tomb_table = dialect.table(&tomb.name);
    let key: Vec<String> = target.key.iter().map(|k| dialect.quote(k)).collect();
    let old: Vec<String> = key.iter().map(|k| format!("OLD.{k}")).collect();
    let at = dialect.quote(DELETED_AT);
    let insert = format!("INSERT INTO {tomb_table} ({}, {at}) VALUES ({}, {stamp})", key.join(", "), old.join(", "));
    let object = tombstone_object(dialect, &target.name);
    let drop = uninstall_tombstone(dialect, &target.name).remove(0);
    match dialect {
        Dialect::Postgres => vec![
            format!(
                "CREATE OR REPLACE FUNCTION {object}() RETURNS trigger LANGUAGE plpgsql AS $dualsync$ \
                 BEGIN IF coalesce(current_setting('dualsync.writer', true), '') <> 'on' THEN \
                 {insert} ON CONFLICT ({}) DO UPDATE SET {at} = EXCLUDED.{at} \
                 WHERE {tomb_table}.{at} IS NULL OR {tomb_table}.{at} < EXCLUDED.{at}; \
                 END IF; RETURN OLD; END $dualsync$",
                key.join(", ")
            ),
            drop,
            format!(
                "CREATE TRIGGER {} AFTER DELETE ON {qualified} FOR EACH ROW EXECUTE FUNCTION {object}()",
                dialect.quote(&tombstone_name(&target.name))
            ),
        ],
        Dialect::MySql => vec![
            drop,
            format!(
                "CREATE TRIGGER {object} AFTER DELETE ON {qualified} FOR EACH ROW \
                 BEGIN IF @dualsync_writer IS NULL THEN {insert} ON DUPLICATE KEY UPDATE \
                 {at} = IF({at} IS NULL OR {at} < VALUES({at}), VALUES({at}), {at}); END IF; END"
            ),
        ],
    }
}

/// The delete trigger's function (PostgreSQL) or trigger (MySQL), qualified: named like the
/// tombstone table (functions and triggers have names of their own, apart from tables).
fn tombstone_object(dialect: Dialect, table: &TableName) -> String {
    dialect.table(&TableName { namespace: table.namespace.clone(), name: tombstone_name(table) })
}

/// The unqualified name of the delete trigger (and of its PostgreSQL function).
fn tombstone_name(table: &TableName) -> String {
    let mut name = format!("{TOMBSTONE_PREFIX}{}", table.name);
    name.truncate(60);
    name
}

/// Statements that remove the delete trigger from `table` (the tombstone table stays).
pub(crate) fn uninstall_tombstone(dialect: Dialect, table: &TableName) -> Vec<String> {
    let object = tombstone_object(dialect, table);
    match dialect {
        Dialect::Postgres => vec![
            format!("DROP TRIGGER IF EXISTS {} ON {}", dialect.quote(&tombstone_name(table)), dialect.table(table)),
            format!("DROP FUNCTION IF EXISTS {object}()"),
        ],
        Dialect::MySql => vec![format!("DROP TRIGGER IF EXISTS {object}")],
    }
}
