//! The applications: writers on each side doing random inserts, updates, deletes and
//! multi-table transactions on overlapping keys. Both sides draw the rows they touch from one
//! shared pool of ids, so the same rows are written on both sides at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;

use crate::db::Db;

/// The ids both sides have created (some deleted since: writes to them then touch nothing).
#[derive(Default)]
pub struct Known {
    people: Vec<i64>,
    posts: Vec<i64>,
}

/// What one side's writers did.
#[derive(Default)]
pub struct Tally {
    /// Transactions committed.
    pub committed: AtomicU64,
    /// Transactions that failed (a database outage, a deadlock, a foreign key the other side
    /// has not delivered yet): the application's own failures, rolled back.
    pub failed: AtomicU64,
    /// The last failure, for the report.
    pub last_error: Mutex<Option<String>>,
}

/// The names and spellings of one side.
struct Names {
    people: &'static str,
    person_cols: [&'static str; 6],
    statuses: [&'static str; 2],
    posts: &'static str,
    post_cols: [&'static str; 5],
    likes: &'static str,
    like_cols: [&'static str; 4],
    tags: &'static str,
    tag_cols: [&'static str; 2],
    now: &'static str,
}

const LEGACY: Names = Names {
    people: "torture.people",
    person_cols: ["id", "email", "full_name", "status", "bio", "updated_at"],
    statuses: ["active", "banned"],
    posts: "torture.posts",
    post_cols: ["id", "person_id", "title", "body", "version"],
    likes: "torture.likes",
    like_cols: ["person_id", "post_id", "stars", "liked_at"],
    tags: "torture.tags",
    tag_cols: ["code", "label"],
    now: "clock_timestamp()",
};

const REVAMP: Names = Names {
    people: "torture_revamp.members",
    person_cols: ["member_id", "mail", "name", "state", "biography", "modified_at"],
    statuses: ["A", "B"],
    posts: "torture_revamp.articles",
    post_cols: ["article_id", "member_id", "headline", "content", "revision"],
    likes: "torture_revamp.reactions",
    like_cols: ["member_id", "article_id", "rating", "reacted_at"],
    tags: "torture_revamp.labels",
    tag_cols: ["code", "text"],
    now: "UTC_TIMESTAMP(6)",
};

/// One writer: its side, its random numbers and its share of the pool.
pub struct Writer {
    db: Db,
    names: &'static Names,
    /// `L` or `R`: tags each side owns, and unique e-mail addresses.
    side: char,
    id: usize,
    rng: StdRng,
    known: Arc<Mutex<Known>>,
    tally: Arc<Tally>,
    serial: u64,
}

impl Writer {
    /// Writer `id` of a side (`db.is_pg()` is legacy), seeded from the run's seed.
    pub fn new(db: Db, id: usize, seed: u64, known: Arc<Mutex<Known>>, tally: Arc<Tally>) -> Writer {
        let (names, side) = if db.is_pg() { (&LEGACY, 'L') } else { (&REVAMP, 'R') };
        let rng = StdRng::seed_from_u64(seed ^ ((side as u64) << 32) ^ id as u64);
        Writer { db, names, side, id, rng, known, tally, serial: 0 }
    }

    /// Writes until `until`, pausing up to `pause_ms` between transactions.
    pub async fn run(mut self, until: Instant, pause_ms: u64) {
        while Instant::now() < until {
            let statements = self.next_transaction();
            match self.db.transaction(&statements).await {
                Ok(rows) => {
                    self.tally.committed.fetch_add(1, Ordering::Relaxed);
                    self.remember(&rows);
                }
                Err(e) => {
                    self.tally.failed.fetch_add(1, Ordering::Relaxed);
                    *self.tally.last_error.lock().expect("tally") = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..=pause_ms))).await;
        }
    }

    /// Ids a new-person transaction returned (person, and post when one was made).
    fn remember(&self, rows: &crate::db::Rows) {
        let Some([person, post]) = rows.first().and_then(|r| <&[_; 2]>::try_from(r.as_slice()).ok()) else {
            return;
        };
        let mut known = self.known.lock().expect("pool");
        if let Some(id) = person.as_deref().and_then(|v| v.trim().parse().ok()) {
            known.people.push(id);
        }
        if let Some(id) = post.as_deref().and_then(|v| v.trim().parse().ok()) {
            known.posts.push(id);
        }
    }

    fn pick(&mut self, posts: bool) -> Option<i64> {
        let known = self.known.lock().expect("pool");
        let ids = if posts { &known.posts } else { &known.people };
        // Recent rows are written more often, as in an application.
        let len = ids.len();
        if len == 0 {
            return None;
        }
        let index = if self.rng.random_bool(0.7) {
            len - 1 - self.rng.random_range(0..len.min(40))
        } else {
            self.rng.random_range(0..len)
        };
        Some(ids[index])
    }

    fn text(&mut self, len: usize) -> String {
        (0..len).map(|_| self.rng.sample(rand::distr::Alphanumeric) as char).collect()
    }

    fn email(&mut self) -> String {
        self.serial += 1;
        let salt = self.text(6);
        format!("{}{}-{}-{salt}@example.org", self.side, self.id, self.serial)
    }

    /// A large value (out of line in PostgreSQL's TOAST) half of the time.
    fn bio(&mut self) -> String {
        if self.rng.random_bool(0.5) { self.text(12_000) } else { self.text(40) }
    }

    /// The next transaction's statements; the last one is a `SELECT`.
    fn next_transaction(&mut self) -> Vec<String> {
        let roll = self.rng.random_range(0..100);
        let done = "SELECT 'done'".to_string();
        let mut statements = match roll {
            0..12 => return self.new_person(),
            12..35 => self.pick(false).map(|id| vec![self.update_person(id)]),
            35..39 => self.pick(false).map(|id| self.delete_person(id)),
            39..49 => self.pick(false).map(|id| self.new_post(id)),
            49..64 => self.pick(true).map(|id| vec![self.update_post(id)]),
            64..68 => self.pick(true).map(|id| self.delete_post(id)),
            68..82 => self.like(),
            82..86 => self.unlike(),
            86..94 => Some(vec![self.tag()]),
            94..97 => Some(vec![self.untag()]),
            _ => self.several(),
        }
        .unwrap_or_default();
        if statements.first().is_some_and(|s| s.starts_with("INSERT INTO") && s.contains(self.names.posts)) {
            // A new post: return its id for the pool.
            statements.push(format!("SELECT NULL, CAST({} AS CHAR(20))", self.last_id(true)));
        } else {
            statements.push(done);
        }
        statements
    }

    /// The id of the row just inserted into people (or posts), in this transaction.
    fn last_id(&self, posts: bool) -> String {
        match (self.db.is_pg(), posts) {
            (true, false) => "currval('torture.people_id_seq')".into(),
            (true, true) => "currval('torture.posts_id_seq')".into(),
            (false, false) => "@person".into(),
            (false, true) => "@post".into(),
        }
    }

    fn keep_last_id(&self, posts: bool) -> Option<String> {
        (!self.db.is_pg()).then(|| format!("SET {} = LAST_INSERT_ID()", self.last_id(posts)))
    }

    /// A new person; half the time with a post and, then, half the time a like of it: one
    /// multi-table transaction.
    fn new_person(&mut self) -> Vec<String> {
        let n = self.names;
        let c = &n.person_cols;
        let (email, name, bio) = (self.email(), self.text(12), self.bio());
        let status = n.statuses[self.rng.random_range(0..2)];
        let mut statements = vec![format!(
            "INSERT INTO {} ({}, {}, {}, {}, {}) VALUES ('{email}', '{name}', '{status}', '{bio}', {})",
            n.people, c[1], c[2], c[3], c[4], c[5], n.now
        )];
        statements.extend(self.keep_last_id(false));
        let mut post = "NULL".to_string();
        if self.rng.random_bool(0.5) {
            statements.extend(self.new_post_of(&self.last_id(false)));
            post = self.last_id(true);
            if self.rng.random_bool(0.5) {
                statements.push(self.like_of(&self.last_id(false), &self.last_id(true)));
            }
        }
        statements.push(format!("SELECT CAST({} AS CHAR(20)), CAST({post} AS CHAR(20))", self.last_id(false)));
        statements
    }

    fn update_person(&mut self, id: i64) -> String {
        let n = self.names;
        let c = &n.person_cols;
        let mut set = vec![format!("{} = '{}'", c[2], self.text(12))];
        if self.rng.random_bool(0.3) {
            set.push(format!("{} = '{}'", c[1], self.email()));
        }
        if self.rng.random_bool(0.2) {
            set.push(format!("{} = '{}'", c[3], n.statuses[self.rng.random_range(0..2)]));
        }
        // Most updates leave the large column alone (PostgreSQL then sends it as unchanged).
        if self.rng.random_bool(0.2) {
            set.push(format!("{} = '{}'", c[4], self.bio()));
        }
        set.push(format!("{} = {}", c[5], n.now));
        format!("UPDATE {} SET {} WHERE {} = {id}", n.people, set.join(", "), c[0])
    }

    /// A person's delete: PostgreSQL's foreign keys cascade; on MariaDB, whose cascades no
    /// capture sees, the application deletes the likes and posts itself, in the same transaction.
    fn delete_person(&self, id: i64) -> Vec<String> {
        let n = self.names;
        let mut statements = Vec::new();
        if !self.db.is_pg() {
            let (like_person, like_post) = (n.like_cols[0], n.like_cols[1]);
            let (post, post_person) = (n.post_cols[0], n.post_cols[1]);
            statements.push(format!(
                "DELETE FROM {} WHERE {like_person} = {id} OR {like_post} IN (SELECT {post} FROM {} WHERE {post_person} = {id})",
                n.likes, n.posts
            ));
            statements.push(format!("DELETE FROM {} WHERE {post_person} = {id}", n.posts));
        }
        statements.push(format!("DELETE FROM {} WHERE {} = {id}", n.people, n.person_cols[0]));
        statements
    }

    /// A post's delete, with its likes on MariaDB (see [`Writer::delete_person`]).
    fn delete_post(&self, id: i64) -> Vec<String> {
        let n = self.names;
        let mut statements = Vec::new();
        if !self.db.is_pg() {
            statements.push(format!("DELETE FROM {} WHERE {} = {id}", n.likes, n.like_cols[1]));
        }
        statements.push(format!("DELETE FROM {} WHERE {} = {id}", n.posts, n.post_cols[0]));
        statements
    }

    fn new_post(&mut self, person: i64) -> Vec<String> {
        self.new_post_of(&person.to_string())
    }

    fn new_post_of(&mut self, person: &str) -> Vec<String> {
        let n = self.names;
        let c = &n.post_cols;
        let (title, body) = (self.text(10), self.text(200));
        let mut statements = vec![format!(
            "INSERT INTO {} ({}, {}, {}) VALUES ({person}, '{title}', '{body}')",
            n.posts, c[1], c[2], c[3]
        )];
        statements.extend(self.keep_last_id(true));
        statements
    }

    fn update_post(&mut self, id: i64) -> String {
        let n = self.names;
        let c = &n.post_cols;
        format!("UPDATE {} SET {} = '{}', {} = {} + 1 WHERE {} = {id}", n.posts, c[2], self.text(10), c[4], c[4], c[0])
    }

    fn like_of(&mut self, person: &str, post: &str) -> String {
        let n = self.names;
        let c = &n.like_cols;
        let stars = self.rng.random_range(1..=5);
        let upsert = if self.db.is_pg() {
            format!(
                "ON CONFLICT ({}, {}) DO UPDATE SET {s} = EXCLUDED.{s}, {t} = EXCLUDED.{t}",
                c[0],
                c[1],
                s = c[2],
                t = c[3]
            )
        } else {
            format!("ON DUPLICATE KEY UPDATE {s} = VALUES({s}), {t} = VALUES({t})", s = c[2], t = c[3])
        };
        format!("INSERT INTO {} VALUES ({person}, {post}, {stars}, {}) {upsert}", n.likes, n.now)
    }

    fn like(&mut self) -> Option<Vec<String>> {
        let (person, post) = (self.pick(false)?, self.pick(true)?);
        Some(vec![self.like_of(&person.to_string(), &post.to_string())])
    }

    fn unlike(&mut self) -> Option<Vec<String>> {
        let (person, post) = (self.pick(false)?, self.pick(true)?);
        let (n, c) = (self.names, &self.names.like_cols);
        Some(vec![format!("DELETE FROM {} WHERE {} = {person} AND {} = {post}", n.likes, c[0], c[1])])
    }

    /// A tag this side owns (the table has no conflict column: see mappings/torture).
    fn tag(&mut self) -> String {
        let (n, c) = (self.names, &self.names.tag_cols);
        let code = format!("{}-{}", self.side, self.rng.random_range(0..60));
        let label = self.text(8);
        if self.db.is_pg() {
            format!(
                "INSERT INTO {} VALUES ('{code}', '{label}') ON CONFLICT ({}) DO UPDATE SET {l} = EXCLUDED.{l}",
                n.tags,
                c[0],
                l = c[1]
            )
        } else {
            format!(
                "INSERT INTO {} VALUES ('{code}', '{label}') ON DUPLICATE KEY UPDATE {l} = VALUES({l})",
                n.tags,
                l = c[1]
            )
        }
    }

    fn untag(&mut self) -> String {
        let code = format!("{}-{}", self.side, self.rng.random_range(0..60));
        format!("DELETE FROM {} WHERE {} = '{code}'", self.names.tags, self.names.tag_cols[0])
    }

    /// One transaction across the chain: update a person, update a post, like it.
    fn several(&mut self) -> Option<Vec<String>> {
        let (person, post) = (self.pick(false)?, self.pick(true)?);
        Some(vec![
            self.update_person(person),
            self.update_post(post),
            self.like_of(&person.to_string(), &post.to_string()),
        ])
    }
}
