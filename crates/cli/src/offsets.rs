//! `dualsync offsets`: the end offset of each partition of some topics, so that an operator's
//! script can tell whether topics still grow (an echo between the two sides would keep them
//! growing).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

/// Arguments of `dualsync offsets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, env = "DUALSYNC_BROKERS")]
    brokers: String,
    /// The topics; one that does not exist yet is printed with partition `-` and offset 0.
    #[arg(required = true)]
    topics: Vec<String>,
}

/// Prints `topic<TAB>partition<TAB>end offset`, one line per partition, topics in the order
/// given and partitions in order.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", "dualsync-offsets")
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "false")
        .create()
        .context("creating a Kafka consumer")?;
    let timeout = Duration::from_secs(30);
    let metadata = consumer.fetch_metadata(None, timeout).context("reading the topics' metadata")?;
    for topic in &args.topics {
        let partitions: Vec<i32> = (metadata.topics().iter())
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            .unwrap_or_default();
        if partitions.is_empty() {
            println!("{topic}\t-\t0");
        }
        for partition in partitions {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .with_context(|| format!("reading the end of {topic}[{partition}]"))?;
            println!("{topic}\t{partition}\t{high}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
