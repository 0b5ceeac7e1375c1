//! The storage suite every `Store` implementation must pass: each test runs against SQLite and,
//! when it can be reached, PostgreSQL (`backends()`; see `tessera_store::testing` for how the
//! PostgreSQL half is skipped or required).

use chrono::{TimeZone, Utc};
use tessera_model::{
    Attribute, ChangeKind, IdKind, Identifier, ProfileId, RecordKey, SourceId, SourceRecord,
    parse_full_name,
};
use tessera_store::testing::TestPostgres;
use tessera_store::{
    Assignment, ClientRow, Database, ImportEnd, ImportStatus, NewAccess, NewChange,
    NewSubscription, PreparedRecord, ProfileEvent, ResolutionOutcome, RunKind, SealedBlob, Sealer,
    SqliteStore, Store, StoredRecord, SubscriptionTarget, WriteCounts,
};

/// Seals with a real keyring, as the binary does.
struct TestSealer(tessera_seal::Keyring);

impl Sealer for TestSealer {
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> SealedBlob {
        let sealed = self.0.seal(plaintext, aad);
        SealedBlob {
            key_id: sealed.key_id.as_str().to_string(),
            bytes: sealed.to_bytes(),
        }
    }

    fn keyed_hash(&self, data: &[u8]) -> [u8; 32] {
        self.0.keyed_hash(data)
    }
}

fn sealer() -> &'static TestSealer {
    static SEALER: std::sync::OnceLock<TestSealer> = std::sync::OnceLock::new();
    SEALER.get_or_init(|| TestSealer(tessera_seal::Keyring::generate(Utc::now())))
}

fn record(key: &str, name: &str, snils: &str) -> PreparedRecord {
    PreparedRecord::new(
        &SourceRecord {
            source: SourceId::new("tax").unwrap(),
            key: RecordKey::new(key).unwrap(),
            observed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            attributes: vec![
                Attribute::Name(parse_full_name(name, Default::default())),
                Attribute::Identifier(Identifier::parse(IdKind::Snils, snils)),
            ],
        },
        sealer(),
    )
}

/// Both storage traits: what the server needs of a backend.
enum Backend {
    // The store is declared first so that it is closed before its directory is removed.
    Sqlite {
        store: Box<SqliteStore>,
        dir: tempfile::TempDir,
    },
    Postgres(TestPostgres),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn store(&self) -> &dyn Database {
        match self {
            Backend::Sqlite { store, .. } => store.as_ref(),
            Backend::Postgres(postgres) => postgres.store(),
        }
    }

    /// Closes the store and says whether `needle` is anywhere in what it stored.
    fn close_and_find(self, needle: &str) -> bool {
        match self {
            Backend::Sqlite { store, dir } => {
                drop(store);
                std::fs::read_dir(dir.path()).unwrap().any(|entry| {
                    let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
                    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                })
            }
            Backend::Postgres(postgres) => postgres.any_row_contains(needle).unwrap(),
        }
    }
}

/// A fresh store of every backend for the test named `test`.
fn backends(test: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let store = Box::new(SqliteStore::open(dir.path()).unwrap());
    let mut backends = vec![Backend::Sqlite { store, dir }];
    backends.extend(tessera_store::testing::postgres(test).map(Backend::Postgres));
    backends
}

fn apply(store: &dyn Store, assignments: Vec<Assignment>, events: Vec<ProfileEvent>) -> u64 {
    store
        .apply_resolution(&ResolutionOutcome {
            kind: RunKind::Batch,
            finished_at: Utc::now(),
            records: assignments.len() as u64,
            profiles: 1,
            assignments,
            events,
            review: Some(vec![]),
            changes: Vec::new(),
            model: None,
        })
        .unwrap()
}

/// Puts every current record on `profile`, with its identifiers.
fn assign_all(store: &dyn Store, profile: &ProfileId) -> Vec<Assignment> {
    let mut records: Vec<StoredRecord> = Vec::new();
    store.scan_current(&mut |r| records.push(r)).unwrap();
    records
        .into_iter()
        .map(|r| Assignment {
            record: r.id,
            profile: profile.clone(),
            identifiers: r
                .attributes
                .iter()
                .filter_map(|a| match a {
                    Attribute::Identifier(id) => Some((id.kind, id.value.clone())),
                    _ => None,
                })
                .collect(),
        })
        .collect()
}

fn counts(new: u64, changed: u64, unchanged: u64) -> WriteCounts {
    WriteCounts {
        new,
        changed,
        unchanged,
    }
}

