//! The IO-APIC: routes device interrupt lines (the UART's IRQ 4, a
//! virtio device's line) to vectors, masked until a driver enables them.

use super::trap::IRQ_VECTOR_BASE;

/// Interrupt lines the IO-APIC has.
pub const IRQ_LINES: usize = 24;
const BASE: u64 = 0xFEC0_0000;
const MASKED: u32 = 1 << 16;

fn write(register: u32, value: u32) {
    // SAFETY: the IO-APIC window is mapped uncached by the boot page
    // tables; select-then-write is the device's access protocol, and the
    // kernel is single-threaded with interrupts off.
    unsafe {
        core::ptr::write_volatile(BASE as *mut u32, register);
        core::ptr::write_volatile((BASE + 0x10) as *mut u32, value);
    }
}

fn route(line: usize, masked: bool) {
    let low = (IRQ_VECTOR_BASE as u32 + line as u32) | if masked { MASKED } else { 0 };
    write(0x11 + 2 * line as u32, 0); // destination: APIC 0
    write(0x10 + 2 * line as u32, low); // edge-triggered, active high, fixed
}

/// Masks every line.
pub fn init() {
    for line in 0..IRQ_LINES {
        route(line, true);
    }
}

/// Stops delivery of `line`.
pub fn mask(line: usize) {
    if line < IRQ_LINES {
        route(line, true);
    }
}

/// Resumes delivery of `line`.
pub fn unmask(line: usize) {
    if line < IRQ_LINES {
        route(line, false);
    }
}
