//! End-to-end tests of `tessera demo`, `resolve`, `review`, `explain` and `audit` through the
//! real binary on a small city; each runs over SQLite and over PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code)]
mod node;
mod postgres_test;

/// Where a test's city lives: a data directory, and for PostgreSQL a schema of its own.
struct Place {
    data_dir: PathBuf,
    database: Option<postgres_test::Schema>,
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Place {
    /// The place `name` under `dir` for `test`; `None` where the backend is PostgreSQL and none
    /// can be reached (nor is required), which has then been said on stderr.
    fn new(dir: &Path, name: &str, backend: Backend, test: &str) -> Option<Place> {
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres_test::Schema::fresh(&format!(
                "demo_cli::postgres::{test}"
            ))?),
        };
        Some(Place {
            data_dir: dir.join(name),
            database,
        })
    }

    /// The binary, pointed at this place.
    fn command(&self) -> Command {
        node::command(&self.data_dir, self.database.as_ref())
    }
}

/// Each test below runs once over SQLite and once over PostgreSQL, as `sqlite::name` and
/// `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres);
            })*
        }
    };
}

on_both_backends!(
    the_demo_imports_every_source_resolves_and_scores,
    explain_shows_the_evidence_of_a_profile_and_of_a_pair,
    resolving_again_keeps_every_profile_id,
    steward_decisions_are_respected_by_later_runs_and_can_be_undone,
    incremental_resolution_of_a_new_source_matches_the_batch,
    command_line_reads_name_a_purpose_and_are_logged_in_a_verifiable_chain,
    entries_cut_from_the_end_of_the_log_are_found_with_an_anchor,
);

fn place(dir: &Path, name: &str, backend: Backend, test: &str) -> Option<Place> {
    Place::new(dir, name, backend, test)
}

