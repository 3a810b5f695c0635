//! The local APIC: the periodic scheduler tick.
//!
//! x2APIC (MSR access) where the CPU offers it, the memory-mapped xAPIC
//! otherwise (QEMU's TCG). Both KVM and QEMU clock the APIC timer at 1 GHz,
//! which is what the tick period assumes.

use super::cpu::{cpuid, outb, rdmsr, wrmsr};
use super::trap::{SPURIOUS_VECTOR, TIMER_VECTOR};

/// Scheduler ticks per second.
pub const TICK_HZ: u64 = 100;
const APIC_BUS_HZ: u64 = 1_000_000_000;
const DIVIDE_BY_16: u32 = 0x3;
const TIMER_PERIODIC: u32 = 1 << 17;

const IA32_APIC_BASE: u32 = 0x1B;
const XAPIC_BASE: u64 = 0xFEE0_0000;

// Register offsets of the xAPIC; the x2APIC MSR is 0x800 + offset / 16.
const REG_EOI: u32 = 0xB0;
const REG_SPURIOUS: u32 = 0xF0;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_DIVIDE: u32 = 0x3E0;

static mut X2APIC: bool = false;

fn write(reg: u32, value: u32) {
    // SAFETY: X2APIC is written once in init() before any other use.
    if unsafe { X2APIC } {
        wrmsr(0x800 + reg / 16, u64::from(value));
    } else {
        // SAFETY: the xAPIC page is mapped uncached by the boot page tables.
        unsafe { core::ptr::write_volatile((XAPIC_BASE + u64::from(reg)) as *mut u32, value) };
    }
}

/// Enables the local APIC, masks the legacy PICs and, with `tick`,
/// starts the periodic tick.
pub fn init(tick: bool) {
    // Legacy 8259s: mask everything so only the APIC delivers interrupts.
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    let x2apic = cpuid(1).2 & (1 << 21) != 0;
    // SAFETY: single-threaded boot; nothing has read X2APIC yet.
    unsafe { X2APIC = x2apic };
    let mut base = rdmsr(IA32_APIC_BASE) | 1 << 11;
    if x2apic {
        base |= 1 << 10;
    }
    wrmsr(IA32_APIC_BASE, base);
    write(REG_SPURIOUS, 0x100 | SPURIOUS_VECTOR as u32);
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, TIMER_PERIODIC | TIMER_VECTOR as u32);
    // Experiment mode's time is virtual (`vclock`): the timer is never
    // started, since a tick that fired before a later stop would depend on
    // how long the host took to boot the kernel.
    if tick {
        write(REG_TIMER_INITIAL, (APIC_BUS_HZ / 16 / TICK_HZ) as u32);
    }
}

/// Acknowledges the interrupt being handled.
#[inline(always)]
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}
