//! Fault plans: rules the host installs in guest memory to perturb IPC.
//!
//! The VMM reserves a region of guest RAM for the plan (marked reserved in
//! the PVH memory map) and tells the kernel where it is with
//! `viv.faults=ADDR,SIZE` on the command line; without the key (QEMU, or
//! no plan) fault injection is off and costs one flag test. The host writes
//! the plan before boot or while the guest is paused; the kernel reads the
//! rules at every IPC event and writes back per-rule counters, so the host
//! can see what fired.
//!
//! A rule is *trigger → action*. The trigger matches an IPC event on
//! source and destination (by privilege id, i.e. the program's boot-image
//! index, so names stay meaningful across restarts), primitive, message
//! type, the Nth matching event, virtual time (timer ticks), and a
//! probability under the plan's seeded PRNG — never on wall-clock time, so
//! the same plan and seed give the same run. Every injection is also
//! recorded in the trace (`abi::trace`, kind "fault injected").
//!
//! Layout (little-endian): a [`HEADER_SIZE`]-byte header, then `count`
//! rules of [`RULE_SIZE`] bytes each.
//!
//! | header offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic [`MAGIC`] |
//! | 4 | 4 | version [`VERSION`] |
//! | 8 | 4 | number of rules (re-read at every event, so the host may replace the plan while the guest is paused) |
//! | 12 | 4 | flags (bit 0: enabled) |
//! | 16 | 8 | PRNG seed / state (xorshift64*, advanced by the kernel) |
//! | 24 | 8 | total injections (kernel) |
//! | 32 | 8 | Stop events raised (kernel, [`HEADER_STOPS`]) |
//! | 40 | 8 | kernel entries so far in experiment mode (kernel, [`HEADER_KERNEL_ENTRIES`]) |
//! | 48 | 8 | virtual ticks so far in experiment mode (kernel, [`HEADER_VIRTUAL_TICKS`]) |
//! | 56 | 4 | pre-filter stamp (kernel, [`HEADER_FILTER_STAMP`]): 0 until the kernel has summarised the rules |
//! | 60 | 4 | reserved |
//!
//! | rule offset | size | field |
//! |---|---|---|
//! | 0 | 1 | source privilege id, or [`ANY_PROGRAM`] |
//! | 1 | 1 | destination privilege id, or [`ANY_PROGRAM`] (SYSTEM: [`SYSTEM_PROGRAM`]) |
//! | 2 | 1 | primitive mask: bit `n` = trap number `n` (0 = any) |
//! | 3 | 1 | action ([`Action`]) |
//! | 4 | 4 | message type, or [`ANY_TYPE`] |
//! | 8 | 4 | nth: fire on the nth match counting from 1 (0 = every match) |
//! | 12 | 4 | limit: most injections (0 = no limit) |
//! | 16 | 4 | probability: fire when a PRNG draw `< probability` (u32; `u32::MAX` = always) |
//! | 20 | 4 | action argument A (error number, byte offset, delay ticks) |
//! | 24 | 8 | action argument B (bit mask to XOR, bytes to write) |
//! | 32 | 8 | not before tick (0 = from boot) |
//! | 40 | 8 | not after tick (0 = forever) |
//! | 48 | 4 | matched so far (kernel) |
//! | 52 | 4 | injected so far (kernel) |
//! | 56 | 8 | reserved |

/// Documented addition (the workload's clock, experiment mode): after the
/// restart counts, 16 bytes. The host may set a budget in virtual ticks for
/// the workload (counted from `platform::MARK_COMMAND_START`); the kernel
/// publishes the ticks since that mark at every kernel entry and powers
/// the machine off with `platform::STATUS_TIMEOUT` once they pass a
/// non-zero budget. So a hung experiment ends at the same virtual instant
/// every run, cheaply, instead of spinning through virtual time until a
/// wall-clock timeout.
pub const CLOCK_OFFSET: usize = RESTART_COUNTS_END;
const _: () = assert!(CLOCK_OFFSET.is_multiple_of(8));
/// `u64` (host): the workload's budget in virtual ticks; 0 = none.
pub const CLOCK_BUDGET: usize = CLOCK_OFFSET;
/// `u64` (kernel): virtual ticks since `MARK_COMMAND_START` (0 before it).
pub const CLOCK_COMMAND_TICKS: usize = CLOCK_OFFSET + 8;
/// Size of the clock block.
pub const CLOCK_SIZE: usize = 16;

