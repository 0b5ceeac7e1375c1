//! `tessera profile`: one profile with every value and the source records it came from.
//!
//! The operator names a purpose (`--purpose`); only the attribute kinds the policy gives that
//! purpose are shown, and the read is appended to the access log before anything is printed.
//! Special-category values stay sealed: the command line never opens them.

use std::collections::{BTreeMap, BTreeSet};

use tessera_model::{Attribute, IdKind, Identifier, PersonName, ProfileId, Validity};
use tessera_store::{ProfileEvent, ProfileHistory, Store, StoredRecord};

use tessera_policy::{Action, Operation};

use crate::{Settings, input_error};

pub(crate) fn run(context: &Settings, target: &str, purpose: Option<&str>) -> anyhow::Result<()> {
    let operation = if target.contains(':') {
        Operation::Lookup
    } else {
        Operation::Read
    };
    let grant = crate::audit::authorize_cli(context, purpose, operation)?;
    let store = context.open_store()?;
    let store = &*store;
    let profiles = find_profiles(store, target)?;
    let mut shown = Vec::with_capacity(profiles.len());
    for profile in &profiles {
        let mut records = store.profile_records(profile)?;
        for record in &mut records {
            record.attributes.retain(|a| grant.allows(a.kind()));
        }
        let kinds: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.attributes.iter().map(|a| a.kind().name()))
            .collect();
        shown.push((
            profile.clone(),
            records,
            kinds.into_iter().map(str::to_string).collect::<Vec<_>>(),
        ));
    }
    let action = match operation {
        Operation::Lookup => Action::Lookup,
        _ => Action::Read,
    };
    let logged: Vec<(ProfileId, Vec<String>)> = shown
        .iter()
        .map(|(p, _, kinds)| (p.clone(), kinds.clone()))
        .collect();
    crate::audit::log_cli(store, action, Some(grant.purpose.as_str()), &logged, None)?;
    for (i, (profile, records, _)) in shown.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", render(profile, records));
        print!(
            "{}",
            render_history(&store.profile_history(profile)?, profile)
        );
    }
    Ok(())
}

fn find_profiles(store: &dyn Store, target: &str) -> anyhow::Result<Vec<ProfileId>> {
    let Some((kind, value)) = target.split_once(':') else {
        let profile = ProfileId::new(target.to_string());
        if !store.profile_records(&profile)?.is_empty() {
            return Ok(vec![profile]);
        }
        // An id once given out always says where its person went.
        if let Some(survivor) = store.profile_history(&profile)?.merged_into {
            println!("profile {profile} was merged into {survivor}; showing {survivor}\n");
            return Ok(vec![survivor]);
        }
        return Err(input_error(format!(
            "no profile {target:?}; give a profile id (p-…) or kind:value such as snils:112-233-445 95"
        )));
    };
    let kind = IdKind::from_name(kind).ok_or_else(|| {
        let kinds: Vec<&str> = IdKind::ALL.iter().map(|k| k.name()).collect();
        input_error(format!(
            "unknown identifier kind {kind:?}; use one of {}",
            kinds.join(", ")
        ))
    })?;
    let canonical = Identifier::parse(kind, value);
    let records = store.records_with_identifier(kind, &canonical.value)?;
    if records.is_empty() {
        return Err(input_error(format!(
            "no record holds {}:{}",
            kind.name(),
            canonical.display_value()
        )));
    }
    let mut profiles: Vec<ProfileId> = records.iter().filter_map(|r| r.profile.clone()).collect();
    profiles.sort();
    profiles.dedup();
    if profiles.is_empty() {
        return Err(input_error(format!(
            "{} record(s) hold {}:{} but none is resolved yet; run `tessera resolve`",
            records.len(),
            kind.name(),
            canonical.display_value()
        )));
    }
    Ok(profiles)
}

fn name_text(name: &PersonName) -> String {
    name.original.clone()
}

fn identifier_text(id: &Identifier) -> String {
    match &id.validity {
        Validity::Valid => id.display_value(),
        Validity::Invalid(reason) => format!("{} (invalid: {reason})", id.display_value()),
    }
}

