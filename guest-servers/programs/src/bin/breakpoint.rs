//! Executes `int3` in its own code: a breakpoint outside the entry stub is
//! a fault of this process, not a system call.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("breakpoint: executing int3");
    // SAFETY: none; the trap is the point of this program.
    unsafe { core::arch::asm!("int3") };
    rt::println!("breakpoint: survived, which must not happen");
    0
}
