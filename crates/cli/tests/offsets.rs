//! `dualsync offsets` against the real broker.

use std::process::Command;

use dualsync_testkit::{create_topic, kafka_brokers, produce_partitioned, unique};

#[tokio::test]
async fn prints_each_partitions_end_and_missing_topics() {
    let (topic, missing) = (unique("legacy.shop.offsets"), unique("legacy.shop.none"));
    create_topic(&topic, 2).await;
    let record = || (Some(b"{\"id\":1}".to_vec()), Some(b"{}".to_vec()));
    produce_partitioned(&topic, &[(0, record()), (1, record()), (1, record())]).await;
    let output = Command::new(env!("CARGO_BIN_EXE_dualsync"))
        .args(["offsets", "--brokers", &kafka_brokers(), &topic, &missing])
        .output()
        .expect("run dualsync");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{topic}\t0\t1\n{topic}\t1\t2\n{missing}\t-\t0\n"));
}
