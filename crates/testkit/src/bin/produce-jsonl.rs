//! Produces Kafka records from JSON lines, for demos and manual tests:
//! `produce-jsonl BROKERS TOPIC FILE`. Each line is `{"key": …, "value": …}`; a `null` value is a
//! tombstone. Keys and values are written as compact JSON, as Debezium's JSON converter does.

use dualsync_testkit::{Record, produce_to};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, file] = args.as_slice() else {
        return Err("usage: produce-jsonl BROKERS TOPIC FILE".into());
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut records: Vec<Record> = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let json: Value = serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", n + 1))?;
        let part = |name: &str| match json.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.to_string().into_bytes()),
        };
        records.push((part("key"), part("value")));
    }
    produce_to(brokers, topic, &records).await;
    println!("produced {} records to {topic}", records.len());
    Ok(())
}
