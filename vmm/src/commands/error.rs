//! The error of a `viv` subcommand: one line for the user, and `main.rs`
//! turns it into exit status 120 (`abi::platform::STATUS_HOST_ERROR`).

use std::path::PathBuf;

/// Why a subcommand failed on the host.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The VM could not be started or supervised.
    #[error(transparent)]
    Vm(#[from] crate::Error),
    /// A campaign could not be read, run or merged.
    #[error(transparent)]
    Campaign(#[from] crate::campaign::CampaignError),
    /// `viv threats` could not run a row.
    #[error(transparent)]
    Threats(#[from] crate::threats::ThreatsError),
    /// A benchmark has no figures.
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    /// The command line asks for something `viv` cannot do.
    #[error("{0}")]
    Usage(String),
    /// A file or directory could not be written.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done ("cannot write", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The terminal could not be put in raw mode.
    #[error("cannot put the terminal in raw mode: {0}")]
    Terminal(std::io::Error),
    /// A report could not be serialized.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}
