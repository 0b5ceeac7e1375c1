//! Envelope encryption of special-category values (health, biometric, criminal record) at rest.
//!
//! A [`Keyring`] holds master keys (key-encryption keys), one of them active, and one long-lived
//! index key. [`Keyring::seal`] encrypts a value under a fresh random data key and wraps that
//! data key under the active master key; the result, [`Sealed`], is one versioned blob
//! ([`Sealed::to_bytes`]) for a BLOB column. A copy of the database alone therefore reveals no
//! sealed value: it needs the keyring too. [`Keyring::rotate`] adds a master key and makes it
//! active, [`Keyring::rewrap`] moves a value to it without touching the value's ciphertext, and
//! [`Keyring::retire`] drops a key no value uses any more. [`Keyring::keyed_hash`] (HMAC-SHA256
//! under the index key) gives content hashes and blind indexes that an attacker holding only the
//! database cannot test guesses against.
//!
//! ```
//! use chrono::Utc;
//! use tessera_seal::{Keyring, Sealed};
//!
//! let keyring = Keyring::generate(Utc::now());
//! let aad = b"attribute:tax/42:3"; // where the value lives: a moved blob does not open
//! let blob = keyring.seal(b"E11", aad).to_bytes();
//! let opened = keyring.open(&Sealed::from_bytes(&blob)?, aad)?;
//! assert_eq!(opened.as_slice(), b"E11");
//! assert!(keyring.open(&Sealed::from_bytes(&blob)?, b"attribute:tax/43:3").is_err());
//! # Ok::<(), tessera_seal::SealError>(())
//! ```
//!
//! # The keyring file
//!
//! TOML, written by [`Keyring::save`] with mode 0600 and read by [`Keyring::load`]; the same text
//! may instead come from the environment variable `TESSERA_MASTER_KEYS`
//! ([`Keyring::open_or_create`]).
//!
//! ```toml
//! active = "k-20261201-1a2b3c4d"          # the key that seals new values; must be listed below
//! index_key = "<base64 of 32 bytes>"       # HMAC key of keyed_hash; never rotates
//!
//! [[key]]                                  # one per master key, old ones kept until retired
//! id = "k-20261201-1a2b3c4d"               # k-<yyyymmdd it was made>-<8 lowercase hex digits>
//! secret = "<base64 of 32 bytes>"          # standard alphabet, padded
//! created = "2026-12-01T07:00:00Z"         # RFC 3339 with an offset (a bare TOML datetime works too)
//! ```
//!
//! Every key is required, unknown keys are refused, ids must be unique and `active` must name one
//! of them. Error messages give the line or the key id, never a secret.
//!
//! # The sealed blob (version 1)
//!
//! | bytes | content |
//! | --- | --- |
//! | 3 | `TSL` |
//! | 1 | version, `1` |
//! | 1 | key id length, 19 |
//! | 19 | key id, ASCII |
//! | 24 | nonce of the data-key layer |
//! | 48 | data key encrypted under the master key, then its 16-byte tag |
//! | 24 | nonce of the value layer |
//! | n + 16 | value encrypted under the data key, then its tag |
//!
//! Both layers are XChaCha20-Poly1305. The data-key layer's associated data is
//! `"tessera-seal/v1/data-key" || 19 || key id || aad`; the value layer's is
//! `"tessera-seal/v1/data" || aad`, where `aad` is the caller's, so a blob opens only where it was
//! sealed. Any change to the blob is refused: by [`Sealed::from_bytes`] when it breaks the
//! structure, otherwise by [`Keyring::open`] as [`SealError::UnknownKey`] or
//! [`SealError::Authentication`].
//!
//! # Rotating without downtime
//!
//! Several processes may hold the keyring in memory, so a rotation goes in steps:
//!
//! 1. load the file, [`Keyring::rotate`], [`Keyring::save`] (atomic);
//! 2. let every running process reload the file (`Keyring::open_or_create(path, false, now)`),
//!    on a signal, when the file's modification time changes, or at the latest when
//!    [`Keyring::open`] reports [`SealError::UnknownKey`] (reload once, then retry);
//! 3. [`Keyring::rewrap`] every stored value, a batch per transaction, writing each row only if
//!    its blob is still the one that was read;
//! 4. when no stored value names the old key id any more, [`Keyring::retire`] it and save.
//!
//! Step 4 must come after every process has reloaded: a process still sealing under the old
//! key after the check would write values that nothing can open once the key is gone. Two
//! rotations at once would lose a key (the last save wins), so run one at a time. A keyring
//! from `TESSERA_MASTER_KEYS` cannot be saved back to its source; rotating it means writing the
//! new text ([`Keyring::to_toml`]) wherever the variable is set.
//!
//! This crate knows no database and no policy: it does not decide which values are sealed, which
//! key ids are still in use, or who may open what. It does not lock the keyring file against two
//! concurrent writers.

mod envelope;
mod key_id;
mod keyring;
mod random;

use std::path::PathBuf;

pub use envelope::Sealed;
pub use key_id::KeyId;
pub use keyring::{Keyring, MASTER_KEYS_ENV};

/// Everything that can go wrong with keys, keyrings and sealed values.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("invalid key id {0:?}: expected k-<yyyymmdd>-<8 lowercase hex digits>")]
    InvalidKeyId(String),
    #[error("the keyring has no master key {0}")]
    UnknownKey(KeyId),
    #[error(
        "sealed value failed authentication: it was altered, or opened with other associated data than it was sealed with"
    )]
    Authentication,
    #[error("malformed sealed value: {0}")]
    MalformedBlob(String),
    #[error("malformed keyring in {origin}: {reason}")]
    MalformedKeyring { origin: String, reason: String },
    #[error("cannot retire {0}: it is the active key")]
    RetireActive(KeyId),
    #[error("no keyring at {path} and creating one was not allowed")]
    NoKeyring { path: PathBuf },
    #[error("the environment variable TESSERA_MASTER_KEYS is not valid unicode")]
    EnvNotUnicode,
    #[error("cannot read keyring {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write keyring {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
