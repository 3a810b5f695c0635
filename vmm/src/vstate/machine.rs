//! Building a booted-to-be VM from a [`RunConfig`]: the pieces a cold boot
//! (`run::run`) and a snapshot (`snapshot::capture`) share.
//!
//! Order matters for KVM on x86: the TSS address and the in-kernel irqchip
//! must exist before the vCPU is created (the vCPU's LAPIC belongs to that
//! irqchip), and the devices' interrupt lines need the irqchip. The disk
//! image is opened first, so that a bad `--disk` fails before any KVM work.
//! The reserved regions at the top of RAM are, from the top: the IPC trace
//! ring, then the fault plan; the kernel learns both from its command line.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use vm_memory::GuestMemoryMmap;

use super::kvm::{open_kvm, KVM_TSS_ADDRESS};
use super::{boot, cpu, memory};
use crate::devices::disk_image::TempDisk;
use crate::devices::irq::IrqLine;
use crate::devices::serial::{new_serial, ConsoleSink, RoomNotifier, SerialDevice};
use crate::devices::virtio_blk::{Block, DEFAULT_DISK_BYTES};
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::MmioBus;
use crate::inject::fault::PlanRegion;
use crate::observe::TraceRing;
use crate::vstate::config::RunConfig;
use crate::Error;

/// A shared byte buffer the console or log sink copies into.
pub type Capture = Arc<Mutex<Vec<u8>>>;

/// Takes what `capture` holds.
pub fn take_capture(capture: &Capture) -> Vec<u8> {
    std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A VM with its memory loaded, devices attached and vCPU set up at the
/// kernel's entry, not yet running.
pub struct Machine {
    pub kvm: Kvm,
    pub vm: Arc<VmFd>,
    pub mem: GuestMemoryMmap,
    pub vcpu: VcpuFd,
    pub serial: Arc<Mutex<SerialDevice>>,
    /// Wakes the stdin forwarder when the UART has room.
    pub room: Arc<RoomNotifier>,
    /// Where the guest's log port goes.
    pub log_sink: ConsoleSink,
    /// Console output, when captured.
    pub console: Option<Capture>,
    /// The log, when kept apart and captured.
    pub log: Option<Capture>,
    pub mmio: MmioBus,
    pub trace: Option<TraceRing>,
    pub plan: Option<PlanRegion>,
    /// The disk image the VM serves, if any.
    pub disk_path: Option<PathBuf>,
    /// A temporary default disk, deleted when this is dropped.
    pub temp_disk: Option<TempDisk>,
}

impl Machine {
    /// Builds the VM `config` describes.
    pub fn build(config: &RunConfig) -> Result<Machine, Error> {
        let kvm_err = |what: &'static str| move |e| Error::Kvm(what, e);
        let mem_size = config.memory_bytes()?;
        let (disk_path, temp_disk) = crate::devices::disk_image::prepare(config.disk.as_deref(), &config.archive)?;
        let disk = match &disk_path {
            Some(path) => Some(Block::open(path, DEFAULT_DISK_BYTES).map_err(Error::Host)?),
            None => None,
        };
        let kvm = open_kvm()?;
        let vm = Arc::new(kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?);
        let mem = memory::create(mem_size)?;
        memory::register(&vm, &mem)?;
        vm.set_tss_address(KVM_TSS_ADDRESS).map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
        vm.create_irq_chip().map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;

        let trace = match config.trace {
            Some(mode) => Some(TraceRing::create(&mem, mem_size, mode, config.trace_ring_bytes)?),
            None => None,
        };
        let cmdline = match &trace {
            Some(ring) => crate::observe::ring::cmdline_with_ring(&config.cmdline(), ring.range().0, ring.range().1),
            None => config.cmdline(),
        };
        let mut reserved = trace.as_ref().map_or(0, |ring| ring.range().1);
        let plan = match &config.fault_plan {
            Some(plan) => {
                reserved += crate::inject::fault::PLAN_BYTES;
                Some(PlanRegion::write(&mem, mem_size - reserved, plan)?)
            }
            None => None,
        };
        let cmdline = match &plan {
            Some(region) => crate::inject::fault::cmdline_with_plan(&cmdline, region.base),
            None => cmdline,
        };
        log::info!("kernel command line: {cmdline}");
        let layout = boot::load_reserving(&mem, &config.kernel, &config.archive, &cmdline, reserved)?;
        log::debug!("boot layout: {layout:x?}");
        cpu::write_gdt(&mem)?;

        let host_err = |what: &'static str| move |e: std::io::Error| Error::Host(format!("{what}: {e}"));
        let room = Arc::new(RoomNotifier::new().map_err(host_err("eventfd"))?);
        let (sink, log_sink, console, log) = sinks(config, config.capture_console);
        let irq = IrqLine::kvm(&vm, abi::platform::IRQ_COM1);
        let serial = Arc::new(Mutex::new(new_serial(irq, room.clone(), sink)));
        let mut mmio = MmioBus::new();
        if let Some(disk) = disk {
            use abi::platform::{VIRTIO_BLK_IRQ, VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE};
            log::info!("virtio-blk: {} sectors at {VIRTIO_BLK_MMIO_BASE:#x}, IRQ {VIRTIO_BLK_IRQ}", disk.capacity());
            // The device's copy of the memory map goes away with the vCPU thread.
            let device = VirtioMmio::new(disk, mem.clone(), IrqLine::kvm(&vm, VIRTIO_BLK_IRQ)).map_err(Error::Host)?;
            mmio.insert(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, Box::new(device));
        }

        let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
        cpu::setup(&kvm, &vcpu, layout.entry, layout.start_info)?;
        if config.deterministic {
            cpu::hide_random_instructions(&kvm, &vcpu)?;
        }
        Ok(Machine {
            kvm,
            vm,
            mem,
            vcpu,
            serial,
            room,
            log_sink,
            console,
            log,
            mmio,
            trace,
            plan,
            disk_path,
            temp_disk,
        })
    }
}

/// The console sink, the log sink and their captures for `config`
/// (`capture`: keep copies). The guest's log goes apart from the console
/// only when asked (`viv.log=e9`); otherwise anything on the log port
/// joins the console.
pub fn sinks(config: &RunConfig, capture: bool) -> (ConsoleSink, ConsoleSink, Option<Capture>, Option<Capture>) {
    let console = capture.then(|| Arc::new(Mutex::new(Vec::new())));
    let sink = ConsoleSink { echo: config.echo_console, to_stderr: false, capture: console.clone() };
    let log = (config.separate_log && capture).then(|| Arc::new(Mutex::new(Vec::new())));
    let log_sink = if config.separate_log {
        ConsoleSink { echo: config.echo_log, to_stderr: true, capture: log.clone() }
    } else {
        sink.clone()
    };
    (sink, log_sink, console, log)
}
