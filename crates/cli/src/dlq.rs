//! `dualsync dlq list|show|replay`: inspect dead letters and send them back to their topic.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use dualsync_consumer::{Config, Direction, Pipeline};
use dualsync_dlq::header;
use dualsync_envelope::Decoder;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Arguments of `dualsync dlq`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// One line per dead letter: its offset, where it came from, the stage and the error.
    List(Topic),
    /// One dead letter in full: its headers and the event as the engine decodes it.
    Show {
        #[command(flatten)]
        topic: Topic,
        /// The dead letter's offset in the dead-letter topic.
        #[arg(long)]
        offset: i64,
    },
    /// Once the cause is fixed: produce dead letters again to the partition they were read from,
    /// original key and value unchanged, for the consumer to apply like any event; or, with
    /// `--apply`, apply them directly to the target database.
    Replay {
        #[command(flatten)]
        topic: Topic,
        /// Only this dead letter (default: all of them).
        #[arg(long)]
        offset: Option<i64>,
        /// Apply them directly with this consumer configuration (mapping and target database).
        #[arg(long, requires = "direction")]
        apply: Option<std::path::PathBuf>,
        /// The consumer's direction, with `--apply`.
        #[arg(long, value_enum)]
        direction: Option<DirectionArg>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DirectionArg {
    LegacyToRevamp,
    RevampToLegacy,
}

/// The dead-letter topic.
#[derive(Debug, clap::Args)]
struct Topic {
    /// Kafka bootstrap servers.
    #[arg(long, env = "DUALSYNC_BROKERS")]
    brokers: String,
    /// The dead-letter topic.
    #[arg(long)]
    topic: String,
}

/// Runs the `dlq` subcommand.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        Command::List(topic) => {
            let letters = read_all(topic)?;
            for letter in &letters {
                println!(
                    "{}\t{}[{}]@{}\t{}\t{}",
                    letter.offset(),
                    text(letter, header::TOPIC),
                    text(letter, header::PARTITION),
                    text(letter, header::OFFSET),
                    text(letter, header::STAGE),
                    text(letter, header::ERROR_MESSAGE)
                );
            }
            eprintln!("{} dead letters in {}", letters.len(), topic.topic);
        }
        Command::Show { topic, offset } => {
            let letter = one(topic, *offset)?;
            if let Some(headers) = letter.headers() {
                for h in headers.iter() {
                    println!("{}: {}", h.key, h.value.map(String::from_utf8_lossy).unwrap_or_default());
                }
            }
            match Decoder::default().decode(letter.key(), letter.payload()) {
                Ok(decoded) => println!("decoded: {decoded:?}"),
                Err(e) => println!("decoded: cannot decode: {e}"),
            }
        }
        Command::Replay { topic, offset, apply, direction } => {
            let letters = match offset {
                Some(offset) => vec![one(topic, *offset)?],
                None => read_all(topic)?,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            match (apply, direction) {
                (Some(config), Some(direction)) => {
                    let direction = match direction {
                        DirectionArg::LegacyToRevamp => Direction::LegacyToRevamp,
                        DirectionArg::RevampToLegacy => Direction::RevampToLegacy,
                    };
                    let config = Config::load(config)?;
                    let failed = runtime.block_on(apply_directly(&config, direction, &letters))?;
                    if failed > 0 {
                        eprintln!("{failed} of {} dead letters could not be applied", letters.len());
                        return Ok(ExitCode::FAILURE);
                    }
                    println!("applied {} dead letters", letters.len());
                }
                _ => {
                    runtime.block_on(replay(&topic.brokers, &letters))?;
                    println!("replayed {} dead letters", letters.len());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn text(letter: &OwnedMessage, name: &str) -> String {
    letter
        .headers()
        .and_then(|headers| headers.iter().find(|h| h.key == name).and_then(|h| h.value))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn one(topic: &Topic, offset: i64) -> anyhow::Result<OwnedMessage> {
    read_all(topic)?.into_iter().find(|m| m.offset() == offset).with_context(|| {
        format!("{} has no dead letter at offset {offset}; `dualsync dlq list` shows them", topic.topic)
    })
}

/// Every message of the topic, from the beginning to the end it had when called.
fn read_all(topic: &Topic) -> anyhow::Result<Vec<OwnedMessage>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &topic.brokers)
        .set("group.id", "dualsync-dlq-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a Kafka consumer")?;
    let timeout = Duration::from_secs(30);
    let metadata = consumer.fetch_metadata(Some(&topic.topic), timeout).context("reading the topic's metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic.topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    anyhow::ensure!(!partitions.is_empty(), "topic {} does not exist", topic.topic);
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0;
    let mut ends = Vec::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(&topic.topic, partition, timeout).context("reading watermarks")?;
        if high > low {
            assignment.add_partition_offset(&topic.topic, partition, Offset::Beginning)?;
            remaining += 1;
            ends.push((partition, high));
        }
    }
    let mut out = Vec::new();
    if remaining == 0 {
        return Ok(out);
    }
    consumer.assign(&assignment)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while remaining > 0 {
        anyhow::ensure!(std::time::Instant::now() < deadline, "reading {} timed out", topic.topic);
        let Some(message) = consumer.poll(Duration::from_millis(500)) else { continue };
        let message = message.context("reading the dead-letter topic")?;
        if ends.iter().any(|(p, high)| *p == message.partition() && message.offset() + 1 == *high) {
            remaining -= 1;
        }
        out.push(message.detach());
    }
    out.sort_by_key(|m| (m.partition(), m.offset()));
    Ok(out)
}

/// Applies each dead letter through the consumer's pipeline; prints one line each and returns how
/// many failed.
async fn apply_directly(config: &Config, direction: Direction, letters: &[OwnedMessage]) -> anyhow::Result<usize> {
    let mut pipeline = Pipeline::new(config, direction).await?;
    let mut failed = 0;
    for letter in letters {
        let original = text(letter, dualsync_dlq::header::TOPIC);
        match pipeline.apply(direction, &original, letter.key(), letter.payload()).await {
            Ok(outcome) => println!("{}: {outcome}", letter.offset()),
            Err(error) => {
                failed += 1;
                println!("{}: {error}", letter.offset());
            }
        }
    }
    Ok(failed)
}

async fn replay(brokers: &str, letters: &[OwnedMessage]) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .context("creating a Kafka producer")?;
    for letter in letters {
        let topic = text(letter, header::TOPIC);
        let partition: i32 = text(letter, header::PARTITION)
            .parse()
            .with_context(|| format!("dead letter at offset {} has no original partition header", letter.offset()))?;
        anyhow::ensure!(!topic.is_empty(), "dead letter at offset {} has no original topic header", letter.offset());
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).partition(partition);
        if let Some(key) = letter.key() {
            record = record.key(key);
        }
        if let Some(value) = letter.payload() {
            record = record.payload(value);
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("replaying offset {} to {topic}: {e}", letter.offset()))?;
    }
    Ok(())
}
