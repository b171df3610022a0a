//! Debezium change events, decoded losslessly.
//!
//! A Kafka record written by a Debezium connector (MySQL or PostgreSQL, 1.x to 3.x) through the
//! JSON converter becomes a [`Decoded`]: a typed [`ChangeEvent`], a tombstone, a transaction
//! marker, a heartbeat or a schema change. Values keep their exact meaning ([`Value`]): decimals
//! of any precision, unsigned 64-bit integers, timestamps to the nanosecond, and an explicit
//! [`Value::Unavailable`] for unchanged TOAST columns. This crate is pure: it reads bytes and
//! returns values, and never touches the network.
//!
//! ```
//! use dualsync_envelope::{Decoder, Op, Value};
//! let value = br#"{"op":"c","before":null,"after":{"id":1,"name":"ada"},
//!                  "source":{"connector":"mysql","db":"shop","table":"users"},"ts_ms":5}"#;
//! let decoded = Decoder::default().decode(None, Some(value)).unwrap();
//! let event = decoded.change().unwrap();
//! assert_eq!(event.op, Op::Create);
//! assert_eq!(event.after.as_ref().unwrap().get("id"), Some(&Value::Int(1)));
//! ```

mod convert;
mod decode;
mod error;
mod event;
pub mod infinity;
mod raw;
mod schema;
mod settings;
mod value;

pub use decode::{Decoder, decode};
pub use error::DecodeError;
pub use event::{ChangeEvent, Decoded, LogicalMessage, Op, Row, Source, Transaction, TransactionMarker};
pub use schema::{FieldType, Shape};
pub use settings::{BinaryMode, ConnectorSettings, DecimalMode, TypeHints};
pub use value::{Interval, Value};
