//! REPLYRECV: a server's reply to its last caller and its next RECEIVE in
//! one kernel entry (seL4's ReplyRecv, MINIX's SENDNB-then-RECEIVE), so a
//! request/reply costs two traps instead of three.
//!
//! Why it is exactly the composition of SENDNB and RECEIVE: the paper's
//! trust rule says a server never blocks on a client, so the reply part is
//! a SENDNB in every respect (it fails with `NotReady` when the caller is
//! not waiting, with `DeadSrcDst` when it is gone) and the receive happens
//! whatever the reply's fate. Fault plans and the trace see the two parts
//! as they see a SENDNB and a RECEIVE (a Send or Refused record with
//! primitive SENDNB, then the receive's records), so campaigns that match
//! replies by primitive, `viv count` and `viv threats` need no new case.
//!
//! The variant [`ReceivePart::IfSent`] (`abi::syscall::REPLYRECV_IF_SENT`)
//! is for messages that must arrive rather than replies a client may lose:
//! VFS's request to the file server, the file server's answer to VFS.
//! Their sender must never block on the other side either, so it sends
//! without blocking and, when the other side is busy, posts the message by
//! SENDA; but it must do that *before* it waits, or the message is never
//! sent. So a failed send ends the call without the receive, and the
//! sender posts and then receives. The send part is the same SENDNB
//! either way (it never blocks), and when it delivers, the call is the
//! plain REPLYRECV, which is why the fast path (`ipc::fast`), which only
//! ever takes a send that delivers, serves both without looking at the
//! flag.

use crate::{Kernel, Outcome, SendMode, UserMemory};
use abi::Endpoint;

/// When REPLYRECV's receive part runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReceivePart {
    /// Whatever became of the send part (a reply a client may lose).
    Always,
    /// Only when the send part delivered, or there was none
    /// (`abi::syscall::REPLYRECV_IF_SENT`): a failed send ends the call.
    IfSent,
}

impl Kernel {
    /// REPLYRECV of `caller`: SENDNB of the message at `msg_addr` to
    /// `reply_to` (nothing when `reply_to` is `Endpoint::NONE`), then
    /// RECEIVE from `from` into the same buffer. Returns the reply's result
    /// (0 or a negative error; 0 when there was no reply) and the receive's
    /// outcome.
    pub fn reply_receive(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        reply_to: Endpoint,
        msg_addr: u64,
        from: Endpoint,
    ) -> (i64, Outcome) {
        self.reply_receive_part(mem, caller, reply_to, msg_addr, from, ReceivePart::Always)
    }

    /// [`Kernel::reply_receive`] whose receive part runs as `part` says.
    /// With [`ReceivePart::IfSent`] a failed send returns its error as
    /// both results and leaves the caller as a failed SENDNB leaves it
    /// (running, nothing received).
    pub fn reply_receive_part(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        reply_to: Endpoint,
        msg_addr: u64,
        from: Endpoint,
        part: ReceivePart,
    ) -> (i64, Outcome) {
        let replied = if reply_to == Endpoint::NONE {
            0
        } else {
            match self.send(mem, caller, reply_to, msg_addr, SendMode::NonBlocking) {
                Outcome::Done(value) => value,
                // A non-blocking send never blocks; should it, the caller
                // is already off the run queue and must not receive too.
                Outcome::Blocked => return (0, Outcome::Blocked),
            }
        };
        if replied != 0 && part == ReceivePart::IfSent {
            return (replied, Outcome::Done(replied));
        }
        (replied, self.receive(mem, caller, from, msg_addr))
    }
}
