//! A deterministic synthetic city: residents and labour migrants, their families, and the
//! records five agencies hold about them, written as those agencies export them, together with
//! the truth (which record is whom). Used by `tessera demo`, by tests and by benchmarks.
//!
//! [`generate`] plans households (`plan.rs`), fills each in from its own random stream
//! (`person.rs`), renders every person's records into the five sources (`sources/`), spoiling
//! values at the rates in `corrupt.rs`, and streams the files to disk in household order. The
//! same `(persons, seed)` always yields byte-identical files, whatever the number of threads.
//!
//! The five sources, each with a `<source>.mapping.toml` in the format of `docs/mapping.md`:
//!
//! | source | file | layout |
//! | --- | --- | --- |
//! | `migration` | `migration.csv` | UTF-8 CSV, Latin names, adult migrants only, one row per registration |
//! | `tax` | `tax.csv` | Windows-1251, `;`, whole name in "ФИО", `-` for nothing |
//! | `health` | `health.csv` | UTF-8 CSV with BOM, ISO dates, sex 1/2, a diagnosis column |
//! | `employer` | `employer.ndjson` | one line per employee per week, no birth date, two-part key |
//! | `school` | `school.json` | a JSON array of nested objects, pupils with a parent's phone, dated lists |
//!
//! Code map: `plan.rs` (household make-up and person ids), `person.rs` (people, families, twins,
//! marriages, documents, jobs), `names.rs` and `zipf.rs` (skewed name pools and name grammar),
//! `ids.rs` (identifiers with check digits, never repeated), `places.rs` (addresses, schools,
//! employers), `calendar.rs` (dates), `corrupt.rs` (every error rate), `sources/` (one module per
//! export, plus framing and the truth).
//!
//! What it deliberately does not do: it reads no clock and no environment (the city is observed
//! on a fixed day), it writes no impossible dates or unknown codes (so the importer quarantines
//! nothing by default), and it does not validate its own output with the importer; tests do.

mod calendar;
mod corrupt;
mod ids;
mod names;
mod person;
mod places;
mod plan;
mod sources;
mod zipf;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ids::Numbering;
use crate::names::NamePools;
use crate::places::Places;
use crate::plan::{HouseholdPlan, Planner};
use crate::sources::{ChunkOutput, EncodedChunk, Sinks};

/// What to generate.
#[derive(Clone, Debug)]
pub struct CityConfig {
    /// How many persons live in the city (records are about three times as many).
    pub persons: usize,
    pub seed: u64,
}

impl Default for CityConfig {
    fn default() -> CityConfig {
        CityConfig {
            persons: 20_000,
            seed: 42,
        }
    }
}

/// One agency export written by [`generate`].
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The source name, as in the mapping's `[source] name`.
    pub source: String,
    pub data_path: PathBuf,
    /// `<source>.mapping.toml`, in the format of `docs/mapping.md`.
    pub mapping_path: PathBuf,
    /// How many records (rows, lines or array elements) the data file holds.
    pub records: usize,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct City {
    pub persons: usize,
    pub sources: Vec<SourceFile>,
    /// CSV `source,record_id,person_id`, one row per generated record.
    pub truth_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("failed to write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate {persons} persons: at most {limit} are supported")]
    TooManyPersons { persons: usize, limit: usize },
    #[error("the {source_name} export cannot encode {character:?}")]
    Unencodable {
        source_name: &'static str,
        character: char,
    },
}

/// Identifiers and record keys stay unique below this many persons (see `ids::Numbering`).
pub const MAX_PERSONS: usize = 10_000_000;

/// Households rendered by one worker at a time; bounds memory at a few megabytes per worker.
const HOUSEHOLDS_PER_CHUNK: usize = 2048;

/// The fixed parts of the city, derived from the seed and shared read-only by all workers.
pub(crate) struct World {
    pub(crate) names: NamePools,
    pub(crate) places: Places,
    pub(crate) numbering: Numbering,
}

/// Writes the city's five data files, their mapping files and `truth.csv` into `out_dir`
/// (created if missing; existing files of the same names are replaced).
pub fn generate(config: &CityConfig, out_dir: &Path) -> Result<City, SynthError> {
    if config.persons > MAX_PERSONS {
        return Err(SynthError::TooManyPersons {
            persons: config.persons,
            limit: MAX_PERSONS,
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| SynthError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let numbering = Numbering::new(config.seed);
    let world = World {
        names: NamePools::new(),
        places: Places::new(config.seed, &numbering),
        numbering,
    };
    let mut sinks = Sinks::create(out_dir)?;
    let planner = Planner::new(config.persons, config.seed);
    let workers = thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    // One thread writes finished chunks in order while the workers render the next batch.
    let (sender, receiver) = mpsc::sync_channel::<EncodedChunk>(workers);
    let sinks = thread::scope(|scope| {
        let writer = scope.spawn(move || {
            for chunk in receiver {
                sinks.append(chunk)?;
            }
            Ok::<Sinks, SynthError>(sinks)
        });
        let rendered = render_all(planner, workers, &world, config.seed, &sender);
        drop(sender);
        let sinks = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A write error stops the renderers (their sends fail), so report it first.
        let sinks = sinks?;
        rendered.map(|()| sinks)
    })?;
    let (sources, truth_path) = sinks.finish(out_dir)?;
    Ok(City {
        persons: config.persons,
        sources,
        truth_path,
    })
}

/// Renders the city batch by batch, `workers` chunks at a time, and sends the chunks to the
/// writer in household order. Stops early, without error, if the writer has hung up.
fn render_all(
    mut planner: Planner,
    workers: usize,
    world: &World,
    seed: u64,
    sender: &mpsc::SyncSender<EncodedChunk>,
) -> Result<(), SynthError> {
    loop {
        let batch: Vec<Vec<HouseholdPlan>> = (0..workers)
            .map(|_| {
                planner
                    .by_ref()
                    .take(HOUSEHOLDS_PER_CHUNK)
                    .collect::<Vec<_>>()
            })
            .filter(|chunk| !chunk.is_empty())
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        for chunk in render_batch(&batch, world, seed) {
            if sender.send(chunk?).is_err() {
                return Ok(());
            }
        }
    }
}

/// Renders each chunk of the batch on its own thread and returns the results in batch order.
fn render_batch(
    batch: &[Vec<HouseholdPlan>],
    world: &World,
    seed: u64,
) -> Vec<Result<EncodedChunk, SynthError>> {
    if let [only] = batch {
        return vec![render_chunk(only, world, seed)];
    }
    thread::scope(|scope| {
        let handles: Vec<_> = batch
            .iter()
            .map(|chunk| scope.spawn(move || render_chunk(chunk, world, seed)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn render_chunk(
    plans: &[HouseholdPlan],
    world: &World,
    seed: u64,
) -> Result<EncodedChunk, SynthError> {
    let mut out = ChunkOutput::new();
    for plan in plans {
        let mut rng = ChaCha8Rng::seed_from_u64(household_seed(seed, plan.index));
        let household = person::build_household(plan, world, &mut rng);
        sources::render_household(&household, world, &mut rng, &mut out);
    }
    out.encode()
}

/// The seed of one household's random stream: the city seed and the household index, mixed by
/// SplitMix64 so that neighbouring households get unrelated streams.
fn household_seed(seed: u64, household: usize) -> u64 {
    let mut z = seed ^ (household as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
