//! `tessera events`: subscriptions to change events, their delivery, the outbox from the
//! command line, and the daily check for permits about to run out.
//!
//! A subscription belongs to an API client and names a purpose: it receives only the events
//! and values that purpose may see, as a read would (`tessera_events::select`), and every
//! delivery is in the access log. Webhooks are signed with a secret printed once at
//! subscription and kept sealed by the keyring; JetStream subjects live under
//! `tessera.events.`. `tessera serve` delivers in the background; `tessera events deliver`
//! does the same from the command line (once, or until stopped with `--follow`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use tessera_events::{DispatchConfig, Dispatcher, RoundReport, event_subject_prefix, secret_aad};
use tessera_model::{Attribute, ChangeKind};
use tessera_policy::{Action, Operation, Role};
use tessera_store::{NewSubscription, SubscriptionTarget};

use crate::{Settings, count, input_error};

/// What `tessera events subscribe` was asked for.
#[derive(clap::Args)]
pub(crate) struct NewSubscriptionOptions {
    /// A name for the subscription (letters, digits, - and _).
    #[arg(long)]
    pub(crate) name: String,
    /// The client id (see `tessera clients list`) whose role the events are read under.
    #[arg(long)]
    pub(crate) client: String,
    #[arg(long)]
    pub(crate) purpose: String,
    /// Kinds of change wanted, comma-separated (profile_created, profile_merged,
    /// profile_split, address_changed, dismissed, permit_expiring); default: every kind.
    #[arg(long)]
    pub(crate) kinds: Vec<String>,
    /// POST each event to this URL, signed (Tessera-Signature: HMAC-SHA256).
    #[arg(long)]
    pub(crate) webhook: Option<String>,
    /// Publish each event to this JetStream subject (under tessera.events.).
    #[arg(long)]
    pub(crate) jetstream: Option<String>,
    /// Deliver the outbox's earlier events too, not only those after now.
    #[arg(long)]
    pub(crate) from_start: bool,
}

