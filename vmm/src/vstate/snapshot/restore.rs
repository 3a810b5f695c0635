//! Resuming a snapshot: a fresh VM whose RAM (and disk) is a private
//! (copy-on-write) mapping of the snapshot's file, every captured state written
//! back in the order KVM needs, the experiment's plan in the plan region,
//! then the same run loop and outcome as `run::run`.
//!
//! Why copy-on-write and not a copy: an experiment touches a few hundred
//! pages of a 128 MiB guest; `MAP_PRIVATE` makes the restore cost the
//! mapping, and each experiment pays only for the pages it writes.
//!
//! Order (as Firecracker's restore): CPUID, MP state, registers, special
//! registers, XSAVE, XCRs, debug registers, LAPIC, MSRs (the TSC and then
//! the TSC deadline last), vCPU events; then the irqchips and the clock.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use abi::platform::{VIRTIO_BLK_IRQ, VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE};
use kvm_bindings::Msrs;
use kvm_ioctls::{VcpuFd, VmFd};
use vm_memory::{Bytes, GuestAddress};

use super::{ExperimentConfig, Snapshot, VcpuState, VmState};
use crate::devices::disk_backing::Backing;
use crate::devices::irq::IrqLine;
use crate::devices::serial::{IrqTrigger, RoomNotifier, SerialDevice};
use crate::devices::virtio_blk::Block;
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::{MmioBus, PortIo};
use crate::vstate::machine::{take_capture, Capture};
use crate::vstate::outcome::RunOutcome;
use crate::vstate::stats::VcpuStats;
use crate::vstate::vcpu::VcpuRunner;
use crate::vstate::{memory, watchdog};
use crate::Error;

fn kvm_err(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> Error {
    move |e| Error::Kvm(what, e)
}

fn host_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Host(format!("{what}: {e}"))
}

fn restore_vcpu(vcpu: &VcpuFd, s: &VcpuState) -> Result<(), Error> {
    vcpu.set_cpuid2(&s.cpuid).map_err(kvm_err("KVM_SET_CPUID2"))?;
    vcpu.set_mp_state(s.mp_state).map_err(kvm_err("KVM_SET_MP_STATE"))?;
    vcpu.set_regs(&s.regs).map_err(kvm_err("KVM_SET_REGS"))?;
    vcpu.set_sregs(&s.sregs).map_err(kvm_err("KVM_SET_SREGS"))?;
    vcpu.set_fpu(&s.fpu).map_err(kvm_err("KVM_SET_FPU"))?;
    // SAFETY: `s.xsave` is a whole `kvm_xsave` (4 KiB) that KVM_GET_XSAVE
    // filled on a vCPU of this same host process; KVM reads at most the
    // process's XSAVE user size, which exceeds 4 KiB only after
    // `arch_prctl` enables dynamic features (AMX), which the VMM never does.
    unsafe { vcpu.set_xsave(&s.xsave) }.map_err(kvm_err("KVM_SET_XSAVE"))?;
    vcpu.set_xcrs(&s.xcrs).map_err(kvm_err("KVM_SET_XCRS"))?;
    vcpu.set_debug_regs(&s.debug_regs).map_err(kvm_err("KVM_SET_DEBUGREGS"))?;
    vcpu.set_lapic(&s.lapic).map_err(kvm_err("KVM_SET_LAPIC"))?;
    let mut rest: &[kvm_bindings::kvm_msr_entry] = &s.msrs;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(200)];
        let msrs = Msrs::from_entries(chunk).map_err(|e| Error::Host(format!("MSR list: {e:?}")))?;
        let written = vcpu.set_msrs(&msrs).map_err(kvm_err("KVM_SET_MSRS"))?;
        if written < chunk.len() {
            log::debug!("snapshot restore: MSR {:#x} refused", chunk[written].index);
            rest = &rest[written + 1..];
        } else {
            rest = &rest[written..];
        }
    }
    vcpu.set_vcpu_events(&s.events).map_err(kvm_err("KVM_SET_VCPU_EVENTS"))?;
    Ok(())
}

fn restore_vm(vm: &VmFd, s: &VmState) -> Result<(), Error> {
    for chip in [&s.pic_master, &s.pic_slave, &s.ioapic] {
        vm.set_irqchip(chip).map_err(kvm_err("KVM_SET_IRQCHIP"))?;
    }
    // The clock carries flags that only KVM_GET_CLOCK may set.
    let clock = kvm_bindings::kvm_clock_data { clock: s.clock.clock, ..Default::default() };
    if let Err(e) = vm.set_clock(&clock) {
        log::debug!("snapshot restore: KVM_SET_CLOCK: {e}");
    }
    Ok(())
}

