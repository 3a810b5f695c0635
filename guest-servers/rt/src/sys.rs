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
    // SAFETY: per this function's contract.
    unsafe { trap_raw(trap as u64, a0, a1) }
}

/// Traps with any number, including ones the kernel does not know (for
/// testing its checks).
///
/// # Safety
/// As [`trap2`].
pub unsafe fn trap_number(number: u64, a0: u64, a1: u64) -> Result<(), Error> {
    // SAFETY: per this function's contract.
    Error::from_return(unsafe { trap_raw(number, a0, a1) }).map(|_| ())
}

/// Enters the kernel with trap `trap` and four arguments (`rdi`, `rsi`,
/// `rdx`, `r10`); returns the raw `rax` and `rdx` values (REPLYRECV
/// answers in both).
///
/// # Safety
/// As [`trap2`].
#[inline(always)]
pub unsafe fn trap4(trap: Trap, a0: u64, a1: u64, a2: u64, a3: u64) -> (i64, i64) {
    let (ret, ret2): (i64, i64);
    // SAFETY: as in `trap_raw` (the same registers may change); `rdx`
    // carries the third argument in and the second result out.
    unsafe {
        core::arch::asm!(
            "call {stub}",
            stub = in(reg) KIP_CODE + ENTRY_STUB_OFFSET,
            inlateout("rax") trap as u64 => ret,
            inlateout("rdi") a0 => _,
            inlateout("rsi") a1 => _,
            inlateout("rdx") a2 => ret2,
            inlateout("r10") a3 => _,
            out("rcx") _,
            out("r8") _,
            out("r9") _,
            out("r11") _,
        );
    }
    (ret, ret2)
}

