//! The fault plan in the guest: found through `viv.faults=0xADDR,0xSIZE`
//! like the trace ring, handed to kernel-core as one slice, and the two
//! actions kernel-core leaves to this layer (Crash needs the address-space
//! teardown of `System::terminate`, Stop needs a port write).
//!
//! Why a slice handed to kernel-core: the region is reserved RAM,
//! identity-mapped, that only the kernel touches while the guest runs (the
//! VMM writes it before boot and reads it during exits), so a plain
//! `&'static mut [u8]` is exactly its meaning; kernel-core's matching stays
//! safe, host-tested Rust (see `kernel-core/src/fault.rs`).

use crate::process::{Memory, System};
use abi::fault::{CMDLINE_KEY, HEADER_SIZE};
use abi::platform::{cmdline_value, parse_trace_value, MAX_GUEST_MEMORY, PORT_FAULT_STOP};

/// Installs the plan described on the command line; returns whether fault
/// injection is on.
pub fn init(sys: &mut System, cmdline: &str) -> bool {
    let Some((base, size)) = cmdline_value(cmdline, CMDLINE_KEY).and_then(parse_trace_value) else {
        return false;
    };
    if base % 4096 != 0 || size < HEADER_SIZE as u64 || base.checked_add(size).is_none_or(|e| e > MAX_GUEST_MEMORY) {
        crate::kprintln!("kernel: ignoring bad viv.faults={base:#x},{size:#x}");
        return false;
    }
    // SAFETY: the range lies in guest RAM below MAX_GUEST_MEMORY (checked
    // above), identity-mapped, and the VMM marked it reserved in the memory
    // map, so the frame allocator never hands it out; this is the only
    // reference the kernel makes to it, and it lives as long as the kernel.
    let region = unsafe { core::slice::from_raw_parts_mut(base as *mut u8, size as usize) };
    let on = sys.core.set_fault_plan(region);
    if !on {
        crate::kprintln!("kernel: no valid fault plan at {base:#x}; fault injection off");
    }
    on
}

/// After every kernel entry while a plan is installed: advances the
/// plan's clock (delivering delayed sends that are due), kills a process
/// the plan crashed, and rings the Stop doorbell.
pub fn after_event(sys: &mut System) {
    {
        let System { core, arch, frames, .. } = sys;
        core.fault_clock(&mut Memory { arch, frames }, crate::ticks());
    }
    if let Some((slot, rule)) = sys.core.faults.crash.take() {
        if sys.core.procs[slot].state == kernel_core::ProcState::Alive {
            let p = &sys.core.procs[slot];
            crate::kprintln!("kernel: process {} ({}) killed: injected fault (rule {rule})", p.name(), p.endpoint);
            sys.core.trace.kernel_cause = sys.core.procs[slot].cause;
            sys.terminate(slot, abi::syscall::EXIT_STATUS_FAULT);
            sys.core.trace.kernel_cause = 0;
        }
    }
    if let Some(rule) = sys.core.faults.stop.take() {
        // Not `nomem`: the host may read and change guest memory during
        // the exit.
        // SAFETY: port I/O to the VMM's fault-stop doorbell; other hosts
        // ignore the port.
        unsafe { core::arch::asm!("out dx, eax", in("dx") PORT_FAULT_STOP, in("eax") rule, options(nostack)) };
    }
}
