//! Trap dispatch: one arm per primitive, and the kernel calls of the SYSTEM
//! task.
//!
//! Every arm has the same shape: decode the registers, call kernel-core,
//! and store the result in the caller's `rax` unless the call blocked (then
//! whoever unblocks the caller stores it).

use crate::ipc_memory::{forget_translations, IpcMemory};
use crate::kcall::kernel_call;
use crate::process::{Memory, System};
use abi::syscall::{Trap, REPLYRECV_IF_SENT};
use abi::{Endpoint, Error};
use kernel_core::{Outcome, ReceivePart, SendMode};

/// Handles the system call of `slot`, whose registers are in its frame.
pub fn dispatch(sys: &mut System, slot: usize) {
    let frame = &sys.arch[slot].frame;
    let (number, frame_rdi, msg_addr, frame_rdx) = (frame.rax, frame.rdi, frame.rsi, frame.rdx);
    let endpoint = Endpoint(frame_rdi as u32);
    let System { core, arch, frames, .. } = sys;
    let mut mem = IpcMemory::new(Memory { arch, frames });
    let outcome = match Trap::from_number(number) {
        Some(Trap::Send) => core.send(&mut mem, slot, endpoint, msg_addr, SendMode::Blocking),
        Some(Trap::SendNb) => core.send(&mut mem, slot, endpoint, msg_addr, SendMode::NonBlocking),
        Some(Trap::Receive) => core.receive(&mut mem, slot, endpoint, msg_addr),
        Some(Trap::SendRec) if endpoint == Endpoint::SYSTEM => {
            if core.may_trap(slot, Trap::SendRec) {
                let injected =
                    if core.faults.enabled { core.fault_kernel_call(&mut mem, slot, msg_addr) } else { None };
                let outcome = if let Some(value) = injected {
                    Outcome::Done(value)
                } else if core.trace.enabled {
                    crate::trace::kernel_call(sys, slot, msg_addr)
                } else {
                    kernel_call(sys, slot, msg_addr)
                };
                // The call may have unmapped, write-protected or freed pages.
                forget_translations();
                outcome
            } else {
                core.refuse(&mut mem, slot, Trap::SendRec as u8, 0, Endpoint::SYSTEM, Error::TrapDenied)
            }
        }
        Some(Trap::SendRec) => core.sendrec(&mut mem, slot, endpoint, msg_addr),
        Some(Trap::Notify) => core.notify(&mut mem, slot, endpoint),
        // SENDA(table, count): the first argument is the table's address.
        Some(Trap::SendA) => core.senda(&mut mem, slot, frame_rdi, msg_addr as usize),
        // REPLYRECV(reply-to, buffer, source, flags): the reply's result
        // goes to `rdx` now, the receive's to `rax` (now or when it ends).
        Some(Trap::ReplyRecv) => {
            let from = Endpoint(frame_rdx as u32);
            let part = if mem.mem.arch[slot].frame.r10 & REPLYRECV_IF_SENT != 0 {
                ReceivePart::IfSent
            } else {
                ReceivePart::Always
            };
            let (replied, received) = core.reply_receive_part(&mut mem, slot, endpoint, msg_addr, from, part);
            mem.mem.arch[slot].frame.rdx = replied as u64;
            received
        }
        None => core.refuse(&mut mem, slot, 0, number as u32, Endpoint::NONE, Error::BadRequest),
    };
    if let Outcome::Done(value) = outcome {
        sys.arch[slot].frame.rax = value as u64;
    }
}
