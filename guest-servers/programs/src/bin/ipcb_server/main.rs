//! `ipcbench` server with a higher priority than the client: whenever the
//! client sends, notifies or SENDAs, it runs at once and is back in RECEIVE
//! before the client resumes.
#![no_std]
#![no_main]

mod protocol;
mod serve;

rt::main!(run);

fn run() -> i32 {
    serve::serve("ipcb_server")
}