/// Documented addition (outcome evidence): after the clock block, 16
/// bytes in which the kernel records how the command's processes ended,
/// so that a campaign judges a workload by its real exit status and never
/// by text on the console, which any program can print. The workload is
/// the process that wrote the first `platform::MARK_COMMAND_START` (init's
/// child, which then execs the shell: exec keeps the endpoint); the check
/// is the process that wrote `platform::MARK_CHECK_START`, accepted only
/// from a process with that first writer's privilege id (init's), once.
/// When either process ends (exit, kill, CPU fault) the kernel writes
/// [`exit_status_word`] of its exit status in its word. Both are 0 until
/// then; the host zeroes them with the plan.
pub const STATUS_OFFSET: usize = CLOCK_OFFSET + CLOCK_SIZE;
/// `u64` (kernel): the workload's exit status ([`exit_status_word`]).
pub const STATUS_WORKLOAD: usize = STATUS_OFFSET;
/// `u64` (kernel): the check's exit status ([`exit_status_word`]).
pub const STATUS_CHECK: usize = STATUS_OFFSET + 8;
/// Size of the status block.
pub const STATUS_SIZE: usize = 16;
/// Bit 32 of a status word: the process ended (its status is bits 0-31).
pub const STATUS_ENDED: u64 = 1 << 32;
/// End of the last block: the least region size that carries them all.
pub const REGION_END: usize = STATUS_OFFSET + STATUS_SIZE;

/// The status word of a process that ended with `status`.
pub const fn exit_status_word(status: u32) -> u64 {
    STATUS_ENDED | status as u64
}

/// The exit status a status word records; `None` while the process has
/// not ended (or was never started).
pub const fn exit_status_of(word: u64) -> Option<u32> {
    if word & STATUS_ENDED != 0 {
        Some(word as u32)
    } else {
        None
    }
}

