//! Trap dispatch: one arm per primitive, and the kernel calls of the SYSTEM
//! task.
//!
//! Every arm has the same shape: decode the registers, call kernel-core,
//! and store the result in the caller's `rax` unless the call blocked (then
//! whoever unblocks the caller stores it).

use crate::console;
use crate::process::{Memory, System};
use abi::platform::{GUEST_STATUS_MAX, PORT_BENCH_MARK};
use abi::syscall::{KernelCall, Trap, DIAG_WRITE_MAX};
use abi::{Endpoint, Error};
use kernel_core::{Outcome, SendMode, UserMemory};

/// Handles the system call of `slot`, whose registers are in its frame.
pub fn dispatch(sys: &mut System, slot: usize) {
    let frame = &sys.arch[slot].frame;
    let (number, endpoint, msg_addr) = (frame.rax, Endpoint(frame.rdi as u32), frame.rsi);
    let System { core, arch, .. } = sys;
    let mut mem = Memory { arch };
    let outcome = match Trap::from_number(number) {
        Some(Trap::Send) => core.send(&mut mem, slot, endpoint, msg_addr, SendMode::Blocking),
        Some(Trap::SendNb) => core.send(&mut mem, slot, endpoint, msg_addr, SendMode::NonBlocking),
        Some(Trap::Receive) => core.receive(&mut mem, slot, endpoint, msg_addr),
        Some(Trap::SendRec) if endpoint == Endpoint::SYSTEM => kernel_call(sys, slot, msg_addr),
        Some(Trap::SendRec) => core.sendrec(&mut mem, slot, endpoint, msg_addr),
        Some(Trap::Notify | Trap::SendA) | None => Outcome::Done(Error::BadRequest.to_return()),
    };
    if let Outcome::Done(value) = outcome {
        sys.arch[slot].frame.rax = value as u64;
    }
}

/// A SENDREC to SYSTEM: the request message names the kernel call.
fn kernel_call(sys: &mut System, slot: usize, msg_addr: u64) -> Outcome {
    let msg = match (Memory { arch: &mut sys.arch }).read_message(slot, msg_addr) {
        Ok(m) => m,
        Err(e) => return Outcome::Done(e.to_return()),
    };
    let [a0, a1, ..] = msg.payload;
    match KernelCall::from_number(msg.mtype) {
        Some(KernelCall::Exit) => {
            sys.terminate(slot, a0 as u32);
            Outcome::Blocked
        }
        Some(KernelCall::DiagWrite) => Outcome::Done(diag_write(sys, slot, a0, a1)),
        Some(KernelCall::PowerOff) => crate::power_off(a0.min(u64::from(GUEST_STATUS_MAX)) as u32),
        Some(KernelCall::BenchMark) => {
            crate::arch::cpu::outl(PORT_BENCH_MARK, a0 as u32);
            Outcome::Done(0)
        }
        Some(KernelCall::Uptime) => Outcome::Done(crate::ticks() as i64),
        None => Outcome::Done(Error::BadRequest.to_return()),
    }
}

/// Writes user bytes to the console straight from the user's pages.
fn diag_write(sys: &System, slot: usize, addr: u64, len: u64) -> i64 {
    if len > DIAG_WRITE_MAX {
        return Error::Domain.to_return();
    }
    let space = sys.arch[slot].space;
    let mut done = 0;
    while done < len {
        let Some(va) = addr.checked_add(done) else { return Error::Fault.to_return() };
        let Some(phys) = space.translate(va, false) else { return Error::Fault.to_return() };
        let chunk = (abi::layout::PAGE_SIZE - (va & 0xFFF)).min(len - done);
        console::write_physical(phys, chunk);
        done += chunk;
    }
    len as i64
}
