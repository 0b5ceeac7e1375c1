//! The `tessera` command: parse arguments, open the store, run one command, report errors.
//!
//! Each command lives in its own module; this file only wires them. A problem with the user's
//! input (a bad mapping, an unreadable file, an unknown profile) exits with status 2 and one line
//! saying why; anything else exits with status 1.

mod demo;
mod evaluation;
mod explain;
mod import;
mod links;
mod profile_view;
mod resolution;
mod review;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: resolution allocates millions of small strings on
/// every core and frees them on others, and glibc's malloc spent 40% of reading the records in
/// its own bookkeeping (free-list consolidation) and fragmented the heap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An error in what the user gave us (exit status 2), as opposed to a failure of ours (1).
#[derive(Debug)]
pub(crate) struct InputError(pub(crate) String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

pub(crate) fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: one correct profile per person out of many agencies' records.",
    long_about = "Tessera: one correct profile per person out of many agencies' records.\n\n\
        Start with `tessera demo`: it generates a synthetic city, imports it, resolves it and \
        scores the result. For your own data: write a mapping file (see docs/mapping.md), then \
        `tessera import --mapping M.toml FILE`, `tessera resolve`, and `tessera profile snils:…`."
)]
struct Cli {
    /// Where the store lives (created if missing).
    #[arg(
        long,
        global = true,
        env = "TESSERA_DATA_DIR",
        default_value = "tessera-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import agency exports through a mapping file. Re-importing a file changes nothing; a
    /// changed row becomes a new version; a bad row goes to a quarantine file with its reason.
    Import {
        /// The mapping file (TOML) describing the files' layout; see docs/mapping.md.
        #[arg(long, short)]
        mapping: PathBuf,
        /// One or more files of that layout (CSV, NDJSON or JSON, as the mapping says).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Then resolve the new records one at a time against the existing profiles (as
        /// `tessera resolve --incremental`).
        #[arg(long)]
        resolve: bool,
    },
    /// Build profiles from every imported record (probabilistic, transliteration-aware).
    Resolve {
        /// Resolve only the records no run has resolved yet, one at a time, against the existing
        /// profiles, without re-clustering anything; prints the time per record.
        #[arg(long)]
        incremental: bool,
    },
    /// Write one row per source record: source,record_id,profile_id.
    Links {
        /// Where to write the CSV; `-` for standard output.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Show a profile with each value's sources, by profile id or by identifier (`snils:112-233-445 95`).
    Profile {
        /// A profile id (p-…) or kind:value, where kind is snils, inn, oms, passport_rf,
        /// passport_foreign, work_patent, phone, car_plate, transport_card or other.
        target: String,
    },
    /// Explain the evidence, in bits, for two records being one person (`tax/7701 health/55`),
    /// or what ties together the records of a profile (`p-…`).
    Explain {
        /// A profile id, or the first record as source/key.
        first: String,
        /// The second record as source/key.
        second: Option<String>,
    },
    /// The steward's desk: list the uncertain pairs with their evidence, or record a decision
    /// that every later `tessera resolve` respects (until undone).
    Review {
        /// How many uncertain pairs to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Record that two records (source/key) are the same person.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["different", "undo", "decisions"])]
        same: Option<Vec<String>>,
        /// Record that two records (source/key) are not the same person.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["undo", "decisions"])]
        different: Option<Vec<String>>,
        /// Undo a decision by its number.
        #[arg(long, conflicts_with = "decisions")]
        undo: Option<i64>,
        /// List every decision, undone ones too.
        #[arg(long)]
        decisions: bool,
    },
    /// Score the current profiles against a truth file (CSV: source,record_id,person_id).
    Eval {
        #[arg(long)]
        truth: PathBuf,
    },
    /// Generate a synthetic city, import it, resolve it and print how well it was resolved.
    Demo {
        /// How many persons live in the city.
        #[arg(long, default_value_t = 20_000)]
        persons: usize,
        /// The generator's seed; the same seed gives the same city.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import {
            mapping,
            files,
            resolve,
        } => {
            import::run(&cli.data_dir, &mapping, &files)?;
            if resolve {
                resolution::run_incremental(&cli.data_dir)
            } else {
                Ok(())
            }
        }
        Command::Resolve { incremental: false } => resolution::run(&cli.data_dir).map(|_| ()),
        Command::Resolve { incremental: true } => resolution::run_incremental(&cli.data_dir),
        Command::Links { out } => links::run(&cli.data_dir, &out),
        Command::Profile { target } => profile_view::run(&cli.data_dir, &target),
        Command::Explain { first, second } => {
            explain::run(&cli.data_dir, &first, second.as_deref())
        }
        Command::Review {
            limit,
            same,
            different,
            undo,
            decisions,
        } => {
            let action = match (same, different, undo, decisions) {
                (Some(pair), _, _, _) => review::Action::Decide {
                    a: pair[0].clone(),
                    b: pair[1].clone(),
                    same: true,
                },
                (_, Some(pair), _, _) => review::Action::Decide {
                    a: pair[0].clone(),
                    b: pair[1].clone(),
                    same: false,
                },
                (_, _, Some(id), _) => review::Action::Undo { id },
                (_, _, _, true) => review::Action::Decisions,
                _ => review::Action::List { limit },
            };
            review::run(&cli.data_dir, action)
        }
        Command::Eval { truth } => evaluation::run(&cli.data_dir, &truth),
        Command::Demo { persons, seed } => demo::run(&cli.data_dir, persons, seed),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(input) = error.downcast_ref::<InputError>() {
                eprintln!("error: {input}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {error:#}");
                ExitCode::from(1)
            }
        }
    }
}

/// Formats a count with thin groups for reading: 1234567 → "1,234,567".
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1000), "1,000");
        assert_eq!(super::count(1234567), "1,234,567");
    }
}
