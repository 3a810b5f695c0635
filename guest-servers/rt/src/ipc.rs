//! The IPC primitives.

use crate::sys::trap2;
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

fn result(ret: i64) -> Result<(), Error> {
    Error::from_return(ret).map(|_| ())
}

/// SEND: blocks until `dst` takes the message.
pub fn send(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::Send, dst.0 as u64, msg as *const Message as u64) })
}

/// SENDNB: delivers only if `dst` is waiting, else `Error::NotReady`.
pub fn send_nonblocking(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::SendNb, dst.0 as u64, msg as *const Message as u64) })
}

/// RECEIVE from `from` (or `Endpoint::ANY`) into `msg`.
pub fn receive(from: Endpoint, msg: &mut Message) -> Result<(), Error> {
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::Receive, from.0 as u64, msg as *mut Message as u64) })
}

/// SENDREC: sends `msg` to `dst` and receives the reply into `msg`.
pub fn sendrec(dst: Endpoint, msg: &mut Message) -> Result<(), Error> {
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::SendRec, dst.0 as u64, msg as *mut Message as u64) })
}

/// NOTIFY: never blocks; repeated notifications coalesce.
pub fn notify(dst: Endpoint) -> Result<(), Error> {
    // SAFETY: no pointer arguments.
    result(unsafe { trap2(Trap::Notify, dst.0 as u64, 0) })
}

/// SENDA: hands the kernel `table`, which it delivers asynchronously and
/// writes results back into. The table must stay in place (and is read by
/// the kernel) until every entry is DONE or a new SENDA replaces it.
pub fn senda(table: &mut [abi::senda::SendaEntry]) -> Result<(), Error> {
    // SAFETY: the table is valid for the call; the kernel keeps writing
    // results into it later, which is why the caller must keep it alive
    // (static or never-moved storage).
    result(unsafe { trap2(Trap::SendA, table.as_mut_ptr() as u64, table.len() as u64) })
}

/// SENDA with raw arguments (for testing the kernel's checks).
///
/// # Safety
/// The kernel may write results into `table` later.
pub unsafe fn senda_raw(table: u64, count: u64) -> Result<(), Error> {
    // SAFETY: per the caller's contract.
    result(unsafe { trap2(Trap::SendA, table, count) })
}

/// A raw trap with arbitrary arguments (for testing the kernel's checks).
///
/// # Safety
/// Pointer arguments must not alias Rust references the kernel may write.
pub unsafe fn raw(trap: Trap, a0: u64, a1: u64) -> Result<(), Error> {
    // SAFETY: per the caller's contract.
    result(unsafe { trap2(trap, a0, a1) })
}
