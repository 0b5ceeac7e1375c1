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

/// An entry the chain must still hold: `SEQ:HASH` as verify prints it.
fn parse_anchor(text: &str) -> anyhow::Result<(u64, [u8; 32])> {
    let bad = || {
        input_error(format!(
            "--anchor {text:?}: expected SEQ:HASH (64 hex digits)"
        ))
    };
    let (seq, hash) = text.trim().split_once(':').ok_or_else(bad)?;
    let seq: u64 = seq.parse().map_err(|_| bad())?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok((seq, bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `tessera audit verify`: recomputes the chain; names the first tampered or missing entry;
/// with anchors, also finds entries cut from the end.
pub(crate) fn verify(context: &Settings, anchors: &[String]) -> anyhow::Result<()> {
    let anchors: Vec<(u64, [u8; 32])> = anchors
        .iter()
        .map(|a| parse_anchor(a))
        .collect::<anyhow::Result<_>>()?;
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
    let hashes: std::collections::HashMap<u64, [u8; 32]> =
        rows.iter().map(|row| (row.seq, row.hash)).collect();
    let summary = verify_chain(rows)
        .map_err(|broken| anyhow::anyhow!("access log is NOT intact: {broken}"))?;
    for (seq, hash) in &anchors {
        match hashes.get(seq) {
            None => anyhow::bail!(
                "access log is NOT intact: the anchor names entry {seq}, but the log ends at \
                 entry {}: entries {}..={seq} (at least) are missing",
                summary.entries,
                summary.entries + 1
            ),
            Some(stored) if stored != hash => anyhow::bail!(
                "access log is NOT intact: entry {seq} is not the one the anchor recorded \
                 (the log was rewritten from there or earlier)"
            ),
            Some(_) => {}
        }
    }
    println!(
        "access log intact: {} entries, chain head {}",
        count(summary.entries),
        hex(&summary.head)
    );
    if !anchors.is_empty() {
        println!("  and it holds every anchor given ({})", anchors.len());
    }
    // What to keep outside the database, to find later whether entries were cut from the end.
    println!("  anchor: {}:{}", summary.entries, hex(&summary.head));
    Ok(())
}
