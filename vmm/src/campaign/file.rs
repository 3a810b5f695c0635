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

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use abi::fault::Action;
use serde::{Deserialize, Serialize};
use toml::{Spanned, Value};

use super::CampaignError;
use crate::inject::swifi::FaultType;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    name: Option<Spanned<String>>,
    image: Spanned<String>,
    disk: Option<Spanned<String>>,
    workload: Spanned<String>,
    experiments: Spanned<u64>,
    seed: Spanned<u64>,
    timeout: Option<Spanned<Value>>,
    virtual_timeout: Option<Spanned<Value>>,
    instruction_budget: Option<Spanned<u64>>,
    degraded_factor: Option<Spanned<Value>>,
    memory: Option<Spanned<u64>>,
    start: Option<Spanned<String>>,
    weaken: Option<Spanned<Vec<String>>>,
    #[serde(rename = "fault", default)]
    faults: Vec<RawFault>,
    #[serde(default)]
    expect: Option<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    targets: Spanned<Vec<Spanned<String>>>,
    side: Option<Spanned<String>>,
    #[serde(default)]
    peers: Vec<Spanned<String>>,
    #[serde(default)]
    primitives: Vec<Spanned<String>>,
    #[serde(default)]
    message_types: Vec<Spanned<u32>>,
    nth: Option<Spanned<Value>>,
    ticks: Option<Spanned<Value>>,
    window: Option<Spanned<u64>>,
    probability: Option<Spanned<Value>>,
    actions: Spanned<Vec<Spanned<String>>>,
    arg_a: Option<Spanned<Value>>,
    arg_b: Option<Spanned<Value>>,
    bits: Option<Spanned<u32>>,
    limit: Option<Spanned<u32>>,
    swifi: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    exit_status: Option<Spanned<i64>>,
    output: Option<String>,
    check: Option<Spanned<String>>,
    check_output: Option<Spanned<String>>,
    no_panic: Option<bool>,
    no_hang: Option<bool>,
    #[serde(default)]
    min_restarts: BTreeMap<String, Spanned<u32>>,
    min_injected: Option<Spanned<Value>>,
    fsck: Option<bool>,
}

/// A problem at a byte span, with the field it concerns.
struct Problem {
    span: Range<usize>,
    field: String,
    message: String,
}

fn problem<T>(span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem { span, field: field.into(), message: message.into() })
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

