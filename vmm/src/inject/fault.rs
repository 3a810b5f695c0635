//! Host side of fault injection: the fault-plan region in guest memory,
//! the plan the host writes there before boot, and the counters it reads
//! back at the end of the run.
//!
//! Why a region of guest RAM and not exits: the kernel must evaluate the
//! plan at every IPC event, and nothing may exit per message
//! (`docs/platform.md`). So the VMM reserves [`PLAN_BYTES`] just
//! below the trace ring (or at the top of RAM without tracing), marks it
//! reserved in the PVH memory map, writes the `abi::fault` header and
//! rules, and passes `viv.faults=0xADDR,0xSIZE`. The kernel writes the
//! per-rule counters and the total back into the same bytes; the VMM reads
//! them after the vCPU has stopped. The only exit is the Stop action's
//! doorbell (`abi::platform::PORT_FAULT_STOP`).
//!
//! [`FaultPlan`] is the API the campaign runner builds plans with; it is
//! serde-(de)serialisable with campaign-file names for the actions
//! (`abi::fault::Action::name`) and the `abi::fault` defaults for omitted
//! trigger fields.

use abi::fault::{header, Action, Rule, ANY_PROGRAM, ANY_TYPE, CMDLINE_KEY, HEADER_SIZE, MAX_RULES, RULE_SIZE};
use abi::platform::CMDLINE_COMMAND_SEPARATOR;
use serde::{Deserialize, Serialize};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Why a fault plan cannot be written into guest memory.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// More rules than the region holds.
    #[error("boot: a fault plan holds at most {MAX_RULES} rules, not {0}")]
    TooManyRules(usize),
    /// The region is not in guest memory.
    #[error("boot: fault plan: {0}")]
    Write(vm_memory::GuestMemoryError),
}

/// Bytes the VMM reserves for the plan (header, rules and the Duplicate
/// slots of `abi::fault::FULL_REGION_SIZE`, rounded up to pages).
pub const PLAN_BYTES: u64 = (abi::fault::REGION_END as u64).div_ceil(4096) * 4096;

/// A fault plan: the PRNG seed and the rules, in order (rule `i` is the
/// `i`th in the region; counters come back in the same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Seed of the plan's PRNG (`abi::fault::next_random`; 0 is replaced by
    /// a fixed non-zero seed, as `abi::fault::header` does).
    pub seed: u64,
    /// The rules (at most `abi::fault::MAX_RULES`).
    #[serde(with = "rules_serde")]
    pub rules: Vec<Rule>,
}

/// Counters the kernel wrote back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// (matched, injected) per rule.
    pub per_rule: Vec<(u32, u32)>,
    /// The header's total of injections.
    pub total: u64,
    /// Stop events the kernel raised (`abi::fault::HEADER_STOPS`).
    pub stops: u64,
    /// Virtual ticks since the workload started (`abi::fault::CLOCK_COMMAND_TICKS`;
    /// experiment mode, 0 before the start or outside it).
    pub command_ticks: u64,
    /// Restarts per boot-image program, as the kernel counted them
    /// (`abi::fault::RESTART_COUNTS_OFFSET`).
    pub restarts: Vec<u32>,
    /// The command's exit status, as the kernel recorded it
    /// (`abi::fault::STATUS_WORKLOAD`; `None` while it had not ended).
    pub command_status: Option<u32>,
    /// The check's exit status (`abi::fault::STATUS_CHECK`).
    pub check_status: Option<u32>,
}

/// The plan region of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRegion {
    /// Guest-physical address (page-aligned).
    pub base: u64,
    /// Number of rules written.
    pub rules: usize,
}

impl PlanRegion {
    /// Writes `plan` at `base` (which must leave [`PLAN_BYTES`] inside
    /// `mem`).
    pub fn write(mem: &GuestMemoryMmap, base: u64, plan: &FaultPlan) -> Result<PlanRegion, PlanError> {
        if plan.rules.len() > MAX_RULES {
            return Err(PlanError::TooManyRules(plan.rules.len()));
        }
        let mut bytes = vec![0u8; PLAN_BYTES as usize];
        bytes[..HEADER_SIZE].copy_from_slice(&header(plan.rules.len(), plan.seed));
        for (i, rule) in plan.rules.iter().enumerate() {
            let at = HEADER_SIZE + i * RULE_SIZE;
            bytes[at..at + RULE_SIZE].copy_from_slice(&rule.to_bytes());
        }
        mem.write_slice(&bytes, GuestAddress(base)).map_err(PlanError::Write)?;
        Ok(PlanRegion { base, rules: plan.rules.len() })
    }

    /// Reads the counters back.
    pub fn counters(&self, mem: &GuestMemoryMmap) -> FaultCounters {
        let read_u64 = |off: usize| mem.read_obj::<u64>(GuestAddress(self.base + off as u64)).unwrap_or(0);
        let per_rule = (0..self.rules)
            .map(|i| {
                let mut b = [0u8; RULE_SIZE];
                let at = self.base + (HEADER_SIZE + i * RULE_SIZE) as u64;
                let _ = mem.read_slice(&mut b, GuestAddress(at));
                Rule::counters(&b)
            })
            .collect();
        let restarts = (0..abi::fault::RESTART_COUNT_PROGRAMS)
            .map(|i| {
                let at = self.base + (abi::fault::RESTART_COUNTS_OFFSET + 4 * i) as u64;
                mem.read_obj::<u32>(GuestAddress(at)).unwrap_or(0)
            })
            .collect();
        FaultCounters {
            per_rule,
            total: read_u64(24),
            stops: read_u64(abi::fault::HEADER_STOPS),
            command_ticks: read_u64(abi::fault::CLOCK_COMMAND_TICKS),
            restarts,
            command_status: abi::fault::exit_status_of(read_u64(abi::fault::STATUS_WORKLOAD)),
            check_status: abi::fault::exit_status_of(read_u64(abi::fault::STATUS_CHECK)),
        }
    }

