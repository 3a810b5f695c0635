//! Checking a campaign read back from `results.json`.
//!
//! A campaign file is checked field by field when it is parsed
//! ([`super::file`]), but `results.json` carries the checked [`Campaign`]
//! as plain JSON, which anyone can edit. `viv campaign replay` and
//! `merge` must not trust it: a negative timeout panics when it becomes
//! a `Duration`, an empty fault list divides by zero in the draw, and
//! `bits = 65` asks the draw for 65 distinct bits of a 64-bit mask, which
//! never ends. So every value the run depends on is checked again here,
//! against the same limits the file parser applies.

use std::path::Path;

use super::file::{Campaign, Expect, FaultSpec, Program, MAX_EXPERIMENTS, PRIMITIVES, SWIFI_ACTION};
use super::CampaignError;

/// Longest per-experiment timeout, in seconds (as in campaign files).
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// Whether `campaign` could have come from a valid campaign file (for an
/// image with `programs`, when given); the error names the first field
/// that could not.
pub fn check_loaded(campaign: &Campaign, programs: Option<&[String]>) -> Result<(), String> {
    let c = campaign;
    if c.name.trim().is_empty() || c.name.contains(['\n', '/']) {
        return Err("campaign.name: must be non-empty, one line, without '/'".into());
    }
    if c.workload.trim().is_empty() || c.workload.contains('\n') {
        return Err("campaign.workload: must be a non-empty one-line shell command".into());
    }
    if c.experiments == 0 || u64::from(c.experiments) > MAX_EXPERIMENTS {
        return Err(format!("campaign.experiments: must be 1 to {MAX_EXPERIMENTS}"));
    }
    if !(c.timeout_secs.is_finite() && c.timeout_secs > 0.0 && c.timeout_secs <= MAX_TIMEOUT_SECS) {
        return Err(format!("campaign.timeout_secs: want more than 0 and at most {MAX_TIMEOUT_SECS}"));
    }
    let max_mib = abi::platform::MAX_GUEST_MEMORY >> 20;
    let min_mib = crate::vstate::memory::MIN_GUEST_MEMORY_MIB;
    if !(min_mib..=max_mib).contains(&c.memory_mib) {
        return Err(format!("campaign.memory_mib: want {min_mib} to {max_mib}"));
    }
    if c.faults.is_empty() {
        return Err("campaign.faults: no fault templates".into());
    }
    for (i, f) in c.faults.iter().enumerate() {
        fault(f, programs).map_err(|e| format!("campaign.faults[{i}].{e}"))?;
    }
    expect(&c.expect, programs).map_err(|e| format!("campaign.expect.{e}"))
}

/// [`check_loaded`] for the campaign of results read from `path`
/// (program names are checked when the image is run: [`check_image`]).
pub fn check_results(campaign: &Campaign, path: &Path) -> Result<(), CampaignError> {
    check_loaded(campaign, None).map_err(|e| CampaignError::Results(format!("{}: {e}", path.display())))
}

/// [`check_loaded`] against the programs of the campaign's embedded image,
/// before a replay runs it.
pub fn check_image(campaign: &Campaign, path: &Path) -> Result<(), CampaignError> {
    let programs = super::file::image_programs(&campaign.image)?;
    check_loaded(campaign, Some(&programs)).map_err(|e| CampaignError::Results(format!("{}: {e}", path.display())))
}

fn known(p: &Program, programs: Option<&[String]>) -> bool {
    programs.is_none_or(|programs| programs.get(usize::from(p.id)).is_some_and(|name| *name == p.name))
}

fn ordered<T: PartialOrd>(field: &str, (lo, hi): (T, T)) -> Result<(), String> {
    if lo <= hi {
        Ok(())
    } else {
        Err(format!("{field}: the range's start is past its end"))
    }
}