fn demo(place: &Place, persons: &str, seed: &str) -> String {
    let out = place
        .command()
        .args(["demo", "--persons", persons, "--seed", seed])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn metric(output: &str, line_start: &str, name: &str) -> f64 {
    let line = output
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start:?} in {output}"));
    let after = line
        .split(name)
        .nth(1)
        .unwrap_or_else(|| panic!("no {name:?} in {line}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

fn the_demo_imports_every_source_resolves_and_scores(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_dir) = place(
        dir.path(),
        "demo",
        backend,
        "the_demo_imports_every_source_resolves_and_scores",
    ) else {
        return;
    };
    let output = demo(&data_dir, "800", "7");
    for source in ["migration", "tax", "health", "employer", "school"] {
        let line = output
            .lines()
            .find(|l| l.contains(&format!("source {source} ")))
            .unwrap_or_else(|| panic!("{output}"));
        assert!(line.contains(" 0 quarantined"), "{line}");
    }
    assert!(output.contains("source tax (windows-1251)"), "{output}");
    let records: u64 = output
        .lines()
        .find(|l| l.starts_with("records scored"))
        .and_then(|l| l.split_whitespace().nth(2))
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap();
    assert!(
        output.contains(&format!(
            "{} records in 5 agency exports",
            tessera_count(records)
        )),
        "{output}"
    );
    // Strong identifiers alone link few records, but what they link is right.
    assert!(metric(&output, "pairwise", "precision") >= 0.99, "{output}");
    assert!(metric(&output, "pairwise", "recall") > 0.0, "{output}");

    // The same seed gives the same result. The demo replaces its own data directory; a
    // PostgreSQL database it never wipes (a test below shows that), so it gets another schema.
    let again = match backend {
        Backend::Sqlite => demo(&data_dir, "800", "7"),
        Backend::Postgres => {
            let Some(other) = place(dir.path(), "again", backend, "demo again") else {
                return;
            };
            demo(&other, "800", "7")
        }
    };
    let scores = |o: &str| {
        o.lines()
            .filter(|l| l.starts_with("pairwise") || l.starts_with("B-cubed"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(scores(&output), scores(&again));
}

/// Runs a command as a steward checking data quality (the purpose every read must name).
fn tessera(place: &Place, args: &[&str]) -> String {
    node::tessera(&place.data_dir, place.database.as_ref(), args)
}

fn explain_shows_the_evidence_of_a_profile_and_of_a_pair(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_dir) = place(
        dir.path(),
        "demo",
        backend,
        "explain_shows_the_evidence_of_a_profile_and_of_a_pair",
    ) else {
        return;
    };
    demo(&data_dir, "600", "3");
    // A profile with records from two sources.
    let links = tessera(&data_dir, &["links", "--out", "-"]);
    let mut by_profile: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in links.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        by_profile
            .entry(fields[2].to_string())
            .or_default()
            .push(format!("{}/{}", fields[0], fields[1]));
    }
    let (profile, records) = by_profile
        .iter()
        .find(|(_, records)| {
            records.len() == 2 && records[0].split('/').next() != records[1].split('/').next()
        })
        .expect("a profile with two records from two sources");

    let explained = tessera(&data_dir, &["explain", profile]);
    assert!(
        explained.starts_with(&format!("profile {profile}: 2 records")),
        "{explained}"
    );
    assert!(explained.contains("strongest tie:"), "{explained}");

    let pair = tessera(&data_dir, &["explain", &records[0], &records[1]]);
    assert!(pair.contains("prior: two random records are one"), "{pair}");
    for field in ["surname", "given name", "birth date", "strong identifier"] {
        assert!(pair.contains(field), "{field} missing: {pair}");
    }
    assert!(
        pair.contains("decision: linked"),
        "two records alone on one profile are linked directly: {pair}"
    );
    assert!(
        pair.contains(&format!("both are on profile {profile}")),
        "{pair}"
    );

    // Two records that link on their own, on two profiles: explain says which rule keeps the
    // profiles apart. One man's registrations under his SNILS (b with his phone, c with both),
    // and a namesake's (a) with another SNILS: a is as like b as anyone, but b is on c's profile.
    let files = dir.path().join("registry");
    std::fs::create_dir_all(&files).unwrap();
    let mapping = files.join("registry.mapping.toml");
    std::fs::write(&mapping, node::mapping("registry", REGISTRY_FIELDS)).unwrap();
    let csv = files.join("registry.csv");
    std::fs::write(
        &csv,
        "key,surname,given,patronymic,birth,snils,phone\n\
         a,Зябликов,Аристарх,Феоктистович,1961-03-15,112-233-445 95,\n\
         b,Зябликов,Аристарх,Феоктистович,1961-03-15,,+79161234567\n\
         c,Зябликов,Аристарх,Феоктистович,1961-03-15,156-789-012 11,+79161234567\n",
    )
    .unwrap();
    tessera(
        &data_dir,
        &[
            "import",
            "--mapping",
            mapping.to_str().unwrap(),
            csv.to_str().unwrap(),
        ],
    );
    tessera(&data_dir, &["resolve"]);
    let pair = tessera(&data_dir, &["explain", "registry/a", "registry/b"]);
    assert!(pair.contains("decision: linked"), "{pair}");
    assert!(pair.contains("they are on different profiles"), "{pair}");
    assert!(
        pair.contains(
            "kept apart: two different valid values of snils: 11223344595 on one profile, 15678901211 on the other"
        ),
        "{pair}"
    );
}

/// A registry of persons: key, name, birth date and SNILS, with a patronymic and a phone.
const REGISTRY_FIELDS: &str = r#"
[[field]]
column = "patronymic"
target = "name.patronymic"

[[field]]
column = "phone"
target = "id.phone"
"#;

#[test]
fn the_demo_refuses_a_store_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tessera.sqlite3"), b"").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--persons", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("holds a store that `tessera demo` did not make")
    );
}

fn tessera_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn resolving_again_keeps_every_profile_id(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_dir) = place(
        dir.path(),
        "demo",
        backend,
        "resolving_again_keeps_every_profile_id",
    ) else {
        return;
    };
    demo(&data_dir, "500", "11");
    let before = tessera(&data_dir, &["links", "--out", "-"]);
    let again = tessera(&data_dir, &["resolve"]);
    assert!(
        again.contains(
            "profile ids: 0 new, 0 merged into an older profile (the old id redirects), 0 split off"
        ),
        "{again}"
    );
    assert_eq!(tessera(&data_dir, &["links", "--out", "-"]), before);
    // Each profile shows its history.
    let profile = before
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .to_string();
    let shown = tessera(&data_dir, &["profile", &profile]);
    assert!(
        shown.contains("history:\n    resolution run 1: created"),
        "{shown}"
    );
}

fn profiles_of(data_dir: &Place) -> std::collections::HashMap<String, String> {
    tessera(data_dir, &["links", "--out", "-"])
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (
                format!("{}/{}", fields[0], fields[1]),
                fields[2].to_string(),
            )
        })
        .collect()
}

