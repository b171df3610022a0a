//! Source-flag triggers: the flag must mark the *change*, not the row. A trigger on each synced
//! table resets the source-flag column to the side's local value on every insert and update that
//! dualsync did not make, so an application edit of a row dualsync wrote last is seen as the
//! application's (and synced), without any change to the application. dualsync's own sessions
//! mark themselves: PostgreSQL `SET LOCAL dualsync.writer = 'on'`, MySQL `SET @dualsync_writer = 1`.

use dualsync_mapping::TableName;

use crate::Dialect;

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
