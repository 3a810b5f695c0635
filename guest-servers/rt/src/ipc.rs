//! The IPC primitives. Each sends a reply waiting in [`crate::server`]
//! first, so a process's messages leave in the order it made them.

use crate::sys::trap2;
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

fn result(ret: i64) -> Result<(), Error> {
    Error::from_return(ret).map(|_| ())
}

/// SEND: blocks until `dst` takes the message.
pub fn send(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    crate::server::flush();
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::Send, dst.0 as u64, msg as *const Message as u64) })
}

/// SENDNB: delivers only if `dst` is waiting, else `Error::NotReady`.
pub fn send_nonblocking(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    crate::server::flush();
    send_nonblocking_now(dst, msg)
}

/// SENDNB without first sending a reply waiting in [`crate::server`].
pub(crate) fn send_nonblocking_now(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::SendNb, dst.0 as u64, msg as *const Message as u64) })
}

/// RECEIVE from `from` (or `Endpoint::ANY`) into `msg`.
pub fn receive(from: Endpoint, msg: &mut Message) -> Result<(), Error> {
    crate::server::flush();
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::Receive, from.0 as u64, msg as *mut Message as u64) })
}

/// SENDREC: sends `msg` to `dst` and receives the reply into `msg`.
pub fn sendrec(dst: Endpoint, msg: &mut Message) -> Result<(), Error> {
    crate::server::flush();
    if straddles_a_page(msg) {
        // The kernel's fast path takes only messages that lie in one page
        // (a SENDREC's request and the server's reply to it): a copy here
        // costs a few user instructions, the general path hundreds of
        // kernel ones, at every call from that stack depth.
        let mut one_page = OnePage(*msg);
        let r = sendrec_in_place(dst, &mut one_page.0);
        *msg = one_page.0;
        return r;
    }
    sendrec_in_place(dst, msg)
}

fn sendrec_in_place(dst: Endpoint, msg: &mut Message) -> Result<(), Error> {
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::SendRec, dst.0 as u64, msg as *mut Message as u64) })
}

/// A message buffer that never straddles a page (its size is its
/// alignment).
#[repr(C, align(64))]
struct OnePage(Message);

const _: () = assert!(core::mem::size_of::<Message>() == 64);

/// Whether `msg` crosses a page boundary.
#[inline(always)]
fn straddles_a_page(msg: &Message) -> bool {
    let offset = (msg as *const Message as u64) & (abi::layout::PAGE_SIZE - 1);
    offset + core::mem::size_of::<Message>() as u64 > abi::layout::PAGE_SIZE
}

/// REPLYRECV: replies with `msg` to `reply_to` without blocking (as
/// [`send_nonblocking`]; nothing is sent for `Endpoint::NONE`), then
/// receives from `from` into `msg`, in one kernel entry. Returns the
/// reply's result and the receive's: a failed reply (the caller was not
/// waiting, or is gone) does not stop the receive.
pub fn reply_receive(reply_to: Endpoint, msg: &mut Message, from: Endpoint) -> (Result<(), Error>, Result<(), Error>) {
    let (replied, received) = replyrecv(reply_to, msg, from, 0);
    (result(replied), result(received))
}

/// REPLYRECV with `abi::syscall::REPLYRECV_IF_SENT`, for a message that
/// must arrive: sends `msg` to `to` without blocking and, only if it was
/// delivered, receives from `from` into `msg`, in one kernel entry.
/// `Err` with the send's error when it was not delivered (`NotReady`: `to`
/// is busy): nothing was received and `msg` still holds the message, for
/// the caller to post otherwise (SENDA) before it receives. Else `Ok`
/// with the receive's result.
pub fn send_receive(to: Endpoint, msg: &mut Message, from: Endpoint) -> Result<Result<(), Error>, Error> {
    let (sent, received) = replyrecv(to, msg, from, abi::syscall::REPLYRECV_IF_SENT);
    result(sent)?;
    Ok(result(received))
}

/// The REPLYRECV trap; returns the raw send and receive results.
fn replyrecv(to: Endpoint, msg: &mut Message, from: Endpoint, flags: u64) -> (i64, i64) {
    // SAFETY: `msg` is exclusively borrowed for the call; the kernel reads
    // the message from it and then writes the received one into it.
    let (received, sent) =
        unsafe { crate::sys::trap4(Trap::ReplyRecv, to.0 as u64, msg as *mut Message as u64, from.0 as u64, flags) };
    (sent, received)
}

/// NOTIFY: never blocks; repeated notifications coalesce.
pub fn notify(dst: Endpoint) -> Result<(), Error> {
    crate::server::flush();
    // SAFETY: no pointer arguments.
    result(unsafe { trap2(Trap::Notify, dst.0 as u64, 0) })
}

/// SENDA: hands the kernel `table`, which it delivers asynchronously and
/// writes results back into. The table must stay in place (and is read by
/// the kernel) until every entry is DONE or a new SENDA replaces it.
pub fn senda(table: &mut [abi::senda::SendaEntry]) -> Result<(), Error> {
    crate::server::flush();
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
