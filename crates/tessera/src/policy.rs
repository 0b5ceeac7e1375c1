//! The access policy in force: a file given with `--policy` (or `TESSERA_POLICY`), else the
//! default that ships with Tessera (`tessera policy` prints it, to start a file from).

use std::path::Path;

use anyhow::Context;
use tessera_policy::Policy;

use crate::input_error;

pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default_policy());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the policy {}", path.display()))?;
    Policy::from_toml(&text).map_err(|e| input_error(format!("{}: {e}", path.display())))
}

/// `tessera policy`: prints the default policy.
pub(crate) fn print_default() {
    print!("{}", Policy::DEFAULT_TOML);
}
