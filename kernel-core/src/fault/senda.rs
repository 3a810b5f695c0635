//! Fault plans at SENDA entries: every action of the plan, Delay included.
//!
//! A SENDA entry is evaluated when the kernel is about to deliver it
//! (during the call to a destination already waiting, or at the
//! destination's RECEIVE), never when it is merely left pending: that is
//! when a SEND is evaluated too, at the moment the message would move.
//!
//! Delay holds the one entry it fired on, as it holds a SEND's sender: the
//! entry stays pending (not DONE) in the sender's table until virtual tick
//! `now + A` (at least 1), and is then delivered at the first moment its
//! destination accepts it (at once, by [`Kernel::fault_clock`], when the
//! destination already waits). Only the held entry waits: the sender does
//! not block (it never does on SENDA), and other messages to the same
//! destination, the sender's later entries included, may overtake it, as
//! other senders' messages overtake a held SEND. The delivery that ends
//! the hold is not evaluated again (it is the same event, counted once).
//!
//! Why a per-sender record and not per entry: the kernel buffers nothing
//! and keeps no state per table entry, but a hold needs to know which
//! entry it holds and until when. One record per sender slot (the entry's
//! address, its destination and its tick) is the same shape as a held
//! SEND's (`Faults::delayed_until`), bounded, and enough for a fault plan:
//! while a sender has a held entry, Delay does not match its other
//! entries (the rule is not counted as matched by them). The record ends
//! when the entry completes (delivered, or failed because its destination
//! died), when the sender ends, or when the sender hands the kernel a
//! table that no longer holds the entry's address (or has none left at
//! the entry's tick: an exec, a table that became unreadable).

use super::{act, corrupt, Site, SENDA_ACTIONS};
use crate::ipc::bit;
use crate::{Kernel, Outcome, UserMemory, NR_PROCS};
use abi::fault::Action;
use abi::senda::SENDA_ENTRY_SIZE;
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

/// SENDA entries held by Delay: at most one per sender slot.
pub(crate) struct Holds {
    /// Bit per sender slot with a held entry (before or after its tick,
    /// until the entry completes).
    senders: u64,
    /// Bit per sender slot whose held entry's tick has not come yet.
    pub(crate) waiting: u64,
    /// Per sender slot: the user address of the held entry.
    addr: [u64; NR_PROCS],
    /// Per sender slot: the tick from which the entry may be delivered.
    until: [u64; NR_PROCS],
    /// Per sender slot: the entry's destination.
    dst: [Endpoint; NR_PROCS],
}

impl Holds {
    /// None held.
    pub(crate) const NONE: Holds =
        Holds { senders: 0, waiting: 0, addr: [0; NR_PROCS], until: [0; NR_PROCS], dst: [Endpoint::NONE; NR_PROCS] };

    /// Holds the entry at `addr` of `sender`, aimed at `dst`, until `until`.
    fn hold(&mut self, sender: usize, addr: u64, dst: Endpoint, until: u64) {
        self.senders |= bit(sender);
        self.waiting |= bit(sender);
        self.addr[sender] = addr;
        self.until[sender] = until;
        self.dst[sender] = dst;
    }

    /// Forgets `sender`'s record.
    pub(crate) fn forget(&mut self, sender: usize) {
        self.senders &= !bit(sender);
        self.waiting &= !bit(sender);
    }

    /// Whether the entry at `addr` of `sender` is held and its tick has
    /// not come.
    #[inline]
    pub(crate) fn is_waiting(&self, sender: usize, addr: u64) -> bool {
        self.waiting & bit(sender) != 0 && self.addr[sender] == addr
    }

    /// Whether `sender` has an entry for `dst` whose tick has not come
    /// (so `dst` must keep its hint bit for `sender`).
    #[inline]
    pub(crate) fn waiting_for(&self, sender: usize, dst: Endpoint) -> bool {
        self.waiting & bit(sender) != 0 && self.dst[sender] == dst
    }

    /// The entry at `addr` of `sender` completed: its hold, if any, ends.
    #[inline]
    pub(crate) fn completed(&mut self, sender: usize, addr: u64) {
        if self.senders & bit(sender) != 0 && self.addr[sender] == addr {
            self.forget(sender);
        }
    }

    /// `sender` handed the kernel a table of `count` entries at
    /// `table_addr`: a hold on an entry outside it ends.
    pub(crate) fn table_replaced(&mut self, sender: usize, table_addr: u64, count: usize) {
        if self.senders & bit(sender) == 0 {
            return;
        }
        if !in_table(table_addr, count, self.addr[sender]) {
            self.forget(sender);
        }
    }

    /// The earliest tick at which a held entry becomes due.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        crate::ipc::slots_in(self.waiting).map(|s| self.until[s]).min()
    }
}

/// Whether `addr` lies in a table of `count` entries at `table_addr`.
fn in_table(table_addr: u64, count: usize, addr: u64) -> bool {
    (table_addr..table_addr.saturating_add((count * SENDA_ENTRY_SIZE) as u64)).contains(&addr)
}

