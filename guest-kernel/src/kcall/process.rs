//! Process management calls: spawn, fork, exec, kill, reap, and the
//! process-table and memory queries.

use crate::process::{Memory, System};
use abi::syscall::{EXIT_STATUS_KILLED, PROC_INFO_SIZE, PROC_READY, PROC_RECEIVING, PROC_SENDING};
use abi::{Endpoint, Error};
use kernel_core::{Outcome, ProcState};

/// Starts boot-image program `index`; returns the new endpoint. The
/// caller reaps it.
pub fn spawn(sys: &mut System, caller: usize, index: u64) -> Result<u64, Error> {
    let slot = sys.spawn_from_image(index as usize).map_err(|_| Error::NoMemory)?;
    sys.core.set_reaper(slot, caller);
    let (by, cause) = (sys.endpoint(caller), sys.core.trace.kernel_cause);
    crate::trace::process_event(sys, abi::trace::Kind::Spawn, by, slot, cause);
    crate::fault::count_start(sys, index as usize);
    Ok(u64::from(sys.core.procs[slot].endpoint.0))
}

/// Forks `parent` (waiting for the caller's reply); returns the child's
/// endpoint.
pub fn fork(sys: &mut System, caller: usize, parent: u64) -> Result<u64, Error> {
    let parent = sys.core.live_slot(Endpoint(parent as u32))?;
    let child = sys.fork(caller, parent)?;
    Ok(u64::from(sys.endpoint(child).0))
}

/// Payload: target endpoint, program index, argument block address and
/// length.
pub fn exec(sys: &mut System, caller: usize, w: &[u64; 7]) -> Result<u64, Error> {
    let target = sys.core.live_slot(Endpoint(w[0] as u32))?;
    sys.exec(caller, target, w[1], w[2], w[3])?;
    Ok(0)
}

/// `SetUid`: the memory of process `target` is charged to user `uid`
/// from now on (PM calls it when a uid changes; forks inherit it).
pub fn set_uid(sys: &mut System, target: u64, uid: u64) -> Result<u64, Error> {
    let slot = sys.core.live_slot(Endpoint(target as u32))?;
    sys.frames.quota.set_uid(slot, uid);
    Ok(0)
}

/// Reaps one zombie child: `endpoint | status << 32`; the caller is
/// notified again when another zombie child is left.
pub fn reap(sys: &mut System, caller: usize) -> Result<u64, Error> {
    let System { core, arch, frames, .. } = sys;
    let (endpoint, status) = core.reap_notifying(&mut Memory { arch, frames }, caller)?;
    Ok(u64::from(endpoint.0) | u64::from(status) << 32)
}

/// Ends the process `target`. Killing oneself is an exit.
pub fn kill(sys: &mut System, caller: usize, target: u64) -> Outcome {
    let slot = match sys.core.live_slot(Endpoint(target as u32)) {
        Ok(slot) => slot,
        Err(e) => return Outcome::Done(e.to_return()),
    };
    sys.terminate(slot, EXIT_STATUS_KILLED);
    if slot == caller {
        Outcome::Blocked
    } else {
        Outcome::Done(0)
    }
}

/// Writes one record per live process into the caller's buffer.
pub fn proc_info(sys: &mut System, caller: usize, addr: u64, capacity: u64) -> Result<u64, Error> {
    let mut written = 0u64;
    for p in sys.core.procs.iter().filter(|p| p.state == ProcState::Alive) {
        if written == capacity {
            break;
        }
        let mut record = [0u8; PROC_INFO_SIZE];
        record[0..4].copy_from_slice(&p.endpoint.0.to_le_bytes());
        record[4] = p.priority;
        let mut state = 0;
        let mut blocked_on = Endpoint::NONE;
        if p.is_ready() {
            state |= PROC_READY;
        }
        if let Some(w) = p.sending {
            state |= PROC_SENDING;
            blocked_on = sys.core.procs[w.dst].endpoint;
        }
        if let Some(w) = p.receiving {
            state |= PROC_RECEIVING;
            if p.sending.is_none() {
                blocked_on = w.from;
            }
        }
        record[5] = state;
        record[8..12].copy_from_slice(&blocked_on.0.to_le_bytes());
        record[16..32].copy_from_slice(&p.name);
        let at = addr.checked_add(written * PROC_INFO_SIZE as u64).ok_or(Error::Fault)?;
        Memory { arch: &mut sys.arch, frames: &mut sys.frames }.copy_out(caller, at, &record)?;
        written += 1;
    }
    Ok(written)
}
