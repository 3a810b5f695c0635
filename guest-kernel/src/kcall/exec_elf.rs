//! `exec_elf`: exec a program whose ELF file lies in the caller's memory
//! (the process manager read it from the disk through VFS).
//!
//! Read-only pages are not copied: when the caller holds the file
//! page-aligned (PM does), every whole file page of a read-only segment is
//! shared with the caller, copy-on-write on the caller's side, as a
//! boot-image exec maps pages in place. Writable and partial pages get a
//! fresh frame with the file bytes copied in; pages of bss alone map the
//! shared zero frame until written (`paging`). The ELF is not trusted: the
//! header and every segment are checked against the file and the program
//! area, and a page two segments claim is refused.

use crate::paging::{AddressSpace, Rights};
use crate::process::{Memory, System};
use abi::elf::{Elf, Segment};
use abi::layout::{PAGE_SIZE, USER_BASE, USER_STACK_BOTTOM};
use abi::syscall::EXEC_ELF_MAX;
use abi::{Endpoint, Error};

/// Bytes of the file read for the ELF and program headers.
const HEADER_BYTES: usize = 1024;

/// Payload: target endpoint, template boot-image program index (whose
/// privileges the program gets), ELF address (in the caller) and length,
/// argument-block address (in the target) and length, name (up to 8 bytes,
/// NUL-padded, little-endian; 0 = the template's name).
pub fn exec_elf(sys: &mut System, caller: usize, w: &[u64; 7]) -> Result<u64, Error> {
    let target = sys.core.live_slot(Endpoint(w[0] as u32))?;
    sys.core.check_reply_wait(target, caller)?;
    let (index, elf_addr, elf_len, args, len) = (w[1], w[2], w[3], w[4], w[5]);
    let template = usize::try_from(index).ok().and_then(|i| sys.entry(i)).ok_or(Error::Invalid)?.name;
    if elf_len > EXEC_ELF_MAX {
        return Err(Error::Domain);
    }
    crate::lifecycle::check_args(&sys.arch[target].space, args, len)?;
    let header_len = (elf_len as usize).min(HEADER_BYTES);
    let mut copy = [0u8; HEADER_BYTES];
    let header = match headers_in_place(&sys.arch[caller].space, elf_addr, header_len) {
        Some(bytes) => bytes,
        None => {
            Memory { arch: &mut sys.arch, frames: &mut sys.frames }.copy_in(
                caller,
                elf_addr,
                &mut copy[..header_len],
            )?;
            &copy[..header_len]
        }
    };
    let elf = Elf::parse(header).map_err(|_| Error::Invalid)?;
    if !entry_in_code(&elf) {
        return Err(Error::Invalid);
    }
    let mut space = AddressSpace::new(&mut sys.frames, target).ok_or(Error::NoMemory)?;
    let loaded = load(sys, caller, &mut space, &elf, elf_addr, elf_len)
        .and_then(|()| sys.map_stack_and_kip(&mut space).map_err(|_| Error::NoMemory));
    if let Err(e) = loaded {
        space.destroy(&mut sys.frames);
        return Err(e);
    }
    let name_bytes = w[6].to_le_bytes();
    let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(8);
    // The payload has room for 8 name bytes only: a program that runs
    // with its own boot-image entry's privileges keeps that entry's full
    // name (the trace and `ps` show `attack_auth`, not `attack_a`).
    let name = match core::str::from_utf8(&name_bytes[..name_len]) {
        Ok(n) if !n.is_empty() && !template.starts_with(n) => n,
        _ => template,
    };
    sys.finish_exec(caller, target, space, elf.entry, index as usize, name, args, len);
    Ok(0)
}

/// The first `len` bytes of the caller's file at `elf_addr`, read where
/// they lie when they are within one page of the caller's (PM's buffer is
/// page-aligned), instead of copied onto the kernel stack first.
fn headers_in_place(space: &AddressSpace, elf_addr: u64, len: usize) -> Option<&'static [u8]> {
    if (elf_addr & (PAGE_SIZE - 1)) + len as u64 > PAGE_SIZE {
        return None;
    }
    let phys = space.translate(elf_addr, false)?;
    // SAFETY: `phys..phys + len` lies in one user page of the caller, RAM
    // the kernel identity-maps. The caller is running this call, so it
    // cannot change the bytes, and the frame stays allocated for the call:
    // the exec only adds references to the caller's frames (sharing) and
    // writes only frames of the new image.
    Some(unsafe { core::slice::from_raw_parts(phys as *const u8, len) })
}

/// Whether the entry point lies inside an executable PT_LOAD segment (whose
/// bounds `load` then checks against the program area). Anything else is
/// refused here: a non-canonical entry would make the `iretq` to the new
/// program fault in the kernel, with the user's stack pointer.
fn entry_in_code(elf: &Elf) -> bool {
    elf.segments().any(|seg| {
        seg.executable
            && seg.vaddr <= elf.entry
            && seg.vaddr.checked_add(seg.mem_size).is_some_and(|end| elf.entry < end)
    })
}

