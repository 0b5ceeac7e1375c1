//! The master keyring: which master keys exist, which one seals new values, the index key, and
//! the keyring file that holds them.
//!
//! The file is TOML (see the crate documentation for its shape). Loading checks it completely
//! before any key is used, and its errors never quote a secret: parse errors give the line and
//! the parser's message, not the offending text. Secrets live in [`Zeroizing`] buffers and are
//! wiped when dropped; `Debug` prints key ids only.
//!
//! This module does not decide when to rotate or which keys are still in use (the store knows
//! which key id each sealed value names), and it does not lock the file against two writers.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{KeyId, SealError};

/// The environment variable whose content, when set, is the keyring (same TOML as the file).
pub const MASTER_KEYS_ENV: &str = "TESSERA_MASTER_KEYS";

/// A 32-byte secret that is wiped from memory when dropped.
pub(crate) type Secret = Zeroizing<[u8; 32]>;

/// One master (key-encryption) key.
#[derive(Clone)]
pub(crate) struct MasterKey {
    pub(crate) secret: Secret,
    created: DateTime<Utc>,
}

/// The master keys, the active one among them, and the index key.
///
/// Invariant: `active` is always a key of `keys`. Every constructor ([`Keyring::generate`],
/// [`Keyring::from_toml`]) establishes it, [`Keyring::rotate`] inserts before it switches, and
/// [`Keyring::retire`] refuses the active key.
#[derive(Clone)]
pub struct Keyring {
    active: KeyId,
    keys: BTreeMap<KeyId, MasterKey>,
    index_key: Secret,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("index_key", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("secret", &"<redacted>")
            .field("created", &self.created)
            .finish()
    }
}

fn fresh_secret() -> Secret {
    let mut secret = Zeroizing::new([0u8; 32]);
    crate::random::fill(secret.as_mut_slice());
    secret
}

impl Keyring {
    /// A new keyring with one fresh active master key and a fresh index key.
    pub fn generate(now: DateTime<Utc>) -> Keyring {
        let active = KeyId::fresh(now);
        let mut keys = BTreeMap::new();
        keys.insert(
            active.clone(),
            MasterKey {
                secret: fresh_secret(),
                // Whole seconds, as the file keeps them, so a saved keyring reads back equal.
                created: now.trunc_subsecs(0),
            },
        );
        Keyring {
            active,
            keys,
            index_key: fresh_secret(),
        }
    }

    /// Reads the keyring file format, checking all of it; see the crate documentation.
    pub fn from_toml(text: &str) -> Result<Keyring, SealError> {
        from_toml_in(text, "keyring text")
    }

    /// The keyring file format. The returned text holds every secret: write it only to a file
    /// with owner-only permissions ([`Keyring::save`] does) and wipe it when done (wrap it in
    /// [`Zeroizing`]). It is built in one buffer of its final size, so no stray partial copies
    /// of the secrets are left in freed memory.
    pub fn to_toml(&self) -> String {
        const HEADER: &str = "# Tessera master keyring. It holds secrets: keep it mode 0600 and out of backups of the\n\
             # database. Losing a key makes every value sealed with it unreadable.\n";
        // Generous upper bounds: a key table is about 140 bytes, the top lines about 90.
        let capacity = HEADER.len() + 128 + 192 * self.keys.len();
        let mut text = String::with_capacity(capacity);
        text.push_str(HEADER);
        text.push_str("active = \"");
        text.push_str(self.active.as_str());
        text.push_str("\"\nindex_key = \"");
        BASE64.encode_string(self.index_key.as_slice(), &mut text);
        text.push_str("\"\n");
        for (id, key) in &self.keys {
            text.push_str("\n[[key]]\nid = \"");
            text.push_str(id.as_str());
            text.push_str("\"\nsecret = \"");
            BASE64.encode_string(key.secret.as_slice(), &mut text);
            text.push_str("\"\ncreated = \"");
            text.push_str(&key.created.to_rfc3339_opts(SecondsFormat::Secs, true));
            text.push_str("\"\n");
        }
        debug_assert!(
            text.len() <= capacity,
            "the keyring text outgrew its buffer"
        );
        text
    }

