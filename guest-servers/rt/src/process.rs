//! Kernel calls for the process manager and reincarnation server (fork,
//! exec, reaping) and for character drivers (string output), plus the
//! program's own argument block.

use crate::sys::kernel_call;
use abi::syscall::KernelCall;
use abi::{Endpoint, Error};
use core::sync::atomic::{AtomicU64, Ordering};

static ARGS_ADDR: AtomicU64 = AtomicU64::new(0);
static ARGS_LEN: AtomicU64 = AtomicU64::new(0);

/// Records the argument block the kernel passed at entry (`rdi`, `rsi`).
pub(crate) fn set_args(addr: u64, len: u64) {
    let len = if addr == 0 { 0 } else { len.min(abi::args::MAX_ARGS_LEN as u64) };
    ARGS_ADDR.store(addr, Ordering::Relaxed);
    ARGS_LEN.store(len, Ordering::Relaxed);
}

/// The raw argument block (empty when there is none).
pub fn args_block() -> &'static [u8] {
    let (addr, len) = (ARGS_ADDR.load(Ordering::Relaxed), ARGS_LEN.load(Ordering::Relaxed));
    if addr == 0 || len == 0 {
        return &[];
    }
    // SAFETY: exec copied the block to the top of our stack, above the
    // initial stack pointer, where nothing writes; it lives as long as the
    // program.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
}

/// Forks `parent`, which must be blocked in a SENDREC to us waiting for
/// the reply; returns the child's endpoint. Reply to both afterwards.
pub fn fork_child(parent: Endpoint) -> Result<Endpoint, Error> {
    kernel_call(KernelCall::Fork, &[u64::from(parent.0)]).map(|e| Endpoint(e as u32))
}

/// Replaces the program of `target` (blocked in a SENDREC to us) with
/// boot-image program `index`, passing it the argument block of `len`
/// bytes at `args` in the target's memory. The target starts at once; do
/// not reply to it.
pub fn exec_image(target: Endpoint, index: usize, args: u64, len: u64) -> Result<(), Error> {
    kernel_call(KernelCall::Exec, &[u64::from(target.0), index as u64, args, len]).map(|_| ())
}

/// Reaps one ended child (spawned or forked by us): its endpoint and exit
/// status; `NotReady` when none has ended.
pub fn reap() -> Result<(Endpoint, u32), Error> {
    kernel_call(KernelCall::Reap, &[]).map(|v| (Endpoint(v as u32), (v >> 32) as u32))
}

/// Writes `bytes` (at most 4096) to output port `port`, one VM exit per
/// page.
pub fn dev_out_string(port: u16, bytes: &[u8]) -> Result<(), Error> {
    kernel_call(KernelCall::DevOutString, &[u64::from(port), bytes.as_ptr() as u64, bytes.len() as u64]).map(|_| ())
}

/// Physical frames in use in the whole system (for leak checks).
pub fn mem_info() -> Result<u64, Error> {
    kernel_call(KernelCall::MemInfo, &[])
}

/// Execs `target` (blocked in SENDREC to us) as the ELF file `elf` (in our
/// memory), with the privileges of boot-image program `template`, the
/// argument block of `len` bytes at `args` in the target, and `name` (at
/// most 8 bytes are kept; empty = the template's name).
pub fn exec_elf(target: Endpoint, template: usize, elf: &[u8], args: u64, len: u64, name: &str) -> Result<(), Error> {
    let mut name_bytes = [0u8; 8];
    let n = name.len().min(8);
    name_bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    let words = [
        u64::from(target.0),
        template as u64,
        elf.as_ptr() as u64,
        elf.len() as u64,
        args,
        len,
        u64::from_le_bytes(name_bytes),
    ];
    kernel_call(KernelCall::ExecElf, &words).map(|_| ())
}

/// Bytes moved by safe copies since boot, and the number of copies
/// (`MemInfo` selectors 1 and 2; for benchmarks).
pub fn safecopy_counters() -> Result<(u64, u64), Error> {
    let bytes = kernel_call(KernelCall::MemInfo, &[abi::syscall::MEM_INFO_SAFECOPY_BYTES])?;
    let copies = kernel_call(KernelCall::MemInfo, &[abi::syscall::MEM_INFO_SAFECOPIES])?;
    Ok((bytes, copies))
}
