//! `trace-test` server of lower priority than `ipc_counter`: it runs only
//! when the counter blocks, so notifications to it pend and coalesce.
#![no_std]
#![no_main]

#[path = "ipc_partner/protocol.rs"]
mod protocol;

rt::main!(run);

fn run() -> i32 {
    protocol::serve("ipc_sink", None)
}
