//! The ingest queue against a real NATS server: a batch is stored sealed, published twice under
//! one id it is queued once, a batch not acknowledged in time is delivered again, and a worker's
//! answer reaches the publisher. Skips (or, with `TESSERA_REQUIRE_NATS`, fails) without NATS.

use std::time::Duration;

use chrono::Utc;
use tessera_jetstream::{BatchId, IngestBatch, IngestQueue, WorkerConfig};
use tessera_model::{Attribute, IdKind, Identifier, RecordKey, SourceId, SourceRecord};
use tessera_seal::Keyring;

fn batch(keys: &[&str]) -> IngestBatch {
    let source = SourceId::new("tax").unwrap();
    let mut batch = IngestBatch::new(source.clone(), "import:test".into());
    for key in keys {
        batch.push(&SourceRecord {
            source: source.clone(),
            key: RecordKey::new(key).unwrap(),
            observed_at: Utc::now(),
            attributes: vec![Attribute::Identifier(Identifier::parse(
                IdKind::Snils,
                "112-233-445 95",
            ))],
        });
    }
    batch
}

#[tokio::test]
async fn a_batch_is_queued_once_sealed_redelivered_until_acked_and_answered() {
    let Some(nats) = tessera_jetstream::testing::nats("queue::redelivery").await else {
        return;
    };
    let keyring = std::sync::Arc::new(Keyring::generate(Utc::now()));
    let queue = IngestQueue::open(&nats).await.unwrap();
    let first = batch(&["7701", "7702"]);
    let id = BatchId::of_content(&first);
    let published = queue.publish(&keyring, &first, &id).await.unwrap();
    assert!(!published.duplicate);
    // The same rows read again (later, so with other observation times) are the same batch.
    let again = queue
        .publish(&keyring, &batch(&["7701", "7702"]), &id)
        .await
        .unwrap();
    assert!(again.duplicate, "a re-published batch must be dropped");
    assert_eq!(queue.backlog().await.unwrap().messages, 1);

    let config = WorkerConfig {
        ack_wait: Duration::from_secs(1),
        max_ack_pending: 4,
    };
    let worker = queue.worker(&config).await.unwrap();
    let delivery = worker.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(delivery.attempt(), 1);
    assert_eq!(delivery.id().unwrap(), id);
    let opened = delivery.open(&keyring).unwrap();
    assert_eq!(opened.to_records()[1].key.as_str(), "7702");
    // Sealed: another keyring cannot open it.
    assert!(delivery.open(&Keyring::generate(Utc::now())).is_err());
    drop(delivery);

    // Not acknowledged: after ack_wait it comes again, and once acknowledged it is gone.
    let redelivered = worker.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(redelivered.attempt(), 2);
    redelivered.ack().await.unwrap();
    assert_eq!(queue.backlog().await.unwrap().messages, 0);
    assert!(
        worker
            .next(Duration::from_millis(1500))
            .await
            .unwrap()
            .is_none()
    );

    // An online batch: the worker's answer reaches the publisher.
    let worker_keyring = keyring.clone();
    let answering = tokio::spawn(async move {
        let delivery = worker.next(Duration::from_secs(5)).await.unwrap().unwrap();
        let records = delivery.open(&worker_keyring).unwrap().records.len();
        delivery.reply(&worker_keyring, &records).await.unwrap();
        delivery.ack().await.unwrap();
    });
    let (_, answer) = queue
        .submit::<usize>(&keyring, &batch(&["7703"]), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer, Some(1));
    answering.await.unwrap();
    assert_eq!(queue.backlog().await.unwrap().messages, 0);
}
