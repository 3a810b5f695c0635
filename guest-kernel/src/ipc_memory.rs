//! The IPC path's view of user memory: [`Memory`] plus a cache of each
//! process's message buffer translation that survives from one kernel
//! entry to the next, so that a message page is walked once, not at every
//! message.
//!
//! Why: a SENDREC checks its buffer writable (for the reply) and then reads
//! the request from it; a REPLYRECV reads the reply from its buffer and,
//! when its receive blocks, checks the same buffer writable; and a client
//! and its server use the same two buffers round trip after round trip.
//! Each of those was a four-level walk of the same page (≈ 75 kernel
//! instructions with the bookkeeping), four per round trip, and kernel
//! instructions are the currency here.
//!
//! Why one entry per process, keyed by the buffer's exact address: a
//! process passes the same buffer call after call, so the lookup is one
//! compare of the address the call names with the one its slot remembers,
//! and a hit needs no page arithmetic and no test that the message fits
//! in its page (an address is only kept when it does). A process that
//! uses several buffers in turn walks more often (its entry holds the
//! last); the two partners of a conversation never evict each other.
//!
//! Why it stays right across entries: only writable, private translations
//! are kept (a page that is not mapped writable is walked every time, so a
//! shared copy-on-write page is never cached), and such a translation
//! changes only when the kernel unmaps, write-protects or frees a page or
//! a process's address space: in kernel calls (fork, exec, exit, kill,
//! device mappings), when a process ends (fault, injected crash) and at a
//! fault plan's Stop (the host may change the process's code). The cache
//! is forgotten ([`forget_translations`]: one store, the map of valid
//! entries) after every kernel call and at every exception (page faults,
//! faults that end a process: [`crate::trap_entry`]), and by the fault
//! plan's crash and Stop.
//! Interrupts keep it: their handlers record an event, count a tick or
//! rotate a run queue, and change no mapping. Within an IPC trap, copy-on-write resolution (a write through
//! this cache, SENDA write-back, notifications) only turns read-only
//! pages writable, which the cache never holds; the slot of an ended
//! process is reused only after one of those forgets.

use crate::process::{within_one_page, Memory};
use abi::{Endpoint, Error, Message};
use kernel_core::{copy_message_by_value, CopyFault, MessageCopy, MessageHead, UserMemory, NR_PROCS};

/// The cached buffers by slot: process `s`'s message at user address
/// `va[s]` lies in one page, mapped writable for it alone, and is at
/// physical `phys[s]`, while bit `s` of `valid` is set. Two arrays, so
/// that an entry is found by the slot scaled in the address, without
/// arithmetic.
struct Cache {
    va: [u64; NR_PROCS],
    phys: [u64; NR_PROCS],
    valid: u64,
}

const _: () = assert!(NR_PROCS <= 64 && NR_PROCS.is_power_of_two());

/// The cache (one CPU; the kernel runs with interrupts off).
static mut CACHE: Cache = Cache { va: [0; NR_PROCS], phys: [0; NR_PROCS], valid: 0 };

#[inline(always)]
fn cache() -> &'static mut Cache {
    // SAFETY: one CPU, interrupts off in the kernel, and no caller keeps
    // the reference across another call of this function.
    unsafe { &mut *(&raw mut CACHE) }
}

/// Forgets every cached translation: the kernel may have changed some
/// process's mappings (see the module documentation for when).
#[inline(always)]
pub fn forget_translations() {
    cache().valid = 0;
}

/// The physical address of the message at `addr` of process `slot` when
/// that is its cached buffer; `valid`: the cache's map of valid entries,
/// read once for both buffers of a copy (a walk only adds entries).
#[inline(always)]
fn cached(valid: u64, slot: usize, addr: u64) -> Option<u64> {
    let c = cache();
    // Slots are below NR_PROCS; the mask spares the bounds check.
    let slot = slot & (NR_PROCS - 1);
    (c.va[slot] == addr && valid & 1 << slot != 0).then_some(c.phys[slot])
}

/// [`Memory`] with the translation cache (see the module documentation).
pub struct IpcMemory<'a> {
    pub mem: Memory<'a>,
}

impl<'a> IpcMemory<'a> {
    #[inline(always)]
    pub fn new(mem: Memory<'a>) -> IpcMemory<'a> {
        IpcMemory { mem }
    }

    /// The physical address of `addr` (whose message lies in one page) of
    /// process `slot`, mapped user-accessible and, when `write`, writable
    /// (copy-on-write resolved).
    #[inline(always)]
    fn translate(&mut self, slot: usize, addr: u64, write: bool) -> Option<u64> {
        debug_assert!(within_one_page(addr));
        match cached(cache().valid, slot, addr) {
            Some(phys) => Some(phys),
            None => self.walk(slot, addr, write),
        }
    }

    /// The page walk on a miss; remembers its result when the page is
    /// mapped writable.
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
        if writable {
            let c = cache();
            let slot = slot & (NR_PROCS - 1);
            c.va[slot] = addr;
            c.phys[slot] = phys;
            c.valid |= 1 << slot;
        }
        Some(phys)
    }

