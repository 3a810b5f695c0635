//! The architecture side of the IPC fast path (`kernel_core::ipc::fast`):
//! a SENDREC to a server waiting in RECEIVE, or a server's REPLYRECV to a
//! client waiting for its reply, decoded from the caller's frame before
//! the general entry path runs.
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

/// The registers of a system call: the trap number (`rax`) and the
/// arguments (`rdi`, `rsi`, `rdx`; docs/abi.md).
#[derive(Clone, Copy)]
pub struct TrapArgs {
    pub number: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
}

/// The fast path for an entry through `int3`, whose stub passes the
/// registers: a system call when it came from the KIP's entry stub (a
/// breakpoint otherwise). Returns the frame to resume; `None`: nothing
/// happened, the general path takes the entry.
#[inline(always)]
pub fn try_int3(sys: &mut System, args: TrapArgs) -> Option<*mut TrapFrame> {
    if sys.arch.get(sys.current)?.frame.rip != abi::layout::TRAP_STUB_RETURN {
        return None;
    }
    try_ipc(sys, args)
}

/// [`try_int3`] for an entry through `syscall`, always a system call; the
/// registers come from the frame.
#[inline(always)]
pub fn try_syscall(sys: &mut System) -> Option<*mut TrapFrame> {
    let frame = &sys.arch.get(sys.current)?.frame;
    let args = TrapArgs { number: frame.rax, rdi: frame.rdi, rsi: frame.rsi, rdx: frame.rdx };
    try_ipc(sys, args)
}

/// The fast path for the system call of the current process.
#[inline(always)]
fn try_ipc(sys: &mut System, args: TrapArgs) -> Option<*mut TrapFrame> {
    let slot = sys.current;
    let TrapArgs { number, rdi, rsi: msg_addr, rdx } = args;
    let System { core, arch, frames, .. } = sys;
    let mut mem = IpcMemory::new(Memory { arch, frames });
    let switch = if number == Trap::SendRec as u64 {
        core.fast_sendrec(&mut mem, slot, Endpoint(rdi as u32), msg_addr).ok()?
    } else if number == Trap::ReplyRecv as u64 {
        let switch =
            core.fast_reply_receive(&mut mem, slot, Endpoint(rdi as u32), msg_addr, Endpoint(rdx as u32)).ok()?;
        // The reply's result, as the general path stores it.
        mem.mem.arch[slot].frame.rdx = 0;
        switch
    } else {
        return None;
    };
    // The direct switch: the partner is the only ready process, and
    // nothing at the entry's end could change that (no virtual clock to
    // tick, no fault plan to advance, no interrupt or alarm to deliver),
    // so the scheduler would pick it.
    if switch.only_ready && !crate::vclock::on() && !sys.core.faults.enabled && !sys.events_pending() {
        return Some(sys.switch_to(switch.to));
    }
    Some(crate::after_entry(sys, slot))
}
