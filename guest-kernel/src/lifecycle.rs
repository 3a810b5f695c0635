//! Fork and exec for the process manager: the memory side of
//! kernel-core's `Kernel::fork` and `Kernel::exec`.
//!
//! Fork copies no memory: it shares every page copy-on-write (see
//! `paging`), so its cost is one walk over the parent's page-table entries.
//! Exec maps the new program as a spawn does and copies only the argument
//! block, straight from the old address space into the new one.

use crate::arch::gdt::{USER_CS, USER_SS};
use crate::paging::AddressSpace;
use crate::process::{ArchProc, System};
use abi::boot_image::Entry;
use abi::elf::Elf;
use abi::layout::{PAGE_SIZE, USER_STACK_BOTTOM, USER_STACK_TOP};
use abi::syscall::EXEC_ARGS_MAX;
use abi::{Endpoint, Error};

impl System {
    /// Forks `parent`, which waits for `caller`'s reply to a SENDREC;
    /// returns the child's slot.
    pub fn fork(&mut self, caller: usize, parent: usize) -> Result<usize, Error> {
        let child = self.core.fork(caller, parent)?;
        // The child is charged as its parent's user, for every page it
        // shares too: a fork over the quota is refused here, whole.
        self.frames.quota.start_child(child, parent);
        let Some(mut space) = AddressSpace::new(&mut self.frames, child) else {
            self.frames.quota.end(child);
            self.core.discard(child);
            return Err(Error::NoMemory);
        };
        if self.arch[parent]
            .space
            .fork_into(&mut space, &mut self.frames, hot_stack(self.arch[parent].frame.rsp))
            .is_none()
        {
            space.destroy(&mut self.frames);
            self.frames.quota.end(child);
            self.core.discard(child);
            return Err(Error::NoMemory);
        }
        let from = &self.arch[parent];
        self.arch[child] = ArchProc {
            frame: from.frame,
            space,
            poweroff_on_exit: false,
            program: from.program,
            privileges: from.privileges,
            grant_table: from.grant_table,
            alarm_at: 0,
        };
        crate::directory::publish(self, child);
        let cause = self.core.trace.kernel_cause;
        crate::trace::process_event(self, abi::trace::Kind::Spawn, self.endpoint(caller), child, cause);
        Ok(child)
    }

    /// Replaces the memory of `target` (waiting for `caller`'s reply to a
    /// SENDREC) with boot-image program `index`, passing it the argument
    /// block of `len` bytes at `args` in its current memory.
    pub fn exec(&mut self, caller: usize, target: usize, index: u64, args: u64, len: u64) -> Result<(), Error> {
        self.core.check_reply_wait(target, caller)?;
        let index = usize::try_from(index).map_err(|_| Error::Invalid)?;
        let entry: Entry = self.entry(index).ok_or(Error::Invalid)?;
        let elf_bytes = self.image().elf(index);
        let elf = Elf::parse(elf_bytes).map_err(|_| Error::Invalid)?;
        check_args(&self.arch[target].space, args, len)?;
        // Charged to the target while its old image is still there: an
        // exec needs room for both until it succeeds.
        let mut space = AddressSpace::new(&mut self.frames, target).ok_or(Error::NoMemory)?;
        let elf_phys = self.boot_image.start + entry.offset;
        if self.map_program(&mut space, &elf, elf_phys, elf_bytes).is_err() {
            space.destroy(&mut self.frames);
            return Err(Error::NoMemory);
        }
        self.finish_exec(caller, target, space, elf.entry, index, entry.name, args, len);
        Ok(())
    }

