//! `viv profile`: run one shell command with the sampling profiler on,
//! write its stacks (folded, speedscope or pprof) and return the top-N table
//! (`docs/profiling.md`).

use std::path::Path;

use super::trace::failure_note;
use super::vm::VmOptions;
use super::CommandError;
use crate::observe::profile::report::Profile;
use crate::vstate::outcome::RunOutcome;
use crate::Error;

/// Stack formats `viv profile --out` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `process;frame;…;frame count` lines (flamegraph.pl, inferno).
    Folded,
    /// speedscope's JSON file format, one sampled profile per process.
    Speedscope,
    /// pprof's gzipped protobuf (`crate::observe::profile::pprof`).
    Pprof,
}

/// What to profile and how.
#[derive(Debug, Clone)]
pub struct ProfileRequest<'a> {
    /// How to boot the guest.
    pub vm: VmOptions,
    /// The shell command (empty: the image's own workload).
    pub command: &'a str,
    /// Samples per second.
    pub hz: u32,
    /// Functions in the table.
    pub top: usize,
    /// Experiment mode (virtual time, `viv.deterministic=1`).
    pub deterministic: bool,
}

/// Boots `req.image` with `req.command` and the profiler on; returns the
/// run and its symbolized profile.
pub fn run_profiled(req: &ProfileRequest) -> Result<(RunOutcome, Profile), Error> {
    let mut config = req.vm.config(req.command)?;
    config.profile_hz = Some(req.hz);
    if req.deterministic {
        config.deterministic = true;
        config.fault_plan = Some(crate::inject::fault::FaultPlan { seed: 1, rules: Vec::new() });
    }
    let outcome = crate::run(&config)?;
    let samples = outcome.profile.clone().unwrap_or_default();
    let programs = |name: &str| crate::inject::swifi::code_map::program_elf(&config.archive, name).ok();
    let profile = Profile::symbolize(&samples, &config.kernel, &programs);
    Ok((outcome, profile))
}

/// `viv profile`: writes the stacks to `out` in `format` (if given);
/// returns the top-N table and the guest's exit status.
pub fn profile(req: &ProfileRequest, out: Option<(&Path, Format)>) -> Result<(String, i32), CommandError> {
    if req.hz == 0 || req.hz > 10_000 {
        return Err(CommandError::Usage(format!("profile: --hz {} is not in 1..=10000", req.hz)));
    }
    let (outcome, profile) = run_profiled(req)?;
    if let Some((path, format)) = out {
        let name = format!("viv profile {}", req.command);
        let bytes = match format {
            Format::Folded => profile.folded().into_bytes(),
            Format::Speedscope => serde_json::to_string(&profile.speedscope(&name))?.into_bytes(),
            Format::Pprof => profile.pprof_bytes(&name).map_err(|source| CommandError::File {
                what: "cannot encode a profile for",
                path: path.into(),
                source,
            })?,
        };
        super::output::write(path, &bytes)?;
    }
    let mut text = profile.top(req.top);
    text += &failure_note(&outcome, req.vm.timeout);
    Ok((text, outcome.exit_status()))
}
