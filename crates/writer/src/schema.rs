//! What the writer needs to know of a target table, read from the live database.

use dualsync_mapping::TableName;
use sqlx::{MySqlPool, PgPool, Row as _};

use crate::WriteError;

/// One column of a target table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its SQL type as the database formats it (PostgreSQL `format_type`, MySQL `COLUMN_TYPE`).
    pub sql_type: String,
    /// The type incoming values are cast to: PostgreSQL's type without its modifier
    /// (`character varying`, not `character varying(64)`), because an explicit cast to the
    /// modified type silently truncates an over-long value, while storing it into the column
    /// refuses it. It is `format_type(type, -1)`, which names `bpchar` and `"bit"` rather than
    /// `character` and `bit` (those mean one character, one bit). MySQL: the same as `sql_type`.
    pub cast_type: String,
}

/// A target table's columns and primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The table, as the mapping names it.
    pub name: TableName,
    /// Its columns, in table order.
    pub columns: Vec<Column>,
    /// Its primary-key columns, in key order; never empty.
    pub key: Vec<String>,
    /// PostgreSQL: the sequence that generates the (single-column) primary key, if any
    /// (SERIAL or IDENTITY). After dualsync inserts explicit ids, it is advanced past them.
    pub sequence: Option<String>,
    /// Whether the database generates the (single-column) primary key (PostgreSQL SERIAL or
    /// IDENTITY, MySQL AUTO_INCREMENT): a surrogate id, which each side's application hands out
    /// for its own new entities.
    pub generated_key: bool,
    /// Whether a foreign key of the table references the table itself (a tree): then the order
    /// of its rows' changes within a batch is kept exactly.
    pub self_referencing: bool,
}

impl TableSchema {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Builds the schema from (column, type, type to cast to, position in the primary key or 0)
    /// rows.
    fn from_rows(name: &TableName, rows: Vec<(String, String, String, i64)>) -> Result<TableSchema, WriteError> {
        if rows.is_empty() {
            return Err(WriteError::NoTable { table: name.to_string() });
        }
        let mut key: Vec<(i64, String)> =
            rows.iter().filter(|(_, _, _, k)| *k > 0).map(|(n, _, _, k)| (*k, n.clone())).collect();
        if key.is_empty() {
            return Err(WriteError::NoPrimaryKey { table: name.to_string() });
        }
        key.sort();
        let columns =
            rows.into_iter().map(|(name, sql_type, cast_type, _)| Column { name, sql_type, cast_type }).collect();
        Ok(TableSchema {
            name: name.clone(),
            columns,
            key: key.into_iter().map(|(_, n)| n).collect(),
            sequence: None,
            generated_key: false,
            self_referencing: false,
        })
    }

    /// Reads a PostgreSQL table's columns and primary key. An unqualified name resolves through
    /// the connection's `search_path`.
    pub async fn read_postgres(pool: &PgPool, name: &TableName) -> Result<TableSchema, WriteError> {
        let regclass = crate::Dialect::Postgres.table(name);
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, -1), \
                    COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0) \
             FROM pg_attribute a \
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(&regclass)
        .fetch_all(pool)
        .await
        .map_err(WriteError::database(format!("reading the columns of {name}")))?;
        let rows = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
        let mut schema = TableSchema::from_rows(name, rows)?;
        if let [key] = schema.key.as_slice() {
            schema.sequence = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
                .bind(&regclass)
                .bind(key)
                .fetch_one(pool)
                .await
                .map_err(WriteError::database(format!("reading the key sequence of {name}")))?;
            schema.generated_key = schema.sequence.is_some();
        }
        schema.self_referencing = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass($1) AND confrelid = conrelid)",
        )
        .bind(&regclass)
        .fetch_one(pool)
        .await
        .map_err(WriteError::database(format!("reading the foreign keys of {name}")))?;
        Ok(schema)
    }

    /// Reads a MySQL/MariaDB table's columns and primary key. An unqualified name resolves in the
    /// connection's default database.
    pub async fn read_mysql(pool: &MySqlPool, name: &TableName) -> Result<TableSchema, WriteError> {
        let rows = sqlx::query(
            "SELECT c.COLUMN_NAME, c.COLUMN_TYPE, CAST(COALESCE(s.SEQ_IN_INDEX, 0) AS SIGNED), \
                    CAST(c.EXTRA LIKE '%auto_increment%' AS SIGNED) \
             FROM information_schema.COLUMNS c \
             LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = c.TABLE_SCHEMA \
                  AND s.TABLE_NAME = c.TABLE_NAME AND s.COLUMN_NAME = c.COLUMN_NAME AND s.INDEX_NAME = 'PRIMARY' \
             WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND c.TABLE_NAME = ? \
             ORDER BY c.ORDINAL_POSITION",
        )
        .bind(name.namespace.as_deref())
        .bind(&name.name)
        .fetch_all(pool)
        .await
        .map_err(WriteError::database(format!("reading the columns of {name}")))?;
        let columns = rows.iter().map(|r| (r.get(0), r.get(1), r.get(1), r.get(2))).collect();
        let mut schema = TableSchema::from_rows(name, columns)?;
        schema.generated_key = schema.key.len() == 1 && rows.iter().any(|r| r.get::<i64, _>(3) == 1);
        let references: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
               AND REFERENCED_TABLE_SCHEMA = TABLE_SCHEMA AND REFERENCED_TABLE_NAME = TABLE_NAME",
        )
        .bind(name.namespace.as_deref())
        .bind(&name.name)
        .fetch_one(pool)
        .await
        .map_err(WriteError::database(format!("reading the foreign keys of {name}")))?;
        schema.self_referencing = references > 0;
        Ok(schema)
    }
}