    /// The common end of an exec: the argument block moves into the new
    /// `space` (the checked block at `args`), the old space is freed, and
    /// `target` starts at `entry` as boot-image program `index` (its
    /// privileges), named `name`.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_exec(
        &mut self,
        caller: usize,
        target: usize,
        space: AddressSpace,
        entry_point: u64,
        index: usize,
        name: &str,
        args: u64,
        len: u64,
    ) {
        let entry: Entry = self.entry(index).expect("program index checked by the exec");
        let old = self.arch[target].space;
        let block = (USER_STACK_TOP - len) & !15;
        copy_between_spaces(&old, args, &space, block, len);
        // Its tables are about to be freed: never keep them loaded.
        if self.loaded_root == old.root {
            crate::arch::cpu::write_cr3(self.kernel_root);
            self.loaded_root = self.kernel_root;
        }
        old.destroy(&mut self.frames);
        let a = &mut self.arch[target];
        a.space = space;
        a.program = index;
        a.privileges = entry.privileges;
        a.grant_table = (0, 0);
        a.frame = ArchProc::EMPTY.frame;
        a.frame.rip = entry_point;
        a.frame.rsp = block;
        a.frame.rdi = block;
        a.frame.rsi = len;
        a.frame.rflags = 0x202; // IF
        a.frame.cs = USER_CS;
        a.frame.ss = USER_SS;
        let privileges = kernel_core::Privileges {
            traps: entry.privileges.traps,
            send_to: entry.privileges.send_to,
            kernel_calls: entry.privileges.kernel_calls,
        };
        self.core.exec(target, name, privileges, index as u8);
        self.core.set_user(target, entry.flags & abi::boot_image::FLAG_USER != 0);
        crate::directory::publish(self, target);
        let cause = self.core.trace.kernel_cause;
        crate::trace::process_event(self, abi::trace::Kind::Exec, self.endpoint(caller), target, cause);
    }

    /// The endpoint of the live process in `slot`.
    pub fn endpoint(&self, slot: usize) -> Endpoint {
        self.core.procs[slot].endpoint
    }
}

/// Stack pages a fork copies at once instead of sharing them ([`AddressSpace::fork_into`]):
/// the page of the parent's stack pointer, which both processes write as
/// soon as they return from the call. The pages around it are shared like
/// the rest: copying three more (session 12) cost more than the faults it
/// spared, since the child usually execs before it writes them (each copy
/// a `rep movsq` over the page, emulated element by element, and a frame
/// to free at the exec).
fn hot_stack(rsp: u64) -> core::ops::Range<u64> {
    if !(USER_STACK_BOTTOM..USER_STACK_TOP).contains(&rsp) {
        return 0..0;
    }
    let page = rsp & !(PAGE_SIZE - 1);
    page..page + PAGE_SIZE
}

/// Checks that the argument block (`len` ≤ `EXEC_ARGS_MAX` bytes at
/// `args`) is readable in `space` before anything changes.
pub fn check_args(space: &AddressSpace, args: u64, len: u64) -> Result<(), Error> {
    if len > EXEC_ARGS_MAX {
        return Err(Error::Domain);
    }
    if len > 0 {
        let last = args.checked_add(len - 1).ok_or(Error::Fault)?;
        let mut page = args & !(PAGE_SIZE - 1);
        while page <= last {
            space.translate(page.max(args), false).ok_or(Error::Fault)?;
            page += PAGE_SIZE;
        }
    }
    Ok(())
}

/// Copies `len` bytes from `src` in `from` to `dst` in `to`, page by page;
/// the caller checked the source, and the destination is the fresh stack.
fn copy_between_spaces(from: &AddressSpace, src: u64, to: &AddressSpace, dst: u64, len: u64) {
    let mut done = 0;
    while done < len {
        let (s, d) = (src + done, dst + done);
        let (Some(sp), Some(dp)) = (from.translate(s, false), to.translate(d, true)) else { return };
        let chunk = (PAGE_SIZE - (s & (PAGE_SIZE - 1))).min(PAGE_SIZE - (d & (PAGE_SIZE - 1))).min(len - done);
        // SAFETY: both ranges lie within single user pages the walks found
        // mapped (the destination writable, in a fresh private stack frame),
        // identity-mapped for the kernel; they are different frames.
        unsafe { core::ptr::copy_nonoverlapping(sp as *const u8, dp as *mut u8, chunk as usize) };
        done += chunk;
    }
}
