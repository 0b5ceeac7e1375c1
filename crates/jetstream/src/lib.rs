//! The NATS JetStream side of Tessera: the ingest work queue that lets several resolver workers
//! (`tessera worker`) share bulk imports and online batches, and what any later stream (change
//! events) needs to connect, set up its stream and seal its messages.
//!
//! - `connection.rs`: [`Nats`], one connection with its JetStream context and a name prefix
//!   (`tessera` by default; tests use a fresh one each), and [`StreamSpec`], a stream described
//!   once and created or checked idempotently.
//! - `envelope.rs`: message bodies are sealed with the keyring (the message id is the associated
//!   data), so NATS never stores a name or a diagnosis in a readable form.
//! - `ingest.rs`: the ingest stream (work-queue retention, file storage, subjects
//!   `<prefix>.ingest.<source>`), [`IngestBatch`] (a source's validated records), publishing
//!   with a `Nats-Msg-Id` and waiting for the stream's acknowledgement, the workers' durable pull
//!   consumer (explicit acks, bounded `ack_wait` and `max_ack_pending`) and [`Delivery`].
//! - `testing.rs` (feature `testing`): a connection with a prefix no other test uses, or a skip
//!   when NATS is not there.
//!
//! This crate moves batches; it does not validate, store or resolve records (the binary and
//! `tessera-serve` do), and it never logs a record's content.

mod connection;
mod envelope;
mod ingest;
#[cfg(feature = "testing")]
pub mod testing;

pub use connection::{DEFAULT_NATS_URL, DEFAULT_PREFIX, Nats, StreamSpec, stream_name};
pub use ingest::{
    Backlog, BatchId, Delivery, IngestBatch, IngestQueue, IngestWorker, Published, QueuedRecord,
    WorkerConfig,
};

/// Everything that can go wrong talking to NATS or reading a queued message.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid queue prefix {prefix:?}: use 1-32 characters of a-z, 0-9, '_' or '-'")]
    BadPrefix { prefix: String },
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot set up the JetStream stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
    #[error("cannot set up the consumer {consumer} of stream {stream}: {reason}")]
    Consumer {
        stream: String,
        consumer: String,
        reason: String,
    },
    #[error("cannot publish to {subject}: {reason}")]
    Publish { subject: String, reason: String },
    #[error("cannot fetch from the consumer {consumer}: {reason}")]
    Fetch { consumer: String, reason: String },
    #[error("cannot acknowledge message {stream_sequence}: {reason}")]
    Ack {
        stream_sequence: u64,
        reason: String,
    },
    #[error("message {stream_sequence} has no Nats-Msg-Id header")]
    NoMessageId { stream_sequence: u64 },
    #[error("message {message_id}: cannot open its sealed body: {source}")]
    Open {
        message_id: String,
        source: tessera_seal::SealError,
    },
    #[error("message {message_id}: malformed body: {reason}")]
    Malformed { message_id: String, reason: String },
    #[error(
        "batch of {records} records is {bytes} bytes sealed, over the server's limit of {limit}"
    )]
    TooLarge {
        records: usize,
        bytes: usize,
        limit: usize,
    },
}