#[test]
fn writing_is_idempotent_and_versions_changes() {
    for backend in backends("writing_is_idempotent_and_versions_changes") {
        let (backend, store) = (backend.name(), backend.store());
        let source = SourceId::new("tax").unwrap();
        let import = store.begin_import(&source, "tax.csv", Utc::now()).unwrap();
        let first = [
            record("1", "Иванов Иван", "112-233-445 95"),
            record("2", "Петров Пётр", "001-001-999 65"),
        ];
        assert_eq!(
            store.write_records(import, &first).unwrap(),
            counts(2, 0, 0),
            "{backend}"
        );
        assert_eq!(
            store.write_records(import, &first).unwrap(),
            counts(0, 0, 2),
            "{backend}"
        );

        let changed = [record("1", "Иванов Иван Иванович", "112-233-445 95")];
        assert_eq!(
            store.write_records(import, &changed).unwrap(),
            counts(0, 1, 0),
            "{backend}"
        );
        let versions = store.record_versions(&source, "1").unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|r| r.reference.version)
                .collect::<Vec<_>>(),
            [1, 2],
            "{backend}"
        );

        let mut current = Vec::new();
        store.scan_current(&mut |r| current.push(r)).unwrap();
        assert_eq!(current.len(), 2, "{backend}");
        current.sort_by(|a, b| a.reference.cmp(&b.reference));
        assert_eq!(current[0].reference.version, 2, "{backend}");
        match &current[0].attributes[0] {
            Attribute::Name(name) => assert_eq!(name.patronymic.as_deref(), Some("Иванович")),
            other => panic!("{backend}: expected a name, got {other:?}"),
        }

        let counts_now = store.counts().unwrap();
        assert_eq!(
            (
                counts_now.records,
                counts_now.versions,
                counts_now.unresolved
            ),
            (2, 3, 2),
            "{backend}"
        );

        let end = ImportEnd {
            finished_at: Utc::now(),
            status: ImportStatus::Done,
            rows_read: 5,
            counts: counts(2, 1, 2),
            quarantined: 0,
            quarantine_path: None,
        };
        store.finish_import(import, &end).unwrap();
        assert!(
            store
                .finish_import(tessera_store::ImportId(9999), &end)
                .is_err(),
            "{backend}"
        );
    }
}

#[test]
fn identifiers_and_profiles_are_found() {
    for backend in backends("identifiers_and_profiles_are_found") {
        let (backend, store) = (backend.name(), backend.store());
        let source = SourceId::new("tax").unwrap();
        let import = store.begin_import(&source, "tax.csv", Utc::now()).unwrap();
        store
            .write_records(
                import,
                &[
                    record("1", "Иванов Иван", "112-233-445 95"),
                    record("2", "Иванов И.", "11223344595"),
                ],
            )
            .unwrap();
        // Identifier lookups are built by resolution, not by import.
        assert!(
            store
                .records_with_identifier(IdKind::Snils, "11223344595")
                .unwrap()
                .is_empty(),
            "{backend}"
        );

        let profile = ProfileId::new("p-1".into());
        apply(store, assign_all(store, &profile), vec![]);
        let found = store
            .records_with_identifier(IdKind::Snils, "11223344595")
            .unwrap();
        assert_eq!(found.len(), 2, "{backend}");
        assert!(
            found.iter().all(|r| r.profile.as_ref() == Some(&profile)),
            "{backend}"
        );
        assert_eq!(
            store.profile_records(&profile).unwrap().len(),
            2,
            "{backend}"
        );
        assert_eq!(store.counts().unwrap().profiles, 1, "{backend}");

        // A changed record is a new version that has not been resolved yet.
        store
            .write_records(import, &[record("2", "Иванов И.", "001-001-999 65")])
            .unwrap();
        assert_eq!(
            store.profile_records(&profile).unwrap().len(),
            1,
            "{backend}"
        );
        assert_eq!(
            store
                .records_with_identifier(IdKind::Snils, "11223344595")
                .unwrap()
                .len(),
            1,
            "{backend}"
        );
        assert_eq!(store.counts().unwrap().unresolved, 1, "{backend}");

        // Resolving again replaces the lookup.
        apply(store, assign_all(store, &profile), vec![]);
        assert_eq!(
            store
                .records_with_identifier(IdKind::Snils, "00100199965")
                .unwrap()
                .len(),
            1,
            "{backend}"
        );

        // Records a run does not list keep their profile.
        apply(store, vec![], vec![]);
        assert_eq!(
            store.profile_records(&profile).unwrap().len(),
            2,
            "{backend}"
        );
    }
}

#[test]
fn sqlite_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        let import = store
            .begin_import(&SourceId::new("tax").unwrap(), "f", Utc::now())
            .unwrap();
        store
            .write_records(import, &[record("1", "Иванов Иван", "112-233-445 95")])
            .unwrap();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.counts().unwrap().records, 1);
    assert!(dir.path().join(tessera_store::DATABASE_FILE).exists());
}