    /// Reads and checks the keyring file at `path`.
    pub fn load(path: &Path) -> Result<Keyring, SealError> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| SealError::Read {
            path: path.to_path_buf(),
            source,
        })?);
        from_toml_in(&text, &path.display().to_string())
    }

    /// Writes the keyring to `path` atomically: a temporary file in the same folder (mode 0600
    /// on unix, flushed to disk) is renamed over `path`, so a reader sees the old file or the new
    /// one, never half of one. Creates the folder when it is missing.
    pub fn save(&self, path: &Path) -> Result<(), SealError> {
        let text = Zeroizing::new(self.to_toml());
        let temp = write_temp_beside(path, &text)?;
        let renamed = fs::rename(&temp, path);
        if let Err(source) = renamed {
            let _ = fs::remove_file(&temp);
            return Err(write_error(path, source));
        }
        sync_parent(path)
    }

    /// Reads the keyring from the environment variable `TESSERA_MASTER_KEYS` when it is set
    /// (same TOML as the file; the file is then ignored), otherwise from the file at `path`.
    /// When neither exists and `create` is true, generates a keyring and saves it to `path`.
    ///
    /// Creation never overwrites: if another process created the file meanwhile, that file is
    /// loaded and returned instead, so two processes starting together share one keyring.
    pub fn open_or_create(
        path: &Path,
        create: bool,
        now: DateTime<Utc>,
    ) -> Result<Keyring, SealError> {
        let from_env = match std::env::var(MASTER_KEYS_ENV) {
            Ok(text) => Some(Zeroizing::new(text)),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => return Err(SealError::EnvNotUnicode),
        };
        open_or_create_with(path, from_env.as_deref().map(String::as_str), create, now)
    }

    /// The key that seals new values.
    pub fn active(&self) -> &KeyId {
        &self.active
    }

    /// Every key id in the keyring, in order.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.keys().cloned().collect()
    }

    /// When the key `id` was made, if the keyring has it.
    pub fn key_created(&self, id: &KeyId) -> Option<DateTime<Utc>> {
        self.keys.get(id).map(|key| key.created)
    }

    /// Adds a fresh master key and makes it active. Older keys stay, so values sealed under them
    /// still open; [`Keyring::rewrap`] moves a value to the new key. The index key does not change.
    pub fn rotate(&mut self, now: DateTime<Utc>) -> KeyId {
        // Two keys made on one day collide with probability 2^-32 per pair; draw again if so.
        let id = loop {
            let candidate = KeyId::fresh(now);
            if !self.keys.contains_key(&candidate) {
                break candidate;
            }
        };
        self.keys.insert(
            id.clone(),
            MasterKey {
                secret: fresh_secret(),
                // Whole seconds, as the file keeps them, so a saved keyring reads back equal.
                created: now.trunc_subsecs(0),
            },
        );
        self.active = id.clone();
        id
    }

    /// Removes the key `id`. The caller must first check that no sealed value still names it;
    /// those values could never be opened again. Refuses the active key.
    pub fn retire(&mut self, id: &KeyId) -> Result<(), SealError> {
        if *id == self.active {
            return Err(SealError::RetireActive(id.clone()));
        }
        match self.keys.remove(id) {
            Some(_) => Ok(()),
            None => Err(SealError::UnknownKey(id.clone())),
        }
    }

    /// HMAC-SHA256 of `data` under the index key. Stable across [`Keyring::rotate`], so it can
    /// serve as a content hash or a blind index (equality search) over values that must not be
    /// guessable from an unkeyed hash, such as identifiers. Give different uses different
    /// prefixes in `data` (e.g. `b"snils\0"`) so that their hashes cannot be compared.
    pub fn keyed_hash(&self, data: &[u8]) -> [u8; 32] {
        // Invariant: HMAC accepts a key of any length, so `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.as_slice())
            .expect("hmac accepts keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn key(&self, id: &KeyId) -> Result<&MasterKey, SealError> {
        self.keys
            .get(id)
            .ok_or_else(|| SealError::UnknownKey(id.clone()))
    }

    pub(crate) fn active_key(&self) -> &MasterKey {
        // Invariant (see the type's documentation): the active key is always in `keys`.
        self.keys
            .get(&self.active)
            .expect("the active key is always in the keyring")
    }
}