#[inline(always)]
unsafe fn trap_raw(number: u64, a0: u64, a1: u64) -> i64 {
    let ret: i64;
    // SAFETY: a trap follows the C calling convention (docs/abi.md): it
    // keeps rbx, rbp, rsp and r12-r15 and may change every other general
    // register, all listed here; the target has no red zone.
    unsafe {
        core::arch::asm!(
            "call {stub}",
            stub = in(reg) KIP_CODE + ENTRY_STUB_OFFSET,
            inlateout("rax") number => ret,
            inlateout("rdi") a0 => _,
            inlateout("rsi") a1 => _,
            out("rdx") _,
            out("rcx") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    ret
}

/// Makes kernel call `call` with the given payload words.
pub fn kernel_call(call: KernelCall, words: &[u64]) -> Result<u64, Error> {
    kernel_call_number(call as u32, words)
}

/// Makes the kernel call numbered `number` (also unknown ones, for tests).
pub fn kernel_call_number(number: u32, words: &[u64]) -> Result<u64, Error> {
    let mut msg = Message::with_words(number, words);
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

/// Starts boot-image program `index`; returns its endpoint.
pub fn spawn(index: usize) -> Result<Endpoint, Error> {
    kernel_call(KernelCall::Spawn, &[index as u64]).map(|e| Endpoint(e as u32))
}

/// Ends process `target`.
pub fn kill(target: Endpoint) -> Result<(), Error> {
    kernel_call(KernelCall::Kill, &[u64::from(target.0)]).map(|_| ())
}

/// Registers the caller's grant table (an empty slice revokes all).
pub fn set_grant_table(table: &[abi::grant::Grant]) -> Result<(), Error> {
    kernel_call(KernelCall::SetGrantTable, &[table.as_ptr() as u64, table.len() as u64]).map(|_| ())
}

/// Copies `buf.len()` bytes at `offset` of grant `id` of `granter` into
/// `buf`. `Fault` when the kernel reports another count than asked (see
/// [`whole_copy`]).
pub fn safecopy_from(granter: Endpoint, id: u64, offset: u64, buf: &mut [u8]) -> Result<u64, Error> {
    let words = [u64::from(granter.0), id, offset, buf.as_mut_ptr() as u64, buf.len() as u64];
    whole_copy(kernel_call(KernelCall::SafeCopyFrom, &words), buf.len())
}

/// Copies `buf` to `offset` of grant `id` of `granter`; `Fault` as for
/// [`safecopy_from`].
pub fn safecopy_to(granter: Endpoint, id: u64, offset: u64, buf: &[u8]) -> Result<u64, Error> {
    let words = [u64::from(granter.0), id, offset, buf.as_ptr() as u64, buf.len() as u64];
    whole_copy(kernel_call(KernelCall::SafeCopyTo, &words), buf.len())
}

/// The physical ranges behind `len` bytes at `offset` of grant `id` of
/// `granter`, for a device that needs `access` (`GRANT_WRITE`: it writes
/// the memory; `GRANT_READ`: it reads it), written into `ranges`; returns
/// how many (`KernelCall::GrantPhys`; `Domain` when the range spans more
/// pages than `ranges` holds). As with a safe copy, the answer counts only
/// if it covers every byte asked for: runs that do not add up to `len`
/// (a request garbled on the way, its answer written elsewhere) are
/// `Fault`, never stale entries handed to a device.
pub fn grant_phys(
    granter: Endpoint,
    id: u64,
    offset: u64,
    len: u64,
    access: u32,
    ranges: &mut [abi::syscall::DmaRange],
) -> Result<usize, Error> {
    ranges.fill(abi::syscall::DmaRange::default());
    let at = ranges.as_mut_ptr() as u64;
    let words = [u64::from(granter.0), id, offset, len, u64::from(access), at, ranges.len() as u64];
    let n = kernel_call(KernelCall::GrantPhys, &words)? as usize;
    let runs = ranges.get(..n).ok_or(Error::Fault)?;
    let total = runs.iter().fold(0u64, |sum, run| sum.saturating_add(run.len));
    if total != len || runs.iter().any(|run| run.len == 0) {
        return Err(Error::Fault);
    }
    Ok(n)
}

/// A copy counts only if the kernel says it moved every byte asked for.
/// The kernel answers a copy with its length, so any other count means
/// the call never ran as made (a lost or garbled kernel call, which a
/// fault plan's `drop` answers with 0): believed, it would pass stale
/// buffer contents off as the data, e.g. a disk driver answering a READ
/// with a full count although nothing reached the file server's buffer.
fn whole_copy(result: Result<u64, Error>, len: usize) -> Result<u64, Error> {
    match result {
        Ok(n) if n == len as u64 => Ok(n),
        Ok(_) => Err(Error::Fault),
        Err(e) => Err(e),
    }
}

/// Reads `width` bytes (1, 2, 4) from I/O port `port`.
pub fn port_in(port: u16, width: u64) -> Result<u64, Error> {
    kernel_call(KernelCall::DevIo, &[u64::from(port), 0, abi::syscall::DEVIO_IN | width])
}

/// Writes `width` bytes (1, 2, 4) of `value` to I/O port `port`.
pub fn port_out(port: u16, value: u64, width: u64) -> Result<(), Error> {
    kernel_call(KernelCall::DevIo, &[u64::from(port), value, abi::syscall::DEVIO_OUT | width]).map(|_| ())
}

/// IRQ control (`abi::syscall::IRQ_*`).
pub fn irqctl(irq: u32, op: u64) -> Result<(), Error> {
    kernel_call(KernelCall::IrqCtl, &[u64::from(irq), op]).map(|_| ())
}

/// Maps the device MMIO window `phys..phys + len` at user address `at`
/// (uncached; inside `abi::syscall::DEVICE_MAP_BASE..DEVICE_MAP_END`).
pub fn map_device(phys: u64, len: u64, at: u64) -> Result<(), Error> {
    kernel_call(KernelCall::MapDevice, &[phys, len, at]).map(|_| ())
}

/// Allocates `pages` physically contiguous zeroed pages at user address
/// `at`; returns the physical address of the first.
pub fn alloc_dma(pages: u64, at: u64) -> Result<u64, Error> {
    kernel_call(KernelCall::AllocDma, &[pages, at])
}

/// Charges the memory of process `ep` to user `uid` (PM only).
pub fn set_uid(ep: Endpoint, uid: u64) -> Result<u64, Error> {
    kernel_call(KernelCall::SetUid, &[u64::from(ep.0), uid])
}

/// Arms the caller's alarm `ticks` from now (0 cancels).
pub fn set_alarm(ticks: u64) -> Result<(), Error> {
    kernel_call(KernelCall::SetAlarm, &[ticks]).map(|_| ())
}

/// Waits `ticks` clock ticks on the caller's kernel alarm, taking only
/// messages from SYSTEM meanwhile (other notifications from it are
/// dropped). For system processes that may not ask PM to sleep; returns at
/// once if the alarm cannot be set.
pub fn sleep_ticks(ticks: u64) {
    if set_alarm(ticks.max(1)).is_err() {
        return;
    }
    let mut msg = Message::new(0);
    loop {
        let got = crate::ipc::receive(Endpoint::SYSTEM, &mut msg);
        if got.is_ok()
            && abi::notify::is_notification(&msg)
            && msg.payload[abi::syscall::NOTIFY_ALARM_WORD] & abi::syscall::NOTIFY_ALARM != 0
        {
            return;
        }
    }
}

/// [`sleep_ticks`] for about `ms` milliseconds (at least one tick).
pub fn sleep_ms(ms: u64) {
    sleep_ticks((ms * crate::kip::tick_hz().max(1)).div_ceil(1000))
}

/// One process-table record.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcRecord {
    pub endpoint: Endpoint,
    pub priority: u8,
    /// `abi::syscall::PROC_*` bits.
    pub state: u8,
    pub blocked_on: Endpoint,
    pub name: [u8; 16],
}

impl ProcRecord {
    /// The name as text.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

/// Fills `out` with the live processes; returns how many.
pub fn proc_info(out: &mut [ProcRecord]) -> Result<usize, Error> {
    const N: usize = 64;
    let mut raw = [[0u8; abi::syscall::PROC_INFO_SIZE]; N];
    let capacity = out.len().min(N);
    let n = kernel_call(KernelCall::ProcInfo, &[raw.as_mut_ptr() as u64, capacity as u64])? as usize;
    for (record, bytes) in out.iter_mut().zip(&raw[..n]) {
        let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        record.endpoint = Endpoint(u32_at(0));
        record.priority = bytes[4];
        record.state = bytes[5];
        record.blocked_on = Endpoint(u32_at(8));
        record.name.copy_from_slice(&bytes[16..32]);
    }
    Ok(n)
}
