//! Judging one experiment: what happened (the outcome class) and which
//! expectations failed.
//!
//! Kept apart from running so that it is a pure function of what the run
//! left behind (ending, console, log, fault counters, the kernel's
//! records), unit-tested without KVM, and applied identically by `viv
//! campaign`, `replay` and the tests. Statuses and restarts come only from
//! what the kernel recorded ([`super::evidence`]); console text is judged
//! only against the expected output, never for a status.
//! The class says what the fault did to the system; the expectations say
//! whether that is acceptable. They differ on purpose: a campaign may
//! accept a failed workload but never a kernel panic, or the reverse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::draw::Plan;
use super::file::Campaign;

/// The outcome classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The workload and check succeeded and no service was restarted.
    NoEffect,
    /// The workload and check succeeded; RS restarted a service.
    Recovered,
    /// The workload and check succeeded, but took more than the campaign's
    /// `degraded_factor` times the fault-free baseline's virtual time.
    Degraded,
    /// The guest powered off, but the workload's status, output or the
    /// data check was wrong.
    WorkloadFailed,
    /// The guest powered off, and `e2fsck -fn` found its disk's file
    /// system damaged (only with `expect.fsck`).
    Corrupted,
    /// The workload never finished: a budget ended the run (virtual
    /// time, kernel instructions, or at last the wall-clock timeout).
    Hung,
    /// The kernel panicked or the guest triple-faulted.
    KernelPanic,
    /// The host could not run the experiment.
    VmmError,
}

impl Outcome {
    /// Every class, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::NoEffect,
        Outcome::Recovered,
        Outcome::Degraded,
        Outcome::WorkloadFailed,
        Outcome::Corrupted,
        Outcome::Hung,
        Outcome::KernelPanic,
        Outcome::VmmError,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::NoEffect => "no_effect",
            Outcome::Recovered => "recovered",
            Outcome::Degraded => "degraded",
            Outcome::WorkloadFailed => "workload_failed",
            Outcome::Corrupted => "corrupted",
            Outcome::Hung => "hung",
            Outcome::KernelPanic => "kernel_panic",
            Outcome::VmmError => "vmm_error",
        }
    }

    /// A phrase for people.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::NoEffect => "no effect",
            Outcome::Recovered => "recovered by restart",
            Outcome::Degraded => "succeeded, but slowly (degraded)",
            Outcome::WorkloadFailed => "workload failed",
            Outcome::Corrupted => "file system corrupted",
            Outcome::Hung => "guest hung (a budget ran out)",
            Outcome::KernelPanic => "kernel panic",
            Outcome::VmmError => "VMM error",
        }
    }
}

/// How the guest ended, reduced to what judging needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    PowerOff(i32),
    KernelPanic,
    TripleFault,
    /// A budget ended the run: the workload never finished.
    Hung(Budget),
    VmmError(String),
}

/// The budgets that end a hung run, cheapest first (docs/campaigns.md,
/// "Time is virtual").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The kernel powered off past the workload's virtual-time budget
    /// (`Campaign::tick_budget`): at the same tick in every run.
    VirtualTime,
    /// The VMM stopped the vCPU past its kernel-instruction budget
    /// (`Campaign::instruction_budget`).
    KernelInstructions,
    /// The last resort: still running at the wall-clock `timeout`.
    WallClock,
}

impl Ending {
    /// The ending of a run whose workload ran `ticks` virtual ticks, with
    /// a virtual-time budget of `tick_budget` (0: none). A `Timeout` past
    /// that budget is the kernel's (only the kernel writes
    /// `STATUS_TIMEOUT`, and it publishes the ticks before it powers off).
    pub fn of(exit: &crate::Exit, ticks: Option<u64>, tick_budget: u64) -> Ending {
        match exit {
            crate::Exit::PowerOff(s) => Ending::PowerOff(*s as i32),
            crate::Exit::KernelPanic => Ending::KernelPanic,
            crate::Exit::TripleFault => Ending::TripleFault,
            crate::Exit::Timeout if tick_budget > 0 && ticks.is_some_and(|t| t > tick_budget) => {
                Ending::Hung(Budget::VirtualTime)
            }
            crate::Exit::Timeout => Ending::Hung(Budget::WallClock),
            crate::Exit::InstructionBudget => Ending::Hung(Budget::KernelInstructions),
            crate::Exit::VmError(why) => Ending::VmmError(why.clone()),
            crate::Exit::GuestLimit(limit) => Ending::VmmError(format!("guest error: {}", limit.describe())),
        }
    }