    /// Gives the workload a budget of `ticks` virtual ticks
    /// (`abi::fault::CLOCK_BUDGET`; 0 = none): past it the kernel powers
    /// the machine off as timed out.
    pub fn set_tick_budget(&self, mem: &GuestMemoryMmap, ticks: u64) -> Result<(), PlanError> {
        mem.write_obj(ticks, GuestAddress(self.base + abi::fault::CLOCK_BUDGET as u64)).map_err(PlanError::Write)
    }
}

/// `cmdline` with `key=value` inserted before a shell command (keys after
/// ` -- ` are not read by the kernel).
pub fn cmdline_with_key(cmdline: &str, key: &str, value: &str) -> String {
    let key = format!("{key}={value}");
    match cmdline.split_once(CMDLINE_COMMAND_SEPARATOR) {
        Some((keys, command)) => format!("{} {key}{CMDLINE_COMMAND_SEPARATOR}{command}", keys.trim_end()),
        None => format!("{} {key}", cmdline.trim_end()).trim_start().to_string(),
    }
}

/// `cmdline` with `viv.faults=0xADDR,0xSIZE`.
pub fn cmdline_with_plan(cmdline: &str, base: u64) -> String {
    cmdline_with_key(cmdline, CMDLINE_KEY, &format!("{base:#x},{PLAN_BYTES:#x}"))
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Action", rename_all = "snake_case")]
enum ActionDef {
    Drop,
    FlipBits,
    Overwrite,
    Duplicate,
    Delay,
    #[serde(rename = "error")]
    ReturnError,
    Crash,
    Hang,
    Stop,
}

const fn any_program() -> u8 {
    ANY_PROGRAM
}
const fn any_type() -> u32 {
    ANY_TYPE
}
const fn always() -> u32 {
    u32::MAX
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Rule")]
struct RuleDef {
    #[serde(default = "any_program")]
    source: u8,
    #[serde(default = "any_program")]
    destination: u8,
    #[serde(default)]
    primitives: u8,
    #[serde(with = "ActionDef")]
    action: Action,
    #[serde(default = "any_type")]
    mtype: u32,
    #[serde(default)]
    nth: u32,
    #[serde(default)]
    limit: u32,
    #[serde(default = "always")]
    probability: u32,
    #[serde(default)]
    arg_a: u32,
    #[serde(default)]
    arg_b: u64,
    #[serde(default)]
    not_before: u64,
    #[serde(default)]
    not_after: u64,
}

mod rules_serde {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "RuleDef")] Rule);

    pub fn serialize<S: serde::Serializer>(rules: &[Rule], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(rules.iter().map(|r| Wrap(*r)))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
        Ok(Vec::<Wrap>::deserialize(d)?.into_iter().map(|w| w.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_round_trip_through_json_and_toml_with_defaults() {
        let mut r = Rule::new(Action::ReturnError);
        r.source = 3;
        r.arg_a = 5;
        let plan = FaultPlan { seed: 7, rules: vec![r, Rule::new(Action::FlipBits)] };
        let json = serde_json::to_string(&plan).unwrap();
        assert!(json.contains("\"error\"") && json.contains("\"flip_bits\""), "{json}");
        assert_eq!(serde_json::from_str::<FaultPlan>(&json).unwrap(), plan);
        let t: FaultPlan = toml::from_str("seed = 1\n[[rules]]\naction = \"drop\"\nsource = 2\n").unwrap();
        let mut want = Rule::new(Action::Drop);
        want.source = 2;
        assert_eq!(t, FaultPlan { seed: 1, rules: vec![want] });
    }

    #[test]
    fn the_region_holds_the_plan_and_gives_back_counters() {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let base = (32 << 20) - PLAN_BYTES;
        let plan = FaultPlan { seed: 9, rules: vec![Rule::new(Action::Drop); 3] };
        let region = PlanRegion::write(&mem, base, &plan).unwrap();
        let mut h = [0u8; HEADER_SIZE];
        mem.read_slice(&mut h, GuestAddress(base)).unwrap();
        assert_eq!(h, header(3, 9));
        mem.write_obj(4u32, GuestAddress(base + (HEADER_SIZE + RULE_SIZE + 48) as u64)).unwrap();
        mem.write_obj(2u32, GuestAddress(base + (HEADER_SIZE + RULE_SIZE + 52) as u64)).unwrap();
        mem.write_obj(2u64, GuestAddress(base + 24)).unwrap();
        let c = region.counters(&mem);
        assert_eq!(c.per_rule, vec![(0, 0), (4, 2), (0, 0)]);
        assert_eq!(c.total, 2);
        let too_many = FaultPlan { seed: 0, rules: vec![Rule::new(Action::Drop); MAX_RULES + 1] };
        assert!(PlanRegion::write(&mem, base, &too_many).is_err());
    }

    #[test]
    fn the_plan_key_goes_before_the_command() {
        let line = cmdline_with_plan("a -- echo hi", 0x7bf_c000);
        assert_eq!(abi::platform::cmdline_command(&line), Some("echo hi"));
        let v = abi::platform::cmdline_value(&line, CMDLINE_KEY).unwrap();
        assert_eq!(abi::platform::parse_trace_value(v), Some((0x7bf_c000, PLAN_BYTES)));
    }
}
