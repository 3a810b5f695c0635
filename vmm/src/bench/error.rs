//! Errors of `viv bench`: a VM that could not run, or a benchmark guest
//! that did not leave what the figures are computed from.

/// Why a benchmark has no figures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The VM could not run.
    #[error(transparent)]
    Vm(#[from] crate::Error),
    /// A benchmark image did not power off with status 0.
    #[error("bench: image {image} ended with {exit} (exit status {status}) instead of powering off with 0")]
    Unclean {
        /// The image.
        image: String,
        /// How it ended.
        exit: String,
        /// `viv`'s exit status for that.
        status: i32,
    },
    /// A benchmark image never wrote a bench mark.
    #[error("bench: image {image} never wrote bench mark {id}")]
    MissingMark {
        /// The image.
        image: String,
        /// The mark.
        id: u32,
    },
    /// Two marks came in the wrong order.
    #[error("bench: image {image} wrote mark {end} before mark {start}")]
    MarkOrder {
        /// The image.
        image: String,
        /// The mark that should come first.
        start: u32,
        /// The mark that should come second.
        end: u32,
    },
    /// `diskbench` printed no report line.
    #[error("bench: diskbench printed no report; console ends:\n{0}")]
    NoReport(String),
    /// `--qemu` without QEMU.
    #[error("bench --qemu: qemu-system-x86_64 not found or not runnable (scripts/setup installs it)")]
    QemuMissing,
    /// A QEMU run failed.
    #[error("bench --qemu: {0}")]
    Qemu(String),
    /// The campaign part failed.
    #[error(transparent)]
    Campaign(#[from] crate::campaign::CampaignError),
}
