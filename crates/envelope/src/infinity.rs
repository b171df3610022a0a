//! What Debezium's PostgreSQL connector (3.6) sends for `infinity` and `-infinity`, found with
//! real Debezium 3.6.3: the decoder reads these, and dualsync's capture writes them, so its
//! records are the connector's.

/// A `date` of `infinity`: PostgreSQL's own day number for it (the int32 maximum, counted from
/// 2000-01-01) moved to 1970-01-01 in 32-bit arithmetic, which wraps around.
pub const DATE_INFINITY: i32 = -2_147_472_692;
/// A `date` of `-infinity` (the int32 minimum, moved and wrapped the same way).
pub const DATE_NEG_INFINITY: i32 = -2_147_472_691;
/// A `timestamp` of `infinity`, in microseconds (`io.debezium.time.MicroTimestamp`; Debezium's
/// documentation, "temporal types"). In milliseconds (`io.debezium.time.Timestamp`) it is this
/// divided by 1,000.
pub const TIMESTAMP_MICROS_INFINITY: i64 = 9_223_372_036_825_200_000;
/// A `timestamp` of `-infinity`, in microseconds; in milliseconds, this divided by 1,000.
pub const TIMESTAMP_MICROS_NEG_INFINITY: i64 = -9_223_372_036_832_400_000;
