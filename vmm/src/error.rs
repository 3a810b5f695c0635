//! The crate's error: a host-side failure (the guest could not be started
//! or supervised). How the guest itself ended is a `vstate::outcome::Exit`,
//! not an error.

/// A host-side failure: the guest could not be started or supervised.
/// (How the guest itself ended is an [`Exit`], not an error.)
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/kvm` is missing or not accessible.
    #[error("{0}")]
    KvmUnavailable(String),
    /// A KVM ioctl failed.
    #[error("{0} failed: {1}")]
    Kvm(&'static str, kvm_ioctls::Error),
    /// No embedded image has this name.
    #[error("unknown image {name:?}; available images: {}", if available.is_empty() { "none (viv was built with VIV_SKIP_GUEST)" } else { available.as_str() })]
    UnknownImage {
        /// The name asked for.
        name: String,
        /// Comma-separated names of the embedded images.
        available: String,
    },
    /// This `viv` was built without a guest kernel.
    #[error("no guest kernel is embedded (viv was built with VIV_SKIP_GUEST); rebuild without it")]
    NoKernel,
    /// Requested guest memory is outside the supported range.
    #[error("guest memory of {0} MiB is out of range (4 to {max} MiB)", max = abi::platform::MAX_GUEST_MEMORY >> 20)]
    BadMemorySize(u64),
    /// Guest memory could not be set up.
    #[error("guest memory: {0}")]
    Memory(String),
    /// The kernel or the boot information could not be loaded.
    #[error("boot: {0}")]
    Boot(String),
    /// Another host-side failure (threads, signals, files).
    #[error("{0}")]
    Host(String),
}
