//! What only the PostgreSQL store promises: several processes ("nodes") writing one database at
//! once, migrations started by two processes together, bulk writes through COPY, and use from
//! inside an async runtime. Each test is skipped (with one line on stderr) when PostgreSQL
//! cannot be reached, unless `TESSERA_REQUIRE_POSTGRES` is set; see `tessera_store::testing`.

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use tessera_model::{
    Attribute, IdKind, Identifier, ProfileId, RecordKey, SourceId, SourceRecord, parse_full_name,
};
use tessera_store::{
    AccessStore, Assignment, NewAccess, PgStore, PreparedRecord, ProfileEvent, ResolutionOutcome,
    RunKind, SealedBlob, Sealer, Store, WriteCounts, testing,
};

/// No record here has special values, so nothing is ever sealed.
struct NoSealing;

impl Sealer for NoSealing {
    fn seal(&self, _plaintext: &[u8], _aad: &[u8]) -> SealedBlob {
        unreachable!("these records have no special values")
    }

    fn keyed_hash(&self, _data: &[u8]) -> [u8; 32] {
        unreachable!("these records have no special values")
    }
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
        &NoSealing,
    )
}

/// A SNILS-shaped identifier per number (not a valid one; lookups find invalid ones too).
fn snils(i: usize) -> String {
    format!("{:011}", i)
}

/// Says something the test measured, past the harness's capture.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn total(counts: &[WriteCounts]) -> WriteCounts {
    let mut sum = WriteCounts::default();
    for c in counts {
        sum += *c;
    }
    sum
}

