//! Taking a snapshot: boot the config's image exactly as `vm::run` would,
//! stop in the exit of bench mark `at_mark`, complete that port write, and
//! copy out guest memory (into a memfd) and every piece of vCPU, irqchip
//! and device state a resumed VM needs.
//!
//! Why our own boot here instead of a hook in `vm::run`: the snapshot keeps
//! the VM's pieces (memory, serial device, vCPU) after the pause, which
//! `vm::run` drops; the steps are the same helpers (`boot`, `cpu`,
//! `memory`, `fault`, `trace`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::FromRawFd;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use kvm_bindings::{
    kvm_irqchip, kvm_msr_entry, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
    KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{Snapshot, VcpuState, VmState, MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE};
use crate::config::RunConfig;
use crate::devices::irq::IrqLine;
use crate::devices::serial::{new_serial, ConsoleSink, RoomNotifier};
use crate::devices::{MmioBus, PortIo};
use crate::vcpu::{Progress, VcpuRunner};
use crate::{boot, cpu, memory, watchdog, Error};

fn kvm_err(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> Error {
    move |e| Error::Kvm(what, e)
}

fn host_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Host(format!("{what}: {e}"))
}

/// Boots `config` and snapshots it at bench mark `at_mark`.
pub fn take(config: &RunConfig, at_mark: u32) -> Result<Snapshot, Error> {
    let start = Instant::now();
    if config.disk.is_some() {
        return Err(Error::Host(
            "snapshots of a VM with a disk are not supported: the virtio-blk queues and the disk file \
             would have to be captured too"
                .into(),
        ));
    }
    let Some(plan) = &config.fault_plan else {
        return Err(Error::Host(
            "a snapshot needs a (possibly empty) fault plan, so that the plan region is reserved and \
             `viv.faults=` is on the command line for the experiments' plans"
                .into(),
        ));
    };
    let mem_size = config.memory_bytes()?;
    let kvm = crate::vm::open_kvm()?;
    let vm = Arc::new(kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?);
    let mem = memory::create(mem_size)?;
    memory::register(&vm, &mem)?;
    vm.set_tss_address(crate::vm::KVM_TSS_ADDRESS).map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
    vm.create_irq_chip().map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;

    let trace = match config.trace {
        Some(mode) => Some(crate::trace::TraceRing::create(&mem, mem_size, mode, config.trace_ring_bytes)?),
        None => None,
    };
    let trace_range = trace.as_ref().map(|r| r.range());
    let cmdline = match &trace {
        Some(ring) => crate::trace::cmdline_with_ring(&config.cmdline(), ring.range().0, ring.range().1),
        None => config.cmdline(),
    };
    let reserved = trace_range.map_or(0, |r| r.1) + crate::fault::PLAN_BYTES;
    let plan_base = mem_size - reserved;
    let region = crate::fault::PlanRegion::write(&mem, plan_base, plan)?;
    let cmdline = crate::fault::cmdline_with_plan(&cmdline, region.base);
    let layout = boot::load_reserving(&mem, &config.kernel, &config.archive, &cmdline, reserved)?;
    cpu::write_gdt(&mem)?;

    let irq = IrqLine::kvm(&vm, abi::platform::IRQ_COM1);
    let room = Arc::new(RoomNotifier::new().map_err(host_err("eventfd"))?);
    let capture = Arc::new(Mutex::new(Vec::new()));
    let sink = ConsoleSink { echo: config.echo_console, to_stderr: false, capture: Some(capture.clone()) };
    let log_sink = if config.separate_log {
        ConsoleSink { echo: config.echo_log, to_stderr: true, capture: None }
    } else {
        sink.clone()
    };
    let serial = Arc::new(Mutex::new(new_serial(irq, room, sink)));

    let vcpu = vm.create_vcpu(0).map_err(kvm_err("KVM_CREATE_VCPU"))?;
    cpu::setup(&kvm, &vcpu, layout.entry, layout.start_info)?;
    if config.deterministic {
        cpu::hide_random_instructions(&kvm, &vcpu)?;
    }
    watchdog::install()?;
    let timed_out = Arc::new(AtomicBool::new(false));
    let runner = VcpuRunner {
        vcpu,
        io: PortIo::new(serial.clone(), log_sink),
        mmio: MmioBus::new(),
        stats: None,
        start,
        timed_out: timed_out.clone(),
        trace,
        pause_at_mark: Some(at_mark),
        on_fault_stop: None,
    };
    let (done_tx, done_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("viv-snapshot".into())
        .spawn(move || {
            let mut runner = runner;
            let mut progress = Progress::default();
            let ended = runner.run_until(&mut progress);
            let _ = done_tx.send(());
            (runner, progress, ended)
        })
        .map_err(host_err("vCPU thread"))?;
    watchdog::supervise(&handle, config.timeout, &timed_out, &done_rx);
    let (mut runner, progress, ended) = handle.join().map_err(|_| Error::Host("the vCPU thread panicked".into()))?;
    if let Some(exit) = ended {
        return Err(Error::Host(format!(
            "the guest ended ({exit:?}) before writing bench mark {at_mark}; console:\n{}",
            String::from_utf8_lossy(&capture.lock().unwrap_or_else(|e| e.into_inner()))
        )));
    }
    // KVM completes a port write only at the next KVM_RUN: enter with
    // `immediate_exit` so the vCPU state we read is consistent (KVM API
    // documentation, "KVM_RUN": complete pending I/O before saving state).
    runner.vcpu.set_kvm_immediate_exit(1);
    let _ = runner.vcpu.run();
    runner.vcpu.set_kvm_immediate_exit(0);
    // Records before the mark are not part of any experiment: consume them.
    if let Some(ring) = runner.trace.as_mut() {
        ring.drain();
    }

    let vcpu_state = capture_vcpu(&kvm, &runner.vcpu)?;
    let vm_state = capture_vm(&vm)?;
    let serial_state = serial.lock().unwrap_or_else(|e| e.into_inner()).state();
    let mem_file = write_memory(&mem, mem_size)?;
    let console = std::mem::take(&mut *capture.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Snapshot {
        config: config.clone(),
        at_mark,
        mem_file: Arc::new(mem_file),
        mem_size,
        plan_base,
        trace_range,
        vcpu: vcpu_state,
        vm: vm_state,
        serial: serial_state,
        marks: progress.marks,
        console,
        boot_time: start.elapsed(),
    })
}

/// Every MSR KVM lists that this vCPU lets us read; the TSC and then the
/// TSC deadline last, so that a restore sets them after everything else.
fn capture_msrs(kvm: &Kvm, vcpu: &VcpuFd) -> Result<Vec<kvm_msr_entry>, Error> {
    let list = kvm.get_msr_index_list().map_err(kvm_err("KVM_GET_MSR_INDEX_LIST"))?;
    let mut indices: Vec<u32> = list.as_slice().to_vec();
    let mut out = Vec::with_capacity(indices.len());
    // KVM_GET_MSRS stops at the first MSR it cannot read: skip that one and
    // go on with the rest.
    while !indices.is_empty() {
        let chunk: Vec<kvm_msr_entry> =
            indices.iter().take(200).map(|&index| kvm_msr_entry { index, ..Default::default() }).collect();
        let mut msrs = Msrs::from_entries(&chunk).map_err(|e| Error::Host(format!("MSR list: {e:?}")))?;
        let read = vcpu.get_msrs(&mut msrs).map_err(kvm_err("KVM_GET_MSRS"))?;
        out.extend_from_slice(&msrs.as_slice()[..read]);
        let consumed = if read < chunk.len() { read + 1 } else { read };
        indices.drain(..consumed);
    }
    let late = |i: u32| match i {
        MSR_IA32_TSC => 1,
        MSR_IA32_TSC_DEADLINE => 2,
        _ => 0,
    };
    out.sort_by_key(|e| late(e.index));
    Ok(out)
}

fn capture_vcpu(kvm: &Kvm, vcpu: &VcpuFd) -> Result<VcpuState, Error> {
    Ok(VcpuState {
        cpuid: vcpu.get_cpuid2(KVM_MAX_CPUID_ENTRIES).map_err(kvm_err("KVM_GET_CPUID2"))?,
        mp_state: vcpu.get_mp_state().map_err(kvm_err("KVM_GET_MP_STATE"))?,
        regs: vcpu.get_regs().map_err(kvm_err("KVM_GET_REGS"))?,
        sregs: vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?,
        fpu: vcpu.get_fpu().map_err(kvm_err("KVM_GET_FPU"))?,
        xsave: vcpu.get_xsave().map_err(kvm_err("KVM_GET_XSAVE"))?,
        xcrs: vcpu.get_xcrs().map_err(kvm_err("KVM_GET_XCRS"))?,
        debug_regs: vcpu.get_debug_regs().map_err(kvm_err("KVM_GET_DEBUGREGS"))?,
        lapic: vcpu.get_lapic().map_err(kvm_err("KVM_GET_LAPIC"))?,
        msrs: capture_msrs(kvm, vcpu)?,
        events: vcpu.get_vcpu_events().map_err(kvm_err("KVM_GET_VCPU_EVENTS"))?,
    })
}

fn capture_vm(vm: &VmFd) -> Result<VmState, Error> {
    let chip = |id: u32| -> Result<kvm_irqchip, Error> {
        let mut c = kvm_irqchip { chip_id: id, ..Default::default() };
        vm.get_irqchip(&mut c).map_err(kvm_err("KVM_GET_IRQCHIP"))?;
        Ok(c)
    };
    Ok(VmState {
        pic_master: chip(KVM_IRQCHIP_PIC_MASTER)?,
        pic_slave: chip(KVM_IRQCHIP_PIC_SLAVE)?,
        ioapic: chip(KVM_IRQCHIP_IOAPIC)?,
        clock: vm.get_clock().map_err(kvm_err("KVM_GET_CLOCK"))?,
    })
}

/// Copies guest memory into a fresh memfd; all-zero pages stay holes, so
/// the file (and every copy-on-write mapping of it) costs only the pages
/// the boot touched.
fn write_memory(mem: &GuestMemoryMmap, size: u64) -> Result<File, Error> {
    let name = c"vivarium-snapshot";
    // SAFETY: `memfd_create` with a valid NUL-terminated name and flags;
    // the result is checked before use.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::Host(format!("memfd_create: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(size).map_err(host_err("snapshot memory file"))?;
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    while at < size {
        let n = CHUNK.min((size - at) as usize);
        mem.read_slice(&mut buf[..n], GuestAddress(at)).map_err(|e| Error::Memory(format!("snapshot read: {e}")))?;
        for (i, page) in buf[..n].chunks(4096).enumerate() {
            if page.iter().any(|&b| b != 0) {
                file.write_all_at(page, at + (i * 4096) as u64).map_err(host_err("snapshot memory file"))?;
            }
        }
        at += n as u64;
    }
    Ok(file)
}
