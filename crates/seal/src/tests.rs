//! Tests of the keyring, its file, and sealing: the laws (round trip, tamper evidence, rotation)
//! and the refusals, each with the reason it gives.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::keyring::open_or_create_with;

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, 7, 0, 0).unwrap()
}

const AAD: &[u8] = b"attribute:tax/42:3";

#[test]
fn keyrings_and_sealed_values_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Keyring>();
    shareable::<Sealed>();
    shareable::<SealError>();
}

#[test]
fn values_round_trip() {
    let keyring = Keyring::generate(day(1));
    let long = vec![0xA5u8; 1 << 20];
    let cases: [&[u8]; 5] = [
        b"",
        b"x",
        "E11 сахарный диабет".as_bytes(),
        &[0u8; 64],
        &long,
    ];
    for plaintext in cases {
        let sealed = keyring.seal(plaintext, AAD);
        assert_eq!(sealed.key_id, *keyring.active());
        let blob = sealed.to_bytes();
        let back = Sealed::from_bytes(&blob).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(keyring.open(&back, AAD).unwrap().as_slice(), plaintext);
    }
}

#[test]
fn sealing_twice_gives_different_blobs() {
    let keyring = Keyring::generate(day(1));
    assert_ne!(
        keyring.seal(b"same", AAD).to_bytes(),
        keyring.seal(b"same", AAD).to_bytes()
    );
}

#[test]
fn wrong_aad_fails() {
    let keyring = Keyring::generate(day(1));
    let sealed = keyring.seal(b"F20 schizophrenia", AAD);
    for other in [
        &b""[..],
        b"attribute:tax/42:4",
        b"attribute:tax/43:3",
        b"attribute:tax/42:3 ",
    ] {
        assert!(
            matches!(keyring.open(&sealed, other), Err(SealError::Authentication)),
            "{:?}",
            String::from_utf8_lossy(other)
        );
        assert!(matches!(
            keyring.rewrap(&sealed, other),
            Err(SealError::Authentication)
        ));
    }
}

#[test]
fn a_flipped_bit_anywhere_in_the_blob_is_refused() {
    let keyring = Keyring::generate(day(1));
    let blob = keyring.seal(b"criminal record: none", AAD).to_bytes();
    for index in 0..blob.len() {
        for mask in [0x01u8, 0x80] {
            let mut tampered = blob.clone();
            tampered[index] ^= mask;
            let outcome =
                Sealed::from_bytes(&tampered).and_then(|sealed| keyring.open(&sealed, AAD));
            assert!(outcome.is_err(), "byte {index} ^ {mask:#x} was accepted");
        }
    }
}

