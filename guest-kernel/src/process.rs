//! The system state: kernel-core's process table plus, per process, its
//! saved registers and address space; program loading and dispatching.

use crate::arch::cpu;
use crate::arch::gdt::{USER_CS, USER_SS};
use crate::arch::trap::{self, TrapFrame};
use crate::frames::FrameAllocator;
use crate::paging::{AddressSpace, Rights};
use crate::pvh::Range;
use abi::boot_image::{
    BootImage, Entry, Privileges, FLAG_POWEROFF_ON_EXIT, MAX_IO_RANGES, MAX_MMIO_RANGES, MAX_PROGRAMS,
};
use abi::elf::Elf;
use abi::layout::{KIP_CODE, KIP_DATA, PAGE_SIZE, USER_BASE, USER_STACK_BOTTOM, USER_STACK_TOP};
use abi::{Error, Message};
use kernel_core::quota::BUILDING;
use kernel_core::{Kernel, UserMemory, NR_PROCS};

/// Architecture state of one process.
#[derive(Clone, Copy)]
pub struct ArchProc {
    /// Saved user registers; the CPU pushes into it on entry.
    pub frame: TrapFrame,
    pub space: AddressSpace,
    /// Power the machine off when this process exits.
    pub poweroff_on_exit: bool,
    /// Index of its program in the boot image.
    pub program: usize,
    /// Ports, IRQs and MMIO windows it may use (traps, destinations and
    /// kernel calls are enforced by kernel-core).
    pub privileges: Privileges,
    /// Its grant table: (address, entries); 0 entries = no grants.
    pub grant_table: (u64, u64),
    /// Tick at which its alarm fires (0 = none).
    pub alarm_at: u64,
}

impl ArchProc {
    pub const EMPTY: ArchProc = ArchProc {
        frame: TrapFrame {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: 0,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            vector: 0,
            error_code: 0,
            rip: 0,
            cs: 0,
            rflags: 0,
            rsp: 0,
            ss: 0,
        },
        space: AddressSpace { root: 0, image_end: 0, owner: 0 },
        poweroff_on_exit: false,
        program: 0,
        privileges: Privileges {
            traps: 0,
            kernel_calls: 0,
            send_to: 0,
            irqs: 0,
            io_ranges: [(0, 0); MAX_IO_RANGES],
            mmio_ranges: [(0, 0); MAX_MMIO_RANGES],
        },
        grant_table: (0, 0),
        alarm_at: 0,
    };
}

/// Everything the kernel knows.
pub struct System {
    pub core: Kernel,
    pub arch: [ArchProc; NR_PROCS],
    pub frames: FrameAllocator,
    /// Slot of the process whose frame the next entry saves into.
    pub current: usize,
    /// Address space loaded in CR3.
    pub loaded_root: u64,
    pub kip_code: u64,
    pub kip_data: u64,
    /// The kernel's own page-table root (no user mappings).
    pub kernel_root: u64,
    /// Where the boot image lies in physical memory.
    pub boot_image: Range,
    /// The boot image, parsed and checked once at boot (every spawn and
    /// exec reads it; parsing it again each time cost ≈ 5 % of a disk
    /// workload's kernel time).
    pub parsed_image: Option<BootImage<'static>>,
    /// Its entries, decoded once at boot (an exec reads its program's
    /// privileges and flags; decoding an entry is ≈ 20 little-endian
    /// fields, hundreds of emulated instructions).
    pub entries: [Option<Entry<'static>>; MAX_PROGRAMS],
    /// Earliest armed alarm (0 = none), so ticks need not scan; always the
    /// minimum of the armed `alarm_at`s.
    pub next_alarm: u64,
    /// Owner slot of each IRQ line.
    pub irq_owner: [Option<usize>; crate::arch::ioapic::IRQ_LINES],
}

impl System {
    pub const fn new() -> System {
        System {
            core: Kernel::new(),
            arch: [ArchProc::EMPTY; NR_PROCS],
            frames: FrameAllocator::empty(),
            current: 0,
            loaded_root: 0,
            kip_code: 0,
            kip_data: 0,
            kernel_root: 0,
            boot_image: Range { start: 0, end: 0 },
            parsed_image: None,
            entries: [None; MAX_PROGRAMS],
            next_alarm: 0,
            irq_owner: [None; crate::arch::ioapic::IRQ_LINES],
        }
    }

    /// The boot image (parsed at boot, before any process exists).
    #[inline]
    pub fn image(&self) -> BootImage<'static> {
        self.parsed_image.expect("boot image parsed at boot")
    }