/// "VFLT".
pub const MAGIC: u32 = u32::from_le_bytes(*b"VFLT");
/// Plan format version.
pub const VERSION: u32 = 1;
/// Header size in bytes.
pub const HEADER_SIZE: usize = 64;
/// Rule size in bytes.
pub const RULE_SIZE: usize = 64;
/// Most rules a plan holds.
pub const MAX_RULES: usize = 64;
/// Size of the region the VMM reserves.
pub const REGION_SIZE: usize = HEADER_SIZE + MAX_RULES * RULE_SIZE;
/// Documented addition (Duplicate): the copy of a duplicated message waits
/// in a per-rule slot after the rules, never in kernel memory (the kernel
/// buffers no messages). Slot `i` (rule `i`) is at
/// `DUPLICATE_SLOTS_OFFSET + i * DUPLICATE_SLOT_SIZE`: word 0 = receiver
/// endpoint (bits 0-31) and 1 in bit 32 while the copy is pending, word 1 =
/// the sender's endpoint, then the 64-byte message (source stamped). A
/// region shorter than [`FULL_REGION_SIZE`] disables Duplicate only.
pub const DUPLICATE_SLOTS_OFFSET: usize = REGION_SIZE;
/// Size of one duplicate slot.
pub const DUPLICATE_SLOT_SIZE: usize = 80;
/// Size of a region with duplicate slots for every rule.
pub const FULL_REGION_SIZE: usize = DUPLICATE_SLOTS_OFFSET + MAX_RULES * DUPLICATE_SLOT_SIZE;
/// Documented addition: header offset 32 (in the reserved bytes) holds the
/// number of Stop events the kernel raised (u64).
pub const HEADER_STOPS: usize = 32;
/// Header offset of the kernel's pre-filter stamp (u32). The kernel
/// summarises the rules' sources, destinations and primitives once, so an
/// event no rule can match costs a few compares and no message read; it
/// sets this word to 1 when it has done so. A host that writes a plan
/// writes the header too ([`header`] leaves the word 0), so the kernel
/// summarises the new rules at the next event. A host that changes rules
/// in place must clear it.
pub const HEADER_FILTER_STAMP: usize = 56;
/// Header offset of the kernel's entry count (u64), written at every
/// kernel entry in experiment mode (`viv.deterministic=1`): the VMM's
/// spin watchdog reads it to tell a guest that makes progress from user
/// code spinning (`platform::IRQ_SPIN_TICK`).
pub const HEADER_KERNEL_ENTRIES: usize = 40;
/// Header offset of the guest's virtual time in ticks (u64), written with
/// the entry count in experiment mode: the VMM reads it at bench marks and
/// at the end of a run, so a campaign knows how long (in guest time) each
/// workload took.
pub const HEADER_VIRTUAL_TICKS: usize = 48;
/// Documented addition (Stop mailbox, for host-side SWIFI): before it
/// rings the Stop doorbell the kernel fills this mailbox after the
/// duplicate slots, so the host can find the target's code without seeing
/// the kernel's process table. The target is the event's destination (its
/// source when the rule's `B` = 1, as for Crash). Layout (little-endian):
///
/// | mailbox offset | size | field |
/// |---|---|---|
/// | 0 | 4 | [`STOP_MAILBOX_MAGIC`] when filled |
/// | 4 | 4 | rule index |
/// | 8 | 8 | target's page-table root (guest-physical PML4 address, its CR3) |
/// | 16 | 4 | target's endpoint |
/// | 20 | 1 | target's privilege id |
/// | 21 | 1 | length of the name (at most [`STOP_NAME_BYTES`]) |
/// | 22 | 2 | code pages the kernel copied for the target just before this Stop ([`STOP_PRIVATE_PAGES_AT`]) |
/// | 24 | 32 | target's program name (UTF-8, not terminated) |
///
/// A region shorter than `STOP_MAILBOX_OFFSET + STOP_MAILBOX_SIZE` gets no
/// mailbox (the doorbell still rings).
pub const STOP_MAILBOX_OFFSET: usize = FULL_REGION_SIZE;
/// Mailbox offset of the number (u16) of code pages the kernel copied
/// for the target before ringing: at a Stop the kernel gives the target a
/// private copy of its code (shared text: boot-image frames, or frames
/// shared with forks), so a mutation changes this instance only and a
/// restarted instance runs the pristine program, as MINIX 3's RS
/// reloading a driver's binary. 0 when the code already was private.
pub const STOP_PRIVATE_PAGES_AT: usize = 22;
/// Size of the Stop mailbox.
pub const STOP_MAILBOX_SIZE: usize = 64;
/// "VSTP".
pub const STOP_MAILBOX_MAGIC: u32 = u32::from_le_bytes(*b"VSTP");
/// Most name bytes the mailbox holds.
pub const STOP_NAME_BYTES: usize = 32;
/// Documented addition (restart evidence): after the Stop mailbox, one
/// `u32` per boot-image program (index = privilege id, at most
/// [`RESTART_COUNT_PROGRAMS`]): how many times a kernel call started that
/// program again after its first start, i.e. RS's restarts. The kernel
/// writes it (only a privileged kernel call can start a boot program), so a
/// campaign counts restarts from here, never from log text that any
/// program can print. The host zeroes it with the plan.
pub const RESTART_COUNTS_OFFSET: usize = STOP_MAILBOX_OFFSET + STOP_MAILBOX_SIZE;
/// Programs the restart table covers.
pub const RESTART_COUNT_PROGRAMS: usize = crate::layout::kip::MAX_BOOT_PROCS;
/// End of the restart table: the least region size that carries it.
pub const RESTART_COUNTS_END: usize = RESTART_COUNTS_OFFSET + RESTART_COUNT_PROGRAMS * 4;
/// Kernel command-line key: `viv.faults=0xADDR,0xSIZE`.
pub const CMDLINE_KEY: &str = "viv.faults";
/// Matches every program.
pub const ANY_PROGRAM: u8 = 0xFF;
/// The destination of kernel calls.
pub const SYSTEM_PROGRAM: u8 = 0xFE;
/// Matches every message type.
pub const ANY_TYPE: u32 = u32::MAX;