    /// [`Self::translate`] for writing, of a buffer not yet known to lie
    /// in one page: the fast path's, which falls back when it does not.
    #[inline(always)]
    fn translate_message(&mut self, valid: u64, slot: usize, addr: u64) -> Option<u64> {
        match cached(valid, slot, addr) {
            Some(phys) => Some(phys),
            None if within_one_page(addr) => self.walk(slot, addr, true),
            None => None,
        }
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
            return self.mem.write_message(slot, addr, msg);
        }
        let phys = self.translate(slot, addr, true).ok_or(Error::Fault)?;
        // SAFETY: the 64 bytes at `phys` lie in one user page mapped
        // writable for this process alone (copy-on-write resolved),
        // identity-mapped for the kernel.
        unsafe { core::ptr::write_unaligned(phys as *mut Message, *msg) };
        Ok(())
    }

    #[inline(always)]
    fn check_message(&mut self, slot: usize, addr: u64, write: bool) -> Result<(), Error> {
        if !within_one_page(addr) {
            return self.mem.check_message(slot, addr, write);
        }
        self.translate(slot, addr, write).map(|_| ()).ok_or(Error::Fault)
    }

    /// One copy from page to page, as `rep movsq` (counted as one
    /// emulated instruction on software KVM, where eight loads and eight
    /// stores are sixteen); only messages that straddle a page go through
    /// a message value.
    #[inline(always)]
    fn copy_message(&mut self, copy: MessageCopy) -> Result<MessageHead, CopyFault> {
        if !within_one_page(copy.from_addr) || !within_one_page(copy.to_addr) {
            return copy_message_by_value(self, copy);
        }
        let src = self.translate(copy.from, copy.from_addr, false).ok_or(CopyFault::Source(Error::Fault))?;
        let head = head_at(src);
        if copy.refused_type == Some(head.mtype) {
            return Err(CopyFault::RefusedType);
        }
        let dst = self.translate(copy.to, copy.to_addr, true).ok_or(CopyFault::Destination(Error::Fault))?;
        // SAFETY: `src` is a mapped user message in one page (above);
        // `dst` lies in one user page mapped writable for `to` alone
        // (copy-on-write resolved). Different processes' private or
        // read-only pages, so the ranges do not overlap.
        unsafe { copy_stamped(src, dst, copy.source) };
        Ok(head)
    }

    /// The fast path's copy: both buffers in one page each, translated
    /// writable (from the cache, or walked and then kept in it; a
    /// copy-on-write page is made private, as the general path's checks
    /// make it), the type checked before the receiver's page is touched.
    /// `None` leaves nothing the general path would not do itself.
    #[inline(always)]
    fn copy_message_fast(&mut self, copy: MessageCopy) -> Option<MessageHead> {
        let valid = cache().valid;
        let src = self.translate_message(valid, copy.from, copy.from_addr)?;
        let head = head_at(src);
        if copy.refused_type == Some(head.mtype) {
            return None;
        }
        let dst = self.translate_message(valid, copy.to, copy.to_addr)?;
        // SAFETY: both are translations of one-page messages (checked
        // above), mapped writable for their process alone (copy-on-write
        // resolved), identity-mapped for the kernel; two different
        // processes' private pages (the fast path never copies to the
        // sender itself), so they do not overlap.
        unsafe { copy_stamped(src, dst, copy.source) };
        Some(head)
    }

    fn read_bytes(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.mem.read_bytes(slot, addr, buf)
    }

    fn write_bytes(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error> {
        // May resolve copy-on-write, which only makes read-only pages
        // writable: the cache never holds those.
        self.mem.write_bytes(slot, addr, buf)
    }

    fn check_bytes(&mut self, slot: usize, addr: u64, len: usize) -> Result<(), Error> {
        // As `write_bytes`: resolving copy-on-write leaves the cache valid.
        self.mem.check_bytes(slot, addr, len)
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

/// What the checks and the trace need of the message at physical `src`.
#[inline(always)]
fn head_at(src: u64) -> MessageHead {
    // SAFETY: callers pass a translated user message lying in one mapped
    // page, identity-mapped for the kernel; a message has no alignment
    // requirement from the user, hence unaligned reads.
    unsafe {
        let m = src as *const Message;
        MessageHead {
            mtype: core::ptr::read_unaligned(&raw const (*m).mtype),
            args: [
                core::ptr::read_unaligned(&raw const (*m).payload[0]),
                core::ptr::read_unaligned(&raw const (*m).payload[1]),
            ],
        }
    }
}

/// One copy of a message from physical `src` to `dst` as `rep movsq`
/// (counted as one emulated instruction on software KVM, where eight
/// loads and eight stores are sixteen), then `source` over its source
/// field when given.
///
/// # Safety
/// `src` and `dst` must be 64 readable, resp. writable, bytes of
/// identity-mapped memory that do not overlap.
#[inline(always)]
unsafe fn copy_stamped(src: u64, dst: u64, source: Option<Endpoint>) {
    // SAFETY: per the contract above.
    unsafe {
        core::arch::asm!("rep movsq", inout("rsi") src => _, inout("rdi") dst => _,
                         inout("rcx") size_of::<Message>() / 8 => _, options(nostack, preserves_flags));
        if let Some(source) = source {
            core::ptr::write_unaligned(&raw mut (*(dst as *mut Message)).source, source);
        }
    }
}