    /// Short text for reports.
    pub fn describe(&self) -> String {
        match self {
            Ending::PowerOff(s) => format!("power-off {s}"),
            Ending::KernelPanic => "kernel panic".into(),
            Ending::TripleFault => "triple fault".into(),
            Ending::Hung(Budget::VirtualTime) => "hung: virtual-time budget".into(),
            Ending::Hung(Budget::KernelInstructions) => "hung: kernel-instruction budget".into(),
            Ending::Hung(Budget::WallClock) => "timeout".into(),
            Ending::VmmError(why) => format!("VMM error: {why}"),
        }
    }
}

/// What an experiment left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub ending: Ending,
    /// Console output (program output only; `\r\n` already `\n`).
    pub console: String,
    /// Where in `console` the check's output begins (init's
    /// `MARK_CHECK_START`); `None`: the check never started.
    pub check_at: Option<usize>,
    /// The workload's exit status, as the kernel recorded it; `None`: its
    /// shell never ended (the system powered off under it).
    pub workload_status: Option<i32>,
    /// The check's exit status, as the kernel recorded it.
    pub check_status: Option<i32>,
    /// The guest's log (kernel and servers).
    pub log: String,
    /// Injections the kernel made.
    pub faults_injected: u64,
    /// Code mutations the host made at Stops (SWIFI templates).
    pub swifi: Vec<crate::inject::swifi::Mutation>,
    /// Virtual ticks from the workload's start to the end of the run.
    pub ticks: Option<u64>,
    /// Restarts per service, as the kernel counted them
    /// ([`super::evidence`]; never from log text).
    pub restarts: BTreeMap<String, u32>,
    /// What `e2fsck -fn` said of the disk after the run (`None`: not
    /// asked, not run, or e2fsck missing).
    pub fsck_clean: Option<bool>,
}

impl Observation {
    /// A run that left nothing but its ending (a VMM error).
    pub fn nothing(ending: Ending) -> Observation {
        Observation {
            ending,
            console: String::new(),
            check_at: None,
            workload_status: None,
            check_status: None,
            log: String::new(),
            faults_injected: 0,
            swifi: Vec::new(),
            ticks: None,
            restarts: BTreeMap::new(),
            fsck_clean: None,
        }
    }

    /// The console split at the check's start: (workload output, check
    /// output; empty when the check never started).
    pub fn outputs(&self) -> (&str, &str) {
        match self.check_at.and_then(|at| self.console.get(at..).map(|check| (&self.console[..at], check))) {
            Some(split) => split,
            None => (&self.console, ""),
        }
    }
}

/// The verdict on one experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// How the guest ended.
    pub exit: String,
    /// The workload's status (as the kernel recorded it; the power-off
    /// status when its shell never ended).
    pub workload_status: Option<i32>,
    /// Restarts RS reported, per service.
    pub restarts: BTreeMap<String, u32>,
    /// The expectations that failed (empty: the experiment passed).
    pub failures: Vec<String>,
    /// Virtual ticks from the workload's start to the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticks: Option<u64>,
}

fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let t = text.escape_debug().to_string();
    if t.chars().count() <= MAX {
        format!("\"{t}\"")
    } else {
        format!("\"{}…\"", t.chars().take(MAX).collect::<String>())
    }
}

