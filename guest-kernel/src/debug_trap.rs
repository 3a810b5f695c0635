//! A `#BP` or `#DB` from user mode while the host's debugger is attached
//! (`abi::debug`): the kernel asks the VMM whether the trap is the
//! debugger's (a breakpoint it patched into user code, or a single step
//! it asked for with the trap flag) before it treats the trap as the
//! process's fault.
//!
//! Why through the kernel: on a host that runs user mode natively
//! (`kvm_pvm`) these exceptions never exit to the VMM; they arrive here.
//! Without a debugger the table's attached flag is clear and nothing
//! here runs but one load, on the exception path only (never on a
//! system call: the stub's `int3` is told apart before).

use crate::process::System;
use abi::debug::{SIZE, VERDICT_GUEST, VERDICT_RESUME};
use core::sync::atomic::{AtomicU64, Ordering};

/// The table the VMM reads and writes (`abi::debug::DEBUGGER_SYMBOL`):
/// attached, slot, vector, DR6, verdict.
#[no_mangle]
static VIV_DEBUGGER: [AtomicU64; SIZE / 8] = [const { AtomicU64::new(0) }; SIZE / 8];

const _: () = {
    use abi::debug as d;
    assert!(d::ATTACHED == 0 && d::SLOT == 8 && d::VECTOR == 16 && d::DR6 == 24 && d::VERDICT == 32);
};

fn field(offset: usize) -> &'static AtomicU64 {
    &VIV_DEBUGGER[offset / 8]
}

/// Offers the user-mode `vector` exception of `slot` to the debugger.
/// True: it was the debugger's, and `slot` is to resume from its frame as
/// the VMM left it ([`resume`]). False: handle it as without a debugger.
#[inline(always)]
pub fn offered(slot: usize, vector: u64) -> bool {
    (vector == 1 || vector == 3) && field(abi::debug::ATTACHED).load(Ordering::Relaxed) != 0 && ring(slot, vector)
}

/// Returns to `slot`, the process whose entry this is, straight from the
/// exception path: the entry does not count (no virtual tick, no
/// fault-plan clock, no scheduling), so a debugged deterministic run
/// makes the same kernel entries, and so the same trace, as a plain one.
pub fn resume(sys: &mut System, slot: usize) -> ! {
    let frame = &raw mut sys.arch[slot].frame;
    // SAFETY: this is `slot`'s entry: its address space is loaded and its
    // frame is the current one (it holds the state the entry saved, with
    // the debugger's changes to RIP and RFLAGS); the kernel stack is
    // abandoned, as at every return to user mode.
    unsafe { crate::arch::trap::enter_user(frame) }
}

/// Rings the VMM's doorbell for the trap and reads its verdict.
#[inline(never)]
#[cold]
fn ring(slot: usize, vector: u64) -> bool {
    let dr6 = if vector == 1 { take_dr6() } else { 0 };
    field(abi::debug::SLOT).store(slot as u64, Ordering::Relaxed);
    field(abi::debug::VECTOR).store(vector, Ordering::Relaxed);
    field(abi::debug::DR6).store(dr6, Ordering::Relaxed);
    field(abi::debug::VERDICT).store(VERDICT_GUEST, Ordering::Relaxed);
    // The exit is the debugger's stop: the VMM reads and changes the
    // frame and the verdict before the `out` completes, so the `out` is
    // not `nomem` (the stores are made before it, the load after).
    // SAFETY: port I/O; the VMM changes only the table and the frame of
    // `slot`, which the kernel reads after this.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") abi::platform::PORT_DEBUG_TRAP, in("eax") slot as u32,
            options(nostack, preserves_flags));
    }
    field(abi::debug::VERDICT).load(Ordering::Relaxed) == VERDICT_RESUME
}

/// Reads DR6 (which of DR0–DR3 fired, or BS for a single step) and
/// resets it: the CPU never clears its bits.
fn take_dr6() -> u64 {
    let dr6: u64;
    // SAFETY: moves to and from DR6 have no memory effects; the value
    // written is DR6's reset value.
    unsafe {
        core::arch::asm!("mov {0}, dr6", "mov dr6, {1}", out(reg) dr6, in(reg) DR6_RESET,
            options(nostack, nomem, preserves_flags));
    }
    dr6
}

/// DR6 with no debug condition recorded.
const DR6_RESET: u64 = 0xFFFF_0FF0;
