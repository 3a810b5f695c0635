//! Ready queues: one FIFO per priority, threaded through the process table
//! so that enqueueing never allocates.

use crate::proc::Proc;
use crate::{NR_PRIORITIES, NR_PROCS};

/// Heads and tails of the per-priority ready FIFOs, and a bitmap of the
/// non-empty ones so that picking the next process is one bit scan instead
/// of a walk over every priority (kernel instructions are expensive).
#[derive(Clone, Copy, Debug)]
pub struct RunQueues {
    heads: [Option<u16>; NR_PRIORITIES],
    tails: [Option<u16>; NR_PRIORITIES],
    nonempty: u32,
}

const _: () = assert!(NR_PRIORITIES <= 32);

impl Default for RunQueues {
    fn default() -> Self {
        Self::new()
    }
}

impl RunQueues {
    /// Empty queues.
    pub const fn new() -> RunQueues {
        RunQueues { heads: [None; NR_PRIORITIES], tails: [None; NR_PRIORITIES], nonempty: 0 }
    }

    /// The first process of the highest non-empty priority.
    #[inline]
    pub fn first(&self) -> Option<usize> {
        if self.nonempty == 0 {
            return None;
        }
        self.heads[self.nonempty.trailing_zeros() as usize].map(usize::from)
    }

    /// Appends `slot` to its priority's queue (no-op if queued).
    pub fn enqueue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if procs[slot].queued || procs[slot].hung {
            return;
        }
        let q = procs[slot].priority as usize;
        procs[slot].queued = true;
        procs[slot].next_ready = None;
        match self.tails[q] {
            Some(tail) => procs[tail as usize].next_ready = Some(slot as u16),
            None => self.heads[q] = Some(slot as u16),
        }
        self.tails[q] = Some(slot as u16);
        self.nonempty |= 1 << q;
    }

    /// Removes `slot` from its queue (no-op if not queued).
    pub fn dequeue(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        if !procs[slot].queued {
            return;
        }
        let q = procs[slot].priority as usize;
        let mut prev: Option<u16> = None;
        let mut cur = self.heads[q];
        while let Some(c) = cur {
            if c as usize == slot {
                let next = procs[slot].next_ready;
                match prev {
                    Some(p) => procs[p as usize].next_ready = next,
                    None => self.heads[q] = next,
                }
                if self.tails[q] == Some(c) {
                    self.tails[q] = prev;
                }
                if self.heads[q].is_none() {
                    self.nonempty &= !(1 << q);
                }
                break;
            }
            prev = cur;
            cur = procs[c as usize].next_ready;
        }
        procs[slot].queued = false;
        procs[slot].next_ready = None;
    }

    /// Moves `slot` to the back of its queue.
    pub fn rotate(&mut self, procs: &mut [Proc; NR_PROCS], slot: usize) {
        self.dequeue(procs, slot);
        self.enqueue(procs, slot);
    }
}
