//! Thin wrappers over privileged instructions.
//!
//! On software-KVM hosts every kernel instruction is emulated (≈ 0.6 µs),
//! so these stay single instructions, and string I/O (`rep outsb`) is used
//! to move a whole buffer in one VM exit.

use core::arch::asm;

/// Writes a byte to an I/O port.
#[inline(always)]
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nostack, nomem, preserves_flags)) };
}

/// Writes a 16-bit value to an I/O port.
#[inline(always)]
pub fn outw(port: u16, value: u16) {
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") value, options(nostack, nomem, preserves_flags)) };
}

/// Reads a byte from an I/O port.
#[inline(always)]
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("in al, dx", in("dx") port, out("al") value, options(nostack, nomem, preserves_flags)) };
    value
}

/// Reads 16 bits from an I/O port.
#[inline(always)]
pub fn inw(port: u16) -> u16 {
    let value: u16;
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("in ax, dx", in("dx") port, out("ax") value, options(nostack, nomem, preserves_flags)) };
    value
}

/// Reads 32 bits from an I/O port.
#[inline(always)]
pub fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("in eax, dx", in("dx") port, out("eax") value, options(nostack, nomem, preserves_flags)) };
    value
}

/// Writes a 32-bit value to an I/O port.
#[inline(always)]
pub fn outl(port: u16, value: u32) {
    // SAFETY: port I/O has no memory effects visible to Rust.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack, nomem, preserves_flags)) };
}

/// Writes `len` bytes at kernel address `addr` to `port` with one string
/// instruction.
#[inline(always)]
pub fn outsb(port: u16, addr: u64, len: u64) {
    if len == 0 {
        return;
    }
    // SAFETY: reads `len` bytes at `addr`, which the caller guarantees are
    // mapped (kernel identity map); DF is clear in the kernel.
    unsafe {
        asm!("rep outsb", in("dx") port, inout("rsi") addr => _, inout("rcx") len => _,
             options(nostack, readonly, preserves_flags));
    }
}

/// Reads a model-specific register.
#[inline(always)]
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: callers only read MSRs that exist on every x86-64 CPU or were
    // checked with CPUID.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags)) };
    u64::from(lo) | u64::from(hi) << 32
}

/// Writes a model-specific register.
#[inline(always)]
pub fn wrmsr(msr: u32, value: u64) {
    // SAFETY: callers only write architectural MSRs with valid values.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, nomem, preserves_flags));
    }
}

/// Loads an address space.
#[inline(always)]
pub fn write_cr3(root: u64) {
    // SAFETY: callers pass the root of a complete page-table tree that maps
    // the kernel identically, so execution continues unaffected.
    unsafe { asm!("mov cr3, {0}", in(reg) root, options(nostack, preserves_flags)) };
}

/// Reads the faulting address of the last page fault.
#[inline(always)]
pub fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {0}, cr2", out(reg) value, options(nostack, nomem, preserves_flags)) };
    value
}

/// Waits for an interrupt with interrupts enabled, then disables them
/// again; the interrupt is handled in between.
#[inline(always)]
pub fn wait_for_interrupt() {
    // SAFETY: the IDT is loaded; `sti; hlt` is the idle idiom (no interrupt
    // is lost between them), and `cli` restores the kernel's IF=0 rule.
    unsafe { asm!("sti", "hlt", "cli", options(nostack, nomem)) };
}

/// Stops the CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: halting with interrupts off has no memory effects.
        unsafe { asm!("cli", "hlt", options(nostack, nomem)) };
    }
}

/// CPUID leaf `leaf`, subleaf 0: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, 0);
    (r.eax, r.ebx, r.ecx, r.edx)
}
