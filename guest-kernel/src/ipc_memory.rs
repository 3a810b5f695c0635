//! The IPC path's view of user memory: [`Memory`] plus a two-entry cache
//! of page translations, so that a message page is walked once per kernel
//! entry.
//!
//! Why: a SENDREC checks its buffer writable (for the reply) and then reads
//! the request from it; a REPLYRECV reads the reply from its buffer and,
//! when its receive blocks, checks the same buffer writable. Each was a
//! four-level walk of the same page, and kernel instructions are the
//! currency here. Two entries hold the caller's page and the partner's.
//!
//! Why it stays right: it lives for one system call's IPC work only (the
//! dispatcher makes a fresh one per trap; kernel calls, which may change
//! mappings, do not use it). Within that, a mapping changes only when a
//! write breaks copy-on-write sharing: a write through the cache resolves
//! it and caches the new translation, and the byte-range writes (SENDA
//! write-back), which may resolve it elsewhere, empty the cache. A read
//! caches the page as writable only when its entry says so, so a cached
//! writable page is never a shared copy-on-write one.

use crate::process::{within_one_page, Memory};
use abi::layout::PAGE_SIZE;
use abi::{Error, Message};
use kernel_core::UserMemory;

/// One cached translation: page `page` of process `slot` is at `phys`.
#[derive(Clone, Copy)]
struct Seen {
    slot: usize,
    page: u64,
    phys: u64,
    writable: bool,
}

const EMPTY: Seen = Seen { slot: usize::MAX, page: 0, phys: 0, writable: false };

/// [`Memory`] with the translation cache (see the module documentation).
pub struct IpcMemory<'a> {
    pub mem: Memory<'a>,
    seen: [Seen; 2],
    /// The entry the next miss replaces.
    victim: usize,
}

impl<'a> IpcMemory<'a> {
    pub fn new(mem: Memory<'a>) -> IpcMemory<'a> {
        IpcMemory { mem, seen: [EMPTY; 2], victim: 0 }
    }

    /// The physical address of `addr` (whose message lies in one page) of
    /// process `slot`, mapped user-accessible and, when `write`, writable
    /// (copy-on-write resolved).
    #[inline(always)]
    fn translate(&mut self, slot: usize, addr: u64, write: bool) -> Option<u64> {
        let page = addr & !(PAGE_SIZE - 1);
        let offset = addr & (PAGE_SIZE - 1);
        for s in &self.seen {
            if s.slot == slot && s.page == page && (s.writable || !write) {
                return Some(s.phys | offset);
            }
        }
        self.walk(slot, addr, write).map(|phys| phys | offset)
    }

    /// The page walk on a miss; remembers its result.
    #[inline(never)]
    fn walk(&mut self, slot: usize, addr: u64, write: bool) -> Option<u64> {
        let space = self.mem.arch[slot].space;
        // A read asks for a writable mapping first: the answer is the same
        // page, and a later write to it then needs no walk.
        let (phys, writable) = match space.translate(addr, true) {
            Some(phys) => (phys, true),
            None if write => (space.translate_write(self.mem.frames, addr)?, true),
            None => (space.translate(addr, false)?, false),
        };
        let page = addr & !(PAGE_SIZE - 1);
        let at = self.seen.iter().position(|s| s.slot == slot && s.page == page).unwrap_or(self.victim);
        self.seen[at] = Seen { slot, page, phys: phys & !(PAGE_SIZE - 1), writable };
        self.victim = at ^ 1;
        Some(phys & !(PAGE_SIZE - 1))
    }
}

impl UserMemory for IpcMemory<'_> {
    #[inline]
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error> {
        if !within_one_page(addr) {
            return self.mem.read_message(slot, addr);
        }
        let phys = self.translate(slot, addr, false).ok_or(Error::Fault)?;
        // SAFETY: the 64 bytes at `phys` lie in one mapped user page
        // (checked above), identity-mapped for the kernel; any bit pattern
        // is a valid Message.
        Ok(unsafe { core::ptr::read_unaligned(phys as *const Message) })
    }

    #[inline]
    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error> {
        if !within_one_page(addr) {
            self.seen = [EMPTY; 2];
            return self.mem.write_message(slot, addr, msg);
        }
        let phys = self.translate(slot, addr, true).ok_or(Error::Fault)?;
        // SAFETY: the 64 bytes at `phys` lie in one user page mapped
        // writable for this process alone (copy-on-write resolved),
        // identity-mapped for the kernel.
        unsafe { core::ptr::write_unaligned(phys as *mut Message, *msg) };
        Ok(())
    }

    #[inline]
    fn check_message(&mut self, slot: usize, addr: u64, write: bool) -> Result<(), Error> {
        if !within_one_page(addr) {
            self.seen = [EMPTY; 2];
            return self.mem.check_message(slot, addr, write);
        }
        self.translate(slot, addr, write).map(|_| ()).ok_or(Error::Fault)
    }

    fn read_bytes(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mem.read_bytes(slot, addr, buf)
    }

    fn write_bytes(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error> {
        // May resolve copy-on-write on a page we cached as shared.
        self.seen = [EMPTY; 2];
        self.mem.write_bytes(slot, addr, buf)
    }

    #[inline(always)]
    fn set_result(&mut self, slot: usize, value: i64) {
        self.mem.set_result(slot, value);
    }

    #[inline(always)]
    fn trace(&mut self, event: &kernel_core::TraceEvent) {
        self.mem.trace(event);
    }
}