/// Resumes `snap` with `exp` and runs it to its end.
pub fn run_from(snap: &Snapshot, exp: &ExperimentConfig) -> Result<RunOutcome, Error> {
    let start = Instant::now();
    if exp.deterministic != snap.config.deterministic {
        return Err(Error::Host(format!(
            "the experiment asks for deterministic={} but the snapshot was booted with deterministic={}: \
             virtual time is chosen on the kernel command line at boot",
            exp.deterministic, snap.config.deterministic
        )));
    }
    let kvm = crate::vstate::kvm::open_kvm()?;
    let vm = Arc::new(kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?);
    let mem = memory::map_private(&snap.mem_file, snap.mem_size)?;
    memory::register(&vm, &mem)?;
    vm.set_tss_address(crate::vstate::kvm::KVM_TSS_ADDRESS).map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
    vm.create_irq_chip().map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;

    let plan = crate::inject::fault::PlanRegion::write(&mem, snap.plan_base, &exp.fault_plan)?;
    let trace = match (snap.config.trace, snap.trace_range) {
        (Some(mode), Some((base, bytes))) => {
            // `create` rewrites the header (head and tail included, which the
            // kernel keeps its own copy of): put the snapshot's header back.
            let mut header = vec![0u8; abi::trace::RECORDS_OFFSET as usize];
            mem.read_slice(&mut header, GuestAddress(base)).map_err(|e| Error::Memory(e.to_string()))?;
            let ring = crate::observe::TraceRing::create(&mem, base + bytes, mode, bytes)?;
            mem.write_slice(&header, GuestAddress(base)).map_err(|e| Error::Memory(e.to_string()))?;
            Some(ring)
        }
        _ => None,
    };

    let irq = IrqLine::kvm(&vm, abi::platform::IRQ_COM1);
    let room = Arc::new(RoomNotifier::new().map_err(host_err("eventfd"))?);
    let mut config = snap.config.clone();
    config.echo_console = exp.echo_console;
    config.echo_log = false;
    let (sink, log_sink, console, log) = crate::vstate::machine::sinks(&config, true);
    let continue_from = |capture: &Option<Capture>, bytes: &[u8]| {
        if let Some(c) = capture {
            c.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        }
    };
    continue_from(&console, &snap.console);
    continue_from(&log, &snap.log);
    let serial: SerialDevice = SerialDevice::from_state(&snap.serial, IrqTrigger(irq), room, sink)
        .map_err(|e| Error::Host(format!("serial state: {e:?}")))?;
    let serial = Arc::new(Mutex::new(serial));
    let mut mmio = MmioBus::new();
    if let Some(disk) = &snap.disk {
        let backing = Backing::Mapped(memory::map_private(&disk.file, disk.bytes)?);
        let block = Block::with_backing(backing, disk.bytes).map_err(Error::Host)?;
        let irq = IrqLine::kvm(&vm, VIRTIO_BLK_IRQ);
        let device = VirtioMmio::from_state(block, mem.clone(), irq, &disk.transport).map_err(Error::Host)?;
        mmio.insert(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, Box::new(device));
    }

    let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
    restore_vcpu(&vcpu, &snap.vcpu)?;
    restore_vm(&vm, &snap.vm)?;
    let stats = VcpuStats::open(&vcpu).ok();
    watchdog::install()?;

    config.swifi = exp.swifi;
    let on_fault_stop = crate::inject::swifi::stop_hook(config.swifi, &config.archive, &mem, Some(&plan));
    let timed_out = Arc::new(AtomicBool::new(false));
    let (spin_guard, spin_tick) = watchdog::SpinGuard::for_run(exp.deterministic, &mem, Some(&plan), &vm).unzip();
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
        spin_tick,
    };
    let result = crate::vstate::run::run_vcpu_thread(runner, exp.timeout, &timed_out, spin_guard.as_ref())?;
    let counters = plan.counters(&mem);
    drop(vm);
    drop(mem);
    let mut marks = snap.marks.clone();
    marks.extend(result.marks);
    Ok(RunOutcome {
        exit: result.exit,
        marks,
        final_stats: result.final_stats,
        wall_time: start.elapsed(),
        console: console.as_ref().map(take_capture),
        log: log.as_ref().map(take_capture),
        trace: result.trace,
        fault_counters: counters.per_rule,
        faults_injected: counters.total,
        fault_stops: result.fault_stops,
        swifi: on_fault_stop.map(|h| h.mutations()).unwrap_or_default(),
        spin_ticks: spin_guard.map_or(0, |g| g.raised()),
    })
}
