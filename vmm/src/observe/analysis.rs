//! What the records mean: endpoint names, system calls (causes) and the
//! per-call message counts of `viv count`.
//!
//! A cause id is opened by a user process's request (`abi::trace`); the
//! first message carrying it is that request, whose type names the system
//! call (`abi::proto`'s request types, or the kernel call). Every message
//! carrying the id belongs to that call. The mark `MARK_COMMAND_START`
//! (init's bench mark just before it execs the shell) splits the trace
//! into boot (to the shell prompt) and the command.

use std::collections::{BTreeMap, HashMap};

use abi::platform::MARK_COMMAND_START;
use abi::syscall::{KernelCall, Trap};
use abi::trace::{Kind, Record};
use abi::Endpoint;
use serde::Serialize;

/// The name of message type `mtype` sent to `dst`: a kernel call's when
/// `dst` is SYSTEM, else the protocols' (`abi::proto::message_name`, the
/// one table); a number only for a type no protocol defines.
pub fn call_name(mtype: u32, dst: u32) -> String {
    if dst == Endpoint::SYSTEM.0 {
        return match KernelCall::from_number(mtype) {
            Some(c) => format!("kernel.{}", c.name()),
            None => format!("kernel.{mtype:#x}"),
        };
    }
    abi::proto::message_name(mtype).map_or_else(|| format!("{mtype:#x}"), str::to_string)
}

/// Whether a record carries a message type: spawn, exec and exit carry a
/// name or a status instead, and a queued send or pended SENDA entry none
/// (the kernel does not read the message to queue it; its type is in the
/// record that delivers it); nor does a call refused before the kernel
/// read its message (a SENDNB to a process not waiting: type 0).
pub fn has_message_type(r: &Record) -> bool {
    match r.kind {
        Kind::Spawn | Kind::Exec | Kind::Exit | Kind::SendQueued | Kind::SendaPended => false,
        Kind::Refused => r.event.mtype != 0,
        _ => true,
    }
}

/// A record's one-line label: its kind and what it is about (the message
/// type, the new program's name, the exit status, or the unknown trap).
pub fn event_name(r: &Record) -> String {
    let e = &r.event;
    match r.kind {
        Kind::Spawn | Kind::Exec => format!("{} {}", r.kind.name(), program_name(r)),
        Kind::Exit => format!("exit {}", e.result),
        Kind::Refused if e.primitive == 0 => format!("refused trap {}", e.mtype),
        Kind::Refused if !has_message_type(r) => match Trap::from_number(u64::from(e.primitive)) {
            Some(trap) => format!("refused {}", trap.name().to_lowercase()),
            None => "refused".to_string(),
        },
        kind if !has_message_type(r) => kind.name().to_string(),
        kind => format!("{} {}", kind.name(), call_name(e.mtype, e.dst)),
    }
}

/// Every endpoint that ran `program` (spawned or exec'd as it).
pub fn endpoints_of(records: &[Record], program: &str) -> std::collections::HashSet<u32> {
    records
        .iter()
        .filter(|r| matches!(r.kind, Kind::Spawn | Kind::Exec) && program_name(r) == program)
        .map(|r| r.event.dst)
        .collect()
}

/// The program name a spawn or exec record carries.
fn program_name(r: &Record) -> String {
    let bytes = r.name_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// One system call: a cause id and its messages.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// The cause id.
    pub cause: u32,
    /// Index (in the records) of its first message, the request.
    pub first: usize,
    /// The calling process's name.
    pub caller: String,
    /// The system call's name.
    pub name: String,
    /// Messages carrying the cause.
    pub messages: u64,
}

/// The records with names and calls resolved.
pub struct Analysis<'a> {
    /// The records, in sequence order.
    pub records: &'a [Record],
    /// Per record: source and destination names.
    pub names: Vec<(String, String)>,
    /// Calls by cause id.
    pub calls: BTreeMap<u32, Call>,
    /// Index of the kernel-call record of the command-start mark.
    pub mark: Option<usize>,
}

fn endpoint_label(ep: u32) -> String {
    match Endpoint(ep) {
        Endpoint::SYSTEM => "SYSTEM".into(),
        Endpoint::ANY => "ANY".into(),
        Endpoint::NONE => "NONE".into(),
        e => format!("ep{:#x}", e.0),
    }
}

