//! Write errors, and their classes: transient (retry), waiting for a parent row, data (dead-letter)
//! and setup (an operator must fix the target).

/// Why a batch could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target URL names a database kind this writer does not support.
    #[error("target database URL must start with postgres://, postgresql://, mysql:// or mariadb://; got {scheme:?}")]
    UnsupportedUrl {
        /// The URL's scheme (the part before `://`), never the credentials.
        scheme: String,
    },
    /// The target table does not exist.
    #[error("target table {table} does not exist; create it or fix the table name in the mapping")]
    NoTable {
        /// The table, as the mapping names it.
        table: String,
    },
    /// The target table has no primary key, so upserts and deletes cannot find their row.
    #[error("target table {table} has no primary key; add one (upserts and deletes find rows by it)")]
    NoPrimaryKey {
        /// The table.
        table: String,
    },
    /// A mapped row names a column the target table lacks.
    #[error("target table {table} has no column {column:?}; rename it in the mapping or add the column")]
    UnknownColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A mapped row lacks a primary-key column.
    #[error("{op} for {table} has no value for key column {column:?}; the source event must carry it")]
    MissingKey {
        /// The table.
        table: String,
        /// The key column.
        column: String,
        /// `upsert` or `delete`.
        op: &'static str,
    },
    /// A value cannot be represented in the target database.
    #[error("{table}.{column}: {reason}")]
    Unwritable {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Why.
        reason: String,
    },
    /// An upsert found an existing row by a secondary unique key, not by the primary key: the
    /// incoming row and the stored one are different rows claiming the same unique value.
    #[error(
        "{context}: the row collides with another row on a unique key ({detail}); the two sides hold different rows with the same unique value, resolve it by hand"
    )]
    KeyCollision {
        /// What was being done.
        context: String,
        /// The database's words.
        detail: String,
    },
    /// The database refused or failed a statement, or the connection failed.
    #[error("{context}: {source}")]
    Database {
        /// What was being done (e.g. `upsert into shop.users`).
        context: String,
        /// The driver's error.
        source: sqlx::Error,
    },
}

impl WriteError {
    pub(crate) fn database(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> WriteError {
        let context = context.into();
        move |source| WriteError::Database { context, source }
    }

    /// A statement's failure, recognising unique-key collisions: PostgreSQL's unique violation
    /// (23505, raised when `ON CONFLICT (pk)` meets another unique key) and the NULL that the
    /// MySQL upsert assigns to a key column when `ON DUPLICATE KEY UPDATE` matched another key.
    pub(crate) fn classify(context: String, key: &[String], source: sqlx::Error) -> WriteError {
        if let sqlx::Error::Database(db) = &source {
            let mysql_key_null = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| e.number() == 1048 && key.iter().any(|k| e.message().contains(&format!("'{k}'"))));
            if db.code().as_deref() == Some("23505") || mysql_key_null {
                return WriteError::KeyCollision { context, detail: db.message().to_string() };
            }
        }
        WriteError::Database { context, source }
    }

    /// Whether a `COPY` of new rows failed where an upsert of the same rows may not: a row is
    /// stored already (or collides on another unique key), or the table refuses `COPY` itself
    /// (feature not supported, 0A000: row-level security).
    pub(crate) fn refuses_copy(&self) -> bool {
        match self {
            WriteError::KeyCollision { .. } => true,
            WriteError::Database { source: sqlx::Error::Database(db), .. } => db.code().as_deref() == Some("0A000"),
            _ => false,
        }
    }

    /// What kind of failure this is, and so what to do next (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            WriteError::UnsupportedUrl { .. }
            | WriteError::NoTable { .. }
            | WriteError::NoPrimaryKey { .. }
            | WriteError::UnknownColumn { .. } => ErrorClass::Setup,
            WriteError::MissingKey { .. } | WriteError::Unwritable { .. } | WriteError::KeyCollision { .. } => {
                ErrorClass::Data
            }
            WriteError::Database { source, .. } => classify_database(source),
        }
    }
}

