//! SEND, SENDNB and SENDREC: a message moves straight from the sender's
//! memory to the receiver's when the receiver is waiting; otherwise a
//! SEND (or the send half of a SENDREC) waits in the destination's FIFO of
//! senders, with the message still in the sender's memory.

use crate::deadlock::BlockingOp;
use crate::proc::{RecvWait, SendWait};
use crate::{CopyFault, Kernel, MessageCopy, MessageHead, Outcome, SendMode, UserMemory};
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::Trap;
use abi::trace::Kind;
use abi::{Endpoint, Error};

impl Kernel {
    /// SEND / SENDNB from `caller` to `dst` of the message at `msg_addr`.
    pub fn send(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst: Endpoint,
        msg_addr: u64,
        mode: SendMode,
    ) -> Outcome {
        let trap = match mode {
            SendMode::Blocking => Trap::Send,
            SendMode::NonBlocking => Trap::SendNb,
        };
        if self.trace.enabled {
            self.open_cause(caller);
        }
        let outcome = match self.check_trap(caller, trap).and_then(|()| self.destination_slot(caller, dst)) {
            Ok(dst_slot) => self.send_to_slot(mem, caller, dst_slot, msg_addr, trap),
            Err(e) => Outcome::err(e),
        };
        if self.trace.enabled {
            if let Outcome::Done(r @ ..=-1) = outcome {
                self.trace_refusal(mem, trap as u8, caller, dst.0, r);
            }
        }
        outcome
    }

    /// SENDREC: send the message at `msg_addr` to `dst`, then receive the
    /// reply from `dst` into the same buffer. The caller cannot be reached
    /// by anyone but `dst` until the reply arrives; notifications and SENDA
    /// messages, even from `dst`, wait until it does.
    pub fn sendrec(&mut self, mem: &mut impl UserMemory, caller: usize, dst: Endpoint, msg_addr: u64) -> Outcome {
        if self.trace.enabled {
            self.open_cause(caller);
            let outcome = self.sendrec_inner(mem, caller, dst, msg_addr);
            if let Outcome::Done(r @ ..=-1) = outcome {
                self.trace_refusal(mem, Trap::SendRec as u8, caller, dst.0, r);
            }
            return outcome;
        }
        self.sendrec_inner(mem, caller, dst, msg_addr)
    }

    #[inline(always)]
    fn sendrec_inner(&mut self, mem: &mut impl UserMemory, caller: usize, dst: Endpoint, msg_addr: u64) -> Outcome {
        if let Err(e) = self.check_trap(caller, Trap::SendRec) {
            return Outcome::err(e);
        }
        let dst_slot = match self.destination_slot(caller, dst) {
            Ok(slot) => slot,
            Err(e) => return Outcome::err(e),
        };
        if let Err(e) = mem.check_message(caller, msg_addr, true) {
            return Outcome::err(e);
        }
        // Waiting for the reply is set up before the send so that the send
        // and the receive are one step: a reply can never slip in between.
        self.procs[caller].receiving = Some(RecvWait { from: dst, msg_addr, reply: true });
        match self.send_to_slot(mem, caller, dst_slot, msg_addr, Trap::SendRec) {
            Outcome::Done(0) => {
                self.block(caller);
                Outcome::Blocked
            }
            Outcome::Done(err) => {
                self.procs[caller].receiving = None;
                Outcome::Done(err)
            }
            Outcome::Blocked => Outcome::Blocked,
        }
    }

    /// The send itself, after the privilege and endpoint checks. Inlined
    /// for the common case, a receiver already waiting and no fault rule
    /// that can match (no plan, or the plan's pre-filter turns the send
    /// away: an experiment's plan targets a few processes): one copy and
    /// the wake-up. Everything else (fault rules, queueing, refusals) is
    /// [`Self::send_general`], out of line.
    #[inline(always)]
    fn send_to_slot(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst_slot: usize,
        msg_addr: u64,
        trap: Trap,
    ) -> Outcome {
        if self.waits_for(dst_slot, caller)
            && (!self.faults.enabled || !self.fault_may_match(caller, Some(dst_slot), trap))
        {
            // `None`: the receiver's buffer went bad; it was woken with the
            // error and waits no more, so the general path refuses (SENDNB)
            // or queues the message.
            if let Some(outcome) = self.send_direct(mem, caller, dst_slot, msg_addr, trap) {
                return outcome;
            }
        }
        self.send_general(mem, caller, dst_slot, msg_addr, trap)
    }

