//! The IPC trace ring: kernel-core's events become 64-byte records in
//! guest memory that the VMM reserved and drains (`abi::trace`).
//!
//! Why this shape: every kernel instruction costs ≈ 0.6 µs on software
//! KVM and an exit ≈ 10 µs, so a record is eight word stores and a head
//! update, with no exit; only a full ring in lossless mode rings the
//! doorbell, and the VMM drains everything before the kernel resumes. The
//! ring is found through `viv.trace=0xADDR,0xSIZE` on the command line and
//! checked against the header the VMM wrote; without it (QEMU) tracing is
//! off and kernel-core never calls in here.
//!
//! Also here: the records kernel-core cannot make (kernel calls, which
//! the SYSTEM task serves in this crate, and process creation and exec).

use crate::process::{Memory, System};
use abi::platform::{cmdline_value, parse_trace_value, CMDLINE_TRACE_KEY, MAX_GUEST_MEMORY, PORT_TRACE_DOORBELL};
use abi::syscall::KernelCall;
use abi::trace::{
    header, name_args, Event, Kind, MODE_LOSSLESS, RECORDS_OFFSET, RECORD_SIZE, RING_MAGIC, RING_VERSION,
};
use abi::Endpoint;
use kernel_core::{Outcome, UserMemory};

/// Where the ring is; `capacity == 0` means tracing is off.
struct Ring {
    /// Physical (identity-mapped) address of the header.
    base: u64,
    /// Number of record entries.
    capacity: u64,
    /// Records written (the next sequence number).
    head: u64,
    /// Entry the next record goes to (`head % capacity`, kept to avoid a
    /// division per record).
    index: u64,
    /// Ring the doorbell when full instead of dropping.
    lossless: bool,
}

static mut RING: Ring = Ring { base: 0, capacity: 0, head: 0, index: 0, lossless: false };

fn ring() -> &'static mut Ring {
    // SAFETY: one CPU; the kernel runs with interrupts off except in the
    // idle wait, whose interrupt handler never traces. Callers do not keep
    // the reference across another call of this function.
    unsafe { &mut *(&raw mut RING) }
}

fn read_u64(addr: u64) -> u64 {
    // SAFETY: `addr` lies in the ring header, identity-mapped RAM the VMM
    // reserved for the ring (checked in `init`).
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

fn write_u64(addr: u64, value: u64) {
    // SAFETY: as in `read_u64`; only the kernel writes these fields while
    // the guest runs.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) }
}

/// Finds the ring described on the command line; returns whether tracing
/// is on.
pub fn init(cmdline: &str) -> bool {
    let Some((base, size)) = cmdline_value(cmdline, CMDLINE_TRACE_KEY).and_then(parse_trace_value) else {
        return false;
    };
    if base % 4096 != 0 || size <= RECORDS_OFFSET || base.checked_add(size).is_none_or(|end| end > MAX_GUEST_MEMORY) {
        crate::kprintln!("kernel: ignoring bad viv.trace={base:#x},{size:#x}");
        return false;
    }
    let word = read_u64(base + header::MAGIC);
    let mode = read_u64(base + header::RECORD_SIZE);
    let capacity = read_u64(base + header::CAPACITY);
    let fits = capacity > 0 && capacity <= (size - RECORDS_OFFSET) / RECORD_SIZE as u64;
    if word != u64::from(RING_MAGIC) | u64::from(RING_VERSION) << 32 || mode as u32 != RECORD_SIZE as u32 || !fits {
        crate::kprintln!("kernel: no valid trace ring header at {base:#x}; tracing off");
        return false;
    }
    let r = ring();
    r.base = base;
    r.capacity = capacity;
    r.head = read_u64(base + header::HEAD);
    r.index = r.head % capacity;
    r.lossless = (mode >> 32) as u32 == MODE_LOSSLESS;
    true
}

/// Read time stamp counter.
#[inline(always)]
fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the counter.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    u64::from(hi) << 32 | u64::from(lo)
}

