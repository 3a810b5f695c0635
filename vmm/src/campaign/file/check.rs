//! Checking a campaign file's fields: program names resolved against the
//! image, ranges ordered and bounded, actions and SWIFI types known,
//! expectations consistent. Every problem is one [`Problem`]: the field,
//! its byte span (the caller turns it into a line) and what is wrong.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use abi::fault::Action;
use toml::{Spanned, Value};

use super::raw::{RawCampaign, RawExpect, RawFault};
use super::{
    action_by_name, Campaign, Expect, FaultSpec, Program, Side, StartFrom, DEFAULT_DEGRADED_FACTOR,
    DEFAULT_TIMEOUT_SECS, MAX_EXPERIMENTS, PRIMITIVES, SWIFI_ACTION,
};
use crate::inject::swifi::FaultType;

/// A problem at a byte span, with the field it concerns.
pub(super) struct Problem {
    pub(super) span: Range<usize>,
    pub(super) field: String,
    pub(super) message: String,
}

fn problem<T>(span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem { span, field: field.into(), message: message.into() })
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

fn action_names() -> String {
    let names = (1..=u8::MAX).map_while(Action::from_u8).map(|a| a.name());
    names.chain([SWIFI_ACTION]).collect::<Vec<_>>().join(", ")
}

/// Checks every field of `raw` (the image's programs are `programs`) and
/// builds the campaign; `file`, `stem` and `base` as for [`Campaign::parse`].
pub(super) fn campaign(
    raw: RawCampaign,
    file: &str,
    stem: &str,
    base: &Path,
    programs: &[String],
) -> Result<Campaign, Problem> {
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
