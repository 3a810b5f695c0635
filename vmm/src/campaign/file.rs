//! Campaign files: parsing and checking `*.toml` campaign definitions.
//!
//! A campaign file is read once, checked completely (program names resolved
//! against the image, ranges ordered, actions known) and turned into a
//! [`Campaign`], which is plain serialisable data: `results.json` carries
//! it whole, so `viv campaign replay` and `viv campaign merge` never need
//! the original file again. Every problem is one line naming the file, the
//! line and the field (as `image::definition` does for image definitions),
//! because campaign files are written by hand and run by CI, where a
//! panic or a multi-line parser dump helps nobody. The format is
//! documented in `docs/campaigns.md`.
//!
//! The work is split by what it does: [`raw`] reads the TOML into raw,
//! span-carrying structs (a TOML error becomes `LINE: FIELD: what`),
//! [`check`] checks every field and builds the [`Campaign`] (errors name
//! the field and its line), and this module holds the checked model and
//! the entry points. Expanding a campaign into each experiment's fault
//! plan is `super::draw`'s.

mod check;
mod raw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abi::fault::Action;
use serde::{Deserialize, Serialize};

use super::CampaignError;
use crate::inject::swifi::FaultType;
use check::Problem;

/// Default per-experiment timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// Most experiments one campaign may hold.
pub const MAX_EXPERIMENTS: u64 = 10_000_000;
/// The action of SWIFI templates: a Stop at the trigger, at which the host
/// mutates the target's code (`crate::inject::swifi`) with the drawn fault type.
pub const SWIFI_ACTION: &str = "swifi";

/// A checked campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Name (default: the file's stem).
    pub name: String,
    /// The campaign file as it was given.
    pub file: String,
    /// Boot image (`viv images`).
    pub image: String,
    /// Disk image copied for every experiment (absolute path), if any.
    pub disk: Option<PathBuf>,
    /// Shell command line run in the guest.
    pub workload: String,
    /// Number of experiments.
    pub experiments: u32,
    /// Campaign seed: with the experiment index it decides every draw.
    pub seed: u64,
    /// Per-experiment timeout in seconds.
    pub timeout_secs: f64,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// How each experiment starts.
    #[serde(default)]
    pub start: StartFrom,
    /// The workload's budget in seconds of guest (virtual) time; past it
    /// the kernel ends the experiment as hung, at the same instant every
    /// run. `None`: ten times the fault-free baseline (at least 10 s).
    #[serde(default)]
    pub virtual_timeout_secs: Option<f64>,
    /// A workload that succeeded but took more than this many times the
    /// baseline's virtual time is `degraded`.
    #[serde(default = "default_degraded_factor")]
    pub degraded_factor: f64,
    /// Virtual ticks the workload took in a fault-free run (measured by
    /// `viv campaign` before the experiments, kept in results.json so that
    /// a replay judges and budgets the same way).
    #[serde(default)]
    pub baseline_ticks: Option<u64>,
    /// The workload's budget in kernel instructions (`instruction_budget`),
    /// checked by the VMM; past it the experiment is hung. `None`: three
    /// times the fault-free baseline's ([`Campaign::kernel_instruction_budget`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_budget: Option<u64>,
    /// Kernel instructions the fault-free baseline took (measured with
    /// `baseline_ticks`; only where KVM counts every kernel instruction,
    /// software KVM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_kernel_instructions: Option<u64>,
    /// Defenses switched off in every experiment (`abi::weaken`, given
    /// to the guest as `viv.weaken=NAME,...`): a campaign that must show
    /// what a fault does without a defense (a negative control).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weaken: Vec<String>,
    /// The fault templates; each experiment draws one, then its values.
    pub faults: Vec<FaultSpec>,
    /// What must hold after every experiment.
    pub expect: Expect,
}

/// Default [`Campaign::degraded_factor`].
pub const DEFAULT_DEGRADED_FACTOR: f64 = 2.0;

fn default_degraded_factor() -> f64 {
    DEFAULT_DEGRADED_FACTOR
}

/// A slow success is `degraded` only when it also took this many virtual
/// ticks (2 s) more than the baseline: a driver caught and restarted within
/// its documented bound (3 heartbeat periods, 1.5 s; docs/trust.md) has
/// `recovered`, however small the workload.
pub const DEGRADED_SLACK_TICKS: u64 = 200;

/// Least default budget of a workload in virtual ticks (10 s at 100 Hz):
/// far above RS's bounds for finding and replacing a hung service (3
/// heartbeat periods, 3 s for PM and VFS; docs/servers-dying.md), so a
/// workload that waits out one or two restarts is never called hung.
pub const MIN_TICK_BUDGET: u64 = 1_000;

