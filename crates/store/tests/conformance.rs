//! The storage suite every `Store` implementation must pass. SQLite always runs; a backend added
//! later (PostgreSQL) registers its own constructor in `backends()`.

use chrono::{TimeZone, Utc};
use tessera_model::{
    Attribute, IdKind, Identifier, ProfileId, RecordKey, SourceId, SourceRecord, parse_full_name,
};
use tessera_store::{
    Assignment, ImportEnd, ImportStatus, PreparedRecord, ProfileEvent, ResolutionOutcome,
    SqliteStore, Store, StoredRecord, WriteCounts,
};

fn record(key: &str, name: &str, snils: &str) -> PreparedRecord {
    PreparedRecord::new(&SourceRecord {
        source: SourceId::new("tax").unwrap(),
        key: RecordKey::new(key).unwrap(),
        observed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        attributes: vec![
            Attribute::Name(parse_full_name(name, Default::default())),
            Attribute::Identifier(Identifier::parse(IdKind::Snils, snils)),
        ],
    })
}

fn backends() -> Vec<(&'static str, tempfile::TempDir, Box<dyn Store>)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    vec![("sqlite", dir, Box::new(store))]
}

fn apply(store: &dyn Store, assignments: Vec<Assignment>, events: Vec<ProfileEvent>) -> u64 {
    store
        .apply_resolution(&ResolutionOutcome {
            finished_at: Utc::now(),
            records: assignments.len() as u64,
            profiles: 1,
            assignments,
            events,
            review: vec![],
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
    for (backend, _dir, store) in backends() {
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
    for (backend, _dir, store) in backends() {
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
        apply(store.as_ref(), assign_all(store.as_ref(), &profile), vec![]);
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
        apply(store.as_ref(), assign_all(store.as_ref(), &profile), vec![]);
        assert_eq!(
            store
                .records_with_identifier(IdKind::Snils, "00100199965")
                .unwrap()
                .len(),
            1,
            "{backend}"
        );

        // Records a run does not list keep their profile.
        apply(store.as_ref(), vec![], vec![]);
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
    for (backend, _dir, store) in backends() {
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
            store.as_ref(),
            vec![],
            vec![ProfileEvent::Created {
                profile: old.clone(),
            }],
        );
        let second = apply(
            store.as_ref(),
            assign_all(store.as_ref(), &young),
            vec![ProfileEvent::Created {
                profile: young.clone(),
            }],
        );
        assert_eq!(second, first + 1, "{backend}");
        let ages = store.profile_ages().unwrap();
        assert_eq!((ages[&old], ages[&young]), (first, second), "{backend}");

        let third = apply(
            store.as_ref(),
            assign_all(store.as_ref(), &old),
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
    for (backend, _dir, store) in backends() {
        let address = |key: &str| (SourceId::new("tax").unwrap(), RecordKey::new(key).unwrap());
        let item = tessera_store::ReviewItem {
            a: address("1"),
            b: address("2"),
            weight: 2.5,
        };
        let outcome = |review| ResolutionOutcome {
            finished_at: Utc::now(),
            records: 0,
            profiles: 0,
            assignments: vec![],
            events: vec![],
            review,
        };
        store
            .apply_resolution(&outcome(vec![item.clone()]))
            .unwrap();
        assert_eq!(store.review_queue(10).unwrap(), [item], "{backend}");
        store.apply_resolution(&outcome(vec![])).unwrap();
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
