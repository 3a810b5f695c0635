//! The rendezvous IPC primitives (SEND, SENDNB, RECEIVE, SENDREC, REPLYRECV), the
//! cleanup that keeps nobody waiting on a dead process, and the helpers
//! every primitive shares (privilege checks, delivery, sender queues).
//!
//! A call either completes at once ([`Outcome::Done`] with the value for
//! `rax`) or blocks the caller ([`Outcome::Blocked`]); a blocked process is
//! resumed later by another process's call, which stores its result through
//! [`UserMemory::set_result`].
//!
//! Every primitive checks in the same order, as MINIX does: the trap mask
//! (`TrapDenied`), the peer endpoint (`DeadSrcDst`, `Invalid` for the
//! caller itself), the send mask (`CallDenied`), then, only when it would
//! block, the message buffer (`Fault`) and the deadlock check (`Locked`).

mod exit;
mod fast;
mod receive;
mod reply;
mod send;

pub use fast::{Fallback, Switch};
pub use reply::ReceivePart;

use crate::privileges::Privileges;
use crate::{Kernel, UserMemory};
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

/// What a primitive did to its caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Finished; the caller's trap returns this value.
    Done(i64),
    /// The caller is blocked; someone else's call will finish it.
    Blocked,
}

impl Outcome {
    pub(crate) fn err(e: Error) -> Outcome {
        Outcome::Done(e.to_return())
    }
}

/// Whether a send may block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendMode {
    /// SEND: wait in the destination's queue.
    Blocking,
    /// SENDNB: fail with `NotReady` instead of waiting.
    NonBlocking,
}

impl Kernel {
    /// `TrapDenied` unless `caller` may use `trap`.
    pub(crate) fn check_trap(&self, caller: usize, trap: Trap) -> Result<(), Error> {
        if self.procs[caller].privileges.allows_trap(trap) || self.weak.trap_mask {
            Ok(())
        } else {
            Err(Error::TrapDenied)
        }
    }

    /// The slot of destination `dst` of a send-like primitive of `caller`:
    /// `DeadSrcDst` when not live, `Invalid` for the caller itself,
    /// `CallDenied` when outside the caller's send mask.
    #[inline(always)]
    pub(crate) fn destination_slot(&self, caller: usize, dst: Endpoint) -> Result<usize, Error> {
        let slot = self.live_slot(dst)?;
        if slot == caller {
            return Err(Error::Invalid);
        }
        if !self.procs[caller].privileges.allows_send_to(self.procs[slot].privilege_id.into()) && !self.weak.send_mask {
            return Err(Error::CallDenied);
        }
        Ok(slot)
    }

    /// True when `receiver` is blocked in a receive that accepts a message
    /// SENT by `sender` (and not still in the send half of its own
    /// SENDREC). A SENDREC's reply wait accepts its destination.
    pub(crate) fn waits_for(&self, receiver: usize, sender: usize) -> bool {
        let r = &self.procs[receiver];
        r.sending.is_none()
            && r.receiving.is_some_and(|w| w.from == Endpoint::ANY || w.from == self.procs[sender].endpoint)
    }

    /// True when `receiver` is blocked in a plain RECEIVE that accepts a
    /// kernel-built message (notification or SENDA entry) from `source`.
    /// The reply wait of a SENDREC accepts none: only the real reply ends
    /// it.
    pub(crate) fn accepts_kernel_message(&self, receiver: usize, source: Endpoint) -> bool {
        let r = &self.procs[receiver];
        r.sending.is_none() && r.receiving.is_some_and(|w| !w.reply && (w.from == Endpoint::ANY || w.from == source))
    }

    /// Copies `msg` into the buffer of the blocked `receiver` and wakes it
    /// with 0. When its buffer has gone bad the receiver is woken with the
    /// error instead and the error is returned: the message was not taken.
    pub(crate) fn deliver(&mut self, mem: &mut impl UserMemory, receiver: usize, msg: &Message) -> Result<(), Error> {
        let wait = self.procs[receiver].receiving.expect("deliver to a receiving process");
        match mem.write_message(receiver, wait.msg_addr, msg) {
            Ok(()) => {
                self.wake(mem, receiver, 0);
                Ok(())
            }
            Err(e) => {
                self.wake(mem, receiver, e.to_return());
                Err(e)
            }
        }
    }

    /// Ends the wait of `slot` with `result` and makes it ready.
    #[inline]
    pub(crate) fn wake(&mut self, mem: &mut impl UserMemory, slot: usize, result: i64) {
        self.procs[slot].receiving = None;
        mem.set_result(slot, result);
        self.run_queues.enqueue(&mut self.procs, slot);
    }

    /// Blocks `slot` (takes it off its run queue).
    #[inline(always)]
    pub(crate) fn block(&mut self, slot: usize) {
        self.run_queues.dequeue(&mut self.procs, slot);
    }

    pub(crate) fn append_sender(&mut self, dst: usize, sender: usize) {
        self.procs[sender].next_sender = None;
        match self.procs[dst].senders.1 {
            Some(tail) => self.procs[tail as usize].next_sender = Some(sender as u16),
            None => self.procs[dst].senders.0 = Some(sender as u16),
        }
        self.procs[dst].senders.1 = Some(sender as u16);
    }

    pub(crate) fn unlink_sender(&mut self, dst: usize, sender: usize) {
        let mut prev: Option<u16> = None;
        let mut cur = self.procs[dst].senders.0;
        while let Some(c) = cur {
            let next = self.procs[c as usize].next_sender;
            if c as usize == sender {
                match prev {
                    Some(p) => self.procs[p as usize].next_sender = next,
                    None => self.procs[dst].senders.0 = next,
                }
                if self.procs[dst].senders.1 == Some(c) {
                    self.procs[dst].senders.1 = prev;
                }
                self.procs[sender].next_sender = None;
                return;
            }
            prev = cur;
            cur = next;
        }
    }
}

/// The slots whose bits are set in `bits`, lowest first.
pub(crate) fn slots_in(mut bits: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let slot = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        Some(slot)
    })
}

/// The bit of `slot` in a per-slot bitmap.
pub(crate) const fn bit(slot: usize) -> u64 {
    Privileges::slot_bit(slot)
}
