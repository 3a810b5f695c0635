//! The VM options every subcommand that boots a guest shares (`viv run`,
//! `exec`, `count`, `trace`, `profile`), turned into a [`RunConfig`] in one
//! place so that a flag means the same in each.

use std::path::PathBuf;
use std::time::Duration;

use crate::vstate::config::{EntryChoice, RunConfig};
use crate::Error;

/// How to boot the guest.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Boot image name.
    pub image: String,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Disk image file (`None`: a temporary copy of the image's default
    /// disk, or no disk when the image has none).
    pub disk: Option<PathBuf>,
    /// Serve `disk` copy-on-write: the guest's writes are kept in memory
    /// and dropped at the end, the file is never written.
    pub disk_snapshot: bool,
    /// Text appended to the kernel command line.
    pub append: String,
    /// System-call entry selection.
    pub entry: EntryChoice,
    /// Stop the guest after this long (`None`: never).
    pub timeout: Option<Duration>,
    /// Serve gdb (`viv run|exec --gdb`, docs/gdb.md).
    pub gdb: Option<crate::debug::GdbConfig>,
}

impl VmOptions {
    /// The defaults for `image`: 128 MiB, no disk file, no timeout.
    pub fn image(image: &str) -> VmOptions {
        VmOptions {
            image: image.to_string(),
            memory_mib: crate::vstate::config::DEFAULT_MEMORY_MIB,
            disk: None,
            disk_snapshot: false,
            append: String::new(),
            entry: EntryChoice::Auto,
            timeout: None,
            gdb: None,
        }
    }

    /// The run configuration these options describe, with `command` (if
    /// not empty) after `abi::platform::CMDLINE_COMMAND_SEPARATOR`; the
    /// memory size and the command line are checked here, before any VM.
    pub fn config(&self, command: &str) -> Result<RunConfig, Error> {
        let mut config = RunConfig::for_image(&self.image)?;
        config.memory_mib = self.memory_mib;
        config.memory_bytes()?;
        config.timeout = self.timeout;
        config.entry = self.entry;
        config.disk = self.disk.clone();
        config.disk_snapshot = self.disk_snapshot;
        config.gdb = self.gdb.clone();
        config.append = self.append.trim().to_string();
        if !command.trim().is_empty() {
            config.append = format!("{} {}", config.append, exec_append(command)).trim_start().to_string();
        }
        crate::vstate::config::check_cmdline(&config.cmdline())?;
        crate::vstate::config::check_parameters(&config.cmdline())?;
        Ok(config)
    }
}

/// What `viv exec` appends to the kernel command line for `command`
/// (`build_cmdline` joins it with a space, giving " -- CMD").
pub fn exec_append(command: &str) -> String {
    format!("{}{}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start(), command.trim())
}
