//! Generates a synthetic city from the command line and reports what it wrote and how long it
//! took: `cargo run --release -p tessera-synth --example city -- [persons] [out_dir] [seed]`.
//!
//! It exists to time the generator at scale (a million persons), which `cargo test` cannot do
//! in a debug build; it does not check the output (the crate's tests do).

use std::path::PathBuf;
use std::time::Instant;

use tessera_synth::{CityConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let persons: usize = args
        .next()
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(20_000);
    let out_dir = PathBuf::from(args.next().unwrap_or_else(|| "city".to_string()));
    let seed: u64 = args
        .next()
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(42);

    let started = Instant::now();
    let city = generate(&CityConfig { persons, seed }, &out_dir)?;
    let elapsed = started.elapsed();

    let total: usize = city.sources.iter().map(|source| source.records).sum();
    for source in &city.sources {
        println!(
            "{:<10} {:>9} records  {}",
            source.source,
            source.records,
            source.data_path.display()
        );
    }
    println!(
        "{:<10} {:>9} records  {}",
        "total",
        total,
        city.truth_path.display()
    );
    println!(
        "{} persons, {:.2} records per person, in {:.2?}",
        city.persons,
        total as f64 / persons.max(1) as f64,
        elapsed
    );
    Ok(())
}
