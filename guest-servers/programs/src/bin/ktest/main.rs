//! The kernel test suite, run inside the guest from real user processes.
//!
//! Every case prints `ktest: <case> ok` or `ktest: <case> FAILED: <why>`;
//! the host-side integration test checks that every expected case reported
//! ok. The helpers are `kt_echo` (a server), `kt_waiter` (spawned copies
//! that block on command), `kt_user` (an ordinary user process) and
//! `kt_child` (forked and exec'd by ktest playing the process manager).
#![no_std]
#![no_main]

mod death;
mod device;
mod ipc;
mod kernel_calls;
mod process;

use rt::{Endpoint, Error, Message};

rt::main!(run);

/// Counts and reports cases.
pub struct Suite {
    passed: u32,
    failed: u32,
    /// ktest's own endpoint.
    pub me: Endpoint,
    /// kt_echo's endpoint.
    pub echo: Endpoint,
    /// Boot-image index of kt_waiter.
    pub waiter_program: usize,
    /// Boot-image index of kt_child.
    pub child_program: usize,
}

impl Suite {
    /// Records case `name`: passed when `ok`, else failed with `detail`.
    pub fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments) {
        if ok {
            self.passed += 1;
            rt::println!("ktest: {name} ok");
        } else {
            self.failed += 1;
            rt::println!("ktest: {name} FAILED: {detail}");
        }
    }

    /// Records case `name`: passed when `result` is `expected`.
    pub fn expect<T>(&mut self, name: &str, result: Result<T, Error>, expected: Result<T, Error>)
    where
        T: PartialEq + core::fmt::Debug,
    {
        let ok = result == expected;
        self.check(name, ok, format_args!("got {result:?}, want {expected:?}"));
    }

    /// Starts a kt_waiter; it waits in RECEIVE(ANY) for an instruction.
    pub fn spawn_waiter(&mut self) -> Endpoint {
        rt::sys::spawn(self.waiter_program).expect("spawning kt_waiter")
    }

    /// Kills `target`, a process ktest spawned, and reaps it (taking the
    /// kernel's child-exited notification, so none is left pending).
    pub fn kill(&self, target: Endpoint) -> Result<(), Error> {
        rt::sys::kill(target)?;
        self.receive_from(Endpoint::SYSTEM);
        match rt::process::reap() {
            Ok((ep, _)) if ep == target => Ok(()),
            other => panic!("reaping {target}: {other:?}"),
        }
    }

    /// Tells waiter `w` to do `op` on `target` (with `value` for sends).
    /// Waiters have a higher priority, so when this returns the waiter has
    /// already blocked in the operation.
    pub fn instruct(&self, w: Endpoint, op: u32, target: Endpoint, value: u64) {
        let msg = Message::with_words(op, &[u64::from(target.0), value]);
        rt::ipc::send(w, &msg).expect("instructing a waiter");
    }

    /// Receives the next message from `from`.
    pub fn receive_from(&self, from: Endpoint) -> Message {
        let mut msg = Message::default();
        rt::ipc::receive(from, &mut msg).expect("receive");
        msg
    }
}

/// Decodes a negated error carried in a payload word.
pub fn as_result(word: u64) -> Result<(), Error> {
    Error::from_return(word as i64).map(|_| ())
}

fn run() -> i32 {
    let (Some(me), Some(echo), Some(waiter_program), Some(child_program)) = (
        rt::kip::endpoint_of("ktest"),
        rt::kip::endpoint_of("kt_echo"),
        rt::kip::program_index("kt_waiter"),
        rt::kip::program_index("kt_child"),
    ) else {
        rt::println!("ktest: the image lacks ktest, kt_echo, kt_waiter or kt_child");
        return 2;
    };
    let mut suite = Suite { passed: 0, failed: 0, me, echo, waiter_program, child_program };
    // kt_user first: its report must not sit in our queue during the
    // cases that receive from ANY.
    ipc::user_process_is_confined(&mut suite);
    ipc::run(&mut suite);
    death::run(&mut suite);
    kernel_calls::run(&mut suite);
    process::run(&mut suite);
    device::run(&mut suite);
    rt::println!("ktest: summary: {} cases passed, {} cases failed", suite.passed, suite.failed);
    if suite.failed == 0 {
        0
    } else {
        1
    }
}