/// What a rule does when it fires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Action {
    /// The message is not delivered; the sender sees success.
    Drop = 1,
    /// The 8 payload bytes starting at byte offset `A` (0-48; larger
    /// offsets are clamped to 48) are XORed with `B`.
    FlipBits = 2,
    /// The 8 payload bytes starting at byte offset `A` (clamped as for
    /// `FlipBits`) are overwritten with `B`.
    Overwrite = 3,
    /// The message is delivered twice (the copy when the receiver next
    /// receives, as if sent again by the same sender). A SENDA entry too:
    /// its result and DONE flag are written once.
    Duplicate = 4,
    /// Delivery waits `A` timer ticks: the message is held until tick
    /// `now + A` (at least 1), then delivered as soon as the receiver
    /// accepts it; other messages may overtake it. A SEND's or SENDREC's
    /// sender stays blocked meanwhile; a SENDA entry stays pending (not
    /// DONE) in its sender's table, which does not block (one held entry
    /// per sender at a time). Not SENDNB, NOTIFY or kernel calls (they
    /// never wait for a receiver).
    Delay = 5,
    /// The primitive fails with error number `A` (an `abi::Error`), nothing
    /// is delivered.
    ReturnError = 6,
    /// The target process (the destination; the source when `B` = 1) is
    /// killed as if by a CPU exception.
    Crash = 7,
    /// The target process stops receiving: it is never scheduled again
    /// until killed (a hung driver, for RS's heartbeat to catch).
    Hang = 8,
    /// The guest stops with a doorbell so the host can act (e.g. mutate
    /// the target's code); it resumes when the host lets it.
    Stop = 9,
}

impl Action {
    /// Decodes an action byte.
    pub const fn from_u8(v: u8) -> Option<Action> {
        Some(match v {
            1 => Action::Drop,
            2 => Action::FlipBits,
            3 => Action::Overwrite,
            4 => Action::Duplicate,
            5 => Action::Delay,
            6 => Action::ReturnError,
            7 => Action::Crash,
            8 => Action::Hang,
            9 => Action::Stop,
            _ => return None,
        })
    }

    /// The name used in campaign files.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::FlipBits => "flip_bits",
            Action::Overwrite => "overwrite",
            Action::Duplicate => "duplicate",
            Action::Delay => "delay",
            Action::ReturnError => "error",
            Action::Crash => "crash",
            Action::Hang => "hang",
            Action::Stop => "stop",
        }
    }
}

/// One rule, as the host builds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rule {
    pub source: u8,
    pub destination: u8,
    pub primitives: u8,
    pub action: Action,
    pub mtype: u32,
    pub nth: u32,
    pub limit: u32,
    pub probability: u32,
    pub arg_a: u32,
    pub arg_b: u64,
    pub not_before: u64,
    pub not_after: u64,
}

impl Rule {
    /// A rule that fires `action` on every matching event.
    pub const fn new(action: Action) -> Rule {
        Rule {
            source: ANY_PROGRAM,
            destination: ANY_PROGRAM,
            primitives: 0,
            action,
            mtype: ANY_TYPE,
            nth: 0,
            limit: 0,
            probability: u32::MAX,
            arg_a: 0,
            arg_b: 0,
            not_before: 0,
            not_after: 0,
        }
    }

