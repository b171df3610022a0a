//! Conflict resolution for two-way sync, as a policy the writer compiles into its SQL.
//!
//! Both sides stay live, so a change can arrive after a newer change to the same row was made on
//! the target side. The decision is taken inside the database write, atomically with it: an
//! incoming row replaces the stored one only when its conflict column is *strictly newer*
//! (timestamp) or *higher* (version); on a tie the configured origin wins. A stored row whose
//! conflict column is NULL always yields. This crate is pure: it states the rule; the writer
//! renders it as `ON CONFLICT … DO UPDATE … WHERE` (PostgreSQL) or per-column `IF(…)` in
//! `ON DUPLICATE KEY UPDATE` (MySQL).

/// What the conflict column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A modification timestamp: the strictly newer change wins.
    Timestamp,
    /// A version number: the higher version wins.
    Version,
}

/// The rule for one target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Timestamp or version.
    pub kind: Kind,
    /// The conflict column on the target side.
    pub column: String,
    /// Whether the incoming change wins when both sides hold the same value (its side is the
    /// configured tie winner).
    pub incoming_wins_ties: bool,
}

impl Guard {
    /// The comparison that lets an incoming change through, written over two SQL expressions:
    /// the stored value and the incoming value. `stored IS NULL OR stored < incoming` (or `<=`
    /// when the incoming side wins ties).
    pub fn condition(&self, stored: &str, incoming: &str) -> String {
        let op = if self.incoming_wins_ties { "<=" } else { "<" };
        format!("({stored} IS NULL OR {stored} {op} {incoming})")
    }

    /// Whether an incoming value beats a stored one, for values compared outside SQL
    /// (`None` is NULL). Agrees with [`Guard::condition`].
    pub fn incoming_wins<T: PartialOrd>(&self, stored: Option<&T>, incoming: Option<&T>) -> bool {
        match (stored, incoming) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(s), Some(i)) => s < i || (self.incoming_wins_ties && s == i),
        }
    }
}

/// What a snapshot row (the bootstrap of two non-empty sides) does when the target already holds a
/// *different* row under its key: two applications each created their own entity with the same id
/// before sync began. Rows only one side holds are always copied; identical rows are left as they
/// are. Resolved per direction from the mapping's `sync.bootstrap`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnCollision {
    /// Leave both rows as they are and report the collision (metric, log, dead letter with both
    /// rows) until the operator chooses a policy (the default: two entities are never merged).
    #[default]
    Refuse,
    /// The incoming (source side's) row replaces the stored one, whatever the conflict column says.
    Overwrite,
    /// The stored (target side's) row stays; its own snapshot row carries it the other way.
    Keep,
    /// The conflict rule decides, as for live changes; a table without one refuses.
    Newest,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(ties: bool) -> Guard {
        Guard { kind: Kind::Timestamp, column: "updated_at".into(), incoming_wins_ties: ties }
    }

    #[test]
    fn strictly_newer_wins_and_ties_go_to_the_configured_origin() {
        let (strict, ties) = (guard(false), guard(true));
        assert!(strict.incoming_wins(Some(&1), Some(&2)));
        assert!(!strict.incoming_wins(Some(&2), Some(&2)));
        assert!(ties.incoming_wins(Some(&2), Some(&2)));
        assert!(!ties.incoming_wins(Some(&3), Some(&2)));
        assert!(strict.incoming_wins(None, Some(&1)));
        assert!(!strict.incoming_wins(Some(&1), None));
        assert_eq!(strict.condition("t.c", "EXCLUDED.c"), "(t.c IS NULL OR t.c < EXCLUDED.c)");
        assert_eq!(ties.condition("`c`", "VALUES(`c`)"), "(`c` IS NULL OR `c` <= VALUES(`c`))");
    }
}
