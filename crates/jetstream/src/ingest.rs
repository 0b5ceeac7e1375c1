//! The ingest work queue: batches of validated records from `tessera import --queue` and from
//! online ingest (`tessera serve --queue`), shared out to `tessera worker` processes.
//!
//! One stream, `<PREFIX>_INGEST`, with work-queue retention (a message is deleted once a worker
//! acknowledges it), file storage and subjects `<prefix>.ingest.<source>`. Workers pull from
//! one durable consumer, `workers`: each message goes to one worker at a time, and one that is
//! not acknowledged within `ack_wait` (the worker died) goes to another. A message is one
//! [`IngestBatch`], sealed with the keyring under its `Nats-Msg-Id`; an importer gives a batch
//! an id derived from its content ([`BatchId::of_content`]), so a batch published again after
//! a crashed importer is dropped by the stream's duplicate window.
//!
//! A batch published with a reply subject (online ingest) is answered by the worker that
//! processed it, once it has acknowledged it, on that core-NATS subject; a redelivered batch is
//! answered again by whichever worker takes it.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, AckKind, stream::RetentionPolicy};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_model::{Attribute, RecordKey, SourceId, SourceRecord};
use tessera_seal::Keyring;

use crate::connection::{Nats, StreamSpec};
use crate::{QueueError, envelope};

/// The header naming the core-NATS subject a worker answers a batch on.
const REPLY_HEADER: &str = "Tessera-Reply";
/// The durable consumer every worker pulls from.
const CONSUMER: &str = "workers";
/// How long the stream remembers a batch id: an importer re-run within it publishes nothing new.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(3600);

/// One validated record as it travels: the source is the batch's; the time is in microseconds.
#[derive(Serialize, Deserialize)]
pub struct QueuedRecord {
    pub key: RecordKey,
    pub observed_at_micros: i64,
    pub attributes: Vec<Attribute>,
}

/// Validated records of one source, to be stored and resolved by a worker.
#[derive(Serialize, Deserialize)]
pub struct IngestBatch {
    pub source: SourceId,
    /// Where the records came from, for the import run the worker records (`import:<file>`,
    /// `api:<client>`); names no person.
    pub origin: String,
    pub records: Vec<QueuedRecord>,
}

impl IngestBatch {
    pub fn new(source: SourceId, origin: String) -> IngestBatch {
        IngestBatch {
            source,
            origin,
            records: Vec::new(),
        }
    }

