//! Errors of campaigns: a campaign file or a results file that is not
//! valid, a file that cannot be read or written, a VM that cannot be run.

use std::io;
use std::path::PathBuf;

/// Why a campaign cannot be read, run, merged or reported.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A problem in campaign text: `LINE: FIELD: what`.
    #[error("{line}: {field}: {message}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// The field (or "file").
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A problem in the campaign file `path` (`FILE:LINE: FIELD: what`).
    #[error("{}:{source}", path.display())]
    InFile {
        /// The campaign file.
        path: PathBuf,
        /// The problem.
        source: Box<CampaignError>,
    },
    /// Running the campaign in `path` failed.
    #[error("{}: {source}", path.display())]
    About {
        /// The campaign file.
        path: PathBuf,
        /// What failed.
        source: Box<CampaignError>,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A results file is not valid JSON of our format.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// serde's error.
        source: serde_json::Error,
    },
    /// Results that do not belong together, or a request the campaign
    /// cannot answer (the text says which).
    #[error("{0}")]
    Results(String),
    /// An experiment's VM failed.
    #[error(transparent)]
    Run(#[from] crate::Error),
    /// The campaign's image or the VM failed (with what was being done).
    #[error("{context}: {source}")]
    Vm {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: crate::Error,
    },
}