/// `tessera events subscribe`: checks that the client may read for the purpose, then stores
/// the subscription; a webhook's signing secret is printed once.
pub(crate) fn subscribe(context: &Settings, options: NewSubscriptionOptions) -> anyhow::Result<()> {
    let name = options.name.trim().to_string();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(input_error(format!(
            "subscription name {:?}: use 1 to 64 ASCII letters, digits, - and _",
            options.name
        )));
    }
    let store = context.open_store()?;
    let client = store
        .clients()?
        .into_iter()
        .find(|c| c.id == options.client && c.revoked_at.is_none())
        .ok_or_else(|| {
            input_error(format!(
                "no client {:?} in force (see `tessera clients list`)",
                options.client
            ))
        })?;
    let role = Role::from_name(&client.role)
        .ok_or_else(|| input_error(format!("client {} has an unknown role", client.id)))?;
    context
        .policy
        .authorize(role, Some(&options.purpose), Operation::Read)
        .map_err(|refusal| input_error(format!("client {}: {refusal}", client.id)))?;
    let kinds = options
        .kinds
        .iter()
        .flat_map(|list| list.split(','))
        .filter(|k| !k.trim().is_empty())
        .map(|k| {
            ChangeKind::from_name(k.trim()).ok_or_else(|| {
                let known: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.name()).collect();
                input_error(format!(
                    "--kinds: unknown kind {k:?}; known: {}",
                    known.join(", ")
                ))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let target = match (options.webhook, options.jetstream) {
        (Some(url), None) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(input_error(format!(
                    "--webhook {url:?}: give an http:// or https:// URL"
                )));
            }
            SubscriptionTarget::Webhook { url }
        }
        (None, Some(subject)) => {
            let under = event_subject_prefix(&context.queue_prefix);
            let valid = subject.starts_with(&under)
                && subject.len() > under.len()
                && subject.split('.').all(|token| {
                    !token.is_empty()
                        && token
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            if !valid {
                return Err(input_error(format!(
                    "--jetstream {subject:?}: give a subject under {under} \
                     (e.g. {under}migration), tokens of letters, digits, - and _"
                )));
            }
            SubscriptionTarget::JetStream { subject }
        }
        _ => {
            return Err(input_error(
                "name exactly one target: --webhook URL or --jetstream SUBJECT",
            ));
        }
    };
    let secret = matches!(target, SubscriptionTarget::Webhook { .. }).then(|| {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let sealed_secret = match &secret {
        Some(secret) => {
            let keyring = crate::keys::open_keyring(context)?;
            Some(
                keyring
                    .seal(secret.as_bytes(), &secret_aad(&name))
                    .to_bytes(),
            )
        }
        None => None,
    };
    let cursor = if options.from_start {
        0
    } else {
        store.change_head()?
    };
    let added = store.add_subscription(&NewSubscription {
        name: name.clone(),
        client_id: client.id.clone(),
        purpose: options.purpose.clone(),
        kinds,
        target,
        sealed_secret,
        cursor,
        created_at: Utc::now(),
    })?;
    if added.is_none() {
        return Err(input_error(format!(
            "a subscription named {name:?} exists; remove it first (`tessera events unsubscribe`)"
        )));
    }
    println!(
        "subscription {name} for {} ({}) under purpose {}: events after #{cursor}",
        client.name, client.id, options.purpose
    );
    if let Some(secret) = secret {
        println!("webhook secret (shown only now; verify the Tessera-Signature header with it):");
        println!("{secret}");
    }
    Ok(())
}

/// `tessera events subscriptions`: the subscriptions in force and how far each has got.
pub(crate) fn list(context: &Settings) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let head = store.change_head()?;
    println!("outbox: {} events", count(head));
    for subscription in store.subscriptions()? {
        let target = match &subscription.target {
            SubscriptionTarget::Webhook { url } => format!("webhook {url}"),
            SubscriptionTarget::JetStream { subject } => format!("jetstream {subject}"),
        };
        let kinds = if subscription.kinds.is_empty() {
            "every kind its purpose may see".to_string()
        } else {
            let names: Vec<&str> = subscription.kinds.iter().map(|k| k.name()).collect();
            names.join(",")
        };
        println!(
            "{}  client {}  purpose {}  {target}  kinds {kinds}  delivered up to #{} ({} waiting)",
            subscription.name,
            subscription.client_id,
            subscription.purpose,
            subscription.cursor,
            count(head.saturating_sub(subscription.cursor)),
        );
    }
    Ok(())
}

/// `tessera events unsubscribe NAME`.
pub(crate) fn unsubscribe(context: &Settings, name: &str) -> anyhow::Result<()> {
    let store = context.open_store()?;
    if !store.remove_subscription(name, Utc::now())? {
        return Err(input_error(format!("no subscription named {name:?}")));
    }
    println!("subscription {name} removed");
    Ok(())
}

/// Starts a dispatcher over the command's database and keyring.
fn dispatcher(
    context: &Settings,
    store: Arc<dyn tessera_store::Database>,
) -> anyhow::Result<Dispatcher> {
    let keyring = Arc::new(crate::keys::open_keyring(context)?);
    Ok(Dispatcher::new(
        store,
        Arc::new(context.policy.clone()),
        Arc::new(move || keyring.clone()),
        holder_name(),
        Some((context.nats.clone(), context.queue_prefix.clone())),
        DispatchConfig::default(),
    ))
}

/// This process's name in subscription leases.
pub(crate) fn holder_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    )
}

/// `tessera events deliver`: one round of delivery (or rounds until Ctrl-C with `follow`).
/// Fails when a subscription's delivery stopped at an error, after delivering the rest.
pub(crate) fn deliver(context: &Settings, follow: bool) -> anyhow::Result<()> {
    let store: Arc<dyn tessera_store::Database> = Arc::from(context.open_store()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let dispatcher = dispatcher(context, store)?;
        if follow {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                flag.store(true, Ordering::Relaxed);
            });
            eprintln!("delivering change events; Ctrl-C stops");
            dispatcher
                .run(Duration::from_millis(500), || stop.load(Ordering::Relaxed))
                .await;
            return Ok(());
        }
        let mut total = RoundReport::default();
        // Rounds until nothing is left, so a backlog larger than one batch goes out too.
        loop {
            let report = dispatcher.round().await;
            total.delivered += report.delivered;
            total.skipped += report.skipped;
            let done = report.delivered + report.skipped == 0 || !report.failures.is_empty();
            total.failures.extend(report.failures);
            if done {
                break;
            }
        }
        println!(
            "delivered {} events ({} not for their subscribers)",
            count(total.delivered),
            count(total.skipped)
        );
        if total.failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "delivery stopped for {} subscription(s), to be retried:\n  {}",
                total.failures.len(),
                total.failures.join("\n  ")
            )
        }
    })
}

