//! The rendezvous IPC primitives: SEND, SENDNB, RECEIVE, SENDREC, and the
//! cleanup that keeps nobody waiting on a dead process.
//!
//! A call either completes at once ([`Outcome::Done`] with the value for
//! `rax`) or blocks the caller ([`Outcome::Blocked`]); a blocked process is
//! resumed later by another process's call, which stores its result through
//! [`UserMemory::set_result`].

use crate::proc::{RecvWait, SendWait};
use crate::{Kernel, UserMemory};
use abi::{Endpoint, Error};

/// What a primitive did to its caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Finished; the caller's trap returns this value.
    Done(i64),
    /// The caller is blocked; someone else's call will finish it.
    Blocked,
}

impl Outcome {
    fn err(e: Error) -> Outcome {
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
    /// SEND / SENDNB from `caller` to `dst` of the message at `msg_addr`.
    pub fn send(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst: Endpoint,
        msg_addr: u64,
        mode: SendMode,
    ) -> Outcome {
        let dst_slot = match self.live_slot(dst) {
            Ok(slot) if slot == caller => return Outcome::err(Error::Invalid),
            Ok(slot) => slot,
            Err(e) => return Outcome::err(e),
        };
        if self.waits_for(dst_slot, caller) {
            let mut msg = match mem.read_message(caller, msg_addr) {
                Ok(m) => m,
                Err(e) => return Outcome::err(e),
            };
            msg.source = self.procs[caller].endpoint;
            let wait = self.procs[dst_slot].receiving.expect("waits_for checked it");
            match mem.write_message(dst_slot, wait.msg_addr, &msg) {
                Ok(()) => {
                    self.wake(mem, dst_slot, 0);
                    return Outcome::Done(0);
                }
                // The receiver's buffer went bad: it gets the error, and the
                // message is treated as not taken (never lost silently).
                Err(e) => self.wake(mem, dst_slot, e.to_return()),
            }
        }
        if mode == SendMode::NonBlocking {
            return Outcome::err(Error::NotReady);
        }
        if let Err(e) = mem.check_message(caller, msg_addr, false) {
            return Outcome::err(e);
        }
        self.procs[caller].sending = Some(SendWait { dst: dst_slot, msg_addr });
        self.append_sender(dst_slot, caller);
        self.run_queues.dequeue(&mut self.procs, caller);
        Outcome::Blocked
    }

    /// RECEIVE into `msg_addr` from `from` (a process endpoint or ANY).
    pub fn receive(&mut self, mem: &mut impl UserMemory, caller: usize, from: Endpoint, msg_addr: u64) -> Outcome {
        if from != Endpoint::ANY {
            match self.live_slot(from) {
                Ok(slot) if slot == caller => return Outcome::err(Error::Invalid),
                Ok(_) => {}
                Err(e) => return Outcome::err(e),
            }
        }
        let mut cur = self.procs[caller].senders.0;
        while let Some(s) = cur {
            let sender = s as usize;
            cur = self.procs[sender].next_sender;
            if from != Endpoint::ANY && self.procs[sender].endpoint != from {
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
            msg.source = self.procs[sender].endpoint;
            if let Err(e) = mem.write_message(caller, msg_addr, &msg) {
                return Outcome::err(e);
            }
            self.unlink_sender(caller, sender);
            self.procs[sender].sending = None;
            if self.procs[sender].receiving.is_none() {
                self.wake(mem, sender, 0);
            }
            return Outcome::Done(0);
        }
        if let Err(e) = mem.check_message(caller, msg_addr, true) {
            return Outcome::err(e);
        }
        self.procs[caller].receiving = Some(RecvWait { from, msg_addr });
        self.run_queues.dequeue(&mut self.procs, caller);
        Outcome::Blocked
    }

    /// SENDREC: send the message at `msg_addr` to `dst`, then receive the
    /// reply from `dst` into the same buffer. The caller cannot be reached
    /// by anyone but `dst` until the reply arrives.
    pub fn sendrec(&mut self, mem: &mut impl UserMemory, caller: usize, dst: Endpoint, msg_addr: u64) -> Outcome {
        if let Err(e) = mem.check_message(caller, msg_addr, true) {
            return Outcome::err(e);
        }
        // Waiting for the reply is set up before the send so that the send
        // and the receive are one step: a reply can never slip in between.
        self.procs[caller].receiving = Some(RecvWait { from: dst, msg_addr });
        match self.send(mem, caller, dst, msg_addr, SendMode::Blocking) {
            Outcome::Done(0) => {
                self.run_queues.dequeue(&mut self.procs, caller);
                Outcome::Blocked
            }
            Outcome::Done(err) => {
                self.procs[caller].receiving = None;
                Outcome::Done(err)
            }
            Outcome::Blocked => Outcome::Blocked,
        }
    }

    /// Removes process `slot` from the system: takes it out of every queue,
    /// wakes processes blocked sending to it (`DstDied`) and processes
    /// waiting to receive from it (`SrcDied`), and frees the slot.
    pub fn exit(&mut self, mem: &mut impl UserMemory, slot: usize) {
        let ep = self.procs[slot].endpoint;
        self.run_queues.dequeue(&mut self.procs, slot);
        if let Some(wait) = self.procs[slot].sending.take() {
            self.unlink_sender(wait.dst, slot);
        }
        self.procs[slot].receiving = None;
        let mut cur = self.procs[slot].senders.0;
        while let Some(s) = cur {
            let sender = s as usize;
            cur = self.procs[sender].next_sender;
            self.procs[sender].next_sender = None;
            self.procs[sender].sending = None;
            self.wake(mem, sender, Error::DstDied.to_return());
        }
        self.procs[slot].senders = (None, None);
        for other in 0..self.procs.len() {
            let p = &self.procs[other];
            if other != slot && p.sending.is_none() && p.receiving.is_some_and(|r| r.from == ep) {
                self.wake(mem, other, Error::SrcDied.to_return());
            }
        }
        let next_generation = self.procs[slot].next_generation;
        self.procs[slot] = crate::Proc::EMPTY;
        self.procs[slot].next_generation = next_generation;
    }

    /// True when `receiver` is blocked in a receive that accepts `sender`
    /// (and not still in the send half of its own SENDREC).
    fn waits_for(&self, receiver: usize, sender: usize) -> bool {
        let r = &self.procs[receiver];
        r.sending.is_none()
            && r.receiving.is_some_and(|w| w.from == Endpoint::ANY || w.from == self.procs[sender].endpoint)
    }

    /// Ends the wait of `slot` with `result` and makes it ready.
    fn wake(&mut self, mem: &mut impl UserMemory, slot: usize, result: i64) {
        self.procs[slot].receiving = None;
        mem.set_result(slot, result);
        self.run_queues.enqueue(&mut self.procs, slot);
    }

    fn append_sender(&mut self, dst: usize, sender: usize) {
        self.procs[sender].next_sender = None;
        match self.procs[dst].senders.1 {
            Some(tail) => self.procs[tail as usize].next_sender = Some(sender as u16),
            None => self.procs[dst].senders.0 = Some(sender as u16),
        }
        self.procs[dst].senders.1 = Some(sender as u16);
    }

    fn unlink_sender(&mut self, dst: usize, sender: usize) {
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
