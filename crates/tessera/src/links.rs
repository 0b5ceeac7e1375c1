//! `tessera links`: one CSV row per current source record with the profile it belongs to.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

use crate::{count, input_error};

pub(crate) fn run(
    context: &crate::Settings,
    out: &Path,
    purpose: Option<&str>,
) -> anyhow::Result<()> {
    let grant = crate::audit::authorize_cli(context, purpose, tessera_policy::Operation::Read)?;
    let store = context.open_store()?;
    let store = &*store;
    // The export names every record and its profile: one entry for the whole export.
    crate::audit::log_cli(
        store,
        tessera_policy::Action::Export,
        Some(grant.purpose.as_str()),
        &[],
        Some(format!("links export to {}", out.display())),
    )?;
    let sink: Box<dyn Write> = if out == Path::new("-") {
        Box::new(io::stdout().lock())
    } else {
        Box::new(
            File::create(out)
                .map_err(|e| input_error(format!("cannot write {}: {e}", out.display())))?,
        )
    };
    let mut writer = csv::Writer::from_writer(io::BufWriter::new(sink));
    writer.write_record(["source", "record_id", "profile_id"])?;
    let (mut rows, mut unresolved) = (0u64, 0u64);
    let mut failure = None;
    store.scan_current(&mut |record| {
        let profile = record.profile.as_ref().map(|p| p.as_str()).unwrap_or("");
        unresolved += u64::from(profile.is_empty());
        rows += 1;
        if failure.is_none()
            && let Err(e) = writer.write_record([
                record.reference.source.as_str(),
                record.reference.key.as_str(),
                profile,
            ])
        {
            failure = Some(e);
        }
    })?;
    if let Some(e) = failure {
        return Err(e).context("failed to write links");
    }
    writer.flush().context("failed to write links")?;
    if out != Path::new("-") {
        eprintln!("wrote {} links to {}", count(rows), out.display());
    }
    if unresolved > 0 {
        eprintln!(
            "{} records have no profile yet (empty profile_id): run `tessera resolve`",
            count(unresolved)
        );
    }
    Ok(())
}