    /// Adds a record; it must be of the batch's source.
    pub fn push(&mut self, record: &SourceRecord) {
        debug_assert_eq!(record.source, self.source);
        self.records.push(QueuedRecord {
            key: record.key.clone(),
            observed_at_micros: record.observed_at.timestamp_micros(),
            attributes: record.attributes.clone(),
        });
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records again, as the importer validated them.
    pub fn to_records(&self) -> Vec<SourceRecord> {
        self.records
            .iter()
            .map(|r| SourceRecord {
                source: self.source.clone(),
                key: r.key.clone(),
                observed_at: DateTime::<Utc>::from_timestamp_micros(r.observed_at_micros)
                    .unwrap_or_default(),
                attributes: r.attributes.clone(),
            })
            .collect()
    }

    /// The size of one record as it will travel, for callers that cap a batch in bytes.
    pub fn encoded_len(record: &SourceRecord) -> usize {
        serde_json::to_vec(&record.attributes).map_or(0, |v| v.len())
            + record.key.as_str().len()
            + 48
    }
}

/// A batch's `Nats-Msg-Id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchId(String);

impl BatchId {
    /// Derived from the batch's source, keys and attributes (not from when it was read or by
    /// whom): the same rows imported again give the same id, and the stream drops the copy.
    pub fn of_content(batch: &IngestBatch) -> BatchId {
        let mut hasher = Sha256::new();
        hasher.update(batch.source.as_str().as_bytes());
        for record in &batch.records {
            hasher.update([0]);
            hasher.update(record.key.as_str().as_bytes());
            hasher.update([0]);
            // Attributes hold only strings, numbers and enums, so encoding them cannot fail.
            hasher.update(serde_json::to_vec(&record.attributes).unwrap_or_default());
        }
        let digest = hasher.finalize();
        BatchId(format!(
            "b-{}",
            digest[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }

    /// A fresh id, for an online batch: two requests with the same records are two batches,
    /// each awaiting its own answer.
    pub fn unique() -> BatchId {
        let bytes: [u8; 16] = rand::random();
        BatchId(format!(
            "o-{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the stream said to a published batch.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub stream_sequence: u64,
    /// The stream already held a batch of this id (an importer run again): nothing was added.
    pub duplicate: bool,
}

/// Messages in the stream: waiting for a worker, or delivered and not yet acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backlog {
    pub messages: u64,
}

/// How workers' consumer behaves. Fixed when the first worker creates it.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// How long a delivered batch may go unacknowledged before another worker gets it. A
    /// worker extends it while it works (see [`Delivery::in_progress`]).
    pub ack_wait: Duration,
    /// The most batches delivered and not yet acknowledged across all workers.
    pub max_ack_pending: i64,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 64,
        }
    }
}

/// The ingest stream, for publishers and workers.
#[derive(Clone, Debug)]
pub struct IngestQueue {
    nats: Nats,
    stream: String,
}

impl IngestQueue {
    /// Sets up (or finds) the ingest stream.
    pub async fn open(nats: &Nats) -> Result<IngestQueue, QueueError> {
        let spec = StreamSpec {
            name: nats.stream_name("ingest"),
            subjects: vec![nats.subject("ingest.>")],
            retention: RetentionPolicy::WorkQueue,
            duplicate_window: DUPLICATE_WINDOW,
            max_bytes: -1,
        };
        nats.ensure_stream(&spec).await?;
        Ok(IngestQueue {
            nats: nats.clone(),
            stream: spec.name,
        })
    }

    /// The largest sealed batch to publish: half the server's message limit, leaving room for
    /// headers and the envelope.
    pub fn max_batch_bytes(&self) -> usize {
        self.nats.client.server_info().max_payload / 2
    }

    /// Publishes a batch and waits until the stream has stored it.
    pub async fn publish(
        &self,
        keyring: &Keyring,
        batch: &IngestBatch,
        id: &BatchId,
    ) -> Result<Published, QueueError> {
        self.publish_with(keyring, batch, id, None).await
    }

    async fn publish_with(
        &self,
        keyring: &Keyring,
        batch: &IngestBatch,
        id: &BatchId,
        reply: Option<&str>,
    ) -> Result<Published, QueueError> {
        let subject = self.nats.subject(&format!("ingest.{}", batch.source));
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(batch).map_err(|e| {
            QueueError::Malformed {
                message_id: id.as_str().to_string(),
                reason: e.to_string(),
            }
        })?);
        let body = envelope::seal(keyring, id.as_str(), &plaintext);
        let limit = self.nats.client.server_info().max_payload;
        if body.len() + 256 > limit {
            return Err(QueueError::TooLarge {
                records: batch.len(),
                bytes: body.len(),
                limit,
            });
        }
        let mut headers = HeaderMap::new();
        if let Some(reply) = reply {
            headers.insert(REPLY_HEADER, reply);
        }
        let publish = PublishMessage::build()
            .headers(headers)
            .message_id(id.as_str())
            .payload(body.into());
        let failed = |e: &dyn std::fmt::Display| QueueError::Publish {
            subject: subject.clone(),
            reason: e.to_string(),
        };
        let ack = self
            .nats
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| failed(&e))?
            .await
            .map_err(|e| failed(&e))?;
        Ok(Published {
            stream_sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Publishes a batch that asks for an answer and waits up to `wait` for a worker's. `None`
    /// when none came in time: the batch stays queued and will be processed.
    pub async fn submit<R: DeserializeOwned>(
        &self,
        keyring: &Keyring,
        batch: &IngestBatch,
        wait: Duration,
    ) -> Result<(BatchId, Option<R>), QueueError> {
        let id = BatchId::unique();
        let inbox = self.nats.client.new_inbox();
        let mut answers = self
            .nats
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| QueueError::Publish {
                subject: inbox.clone(),
                reason: e.to_string(),
            })?;
        self.publish_with(keyring, batch, &id, Some(&inbox)).await?;
        let Ok(Some(answer)) = tokio::time::timeout(wait, answers.next()).await else {
            return Ok((id, None));
        };
        let aad = reply_aad(&id);
        let plaintext = envelope::open(keyring, &aad, &answer.payload)?;
        let result = serde_json::from_slice(&plaintext).map_err(|e| QueueError::Malformed {
            message_id: aad,
            reason: e.to_string(),
        })?;
        Ok((id, Some(result)))
    }

    /// How many batches are in the stream (waiting, or delivered and not yet acknowledged).
    pub async fn backlog(&self) -> Result<Backlog, QueueError> {
        let mut stream = self
            .nats
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| self.stream_error(&e))?;
        let info = stream.info().await.map_err(|e| self.stream_error(&e))?;
        Ok(Backlog {
            messages: info.state.messages,
        })
    }

    fn stream_error(&self, e: &dyn std::fmt::Display) -> QueueError {
        QueueError::Stream {
            stream: self.stream.clone(),
            reason: e.to_string(),
        }
    }

    /// Joins the workers: the durable consumer every worker pulls from (created by the first,
    /// with `config`; later ones use it as it is).
    pub async fn worker(&self, config: &WorkerConfig) -> Result<IngestWorker, QueueError> {
        let stream = self
            .nats
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|e| self.stream_error(&e))?;
        let consumer = stream
            .get_or_create_consumer(
                CONSUMER,
                pull::Config {
                    durable_name: Some(CONSUMER.to_string()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_ack_pending: config.max_ack_pending,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| QueueError::Consumer {
                stream: self.stream.clone(),
                consumer: CONSUMER.to_string(),
                reason: e.to_string(),
            })?;
        Ok(IngestWorker {
            consumer,
            client: self.nats.client.clone(),
        })
    }
}

fn reply_aad(id: &BatchId) -> String {
    format!("reply:{}", id.as_str())
}

/// A worker's end of the queue.
pub struct IngestWorker {
    consumer: jetstream::consumer::Consumer<pull::Config>,
    client: async_nats::Client,
}

impl IngestWorker {
    /// The next batch, waiting up to `wait` for one; `None` if none came.
    pub async fn next(&self, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        let failed = |e: &dyn std::fmt::Display| QueueError::Fetch {
            consumer: CONSUMER.to_string(),
            reason: e.to_string(),
        };
        let mut messages = self
            .consumer
            .batch()
            .max_messages(1)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| failed(&e))?;
        match messages.next().await {
            None => Ok(None),
            Some(Err(e)) => Err(failed(&e)),
            Some(Ok(message)) => Ok(Some(Delivery {
                message,
                client: self.client.clone(),
            })),
        }
    }
}

/// One delivered batch, until it is acknowledged.
pub struct Delivery {
    message: jetstream::Message,
    client: async_nats::Client,
}

impl Delivery {
    /// The batch id (`Nats-Msg-Id`).
    pub fn id(&self) -> Result<BatchId, QueueError> {
        self.message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| BatchId(v.as_str().to_string()))
            .ok_or(QueueError::NoMessageId {
                stream_sequence: self.stream_sequence(),
            })
    }

