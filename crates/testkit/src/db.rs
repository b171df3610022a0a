//! A fresh namespace per test on a real database: a MariaDB database or a PostgreSQL schema.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection, Row as _};

use crate::{mysql_url, pg_url, unique};

/// Which kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MariaDB (MySQL protocol).
    MySql,
    /// PostgreSQL.
    Postgres,
}

/// A namespace of its own for one test: a new MariaDB database or PostgreSQL schema, named by a
/// UUID, on the test server.
pub struct TestDb {
    /// Which server.
    pub kind: Kind,
    /// The database (MariaDB) or schema (PostgreSQL) this test owns.
    pub namespace: String,
    /// A URL to the server's test database (for MariaDB, it selects `namespace`).
    pub url: String,
}

impl TestDb {
    /// A new MariaDB database.
    pub async fn mysql() -> TestDb {
        TestDb::mysql_on(&mysql_url()).await
    }

    /// A new MariaDB database on the server of `server` (a URL to one of its databases), e.g.
    /// [`crate::debezium_mysql_url`].
    pub async fn mysql_on(server: &str) -> TestDb {
        let namespace = unique("t");
        let server = server.to_string();
        let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
        let url = format!("{base}/{namespace}");
        exec(Kind::MySql, &server, &format!("CREATE DATABASE `{namespace}`")).await;
        TestDb { kind: Kind::MySql, namespace, url }
    }

    /// A new PostgreSQL schema in the test database.
    pub async fn postgres() -> TestDb {
        let namespace = unique("t");
        let url = pg_url();
        exec(Kind::Postgres, &url, &format!("CREATE SCHEMA \"{namespace}\"")).await;
        TestDb { kind: Kind::Postgres, namespace, url }
    }

