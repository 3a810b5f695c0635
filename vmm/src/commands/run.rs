//! `viv run` and `viv exec`: boot an image with the console attached.
//!
//! `exec` puts the command on the kernel command line after
//! `abi::platform::CMDLINE_COMMAND_SEPARATOR`; init runs it with `sh -c`
//! and powers off with its status.

use std::path::PathBuf;
use std::time::Duration;

use super::CommandError;
use crate::vstate::config::{EntryChoice, RunConfig};
use crate::vstate::outcome::{Exit, RunOutcome};
use crate::Error;

/// What `viv run` and `viv exec` share.
#[derive(Debug, Clone)]
pub struct Attached {
    /// Boot image name.
    pub image: String,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Stop the guest after this long.
    pub timeout: Option<Duration>,
    /// System-call entry selection.
    pub entry: EntryChoice,
    /// Disk image file.
    pub disk: Option<PathBuf>,
    /// Serve gdb (`--gdb`).
    pub gdb: Option<crate::debug::GdbConfig>,
}

impl Attached {
    fn config(&self) -> Result<RunConfig, Error> {
        let mut config = RunConfig::for_image(&self.image)?;
        config.memory_mib = self.memory_mib;
        config.memory_bytes()?;
        config.timeout = self.timeout;
        config.entry = self.entry;
        config.echo_console = true;
        config.capture_console = false;
        config.forward_stdin = true;
        config.disk = self.disk.clone();
        config.gdb = self.gdb.clone();
        Ok(config)
    }
}

/// `viv run`: boots `how.image` with `append` on the command line.
pub fn run(how: &Attached, append: &str) -> Result<RunOutcome, CommandError> {
    let mut config = how.config()?;
    config.append = append.to_string();
    run_attached(&config)
}

/// `viv exec`: boots `how.image` and runs `command` in it, with `append`
/// on the command line before it; `log`: show the guest's log on stderr.
pub fn exec(how: &Attached, append: &str, command: &str, log: bool) -> Result<RunOutcome, CommandError> {
    if command.trim().is_empty() {
        return Err(CommandError::Usage("exec: the command is empty".into()));
    }
    let mut config = how.config()?;
    config.append = format!("{} {}", append.trim(), exec_append(command)).trim_start().to_string();
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

/// What `viv exec` appends to the kernel command line for `command`
/// (`build_cmdline` joins it with a space, giving " -- CMD").
pub fn exec_append(command: &str) -> String {
    format!("{}{}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start(), command.trim())
}

/// The one-line message for an ending other than a power-off (`None` for
/// a power-off, which is only logged).
pub fn end_message(outcome: &RunOutcome, timeout: Option<Duration>) -> Option<String> {
    let status = outcome.exit_status();
    match &outcome.exit {
        Exit::PowerOff(s) => {
            log::info!("guest powered off with status {s}");
            None
        }
        Exit::KernelPanic => Some("guest kernel panic".to_string()),
        Exit::TripleFault => Some(format!("guest triple fault (exit status {status})")),
        Exit::Timeout => Some(format!(
            "guest still running after {}s; stopped (exit status {status})",
            timeout.unwrap_or_default().as_secs_f64()
        )),
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
}
