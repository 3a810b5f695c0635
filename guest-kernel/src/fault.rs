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

use core::sync::atomic::{AtomicU64, Ordering};

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
/// the plan crashed, and rings the Stop doorbell. Inlined into the entry
/// path for the usual case, nothing to do but note the time. Returns
/// whether it had work (which may have woken or ended processes).
#[inline(always)]
pub fn after_event(sys: &mut System) -> bool {
    if sys.core.faults.work_pending() {
        after_event_work(sys);
        true
    } else {
        sys.core.faults.now = crate::ticks();
        false
    }
}

/// [`after_event`] with a delayed send, a Crash or a Stop pending.
#[inline(never)]
fn after_event_work(sys: &mut System) {
    {
        let System { core, arch, frames, .. } = sys;
        core.fault_clock(&mut Memory { arch, frames }, crate::ticks());
    }
    if let Some((slot, rule)) = sys.core.faults.crash.take() {
        crate::ipc_memory::forget_translations();
        if sys.core.procs[slot].state == kernel_core::ProcState::Alive {
            let p = &sys.core.procs[slot];
            crate::kprintln!("kernel: process {} ({}) killed: injected fault (rule {rule})", p.name(), p.endpoint);
            sys.core.trace.kernel_cause = sys.core.procs[slot].cause;
            sys.terminate(slot, abi::syscall::EXIT_STATUS_FAULT);
            sys.core.trace.kernel_cause = 0;
        }
    }
    if let Some(rule) = sys.core.faults.stop.take() {
        // The host may change the process's memory during the Stop.
        crate::ipc_memory::forget_translations();
        // The host may mutate the target's code during the Stop: only this
        // instance's (`AddressSpace::privatize_code`).
        let slot = sys.core.faults.stop_target;
        let mut copied = 0;
        if sys.core.procs[slot].state == kernel_core::ProcState::Alive {
            let System { arch, frames, .. } = sys;
            copied = arch[slot].space.privatize_code(frames);
        }
        write_stop_mailbox(sys, rule, copied);
        // Not `nomem`: the host may read and change guest memory during
        // the exit.
        // SAFETY: port I/O to the VMM's fault-stop doorbell; other hosts
        // ignore the port.
        unsafe { core::arch::asm!("out dx, eax", in("dx") PORT_FAULT_STOP, in("eax") rule, options(nostack)) };
    }
}

const _: () = assert!(abi::fault::RESTART_COUNT_PROGRAMS <= 64);

/// Boot-image programs a kernel call has started (bit `i`: program `i`).
static STARTED: AtomicU64 = AtomicU64::new(0);

/// A kernel call started boot-image program `index`: every start after its
/// first is a restart, counted in the plan region
/// (`abi::fault::RESTART_COUNTS_OFFSET`), where the campaign reads it.
pub fn count_start(sys: &mut System, index: usize) {
    use abi::fault::{RESTART_COUNTS_OFFSET, RESTART_COUNT_PROGRAMS};
    if index >= RESTART_COUNT_PROGRAMS {
        return;
    }
    let bit = 1u64 << index;
    if STARTED.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        return;
    }
    let at = RESTART_COUNTS_OFFSET + 4 * index;
    if let Some(count) = sys.core.faults_region_mut().and_then(|r| r.get_mut(at..at + 4)) {
        let n = u32::from_le_bytes([count[0], count[1], count[2], count[3]]).saturating_add(1);
        count.copy_from_slice(&n.to_le_bytes());
    }
}

/// Fills the Stop mailbox (`abi::fault::STOP_MAILBOX_OFFSET`) with the
/// target's page-table root, endpoint, privilege id, name and the code
/// pages just made private to it, so the host
/// can find the target's code (host-side SWIFI) during the doorbell exit.
fn write_stop_mailbox(sys: &mut System, rule: u32, private_pages: usize) {
    use abi::fault::{
        STOP_MAILBOX_MAGIC, STOP_MAILBOX_OFFSET, STOP_MAILBOX_SIZE, STOP_NAME_BYTES, STOP_PRIVATE_PAGES_AT,
    };
    let slot = sys.core.faults.stop_target;
    let p = &sys.core.procs[slot];
    let mut mb = [0u8; STOP_MAILBOX_SIZE];
    mb[0..4].copy_from_slice(&STOP_MAILBOX_MAGIC.to_le_bytes());
    mb[4..8].copy_from_slice(&rule.to_le_bytes());
    mb[8..16].copy_from_slice(&sys.arch[slot].space.root.to_le_bytes());
    mb[16..20].copy_from_slice(&p.endpoint.0.to_le_bytes());
    mb[20] = p.privilege_id;
    let name = p.name().as_bytes();
    let n = name.len().min(STOP_NAME_BYTES);
    mb[21] = n as u8;
    let private_pages = private_pages.min(u16::MAX as usize) as u16;
    mb[STOP_PRIVATE_PAGES_AT..STOP_PRIVATE_PAGES_AT + 2].copy_from_slice(&private_pages.to_le_bytes());
    mb[24..24 + n].copy_from_slice(&name[..n]);
    if let Some(region) = sys.core.faults_region_mut() {
        if let Some(dst) = region.get_mut(STOP_MAILBOX_OFFSET..STOP_MAILBOX_OFFSET + STOP_MAILBOX_SIZE) {
            dst.copy_from_slice(&mb);
        }
    }
}