/// What the plan makes of a SENDA entry's delivery.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SendaFault {
    /// Deliver the (possibly corrupted) message; with a rule, a duplicate
    /// of the delivered copy waits in its slot
    /// ([`Kernel::fault_senda_delivered`]).
    Deliver(Option<usize>),
    /// Complete the entry with this result, without delivery (Drop, Crash:
    /// success; ReturnError: the error `A`).
    Complete(Result<(), Error>),
    /// Leave the entry pending: Delay holds it.
    Hold,
}

impl Kernel {
    /// The SENDA entry at `addr` of `sender` is about to be delivered to
    /// `dst_slot` as `msg`: what the plan makes of it (FlipBits and
    /// Overwrite change `msg`). A duplicate is stored only once the entry
    /// is really delivered (an entry whose delivery fails stays pending and
    /// is evaluated anew at its next try); a held entry whose tick has come
    /// is delivered without a new evaluation.
    pub(crate) fn fault_senda(
        &mut self,
        mem: &mut impl UserMemory,
        sender: usize,
        addr: u64,
        dst_slot: usize,
        msg: &mut Message,
    ) -> SendaFault {
        let holds = &self.faults.senda_holds;
        let has_hold = holds.senders & bit(sender) != 0;
        if has_hold && holds.addr[sender] == addr {
            return if holds.waiting & bit(sender) != 0 { SendaFault::Hold } else { SendaFault::Deliver(None) };
        }
        let applicable = if has_hold { SENDA_ACTIONS & !act(Action::Delay) } else { SENDA_ACTIONS };
        let site = Site { src: sender, dst: Some(dst_slot), primitive: Trap::SendA, mtype: msg.mtype };
        let Some(fired) = self.fault_evaluate(site, applicable) else { return SendaFault::Deliver(None) };
        self.fault_common(mem, site, fired);
        match fired.action {
            Action::Drop | Action::Crash => SendaFault::Complete(Ok(())),
            // A number that is no error completes the entry as Drop does:
            // an entry's result is an error or success.
            Action::ReturnError => match Error::from_return(-i64::from(fired.a)) {
                Err(e) => SendaFault::Complete(Err(e)),
                Ok(_) => SendaFault::Complete(Ok(())),
            },
            Action::FlipBits | Action::Overwrite => {
                corrupt(msg, fired.action, fired.a, fired.b);
                SendaFault::Deliver(None)
            }
            Action::Duplicate => SendaFault::Deliver(Some(fired.rule)),
            Action::Delay => {
                let until = self.faults.now.saturating_add(u64::from(fired.a)).max(1);
                let dst = self.procs[dst_slot].endpoint;
                self.faults.senda_holds.hold(sender, addr, dst, until);
                SendaFault::Hold
            }
            Action::Hang | Action::Stop => SendaFault::Deliver(None),
        }
    }

    /// A SENDA entry that [`Self::fault_senda`] asked to duplicate was
    /// delivered to `receiver` as `msg`: the same message waits in the
    /// rule's duplicate slot for the receiver's next RECEIVE that accepts
    /// the sender, as a duplicated SEND's does. The sender's entry is
    /// completed once, by the delivery; the copy completes nothing.
    pub(crate) fn fault_senda_delivered(&mut self, duplicate: Option<usize>, receiver: usize, msg: &Message) {
        if let Some(rule) = duplicate {
            self.fault_store_duplicate(rule, receiver, msg);
        }
    }

    /// The clock's part for SENDA: every held entry whose tick has come
    /// may be delivered now; to a destination that waits for it, it is.
    pub(crate) fn fault_release_senda(&mut self, mem: &mut impl UserMemory, now: u64) {
        for sender in crate::ipc::slots_in(self.faults.senda_holds.waiting) {
            if self.faults.senda_holds.until[sender] > now {
                continue;
            }
            self.faults.senda_holds.waiting &= !bit(sender);
            let addr = self.faults.senda_holds.addr[sender];
            let table_holds_it = self.procs[sender].senda_table.is_some_and(|t| in_table(t.addr, t.count, addr));
            let Some(dst) = self.live_slot(self.faults.senda_holds.dst[sender]).ok().filter(|_| table_holds_it) else {
                // Its destination is gone (the exit completed the entry),
                // or its sender's table (an exec, an unreadable table).
                self.faults.senda_holds.forget(sender);
                continue;
            };
            self.procs[dst].async_from |= bit(sender);
            if self.accepts_kernel_message(dst, self.procs[sender].endpoint) {
                let wait = self.procs[dst].receiving.expect("a waiting receiver");
                if let Some(Outcome::Done(result)) = self.receive_async(mem, dst, wait.from, wait.msg_addr) {
                    self.wake(mem, dst, result);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "../tests/fault_senda.rs"]
mod tests;