/// The field a TOML error points at: the key on its line, prefixed by the
/// table header above it.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let line_no = line_of(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no - 1)?.trim();
    if line.starts_with('[') {
        return Some(line.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('['));
    let table = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// An inclusive integer range: `N` or `[LO, HI]`, within `min..=max`.
fn int_range(v: &Spanned<Value>, field: &str, min: u64, max: u64) -> Result<(u64, u64), Problem> {
    let as_int = |x: &Value| match x {
        Value::Integer(i) if *i >= 0 && (*i as u64) >= min && (*i as u64) <= max => Some(*i as u64),
        _ => None,
    };
    let range = match v.get_ref() {
        Value::Array(a) if a.len() == 2 => as_int(&a[0]).zip(as_int(&a[1])),
        x => as_int(x).map(|n| (n, n)),
    };
    match range {
        Some((lo, hi)) if lo <= hi => Ok((lo, hi)),
        _ => problem(v.span(), field, format!("want N or [LO, HI] with {min} <= LO <= HI <= {max}")),
    }
}

/// A probability range: `P` or `[LO, HI]`, 0.0-1.0 (integers 0 and 1 too).
fn probability_range(v: &Spanned<Value>, field: &str) -> Result<(f64, f64), Problem> {
    let as_p = |x: &Value| {
        let p = match x {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            _ => return None,
        };
        (0.0..=1.0).contains(&p).then_some(p)
    };
    let range = match v.get_ref() {
        Value::Array(a) if a.len() == 2 => as_p(&a[0]).zip(as_p(&a[1])),
        x => as_p(x).map(|p| (p, p)),
    };
    match range {
        Some((lo, hi)) if lo <= hi => Ok((lo, hi)),
        _ => problem(v.span(), field, "want P or [LO, HI] with 0.0 <= LO <= HI <= 1.0"),
    }
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

fn action_names() -> String {
    let names = (1..=u8::MAX).map_while(Action::from_u8).map(|a| a.name());
    names.chain([SWIFI_ACTION]).collect::<Vec<_>>().join(", ")
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
            line: line_of(text, p.span.start),
            field: p.field,
            message: p.message,
        };
        let raw: RawCampaign = toml::from_str(text).map_err(|e| {
            let message = e.message().lines().next().unwrap_or("invalid TOML").to_string();
            match e.span() {
                Some(s) => {
                    let field = field_at(text, s.start).unwrap_or_else(|| "file".into());
                    CampaignError::Invalid { line: line_of(text, s.start), field, message }
                }
                None => CampaignError::Invalid { line: 1, field: "file".into(), message },
            }
        })?;
        let programs = programs_of(raw.image.get_ref())
            .map_err(|e| at(Problem { span: raw.image.span(), field: "image".into(), message: e.to_string() }))?;
        Campaign::check(raw, file, stem, base, &programs).map_err(at)
    }

    fn check(raw: RawCampaign, file: &str, stem: &str, base: &Path, programs: &[String]) -> Result<Campaign, Problem> {
        let name = raw.name.as_ref().map_or(stem.to_string(), |n| n.get_ref().clone());
        if let Some(n) = &raw.name {
            if n.get_ref().trim().is_empty() || n.get_ref().contains(['\n', '/']) {
                return problem(n.span(), "name", "must be non-empty, one line, without '/'");
            }
        }
        let workload = raw.workload.get_ref().trim().trim_end_matches(';').trim().to_string();
        if workload.is_empty() || workload.contains('\n') {
            return problem(raw.workload.span(), "workload", "must be a non-empty one-line shell command");
        }
        let experiments = *raw.experiments.get_ref();
        if experiments == 0 || experiments > MAX_EXPERIMENTS {
            return problem(raw.experiments.span(), "experiments", format!("must be 1 to {MAX_EXPERIMENTS}"));
        }
        let timeout_secs = match &raw.timeout {
            None => DEFAULT_TIMEOUT_SECS,
            Some(t) => match t.get_ref() {
                Value::Integer(i) if *i > 0 && *i <= 86_400 => *i as f64,
                Value::Float(f) if *f > 0.0 && *f <= 86_400.0 => *f,
                _ => return problem(t.span(), "timeout", "want seconds, more than 0 and at most 86400"),
            },
        };
        let virtual_timeout_secs = match &raw.virtual_timeout {
            None => None,
            Some(t) => match t.get_ref() {
                Value::Integer(i) if *i > 0 && *i <= 86_400 => Some(*i as f64),
                Value::Float(f) if *f > 0.0 && *f <= 86_400.0 => Some(*f),
                _ => return problem(t.span(), "virtual_timeout", "want seconds, more than 0 and at most 86400"),
            },
        };
        let instruction_budget = match &raw.instruction_budget {
            None => None,
            Some(n) if *n.get_ref() > 0 => Some(*n.get_ref()),
            Some(n) => return problem(n.span(), "instruction_budget", "want a number of kernel instructions above 0"),
        };
        let degraded_factor = match &raw.degraded_factor {
            None => DEFAULT_DEGRADED_FACTOR,
            Some(f) => match f.get_ref() {
                Value::Integer(i) if *i >= 1 && *i <= 1000 => *i as f64,
                Value::Float(x) if *x >= 1.0 && *x <= 1000.0 => *x,
                _ => return problem(f.span(), "degraded_factor", "want a factor from 1 to 1000"),
            },
        };
        let memory_mib = raw.memory.as_ref().map_or(crate::vstate::config::DEFAULT_MEMORY_MIB, |m| *m.get_ref());
        if let Some(m) = &raw.memory {
            let min = crate::vstate::memory::MIN_GUEST_MEMORY_MIB;
            if !(min..=abi::platform::MAX_GUEST_MEMORY >> 20).contains(m.get_ref()) {
                let max = abi::platform::MAX_GUEST_MEMORY >> 20;
                return problem(m.span(), "memory", format!("want {min} to {max} MiB"));
            }
        }
        let disk = match &raw.disk {
            None => None,
            Some(d) => {
                let path = base.join(d.get_ref());
                if !path.is_file() {
                    return problem(d.span(), "disk", format!("{} is not a file", path.display()));
                }
                Some(path)
            }
        };
        let start = match raw.start.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
            None | Some(("snapshot", _)) => StartFrom::Snapshot,
            Some(("boot", _)) => StartFrom::Boot,
            Some((other, span)) => return problem(span, "start", format!("{other:?} is not \"snapshot\" or \"boot\"")),
        };
        let weaken = raw.weaken.as_ref().map_or(Vec::new(), |w| w.get_ref().clone());
        if let Some(w) = &raw.weaken {
            let bad = |n: &String| n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if let Some(n) = w.get_ref().iter().find(|n| bad(n)) {
                return problem(
                    w.span(),
                    "weaken",
                    format!("{n:?} is not a defense name (abi::weaken: lower case and '_')"),
                );
            }
        }
        if raw.faults.is_empty() {
            return problem(0..0, "fault", "no [[fault]] tables");
        }
        let faults = raw.faults.iter().map(|f| fault_spec(f, programs)).collect::<Result<Vec<_>, _>>()?;
        let expect = expect(raw.expect, programs)?;
        Ok(Campaign {
            name,
            file: file.to_string(),
            image: raw.image.into_inner(),
            disk,
            workload,
            experiments: experiments as u32,
            seed: *raw.seed.get_ref(),
            timeout_secs,
            memory_mib,
            start,
            virtual_timeout_secs,
            degraded_factor,
            baseline_ticks: None,
            instruction_budget,
            baseline_kernel_instructions: None,
            weaken,
            faults,
            expect,
        })
    }
}

