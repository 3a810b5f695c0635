//! One run of a guest: build the VM, boot it, supervise it, collect the
//! outcome.
//!
//! Order matters for KVM on x86: the TSS address and the in-kernel irqchip
//! must exist before the vCPU is created (the vCPU's LAPIC belongs to that
//! irqchip), and the devices' interrupt lines need the irqchip. The disk image is opened
//! first, so that a bad `--disk` fails before any KVM work. The vCPU runs
//! on its own thread so that the watchdog (this thread) can signal it; the
//! guest memory lives on this thread's stack frame until the vCPU thread
//! has been joined (the disk device's clone of the memory map is dropped
//! with that thread).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use kvm_ioctls::Kvm;

use crate::config::RunConfig;
use crate::devices::irq::IrqLine;
use crate::devices::serial::{new_serial, ConsoleSink, RoomNotifier};
use crate::devices::stdin::StdinThread;
use crate::devices::virtio_blk::{Block, DEFAULT_DISK_BYTES};
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::{MmioBus, PortIo};
use crate::outcome::RunOutcome;
use crate::stats::VcpuStats;
use crate::vcpu::VcpuRunner;
use crate::{boot, cpu, memory, watchdog, Error};

/// Address of the three-page TSS region KVM needs on Intel (below 4 GiB,
/// outside RAM and the LAPIC/IOAPIC windows).
pub const KVM_TSS_ADDRESS: usize = 0xfffb_d000;

/// Opens `/dev/kvm`, turning the usual failures into one clear line.
pub fn open_kvm() -> Result<Kvm, Error> {
    Kvm::new().map_err(|e| {
        let why = match e.errno() {
            libc::ENOENT => "/dev/kvm does not exist (is KVM enabled in the kernel and the BIOS?)".to_string(),
            libc::EACCES | libc::EPERM => {
                "/dev/kvm is not accessible to this user (add yourself to the kvm group)".to_string()
            }
            _ => format!("cannot open /dev/kvm: {e}"),
        };
        Error::KvmUnavailable(why)
    })
}

/// Boots `config` and runs it to its end.
pub fn run(config: &RunConfig) -> Result<RunOutcome, Error> {
    let start = Instant::now();
    let kvm_err = |what: &'static str| move |e| Error::Kvm(what, e);
    let mem_size = config.memory_bytes()?;
    // Kept until the run ends: a temporary default disk is deleted then.
    let (disk_path, _temp_disk) = crate::disk_image::prepare(config)?;
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
        Some(mode) => Some(crate::trace::TraceRing::create(&mem, mem_size, mode, config.trace_ring_bytes)?),
        None => None,
    };
    let cmdline = match &trace {
        Some(ring) => crate::trace::cmdline_with_ring(&config.cmdline(), ring.range().0, ring.range().1),
        None => config.cmdline(),
    };
    let mut reserved = trace.as_ref().map_or(0, |ring| ring.range().1);
    // The fault plan sits just below the trace ring (or at the top of RAM).
    let plan = match &config.fault_plan {
        Some(plan) => {
            reserved += crate::fault::PLAN_BYTES;
            Some(crate::fault::PlanRegion::write(&mem, mem_size - reserved, plan)?)
        }
        None => None,
    };
    let cmdline = match &plan {
        Some(region) => crate::fault::cmdline_with_plan(&cmdline, region.base),
        None => cmdline,
    };
    log::info!("kernel command line: {cmdline}");
    let layout = boot::load_reserving(&mem, &config.kernel, &config.archive, &cmdline, reserved)?;
    log::debug!("boot layout: {layout:x?}");
    cpu::write_gdt(&mem)?;

    let host_err = |what: &'static str| move |e: std::io::Error| Error::Host(format!("{what}: {e}"));
    let irq = IrqLine::kvm(&vm, abi::platform::IRQ_COM1);
    let room = Arc::new(RoomNotifier::new().map_err(host_err("eventfd"))?);
    let capture = config.capture_console.then(|| Arc::new(Mutex::new(Vec::new())));
    let sink = ConsoleSink { echo: config.echo_console, to_stderr: false, capture: capture.clone() };
    // The guest's log goes apart from the console only when asked
    // (`viv.log=e9`); otherwise anything on the log port joins the console.
    let log_capture = (config.separate_log && config.capture_console).then(|| Arc::new(Mutex::new(Vec::new())));
    let log_sink = if config.separate_log {
        ConsoleSink { echo: config.echo_log, to_stderr: true, capture: log_capture.clone() }
    } else {
        sink.clone()
    };
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
    let stats = match VcpuStats::open(&vcpu) {
        Ok(stats) => Some(stats),
        Err(e) => {
            log::warn!("{e}; runs will have no statistics");
            None
        }
    };
    watchdog::install()?;

    let stdin = if config.forward_stdin {
        Some(StdinThread::spawn(libc::STDIN_FILENO, serial.clone(), room).map_err(host_err("stdin thread"))?)
    } else {
        None
    };

    let timed_out = Arc::new(AtomicBool::new(false));
    let on_fault_stop = crate::swifi::stop_hook(config, &mem, plan.as_ref());
    let runner = VcpuRunner {
        vcpu,
        io: PortIo::new(serial, log_sink),
        mmio,
        stats,
        start,
        timed_out: timed_out.clone(),
        trace,
        pause_at_mark: None,
        on_fault_stop: on_fault_stop.as_ref().map(|h| h.boxed()),
    };
    let result = run_vcpu_thread(runner, config.timeout, &timed_out)?;
    let wall_time = start.elapsed();
    if let Some(stdin) = stdin {
        stdin.stop();
    }
    if config.echo_console {
        let _ = std::io::stdout().flush();
    }
    let counters = plan.map(|region| region.counters(&mem)).unwrap_or_default();
    // The VM and its memory go away together, after the vCPU thread.
    drop(vm);
    drop(mem);

    let take = |c: Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *c.lock().unwrap_or_else(|e| e.into_inner()));
    let console = capture.map(take);
    let log = log_capture.map(take);
    Ok(RunOutcome {
        exit: result.exit,
        marks: result.marks,
        final_stats: result.final_stats,
        wall_time,
        console,
        log,
        trace: result.trace,
        fault_counters: counters.per_rule,
        faults_injected: counters.total,
        fault_stops: result.fault_stops,
        swifi: on_fault_stop.map(|h| h.mutations()).unwrap_or_default(),
    })
}

/// Runs `runner` on its own thread under the watchdog until the guest ends
/// (or `timeout` passes, which sets `timed_out` and kicks the vCPU out).
pub(crate) fn run_vcpu_thread(
    runner: VcpuRunner,
    timeout: Option<std::time::Duration>,
    timed_out: &Arc<AtomicBool>,
) -> Result<crate::vcpu::VcpuResult, Error> {
    let (done_tx, done_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("viv-vcpu0".into())
        .spawn(move || {
            let result = runner.run();
            let _ = done_tx.send(());
            result
        })
        .map_err(|e| Error::Host(format!("vCPU thread: {e}")))?;
    watchdog::supervise(&handle, timeout, timed_out, &done_rx);
    handle.join().map_err(|_| Error::Host("the vCPU thread panicked".into()))
}
