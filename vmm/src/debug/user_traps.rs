//! Breakpoints and single steps in user code through the guest kernel
//! (`abi::debug`), for a host that runs guest user mode natively
//! (`kvm_pvm`), where KVM never reports a user-mode `#BP` or `#DB`.
//!
//! How: while gdb is attached the VMM sets the kernel's attached flag.
//! The kernel then offers every user-mode `#BP` that is not a system call
//! and every user-mode `#DB` to the VMM through a doorbell exit, with the
//! process's registers in its trap frame. At one of the debugger's
//! breakpoints (the `int3` just before the saved RIP, at the physical
//! address the VMM patched) the stub rewinds the saved RIP onto it and
//! reports the stop, the process as the current thread with the frame's
//! registers; a single step sets the trap flag in the saved RFLAGS and
//! lets the kernel return to the process, whose next instruction ends in
//! a `#DB` that the kernel offers the same way. Anything else (a stray
//! `int3`, a trap flag the program set itself) is given back to the
//! kernel, which handles it as it would without a debugger. The kernel
//! counts no entry for a trap the debugger takes, so a debugged
//! deterministic run keeps its trace.

use abi::debug::{ATTACHED, DR6, RFLAGS_TF, SLOT, VECTOR, VERDICT, VERDICT_GUEST, VERDICT_RESUME};
use abi::profile::frame;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::observe::profile::symbols::SymbolTable;

/// `#DB` and `#BP`.
const DB_VECTOR: u64 = 1;
const BP_VECTOR: u64 = 3;
/// DR6's single-step bit (BS).
const DR6_BS: u64 = 1 << 14;

/// The kernel's debugger table (guest-physical).
#[derive(Debug, Clone, Copy)]
pub struct UserTraps {
    table: u64,
}

/// A trap the kernel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trap {
    pub slot: u64,
    pub vector: u64,
    pub dr6: u64,
}

/// What an offered trap is to the debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStop {
    /// One of its software breakpoints, at this address.
    Breakpoint(u64),
    /// The single step it asked for ended.
    Step,
    /// Not the debugger's: the kernel handles it.
    Guest,
}

impl UserTraps {
    /// The table in the kernel ELF (`None`: a kernel without it).
    pub fn find(kernel_elf: &[u8]) -> Option<UserTraps> {
        SymbolTable::symbol(kernel_elf, abi::debug::DEBUGGER_SYMBOL)
            .filter(|&(_, size)| size as usize >= abi::debug::SIZE)
            .map(|(table, _)| UserTraps { table })
    }

    fn read(&self, mem: &GuestMemoryMmap, offset: usize) -> Option<u64> {
        mem.read_obj::<u64>(GuestAddress(self.table + offset as u64)).ok()
    }

    fn write(&self, mem: &GuestMemoryMmap, offset: usize, value: u64) -> bool {
        mem.write_obj(value, GuestAddress(self.table + offset as u64)).is_ok()
    }

    /// Tells the kernel whether a debugger is attached.
    pub fn set_attached(&self, mem: &GuestMemoryMmap, on: bool) {
        if !self.write(mem, ATTACHED, u64::from(on)) {
            log::warn!("gdb: cannot write the kernel's debugger table at {:#x}", self.table);
        }
    }

    /// The trap the kernel offers now (in its doorbell exit).
    pub fn trap(&self, mem: &GuestMemoryMmap) -> Option<Trap> {
        Some(Trap { slot: self.read(mem, SLOT)?, vector: self.read(mem, VECTOR)?, dr6: self.read(mem, DR6)? })
    }

    /// Tells the kernel whether the trap was the debugger's.
    pub fn set_verdict(&self, mem: &GuestMemoryMmap, debuggers: bool) {
        self.write(mem, VERDICT, if debuggers { VERDICT_RESUME } else { VERDICT_GUEST });
    }
}

/// What `trap` is, for a process whose saved RIP is `rip`: `ours(addr)`
/// says whether the debugger has a breakpoint at `addr` in that process's
/// address space, `stepping` whether it asked the process for a step.
pub fn classify(trap: &Trap, rip: u64, ours: impl Fn(u64) -> bool, stepping: bool) -> UserStop {
    match trap.vector {
        // `#BP` is a trap: the saved RIP is past the int3.
        BP_VECTOR if ours(rip.wrapping_sub(1)) => UserStop::Breakpoint(rip.wrapping_sub(1)),
        // DR6.BS says a step ended (0: a DR6 the host did not fill in).
        DB_VECTOR if stepping && (trap.dr6 & DR6_BS != 0 || trap.dr6 == 0) => UserStop::Step,
        _ => UserStop::Guest,
    }
}

/// Reads the `u64` at `offset` in the frame at `at`.
fn frame_word(mem: &GuestMemoryMmap, at: u64, offset: usize) -> Option<u64> {
    mem.read_obj::<u64>(GuestAddress(at + offset as u64)).ok()
}

/// The saved RIP of the frame at `at`.
pub fn saved_rip(mem: &GuestMemoryMmap, at: u64) -> Option<u64> {
    frame_word(mem, at, frame::RIP)
}

/// Sets the saved RIP of the frame at `at`.
pub fn set_saved_rip(mem: &GuestMemoryMmap, at: u64, rip: u64) -> bool {
    mem.write_obj(rip, GuestAddress(at + frame::RIP as u64)).is_ok()
}

/// Sets or clears the trap flag in the saved RFLAGS of the frame at `at`.
pub fn set_trap_flag(mem: &GuestMemoryMmap, at: u64, on: bool) -> bool {
    let Some(rflags) = frame_word(mem, at, frame::RFLAGS) else { return false };
    let rflags = if on { rflags | RFLAGS_TF } else { rflags & !RFLAGS_TF };
    mem.write_obj(rflags, GuestAddress(at + frame::RFLAGS as u64)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_debuggers_traps_are_its_own() {
        let bp = Trap { slot: 5, vector: BP_VECTOR, dr6: 0 };
        let ours = |a| a == 0x4000_1234;
        // The int3 just before the saved RIP is one of ours.
        assert_eq!(classify(&bp, 0x4000_1235, ours, false), UserStop::Breakpoint(0x4000_1234));
        // A stray int3 elsewhere goes back to the kernel.
        assert_eq!(classify(&bp, 0x4000_2000, ours, true), UserStop::Guest);
        let db = Trap { slot: 5, vector: DB_VECTOR, dr6: DR6_BS | 0xFFFF_0FF0 };
        assert_eq!(classify(&db, 0x4000_1240, ours, true), UserStop::Step);
        // A trap flag the program set itself: not a step we asked for.
        assert_eq!(classify(&db, 0x4000_1240, ours, false), UserStop::Guest);
        let other = Trap { slot: 5, vector: 14, dr6: 0 };
        assert_eq!(classify(&other, 0x4000_1235, ours, true), UserStop::Guest);
    }

    #[test]
    fn the_frame_is_rewound_and_stepped_in_place() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        let at = 0x1000;
        mem.write_obj(0x4000_1235u64, GuestAddress(at + frame::RIP as u64)).unwrap();
        mem.write_obj(0x202u64, GuestAddress(at + frame::RFLAGS as u64)).unwrap();
        assert!(set_saved_rip(&mem, at, 0x4000_1234));
        assert_eq!(saved_rip(&mem, at), Some(0x4000_1234));
        assert!(set_trap_flag(&mem, at, true));
        assert_eq!(frame_word(&mem, at, frame::RFLAGS), Some(0x302));
        assert!(set_trap_flag(&mem, at, false));
        assert_eq!(frame_word(&mem, at, frame::RFLAGS), Some(0x202));
    }
}
