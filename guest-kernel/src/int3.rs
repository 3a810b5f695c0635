//! The Rust side of the `int3` entry of the two fast traps (SENDREC to a
//! process, REPLYRECV): the functions the vector-3 stub calls
//! (`arch/trap.rs`), which try the IPC fast path ([`crate::fastpath`])
//! and otherwise hand the entry to the general path.
//!
//! Why two copies of one function: what an entry's end does is fixed at
//! boot (the virtual clock, the fault plan and the negative controls are
//! all set up then and never change), so it is decided once, by which
//! copy the stub calls ([`INT3_FAST_ENTRIES`]), instead of tested at every
//! entry.
//! A plain copy (no virtual clock, no fault plan, no switched-off defense
//! that changes a delivered message or leaves a process hung) tells the compiler what it knows
//! ([`assume_plain`]), so the fast path's tests of it go, and it switches
//! to the partner directly; the timed copy tests everything and ends as
//! every entry ends (`after_entry`).

use crate::arch::trap::{self, TrapFrame};
use crate::fastpath;
use crate::process::System;
use abi::syscall::Trap;

/// The entries the stub calls (`call *INT3_FAST_ENTRIES(%rip)` and
/// `+8`), installed at boot by [`install`].
#[repr(C)]
pub struct Int3Entries {
    sendrec: extern "C" fn(u64, u64) -> !,
    reply_receive: extern "C" fn(u64, u64, u64) -> !,
}

#[no_mangle]
pub static mut INT3_FAST_ENTRIES: Int3Entries =
    Int3Entries { sendrec: int3_sendrec_timed, reply_receive: int3_reply_receive_timed };

/// Installs the entries that fit what boot set up: the plain ones when
/// entries end plainly ([`fastpath::plain_entry_end`]) and the defenses
/// that change a delivered message and the one that keeps processes from
/// hanging on a dead peer are on; else the timed ones. Called
/// once at boot, after the fault plan, virtual time and the weakenings
/// are set, before any process runs.
pub fn install(sys: &System) {
    let weak = &sys.core.weak;
    let plain = fastpath::plain_entry_end() && !weak.source_stamp && !weak.notify_type && !weak.dead_peer;
    let entries = match (plain, sys.core.trace.enabled) {
        (true, false) => Int3Entries { sendrec: int3_sendrec, reply_receive: int3_reply_receive },
        (true, true) => Int3Entries { sendrec: int3_sendrec_traced, reply_receive: int3_reply_receive_traced },
        (false, _) => Int3Entries { sendrec: int3_sendrec_timed, reply_receive: int3_reply_receive_timed },
    };
    // SAFETY: boot, interrupts off, no process has run yet: nothing reads
    // the table while it is written.
    unsafe { *(&raw mut INT3_FAST_ENTRIES) = entries };
}

/// What a plain entry knows of the kernel's state since boot, said to
/// the compiler so that the fast path's tests of it go: no fault plan, no
/// switched-off defense that changes a delivered message, and so no hung
/// process (only a plan and the dead-peer control hang one); tracing on
/// when `TRACED` (also fixed at boot: a plain copy per tracing mode). The
/// fast path reads these before the copy, past whose stores the compiler
/// cannot carry what it was told.
#[inline(always)]
fn assume_plain<const TRACED: bool>(sys: &System) {
    let core = &sys.core;
    // SAFETY: the fault plan, the weakenings and tracing are set once at
    // boot, before `install`, which installs the plain entries only when
    // there is no plan and none of these weakenings is on, the traced
    // ones only with tracing on; nothing changes them afterwards
    // (`Kernel::set_fault_plan` runs only in `fault::init`, `weak` and
    // tracing are written only in `kernel_main`).
    unsafe {
        core::hint::assert_unchecked(
            !core.faults.enabled
                && !core.weak.source_stamp
                && !core.weak.notify_type
                && !core.weak.dead_peer
                && core.trace.enabled == TRACED,
        )
    };
}

