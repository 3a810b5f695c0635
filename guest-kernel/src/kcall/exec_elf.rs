//! `exec_elf`: exec a program whose ELF file lies in the caller's memory
//! (the process manager read it from the disk through VFS).
//!
//! Unlike a boot-image exec, nothing can be mapped in place: every page of
//! every PT_LOAD segment gets a fresh frame and the file bytes are copied
//! into it from the caller (programs are small: tens of KiB). The ELF is
//! not trusted: the header and every segment are checked against the file
//! and the program area, and a page two segments claim is refused.

use crate::paging::{AddressSpace, Rights};
use crate::process::{Memory, System};
use abi::elf::Elf;
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
    let image = sys.image();
    if index >= image.len() as u64 {
        return Err(Error::Invalid);
    }
    if elf_len > EXEC_ELF_MAX {
        return Err(Error::Domain);
    }
    crate::lifecycle::check_args(&sys.arch[target].space, args, len)?;
    let mut header = [0u8; HEADER_BYTES];
    let header_len = (elf_len as usize).min(HEADER_BYTES);
    Memory { arch: &mut sys.arch, frames: &mut sys.frames }.copy_in(caller, elf_addr, &mut header[..header_len])?;
    let elf = Elf::parse(&header[..header_len]).map_err(|_| Error::Invalid)?;
    if !entry_in_code(&elf) {
        return Err(Error::Invalid);
    }
    let mut space = AddressSpace::new(&mut sys.frames).ok_or(Error::NoMemory)?;
    let loaded = load(sys, caller, &mut space, &elf, elf_addr, elf_len)
        .and_then(|()| sys.map_stack_and_kip(&mut space).map_err(|_| Error::NoMemory));
    if let Err(e) = loaded {
        space.destroy(&mut sys.frames);
        return Err(e);
    }
    let name_bytes = w[6].to_le_bytes();
    let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(8);
    let template = image.entry(index as usize).name;
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

/// Copies every PT_LOAD segment from the caller's file at `elf_addr` into
/// fresh frames of `space`.
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
            if space.translate(page, false).is_some() {
                return Err(Error::Invalid);
            }
            let frame = sys.frames.alloc_zeroed().ok_or(Error::NoMemory)?;
            if space.map(&mut sys.frames, page, frame, rights, true).is_none() {
                sys.frames.free(frame);
                return Err(Error::NoMemory);
            }
            let from = page.max(seg.vaddr);
            let to = file_end.min(page + PAGE_SIZE);
            if from < to {
                // SAFETY: `frame` is a fresh frame of RAM we own (now mapped
                // only into the new, not yet running space), identity-mapped
                // for the kernel; the range lies inside it.
                let dst = unsafe {
                    core::slice::from_raw_parts_mut((frame + (from - page)) as *mut u8, (to - from) as usize)
                };
                let src = elf_addr + seg.offset + (from - seg.vaddr);
                Memory { arch: &mut sys.arch, frames: &mut sys.frames }.copy_in(caller, src, dst)?;
            }
            page += PAGE_SIZE;
        }
    }
    Ok(())
}
