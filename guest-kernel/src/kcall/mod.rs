//! Kernel calls: the SYSTEM task of MINIX 3, run in the kernel.
//!
//! A kernel call is a SENDREC to `Endpoint::SYSTEM` whose message type is
//! the call number; every call is checked against the caller's kernel-call
//! mask before anything else happens. Each call has one small handler of
//! the same shape: payload words in, `Outcome` out.

mod device;
mod exec_elf;
mod grant;
mod grant_phys;
mod process;

use crate::process::{Memory, System};
use abi::platform::{GUEST_STATUS_MAX, PORT_BENCH_MARK};
use abi::syscall::{KernelCall, DIAG_WRITE_MAX};
use abi::Error;
use kernel_core::{Outcome, UserMemory};

/// Runs the kernel call whose request message is at `msg_addr` in `slot`.
pub fn kernel_call(sys: &mut System, slot: usize, msg_addr: u64) -> Outcome {
    match (Memory { arch: &mut sys.arch, frames: &mut sys.frames }).read_message(slot, msg_addr) {
        Ok(msg) => run(sys, slot, &msg),
        Err(e) => Outcome::Done(e.to_return()),
    }
}

/// Runs the kernel call `msg` of `slot`, read from its buffer, so a
/// caller that has read it already (the trace's record) does not read
/// it again.
pub fn run(sys: &mut System, slot: usize, msg: &abi::Message) -> Outcome {
    let Some(call) = KernelCall::from_number(msg.mtype) else {
        return Outcome::Done(Error::BadRequest.to_return());
    };
    if !sys.core.may_call(slot, call) {
        return Outcome::Done(Error::CallDenied.to_return());
    }
    let w = msg.payload;
    let done = |r: Result<u64, Error>| Outcome::Done(r.map_or_else(Error::to_return, |v| v as i64));
    match call {
        KernelCall::Exit => {
            sys.terminate(slot, w[0] as u32);
            Outcome::Blocked
        }
        KernelCall::DiagWrite => done(diag_write(sys, slot, w[0], w[1])),
        KernelCall::PowerOff => crate::power_off(w[0].min(u64::from(GUEST_STATUS_MAX)) as u32),
        KernelCall::BenchMark => bench_mark(sys, slot, w[0] as u32),
        KernelCall::Uptime => Outcome::Done(crate::ticks() as i64),
        KernelCall::Spawn => done(process::spawn(sys, slot, w[0])),
        KernelCall::Fork => done(process::fork(sys, slot, w[0])),
        KernelCall::Exec => done(process::exec(sys, slot, &w)),
        KernelCall::ExecElf => done(exec_elf::exec_elf(sys, slot, &w)),
        KernelCall::Reap => done(process::reap(sys, slot)),
        KernelCall::DevOutString => done(device::dev_out_string(sys, slot, w[0], w[1], w[2])),
        KernelCall::MemInfo => done(mem_info(sys, w[0])),
        KernelCall::Kill => process::kill(sys, slot, w[0]),
        KernelCall::ProcInfo => done(process::proc_info(sys, slot, w[0], w[1])),
        KernelCall::SetGrantTable => done(grant::set_table(sys, slot, w[0], w[1])),
        KernelCall::SafeCopyFrom => done(grant::safecopy(sys, slot, &w, grant::Direction::FromGranter)),
        KernelCall::SafeCopyTo => done(grant::safecopy(sys, slot, &w, grant::Direction::ToGranter)),
        KernelCall::DevIo => done(device::devio(sys, slot, w[0], w[1], w[2])),
        KernelCall::IrqCtl => done(device::irqctl(sys, slot, w[0], w[1])),
        KernelCall::SetAlarm => done(device::set_alarm(sys, slot, w[0])),
        KernelCall::MapDevice => done(device::map_device(sys, slot, w[0], w[1], w[2])),
        KernelCall::AllocDma => done(device::alloc_dma(sys, slot, w[0], w[1])),
        KernelCall::SetUid => done(process::set_uid(sys, w[0], w[1])),
        KernelCall::GrantPhys => done(grant_phys::grant_phys(sys, slot, &w)),
    }
}

/// `BenchMark`: the mark goes to the VMM's port. init's marks also tell
/// the kernel which processes run the workload and the check, whose exits
/// it records (`kernel_core::CommandWatch`); a check mark from anyone but
/// init is refused, so the VMM never sees a forged one.
fn bench_mark(sys: &mut System, slot: usize, id: u32) -> Outcome {
    use abi::platform::{MARK_CHECK_START, MARK_COMMAND_START};
    if id == MARK_COMMAND_START && sys.core.mark_workload_start(slot) && crate::vclock::on() {
        crate::vclock::command_started();
    }
    if id == MARK_CHECK_START && !sys.core.mark_check_start(slot) {
        return Outcome::Done(Error::Perm.to_return());
    }
    crate::arch::cpu::outl(PORT_BENCH_MARK, id);
    Outcome::Done(0)
}

/// `MemInfo`: the counter `selector` names.
fn mem_info(sys: &System, selector: u64) -> Result<u64, Error> {
    use abi::syscall::{MEM_INFO_FRAMES, MEM_INFO_FRESH_FRAMES, MEM_INFO_SAFECOPIES, MEM_INFO_SAFECOPY_BYTES};
    let (bytes, copies) = grant::copy_counters();
    match selector {
        MEM_INFO_FRAMES => Ok(sys.frames.in_use),
        MEM_INFO_SAFECOPY_BYTES => Ok(bytes),
        MEM_INFO_SAFECOPIES => Ok(copies),
        MEM_INFO_FRESH_FRAMES => Ok(sys.frames.fresh_frames()),
        _ => Err(Error::Invalid),
    }
}

/// Writes user bytes to the console straight from the user's pages.
fn diag_write(sys: &System, slot: usize, addr: u64, len: u64) -> Result<u64, Error> {
    if len > DIAG_WRITE_MAX {
        return Err(Error::Domain);
    }
    let space = sys.arch[slot].space;
    let mut done = 0;
    while done < len {
        let va = addr.checked_add(done).ok_or(Error::Fault)?;
        let phys = space.translate(va, false).ok_or(Error::Fault)?;
        let chunk = (abi::layout::PAGE_SIZE - (va & 0xFFF)).min(len - done);
        crate::console::write_physical(phys, chunk);
        done += chunk;
    }
    Ok(len)
}