/// A label and a one-line text for an attribute; `None` text for withheld special categories.
pub(crate) fn describe(attribute: &Attribute) -> (String, Option<String>) {
    let label = attribute.kind().name().to_string();
    let text = match attribute {
        Attribute::Name(name) => Some(name_text(name)),
        Attribute::BirthDate(date) => Some(date.to_string()),
        Attribute::Sex(sex) => Some(format!("{sex:?}").to_lowercase()),
        Attribute::Citizenship(country) => Some(country.as_str().to_string()),
        Attribute::Identifier(id) => Some(identifier_text(id)),
        Attribute::Address(address) => Some(format!(
            "{}: {}",
            format!("{:?}", address.kind).to_lowercase(),
            address.text
        )),
        Attribute::Employment(job) => {
            let mut parts = Vec::new();
            if let Some(inn) = &job.employer_inn {
                parts.push(format!("employer INN {}", identifier_text(inn)));
            }
            parts.extend(job.employer_name.clone());
            parts.extend(job.position.clone());
            parts.extend(
                job.personnel_number
                    .as_ref()
                    .map(|n| format!("personnel no. {n}")),
            );
            if job.from.is_some() || job.to.is_some() {
                let show = |d: &Option<tessera_model::PartialDate>| {
                    d.map(|d| d.to_string()).unwrap_or_else(|| "…".into())
                };
                parts.push(format!("{} – {}", show(&job.from), show(&job.to)));
            }
            Some(parts.join(", "))
        }
        Attribute::Education(education) => Some(
            [education.institution.clone(), education.level.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Attribute::Relation(relation) => {
            let mut parts = vec![format!("{:?}", relation.role).to_lowercase()];
            parts.extend(relation.name.as_ref().map(name_text));
            parts.extend(relation.contact.as_ref().map(identifier_text));
            Some(parts.join(": "))
        }
        Attribute::Income(income) => Some(format!(
            "{}.{:02} {}{}",
            income.amount_minor / 100,
            (income.amount_minor % 100).abs(),
            income.currency,
            income
                .period
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        )),
        Attribute::Pet(pet) => Some(
            [pet.species.clone(), pet.name.clone(), pet.chip.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Attribute::Permit(permit) => Some(
            [
                permit.number.clone(),
                permit.issued.map(|d| format!("issued {d}")),
                permit.valid_until.map(|d| format!("valid until {d}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ),
        Attribute::Health(_) | Attribute::Biometric(_) | Attribute::CriminalRecord(_) => None,
    };
    (label, text)
}

/// The id's history: when it was created, what merged into it, what split off.
fn render_history(history: &ProfileHistory, profile: &ProfileId) -> String {
    let mut out = String::from("  history:\n");
    for (run, event) in &history.events {
        let line = match event {
            ProfileEvent::Created { .. } => "created".to_string(),
            ProfileEvent::Merged { from, into } if into == profile => {
                format!("{from} merged into it")
            }
            ProfileEvent::Merged { into, .. } => format!("merged into {into}"),
            ProfileEvent::Split { from, new } if from == profile => {
                format!("{new} split off from it")
            }
            ProfileEvent::Split { from, .. } => format!("split off from {from}"),
        };
        out.push_str(&format!("    resolution run {run}: {line}\n"));
    }
    out
}

/// The profile as text: one line per distinct value with the records that hold it.
pub(crate) fn render(profile: &ProfileId, records: &[StoredRecord]) -> String {
    let mut sources: Vec<&str> = records
        .iter()
        .map(|r| r.reference.source.as_str())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let mut out = format!(
        "profile {profile}: {} records from {} sources\n",
        records.len(),
        sources.len()
    );
    // (attribute kind order, label, text) -> references
    let mut values: BTreeMap<(tessera_model::AttributeKind, String, String), Vec<String>> =
        BTreeMap::new();
    for record in records {
        for attribute in &record.attributes {
            let (label, text) = describe(attribute);
            let text = text.unwrap_or_else(|| {
                format!(
                    "‹special category ({:?}): withheld, needs a purpose and a legal basis›",
                    attribute.kind().sensitivity()
                )
                .to_lowercase()
            });
            values
                .entry((attribute.kind(), label, text))
                .or_default()
                .push(record.reference.to_string());
        }
    }
    for ((_, label, text), references) in values {
        out.push_str(&format!(
            "  {label:<16} {text}\n  {:<16}   from {}\n",
            "",
            references.join(", ")
        ));
    }
    out.push_str("  records:\n");
    for record in records {
        out.push_str(&format!(
            "    {} observed {}\n",
            record.reference,
            record.observed_at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    out
}
