//! `viv run` and `viv exec`: boot an image with the console attached.
//!
//! `exec` puts the command on the kernel command line after
//! `abi::platform::CMDLINE_COMMAND_SEPARATOR`; init runs it with `sh -c`
//! and powers off with its status.
//!
//! When `viv`'s stdin is not a terminal (a pipe, a file, `/dev/null`),
//! the guest's TTY is told not to echo (`viv.echo=0`,
//! `abi::platform::CMDLINE_ECHO_KEY`): `echo data | viv exec cat` prints
//! `data` once, as `ssh host cat` or `docker run -i` would. The echo is
//! switched off in the guest rather than filtered on the host because only
//! the TTY knows which output bytes are echo.

use std::time::Duration;

use super::vm::VmOptions;
use super::CommandError;
use crate::vstate::config::RunConfig;
use crate::vstate::outcome::{Exit, RunOutcome};

pub use super::vm::exec_append;

/// The configuration of an attached run of `vm` with `command` (empty:
/// the interactive shell).
fn attached(vm: &VmOptions, command: &str) -> Result<RunConfig, CommandError> {
    let mut config = vm.config(command)?;
    config.echo_console = true;
    config.capture_console = false;
    config.forward_stdin = true;
    config.echo_input = stdin_is_terminal();
    Ok(config)
}

/// Whether `viv`'s stdin is a terminal (then the guest echoes what is typed).
pub fn stdin_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(libc::STDIN_FILENO) == 1 }
}

/// `viv run`: boots `vm.image` with the console attached.
pub fn run(vm: &VmOptions) -> Result<RunOutcome, CommandError> {
    run_attached(&attached(vm, "")?)
}

/// `viv exec`: boots `vm.image` and runs `command` in it; `log`: show the
/// guest's log on stderr.
pub fn exec(vm: &VmOptions, command: &str, log: bool) -> Result<RunOutcome, CommandError> {
    if command.trim().is_empty() {
        return Err(CommandError::Usage("exec: the command is empty".into()));
    }
    let mut config = attached(vm, command)?;
    // The kernel's and servers' messages go to the log port, so stdout
    // carries only the command's own output.
    config.separate_log = true;
    config.echo_log = log;
    run_attached(&config)
}

/// Runs `config` with the console attached: a terminal on stdin is in raw
/// mode for the run and restored afterwards (the guard also covers errors;
/// panics and ^] restore it through `devices::terminal`).
fn run_attached(config: &RunConfig) -> Result<RunOutcome, CommandError> {
    let raw = crate::devices::terminal::RawTerminal::enable(libc::STDIN_FILENO).map_err(CommandError::Terminal)?;
    let outcome = crate::vstate::run::run(config);
    drop(raw);
    Ok(outcome?)
}

/// The one-line message for an ending other than a power-off, and for a
/// power-off because init could not start the shell (`None` for any other
/// power-off, which is only logged).
pub fn end_message(outcome: &RunOutcome, timeout: Option<Duration>) -> Option<String> {
    let status = outcome.exit_status();
    match &outcome.exit {
        Exit::PowerOff(s) if *s == abi::platform::STATUS_INIT_FAILED => {
            let log = String::from_utf8_lossy(outcome.log.as_deref().unwrap_or_default()).into_owned();
            let why: Vec<&str> = log.lines().filter(|l| l.starts_with("init: ")).collect();
            // A command that ran and exited 118 leaves no such line.
            (!why.is_empty()).then(|| format!("{} (exit status {status})", why.join("; ")))
        }
        Exit::PowerOff(s) => {
            log::info!("guest powered off with status {s}");
            None
        }
        Exit::KernelPanic => Some("guest kernel panic".to_string()),
        Exit::TripleFault => Some(format!("guest triple fault (exit status {status})")),
        Exit::Timeout => Some(format!(
            "timeout: guest still running after {}s; stopped (exit status {status})",
            timeout.unwrap_or_default().as_secs_f64()
        )),
        Exit::InstructionBudget => Some(format!("kernel-instruction budget spent; stopped (exit status {status})")),
        Exit::VmError(why) => Some(format!("VM error: {why} (exit status {status})")),
        Exit::GuestLimit(limit) => Some(format!("guest error: {} reached (exit status {status})", limit.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vstate::config::build_cmdline;
    use abi::layout::EntryKind;

    #[test]
    fn exec_puts_the_command_after_the_separator() {
        let line = build_cmdline("a=1", EntryKind::Trap, &exec_append("  echo x=1 -- y  "));
        assert_eq!(line, "a=1 viv.entry=trap -- echo x=1 -- y");
        assert_eq!(abi::platform::cmdline_command(&line), Some("echo x=1 -- y"));
        assert_eq!(abi::platform::cmdline_value(&line, "a"), Some("1"));
    }

    #[test]
    fn init_failures_are_told_and_a_timeout_is_a_timeout() {
        let mut outcome = RunOutcome::empty_for_tests();
        outcome.exit = Exit::PowerOff(abi::platform::STATUS_INIT_FAILED);
        outcome.log = Some(b"rs: started pm\ninit: cannot start the shell: ENOMEM\n".to_vec());
        let m = end_message(&outcome, None).unwrap();
        assert_eq!(m, "init: cannot start the shell: ENOMEM (exit status 118)");
        outcome.log = Some(b"rs: started pm\n".to_vec());
        assert_eq!(end_message(&outcome, None), None, "a command's own exit 118");
        outcome.exit = Exit::Timeout;
        let m = end_message(&outcome, Some(Duration::from_secs(3))).unwrap();
        assert!(m.starts_with("timeout: guest still running after 3s"), "{m}");
    }
}
