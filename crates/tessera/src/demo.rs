//! `tessera demo`: the whole job on a synthetic city, end to end, with a score.
//!
//! Generates the city's agency exports and their mappings, imports each through the same path as
//! `tessera import`, resolves, and scores the profiles against the generator's truth. The data
//! directory is the demo's own: it refuses one holding a store it did not make, and replaces the
//! one it made last time.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use tessera_model::{Attribute, IdKind, ProfileId};
use tessera_store::{ACCESS_LOG_FILE, DATABASE_FILE, Store};
use tessera_synth::{CityConfig, generate};

use crate::{Settings, count, evaluation, import, input_error, resolution};

/// Marks a data directory as made by the demo, so a later demo may replace it.
const DEMO_MARKER: &str = "demo-city.txt";

fn prepare_data_dir(data_dir: &Path, persons: usize, seed: u64) -> anyhow::Result<()> {
    let marker = data_dir.join(DEMO_MARKER);
    if data_dir.join(DATABASE_FILE).exists() {
        if !marker.exists() {
            return Err(input_error(format!(
                "{} holds a store that `tessera demo` did not make; give the demo another --data-dir",
                data_dir.display()
            )));
        }
        for name in [DATABASE_FILE, ACCESS_LOG_FILE] {
            for name in [
                name.to_string(),
                format!("{name}-wal"),
                format!("{name}-shm"),
            ] {
                let path = data_dir.join(name);
                if path.exists() {
                    fs::remove_file(&path)
                        .with_context(|| format!("failed to remove {}", path.display()))?;
                }
            }
        }
        for dir in ["quarantine", "demo-input", "mappings", "keys"] {
            let path = data_dir.join(dir);
            if path.exists() {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("failed to remove {}", path.display()))?;
            }
        }
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("failed to create {}", data_dir.display()))?;
    fs::write(&marker, format!("made by `tessera demo --persons {persons} --seed {seed}`; the demo replaces this directory\n"))
        .with_context(|| format!("failed to write {}", marker.display()))?;
    Ok(())
}

pub(crate) fn run(context: &Settings, persons: usize, seed: u64) -> anyhow::Result<()> {
    let data_dir = context.data_dir.as_path();
    let started = Instant::now();
    if context.database.is_some() {
        // A shared database is never wiped by a demo: it must start empty.
        let store = context.open_store()?;
        let held = store.counts()?.versions;
        if held > 0 {
            return Err(input_error(format!(
                "the database given by --database already holds {} record versions; the demo \
                 needs an empty one (a new database, or a new schema in the URL's search_path)",
                count(held)
            )));
        }
    }
    prepare_data_dir(data_dir, persons, seed)?;
    let input_dir = data_dir.join("demo-input");
    let city = generate(&CityConfig { persons, seed }, &input_dir)
        .context("failed to generate the city")?;
    let generated_records: usize = city.sources.iter().map(|s| s.records).sum();
    println!(
        "generated a city of {} persons: {} records in {} agency exports under {} [{:.1}s]",
        count(city.persons as u64),
        count(generated_records as u64),
        city.sources.len(),
        input_dir.display(),
        started.elapsed().as_secs_f64()
    );

    let store = context.open_store()?;
    let store = &*store;
    let keyring = crate::keys::open_keyring(context)?;
    let sealer = tessera_serve::KeyringSealer(&keyring);
    let import_started = Instant::now();
    // The serving API takes records online for these sources, through the same mappings.
    let mappings_dir = data_dir.join("mappings");
    fs::create_dir_all(&mappings_dir)
        .with_context(|| format!("failed to create {}", mappings_dir.display()))?;
    for source in &city.sources {
        let mapping = import::load_mapping(&source.mapping_path)?;
        let copy = mappings_dir.join(format!("{}.toml", mapping.source));
        fs::copy(&source.mapping_path, &copy)
            .with_context(|| format!("failed to write {}", copy.display()))?;
        let report =
            import::import_file(store, data_dir, &mapping, &source.data_path, true, &sealer)?;
        report.print();
        report.log(store)?;
        if let Some(failure) = report.failure {
            return Err(
                anyhow::Error::new(failure).context("the demo's own file could not be imported")
            );
        }
    }
    println!("imported in {:.1}s", import_started.elapsed().as_secs_f64());

    resolution::resolve_store(store)?.print();
    crate::audit::log_cli(
        store,
        tessera_policy::Action::Resolve,
        None,
        &[],
        Some("batch resolution (demo)".into()),
    )?;

    let report = evaluation::against_truth(store, &city.truth_path)?;
    println!(
        "\nhow well the profiles match the generator's truth ({}):",
        city.truth_path.display()
    );
    print!("{}", report.render());
    println!(
        "\ndone in {:.1}s. Look a person up:",
        started.elapsed().as_secs_f64()
    );
    // The same place for every command: the data directory, and the database if not in it.
    let at = match &context.database {
        Some(url) => format!(
            "--data-dir {} --database {}",
            data_dir.display(),
            crate::database::redacted(url)
        ),
        None => format!("--data-dir {}", data_dir.display()),
    };
    if let Some((example, profile)) = example_lookup(store)? {
        // Printing a person's identifier is a read of their data, synthetic or not: logged.
        crate::audit::log_cli(
            store,
            tessera_policy::Action::Read,
            Some("data_quality"),
            &[(profile.clone(), vec!["snils".to_string()])],
            Some("demo: an example identifier to look up".into()),
        )?;
        println!("  tessera {at} profile {example} --purpose data_quality");
        println!(
            "  tessera {at} explain {profile} --purpose data_quality   (why these records are one person)"
        );
        println!(
            "  tessera {at} review --purpose data_quality              (the uncertain pairs, for a steward)"
        );
        println!(
            "  tessera {at} serve                                       (the HTTP API; see README)"
        );
    }
    println!("  tessera {at} links --out links.csv --purpose data_quality");
    Ok(())
}

/// A SNILS on the profile with the most records, to show off a lookup.
fn example_lookup(store: &dyn Store) -> anyhow::Result<Option<(String, ProfileId)>> {
    let mut sizes: HashMap<ProfileId, (usize, Option<String>)> = HashMap::new();
    store.scan_current(&mut |record| {
        let Some(profile) = record.profile else {
            return;
        };
        let entry = sizes.entry(profile).or_default();
        entry.0 += 1;
        for attribute in &record.attributes {
            if let Attribute::Identifier(id) = attribute
                && id.kind == IdKind::Snils
                && id.validity.is_valid()
            {
                entry.1 = Some(id.display_value());
            }
        }
    })?;
    let best = sizes
        .into_iter()
        .filter_map(|(profile, (size, snils))| snils.map(|s| (size, s, profile)))
        .max();
    Ok(best.map(|(_, snils, profile)| (format!("\"snils:{snils}\""), profile)))
}
