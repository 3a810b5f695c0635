//! The Vivarium VMM: boots the Vivarium microkernel on KVM.
//!
//! The shape follows Firecracker and rust-vmm's vmm-reference: guest memory
//! ([`memory`]), loading and boot information ([`boot`]), the initial vCPU
//! state ([`cpu`]), devices ([`devices`]), the run loop ([`vcpu`]) and the
//! watchdog ([`watchdog`]) are separate modules; [`vm::run`] ties them
//! together for one run described by a [`RunConfig`] and returns a
//! [`RunOutcome`]. The `viv` tool, the integration tests and `viv bench`
//! all go through [`run`].
//!
//! Every number that crosses to the guest comes from the `abi` crate.

pub mod bench;
pub mod bench_storage;
pub mod boot;
pub mod campaign;
pub mod config;
pub mod cpu;
pub mod devices;
pub mod disk_image;
pub mod elf_builder;
pub mod fault;
pub mod image_config;
pub mod machine;
pub mod memory;
pub mod outcome;
pub mod privileges_doc;
pub mod snapshot;
pub mod stats;
pub mod swifi;
pub mod terminal;
pub mod trace;
pub mod vcpu;
pub mod vm;
pub mod watchdog;

pub use config::{EntryChoice, HostKind, RunConfig, DEFAULT_IMAGE};
pub use outcome::{Exit, Mark, RunOutcome};
pub use stats::StatsSnapshot;
pub use vm::run;

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
