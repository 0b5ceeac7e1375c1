//! Envelope encryption: [`Keyring::seal`], [`Keyring::open`], [`Keyring::rewrap`], and the
//! [`Sealed`] blob that goes into a BLOB column.
//!
//! Every value gets its own random data key; the data key is encrypted ("wrapped") by the active
//! master key. Both layers are XChaCha20-Poly1305 with random 24-byte nonces, which are safe to
//! draw at random for any number of messages. The caller's associated data (typically the table,
//! row and column) is bound to both layers, so a blob copied to another row does not open.
//!
//! This module does not compress, pad or hide the length of a value, and it does not cache
//! unwrapped data keys.

use std::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::key_id::KEY_ID_LEN;
use crate::keyring::{MasterKey, Secret};
use crate::{KeyId, Keyring, SealError};

/// The first bytes of every blob, so that a value that is not a sealed blob is recognised.
const MAGIC: &[u8; 3] = b"TSL";
/// The blob layout version this code writes and reads.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const WRAPPED_KEY_LEN: usize = 32 + TAG_LEN;
/// Bytes before the key id: magic, version, key id length.
const HEADER_LEN: usize = MAGIC.len() + 2;
/// The smallest valid blob: an empty plaintext.
const MIN_BLOB_LEN: usize =
    HEADER_LEN + KEY_ID_LEN + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN + TAG_LEN;

/// Domain-separation prefixes of the associated data of the two layers.
const WRAP_DOMAIN: &[u8] = b"tessera-seal/v1/data-key";
const DATA_DOMAIN: &[u8] = b"tessera-seal/v1/data";

/// A value sealed under one master key: which key, the wrapped data key, and the ciphertext.
///
/// `Debug` shows the key id and the ciphertext length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: KeyId,
    wrap_nonce: [u8; NONCE_LEN],
    wrapped_key: [u8; WRAPPED_KEY_LEN],
    pub(crate) data_nonce: [u8; NONCE_LEN],
    /// The encrypted value followed by its 16-byte tag.
    pub(crate) ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl Sealed {
    /// The blob: `TSL`, version 1, key id length, key id, wrap nonce, wrapped data key (with
    /// tag), data nonce, ciphertext (with tag). See the crate documentation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(MIN_BLOB_LEN + self.ciphertext.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        // A KeyId is always KEY_ID_LEN (19) ASCII bytes, which fits in one byte.
        bytes.push(KEY_ID_LEN as u8);
        bytes.extend_from_slice(self.key_id.as_str().as_bytes());
        bytes.extend_from_slice(&self.wrap_nonce);
        bytes.extend_from_slice(&self.wrapped_key);
        bytes.extend_from_slice(&self.data_nonce);
        bytes.extend_from_slice(&self.ciphertext);
        bytes
    }

    /// Reads a blob, rejecting anything truncated, unknown or garbled with the reason. Checks
    /// structure only; whether the content is authentic is known when it is opened.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sealed, SealError> {
        let malformed = |reason: String| SealError::MalformedBlob(reason);
        if bytes.len() < HEADER_LEN {
            return Err(malformed(format!(
                "{} bytes is shorter than the header",
                bytes.len()
            )));
        }
        let (magic, rest) = bytes.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(malformed("not a sealed value (wrong magic bytes)".into()));
        }
        let (&version, rest) = split_first(rest)?;
        if version != VERSION {
            return Err(malformed(format!("unsupported format version {version}")));
        }
        let (&id_len, rest) = split_first(rest)?;
        if usize::from(id_len) != KEY_ID_LEN {
            return Err(malformed(format!(
                "key id length {id_len}, expected {KEY_ID_LEN}"
            )));
        }
        if bytes.len() < MIN_BLOB_LEN {
            return Err(malformed(format!(
                "truncated: {} bytes, at least {MIN_BLOB_LEN} needed",
                bytes.len()
            )));
        }
        let (id, rest) = rest.split_at(KEY_ID_LEN);
        let key_id = std::str::from_utf8(id)
            .ok()
            .and_then(|text| KeyId::parse(text).ok())
            .ok_or_else(|| malformed("the key id is not k-<yyyymmdd>-<8 hex>".into()))?;
        let (wrap_nonce, rest) = take_array::<NONCE_LEN>(rest)?;
        let (wrapped_key, rest) = take_array::<WRAPPED_KEY_LEN>(rest)?;
        let (data_nonce, ciphertext) = take_array::<NONCE_LEN>(rest)?;
        Ok(Sealed {
            key_id,
            wrap_nonce,
            wrapped_key,
            data_nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

fn split_first(bytes: &[u8]) -> Result<(&u8, &[u8]), SealError> {
    bytes
        .split_first()
        .ok_or_else(|| SealError::MalformedBlob("truncated header".into()))
}

fn take_array<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), SealError> {
    let Some((head, rest)) = bytes.split_first_chunk::<N>() else {
        return Err(SealError::MalformedBlob(format!(
            "truncated: {} bytes left where {N} are needed",
            bytes.len()
        )));
    };
    Ok((*head, rest))
}

/// Associated data of the data-key layer: domain, key id (length-prefixed), caller's data.
fn wrap_aad(key_id: &KeyId, aad: &[u8]) -> Vec<u8> {
    let id = key_id.as_str().as_bytes();
    let mut bound = Vec::with_capacity(WRAP_DOMAIN.len() + 1 + id.len() + aad.len());
    bound.extend_from_slice(WRAP_DOMAIN);
    // A KeyId is always KEY_ID_LEN (19) bytes, which fits in one byte.
    bound.push(id.len() as u8);
    bound.extend_from_slice(id);
    bound.extend_from_slice(aad);
    bound
}

/// Associated data of the value layer: domain, caller's data. The key id is not bound here, so
/// that [`Keyring::rewrap`] can leave the ciphertext untouched.
fn data_aad(aad: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(DATA_DOMAIN.len() + aad.len());
    bound.extend_from_slice(DATA_DOMAIN);
    bound.extend_from_slice(aad);
    bound
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

fn fresh_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce);
    nonce
}

