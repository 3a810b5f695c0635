//! Cases for the process manager's kernel calls: fork (copy-on-write),
//! exec with arguments, zombies and reaping, string output to a port, and
//! frame accounting. ktest plays the process manager: kt_child asks it for
//! orders in a SENDREC, and ktest forks or execs it there.

use crate::Suite;
use abi::syscall::{NOTIFY_CHILD_EXITED, NOTIFY_CHILD_WORD};
use programs::ktest_protocol::*;
use rt::process::{dev_out_string, exec_image, fork_child, mem_info, reap};
use rt::{Endpoint, Error, Message};

pub fn run(s: &mut Suite) {
    fork_cases(s);
    zombie(s);
    exec(s);
    dev_out(s);
}

/// Spawns a kt_child and takes its CHILD_HELLO: it then waits for our
/// reply.
fn spawn_child(s: &mut Suite) -> Endpoint {
    let child = rt::sys::spawn(s.child_program).expect("spawning kt_child");
    let hello = s.receive_from(child);
    assert_eq!(hello.mtype, CHILD_HELLO);
    child
}

fn reply(to: Endpoint, mtype: u32, word: u64) -> Result<(), Error> {
    rt::ipc::send_nonblocking(to, &Message::with_words(mtype, &[word]))
}

/// Reaps `n` children, waiting for the kernel's notifications.
fn reap_all(s: &mut Suite, n: usize) -> [(Endpoint, u32); 2] {
    let mut got = [(Endpoint::NONE, 0); 2];
    let mut count = 0;
    while count < n {
        match reap() {
            Ok(r) => {
                got[count] = r;
                count += 1;
            }
            Err(Error::NotReady) => {
                let note = s.receive_from(Endpoint::SYSTEM);
                assert!(note.payload[NOTIFY_CHILD_WORD] & NOTIFY_CHILD_EXITED != 0, "{note:?}");
            }
            Err(e) => panic!("reap: {e:?}"),
        }
    }
    got
}

fn fork_cases(s: &mut Suite) {
    let before = mem_info().unwrap_or(0);
    let parent = spawn_child(s);
    let child = fork_child(parent);
    let Ok(child) = child else {
        s.check("fork_returns_to_both", false, format_args!("fork: {child:?}"));
        return;
    };
    // Both wait for our reply; each gets its own value.
    let r1 = reply(parent, CHILD_FORKED, 1);
    let r2 = reply(child, CHILD_FORKED, 2);
    let (w1, w2) = (s.receive_from(parent), s.receive_from(child));
    s.check(
        "fork_returns_to_both",
        r1.is_ok() && r2.is_ok() && child != parent && w1.payload[0] == 1 && w2.payload[0] == 2,
        format_args!("{r1:?} {r2:?} parent {w1:?} child {w2:?}"),
    );
    // Both wrote the same variable; each reads back its own value.
    let _ = reply(parent, CHILD_FORKED, 0);
    let _ = reply(child, CHILD_FORKED, 0);
    let (c1, c2) = (s.receive_from(parent), s.receive_from(child));
    s.check(
        "cow_isolation",
        c1.mtype == CHILD_COW_REPORT && c1.payload[..2] == [1, 1] && c2.payload[..2] == [2, 2],
        format_args!("parent {c1:?} child {c2:?}"),
    );
    let mut reaped = reap_all(s, 2);
    reaped.sort_unstable_by_key(|r| r.1);
    s.check(
        "reap_reports_status",
        reaped == [(parent, 1), (child, 2)],
        format_args!("{reaped:?}, parent {parent}, child {child}"),
    );
    let after = mem_info().unwrap_or(u64::MAX);
    // Every frame the two took is back: no more in use than before. Not
    // "exactly as many": this suite runs on the real clock, so a process of
    // an earlier case (kt_user, whose exit waits for a free moment at its
    // lower priority) may end, and free its frames, in between.
    s.check("frames_released", before != 0 && after <= before, format_args!("{before} frames before, {after} after"));
}

fn zombie(s: &mut Suite) {
    let child = spawn_child(s);
    let _ = reply(child, CHILD_EXIT, 5);
    let note = s.receive_from(Endpoint::SYSTEM);
    let send = rt::ipc::send(child, &Message::new(DATA));
    let kill = rt::sys::kill(child);
    let mut records = [rt::sys::ProcRecord::default(); 64];
    let n = rt::sys::proc_info(&mut records).unwrap_or(0);
    let listed = records[..n].iter().any(|r| r.endpoint == child);
    let reaped = reap();
    s.check(
        "zombie_endpoint_refused",
        note.payload[NOTIFY_CHILD_WORD] & NOTIFY_CHILD_EXITED != 0
            && send == Err(Error::DeadSrcDst)
            && kill == Err(Error::DeadSrcDst)
            && !listed
            && reaped == Ok((child, 5))
            && reap() == Err(Error::NotReady),
        format_args!("{note:?} send {send:?} kill {kill:?} listed {listed} reaped {reaped:?}"),
    );
}

fn exec(s: &mut Suite) {
    let target = spawn_child(s);
    let _ = reply(target, CHILD_EXEC, 0);
    let request = s.receive_from(target);
    let result = exec_image(target, s.child_program, request.payload[0], request.payload[1]);
    let report = if result.is_ok() { s.receive_from(target) } else { Message::default() };
    let mut expected = [0u8; 40];
    let len = abi::args::encode(&CHILD_ARGS, &mut expected).unwrap_or(0);
    let mut bytes = [0u8; 40];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (report.payload[2 + i / 8] >> (8 * (i % 8))) as u8;
    }
    let reaped = if result.is_ok() { reap_all(s, 1)[0] } else { (Endpoint::NONE, 0) };
    s.check(
        "exec_passes_args",
        result.is_ok()
            && report.mtype == CHILD_ARGS_REPORT
            && report.payload[0] == CHILD_ARGS.len() as u64
            && report.payload[1] == len as u64
            && bytes == expected
            && reaped == (target, CHILD_EXEC_STATUS),
        format_args!("{result:?} {report:?} reaped {reaped:?}"),
    );
}

fn dev_out(s: &mut Suite) {
    let written = dev_out_string(abi::platform::PORT_COM1, DEV_OUT_LINE.as_bytes());
    let denied = dev_out_string(0x60, b"x");
    let too_long = rt::sys::kernel_call(abi::syscall::KernelCall::DevOutString, &[0x3f8, 0x4000_0000, 4097]);
    s.check(
        "dev_out_string_writes",
        written.is_ok() && denied == Err(Error::Perm) && too_long == Err(Error::Domain),
        format_args!("{written:?} {denied:?} {too_long:?}"),
    );
}
