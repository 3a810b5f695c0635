//! Stopping a guest that runs too long.
//!
//! Why a signal: a vCPU thread spends its time inside `KVM_RUN`, which only
//! returns on a VM exit. A guest spinning in user mode (which runs natively)
//! or sleeping in `hlt` with the in-kernel irqchip may never exit. A signal
//! delivered to the vCPU thread makes `KVM_RUN` return `EINTR`. The handler
//! itself does nothing; the run loop sees the `timed_out` flag and stops.
//!
//! A signal that lands while the vCPU thread is between two `KVM_RUN`s is
//! consumed by the handler without effect, so the watchdog repeats it every
//! [`KICK_INTERVAL`] until the vCPU thread reports that it has stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

use crate::Error;

/// How often the watchdog re-sends the kick signal.
pub const KICK_INTERVAL: Duration = Duration::from_millis(10);

/// The signal that kicks a vCPU out of `KVM_RUN`.
pub fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// Installs the (empty) kick handler once per process.
pub fn install() -> Result<(), Error> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| register_signal_handler(kick_signal(), on_kick).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| Error::Host(format!("cannot install the vCPU kick signal handler: {e}")))
}

/// Waits until the vCPU thread `vcpu` reports on `done`; if `timeout`
/// passes first, sets `timed_out` and kicks the thread until it reports.
pub fn supervise<T>(vcpu: &JoinHandle<T>, timeout: Option<Duration>, timed_out: &AtomicBool, done: &Receiver<()>) {
    let Some(timeout) = timeout else {
        let _ = done.recv();
        return;
    };
    match done.recv_timeout(timeout) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        Err(RecvTimeoutError::Timeout) => {}
    }
    timed_out.store(true, Ordering::Release);
    loop {
        // The thread has not reported yet, so it has not been joined and
        // its pthread handle is valid.
        if let Err(e) = vcpu.kill(kick_signal()) {
            log::warn!("cannot signal the vCPU thread: {e}");
        }
        match done.recv_timeout(KICK_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}