/// SENDREC to a process, plain, tracing off. The stub passes the trap's
/// registers (also saved in the frame) as the arguments: `rdi`, `rsi`,
/// `rdx` as the caller left them. It never returns to the stub: it leaves
/// into the process to resume itself ([`trap::resume`]).
#[no_mangle]
extern "C" fn int3_sendrec(rdi: u64, rsi: u64) -> ! {
    sendrec::<PLAIN_UNTRACED>(rdi, rsi)
}

/// [`int3_sendrec`] with tracing on.
#[no_mangle]
extern "C" fn int3_sendrec_traced(rdi: u64, rsi: u64) -> ! {
    sendrec::<PLAIN_TRACED>(rdi, rsi)
}

/// [`int3_sendrec`] with a virtual clock, a fault plan or a negative
/// control.
#[no_mangle]
extern "C" fn int3_sendrec_timed(rdi: u64, rsi: u64) -> ! {
    sendrec::<TIMED>(rdi, rsi)
}

/// REPLYRECV, plain, tracing off: as [`int3_sendrec`].
#[no_mangle]
extern "C" fn int3_reply_receive(rdi: u64, rsi: u64, rdx: u64) -> ! {
    reply_receive::<PLAIN_UNTRACED>(rdi, rsi, rdx)
}

/// [`int3_reply_receive`] with tracing on.
#[no_mangle]
extern "C" fn int3_reply_receive_traced(rdi: u64, rsi: u64, rdx: u64) -> ! {
    reply_receive::<PLAIN_TRACED>(rdi, rsi, rdx)
}

/// [`int3_reply_receive`] as [`int3_sendrec_timed`].
#[no_mangle]
extern "C" fn int3_reply_receive_timed(rdi: u64, rsi: u64, rdx: u64) -> ! {
    reply_receive::<TIMED>(rdi, rsi, rdx)
}

/// Which copy an entry is (the const parameter of [`sendrec`] and
/// [`reply_receive`]).
const TIMED: u8 = 0;
const PLAIN_UNTRACED: u8 = 1;
const PLAIN_TRACED: u8 = 2;

/// What copy `KIND` knows: a plain one says so to the compiler.
#[inline(always)]
fn assume<const KIND: u8>(sys: &System) -> bool {
    match KIND {
        PLAIN_UNTRACED => assume_plain::<false>(sys),
        PLAIN_TRACED => assume_plain::<true>(sys),
        _ => return false,
    }
    true
}

/// The entries' one body for SENDREC: `KIND` as installed ([`install`]).
#[inline(always)]
fn sendrec<const KIND: u8>(rdi: u64, rsi: u64) -> ! {
    let sys = crate::system();
    let plain = assume::<KIND>(sys);
    let next = match fastpath::try_sendrec(sys, rdi, rsi, plain) {
        Some(next) => next,
        None => fallback(sys, Trap::SendRec),
    };
    // SAFETY: `next` is the frame `schedule` or the direct switch made
    // current, with its address space loaded.
    unsafe { trap::resume(next) }
}

/// [`sendrec`] for REPLYRECV.
#[inline(always)]
fn reply_receive<const KIND: u8>(rdi: u64, rsi: u64, rdx: u64) -> ! {
    let sys = crate::system();
    let plain = assume::<KIND>(sys);
    let next = match fastpath::try_reply_receive(sys, rdi, rsi, rdx, plain) {
        Some(next) => next,
        None => fallback(sys, Trap::ReplyRecv),
    };
    // SAFETY: as in `sendrec`.
    unsafe { trap::resume(next) }
}

/// An entry the fast path did not take: the general path, from a complete
/// frame. The stub saved only the registers a trap keeps and its
/// arguments (`SAVE_KEPT` in `arch/trap.rs`); the trap number and the
/// vector, which the general path reads too, are known here. The other
/// slots keep the process's earlier values, which the C convention of
/// traps lets it lose (docs/abi.md).
#[cold]
#[inline(never)]
fn fallback(sys: &mut System, trap: Trap) -> *mut TrapFrame {
    let slot = sys.current;
    let f = &mut sys.arch[slot].frame;
    f.rax = trap as u64;
    f.vector = 3;
    f.error_code = 0;
    crate::trap_entry(sys.current_frame())
}
