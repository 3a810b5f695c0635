//! Judging one `viv threats` run from what it left behind: the exit, the
//! console and the trace. Pure functions, unit-tested without a VM.

use std::collections::HashSet;

use abi::trace::{Kind, Record};
use serde::Serialize;

use super::row::{Expect, Threat};
use crate::vstate::outcome::Exit;

/// How a run ended: the VM's exit and the command's exit status as the
/// kernel recorded it (`abi::fault::STATUS_WORKLOAD`), never a status
/// printed on the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub exit: Exit,
    /// The shell's exit status (attack, then workload: the workload's
    /// last command's); `None`: it never ended.
    pub command_status: Option<u32>,
}

impl RunEnd {
    /// The machine powered off after the shell ended with status 0.
    pub fn succeeded(&self) -> bool {
        matches!(self.exit, Exit::PowerOff(_)) && self.command_status == Some(0)
    }

    /// The failure to report when the run did not succeed.
    pub(crate) fn problem(&self) -> Option<String> {
        (!self.succeeded()).then(|| match self.command_status {
            Some(status) => format!("the run ended with {:?}, the command with status {status}, not 0", self.exit),
            None => format!("the run ended with {:?} before the command did", self.exit),
        })
    }
}

/// A run that ended with `exit`, the command (when the machine powered
/// off) with the power-off status.
#[cfg(test)]
pub(crate) fn end(exit: Exit) -> RunEnd {
    let command_status = match exit {
        Exit::PowerOff(s) => Some(s),
        _ => None,
    };
    RunEnd { exit, command_status }
}

/// Most record numbers a report lists as evidence.
const MAX_EVIDENCE: usize = 8;

/// What one run showed, against what it had to show.
#[derive(Debug, Clone, Serialize)]
pub struct RunJudgement {
    /// Whether the run showed what it had to.
    pub ok: bool,
    /// What happened, in a few words ("defended: ETRAPDENIED", "hung").
    pub observed: String,
    /// Sequence numbers of the trace records that show it.
    pub records: Vec<u64>,
    /// Whether the workload's output was intact (defended runs only).
    pub workload_ok: Option<bool>,
    /// Why the run did not pass, one entry per problem.
    pub problems: Vec<String>,
}

/// A row's two runs.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    /// The row's name.
    pub name: String,
    /// The threat class.
    pub class: String,
    /// Whose privileges the attacker had.
    pub attacker: String,
    /// The defense.
    pub defense: String,
    /// The defense's switch.
    pub weaken: String,
    /// The run with every defense on.
    pub defended: RunJudgement,
    /// The run with the defense switched off.
    pub control: RunJudgement,
}

impl RowResult {
    /// Combines the two runs (a host error becomes a failed run).
    pub fn new(
        threat: &Threat,
        defended: Result<RunJudgement, super::ThreatsError>,
        control: Result<RunJudgement, super::ThreatsError>,
    ) -> RowResult {
        let failed = |e: super::ThreatsError| RunJudgement {
            ok: false,
            observed: "host error".into(),
            records: Vec::new(),
            workload_ok: None,
            problems: vec![e.to_string()],
        };
        RowResult {
            name: threat.name.into(),
            class: threat.class.into(),
            attacker: threat.runner.describe().into(),
            defense: threat.defense.into(),
            weaken: threat.weaken.into(),
            defended: defended.unwrap_or_else(failed),
            control: control.unwrap_or_else(failed),
        }
    }

    /// Whether the defense held and the control showed it was needed.
    pub fn passed(&self) -> bool {
        self.defended.ok && self.control.ok
    }
}

/// The attack program's verdict line for `attack`: ("defended" or
/// "succeeded", detail).
pub fn verdict<'a>(console: &'a str, attack: &str) -> Option<(&'a str, &'a str)> {
    let prefix = format!("attack: {attack}: ");
    console.lines().rev().find_map(|line| {
        let rest = line.trim_end().strip_prefix(prefix.as_str())?;
        let (word, detail) = rest.split_once(": ")?;
        matches!(word, "defended" | "succeeded").then_some((word, detail))
    })
}

/// Endpoints the attacker program `program` ran under (found in the
/// trace's Exec and Spawn records).
pub fn attacker_endpoints(records: &[Record], program: &str) -> HashSet<u32> {
    crate::observe::analysis::endpoints_of(records, program)
}

