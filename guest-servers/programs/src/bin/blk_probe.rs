//! The `blk-test` image's client of the disk driver: finds `blk` in DS,
//! writes patterns to sectors, flushes, reads them back, checks that bad
//! requests are refused, then kills the driver between requests, waits for
//! RS to restart it (DS lookups until the endpoint changes) and checks
//! that the next requests work and the earlier data is still there.
//!
//! Prints `blk_probe: <case> ok` or `blk_probe: <case> FAILED: <why>` per
//! case and exits with the number of failures (the image powers off with
//! it). The host test checks the lines and the disk file: pattern `tag`
//! at position `pos` is byte `i` = `pattern(tag, i)`, the same formula as
//! `vmm/tests/blk_driver.rs`.
//!
//! Requests go as a file server sends them (`abi::proto::blockdev`): by
//! SENDA, then the probe receives the driver's (SENDA) reply.
#![no_std]
#![no_main]

use abi::notify::is_notification;
use abi::proto::blockdev;
use abi::senda::SendaEntry;
use abi::{Endpoint, Error, Message};

rt::main!(run);

/// (tag, position, length) of the patterns written before the restart.
const SMALL: (u8, u64, usize) = (1, 0x10_0200, 8192);
const LARGE: (u8, u64, usize) = (2, 0x20_0000, 65536);
/// Written after the restart.
const AFTER: (u8, u64, usize) = (3, 0x30_0000, 4096);

static mut REQUEST: [SendaEntry; 1] =
    [SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }];
static mut OUT: [u8; 65536] = [0; 65536];
static mut IN: [u8; 65536] = [0; 65536];

fn out() -> &'static mut [u8; 65536] {
    // SAFETY: single-threaded; the driver touches it only through our
    // grant while we wait for its reply.
    unsafe { &mut *(&raw mut OUT) }
}

fn input() -> &'static mut [u8; 65536] {
    // SAFETY: as for `out`.
    unsafe { &mut *(&raw mut IN) }
}

/// Byte `i` of pattern `tag`.
fn pattern(tag: u8, i: usize) -> u8 {
    ((i * 31 + usize::from(tag) * 7) ^ (i >> 9)) as u8
}

struct Probe {
    blk: Endpoint,
    next_id: u64,
    failed: i32,
}

impl Probe {
    fn check(&mut self, case: &str, ok: bool, detail: core::fmt::Arguments) {
        if ok {
            rt::println!("blk_probe: {} ok", case);
        } else {
            self.failed += 1;
            rt::println!("blk_probe: {} FAILED: {}", case, detail);
        }
    }

    /// One request; returns the reply's result.
    fn call(&mut self, mtype: u32, words: &[u64]) -> Result<u64, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let mut payload = [0u64; 4];
        payload[0] = id;
        payload[1..1 + words.len()].copy_from_slice(words);
        // SAFETY: single-threaded; the kernel writes the entry's result
        // only while we are in a trap. Static: the kernel keeps the table.
        let table = unsafe { &mut *(&raw mut REQUEST) };
        table[0] = SendaEntry::new(self.blk, blockdev::request(mtype, payload[0], payload[1], payload[2], payload[3]));
        rt::ipc::senda(table)?;
        let mut msg = Message::default();
        loop {
            rt::ipc::receive(self.blk, &mut msg)?;
            if !is_notification(&msg) {
                break;
            }
        }
        if msg.mtype != blockdev::REPLY || msg.payload[0] != id {
            return Err(Error::BadRequest);
        }
        Error::from_return(msg.payload[1] as i64)
    }

    fn write(&mut self, (tag, pos, len): (u8, u64, usize)) -> Result<u64, Error> {
        for (i, b) in out()[..len].iter_mut().enumerate() {
            *b = pattern(tag, i);
        }
        let grant = rt::grant::read_only(self.blk, &out()[..len])?;
        self.call(blockdev::WRITE, &[pos, grant.id(), len as u64])
    }

    /// Requests whose grant the driver may not use as asked: a grant id
    /// never made, a READ into a read-only grant, a WRITE of more than
    /// the grant holds. The kernel refuses the driver each one (EPERM),
    /// whether it copies (safe copy) or DMAs (`GrantPhys`).
    fn bad_grants(&mut self) -> [Result<u64, Error>; 3] {
        let unknown = self.call(blockdev::WRITE, &[0, 31, 512]);
        let read_only = match rt::grant::read_only(self.blk, &out()[..512]) {
            Ok(grant) => self.call(blockdev::READ, &[0, grant.id(), 512]),
            Err(e) => Err(e),
        };
        let short = match rt::grant::read_only(self.blk, &out()[..512]) {
            Ok(grant) => self.call(blockdev::WRITE, &[0, grant.id(), 1024]),
            Err(e) => Err(e),
        };
        [unknown, read_only, short]
    }

    /// Reads the pattern back; Ok(true) when it matches.
    fn read_back(&mut self, (tag, pos, len): (u8, u64, usize)) -> Result<bool, Error> {
        input()[..len].fill(0);
        let grant = rt::grant::writable(self.blk, &mut input()[..len])?;
        let n = self.call(blockdev::READ, &[pos, grant.id(), len as u64])?;
        Ok(n == len as u64 && input()[..len].iter().enumerate().all(|(i, &b)| b == pattern(tag, i)))
    }
}