#[test]
fn truncated_or_extended_blobs_are_refused() {
    let keyring = Keyring::generate(day(1));
    let blob = keyring.seal(b"biometric template 17", AAD).to_bytes();
    for length in 0..blob.len() {
        let outcome =
            Sealed::from_bytes(&blob[..length]).and_then(|sealed| keyring.open(&sealed, AAD));
        assert!(
            outcome.is_err(),
            "a blob cut to {length} bytes was accepted"
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    let sealed = Sealed::from_bytes(&longer).unwrap();
    assert!(matches!(
        keyring.open(&sealed, AAD),
        Err(SealError::Authentication)
    ));
}

#[test]
fn from_bytes_gives_reasons() {
    let keyring = Keyring::generate(day(1));
    let blob = keyring.seal(b"v", AAD).to_bytes();
    let mut wrong_version = blob.clone();
    wrong_version[3] = 2;
    let mut wrong_id_length = blob.clone();
    wrong_id_length[4] = 18;
    let mut bad_id = blob.clone();
    bad_id[5] = b'K';
    let cases: [(&[u8], &str); 7] = [
        (b"", "shorter than the header"),
        (b"TS", "shorter than the header"),
        (b"XYZ\x01\x13", "wrong magic"),
        (&wrong_version, "unsupported format version 2"),
        (&wrong_id_length, "key id length 18, expected 19"),
        (&bad_id, "key id is not"),
        (&blob[..blob.len() - 2], "truncated"),
    ];
    for (bytes, expect) in cases {
        let error = Sealed::from_bytes(bytes).unwrap_err().to_string();
        assert!(error.contains(expect), "{error:?} lacks {expect:?}");
    }
}

#[test]
fn the_ciphertext_does_not_contain_the_plaintext() {
    let keyring = Keyring::generate(day(1));
    let plaintext = b"HIV positive since 2019, HIV positive since 2019";
    let blob = keyring.seal(plaintext, AAD).to_bytes();
    for window in [&plaintext[..], b"HIV", b"2019"] {
        assert!(
            !blob.windows(window.len()).any(|part| part == window),
            "{:?} appears in the blob",
            String::from_utf8_lossy(window)
        );
    }
}

#[test]
fn rotate_rewrap_retire_then_open() {
    let mut keyring = Keyring::generate(day(1));
    let old = keyring.active().clone();
    let sealed = keyring.seal(b"Z21", AAD);
    let untouched = keyring.seal(b"not rewrapped", AAD);

    let new = keyring.rotate(day(2));
    assert_ne!(new, old);
    assert_eq!(keyring.active(), &new);
    assert_eq!(keyring.key_ids().len(), 2);
    assert_eq!(keyring.key_created(&new), Some(day(2)));
    // Values sealed before the rotation still open.
    assert_eq!(keyring.open(&sealed, AAD).unwrap().as_slice(), b"Z21");

    let moved = keyring.rewrap(&sealed, AAD).unwrap();
    assert_eq!(moved.key_id, new);
    assert_eq!(
        moved.ciphertext, sealed.ciphertext,
        "the data ciphertext is unchanged"
    );
    assert_eq!(moved.data_nonce, sealed.data_nonce);

    keyring.retire(&old).unwrap();
    assert_eq!(keyring.key_ids(), vec![new.clone()]);
    assert_eq!(keyring.open(&moved, AAD).unwrap().as_slice(), b"Z21");
    assert!(matches!(
        keyring.open(&untouched, AAD),
        Err(SealError::UnknownKey(id)) if id == old
    ));
}

#[test]
fn retire_refuses_the_active_key_and_unknown_keys() {
    let mut keyring = Keyring::generate(day(1));
    let active = keyring.active().clone();
    assert!(matches!(
        keyring.retire(&active),
        Err(SealError::RetireActive(_))
    ));
    let stranger = KeyId::parse("k-20200101-00000000").unwrap();
    assert!(matches!(
        keyring.retire(&stranger),
        Err(SealError::UnknownKey(_))
    ));
    assert_eq!(keyring.key_ids(), vec![active]);
}

#[test]
fn opening_with_a_keyring_that_lacks_the_key_fails_with_unknown_key() {
    let ours = Keyring::generate(day(1));
    let theirs = Keyring::generate(day(1));
    let sealed = ours.seal(b"secret", AAD);
    match theirs.open(&sealed, AAD) {
        Err(SealError::UnknownKey(id)) => assert_eq!(id, sealed.key_id),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
}

#[test]
fn a_key_with_the_same_id_but_another_secret_fails_authentication() {
    let ours = Keyring::generate(day(1));
    let sealed = ours.seal(b"secret", AAD);
    let text = ours.to_toml();
    let forged_text = text.replace(
        &secret_line(&text, 1),
        "secret = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"",
    );
    let forged = Keyring::from_toml(&forged_text).unwrap();
    assert!(matches!(
        forged.open(&sealed, AAD),
        Err(SealError::Authentication)
    ));
}

fn secret_line(text: &str, nth: usize) -> String {
    text.lines()
        .filter(|line| line.starts_with("secret = "))
        .nth(nth - 1)
        .unwrap()
        .to_string()
}

#[test]
fn keyed_hash_is_stable_across_rotation_and_reload_and_differs_between_keyrings() {
    let mut keyring = Keyring::generate(day(1));
    let before = keyring.keyed_hash(b"snils\x0011223344595");
    keyring.rotate(day(2));
    assert_eq!(keyring.keyed_hash(b"snils\x0011223344595"), before);
    let reloaded = Keyring::from_toml(&keyring.to_toml()).unwrap();
    assert_eq!(reloaded.keyed_hash(b"snils\x0011223344595"), before);
    assert_ne!(keyring.keyed_hash(b"snils\x0011223344596"), before);
    assert_ne!(
        Keyring::generate(day(1)).keyed_hash(b"snils\x0011223344595"),
        before
    );
}

#[test]
fn toml_round_trips_and_opens_old_values() {
    let mut keyring = Keyring::generate(day(1));
    let first = keyring.seal(b"one", AAD);
    keyring.rotate(day(2));
    let second = keyring.seal(b"two", AAD);
    let text = keyring.to_toml();
    let reloaded = Keyring::from_toml(&text).unwrap();
    assert_eq!(reloaded.active(), keyring.active());
    assert_eq!(reloaded.key_ids(), keyring.key_ids());
    assert_eq!(reloaded.to_toml(), text);
    assert_eq!(reloaded.open(&first, AAD).unwrap().as_slice(), b"one");
    assert_eq!(reloaded.open(&second, AAD).unwrap().as_slice(), b"two");
}

#[test]
fn creation_times_survive_a_save_even_with_sub_second_clocks() {
    let now = day(1) + chrono::Duration::nanoseconds(123_456_789);
    let mut keyring = Keyring::generate(now);
    keyring.rotate(now + chrono::Duration::milliseconds(1500));
    let reloaded = Keyring::from_toml(&keyring.to_toml()).unwrap();
    for id in keyring.key_ids() {
        assert_eq!(reloaded.key_created(&id), keyring.key_created(&id), "{id}");
    }
    assert_eq!(
        keyring.key_created(keyring.active()),
        Some(day(1) + chrono::Duration::seconds(1))
    );
}

const SECRET_A: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const SECRET_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn keyring_text(active: &str, index_key: &str, keys: &[(&str, &str, &str)]) -> String {
    let mut text = format!("active = \"{active}\"\nindex_key = \"{index_key}\"\n");
    for (id, secret, created) in keys {
        text.push_str(&format!(
            "\n[[key]]\nid = \"{id}\"\nsecret = \"{secret}\"\ncreated = {created}\n"
        ));
    }
    text
}

#[test]
fn the_documented_example_loads() {
    let text = keyring_text(
        "k-20261201-1a2b3c4d",
        SECRET_B,
        &[("k-20261201-1a2b3c4d", SECRET_A, "\"2026-12-01T07:00:00Z\"")],
    );
    let keyring = Keyring::from_toml(&text).unwrap();
    assert_eq!(keyring.active().as_str(), "k-20261201-1a2b3c4d");
    assert_eq!(keyring.key_created(keyring.active()), Some(day(1)));
}

#[test]
fn a_bare_toml_datetime_is_accepted_for_created() {
    let text = keyring_text(
        "k-20261201-1a2b3c4d",
        SECRET_B,
        &[("k-20261201-1a2b3c4d", SECRET_A, "2026-12-01T10:00:00+03:00")],
    );
    let keyring = Keyring::from_toml(&text).unwrap();
    assert_eq!(keyring.key_created(keyring.active()), Some(day(1)));
}

#[test]
fn malformed_keyrings_are_refused_with_a_reason_and_without_secrets() {
    let id = "k-20261201-1a2b3c4d";
    let other = "k-20261202-00000001";
    let created = "\"2026-12-01T07:00:00Z\"";
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "missing field `active`"),
        ("active = 1".into(), "line 1"),
        (keyring_text(id, SECRET_B, &[]), "no [[key]] entries"),
        (
            keyring_text(other, SECRET_B, &[(id, SECRET_A, created)]),
            "active key k-20261202-00000001 is not among",
        ),
        (
            keyring_text("k-1", SECRET_B, &[(id, SECRET_A, created)]),
            "active \"k-1\" is not",
        ),
        (
            keyring_text(id, SECRET_B, &[("key-one", SECRET_A, created)]),
            "key 1: id \"key-one\" is not",
        ),
        (
            keyring_text(id, SECRET_B, &[(id, "not base64!", created)]),
            "key k-20261201-1a2b3c4d: secret is not base64 of 32 bytes",
        ),
        (
            keyring_text(id, SECRET_B, &[(id, "AQIDBA==", created)]),
            "secret is not base64 of 32 bytes",
        ),
        (
            keyring_text(
                id,
                SECRET_B,
                &[(id, &format!("{SECRET_A}{SECRET_A}"), created)],
            ),
            "secret is not base64 of 32 bytes",
        ),
        (
            keyring_text(id, "AQIDBA==", &[(id, SECRET_A, created)]),
            "index_key is not base64 of 32 bytes",
        ),
        (
            keyring_text(id, SECRET_B, &[(id, SECRET_A, "\"yesterday\"")]),
            "created is not an RFC 3339 time",
        ),
        (
            keyring_text(id, SECRET_B, &[(id, SECRET_A, "2026-12-01")]),
            "created is not an RFC 3339 time",
        ),
        (
            keyring_text(
                id,
                SECRET_B,
                &[(id, SECRET_A, created), (id, SECRET_B, created)],
            ),
            "key k-20261201-1a2b3c4d appears twice",
        ),
        (
            format!(
                "{}colour = \"red\"\n",
                keyring_text(id, SECRET_B, &[(id, SECRET_A, created)])
            ),
            "unknown field `colour`",
        ),
        (
            keyring_text(id, SECRET_B, &[(id, SECRET_A, created)]).replace("created =", "made ="),
            "unknown field `made`",
        ),
        (
            format!(
                "{}\n[[key]]\nid = \"{other}\"\nsecret = \"{SECRET_A}",
                keyring_text(id, SECRET_B, &[(id, SECRET_A, created)])
            ),
            "line",
        ),
    ];
    for (text, expect) in cases {
        let error = match Keyring::from_toml(&text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.starts_with("malformed keyring in keyring text: "),
            "{error}"
        );
        assert!(error.contains(expect), "{error:?} lacks {expect:?}");
        for secret in [SECRET_A, SECRET_B] {
            assert!(!error.contains(secret), "{error:?} quotes a secret");
        }
    }
}

#[test]
fn debug_prints_no_secret() {
    let keyring = Keyring::generate(day(1));
    let text = keyring.to_toml();
    let debug = format!("{keyring:?} {:?}", keyring.seal(b"visible?", AAD));
    assert!(debug.contains(keyring.active().as_str()));
    for line in text
        .lines()
        .filter(|line| line.contains("secret") || line.starts_with("index_key"))
    {
        let Some(value) = line.split('"').nth(1) else {
            continue;
        };
        assert!(!debug.contains(value), "{debug} shows {value}");
    }
    assert!(!debug.contains("visible?"));
}

#[test]
fn save_is_owner_only_and_load_reads_it_back() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("keys").join("keyring.toml");
    let mut keyring = Keyring::generate(day(1));
    keyring.save(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    keyring.rotate(day(2));
    keyring.save(&path).unwrap();
    let loaded = Keyring::load(&path).unwrap();
    assert_eq!(loaded.to_toml(), keyring.to_toml());
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("keyring.toml")]);
}