/// Records where an attacker got `code` (a negated error): as the result
/// of its own call, or as the first word of a reply to it; or where a
/// call aimed at an attacker was refused with it (a reply the attacker
/// did not take).
fn refusals(records: &[Record], attackers: &HashSet<u32>, code: i64) -> Vec<u64> {
    records
        .iter()
        .filter(|r| {
            let e = &r.event;
            let own_call = attackers.contains(&e.src) && i64::from(e.result) == code;
            let reply = r.kind.is_message() && attackers.contains(&e.dst) && e.args[0] as i64 == code;
            let refused_to = r.kind == Kind::Refused && attackers.contains(&e.dst) && i64::from(e.result) == code;
            own_call || reply || refused_to
        })
        .map(|r| r.seq)
        .take(MAX_EVIDENCE)
        .collect()
}

/// The last messages between an attacker and anyone else.
fn exchanges(records: &[Record], attackers: &HashSet<u32>) -> Vec<u64> {
    let mut seqs: Vec<u64> = records
        .iter()
        .filter(|r| r.kind.is_message() && r.kind != Kind::KernelCall)
        .filter(|r| attackers.contains(&r.event.src) != attackers.contains(&r.event.dst))
        .map(|r| r.seq)
        .collect();
    let keep = seqs.len().saturating_sub(MAX_EVIDENCE);
    seqs.drain(..keep);
    seqs
}

/// Whether the workload's output is intact: the original's and the
/// copy's checksums are both `fill`'s pattern's ([`super::WORKLOAD_CRC`];
/// 200,000 bytes each), and the pipe's line arrived.
pub fn workload_intact(console: &str) -> bool {
    let sum_of = |name: &str| {
        console.lines().find_map(|l| l.trim_end().strip_suffix(name).map(str::trim).filter(|s| !s.is_empty()))
    };
    let pattern = Some(super::WORKLOAD_CRC);
    sum_of(" 200000 /threat-a") == pattern
        && sum_of(" 200000 /threat-b") == pattern
        && console.lines().any(|l| l.trim_end() == "workload-through-a-pipe")
}

/// The workload's result in words, for rows that do not require it.
fn workload_word(console: &str) -> &'static str {
    if workload_intact(console) {
        "workload intact"
    } else {
        "workload cut short"
    }
}

/// Records of a complaint to RS and of `driver`'s new incarnation.
fn recovery(records: &[Record], driver: &str) -> (Vec<u64>, Vec<u64>) {
    let complaints = records
        .iter()
        .filter(|r| r.kind.is_message() && r.event.mtype == abi::proto::rs::COMPLAIN)
        .map(|r| r.seq)
        .take(MAX_EVIDENCE)
        .collect();
    let spawns: Vec<u64> =
        records.iter().filter(|r| r.kind == Kind::Spawn && name_of(r) == driver).map(|r| r.seq).collect();
    // The first spawn is the boot's.
    (complaints, spawns.into_iter().skip(1).take(MAX_EVIDENCE).collect())
}

/// Records of the attacker's last `kill` kernel calls that the kernel
/// carried out (the killer's; a churner's last is the driver's), and of
/// the ends of the processes they killed.
fn kills(records: &[Record], attackers: &HashSet<u32>) -> Vec<u64> {
    const LAST: usize = 2;
    let mut calls: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == Kind::KernelCall && attackers.contains(&r.event.src))
        .filter(|r| r.event.mtype == abi::syscall::KernelCall::Kill as u32 && r.event.result == 0)
        .collect();
    calls.drain(..calls.len().saturating_sub(LAST));
    let victims: HashSet<u64> = calls.iter().map(|r| r.event.args[0]).collect();
    let ends = records.iter().filter(|r| r.kind == Kind::Exit && victims.contains(&u64::from(r.event.src)));
    calls.into_iter().chain(ends).map(|r| r.seq).take(MAX_EVIDENCE).collect()
}

/// Records of the carried-out `kill` kernel calls aimed at the first
/// incarnation of `program` (the boot's), whoever made them.
fn first_kill_of(records: &[Record], program: &str) -> Vec<u64> {
    let Some(first) = records.iter().find(|r| r.kind == Kind::Spawn && name_of(r) == program) else {
        return Vec::new();
    };
    let victim = u64::from(first.event.dst);
    records
        .iter()
        .filter(|r| r.kind == Kind::KernelCall && r.event.mtype == abi::syscall::KernelCall::Kill as u32)
        .filter(|r| r.event.result == 0 && r.event.args[0] == victim)
        .map(|r| r.seq)
        .take(MAX_EVIDENCE)
        .collect()
}

