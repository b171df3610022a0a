//! Loop prevention by source flag.
//!
//! Each synced table has, on each side, a column that says who made the last change: the
//! application (`local` value) or dualsync (`dualsync` value). dualsync stamps its own value on
//! every row it writes ([`stamp`]); a change whose after-image carries that value was caused by
//! dualsync and is not sent back ([`is_echo`]). Deletes are never judged by a flag: PostgreSQL's
//! default replica identity does not even send the before-image, and deletes end loops by
//! themselves because deleting a missing row changes nothing.
//!
//! This crate is pure: it looks at decoded events and rows, nothing else.

use dualsync_envelope::{ChangeEvent, Op, Row, Value};

/// The source-flag column of one side and the value that marks dualsync's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFlag<'a> {
    /// The column.
    pub column: &'a str,
    /// The value meaning "written by dualsync".
    pub dualsync: &'a str,
}

/// Whether `event` (captured on the side `flag` belongs to) is an echo of dualsync's own write:
/// a create, update or snapshot read whose after-image carries the dualsync value.
pub fn is_echo(event: &ChangeEvent, flag: SourceFlag<'_>) -> bool {
    if !matches!(event.op, Op::Create | Op::Update | Op::Read) {
        return false;
    }
    match event.after.as_ref().and_then(|row| row.get(flag.column)) {
        Some(Value::Text(v) | Value::Enum(v)) => v == flag.dualsync,
        _ => false,
    }
}

/// Sets the flag column of a row about to be written (on the side `flag` belongs to) to the
/// dualsync value, adding the column if the row lacks it.
pub fn stamp(row: &mut Row, flag: SourceFlag<'_>) {
    row.set(flag.column, Value::Text(flag.dualsync.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAG: SourceFlag<'static> = SourceFlag { column: "origin", dualsync: "dualsync" };

    fn event(op: Op, origin: Option<&str>) -> ChangeEvent {
        let mut event = ChangeEvent::new(op);
        let mut row = Row(vec![("id".into(), Value::Int(1))]);
        if let Some(origin) = origin {
            row.0.push(("origin".into(), Value::Text(origin.into())));
        }
        if op == Op::Delete {
            event.before = Some(row);
        } else {
            event.after = Some(row);
        }
        event
    }

    #[test]
    fn echoes_are_creates_and_updates_carrying_the_dualsync_value() {
        assert!(is_echo(&event(Op::Update, Some("dualsync")), FLAG));
        assert!(is_echo(&event(Op::Create, Some("dualsync")), FLAG));
        assert!(!is_echo(&event(Op::Update, Some("legacy")), FLAG));
        assert!(!is_echo(&event(Op::Update, None), FLAG));
        // A delete whose before-image was written by dualsync is still a real delete.
        assert!(!is_echo(&event(Op::Delete, Some("dualsync")), FLAG));
    }

    #[test]
    fn stamping_replaces_or_adds_the_flag() {
        let mut row = Row(vec![("id".into(), Value::Int(1)), ("origin".into(), Value::Text("legacy".into()))]);
        stamp(&mut row, FLAG);
        assert_eq!(row.get("origin"), Some(&Value::Text("dualsync".into())));
        let mut bare = Row(vec![("id".into(), Value::Int(1))]);
        stamp(&mut bare, FLAG);
        assert_eq!(bare.0, vec![("id".into(), Value::Int(1)), ("origin".into(), Value::Text("dualsync".into()))]);
    }
}
