//! The IPC trace ring: kernel-core's events become 64-byte records in
//! guest memory that the VMM reserved and drains (`abi::trace`).
//!
//! Why this shape: every kernel instruction costs ≈ 0.6 µs on software
//! KVM and an exit ≈ 10 µs, so a record is a dozen stores straight into
//! its entry and a head update, with no exit and no read of the header; only a full ring in lossless mode rings the
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

/// Where the ring is and where the next record goes; `capacity == 0`
/// means tracing is off.
struct Ring {
    /// Physical (identity-mapped) address of the header.
    base: u64,
    /// Number of record entries.
    capacity: u64,
    /// The header's `head` (records written, the next sequence number),
    /// which only the kernel writes, is the one copy: the record reads it
    /// there and writes it back, so there is no second copy to update.
    /// It may grow up to here before the kernel must look at the
    /// host's `tail` again (the last `tail` read plus `capacity`): the
    /// common path never reads the header.
    limit: u64,
    /// Address of the entry that record `head` goes to; may be `end`
    /// until the next record wraps it to `first`.
    next: u64,
    /// Where `next` must stop before the ring's end or `limit` needs a
    /// look ([`refill`]): the one compare of the common path, and no count
    /// to keep beside `next`.
    stop: u64,
    /// Address of entry 0.
    first: u64,
    /// Address just past the last entry.
    end: u64,
    /// Ring the doorbell when full instead of dropping.
    lossless: bool,
}

static mut RING: Ring = Ring { base: 0, capacity: 0, limit: 0, next: 0, stop: 0, first: 0, end: 0, lossless: false };

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
    let first = base + RECORDS_OFFSET;
    r.base = base;
    r.capacity = capacity;
    let head = read_u64(base + header::HEAD);
    r.limit = read_u64(base + header::TAIL).wrapping_add(capacity);
    r.first = first;
    r.end = first + capacity * RECORD_SIZE as u64;
    r.next = first + (head % capacity) * RECORD_SIZE as u64;
    r.stop = r.next;
    r.lossless = (mode >> 32) as u32 == MODE_LOSSLESS;
    true
}

/// The time stamp counter as (low, high) halves, stored as they come.
#[inline(always)]
fn rdtsc() -> (u32, u32) {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc only reads the counter.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (lo, hi)
}

/// Asks the VMM to drain the ring. Not `nomem`: the VMM reads the records
/// and writes `tail` during the exit, so no access may move across it.
fn ring_doorbell() {
    // SAFETY: port I/O; the VMM only touches the ring, which we access
    // through volatile reads and writes.
    unsafe { core::arch::asm!("out dx, eax", in("dx") PORT_TRACE_DOORBELL, in("eax") 0u32, options(nostack)) };
}

/// The ring is full as far as the kernel knew (`head == limit`): reads the
/// host's `tail` and, when the ring really is full, rings the doorbell
/// (lossless) or counts the record as dropped. Returns whether there is
/// room now. Kept out of line: the common path stays short.
#[cold]
#[inline(never)]
fn make_room(r: &mut Ring) -> bool {
    let base = r.base;
    let head = read_u64(base + header::HEAD);
    let tail = read_u64(base + header::TAIL);
    r.limit = tail.wrapping_add(r.capacity);
    if head.wrapping_sub(tail) < r.capacity {
        return true;
    }
    if r.lossless {
        write_u64(base + header::DOORBELLS, read_u64(base + header::DOORBELLS) + 1);
        ring_doorbell();
        let tail = read_u64(base + header::TAIL);
        r.limit = tail.wrapping_add(r.capacity);
        if head.wrapping_sub(tail) < r.capacity {
            return true;
        }
    }
    write_u64(base + header::DROPPED, read_u64(base + header::DROPPED) + 1);
    false
}

/// Stores `value` at `addr` of a ring entry.
#[inline(always)]
fn put<T>(addr: u64, value: T) {
    // SAFETY: callers pass a field of the entry at `Ring::next`, which lies
    // inside the ring (between `first` and `end`, set from the checked
    // header in `init`), identity-mapped RAM reserved for the ring, and
    // aligned for `T` (fields are at their natural alignment).
    unsafe { core::ptr::write_volatile(addr as *mut T, value) }
}

