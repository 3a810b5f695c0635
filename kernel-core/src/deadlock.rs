//! Deadlock detection: refuse (with `Error::Locked`) the call that would
//! close a cycle of blocked processes, instead of letting them all hang.
//!
//! Every blocked process points at one other: a process blocked sending
//! (SEND, or the send half of SENDREC) at its destination, one blocked
//! receiving from a specific process (RECEIVE(src), or the reply wait of
//! SENDREC) at that process. A receive from ANY or from SYSTEM points
//! nowhere and ends the chain. Before a caller blocks on `target`, the
//! kernel follows the chain from `target`; if it comes back to the caller,
//! blocking would close a cycle.
//!
//! MINIX's one exception is a cycle of two where exactly one party is
//! sending and the other receiving: such a pair is a request and its reply
//! meeting, which the rendezvous completes, so it is not a deadlock. (With
//! our delivery rules that pair always rendezvouses at once and never gets
//! here; the exception is kept so the rule reads as MINIX's.) A two-party
//! request/reply — A in SENDREC to B, B replying with SEND/SENDNB or B
//! taking A's request with RECEIVE(A) — therefore never reports `Locked`,
//! while two processes sending to each other, or receiving from each other
//! (e.g. B doing RECEIVE(A) while A already waits for B's reply), do.
//!
//! The walk is bounded by the number of slots; it runs only when the
//! caller is about to block, never on the rendezvous path.

use crate::{Kernel, NR_PROCS};

/// What the caller is about to block in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BlockingOp {
    /// SEND or the send half of SENDREC.
    Send,
    /// RECEIVE from a specific process.
    Receive,
}

impl Kernel {
    /// The process `slot` is blocked on, and whether it is blocked sending.
    fn blocked_on(&self, slot: usize) -> Option<(usize, bool)> {
        let p = &self.procs[slot];
        if let Some(wait) = p.sending {
            return Some((wait.dst, true));
        }
        match p.receiving {
            Some(wait) if wait.from.is_process() => Some((wait.from.slot(), false)),
            _ => None,
        }
    }

    /// True when blocking `caller` in `op` on `target` would close a cycle
    /// of blocked processes.
    /// Always false with the defense switched off (`Weakened::deadlock`).
    pub(crate) fn would_deadlock(&self, caller: usize, target: usize, op: BlockingOp) -> bool {
        if self.weak.deadlock {
            return false;
        }
        let mut next = target;
        let mut group_size = 1;
        for _ in 0..NR_PROCS {
            group_size += 1;
            let Some((on, sending)) = self.blocked_on(next) else { return false };
            if on == caller {
                let caller_sending = op == BlockingOp::Send;
                return !(group_size == 2 && sending != caller_sending);
            }
            next = on;
        }
        false
    }
}
