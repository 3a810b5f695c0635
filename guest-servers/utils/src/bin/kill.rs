//! `kill [-SIGNAL] PID...`: sends a signal (default TERM) to processes.
//! SIGNAL is a number or a name, with or without `SIG`: INT (2), KILL (9),
//! TERM (15), the signals PM knows; every one of them ends the process,
//! with status 128 + SIGNAL (a process ignoring ^C survives INT).
#![no_std]
#![no_main]

use abi::proto::pm::{SIGINT, SIGKILL, SIGTERM};
use rt::errln;

rt::main!(run);

fn signal_of(spec: &str) -> Option<u64> {
    let name = spec.strip_prefix("SIG").unwrap_or(spec);
    match name {
        "INT" | "2" => Some(SIGINT),
        "KILL" | "9" => Some(SIGKILL),
        "TERM" | "15" => Some(SIGTERM),
        _ => None,
    }
}

fn run() -> i32 {
    let mut args = rt::args().skip(1).peekable();
    let mut signal = SIGTERM;
    if let Some(spec) = args.peek().and_then(|a| a.strip_prefix('-')) {
        match signal_of(spec) {
            Some(s) => signal = s,
            None => {
                errln!("kill: unknown signal {}", spec);
                return 2;
            }
        }
        args.next();
    }
    if args.peek().is_none() {
        errln!("usage: kill [-INT|-KILL|-TERM] PID...");
        return 2;
    }
    let mut status = 0;
    for arg in args {
        let Ok(pid) = arg.parse::<u64>() else {
            errln!("kill: {}: not a pid", arg);
            status = 1;
            continue;
        };
        if let Err(e) = rt::pm::kill(pid, signal) {
            let why = if e == abi::Error::NoEntry { "no such process" } else { utils::describe(e) };
            errln!("kill: {}: {}", pid, why);
            status = 1;
        }
    }
    status
}
