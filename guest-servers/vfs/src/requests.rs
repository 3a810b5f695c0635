//! Parked requests: user calls that cannot be answered yet.
//!
//! Why parking: VFS must never block on a user or on a driver, yet a read
//! of an empty pipe or of the console has no answer yet. The caller is in
//! SENDREC and simply stays there; VFS keeps its request here and answers
//! later with SENDNB. A parked request says what it waits for: pipe
//! changes (tried again after every message VFS handles: cheap, all in
//! user mode), a free driver slot, or the driver's answer. Progress of a
//! long write (bytes already done) is kept with it.

use abi::{Endpoint, Message};

/// Requests parked at once (one per blocked process at most).
pub const MAX_PARKED: usize = 64;

/// What a parked request waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// A pipe to change (data, room, or an end closing).
    Pipe,
    /// A free driver slot.
    Slot,
    /// The driver's answer to its request in flight.
    Device,
}

/// One parked request.
#[derive(Clone, Copy)]
pub struct Parked {
    pub caller: Endpoint,
    pub msg: Message,
    /// Bytes already transferred (writes go on where they stopped).
    pub done: u64,
    pub wait: Wait,
}

/// All parked requests.
pub struct ParkedTable {
    slots: [Option<Parked>; MAX_PARKED],
}

impl ParkedTable {
    /// Nothing parked.
    pub const fn new() -> ParkedTable {
        ParkedTable { slots: [None; MAX_PARKED] }
    }

    /// Parks a new request (not yet waiting for anything in particular).
    pub fn add(&mut self, caller: Endpoint, msg: Message) -> Option<usize> {
        let i = self.slots.iter().position(|s| s.is_none())?;
        self.slots[i] = Some(Parked { caller, msg, done: 0, wait: Wait::Pipe });
        Some(i)
    }

    /// Parked request `i`.
    pub fn get(&mut self, i: usize) -> Option<&mut Parked> {
        self.slots[i].as_mut()
    }

    /// Unparks request `i`.
    pub fn remove(&mut self, i: usize) -> Option<Parked> {
        self.slots[i].take()
    }

    /// Indices of requests of `caller`.
    pub fn of(&self, caller: Endpoint) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().enumerate().filter(move |(_, s)| s.is_some_and(|p| p.caller == caller)).map(|(i, _)| i)
    }
}
