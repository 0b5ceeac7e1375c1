//! Publishing change events to JetStream: one stream holds every subscription's subjects;
//! each message carries `Nats-Msg-Id`, so a repeated delivery within the stream's
//! de-duplication window is stored once.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::DeliveryError;

/// The stream that holds change events.
pub const EVENT_STREAM: &str = "TESSERA_EVENTS";
/// Every subscription's subject starts with this (the stream holds `tessera.events.>`).
pub const EVENT_SUBJECT_PREFIX: &str = "tessera.events.";

/// A JetStream connection with the event stream in place.
#[derive(Clone)]
pub struct JetStreamSink {
    context: jetstream::Context,
}

impl JetStreamSink {
    /// Connects and creates the event stream if it is not there (file storage, de-duplication
    /// over two minutes).
    pub async fn connect(url: &str) -> Result<JetStreamSink, DeliveryError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| DeliveryError::JetStream(format!("cannot connect to {url}: {e}")))?;
        let context = jetstream::new(client);
        context
            .get_or_create_stream(stream::Config {
                name: EVENT_STREAM.to_string(),
                subjects: vec![format!("{EVENT_SUBJECT_PREFIX}>")],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| DeliveryError::JetStream(format!("cannot set up {EVENT_STREAM}: {e}")))?;
        Ok(JetStreamSink { context })
    }

    /// Publishes and waits for the stream's acknowledgement.
    pub async fn publish(
        &self,
        subject: &str,
        message_id: &str,
        body: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", message_id);
        self.context
            .publish_with_headers(subject.to_string(), headers, body.into())
            .await
            .map_err(|e| DeliveryError::JetStream(e.to_string()))?
            .await
            .map_err(|e| DeliveryError::JetStream(e.to_string()))?;
        Ok(())
    }
}