    /// Boot-image entry `index` (decoded at boot); `None` past the last.
    #[inline]
    pub fn entry(&self, index: usize) -> Option<Entry<'static>> {
        self.entries.get(index).copied().flatten()
    }

    /// Keeps the boot image, checked, and its decoded entries.
    pub fn set_image(&mut self, image: BootImage<'static>) {
        for (slot, entry) in self.entries.iter_mut().zip(image.entries()) {
            *slot = Some(entry);
        }
        self.parsed_image = Some(image);
    }

    /// Starts boot-image program `index` with its privileges.
    pub fn spawn_from_image(&mut self, index: usize) -> Result<usize, &'static str> {
        let image = self.image();
        let entry = self.entry(index).ok_or("no such program in the boot image")?;
        let elf_phys = self.boot_image.start + entry.offset;
        self.spawn_program(entry, index, elf_phys, image.elf(index))
    }

    /// Creates a process running the ELF at physical address `elf_phys`.
    /// The ELF's segments are mapped in place (no copy); only bss and the
    /// stack get fresh frames.
    fn spawn_program(
        &mut self,
        entry: Entry,
        index: usize,
        elf_phys: u64,
        elf_bytes: &[u8],
    ) -> Result<usize, &'static str> {
        let elf = Elf::parse(elf_bytes)?;
        // Built before its slot exists, so that a failure takes no slot:
        // charged to `BUILDING` until then.
        let mut space = AddressSpace::new(&mut self.frames, BUILDING).ok_or("out of memory")?;
        let result = self.map_program(&mut space, &elf, elf_phys, elf_bytes);
        if let Err(e) = result {
            space.destroy(&mut self.frames);
            return Err(e);
        }
        let privileges = kernel_core::Privileges {
            traps: entry.privileges.traps,
            send_to: entry.privileges.send_to,
            kernel_calls: entry.privileges.kernel_calls,
        };
        let slot = match self.core.spawn_with_id(entry.name, entry.priority, privileges, index as u8) {
            Ok(slot) => slot,
            Err(_) => {
                space.destroy(&mut self.frames);
                return Err("process table full");
            }
        };
        self.core.set_user(slot, entry.flags & abi::boot_image::FLAG_USER != 0);
        self.frames.quota.adopt(slot);
        let a = &mut self.arch[slot];
        *a = ArchProc::EMPTY;
        a.space = AddressSpace { owner: slot as u8, ..space };
        a.poweroff_on_exit = entry.flags & FLAG_POWEROFF_ON_EXIT != 0;
        a.program = index;
        a.privileges = entry.privileges;
        a.frame.rip = elf.entry;
        a.frame.rsp = USER_STACK_TOP;
        a.frame.rflags = 0x202; // IF
        a.frame.cs = USER_CS;
        a.frame.ss = USER_SS;
        crate::directory::publish(self, slot);
        Ok(slot)
    }

    /// Maps the program's segments, stack and the KIP. Read-only and
    /// executable pages are mapped straight from the boot image; writable
    /// pages are private copies, so the image stays pristine for restarts.
    pub fn map_program(
        &mut self,
        space: &mut AddressSpace,
        elf: &Elf,
        elf_phys: u64,
        elf_bytes: &[u8],
    ) -> Result<(), &'static str> {
        for seg in elf.segments() {
            let end = seg.vaddr.checked_add(seg.mem_size).ok_or("segment overflows")?;
            if seg.vaddr < USER_BASE || end > USER_STACK_BOTTOM || seg.file_size > seg.mem_size {
                return Err("segment outside the user program area");
            }
            if seg.vaddr % PAGE_SIZE != seg.offset % PAGE_SIZE
                || seg.offset.checked_add(seg.file_size).is_none_or(|e| e > elf_bytes.len() as u64)
            {
                return Err("segment not page-congruent or outside the file");
            }
            let rights = Rights { write: seg.writable, execute: seg.executable };
            let first_page = seg.vaddr & !(PAGE_SIZE - 1);
            let file_end = seg.vaddr + seg.file_size;
            let mut page = first_page;
            while page < end {
                if page < file_end && !seg.writable {
                    let phys = elf_phys + (seg.offset - (seg.vaddr - first_page)) + (page - first_page);
                    space.map(&mut self.frames, page, phys, rights, false).ok_or("out of memory")?;
                } else if page < file_end {
                    let frame = self.frames.alloc_zeroed(space.owner()).ok_or("out of memory")?;
                    // Copy only the file bytes of this page; the rest stays
                    // zero (bss sharing the page).
                    let from = page.max(seg.vaddr);
                    let to = file_end.min(page + PAGE_SIZE);
                    let src = elf_phys + seg.offset + (from - seg.vaddr);
                    // SAFETY: both ranges are identity-mapped RAM: `src` lies
                    // in the boot image, `frame` is a fresh frame we own.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            src as *const u8,
                            (frame + (from - page)) as *mut u8,
                            (to - from) as usize,
                        )
                    };
                    space.map(&mut self.frames, page, frame, rights, true).ok_or("out of memory")?;
                } else {
                    // Bss, as is every page after it in the segment: zeroes
                    // until written, each page table found once.
                    let bss_end = (end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
                    space.map_zero_range(&mut self.frames, page, bss_end, rights).ok_or("out of memory")?;
                    break;
                }
                page += PAGE_SIZE;
            }
        }
        self.map_stack_and_kip(space)
    }

    /// Maps a zeroed stack and the two KIP pages into `space`: the top
    /// stack page (the argument block, the first frames) gets a frame, the
    /// pages below map the zero frame until written (see `paging`).
    pub fn map_stack_and_kip(&mut self, space: &mut AddressSpace) -> Result<(), &'static str> {
        let data = Rights { write: true, execute: false };
        let page = USER_STACK_TOP - PAGE_SIZE;
        space.map_zero_range(&mut self.frames, USER_STACK_BOTTOM, page, data).ok_or("out of memory")?;
        let top = self.frames.alloc_zeroed(space.owner()).ok_or("out of memory")?;
        if space.map(&mut self.frames, page, top, data, true).is_none() {
            self.frames.free(top, space.owner());
            return Err("out of memory");
        }
        space.map(&mut self.frames, KIP_CODE, self.kip_code, Rights { write: false, execute: true }, false);
        space.map(&mut self.frames, KIP_DATA, self.kip_data, Rights { write: false, execute: false }, false);
        Ok(())
    }

    /// Ends process `slot` with `status`: kernel-core makes it a zombie
    /// for its reaper or frees the slot; its memory is released either way.
    pub fn terminate(&mut self, slot: usize, status: u32) {
        let System { core, arch, frames, .. } = self;
        core.exit_with_status(&mut Memory { arch, frames }, slot, status);
        let alarm = core::mem::take(&mut self.arch[slot].alarm_at);
        if alarm != 0 && alarm == self.next_alarm {
            // Keep `next_alarm` exact (set_alarm relies on it).
            self.recompute_next_alarm();
        }
        // Its tables are about to be freed: never keep them loaded.
        if self.loaded_root == self.arch[slot].space.root {
            cpu::write_cr3(self.kernel_root);
            self.loaded_root = self.kernel_root;
        }
        crate::directory::clear(slot);
        let space = core::mem::take(&mut self.arch[slot].space);
        space.destroy(&mut self.frames);
        self.frames.quota.end(slot);
        for owner in self.irq_owner.iter_mut().enumerate() {
            if *owner.1 == Some(slot) {
                crate::arch::ioapic::mask(owner.0);
                *owner.1 = None;
            }
        }
        if self.arch[slot].poweroff_on_exit {
            crate::power_off(status);
        }
    }

    /// Picks the next process, loads its address space and returns its
    /// frame; idles until an interrupt makes someone ready. Powers off when
    /// no process is left.
    ///
    /// Inlined into the trap path: with no interrupt or alarm to deliver
    /// and someone ready (every IPC round trip), it is a bit scan and the
    /// switch, without a call of its own.
    #[inline(always)]
    pub fn schedule(&mut self) -> *mut TrapFrame {
        if !self.events_pending() {
            if let Some(next) = self.core.run_next() {
                return self.switch_to(next);
            }
        }
        self.schedule_slow()
    }

    /// The saved registers of the running process.
    pub fn current_frame(&mut self) -> *mut TrapFrame {
        &raw mut self.arch[self.current].frame
    }

    /// Makes `next` the running process: its address space and frame.
    #[inline(always)]
    pub fn switch_to(&mut self, next: usize) -> *mut TrapFrame {
        let root = self.arch[next].space.root;
        if root != self.loaded_root {
            self.load_root(root);
        }
        self.make_current(next)
    }

    /// [`Self::switch_to`] from the running process to another one, as the
    /// fast path's direct switch does: every process has an address space
    /// of its own, and the running one's is loaded, so the other's root
    /// always differs and is written without the compare.
    #[inline(always)]
    pub fn switch_to_other(&mut self, next: usize) -> *mut TrapFrame {
        let root = self.arch[next].space.root;
        debug_assert!(next != self.current && root != self.loaded_root);
        self.load_root(root);
        self.make_current(next)
    }

    #[inline(always)]
    fn load_root(&mut self, root: u64) {
        cpu::write_cr3(root);
        self.loaded_root = root;
    }

    /// Makes `next`'s frame the one the next entry saves into and the one
    /// to resume; its address space is loaded.
    #[inline(always)]
    fn make_current(&mut self, next: usize) -> *mut TrapFrame {
        self.current = next;
        let frame = &raw mut self.arch[next].frame;
        trap::set_current_frame(frame);
        frame
    }

    /// [`Self::schedule`] with events to deliver or nobody ready.
    #[inline(never)]
    fn schedule_slow(&mut self) -> *mut TrapFrame {
        loop {
            self.deliver_events();
            if let Some(next) = self.core.run_next() {
                return self.switch_to(next);
            }
            if self.core.procs.iter().all(|p| p.state == kernel_core::ProcState::Free) {
                crate::kprintln!("kernel: no process left; powering off");
                crate::power_off(0);
            }
            if crate::vclock::on() && crate::vclock::idle_jump(self) {
                continue;
            }
            cpu::wait_for_interrupt();
        }
    }
}