fn fault(f: &FaultSpec, programs: Option<&[String]>) -> Result<(), String> {
    if f.targets.is_empty() {
        return Err("targets: name at least one program".into());
    }
    if let Some(p) = f.targets.iter().chain(&f.peers).find(|p| !known(p, programs)) {
        return Err(format!("targets: {:?} (id {}) is not a program of the image", p.name, p.id));
    }
    if u32::from(f.primitives) >> PRIMITIVES.len() != 0 {
        return Err(format!("primitives: mask {:#x} names unknown primitives", f.primitives));
    }
    ordered("nth", f.nth)?;
    ordered("ticks", f.ticks)?;
    if f.ticks.1 > i64::MAX as u64 || f.arg_b.1 > i64::MAX as u64 {
        return Err("ticks/arg_b: past the largest value a campaign file allows".into());
    }
    ordered("arg_a", f.arg_a)?;
    ordered("arg_b", f.arg_b)?;
    let (lo, hi) = f.probability;
    if !(lo.is_finite() && hi.is_finite() && (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi) && lo <= hi) {
        return Err("probability: want an ordered range within 0.0 to 1.0".into());
    }
    if f.actions.is_empty() {
        return Err("actions: name at least one".into());
    }
    let swifi = f.actions.iter().any(|a| a == SWIFI_ACTION);
    if let Some(a) = f.actions.iter().find(|a| *a != SWIFI_ACTION && super::file::action_by_name(a).is_none()) {
        return Err(format!("actions: unknown action {a:?}"));
    }
    if swifi && (f.actions.len() > 1 || f.swifi.is_empty()) {
        return Err("swifi: a swifi template has that action alone and at least one fault type".into());
    }
    if !swifi && !f.swifi.is_empty() {
        return Err("swifi: fault types need the swifi action".into());
    }
    if let Some(bits) = f.bits {
        if !(1..=64).contains(&bits) {
            return Err("bits: want 1 to 64 bits".into());
        }
    }
    Ok(())
}

fn expect(e: &Expect, programs: Option<&[String]>) -> Result<(), String> {
    if let Some(s) = e.exit_status {
        let max = abi::platform::GUEST_STATUS_MAX;
        if !(0..=i64::from(max)).contains(&i64::from(s)) {
            return Err(format!("exit_status: want 0 to {max}"));
        }
    }
    if let Some(service) = e.min_restarts.keys().find(|s| *s != "target" && programs.is_some_and(|p| !p.contains(s))) {
        return Err(format!("min_restarts: unknown program {service:?}"));
    }
    if let Some(share) = e.min_injected {
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            return Err("min_injected: want one share, 0.0 to 1.0".into());
        }
    }
    if e.check.is_some() != e.check_output.is_some() {
        return Err("check: give check and check_output together".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::file::tests_support::{campaign_with, PROGRAMS};
    use crate::campaign::Results;

    fn programs() -> Vec<String> {
        PROGRAMS.iter().map(|p| p.to_string()).collect()
    }

    fn check(edit: impl FnOnce(&mut Campaign)) -> Result<(), String> {
        let mut c = campaign_with("");
        edit(&mut c);
        check_loaded(&c, Some(&programs()))
    }

    #[test]
    fn a_parsed_campaign_passes() {
        assert_eq!(check(|_| {}), Ok(()));
    }

    #[test]
    fn edited_values_that_would_panic_or_loop_are_refused() {
        type Edit = fn(&mut Campaign);
        let cases: [(&str, Edit); 12] = [
            ("timeout_secs", |c| c.timeout_secs = -1.0),
            ("timeout_secs", |c| c.timeout_secs = 1e300),
            ("timeout_secs", |c| c.timeout_secs = f64::NAN),
            ("faults", |c| c.faults.clear()),
            ("bits", |c| c.faults[0].bits = Some(65)),
            ("targets", |c| c.faults[0].targets.clear()),
            ("actions", |c| c.faults[0].actions.clear()),
            ("targets", |c| c.faults[0].targets[0].id = 200),
            ("nth", |c| c.faults[0].nth = (5, 1)),
            ("probability", |c| c.faults[0].probability = (0.0, 2.0)),
            ("experiments", |c| c.experiments = 0),
            ("memory_mib", |c| c.memory_mib = 1 << 40),
        ];
        for (field, edit) in cases {
            let err = check(edit).expect_err(field);
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    /// `viv campaign replay` on an edited results.json: a one-line error,
    /// where it used to panic (negative timeout, no faults) or loop
    /// forever (`bits: 65`).
    #[test]
    fn replay_refuses_an_edited_results_file() {
        let dir = std::env::temp_dir().join(format!("viv-validate-unit-{}", std::process::id()));
        let results =
            Results::new(campaign_with(""), None, Vec::new(), crate::campaign::report::Timing::of(&[], 1.0, 1, None));
        results.write(&dir).unwrap();
        let path = dir.join("results.json");
        let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        type Edit = fn(&mut serde_json::Value);
        let edits: [(&str, Edit); 4] = [
            ("timeout_secs", |v| v["campaign"]["timeout_secs"] = (-5.0).into()),
            ("timeout_secs", |v| v["campaign"]["timeout_secs"] = 1e300.into()),
            ("faults", |v| v["campaign"]["faults"] = serde_json::json!([])),
            ("bits", |v| v["campaign"]["faults"][0]["bits"] = 65.into()),
        ];
        for (field, edit) in edits {
            let mut value = original.clone();
            edit(&mut value);
            std::fs::write(&path, value.to_string()).unwrap();
            let err = crate::campaign::replay(&path, 0, None, None, None).expect_err(field).to_string();
            assert!(err.contains(field) && err.contains("results.json") && !err.contains('\n'), "{field}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
