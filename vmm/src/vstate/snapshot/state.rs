//! Saving and restoring what KVM and the devices hold of a VM: the vCPU
//! (registers, special registers, FPU/XSAVE, XCRs, debug registers, every
//! readable MSR KVM lists, LAPIC, MP state, pending events), the in-kernel
//! PIC master, slave and IOAPIC, the KVM clock, guest memory and the disk.
//!
//! Restore order (as Firecracker's): CPUID, MP state, registers, special
//! registers, XSAVE, XCRs, debug registers, LAPIC, MSRs (the TSC and then
//! the TSC deadline last), vCPU events; then the irqchips and the clock.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use kvm_bindings::{
    kvm_irqchip, kvm_msr_entry, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
    KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

use super::{SavedDisk, VcpuState, VmState, MSR_IA32_TSC, MSR_IA32_TSC_DEADLINE};
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::MmioBus;
use crate::vstate::error::{kvm_err, Error, MemoryError, SnapshotError};
use crate::vstate::memory;

/// The disk at `path` as the guest has written it so far (into a memfd)
/// and its transport's registers and queues.
pub(crate) fn save_disk(path: &Path, mmio: &MmioBus) -> Result<SavedDisk, Error> {
    let transport = mmio.disk().map(VirtioMmio::state).ok_or(SnapshotError::NoDiskDevice)?;
    let shown = path.display();
    let disk_err = |source| SnapshotError::Disk { path: path.to_path_buf(), source };
    let file = crate::devices::disk_image::open_regular(path, false, "disk image")?;
    let bytes = file.metadata().map_err(disk_err)?.len();
    // Only the data extents: a mostly-empty 4 GiB disk costs what it holds.
    let extents = crate::devices::sparse_file::data_extents(&file, bytes).map_err(disk_err)?;
    let copy = memory::sparse_memfd_of(c"vivarium-snapshot-disk", bytes, &extents, |buf, at| {
        file.read_exact_at(buf, at).map_err(|e| MemoryError::Source(format!("disk {shown} at byte {at}: {e}")))
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
        let mut msrs = Msrs::from_entries(&chunk).map_err(|e| SnapshotError::MsrList(format!("{e:?}")))?;
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

pub(crate) fn capture_vcpu(kvm: &Kvm, vcpu: &VcpuFd) -> Result<VcpuState, Error> {
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

pub(crate) fn capture_vm(vm: &VmFd) -> Result<VmState, Error> {
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

pub(crate) fn restore_vcpu(vcpu: &VcpuFd, s: &VcpuState) -> Result<(), Error> {
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
        let msrs = Msrs::from_entries(chunk).map_err(|e| SnapshotError::MsrList(format!("{e:?}")))?;
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

pub(crate) fn restore_vm(vm: &VmFd, s: &VmState) -> Result<(), Error> {
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
