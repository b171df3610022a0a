//! The Kafka → database runtime behind the two consumer binaries.
//!
//! A [`Consumer`] reads Debezium change events from Kafka topics, decodes them
//! ([`dualsync_envelope`]), maps them to the other side ([`dualsync_mapping`]) and writes them
//! there in batches ([`dualsync_writer`]). A Kafka offset is stored only after the batch holding
//! its event is committed in the target database, so a crash re-delivers, and the idempotent
//! writes make re-delivery harmless.
//!
//! The binaries `legacy-to-revamp` and `revamp-to-legacy` are [`cli::main`] with a fixed
//! [`Direction`].

pub mod cli;
mod collision;
mod config;
mod http;
mod parked;
mod policy;
mod runtime;
mod worker;

pub use config::{
    BatchConfig, BinaryHandling, Config, ConfigError, DebeziumConfig, DecimalHandling, DlqConfig, KafkaConfig,
    TargetConfig,
};
pub use dualsync_mapping::Direction;
pub use http::Health;
pub use runtime::{Consumer, ConsumerError, Stats};
pub use worker::{Pipeline, table_policy};