#[test]
fn load_names_the_file_in_its_errors() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("absent.toml");
    assert!(matches!(
        Keyring::load(&missing),
        Err(SealError::Read { .. })
    ));
    let broken = folder.path().join("broken.toml");
    std::fs::write(&broken, "active = \"k-20261201-1a2b3c4d\"\n").unwrap();
    let error = Keyring::load(&broken).unwrap_err().to_string();
    assert!(
        error.contains("broken.toml") && error.contains("index_key"),
        "{error}"
    );
}

#[test]
fn open_or_create_prefers_the_environment_then_the_file_then_creates() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("keyring.toml");

    let refused = open_or_create_with(&path, None, false, day(1));
    assert!(matches!(refused, Err(SealError::NoKeyring { .. })));
    assert!(!path.exists());

    let created = open_or_create_with(&path, None, true, day(1)).unwrap();
    assert!(path.exists());
    let again = open_or_create_with(&path, None, true, day(2)).unwrap();
    assert_eq!(
        again.to_toml(),
        created.to_toml(),
        "an existing file is loaded, not replaced"
    );
    let without_create = open_or_create_with(&path, None, false, day(2)).unwrap();
    assert_eq!(without_create.active(), created.active());

    let from_env = Keyring::generate(day(3));
    let chosen = open_or_create_with(&path, Some(&from_env.to_toml()), true, day(3)).unwrap();
    assert_eq!(chosen.active(), from_env.active());
    let error = open_or_create_with(&path, Some("active = 3"), true, day(3)).unwrap_err();
    assert!(error.to_string().contains("TESSERA_MASTER_KEYS"), "{error}");
}

