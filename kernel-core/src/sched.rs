//! Ready queues: one FIFO per priority, threaded through the process table
//! so that enqueueing never allocates.
//!
//! The FIFOs are doubly linked (`next_ready`, `prev_ready`, slot numbers
//! with [`NO_SLOT`] for none), so taking a process off its queue when it
//! blocks is a constant handful of stores instead of a walk of the queue:
//! every IPC that blocks its caller does it, and kernel instructions are
//! the currency on software-KVM hosts.

use crate::proc::Proc;
use crate::{NR_PRIORITIES, NR_PROCS};

/// "No slot" in the ready links.
pub const NO_SLOT: u8 = u8::MAX;

const _: () = assert!(NR_PROCS < NO_SLOT as usize);

/// Heads and tails of the per-priority ready FIFOs, and a bitmap of the
/// non-empty ones so that picking the next process is one bit scan instead
/// of a walk over every priority (kernel instructions are expensive).
#[derive(Clone, Copy, Debug)]
pub struct RunQueues {
    heads: [u8; NR_PRIORITIES],
    tails: [u8; NR_PRIORITIES],
    nonempty: u32,
}

const _: () = assert!(NR_PRIORITIES <= 32 && NR_PRIORITIES.is_power_of_two());

impl Default for RunQueues {
    fn default() -> Self {
        Self::new()
    }
}

impl RunQueues {
    /// Empty queues.
    pub const fn new() -> RunQueues {
        RunQueues { heads: [NO_SLOT; NR_PRIORITIES], tails: [NO_SLOT; NR_PRIORITIES], nonempty: 0 }
    }

    /// The first process of the highest non-empty priority.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        if self.nonempty == 0 {
            return None;
        }
        Some(usize::from(self.heads[self.nonempty.trailing_zeros() as usize]))
    }

    /// Appends `slot` to its priority's queue (no-op if queued). Inlined:
    /// every IPC that wakes a process does it.
    #[inline(always)]
    pub fn enqueue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if procs[slot].queued || procs[slot].hung {
            return;
        }
        let q = procs[slot].priority as usize;
        let tail = self.tails[q];
        procs[slot].queued = true;
        procs[slot].next_ready = NO_SLOT;
        procs[slot].prev_ready = tail;
        if tail == NO_SLOT {
            self.heads[q] = slot as u8;
            self.nonempty |= 1 << q;
        } else {
            procs[usize::from(tail)].next_ready = slot as u8;
        }
        self.tails[q] = slot as u8;
    }

    /// Removes `slot` from its queue (no-op if not queued). Inlined: every
    /// IPC that blocks its caller does it.
    #[inline(always)]
    pub fn dequeue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if !procs[slot].queued {
            return;
        }
        let q = procs[slot].priority as usize;
        let (prev, next) = (procs[slot].prev_ready, procs[slot].next_ready);
        if prev == NO_SLOT {
            self.heads[q] = next;
            if next == NO_SLOT {
                self.nonempty &= !(1 << q);
            }
        } else {
            procs[usize::from(prev)].next_ready = next;
        }
        if next == NO_SLOT {
            self.tails[q] = prev;
        } else {
            procs[usize::from(next)].prev_ready = prev;
        }
        procs[slot].queued = false;
        procs[slot].next_ready = NO_SLOT;
        procs[slot].prev_ready = NO_SLOT;
    }

    /// [`Self::dequeue`] of `from` and [`Self::enqueue`] of `to` at once,
    /// in the case the IPC fast path meets most: `from` (the caller) is
    /// the only ready process and `to` (its partner) is not queued. Then
    /// both queues hold one process or none, so the result is a handful of
    /// stores. Returns false, with nothing changed, in every other case.
    #[inline(always)]
    pub fn hand_over(&mut self, procs: &mut [Proc; NR_PROCS], from: usize, to: usize) -> bool {
        // `spawn` keeps every priority below NR_PRIORITIES (a power of
        // two), so the mask changes nothing and spares the bounds checks.
        const MASK: usize = NR_PRIORITIES - 1;
        let (pf, pt) = (usize::from(procs[from].priority), usize::from(procs[to].priority));
        debug_assert!(pf < NR_PRIORITIES && pt < NR_PRIORITIES);
        let (pf, pt) = (pf & MASK, pt & MASK);
        if self.nonempty != 1 << pf {
            return false;
        }
        if self.heads[pf] != from as u8 || self.tails[pf] != from as u8 || procs[to].queued || procs[to].hung {
            return false;
        }
        // Alone in its queue, `from` has no neighbours; `to`, not queued,
        // has none either (dequeue and spawn leave NO_SLOT links).
        self.heads[pf] = NO_SLOT;
        self.tails[pf] = NO_SLOT;
        self.heads[pt] = to as u8;
        self.tails[pt] = to as u8;
        self.nonempty = 1 << pt;
        procs[from].queued = false;
        procs[to].queued = true;
        true
    }

    /// Moves `slot` to the back of its queue.
    pub fn rotate(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        self.dequeue(procs, slot);
        self.enqueue(procs, slot);
    }
}