/// [`Keyring::open_or_create`] with the environment variable's content passed in, for tests.
pub(crate) fn open_or_create_with(
    path: &Path,
    from_env: Option<&str>,
    create: bool,
    now: DateTime<Utc>,
) -> Result<Keyring, SealError> {
    if let Some(text) = from_env {
        return from_toml_in(text, MASTER_KEYS_ENV);
    }
    match fs::symlink_metadata(path) {
        Ok(_) => return Keyring::load(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(SealError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    if !create {
        return Err(SealError::NoKeyring {
            path: path.to_path_buf(),
        });
    }
    let keyring = Keyring::generate(now);
    let text = Zeroizing::new(keyring.to_toml());
    let temp = write_temp_beside(path, &text)?;
    // A hard link fails when `path` exists, unlike a rename: the first creator wins. A file
    // system without hard links falls back to a rename after an existence check, which leaves
    // a small window for two creators; only the last one's keyring would then be on disk.
    let placed = match fs::hard_link(&temp, path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) if !path.exists() => fs::rename(&temp, path).map(|()| true),
        Err(error) => Err(error),
    };
    // After a link the temporary name is redundant; after a rename it is already gone.
    let _ = fs::remove_file(&temp);
    match placed {
        Ok(true) => {
            sync_parent(path)?;
            Ok(keyring)
        }
        Ok(false) => Keyring::load(path),
        Err(source) => Err(write_error(path, source)),
    }
}

fn write_error(path: &Path, source: std::io::Error) -> SealError {
    SealError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to a new owner-only file next to `path` and flushes it; returns its path.
fn write_temp_beside(path: &Path, text: &str) -> Result<PathBuf, SealError> {
    let Some(file_name) = path.file_name() else {
        return Err(write_error(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
        ));
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&folder).map_err(|source| write_error(path, source))?;
    let mut suffix = [0u8; 4];
    crate::random::fill(&mut suffix);
    let temp = folder.join(format!(
        ".{}.tmp-{}-{:08x}",
        file_name.to_string_lossy(),
        std::process::id(),
        u32::from_be_bytes(suffix)
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(write_error(path, source));
    }
    Ok(temp)
}

/// Flushes the folder entry of `path` so that a rename or link survives a crash (unix only).
fn sync_parent(path: &Path) -> Result<(), SealError> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| write_error(path, source))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The keyring file as written, before any check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    active: String,
    index_key: Zeroizing<String>,
    #[serde(default)]
    key: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    secret: Zeroizing<String>,
    created: CreatedField,
}

/// `created` as a quoted RFC 3339 string (what [`Keyring::to_toml`] writes) or a bare TOML
/// datetime (what an operator may type).
#[derive(Deserialize)]
#[serde(untagged)]
enum CreatedField {
    Text(String),
    Datetime(toml::value::Datetime),
}

fn from_toml_in(text: &str, origin: &str) -> Result<Keyring, SealError> {
    let malformed = |reason: String| SealError::MalformedKeyring {
        origin: origin.to_string(),
        reason,
    };
    let file: KeyringFile = toml::from_str(text).map_err(|error| {
        // The parser's own Display quotes the offending line, which may hold a secret; give
        // only the line number and the message.
        let line = error.span().map(|span| {
            let before = text.as_bytes().get(..span.start).unwrap_or(text.as_bytes());
            before.iter().filter(|&&b| b == b'\n').count() + 1
        });
        match line {
            Some(line) => malformed(format!("line {line}: {}", error.message().trim())),
            None => malformed(error.message().trim().to_string()),
        }
    })?;
    if file.key.is_empty() {
        return Err(malformed("no [[key]] entries".into()));
    }
    let mut keys = BTreeMap::new();
    for (number, entry) in file.key.iter().enumerate() {
        let id = KeyId::parse(&entry.id).map_err(|_| {
            malformed(format!(
                "key {}: id {:?} is not k-<yyyymmdd>-<8 lowercase hex digits>",
                number + 1,
                entry.id
            ))
        })?;
        let secret = decode_secret(&entry.secret)
            .ok_or_else(|| malformed(format!("key {id}: secret is not base64 of 32 bytes")))?;
        let created = match &entry.created {
            CreatedField::Text(text) => DateTime::parse_from_rfc3339(text).ok(),
            CreatedField::Datetime(datetime) => {
                DateTime::parse_from_rfc3339(&datetime.to_string()).ok()
            }
        }
        .ok_or_else(|| {
            malformed(format!(
                "key {id}: created is not an RFC 3339 time with an offset, e.g. 2026-12-01T07:00:00Z"
            ))
        })?
        .with_timezone(&Utc);
        if keys.contains_key(&id) {
            return Err(malformed(format!("key {id} appears twice")));
        }
        keys.insert(id, MasterKey { secret, created });
    }
    let active = KeyId::parse(&file.active).map_err(|_| {
        malformed(format!(
            "active {:?} is not k-<yyyymmdd>-<8 lowercase hex digits>",
            file.active
        ))
    })?;
    if !keys.contains_key(&active) {
        return Err(malformed(format!(
            "active key {active} is not among the [[key]] entries"
        )));
    }
    let index_key = decode_secret(&file.index_key)
        .ok_or_else(|| malformed("index_key is not base64 of 32 bytes".into()))?;
    Ok(Keyring {
        active,
        keys,
        index_key,
    })
}

/// Decodes standard padded base64 of exactly 32 bytes, without leaving copies behind.
fn decode_secret(text: &str) -> Option<Secret> {
    let mut buffer = Zeroizing::new([0u8; 64]);
    let length = BASE64
        .decode_slice(text.trim(), buffer.as_mut_slice())
        .ok()?;
    if length != 32 {
        return None;
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&buffer[..32]);
    Some(secret)
}