/// `tessera events tail`: the outbox's events as the purpose may see them, each logged as a
/// read; with `follow`, new ones as they come until Ctrl-C.
pub(crate) fn tail(
    context: &Settings,
    purpose: Option<&str>,
    from: Option<u64>,
    limit: usize,
    follow: bool,
) -> anyhow::Result<()> {
    let grant = crate::audit::authorize_cli(context, purpose, Operation::Read)?;
    let store = context.open_store()?;
    let head = store.change_head()?;
    let mut cursor = from.unwrap_or_else(|| head.saturating_sub(limit as u64));
    loop {
        let events = store.changes_after(cursor, limit)?;
        let mut shown = Vec::with_capacity(events.len());
        let mut lines = Vec::with_capacity(events.len());
        for event in &events {
            cursor = event.seq;
            let about = event.kind.attribute();
            if about.is_some_and(|kind| !grant.allows(kind)) {
                continue;
            }
            let values: Vec<Attribute> = match (about, event.record) {
                (Some(kind), Some(id)) => store
                    .record(id)?
                    .map(|record| {
                        record
                            .attributes
                            .into_iter()
                            .filter(|a| a.kind() == kind)
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let kinds = about
                .filter(|_| !values.is_empty())
                .map(|k| vec![k.name().to_string()])
                .unwrap_or_default();
            shown.push((event.profile.clone(), kinds));
            let other = event
                .other
                .as_ref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            let values: String = values
                .iter()
                .map(|value| {
                    let (label, text) = crate::profile_view::describe(value);
                    format!("  {label}: {}", text.unwrap_or_default())
                })
                .collect();
            lines.push(format!(
                "#{}  {}  {}  {}{other}{values}",
                event.seq,
                event
                    .occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                event.kind.name(),
                event.profile
            ));
        }
        if !shown.is_empty() {
            // Logged before anything is shown, as every read.
            crate::audit::log_cli(
                &*store,
                Action::Read,
                Some(grant.purpose.as_str()),
                &shown,
                Some("events tail".into()),
            )?;
            for line in lines {
                println!("{line}");
            }
        }
        if !follow {
            return Ok(());
        }
        if events.len() < limit {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// `tessera events scan-permits`: announces every permit on a profile that runs out within 30
/// days of `today` (default: the clock's) and was not announced yet.
pub(crate) fn scan_permits(context: &Settings, today: Option<&str>) -> anyhow::Result<()> {
    let today = match today {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|e| input_error(format!("--today {text:?}: {e}; give YYYY-MM-DD")))?,
        None => Utc::now().date_naive(),
    };
    let store = context.open_store()?;
    let written = tessera_store::announce_expiring_permits(&*store, today)
        .context("failed to scan the permits")?;
    println!(
        "{} permits newly within {} days of running out (judged on {today})",
        count(written),
        tessera_model::PERMIT_WARNING_DAYS
    );
    Ok(())
}

/// What a server runs beside the API: the dispatcher, and the permit check once at start and
/// then every `permit_scan_every`. Both stop when `stop` is set; join the handles after.
pub(crate) fn start_in_background(
    context: &Settings,
    store: Arc<dyn tessera_store::Database>,
    keyring: Arc<dyn Fn() -> Arc<tessera_seal::Keyring> + Send + Sync>,
    nats: Option<(String, String)>,
    config: DispatchConfig,
    permit_scan_every: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let policy = Arc::new(context.policy.clone());
    let dispatcher_store = store.clone();
    let dispatcher_stop = stop.clone();
    let dispatcher = std::thread::Builder::new()
        .name("event-dispatcher".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "cannot start the event dispatcher");
                    return;
                }
            };
            runtime.block_on(async move {
                let dispatcher = Dispatcher::new(
                    dispatcher_store,
                    policy,
                    keyring,
                    holder_name(),
                    nats,
                    config,
                );
                dispatcher
                    .run(Duration::from_millis(500), || {
                        dispatcher_stop.load(Ordering::Relaxed)
                    })
                    .await;
            });
        })
        .context("failed to start the event dispatcher")?;
    let scanner = std::thread::Builder::new()
        .name("permit-scan".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match tessera_store::announce_expiring_permits(&*store, Utc::now().date_naive()) {
                    Ok(written) => tracing::info!(written, "permits near their end announced"),
                    Err(error) => tracing::error!(%error, "cannot scan permits"),
                }
                let until = std::time::Instant::now() + permit_scan_every;
                while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        })
        .context("failed to start the permit scan")?;
    Ok(vec![dispatcher, scanner])
}
