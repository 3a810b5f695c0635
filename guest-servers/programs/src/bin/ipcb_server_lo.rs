//! `ipcbench` server with a lower priority than the client: it runs only
//! when the client blocks, so the client's SENDs wait in its queue and its
//! RECEIVEs take them from there (the RECEIVE phase).
#![no_std]
#![no_main]

#[path = "ipcb_server/protocol.rs"]
mod protocol;
#[path = "ipcb_server/serve.rs"]
mod serve;

rt::main!(run);

fn run() -> i32 {
    serve::serve("ipcb_server_lo")
}
