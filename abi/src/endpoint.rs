//! Endpoints: how processes name each other in IPC.
//!
//! An endpoint packs a process-table slot and a generation number. When a
//! slot is reused after its process exits the generation grows, so a stale
//! endpoint held by some other process no longer matches and IPC to it is
//! refused (`DeadSrcDst`) instead of silently reaching the slot's new owner.

/// Bits of an endpoint that hold the slot number.
pub const SLOT_BITS: u32 = 12;
/// Number of slots an endpoint can address.
pub const MAX_SLOTS: usize = 1 << SLOT_BITS;
/// Largest generation value before it wraps to 0.
pub const MAX_GENERATION: u32 = (1 << (32 - SLOT_BITS - 1)) - 1;

/// A process endpoint or one of the special values [`Endpoint::ANY`],
/// [`Endpoint::NONE`], [`Endpoint::SYSTEM`].
///
/// Encoding: `generation << 12 | slot`; bit 31 is clear for process
/// endpoints and set for the special values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Endpoint(pub u32);

impl Endpoint {
    /// RECEIVE from any source.
    pub const ANY: Endpoint = Endpoint(0xFFFF_FFFF);
    /// No endpoint (e.g. "not waiting for anyone").
    pub const NONE: Endpoint = Endpoint(0xFFFF_FFFE);
    /// The kernel's SYSTEM task: kernel calls are SENDRECs to it.
    pub const SYSTEM: Endpoint = Endpoint(0xFFFF_FFFD);

    /// Builds the endpoint of `slot` in generation `generation`.
    pub const fn new(slot: usize, generation: u32) -> Endpoint {
        Endpoint(((generation & MAX_GENERATION) << SLOT_BITS) | (slot as u32 & (MAX_SLOTS as u32 - 1)))
    }

    /// True for endpoints that name a process (not ANY, NONE, SYSTEM).
    pub const fn is_process(self) -> bool {
        self.0 & 0x8000_0000 == 0
    }

    /// The process-table slot (meaningful only when [`Self::is_process`]).
    pub const fn slot(self) -> usize {
        (self.0 & (MAX_SLOTS as u32 - 1)) as usize
    }

    /// The generation (meaningful only when [`Self::is_process`]).
    pub const fn generation(self) -> u32 {
        self.0 >> SLOT_BITS
    }

    /// The endpoint the same slot gets when it is reused.
    pub const fn next_generation(self) -> Endpoint {
        let next = if self.generation() >= MAX_GENERATION { 0 } else { self.generation() + 1 };
        Endpoint::new(self.slot(), next)
    }
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Endpoint::ANY => write!(f, "ANY"),
            Endpoint::NONE => write!(f, "NONE"),
            Endpoint::SYSTEM => write!(f, "SYSTEM"),
            e => write!(f, "{}.{}", e.slot(), e.generation()),
        }
    }
}

impl core::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_and_generation_round_trip() {
        let e = Endpoint::new(37, 5);
        assert!(e.is_process());
        assert_eq!((e.slot(), e.generation()), (37, 5));
        assert_eq!(e.next_generation(), Endpoint::new(37, 6));
        assert_ne!(e, e.next_generation());
    }

    #[test]
    fn generation_wraps_and_specials_are_not_processes() {
        let e = Endpoint::new(3, MAX_GENERATION);
        assert!(e.is_process());
        assert_eq!(e.next_generation(), Endpoint::new(3, 0));
        for special in [Endpoint::ANY, Endpoint::NONE, Endpoint::SYSTEM] {
            assert!(!special.is_process());
        }
    }
}
