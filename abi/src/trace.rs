//! The IPC trace: fixed-size records the kernel appends to a ring in
//! memory shared with the host.
//!
//! Why a ring of fixed-size records: the host must see every IPC event
//! exactly, but a VM exit costs many times a whole IPC, so nothing may exit
//! per message. The kernel writes each record with a handful of stores into
//! guest memory the VMM reserved; the VMM drains the ring when the kernel
//! rings the doorbell (ring full, lossless mode) and at the end of the run.
//!
//! Layout of the ring (at the address and size given on the kernel command
//! line as `viv.trace=0xADDR,0xSIZE`, see [`crate::platform`]): a header
//! page ([`RingHeader`], written by the VMM before boot; the kernel updates
//! `head`, `dropped` and `doorbells`, the VMM `tail`), then `capacity`
//! records of [`RECORD_SIZE`] bytes. Record `n` (its sequence number) lies
//! in entry `n % capacity`.
//!
//! Causal attribution (the `cause` field): a request from a process of kind
//! "user" opens a new cause id (kernel calls of a user process too); every
//! message a process sends inherits the cause of the last message it
//! received. Cause 0 is "no user system call" (boot, timers, interrupts).

/// Magic of the ring header: "VTRC" in little-endian.
pub const RING_MAGIC: u32 = 0x4352_5456;
/// Ring format version.
pub const RING_VERSION: u32 = 1;
/// Size of one record in bytes.
pub const RECORD_SIZE: usize = 64;
/// Offset of record entry 0 from the start of the ring (the header page).
pub const RECORDS_OFFSET: u64 = 4096;

/// Header field offsets (all little-endian).
pub mod header {
    /// `u32` magic, [`super::RING_MAGIC`].
    pub const MAGIC: u64 = 0;
    /// `u32` version, [`super::RING_VERSION`].
    pub const VERSION: u64 = 4;
    /// `u32` record size, [`super::RECORD_SIZE`].
    pub const RECORD_SIZE: u64 = 8;
    /// `u32` mode: [`super::MODE_DROP`] or [`super::MODE_LOSSLESS`].
    pub const MODE: u64 = 12;
    /// `u64` number of record entries.
    pub const CAPACITY: u64 = 16;
    /// `u64` records written so far (the next sequence number); kernel.
    pub const HEAD: u64 = 24;
    /// `u64` records consumed so far; host.
    pub const TAIL: u64 = 32;
    /// `u64` records lost because the ring was full (drop mode); kernel.
    pub const DROPPED: u64 = 40;
    /// `u64` doorbells rung (lossless mode); kernel.
    pub const DOORBELLS: u64 = 48;
}

/// Mode: when the ring is full, count the record in `dropped` and go on.
pub const MODE_DROP: u32 = 0;
/// Mode: when the ring is full, ring the doorbell port
/// ([`crate::platform::PORT_TRACE_DOORBELL`]); the VMM drains the ring
/// during that exit, so no record is lost.
pub const MODE_LOSSLESS: u32 = 1;

/// The event a record describes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A message moved from sender to a waiting receiver during the send
    /// (SEND, SENDNB, SENDREC; replies included). A message.
    Send = 1,
    /// A sender blocked in the destination's queue (SEND or the send half
    /// of SENDREC); its message is delivered later by [`Kind::Receive`].
    SendQueued = 2,
    /// A receiver took a queued sender's message. A message.
    Receive = 3,
    /// A notification delivered at once (source may be SYSTEM). A message.
    Notify = 4,
    /// A notification left pending (one bit per source: it may coalesce).
    NotifyPended = 5,
    /// A pending notification taken by RECEIVE. A message.
    NotifyReceived = 6,
    /// A SENDA entry delivered (during the call or at a later RECEIVE).
    /// A message.
    SendaDelivered = 7,
    /// A SENDA entry left pending.
    SendaPended = 8,
    /// A primitive refused: `result` is the negated error.
    Refused = 9,
    /// A kernel call (a SENDREC to SYSTEM): `mtype` is the call number,
    /// `arg0` its first payload word, `result` its return value. A
    /// message.
    KernelCall = 10,
    /// A process ended: `src` the process, `result` its exit status.
    Exit = 11,
    /// A process was created: `src` the creator (SYSTEM at boot), `dst`
    /// the new endpoint, the name in the last 16 bytes.
    Spawn = 12,
    /// A process now runs a new program: `src` = `dst` the process, the
    /// new name in the last 16 bytes.
    Exec = 13,
    /// A fault-plan rule fired here: the event's ends, primitive, message
    /// type and cause; args = [rule index, action] (`kernel-core`'s fault
    /// hooks).
    FaultInjected = 14,
}

