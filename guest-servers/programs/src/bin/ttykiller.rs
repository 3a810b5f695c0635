//! Kills the TTY driver once, a while after boot, the way a crash would:
//! the `system-test` image uses it to show that RS brings TTY back while
//! the shell sits idle waiting for input, and the shell keeps working.
//! The delay is `ttykiller.ms=N` on the kernel command line (default 1000).
#![no_std]
#![no_main]

use abi::notify::is_notification;
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD};
use abi::{Endpoint, Message};

rt::main!(run);

fn run() -> i32 {
    let delay_ms: u64 = rt::kip::cmdline_number("ttykiller.ms", 1000);
    let ticks = (delay_ms * rt::kip::tick_hz() / 1000).max(1);
    if rt::sys::set_alarm(ticks).is_err() {
        rt::println!("ttykiller: cannot set an alarm");
        return 1;
    }
    let mut msg = Message::new(0);
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() {
            continue;
        }
        if rt::service::handle_heartbeat(&msg) {
            continue;
        }
        let alarm = is_notification(&msg)
            && msg.source == Endpoint::SYSTEM
            && msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0;
        if alarm {
            break;
        }
    }
    let tty = match rt::names::lookup_fresh("tty") {
        Ok((tty, _)) => tty,
        Err(e) => {
            rt::println!("ttykiller: no tty in DS: {e}");
            return 1;
        }
    };
    match rt::sys::kill(tty) {
        Ok(()) => {
            rt::println!("ttykiller: killed tty ({tty})");
            0
        }
        Err(e) => {
            rt::println!("ttykiller: kill tty failed: {e}");
            1
        }
    }
}