fn steward_decisions_are_respected_by_later_runs_and_can_be_undone(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_dir) = place(
        dir.path(),
        "demo",
        backend,
        "steward_decisions_are_respected_by_later_runs_and_can_be_undone",
    ) else {
        return;
    };
    demo(&data_dir, "600", "5");
    let queue = tessera(&data_dir, &["review", "--limit", "1"]);
    assert!(
        queue.contains("prior: two random records are one"),
        "the queue shows the evidence: {queue}"
    );
    let decide = queue
        .lines()
        .find(|l| l.trim_start().starts_with("decide:"))
        .expect("a queued pair");
    let words: Vec<&str> = decide.split_whitespace().collect();
    let (a, b) = (words[4].to_string(), words[5].to_string());
    let before = profiles_of(&data_dir);
    assert_ne!(before[&a], before[&b], "a queued pair is on two profiles");

    // "The same": joined by the next run, and it leaves the queue.
    let said = tessera(&data_dir, &["review", "--same", &a, &b]);
    assert!(said.starts_with("decision 1:"), "{said}");
    tessera(&data_dir, &["resolve"]);
    let after = profiles_of(&data_dir);
    assert_eq!(after[&a], after[&b]);
    assert!(!tessera(&data_dir, &["review", "--limit", "10000"]).contains(&format!("{a} vs  {b}")));

    // Undone: the next run is back to what the evidence alone says.
    tessera(&data_dir, &["review", "--undo", "1"]);
    tessera(&data_dir, &["resolve"]);
    let undone = profiles_of(&data_dir);
    assert_ne!(undone[&a], undone[&b]);

    // "Not the same" on two records the resolver put together splits them.
    let mut members: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for (record, profile) in &undone {
        members
            .entry(profile.as_str())
            .or_default()
            .push(record.as_str());
    }
    let pair = members
        .values()
        .find(|m| m.len() == 2)
        .expect("a two-record profile");
    tessera(&data_dir, &["review", "--different", pair[0], pair[1]]);
    tessera(&data_dir, &["resolve"]);
    let split = profiles_of(&data_dir);
    assert_ne!(split[pair[0]], split[pair[1]]);
    let decisions = tessera(&data_dir, &["review", "--decisions"]);
    assert!(
        decisions.contains("same")
            && decisions.contains("(undone")
            && decisions.contains("different"),
        "{decisions}"
    );
}

fn pairwise_f1(eval: &str) -> f64 {
    metric(eval, "pairwise", "F1")
}

