//! Snapshots for fast experiments: boot once, run many experiments from
//! the booted state.
//!
//! Why: a fault-injection campaign runs thousands of experiments that
//! share the same boot; on our hosts the multiserver boot costs far more
//! than the experiment after it (kernel code runs in KVM's emulator,
//! `docs/platform.md`). [`Snapshot::take`] boots a [`RunConfig`] and, when the
//! guest writes a bench mark (e.g. `abi::platform::MARK_COMMAND_START`:
//! boot done, the workload about to start), captures guest memory and the
//! disk (into memfds, zero pages left as holes) and the complete vCPU and
//! VM state:
//! registers, special registers, FPU/XSAVE, XCRs, debug registers, every
//! readable MSR KVM lists (TSC, EFER, STAR/LSTAR, APIC base, TSC deadline
//! …), LAPIC, MP state, pending vCPU events, the in-kernel PIC master,
//! slave and IOAPIC, the KVM clock, the 16550's registers and the
//! virtio-mmio transport's registers and queues ([`state`]).
//! [`Snapshot::run`] gives the snapshot to the one VM builder
//! (`vstate::machine`), which builds a fresh VM on copy-on-write mappings
//! of that memory and disk, restores everything and writes the
//! experiment's fault plan into the plan region; the one run loop
//! (`vstate::run`) then runs it to the end and returns the same
//! [`RunOutcome`] as `vmm::run`.
//!
//! Why the virtio-blk device needs no more than its registers: requests
//! are finished within the exit that notified them
//! (`devices::virtio_mmio`), so at any pause nothing is in flight in the
//! device; the rings live in guest memory and the data on the disk.
//!
//! Rules and limits:
//! - The snapshot must be taken with a fault plan (an empty one:
//!   `FaultPlan { seed, rules: vec![] }`), so the region is reserved and
//!   the kernel has `viv.faults=`; the kernel re-reads the rule count at
//!   every event, so the experiment's rules take effect at once. Plan
//!   ticks (`not_before`/`not_after`) count from the original boot.
//! - Stdin is not forwarded. The disk the snapshot booted with is written
//!   up to the mark; experiments write only their private mappings, so
//!   their disk changes are gone when they end.
//! - `deterministic` is fixed at boot (the kernel reads
//!   `viv.deterministic=1` then): an experiment must ask for the same.
//! - The outcome's console, log and marks start with the snapshot's (the
//!   boot up to the mark); its vCPU statistics count from the restore; its
//!   trace holds only the events after the mark
//!   (earlier records are drained when the snapshot is taken).
//! - Determinism: with `deterministic` the guest's clock is virtual, so
//!   two experiments with the same plan from one snapshot give the same
//!   trace. They need not match a cold boot with that plan: the cold boot
//!   has the rules from the start (counters, PRNG draws and `nth` counts
//!   include boot-time events), while the experiment's rules start at the
//!   mark.

pub(crate) mod state;

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use kvm_bindings::{
    kvm_clock_data, kvm_debugregs, kvm_fpu, kvm_irqchip, kvm_lapic_state, kvm_mp_state, kvm_msr_entry, kvm_regs,
    kvm_sregs, kvm_vcpu_events, kvm_xcrs, kvm_xsave, CpuId,
};
use vm_superio::serial::SerialState;

use crate::inject::fault::FaultPlan;
use crate::vstate::config::RunConfig;
use crate::vstate::error::SnapshotError;
use crate::vstate::outcome::Mark;
#[cfg(doc)]
use crate::vstate::outcome::RunOutcome;

/// IA32_TSC.
pub const MSR_IA32_TSC: u32 = 0x10;
/// IA32_TSC_DEADLINE.
pub const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;

/// What one experiment from a snapshot changes.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// The plan written into the snapshot's plan region.
    pub fault_plan: FaultPlan,
    /// Must equal the snapshot's `RunConfig::deterministic`.
    pub deterministic: bool,
    /// Stop the guest after this long from the restore (`None`: never).
    pub timeout: Option<Duration>,
    /// Code mutation at Stop events (`crate::inject::swifi`).
    pub swifi: Option<crate::inject::swifi::SwifiSpec>,
    /// Copy console output (after the mark) to stdout as it appears.
    pub echo_console: bool,
    /// The workload's budget in virtual ticks (`RunConfig::tick_budget`).
    pub tick_budget: u64,
    /// Kernel instructions from the restore past which the VMM stops the
    /// experiment (`RunConfig::instruction_budget`).
    pub instruction_budget: u64,
    /// Write the experiment's disk out here when it ends
    /// (`RunConfig::disk_out`).
    pub disk_out: Option<std::path::PathBuf>,
}

