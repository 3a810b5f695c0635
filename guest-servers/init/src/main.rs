//! init, pid 1: runs the shell and powers the machine off when it ends.
//!
//! PM starts init at boot. init ignores ^C (only the programs the shell
//! runs should die of it), forks, and execs the shell: `sh -c "CMD"` when
//! the kernel command line ends in ` -- CMD` (what `viv exec "CMD"`
//! appends), an interactive `sh` otherwise. It then waits for any child:
//! PM gives init every orphan, and waiting is what lets PM free their
//! zombies. When the shell ends, init powers off with its exit status, so
//! the status of `viv exec` is the command's.
//!
//! init runs as uid 0 (PM's administrator), and so does the shell unless
//! the kernel command line has `viv.user=N` (`viv exec|run --user N`):
//! then the shell, and everything it runs, is uid N, an ordinary user
//! (docs/security.md).
//!
//! With `viv.check=N` (`viv campaign`'s data check) the command is a
//! workload and a check (`abi::platform::split_check`): init runs each in
//! its own shell, the check after the workload has ended, and powers off
//! with the check's status. The child that execs the check's shell writes
//! `MARK_CHECK_START` first; with the workload's `MARK_COMMAND_START`
//! these marks tell the kernel which processes to record the exit
//! statuses of (`abi::fault::STATUS_OFFSET`), the evidence a campaign
//! judges by instead of the console.
//!
//! When PM dies, init's WAIT fails (the new PM does not know it): init
//! syncs and powers off with `abi::platform::STATUS_PM_DIED`.
//!
//! Errors go to the kernel console, not through VFS: init must be able to
//! report that the file system is what failed.
#![no_std]
#![no_main]

use abi::Error;

rt::main!(run);

/// What separates the kernel's own arguments from the command to run
/// (`abi::platform::CMDLINE_COMMAND_SEPARATOR`).
const SEPARATOR: &str = " -- ";

/// Power-off status when the shell cannot even be started; the child
/// exits with it too when its setuid or exec fails, so the fork's failure
/// and the exec's end the same way (`viv` reports both on stderr).
const NO_SHELL: u32 = abi::platform::STATUS_INIT_FAILED;

/// Writes the disk's dirty blocks out (VFS asks the file server), then
/// powers off: what the user wrote survives the end of the run.
fn power_off(status: u32) -> ! {
    if let Err(e) = rt::vfs::sync() {
        rt::println!("init: sync before power-off failed: {}", e.name());
    }
    rt::sys::poweroff(status)
}

fn run() -> i32 {
    if let Err(e) = rt::pm::ignore_interrupt(true) {
        rt::println!("init: cannot ignore ^C: {}", e.name());
    }
    let command = rt::kip::cmdline().split_once(SEPARATOR).map(|(_, command)| command);
    let user = match rt::kip::cmdline_value(abi::platform::CMDLINE_USER_KEY).map(str::parse::<u64>) {
        None => None,
        Some(Ok(uid)) => Some(uid),
        Some(Err(_)) => {
            rt::println!("init: {} is not a number", abi::platform::CMDLINE_USER_KEY);
            rt::sys::poweroff(NO_SHELL)
        }
    };
    let (command, check) = match (command, rt::kip::cmdline_value(abi::platform::CMDLINE_CHECK_KEY)) {
        (Some(command), Some(len)) => match len.parse().ok().and_then(|len| abi::platform::split_check(command, len)) {
            Some((workload, check)) => (Some(workload), Some(check)),
            None => {
                rt::println!("init: {} does not fit the command", abi::platform::CMDLINE_CHECK_KEY);
                rt::sys::poweroff(NO_SHELL)
            }
        },
        (command, _) => (command, None),
    };
    let status = run_shell(command, user, abi::platform::MARK_COMMAND_START);
    match check {
        Some(check) => power_off(run_shell(Some(check), user, abi::platform::MARK_CHECK_START)),
        None => power_off(status),
    }
}

/// Runs a shell for `command` (interactive without one), its child
/// writing bench mark `mark` just before the exec, and waits for it;
/// returns its status.
fn run_shell(command: Option<&str>, user: Option<u64>, mark: u32) -> u32 {
    let shell = match start_shell(command, user, mark) {
        Ok(pid) => pid,
        Err(e) => {
            rt::println!("init: cannot start the shell: {}", e.name());
            rt::sys::poweroff(NO_SHELL)
        }
    };
    loop {
        match rt::pm::wait(-1) {
            Ok((pid, status)) if pid == shell => return status,
            // An orphan PM handed to us: it is now fully gone.
            Ok(_) => {}
            // Only PM's death makes WAIT fail for init: the new PM does
            // not know init (its table died with the old one). The new PM
            // powers off with the same status; whichever gets there first,
            // the outcome is the one docs/servers-dying.md names.
            Err(e) => {
                rt::println!("init: wait failed ({}): PM lost its process table", e.name());
                power_off(abi::platform::STATUS_PM_DIED)
            }
        }
    }
}

/// Forks and execs the shell (as uid `user` when given, after bench mark
/// `mark`); returns its pid.
fn start_shell(command: Option<&str>, user: Option<u64>, mark: u32) -> Result<u64, Error> {
    let pid = rt::pm::fork()?;
    if pid != 0 {
        return Ok(pid);
    }
    if let Some(uid) = user {
        if let Err(e) = rt::pm::setuid(uid) {
            rt::println!("init: cannot become uid {}: {}", uid, e.name());
            rt::sys::exit(NO_SHELL)
        }
    }
    // The command starts (MARK_COMMAND_START: boot is over; `viv count`
    // and `viv trace` split the IPC trace here), or the check does.
    rt::sys::bench_mark(mark);
    let error = match command {
        Some(command) => rt::pm::exec(&["/bin/sh", "-c", command]),
        None => rt::pm::exec(&["/bin/sh"]),
    };
    rt::println!("init: cannot run /bin/sh: {}", error.name());
    rt::sys::exit(NO_SHELL)
}
