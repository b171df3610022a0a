//! Prints a topic's records as JSON lines, for manual tests and for `dualsync decode`:
//! `dump-jsonl BROKERS TOPIC`. Each line is `{"key": …, "value": …}` (the mirror of
//! `produce-jsonl`); a value that is not JSON is printed as a string, a tombstone as `null`.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use serde_json::Value;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic] = args.as_slice() else {
        return Err("usage: dump-jsonl BROKERS TOPIC".into());
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", dualsync_testkit::unique("dump"))
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let (_, end) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10)).map_err(|e| format!("{topic}: {e}"))?;
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, rdkafka::Offset::Beginning).map_err(|e| e.to_string())?;
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let json = |bytes: Option<&[u8]>| match bytes {
        None => Value::Null,
        Some(b) => serde_json::from_slice(b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into())),
    };
    let mut next = 0;
    while next < end {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => {
                next = m.offset() + 1;
                println!("{}", serde_json::json!({"key": json(m.key()), "value": json(m.payload())}));
            }
            Some(Err(e)) => return Err(format!("{topic}: {e}")),
            None => return Err(format!("{topic}: no record after offset {next} in 10 s (end {end})")),
        }
    }
    Ok(())
}