/// The program name a Spawn or Exec record carries.
fn name_of(r: &Record) -> String {
    let bytes = r.name_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// Judges one run of `threat` against `expect`; `with_workload` also
/// requires the workload's output.
pub fn judge_run(
    threat: &Threat,
    expect: &Expect,
    end: &RunEnd,
    console: &str,
    records: &[Record],
    ticks: Option<u64>,
    with_workload: bool,
) -> RunJudgement {
    let exit = &end.exit;
    let attackers = attacker_endpoints(records, threat.program());
    let seen = verdict(console, threat.attack());
    let has_line = |line: &str| console.lines().any(|l| l.trim_end() == line);
    let mut problems = Vec::new();
    let observed = match (expect, seen) {
        (_, Some((word, detail))) => format!("{word}: {detail}"),
        (Expect::LineAndRefusal(line, _) | Expect::Line(line), None) if !line.is_empty() && has_line(line) => {
            format!("printed {line:?}")
        }
        (Expect::LineAndRefusal("", error), None) => format!("refused with {}", error.name()),
        (Expect::Missing(line), None) if !has_line(line) => format!("never printed {line:?}"),
        (Expect::Recovered(d), None) if workload_intact(console) => format!("workload intact, {d} restarted"),
        (Expect::RefusedThenRestarted(line, _, d), None) if has_line(line) && !recovery(records, d).1.is_empty() => {
            format!("printed {line:?}, then {d} restarted")
        }
        (Expect::Slower(_), None) => format!("the workload took {} virtual ticks", ticks.unwrap_or(0)),
        (Expect::DeliveredTo(p), None) => format!("a message reached {p}"),
        (Expect::Restarted(d), None) if !recovery(records, d).1.is_empty() => format!("{d} restarted"),
        (Expect::RestartedForSilence(d), None) if !recovery(records, d).1.is_empty() => {
            format!("{d} killed and restarted, no complaint to RS")
        }
        (Expect::ServedDuringStall(at) | Expect::WaitedForStall(at), None) => match at.measure(records) {
            Some(stall) => format!(
                "the disk stalled {} ticks; meanwhile {} served, the longest in {} ticks",
                stall.ticks(),
                stall.served.len(),
                stall.longest_served()
            ),
            None => "no disk stall in the trace".to_string(),
        },
        (Expect::DiedAndPoweredOff { .. }, None) => match exit {
            Exit::PowerOff(s) => format!("powered off with {s}; {}", workload_word(console)),
            other => format!("{other:?}"),
        },
        (Expect::RestartedThen(server, line), None) if has_line(line) => {
            format!("{server} restarted, then printed {line:?}; {}", workload_word(console))
        }
        (_, None) => match exit {
            Exit::Timeout | Exit::InstructionBudget => "hung".to_string(),
            Exit::PowerOff(_) if !workload_intact(console) => format!("workload failed ({exit:?})"),
            Exit::PowerOff(s) if !console.contains("workload-through-a-pipe") => format!("powered off with {s}"),
            other => format!("no verdict ({other:?})"),
        },
    };
    let mut records_shown = Vec::new();
    match *expect {
        Expect::Refused(error) => {
            if seen != Some(("defended", error.name())) {
                problems.push(format!("expected defended: {}", error.name()));
            }
            records_shown = refusals(records, &attackers, error.to_return());
            if records_shown.is_empty() {
                problems.push(format!("no trace record shows the attacker getting {}", error.name()));
            }
        }
        Expect::DefendedBecause(text) => {
            if !matches!(seen, Some(("defended", d)) if d.contains(text)) {
                problems.push(format!("expected defended: ...{text}..."));
            }
            records_shown = exchanges(records, &attackers);
            if records_shown.is_empty() {
                problems.push("no trace record shows the attacker's messages".into());
            }
        }
        Expect::DefendedWith(text, error) => {
            if !matches!(seen, Some(("defended", d)) if d.contains(text)) {
                problems.push(format!("expected defended: ...{text}..."));
            }
            records_shown = refusals(records, &attackers, error.to_return());
            if records_shown.is_empty() {
                problems.push(format!("no trace record shows {} made by or aimed at the attacker", error.name()));
            }
        }
        Expect::Succeeded => {
            if !matches!(seen, Some(("succeeded", _))) {
                problems.push("expected the attack to succeed".into());
            }
            records_shown = exchanges(records, &attackers);
        }
        Expect::LineAndRefusal(line, error) => {
            // An empty line: the refusal in the trace is the whole evidence.
            if !line.is_empty() && !has_line(line) {
                problems.push(format!("expected the line {line:?}"));
            }
            records_shown = refusals(records, &attackers, error.to_return());
            if records_shown.is_empty() {
                problems.push(format!("no trace record shows the attacker getting {}", error.name()));
            }
        }
        Expect::RefusedThenRestarted(line, error, driver) => {
            if !has_line(line) {
                problems.push(format!("expected the line {line:?}"));
            }
            let refused = refusals(records, &attackers, error.to_return());
            if refused.is_empty() {
                problems.push(format!("no trace record shows the attacker getting {}", error.name()));
            }
            let restarts = recovery(records, driver).1;
            if restarts.is_empty() {
                problems.push(format!("expected {driver} to be restarted"));
            }
            records_shown = refused.into_iter().chain(restarts).collect();
        }
        Expect::Line(line) => {
            if !has_line(line) {
                problems.push(format!("expected the line {line:?}"));
            }
            records_shown = exchanges(records, &attackers);
        }
        Expect::Missing(line) => {
            if has_line(line) {
                problems.push(format!("expected no line {line:?}"));
            }
            records_shown = exchanges(records, &attackers);
        }
        Expect::Recovered(driver) => {
            let (complaints, restarts) = recovery(records, driver);
            if complaints.is_empty() {
                problems.push("no trace record shows a complaint to RS".into());
            }
            if restarts.is_empty() {
                problems.push(format!("no trace record shows {driver} restarted"));
            }
            records_shown = complaints.into_iter().chain(restarts).collect();
        }
        Expect::Restarted(driver) => {
            let restarts = recovery(records, driver).1;
            if restarts.is_empty() {
                problems.push(format!("expected {driver} to be restarted"));
            }
            records_shown = kills(records, &attackers).into_iter().chain(restarts).collect();
        }
        Expect::RestartedForSilence(driver) => {
            let (complaints, restarts) = recovery(records, driver);
            if restarts.is_empty() {
                problems.push(format!("expected {driver} to be restarted"));
            }
            if !complaints.is_empty() {
                problems
                    .push(format!("a complaint to RS (records {complaints:?}), not the heartbeats, caught {driver}"));
            }
            let killed = first_kill_of(records, driver);
            if killed.is_empty() {
                problems.push(format!("no trace record shows {driver} killed"));
            }
            records_shown = killed.into_iter().chain(restarts).collect();
        }
        Expect::DeliveredTo(program) => {
            let targets: HashSet<u32> = records
                .iter()
                .filter(|r| matches!(r.kind, Kind::Spawn | Kind::Exec) && name_of(r) == program)
                .map(|r| r.event.dst)
                .collect();
            records_shown = records
                .iter()
                .filter(|r| r.kind.is_message() && attackers.contains(&r.event.src) && targets.contains(&r.event.dst))
                .map(|r| r.seq)
                .take(MAX_EVIDENCE)
                .collect();
            if records_shown.is_empty() {
                problems.push(format!("no trace record shows a message from the attacker delivered to {program}"));
            }
        }
        Expect::Slower(least) => {
            if ticks.is_none_or(|t| t <= least) {
                problems
                    .push(format!("expected the workload to take more than {least} virtual ticks (took {ticks:?})"));
            }
        }
        Expect::WorkloadBroken => {
            if workload_intact(console) && end.succeeded() {
                problems.push("expected the workload to fail or hang".into());
            }
        }
        Expect::PoweredOff(status) => {
            if *exit != Exit::PowerOff(status) || seen.is_some() {
                problems.push(format!("expected the attacker to power the machine off with {status}"));
            }
        }
        Expect::Hung => {
            if *exit != Exit::Timeout || seen.is_some() {
                problems.push("expected the attacker to hang".into());
            }
            records_shown = exchanges(records, &attackers);
        }
        Expect::DiedAndPoweredOff { status, .. } => {
            if *exit != Exit::PowerOff(status) {
                problems.push(format!("expected a power-off with {status}"));
            }
            records_shown = kills(records, &attackers);
            if records_shown.is_empty() {
                problems.push("no trace record shows the server killed".into());
            }
        }
        Expect::RestartedThen(server, line) => {
            if !has_line(line) {
                problems.push(format!("expected the line {line:?}"));
            }
            let restarts = recovery(records, server).1;
            if restarts.is_empty() {
                problems.push(format!("expected {server} to be restarted"));
            }
            records_shown = kills(records, &attackers).into_iter().chain(restarts).collect();
        }
        Expect::ServedDuringStall(at) => match at.measure(records) {
            Some(stall) => problems.extend(at.served_problems(&stall)),
            None => problems.push("no disk stall in the trace".into()),
        },
        Expect::WaitedForStall(at) => {
            if !at.measure(records).is_some_and(|stall| at.waited(&stall)) {
                problems.push("expected the server's other work to wait for the stalled disk".into());
            }
        }
        Expect::NoControl(_) => problems.push("a row without a control has nothing to run".into()),
    }
    let needs_attacker = matches!(
        expect,
        Expect::Refused(_)
            | Expect::DefendedBecause(_)
            | Expect::DefendedWith(..)
            | Expect::LineAndRefusal(..)
            | Expect::RefusedThenRestarted(..)
            | Expect::DeliveredTo(_)
    );
    if needs_attacker && attackers.is_empty() {
        problems.push("no attacker process in the trace".into());
    }
    let workload_ok = with_workload.then(|| workload_intact(console));
    if workload_ok == Some(false) {
        problems.push("the workload's output is not intact".into());
    }
    if let Some(problem) = end.problem().filter(|_| with_workload) {
        problems.push(problem);
    }
    RunJudgement { ok: problems.is_empty(), observed, records: records_shown, workload_ok, problems }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::trace::Event;
    use abi::Error;

    fn record(seq: u64, kind: Kind, src: u32, dst: u32, result: i32, arg0: u64) -> Record {
        Record {
            seq,
            tsc: 0,
            ticks: 0,
            kind,
            event: Event { kind: kind as u8, primitive: 0, src, dst, mtype: 0, result, cause: 0, args: [arg0, 0] },
        }
    }

    fn exec_of(seq: u64, ep: u32, name: &str) -> Record {
        let mut bytes = [0u8; 16];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        let mut r = record(seq, Kind::Exec, ep, ep, 0, u64::from_le_bytes(bytes[..8].try_into().unwrap()));
        r.event.args[1] = u64::from_le_bytes(bytes[8..].try_into().unwrap());
        r
    }

    const WORKLOAD_OUT: &str = "9e0a1c13 200000 /threat-a\n9e0a1c13 200000 /threat-b\nworkload-through-a-pipe\n";

    fn threat() -> Threat {
        super::super::THREATS[0]
    }

    #[test]
    fn verdict_lines_are_found_by_attack_name() {
        let console = "x\nattack: send: defended: ETRAPDENIED\n";
        assert_eq!(verdict(console, "send"), Some(("defended", "ETRAPDENIED")));
        assert_eq!(verdict(console, "spoof"), None);
        assert_eq!(verdict("attack: send: maybe: x", "send"), None);
    }

    #[test]
    fn a_refusal_needs_the_line_the_record_and_the_workload() {
        let code = Error::TrapDenied.to_return() as i32;
        let records = [exec_of(1, 42, "attack"), record(2, Kind::Refused, 42, 7, code, 0)];
        let console = format!("attack: send: defended: ETRAPDENIED\n{WORKLOAD_OUT}");
        let expect = Expect::Refused(Error::TrapDenied);
        let ok = judge_run(&threat(), &expect, &end(Exit::PowerOff(0)), &console, &records, None, true);
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.records, vec![2]);
        // No record of the refusal: fails.
        let bare = judge_run(&threat(), &expect, &end(Exit::PowerOff(0)), &console, &records[..1], None, true);
        assert!(!bare.ok);
        // Another error: fails.
        let other = console.replace("ETRAPDENIED", "ECALLDENIED");
        assert!(!judge_run(&threat(), &expect, &end(Exit::PowerOff(0)), &other, &records, None, true).ok);
        // A workload whose shell failed: fails, whatever the console says
        // and the power-off status.
        let failed = RunEnd { exit: Exit::PowerOff(0), command_status: Some(1) };
        let v = judge_run(&threat(), &expect, &failed, &console, &records, None, true);
        assert_eq!(v.problems, ["the run ended with PowerOff(0), the command with status 1, not 0"]);
        // A broken workload: fails.
        let broken = console.replace("9e0a1c13 200000 /threat-b", "00000000 200000 /threat-b");
        assert!(!judge_run(&threat(), &expect, &end(Exit::PowerOff(0)), &broken, &records, None, true).ok);
        // Two files alike but not the pattern (both damaged the same way).
        let both = console.replace("9e0a1c13", "00000000");
        assert!(!judge_run(&threat(), &expect, &end(Exit::PowerOff(0)), &both, &records, None, true).ok);
    }

    #[test]
    fn a_server_reply_carrying_the_error_is_evidence() {
        let code = Error::Perm.to_return();
        let records = [exec_of(1, 42, "attack_drv"), record(5, Kind::Send, 9, 42, 0, code as u64)];
        assert_eq!(refusals(&records, &attacker_endpoints(&records, "attack_drv"), code), vec![5]);
    }

    #[test]
    fn a_reply_the_attacker_did_not_take_is_evidence() {
        let threat = Threat { command: "attack_drv reply-not-taken", ..threat() };
        let code = Error::NotReady.to_return();
        let records = [exec_of(1, 42, "attack_drv"), record(6, Kind::Refused, 9, 42, code as i32, 0)];
        let console = format!("attack: reply-not-taken: defended: PM went on\n{WORKLOAD_OUT}");
        let expect = Expect::DefendedWith("went on", Error::NotReady);
        let ok = judge_run(&threat, &expect, &end(Exit::PowerOff(0)), &console, &records, None, true);
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.records, vec![6]);
        // A refusal aimed at someone else is no evidence.
        let other = [records[0], record(6, Kind::Refused, 9, 43, code as i32, 0)];
        assert!(!judge_run(&threat, &expect, &end(Exit::PowerOff(0)), &console, &other, None, true).ok);
        // Nor is a verdict without the text.
        let vague = console.replace("went on", "did something");
        assert!(!judge_run(&threat, &expect, &end(Exit::PowerOff(0)), &vague, &records, None, true).ok);
    }

    #[test]
    fn controls_must_show_the_attack_getting_through() {
        let records = [exec_of(1, 42, "attack"), record(3, Kind::Send, 42, 9, 0, 0)];
        let ok = judge_run(
            &threat(),
            &Expect::Succeeded,
            &end(Exit::PowerOff(1)),
            "attack: send: succeeded: x\n",
            &records,
            None,
            false,
        );
        assert!(ok.ok, "{ok:?}");
        let held = judge_run(
            &threat(),
            &Expect::Succeeded,
            &end(Exit::PowerOff(0)),
            "attack: send: defended: E\n",
            &records,
            None,
            false,
        );
        assert!(!held.ok);
        let slow = Expect::Slower(100);
        assert!(judge_run(&threat(), &slow, &end(Exit::PowerOff(0)), "", &records, Some(101), false).ok);
        assert!(!judge_run(&threat(), &slow, &end(Exit::PowerOff(0)), "", &records, Some(100), false).ok);
        assert!(
            judge_run(&threat(), &Expect::DeliveredTo("x"), &end(Exit::Timeout), "", &records, None, false)
                .problems
                .len()
                == 1
        );
        assert!(judge_run(&threat(), &Expect::Hung, &end(Exit::Timeout), "", &records, None, false).ok);
        assert!(!judge_run(&threat(), &Expect::Hung, &end(Exit::PowerOff(0)), "", &records, None, false).ok);
        assert!(judge_run(&threat(), &Expect::PoweredOff(77), &end(Exit::PowerOff(77)), "", &records, None, false).ok);
        assert!(!judge_run(&threat(), &Expect::PoweredOff(77), &end(Exit::PowerOff(0)), "", &records, None, false).ok);
    }

    /// `killer` (endpoint 50) kills endpoint 9, which ends; `name` is
    /// spawned at boot (endpoint 9) and, when `restarted`, again (19).
    fn death_trace(name: &str, restarted: bool) -> Vec<Record> {
        let spawn = |seq, ep| {
            let mut r = exec_of(seq, ep, name);
            r.kind = Kind::Spawn;
            r.event.kind = Kind::Spawn as u8;
            r
        };
        let mut kill = record(3, Kind::KernelCall, 50, 0, 0, 9);
        kill.event.mtype = abi::syscall::KernelCall::Kill as u32;
        let mut trace = vec![spawn(1, 9), exec_of(2, 50, "killer"), kill, record(4, Kind::Exit, 9, 9, 109, 0)];
        if restarted {
            trace.push(spawn(5, 19));
        }
        trace
    }

    #[test]
    fn a_heartbeat_restart_needs_the_kill_the_new_driver_and_no_complaint() {
        let hung = super::super::THREATS.iter().find(|t| t.name == "hung-driver/driver").unwrap();
        let expect = hung.defended;
        let trace = death_trace("blk", true);
        let ok = judge_run(hung, &expect, &end(Exit::PowerOff(0)), WORKLOAD_OUT, &trace, None, true);
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.records, vec![3, 5]);
        // Never restarted: fails.
        let gone = death_trace("blk", false);
        assert!(!judge_run(hung, &expect, &end(Exit::PowerOff(0)), WORKLOAD_OUT, &gone, None, true).ok);
        // A complaint caught it, not the heartbeats: fails.
        let mut complained = trace.clone();
        let mut complaint = record(6, Kind::Send, 30, 1, 0, 0);
        complaint.event.mtype = abi::proto::rs::COMPLAIN;
        complained.push(complaint);
        assert!(!judge_run(hung, &expect, &end(Exit::PowerOff(0)), WORKLOAD_OUT, &complained, None, true).ok);
    }

    #[test]
    fn a_bomb_then_a_driver_failure_needs_the_refusal_the_line_and_the_restart() {
        let bomb = super::super::THREATS.iter().find(|t| t.name == "fork-bomb/user").unwrap();
        let Expect::RefusedThenRestarted(line, error, _) = bomb.defended else { panic!("{:?}", bomb.defended) };
        let refusal = record(7, Kind::Send, 3, 42, 0, error.to_return() as u64);
        let trace = |restarted| {
            let mut t = death_trace("blk", restarted);
            t.extend([exec_of(6, 42, "attack_auth"), refusal]);
            t
        };
        let console = format!("{line}\n{WORKLOAD_OUT}");
        let judge = |console: &str, trace: &[Record]| {
            judge_run(bomb, &bomb.defended, &end(Exit::PowerOff(0)), console, trace, None, true)
        };
        let ok = judge(&console, &trace(true));
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.records, vec![7, 5]);
        // The driver never came back: fails.
        assert!(!judge(&console, &trace(false)).ok);
        // No refusal in the trace, or no line: fails.
        assert!(!judge(&console, &trace(true)[..5]).ok);
        assert!(!judge(WORKLOAD_OUT, &trace(true)).ok);
    }

    #[test]
    fn a_death_row_needs_the_kill_in_the_trace_and_the_documented_outcome() {
        let died = super::super::THREATS.iter().find(|t| t.name == "death/pm").unwrap();
        let expect = died.defended;
        assert!(!expect.needs_workload());
        let trace = death_trace("pm", false);
        let ok = judge_run(died, &expect, &end(Exit::PowerOff(116)), "", &trace, None, false);
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.records, vec![3, 4]);
        assert!(!judge_run(died, &expect, &end(Exit::PowerOff(1)), "", &trace, None, false).ok);
        assert!(!judge_run(died, &expect, &end(Exit::PowerOff(116)), "", &trace[..2], None, false).ok);

        let ext2fs = super::super::THREATS.iter().find(|t| t.name == "death/ext2fs").unwrap();
        let console = "cp: /threat-b: invalid argument\next2fs-serves-again\n";
        let judge_ext2fs = |console: &str, came_back: bool| {
            let trace = death_trace("ext2fs", came_back);
            judge_run(ext2fs, &ext2fs.defended, &end(Exit::PowerOff(1)), console, &trace, None, false)
        };
        let back = judge_ext2fs(console, true);
        assert!(back.ok, "{back:?}");
        assert_eq!(back.records, vec![3, 4, 5]);
        let down = judge_ext2fs(console, false);
        assert!(!down.ok, "{down:?}");
        // Back in the trace, but the console never shows it serving again.
        assert!(!judge_ext2fs("", true).ok);
    }
}
