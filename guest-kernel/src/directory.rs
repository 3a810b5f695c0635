//! The process directory for the host's profiler (`abi::profile`): which
//! process owns which page-table root, so that a sample's CR3 can be
//! named, and where each process's saved registers are, for the host's
//! debugger (`viv run --gdb`). Written when a slot gets or loses an
//! address space (spawn, fork, exec, exit), never on the IPC path; only
//! the host reads it.

use crate::process::System;
use abi::profile::{entry, ENTRY_SIZE};
use kernel_core::NR_PROCS;

/// The table, found by the host through this symbol name
/// (`abi::profile::DIRECTORY_SYMBOL`).
#[no_mangle]
static mut VIV_PROCESS_DIRECTORY: [[u8; ENTRY_SIZE]; NR_PROCS] = [[0; ENTRY_SIZE]; NR_PROCS];

/// Per slot, the address of its saved registers (`abi::profile::FRAMES_SYMBOL`).
#[no_mangle]
static mut VIV_PROCESS_FRAMES: [u64; NR_PROCS] = [0; NR_PROCS];

fn store(slot: usize, value: [u8; ENTRY_SIZE], frame: u64) {
    if slot >= NR_PROCS {
        return;
    }
    // SAFETY: one CPU, interrupts off in the kernel; the host reads the
    // tables only while the vCPU is out of the guest. Volatile because no
    // guest code ever reads them.
    unsafe {
        core::ptr::write_volatile(&raw mut VIV_PROCESS_DIRECTORY[slot], value);
        core::ptr::write_volatile(&raw mut VIV_PROCESS_FRAMES[slot], frame);
    }
}

/// Publishes the address space, endpoint and name of the process in `slot`.
pub fn publish(sys: &System, slot: usize) {
    let p = &sys.core.procs[slot];
    // The kernel is identity-mapped: the frame's address is guest-physical.
    let frame = &raw const sys.arch[slot].frame as u64;
    store(slot, entry(sys.arch[slot].space.root, p.endpoint.0, p.name().as_bytes()), frame);
}

/// Empties `slot`'s entry (its address space is being freed).
pub fn clear(slot: usize) {
    store(slot, [0; ENTRY_SIZE], 0);
}
