//! Errors of the VM layer: why a guest could not be started or supervised
//! (how the guest itself ended is an `outcome::Exit`, not an error).
//!
//! [`Error`] gathers the errors of the layers below (image lookup,
//! devices, the trace ring, the fault plan) and the VM's own; [`kvm_err`] is
//! the one place a failed KVM ioctl becomes an error.

use std::io;

use crate::devices::DeviceError;
use crate::image::embedded::LookupError;
use crate::inject::fault::PlanError;
use crate::observe::ring::RingError;

/// A host-side failure: the guest could not be started or supervised.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel command line (image default, viv's keys, `--append` and
    /// the command) does not fit the kernel info page.
    #[error("the kernel command line is {length} bytes, over the limit of {max} (abi::layout::kip::CMDLINE_MAX, shared by the command and --append)")]
    CmdlineTooLong {
        /// Its length in bytes.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// `/dev/kvm` is missing or not accessible.
    #[error("{0}")]
    KvmUnavailable(String),
    /// A KVM ioctl failed.
    #[error("{what} failed: {source}")]
    Kvm {
        /// The ioctl.
        what: &'static str,
        /// KVM's error.
        source: kvm_ioctls::Error,
    },
    /// A numeric kernel command-line parameter is not a number.
    #[error("--append {key}={value}: {key} takes a decimal number")]
    BadParameter {
        /// The key (`abi::platform::NUMERIC_PARAMETERS`).
        key: &'static str,
        /// What was given.
        value: String,
    },
    /// Requested guest memory is outside the supported range.
    #[error("--memory {0}: guest memory must be {min} to {max} MiB ({min} MiB is the least the system boots in)",
        min = abi::platform::MIN_GUEST_MEMORY >> 20, max = abi::platform::MAX_GUEST_MEMORY >> 20)]
    BadMemorySize(u64),
    /// No such embedded image, or no kernel.
    #[error(transparent)]
    Image(#[from] LookupError),
    /// Guest memory could not be set up.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The kernel or the boot information could not be loaded.
    #[error(transparent)]
    Boot(#[from] BootError),
    /// A device (the disk, the UART's saved state) could not be set up.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The trace ring could not be set up.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// The fault plan could not be written.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A snapshot could not be taken or resumed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The run could not be supervised.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The gdb stub could not be set up.
    #[error(transparent)]
    Debug(#[from] crate::debug::DebugError),
}

/// The one conversion of a failed KVM ioctl `what` into [`Error`].
pub(crate) fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
    move |source| Error::Kvm { what, source }
}

/// Guest memory could not be allocated, mapped or copied.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The anonymous mapping for guest RAM failed.
    #[error("guest memory: cannot allocate {mib} MiB: {reason}")]
    Allocate {
        /// Size asked for.
        mib: u64,
        /// vm-memory's explanation.
        reason: String,
    },
    /// A region's host address is unknown.
    #[error("guest memory: region at {start:#x}: {source}")]
    Region {
        /// Guest-physical start of the region.
        start: u64,
        /// vm-memory's error.
        source: vm_memory::GuestMemoryError,
    },
    /// Guest memory could not be read or written.
    #[error("guest memory: {what}: {source}")]
    Access {
        /// What was being accessed.
        what: &'static str,
        /// vm-memory's error.
        source: vm_memory::GuestMemoryError,
    },
    /// A snapshot file could not be mapped.
    #[error("guest memory: mapping a snapshot file: {0}")]
    Map(String),
    /// A snapshot file could not be created or written.
    #[error("snapshot file {name}: {source}")]
    File {
        /// The memfd's name.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// What a snapshot file was to hold could not be read.
    #[error("guest memory: {0}")]
    Source(String),
}

/// The kernel, the boot image or the boot information could not be
/// loaded (the text says which and why).
#[derive(Debug, thiserror::Error)]
#[error("boot: {0}")]
pub struct BootError(pub String);

/// A snapshot could not be taken, or an experiment does not fit it.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The config to snapshot has no fault plan.
    #[error(
        "a snapshot needs a (possibly empty) fault plan, so that the plan region is reserved and \
         `viv.faults=` is on the command line for the experiments' plans"
    )]
    NoPlan,
    /// The guest ended before writing the mark.
    #[error("the guest ended ({exit}) before writing bench mark {mark}; console:\n{console}")]
    EndedEarly {
        /// How it ended.
        exit: String,
        /// The mark awaited.
        mark: u32,
        /// Its console output.
        console: String,
    },
    /// The experiment asks for another time mode than the snapshot's.
    #[error(
        "the experiment asks for deterministic={experiment} but the snapshot was booted with \
         deterministic={snapshot}: virtual time is chosen on the kernel command line at boot"
    )]
    Determinism {
        /// The experiment's.
        experiment: bool,
        /// The snapshot's.
        snapshot: bool,
    },
    /// The VM has a disk image but no virtio-blk device.
    #[error("snapshot: the VM has a disk image but no virtio-blk device")]
    NoDiskDevice,
    /// The disk could not be copied.
    #[error("snapshot of disk {}: {source}", path.display())]
    Disk {
        /// The disk image.
        path: std::path::PathBuf,
        /// Why.
        source: io::Error,
    },
    /// KVM's MSR list could not be built.
    #[error("MSR list: {0}")]
    MsrList(String),
}

/// The run could not be supervised: a thread or a signal handler could not
/// be set up, or the vCPU thread panicked.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A thread could not be started.
    #[error("{what} thread: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The vCPU thread panicked.
    #[error("the vCPU thread panicked")]
    VcpuPanicked,
    /// The kick signal handler could not be installed.
    #[error("cannot install the vCPU kick signal handler: {0}")]
    Signal(io::Error),
    /// An eventfd could not be created.
    #[error("eventfd: {0}")]
    EventFd(io::Error),
}
