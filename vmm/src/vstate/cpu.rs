//! The vCPU's state at the PVH 32-bit entry.
//!
//! Why 32-bit and not long mode: PVH enters the kernel in flat protected
//! mode with paging off, exactly as QEMU does for `-kernel` with a PVH note.
//! The kernel builds its page tables and enables long mode itself, so our
//! VMM and QEMU exercise the same kernel path. (PVH ABI: CR0 = PE|ET,
//! CR4 = 0, EFER = 0, flat 4 GiB code and data segments, a busy 32-bit TSS,
//! `%ebx` = physical address of `hvm_start_info`.)
//!
//! The GDT that matches the segment registers is written to guest memory
//! at [`GDT_ADDR`] so that a reload of a segment register by the kernel
//! before it installs its own GDT still finds valid descriptors.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_segment, kvm_sregs, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuFd};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::error::{kvm_err, BootError, Error};

/// Guest physical address of the boot GDT.
pub const GDT_ADDR: u64 = 0x500;
/// Selector of the flat 32-bit code segment.
pub const CODE_SELECTOR: u16 = 0x08;
/// Selector of the flat 32-bit data segment.
pub const DATA_SELECTOR: u16 = 0x10;
/// Selector of the TSS.
pub const TSS_SELECTOR: u16 = 0x18;

/// CR0.PE: protected mode.
const CR0_PE: u64 = 1 << 0;
/// CR0.ET: extension type (always 1 on modern CPUs).
const CR0_ET: u64 = 1 << 4;

/// LAPIC register offsets and delivery modes.
const APIC_LVT_LINT0: usize = 0x350;
const APIC_LVT_LINT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

/// Builds a GDT descriptor from its base, limit and 12 bits of flags
/// (access byte in bits 0-7, flags nibble in bits 12-15), the same encoding
/// Firecracker and the vmm-reference use.
pub const fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    ((base as u64 & 0xff00_0000) << 32)
        | ((base as u64 & 0x00ff_ffff) << 16)
        | (limit as u64 & 0x0000_ffff)
        | ((limit as u64 & 0x000f_0000) << 32)
        | ((flags as u64 & 0xf0ff) << 40)
}

/// The boot GDT: null, 32-bit code, 32-bit data, 32-bit busy TSS.
pub const GDT: [u64; 4] = [
    0,
    gdt_entry(0xc09b, 0, 0xfffff), // code: present, s, type 0xb (exec/read, accessed), db, g
    gdt_entry(0xc093, 0, 0xfffff), // data: present, s, type 3 (read/write, accessed), db, g
    gdt_entry(0x008b, 0, 0x67),    // TSS: present, type 0xb (32-bit busy)
];

/// The `kvm_segment` that a GDT entry describes, loaded with `selector`.
pub fn segment_from_gdt(entry: u64, selector: u16) -> kvm_segment {
    let base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
    let raw_limit = (entry & 0xffff) | ((entry >> 32) & 0x000f_0000);
    let g = ((entry >> 55) & 1) as u8;
    let limit = if g == 1 { (raw_limit << 12) | 0xfff } else { raw_limit };
    kvm_segment {
        base,
        limit: limit as u32,
        selector,
        type_: ((entry >> 40) & 0xf) as u8,
        present: ((entry >> 47) & 1) as u8,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        unusable: 0,
        padding: 0,
    }
}

/// Writes the boot GDT into guest memory.
pub fn write_gdt(mem: &GuestMemoryMmap) -> Result<(), Error> {
    let mut bytes = [0u8; GDT.len() * 8];
    for (i, e) in GDT.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&e.to_le_bytes());
    }
    mem.write_slice(&bytes, GuestAddress(GDT_ADDR)).map_err(|e| Error::Boot(BootError(format!("writing the GDT: {e}"))))
}

/// The special registers at the PVH entry, starting from KVM's defaults.
pub fn pvh_sregs(mut sregs: kvm_sregs) -> kvm_sregs {
    let code = segment_from_gdt(GDT[1], CODE_SELECTOR);
    let data = segment_from_gdt(GDT[2], DATA_SELECTOR);
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = segment_from_gdt(GDT[3], TSS_SELECTOR);
    sregs.ldt = kvm_segment { unusable: 1, type_: 2, present: 1, ..Default::default() };
    sregs.gdt.base = GDT_ADDR;
    sregs.gdt.limit = (GDT.len() * 8 - 1) as u16;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = CR0_PE | CR0_ET;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
    sregs
}

/// The general registers at the PVH entry.
pub fn pvh_regs(entry: u64, start_info: u64) -> kvm_regs {
    kvm_regs { rip: entry, rbx: start_info, rflags: 0x2, ..Default::default() }
}

