//! The `tessera` command: parse arguments, open the store, run one command, report errors.
//!
//! Each command lives in its own module; this file only wires them. A problem with the user's
//! input (a bad mapping, an unreadable file, an unknown profile) exits with status 2 and one line
//! saying why; anything else exits with status 1.

mod audit;
mod clients;
mod database;
mod demo;
mod enqueue;
mod evaluation;
mod events;
mod explain;
mod import;
mod keys;
mod links;
mod policy;
mod profile_view;
mod resolution;
mod review;
mod serve;
mod worker;

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

    /// The keyring that seals special-category values (default: <data-dir>/keys/keyring.toml,
    /// created on first use). TESSERA_MASTER_KEYS, when set, holds the keyring itself.
    #[arg(long, global = true, env = "TESSERA_KEY_FILE")]
    key_file: Option<PathBuf>,

    /// The access policy (TOML; `tessera policy` prints the default to start from).
    #[arg(long, global = true, env = "TESSERA_POLICY")]
    policy: Option<PathBuf>,

    /// The database: `postgres://user@host:port/db` for PostgreSQL (several nodes share one);
    /// unset, the embedded SQLite file in the data directory.
    #[arg(long, global = true, env = "TESSERA_DATABASE_URL")]
    database: Option<String>,

    /// The NATS server of the ingest queue (used by `import --queue`, `serve --queue` and
    /// `worker`).
    #[arg(long, global = true, env = "TESSERA_NATS_URL", default_value = tessera_jetstream::DEFAULT_NATS_URL)]
    nats: String,

    /// The prefix of every name on NATS: the ingest queue's stream, subjects and consumer, and
    /// the change-event stream and subjects (several registries may share one server under
    /// different prefixes).
    #[arg(long, global = true, env = "TESSERA_QUEUE_PREFIX", default_value = tessera_jetstream::DEFAULT_PREFIX)]
    queue_prefix: String,

    #[command(subcommand)]
    command: Command,
}

