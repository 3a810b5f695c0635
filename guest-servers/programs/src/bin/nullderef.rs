//! Dereferences a null pointer: the kernel must kill this process and
//! report it, and the rest of the system must go on.
//!
//! `nullderef text` writes into its own code instead: exec from the disk
//! shares the program's read-only pages with the process manager's copy
//! of the file (`exec_elf`), so the write must fault as well, and change
//! neither this process's code nor anyone else's.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    if rt::args().nth(1) == Some("text") {
        let code = run as *const () as *mut u8;
        rt::println!("nullderef: writing into my code");
        // SAFETY: none; the fault is the point of this program.
        unsafe { core::ptr::write_volatile(code, 0xCC) };
        rt::println!("nullderef: wrote into my code, which must not happen");
        return 0;
    }
    rt::println!("nullderef: reading address 0");
    // SAFETY: none; the fault is the point of this program.
    let value = unsafe { core::ptr::read_volatile(core::ptr::null::<u64>()) };
    rt::println!("nullderef: survived with {value}, which must not happen");
    0
}
