//! Breakpoints, watchpoints and single-stepping through KVM's guest-debug
//! interface (`KVM_SET_GUEST_DEBUG`).
//!
//! Software breakpoints are `int3` bytes the VMM writes into guest memory
//! at the breakpoint's guest-physical address (saving the byte under it)
//! and restores when gdb removes the breakpoint. With
//! `KVM_GUESTDBG_USE_SW_BP` every `#BP` of the guest exits to us, its own
//! included: on this host the system-call entry stub is an `int3`, so an
//! exit at an address that is not one of ours is handed back to the guest
//! (`KVM_GUESTDBG_INJECT_BP`, which makes KVM deliver the `#BP` as if the
//! guest had taken it). The flag is set only while a software breakpoint
//! exists, so a session without them costs the guest's system calls
//! nothing.
//!
//! Hardware breakpoints and watchpoints use DR0–DR3 and DR7, which KVM
//! loads for the guest while debugging (`KVM_GUESTDBG_USE_HW_BP`); a
//! `#DB` exit's DR6 says which one fired, or that a single step ended.

use std::collections::BTreeMap;

use kvm_bindings::{
    kvm_debug_exit_arch, kvm_guest_debug, kvm_guest_debug_arch, KVM_GUESTDBG_BLOCKIRQ, KVM_GUESTDBG_ENABLE,
    KVM_GUESTDBG_INJECT_BP, KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_HW_BP, KVM_GUESTDBG_USE_SW_BP,
};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// The `int3` opcode.
pub const INT3: u8 = 0xCC;
/// Debug registers for breakpoints and watchpoints.
pub const HW_SLOTS: usize = 4;
/// `#DB` and `#BP`.
pub const DB_VECTOR: u32 = 1;
pub const BP_VECTOR: u32 = 3;
/// DR6: single step (BS), and B0–B3.
const DR6_BS: u64 = 1 << 14;
/// DR7's always-one bit 10 and GE (bit 9), as QEMU sets them.
const DR7_BASE: u64 = 0x600;

/// What a hardware slot watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwKind {
    Execute,
    Write,
    ReadWrite,
}

/// One debug-register slot in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwSlot {
    pub addr: u64,
    /// 1, 2, 4 or 8 bytes (1 for execution).
    pub len: u64,
    pub kind: HwKind,
}

/// A software breakpoint: where, and the byte `int3` replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SwBreakpoint {
    phys: u64,
    saved: u8,
}

/// What a debug exit was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugStop {
    /// One of our software breakpoints, at this guest-virtual address.
    SwBreak(u64),
    /// A hardware execution breakpoint.
    HwBreak,
    /// A watchpoint of this slot fired.
    Watch(HwSlot),
    /// A single step ended.
    Step,
    /// The guest's own `#BP`: give it back.
    GuestBreakpoint,
    /// Something else (reported to gdb as SIGTRAP).
    Other,
}

/// The debugger's breakpoints and the guest-debug flags KVM has.
#[derive(Debug, Default)]
pub struct Breakpoints {
    /// Software breakpoints by guest-virtual address.
    sw: BTreeMap<u64, SwBreakpoint>,
    hw: [Option<HwSlot>; HW_SLOTS],
    /// The flags KVM supports (`KVM_CAP_SET_GUEST_DEBUG2`; 0 if unknown).
    pub supported: u32,
    /// What KVM was last given.
    applied: Option<kvm_guest_debug>,
}

impl Breakpoints {
    /// An empty set for a KVM that supports `supported`.
    pub fn new(supported: u32) -> Breakpoints {
        Breakpoints { supported, ..Breakpoints::default() }
    }

    /// Whether KVM reports support for `flag` (an unknown set: assume so).
    pub fn supports(&self, flag: u32) -> bool {
        self.supported == 0 || self.supported & flag != 0
    }

    /// Inserts `int3` at `virt`, whose guest-physical address is `phys`.
    pub fn add_sw(&mut self, mem: &GuestMemoryMmap, virt: u64, phys: u64) -> bool {
        if self.sw.contains_key(&virt) {
            return true;
        }
        let Ok(saved) = mem.read_obj::<u8>(GuestAddress(phys)) else { return false };
        if mem.write_obj(INT3, GuestAddress(phys)).is_err() {
            return false;
        }
        self.sw.insert(virt, SwBreakpoint { phys, saved });
        true
    }

