//! The tombstone-table contract shared by the writer (which creates and writes the tables and
//! installs the delete triggers) and the mapping (which reads them back from the change stream).
//!
//! A table with a conflict rule and hard deletes has `dualsync_tomb_<table>` beside it: the
//! table's key columns, [`DELETED_AT`] (of the conflict column's type) and [`RECORDED_AT`]. The
//! delete trigger writes a row there for each application delete, stamped with the delete's time
//! at the conflict column's own precision, in the delete's own transaction. A change capture of
//! that table therefore carries each delete's exact time, which the delete event itself lacks
//! (MySQL binlog event times have whole seconds, PostgreSQL's commit times milliseconds).

/// The prefix of every tombstone table's name.
pub const TOMBSTONE_PREFIX: &str = "dualsync_tomb_";

/// The column of a tombstone table that holds the delete's time (or version).
pub const DELETED_AT: &str = "deleted_at";

/// The column of a tombstone table that says when the tombstone was first recorded (for pruning).
pub const RECORDED_AT: &str = "recorded_at";

/// Longest tombstone table name written (MySQL's limit; PostgreSQL cuts names to 63 bytes itself).
const MAX_NAME: usize = 64;

/// The name of `table`'s tombstone table: the prefix and the table's name, cut to [`MAX_NAME`]
/// bytes (at a character boundary).
pub fn table_name(table: &str) -> String {
    cut(format!("{TOMBSTONE_PREFIX}{table}"), MAX_NAME)
}

/// Whether `captured` (a table name as a change capture reports it) is the tombstone table of
/// `table`, on either database (PostgreSQL reports the name cut to 63 bytes).
pub fn is_tombstone_of(captured: &str, table: &str) -> bool {
    captured.starts_with(TOMBSTONE_PREFIX) && cut(captured.to_string(), 63) == cut(table_name(table), 63)
}

fn cut(mut name: String, max: usize) -> String {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_at_a_character_boundary() {
        assert_eq!(table_name("users"), "dualsync_tomb_users");
        let long = "é".repeat(40);
        let name = table_name(&long);
        assert!(name.len() <= MAX_NAME && name.starts_with(TOMBSTONE_PREFIX), "{name}");
        assert!(long.starts_with(&name[TOMBSTONE_PREFIX.len()..]));
        assert!(is_tombstone_of("dualsync_tomb_users", "users"));
        assert!(!is_tombstone_of("dualsync_tomb_users", "user"));
        assert!(!is_tombstone_of("users", "users"));
        let long = "t".repeat(60);
        assert!(is_tombstone_of(&table_name(&long)[..63], &long), "PostgreSQL's 63-byte cut");
    }
}
