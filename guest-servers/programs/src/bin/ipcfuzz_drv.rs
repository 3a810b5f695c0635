//! `ipcfuzz_drv SEED COUNT`: the protocol-aware IPC fuzzer of `viv threats` with
//! a driver's privileges (images/threats/image.toml) (`programs::fuzz`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    programs::fuzz::main("ipcfuzz_drv")
}
