//! Delivers change events from the outbox to the subscribers that may see them.
//!
//! The store writes every change to a profile to its outbox in the transaction that makes it
//! (`tessera_store::EventStore`). A [`Dispatcher`] takes each subscription's lease (so one
//! process at a time delivers it, in outbox order, which keeps every profile's events in
//! order), reads the events after the subscription's cursor, keeps those its purpose may see
//! ([`select`]), appends one access-log entry per delivery before anything leaves, sends it
//! (a webhook POST signed with HMAC-SHA256, [`signature`], or a JetStream publish with
//! `Nats-Msg-Id`), and advances the cursor only once the receiver acknowledged. A crash between
//! sending and advancing sends the event again: delivery is at least once, and the event's id
//! lets the receiver (and JetStream's de-duplication window) drop the repeat.

mod dispatch;
mod jetstream;
mod message;
pub mod signature;

pub use dispatch::{DispatchConfig, Dispatcher, RoundReport, secret_aad};
pub use jetstream::{JetStreamSink, event_stream, event_subject_prefix};
pub use message::{EventMessage, Selection, select};

/// Why a delivery failed; the event stays undelivered and is tried again in a later round.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("webhook {url} answered {status}")]
    WebhookStatus { url: String, status: u16 },
    #[error("webhook {url} could not be reached: {reason}")]
    WebhookUnreachable { url: String, reason: String },
    #[error("the subscription may not read: {0}")]
    Refused(String),
    #[error("the subscription's webhook secret cannot be opened: {0}")]
    Secret(String),
    #[error("no JetStream connection for subject {0} (start the dispatcher with a NATS URL)")]
    NoJetStream(String),
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
}
