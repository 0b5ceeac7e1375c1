//! Synthetic city generator (placeholder: the helper building this crate replaces this file).

use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Clone, Debug)]
pub struct CityConfig {
    pub persons: usize,
    pub seed: u64,
}

/// One agency export written by [`generate`].
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub source: String,
    pub data_path: PathBuf,
    pub mapping_path: PathBuf,
    pub records: usize,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct City {
    pub persons: usize,
    pub sources: Vec<SourceFile>,
    /// CSV `source,record_id,person_id`, one row per generated record.
    pub truth_path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

pub fn generate(config: &CityConfig, out_dir: &Path) -> Result<City, SynthError> {
    let _ = (config, out_dir);
    unimplemented!()
}
