//! The access log from the command line: `tessera audit verify` recomputes the hash chain, and
//! [`log_cli`] is how every command that reads or writes personal data appends its entry.
//!
//! The command line is an operator's tool on a local store: its reads are logged like the API's,
//! as the client `cli:<user>` with the role `steward` and the purpose the operator names.

use anyhow::Context;
use chrono::Utc;
use tessera_model::ProfileId;
use tessera_policy::{
    AccessEntry, Action, Grant, Operation, Role, StoredEntry, chain_hash, verify_chain,
};
use tessera_store::{AccessStore, NewAccess};

use crate::{Settings, count, input_error};

/// Entries read per query while verifying.
const PAGE: usize = 65_536;

/// The operator at the command line, as the access log names them.
fn operator() -> (String, String) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".to_string());
    (format!("cli:{user}"), format!("{user} (command line)"))
}

/// Authorizes the operator (a steward) for `purpose` and `operation` under the policy in force.
pub(crate) fn authorize_cli(
    context: &Settings,
    purpose: Option<&str>,
    operation: Operation,
) -> anyhow::Result<Grant> {
    context
        .policy
        .authorize(Role::Steward, purpose, operation)
        .map_err(|refusal| {
            input_error(format!(
                "{refusal}; name the purpose with --purpose (or TESSERA_PURPOSE), e.g. --purpose data_quality"
            ))
        })
}

/// Appends one entry per profile (or one without a profile) for a command-line action.
pub(crate) fn log_cli(
    store: &dyn AccessStore,
    action: Action,
    purpose: Option<&str>,
    profiles: &[(ProfileId, Vec<String>)],
    detail: Option<String>,
) -> anyhow::Result<()> {
    let (client, client_name) = operator();
    let request_id = format!(
        "cli-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let make = |profile: Option<&ProfileId>, kinds: Vec<String>| AccessEntry {
        at: Utc::now(),
        client: client.clone(),
        client_name: client_name.clone(),
        role: Role::Steward,
        purpose: purpose.map(str::to_string),
        action,
        profile: profile.map(|p| p.as_str().to_string()),
        kinds,
        request_id: request_id.clone(),
        detail: detail.clone(),
    };
    let entries: Vec<NewAccess> = if profiles.is_empty() {
        vec![NewAccess {
            entry: make(None, Vec::new()).to_json(),
            profile: None,
        }]
    } else {
        profiles
            .iter()
            .map(|(profile, kinds)| NewAccess {
                entry: make(Some(profile), kinds.clone()).to_json(),
                profile: Some(profile.clone()),
            })
            .collect()
    };
    store
        .append_access(&entries, chain_hash)
        .context("failed to append to the access log; nothing was shown")?;
    Ok(())
}

/// Logs a read of whole records (explain, review): one entry per profile they are on, with the
/// kinds they hold that the grant allows.
pub(crate) fn log_records(
    store: &dyn AccessStore,
    action: Action,
    grant: &Grant,
    records: &[tessera_store::StoredRecord],
) -> anyhow::Result<()> {
    let mut by_profile: std::collections::BTreeMap<ProfileId, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for record in records {
        let kinds = by_profile
            .entry(
                record
                    .profile
                    .clone()
                    .unwrap_or_else(|| ProfileId::new("(unresolved)".into())),
            )
            .or_default();
        kinds.extend(
            record
                .attributes
                .iter()
                .filter(|a| grant.allows(a.kind()))
                .map(|a| a.kind().name()),
        );
    }
    let profiles: Vec<(ProfileId, Vec<String>)> = by_profile
        .into_iter()
        .map(|(p, kinds)| (p, kinds.into_iter().map(str::to_string).collect()))
        .collect();
    log_cli(store, action, Some(grant.purpose.as_str()), &profiles, None)
}

/// Logs a resolution run: it writes every profile assignment, so it is a write of personal data.
pub(crate) fn log_resolution(context: &Settings, kind: &str) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    log_cli(
        store,
        Action::Resolve,
        None,
        &[],
        Some(format!("{kind} resolution")),
    )
}

/// `tessera audit verify`: recomputes the chain; names the first tampered or missing entry.
pub(crate) fn verify(context: &Settings) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = store.access_rows(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        rows.extend(page.into_iter().map(|row| StoredEntry {
            seq: row.seq,
            entry_json: row.entry,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }));
    }
    match verify_chain(rows) {
        Ok(summary) => {
            let head: String = summary.head.iter().map(|b| format!("{b:02x}")).collect();
            println!(
                "access log intact: {} entries, chain head {head}",
                count(summary.entries)
            );
            Ok(())
        }
        Err(broken) => Err(anyhow::anyhow!("access log is NOT intact: {broken}")),
    }
}
