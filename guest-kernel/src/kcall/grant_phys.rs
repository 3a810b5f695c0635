//! GrantPhys: the physical memory behind a grant (MINIX 3's `sys_vumap`),
//! so a driver's device moves data straight between the disk and the
//! requester's memory instead of through the driver's bounce buffer and a
//! safe copy (each 8 bytes of the kernel's `rep movs` is emulated on a
//! software KVM host).
//!
//! Why it adds no power: only a driver that may also `AllocDma` may call
//! it, and with no IOMMU that driver's device already reaches all of RAM.
//! What the call adds is the kernel's word on where a grant's memory is,
//! after the very check a safe copy makes ([`grant::check`]: the granter's
//! generation, grantee, rights, bounds, one level of indirection), so a
//! well-behaved driver DMAs only where it could have copied.
//!
//! Why write access breaks copy-on-write first: the device writes frames
//! behind the page tables' back. A frame shared copy-on-write (or the
//! shared zero frame) would change under every process mapping it, so
//! every page of the range becomes present, writable and the granter's
//! alone before its address is handed out. A page the range covers whole
//! gets its new frame without a copy or zeroing (the device overwrites all
//! of it); until the device has written it, such a page holds a freed
//! frame's old bytes. So when the call fails half-way the whole pages it
//! walked are zeroed before the error goes back (the granter's range is
//! undefined after a failed request anyway), and a driver whose device fails the
//! request clears the range itself (blk does): the granter never sees
//! another process's old memory. docs/trust.md says what still holds only
//! because the device finishes before the granter runs again.

use super::grant;
use crate::paging::AddressSpace;
use crate::process::{Memory, System};
use abi::grant::{GRANT_READ, GRANT_WRITE};
use abi::layout::PAGE_SIZE;
use abi::syscall::{DmaRange, KernelCall, GRANT_PHYS_MAX_RANGES};
use abi::{Endpoint, Error};

/// Bytes of one [`DmaRange`] in the caller's array.
const RANGE_BYTES: usize = 16;

/// Payload: granter endpoint, grant id, offset, length, access, range
/// array address, its capacity (`abi::syscall::KernelCall::GrantPhys`).
pub fn grant_phys(sys: &mut System, caller: usize, w: &[u64; 7]) -> Result<u64, Error> {
    let (granter_ep, id, offset, len, access, out, capacity) =
        (Endpoint(w[0] as u32), w[1], w[2], w[3], w[4], w[5], w[6]);
    if !sys.core.may_call(caller, KernelCall::AllocDma) {
        return Err(Error::CallDenied);
    }
    let write = match access {
        a if a == u64::from(GRANT_WRITE) => true,
        a if a == u64::from(GRANT_READ) => false,
        _ => return Err(Error::Invalid),
    };
    if capacity > GRANT_PHYS_MAX_RANGES {
        return Err(Error::Domain);
    }
    let (owner, start) = grant::check(sys, caller, granter_ep, id, access as u32, offset, len)?;
    if len == 0 {
        return Ok(0);
    }
    let end = start.checked_add(len).ok_or(Error::Fault)?;
    let pages = (end - 1) / PAGE_SIZE - start / PAGE_SIZE + 1;
    if pages > capacity {
        return Err(Error::Domain);
    }
    let space = sys.arch[owner].space;
    // How far the walk got: for write access, the whole pages before it
    // may hold frames that were neither copied nor zeroed.
    let mut reached = start;
    let mut mem = Memory { arch: &mut sys.arch, frames: &mut sys.frames };
    let walked = walk(&mut mem, space, start, end, write, Answer { caller, out }, &mut reached);
    if walked.is_err() && write {
        clear_whole_pages(space, start, reached);
    }
    walked
}

/// Where the ranges go: the caller's array.
#[derive(Clone, Copy)]
struct Answer {
    caller: usize,
    out: u64,
}

impl Answer {
    /// Writes `range` as entry `index` of the caller's array: two stores
    /// when the entry lies in one page (as an aligned array's do).
    fn put(self, mem: &mut Memory, index: u64, range: DmaRange) -> Result<(), Error> {
        let at = self.out.checked_add(index * RANGE_BYTES as u64).ok_or(Error::Fault)?;
        if at & (PAGE_SIZE - 1) <= PAGE_SIZE - RANGE_BYTES as u64 {
            let phys = mem.arch[self.caller].space.translate_write(mem.frames, at).ok_or(Error::Fault)?;
            // SAFETY: the 16 bytes at `phys` lie in one user page of the
            // caller mapped writable for it alone (COW broken by
            // `translate_write`), identity-mapped for the kernel; x86 is
            // little-endian, the layout `DmaRange` documents.
            unsafe { core::ptr::write_unaligned(phys as *mut [u64; 2], [range.phys, range.len]) };
            return Ok(());
        }
        let mut bytes = [0u8; RANGE_BYTES];
        bytes[..8].copy_from_slice(&range.phys.to_le_bytes());
        bytes[8..].copy_from_slice(&range.len.to_le_bytes());
        mem.copy_out(self.caller, at, &bytes)
    }
}

/// Translates `start..end` (not empty) of `space` page by page (for
/// writing: each page made private and writable first), merging
/// physically contiguous pages, and writes the runs to `answer` as each
/// one ends (no array of them in the kernel: nearly every grant is one
/// run); returns how many. A page that is not there (or not writable and
/// not copy-on-write) is `Fault`, as for a safe copy.
fn walk(
    mem: &mut Memory,
    space: AddressSpace,
    start: u64,
    end: u64,
    write: bool,
    answer: Answer,
    reached: &mut u64,
) -> Result<u64, Error> {
    let mut run = DmaRange::default();
    let mut written = 0;
    let mut va = start;
    while va < end {
        let chunk_end = ((va & !(PAGE_SIZE - 1)) + PAGE_SIZE).min(end);
        let phys = if !write {
            space.translate(va, false)
        } else if chunk_end - va == PAGE_SIZE {
            space.translate_overwrite(mem.frames, va)
        } else {
            space.translate_write(mem.frames, va)
        };
        let phys = phys.ok_or(Error::Fault)?;
        let len = chunk_end - va;
        if run.len != 0 && run.phys + run.len == phys {
            run.len += len;
        } else {
            if run.len != 0 {
                answer.put(mem, written, run)?;
                written += 1;
            }
            run = DmaRange { phys, len };
        }
        va = chunk_end;
        *reached = va;
    }
    answer.put(mem, written, run)?;
    Ok(written + 1)
}

/// Zeroes every whole page in `start..end` (made private and writable by
/// [`walk`], maybe on a frame it neither copied nor zeroed), after a
/// failure: the granter's range is then undefined, but never another
/// process's old bytes.
#[cold]
fn clear_whole_pages(space: AddressSpace, start: u64, end: u64) {
    let mut page = (start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    while page + PAGE_SIZE <= end {
        if let Some(phys) = space.translate(page, true) {
            // SAFETY: `phys` is the start of a whole user page mapped
            // writable for the granter alone (its COW broken by `walk`),
            // identity-mapped for the kernel.
            unsafe { core::ptr::write_bytes(phys as *mut u8, 0, PAGE_SIZE as usize) };
        }
        page += PAGE_SIZE;
    }
}
