//! Taking a snapshot: boot the config's image exactly as `run::run` would,
//! stop in the exit of bench mark `at_mark`, complete that port write, and
//! copy out guest memory and the disk (into memfds) and every piece of
//! vCPU, irqchip and device state a resumed VM needs.
//!
//! Why our own run loop here instead of a hook in `run::run`: the snapshot
//! keeps the VM's pieces (memory, devices, vCPU) after the pause, which
//! `run::run` drops; the VM itself is built by the same `Machine::build`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use abi::platform::VIRTIO_BLK_MMIO_BASE;
use kvm_bindings::{
    kvm_irqchip, kvm_msr_entry, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
    KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use vm_memory::{Bytes, GuestAddress};

use super::{SavedDisk, Snapshot, VcpuState, VmState, MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE};
use crate::devices::virtio_blk::Block;
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::{MmioBus, PortIo};
use crate::vstate::config::RunConfig;
use crate::vstate::machine::{take_capture, Machine};
use crate::vstate::vcpu::{Progress, VcpuRunner};
use crate::vstate::{memory, watchdog};
use crate::Error;

fn kvm_err(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> Error {
    move |e| Error::Kvm(what, e)
}

fn host_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Host(format!("{what}: {e}"))
}

/// Boots `config` and snapshots it at bench mark `at_mark`.
pub fn take(config: &RunConfig, at_mark: u32) -> Result<Snapshot, Error> {
    let start = Instant::now();
    if config.fault_plan.is_none() {
        return Err(Error::Host(
            "a snapshot needs a (possibly empty) fault plan, so that the plan region is reserved and \
             `viv.faults=` is on the command line for the experiments' plans"
                .into(),
        ));
    }
    // The console and log up to the mark belong to every experiment's.
    let mut config = config.clone();
    config.capture_console = true;
    config.forward_stdin = false;
    let machine = Machine::build(&config)?;
    let mem_size = memory::size(&machine.mem);
    let plan_base = machine.plan.as_ref().map_or(0, |p| p.base);
    let trace_range = machine.trace.as_ref().map(|r| r.range());
    watchdog::install()?;
    let timed_out = Arc::new(AtomicBool::new(false));
    let (spin_guard, spin_tick) =
        watchdog::SpinGuard::for_run(config.deterministic, &machine.mem, machine.plan.as_ref(), &machine.vm).unzip();
    let runner = VcpuRunner {
        vcpu: machine.vcpu,
        io: PortIo::new(machine.serial.clone(), machine.log_sink),
        mmio: machine.mmio,
        stats: None,
        start,
        timed_out: timed_out.clone(),
        trace: machine.trace,
        pause_at_mark: Some(at_mark),
        on_fault_stop: None,
        spin_tick,
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
    watchdog::supervise(&handle, config.timeout, &timed_out, &done_rx, spin_guard.as_ref());
    let (mut runner, progress, ended) = handle.join().map_err(|_| Error::Host("the vCPU thread panicked".into()))?;
    let console = machine.console.as_ref().map(take_capture).unwrap_or_default();
    if let Some(exit) = ended {
        return Err(Error::Host(format!(
            "the guest ended ({exit:?}) before writing bench mark {at_mark}; console:\n{}",
            String::from_utf8_lossy(&console)
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

    let vcpu_state = capture_vcpu(&machine.kvm, &runner.vcpu)?;
    let vm_state = capture_vm(&machine.vm)?;
    let serial_state = machine.serial.lock().unwrap_or_else(|e| e.into_inner()).state();
    let mem = &machine.mem;
    let mem_file = memory::sparse_memfd(c"vivarium-snapshot", mem_size, |buf, at| {
        mem.read_slice(buf, GuestAddress(at)).map_err(|e| format!("snapshot read: {e}"))
    })?;
    let disk = match &machine.disk_path {
        Some(path) => Some(save_disk(path, &runner.mmio)?),
        None => None,
    };
    Ok(Snapshot {
        config,
        at_mark,
        mem_file: Arc::new(mem_file),
        mem_size,
        plan_base,
        trace_range,
        vcpu: vcpu_state,
        vm: vm_state,
        serial: serial_state,
        disk,
        marks: progress.marks,
        console,
        log: machine.log.as_ref().map(take_capture).unwrap_or_default(),
        boot_time: start.elapsed(),
    })
}

/// The disk at `path` as the guest has written it so far (into a memfd)
/// and its transport's registers and queues.
fn save_disk(path: &Path, mmio: &MmioBus) -> Result<SavedDisk, Error> {
    let transport = mmio
        .device_at(VIRTIO_BLK_MMIO_BASE)
        .and_then(|device| device.as_any().downcast_ref::<VirtioMmio<Block>>())
        .map(VirtioMmio::state)
        .ok_or_else(|| Error::Host("snapshot: the VM has a disk image but no virtio-blk device".into()))?;
    let shown = path.display();
    let file = File::open(path).map_err(|e| Error::Host(format!("snapshot of disk {shown}: {e}")))?;
    let bytes = file.metadata().map_err(|e| Error::Host(format!("snapshot of disk {shown}: {e}")))?.len();
    let copy = memory::sparse_memfd(c"vivarium-snapshot-disk", bytes, |buf, at| {
        file.read_exact_at(buf, at).map_err(|e| format!("disk {shown} at byte {at}: {e}"))
    })?;
    Ok(SavedDisk { file: Arc::new(copy), bytes, transport })
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
