//! The `ipcbench` client: measures one IPC primitive per phase for
//! `viv bench`.
//!
//! Every phase is N operations (`ipcbench.ops=N`, default 1000) bracketed
//! by a START and an END bench mark (`abi::platform::MARK_IPC_*`); the VMM
//! samples the vCPU statistics at each mark. One untimed warm-up operation
//! precedes each phase, so every page the phase touches is already mapped
//! and each measured operation starts from the same state as the next.
//! Nothing but the primitives enters the kernel inside a phase: checks and
//! bookkeeping are user-mode code, which costs no kernel instructions.
//!
//! Priorities (image `ipcbench`): `ipcb_server` 3 < client 4 < `ipcb_server_lo`
//! 5. A send to `ipcb_server` therefore finds it waiting in RECEIVE, runs
//! it at once, and it is back in RECEIVE (blocked) before the client runs
//! again; a send to `ipcb_server_lo` finds it busy, blocks in its queue,
//! and is taken by its next RECEIVE.
//!
//! At the end the client asks both servers how many of each message they
//! received and fails (exit 1) unless every operation arrived exactly once.
#![no_std]
#![no_main]

#[path = "ipcb_server/protocol.rs"]
mod protocol;

use abi::platform::*;
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_VALID};
use protocol::*;
use rt::{Endpoint, Error, Message};

rt::main!(run);

/// Why a phase stopped.
struct Failure {
    phase: &'static str,
    op: u64,
    what: Error,
}

/// Runs `op` once untimed, then `ops` times between marks `start` and
/// `end`.
fn phase(
    name: &'static str,
    start: u32,
    end: u32,
    ops: u64,
    mut op: impl FnMut(u64) -> Result<(), Error>,
) -> Result<(), Failure> {
    op(u64::MAX).map_err(|what| Failure { phase: name, op: u64::MAX, what })?;
    rt::sys::bench_mark(start);
    for i in 0..ops {
        if let Err(what) = op(i) {
            return Err(Failure { phase: name, op: i, what });
        }
    }
    rt::sys::bench_mark(end);
    Ok(())
}

fn counts(server: Endpoint) -> Result<[u64; 7], Error> {
    let mut msg = Message::new(COUNTS);
    rt::ipc::sendrec(server, &mut msg)?;
    Ok(msg.payload)
}

fn run() -> i32 {
    let ops: u64 = rt::kip::cmdline_number("ipcbench.ops", 1000);
    let (Some(hi), Some(lo)) = (rt::kip::endpoint_of("ipcb_server"), rt::kip::endpoint_of("ipcb_server_lo")) else {
        rt::println!("ipcb_client: ipcb_server and ipcb_server_lo must both run");
        return 2;
    };
    // One SENDA table, in place for the whole run; every entry is delivered
    // during its call, so it never outlives the call that names it.
    let mut table = [SendaEntry::new(hi, Message::new(ASYNC))];

    let result: Result<(), Failure> = (|| {
        // Phase 0: the cost of the marks themselves.
        phase("empty", MARK_IPC_EMPTY_START, MARK_IPC_EMPTY_END, 0, |_| Ok(()))?;
        phase("send", MARK_IPC_SEND_START, MARK_IPC_SEND_END, ops, |i| {
            rt::ipc::send(hi, &Message::with_words(ONE_WAY, &[i]))
        })?;
        // The lower-priority server has not run yet: the warm-up SEND blocks
        // until its first RECEIVE takes it; from then on it is busy (ready,
        // not receiving) whenever the client sends.
        phase("receive", MARK_IPC_RECEIVE_START, MARK_IPC_RECEIVE_END, ops, |i| {
            rt::ipc::send(lo, &Message::with_words(ONE_WAY, &[i]))
        })?;
        phase("sendrec", MARK_IPC_SENDREC_START, MARK_IPC_SENDREC_END, ops, |i| {
            let mut msg = Message::with_words(ECHO, &[i]);
            rt::ipc::sendrec(hi, &mut msg)?;
            if msg.mtype != REPLY || msg.source != hi || msg.payload[0] != i {
                return Err(Error::Invalid);
            }
            Ok(())
        })?;
        phase("notify", MARK_IPC_NOTIFY_START, MARK_IPC_NOTIFY_END, ops, |_| rt::ipc::notify(hi))?;
        phase("senda", MARK_IPC_SENDA_START, MARK_IPC_SENDA_END, ops, |i| {
            table[0].flags = FLAG_VALID;
            table[0].result = 0;
            table[0].message.payload[0] = i;
            rt::ipc::senda(&mut table)?;
            // Delivered during the call (the server was waiting), or the
            // figure would not be what it claims.
            if table[0].flags != FLAG_VALID | FLAG_DONE || table[0].result != 0 {
                return Err(Error::NotReady);
            }
            Ok(())
        })?;
        Ok(())
    })();
    if let Err(f) = result {
        rt::println!("ipcb_client: phase {} op {}: {}", f.phase, f.op as i64, f.what);
        return 1;
    }

    // Every operation, warm-ups included, arrived exactly once.
    let n = ops + 1;
    let (Ok(hi_counts), Ok(lo_counts)) = (counts(hi), counts(lo)) else {
        rt::println!("ipcb_client: asking the servers for their counts failed");
        return 1;
    };
    let hi_want = [n, n, n, n];
    let lo_want = [n, 0, 0, 0];
    let got = |c: [u64; 7]| [c[COUNT_ONE_WAY], c[COUNT_ECHO], c[COUNT_NOTIFY], c[COUNT_ASYNC]];
    if got(hi_counts) != hi_want || got(lo_counts) != lo_want {
        rt::println!(
            "ipcb_client: servers counted {:?} and {:?}, want {:?} and {:?}",
            got(hi_counts),
            got(lo_counts),
            hi_want,
            lo_want
        );
        return 1;
    }
    rt::println!("ipcb_client: {ops} operations per phase OK");
    0
}
