//! Test-only misbehaviour: a faulty disk driver on demand.
//!
//! The file server's distrust of the driver (`ext2fs`'s `disk` module,
//! docs/trust.md) can only be shown against a driver that misbehaves in
//! ways a crash does not cover: one that keeps answering RS's heartbeats
//! but stops serving, or answers garbage. The kernel command-line key
//! `blk.misbehave=MODE:N` turns such a mode on; without it (every ordinary
//! boot) this module does nothing. Test images and `vmm/tests/
//! driver_distrust.rs` set it.
//!
//! | mode | what the driver does |
//! |---|---|
//! | `silent:N` | from its Nth WRITE request on, receives requests and never answers them (heartbeats still answered) |
//! | `hang:N` | on its Nth WRITE request stops for good: answers neither requests nor heartbeats (a hung driver) |
//! | `wrong-id:N` | answers its Nth WRITE with the request id plus 1000 |
//! | `bad-count:N` | answers its Nth WRITE with twice the length |
//! | `eio-sector:S` | fails every READ that covers sector S with `Unavailable` (a bad sector) |
//!
//! WRITEs are counted because a boot only reads: the Nth write falls into
//! the workload. `N` may also be `rN`: the Nth READ after the first WRITE
//! (a failed write is often hidden by the writer writing again; a failed
//! read reaches the reader). The first three modes apply to the first
//! incarnation only
//! (DS's restart count for `blk` is 0), so a restarted driver serves
//! correctly, as after a transient fault; `eio-sector` applies to every
//! incarnation, as a damaged disk would.

use abi::proto::blockdev;
use abi::Message;

/// Kernel command-line key.
pub const KEY: &str = "blk.misbehave";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Silent(Nth),
    Hang(Nth),
    WrongId(Nth),
    BadCount(Nth),
    EioSector(u64),
}

/// Which request starts the misbehaviour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nth {
    /// The Nth WRITE.
    Write(u64),
    /// The Nth READ after the first WRITE.
    Read(u64),
}

/// What to do with one request.
pub enum Verdict {
    /// Serve it normally.
    Serve,
    /// Drop it: no answer.
    Ignore,
    /// Stop for good: never answer anything again, heartbeats included.
    Hang,
    /// Answer with this (id, result) instead of serving it.
    Answer(u64, i64),
    /// Serve it, then replace the answer's (id, result) with these
    /// functions of the real ones.
    Garble { id_plus: u64, count_times: u64 },
}

/// The parsed mode and the request counter.
pub struct Misbehave {
    mode: Mode,
    writes: u64,
    /// READs since the first WRITE.
    reads: u64,
    /// The request that started the misbehaviour was seen.
    started: bool,
    first_instance: Option<bool>,
}

impl Misbehave {
    /// Reads [`KEY`] from the kernel command line.
    pub fn from_cmdline() -> Misbehave {
        let mode = rt::kip::cmdline_value(KEY).map_or(Mode::Off, parse);
        if mode != Mode::Off {
            rt::println!("blk: test-only misbehaviour {} is on", rt::kip::cmdline_value(KEY).unwrap_or(""));
        }
        Misbehave { mode, writes: 0, reads: 0, started: false, first_instance: None }
    }

    fn first_instance(&mut self) -> bool {
        *self
            .first_instance
            .get_or_insert_with(|| rt::names::lookup_fresh("blk").is_ok_and(|(_, restarts)| restarts == 0))
    }

    /// The verdict on request `msg`.
    pub fn judge(&mut self, msg: &Message) -> Verdict {
        if self.mode == Mode::Off {
            return Verdict::Serve;
        }
        if let Mode::EioSector(s) = self.mode {
            let (pos, len) = (msg.payload[1], msg.payload[3]);
            let first = pos / blockdev::SECTOR_SIZE;
            let end = (pos + len).div_ceil(blockdev::SECTOR_SIZE);
            if msg.mtype == blockdev::READ && first <= s && s < end {
                return Verdict::Answer(msg.payload[0], abi::Error::Unavailable.to_return());
            }
            return Verdict::Serve;
        }
        match msg.mtype {
            blockdev::WRITE => self.writes += 1,
            blockdev::READ if self.writes > 0 => self.reads += 1,
            _ => {}
        }
        let (mode, writes, reads) = (self.mode, self.writes, self.reads);
        let is_nth = |nth: Nth| match nth {
            Nth::Write(n) => msg.mtype == blockdev::WRITE && writes == n,
            Nth::Read(n) => msg.mtype == blockdev::READ && reads == n,
        };
        let (verdict, nth) = match mode {
            Mode::Silent(nth) if self.started || is_nth(nth) => (Verdict::Ignore, nth),
            Mode::Hang(nth) if is_nth(nth) => (Verdict::Hang, nth),
            Mode::WrongId(nth) if is_nth(nth) => (Verdict::Garble { id_plus: 1000, count_times: 1 }, nth),
            Mode::BadCount(nth) if is_nth(nth) => (Verdict::Garble { id_plus: 0, count_times: 2 }, nth),
            _ => return Verdict::Serve,
        };
        if !self.first_instance() {
            return Verdict::Serve;
        }
        if !self.started && is_nth(nth) {
            self.started = true;
            // The moment the tests measure the recovery from.
            let ms = rt::sys::uptime() * 1000 / rt::kip::tick_hz().max(1);
            rt::println!("blk: test-only: misbehaving on request {} at {} ms", msg.payload[0], ms);
        }
        verdict
    }
}

fn parse(value: &str) -> Mode {
    let (name, n) = value.split_once(':').unwrap_or((value, "1"));
    let nth = match n.strip_prefix('r') {
        Some(reads) => Nth::Read(reads.parse().unwrap_or(1)),
        None => Nth::Write(n.parse().unwrap_or(1)),
    };
    match name {
        "silent" => Mode::Silent(nth),
        "hang" => Mode::Hang(nth),
        "wrong-id" => Mode::WrongId(nth),
        "bad-count" => Mode::BadCount(nth),
        "eio-sector" => Mode::EioSector(n.parse().unwrap_or(0)),
        _ => {
            rt::println!("blk: unknown {} mode {:?}; ignored", KEY, value);
            Mode::Off
        }
    }
}
