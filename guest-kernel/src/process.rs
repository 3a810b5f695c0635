//! The system state: kernel-core's process table plus, per process, its
//! saved registers and address space; program loading and dispatching.

use crate::arch::cpu;
use crate::arch::gdt::{USER_CS, USER_SS};
use crate::arch::trap::{self, TrapFrame};
use crate::elf::Elf;
use crate::frames::FrameAllocator;
use crate::paging::{AddressSpace, Rights};
use crate::pvh::Range;
use abi::layout::{KIP_CODE, KIP_DATA, PAGE_SIZE, USER_BASE, USER_STACK_BOTTOM, USER_STACK_TOP};
use abi::{Error, Message};
use kernel_core::{Kernel, UserMemory, NR_PROCS};

/// Architecture state of one process.
#[derive(Clone, Copy)]
pub struct ArchProc {
    /// Saved user registers; the CPU pushes into it on entry.
    pub frame: TrapFrame,
    pub space: AddressSpace,
    /// Power the machine off when this process exits.
    pub poweroff_on_exit: bool,
}

impl ArchProc {
    const EMPTY: ArchProc = ArchProc {
        frame: TrapFrame {
            r15: 0, r14: 0, r13: 0, r12: 0, r11: 0, r10: 0, r9: 0, r8: 0, rbp: 0, rdi: 0,
            rsi: 0, rdx: 0, rcx: 0, rbx: 0, rax: 0, vector: 0, error_code: 0, rip: 0, cs: 0,
            rflags: 0, rsp: 0, ss: 0,
        },
        space: AddressSpace { root: 0 },
        poweroff_on_exit: false,
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
        }
    }

    /// Creates a process running the ELF at physical address `elf_phys`.
    /// The ELF's segments are mapped in place (no copy); only bss and the
    /// stack get fresh frames.
    pub fn spawn_program(
        &mut self,
        name: &str,
        priority: u8,
        elf_phys: u64,
        elf_bytes: &[u8],
        poweroff_on_exit: bool,
    ) -> Result<usize, &'static str> {
        let elf = Elf::parse(elf_bytes)?;
        let space = AddressSpace::new(&mut self.frames).ok_or("out of memory")?;
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
                if page < file_end {
                    let phys = elf_phys + (seg.offset - (seg.vaddr - first_page)) + (page - first_page);
                    if file_end < page + PAGE_SIZE && end > file_end {
                        // A page that is part file, part bss: clear the rest.
                        let tail = (end.min(page + PAGE_SIZE) - file_end) as usize;
                        // SAFETY: the bytes are inside the boot image (below
                        // 1 GiB, identity-mapped) and belong to this segment.
                        unsafe { core::ptr::write_bytes((phys + (file_end - page)) as *mut u8, 0, tail) };
                    }
                    space.map(&mut self.frames, page, phys, rights, false).ok_or("out of memory")?;
                } else {
                    let frame = self.frames.alloc_zeroed().ok_or("out of memory")?;
                    space.map(&mut self.frames, page, frame, rights, true).ok_or("out of memory")?;
                }
                page += PAGE_SIZE;
            }
        }
        let data = Rights { write: true, execute: false };
        let mut page = USER_STACK_BOTTOM;
        while page < USER_STACK_TOP {
            let frame = self.frames.alloc_zeroed().ok_or("out of memory")?;
            space.map(&mut self.frames, page, frame, data, true).ok_or("out of memory")?;
            page += PAGE_SIZE;
        }
        space.map(&mut self.frames, KIP_CODE, self.kip_code, Rights { write: false, execute: true }, false);
        space.map(&mut self.frames, KIP_DATA, self.kip_data, Rights { write: false, execute: false }, false);

        let slot = self.core.spawn(name, priority).map_err(|_| "process table full")?;
        let a = &mut self.arch[slot];
        *a = ArchProc::EMPTY;
        a.space = space;
        a.poweroff_on_exit = poweroff_on_exit;
        a.frame.rip = elf.entry;
        a.frame.rsp = USER_STACK_TOP;
        a.frame.rflags = 0x202; // IF
        a.frame.cs = USER_CS;
        a.frame.ss = USER_SS;
        Ok(slot)
    }

    /// Ends process `slot` with `status`.
    pub fn terminate(&mut self, slot: usize, status: u32) {
        let System { core, arch, .. } = self;
        core.exit(&mut Memory { arch }, slot);
        // Its tables are about to be freed: never keep them loaded.
        if self.loaded_root == self.arch[slot].space.root {
            cpu::write_cr3(self.kernel_root);
            self.loaded_root = self.kernel_root;
        }
        let space = core::mem::take(&mut self.arch[slot].space);
        space.destroy(&mut self.frames);
        if self.arch[slot].poweroff_on_exit {
            crate::power_off(status);
        }
    }

    /// Picks the next process, loads its address space and returns its
    /// frame; idles until an interrupt makes someone ready. Powers off when
    /// no process is left.
    pub fn schedule(&mut self) -> *mut TrapFrame {
        loop {
            if let Some(next) = self.core.pick_next() {
                let root = self.arch[next].space.root;
                if root != self.loaded_root {
                    cpu::write_cr3(root);
                    self.loaded_root = root;
                }
                self.current = next;
                let frame = &raw mut self.arch[next].frame;
                trap::set_current_frame(frame);
                return frame;
            }
            if self.core.procs.iter().all(|p| p.state == kernel_core::ProcState::Free) {
                crate::kprintln!("kernel: no process left; powering off");
                crate::power_off(0);
            }
            cpu::wait_for_interrupt();
        }
    }
}

/// kernel-core's view of user memory: page-table walks over the identity
/// map.
pub struct Memory<'a> {
    pub arch: &'a mut [ArchProc; NR_PROCS],
}

impl Memory<'_> {
    /// Copies `len` bytes between user memory of `slot` at `addr` and the
    /// kernel buffer `buf`, page by page.
    fn copy(&self, slot: usize, addr: u64, buf: *mut u8, len: usize, to_user: bool) -> Result<(), Error> {
        let space = self.arch[slot].space;
        let mut done = 0usize;
        while done < len {
            let va = addr.checked_add(done as u64).ok_or(Error::Fault)?;
            let phys = space.translate(va, to_user).ok_or(Error::Fault)?;
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
}

impl UserMemory for Memory<'_> {
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error> {
        let mut msg = Message::default();
        self.copy(slot, addr, (&raw mut msg).cast(), size_of::<Message>(), false)?;
        Ok(msg)
    }

    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error> {
        let mut copy = *msg;
        self.copy(slot, addr, (&raw mut copy).cast(), size_of::<Message>(), true)
    }

    fn check_message(&mut self, slot: usize, addr: u64, write: bool) -> Result<(), Error> {
        let space = self.arch[slot].space;
        let last = addr.checked_add(size_of::<Message>() as u64 - 1).ok_or(Error::Fault)?;
        space.translate(addr, write).ok_or(Error::Fault)?;
        space.translate(last, write).ok_or(Error::Fault)?;
        Ok(())
    }

    fn set_result(&mut self, slot: usize, value: i64) {
        self.arch[slot].frame.rax = value as u64;
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
