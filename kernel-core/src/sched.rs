//! Ready queues: one FIFO per priority, threaded through the process table
//! so that enqueueing never allocates, and the running process kept out
//! of them ("lazy" scheduling, as in seL4).
//!
//! The FIFOs are doubly linked (`next_ready`, `prev_ready`, slot numbers
//! with [`NO_SLOT`] for none), so taking a process off its queue when it
//! blocks is a constant handful of stores instead of a walk of the queue.
//!
//! Why the running process is not linked: every IPC round trip blocks the
//! running process and wakes its partner, which then runs. With the
//! running process in its queue that is a dequeue and an enqueue per
//! entry; kept beside the queues ([`RunQueues::running`]) it is one test
//! (would the partner be the scheduler's choice?) and two stores
//! ([`RunQueues::pass_running`]), and the partner is linked only when it
//! stops running while still ready ([`RunQueues::run_first`]).
//!
//! What the scheduler decides does not change: the running process
//! stands for the first entry of its priority's queue, which is where it
//! was while it stayed linked (it was the first of the highest non-empty
//! queue when it was chosen, and whatever became ready since went behind
//! it or into a higher queue). So every question about the queues
//! ([`RunQueues::first`], [`RunQueues::enqueue`], [`RunQueues::dequeue`],
//! [`RunQueues::rotate`]) answers as it did for the linked queues, the
//! running process counted at the front of its own; it goes back into
//! its queue at the front when a process of a higher priority is chosen
//! over it, and at the back when its quantum ran out (`rotate`).

use crate::proc::Proc;
use crate::{NR_PRIORITIES, NR_PROCS};

/// "No slot" in the ready links.
pub const NO_SLOT: u8 = u8::MAX;

const _: () = assert!(NR_PROCS < NO_SLOT as usize);

/// Heads and tails of the per-priority ready FIFOs, and a bitmap of the
/// non-empty ones so that picking the next process is one bit scan instead
/// of a walk over every priority (kernel instructions are expensive); and
/// the running process, ready but in no FIFO.
#[derive(Clone, Copy, Debug)]
pub struct RunQueues {
    heads: [u8; NR_PRIORITIES],
    tails: [u8; NR_PRIORITIES],
    nonempty: u32,
    /// The process last chosen to run, while it stays ready: the first of
    /// its priority's queue, but not linked into it ([`NO_SLOT`]: none).
    running: u8,
    /// The running process's `Proc::queues_ahead` (its priority's queue
    /// and every higher one's), or every bit when none runs: it stays the
    /// scheduler's choice while `nonempty << 1` has none of these bits
    /// (no higher queue holds anyone), which with none running is while
    /// every queue is empty. One test for the choice either way.
    running_ahead: u32,
}

const _: () = assert!(NR_PRIORITIES < 32 && NR_PRIORITIES.is_power_of_two());

impl Default for RunQueues {
    fn default() -> Self {
        Self::new()
    }
}

impl RunQueues {
    /// Empty queues.
    pub const fn new() -> RunQueues {
        RunQueues {
            heads: [NO_SLOT; NR_PRIORITIES],
            tails: [NO_SLOT; NR_PRIORITIES],
            nonempty: 0,
            running: NO_SLOT,
            running_ahead: u32::MAX,
        }
    }

    /// The running process, if it is still ready ([`Self::run_first`]).
    #[inline(always)]
    pub fn running(&self) -> Option<usize> {
        (self.running != NO_SLOT).then_some(usize::from(self.running))
    }

    /// Whether the running process, or none when none runs, is the
    /// scheduler's choice: no queue of a higher priority holds anyone
    /// (the running process is ahead of everyone of its own).
    #[inline(always)]
    fn running_stays(&self) -> bool {
        (self.nonempty << 1) & self.running_ahead == 0
    }

