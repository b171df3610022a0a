//! Write errors, split into transient (retry) and permanent (the data or the setup is wrong).

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

    /// Whether the target refused a row for a missing referenced row (a foreign key): the parent
    /// may still arrive from another topic, so this is worth retrying for a while.
    pub fn is_foreign_key(&self) -> bool {
        let WriteError::Database { source: sqlx::Error::Database(db), .. } = self else { return false };
        db.code().as_deref() == Some("23503")
            || db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|e| e.number() == 1452)
    }

    /// Whether retrying the same batch later may succeed: lost or refused connections, deadlocks,
    /// lock wait timeouts, serialization failures, too many connections, server shutdown.
    /// Everything else is permanent: retrying would fail the same way.
    pub fn is_transient(&self) -> bool {
        let WriteError::Database { source, .. } = self else {
            return false;
        };
        match source {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                // PostgreSQL SQLSTATEs: class 08 connection exception, 40001 serialization failure,
                // 40P01 deadlock, 53300 too many connections, 57P01..57P03 shutdown / cannot connect now.
                // MySQL/MariaDB report SQLSTATE 40001 for deadlocks (1213) and HY000 for lock wait
                // timeouts (1205), so their error numbers are checked too.
                code.starts_with("08")
                    || matches!(&*code, "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03")
                    || is_transient_mysql(db.as_ref())
            }
            _ => false,
        }
    }
}

fn is_transient_mysql(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() else {
        return false;
    };
    // 1040 too many connections, 1205 lock wait timeout, 1213 deadlock, 1927 connection killed,
    // 2006 server gone away, 2013 lost connection.
    matches!(mysql.number(), 1040 | 1205 | 1213 | 1927 | 2006 | 2013)
}