/// Writes `batches` on two nodes at once, one per thread, and returns what each write counted.
fn write_on_two_nodes(nodes: [&PgStore; 2], batches: [Vec<PreparedRecord>; 2]) -> Vec<WriteCounts> {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .into_iter()
            .zip(batches)
            .map(|(node, batch)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let import = node
                        .begin_import(&SourceId::new("tax").unwrap(), "tax.csv", Utc::now())
                        .unwrap();
                    barrier.wait();
                    node.write_records(import, &batch).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn two_nodes_writing_the_same_keys_at_once_store_each_record_once() {
    let Some(postgres) =
        testing::postgres("two_nodes_writing_the_same_keys_at_once_store_each_record_once")
    else {
        return;
    };
    let second = postgres.another_node().unwrap();
    let nodes = [postgres.store(), &second];
    // 300 records go through plain statements, 1,500 through COPY; the second node writes its
    // batch in the opposite order, which would deadlock writers that locked keys as they came.
    let mut stored = 0u64;
    for (size, prefix) in [(300usize, "small"), (1500, "large")] {
        let batch = |name: &str| -> Vec<PreparedRecord> {
            (0..size)
                .map(|i| record(&format!("{prefix}-{i}"), name, &snils(i)))
                .collect()
        };
        let reversed = |mut records: Vec<PreparedRecord>| {
            records.reverse();
            records
        };
        let size = size as u64;

        let same = write_on_two_nodes(
            nodes,
            [batch("Иванов Иван"), reversed(batch("Иванов Иван"))],
        );
        let sum = total(&same);
        assert_eq!(
            (sum.new, sum.changed, sum.unchanged),
            (size, 0, size),
            "{same:?}"
        );
        for node in &same {
            assert_eq!(node.new + node.changed + node.unchanged, size);
        }

        let different = write_on_two_nodes(
            nodes,
            [batch("Петров Пётр"), reversed(batch("Сидоров Сидор"))],
        );
        let sum = total(&different);
        assert_eq!(
            (sum.new, sum.changed, sum.unchanged),
            (0, 2 * size, 0),
            "{different:?}"
        );

        stored += size;
        let counts = postgres.counts().unwrap();
        assert_eq!((counts.records, counts.versions), (stored, 3 * stored));
        let versions = postgres
            .record_versions(&SourceId::new("tax").unwrap(), &format!("{prefix}-7"))
            .unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|v| v.reference.version)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }
    let mut current = 0;
    postgres.scan_current(&mut |_| current += 1).unwrap();
    assert_eq!(current, stored);
}

fn entry(node: usize, thread: usize, batch: usize, i: usize) -> NewAccess {
    let profile = format!("p-{node}-{thread}");
    NewAccess {
        entry: tessera_policy::AccessEntry {
            at: Utc::now(),
            client: format!("c-{node}"),
            client_name: "Benefits office".into(),
            role: tessera_policy::Role::Agency,
            purpose: Some("benefits".into()),
            action: tessera_policy::Action::Read,
            profile: Some(profile.clone()),
            kinds: vec!["name".into()],
            request_id: format!("r-{node}-{thread}-{batch}-{i}"),
            detail: None,
        }
        .to_json(),
        profile: Some(ProfileId::new(profile)),
    }
}

#[test]
fn two_nodes_appending_at_once_make_one_gapless_chain() {
    let Some(postgres) = testing::postgres("two_nodes_appending_at_once_make_one_gapless_chain")
    else {
        return;
    };
    let second = postgres.another_node().unwrap();
    let nodes: [&PgStore; 2] = [postgres.store(), &second];
    const THREADS: usize = 3;
    const BATCHES: usize = 40;
    let barrier = Barrier::new(2 * THREADS);
    let mut given: Vec<u64> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (n, node) in nodes.into_iter().enumerate() {
            for thread in 0..THREADS {
                let barrier = &barrier;
                handles.push(scope.spawn(move || {
                    barrier.wait();
                    let mut seqs = Vec::new();
                    for batch in 0..BATCHES {
                        let entries: Vec<NewAccess> = (0..1 + batch % 4)
                            .map(|i| entry(n, thread, batch, i))
                            .collect();
                        let got = node
                            .append_access(&entries, tessera_policy::chain_hash)
                            .unwrap();
                        assert_eq!(got.len(), entries.len());
                        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
                        seqs.extend(got);
                    }
                    seqs
                }));
            }
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    given.sort_unstable();
    let appended = given.len() as u64;
    assert_eq!(
        given,
        (1..=appended).collect::<Vec<_>>(),
        "seq numbers have gaps or repeats"
    );

    let rows = second.access_rows(0, 100_000).unwrap();
    assert_eq!(rows.len() as u64, appended);
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
        appended
    );
    // Each thread's entries name its own profile: the person's view finds all of them.
    let mine = postgres
        .access_rows_for(&[ProfileId::new("p-1-2".into())], 10_000)
        .unwrap();
    let per_thread: usize = (0..BATCHES).map(|b| 1 + b % 4).sum();
    assert_eq!(mine.len(), per_thread);
}

#[test]
fn migrations_started_by_two_processes_at_once_both_succeed() {
    let Some(postgres) =
        testing::postgres("migrations_started_by_two_processes_at_once_both_succeed")
    else {
        return;
    };
    // A schema nobody has migrated yet, opened by four stores at once.
    let schema = format!("{}_fresh", postgres.schema());
    let url = postgres.url().to_string();
    let barrier = Arc::new(Barrier::new(4));
    let stores: Vec<PgStore> = (0..4)
        .map(|_| {
            let (url, schema, barrier) = (url.clone(), schema.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::connect_in_schema(&url, &schema)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    // And once more, with everything applied already.
    let again = PgStore::connect_in_schema(&url, &schema).unwrap();
    let import = again
        .begin_import(&SourceId::new("tax").unwrap(), "tax.csv", Utc::now())
        .unwrap();
    again
        .write_records(import, &[record("1", "Иванов Иван", &snils(1))])
        .unwrap();
    assert_eq!(stores[3].counts().unwrap().records, 1);
    again.drop_schema().unwrap();
}

#[test]
fn a_large_resolution_is_applied_through_copy() {
    let Some(postgres) = testing::postgres("a_large_resolution_is_applied_through_copy") else {
        return;
    };
    const RECORDS: usize = 50_000;
    let import = postgres
        .begin_import(&SourceId::new("tax").unwrap(), "tax.csv", Utc::now())
        .unwrap();
    let records: Vec<PreparedRecord> = (0..RECORDS)
        .map(|i| record(&i.to_string(), "Иванов Иван", &snils(i)))
        .collect();
    let started = Instant::now();
    for batch in records.chunks(10_000) {
        assert_eq!(
            postgres.write_records(import, batch).unwrap().new,
            batch.len() as u64
        );
    }
    let written = started.elapsed();
    // Importing the same file again changes nothing.
    let started = Instant::now();
    for batch in records.chunks(10_000) {
        assert_eq!(
            postgres.write_records(import, batch).unwrap().unchanged,
            batch.len() as u64
        );
    }
    let rewritten = started.elapsed();

    let mut stored = Vec::with_capacity(RECORDS);
    let started = Instant::now();
    postgres.scan_current(&mut |r| stored.push(r)).unwrap();
    let scanned = started.elapsed();
    assert_eq!(stored.len(), RECORDS);

    // One profile per two records: 25,000 profiles, 50,000 assignments and identifiers.
    let profile = |i: usize| ProfileId::new(format!("p-{:08}", i / 2));
    let outcome = |salt: &str| ResolutionOutcome {
        kind: RunKind::Batch,
        finished_at: Utc::now(),
        records: RECORDS as u64,
        profiles: (RECORDS / 2) as u64,
        assignments: stored
            .iter()
            .enumerate()
            .map(|(i, r)| Assignment {
                record: r.id,
                profile: ProfileId::new(format!("{}{salt}", profile(i).as_str())),
                identifiers: tessera_store::lookup_identifiers(&r.attributes),
            })
            .collect(),
        events: (0..RECORDS / 2)
            .map(|i| ProfileEvent::Created {
                profile: ProfileId::new(format!("{}{salt}", profile(2 * i).as_str())),
            })
            .collect(),
        review: Some(vec![]),
        changes: Vec::new(),
        model: None,
    };
    let first = outcome("");
    let started = Instant::now();
    let run = postgres.apply_resolution(&first).unwrap();
    let applied = started.elapsed();
    assert_eq!(run, 1);
    let counts = postgres.counts().unwrap();
    assert_eq!(
        (counts.profiles, counts.unresolved),
        ((RECORDS / 2) as u64, 0)
    );
    assert_eq!(postgres.profile_ages().unwrap().len(), RECORDS / 2);
    let found = postgres
        .records_with_identifier(IdKind::Snils, &snils(4321))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].profile, Some(profile(4321)));

    // A second run moves every record: 50,000 assignments replace the previous ones.
    let second = outcome("-b");
    let started = Instant::now();
    postgres.apply_resolution(&second).unwrap();
    let reapplied = started.elapsed();
    assert_eq!(postgres.profile_records(&profile(4321)).unwrap().len(), 0);
    let moved = ProfileId::new(format!("{}-b", profile(4321).as_str()));
    assert_eq!(postgres.profile_records(&moved).unwrap().len(), 2);
    report(&format!(
        "postgres, {RECORDS} records: written in {:.2}s (5 batches), again unchanged in {:.2}s, \
         scanned in {:.2}s, \
         first resolution ({RECORDS} assignments, {} new profiles) applied in {:.2}s, \
         second ({RECORDS} changed assignments) in {:.2}s",
        written.as_secs_f64(),
        rewritten.as_secs_f64(),
        scanned.as_secs_f64(),
        RECORDS / 2,
        applied.as_secs_f64(),
        reapplied.as_secs_f64()
    ));
}

#[test]
fn the_store_works_and_drops_inside_an_async_runtime() {
    let Some(postgres) = testing::postgres("the_store_works_and_drops_inside_an_async_runtime")
    else {
        return;
    };
    let node = postgres.another_node().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // Called on a worker thread of another runtime, as the HTTP server's handlers do.
        let handle = tokio::spawn(async move {
            let import = node
                .begin_import(&SourceId::new("tax").unwrap(), "tax.csv", Utc::now())
                .unwrap();
            node.write_records(import, &[record("1", "Иванов Иван", &snils(1))])
                .unwrap();
            let mut seen = 0;
            node.scan_current(&mut |_| seen += 1).unwrap();
            assert_eq!(seen, 1);
            drop(node);
        });
        handle.await.unwrap();
    });
    assert_eq!(postgres.counts().unwrap().records, 1);
}

