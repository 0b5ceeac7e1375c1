//! The JetStream side of delivery against a real NATS server: a repeated publish of one event
//! (a dispatcher that died after sending and before moving its cursor) is stored once.

use tessera_events::{EVENT_SUBJECT_PREFIX, JetStreamSink};

#[tokio::test]
async fn a_repeated_event_is_stored_once() {
    let test = "a_repeated_event_is_stored_once";
    if tessera_jetstream::testing::nats(test).await.is_none() {
        return;
    }
    let url = tessera_jetstream::testing::nats_url();
    let sink = JetStreamSink::connect(&url).await.unwrap();
    // De-duplication is by id across the stream: ids (subscription name, event key) must be
    // unique to this run, as they are to one registry.
    let unique = tessera_jetstream::testing::unique_prefix();
    let subject = format!("{EVENT_SUBJECT_PREFIX}{unique}");
    let (first, second) = (
        format!("{unique}:address_changed:7"),
        format!("{unique}:dismissed:8"),
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
        .get_stream(tessera_events::EVENT_STREAM)
        .await
        .unwrap();
    let info = stream.get_info().await.unwrap();
    assert!(info.config.duplicate_window.as_secs() >= 60);
    // Two messages on the subject: the repeat was dropped.
    let messages =
        tessera_jetstream::testing::messages_on(&url, tessera_events::EVENT_STREAM, &subject).await;
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