/// What kind of failure a [`WriteError`] is. Each class has one next step, which the consumer's
/// error policy takes; [`ErrorClass::next_step`] says it to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The environment failed (a lost or refused connection, a deadlock, a lock wait timeout, a
    /// serialization failure, too many connections, a server shutting down): the same batch
    /// passes when retried.
    Transient,
    /// A foreign key refuses the change for now: the row it references is missing (its parent
    /// may still arrive, from another topic or partition), or, for a delete, rows still
    /// reference it (their deletes may still arrive); the change waits for them.
    WaitingForParent,
    /// The change's data is refused (a value its column cannot take, a constraint, a unique-key
    /// collision): retrying fails the same way, so the change goes to the dead-letter topic.
    Data,
    /// The target is not set up for the mapping (a missing table, column, key or privilege):
    /// every change of the table fails until an operator fixes it, and passes after the fix, so
    /// it is never dead-lettered.
    Setup,
}

impl ErrorClass {
    /// What happens next, in an operator's words.
    pub fn next_step(self) -> &'static str {
        match self {
            ErrorClass::Transient => "retried with backoff until the target answers again",
            ErrorClass::WaitingForParent => {
                "held until the row it references arrives (or, for a delete, the rows referencing it leave), then applied"
            }
            ErrorClass::Data => {
                "sent to the dead-letter topic (or, without one, the consumer stops); fix the data or the mapping, then replay it"
            }
            ErrorClass::Setup => {
                "nothing is applied until the target is fixed as the message says (table, column, key or privilege); the consumer retries by itself and resumes once it is"
            }
        }
    }

    /// The metrics label of the class.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::WaitingForParent => "waiting_for_parent",
            ErrorClass::Data => "data",
            ErrorClass::Setup => "setup",
        }
    }
}

/// The class of a driver error, by SQLSTATE and (for MySQL/MariaDB, which report many errors as
/// `HY000` or `42000`) error number.
fn classify_database(source: &sqlx::Error) -> ErrorClass {
    match source {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => ErrorClass::Transient,
        sqlx::Error::Database(db) => {
            if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return classify_mysql(mysql.number());
            }
            let code = db.code().unwrap_or_default();
            match &*code {
                // Class 08 connection exception, 40001 serialization failure, 40P01 deadlock,
                // 53300 too many connections, 55P03 lock not available, 57P01..57P03 shutdown /
                // cannot connect now.
                c if c.starts_with("08") => ErrorClass::Transient,
                "40001" | "40P01" | "53300" | "55P03" | "57P01" | "57P02" | "57P03" => ErrorClass::Transient,
                "23503" => ErrorClass::WaitingForParent,
                // Undefined table, column, object or function; insufficient privilege; no such
                // database or schema; authentication.
                "42P01" | "42703" | "42704" | "42883" | "42501" | "3D000" | "3F000" => ErrorClass::Setup,
                c if c.starts_with("28") => ErrorClass::Setup,
                _ => ErrorClass::Data,
            }
        }
        _ => ErrorClass::Data,
    }
}

/// The class of a MySQL/MariaDB error number.
fn classify_mysql(number: u16) -> ErrorClass {
    match number {
        // 1040 too many connections, 1053 server shutting down, 1205 lock wait timeout, 1213 deadlock, 1927 connection
        // killed, 2006 server gone away, 2013 lost connection.
        1040 | 1053 | 1205 | 1213 | 1927 | 2006 | 2013 => ErrorClass::Transient,
        // 1452 a child row's parent is missing (1216 in old servers); 1451 a parent's delete is
        // refused while children still reference it (1217 in old servers): their deletes travel
        // on another topic and follow.
        1216 | 1217 | 1451 | 1452 => ErrorClass::WaitingForParent,
        // 1044/1045 access denied, 1049 unknown database, 1054 unknown column, 1142/1143 table /
        // column access denied, 1146 no such table, 1227 privilege needed, 1370 routine access.
        1044 | 1045 | 1049 | 1054 | 1142 | 1143 | 1146 | 1227 | 1370 => ErrorClass::Setup,
        _ => ErrorClass::Data,
    }
}