/// The default kernel-instruction budget in fault-free baselines. Above
/// what completing experiments cost (a restart or a retry adds about 10 %
/// in `ci/campaigns/ipc-faults.toml`; a slow success that waits out most
/// of its virtual budget idle adds about half a baseline) and above what
/// the virtual budget lets an idle hung guest spend (a few hundred
/// instructions a tick); it ends the hangs virtual time cannot end cheaply:
/// a kernel that loops, or processes that keep it busy (virtual time moves
/// one tick per 64 kernel entries, so the virtual budget would let them
/// run tens of millions of instructions).
pub const INSTRUCTION_BUDGET_BASELINES: u64 = 3;

impl Campaign {
    /// The workload's budget in virtual ticks: `virtual_timeout` if given,
    /// else ten times the baseline (at least [`MIN_TICK_BUDGET`]); 0 (none)
    /// before the baseline is known.
    pub fn tick_budget(&self) -> u64 {
        match (self.virtual_timeout_secs, self.baseline_ticks) {
            (Some(secs), _) => (secs * TICKS_PER_SECOND as f64).ceil() as u64,
            (None, Some(base)) => base.saturating_mul(10).max(MIN_TICK_BUDGET),
            (None, None) => 0,
        }
    }

    /// Keeps what the fault-free baseline took (it sets the `degraded`
    /// class and the default budgets).
    pub fn record_baseline(&mut self, baseline: Baseline) {
        self.baseline_ticks = baseline.ticks;
        self.baseline_kernel_instructions = baseline.kernel_instructions;
    }

    /// The workload's budget in kernel instructions, checked by the VMM:
    /// `instruction_budget` if given, else [`INSTRUCTION_BUDGET_BASELINES`]
    /// times the baseline's; 0 (none) before the baseline is known or
    /// where KVM does not count kernel instructions.
    pub fn kernel_instruction_budget(&self) -> u64 {
        match (self.instruction_budget, self.baseline_kernel_instructions) {
            (Some(n), _) => n,
            (None, Some(base)) => base.saturating_mul(INSTRUCTION_BUDGET_BASELINES),
            (None, None) => 0,
        }
    }
}

/// What the fault-free baseline took (`campaign::run::baseline`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The workload's virtual ticks (`None` if the run did not report them).
    pub ticks: Option<u64>,
    /// Kernel instructions of the whole run (`None` where KVM does not
    /// count every kernel instruction: hardware KVM counts only the few
    /// it emulates, and a budget made of those would end every run).
    pub kernel_instructions: Option<u64>,
}

/// Virtual ticks per second of guest time (the kernel's 100 Hz tick).
pub const TICKS_PER_SECOND: u64 = 100;

/// How each experiment starts (`start = "snapshot" | "boot"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    /// From one snapshot taken where the workload starts (faults count
    /// events from there).
    #[default]
    Snapshot,
    /// A cold boot each (faults may also hit the boot).
    Boot,
}

impl StartFrom {
    /// The name used in campaign files and reports.
    pub fn name(self) -> &'static str {
        match self {
            StartFrom::Snapshot => "snapshot",
            StartFrom::Boot => "boot",
        }
    }
}

/// A program of the image: its name and privilege id (boot-image index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub name: String,
    pub id: u8,
}

/// Which end of a message the target program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Messages sent to the target (crash/hang kill the destination).
    Destination,
    /// Messages the target sends (crash/hang kill the source).
    Source,
}

/// One fault template: the sets and ranges an experiment draws from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Target programs (one drawn).
    pub targets: Vec<Program>,
    /// Which end of the message the target is.
    pub side: Side,
    /// Programs at the other end (one drawn; empty: any).
    pub peers: Vec<Program>,
    /// Primitive mask (bit n = trap n; 0 = any).
    pub primitives: u8,
    /// Message types (one drawn; empty: any).
    pub message_types: Vec<u32>,
    /// The nth matching event (inclusive range; 0 = every match).
    pub nth: (u32, u32),
    /// Not before this tick (inclusive range).
    pub ticks: (u64, u64),
    /// Length of the tick window after `not_before` (0: no end).
    pub window: u64,
    /// Firing probability (inclusive range, 0.0-1.0).
    pub probability: (f64, f64),
    /// Action names (one drawn).
    pub actions: Vec<String>,
    /// Action argument A (inclusive range).
    pub arg_a: (u32, u32),
    /// Action argument B (inclusive range).
    pub arg_b: (u64, u64),
    /// When set, argument B is a mask of this many distinct random bits.
    pub bits: Option<u32>,
    /// Most injections per experiment (0 = no limit).
    pub limit: u32,
    /// SWIFI fault types (one drawn) when the action is [`SWIFI_ACTION`];
    /// empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swifi: Vec<FaultType>,
}

