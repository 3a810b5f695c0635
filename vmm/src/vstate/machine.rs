//! Assembling a VM: the one builder behind every run. Its inputs are a
//! [`RunConfig`] and, optionally, a [`Snapshot`] to start from; its output
//! is a [`Machine`]: KVM's VM and vCPU, guest memory, the devices and the
//! regions shared with the kernel, ready for the run loop (`run`).
//!
//! A cold boot loads the kernel, the boot image and the command line into
//! fresh memory and sets the vCPU at the PVH entry. From a snapshot, guest
//! RAM (and the disk) are private copy-on-write mappings of the snapshot's
//! files, and every captured state is written back in the order KVM needs
//! (`snapshot::state`); the plan region receives the experiment's plan.
//! Why copy-on-write and not a copy: an experiment touches a few hundred
//! pages of a 128 MiB guest; `MAP_PRIVATE` makes the restore cost the
//! mapping, and each experiment pays only for the pages it writes.
//!
//! Order matters for KVM on x86: the TSS address and the in-kernel irqchip
//! must exist before the vCPU is created (the vCPU's LAPIC belongs to that
//! irqchip), and the devices' interrupt lines need the irqchip. The disk
//! image is opened first, so that a bad `--disk` fails before any KVM work.
//! The reserved regions at the top of RAM are, from the top: the IPC trace
//! ring, then the fault plan; the kernel learns both from its command line.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::devices::limits::{Limit, LimitFlag};
use std::time::Instant;

use abi::platform::{VIRTIO_BLK_IRQ, VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE};
use kvm_ioctls::{Kvm, VmFd};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::config::RunConfig;
use super::error::{kvm_err, Error, MemoryError, RunError};
use super::kvm::{open_kvm, KVM_TSS_ADDRESS};
use super::outcome::Mark;
use super::snapshot::{state, Snapshot};
use super::stats::VcpuStats;
use super::vcpu::VcpuRunner;
use super::{boot, cpu, memory};
use crate::devices::disk_backing::Backing;
use crate::devices::disk_image::TempDisk;
use crate::devices::irq::IrqLine;
use crate::devices::serial::{new_serial, ConsoleSink, IrqTrigger, RoomNotifier, SerialDevice};
use crate::devices::virtio_blk::{Block, DEFAULT_DISK_BYTES};
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::{DeviceError, MmioBus, PortIo};
use crate::inject::fault::PlanRegion;
use crate::observe::profile::directory::Directory;
use crate::observe::TraceRing;

/// A shared byte buffer the console or log sink copies into.
pub type Capture = Arc<Mutex<Vec<u8>>>;

