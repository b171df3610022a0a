//! How far the initial snapshot got, stored with the offsets so a restarted capture resumes it.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Snapshot progress: finished tables, and within the current one, the last key read
/// (as text, in key-column order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The snapshot is complete (or was not wanted): only stream.
    pub done: bool,
    /// Tables (`namespace.table`) read completely.
    #[serde(default)]
    pub tables_done: Vec<String>,
    /// The table being read.
    #[serde(default)]
    pub current: Option<String>,
    /// The last key read in `current`.
    #[serde(default)]
    pub after: Option<Vec<String>>,
}

impl Progress {
    /// The progress recorded in a stored offset (`{"snapshot": …}`), or none yet.
    pub fn from_offset(offset: Option<&Json>) -> Progress {
        offset.and_then(|o| serde_json::from_value(o["snapshot"].clone()).ok()).unwrap_or_default()
    }

    /// Whether `table` was read completely.
    pub fn finished(&self, table: &str) -> bool {
        self.tables_done.iter().any(|t| t == table)
    }

    /// The key to continue `table` after, when an earlier run stopped inside it.
    pub fn resume_after(&self, table: &str) -> Option<Vec<String>> {
        if self.current.as_deref() == Some(table) { self.after.clone() } else { None }
    }

    /// Records a chunk of `table` read up to `last_key`.
    pub fn chunk_read(&mut self, table: &str, last_key: Option<Vec<String>>) {
        self.current = Some(table.to_string());
        self.after = last_key;
    }

    /// Records `table` as read completely.
    pub fn table_read(&mut self, table: &str) {
        self.tables_done.push(table.to_string());
        self.current = None;
        self.after = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_tables_move_the_progress_on() {
        let mut progress = Progress::default();
        progress.chunk_read("s.a", Some(vec!["10".into()]));
        assert_eq!(progress.resume_after("s.a"), Some(vec!["10".into()]));
        assert_eq!(progress.resume_after("s.b"), None);
        progress.table_read("s.a");
        assert!(progress.finished("s.a") && !progress.finished("s.b"));
        assert_eq!(progress.resume_after("s.a"), None);
    }

    #[test]
    fn progress_round_trips_through_the_offset() {
        let progress = Progress {
            done: false,
            tables_done: vec!["s.a".into()],
            current: Some("s.b".into()),
            after: Some(vec!["42".into()]),
        };
        let offset = serde_json::json!({"snapshot": progress, "lsn": null});
        assert_eq!(Progress::from_offset(Some(&offset)), progress);
        assert_eq!(Progress::from_offset(None), Progress::default());
    }
}
