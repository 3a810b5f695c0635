//! Dereferences a null pointer: the kernel must kill this process and
//! report it, and the rest of the system must go on.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("nullderef: reading address 0");
    // SAFETY: none; the fault is the point of this program.
    let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    rt::println!("nullderef: survived with {value}, which must not happen");
    0
}
