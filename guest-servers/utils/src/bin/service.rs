//! `service`: asks the reincarnation server about the system's services.
//!
//! ```text
//! service [list]          name, endpoint, state and restarts of every service
//! service restart NAME    kill NAME and start it again at once
//! service stop NAME       kill NAME and keep it down
//! service start NAME      start a stopped NAME
//! ```
//!
//! Listing is for everyone; restart, stop and start for the administrator
//! (uid 0) only: RS refuses anyone else with "permission denied".
//!
//! The table goes to standard output (through VFS), errors to standard
//! error; the exit status is 0 on success, 1 on any error. RS's endpoint
//! comes from the kernel info page (RS is started by the kernel), so this
//! works even while DS is busy.
#![no_std]
#![no_main]

use abi::proto::{self, rs, NAME_LEN};
use abi::{Error, Message};

rt::main!(run);

const USAGE: &str = "usage: service [list] | service restart|stop|start NAME";

/// SENDREC `msg` to RS; the reply's result.
fn call_rs(msg: &mut Message) -> Result<u64, Error> {
    let rs = rt::service::rs().ok_or(Error::Unavailable)?;
    rt::ipc::sendrec(rs, msg)?;
    proto::result_of(msg)
}

fn list() -> i32 {
    if !rt::outln!("{:<16} {:>8} {:<10} {:>8}", "NAME", "ENDPOINT", "STATE", "RESTARTS") {
        return 1;
    }
    for index in 0.. {
        let mut msg = Message::with_words(rs::LIST, &[index]);
        match call_rs(&mut msg) {
            Ok(_) => {}
            Err(Error::NoEntry) => return 0,
            Err(e) => {
                rt::errln!("service: list: {:?}", e);
                return 1;
            }
        }
        let mut buf = [0u8; NAME_LEN];
        let name = proto::get_name(&msg, 4, &mut buf);
        let endpoint = abi::Endpoint(msg.payload[1] as u32);
        let state = rs::state_name(msg.payload[2]);
        // Format the endpoint first so the column width applies.
        let mut ep = [0u8; 16];
        let ep = if endpoint == abi::Endpoint::NONE { "-" } else { fmt_endpoint(endpoint, &mut ep) };
        if !rt::outln!("{:<16} {:>8} {:<10} {:>8}", name, ep, state, msg.payload[3]) {
            return 1;
        }
    }
    0
}

/// `slot.generation` as text in `buf`.
fn fmt_endpoint(ep: abi::Endpoint, buf: &mut [u8; 16]) -> &str {
    struct W<'a>(&'a mut [u8; 16], usize);
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            if end > self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut w = W(buf, 0);
    let _ = core::fmt::write(&mut w, format_args!("{}", ep));
    let len = w.1;
    core::str::from_utf8(&buf[..len]).unwrap_or("?")
}

fn control(verb: &str, mtype: u32, name: &str) -> i32 {
    if name.is_empty() || name.len() > NAME_LEN {
        rt::errln!("service: {}: bad service name {:?}", verb, name);
        return 1;
    }
    let mut msg = Message::new(mtype);
    proto::put_name(&mut msg, 2, name);
    match call_rs(&mut msg) {
        Ok(_) => 0,
        Err(Error::NoEntry) => {
            rt::errln!("service: {}: no service named {}", verb, name);
            1
        }
        Err(Error::Exists) => {
            rt::errln!("service: {}: {} is already running", verb, name);
            1
        }
        Err(Error::Perm) => {
            rt::errln!("service: {} {}: permission denied (administrators only)", verb, name);
            1
        }
        Err(e) => {
            rt::errln!("service: {} {}: {}", verb, name, utils::describe(e));
            1
        }
    }
}

fn run() -> i32 {
    let mut args = rt::args().skip(1);
    let verb = args.next();
    let name = args.next();
    if args.next().is_some() {
        rt::errln!("{}", USAGE);
        return 1;
    }
    match (verb, name) {
        (None, None) | (Some("list"), None) => list(),
        (Some("restart"), Some(name)) => control("restart", rs::RESTART, name),
        (Some("stop"), Some(name)) => control("stop", rs::STOP, name),
        (Some("start"), Some(name)) => control("start", rs::START, name),
        _ => {
            rt::errln!("{}", USAGE);
            1
        }
    }
}