/// Appends one record. Called only while tracing is on.
///
/// Cost is what tracing adds to every message, in emulated kernel
/// instructions on our hosts, so the common path is: one compare of `next`
/// with `stop`
/// (the ring's end and the host's `tail` are looked at only when it runs
/// out, [`refill`]), one store per field straight into the entry (the TSC
/// halves as `rdtsc` leaves them; kind, primitive and the zero reserved
/// half in one 32-bit store, which after inlining is an immediate), then
/// `head` to the header and the next entry address.
#[inline(always)]
pub fn write(event: &Event) {
    let r = ring();
    if r.next == r.stop && !refill(r) {
        return;
    }
    store(r, event);
}

/// Stores `event` as record `head` at `next` and advances both.
#[inline(always)]
fn store(r: &mut Ring, event: &Event) {
    use abi::trace::field;
    // Everything the ring state says is read before the first store: the
    // stores go through raw pointers, which the compiler must assume may
    // alias the state.
    let (at, base) = (r.next, r.base);
    let head = read_u64(base + header::HEAD);
    let (lo, hi) = rdtsc();
    put(at + field::SEQ as u64, head);
    put(at + field::TSC as u64, lo);
    put(at + field::TSC as u64 + 4, hi);
    put(at + field::TICKS as u64, crate::ticks() as u32);
    put(at + field::KIND as u64, u32::from(event.kind) | u32::from(event.primitive) << 8);
    put(at + field::SRC as u64, event.src);
    put(at + field::DST as u64, event.dst);
    // Type and result in one store: the result of a message is the
    // constant 0, so this is the type alone, zero-extended.
    put(at + field::MTYPE as u64, u64::from(event.mtype) | u64::from(event.result as u32) << 32);
    // The cause and the zero reserved word after it.
    put(at + field::CAUSE as u64, u64::from(event.cause));
    put(at + field::ARG0 as u64, event.args[0]);
    put(at + field::ARG1 as u64, event.args[1]);
    write_u64(base + header::HEAD, head + 1);
    r.next = at + RECORD_SIZE as u64;
}

/// `next` reached `stop`: wraps it to the ring's start when it reached the
/// end and, when `head` reached `limit`, makes room ([`make_room`]);
/// then counts the records that fit before the next look. Returns
/// whether the record may be stored. Kept out of line: the common path
/// stays short.
#[cold]
#[inline(never)]
fn refill(r: &mut Ring) -> bool {
    if r.next == r.end {
        r.next = r.first;
    }
    let head = read_u64(r.base + header::HEAD);
    if head >= r.limit && !make_room(r) {
        // No room: the next record must look again.
        r.stop = r.next;
        return false;
    }
    let room = (r.limit - head).min((r.end - r.next) / RECORD_SIZE as u64);
    r.stop = r.next + room * RECORD_SIZE as u64;
    true
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
/// and records the call with its result. A call that ends the caller or
/// the machine (exit, poweroff, kill of a live process) is recorded before
/// it runs, with result 0, which is then its real result; one the kernel
/// refuses (mask, bad target) is recorded after, with the refusal.
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
    let early = match KernelCall::from_number(event.mtype) {
        Some(call @ (KernelCall::Exit | KernelCall::PowerOff)) => msg.is_ok() && sys.core.may_call(slot, call),
        Some(KernelCall::Kill) => {
            msg.is_ok()
                && sys.core.may_call(slot, KernelCall::Kill)
                && sys.core.live_slot(Endpoint(event.args[0] as u32)).is_ok()
        }
        _ => false,
    };
    if early {
        write(&event);
    }
    sys.core.trace.kernel_cause = cause;
    let outcome = match &msg {
        Ok(msg) => crate::kcall::run(sys, slot, msg),
        Err(e) => Outcome::Done(e.to_return()),
    };
    sys.core.trace.kernel_cause = 0;
    if !early {
        if let Outcome::Done(value) = outcome {
            event.result = value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        }
        write(&event);
    }
    outcome
}