    /// Restores the byte under the breakpoint at `virt`.
    pub fn remove_sw(&mut self, mem: &GuestMemoryMmap, virt: u64) -> bool {
        match self.sw.remove(&virt) {
            Some(bp) => mem.write_obj(bp.saved, GuestAddress(bp.phys)).is_ok(),
            None => false,
        }
    }

    /// Removes every breakpoint (gdb detached), restoring guest memory.
    pub fn clear(&mut self, mem: &GuestMemoryMmap) {
        let all: Vec<u64> = self.sw.keys().copied().collect();
        for virt in all {
            self.remove_sw(mem, virt);
        }
        self.hw = [None; HW_SLOTS];
    }

    /// Takes a free debug register for `slot`.
    pub fn add_hw(&mut self, slot: HwSlot) -> bool {
        if self.hw.contains(&Some(slot)) {
            return true;
        }
        match self.hw.iter_mut().find(|s| s.is_none()) {
            Some(free) => {
                *free = Some(slot);
                true
            }
            None => false,
        }
    }

    /// Frees the debug register holding `slot`.
    pub fn remove_hw(&mut self, slot: HwSlot) -> bool {
        match self.hw.iter_mut().find(|s| **s == Some(slot)) {
            Some(used) => {
                *used = None;
                true
            }
            None => false,
        }
    }

    /// Whether `virt` has one of our software breakpoints.
    pub fn is_sw(&self, virt: u64) -> bool {
        self.sw.contains_key(&virt)
    }

    /// Whether `virt` has one of our software breakpoints and it is the
    /// one at `phys` (user programs share their addresses, not their code).
    pub fn is_sw_at(&self, virt: u64, phys: u64) -> bool {
        self.sw.get(&virt).is_some_and(|bp| bp.phys == phys)
    }

    /// The guest-debug settings for the next run.
    fn settings(&self, step: bool, inject_bp: bool) -> kvm_guest_debug {
        let mut control = KVM_GUESTDBG_ENABLE;
        if step {
            control |= KVM_GUESTDBG_SINGLESTEP;
            // A step should not land in an interrupt handler.
            if self.supported & KVM_GUESTDBG_BLOCKIRQ != 0 {
                control |= KVM_GUESTDBG_BLOCKIRQ;
            }
        }
        if !self.sw.is_empty() || inject_bp {
            control |= KVM_GUESTDBG_USE_SW_BP;
        }
        if inject_bp {
            control |= KVM_GUESTDBG_INJECT_BP;
        }
        let mut arch = kvm_guest_debug_arch::default();
        let mut dr7 = 0;
        for (i, slot) in self.hw.iter().enumerate() {
            let Some(slot) = slot else { continue };
            control |= KVM_GUESTDBG_USE_HW_BP;
            arch.debugreg[i] = slot.addr;
            let rw: u64 = match slot.kind {
                HwKind::Execute => 0b00,
                HwKind::Write => 0b01,
                HwKind::ReadWrite => 0b11,
            };
            let len: u64 = match slot.len {
                2 => 0b01,
                8 => 0b10,
                4 => 0b11,
                _ => 0b00,
            };
            // Li and Gi enable the slot; R/Wi and LENi at 16 + 4i.
            dr7 |= (0b11 << (2 * i)) | (rw << (16 + 4 * i)) | (len << (18 + 4 * i));
        }
        if dr7 != 0 {
            arch.debugreg[7] = dr7 | DR7_BASE;
        }
        kvm_guest_debug { control, pad: 0, arch }
    }

    /// Gives KVM the settings for the next run (only when they changed).
    pub fn apply(&mut self, vcpu: &VcpuFd, step: bool, inject_bp: bool) -> Result<(), kvm_ioctls::Error> {
        let settings = self.settings(step, inject_bp);
        let same = self
            .applied
            .is_some_and(|a| a.control == settings.control && a.arch.debugreg == settings.arch.debugreg && !inject_bp);
        if !same {
            vcpu.set_guest_debug(&settings)?;
            self.applied = Some(settings);
        }
        if inject_bp {
            // The injection is one-shot: the next apply sets the flags anew.
            self.applied = None;
        }
        Ok(())
    }

