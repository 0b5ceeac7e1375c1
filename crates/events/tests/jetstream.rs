//! The JetStream side of delivery against a real NATS server: a repeated publish of one event
//! (a dispatcher that died after sending and before moving its cursor) is stored once.

use tessera_events::{JetStreamSink, event_stream, event_subject_prefix};

#[tokio::test]
async fn a_repeated_event_is_stored_once() {
    let test = "a_repeated_event_is_stored_once";
    let Some(nats) = tessera_jetstream::testing::nats(test).await else {
        return;
    };
    // A prefix of this run's own: its stream is this test's alone.
    let prefix = nats.prefix();
    let url = tessera_jetstream::testing::nats_url();
    let sink = JetStreamSink::connect(&url, prefix).await.unwrap();
    let subject = format!("{}migration", event_subject_prefix(prefix));
    let (first, second) = (
        "sub:address_changed:7".to_string(),
        "sub:dismissed:8".to_string(),
    );
    sink.publish(&subject, &first, b"{\"seq\":1}".to_vec())
        .await
        .unwrap();
    sink.publish(&subject, &first, b"{\"seq\":1}".to_vec())
        .await
        .unwrap();
    sink.publish(&subject, &second, b"{\"seq\":2}".to_vec())
        .await
        .unwrap();

    let client = async_nats::connect(&url).await.unwrap();
    let stream = async_nats::jetstream::new(client)
        .get_stream(event_stream(prefix))
        .await
        .unwrap();
    let info = stream.get_info().await.unwrap();
    assert!(info.config.duplicate_window.as_secs() >= 60);
    // Two messages on the subject: the repeat was dropped.
    let messages =
        tessera_jetstream::testing::messages_on(&url, &event_stream(prefix), &subject).await;
    let read: Vec<(&str, &[u8])> = messages
        .iter()
        .map(|(id, payload)| (id.as_str(), payload.as_slice()))
        .collect();
    assert_eq!(
        read,
        vec![
            (first.as_str(), &b"{\"seq\":1}"[..]),
            (second.as_str(), &b"{\"seq\":2}"[..])
        ]
    );
}