/// Asks the VMM to drain the ring. Not `nomem`: the VMM reads the records
/// and writes `tail` during the exit, so no access may move across it.
fn ring_doorbell() {
    // SAFETY: port I/O; the VMM only touches the ring, which we access
    // through volatile reads and writes.
    unsafe { core::arch::asm!("out dx, eax", in("dx") PORT_TRACE_DOORBELL, in("eax") 0u32, options(nostack)) };
}

/// Appends one record. Called only while tracing is on.
#[inline(always)]
pub fn write(event: &Event) {
    let r = ring();
    let base = r.base;
    if r.head.wrapping_sub(read_u64(base + header::TAIL)) >= r.capacity {
        if !r.lossless {
            write_u64(base + header::DROPPED, read_u64(base + header::DROPPED) + 1);
            return;
        }
        write_u64(base + header::DOORBELLS, read_u64(base + header::DOORBELLS) + 1);
        ring_doorbell();
        if r.head.wrapping_sub(read_u64(base + header::TAIL)) >= r.capacity {
            write_u64(base + header::DROPPED, read_u64(base + header::DROPPED) + 1);
            return;
        }
    }
    let at = base + RECORDS_OFFSET + r.index * RECORD_SIZE as u64;
    let words = [
        r.head,
        rdtsc(),
        (crate::ticks() & 0xFFFF_FFFF) | u64::from(event.kind) << 32 | u64::from(event.primitive) << 40,
        u64::from(event.src) | u64::from(event.dst) << 32,
        u64::from(event.mtype) | u64::from(event.result as u32) << 32,
        u64::from(event.cause),
        event.args[0],
        event.args[1],
    ];
    // SAFETY: entry `index` < capacity lies inside the ring (checked in
    // `init`), 8-aligned, identity-mapped, reserved for the ring.
    unsafe { core::ptr::write_volatile(at as *mut [u64; 8], words) };
    r.head += 1;
    r.index += 1;
    if r.index == r.capacity {
        r.index = 0;
    }
    write_u64(base + header::HEAD, r.head);
}

/// A Spawn or Exec record: `src` made or re-made `dst`, now named `name`.
pub fn process_event(sys: &System, kind: Kind, src: Endpoint, dst: usize, cause: u32) {
    if !sys.core.trace.enabled {
        return;
    }
    let p = &sys.core.procs[dst];
    let event =
        Event { kind: kind as u8, src: src.0, dst: p.endpoint.0, cause, args: name_args(&p.name), ..Event::default() };
    write(&event);
}

/// A kernel call of `slot` with tracing on: opens a cause for a user
/// process, makes it the cause of whatever the kernel does for the call,
/// and records the call (before it runs when it may not return).
pub fn kernel_call(sys: &mut System, slot: usize, msg_addr: u64) -> Outcome {
    let cause = sys.core.open_cause(slot);
    let msg = Memory { arch: &mut sys.arch, frames: &mut sys.frames }.read_message(slot, msg_addr);
    let mut event = Event {
        kind: Kind::KernelCall as u8,
        primitive: abi::syscall::Trap::SendRec as u8,
        src: sys.core.procs[slot].endpoint.0,
        dst: Endpoint::SYSTEM.0,
        cause,
        ..Event::default()
    };
    if let Ok(m) = msg {
        event.mtype = m.mtype;
        event.args = [m.payload[0], m.payload[1]];
    }
    let early = matches!(
        KernelCall::from_number(event.mtype),
        Some(KernelCall::Exit | KernelCall::PowerOff | KernelCall::Kill)
    );
    if early {
        write(&event);
    }
    sys.core.trace.kernel_cause = cause;
    let outcome = crate::kcall::kernel_call(sys, slot, msg_addr);
    sys.core.trace.kernel_cause = 0;
    if !early {
        if let Outcome::Done(value) = outcome {
            event.result = value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        }
        write(&event);
    }
    outcome
}