fn program(name: &Spanned<String>, field: &str, programs: &[String]) -> Result<Program, Problem> {
    match programs.iter().position(|p| p == name.get_ref()) {
        Some(id) => Ok(Program { name: name.get_ref().clone(), id: id as u8 }),
        None => problem(
            name.span(),
            field,
            format!("unknown program {:?} (the image has: {})", name.get_ref(), programs.join(", ")),
        ),
    }
}

fn fault_spec(f: &RawFault, programs: &[String]) -> Result<FaultSpec, Problem> {
    if f.targets.get_ref().is_empty() {
        return problem(f.targets.span(), "fault.targets", "name at least one program");
    }
    let targets =
        f.targets.get_ref().iter().map(|t| program(t, "fault.targets", programs)).collect::<Result<_, _>>()?;
    let peers = f.peers.iter().map(|t| program(t, "fault.peers", programs)).collect::<Result<_, _>>()?;
    let side = match f.side.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("destination") => Side::Destination,
        Some("source") => Side::Source,
        Some(other) => {
            let span = f.side.as_ref().map(Spanned::span).unwrap_or(0..0);
            return problem(span, "fault.side", format!("{other:?} is not \"destination\" or \"source\""));
        }
    };
    let mut primitives = 0u8;
    for p in &f.primitives {
        let Some((_, trap)) = PRIMITIVES.iter().find(|(n, _)| n == p.get_ref()) else {
            let names: Vec<&str> = PRIMITIVES.iter().map(|(n, _)| *n).collect();
            return problem(
                p.span(),
                "fault.primitives",
                format!("unknown primitive {:?} ({})", p.get_ref(), names.join(", ")),
            );
        };
        primitives |= 1 << *trap as u8;
    }
    if f.actions.get_ref().is_empty() {
        return problem(f.actions.span(), "fault.actions", format!("name at least one of: {}", action_names()));
    }
    for a in f.actions.get_ref() {
        if action_by_name(a.get_ref()).is_none() && a.get_ref() != SWIFI_ACTION {
            return problem(
                a.span(),
                "fault.actions",
                format!("unknown action {:?} ({})", a.get_ref(), action_names()),
            );
        }
    }
    let swifi = swifi_types(f)?;
    let range = |v: &Option<Spanned<Value>>, field: &str, default: (u64, u64), max: u64| match v {
        None => Ok(default),
        Some(v) => int_range(v, field, 0, max),
    };
    let nth = range(&f.nth, "fault.nth", (1, 1), u32::MAX as u64)?;
    let ticks = range(&f.ticks, "fault.ticks", (0, 0), i64::MAX as u64)?;
    let arg_a = range(&f.arg_a, "fault.arg_a", (0, 0), u32::MAX as u64)?;
    let arg_b = range(&f.arg_b, "fault.arg_b", (0, 0), i64::MAX as u64)?;
    let probability = match &f.probability {
        None => (1.0, 1.0),
        Some(v) => probability_range(v, "fault.probability")?,
    };
    if let Some(b) = &f.bits {
        if !(1..=64).contains(b.get_ref()) {
            return problem(b.span(), "fault.bits", "want 1 to 64 bits");
        }
        if f.arg_b.is_some() {
            return problem(b.span(), "fault.bits", "give bits or arg_b, not both");
        }
    }
    Ok(FaultSpec {
        targets,
        side,
        peers,
        primitives,
        message_types: f.message_types.iter().map(|t| *t.get_ref()).collect(),
        nth: (nth.0 as u32, nth.1 as u32),
        ticks,
        window: f.window.as_ref().map_or(0, |w| *w.get_ref()),
        probability,
        actions: f.actions.get_ref().iter().map(|a| a.get_ref().clone()).collect(),
        arg_a: (arg_a.0 as u32, arg_a.1 as u32),
        arg_b,
        bits: f.bits.as_ref().map(|b| *b.get_ref()),
        limit: f.limit.as_ref().map_or(1, |l| *l.get_ref()),
        swifi,
    })
}

