//! The fault plan's pre-filter: which events some rule of the plan may
//! match, by source, destination and primitive, summarised once per plan.
//!
//! Why: an experiment always has a plan, and every message and kernel
//! call asks it, but a plan names one or two targets (the smoke campaign's
//! rules: anyone to TTY, anyone to blk), so nearly every event is one that
//! no rule can match. The summary answers that with one row load and two
//! bit tests, before the message is read or a rule is looked at, and the
//! fast path asks it inline (`Kernel::fault_may_match`).
//!
//! Why per source a row of destinations (and not one set of sources and
//! one of destinations, as before session 16): the row keeps the pairs the
//! rules name apart, so a rule from A to B and one from C to D do not
//! admit A to D; and it costs the same at the event, one load indexed by
//! the source's privilege id.
//!
//! The summary must admit every event a rule could match (a superset):
//! `kernel-core/src/tests/fault.rs` checks it against the rules' own test
//! of source, destination and primitive with proptest. Privilege ids of
//! processes are below 64 (`Kernel::spawn_with_id` checks it, exec gives
//! a boot-image index); an id past that is admitted, so the summary stays
//! a superset even then.

use abi::fault::{ANY_PROGRAM, HEADER_SIZE, RULE_SIZE, SYSTEM_PROGRAM};
use abi::syscall::Trap;

/// Privilege ids a row has a bit for.
const IDS: usize = 64;

/// What the rules of a plan can match by source, destination and
/// primitive: a superset, so an event outside it needs no further look.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct PreFilter {
    /// Per source privilege id: bit per destination privilege id that a
    /// rule matching the source may match.
    to: [u64; IDS],
    /// Bit per source privilege id whose kernel calls (destination
    /// SYSTEM) a rule may match.
    system: u64,
    /// Per source privilege id: bit per trap number that a rule matching
    /// the source may match.
    primitives: [u8; IDS],
}

/// The bit of privilege id `id` (0 for ids past the rows).
const fn id_bit(id: u8) -> u64 {
    if (id as usize) < IDS {
        1 << id
    } else {
        0
    }
}

impl PreFilter {
    /// Nothing can match.
    pub(crate) const NOTHING: PreFilter = PreFilter { to: [0; IDS], system: 0, primitives: [0; IDS] };

    /// The summary of the first `rules` rules of `plan`.
    pub(crate) fn of_rules(plan: &[u8], rules: usize) -> PreFilter {
        let mut f = PreFilter::NOTHING;
        for i in 0..rules {
            let Some(r) = plan.get(HEADER_SIZE + i * RULE_SIZE..HEADER_SIZE + (i + 1) * RULE_SIZE) else { break };
            // A source id past the rows matches no process the rows
            // describe (those processes are admitted anyway).
            let sources = if r[0] == ANY_PROGRAM { u64::MAX } else { id_bit(r[0]) };
            let (destinations, system) = match r[1] {
                ANY_PROGRAM => (u64::MAX, true),
                SYSTEM_PROGRAM => (0, true),
                id => (id_bit(id), false),
            };
            let primitives = if r[2] == 0 { u8::MAX } else { r[2] };
            for src in crate::ipc::slots_in(sources) {
                f.to[src] |= destinations;
                f.primitives[src] |= primitives;
            }
            if system {
                f.system |= sources;
            }
        }
        f
    }

    /// Whether some rule may match an event from `src_id` to the process
    /// with id `dst_id` (`None`: SYSTEM, a kernel call) by `primitive`.
    /// An `Option` and not [`SYSTEM_PROGRAM`]: every caller knows which it
    /// asks for, and the compare goes.
    #[inline(always)]
    pub(crate) fn admits(&self, src_id: u8, dst_id: Option<u8>, primitive: Trap) -> bool {
        let src = usize::from(src_id);
        if src >= IDS {
            return true;
        }
        let to = match dst_id {
            None => self.system & (1 << src) != 0,
            Some(id) => usize::from(id) >= IDS || self.to[src] & id_bit(id) != 0,
        };
        to && self.primitives[src] & (1u8 << (primitive as u8)) != 0
    }
}
