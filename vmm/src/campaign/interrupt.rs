//! `^C` during a campaign: stop starting experiments, let the running ones
//! finish, write the reports of what finished and say how to resume.
//!
//! Why not die at once: the journal already holds every finished
//! experiment, but the reports (and the scratch directory's removal) come
//! at the end; a clean stop costs at most one experiment's timeout. A
//! second `^C` restores the default action, so it ends `viv` at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // SAFETY: signal(2) is async-signal-safe; SIG_DFL makes the next ^C
    // end the process.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
}

/// Catches SIGINT for the rest of the process: it sets [`interrupted`].
pub fn catch_sigint() {
    // SAFETY: installs a handler that only stores to an atomic and resets
    // the disposition, both async-signal-safe.
    unsafe { libc::signal(libc::SIGINT, on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t) };
}

/// Whether SIGINT arrived since [`catch_sigint`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
