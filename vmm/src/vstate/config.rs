//! What to run: the run configuration, the system-call entry choice and
//! the kernel command line.
//!
//! Why the entry kind lives here: on software KVM (`kvm_pvm`) `syscall` and
//! `sysret` do not work (see `docs/platform.md`), so the kernel must use its trap
//! entry there. Only the host can tell, so the VMM detects it and passes the
//! choice on the kernel command line (`viv.entry=trap|syscall`); a flag
//! overrides the detection. The user's `--append` text comes last so that,
//! with "last occurrence wins" (`abi::platform::cmdline_value`), a user can
//! override anything, even the entry.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use abi::layout::EntryKind;
use abi::platform::CMDLINE_ENTRY_KEY;

use super::error::Error;
use crate::image::embedded::{embedded_kernel, find_image};

/// Default guest memory in MiB.
pub const DEFAULT_MEMORY_MIB: u64 = 128;
/// Sysfs path that exists when the software KVM backend is loaded.
pub const KVM_PVM_SYSFS: &str = "/sys/module/kvm_pvm";

/// How the guest kernel should enter from user mode (`--syscall-entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryChoice {
    /// `trap` on software KVM (`/sys/module/kvm_pvm` exists), else `syscall`.
    #[default]
    Auto,
    /// `syscall`/`sysret`.
    Syscall,
    /// `int3`/`iretq`.
    Trap,
}

/// The host's kind of KVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// Hardware virtualization (VT-x / SVM).
    Hardware,
    /// The software `kvm_pvm` backend of our development machines.
    SoftwarePvm,
}

impl HostKind {
    /// Detects the host kind from sysfs.
    pub fn detect() -> HostKind {
        Self::detect_at(Path::new(KVM_PVM_SYSFS))
    }

    /// Detects the host kind from `pvm_marker` (a test hook).
    pub fn detect_at(pvm_marker: &Path) -> HostKind {
        if pvm_marker.exists() {
            HostKind::SoftwarePvm
        } else {
            HostKind::Hardware
        }
    }

    /// A human-readable name.
    pub fn describe(self) -> &'static str {
        match self {
            HostKind::Hardware => "hardware KVM",
            HostKind::SoftwarePvm => "software KVM (kvm_pvm)",
        }
    }
}

impl EntryChoice {
    /// The entry kind to use on `host`.
    pub fn resolve(self, host: HostKind) -> EntryKind {
        match (self, host) {
            (EntryChoice::Syscall, _) => EntryKind::Syscall,
            (EntryChoice::Trap, _) => EntryKind::Trap,
            (EntryChoice::Auto, HostKind::SoftwarePvm) => EntryKind::Trap,
            (EntryChoice::Auto, HostKind::Hardware) => EntryKind::Syscall,
        }
    }
}

/// The command-line value of an entry kind.
pub fn entry_word(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Syscall => "syscall",
        EntryKind::Trap => "trap",
    }
}