/// The SWIFI fault types of a template: all by default when its action is
/// [`SWIFI_ACTION`] (which then must be its only action), none otherwise.
fn swifi_types(f: &RawFault) -> Result<Vec<FaultType>, Problem> {
    let kinds = || FaultType::ALL.map(FaultType::name).join(", ");
    let actions = f.actions.get_ref();
    let Some(swifi) = actions.iter().find(|a| a.get_ref() == SWIFI_ACTION) else {
        return match &f.swifi {
            Some(s) => problem(s.span(), "fault.swifi", format!("needs actions = [\"{SWIFI_ACTION}\"]")),
            None => Ok(Vec::new()),
        };
    };
    if actions.len() > 1 {
        let message = format!("\"{SWIFI_ACTION}\" is drawn alone: give it a [[fault]] of its own");
        return problem(swifi.span(), "fault.actions", message);
    }
    let Some(names) = &f.swifi else { return Ok(FaultType::ALL.to_vec()) };
    if names.get_ref().is_empty() {
        return problem(names.span(), "fault.swifi", format!("name at least one of: {}", kinds()));
    }
    let mut types = Vec::new();
    for n in names.get_ref() {
        match FaultType::by_name(n.get_ref()) {
            Some(t) => types.push(t),
            None => {
                let message = format!("unknown SWIFI fault type {:?} ({})", n.get_ref(), kinds());
                return problem(n.span(), "fault.swifi", message);
            }
        }
    }
    Ok(types)
}

fn expect(raw: Option<RawExpect>, programs: &[String]) -> Result<Expect, Problem> {
    let Some(raw) = raw else {
        return Ok(Expect {
            exit_status: Some(0),
            output: None,
            check: None,
            check_output: None,
            no_panic: true,
            no_hang: true,
            min_restarts: BTreeMap::new(),
            min_injected: None,
            fsck: false,
        });
    };
    let exit_status = match &raw.exit_status {
        None => Some(0),
        Some(s) if (0..=i64::from(abi::platform::GUEST_STATUS_MAX)).contains(s.get_ref()) => Some(*s.get_ref() as i32),
        Some(s) if *s.get_ref() == -1 => None,
        Some(s) => {
            let max = abi::platform::GUEST_STATUS_MAX;
            return problem(s.span(), "expect.exit_status", format!("want 0 to {max} (or -1: any status)"));
        }
    };
    if let Some(c) = &raw.check {
        if c.get_ref().trim().is_empty() || c.get_ref().contains('\n') {
            return problem(c.span(), "expect.check", "must be a non-empty one-line shell command");
        }
    }
    if let (Some(o), None) = (&raw.check_output, &raw.check) {
        return problem(o.span(), "expect.check_output", "needs expect.check (the command whose output it is)");
    }
    if let (Some(c), None) = (&raw.check, &raw.check_output) {
        return problem(c.span(), "expect.check", "needs expect.check_output (what the check must print)");
    }
    for (service, n) in &raw.min_restarts {
        if service != "target" && !programs.iter().any(|p| p == service) {
            let message = format!("unknown program {service:?} (use a program of the image, or \"target\")");
            return problem(n.span(), "expect.min_restarts", message);
        }
    }
    let min_injected = match &raw.min_injected {
        None => None,
        Some(v) => {
            let (lo, hi) = probability_range(v, "expect.min_injected")?;
            if lo != hi {
                return problem(v.span(), "expect.min_injected", "want one share, 0.0 to 1.0");
            }
            Some(lo)
        }
    };
    Ok(Expect {
        exit_status,
        output: raw.output,
        check: raw.check.map(|c| c.into_inner().trim().trim_end_matches(';').to_string()),
        check_output: raw.check_output.map(Spanned::into_inner),
        no_panic: raw.no_panic.unwrap_or(true),
        no_hang: raw.no_hang.unwrap_or(true),
        min_restarts: raw.min_restarts.into_iter().map(|(k, v)| (k, v.into_inner())).collect(),
        min_injected,
        fsck: raw.fsck.unwrap_or(false),
    })
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
