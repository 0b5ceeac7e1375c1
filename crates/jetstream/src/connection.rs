//! One connection to NATS with its JetStream context, and streams described once.
//!
//! Every name this crate gives NATS (streams, subjects, consumers) starts with the connection's
//! prefix, so that several registries, or several tests, can share one NATS server. A stream is
//! described by a [`StreamSpec`] and created on first use; a later process finds it and uses it
//! as it is (a stream's settings are an operator's to change, not the next process's).

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::QueueError;

/// The server when neither `--nats` nor `TESSERA_NATS_URL` names one.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The prefix of every stream, subject and consumer name unless `--queue-prefix` says otherwise.
pub const DEFAULT_PREFIX: &str = "tessera";

/// A connection to NATS and the prefix of the names it uses.
#[derive(Clone)]
pub struct Nats {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    prefix: String,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Nats {
    /// Connects to `url` (e.g. `nats://127.0.0.1:4222`). Fails at once when the server does not
    /// answer, rather than retrying in the background: a command given a wrong URL should say so.
    pub async fn connect(url: &str, prefix: &str) -> Result<Nats, QueueError> {
        let valid = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(QueueError::BadPrefix {
                prefix: prefix.to_string(),
            });
        }
        let client = async_nats::ConnectOptions::new()
            .name("tessera")
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| QueueError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let jetstream = jetstream::new(client.clone());
        Ok(Nats {
            client,
            jetstream,
            prefix: prefix.to_string(),
        })
    }

    /// The prefix of every name this connection uses.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A stream name under the prefix (see [`stream_name`]).
    pub fn stream_name(&self, what: &str) -> String {
        stream_name(&self.prefix, what)
    }

    /// The JetStream context, for publishing to a stream this connection set up.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// A subject under the prefix: `tessera` and `ingest.tax` give `tessera.ingest.tax`.
    pub fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.prefix)
    }

    /// The underlying client, for core NATS (replies).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Creates the stream if there is none of its name, else returns the one there.
    pub async fn ensure_stream(&self, spec: &StreamSpec) -> Result<stream::Stream, QueueError> {
        let config = stream::Config {
            name: spec.name.clone(),
            subjects: spec.subjects.clone(),
            retention: spec.retention,
            storage: stream::StorageType::File,
            duplicate_window: spec.duplicate_window,
            max_bytes: spec.max_bytes,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| QueueError::Stream {
                stream: spec.name.clone(),
                reason: e.to_string(),
            })
    }
}

/// A stream name under a prefix: stream names may not hold dots, so `tessera` and `ingest`
/// give `TESSERA_INGEST`.
pub fn stream_name(prefix: &str, what: &str) -> String {
    format!("{prefix}_{what}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// What a stream should be; file storage always (a stream is the only copy of what it holds
/// until it is consumed).
#[derive(Clone, Debug)]
pub struct StreamSpec {
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: stream::RetentionPolicy,
    /// How long a `Nats-Msg-Id` is remembered, so that a message published again is dropped.
    pub duplicate_window: Duration,
    /// The stream's cap in bytes (-1: none); when full, publishing fails rather than dropping
    /// old messages, which is backpressure on the publisher.
    pub max_bytes: i64,
}