#[test]
fn two_nodes_granting_one_consent_at_once_keep_one_and_runs_take_turns() {
    let Some(postgres) =
        testing::postgres("two_nodes_granting_one_consent_at_once_keep_one_and_runs_take_turns")
    else {
        return;
    };
    let second = postgres.another_node().unwrap();
    let nodes: [&PgStore; 2] = [postgres.store(), &second];
    let source = SourceId::new("tax").unwrap();
    let import = postgres
        .begin_import(&source, "tax.csv", Utc::now())
        .unwrap();
    postgres
        .write_records(import, &[record("1", "Иванов Иван", &snils(1))])
        .unwrap();
    let mut stored = Vec::new();
    postgres.scan_current(&mut |r| stored.push(r)).unwrap();
    let profile = ProfileId::new("p-1".into());
    let anchor = (source.clone(), RecordKey::new("1").unwrap());
    let pair = tessera_store::ReviewItem {
        a: anchor.clone(),
        b: (source.clone(), RecordKey::new("2").unwrap()),
        weight: 3.0,
    };
    let outcome = |assignments| ResolutionOutcome {
        kind: RunKind::Batch,
        finished_at: Utc::now(),
        records: 1,
        profiles: 1,
        assignments,
        events: vec![],
        // Each run (an online ingest keeps the batch run's queue) writes the same queue.
        review: Some(vec![pair.clone()]),
        changes: Vec::new(),
        model: None,
    };
    postgres
        .apply_resolution(&outcome(vec![Assignment {
            record: stored[0].id,
            profile: profile.clone(),
            identifiers: vec![],
        }]))
        .unwrap();
    // Runs that share no assignment: nothing but their turn keeps their queues apart.
    let outcome = outcome(vec![]);
    let barrier = Barrier::new(2);
    let granted: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .into_iter()
            .map(|node| {
                let (barrier, anchor, outcome) = (&barrier, &anchor, &outcome);
                scope.spawn(move || {
                    barrier.wait();
                    let (mut ids, mut queues) = (Vec::new(), Vec::new());
                    for _ in 0..50 {
                        node.apply_resolution(outcome).unwrap();
                        queues.push(node.review_queue(100).unwrap().len());
                        ids.push(
                            node.grant_consent(anchor, "employer_check", "the person", Utc::now())
                                .unwrap(),
                        );
                    }
                    // Never two runs' queues at once.
                    assert!(queues.iter().all(|&n| n == 1), "{queues:?}");
                    ids
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(granted.iter().all(|&id| id == granted[0]), "{granted:?}");
    assert_eq!(postgres.consents(&profile).unwrap().len(), 1);
    assert_eq!(postgres.review_queue(100).unwrap(), [pair]);
}
