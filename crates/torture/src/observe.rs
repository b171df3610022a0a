//! What the harness reads off the running system: the consumers' HTTP endpoints and the
//! broker's offsets.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `GET path` on `addr`: the status code and the body, or `None` when nothing answers.
pub async fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt).await.ok().flatten()
}

/// The sum of every sample of `metric` in a Prometheus text page (all label sets), if any.
pub fn metric_sum(page: &str, metric: &str) -> Option<f64> {
    let samples: Vec<f64> = page
        .lines()
        .filter(|l| l.strip_prefix(metric).is_some_and(|rest| rest.starts_with([' ', '{'])))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

fn client(brokers: &str) -> Option<BaseConsumer> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().ok()
}

/// The end offset of partition 0 of `topic` (0 when it cannot be read).
pub fn end_offset(brokers: &str, topic: &str) -> i64 {
    client(brokers).and_then(|c| c.fetch_watermarks(topic, 0, Duration::from_secs(5)).ok()).map_or(0, |(_, high)| high)
}

/// The offset `group` committed on partition 0 of `topic` (0 when none).
pub fn committed(brokers: &str, group: &str, topic: &str) -> i64 {
    let consumer: Option<BaseConsumer> =
        ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", group).create().ok();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(topic, 0);
    consumer
        .and_then(|c| c.committed_offsets(list, Duration::from_secs(5)).ok())
        .and_then(|l| l.find_partition(topic, 0).and_then(|p| p.offset().to_raw()))
        .map_or(0, |o| o.max(0))
}