/// Classifies the observation and checks the campaign's expectations.
pub fn judge(campaign: &Campaign, plan: &Plan, obs: &Observation) -> Verdict {
    let expect = &campaign.expect;
    let restarts = obs.restarts.clone();
    let mut failures = Vec::new();
    let (outcome, workload_status) = match &obs.ending {
        Ending::VmmError(why) => {
            failures.push(format!("VMM error: {why}"));
            (Outcome::VmmError, None)
        }
        Ending::KernelPanic | Ending::TripleFault => {
            if expect.no_panic {
                failures.push(format!("the guest kernel died ({})", obs.ending.describe()));
            }
            (Outcome::KernelPanic, None)
        }
        Ending::Hung(budget) => {
            if expect.no_hang {
                failures.push(match budget {
                    Budget::VirtualTime => format!(
                        "the guest hung: the workload ran past its budget of {} virtual ticks",
                        campaign.tick_budget()
                    ),
                    Budget::KernelInstructions => format!(
                        "the guest hung: it spent its budget of {} kernel instructions",
                        campaign.kernel_instruction_budget()
                    ),
                    Budget::WallClock => {
                        format!("the guest hung: still running after {} s (wall-clock timeout)", campaign.timeout_secs)
                    }
                });
            }
            (Outcome::Hung, None)
        }
        Ending::PowerOff(poweroff) => {
            let (output, check_output) = obs.outputs();
            // Only when the system powered off under the workload does
            // the power-off status (written by init, PM or the kernel,
            // never by a workload program) stand for it.
            let status = obs.workload_status.unwrap_or(*poweroff);
            let mut wrong = Vec::new();
            if let Some(want) = expect.exit_status.filter(|&want| want != status) {
                wrong.push(format!("workload exited with {status}, expected {want}"));
            }
            if expect.check.is_some() {
                match obs.check_status {
                    Some(0) => {}
                    Some(s) => wrong.push(format!("check exited with {s}")),
                    None => wrong.push("the check did not finish".into()),
                }
            }
            // The class says what the fault did even where the campaign
            // accepts any status: a shell command that fails exits non-zero.
            let status_failed = expect.exit_status.is_none() && status != 0;
            if let Some(want) = &expect.output {
                if output != want {
                    wrong.push(format!("workload output {} is not {}", shorten(output), shorten(want)));
                }
            }
            if let Some(want) = &expect.check_output {
                if check_output != want {
                    wrong.push(format!("check output {} is not {}", shorten(check_output), shorten(want)));
                }
            }
            let slow = match (obs.ticks, campaign.baseline_ticks) {
                (Some(t), Some(base)) => {
                    t as f64 > base.max(1) as f64 * campaign.degraded_factor
                        && t.saturating_sub(base) > super::file::DEGRADED_SLACK_TICKS
                }
                _ => false,
            };
            let outcome = if !wrong.is_empty() || status_failed {
                Outcome::WorkloadFailed
            } else if slow {
                Outcome::Degraded
            } else if restarts.values().any(|&n| n > 0) {
                Outcome::Recovered
            } else {
                Outcome::NoEffect
            };
            failures.extend(wrong);
            (outcome, Some(status))
        }
    };
    // Judged apart from the workload: a copy can succeed on a disk the
    // fault damaged elsewhere, and a damaged disk outlives the run.
    let outcome = match (expect.fsck, &obs.ending, obs.fsck_clean) {
        (true, Ending::PowerOff(_), Some(false)) => {
            failures.push("e2fsck -fn found the file system damaged".into());
            Outcome::Corrupted
        }
        (true, Ending::PowerOff(_), None) => {
            failures.push("the disk could not be checked (is e2fsprogs installed?)".into());
            outcome
        }
        _ => outcome,
    };
    if obs.faults_injected > 0 && !matches!(outcome, Outcome::VmmError) {
        for (service, &least) in &expect.min_restarts {
            let name = if service == "target" { plan.target().unwrap_or("") } else { service.as_str() };
            let got = restarts.get(name).copied().unwrap_or(0);
            if got < least {
                failures.push(format!("{name} was restarted {got} times, expected at least {least}"));
            }
        }
    }
    Verdict { outcome, exit: obs.ending.describe(), workload_status, restarts, failures, ticks: obs.ticks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::draw::plan;
    use crate::campaign::file::tests_support::campaign_with;

    /// An observation of a workload that printed `console` and, as the
    /// kernel recorded it, exited with `status`; `restarted` services
    /// restarted once each.
    fn obs(ending: Ending, console: &str, status: Option<i32>, restarted: &[&str], injected: u64) -> Observation {
        Observation {
            console: console.into(),
            workload_status: status,
            faults_injected: injected,
            restarts: restarted.iter().map(|s| (s.to_string(), 1)).collect(),
            ..Observation::nothing(ending)
        }
    }

    /// The same with a check that printed `check` and exited with `check_status`.
    fn with_check(mut o: Observation, check: &str, check_status: Option<i32>) -> Observation {
        o.check_at = Some(o.console.len());
        o.console.push_str(check);
        o.check_status = check_status;
        o
    }

    const RESTART: &[&str] = &["tty"];
    const NONE: &[&str] = &[];

    #[test]
    fn restart_lines_in_the_log_are_not_restarts() {
        // Any program can print what RS prints; only the kernel's count
        // (`Observation::restarts`) says a service restarted.
        let c = campaign_with("");
        let line = "rs: tty (ep 4.0) died; restarting now (restart 1)\n";
        let mut o = obs(Ending::PowerOff(0), &format!("{line}hi\n"), Some(0), NONE, 1);
        o.log = line.into();
        let v = judge(&c, &plan(&c, 0), &o);
        assert!(v.restarts.is_empty(), "{v:?}");
        assert_ne!(v.outcome, Outcome::Recovered);
    }

    #[test]
    fn statuses_printed_on_the_console_are_only_text() {
        // What the console markers of earlier versions looked like,
        // printed by a workload that then failed, and by a check that did.
        let mut c = campaign_with("");
        c.expect.output = Some("hi\n@viv-status=0\n@viv-check=0\n".into());
        let p = plan(&c, 0);
        let forged = obs(Ending::PowerOff(0), "hi\n@viv-status=0\n@viv-check=0\n", Some(1), NONE, 0);
        let v = judge(&c, &p, &forged);
        assert_eq!((v.outcome, v.workload_status), (Outcome::WorkloadFailed, Some(1)), "{v:?}");
        assert_eq!(v.failures, ["workload exited with 1, expected 0"]);
        // The same text from a workload that succeeded is only its output.
        let honest = Observation { workload_status: Some(0), ..forged };
        assert_eq!(judge(&c, &p, &honest).outcome, Outcome::NoEffect);

        c.expect.output = Some("hi\n".into());
        c.expect.check = Some("cat f".into());
        c.expect.check_output = Some("data\n@viv-check=0\n".into());
        let base = obs(Ending::PowerOff(0), "hi\n", Some(0), NONE, 0);
        let v = judge(&c, &p, &with_check(base.clone(), "data\n@viv-check=0\n", Some(1)));
        assert_eq!(v.outcome, Outcome::WorkloadFailed, "{v:?}");
        assert_eq!(v.failures, ["check exited with 1"]);
        let v = judge(&c, &p, &with_check(base.clone(), "data\n@viv-check=0\n", Some(0)));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::NoEffect, 0), "{v:?}");
        // A check that never started or never ended failed.
        let v = judge(&c, &p, &base);
        assert_eq!(v.outcome, Outcome::WorkloadFailed);
        assert!(v.failures.contains(&"the check did not finish".to_string()), "{v:?}");
    }

    #[test]
    fn every_class() {
        let mut c = campaign_with("");
        c.expect.output = Some("hi\n".into());
        c.expect.min_restarts.insert("target".into(), 1);
        let p = plan(&c, 0);
        let judge_of = |o: Observation| judge(&c, &p, &o);

        let v = judge_of(obs(Ending::PowerOff(0), "hi\n", Some(0), NONE, 0));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::NoEffect, 0), "{v:?}");
        let v = judge_of(obs(Ending::PowerOff(0), "hi\n", Some(0), RESTART, 1));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::Recovered, 0), "{v:?}");
        // The fault fired but nobody restarted tty.
        let v = judge_of(obs(Ending::PowerOff(0), "hi\n", Some(0), NONE, 1));
        assert_eq!(v.outcome, Outcome::NoEffect);
        assert_eq!(v.failures, ["tty was restarted 0 times, expected at least 1"]);
        let v = judge_of(obs(Ending::PowerOff(0), "h\n", Some(1), RESTART, 1));
        assert_eq!(v.outcome, Outcome::WorkloadFailed);
        assert_eq!(v.workload_status, Some(1));
        assert_eq!(v.failures.len(), 2, "{v:?}");
        assert!(v.failures[0].contains("exited with 1, expected 0"));
        // The kernel's record wins over the power-off status...
        let v = judge_of(obs(Ending::PowerOff(0), "hi\n", Some(3), NONE, 0));
        assert_eq!((v.outcome, v.workload_status), (Outcome::WorkloadFailed, Some(3)));
        // ...which stands for the workload only when it never ended.
        let v = judge_of(obs(Ending::PowerOff(116), "", None, NONE, 0));
        assert_eq!((v.outcome, v.workload_status), (Outcome::WorkloadFailed, Some(116)));
        let v = judge_of(obs(Ending::Hung(Budget::WallClock), "", None, NONE, 1));
        assert_eq!(v.outcome, Outcome::Hung);
        assert!(v.failures[0].contains("hung") && v.failures[0].contains("wall-clock"), "{v:?}");
        // Each budget names itself, in the failure and in the ending.
        let v = judge_of(obs(Ending::Hung(Budget::VirtualTime), "", None, NONE, 1));
        assert!(v.failures[0].contains("virtual ticks"), "{v:?}");
        assert_eq!((v.outcome, v.exit.as_str()), (Outcome::Hung, "hung: virtual-time budget"));
        let v = judge_of(obs(Ending::Hung(Budget::KernelInstructions), "", None, NONE, 1));
        assert!(v.failures[0].contains("kernel instructions"), "{v:?}");
        assert_eq!((v.outcome, v.exit.as_str()), (Outcome::Hung, "hung: kernel-instruction budget"));
        // Which budget it was comes from the ending and the kernel's ticks.
        let timeout = crate::Exit::Timeout;
        assert_eq!(Ending::of(&timeout, Some(1001), 1000), Ending::Hung(Budget::VirtualTime));
        assert_eq!(Ending::of(&timeout, Some(1000), 1000), Ending::Hung(Budget::WallClock));
        assert_eq!(Ending::of(&timeout, Some(5000), 0), Ending::Hung(Budget::WallClock));
        assert_eq!(Ending::of(&crate::Exit::InstructionBudget, None, 0), Ending::Hung(Budget::KernelInstructions));
        for ending in [Ending::KernelPanic, Ending::TripleFault] {
            let v = judge_of(obs(ending, "", None, NONE, 0));
            assert_eq!((v.outcome, v.failures.len()), (Outcome::KernelPanic, 1));
        }
        let v = judge_of(Observation::nothing(Ending::VmmError("KVM_RUN".into())));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::VmmError, 1));
        assert_eq!(v.exit, "VMM error: KVM_RUN");
    }

    #[test]
    fn a_slow_success_is_degraded() {
        let mut c = campaign_with("");
        c.baseline_ticks = Some(300);
        let p = plan(&c, 0);
        let timed = |ticks| Observation { ticks: Some(ticks), ..obs(Ending::PowerOff(0), "", Some(0), &[], 1) };
        assert_eq!(judge(&c, &p, &timed(600)).outcome, Outcome::NoEffect);
        let v = judge(&c, &p, &timed(601));
        assert_eq!((v.outcome, v.ticks), (Outcome::Degraded, Some(601)));
        // Within the recovery bound of a small workload: not degraded.
        c.baseline_ticks = Some(30);
        let quick = crate::campaign::file::DEGRADED_SLACK_TICKS + 30;
        assert_eq!(judge(&c, &p, &timed(quick)).outcome, Outcome::NoEffect);
        assert_eq!(judge(&c, &p, &timed(quick + 1)).outcome, Outcome::Degraded);
        c.baseline_ticks = Some(300);
        // A failed workload stays failed however long it took.
        let failed = Observation { ticks: Some(5000), ..obs(Ending::PowerOff(0), "", Some(1), &[], 1) };
        assert_eq!(judge(&c, &p, &failed).outcome, Outcome::WorkloadFailed);
        // Without a baseline nothing is degraded.
        c.baseline_ticks = None;
        assert_eq!(judge(&c, &p, &timed(5000)).outcome, Outcome::NoEffect);
        // The budget: ten times the baseline, at least 10 s; or as given.
        c.baseline_ticks = Some(300);
        assert_eq!(c.tick_budget(), 3000);
        c.baseline_ticks = Some(3);
        assert_eq!(c.tick_budget(), crate::campaign::file::MIN_TICK_BUDGET);
        c.virtual_timeout_secs = Some(2.5);
        assert_eq!(c.tick_budget(), 250);
    }

    #[test]
    fn a_damaged_disk_is_corrupted_when_fsck_is_asked() {
        let mut c = campaign_with("");
        let p = plan(&c, 0);
        let checked = |clean| Observation { fsck_clean: clean, ..obs(Ending::PowerOff(0), "", Some(0), RESTART, 1) };
        // Not asked: the disk is not judged.
        assert_eq!(judge(&c, &p, &checked(Some(false))).outcome, Outcome::Recovered);
        c.expect.fsck = true;
        let v = judge(&c, &p, &checked(Some(false)));
        assert_eq!(v.outcome, Outcome::Corrupted);
        assert_eq!(v.failures, ["e2fsck -fn found the file system damaged"]);
        let v = judge(&c, &p, &checked(Some(true)));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::Recovered, 0));
        // A disk that could not be checked fails the expectation, not the class.
        let v = judge(&c, &p, &checked(None));
        assert_eq!((v.outcome, v.failures.len()), (Outcome::Recovered, 1));
        // A hung guest's disk was never synced: it stays hung.
        let hung = Observation { fsck_clean: Some(false), ..obs(Ending::Hung(Budget::WallClock), "", None, NONE, 1) };
        assert_eq!(judge(&c, &p, &hung).outcome, Outcome::Hung);
    }

    #[test]
    fn expectations_can_be_relaxed() {
        let mut c = campaign_with("");
        c.expect.no_hang = false;
        c.expect.no_panic = false;
        c.expect.exit_status = None;
        c.expect.check = Some("cat f".into());
        c.expect.check_output = Some("data\n".into());
        let p = plan(&c, 1);
        assert!(judge(&c, &p, &obs(Ending::Hung(Budget::WallClock), "", None, NONE, 1)).failures.is_empty());
        assert!(judge(&c, &p, &obs(Ending::KernelPanic, "", None, NONE, 1)).failures.is_empty());
        // Any status is accepted, but a non-zero one is still a failed workload.
        let ran =
            |status, check: &str| with_check(obs(Ending::PowerOff(0), "x", Some(status), NONE, 0), check, Some(0));
        let v = judge(&c, &p, &ran(9, "data\n"));
        assert_eq!((v.outcome, v.workload_status), (Outcome::WorkloadFailed, Some(9)));
        assert!(v.failures.is_empty(), "{v:?}");
        let v = judge(&c, &p, &ran(0, "data\n"));
        assert_eq!((v.outcome, v.workload_status), (Outcome::NoEffect, Some(0)));
        let v = judge(&c, &p, &ran(0, "dat\n"));
        assert_eq!(v.outcome, Outcome::WorkloadFailed);
        assert!(v.failures[0].starts_with("check output \"dat\\n\""), "{v:?}");
    }
}