fn set_lvt_mode(regs: &mut [std::os::raw::c_char], offset: usize, mode: u32) {
    let mut raw = [0u8; 4];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = regs[offset + i] as u8;
    }
    let value = (u32::from_le_bytes(raw) & !0x700) | (mode << 8);
    for (i, b) in value.to_le_bytes().into_iter().enumerate() {
        regs[offset + i] = b as std::os::raw::c_char;
    }
}

/// Sets CPUID, the LAPIC's LINT pins, the FPU and the registers of `vcpu`
/// for the PVH entry.
pub fn setup(kvm: &Kvm, vcpu: &VcpuFd, entry: u64, start_info: u64) -> Result<(), Error> {
    let cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
    vcpu.set_cpuid2(&cpuid).map_err(kvm_err("KVM_SET_CPUID2"))?;

    let mut lapic = vcpu.get_lapic().map_err(kvm_err("KVM_GET_LAPIC"))?;
    set_lvt_mode(&mut lapic.regs, APIC_LVT_LINT0, APIC_MODE_EXTINT);
    set_lvt_mode(&mut lapic.regs, APIC_LVT_LINT1, APIC_MODE_NMI);
    vcpu.set_lapic(&lapic).map_err(kvm_err("KVM_SET_LAPIC"))?;

    let fpu = kvm_fpu { fcw: 0x37f, mxcsr: 0x1f80, ..Default::default() };
    vcpu.set_fpu(&fpu).map_err(kvm_err("KVM_SET_FPU"))?;

    let sregs = vcpu.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?;
    vcpu.set_sregs(&pvh_sregs(sregs)).map_err(kvm_err("KVM_SET_SREGS"))?;
    vcpu.set_regs(&pvh_regs(entry, start_info)).map_err(kvm_err("KVM_SET_REGS"))?;
    Ok(())
}

/// Experiment mode: hides RDRAND (CPUID.1:ECX bit 30) and RDSEED
/// (CPUID.(7,0):EBX bit 18), the guest's only sources of randomness
/// besides time, so that runs repeat (vmm-notes, "Determinism").
pub fn hide_random_instructions(kvm: &Kvm, vcpu: &VcpuFd) -> Result<(), Error> {
    let mut cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
    for entry in cpuid.as_mut_slice() {
        match (entry.function, entry.index) {
            (1, _) => entry.ecx &= !(1 << 30),
            (7, 0) => entry.ebx &= !(1 << 18),
            _ => {}
        }
    }
    vcpu.set_cpuid2(&cpuid).map_err(kvm_err("KVM_SET_CPUID2"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_segments_are_flat_32_bit() {
        let cs = segment_from_gdt(GDT[1], CODE_SELECTOR);
        assert_eq!(
            (cs.base, cs.limit, cs.type_, cs.s, cs.present, cs.db, cs.g, cs.l),
            (0, 0xffff_ffff, 0xb, 1, 1, 1, 1, 0)
        );
        let ds = segment_from_gdt(GDT[2], DATA_SELECTOR);
        assert_eq!((ds.base, ds.limit, ds.type_, ds.s, ds.db, ds.g), (0, 0xffff_ffff, 3, 1, 1, 1));
        let tr = segment_from_gdt(GDT[3], TSS_SELECTOR);
        assert_eq!((tr.base, tr.limit, tr.type_, tr.s, tr.present, tr.g), (0, 0x67, 0xb, 0, 1, 0));
        assert_eq!(GDT[1], 0x00cf_9b00_0000_ffff);
        assert_eq!(GDT[2], 0x00cf_9300_0000_ffff);
    }

    #[test]
    fn sregs_are_the_pvh_entry_state() {
        let s = pvh_sregs(kvm_sregs::default());
        assert_eq!((s.cr0, s.cr4, s.efer), (0x11, 0, 0));
        assert_eq!(s.gdt.base, GDT_ADDR);
        assert_eq!(s.gdt.limit, 31);
        assert_eq!(s.ldt.unusable, 1);
        assert_eq!(s.ss.selector, DATA_SELECTOR);
        let r = pvh_regs(0x10_0040, 0x6000);
        assert_eq!((r.rip, r.rbx, r.rflags), (0x10_0040, 0x6000, 2));
    }

    #[test]
    fn lvt_delivery_mode_is_replaced() {
        let mut regs = [0 as std::os::raw::c_char; 1024];
        regs[APIC_LVT_LINT0 + 1] = 0x07; // some other mode
        regs[APIC_LVT_LINT0 + 2] = 0x01; // mask bit stays
        set_lvt_mode(&mut regs, APIC_LVT_LINT0, APIC_MODE_NMI);
        assert_eq!(regs[APIC_LVT_LINT0 + 1], 0x04);
        assert_eq!(regs[APIC_LVT_LINT0 + 2], 0x01);
    }
}
