//! Debezium change events, decoded.
//!
//! A Kafka record written by a Debezium connector through the JSON converter (with
//! `schemas.enable=true` or `false`) becomes a [`Decoded`]: a typed [`ChangeEvent`] or a tombstone.
//! This crate is pure: it reads bytes and returns values, and never touches the network.
//!
//! ```
//! let value = br#"{"op":"c","before":null,"after":{"id":1,"name":"ada"},
//!                  "source":{"connector":"mysql","db":"shop","table":"users"},"ts_ms":5}"#;
//! let decoded = dualsync_envelope::decode(None, Some(value)).unwrap();
//! let event = decoded.change().unwrap();
//! assert_eq!(event.op, dualsync_envelope::Op::Create);
//! assert_eq!(event.after.as_ref().unwrap().get("id"), Some(&dualsync_envelope::Value::Int(1)));
//! ```

mod decode;
mod error;
mod event;
mod value;

pub use decode::decode;
pub use error::DecodeError;
pub use event::{ChangeEvent, Decoded, Op, Row, Source};
pub use value::Value;