#[test]
fn open_or_create_loads_a_keyring_created_concurrently() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("keyring.toml");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || open_or_create_with(&path, None, true, day(1)).unwrap())
        })
        .collect();
    let keyrings: Vec<Keyring> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let on_disk = Keyring::load(&path).unwrap().to_toml();
    for keyring in keyrings {
        assert_eq!(
            keyring.to_toml(),
            on_disk,
            "every opener uses the keyring on disk"
        );
    }
}

proptest! {
    #[test]
    fn from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Sealed::from_bytes(&bytes);
    }

    #[test]
    fn garbling_a_valid_blob_never_panics_and_never_opens(
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let keyring = Keyring::generate(day(1));
        let mut blob = keyring.seal(&plaintext, AAD).to_bytes();
        for (index, mask) in edits {
            let at = index.index(blob.len());
            blob[at] ^= mask;
        }
        if let Some(cut) = cut {
            blob.truncate(cut.index(blob.len()));
        }
        let outcome = Sealed::from_bytes(&blob).and_then(|sealed| keyring.open(&sealed, AAD));
        prop_assert!(outcome.is_err());
    }

    #[test]
    fn seal_then_open_is_the_identity(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let keyring = Keyring::generate(day(1));
        let blob = keyring.seal(&plaintext, &aad).to_bytes();
        let opened = keyring.open(&Sealed::from_bytes(&blob).unwrap(), &aad).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }
}