    /// [`Self::send_to_slot`] in full: fault rules, delivery, queueing.
    #[inline(never)]
    fn send_general(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst_slot: usize,
        msg_addr: u64,
        trap: Trap,
    ) -> Outcome {
        let mut fired = None;
        if self.faults.enabled {
            match self.fault_send(mem, caller, dst_slot, msg_addr, trap) {
                Ok(f) => fired = f,
                Err(outcome) => return outcome,
            }
        }
        let delayed = fired.is_some_and(|f| f.action == abi::fault::Action::Delay);
        if fired.is_none() && self.waits_for(dst_slot, caller) {
            // No rule fired: one copy, straight from page to page. On a bad
            // receiver buffer the receiver got the error and the message
            // counts as not taken (below).
            if let Some(outcome) = self.send_direct(mem, caller, dst_slot, msg_addr, trap) {
                return outcome;
            }
        } else if !delayed && self.waits_for(dst_slot, caller) {
            let mut msg = match mem.read_message(caller, msg_addr) {
                Ok(m) => m,
                Err(e) => return Outcome::err(e),
            };
            if msg.mtype == NOTIFY_MTYPE && !self.weak.notify_type {
                return Outcome::err(Error::Invalid);
            }
            if !self.weak.source_stamp {
                msg.source = self.procs[caller].endpoint;
            }
            if let Some(f) = fired {
                self.fault_on_delivery(f, dst_slot, &mut msg);
            }
            // On a bad receiver buffer the receiver gets the error and the
            // message counts as not taken (never lost silently).
            if self.deliver(mem, dst_slot, &msg).is_ok() {
                if self.trace.enabled {
                    self.trace_message(mem, Kind::Send, trap as u8, caller, dst_slot, MessageHead::of(&msg), true);
                }
                return Outcome::Done(0);
            }
        }
        if trap == Trap::SendNb {
            return Outcome::err(Error::NotReady);
        }
        if let Err(e) = mem.check_message(caller, msg_addr, false) {
            return Outcome::err(e);
        }
        if self.would_deadlock(caller, dst_slot, BlockingOp::Send) {
            return Outcome::err(Error::Locked);
        }
        self.procs[caller].sending = Some(SendWait { dst: dst_slot, msg_addr });
        self.append_sender(dst_slot, caller);
        if let Some(f) = fired {
            self.fault_on_queue(mem, f, caller, dst_slot, msg_addr);
        }
        if self.trace.enabled {
            let head = MessageHead { mtype: 0, args: [0; 2] };
            self.trace_message(mem, Kind::SendQueued, trap as u8, caller, dst_slot, head, false);
        }
        self.block(caller);
        Outcome::Blocked
    }

    /// Delivers the message at `msg_addr` of `caller` to `dst_slot`,
    /// which waits for it, and records the Send. `None` when the
    /// receiver's buffer went bad (see [`Self::deliver_direct`]).
    #[inline(always)]
    fn send_direct(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst_slot: usize,
        msg_addr: u64,
        trap: Trap,
    ) -> Option<Outcome> {
        match self.deliver_direct(mem, caller, dst_slot, msg_addr) {
            Ok(head) => {
                if self.trace.enabled {
                    self.trace_message(mem, Kind::Send, trap as u8, caller, dst_slot, head, true);
                }
                Some(Outcome::Done(0))
            }
            Err(Some(e)) => Some(Outcome::err(e)),
            Err(None) => None,
        }
    }

    /// The copy of `sender`'s message at `msg_addr` into `receiver`'s
    /// buffer at `to_addr`, stamped with the sender's endpoint and refusing
    /// the notification type, unless those defenses are weakened. The one
    /// place both the general and the fast path take it from.
    #[inline(always)]
    pub(crate) fn message_copy(&self, sender: usize, msg_addr: u64, receiver: usize, to_addr: u64) -> MessageCopy {
        MessageCopy {
            from: sender,
            from_addr: msg_addr,
            to: receiver,
            to_addr,
            source: if self.weak.source_stamp { None } else { Some(self.procs[sender].endpoint) },
            refused_type: if self.weak.notify_type { None } else { Some(NOTIFY_MTYPE) },
        }
    }

    /// Delivers the message at `msg_addr` of `caller` to `receiver`, which
    /// waits for it, with one copy from page to page, and wakes the
    /// receiver. `Err(Some(e))`: refused, nothing delivered, the caller
    /// gets `e` (its buffer is bad, or a forged notification type).
    /// `Err(None)`: the receiver's buffer is bad; it was woken with the
    /// error and the message is not taken.
    #[inline(always)]
    fn deliver_direct(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        receiver: usize,
        msg_addr: u64,
    ) -> Result<MessageHead, Option<Error>> {
        let to_addr = self.procs[receiver].receiving.expect("deliver to a receiving process").msg_addr;
        match mem.copy_message(self.message_copy(caller, msg_addr, receiver, to_addr)) {
            Ok(head) => {
                self.wake(mem, receiver, 0);
                Ok(head)
            }
            Err(CopyFault::Source(e)) => Err(Some(e)),
            Err(CopyFault::RefusedType) => Err(Some(Error::Invalid)),
            Err(CopyFault::Destination(e)) => {
                self.wake(mem, receiver, e.to_return());
                Err(None)
            }
        }
    }
}