/// Takes what `capture` holds.
pub fn take_capture(capture: &Capture) -> Vec<u8> {
    std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A VM with its memory loaded (or restored), devices attached and vCPU
/// set up, not yet running.
pub struct Machine {
    pub kvm: Kvm,
    pub vm: Arc<VmFd>,
    pub mem: GuestMemoryMmap,
    pub serial: Arc<Mutex<SerialDevice>>,
    /// Wakes the stdin forwarder when the UART has room.
    pub room: Arc<RoomNotifier>,
    /// Console output, when captured.
    pub console: Option<Capture>,
    /// The log, when kept apart and captured.
    pub log: Option<Capture>,
    pub plan: Option<PlanRegion>,
    /// The disk image the VM serves, if any (a cold boot's file).
    pub disk_path: Option<PathBuf>,
    /// A temporary default disk, deleted when this is dropped.
    pub temp_disk: Option<TempDisk>,
    /// When the build started: marks and the wall time count from here.
    pub start: Instant,
    /// Marks written before the snapshot this machine was restored from.
    pub earlier_marks: Vec<Mark>,
    /// The vCPU with its devices, for the run loop.
    pub runner: VcpuRunner,
}

/// The guest memory, disk device and regions of one machine.
struct Memory {
    mem: GuestMemoryMmap,
    trace: Option<TraceRing>,
    plan: Option<PlanRegion>,
}

impl Machine {
    /// Builds the VM `config` describes: cold-booted, or resumed from
    /// `from` (then `config` is the snapshot's, with the experiment's plan,
    /// timeout, SWIFI and console echo: `ExperimentConfig::run_config`).
    pub fn build(config: &RunConfig, from: Option<&Snapshot>) -> Result<Machine, Error> {
        let start = Instant::now();
        if from.is_none() {
            config.memory_bytes()?;
        }
        if let (true, Some(path)) = (config.disk_snapshot, &config.disk) {
            // A copy-on-write disk must exist: creating it would write it.
            std::fs::symlink_metadata(path).map_err(|source| DeviceError::DiskFile {
                what: "--snapshot: disk image",
                path: path.clone(),
                source,
            })?;
        }
        let (disk_path, temp_disk) = match from {
            None => crate::devices::disk_image::prepare(config.disk.as_deref(), &config.archive)?,
            Some(_) => (None, None),
        };
        let disk = match &disk_path {
            Some(path) if config.disk_snapshot => Some(copy_on_write_disk(path)?),
            Some(path) => Some(Block::open(path, DEFAULT_DISK_BYTES)?),
            None => None,
        };
        let kvm = open_kvm()?;
        let vm = Arc::new(kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?);
        let Memory { mem, mut trace, plan } = match from {
            None => boot_memory(config)?,
            Some(snap) => restored_memory(config, snap)?,
        };
        memory::register(&vm, &mem)?;
        vm.set_tss_address(KVM_TSS_ADDRESS).map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
        vm.create_irq_chip().map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;

        let room = Arc::new(RoomNotifier::new().map_err(RunError::EventFd)?);
        let limits = LimitFlag::default();
        if let Some(ring) = trace.as_mut() {
            ring.set_limit(config.limits.trace_records, limits.clone());
        }
        let (sink, log_sink, console, log) = sinks(config, &limits);
        let irq = IrqLine::kvm(&vm, abi::platform::IRQ_COM1);
        let serial = match from {
            None => new_serial(irq, room.clone(), sink),
            Some(snap) => {
                // The console and log up to the mark are every experiment's.
                for (capture, bytes) in [(&console, &snap.console), (&log, &snap.log)] {
                    if let Some(c) = capture {
                        c.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
                    }
                }
                SerialDevice::from_state(&snap.serial, IrqTrigger(irq), room.clone(), sink)
                    .map_err(|e| DeviceError::SerialState(format!("{e:?}")))?
            }
        };
        let serial = Arc::new(Mutex::new(serial));
        let mut mmio = MmioBus::new();
        // The device's copy of the memory map goes away with the vCPU thread.
        let disk_irq = IrqLine::kvm(&vm, VIRTIO_BLK_IRQ);
        let device = match (disk, from.and_then(|snap| snap.disk.as_ref())) {
            (Some(disk), _) => {
                log::info!(
                    "virtio-blk: {} sectors at {VIRTIO_BLK_MMIO_BASE:#x}, IRQ {VIRTIO_BLK_IRQ}",
                    disk.capacity()
                );
                Some(VirtioMmio::new(disk, mem.clone(), disk_irq)?)
            }
            (None, Some(saved)) => {
                let backing = Backing::Mapped(memory::map_private(&saved.file, saved.bytes)?);
                let block = Block::with_backing(backing, saved.bytes)?;
                Some(VirtioMmio::from_state(block, mem.clone(), disk_irq, &saved.transport)?)
            }
            (None, None) => None,
        };
        if let Some(device) = device {
            mmio.insert(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, Box::new(device));
        }

        let mut vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
        let coalesced_log = config.deterministic && coalesce_log_port(&kvm, &vm, &mut vcpu);
        match from {
            None => {
                let layout = load_guest(config, &mem, trace.as_ref(), plan.as_ref())?;
                cpu::setup(&kvm, &vcpu, layout.entry, layout.start_info)?;
                if config.deterministic {
                    cpu::hide_random_instructions(&kvm, &vcpu)?;
                }
            }
            Some(snap) => {
                state::restore_vcpu(&vcpu, &snap.vcpu)?;
                state::restore_vm(&vm, &snap.vm)?;
            }
        }
        if let Some(ring) = trace.as_mut() {
            ring.set_start(vcpu.get_tsc_khz().ok(), live_processes(config, &mem, from.is_some()));
        }
        let stats = match VcpuStats::open(&vcpu) {
            Ok(stats) => Some(stats),
            Err(e) => {
                log::warn!("{e}; runs will have no statistics");
                None
            }
        };
        let instruction_budget = crate::vstate::vcpu::InstructionBudget::new(stats.as_ref(), config.instruction_budget);
        let runner = VcpuRunner {
            vcpu,
            io: PortIo::new(serial.clone(), log_sink),
            mmio,
            stats,
            start,
            timed_out: Arc::new(AtomicBool::new(false)),
            trace,
            pause_at_mark: None,
            on_fault_stop: None,
            spin_tick: None,
            profiler: None,
            limits: config.limits,
            limit_reached: limits,
            debugger: None,
            debug_interrupt: None,
            console: console.clone(),
            instruction_budget,
            coalesced_log,
        };
        Ok(Machine {
            kvm,
            vm,
            mem,
            serial,
            room,
            console,
            log,
            plan,
            disk_path,
            temp_disk,
            start,
            earlier_marks: from.map(|snap| snap.marks.clone()).unwrap_or_default(),
            runner,
        })
    }
}

/// Lets the guest's log port (`abi::platform::PORT_LOG`) write without
/// an exit to the VMM, where KVM can: its bytes wait in the vCPU's
/// coalesced-I/O ring until the next exit the guest causes, which drains
/// them first (`VcpuRunner::drain_coalesced_log`), so their order is kept.
/// The log is written a byte per `out` (`rep outsb`), and a restarted
/// driver's few lines cost hundreds of exits to user space otherwise
/// (about 1 % of a fault experiment). Only in experiment mode, where the
/// log is kept, not watched: an idle guest's last lines would otherwise
/// wait in the ring. Where KVM lacks `KVM_CAP_COALESCED_PIO`, each byte
/// exits as before.
fn coalesce_log_port(kvm: &Kvm, vm: &VmFd, vcpu: &mut kvm_ioctls::VcpuFd) -> bool {
    use kvm_ioctls::{Cap, IoEventAddress};
    if !kvm.check_extension(Cap::CoalescedPio) {
        return false;
    }
    let registered = vcpu
        .map_coalesced_mmio_ring()
        .and_then(|()| vm.register_coalesced_mmio(IoEventAddress::Pio(abi::platform::PORT_LOG.into()), 1));
    match registered {
        Ok(()) => true,
        Err(e) => {
            log::debug!("log port not coalesced: {e}");
            false
        }
    }
}

/// The processes alive in `mem` (endpoint, name) from the kernel's
/// process directory, for a run restored from a snapshot; none on a cold
/// boot, whose trace names every process at its spawn.
fn live_processes(config: &RunConfig, mem: &GuestMemoryMmap, restored: bool) -> Vec<(u32, String)> {
    let directory = if restored { Directory::find(&config.kernel) } else { None };
    directory.map(|d| d.entries(mem).map(|e| (e.endpoint, e.name)).collect()).unwrap_or_default()
}

/// Fresh guest memory with the trace ring and the plan region reserved
/// at its top.
fn boot_memory(config: &RunConfig) -> Result<Memory, Error> {
    let mem_size = config.memory_bytes()?;
    let mem = memory::create(mem_size)?;
    let trace = match config.trace {
        Some(mode) => Some(TraceRing::create(&mem, mem_size, mode, config.trace_ring_bytes)?),
        None => None,
    };
    let plan = match &config.fault_plan {
        Some(plan) => {
            let below = trace.as_ref().map_or(0, |ring| ring.range().1) + crate::inject::fault::PLAN_BYTES;
            let region = PlanRegion::write(&mem, mem_size - below, plan)?;
            region.set_tick_budget(&mem, config.tick_budget)?;
            Some(region)
        }
        None => None,
    };
    Ok(Memory { mem, trace, plan })
}

/// The snapshot's memory, copy-on-write, with the experiment's plan in
/// the plan region and the trace ring as the snapshot left it.
fn restored_memory(config: &RunConfig, snap: &Snapshot) -> Result<Memory, Error> {
    let mem = memory::map_private(&snap.mem_file, snap.mem_size)?;
    let plan = match &config.fault_plan {
        Some(plan) => {
            let region = PlanRegion::write(&mem, snap.plan_base, plan)?;
            region.set_tick_budget(&mem, config.tick_budget)?;
            Some(region)
        }
        None => None,
    };
    let trace = match (snap.config.trace, snap.trace_range) {
        (Some(mode), Some((base, bytes))) => {
            // `create` rewrites the header (head and tail included, which the
            // kernel keeps its own copy of): put the snapshot's header back.
            let mut header = vec![0u8; abi::trace::RECORDS_OFFSET as usize];
            let access = |source| MemoryError::Access { what: "the trace ring header", source };
            mem.read_slice(&mut header, GuestAddress(base)).map_err(access)?;
            let ring = TraceRing::create(&mem, base + bytes, mode, bytes)?;
            mem.write_slice(&header, GuestAddress(base)).map_err(access)?;
            Some(ring)
        }
        _ => None,
    };
    Ok(Memory { mem, trace, plan })
}

/// Loads the kernel, the boot image and the command line (which tells the
/// kernel where the trace ring and the plan region are) and the GDT.
fn load_guest(
    config: &RunConfig,
    mem: &GuestMemoryMmap,
    trace: Option<&TraceRing>,
    plan: Option<&PlanRegion>,
) -> Result<boot::BootLayout, Error> {
    let mut cmdline = config.cmdline();
    let mut reserved = 0;
    if let Some(ring) = trace {
        cmdline = crate::observe::ring::cmdline_with_ring(&cmdline, ring.range().0, ring.range().1);
        reserved = ring.range().1;
    }
    if let Some(region) = plan {
        cmdline = crate::inject::fault::cmdline_with_plan(&cmdline, region.base);
        reserved += crate::inject::fault::PLAN_BYTES;
    }
    super::config::check_cmdline(&cmdline)?;
    log::info!("kernel command line: {cmdline}");
    let layout = boot::load_reserving(mem, &config.kernel, &config.archive, &cmdline, reserved)?;
    log::debug!("boot layout: {layout:x?}");
    cpu::write_gdt(mem)?;
    Ok(layout)
}

/// The console sink, the log sink and their captures for `config`
/// (`capture_console`: keep copies). The guest's log goes apart from the
/// console only when asked (`viv.log=e9`); otherwise anything on the log
/// port joins the console.
/// `--disk FILE --snapshot`: the file behind a private copy-on-write
/// mapping (the one campaign experiments get of their snapshot's disk), so
/// the guest's writes stay in this process and the file is never written.
fn copy_on_write_disk(path: &Path) -> Result<Block, Error> {
    let file = crate::devices::disk_image::open_regular(path, false, "disk image")?;
    let bytes = file
        .metadata()
        .map_err(|source| DeviceError::DiskFile { what: "disk image", path: path.to_path_buf(), source })?
        .len();
    let mapping = memory::map_private(&Arc::new(file), bytes)?;
    Ok(Block::with_backing(Backing::Mapped(mapping), bytes)?)
}

fn sinks(config: &RunConfig, limits: &LimitFlag) -> (ConsoleSink, ConsoleSink, Option<Capture>, Option<Capture>) {
    let capture = config.capture_console;
    let cap = config.limits.capture_bytes;
    let console = capture.then(|| Arc::new(Mutex::new(Vec::new())));
    let sink = ConsoleSink {
        echo: config.echo_console,
        to_stderr: false,
        capture: console.clone(),
        tail_only: false,
        limit: (cap, Limit::Console, limits.clone()),
    };
    // A log kept apart is always captured: whole when the console is, else
    // its tail, so that why init failed can be told without `--log`.
    let log = config.separate_log.then(|| Arc::new(Mutex::new(Vec::new())));
    let log_sink = if config.separate_log {
        ConsoleSink {
            echo: config.echo_log,
            to_stderr: true,
            capture: log.clone(),
            tail_only: !capture,
            limit: (cap, Limit::Log, limits.clone()),
        }
    } else {
        sink.clone()
    };
    (sink, log_sink, console, log)
}