/// The kernel command line: the image's default, then
/// `viv.entry=<entry>`, then the user's text. Empty parts are skipped and
/// surrounding whitespace is trimmed.
pub fn build_cmdline(image_default: &str, entry: EntryKind, append: &str) -> String {
    let entry = format!("{CMDLINE_ENTRY_KEY}={}", entry_word(entry));
    [image_default.trim(), entry.as_str(), append.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks the one command-line limit every boot shares: the kernel copies
/// at most `abi::layout::kip::CMDLINE_MAX` bytes, and a longer line would
/// be cut (inside a UTF-8 character, the kernel would lose all of it).
pub fn check_cmdline(cmdline: &str) -> Result<(), Error> {
    let max = abi::layout::kip::CMDLINE_MAX;
    if cmdline.len() > max {
        return Err(Error::CmdlineTooLong { length: cmdline.len(), max });
    }
    Ok(())
}

/// Checks the parameters whose value must be a number
/// (`abi::platform::NUMERIC_PARAMETERS`), so that `--append
/// pingpong.rounds=abc` is refused instead of running the default.
pub fn check_parameters(cmdline: &str) -> Result<(), Error> {
    for key in abi::platform::NUMERIC_PARAMETERS {
        if let Err(value) = abi::platform::cmdline_number(cmdline, key) {
            return Err(Error::BadParameter { key, value: value.to_string() });
        }
    }
    Ok(())
}

/// `append` with the key that makes init run the shell as `user`
/// (`abi::platform::CMDLINE_USER_KEY`), when given.
pub fn with_user(append: &str, user: Option<u32>) -> String {
    match user {
        Some(uid) => format!("{} {}={uid}", append.trim(), abi::platform::CMDLINE_USER_KEY).trim().to_string(),
        None => append.to_string(),
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The kernel ELF (must carry a PVH entry note).
    pub kernel: Cow<'static, [u8]>,
    /// The boot image archive, passed as the single PVH module (may be
    /// empty: then no module is passed).
    pub archive: Cow<'static, [u8]>,
    /// The image's default command line.
    pub image_cmdline: String,
    /// Text appended to the command line (`--append`).
    pub append: String,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Stop the guest after this long (`None`: never).
    pub timeout: Option<Duration>,
    /// System-call entry selection.
    pub entry: EntryChoice,
    /// Copy console output to `viv`'s stdout as it appears.
    pub echo_console: bool,
    /// Keep console output in [`crate::RunOutcome::console`].
    pub capture_console: bool,
    /// Feed `viv`'s stdin to the guest's serial port.
    pub forward_stdin: bool,
    /// Disk image for the virtio-blk device; when missing it is created
    /// from the image's default disk (`devices::disk_image`), or
    /// zero-filled, `devices::virtio_blk::DEFAULT_DISK_BYTES` long, for an
    /// image without one. `None`: a temporary copy of the image's default
    /// disk, or no disk device for an image without one.
    pub disk: Option<PathBuf>,
    /// Serve `disk` copy-on-write (`--snapshot`): a private mapping of the
    /// file, as campaign experiments get of their snapshot's disk; the
    /// guest's writes vanish with the run and the file is never written.
    pub disk_snapshot: bool,
    /// Let the guest's TTY echo its input; `false` puts `viv.echo=0` on
    /// the command line (`viv run|exec` when stdin is not a terminal).
    pub echo_input: bool,
    /// When the run ends, write the disk's contents as the guest left them
    /// into this new file (`e2fsck` after a snapshot experiment, whose
    /// disk is a private mapping). `None`: nothing is written.
    pub disk_out: Option<PathBuf>,
    /// Route the guest's log (kernel messages and `DiagWrite`, which the
    /// servers use) to the log port instead of the console
    /// (`viv.log=e9`), so the console carries only program output.
    pub separate_log: bool,
    /// With `separate_log`: copy the log to stderr as it comes.
    pub echo_log: bool,
    /// Record every IPC event in a trace ring (`crate::observe`); `None`:
    /// tracing off (the kernel is told nothing and traces nothing).
    pub trace: Option<crate::observe::TraceMode>,
    /// Size of the trace ring in bytes (a multiple of 4 KiB: the header
    /// page plus 64-byte records; default `crate::observe::RING_BYTES`).
    pub trace_ring_bytes: u64,
    /// Fault plan to install before boot (`crate::inject::fault`); `None`: fault
    /// injection off (the kernel is told nothing).
    pub fault_plan: Option<crate::inject::fault::FaultPlan>,
    /// Experiment mode: virtual guest time (`viv.deterministic=1`) and no
    /// RDRAND/RDSEED in CPUID, so repeated runs give the same IPC trace.
    pub deterministic: bool,
    /// Experiment mode with a fault plan: the workload's budget in virtual
    /// ticks from `MARK_COMMAND_START` (`abi::fault::CLOCK_BUDGET`); past it
    /// the kernel ends the run as timed out. 0: none.
    pub tick_budget: u64,
    /// Kernel instructions (KVM's `insn_emulation`, counted from the start
    /// of this VM: from the restore for a snapshot experiment) past which
    /// the VMM stops the run as [`crate::Exit::InstructionBudget`]: a
    /// cheap backstop for a guest that burns instructions without virtual
    /// time advancing. Checked at every exit to the VMM and at a kick every
    /// [`crate::vstate::vcpu::BUDGET_KICK`]. 0: none (also where KVM has no
    /// such statistic).
    pub instruction_budget: u64,
    /// Experiment mode with a fault plan: host CPU time the vCPU may spend
    /// without a kernel entry before the VMM calls it spinning and raises
    /// the spin tick (`crate::vstate::watchdog`; default
    /// `abi::platform::SPIN_TICK_CPU_MS`).
    pub spin_budget: std::time::Duration,
    /// Host-side code mutation (SWIFI, `crate::inject::swifi`) applied at every
    /// fault-plan Stop event; `None`: a Stop only pauses and resumes.
    pub swifi: Option<crate::inject::swifi::SwifiSpec>,
    /// Sample the guest's stacks this many times a second
    /// (`crate::observe::profile`); `None`: no profiling.
    pub profile_hz: Option<u32>,
    /// Caps on what the guest can make the host keep
    /// (`crate::devices::limits`).
    pub limits: crate::devices::limits::HostLimits,
    /// Serve gdb (`crate::debug`); `None`: no debugger.
    pub gdb: Option<crate::debug::GdbConfig>,
}

impl RunConfig {
    /// A config for raw kernel and archive bytes (defaults: 128 MiB, no
    /// timeout, auto entry, console captured, not echoed, no stdin).
    pub fn new(kernel: impl Into<Cow<'static, [u8]>>, archive: impl Into<Cow<'static, [u8]>>) -> RunConfig {
        RunConfig {
            kernel: kernel.into(),
            archive: archive.into(),
            image_cmdline: String::new(),
            append: String::new(),
            memory_mib: DEFAULT_MEMORY_MIB,
            timeout: None,
            entry: EntryChoice::Auto,
            echo_console: false,
            capture_console: true,
            forward_stdin: false,
            disk: None,
            disk_snapshot: false,
            echo_input: true,
            disk_out: None,
            separate_log: false,
            echo_log: false,
            trace: None,
            trace_ring_bytes: crate::observe::RING_BYTES,
            fault_plan: None,
            deterministic: false,
            tick_budget: 0,
            instruction_budget: 0,
            spin_budget: std::time::Duration::from_millis(abi::platform::SPIN_TICK_CPU_MS),
            swifi: None,
            profile_hz: None,
            limits: Default::default(),
            gdb: None,
        }
    }

    /// A config for the embedded kernel and the embedded image `name`.
    pub fn for_image(name: &str) -> Result<RunConfig, Error> {
        let image = find_image(name)?;
        let kernel = embedded_kernel()?;
        let mut config = RunConfig::new(kernel, image.archive);
        config.image_cmdline = image.cmdline.to_string();
        Ok(config)
    }

    /// The entry kind this run uses on this host.
    pub fn entry_kind(&self) -> EntryKind {
        self.entry.resolve(HostKind::detect())
    }

    /// The full kernel command line for this host.
    /// Our VMM also promises zeroed memory (`viv.memzero=1`: guest RAM is
    /// a fresh anonymous mapping), which spares the kernel zeroing frames.
    pub fn cmdline(&self) -> String {
        let mut image = format!("{} {}=1", self.image_cmdline.trim(), abi::platform::CMDLINE_MEMZERO_KEY);
        if self.separate_log {
            image.push_str(&format!(" {}=e9", abi::platform::CMDLINE_LOG_KEY));
        }
        if !self.echo_input {
            image.push_str(&format!(" {}=0", abi::platform::CMDLINE_ECHO_KEY));
        }
        if self.deterministic {
            image.push_str(&format!(" {}=1", abi::platform::CMDLINE_DETERMINISTIC_KEY));
        }
        build_cmdline(&image, self.entry_kind(), &self.append)
    }

    /// Guest memory in bytes, checked against the platform limits.
    pub fn memory_bytes(&self) -> Result<u64, Error> {
        let bytes = self.memory_mib.saturating_mul(1 << 20);
        if !(crate::vstate::memory::MIN_GUEST_MEMORY..=abi::platform::MAX_GUEST_MEMORY).contains(&bytes) {
            return Err(Error::BadMemorySize(self.memory_mib));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_is_image_then_entry_then_user_text() {
        assert_eq!(
            build_cmdline("pingpong.rounds=1000", EntryKind::Trap, "pingpong.rounds=5"),
            "pingpong.rounds=1000 viv.entry=trap pingpong.rounds=5"
        );
        assert_eq!(build_cmdline("", EntryKind::Syscall, ""), "viv.entry=syscall");
        assert_eq!(build_cmdline("  a  ", EntryKind::Syscall, "  b "), "a viv.entry=syscall b");
        // The user's text wins because the last occurrence wins.
        let line = build_cmdline("", EntryKind::Trap, "viv.entry=syscall");
        assert_eq!(abi::platform::cmdline_value(&line, CMDLINE_ENTRY_KEY), Some("syscall"));
    }

    #[test]
    fn numeric_parameters_are_checked() {
        assert!(check_parameters("pingpong.rounds=5 viv.user=7 -- echo pingpong.rounds=x").is_ok());
        let e = check_parameters("a=1 pingpong.rounds=abc").unwrap_err().to_string();
        assert!(e.contains("pingpong.rounds=abc") && e.contains("number"), "{e}");
        assert!(check_parameters("viv.user=root").is_err());
    }

    #[test]
    fn a_user_goes_on_the_command_line() {
        assert_eq!(with_user("a=1", None), "a=1");
        assert_eq!(with_user("", Some(7)), "viv.user=7");
        let line = build_cmdline("", EntryKind::Trap, &with_user("a=1", Some(1000)));
        assert_eq!(abi::platform::cmdline_value(&line, abi::platform::CMDLINE_USER_KEY), Some("1000"));
    }

    #[test]
    fn entry_choice_follows_the_host() {
        assert_eq!(EntryChoice::Auto.resolve(HostKind::SoftwarePvm), EntryKind::Trap);
        assert_eq!(EntryChoice::Auto.resolve(HostKind::Hardware), EntryKind::Syscall);
        assert_eq!(EntryChoice::Syscall.resolve(HostKind::SoftwarePvm), EntryKind::Syscall);
        assert_eq!(EntryChoice::Trap.resolve(HostKind::Hardware), EntryKind::Trap);
        let dir = std::env::temp_dir().join(format!("viv-pvm-marker-{}", std::process::id()));
        assert_eq!(HostKind::detect_at(&dir), HostKind::Hardware);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(HostKind::detect_at(&dir), HostKind::SoftwarePvm);
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn memory_size_is_checked() {
        let mut c = RunConfig::new(Vec::new(), Vec::new());
        assert_eq!(c.memory_bytes().unwrap(), 128 << 20);
        c.memory_mib = 1024;
        assert_eq!(c.memory_bytes().unwrap(), 1 << 30);
        c.memory_mib = 1025;
        assert!(c.memory_bytes().is_err());
        c.memory_mib = 0;
        assert!(c.memory_bytes().is_err());
        c.memory_mib = u64::MAX;
        assert!(c.memory_bytes().is_err());
    }
}
