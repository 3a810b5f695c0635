//! The Vivarium user runtime.
//!
//! Every guest program links this crate: it provides the entry point, the
//! only way into the kernel (a call to the entry stub in the kernel info
//! page), typed IPC and kernel-call wrappers, console output and a panic
//! handler that reports and exits.
//!
//! A program is `#![no_std] #![no_main]` and names its main function with
//! [`main!`]: `rt::main!(run);` where `fn run() -> i32`.
#![no_std]

pub mod backup;
pub mod console;
pub mod coroutine;
pub mod errors;
pub mod grant;
pub mod ipc;
pub mod kip;
pub mod names;
pub mod pm;
pub mod process;
pub mod senda_queue;
pub mod server;
pub mod service;
pub mod sys;
pub mod vfs;

pub use abi::{Endpoint, Error, Message};

core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    // rdi, rsi: the argument block and its length (0, 0 at boot).
    xorl %ebp, %ebp
    andq $-16, %rsp
    call rt_start
    ud2
    "#,
    options(att_syntax)
);

extern "Rust" {
    fn rt_user_main() -> i32;
}

#[no_mangle]
extern "C" fn rt_start(args: u64, len: u64) -> ! {
    process::set_args(args, len);
    // SAFETY: `rt_user_main` is defined by the program through `main!`.
    let status = unsafe { rt_user_main() };
    sys::exit(status as u32)
}

/// Declares the program's main function: `rt::main!(run);` with
/// `fn run() -> i32`; its return value is the exit status.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[no_mangle]
        fn rt_user_main() -> i32 {
            $main()
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("panic: {}", info);
    sys::exit(abi::syscall::EXIT_STATUS_PANIC)
}

/// The program's arguments (from `exec`'s argument block; none for boot
/// processes and spawned ones).
pub fn args() -> impl Iterator<Item = &'static str> {
    abi::args::decode(process::args_block())
}

/// Reads the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is allowed in user mode (CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}
