//! kernel-test helper: an ordinary user process (SENDREC only, to `ktest`
//! only). It tries what it must not do and reports each refusal.
#![no_std]
#![no_main]

use abi::syscall::{KernelCall, Trap};
use programs::ktest_protocol::*;
use rt::Message;

rt::main!(run);

fn code(result: Result<(), rt::Error>) -> u64 {
    match result {
        Ok(()) => 0,
        Err(e) => e.to_return() as u64,
    }
}

fn run() -> i32 {
    let (Some(ktest), Some(echo)) = (rt::kip::endpoint_of("ktest"), rt::kip::endpoint_of("kt_echo")) else {
        return 2;
    };
    let ping = Message::new(DATA);
    let mut table = [abi::senda::SendaEntry::new(ktest, Message::new(DATA))];
    let mut to_echo = Message::new(ECHO);
    let results = [
        code(rt::ipc::send(ktest, &ping)),
        code(rt::ipc::notify(ktest)),
        code(rt::ipc::senda(&mut table)),
        code(rt::ipc::sendrec(echo, &mut to_echo)),
        code(rt::sys::kernel_call(KernelCall::PowerOff, &[7]).map(|_| ())),
        code(rt::sys::kernel_call_number(999, &[]).map(|_| ())),
        // SAFETY: the kernel must refuse the pointer before touching it.
        code(unsafe { rt::ipc::raw(Trap::SendRec, u64::from(ktest.0), 0x10) }),
    ];
    let mut report = Message::with_words(USER_REPORT, &results);
    let _ = rt::ipc::sendrec(ktest, &mut report);
    0
}