impl Kind {
    /// Every kind, in number order.
    pub const ALL: [Kind; 14] = [
        Kind::Send,
        Kind::SendQueued,
        Kind::Receive,
        Kind::Notify,
        Kind::NotifyPended,
        Kind::NotifyReceived,
        Kind::SendaDelivered,
        Kind::SendaPended,
        Kind::Refused,
        Kind::KernelCall,
        Kind::Exit,
        Kind::Spawn,
        Kind::Exec,
        Kind::FaultInjected,
    ];

    /// Decodes a kind byte.
    pub fn from_u8(n: u8) -> Option<Kind> {
        Self::ALL.iter().copied().find(|k| *k as u8 == n)
    }

    /// Whether the record is one delivered message (what the paper counts).
    pub const fn is_message(self) -> bool {
        matches!(
            self,
            Kind::Send | Kind::Receive | Kind::Notify | Kind::NotifyReceived | Kind::SendaDelivered | Kind::KernelCall
        )
    }

    /// A short lowercase name (JSON output).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Send => "send",
            Kind::SendQueued => "send_queued",
            Kind::Receive => "receive",
            Kind::Notify => "notify",
            Kind::NotifyPended => "notify_pended",
            Kind::NotifyReceived => "notify_received",
            Kind::SendaDelivered => "senda_delivered",
            Kind::SendaPended => "senda_pended",
            Kind::Refused => "refused",
            Kind::KernelCall => "kernel_call",
            Kind::Exit => "exit",
            Kind::Spawn => "spawn",
            Kind::Exec => "exec",
            Kind::FaultInjected => "fault_injected",
        }
    }
}

/// Record field offsets (all little-endian).
pub mod field {
    /// `u64` sequence number (0, 1, 2, … in the order written).
    pub const SEQ: usize = 0;
    /// `u64` time stamp counter when written.
    pub const TSC: usize = 8;
    /// `u32` timer ticks since boot.
    pub const TICKS: usize = 16;
    /// `u8` [`super::Kind`].
    pub const KIND: usize = 20;
    /// `u8` primitive ([`crate::syscall::Trap`] number; 0 for none).
    pub const PRIMITIVE: usize = 21;
    /// `u16` reserved, zero.
    pub const RESERVED: usize = 22;
    /// `u32` source endpoint.
    pub const SRC: usize = 24;
    /// `u32` destination endpoint.
    pub const DST: usize = 28;
    /// `u32` message type.
    pub const MTYPE: usize = 32;
    /// `i32` result (0, a negated error, or a kind-specific value).
    pub const RESULT: usize = 36;
    /// `u32` cause id.
    pub const CAUSE: usize = 40;
    /// `u32` reserved, zero.
    pub const RESERVED2: usize = 44;
    /// `u64` payload word 0 of the message (or the first 8 name bytes).
    pub const ARG0: usize = 48;
    /// `u64` payload word 1 of the message (or the last 8 name bytes).
    pub const ARG1: usize = 56;
}

/// What kernel-core reports for one event (the kernel adds the sequence
/// number and the time when writing it as a record).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Event {
    /// [`Kind`] as its number.
    pub kind: u8,
    /// Trap number of the primitive, 0 for none.
    pub primitive: u8,
    /// Source endpoint (raw).
    pub src: u32,
    /// Destination endpoint (raw).
    pub dst: u32,
    /// Message type.
    pub mtype: u32,
    /// Result.
    pub result: i32,
    /// Cause id.
    pub cause: u32,
    /// Payload words 0 and 1 (or a 16-byte name).
    pub args: [u64; 2],
}

/// One decoded record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Record {
    /// Sequence number.
    pub seq: u64,
    /// Time stamp counter.
    pub tsc: u64,
    /// Timer ticks since boot.
    pub ticks: u32,
    /// The event, with its kind decoded.
    pub kind: Kind,
    /// The rest of the event.
    pub event: Event,
}

/// Why 64 bytes are not a valid record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RecordError {
    /// Fewer than [`RECORD_SIZE`] bytes.
    Truncated,
    /// An unknown kind byte.
    BadKind(u8),
    /// The reserved fields are not zero.
    Reserved,
    /// A primitive byte that is no trap number.
    BadPrimitive(u8),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
}