    pub fn stream_sequence(&self) -> u64 {
        self.message.info().map_or(0, |i| i.stream_sequence)
    }

    /// How many times this batch has been delivered, this time included (more than 1 after a
    /// worker died or gave it back).
    pub fn attempt(&self) -> i64 {
        self.message.info().map_or(1, |i| i.delivered)
    }

    /// Opens the sealed batch.
    pub fn open(&self, keyring: &Keyring) -> Result<IngestBatch, QueueError> {
        let id = self.id()?;
        let plaintext = envelope::open(keyring, id.as_str(), &self.message.payload)?;
        serde_json::from_slice(&plaintext).map_err(|e| QueueError::Malformed {
            message_id: id.as_str().to_string(),
            reason: e.to_string(),
        })
    }

    /// Asks for another `ack_wait` to finish this batch.
    pub async fn in_progress(&self) -> Result<(), QueueError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| self.ack_error(&e))
    }

    /// Answers the publisher, if it asked for an answer (sealed like the batch).
    pub async fn reply<R: Serialize>(
        &self,
        keyring: &Keyring,
        result: &R,
    ) -> Result<(), QueueError> {
        let Some(subject) = self
            .message
            .headers
            .as_ref()
            .and_then(|h| h.get(REPLY_HEADER))
            .map(|v| v.as_str().to_string())
        else {
            return Ok(());
        };
        let aad = reply_aad(&self.id()?);
        let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(result).map_err(|e| {
            QueueError::Malformed {
                message_id: aad.clone(),
                reason: e.to_string(),
            }
        })?);
        let body = envelope::seal(keyring, &aad, &plaintext);
        let failed = |e: &dyn std::fmt::Display| QueueError::Publish {
            subject: subject.clone(),
            reason: e.to_string(),
        };
        self.client
            .publish(subject.clone(), body.into())
            .await
            .map_err(|e| failed(&e))?;
        self.client.flush().await.map_err(|e| failed(&e))
    }

    /// Acknowledges the batch and waits for the server to confirm it (a double ack): once this
    /// returns, the batch is gone from the stream and will not be delivered again.
    pub async fn ack(&self) -> Result<(), QueueError> {
        self.message
            .double_ack()
            .await
            .map_err(|e| self.ack_error(&e))
    }

    /// Gives the batch back, to be delivered again after `delay`.
    pub async fn give_back(&self, delay: Duration) -> Result<(), QueueError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| self.ack_error(&e))
    }

    fn ack_error(&self, e: &dyn std::fmt::Display) -> QueueError {
        QueueError::Ack {
            stream_sequence: self.stream_sequence(),
            reason: e.to_string(),
        }
    }
}