#[test]
fn merged_profile_ids_say_where_they_went() {
    for backend in backends("merged_profile_ids_say_where_they_went") {
        let (backend, store) = (backend.name(), backend.store());
        let source = SourceId::new("tax").unwrap();
        let import = store.begin_import(&source, "tax.csv", Utc::now()).unwrap();
        store
            .write_records(import, &[record("1", "Иванов Иван", "112-233-445 95")])
            .unwrap();
        let (old, young) = (
            ProfileId::new("p-old".into()),
            ProfileId::new("p-young".into()),
        );
        let first = apply(
            store,
            vec![],
            vec![ProfileEvent::Created {
                profile: old.clone(),
            }],
        );
        let second = apply(
            store,
            assign_all(store, &young),
            vec![ProfileEvent::Created {
                profile: young.clone(),
            }],
        );
        assert_eq!(second, first + 1, "{backend}");
        let ages = store.profile_ages().unwrap();
        assert_eq!((ages[&old], ages[&young]), (first, second), "{backend}");

        let third = apply(
            store,
            assign_all(store, &old),
            vec![ProfileEvent::Merged {
                from: young.clone(),
                into: old.clone(),
            }],
        );
        assert!(
            !store.profile_ages().unwrap().contains_key(&young),
            "{backend}: a merged id is not active"
        );
        let history = store.profile_history(&young).unwrap();
        assert_eq!(history.created_run, Some(second), "{backend}");
        assert_eq!(history.merged_into, Some(old.clone()), "{backend}");
        assert_eq!(
            history.events,
            [
                (
                    second,
                    ProfileEvent::Created {
                        profile: young.clone()
                    }
                ),
                (
                    third,
                    ProfileEvent::Merged {
                        from: young.clone(),
                        into: old.clone()
                    }
                )
            ],
            "{backend}"
        );
        assert_eq!(
            store
                .profile_history(&ProfileId::new("p-none".into()))
                .unwrap(),
            Default::default()
        );
    }
}

#[test]
fn steward_decisions_are_kept_and_reversible_and_the_queue_is_replaced() {
    for backend in backends("steward_decisions_are_kept_and_reversible_and_the_queue_is_replaced") {
        let (backend, store) = (backend.name(), backend.store());
        let address = |key: &str| (SourceId::new("tax").unwrap(), RecordKey::new(key).unwrap());
        let item = tessera_store::ReviewItem {
            a: address("1"),
            b: address("2"),
            weight: 2.5,
        };
        let outcome = |review| ResolutionOutcome {
            kind: RunKind::Batch,
            finished_at: Utc::now(),
            records: 0,
            profiles: 0,
            assignments: vec![],
            events: vec![],
            review,
            changes: Vec::new(),
            model: None,
        };
        store
            .apply_resolution(&outcome(Some(vec![item.clone()])))
            .unwrap();
        assert_eq!(
            store.review_queue(10).unwrap(),
            std::slice::from_ref(&item),
            "{backend}"
        );
        // A run with no queue of its own (incremental, online) leaves the batch's in place.
        store
            .apply_resolution(&ResolutionOutcome {
                kind: RunKind::Online,
                ..outcome(None)
            })
            .unwrap();
        assert_eq!(store.review_queue(10).unwrap(), [item], "{backend}");
        store.apply_resolution(&outcome(Some(vec![]))).unwrap();
        assert!(store.review_queue(10).unwrap().is_empty(), "{backend}");

        let same = store
            .record_decision(&address("1"), &address("2"), true, Utc::now())
            .unwrap();
        let different = store
            .record_decision(&address("1"), &address("3"), false, Utc::now())
            .unwrap();
        let active = store.decisions(false).unwrap();
        assert_eq!(
            active.iter().map(|d| (d.id, d.same)).collect::<Vec<_>>(),
            [(same, true), (different, false)]
        );
        assert!(
            store.revert_decision(same, Utc::now()).unwrap(),
            "{backend}"
        );
        assert!(
            !store.revert_decision(same, Utc::now()).unwrap(),
            "{backend}: reverting twice does nothing"
        );
        assert_eq!(store.decisions(false).unwrap().len(), 1, "{backend}");
        let all = store.decisions(true).unwrap();
        assert!(
            all[0].reverted_at.is_some() && all[1].reverted_at.is_none(),
            "{backend}"
        );
    }
}

// --- The serving tables: every backend must also pass these. ---

#[test]
fn a_batch_runs_model_is_kept_until_the_next_batch_run() {
    for backend in backends("a_batch_runs_model_is_kept_until_the_next_batch_run") {
        let (backend, store) = (backend.name(), backend.store());
        let run = |kind, model: Option<&str>| ResolutionOutcome {
            kind,
            finished_at: Utc::now(),
            records: 0,
            profiles: 0,
            assignments: vec![],
            events: vec![],
            review: None,
            changes: Vec::new(),
            model: model.map(str::to_string),
        };
        assert_eq!(store.latest_model().unwrap(), None, "{backend}");
        store
            .apply_resolution(&run(RunKind::Batch, Some("{\"first\":1}")))
            .unwrap();
        // Incremental and online runs score with the batch's model and leave it.
        store.apply_resolution(&run(RunKind::Online, None)).unwrap();
        assert_eq!(
            store.latest_model().unwrap().as_deref(),
            Some("{\"first\":1}"),
            "{backend}"
        );
        store
            .apply_resolution(&run(RunKind::Batch, Some("{\"second\":2}")))
            .unwrap();
        assert_eq!(
            store.latest_model().unwrap().as_deref(),
            Some("{\"second\":2}"),
            "{backend}"
        );
    }
}

