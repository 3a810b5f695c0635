//! `ps`: lists the processes PM manages (init and everything it started),
//! one per line: pid, parent pid, state and program name. Servers are not
//! PM's processes and are not listed (`service list` shows them).
#![no_std]
#![no_main]

use abi::proto::pm::STATE_ZOMBIE;
use abi::Error;
use rt::{errln, outln};

rt::main!(run);

fn run() -> i32 {
    outln!("{:>5} {:>5} {:<6} {}", "PID", "PPID", "STATE", "NAME");
    let mut index = 0;
    loop {
        match rt::pm::ps(index) {
            Ok(p) => {
                let state = if p.state == STATE_ZOMBIE { "zombie" } else { "alive" };
                outln!("{:>5} {:>5} {:<6} {}", p.pid, p.parent, state, p.name());
            }
            Err(Error::NoEntry) => return 0,
            Err(e) => {
                errln!("ps: {}", utils::describe(e));
                return 1;
            }
        }
        index += 1;
    }
}
