//! The trap into the kernel and the kernel calls of the SYSTEM task.

use abi::layout::{ENTRY_STUB_OFFSET, KIP_CODE};
use abi::syscall::{KernelCall, Trap};
use abi::{Endpoint, Error, Message};

/// Enters the kernel through the entry stub with trap `trap` and two
/// arguments; returns the raw `rax` value.
///
/// # Safety
/// Arguments that are pointers must be valid for what the trap does with
/// them (the kernel checks them, but Rust's aliasing rules are ours).
#[inline(always)]
pub unsafe fn trap2(trap: Trap, a0: u64, a1: u64) -> i64 {
    let ret: i64;
    // SAFETY: the stub preserves every register except rax, rcx and r11
    // (abi::syscall), and the target has no red zone.
    unsafe {
        core::arch::asm!(
            "call {stub}",
            stub = in(reg) KIP_CODE + ENTRY_STUB_OFFSET,
            inlateout("rax") trap as u64 => ret,
            in("rdi") a0,
            in("rsi") a1,
            out("rcx") _,
            out("r11") _,
        );
    }
    ret
}

/// Makes kernel call `call` with the given payload words.
pub fn kernel_call(call: KernelCall, words: &[u64]) -> Result<u64, Error> {
    let mut msg = Message::with_words(call as u32, words);
    // SAFETY: `msg` is a valid, writable message for the whole call.
    let ret = unsafe { trap2(Trap::SendRec, Endpoint::SYSTEM.0 as u64, &raw mut msg as u64) };
    Error::from_return(ret)
}

/// Ends the calling process.
pub fn exit(status: u32) -> ! {
    let _ = kernel_call(KernelCall::Exit, &[u64::from(status)]);
    unreachable_after_exit()
}

/// Powers the machine off with `status`.
pub fn poweroff(status: u32) -> ! {
    let _ = kernel_call(KernelCall::PowerOff, &[u64::from(status)]);
    unreachable_after_exit()
}

fn unreachable_after_exit() -> ! {
    // The kernel never returns from a successful exit; if it refused, spin
    // rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// Writes bytes to the kernel console; returns how many were written.
pub fn diag_write(bytes: &[u8]) -> Result<u64, Error> {
    kernel_call(KernelCall::DiagWrite, &[bytes.as_ptr() as u64, bytes.len() as u64])
}

/// Tells the host that benchmark mark `id` was reached.
pub fn bench_mark(id: u32) {
    let _ = kernel_call(KernelCall::BenchMark, &[u64::from(id)]);
}

/// Timer ticks since boot.
pub fn uptime() -> u64 {
    kernel_call(KernelCall::Uptime, &[]).unwrap_or(0)
}
