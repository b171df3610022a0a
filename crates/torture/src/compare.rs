//! Both sides compared row by row through the mapping (mappings/torture/torture.yaml): each
//! table pair is read in the same column order, with the legacy side's values spelled the
//! revamp's way (`status` active/banned → A/B), times as UTC text with microseconds, and the
//! large column as its MD5.

use std::collections::BTreeMap;

use crate::db::{Db, Rows};

/// One table pair: its name in the report, how many leading columns are the key, and the
/// query on each side.
struct Pair {
    name: &'static str,
    key_columns: usize,
    legacy: &'static str,
    revamp: &'static str,
}

const PAIRS: [Pair; 4] = [
    Pair {
        name: "people/members",
        key_columns: 1,
        legacy: "SELECT id::text, email, full_name, CASE status WHEN 'active' THEN 'A' WHEN 'banned' THEN 'B' ELSE status END, \
                 md5(bio), to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM torture.people",
        revamp: "SELECT CAST(member_id AS CHAR), mail, name, state, MD5(biography), \
                 DATE_FORMAT(modified_at, '%Y-%m-%d %H:%i:%s.%f') FROM torture_revamp.members",
    },
    Pair {
        name: "posts/articles",
        key_columns: 1,
        legacy: "SELECT id::text, person_id::text, title, body, version::text FROM torture.posts",
        revamp: "SELECT CAST(article_id AS CHAR), CAST(member_id AS CHAR), headline, content, CAST(revision AS CHAR) \
                 FROM torture_revamp.articles",
    },
    Pair {
        name: "likes/reactions",
        key_columns: 2,
        legacy: "SELECT person_id::text, post_id::text, stars::text, \
                 to_char(liked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM torture.likes",
        revamp: "SELECT CAST(member_id AS CHAR), CAST(article_id AS CHAR), CAST(rating AS CHAR), \
                 DATE_FORMAT(reacted_at, '%Y-%m-%d %H:%i:%s.%f') FROM torture_revamp.reactions",
    },
    Pair {
        name: "tags/labels",
        key_columns: 1,
        legacy: "SELECT code, label FROM torture.tags",
        revamp: "SELECT code, text FROM torture_revamp.labels",
    },
];

/// The outcome of one comparison.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Rows compared (the union of both sides' keys).
    pub rows: usize,
    /// One line per mismatch.
    pub mismatches: Vec<String>,
}

/// Compares every table pair.
pub async fn compare(legacy: &Db, revamp: &Db) -> Result<Comparison, sqlx::Error> {
    let mut outcome = Comparison::default();
    for pair in &PAIRS {
        let (left, right) = (legacy.rows(pair.legacy).await?, revamp.rows(pair.revamp).await?);
        let (left, right) = (keyed(left, pair.key_columns), keyed(right, pair.key_columns));
        let keys: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
        outcome.rows += keys.len();
        for key in keys {
            let line = match (left.get(key), right.get(key)) {
                (Some(_), None) => format!("{} {key}: on legacy only", pair.name),
                (None, Some(_)) => format!("{} {key}: on revamp only", pair.name),
                (Some(l), Some(r)) if l != r => format!("{} {key}: legacy {} / revamp {}", pair.name, show(l), show(r)),
                _ => continue,
            };
            outcome.mismatches.push(line);
        }
    }
    Ok(outcome)
}

fn keyed(rows: Rows, key_columns: usize) -> BTreeMap<String, Vec<Option<String>>> {
    rows.into_iter()
        .map(|row| {
            let key = row[..key_columns].iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>().join(",");
            (key, row[key_columns..].to_vec())
        })
        .collect()
}

fn show(row: &[Option<String>]) -> String {
    let values: Vec<String> = row
        .iter()
        .map(|v| match v {
            None => "NULL".into(),
            Some(v) if v.len() > 40 => format!("{}…", &v[..40]),
            Some(v) => v.clone(),
        })
        .collect();
    format!("({})", values.join(", "))
}
