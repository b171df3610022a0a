//! Decode throughput for a 12-column row, with and without schema, on one core.
//!
//! `cargo bench -p dualsync-envelope --bench decode` prints events/s and MB/s for each form and
//! the ratio to parsing the same bytes into a `serde_json::Value` (the floor any JSON decoder
//! pays), measured in the same run so the shared machine's noise cancels out.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dualsync_envelope::Decoder;
use serde_json::json;

const EVENTS: usize = 2_000;

fn row(i: usize) -> serde_json::Value {
    json!({
        "id": i, "name": format!("product {i}"), "description": "A sturdy thing for everyday use",
        "price": "AeJA", "qty": 17, "weight": 1.25, "active": true,
        "created_at": 1_700_000_000_123_456i64 + i as i64, "updated_at": "2023-11-14T22:13:20.123456Z",
        "uuid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "status": "active", "attributes": "{\"colour\": \"red\"}"
    })
}

fn row_schema(name: &str) -> serde_json::Value {
    json!({"type": "struct", "optional": true, "name": "shop.public.products.Value", "field": name, "fields": [
        {"type": "int32", "optional": false, "field": "id"},
        {"type": "string", "optional": false, "field": "name"},
        {"type": "string", "optional": true, "field": "description"},
        {"type": "bytes", "optional": true, "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
         "parameters": {"scale": "2", "connect.decimal.precision": "10"}, "field": "price"},
        {"type": "int32", "optional": true, "field": "qty"},
        {"type": "double", "optional": true, "field": "weight"},
        {"type": "boolean", "optional": true, "field": "active"},
        {"type": "int64", "optional": true, "name": "io.debezium.time.MicroTimestamp", "version": 1, "field": "created_at"},
        {"type": "string", "optional": true, "name": "io.debezium.time.ZonedTimestamp", "version": 1, "field": "updated_at"},
        {"type": "string", "optional": true, "name": "io.debezium.data.Uuid", "version": 1, "field": "uuid"},
        {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
         "parameters": {"allowed": "active,retired"}, "field": "status"},
        {"type": "string", "optional": true, "name": "io.debezium.data.Json", "version": 1, "field": "attributes"}
    ]})
}

fn envelope(i: usize) -> serde_json::Value {
    json!({
        "before": null, "after": row(i),
        "source": {"version": "2.7.0.Final", "connector": "postgresql", "name": "shop", "ts_ms": 1_700_000_000_000i64 + i as i64,
                   "snapshot": "false", "db": "shop", "sequence": "[null,\"23911624\"]", "schema": "public",
                   "table": "products", "txId": 490 + i, "lsn": 23911624 + i, "xmin": null},
        "op": "c", "ts_ms": 1_700_000_000_100i64 + i as i64, "transaction": null
    })
}

fn with_schema(i: usize) -> serde_json::Value {
    json!({"schema": {"type": "struct", "optional": false, "name": "shop.public.products.Envelope", "version": 1, "fields": [
        row_schema("before"), row_schema("after"),
        {"type": "struct", "optional": false, "name": "io.debezium.connector.postgresql.Source", "field": "source", "fields": [
            {"type": "string", "optional": false, "field": "version"}, {"type": "string", "optional": false, "field": "connector"},
            {"type": "string", "optional": false, "field": "name"}, {"type": "int64", "optional": false, "field": "ts_ms"},
            {"type": "string", "optional": true, "name": "io.debezium.data.Enum", "version": 1,
             "parameters": {"allowed": "true,last,false,incremental"}, "default": "false", "field": "snapshot"},
            {"type": "string", "optional": false, "field": "db"}, {"type": "string", "optional": true, "field": "sequence"},
            {"type": "string", "optional": false, "field": "schema"}, {"type": "string", "optional": false, "field": "table"},
            {"type": "int64", "optional": true, "field": "txId"}, {"type": "int64", "optional": true, "field": "lsn"},
            {"type": "int64", "optional": true, "field": "xmin"}]},
        {"type": "string", "optional": false, "field": "op"}, {"type": "int64", "optional": true, "field": "ts_ms"},
        {"type": "struct", "optional": true, "name": "event.block", "version": 1, "field": "transaction", "fields": [
            {"type": "string", "optional": false, "field": "id"}, {"type": "int64", "optional": false, "field": "total_order"},
            {"type": "int64", "optional": false, "field": "data_collection_order"}]}
    ]}, "payload": envelope(i)})
}

/// Runs `work` over all records repeatedly for about `budget`; returns records per second.
fn rate(records: &[Vec<u8>], budget: Duration, mut work: impl FnMut(&[u8])) -> f64 {
    for r in records.iter().take(200) {
        work(r);
    }
    let started = Instant::now();
    let mut done = 0usize;
    while started.elapsed() < budget {
        for r in records {
            work(r);
        }
        done += records.len();
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let budget = Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    println!("decode throughput, 12-column row, one core ({EVENTS} distinct events, {budget:?} per measurement)");
    for (form, make) in [("without schema", envelope as fn(usize) -> serde_json::Value), ("with schema", with_schema)] {
        let records: Vec<Vec<u8>> = (0..EVENTS).map(|i| make(i).to_string().into_bytes()).collect();
        let mean_bytes = records.iter().map(Vec::len).sum::<usize>() as f64 / records.len() as f64;
        let mut decoder = Decoder::default();
        for r in &records {
            decoder.decode(None, Some(r)).expect("bench records decode");
        }
        let baseline = rate(&records, budget, |r| {
            black_box(serde_json::from_slice::<serde_json::Value>(r).expect("JSON"));
        });
        let decoded = rate(&records, budget, |r| {
            black_box(decoder.decode(None, Some(r)).expect("decodes"));
        });
        println!(
            "{form:>15}: {decoded:>9.0} events/s {:>6.1} MB/s ({mean_bytes:.0} B/event) | serde_json::Value parse {baseline:>9.0}/s | ratio {:.2}",
            decoded * mean_bytes / 1e6,
            decoded / baseline
        );
    }
}
