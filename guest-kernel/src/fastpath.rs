//! The architecture side of the IPC fast path (`kernel_core::ipc::fast`):
//! a SENDREC to a server waiting in RECEIVE, or a server's REPLYRECV to a
//! client waiting for its reply, tried before the general entry path
//! runs. Through `int3` the vector-3 stub picks the call (a system call
//! from the KIP's stub, the trap number) and passes its registers as
//! arguments (`int3_sendrec`, `int3_reply_receive` in `int3.rs`); through
//! `syscall` they are read from the frame.
//!
//! Why a separate step in front of [`crate::trap_entry`]: the
//! general path decodes every kind of entry, dispatches every primitive
//! and kernel call, and keeps the registers of all of that live; the two
//! calls that make every conversation need only the four argument
//! registers, kernel-core's checks and one copy. When kernel-core answers
//! [`kernel_core::Fallback`] nothing has changed, and the general path
//! handles the entry from the start, so behaviour (results, trace
//! records, fault-plan counters, scheduling) is the same either way. What
//! follows the call is the general path's own tail (the virtual clock,
//! the fault plan's clock, the scheduler), so time and scheduling see a
//! fast entry as any other.

use crate::arch::trap::TrapFrame;
use crate::ipc_memory::IpcMemory;
use crate::process::{Memory, System};
use abi::syscall::Trap;
use abi::Endpoint;
use core::sync::atomic::{AtomicBool, Ordering};

/// The fast path for an entry through `syscall`, always a system call;
/// the registers come from the frame. Returns the frame to resume;
/// `None`: nothing happened, the general path takes the entry.
#[inline(always)]
pub fn try_syscall(sys: &mut System) -> Option<*mut TrapFrame> {
    let frame = &sys.arch.get(sys.current)?.frame;
    let (number, rdi, rsi, rdx) = (frame.rax, frame.rdi, frame.rsi, frame.rdx);
    let plain = plain_entry_end();
    if number == Trap::SendRec as u64 {
        try_sendrec(sys, rdi, rsi, plain)
    } else if number == Trap::ReplyRecv as u64 {
        try_reply_receive(sys, rdi, rsi, rdx, plain)
    } else {
        None
    }
}

/// SENDREC of the current process to `rdi` with the message at `rsi`
/// (the entry stubs pass the registers); `plain`: [`plain_entry_end`],
/// a constant for the `int3` entries.
#[inline(always)]
pub fn try_sendrec(sys: &mut System, rdi: u64, rsi: u64, plain: bool) -> Option<*mut TrapFrame> {
    let slot = current_slot(sys);
    let System { core, arch, frames, .. } = sys;
    let mut mem = IpcMemory::new(Memory { arch, frames });
    let switch = core.fast_sendrec(&mut mem, slot, Endpoint(rdi as u32), rsi).ok()?;
    Some(finish(sys, slot, switch, plain))
}

/// REPLYRECV of the current process: the reply to `rdi` from the buffer
/// at `rsi`, then a receive from `rdx`. Its flags (`r10`,
/// `abi::syscall::REPLYRECV_IF_SENT`) are not read: they matter only when
/// the send fails, which the fast path leaves to the general path.
#[inline(always)]
pub fn try_reply_receive(sys: &mut System, rdi: u64, rsi: u64, rdx: u64, plain: bool) -> Option<*mut TrapFrame> {
    let slot = current_slot(sys);
    let System { core, arch, frames, .. } = sys;
    let mut mem = IpcMemory::new(Memory { arch, frames });
    let switch = core.fast_reply_receive(&mut mem, slot, Endpoint(rdi as u32), rsi, Endpoint(rdx as u32)).ok()?;
    // The reply's result, as the general path stores it.
    mem.mem.arch[slot].frame.rdx = 0;
    Some(finish(sys, slot, switch, plain))
}

/// The running process's slot, masked to the table's size (which it
/// always lies in) so that indexing by it needs no bounds check.
#[inline(always)]
fn current_slot(sys: &System) -> usize {
    debug_assert!(sys.current < kernel_core::NR_PROCS);
    sys.current & (kernel_core::NR_PROCS - 1)
}

/// No virtual clock and no fault plan: an entry's end has nothing to do
/// but deliver events and schedule. Both are fixed at boot
/// ([`crate::vclock::init`], [`crate::fault::init`]), so one flag set
/// then ([`init`]) stands for the two tests.
static PLAIN_ENTRY_END: AtomicBool = AtomicBool::new(false);

/// Records at boot, once virtual time and the fault plan are set up,
/// whether entries end plainly ([`PLAIN_ENTRY_END`]).
pub fn init(virtual_time: bool, fault_plan: bool) {
    PLAIN_ENTRY_END.store(!virtual_time && !fault_plan, Ordering::Relaxed);
}

/// Whether entries end plainly: no virtual clock, no fault plan. The
/// `int3` entries know it without this test (`crate::int3::Int3Entries`).
#[inline(always)]
pub fn plain_entry_end() -> bool {
    PLAIN_ENTRY_END.load(Ordering::Relaxed)
}

/// The end of a fast entry. The direct switch: the partner is the
/// scheduler's choice and already the running process
/// ([`kernel_core::Switch::direct`]), and nothing at the entry's end
/// could change that (no virtual clock to tick, no fault plan to advance,
/// no interrupt or alarm to deliver), so the scheduler would pick it.
///
/// Interrupts and alarms need no test here: every return to user mode
/// goes through [`System::schedule`] (or resumes an exception's frame at
/// once), which delivers whatever is pending before it picks a process,
/// and the kernel runs with interrupts off, so a trap finds nothing
/// pending until its own code records something, which the fast path
/// never does. Without a virtual clock ([`PLAIN_ENTRY_END`]) nothing else
/// moves the tick count either. The test was two loads and two compares
/// per entry that could only ever pass.
#[inline(always)]
fn finish(sys: &mut System, slot: usize, switch: kernel_core::Switch, plain: bool) -> *mut TrapFrame {
    if plain && switch.direct {
        debug_assert!(!sys.events_pending());
        return sys.switch_to_other(switch.to);
    }
    crate::after_fast_entry(sys, slot, switch)
}