/// True when a message at `addr` does not cross a page boundary.
#[inline(always)]
pub fn within_one_page(addr: u64) -> bool {
    addr & (PAGE_SIZE - 1) <= PAGE_SIZE - size_of::<Message>() as u64
}

/// kernel-core's view of user memory: page-table walks over the identity
/// map.
pub struct Memory<'a> {
    pub arch: &'a mut [ArchProc; NR_PROCS],
    /// For breaking copy-on-write sharing when writing user memory.
    pub frames: &'a mut FrameAllocator,
}

impl Memory<'_> {
    /// Copies `len` bytes between user memory of `slot` at `addr` and the
    /// kernel buffer `buf`, page by page.
    fn copy(&mut self, slot: usize, addr: u64, buf: *mut u8, len: usize, to_user: bool) -> Result<(), Error> {
        let space = self.arch[slot].space;
        let mut done = 0usize;
        while done < len {
            let va = addr.checked_add(done as u64).ok_or(Error::Fault)?;
            let phys = if to_user { space.translate_write(self.frames, va) } else { space.translate(va, false) };
            let phys = phys.ok_or(Error::Fault)?;
            let chunk = (PAGE_SIZE - (va & (PAGE_SIZE - 1))).min((len - done) as u64) as usize;
            // SAFETY: `phys..phys+chunk` lies in one user page that the walk
            // found mapped (writable when writing), identity-mapped for the
            // kernel; `buf` has `len` bytes.
            unsafe {
                if to_user {
                    core::ptr::copy_nonoverlapping(buf.add(done), phys as *mut u8, chunk);
                } else {
                    core::ptr::copy_nonoverlapping(phys as *const u8, buf.add(done), chunk);
                }
            }
            done += chunk;
        }
        Ok(())
    }

    /// Reads user memory of `slot` into `buf`.
    pub fn copy_in(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.copy(slot, addr, buf.as_mut_ptr(), buf.len(), false)
    }

    /// Writes `buf` into user memory of `slot`.
    pub fn copy_out(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error> {
        // The pointer is only read from when copying to the user.
        self.copy(slot, addr, buf.as_ptr().cast_mut(), buf.len(), true)
    }

    /// Copies `len` bytes from `from`'s memory to `to`'s, page by page,
    /// without a kernel buffer.
    pub fn copy_between(
        &mut self,
        from: usize,
        from_addr: u64,
        to: usize,
        to_addr: u64,
        len: u64,
    ) -> Result<(), Error> {
        let (src_space, dst_space) = (self.arch[from].space, self.arch[to].space);
        let mut done = 0u64;
        while done < len {
            let src = from_addr.checked_add(done).ok_or(Error::Fault)?;
            let dst = to_addr.checked_add(done).ok_or(Error::Fault)?;
            let src_phys = src_space.translate(src, false).ok_or(Error::Fault)?;
            let chunk = (PAGE_SIZE - (src & (PAGE_SIZE - 1))).min(PAGE_SIZE - (dst & (PAGE_SIZE - 1))).min(len - done);
            // A whole destination page is written by this one chunk (nothing
            // can fail between here and the copy): a copy-on-write page
            // needs no copy of what it held first (file data read into
            // PM's program buffer, whose pages the last exec shares).
            let dst_phys = if chunk == PAGE_SIZE {
                dst_space.translate_overwrite(self.frames, dst)
            } else {
                dst_space.translate_write(self.frames, dst)
            }
            .ok_or(Error::Fault)?;
            // SAFETY: both ranges lie within single user pages that the walks
            // found mapped (the destination writable), identity-mapped for
            // the kernel; `copy` tolerates overlap of a process with itself.
            unsafe { core::ptr::copy(src_phys as *const u8, dst_phys as *mut u8, chunk as usize) };
            done += chunk;
        }
        Ok(())
    }
}

