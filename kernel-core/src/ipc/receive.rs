//! RECEIVE: take, in MINIX's order, a pending notification, then the first
//! queued sender (FIFO), then a pending SENDA message; else block.
//!
//! The two kernel-built kinds are guarded by per-process bitmaps, so a
//! RECEIVE with nothing of theirs pending costs two compares over the plain
//! rendezvous.

use crate::deadlock::BlockingOp;
use crate::proc::RecvWait;
use crate::{Kernel, MessageHead, Outcome, UserMemory};
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::Trap;
use abi::trace::Kind;
use abi::{Endpoint, Error};

impl Kernel {
    /// RECEIVE into `msg_addr` from `from`: a process endpoint, ANY, or
    /// SYSTEM (kernel notifications only).
    pub fn receive(&mut self, mem: &mut impl UserMemory, caller: usize, from: Endpoint, msg_addr: u64) -> Outcome {
        if self.trace.enabled {
            let outcome = self.receive_inner(mem, caller, from, msg_addr);
            if let Outcome::Done(r @ ..=-1) = outcome {
                self.trace_refusal(mem, Trap::Receive as u8, caller, from.0, r);
            }
            return outcome;
        }
        self.receive_inner(mem, caller, from, msg_addr)
    }

    #[inline(always)]
    fn receive_inner(&mut self, mem: &mut impl UserMemory, caller: usize, from: Endpoint, msg_addr: u64) -> Outcome {
        if let Err(e) = self.check_trap(caller, Trap::Receive) {
            return Outcome::err(e);
        }
        if from != Endpoint::ANY && from != Endpoint::SYSTEM {
            match self.live_slot(from) {
                Ok(slot) if slot == caller => return Outcome::err(Error::Invalid),
                Ok(_) => {}
                Err(e) => return Outcome::err(e),
            }
        }
        let p = &self.procs[caller];
        if p.notify_pending != 0 || p.system_notify_pending.is_some() {
            if let Some(outcome) = self.receive_notification(mem, caller, from, msg_addr) {
                return outcome;
            }
        }
        if self.faults.dup_pending & crate::ipc::bit(caller) != 0 {
            if let Some(outcome) = self.fault_receive_duplicate(mem, caller, from, msg_addr) {
                return outcome;
            }
        }
        // An empty sender queue (a server waiting for its next request)
        // costs one compare, not a call.
        if self.procs[caller].senders.0.is_some() {
            if let Some(outcome) = self.receive_from_queue(mem, caller, from, msg_addr) {
                return outcome;
            }
        }
        if self.procs[caller].async_from != 0 {
            if let Some(outcome) = self.receive_async(mem, caller, from, msg_addr) {
                return outcome;
            }
        }
        if let Err(e) = mem.check_message(caller, msg_addr, true) {
            return Outcome::err(e);
        }
        if from.is_process() && self.would_deadlock(caller, from.slot(), BlockingOp::Receive) {
            return Outcome::err(Error::Locked);
        }
        self.procs[caller].receiving = Some(RecvWait { from, msg_addr, reply: false });
        self.block(caller);
        Outcome::Blocked
    }

    /// Takes the first queued sender that `from` accepts, if any.
    fn receive_from_queue(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        from: Endpoint,
        msg_addr: u64,
    ) -> Option<Outcome> {
        let mut cur = self.procs[caller].senders.0;
        while let Some(s) = cur {
            let sender = s as usize;
            cur = self.procs[sender].next_sender;
            if from != Endpoint::ANY && self.procs[sender].endpoint != from {
                continue;
            }
            if self.faults.delayed != 0 && self.fault_held(sender) {
                continue;
            }
            let wait = self.procs[sender].sending.expect("queued senders are sending");
            let mut msg = match mem.read_message(sender, wait.msg_addr) {
                Ok(m) => m,
                Err(e) => {
                    // The sender's buffer went bad while it waited: fail
                    // that sender and look further.
                    self.unlink_sender(caller, sender);
                    self.procs[sender].sending = None;
                    self.wake(mem, sender, e.to_return());
                    continue;
                }
            };
            if msg.mtype == NOTIFY_MTYPE && !self.weak.notify_type {
                // Only the kernel builds notifications: the sender's
                // message is refused, not delivered.
                let primitive = if self.procs[sender].receiving.is_some() { Trap::SendRec } else { Trap::Send };
                let refused = Error::Invalid.to_return();
                self.unlink_sender(caller, sender);
                self.procs[sender].sending = None;
                self.wake(mem, sender, refused);
                if self.trace.enabled {
                    self.trace_refusal(mem, primitive as u8, sender, self.procs[caller].endpoint.0, refused);
                }
                continue;
            }
            if !self.weak.source_stamp {
                msg.source = self.procs[sender].endpoint;
            }
            if self.faults.enabled {
                self.fault_corrupt_queued(sender, &mut msg);
            }
            if let Err(e) = mem.write_message(caller, msg_addr, &msg) {
                return Some(Outcome::err(e));
            }
            self.unlink_sender(caller, sender);
            self.procs[sender].sending = None;
            if self.trace.enabled {
                self.trace_message(
                    mem,
                    Kind::Receive,
                    Trap::Receive as u8,
                    sender,
                    caller,
                    MessageHead::of(&msg),
                    true,
                );
            }
            if self.procs[sender].receiving.is_none() {
                self.wake(mem, sender, 0);
            }
            return Some(Outcome::Done(0));
        }
        None
    }
}
