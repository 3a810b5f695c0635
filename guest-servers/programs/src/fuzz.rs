//! A protocol-aware IPC fuzzer for `viv threats`.
//!
//! `ipcfuzz SEED COUNT` (user privileges) and `ipcfuzz_drv SEED COUNT`
//! (a driver's privileges) send COUNT messages drawn from SEED to the
//! servers they can name (PM, VFS, DS, RS) and to stale and random
//! endpoints: mostly real request types of each server's protocol
//! (`abi::proto`), with payload words that are small numbers, descriptor
//! numbers, grant ids (some valid, made for VFS), lengths, huge values and
//! pointers. Every server must answer (or refuse) and survive; the host
//! then checks that no kernel panicked, that RS, DS, PM and VFS never
//! died, and that the disk and the workload are intact.
//!
//! What it leaves out, because an honest server may block a client on it
//! for ever: PM's FORK, EXEC and EXIT (they would multiply or end the
//! fuzzer), VFS's PIPE (a read on a pipe whose writer is the reader
//! itself waits for ever) and reads of the console (its standard
//! descriptors are closed first). Paths come from a small dictionary under
//! `/fuzz` and `/tmp` plus garbage, so the workload's files are never
//! named; SLEEP is capped at 20 ms.
//!
//! The summary (messages sent, answers, errors by name) goes to the
//! console through a fresh `/dev/tty` descriptor, as
//! `ipcfuzz: COUNT messages: ...`.

use abi::proto::{self, ds, pm, rs, vfs};
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

/// Request types worth sending to each server.
const PM_TYPES: &[u32] =
    &[pm::WAIT, pm::KILL, pm::GETPID, pm::SLEEP, pm::PS, pm::SIGNAL_FOREGROUND, pm::IGNORE_INTERRUPT];
const VFS_TYPES: &[u32] = &[
    vfs::OPEN,
    vfs::CLOSE,
    vfs::READ,
    vfs::WRITE,
    vfs::DUP,
    vfs::CHDIR,
    vfs::STAT,
    vfs::FSTAT,
    vfs::GETDENTS,
    vfs::LSEEK,
    vfs::MKDIR,
    vfs::UNLINK,
    vfs::GETCWD,
    vfs::RMDIR,
    vfs::RENAME,
    vfs::FSYNC,
    vfs::SYNC,
    vfs::PM_FORK,
    vfs::PM_EXIT,
];
const DS_TYPES: &[u32] = &[ds::PUBLISH, ds::LOOKUP, ds::SUBSCRIBE, ds::CHECK, ds::DELETE];
const RS_TYPES: &[u32] = &[rs::LIST, rs::RESTART, rs::STOP, rs::START];

/// Paths the fuzzer may name (never the workload's files).
const PATHS: &[&[u8]] = &[b"/fuzz", b"/fuzz/a", b"/fuzz/b/c", b"/tmp/fz", b"/tmp", b"", b"//", b"/fuzz/\xff\xfe", b"."];

/// Names of services and servers, for requests that carry a name.
const SERVICE_NAMES: &[&str] = &["tty", "blk", "ext2fs", "vfs", "pm", "ds", "rs", "fuzz"];

/// The seeded generator (the same one the fault plans use).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        let (state, hi) = abi::fault::next_random(self.0);
        let (state2, lo) = abi::fault::next_random(state);
        self.0 = state2;
        u64::from(hi) << 32 | u64::from(lo)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What the fuzzer counts.
#[derive(Default)]
struct Tally {
    sent: u64,
    answered: u64,
    errors: [u64; 32],
}

/// A target: where to send and what it speaks.
struct Target {
    endpoint: Endpoint,
    types: &'static [u32],
}

/// Buffers that grants point into (bss: stays in place for the run).
static mut DATA: [u8; 4096] = [0; 4096];
static mut PATH: [u8; 64] = [0; 64];