impl UserMemory for Memory<'_> {
    // Messages almost always lie within one page (they are aligned
    // variables), so the IPC path translates once and moves eight words;
    // only a message straddling a page takes the general copy.

    #[inline]
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error> {
        if within_one_page(addr) {
            let phys = self.arch[slot].space.translate(addr, false).ok_or(Error::Fault)?;
            // SAFETY: the 64 bytes at `phys` lie in one mapped user page
            // (checked above), identity-mapped for the kernel; any bit
            // pattern is a valid Message.
            return Ok(unsafe { core::ptr::read_unaligned(phys as *const Message) });
        }
        let mut msg = Message::default();
        self.copy(slot, addr, (&raw mut msg).cast(), size_of::<Message>(), false)?;
        Ok(msg)
    }

    #[inline]
    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error> {
        if within_one_page(addr) {
            let phys = self.arch[slot].space.translate_write(self.frames, addr).ok_or(Error::Fault)?;
            // SAFETY: the 64 bytes at `phys` lie in one user page mapped
            // writable for this process alone (COW broken above),
            // identity-mapped for the kernel.
            unsafe { core::ptr::write_unaligned(phys as *mut Message, *msg) };
            return Ok(());
        }
        let mut copy = *msg;
        self.copy(slot, addr, (&raw mut copy).cast(), size_of::<Message>(), true)
    }

    fn check_message(&mut self, slot: usize, addr: u64, write: bool) -> Result<(), Error> {
        let space = self.arch[slot].space;
        if within_one_page(addr) {
            let phys = if write { space.translate_write(self.frames, addr) } else { space.translate(addr, false) };
            return phys.map(|_| ()).ok_or(Error::Fault);
        }
        let last = addr.checked_add(size_of::<Message>() as u64 - 1).ok_or(Error::Fault)?;
        if write {
            space.translate_write(self.frames, addr).ok_or(Error::Fault)?;
            space.translate_write(self.frames, last).ok_or(Error::Fault)?;
        } else {
            space.translate(addr, false).ok_or(Error::Fault)?;
            space.translate(last, false).ok_or(Error::Fault)?;
        }
        Ok(())
    }

    fn read_bytes(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.copy_in(slot, addr, buf)
    }

    fn write_bytes(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error> {
        self.copy_out(slot, addr, buf)
    }

    fn check_bytes(&mut self, slot: usize, addr: u64, len: usize) -> Result<(), Error> {
        if len == 0 {
            return Ok(());
        }
        let space = self.arch[slot].space;
        let last = addr.checked_add(len as u64 - 1).ok_or(Error::Fault)?;
        let mut page = addr & !(PAGE_SIZE - 1);
        // One walk per page: every byte of a page is mapped alike.
        loop {
            space.translate_write(self.frames, page.max(addr)).ok_or(Error::Fault)?;
            match page.checked_add(PAGE_SIZE) {
                Some(next) if next <= last => page = next,
                _ => return Ok(()),
            }
        }
    }

    fn set_result(&mut self, slot: usize, value: i64) {
        self.arch[slot].frame.rax = value as u64;
    }

    #[inline(always)]
    fn trace(&mut self, event: &kernel_core::TraceEvent) {
        crate::trace::write(event);
    }
}

/// Reserved physical ranges for the frame allocator.
pub fn reserved_ranges(module: Range) -> [Range; 2] {
    extern "C" {
        static __kernel_start: u8;
        static __kernel_end: u8;
    }
    // Linker-defined symbols: only their addresses are taken.
    let kernel = Range { start: &raw const __kernel_start as u64, end: &raw const __kernel_end as u64 };
    [kernel, module]
}