#[test]
fn special_values_are_sealed_apart_from_the_record() {
    use tessera_model::{HealthNote, Special};
    for backend in backends("special_values_are_sealed_apart_from_the_record") {
        let (name, store) = (backend.name(), backend.store());
        let import = store
            .begin_import(&SourceId::new("health").unwrap(), "h.csv", Utc::now())
            .unwrap();
        let record = SourceRecord {
            source: SourceId::new("health").unwrap(),
            key: RecordKey::new("55").unwrap(),
            observed_at: Utc::now(),
            attributes: vec![
                Attribute::Name(parse_full_name("Иванов Иван", Default::default())),
                Attribute::Health(Special::new(HealthNote("E11.9 diabetes".into()))),
            ],
        };
        let prepared = PreparedRecord::new(&record, sealer());
        store
            .write_records(import, std::slice::from_ref(&prepared))
            .unwrap();
        // Re-importing the same content changes nothing, though the sealed blob differs.
        let again = store
            .write_records(import, &[PreparedRecord::new(&record, sealer())])
            .unwrap();
        assert_eq!(again.unchanged, 1, "{name}");
        let mut stored = Vec::new();
        store.scan_current(&mut |r| stored.push(r)).unwrap();
        assert_eq!(stored.len(), 1, "{name}");
        assert!(
            stored[0]
                .attributes
                .iter()
                .all(|a| !matches!(a, Attribute::Health(_))),
            "{name}: the record's attributes must not hold the special value"
        );
        let sealed = store.sealed_values(&[stored[0].id]).unwrap();
        assert_eq!(sealed.len(), 1, "{name}");
        let blob = tessera_seal::Sealed::from_bytes(&sealed[0].blob.bytes).unwrap();
        let plain = sealer()
            .0
            .open(&blob, &tessera_store::special_aad(&sealed[0].address))
            .unwrap();
        assert!(String::from_utf8_lossy(&plain).contains("E11.9"), "{name}");
        // Nothing the database stored spells the diagnosis.
        assert!(
            !backend.close_and_find("E11.9"),
            "{name}: plaintext in the database"
        );
    }
}

