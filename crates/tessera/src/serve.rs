//! `tessera serve`: the HTTP API over the store in the data directory.
//!
//! Wires the store, the policy (a file, or the default), the keyring, the mappings of the
//! sources that may be written to online, and an optional OIDC issuer, then serves until
//! Ctrl-C or SIGTERM, finishing the requests in flight and flushing the access log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tessera_events::DispatchConfig;
use tessera_ingest::Mapping;
use tessera_serve::{AppState, JwtConfig, KeySource, ServeConfig};

use crate::{Settings, input_error};

pub(crate) struct ServeOptions {
    pub(crate) listen: String,
    pub(crate) mappings: Option<PathBuf>,
    pub(crate) oidc_issuer: Option<String>,
    pub(crate) oidc_audience: Option<String>,
    pub(crate) oidc_key: Option<PathBuf>,
    pub(crate) rate_limit: u32,
    pub(crate) permit_scan_hours: f64,
    pub(crate) event_lease_seconds: u64,
    pub(crate) queue: bool,
    pub(crate) queue_wait: std::time::Duration,
}

/// Every `*.toml` mapping in a directory (none if it does not exist).
fn load_mappings(dir: &Path) -> anyhow::Result<Vec<Mapping>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| crate::import::load_mapping(p))
        .collect()
}

pub(crate) fn run(context: &Settings, options: ServeOptions) -> anyhow::Result<()> {
    let data_dir = context.data_dir.as_path();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The PostgreSQL driver logs the server's notices ("relation already exists,
                // skipping") at info: noise in an operator's log.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,tokio_postgres=warn,async_nats=warn")
                }),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let policy = context.policy.clone();
    let keyring = crate::keys::open_keyring(context)?;
    let keys = KeySource {
        keyring,
        path: std::env::var_os(tessera_seal::MASTER_KEYS_ENV)
            .is_none()
            .then(|| crate::keys::key_file(context)),
    };
    let mappings_dir = options
        .mappings
        .unwrap_or_else(|| data_dir.join("mappings"));
    let mappings = load_mappings(&mappings_dir)?;
    let jwt = match (options.oidc_issuer, options.oidc_audience, options.oidc_key) {
        (Some(issuer), Some(audience), Some(key)) => {
            let pem =
                std::fs::read(&key).with_context(|| format!("failed to read {}", key.display()))?;
            Some(
                JwtConfig::from_pem(&issuer, &audience, &pem)
                    .map_err(|e| input_error(format!("--oidc-key {}: {e}", key.display())))?,
            )
        }
        (None, None, None) => None,
        _ => {
            return Err(input_error(
                "OIDC needs all three of --oidc-issuer, --oidc-audience and --oidc-key",
            ));
        }
    };
    if !(options.permit_scan_hours.is_finite() && options.permit_scan_hours > 0.0) {
        return Err(input_error(format!(
            "--permit-scan-hours {}: give a positive number",
            options.permit_scan_hours
        )));
    }
    let store: Arc<dyn tessera_store::Database> = Arc::from(context.open_store()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let through_queue = if options.queue {
        format!(
            ", online ingest through the ingest queue at {}",
            context.nats
        )
    } else {
        String::new()
    };
    // The queue's client runs on this runtime, which serves too.
    let queue = if options.queue {
        Some(runtime.block_on(crate::worker::open_queue(context))?)
    } else {
        None
    };
    let state = AppState::new(
        store.clone(),
        policy,
        keys,
        mappings,
        jwt,
        ServeConfig {
            rate_per_second: options.rate_limit,
            reads_inline: context.database.is_none(),
            queue,
            queue_wait: options.queue_wait,
            ..ServeConfig::default()
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let keyring_state = state.clone();
    let background = crate::events::start_in_background(
        context,
        store,
        Arc::new(move || keyring_state.keyring()),
        Some((context.nats.clone(), context.queue_prefix.clone())),
        DispatchConfig {
            lease: Duration::from_secs(options.event_lease_seconds.max(1)),
            ..DispatchConfig::default()
        },
        Duration::from_secs_f64(options.permit_scan_hours * 3600.0),
        stop.clone(),
    )?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&options.listen)
            .await
            .map_err(|e| input_error(format!("cannot listen on {}: {e}", options.listen)))?;
        let address = listener.local_addr()?;
        eprintln!(
            "tessera serves http://{address}/v1 (OpenAPI at /openapi.json){through_queue}; Ctrl-C stops"
        );
        tessera_serve::serve(listener, state, shutdown_signal())
            .await
            .context("the server failed")
    });
    // The dispatcher finishes the delivery in hand (its cursor says where the next one starts).
    stop.store(true, Ordering::Relaxed);
    for thread in background {
        let _ = thread.join();
    }
    served
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("stopping: finishing requests in flight");
}
