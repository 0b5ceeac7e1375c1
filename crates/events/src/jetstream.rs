//! Publishing change events to JetStream: one stream per registry (named by its NATS prefix,
//! `--queue-prefix`) holds every subscription's subjects; each message carries `Nats-Msg-Id`,
//! so a repeated delivery within the stream's de-duplication window is stored once.

use std::time::Duration;

use async_nats::jetstream::stream::RetentionPolicy;
use tessera_jetstream::{Nats, StreamSpec};

use crate::DeliveryError;

/// The stream that holds a registry's change events: `tessera` gives `TESSERA_EVENTS`.
pub fn event_stream(prefix: &str) -> String {
    tessera_jetstream::stream_name(prefix, "events")
}

/// What every subscription's subject starts with: `tessera` gives `tessera.events.`.
pub fn event_subject_prefix(prefix: &str) -> String {
    format!("{prefix}.events.")
}

/// A JetStream connection with the event stream in place.
#[derive(Clone)]
pub struct JetStreamSink {
    nats: Nats,
}

impl JetStreamSink {
    /// Connects and creates the registry's event stream if it is not there (file storage,
    /// messages kept until the limits an operator sets, de-duplication over two minutes).
    pub async fn connect(url: &str, prefix: &str) -> Result<JetStreamSink, DeliveryError> {
        let nats = Nats::connect(url, prefix)
            .await
            .map_err(|e| DeliveryError::JetStream(e.to_string()))?;
        nats.ensure_stream(&StreamSpec {
            name: event_stream(prefix),
            subjects: vec![format!("{}>", event_subject_prefix(prefix))],
            retention: RetentionPolicy::Limits,
            duplicate_window: Duration::from_secs(120),
            max_bytes: -1,
        })
        .await
        .map_err(|e| DeliveryError::JetStream(e.to_string()))?;
        Ok(JetStreamSink { nats })
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
        self.nats
            .jetstream()
            .publish_with_headers(subject.to_string(), headers, body.into())
            .await
            .map_err(|e| DeliveryError::JetStream(e.to_string()))?
            .await
            .map_err(|e| DeliveryError::JetStream(e.to_string()))?;
        Ok(())
    }
}
