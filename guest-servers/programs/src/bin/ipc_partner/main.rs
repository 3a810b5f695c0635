//! `trace-test` server of higher priority than `ipc_counter`: counts what
//! it receives and serves `RELAY` through `ipc_helper`, so its messages
//! while serving carry the counter's cause.
#![no_std]
#![no_main]

mod protocol;

rt::main!(run);

fn run() -> i32 {
    let Some(helper) = rt::kip::endpoint_of("ipc_helper") else {
        rt::println!("ipc_partner: no ipc_helper in this image");
        return 2;
    };
    protocol::serve("ipc_partner", Some(helper))
}