impl<'a> Analysis<'a> {
    /// Resolves `records`; `mark` is the bench-mark id that starts the
    /// command (default [`MARK_COMMAND_START`]).
    pub fn new(records: &'a [Record], mark: Option<u32>) -> Analysis<'a> {
        Self::with_processes(records, mark, &[])
    }

    /// As [`Analysis::new`], knowing the names of the processes alive
    /// before the first record (`TraceLog::processes`: a run from a
    /// snapshot has no spawn records for them).
    pub fn with_processes(records: &'a [Record], mark: Option<u32>, processes: &[(u32, String)]) -> Analysis<'a> {
        let mark_id = u64::from(mark.unwrap_or(MARK_COMMAND_START));
        let mut names_of: HashMap<u32, String> = processes.iter().cloned().collect();
        let mut names = Vec::with_capacity(records.len());
        let mut calls: BTreeMap<u32, Call> = BTreeMap::new();
        let mut mark_at = None;
        for (i, r) in records.iter().enumerate() {
            let e = &r.event;
            if matches!(r.kind, Kind::Spawn | Kind::Exec) {
                names_of.insert(e.dst, program_name(r));
            }
            let name = |ep: u32| names_of.get(&ep).cloned().unwrap_or_else(|| endpoint_label(ep));
            let (src, dst) = (name(e.src), name(e.dst));
            if r.kind == Kind::KernelCall
                && e.mtype == KernelCall::BenchMark as u32
                && e.args[0] == mark_id
                && mark_at.is_none()
            {
                mark_at = Some(i);
            }
            if r.kind.is_message() && e.cause != 0 {
                calls
                    .entry(e.cause)
                    .or_insert_with(|| Call {
                        cause: e.cause,
                        first: i,
                        caller: src.clone(),
                        name: call_name(e.mtype, e.dst),
                        messages: 0,
                    })
                    .messages += 1;
            }
            names.push((src, dst));
        }
        Analysis { records, names, calls, mark: mark_at }
    }

    /// The calls of the command: opened after the mark (all when there is
    /// no mark).
    pub fn command_calls(&self) -> impl Iterator<Item = &Call> {
        let after = self.mark;
        self.calls.values().filter(move |c| after.is_none_or(|m| c.first > m))
    }

    /// The `viv count` report.
    pub fn count_report(&self) -> CountReport {
        let messages =
            |range: std::ops::Range<usize>| self.records[range].iter().filter(|r| r.kind.is_message()).count() as u64;
        let n = self.records.len();
        let (boot, command) = match self.mark {
            Some(m) => (Some(messages(0..m)), messages(m..n)),
            None => (None, messages(0..n)),
        };
        let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for c in self.command_calls() {
            by_name.entry(c.name.as_str()).or_default().push(c.messages);
        }
        let calls = by_name
            .into_iter()
            .map(|(name, mut counts)| {
                counts.sort_unstable();
                CallStats {
                    name: name.to_string(),
                    calls: counts.len() as u64,
                    min: counts[0],
                    median: counts[counts.len() / 2],
                    max: counts[counts.len() - 1],
                    total: counts.iter().sum(),
                }
            })
            .collect();
        let start = self.mark.unwrap_or(0);
        let unattributed =
            self.records[start..].iter().filter(|r| r.kind.is_message() && r.event.cause == 0).count() as u64;
        let mut kinds = BTreeMap::new();
        for r in self.records {
            *kinds.entry(r.kind.name().to_string()).or_insert(0u64) += 1;
        }
        let ticks = |i: usize| self.records.get(i).map_or(0, |r| u64::from(r.ticks));
        let command_ticks = if n == 0 { 0 } else { ticks(n - 1).saturating_sub(ticks(start)) };
        CountReport {
            records: n as u64,
            messages: messages(0..n),
            boot_to_prompt_messages: boot,
            command_messages: command,
            command_unattributed_messages: unattributed,
            command_ticks,
            kinds,
            calls,
        }
    }
}

/// Per system-call type figures.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallStats {
    /// The call's name.
    pub name: String,
    /// How many calls of this type the command made.
    pub calls: u64,
    /// Fewest messages of one call.
    pub min: u64,
    /// Median messages per call (the upper median).
    pub median: u64,
    /// Most messages of one call.
    pub max: u64,
    /// All messages of these calls.
    pub total: u64,
}

/// `viv count`'s figures (its `--json` output).
#[derive(Debug, Clone, Serialize)]
pub struct CountReport {
    /// Records in the trace.
    pub records: u64,
    /// Messages (delivered messages and kernel calls) in the trace.
    pub messages: u64,
    /// Messages from boot to the command-start mark (`null` without it).
    pub boot_to_prompt_messages: Option<u64>,
    /// Messages from the mark to the end (the whole command, including
    /// background activity meanwhile).
    pub command_messages: u64,
    /// Of those, messages caused by no user system call (timers,
    /// interrupts, heartbeats).
    pub command_unattributed_messages: u64,
    /// Timer ticks from the mark to the end.
    pub command_ticks: u64,
    /// Records per kind.
    pub kinds: BTreeMap<String, u64>,
    /// The command's system calls by type.
    pub calls: Vec<CallStats>,
}

impl CountReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s =
            format!("{:<22} {:>6} {:>6} {:>6} {:>6} {:>8}\n", "call", "calls", "min", "median", "max", "messages");
        for c in &self.calls {
            s += &format!("{:<22} {:>6} {:>6} {:>6} {:>6} {:>8}\n", c.name, c.calls, c.min, c.median, c.max, c.total);
        }
        let attributed: u64 = self.calls.iter().map(|c| c.total).sum();
        s += &format!(
            "{:<22} {:>6} {:>29}\n",
            "total (calls)",
            self.calls.iter().map(|c| c.calls).sum::<u64>(),
            attributed
        );
        if let Some(boot) = self.boot_to_prompt_messages {
            s += &format!("boot to shell prompt: {boot} messages\n");
        }
        s += &format!(
            "whole command: {} messages ({} not caused by a system call) in {} ticks; trace: {} records, {} messages\n",
            self.command_messages, self.command_unattributed_messages, self.command_ticks, self.records, self.messages
        );
        s
    }
}