/// Why the operator reads personal data at the command line: a purpose of the policy that a
/// steward may use. Every such read is logged with it.
#[derive(clap::Args, Clone)]
struct PurposeArg {
    /// The purpose of this read (e.g. data_quality); logged in the access log.
    #[arg(long, env = "TESSERA_PURPOSE")]
    purpose: Option<String>,
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
        #[arg(long, conflicts_with = "queue")]
        resolve: bool,
        /// Instead of storing, publish the validated records to the ingest queue (NATS
        /// JetStream, --nats) for `tessera worker` processes to store and resolve; returns once
        /// the stream holds every batch. Quarantine files are written here as usual.
        #[arg(long)]
        queue: bool,
        /// With --queue: records per batch (one queue message each; also capped in bytes).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_records: u32,
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
        #[command(flatten)]
        purpose: PurposeArg,
    },
    /// Show a profile with each value's sources, by profile id or by identifier (`snils:112-233-445 95`).
    Profile {
        /// A profile id (p-…) or kind:value, where kind is snils, inn, oms, passport_rf,
        /// passport_foreign, work_patent, phone, car_plate, transport_card or other.
        target: String,
        #[command(flatten)]
        purpose: PurposeArg,
    },
    /// Explain the evidence, in bits, for two records being one person (`tax/7701 health/55`),
    /// or what ties together the records of a profile (`p-…`).
    Explain {
        /// A profile id, or the first record as source/key.
        first: String,
        /// The second record as source/key.
        second: Option<String>,
        #[command(flatten)]
        purpose: PurposeArg,
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
        #[command(flatten)]
        purpose: PurposeArg,
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
    /// Serve the HTTP API (see /openapi.json): purpose-bound, logged reads, the person's own
    /// view, consent, corrections, search and online ingest.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The mapping files of the sources that may send records online (every *.toml in the
        /// folder; default <data-dir>/mappings).
        #[arg(long)]
        mappings: Option<PathBuf>,
        /// Accept JWTs from this OIDC issuer (`iss`), with --oidc-audience and --oidc-key.
        #[arg(long)]
        oidc_issuer: Option<String>,
        /// The audience (`aud`) the JWTs must name.
        #[arg(long)]
        oidc_audience: Option<String>,
        /// The issuer's public key (PEM: Ed25519, RSA or P-256).
        #[arg(long)]
        oidc_key: Option<PathBuf>,
        /// Requests per second one client may make (twice as many in a burst).
        #[arg(long, default_value_t = 1000)]
        rate_limit: u32,
        /// Hours between checks for permits about to run out (the first runs at start).
        #[arg(long, default_value_t = 24.0)]
        permit_scan_hours: f64,
        /// Seconds a node holds a subscription's delivery before another node may take it
        /// over (after the holder stopped renewing it, e.g. because it died).
        #[arg(long, default_value_t = 30)]
        event_lease_seconds: u64,
        /// Send online ingest batches through the ingest queue (--nats) to `tessera worker`
        /// processes, answering with the worker's result.
        #[arg(long)]
        queue: bool,
        /// With --queue: seconds to wait for a worker's answer before answering 503
        /// `batch_queued` (the batch is still processed).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=25))]
        queue_wait: u64,
    },
    /// Store and resolve batches from the ingest queue (--nats) until Ctrl-C or SIGTERM, which
    /// stop it after the batch in hand. Run as many as the load needs, on any hosts.
    Worker {
        /// Seconds a batch may go unacknowledged before another worker gets it (the worker
        /// extends it while it works). Fixed by the first worker that creates the consumer.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        ack_wait: u64,
        /// The most batches delivered and unacknowledged across all workers (set by the first).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        max_ack_pending: i64,
    },
    /// API clients: add (prints a token once), list, revoke.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// The access log: verify its hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The keyring sealing special-category values: status, rotate.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Change events: subscribe a client (webhook or JetStream), deliver, tail the outbox.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Print the default access policy (a start for your own --policy file).
    Policy,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Register a client and print its token (shown only now; only a hash is kept).
    Add {
        /// agency, employer, inspector, steward, analyst or person.
        #[arg(long)]
        role: String,
        /// Who it is, as the person will see it in their access log.
        #[arg(long)]
        name: String,
        /// For a person: their own profile id (the token follows them through merges and splits).
        #[arg(long)]
        profile: Option<String>,
        /// For agencies and employers: a source they may send records to (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
    },
    /// List clients (never their tokens).
    List,
    /// Revoke a client: its token stops working at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the access log's hash chain and report the first tampered or missing entry.
    Verify {
        /// A head recorded earlier, `SEQ:HASH` (printed by verify, and logged by `tessera serve`
        /// every minute): also check that the log still holds that entry unchanged, which finds
        /// entries cut from the end, invisible to the chain alone.
        #[arg(long, value_name = "SEQ:HASH")]
        anchor: Vec<String>,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Subscribe a client to change events under a purpose: it receives only the events and
    /// values the purpose may see, and each delivery is in the access log.
    Subscribe(events::NewSubscriptionOptions),
    /// The subscriptions in force and how far each has got.
    Subscriptions,
    /// End a subscription.
    Unsubscribe { name: String },
    /// Deliver waiting events to every subscription (`tessera serve` does this in the
    /// background).
    Deliver {
        /// Keep delivering until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Show the outbox's events as a purpose may see them (each one logged as a read).
    Tail {
        #[command(flatten)]
        purpose: PurposeArg,
        /// Start after this event number (default: the last --limit events).
        #[arg(long)]
        from: Option<u64>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Keep showing new events until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Announce every permit that runs out within 30 days and was not announced yet
    /// (`tessera serve` does this daily).
    ScanPermits {
        /// The day to judge on, YYYY-MM-DD (default: today).
        #[arg(long)]
        today: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The keys and how many sealed values each holds.
    Status,
    /// Make a new master key, re-seal every data key under it, then retire the old keys.
    Rotate {
        /// Keep the old keys in the keyring after re-sealing.
        #[arg(long)]
        keep_old: bool,
    },
}

/// What every command needs to reach the store, the keyring and the policy.
pub(crate) struct Settings {
    pub(crate) data_dir: PathBuf,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) policy: tessera_policy::Policy,
    pub(crate) database: Option<String>,
    pub(crate) nats: String,
    pub(crate) queue_prefix: String,
}

impl Settings {
    /// Opens the database the command works on, bringing its schema up to date.
    pub(crate) fn open_store(&self) -> anyhow::Result<Box<dyn tessera_store::Database>> {
        database::open(self.database.as_deref(), &self.data_dir)
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let context = Settings {
        data_dir: cli.data_dir.clone(),
        key_file: cli.key_file.clone(),
        policy: policy::load(cli.policy.as_deref())?,
        database: cli.database.clone(),
        nats: cli.nats.clone(),
        queue_prefix: cli.queue_prefix.clone(),
    };
    match cli.command {
        Command::Import {
            mapping,
            files,
            resolve,
            queue,
            batch_records,
        } => {
            if queue {
                return enqueue::run(&context, &mapping, &files, batch_records as usize);
            }
            import::run(&context, &mapping, &files)?;
            if resolve {
                resolution::run_incremental(&context)?;
                audit::log_resolution(&context, "incremental, after import")
            } else {
                Ok(())
            }
        }
        Command::Resolve { incremental: false } => {
            resolution::run(&context)?;
            audit::log_resolution(&context, "batch")
        }
        Command::Resolve { incremental: true } => {
            resolution::run_incremental(&context)?;
            audit::log_resolution(&context, "incremental")
        }
        Command::Links { out, purpose } => links::run(&context, &out, purpose.purpose.as_deref()),
        Command::Profile { target, purpose } => {
            profile_view::run(&context, &target, purpose.purpose.as_deref())
        }
        Command::Explain {
            first,
            second,
            purpose,
        } => explain::run(
            &context,
            &first,
            second.as_deref(),
            purpose.purpose.as_deref(),
        ),
        Command::Serve {
            listen,
            mappings,
            oidc_issuer,
            oidc_audience,
            oidc_key,
            rate_limit,
            permit_scan_hours,
            event_lease_seconds,
            queue,
            queue_wait,
        } => serve::run(
            &context,
            serve::ServeOptions {
                listen,
                mappings,
                oidc_issuer,
                oidc_audience,
                oidc_key,
                rate_limit,
                permit_scan_hours,
                event_lease_seconds,
                queue,
                queue_wait: std::time::Duration::from_secs(queue_wait),
            },
        ),
        Command::Worker {
            ack_wait,
            max_ack_pending,
        } => worker::run(
            &context,
            tessera_jetstream::WorkerConfig {
                ack_wait: std::time::Duration::from_secs(ack_wait),
                max_ack_pending,
            },
        ),
        Command::Clients(ClientsCommand::Add {
            role,
            name,
            profile,
            sources,
        }) => clients::add(
            &context,
            clients::NewClient {
                role,
                name,
                profile,
                sources,
            },
        ),
        Command::Clients(ClientsCommand::List) => clients::list(&context),
        Command::Clients(ClientsCommand::Revoke { id }) => clients::revoke(&context, &id),
        Command::Audit(AuditCommand::Verify { anchor }) => audit::verify(&context, &anchor),
        Command::Events(EventsCommand::Subscribe(options)) => events::subscribe(&context, options),
        Command::Events(EventsCommand::Subscriptions) => events::list(&context),
        Command::Events(EventsCommand::Unsubscribe { name }) => {
            events::unsubscribe(&context, &name)
        }
        Command::Events(EventsCommand::Deliver { follow }) => events::deliver(&context, follow),
        Command::Events(EventsCommand::Tail {
            purpose,
            from,
            limit,
            follow,
        }) => events::tail(&context, purpose.purpose.as_deref(), from, limit, follow),
        Command::Events(EventsCommand::ScanPermits { today }) => {
            events::scan_permits(&context, today.as_deref())
        }
        Command::Keys(KeysCommand::Status) => keys::status(&context),
        Command::Keys(KeysCommand::Rotate { keep_old }) => keys::rotate(&context, keep_old),
        Command::Policy => {
            policy::print_default();
            Ok(())
        }
        Command::Review {
            limit,
            same,
            different,
            undo,
            decisions,
            purpose,
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
            review::run(&context, action, purpose.purpose.as_deref())
        }
        Command::Eval { truth } => evaluation::run(&context, &truth),
        Command::Demo { persons, seed } => demo::run(&context, persons, seed),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        // A command piped into `head` stops quietly when the pipe closes, as Unix tools do,
        // instead of panicking on the failed print. The server keeps ignoring SIGPIPE: a client
        // that hangs up must not stop it.
        // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
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