/// Kernel command-line key: `blk_probe.churn=1` churns processes before
/// the driver is killed (vmm/tests/driver_churn.rs).
const CHURN_KEY: &str = "blk_probe.churn";

/// Spawns and kills copies of `spin` until the kernel has no never-used
/// frames left, so the restarted driver's contiguous DMA buffer must come
/// from frames freed by the churn.
fn churn(p: &mut Probe) {
    use abi::syscall::{KernelCall, MEM_INFO_FRESH_FRAMES};
    let fresh = || rt::sys::kernel_call(KernelCall::MemInfo, &[MEM_INFO_FRESH_FRAMES]);
    let Some(spin) = rt::kip::program_index("spin") else {
        p.check("churn", false, format_args!("no spin program in the image"));
        return;
    };
    let before = fresh();
    let mut processes = 0u64;
    while fresh().is_ok_and(|n| n > 0) && processes < 100_000 {
        let Ok(child) = rt::sys::spawn(spin) else { break };
        let killed = rt::sys::kill(child);
        let reaped = rt::process::reap();
        if killed.is_err() || reaped.is_err() {
            break;
        }
        processes += 1;
    }
    let left = fresh();
    rt::println!("blk_probe: churn: {processes} processes, never-used frames {before:?} before, {left:?} after");
    p.check("churn", left == Ok(0), format_args!("{left:?} never-used frames left"));
}

/// Looks `blk` up in DS until it is published with an endpoint other than
/// `old` (at most ~10 s).
fn wait_for_blk(old: Endpoint) -> Option<Endpoint> {
    for _ in 0..200 {
        if let Ok((ep, _)) = rt::names::lookup_fresh("blk") {
            if ep != old && ep != Endpoint::NONE {
                return Some(ep);
            }
        }
        rt::sys::sleep_ms(50);
    }
    None
}

fn run() -> i32 {
    let Some(blk) = wait_for_blk(Endpoint::NONE) else {
        rt::println!("blk_probe: lookup FAILED: blk never appeared in DS");
        return 1;
    };
    let mut p = Probe { blk, next_id: 1, failed: 0 };
    let capacity = p.call(blockdev::GEOMETRY, &[]);
    p.check("geometry", capacity.is_ok_and(|c| c >= 4 << 20 && c % 512 == 0), format_args!("{capacity:?}"));

    let r = p.write(SMALL);
    p.check("write", r == Ok(SMALL.2 as u64), format_args!("{r:?}"));
    let r = p.call(blockdev::FLUSH, &[]);
    p.check("flush", r == Ok(0), format_args!("{r:?}"));
    let r = p.read_back(SMALL);
    p.check("read", r == Ok(true), format_args!("{r:?}"));
    let (w, r) = (p.write(LARGE), p.read_back(LARGE));
    p.check("large", w == Ok(LARGE.2 as u64) && r == Ok(true), format_args!("{w:?} {r:?}"));

    let misaligned = p.call(blockdev::READ, &[0x201, 0, 512]);
    let oversized = p.call(blockdev::READ, &[0, 0, 128 * 1024]);
    let beyond = p.call(blockdev::READ, &[capacity.unwrap_or(0), 0, 512]);
    p.check(
        "bad_requests",
        [misaligned, oversized, beyond].iter().all(|r| *r == Err(Error::Invalid)),
        format_args!("{misaligned:?} {oversized:?} {beyond:?}"),
    );
    let bad = p.bad_grants();
    p.check("bad_grant", bad.iter().all(|r| *r == Err(Error::Perm)), format_args!("{bad:?}"));

    if rt::kip::cmdline_value(CHURN_KEY) == Some("1") {
        churn(&mut p);
    }
    // Kill the driver between requests; RS restarts it and republishes it.
    let killed = rt::sys::kill(p.blk);
    let restarted = wait_for_blk(p.blk);
    p.check("restarted", killed.is_ok() && restarted.is_some(), format_args!("kill {killed:?}, new {restarted:?}"));
    if let Some(ep) = restarted {
        p.blk = ep;
        let w = p.write(AFTER);
        let f = p.call(blockdev::FLUSH, &[]);
        let (r, old) = (p.read_back(AFTER), p.read_back(SMALL));
        p.check(
            "after_restart",
            w == Ok(AFTER.2 as u64) && f == Ok(0) && r == Ok(true) && old == Ok(true),
            format_args!("write {w:?} flush {f:?} read {r:?} old data {old:?}"),
        );
    }
    rt::println!("blk_probe: done, {} failed", p.failed);
    p.failed
}
