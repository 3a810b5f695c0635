//! The x86-64 layer: everything that needs the real machine.

pub mod apic;
pub mod boot;
pub mod cpu;
pub mod gdt;
pub mod ioapic;
pub mod trap;

/// Turns on `syscall`/`sysret`: STAR's selectors match the GDT layout and
/// FMASK clears IF, TF, DF and AC on entry.
pub fn enable_syscall_instruction() {
    const EFER: u32 = 0xC000_0080;
    const STAR: u32 = 0xC000_0081;
    const LSTAR: u32 = 0xC000_0082;
    const FMASK: u32 = 0xC000_0084;
    cpu::wrmsr(STAR, (0x10u64 << 48) | (gdt::KERNEL_CS << 32));
    cpu::wrmsr(LSTAR, trap::syscall_entry as *const () as u64);
    cpu::wrmsr(FMASK, 0x4_0700);
    cpu::wrmsr(EFER, cpu::rdmsr(EFER) | 1);
}
