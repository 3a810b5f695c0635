//! `attack_drv NAME`: one attack of `viv threats` with a driver's
//! privileges (the console driver's traps, destinations and kernel calls,
//! plus what an attack needs beyond them, see `images/threats/image.toml`;
//! `programs::attacks`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    programs::attacks::main("attack_drv")
}
