//! What every request shares: the store, the policy, the keyring, the access log, the online
//! resolver, the mappings of the sources that may be written to, and the limits.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tessera_ingest::Mapping;
use tessera_policy::Policy;
use tessera_seal::Keyring;
use tessera_store::{AccessStore, Database};

use crate::audit::AuditLog;
use crate::auth::JwtConfig;
use crate::placement::ResolverIndex;

/// How the server behaves, beyond what it serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Requests per second one client may make (with a burst of twice as many).
    pub rate_per_second: u32,
    /// The most records one online-ingest request may carry.
    pub max_ingest_records: usize,
    /// Whether short reads run on the async threads: true for a store in the process (SQLite),
    /// false for one across the network (PostgreSQL), whose waits must not hold those threads.
    pub reads_inline: bool,
    /// With `Some`, online ingest sends batches through the ingest queue to `tessera worker`
    /// processes instead of storing them here.
    pub queue: Option<tessera_jetstream::IngestQueue>,
    /// How long online ingest waits for a worker's answer before answering 503 `batch_queued`
    /// (under the 30 s request timeout).
    pub queue_wait: Duration,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            rate_per_second: 1000,
            max_ingest_records: 1000,
            reads_inline: true,
            queue: None,
            queue_wait: Duration::from_secs(20),
        }
    }
}

/// Where the keyring comes from, so that a rotation by `tessera keys rotate` reaches a running
/// server: the file is looked at again at most once a second.
pub struct KeySource {
    pub keyring: Keyring,
    /// The keyring file; `None` when it came from the environment.
    pub path: Option<PathBuf>,
}

struct KeyringCell {
    current: RwLock<Arc<Keyring>>,
    path: Option<PathBuf>,
    checked: Mutex<(Instant, Option<SystemTime>)>,
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl KeyringCell {
    fn get(&self) -> Arc<Keyring> {
        if let Some(path) = &self.path {
            let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
            if checked.0.elapsed() >= Duration::from_secs(1) {
                let now = modified(path);
                if now != checked.1 {
                    match Keyring::load(path) {
                        Ok(keyring) => {
                            *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                                Arc::new(keyring);
                            tracing::info!("keyring reloaded");
                        }
                        Err(error) => tracing::error!(%error, "cannot reload the keyring"),
                    }
                }
                *checked = (Instant::now(), now);
            }
        }
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The online resolver, built in the background at start-up from every stored record, and
/// built again when another process stores a batch run.
pub(crate) struct OnlineCell {
    pub(crate) resolver: Mutex<Option<ResolverIndex>>,
    rebuilding: std::sync::atomic::AtomicBool,
}

pub struct AppState {
    pub(crate) store: Arc<dyn Database>,
    pub(crate) policy: Policy,
    keys: KeyringCell,
    pub(crate) audit: AuditLog,
    pub(crate) online: Arc<OnlineCell>,
    pub(crate) mappings: HashMap<String, Mapping>,
    pub(crate) jwt: Option<JwtConfig>,
    pub(crate) limiter: DefaultKeyedRateLimiter<String>,
    pub(crate) config: ServeConfig,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Database>,
        policy: Policy,
        keys: KeySource,
        mappings: Vec<Mapping>,
        jwt: Option<JwtConfig>,
        config: ServeConfig,
    ) -> Arc<AppState> {
        let per_second = NonZeroU32::new(config.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = per_second.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        let limiter = RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst));
        let checked_mtime = keys.path.as_deref().and_then(modified);
        let audit_store: Arc<dyn AccessStore> = store.clone();
        Arc::new(AppState {
            audit: AuditLog::start(audit_store),
            store,
            policy,
            keys: KeyringCell {
                current: RwLock::new(Arc::new(keys.keyring)),
                path: keys.path,
                checked: Mutex::new((Instant::now(), checked_mtime)),
            },
            online: Arc::new(OnlineCell {
                resolver: Mutex::new(None),
                rebuilding: std::sync::atomic::AtomicBool::new(false),
            }),
            mappings: mappings
                .into_iter()
                .map(|m| (m.source.as_str().to_string(), m))
                .collect(),
            jwt,
            limiter,
            config,
        })
    }

    /// Builds the online resolver again on its own thread (once, however many ask), after
    /// another process stored a batch run; until it is done, search and ingest answer 503.
    pub(crate) fn rebuild_online(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.online.rebuilding.swap(true, Ordering::AcqRel) {
            return;
        }
        *self
            .online
            .resolver
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let state = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("resolver-rebuild".into())
            .spawn(move || {
                tracing::info!(
                    "a batch resolution was stored elsewhere; rebuilding the online resolver"
                );
                if let Err(error) = state.warm_up() {
                    tracing::error!(%error, "cannot rebuild the online resolver");
                }
                state.online.rebuilding.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.online.rebuilding.store(false, Ordering::Release);
        }
    }

    /// The keyring in force (reloaded when its file changed).
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keys.get()
    }

    /// Builds the online resolver from every stored record: learns the model and indexes the
    /// existing profiles. Blocking; run it on its own thread. Until it is done, search and
    /// online ingest answer 503.
    pub fn warm_up(&self) -> Result<usize, tessera_store::StoreError> {
        let index = ResolverIndex::build(self.store.as_ref())?;
        let records = index.len();
        *self
            .online
            .resolver
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(index);
        Ok(records)
    }
}