    /// Switches guest debugging off (gdb detached).
    pub fn disable(&mut self, vcpu: &VcpuFd) -> Result<(), kvm_ioctls::Error> {
        self.applied = None;
        vcpu.set_guest_debug(&kvm_guest_debug::default())
    }

    /// What the debug exit `exit` was; `rip` is the vCPU's RIP after it
    /// (the address of the `int3` for a breakpoint), `stepping` whether a
    /// single step was asked for.
    pub fn classify(&self, exit: &kvm_debug_exit_arch, rip: u64, stepping: bool) -> DebugStop {
        match exit.exception {
            BP_VECTOR => {
                // KVM reports the #BP with RIP at the int3; some report it
                // just after. Accept both.
                for at in [rip, exit.pc, rip.wrapping_sub(1), exit.pc.wrapping_sub(1)] {
                    if self.is_sw(at) {
                        return DebugStop::SwBreak(at);
                    }
                }
                DebugStop::GuestBreakpoint
            }
            DB_VECTOR => {
                for (i, slot) in self.hw.iter().enumerate() {
                    if exit.dr6 & (1 << i) != 0 {
                        if let Some(slot) = slot {
                            return match slot.kind {
                                HwKind::Execute => DebugStop::HwBreak,
                                _ => DebugStop::Watch(*slot),
                            };
                        }
                    }
                }
                if exit.dr6 & DR6_BS != 0 || stepping {
                    DebugStop::Step
                } else {
                    DebugStop::Other
                }
            }
            _ => DebugStop::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_slots_fill_dr7_and_run_out() {
        let mut bps = Breakpoints::new(0);
        let exec = HwSlot { addr: 0x1000, len: 1, kind: HwKind::Execute };
        let watch = HwSlot { addr: 0x2000, len: 8, kind: HwKind::Write };
        assert!(bps.add_hw(exec) && bps.add_hw(watch));
        let s = bps.settings(false, false);
        assert_eq!(s.arch.debugreg[0], 0x1000);
        assert_eq!(s.arch.debugreg[1], 0x2000);
        // Slot 0: enabled, execute, 1 byte; slot 1: enabled, write, 8 bytes.
        assert_eq!(s.arch.debugreg[7], 0b11 | (0b11 << 2) | (0b01 << 20) | (0b10 << 22) | DR7_BASE);
        assert_ne!(s.control & KVM_GUESTDBG_USE_HW_BP, 0);
        assert_eq!(s.control & KVM_GUESTDBG_USE_SW_BP, 0);
        for i in 0..2 {
            assert!(bps.add_hw(HwSlot { addr: 0x3000 + i, len: 1, kind: HwKind::Execute }));
        }
        assert!(!bps.add_hw(HwSlot { addr: 0x4000, len: 1, kind: HwKind::Execute }));
        assert!(bps.remove_hw(exec));
        assert!(!bps.remove_hw(exec));
        let hit = kvm_debug_exit_arch { exception: DB_VECTOR, pad: 0, pc: 0, dr6: 0b10, dr7: 0 };
        assert_eq!(bps.classify(&hit, 0, false), DebugStop::Watch(watch));
    }

    #[test]
    fn only_our_int3_is_ours() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        mem.write_obj(0x55u8, GuestAddress(0x1234)).unwrap();
        let mut bps = Breakpoints::new(0);
        assert!(bps.add_sw(&mem, 0x40_1234, 0x1234));
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x1234)).unwrap(), INT3);
        assert_ne!(bps.settings(false, false).control & KVM_GUESTDBG_USE_SW_BP, 0);
        let bp = |pc| kvm_debug_exit_arch { exception: BP_VECTOR, pad: 0, pc, dr6: 0, dr7: 0 };
        assert_eq!(bps.classify(&bp(0x40_1234), 0x40_1234, false), DebugStop::SwBreak(0x40_1234));
        assert_eq!(bps.classify(&bp(0x7000), 0x7000, false), DebugStop::GuestBreakpoint);
        assert!(bps.remove_sw(&mem, 0x40_1234));
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x1234)).unwrap(), 0x55);
        assert_eq!(bps.settings(false, false).control & KVM_GUESTDBG_USE_SW_BP, 0);
    }
}
