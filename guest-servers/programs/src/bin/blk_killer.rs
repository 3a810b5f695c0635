//! Kills the disk driver `blk` while the file server has a request
//! outstanding at it: the `fs-test` image's probe spawns it just before a
//! large write, so the file server must send that request again to the
//! instance RS starts (`vmm/tests/ext2_server.rs`).
//!
//! "Outstanding" is read from the process table at every clock tick (this
//! program runs above both servers, so its alarm preempts them): `blk` is
//! not idle. An idle driver waits in RECEIVE from anyone; a busy one is
//! running (between taking a request and answering it) or waits for its
//! device, receiving from SYSTEM only. Its one client is `ext2fs`, which
//! therefore has a request out at it (heartbeats take it microseconds, the
//! requests milliseconds).
#![no_std]
#![no_main]

use abi::syscall::PROC_RECEIVING;
use abi::Endpoint;
use rt::sys::ProcRecord;

rt::main!(run);

/// Most ticks to watch before giving up.
const TICKS: u32 = 3000;

fn run() -> i32 {
    let Ok((blk, _)) = rt::names::lookup_fresh("blk") else {
        rt::println!("blk_killer: blk is not in DS");
        return 1;
    };
    let mut table = [ProcRecord::default(); 64];
    for _ in 0..TICKS {
        rt::sys::sleep_ticks(1);
        let Ok(n) = rt::sys::proc_info(&mut table) else { continue };
        let Some(b) = table[..n].iter().find(|r| r.endpoint == blk) else { continue };
        let idle = b.state & PROC_RECEIVING != 0 && b.blocked_on == Endpoint::ANY;
        if !idle {
            return match rt::sys::kill(blk) {
                Ok(()) => {
                    rt::println!("blk_killer: killed blk in the middle of a request");
                    0
                }
                Err(e) => {
                    rt::println!("blk_killer: kill failed: {}", e);
                    1
                }
            };
        }
    }
    rt::println!("blk_killer: blk was never busy");
    1
}
