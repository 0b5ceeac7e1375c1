//! The keyring that seals special-category values, and `tessera keys`: status and rotation.
//!
//! The keyring is a TOML file (`<data-dir>/keys/keyring.toml` unless `--key-file` or
//! `TESSERA_KEY_FILE` says otherwise), or the content of `TESSERA_MASTER_KEYS`. A copy of the
//! database without it reveals no special-category value; in production keep it apart from the
//! data directory. Rotation adds a new master key, re-seals every data key under it in small
//! transactions (a running server keeps reading and writing meanwhile: it reloads the file and
//! still holds the old key), and retires the old key once nothing uses it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tessera_seal::{KeyId, Keyring, Sealed};
use tessera_store::{SealedBlob, SealedRow};

use crate::{Settings, count};

/// Values re-sealed per transaction during a rotation.
const REWRAP_BATCH: usize = 2048;

/// Where the keyring file is.
pub(crate) fn key_file(context: &Settings) -> PathBuf {
    context
        .key_file
        .clone()
        .unwrap_or_else(|| context.data_dir.join("keys").join("keyring.toml"))
}

/// Opens the keyring, creating one on first use.
pub(crate) fn open_keyring(context: &Settings) -> anyhow::Result<Keyring> {
    let path = key_file(context);
    Keyring::open_or_create(&path, true, Utc::now())
        .with_context(|| format!("failed to open the keyring {}", path.display()))
}

/// `tessera keys status`: the keys and how many sealed values each holds.
pub(crate) fn status(context: &Settings) -> anyhow::Result<()> {
    let keyring = open_keyring(context)?;
    let store = context.open_store()?;
    let store = &*store;
    let counts = store.sealed_key_counts()?;
    println!("keyring {}", key_file(context).display());
    for id in keyring.key_ids() {
        let n = counts
            .iter()
            .find(|(k, _)| k == id.as_str())
            .map_or(0, |(_, n)| *n);
        let active = if &id == keyring.active() {
            " (active)"
        } else {
            ""
        };
        println!("  {id}{active}: {} sealed values", count(n));
    }
    for (id, n) in &counts {
        if KeyId::parse(id).map_or(true, |k| !keyring.key_ids().contains(&k)) {
            println!(
                "  {id}: {} sealed values under a key this keyring lacks",
                count(*n)
            );
        }
    }
    Ok(())
}

/// `tessera keys rotate`: a new active key, every data key re-sealed under it, old keys retired.
pub(crate) fn rotate(context: &Settings, keep_old: bool) -> anyhow::Result<()> {
    if std::env::var_os(tessera_seal::MASTER_KEYS_ENV).is_some() {
        return Err(crate::input_error(format!(
            "the keyring comes from {}; rotate it where it is kept, then re-seal with a keyring file",
            tessera_seal::MASTER_KEYS_ENV
        )));
    }
    let path = key_file(context);
    let mut keyring = open_keyring(context)?;
    let store = context.open_store()?;
    let store = &*store;
    let old: Vec<KeyId> = keyring.key_ids();
    let new = keyring.rotate(Utc::now());
    keyring
        .save(&path)
        .with_context(|| format!("failed to save the keyring {}", path.display()))?;
    println!("new active key {new}; re-sealing data keys");
    let mut rewrapped = 0u64;
    // A server still sealing under the old key reloads the keyring within a second: sweep, wait
    // past that, and sweep again until a sweep after the wait finds nothing.
    let mut waited = false;
    loop {
        let mut swept = 0;
        loop {
            let rows = store.sealed_not_under(new.as_str(), REWRAP_BATCH)?;
            if rows.is_empty() {
                break;
            }
            let mut updated = Vec::with_capacity(rows.len());
            for row in rows {
                let sealed = Sealed::from_bytes(&row.blob.bytes).with_context(|| {
                    format!("sealed value of record {} is unreadable", row.record.0)
                })?;
                let aad = tessera_store::special_aad(&row.address);
                let fresh = keyring.rewrap(&sealed, &aad).with_context(|| {
                    format!("cannot re-seal the value of record {}", row.record.0)
                })?;
                updated.push(SealedRow {
                    blob: SealedBlob {
                        key_id: fresh.key_id.as_str().to_string(),
                        bytes: fresh.to_bytes(),
                    },
                    ..row
                });
            }
            swept += updated.len();
            store.replace_sealed(&updated)?;
        }
        rewrapped += swept as u64;
        if swept == 0 && waited {
            break;
        }
        std::thread::sleep(Duration::from_millis(1500));
        waited = true;
    }
    println!("re-sealed {} data keys under {new}", count(rewrapped));
    if keep_old {
        println!("kept the old keys (--keep-old); retire them with another rotation");
        return Ok(());
    }
    for id in old {
        keyring
            .retire(&id)
            .with_context(|| format!("cannot retire {id}"))?;
        println!("retired {id}");
    }
    keyring
        .save(&path)
        .with_context(|| format!("failed to save the keyring {}", path.display()))?;
    Ok(())
}
