//! `tessera clients`: who may call the API. `add` prints a new token once; only its keyed hash
//! is stored. A person's client is bound to one of their records, so it follows them through
//! merges and splits of their profile.

use chrono::Utc;
use tessera_model::ProfileId;
use tessera_policy::Role;
use tessera_store::ClientRow;

use crate::{Settings, input_error};

pub(crate) struct NewClient {
    pub(crate) role: String,
    pub(crate) name: String,
    pub(crate) profile: Option<String>,
    pub(crate) sources: Vec<String>,
}

pub(crate) fn add(context: &Settings, new: NewClient) -> anyhow::Result<()> {
    let role = Role::from_name(&new.role).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
        input_error(format!(
            "unknown role {:?}; use one of {}",
            new.role,
            roles.join(", ")
        ))
    })?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(input_error("--name must be 1 to 100 characters"));
    }
    let store = context.open_store()?;
    let store = &*store;
    let anchor = match (role, new.profile.as_deref()) {
        (Role::Person, Some(profile)) => {
            let records = store.profile_records(&ProfileId::new(profile.to_string()))?;
            let first = records.first().ok_or_else(|| {
                input_error(format!(
                    "no profile {profile:?} (merged ids are not accepted here: give the current id)"
                ))
            })?;
            Some((first.reference.source.clone(), first.reference.key.clone()))
        }
        (Role::Person, None) => {
            return Err(input_error(
                "a person's client needs --profile ID (their own profile)",
            ));
        }
        (_, Some(_)) => return Err(input_error("--profile is only for --role person")),
        (_, None) => None,
    };
    if !new.sources.is_empty() && !matches!(role, Role::Agency | Role::Employer) {
        return Err(input_error("--source is only for agencies and employers"));
    }
    for source in &new.sources {
        tessera_model::SourceId::new(source)
            .map_err(|e| input_error(format!("--source {source:?}: {e}")))?;
    }
    let keyring = crate::keys::open_keyring(context)?;
    let token = tessera_serve::new_token();
    let id = format!("c-{:012x}", rand_id());
    store.add_client(&ClientRow {
        id: id.clone(),
        name: name.to_string(),
        role: role.name().to_string(),
        anchor,
        sources: new.sources,
        token_hash: tessera_serve::token_hash(&keyring, &token),
        created_at: Utc::now(),
        revoked_at: None,
    })?;
    eprintln!(
        "client {id} ({}, {name}); its token, shown only now:",
        role.name()
    );
    println!("{token}");
    Ok(())
}

fn rand_id() -> u64 {
    let bytes: [u8; 6] = rand::random();
    bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
}

pub(crate) fn list(context: &Settings) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    for client in store.clients()? {
        let state = match client.revoked_at {
            Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
            None => "active".to_string(),
        };
        let bound = match &client.anchor {
            Some(_) => " (bound to their own profile)".to_string(),
            None if !client.sources.is_empty() => format!(" (sends {})", client.sources.join(", ")),
            None => String::new(),
        };
        println!(
            "{}  {:9} {}{bound}  created {}  {state}",
            client.id,
            client.role,
            client.name,
            client.created_at.format("%Y-%m-%d %H:%M"),
        );
    }
    Ok(())
}

pub(crate) fn revoke(context: &Settings, id: &str) -> anyhow::Result<()> {
    let store = context.open_store()?;
    let store = &*store;
    if store.revoke_client(id, Utc::now())? {
        println!("revoked {id}; its token no longer works");
        Ok(())
    } else {
        Err(input_error(format!("no active client {id:?}")))
    }
}