/// Runs the fuzzer; `program` names it in messages.
pub fn main(program: &str) -> i32 {
    let mut args = rt::args().skip(1);
    let (Some(seed), Some(count)) =
        (args.next().and_then(|a| a.parse::<u64>().ok()), args.next().and_then(|a| a.parse::<u64>().ok()))
    else {
        rt::errln!("usage: {} SEED COUNT", program);
        return 2;
    };
    // Each fuzzer draws its own sequence from the same seed.
    let salt = program.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let mut random = Random(seed ^ salt);
    let targets = targets();
    // No reads of the console: it would wait for input that never comes.
    for fd in [rt::vfs::STDIN, rt::vfs::STDOUT, rt::vfs::STDERR] {
        let _ = rt::vfs::close(fd);
    }
    // SAFETY: single-threaded; the buffers are only read by the kernel
    // during our own calls.
    let (data, path) = unsafe { (&mut *(&raw mut DATA), &mut *(&raw mut PATH)) };
    let vfs_ep = targets[1].endpoint;
    let data_grant = rt::grant::writable(vfs_ep, data).ok();
    let path_grant = rt::grant::read_only(vfs_ep, path).ok();
    let grants = [data_grant.as_ref().map_or(0, |g| g.id()), path_grant.as_ref().map_or(1, |g| g.id())];
    let mut tally = Tally::default();
    for _ in 0..count {
        let path_bytes = random.pick(PATHS);
        path.fill(0);
        path[..path_bytes.len()].copy_from_slice(path_bytes);
        let target = &targets[random.below(targets.len() as u64) as usize];
        let mut msg = message(&mut random, target, grants, path_bytes.len() as u64);
        let dst = destination(&mut random, target);
        let result = if random.below(8) == 0 {
            // A plain SEND (refused by the trap mask for programs) and a
            // NOTIFY: the other primitives a driver has.
            match random.below(2) {
                0 => rt::ipc::send_nonblocking(dst, &msg),
                // SAFETY: no pointer arguments.
                _ => unsafe { rt::ipc::raw(Trap::Notify, u64::from(dst.0), 0) },
            }
        } else {
            rt::ipc::sendrec(dst, &mut msg).and_then(|()| proto::result_of(&msg).map(|_| ()))
        };
        tally.sent += 1;
        match result {
            Ok(()) => tally.answered += 1,
            Err(e) => tally.errors[(e as usize).min(31)] += 1,
        }
    }
    drop(data_grant);
    drop(path_grant);
    report(program, &tally);
    0
}

fn targets() -> [Target; 4] {
    let lookup = |name: &str| rt::names::lookup_fresh(name).map_or(Endpoint::NONE, |(ep, _)| ep);
    [
        Target { endpoint: lookup("pm"), types: PM_TYPES },
        Target { endpoint: lookup("vfs"), types: VFS_TYPES },
        Target { endpoint: rt::kip::endpoint_of("ds").unwrap_or(Endpoint::NONE), types: DS_TYPES },
        Target { endpoint: rt::kip::endpoint_of("rs").unwrap_or(Endpoint::NONE), types: RS_TYPES },
    ]
}

/// Mostly a real server; sometimes the same slot with another generation
/// (stale), or any endpoint at all.
fn destination(random: &mut Random, t: &Target) -> Endpoint {
    match random.below(16) {
        0 => Endpoint(t.endpoint.0 ^ (1 << 16) << random.below(4)),
        1 => Endpoint(random.next() as u32),
        _ => t.endpoint,
    }
}

/// A request: a real type of the target's protocol (or any type), and
/// payload words that look like what servers expect, or not.
fn message(random: &mut Random, t: &Target, grants: [u64; 2], path_len: u64) -> Message {
    let mtype = if random.below(10) == 0 { random.next() as u32 & 0xfff } else { random.pick(t.types) };
    let mut msg = Message::new(mtype);
    for word in msg.payload.iter_mut() {
        *word = match random.below(9) {
            0 => random.below(8),                                // descriptors, small ids
            1 => random.pick(&grants),                           // a real grant
            2 => random.below(64),                               // a grant id
            3 => path_len,                                       // the path's length
            4 => random.below(4097),                             // a length
            5 => u64::MAX - random.below(4),                     // huge
            6 => abi::layout::USER_BASE + random.below(1 << 20), // a pointer
            7 => 0,
            _ => random.next(),
        };
    }
    // Requests that name a service (RS's and DS's) name a real one a
    // third of the time.
    if random.below(3) == 0 {
        proto::put_name(&mut msg, 2, random.pick(SERVICE_NAMES));
    }
    if mtype == pm::SLEEP {
        msg.payload[0] %= 20;
    }
    msg
}

fn report(program: &str, tally: &Tally) {
    let mut line = [0u8; 512];
    let mut w = LineBuffer { bytes: &mut line, len: 0 };
    let _ = core::fmt::write(&mut w, format_args!("{program}: {} messages: {} answered", tally.sent, tally.answered));
    for (code, n) in tally.errors.iter().enumerate().filter(|(_, n)| **n > 0) {
        let name = Error::ALL.iter().find(|e| **e as usize == code).map_or("E?", |e| e.name());
        let _ = core::fmt::write(&mut w, format_args!(", {n} {name}"));
    }
    let len = w.len;
    let text = &line[..len];
    rt::println!("{}", core::str::from_utf8(text).unwrap_or(""));
    if let Ok(fd) = rt::vfs::open("/dev/tty", vfs::O_WRONLY) {
        let _ = rt::vfs::write_all(fd, text);
        let _ = rt::vfs::write_all(fd, b"\n");
        let _ = rt::vfs::close(fd);
    }
}

/// Formats into a fixed buffer, cutting what does not fit.
struct LineBuffer<'a> {
    bytes: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for LineBuffer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