impl ExperimentConfig {
    /// The configuration the builder gets for this experiment from `snap`:
    /// the snapshot's, with this plan, timeout, SWIFI and echo; the console
    /// and log captured; no stdin.
    pub fn run_config(&self, snap: &Snapshot) -> Result<RunConfig, SnapshotError> {
        if self.deterministic != snap.config.deterministic {
            return Err(SnapshotError::Determinism {
                experiment: self.deterministic,
                snapshot: snap.config.deterministic,
            });
        }
        let mut config = snap.config.clone();
        config.fault_plan = Some(self.fault_plan.clone());
        config.timeout = self.timeout;
        config.swifi = self.swifi;
        config.echo_console = self.echo_console;
        config.tick_budget = self.tick_budget;
        config.instruction_budget = self.instruction_budget;
        config.disk_out = self.disk_out.clone();
        config.echo_log = false;
        config.capture_console = true;
        config.forward_stdin = false;
        Ok(config)
    }

    /// An experiment with `plan`, the snapshot's determinism and timeout.
    pub fn new(snapshot: &Snapshot, plan: FaultPlan) -> ExperimentConfig {
        ExperimentConfig {
            fault_plan: plan,
            deterministic: snapshot.config.deterministic,
            timeout: snapshot.config.timeout,
            swifi: None,
            echo_console: false,
            tick_budget: snapshot.config.tick_budget,
            instruction_budget: snapshot.config.instruction_budget,
            disk_out: None,
        }
    }
}

/// The vCPU's state.
pub(crate) struct VcpuState {
    pub(crate) cpuid: CpuId,
    pub(crate) mp_state: kvm_mp_state,
    pub(crate) regs: kvm_regs,
    pub(crate) sregs: kvm_sregs,
    pub(crate) fpu: kvm_fpu,
    pub(crate) xsave: kvm_xsave,
    pub(crate) xcrs: kvm_xcrs,
    pub(crate) debug_regs: kvm_debugregs,
    pub(crate) lapic: kvm_lapic_state,
    pub(crate) msrs: Vec<kvm_msr_entry>,
    pub(crate) events: kvm_vcpu_events,
}

/// The VM's state outside the vCPU.
#[derive(Clone)]
pub(crate) struct VmState {
    pub(crate) pic_master: kvm_irqchip,
    pub(crate) pic_slave: kvm_irqchip,
    pub(crate) ioapic: kvm_irqchip,
    pub(crate) clock: kvm_clock_data,
}

/// The disk at the snapshot: its bytes and its transport's state.
pub(crate) struct SavedDisk {
    pub(crate) file: Arc<File>,
    pub(crate) bytes: u64,
    pub(crate) transport: crate::devices::virtio_mmio::TransportState,
}

/// A booted guest, paused at a bench mark, ready to be resumed any number
/// of times (`Snapshot::take` and `Snapshot::run` are in `vstate::run`).
pub struct Snapshot {
    pub(crate) config: RunConfig,
    pub(crate) at_mark: u32,
    pub(crate) mem_file: Arc<File>,
    pub(crate) mem_size: u64,
    pub(crate) plan_base: u64,
    pub(crate) trace_range: Option<(u64, u64)>,
    pub(crate) vcpu: VcpuState,
    pub(crate) vm: VmState,
    pub(crate) serial: SerialState,
    pub(crate) disk: Option<SavedDisk>,
    pub(crate) marks: Vec<Mark>,
    pub(crate) console: Vec<u8>,
    pub(crate) log: Vec<u8>,
    pub(crate) boot_time: Duration,
}

impl Snapshot {
    /// The config it was booted from.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The mark it was taken at.
    pub fn mark(&self) -> u32 {
        self.at_mark
    }

    /// Time from the start of the boot to the end of the capture.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// Console output up to the mark.
    pub fn console(&self) -> &[u8] {
        &self.console
    }

    /// Guest-physical base of the plan region.
    pub fn plan_base(&self) -> u64 {
        self.plan_base
    }

    /// Whether it has a disk.
    pub fn has_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Guest RAM in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.mem_size
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("at_mark", &self.at_mark)
            .field("mem_size", &self.mem_size)
            .field("plan_base", &self.plan_base)
            .field("rip", &self.vcpu.regs.rip)
            .field("boot_time", &self.boot_time)
            .finish()
    }
}