    /// Encodes the rule (counters zero).
    pub fn to_bytes(&self) -> [u8; RULE_SIZE] {
        let mut b = [0u8; RULE_SIZE];
        b[0] = self.source;
        b[1] = self.destination;
        b[2] = self.primitives;
        b[3] = self.action as u8;
        b[4..8].copy_from_slice(&self.mtype.to_le_bytes());
        b[8..12].copy_from_slice(&self.nth.to_le_bytes());
        b[12..16].copy_from_slice(&self.limit.to_le_bytes());
        b[16..20].copy_from_slice(&self.probability.to_le_bytes());
        b[20..24].copy_from_slice(&self.arg_a.to_le_bytes());
        b[24..32].copy_from_slice(&self.arg_b.to_le_bytes());
        b[32..40].copy_from_slice(&self.not_before.to_le_bytes());
        b[40..48].copy_from_slice(&self.not_after.to_le_bytes());
        b
    }

    /// Decodes a rule; `None` for an unknown action.
    pub fn from_bytes(b: &[u8; RULE_SIZE]) -> Option<Rule> {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| u64::from(u32_at(i)) | u64::from(u32_at(i + 4)) << 32;
        Some(Rule {
            source: b[0],
            destination: b[1],
            primitives: b[2],
            action: Action::from_u8(b[3])?,
            mtype: u32_at(4),
            nth: u32_at(8),
            limit: u32_at(12),
            probability: u32_at(16),
            arg_a: u32_at(20),
            arg_b: u64_at(24),
            not_before: u64_at(32),
            not_after: u64_at(40),
        })
    }

    /// The counters the kernel keeps in an encoded rule: (matched, injected).
    pub fn counters(b: &[u8; RULE_SIZE]) -> (u32, u32) {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        (u32_at(48), u32_at(52))
    }
}

/// Encodes a plan header for `rules` rules with PRNG `seed`.
pub fn header(rules: usize, seed: u64) -> [u8; HEADER_SIZE] {
    let mut b = [0u8; HEADER_SIZE];
    b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    b[4..8].copy_from_slice(&VERSION.to_le_bytes());
    b[8..12].copy_from_slice(&(rules.min(MAX_RULES) as u32).to_le_bytes());
    b[12..16].copy_from_slice(&1u32.to_le_bytes());
    // xorshift64* must not start at 0.
    b[16..24].copy_from_slice(&(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed }).to_le_bytes());
    b
}

/// One step of the plan's PRNG (xorshift64*): the new state and a 32-bit
/// draw. Host and kernel use the same function, so a plan's outcome is
/// reproducible from its seed.
pub const fn next_random(state: u64) -> (u64, u32) {
    let mut x = state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    (x, (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_and_the_prng_is_deterministic() {
        let mut r = Rule::new(Action::FlipBits);
        r.source = 3;
        r.mtype = 0x402;
        r.nth = 5;
        r.arg_a = 8;
        r.arg_b = 0xFF00;
        r.not_after = 900;
        assert_eq!(Rule::from_bytes(&r.to_bytes()), Some(r));
        let mut bad = r.to_bytes();
        bad[3] = 0;
        assert_eq!(Rule::from_bytes(&bad), None);
        let (s1, d1) = next_random(42);
        let (s2, d2) = next_random(42);
        assert_eq!((s1, d1), (s2, d2));
        assert_ne!(next_random(s1).1, d1);
        assert_eq!(&header(3, 0)[0..4], b"VFLT");
    }

    #[test]
    fn status_words_tell_an_exit_with_0_from_no_exit() {
        assert_eq!(exit_status_of(0), None);
        assert_eq!(exit_status_of(exit_status_word(0)), Some(0));
        assert_eq!(exit_status_of(exit_status_word(u32::MAX)), Some(u32::MAX));
        assert!(STATUS_OFFSET.is_multiple_of(8) && REGION_END > STATUS_CHECK);
    }
}