    /// The process the scheduler chooses: the first of the highest
    /// non-empty queue, the running process counted first in its own.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        if self.running_stays() {
            return self.running();
        }
        Some(usize::from(self.heads[self.nonempty.trailing_zeros() as usize]))
    }

    /// [`Self::first`], made the running process: taken off the front of
    /// its queue, and the running process it replaces, if still ready,
    /// put back at the front of its own (it was first there, and stays
    /// first). What the CPU is given to whenever the scheduler chooses.
    /// Inlined: every entry that does not end in a direct switch ends here.
    #[inline(always)]
    pub fn run_first(&mut self, procs: &mut [Proc; NR_PROCS]) -> Option<usize> {
        if self.running_stays() {
            return self.running();
        }
        let q = self.nonempty.trailing_zeros() as usize & (NR_PRIORITIES - 1);
        let next = usize::from(self.heads[q]);
        // The first of its queue: no previous one to relink.
        let after = procs[next].next_ready;
        self.heads[q] = after;
        if after == NO_SLOT {
            self.tails[q] = NO_SLOT;
            self.nonempty &= !(1 << q);
        } else {
            procs[usize::from(after)].prev_ready = NO_SLOT;
        }
        procs[next].queued = false;
        procs[next].next_ready = NO_SLOT;
        if self.running != NO_SLOT {
            self.preempt(procs);
        }
        self.running = next as u8;
        self.running_ahead = procs[next].queues_ahead;
        Some(next)
    }

    /// The running process, still ready, loses the CPU to a higher
    /// priority: back to the front of its queue, where it was.
    #[cold]
    #[inline(never)]
    fn preempt(&mut self, procs: &mut [Proc; NR_PROCS]) {
        let slot = usize::from(self.running);
        self.stop_running();
        self.push_front(procs, slot);
    }

    /// No process runs.
    #[inline(always)]
    fn stop_running(&mut self) {
        self.running = NO_SLOT;
        self.running_ahead = u32::MAX;
    }

    /// Puts `slot`, which is in no queue, at the front of its queue.
    fn push_front(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        let q = usize::from(procs[slot].priority);
        let head = self.heads[q];
        procs[slot].queued = true;
        procs[slot].prev_ready = NO_SLOT;
        procs[slot].next_ready = head;
        if head == NO_SLOT {
            self.tails[q] = slot as u8;
            self.nonempty |= 1 << q;
        } else {
            procs[usize::from(head)].prev_ready = slot as u8;
        }
        self.heads[q] = slot as u8;
    }

    /// Appends `slot` to its priority's queue (no-op if queued or
    /// running). Inlined: every IPC that wakes a process does it.
    #[inline(always)]
    pub fn enqueue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if procs[slot].queued || procs[slot].hung || slot as u8 == self.running {
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

    /// Removes `slot` from its queue, or from running (no-op if neither).
    /// Inlined: every IPC that blocks its caller does it.
    #[inline(always)]
    pub fn dequeue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if slot as u8 == self.running {
            self.stop_running();
            return;
        }
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
    /// the running process, and `to` (its partner, blocked until now, in
    /// no queue and not hung) would be the scheduler's choice once woken:
    /// every queue of its priority and higher is empty. Then `to` simply
    /// becomes the running process: one test and two stores. Returns
    /// false, with nothing changed, in every other case.
    #[inline(always)]
    pub fn pass_running(&mut self, procs: &[Proc; NR_PROCS], from: usize, to: usize) -> bool {
        debug_assert!(!procs[to].queued && !procs[to].hung && to as u8 != self.running);
        let ahead = procs[to].queues_ahead;
        if self.running != from as u8 || self.nonempty & ahead != 0 {
            return false;
        }
        self.running = to as u8;
        self.running_ahead = ahead;
        true
    }

    /// Moves `slot` to the back of its queue.
    pub fn rotate(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        self.dequeue(procs, slot);
        self.enqueue(procs, slot);
    }

    /// The queues as the scheduler sees them, by priority, the running
    /// process at the front of its own.
    #[cfg(test)]
    pub(crate) fn order(&self, procs: &[Proc; NR_PROCS]) -> std::vec::Vec<std::vec::Vec<usize>> {
        let mut order: std::vec::Vec<std::vec::Vec<usize>> = (0..NR_PRIORITIES).map(|_| std::vec::Vec::new()).collect();
        if let Some(r) = self.running() {
            order[usize::from(procs[r].priority)].push(r);
        }
        for (q, list) in order.iter_mut().enumerate() {
            let mut at = self.heads[q];
            while at != NO_SLOT {
                list.push(usize::from(at));
                at = procs[usize::from(at)].next_ready;
            }
        }
        order
    }

    /// Links the running process back at the front of its queue: the
    /// same queues, as they were before lazy scheduling, so that two
    /// kernels that reached the same queues by different ways compare
    /// equal (tests).
    #[cfg(test)]
    pub(crate) fn settle(&mut self, procs: &mut [Proc; NR_PROCS]) {
        if let Some(r) = self.running() {
            self.stop_running();
            self.push_front(procs, r);
        }
    }
}