/// Maps every PT_LOAD segment of the caller's file at `elf_addr` into
/// `space`: whole read-only file pages are shared with the caller
/// ([`whole_file_pages`]), the rest gets fresh frames with the file bytes
/// copied in.
fn load(
    sys: &mut System,
    caller: usize,
    space: &mut AddressSpace,
    elf: &Elf,
    elf_addr: u64,
    elf_len: u64,
) -> Result<(), Error> {
    for seg in elf.segments() {
        let end = seg.vaddr.checked_add(seg.mem_size).ok_or(Error::Invalid)?;
        let file_end_in_file = seg.offset.checked_add(seg.file_size).ok_or(Error::Invalid)?;
        if seg.vaddr < USER_BASE
            || end > USER_STACK_BOTTOM
            || seg.file_size > seg.mem_size
            || file_end_in_file > elf_len
        {
            return Err(Error::Invalid);
        }
        let rights = Rights { write: seg.writable, execute: seg.executable };
        let file_end = seg.vaddr + seg.file_size;
        let mut page = seg.vaddr & !(PAGE_SIZE - 1);
        while page < end {
            // Whole read-only file pages: shared with the caller, as a
            // run, each page table found once.
            let whole = whole_file_pages(&seg, page, end, elf_addr, elf_len);
            if whole > 0 {
                let ours = sys.arch[caller].space;
                let from = elf_addr + file_offset(&seg, page);
                let shared = ours.share_range_into(&mut sys.frames, from, space, page, whole, seg.executable);
                page += shared * PAGE_SIZE;
                if shared == whole {
                    continue;
                }
            }
            // A page the run did not take: claimed twice (refused), not a
            // page the caller can share (copied), or out of memory.
            if space.translate(page, false).is_some() {
                return Err(Error::Invalid);
            }
            let theirs = (whole > 0).then(|| elf_addr + file_offset(&seg, page));
            if let Some(frame) =
                theirs.and_then(|at| sys.arch[caller].space.share_page(&mut sys.frames, at, space.owner()))
            {
                if space.map(&mut sys.frames, page, frame, rights, true).is_none() {
                    sys.frames.release(frame, space.owner());
                    return Err(Error::NoMemory);
                }
                page += PAGE_SIZE;
                continue;
            }
            let from = page.max(seg.vaddr);
            let to = file_end.min(page + PAGE_SIZE);
            if from >= to {
                // Bss only, and so is every page after it in the segment:
                // zeroes until written, mapped (and checked unclaimed)
                // with each page table found once, not walked per page (a
                // shell's heap arena is dozens of pages).
                let bss_end = (end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
                if !space.range_unmapped(page, bss_end) {
                    return Err(Error::Invalid);
                }
                space.map_zero_range(&mut sys.frames, page, bss_end, rights).ok_or(Error::NoMemory)?;
                break;
            }
            let frame = sys.frames.alloc_zeroed(space.owner()).ok_or(Error::NoMemory)?;
            if space.map(&mut sys.frames, page, frame, rights, true).is_none() {
                sys.frames.free(frame, space.owner());
                return Err(Error::NoMemory);
            }
            // SAFETY: `frame` is a fresh frame of RAM we own (now mapped
            // only into the new, not yet running space), identity-mapped
            // for the kernel; the range lies inside it.
            let dst =
                unsafe { core::slice::from_raw_parts_mut((frame + (from - page)) as *mut u8, (to - from) as usize) };
            let src = elf_addr + seg.offset + (from - seg.vaddr);
            Memory { arch: &mut sys.arch, frames: &mut sys.frames }.copy_in(caller, src, dst)?;
            page += PAGE_SIZE;
        }
    }
    Ok(())
}

/// How many pages from `page` (below the segment's end `end`) are whole
/// pages of the file that [`load`] shares with the caller instead of
/// copying them, exactly where that is right: the segment is read-only,
/// the file lies page-aligned in the caller's memory (PM's buffer does),
/// the segment is page-congruent (file offset ≡ address), and each page
/// lies wholly in the file with no zero-fill (bss) in it. The child then
/// sees a file page as the boot-image path maps it: the segment's bytes
/// and the file's bytes around them. The caller's pages turn
/// copy-on-write, so the caller can never change the child's code; a
/// program that exits before the caller's next exec costs no copy at all
/// (the frame is no longer shared when the caller writes it).
fn whole_file_pages(seg: &Segment, page: u64, end: u64, elf_addr: u64, elf_len: u64) -> u64 {
    let page_mask = PAGE_SIZE - 1;
    if seg.writable || elf_addr & page_mask != 0 || seg.vaddr & page_mask != seg.offset & page_mask {
        return 0;
    }
    // `load` checked the segment's file range, so the offset cannot wrap.
    let first = file_offset(seg, page);
    if elf_addr.checked_add(elf_len).is_none() {
        return 0;
    }
    let in_file = elf_len.saturating_sub(first) / PAGE_SIZE;
    // With bss, only the pages before the one where the file bytes end.
    let limit = if seg.mem_size == seg.file_size {
        end.saturating_add(page_mask) & !page_mask
    } else {
        (seg.vaddr + seg.file_size) & !page_mask
    };
    in_file.min(limit.saturating_sub(page) / PAGE_SIZE)
}

/// The file offset of the first byte of `page` of the page-congruent
/// segment `seg`.
fn file_offset(seg: &Segment, page: u64) -> u64 {
    (seg.offset & !(PAGE_SIZE - 1)) + (page - (seg.vaddr & !(PAGE_SIZE - 1)))
}
