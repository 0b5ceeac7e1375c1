//! Message bodies sealed with the keyring: NATS stores and forwards them without being able to
//! read them. The associated data is the message id, so a body cannot be replayed under another
//! message's id without failing to open.
//!
//! This is the tessera-seal envelope (a fresh data key per body, sealed by the active master
//! key); every process that publishes or consumes needs the same keyring, as every node does.

use tessera_seal::{Keyring, Sealed};

use crate::QueueError;

/// Seals `plaintext` for the message `message_id`.
pub(crate) fn seal(keyring: &Keyring, message_id: &str, plaintext: &[u8]) -> Vec<u8> {
    keyring.seal(plaintext, message_id.as_bytes()).to_bytes()
}

/// Opens a body sealed by [`seal`] for the same message id.
pub(crate) fn open(
    keyring: &Keyring,
    message_id: &str,
    body: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, QueueError> {
    let sealed = Sealed::from_bytes(body).map_err(|source| QueueError::Open {
        message_id: message_id.to_string(),
        source,
    })?;
    keyring
        .open(&sealed, message_id.as_bytes())
        .map_err(|source| QueueError::Open {
            message_id: message_id.to_string(),
            source,
        })
}