/// Encrypts the data key under `master`, returning the nonce and the wrapped key with its tag.
fn wrap(
    master: &MasterKey,
    key_id: &KeyId,
    data_key: &Secret,
    aad: &[u8],
) -> ([u8; NONCE_LEN], [u8; WRAPPED_KEY_LEN]) {
    let nonce = fresh_nonce();
    let mut wrapped = [0u8; WRAPPED_KEY_LEN];
    let (body, tag_slot) = wrapped.split_at_mut(32);
    body.copy_from_slice(data_key.as_slice());
    // Invariant: XChaCha20-Poly1305 refuses only messages over 256 GiB; a data key is 32 bytes.
    let tag = cipher(&master.secret)
        .encrypt_inout_detached(&XNonce::from(nonce), &wrap_aad(key_id, aad), body.into())
        .expect("a 32-byte data key is far below the cipher's message limit");
    tag_slot.copy_from_slice(&tag);
    (nonce, wrapped)
}

/// Decrypts the data key of `sealed` with the master key it names.
fn unwrap_data_key(keyring: &Keyring, sealed: &Sealed, aad: &[u8]) -> Result<Secret, SealError> {
    let master = keyring.key(&sealed.key_id)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    data_key.copy_from_slice(&sealed.wrapped_key[..32]);
    let tag = Tag::from(tag_of(&sealed.wrapped_key));
    cipher(&master.secret)
        .decrypt_inout_detached(
            &XNonce::from(sealed.wrap_nonce),
            &wrap_aad(&sealed.key_id, aad),
            data_key.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| SealError::Authentication)?;
    Ok(data_key)
}

fn tag_of(wrapped: &[u8; WRAPPED_KEY_LEN]) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&wrapped[32..]);
    tag
}

impl Keyring {
    /// Encrypts `plaintext` under a fresh random data key bound to `aad`, and wraps the data key
    /// under the active master key (bound to the key id and `aad`).
    ///
    /// `aad` is not secret and not stored: pass the same bytes to [`Keyring::open`]. Name the
    /// place the value lives in it (e.g. `b"attribute:<record>:<index>"`) so that a blob moved
    /// elsewhere fails to open.
    ///
    /// # Panics
    ///
    /// For a plaintext over 256 GiB, which XChaCha20-Poly1305 cannot encrypt under one nonce and
    /// no column value comes near.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let mut data_key = Zeroizing::new([0u8; 32]);
        crate::random::fill(data_key.as_mut_slice());
        let data_nonce = fresh_nonce();
        let mut ciphertext = Vec::with_capacity(plaintext.len() + TAG_LEN);
        ciphertext.extend_from_slice(plaintext);
        // Invariant: the cipher refuses only messages over 256 GiB (see `# Panics`).
        let tag = cipher(&data_key)
            .encrypt_inout_detached(
                &XNonce::from(data_nonce),
                &data_aad(aad),
                ciphertext.as_mut_slice().into(),
            )
            .expect("a column value is below the cipher's 256 GiB message limit");
        ciphertext.extend_from_slice(&tag);

        let key_id = self.active().clone();
        let (wrap_nonce, wrapped_key) = wrap(self.active_key(), &key_id, &data_key, aad);
        Sealed {
            key_id,
            wrap_nonce,
            wrapped_key,
            data_nonce,
            ciphertext,
        }
    }

    /// Decrypts a sealed value. Fails with [`SealError::UnknownKey`] when the keyring lacks its
    /// master key, and with [`SealError::Authentication`] when the blob was altered or `aad` is
    /// not what it was sealed with (the blob was moved to another row).
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let data_key = unwrap_data_key(self, sealed, aad)?;
        let Some(body_len) = sealed.ciphertext.len().checked_sub(TAG_LEN) else {
            return Err(SealError::Authentication);
        };
        let mut plaintext = Zeroizing::new(sealed.ciphertext[..body_len].to_vec());
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&sealed.ciphertext[body_len..]);
        cipher(&data_key)
            .decrypt_inout_detached(
                &XNonce::from(sealed.data_nonce),
                &data_aad(aad),
                plaintext.as_mut_slice().into(),
                &Tag::from(tag),
            )
            .map_err(|_| SealError::Authentication)?;
        Ok(plaintext)
    }

    /// Re-wraps the data key of `sealed` under the active master key with a fresh nonce; the
    /// ciphertext of the value is unchanged and is not decrypted. The old wrapping is
    /// authenticated (so `aad` must be right), the value's own tag is checked only by
    /// [`Keyring::open`]. Rewrapping a value already under the active key gives a fresh wrapping.
    pub fn rewrap(&self, sealed: &Sealed, aad: &[u8]) -> Result<Sealed, SealError> {
        let data_key = unwrap_data_key(self, sealed, aad)?;
        let key_id = self.active().clone();
        let (wrap_nonce, wrapped_key) = wrap(self.active_key(), &key_id, &data_key, aad);
        Ok(Sealed {
            key_id,
            wrap_nonce,
            wrapped_key,
            data_nonce: sealed.data_nonce,
            ciphertext: sealed.ciphertext.clone(),
        })
    }
}