#[test]
fn the_access_log_chains_every_append() {
    for backend in backends("the_access_log_chains_every_append") {
        let (name, store) = (backend.name(), backend.store());
        let entries: Vec<NewAccess> = (0..5)
            .map(|i| NewAccess {
                entry: tessera_policy::AccessEntry {
                    at: Utc::now(),
                    client: "c-1".into(),
                    client_name: "Benefits office".into(),
                    role: tessera_policy::Role::Agency,
                    purpose: Some("benefits".into()),
                    action: tessera_policy::Action::Read,
                    profile: Some(format!("p-{i}")),
                    kinds: vec!["name".into()],
                    request_id: format!("r-{i}"),
                    detail: None,
                }
                .to_json(),
                profile: Some(ProfileId::new(format!("p-{i}"))),
            })
            .collect();
        assert_eq!(
            store
                .append_access(&entries[..2], tessera_policy::chain_hash)
                .unwrap(),
            vec![1, 2],
            "{name}"
        );
        assert_eq!(
            store
                .append_access(&entries[2..], tessera_policy::chain_hash)
                .unwrap(),
            vec![3, 4, 5],
            "{name}"
        );
        let rows = store.access_rows(0, 100).unwrap();
        let stored: Vec<tessera_policy::StoredEntry> = rows
            .iter()
            .map(|r| tessera_policy::StoredEntry {
                seq: r.seq,
                entry_json: r.entry.clone(),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect();
        assert_eq!(
            tessera_policy::verify_chain(stored).unwrap().entries,
            5,
            "{name}"
        );
        let about = store
            .access_rows_for(&[ProfileId::new("p-3".into())], 10)
            .unwrap();
        assert_eq!(about.len(), 1, "{name}");
        assert_eq!(about[0].seq, 4, "{name}");
        let head = store.access_head().unwrap().unwrap();
        assert_eq!((head.seq, head.hash), (5, rows[4].hash), "{name}");
    }
    let empty = backends("the_access_log_chains_every_append (empty)");
    for backend in &empty {
        assert!(backend.store().access_head().unwrap().is_none());
    }
}

#[test]
fn consent_follows_the_record_it_is_anchored_on() {
    for backend in backends("consent_follows_the_record_it_is_anchored_on") {
        let (name, store) = (backend.name(), backend.store());
        let import = store
            .begin_import(&SourceId::new("tax").unwrap(), "t.csv", Utc::now())
            .unwrap();
        store
            .write_records(import, &[record("1", "Иванов Иван", "112-233-445 95")])
            .unwrap();
        let first = ProfileId::new("p-000000000001".into());
        apply(
            store,
            assign_all(store, &first),
            vec![ProfileEvent::Created {
                profile: first.clone(),
            }],
        );
        let anchor = (SourceId::new("tax").unwrap(), RecordKey::new("1").unwrap());
        assert_eq!(
            store.profile_of_record(&anchor).unwrap(),
            Some(first.clone()),
            "{name}"
        );
        store
            .grant_consent(&anchor, "employer_check", "the person", Utc::now())
            .unwrap();
        assert!(
            store.has_consent(&first, "employer_check").unwrap(),
            "{name}"
        );
        assert!(
            !store.has_consent(&first, "medical_commission").unwrap(),
            "{name}"
        );
        // The record moves to another profile (a merge): the consent goes with it.
        let second = ProfileId::new("p-000000000002".into());
        apply(
            store,
            assign_all(store, &second),
            vec![ProfileEvent::Created {
                profile: second.clone(),
            }],
        );
        assert!(
            store.has_consent(&second, "employer_check").unwrap(),
            "{name}"
        );
        assert_eq!(
            store
                .withdraw_consent(&second, "employer_check", "the person", Utc::now())
                .unwrap(),
            1,
            "{name}"
        );
        assert!(
            !store.has_consent(&second, "employer_check").unwrap(),
            "{name}"
        );
        assert_eq!(store.consents(&second).unwrap().len(), 1, "{name}");
    }
}

#[test]
fn clients_are_found_by_token_hash_and_revoked() {
    for backend in backends("clients_are_found_by_token_hash_and_revoked") {
        let (name, store) = (backend.name(), backend.store());
        let client = ClientRow {
            id: "c-1".into(),
            name: "Benefits office".into(),
            role: "agency".into(),
            anchor: None,
            sources: vec!["tax".into()],
            token_hash: [7; 32],
            created_at: Utc::now(),
            revoked_at: None,
        };
        store.add_client(&client).unwrap();
        let found = store.client_by_token_hash(&[7; 32]).unwrap().unwrap();
        assert_eq!(found.sources, vec!["tax".to_string()], "{name}");
        assert!(
            store.client_by_token_hash(&[8; 32]).unwrap().is_none(),
            "{name}"
        );
        assert!(store.revoke_client("c-1", Utc::now()).unwrap(), "{name}");
        assert!(!store.revoke_client("c-1", Utc::now()).unwrap(), "{name}");
        assert!(
            store
                .client_by_token_hash(&[7; 32])
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some(),
            "{name}"
        );
    }
}

/// What several processes resolving against one database rely on: one resolution at a time, a
/// feed of what incremental and online runs stored, and a batch run flagged for a rebuild.
#[test]
fn resolutions_take_turns_and_say_what_changed_since_a_run() {
    for backend in backends("resolutions_take_turns_and_say_what_changed_since_a_run") {
        let (backend, store) = (backend.name(), backend.store());
        let source = SourceId::new("tax").unwrap();
        let import = store.begin_import(&source, "tax.csv", Utc::now()).unwrap();
        store
            .write_records(
                import,
                &[
                    record("1", "Иванов Иван", "112-233-445 95"),
                    record("2", "Петров Пётр", "001-001-999 65"),
                ],
            )
            .unwrap();
        assert_eq!(store.resolution_head().unwrap(), 0, "{backend}");
        let all = assign_all(store, &ProfileId::new("p-000000000001".into()));
        let (first, second) = (all[0].clone(), all[1].clone());
        let online = |assignments: Vec<Assignment>, events: Vec<ProfileEvent>| ResolutionOutcome {
            kind: RunKind::Online,
            finished_at: Utc::now(),
            records: 2,
            profiles: 1,
            assignments,
            events,
            review: Some(vec![]),
            changes: Vec::new(),
            model: None,
        };
        let created = ProfileEvent::Created {
            profile: first.profile.clone(),
        };

        // A session dropped without commit keeps nothing.
        {
            let mut session = store.begin_resolution().unwrap();
            session
                .apply(&online(vec![first.clone()], vec![created.clone()]))
                .unwrap();
        }
        assert_eq!(store.resolution_head().unwrap(), 0, "{backend}");

        // While one session is open, another waits for it, then sees what it stored. (Run
        // numbers grow but need not be dense: PostgreSQL's sequence skips a rolled-back one.)
        let store_ref = store;
        let (seen, first_run) = std::thread::scope(|scope| {
            let (opened, wait_open) = std::sync::mpsc::channel();
            let (first, created, online) = (&first, &created, &online);
            let holder = scope.spawn(move || {
                let mut session = store_ref.begin_resolution().unwrap();
                opened.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(300));
                let run = session
                    .apply(&online(vec![first.clone()], vec![created.clone()]))
                    .unwrap();
                session.commit().unwrap();
                run
            });
            wait_open.recv().unwrap();
            let mut session = store_ref.begin_resolution().unwrap();
            let seen = session.changes_since(0).unwrap();
            drop(session);
            (seen, holder.join().unwrap())
        });
        assert_eq!(seen.head, first_run, "{backend}: the second session waited");
        assert!(!seen.rebuild);
        assert_eq!(seen.records.len(), 1, "{backend}");
        assert_eq!(seen.records[0].0, first_run);
        assert_eq!(seen.records[0].1.profile.as_ref(), Some(&first.profile));
        assert_eq!(seen.events, vec![(first_run, created.clone())], "{backend}");

        // Another online run, then the feed after the first holds only it; a batch run asks
        // for a rebuild.
        let merged = ProfileEvent::Merged {
            from: ProfileId::new("p-000000000002".into()),
            into: first.profile.clone(),
        };
        let run = store
            .apply_resolution(&online(vec![second.clone()], vec![merged.clone()]))
            .unwrap();
        assert!(run > first_run, "{backend}");
        let changes = store.resolution_changes_since(first_run).unwrap();
        assert_eq!(changes.head, run);
        assert_eq!(changes.records.len(), 1, "{backend}");
        assert_eq!(changes.records[0].1.id, second.record);
        assert_eq!(changes.events, vec![(run, merged)], "{backend}");
        assert!(
            store
                .resolution_changes_since(run)
                .unwrap()
                .records
                .is_empty()
        );
        let batch = apply(store, vec![], vec![]);
        let changes = store.resolution_changes_since(run).unwrap();
        assert!(changes.rebuild, "{backend}");
        assert_eq!(changes.head, batch);
    }
}

#[test]
fn a_key_twice_in_one_batch_is_two_writes_in_order() {
    // 3 records go through plain statements on PostgreSQL, 1,200 through COPY.
    for size in [3, 1200] {
        for backend in backends("a_key_twice_in_one_batch_is_two_writes_in_order") {
            let (name, store) = (backend.name(), backend.store());
            let source = SourceId::new("tax").unwrap();
            let import = store.begin_import(&source, "tax.csv", Utc::now()).unwrap();
            let mut batch: Vec<PreparedRecord> = (0..size)
                .map(|i| record(&format!("k{i}"), "Иванов Иван", "112-233-445 95"))
                .collect();
            batch.push(record("k0", "Петров Пётр", "112-233-445 95"));
            batch.push(record("k0", "Петров Пётр", "112-233-445 95"));
            assert_eq!(
                store.write_records(import, &batch).unwrap(),
                counts(size, 1, 1),
                "{name}, {size}"
            );
            assert_eq!(
                store.write_records(import, &batch).unwrap(),
                counts(0, 2, size),
                "{name}, {size}"
            );
            let versions = store.record_versions(&source, "k0").unwrap();
            assert_eq!(versions.len(), 4, "{name}, {size}");
            // The scan visits records in the order they were stored: the batch's order, not
            // the keys' (k10 before k2 as text).
            let mut keys = Vec::new();
            store
                .scan_current(&mut |r| keys.push(r.reference.key.as_str().to_string()))
                .unwrap();
            let mut expected: Vec<String> = (1..size).map(|i| format!("k{i}")).collect();
            expected.push("k0".into());
            assert_eq!(keys, expected, "{name}, {size}");
            let now = store.counts().unwrap();
            assert_eq!(
                (now.records, now.versions),
                (size, size + 3),
                "{name}, {size}"
            );
        }
    }
}

#[test]
fn corrections_aliases_clients_and_rewrapping_answer_alike() {
    use tessera_model::{HealthNote, Special};
    for backend in backends("corrections_aliases_clients_and_rewrapping_answer_alike") {
        let (name, store) = (backend.name(), backend.store());
        let source = SourceId::new("tax").unwrap();
        let anchor = (source.clone(), RecordKey::new("1").unwrap());
        let (a, b, c) = (
            ProfileId::new("p-a".into()),
            ProfileId::new("p-b".into()),
            ProfileId::new("p-c".into()),
        );

        let first = store
            .add_correction(&anchor, &a, "c-1", "wrong birth date", Utc::now())
            .unwrap();
        let second = store
            .add_correction(&anchor, &a, "c-1", "wrong address", Utc::now())
            .unwrap();
        let all = store.corrections(false).unwrap();
        assert_eq!(
            all.iter().map(|c| c.id).collect::<Vec<_>>(),
            [first, second],
            "{name}"
        );
        assert_eq!(all[1].text, "wrong address", "{name}");
        assert_eq!(
            all[0].status,
            tessera_store::CorrectionStatus::Open,
            "{name}"
        );
        assert_eq!(store.corrections(true).unwrap().len(), 2, "{name}");

        // c merges into b, b into a: a's aliases are all three, c's only itself.
        let created = [&a, &b, &c].map(|p| ProfileEvent::Created { profile: p.clone() });
        apply(store, vec![], created.to_vec());
        apply(
            store,
            vec![],
            vec![
                ProfileEvent::Merged {
                    from: c.clone(),
                    into: b.clone(),
                },
                ProfileEvent::Merged {
                    from: b.clone(),
                    into: a.clone(),
                },
            ],
        );
        assert_eq!(
            store.profile_aliases(&a).unwrap(),
            [a.clone(), b.clone(), c.clone()],
            "{name}"
        );
        assert_eq!(
            store.profile_aliases(&c).unwrap(),
            std::slice::from_ref(&c),
            "{name}"
        );
        assert_eq!(
            store.profile_history(&c).unwrap().merged_into,
            Some(a.clone()),
            "{name}"
        );

        // Clients are listed by creation time, whatever order they were added in.
        let client = |id: &str, hour: u32| ClientRow {
            id: id.into(),
            name: format!("client {id}"),
            role: "person".into(),
            anchor: Some(anchor.clone()),
            sources: vec![],
            token_hash: [hour as u8; 32],
            created_at: Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap(),
            revoked_at: None,
        };
        store.add_client(&client("c-late", 12)).unwrap();
        store.add_client(&client("c-early", 9)).unwrap();
        let clients = store.clients().unwrap();
        assert_eq!(
            clients,
            [client("c-early", 9), client("c-late", 12)],
            "{name}"
        );

        // Sealed values: counted per key, found when not under a key, re-wrapped in place.
        let import = store.begin_import(&source, "h.csv", Utc::now()).unwrap();
        let sick = |key: &str| {
            PreparedRecord::new(
                &SourceRecord {
                    source: source.clone(),
                    key: RecordKey::new(key).unwrap(),
                    observed_at: Utc::now(),
                    attributes: vec![Attribute::Health(Special::new(HealthNote(
                        "J45 asthma".into(),
                    )))],
                },
                sealer(),
            )
        };
        store
            .write_records(import, &[sick("h1"), sick("h2")])
            .unwrap();
        let counts_by_key = store.sealed_key_counts().unwrap();
        assert_eq!(counts_by_key.len(), 1, "{name}");
        assert_eq!(counts_by_key[0].1, 2, "{name}");
        let old_key = counts_by_key[0].0.clone();
        let to_rewrap = store.sealed_not_under("k-new", 10).unwrap();
        assert_eq!(to_rewrap.len(), 2, "{name}");
        let ids: Vec<_> = to_rewrap.iter().map(|r| r.record).collect();
        // Asked twice and in reverse, answered twice and in reverse.
        let asked = [ids[1], ids[0], ids[1]];
        assert_eq!(
            store
                .sealed_values(&asked)
                .unwrap()
                .iter()
                .map(|r| r.record)
                .collect::<Vec<_>>(),
            asked,
            "{name}"
        );
        let rewrapped: Vec<_> = to_rewrap
            .into_iter()
            .map(|mut row| {
                row.blob.key_id = "k-new".into();
                row
            })
            .collect();
        store.replace_sealed(&rewrapped).unwrap();
        assert_eq!(
            store.sealed_key_counts().unwrap(),
            [("k-new".to_string(), 2)],
            "{name}"
        );
        assert!(
            store.sealed_not_under("k-new", 10).unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            store.sealed_not_under(&old_key, 1).unwrap().len(),
            1,
            "{name}"
        );
    }
}

/// The outbox: a run's profile events and arrivals are written with it, in order, once per
/// key; subscriptions take a lease, advance a cursor only while they hold it, and end.
#[test]
fn change_events_are_written_with_their_run_once_and_delivered_under_a_lease() {
    for backend in
        backends("change_events_are_written_with_their_run_once_and_delivered_under_a_lease")
    {
        let (name, store) = (backend.name(), backend.store());
        let import = store
            .begin_import(&SourceId::new("tax").unwrap(), "a.csv", Utc::now())
            .unwrap();
        store
            .write_records(import, &[record("1", "Иванов Иван", "112-233-445 95")])
            .unwrap();
        assert_eq!(store.change_head().unwrap(), 0, "{name}");
        let profile = ProfileId::new("p-1".to_string());
        let assignments = assign_all(store, &profile);
        let arrival = NewChange::of_record(
            ChangeKind::AddressChanged,
            profile.clone(),
            assignments[0].record,
        );
        let run = store
            .apply_resolution(&ResolutionOutcome {
                kind: RunKind::Online,
                finished_at: Utc::now(),
                records: 1,
                profiles: 1,
                assignments,
                events: vec![ProfileEvent::Created {
                    profile: profile.clone(),
                }],
                review: None,
                changes: vec![arrival.clone()],
                model: None,
            })
            .unwrap();
        let events = store.changes_after(0, 10).unwrap();
        let seen: Vec<(u64, ChangeKind, Option<u64>)> =
            events.iter().map(|e| (e.seq, e.kind, e.run)).collect();
        assert_eq!(
            seen,
            vec![
                (1, ChangeKind::ProfileCreated, Some(run)),
                (2, ChangeKind::AddressChanged, Some(run)),
            ],
            "{name}"
        );
        assert_eq!(events[1].record, arrival.record, "{name}");
        assert_eq!(events[1].key, arrival.key, "{name}");

        // The same change again is skipped; a new one follows in order; a rolled-back one is
        // not there.
        let expiring = NewChange::of_record(
            ChangeKind::PermitExpiring,
            profile.clone(),
            arrival.record.unwrap(),
        );
        let mut session = store.begin_resolution().unwrap();
        assert_eq!(
            session
                .add_changes(&[arrival.clone(), expiring.clone()], Utc::now())
                .unwrap(),
            1,
            "{name}"
        );
        session.commit().unwrap();
        let mut session = store.begin_resolution().unwrap();
        let dismissed = NewChange::of_record(
            ChangeKind::Dismissed,
            profile.clone(),
            arrival.record.unwrap(),
        );
        session.add_changes(&[dismissed], Utc::now()).unwrap();
        drop(session);
        let after: Vec<(ChangeKind, Option<u64>)> = store
            .changes_after(2, 10)
            .unwrap()
            .iter()
            .map(|e| (e.kind, e.run))
            .collect();
        assert_eq!(after, vec![(ChangeKind::PermitExpiring, None)], "{name}");
        assert_eq!(store.change_head().unwrap(), 3, "{name}");
        assert_eq!(store.changes_after(0, 1).unwrap().len(), 1, "{name}");

        store
            .add_client(&ClientRow {
                id: "c-sub".into(),
                name: "Migration centre".into(),
                role: "agency".into(),
                anchor: None,
                sources: vec![],
                token_hash: [9; 32],
                created_at: Utc::now(),
                revoked_at: None,
            })
            .unwrap();
        let new = NewSubscription {
            name: "permits".into(),
            client_id: "c-sub".into(),
            purpose: "migration".into(),
            kinds: vec![ChangeKind::PermitExpiring],
            target: SubscriptionTarget::Webhook {
                url: "http://127.0.0.1:9/hook".into(),
            },
            sealed_secret: Some(vec![1, 2, 3]),
            cursor: 1,
            created_at: Utc::now(),
        };
        let id = store.add_subscription(&new).unwrap().unwrap();
        assert_eq!(store.add_subscription(&new).unwrap(), None, "{name}");
        let listed = store.subscriptions().unwrap();
        assert_eq!(listed.len(), 1, "{name}");
        assert_eq!(
            (listed[0].kinds.clone(), listed[0].cursor, &listed[0].target),
            (vec![ChangeKind::PermitExpiring], 1, &new.target),
            "{name}"
        );
        assert_eq!(listed[0].sealed_secret, Some(vec![1, 2, 3]), "{name}");

        // One holder at a time; a lapsed lease passes to another; only the holder advances.
        assert!(
            store
                .lease_subscription(id, "node-a", 1_000, 31_000)
                .unwrap()
                .is_some(),
            "{name}"
        );
        assert!(
            store
                .lease_subscription(id, "node-b", 2_000, 32_000)
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(
            store.advance_subscription(id, "node-a", 3).unwrap(),
            "{name}"
        );
        assert!(
            !store.advance_subscription(id, "node-b", 3).unwrap(),
            "{name}"
        );
        assert!(
            store
                .lease_subscription(id, "node-b", 40_000, 70_000)
                .unwrap()
                .is_some(),
            "{name}"
        );
        assert!(
            !store.advance_subscription(id, "node-a", 4).unwrap(),
            "{name}"
        );
        // A cursor never goes back.
        assert!(
            store.advance_subscription(id, "node-b", 2).unwrap(),
            "{name}"
        );
        assert_eq!(store.subscriptions().unwrap()[0].cursor, 3, "{name}");
        // A released lease is free at once; only its holder releases it.
        store.release_subscription(id, "node-a").unwrap();
        assert!(
            store
                .lease_subscription(id, "node-c", 41_000, 71_000)
                .unwrap()
                .is_none(),
            "{name}"
        );
        store.release_subscription(id, "node-b").unwrap();
        assert_eq!(
            store
                .lease_subscription(id, "node-c", 41_000, 71_000)
                .unwrap(),
            Some(3),
            "{name}: the lease gives the cursor as it stands"
        );
        assert!(
            !store.advance_subscription(id, "node-b", 4).unwrap(),
            "{name}"
        );

        assert!(
            store.remove_subscription("permits", Utc::now()).unwrap(),
            "{name}"
        );
        assert!(
            !store.remove_subscription("permits", Utc::now()).unwrap(),
            "{name}"
        );
        assert!(store.subscriptions().unwrap().is_empty(), "{name}");
        assert!(
            store
                .lease_subscription(id, "node-b", 80_000, 90_000)
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(store.add_subscription(&new).unwrap().is_some(), "{name}");
    }
}

/// A run's merges and splits reach the outbox naming the surviving profile and the other one,
/// in the run's order.
#[test]
fn merges_and_splits_are_announced_with_both_profiles() {
    for backend in backends("merges_and_splits_are_announced_with_both_profiles") {
        let (name, store) = (backend.name(), backend.store());
        let id = |text: &str| ProfileId::new(text.to_string());
        apply(
            store,
            vec![],
            vec![
                ProfileEvent::Created { profile: id("p-1") },
                ProfileEvent::Created { profile: id("p-2") },
            ],
        );
        apply(
            store,
            vec![],
            vec![
                ProfileEvent::Merged {
                    from: id("p-2"),
                    into: id("p-1"),
                },
                ProfileEvent::Split {
                    from: id("p-1"),
                    new: id("p-3"),
                },
                ProfileEvent::Created { profile: id("p-3") },
            ],
        );
        let seen: Vec<(u64, ChangeKind, String, Option<String>)> = store
            .changes_after(0, 10)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.seq,
                    e.kind,
                    e.profile.as_str().to_string(),
                    e.other.map(|p| p.as_str().to_string()),
                )
            })
            .collect();
        let some = |text: &str| Some(text.to_string());
        assert_eq!(
            seen,
            vec![
                (1, ChangeKind::ProfileCreated, "p-1".into(), None),
                (2, ChangeKind::ProfileCreated, "p-2".into(), None),
                (3, ChangeKind::ProfileMerged, "p-1".into(), some("p-2")),
                (4, ChangeKind::ProfileSplit, "p-1".into(), some("p-3")),
                (5, ChangeKind::ProfileCreated, "p-3".into(), None),
            ],
            "{name}"
        );
    }
}
