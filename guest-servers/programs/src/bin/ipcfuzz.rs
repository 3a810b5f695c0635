//! `ipcfuzz SEED COUNT`: the protocol-aware IPC fuzzer of `viv threats` with
//! an ordinary user's privileges (`programs::fuzz`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    programs::fuzz::main("ipcfuzz")
}