impl Record {
    /// Encodes the record (the kernel writes the same bytes word by word).
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        let e = &self.event;
        b[field::SEQ..field::SEQ + 8].copy_from_slice(&self.seq.to_le_bytes());
        b[field::TSC..field::TSC + 8].copy_from_slice(&self.tsc.to_le_bytes());
        b[field::TICKS..field::TICKS + 4].copy_from_slice(&self.ticks.to_le_bytes());
        b[field::KIND] = self.kind as u8;
        b[field::PRIMITIVE] = e.primitive;
        b[field::SRC..field::SRC + 4].copy_from_slice(&e.src.to_le_bytes());
        b[field::DST..field::DST + 4].copy_from_slice(&e.dst.to_le_bytes());
        b[field::MTYPE..field::MTYPE + 4].copy_from_slice(&e.mtype.to_le_bytes());
        b[field::RESULT..field::RESULT + 4].copy_from_slice(&e.result.to_le_bytes());
        b[field::CAUSE..field::CAUSE + 4].copy_from_slice(&e.cause.to_le_bytes());
        b[field::ARG0..field::ARG0 + 8].copy_from_slice(&e.args[0].to_le_bytes());
        b[field::ARG1..field::ARG1 + 8].copy_from_slice(&e.args[1].to_le_bytes());
        b
    }

    /// Decodes a record; never panics, whatever the bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Record, RecordError> {
        if b.len() < RECORD_SIZE {
            return Err(RecordError::Truncated);
        }
        let kind = Kind::from_u8(b[field::KIND]).ok_or(RecordError::BadKind(b[field::KIND]))?;
        if b[field::RESERVED] != 0 || b[field::RESERVED + 1] != 0 || u32_at(b, field::RESERVED2) != 0 {
            return Err(RecordError::Reserved);
        }
        let primitive = b[field::PRIMITIVE];
        if primitive != 0 && crate::syscall::Trap::from_number(u64::from(primitive)).is_none() {
            return Err(RecordError::BadPrimitive(primitive));
        }
        Ok(Record {
            seq: u64_at(b, field::SEQ),
            tsc: u64_at(b, field::TSC),
            ticks: u32_at(b, field::TICKS),
            kind,
            event: Event {
                kind: kind as u8,
                primitive,
                src: u32_at(b, field::SRC),
                dst: u32_at(b, field::DST),
                mtype: u32_at(b, field::MTYPE),
                result: u32_at(b, field::RESULT) as i32,
                cause: u32_at(b, field::CAUSE),
                args: [u64_at(b, field::ARG0), u64_at(b, field::ARG1)],
            },
        })
    }

    /// The 16-byte name of a Spawn or Exec record, NUL-padded.
    pub fn name_bytes(&self) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&self.event.args[0].to_le_bytes());
        n[8..].copy_from_slice(&self.event.args[1].to_le_bytes());
        n
    }
}

/// Packs a name of at most 16 bytes into the two argument words.
pub fn name_args(name: &[u8]) -> [u64; 2] {
    let mut n = [0u8; 16];
    let len = name.len().min(16);
    n[..len].copy_from_slice(&name[..len]);
    [u64_at(&n, 0), u64_at(&n, 8)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = Record {
            seq: 7,
            tsc: 0x1234_5678_9abc,
            ticks: 42,
            kind: Kind::KernelCall,
            event: Event {
                kind: Kind::KernelCall as u8,
                primitive: 3,
                src: 0x1005,
                dst: 0xFFFF_FFFD,
                mtype: 4,
                result: -8,
                cause: 99,
                args: [1, 2],
            },
        };
        assert_eq!(Record::from_bytes(&r.to_bytes()), Ok(r));
        assert_eq!(Record::from_bytes(&[0u8; 10]), Err(RecordError::Truncated));
        assert_eq!(Record::from_bytes(&[0u8; 64]), Err(RecordError::BadKind(0)));
        let mut bad = r.to_bytes();
        bad[field::PRIMITIVE] = 9;
        assert_eq!(Record::from_bytes(&bad), Err(RecordError::BadPrimitive(9)));
    }

    #[test]
    fn names_pack_into_two_words() {
        let args = name_args(b"vfs");
        let r = Record {
            seq: 0,
            tsc: 0,
            ticks: 0,
            kind: Kind::Spawn,
            event: Event { kind: Kind::Spawn as u8, args, ..Event::default() },
        };
        assert_eq!(&r.name_bytes()[..4], b"vfs\0");
        assert_eq!(Kind::ALL.len(), 14);
        for k in Kind::ALL {
            assert_eq!(Kind::from_u8(k as u8), Some(k));
        }
    }
}