/// Expectations checked after every experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expect {
    /// The workload's exit status.
    pub exit_status: Option<i32>,
    /// The workload's output, exactly.
    pub output: Option<String>,
    /// Data-integrity check run after the workload in the same guest.
    pub check: Option<String>,
    /// The check's output, exactly.
    pub check_output: Option<String>,
    /// A kernel panic or triple fault fails the experiment.
    pub no_panic: bool,
    /// A timeout (hung guest) fails the experiment.
    pub no_hang: bool,
    /// Least restarts per service when the fault fired ("target": the
    /// experiment's drawn target).
    pub min_restarts: BTreeMap<String, u32>,
    /// Least share (0.0-1.0) of experiments whose fault fired: a campaign
    /// whose faults never fire proves nothing.
    #[serde(default)]
    pub min_injected: Option<f64>,
    /// After an experiment whose guest powered off, `e2fsck -fn` judges
    /// its disk; a damaged file system is the class `corrupted` and fails
    /// the experiment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fsck: bool,
}

/// Trap names accepted in `primitives`.
pub const PRIMITIVES: [(&str, abi::syscall::Trap); 6] = [
    ("send", abi::syscall::Trap::Send),
    ("receive", abi::syscall::Trap::Receive),
    ("sendrec", abi::syscall::Trap::SendRec),
    ("notify", abi::syscall::Trap::Notify),
    ("sendnb", abi::syscall::Trap::SendNb),
    ("senda", abi::syscall::Trap::SendA),
];

/// The action called `name` in campaign files.
pub fn action_by_name(name: &str) -> Option<Action> {
    (1..=u8::MAX).map_while(Action::from_u8).find(|a| a.name() == name)
}

/// The programs of the embedded image `image`, in boot-image order.
pub fn image_programs(image: &str) -> Result<Vec<String>, CampaignError> {
    let image = crate::image::embedded::find_image(image).map_err(|e| CampaignError::Run(e.into()))?;
    let parsed = abi::boot_image::BootImage::parse(image.archive)
        .map_err(|e| CampaignError::Results(format!("image {}: {e}", image.name)))?;
    Ok(parsed.entries().map(|e| e.name.to_string()).collect())
}

impl Campaign {
    /// Reads and checks the campaign file `path`; the image's programs come
    /// from the embedded images. Errors are one line: `FILE:LINE: FIELD: what`.
    pub fn load(path: &Path) -> Result<Campaign, CampaignError> {
        let io = |source| CampaignError::Io { path: path.to_path_buf(), source };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base =
            std::fs::canonicalize(if base.as_os_str().is_empty() { Path::new(".") } else { &base }).map_err(io)?;
        Campaign::parse(&text, &path.display().to_string(), &stem, &base, image_programs)
            .map_err(|e| CampaignError::InFile { path: path.to_path_buf(), source: Box::new(e) })
    }

    /// Parses and checks campaign text. `file` is recorded as given, `stem`
    /// is the default name, relative disk paths are resolved against
    /// `base`, and `programs_of(image)` lists an image's programs. Errors
    /// are `LINE: FIELD: what`.
    pub fn parse(
        text: &str,
        file: &str,
        stem: &str,
        base: &Path,
        programs_of: impl Fn(&str) -> Result<Vec<String>, CampaignError>,
    ) -> Result<Campaign, CampaignError> {
        let at = |p: Problem| CampaignError::Invalid {
            line: raw::line_of(text, p.span.start),
            field: p.field,
            message: p.message,
        };
        let raw = raw::read(text)?;
        let programs = programs_of(raw.image.get_ref())
            .map_err(|e| at(Problem { span: raw.image.span(), field: "image".into(), message: e.to_string() }))?;
        check::campaign(raw, file, stem, base, &programs).map_err(at)
    }
}

#[cfg(test)]
mod tests;

/// Helpers for the campaign unit tests: a fixed program list and a
/// campaign built from a small file.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The programs the tests' image "system" has.
    pub const PROGRAMS: [&str; 9] = ["rs", "ds", "pm", "vfs", "tty", "init", "sh", "echo", "cat"];

    /// Resolves image names for tests: "system" only.
    pub fn programs_of(image: &str) -> Result<Vec<String>, CampaignError> {
        match image {
            "system" => Ok(PROGRAMS.iter().map(|p| p.to_string()).collect()),
            other => Err(CampaignError::Results(format!("unknown image {other:?}; available images: system"))),
        }
    }

    /// Parses `text` as a campaign file named `t.toml` (errors as text).
    pub fn parse(text: &str) -> Result<Campaign, String> {
        Campaign::parse(text, "t.toml", "t", Path::new("/"), programs_of).map_err(|e| e.to_string())
    }

    /// A campaign crashing or hanging tty, with `extra` added to its fault.
    pub fn campaign_with(extra: &str) -> Campaign {
        let text = format!(
            "image = \"system\"\nworkload = \"echo hi\"\nexperiments = 10\nseed = 42\n\n[[fault]]\n\
             targets = [\"tty\"]\nactions = [\"crash\", \"hang\"]\n{extra}"
        );
        parse(&text).unwrap()
    }
}