    /// A new namespace on a server of `kind`.
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::MySql => TestDb::mysql().await,
            Kind::Postgres => TestDb::postgres().await,
        }
    }

    /// `namespace.table`, quoted for this server.
    pub fn qualified(&self, table: &str) -> String {
        match self.kind {
            Kind::MySql => format!("`{}`.`{table}`", self.namespace),
            Kind::Postgres => format!("\"{}\".\"{table}\"", self.namespace),
        }
    }

    /// The database's own bulk load of `rows` (each a row's values as text, `None` for NULL, in
    /// column order) into table `table` of this namespace, in one transaction: PostgreSQL `COPY`,
    /// MariaDB multi-row `INSERT`s of 10,000 rows. Rows per second: the ceiling benchmarks
    /// compare with.
    pub async fn bulk_load(&self, table: &str, rows: &[Vec<Option<String>>]) -> f64 {
        self.bulk(table, rows, None, rows.len()).await
    }

    /// [`TestDb::bulk_load`] in transactions of `batch` rows each, one after the other: what the
    /// database's own bulk load does at a writer's batch size.
    pub async fn bulk_load_batched(&self, table: &str, rows: &[Vec<Option<String>>], batch: usize) -> f64 {
        self.bulk(table, rows, None, batch).await
    }

    /// The database's own bulk update of stored rows to `rows` (as for [`TestDb::bulk_load`];
    /// `columns` names the table's columns in order, the first being the primary key), in one
    /// transaction: PostgreSQL `COPY` into a temporary table and one `UPDATE … FROM` it; MariaDB
    /// multi-row `INSERT … ON DUPLICATE KEY UPDATE`s of 10,000 rows. Rows per second: the ceiling
    /// for updates.
    pub async fn bulk_update(&self, table: &str, columns: &[&str], rows: &[Vec<Option<String>>]) -> f64 {
        self.bulk(table, rows, Some(columns), rows.len()).await
    }

    /// [`TestDb::bulk_load`], or with `update` (the columns, key first) [`TestDb::bulk_update`],
    /// in transactions of `batch` rows.
    async fn bulk(&self, table: &str, rows: &[Vec<Option<String>>], update: Option<&[&str]>, batch: usize) -> f64 {
        let started;
        let target = self.qualified(table);
        let batches = rows.chunks(batch.max(1));
        match self.kind {
            Kind::Postgres => {
                let data: Vec<String> = batches
                    .map(|batch| {
                        let mut data = String::with_capacity(batch.len() * 64);
                        for row in batch {
                            let fields: Vec<String> = row
                                .iter()
                                .map(|v| {
                                    v.as_ref().map_or(String::new(), |v| format!("\"{}\"", v.replace('"', "\"\"")))
                                })
                                .collect();
                            data.push_str(&fields.join(","));
                            data.push('\n');
                        }
                        data
                    })
                    .collect();
                let mut conn = PgConnection::connect(&self.url).await.expect("connect to PostgreSQL");
                // sqlx 0.9.0 leaves Nagle's algorithm on, which costs each COPY 40 ms (see the
                // writer's `nodelay`): the ceiling gets the writer's workaround too.
                let port = PgConnectOptions::from_str(&self.url).expect("PostgreSQL URL").get_port();
                if !dualsync_writer::nodelay::set_for_peer_port(port) {
                    eprintln!("could not turn off Nagle's algorithm: each COPY of this ceiling may wait 40 ms more");
                }
                started = std::time::Instant::now();
                for data in data {
                    let mut tx = conn.begin().await.expect("begin");
                    let into = match update {
                        None => target.clone(),
                        Some(_) => {
                            let sql = format!("CREATE TEMP TABLE bulk_rows (LIKE {target}) ON COMMIT DROP");
                            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await.expect("staging table");
                            "bulk_rows".to_string()
                        }
                    };
                    let mut copy =
                        tx.copy_in_raw(&format!("COPY {into} FROM STDIN WITH (FORMAT csv)")).await.expect("copy");
                    copy.send(data.as_bytes()).await.expect("copy data");
                    copy.finish().await.expect("copy finish");
                    if let Some(columns) = update {
                        let set: Vec<String> = columns[1..].iter().map(|c| format!("\"{c}\" = s.\"{c}\"")).collect();
                        let sql = format!(
                            "UPDATE {target} AS t SET {} FROM bulk_rows AS s WHERE t.\"{key}\" = s.\"{key}\"",
                            set.join(", "),
                            key = columns[0]
                        );
                        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await.expect("update");
                    }
                    tx.commit().await.expect("commit");
                }
            }
            Kind::MySql => {
                let on_duplicate = update.map_or(String::new(), |columns| {
                    let set: Vec<String> = columns[1..].iter().map(|c| format!("`{c}` = VALUES(`{c}`)")).collect();
                    format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
                });
                let transactions: Vec<Vec<String>> = batches
                    .map(|batch| {
                        batch
                            .chunks(10_000)
                            .map(|chunk| {
                                let values: Vec<String> = chunk
                                    .iter()
                                    .map(|row| {
                                        let fields: Vec<String> = row
                                            .iter()
                                            .map(|v| {
                                                v.as_ref().map_or("NULL".to_string(), |v| {
                                                    format!("'{}'", v.replace('\'', "''"))
                                                })
                                            })
                                            .collect();
                                        format!("({})", fields.join(","))
                                    })
                                    .collect();
                                format!("INSERT INTO {target} VALUES {}{on_duplicate}", values.join(","))
                            })
                            .collect()
                    })
                    .collect();
                let mut conn = MySqlConnection::connect(&self.url).await.expect("connect to MariaDB");
                started = std::time::Instant::now();
                for statements in transactions {
                    let mut tx = conn.begin().await.expect("begin");
                    for sql in statements {
                        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await.expect("insert");
                    }
                    tx.commit().await.expect("commit");
                }
            }
        }
        rows.len() as f64 / started.elapsed().as_secs_f64()
    }

    /// Runs SQL statements (separated by `;`); `{ns}` in the text is replaced by the quoted
    /// namespace.
    pub async fn exec(&self, sql: &str) {
        exec(self.kind, &self.url, &self.expand(sql)).await;
    }

    /// The rows a query returns, every column read as optional text; cast in the query
    /// (`id::text` / `CAST(id AS CHAR)`). `{ns}` is replaced as in [`TestDb::exec`].
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let sql = self.expand(sql);
        let failed = |e: sqlx::Error| -> Vec<Vec<Option<String>>> { panic!("{sql}: {e}") };
        match self.kind {
            Kind::MySql => {
                let mut conn = MySqlConnection::connect(&self.url).await.expect("connect to MariaDB");
                match sqlx::query(AssertSqlSafe(sql.clone())).fetch_all(&mut conn).await {
                    Ok(rows) => rows.iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect(),
                    Err(e) => failed(e),
                }
            }
            Kind::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.expect("connect to PostgreSQL");
                match sqlx::query(AssertSqlSafe(sql.clone())).fetch_all(&mut conn).await {
                    Ok(rows) => rows.iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect(),
                    Err(e) => failed(e),
                }
            }
        }
    }

    /// `sql` with `{ns}` replaced by the quoted namespace, as [`TestDb::exec`] does.
    pub fn expand(&self, sql: &str) -> String {
        let quoted = match self.kind {
            Kind::MySql => format!("`{}`", self.namespace),
            Kind::Postgres => format!("\"{}\"", self.namespace),
        };
        sql.replace("{ns}", &quoted)
    }
}

async fn exec(kind: Kind, url: &str, sql: &str) {
    let result = match kind {
        Kind::MySql => match MySqlConnection::connect(url).await {
            Ok(mut conn) => sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut conn).await.map(drop),
            Err(e) => Err(e),
        },
        Kind::Postgres => match PgConnection::connect(url).await {
            Ok(mut conn) => sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut conn).await.map(drop),
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        panic!("{sql}: {e}");
    }
}
