//! Guest processes as gdb threads: the kernel's process directory
//! (`abi::profile`, read by the one reader
//! `crate::observe::profile::directory`) lists each process slot's
//! page-table root, endpoint and program name, and its saved-frame table
//! where the kernel keeps the registers of a process that is not running.
//!
//! Thread ids: slot + [`FIRST_SLOT_TID`]; [`KERNEL_TID`] is the kernel
//! itself when its own page tables are loaded (boot, between processes),
//! where no process is current. Everything here comes from guest memory
//! and is checked: a directory that lies gives wrong names, never a crash.

use abi::profile::frame;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::observe::profile::directory::Directory;
use crate::observe::profile::symbols::SymbolTable;

/// The kernel's thread (no process current).
pub const KERNEL_TID: usize = 1;
/// The thread id of process slot 0.
pub const FIRST_SLOT_TID: usize = 2;
/// The page-table root's bits of a CR3 value.
pub const ROOT_MASK: u64 = 0x000F_FFFF_FFFF_F000;

/// One process, as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub tid: usize,
    pub root: u64,
    pub endpoint: u32,
    pub name: String,
    /// Guest-physical address of its saved registers, if published.
    pub frame: Option<u64>,
}

/// Where the directory and the frame table are.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    /// The process directory.
    directory: Option<Directory>,
    /// Guest-physical address of the frame table.
    frames: Option<u64>,
}

/// A saved register file (the kernel's trap frame).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SavedRegs {
    /// In gdb's order: rax rbx rcx rdx rsi rdi rbp rsp r8..r15.
    pub gprs: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    pub cs: u64,
    pub ss: u64,
}

/// Offsets in the frame of gdb's 16 general registers, in gdb's order.
const GPR_OFFSETS: [usize; 16] = [
    frame::RAX,
    frame::RBX,
    frame::RCX,
    frame::RDX,
    frame::RSI,
    frame::RDI,
    frame::RBP,
    frame::RSP,
    frame::R8,
    frame::R9,
    frame::R10,
    frame::R11,
    frame::R12,
    frame::R13,
    frame::R14,
    frame::R15,
];

impl ProcessTable {
    /// Finds the tables through the kernel ELF's symbols.
    pub fn new(kernel_elf: &[u8]) -> ProcessTable {
        let directory = Directory::find(kernel_elf);
        let frames = SymbolTable::symbol(kernel_elf, abi::profile::FRAMES_SYMBOL).map(|s| s.0);
        if directory.is_none() {
            log::warn!("gdb: the kernel has no process directory; only the vCPU is a thread");
        }
        ProcessTable { directory, frames }
    }

    /// The processes the directory lists now.
    pub fn processes(&self, mem: &GuestMemoryMmap) -> Vec<Process> {
        let Some(directory) = &self.directory else { return Vec::new() };
        directory
            .entries(mem)
            .filter(|e| e.root & ROOT_MASK != 0)
            .map(|e| {
                let frame = self
                    .frames
                    .and_then(|t| mem.read_obj::<u64>(GuestAddress(t + e.slot * 8)).ok())
                    .filter(|&f| f != 0);
                let tid = e.slot as usize + FIRST_SLOT_TID;
                Process { tid, root: e.root & ROOT_MASK, endpoint: e.endpoint, name: e.name, frame }
            })
            .collect()
    }

    /// The thread whose address space `cr3` is ([`KERNEL_TID`] if none).
    pub fn current_tid(&self, mem: &GuestMemoryMmap, cr3: u64) -> usize {
        let root = cr3 & ROOT_MASK;
        self.processes(mem).iter().find(|p| p.root == root).map_or(KERNEL_TID, |p| p.tid)
    }
}

/// Reads the saved registers at `at`.
pub fn read_frame(mem: &GuestMemoryMmap, at: u64) -> Option<SavedRegs> {
    let mut raw = [0u8; frame::SIZE];
    mem.read_slice(&mut raw, GuestAddress(at)).ok()?;
    let word = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().unwrap_or_default());
    Some(SavedRegs {
        gprs: GPR_OFFSETS.map(word),
        rip: word(frame::RIP),
        rflags: word(frame::RFLAGS),
        cs: word(frame::CS),
        ss: word(frame::SS),
    })
}

/// Writes `regs` into the saved frame at `at` (the process resumes with
/// them); CS and SS are left as the kernel saved them.
pub fn write_frame(mem: &GuestMemoryMmap, at: u64, regs: &SavedRegs) -> bool {
    let mut ok = true;
    for (offset, value) in
        GPR_OFFSETS.iter().zip(regs.gprs).chain([(&frame::RIP, regs.rip), (&frame::RFLAGS, regs.rflags)])
    {
        ok &= mem.write_obj(value, GuestAddress(at + *offset as u64)).is_ok();
    }
    ok
}
