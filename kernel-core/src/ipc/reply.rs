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

use crate::{Kernel, Outcome, SendMode, UserMemory};
use abi::Endpoint;

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
        (replied, self.receive(mem, caller, from, msg_addr))
    }
}