/// A batch over four sources, then the fifth source's records resolved one at a time, scores
/// within 0.005 of a batch over all five.
fn incremental_resolution_of_a_new_source_matches_the_batch(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(full) = place(
        dir.path(),
        "full",
        backend,
        "incremental_resolution_of_a_new_source_matches_the_batch",
    ) else {
        return;
    };
    let batch_output = demo(&full, "2000", "13");
    let batch_f1 = pairwise_f1(&batch_output);

    let input = full.data_dir.join("demo-input");
    let Some(data) = place(dir.path(), "incremental", backend, "incremental") else {
        return;
    };
    let import = |source: &str| {
        let file = std::fs::read_dir(&input)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(&format!("{source}.")) && !name.ends_with(".mapping.toml")
            })
            .unwrap();
        let mapping = input.join(format!("{source}.mapping.toml"));
        tessera(
            &data,
            &[
                "import",
                "--mapping",
                mapping.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        );
    };
    for source in ["migration", "tax", "health", "employer"] {
        import(source);
    }
    tessera(&data, &["resolve"]);
    // The new source is resolved record by record as it is imported.
    let file = input.join("school.json");
    let mapping = input.join("school.mapping.toml");
    let incremental = tessera(
        &data,
        &[
            "import",
            "--resolve",
            "--mapping",
            mapping.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert!(
        incremental.contains("new records one at a time against"),
        "{incremental}"
    );
    assert!(incremental.contains("per record: p50"), "{incremental}");
    // Scored with the model the batch run stored with its profiles, not one learned afresh.
    assert!(
        incremental.contains("read (the last batch run's model)"),
        "{incremental}"
    );
    let truth = input.join("truth.csv");
    let incremental_f1 = pairwise_f1(&tessera(
        &data,
        &["eval", "--truth", truth.to_str().unwrap()],
    ));
    assert!(
        (incremental_f1 - batch_f1).abs() <= 0.005,
        "incremental {incremental_f1} vs batch {batch_f1}"
    );
}

fn command_line_reads_name_a_purpose_and_are_logged_in_a_verifiable_chain(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(data_dir) = place(
        dir.path(),
        "city",
        backend,
        "command_line_reads_name_a_purpose_and_are_logged_in_a_verifiable_chain",
    ) else {
        return;
    };
    demo(&data_dir, "300", "3");
    let links = tessera(&data_dir, &["links", "--out", "-"]);
    let profile = links
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .to_string();

    // No purpose: refused with status 2, nothing printed.
    let out = data_dir
        .command()
        .env_remove("TESSERA_PURPOSE")
        .args(["profile", &profile])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("purpose"));
    // A purpose a steward may not use: refused too.
    let out = data_dir
        .command()
        .args(["profile", &profile, "--purpose", "medical_commission"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    tessera(&data_dir, &["profile", &profile]);
    let verified = tessera(&data_dir, &["audit", "verify"]);
    // Five imports, the resolution, the demo's example, the links export and the profile read.
    assert!(
        verified.contains("access log intact: 9 entries"),
        "{verified}"
    );

    // Tampering with an entry is found, and the first bad entry is named.
    let db = tamper_with_the_last_read(&data_dir);
    assert!(db, "edited the log");
    let out = data_dir
        .command()
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOT intact") && stderr.contains('9'),
        "{stderr}"
    );
}

/// Rewrites the purpose in the last access-log entry in place, as someone with the database
/// could, without going through Tessera: in the SQLite file's bytes (same length, so the file
/// stays valid), or with SQL in PostgreSQL.
fn tamper_with_the_last_read(place: &Place) -> bool {
    if let Some(database) = &place.database {
        return database.execute(
            "UPDATE access_log SET entry = replace(entry, '\"purpose\":\"data_quality\"', \
             '\"purpose\":\"data_qualitx\"') WHERE seq = (SELECT max(seq) FROM access_log)",
        ) == 1;
    }
    // Every command checkpoints the WAL into the main file when it closes the store.
    let path = place.data_dir.join("access-log.sqlite3");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"\"purpose\":\"data_quality\",\"action\":\"read\"";
    let Some(at) = bytes.windows(needle.len()).rposition(|w| w == needle) else {
        return false;
    };
    bytes[at + 11..at + 23].copy_from_slice(b"data_qualitx");
    std::fs::write(&path, bytes).unwrap();
    true
}

#[test]
fn a_database_that_is_not_postgres_is_refused_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--database",
            "mysql://registry:s3cret@db/registry",
            "resolve",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expected a postgres://"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

/// The same city gives the same profiles on both backends, and a shared database is never
/// wiped by a second demo.
#[test]
fn postgres_resolves_the_demo_as_sqlite_does_and_is_never_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let test = "postgres_resolves_the_demo_as_sqlite_does_and_is_never_wiped";
    let Some(on_postgres) = place(dir.path(), "pg", Backend::Postgres, test) else {
        return;
    };
    let on_sqlite = place(dir.path(), "sqlite", Backend::Sqlite, test).unwrap();
    let scores = |o: &str| {
        o.lines()
            .filter(|l| l.starts_with("pairwise") || l.starts_with("B-cubed"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let from_postgres = scores(&demo(&on_postgres, "400", "9"));
    assert_eq!(from_postgres.len(), 2);
    assert_eq!(from_postgres, scores(&demo(&on_sqlite, "400", "9")));
    let out = on_postgres
        .command()
        .args(["demo", "--persons", "400", "--seed", "9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs an empty one"), "{stderr}");
}

/// The chain alone cannot show that its newest entries were deleted; an anchor (a head recorded
/// earlier, outside the database) can.
fn entries_cut_from_the_end_of_the_log_are_found_with_an_anchor(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let test = "entries_cut_from_the_end_of_the_log_are_found_with_an_anchor";
    let Some(city) = place(dir.path(), "city", backend, test) else {
        return;
    };
    demo(&city, "200", "4");
    let verified = tessera(&city, &["audit", "verify"]);
    let anchor = verified
        .lines()
        .find_map(|l| l.trim().strip_prefix("anchor: "))
        .unwrap_or_else(|| panic!("{verified}"))
        .to_string();
    assert!(
        tessera(&city, &["audit", "verify", "--anchor", &anchor]).contains("holds every anchor")
    );

    // Someone with the database deletes the newest entry (the last thing done, say).
    let cut = "DELETE FROM access_log WHERE seq = (SELECT max(seq) FROM access_log)";
    let deleted = match &city.database {
        Some(database) => database.execute(cut),
        None => {
            let log = rusqlite::Connection::open(city.data_dir.join("access-log.sqlite3")).unwrap();
            log.execute(cut, []).unwrap() as u64
        }
    };
    assert_eq!(deleted, 1);
    // The shortened chain is still a valid chain...
    assert!(tessera(&city, &["audit", "verify"]).contains("access log intact"));
    // ...but not the one the anchor recorded.
    let out = city
        .command()
        .args(["audit", "verify", "--anchor", &anchor])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOT intact") && stderr.contains("missing"),
        "{stderr}"
    );
    // A malformed anchor is bad input.
    let out = city
        .command()
        .args(["audit", "verify", "--anchor", "12:nothex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
