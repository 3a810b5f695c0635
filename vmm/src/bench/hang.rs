//! What a hung experiment costs (`viv bench`, its `hang` part): the one
//! experiment of `ci/campaigns/hang.toml`, whose workload never finishes,
//! beside the campaign's fault-free baseline, a completed run of the same
//! workload from the same snapshot, in kernel instructions (KVM's exact
//! count, which does not depend on host load).
//!
//! Why: a hang is ended by a budget (docs/campaigns.md, "Time is
//! virtual"), and a campaign of single faults has many of them; what a
//! hang costs over a completed experiment is the price of every one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::campaign::file::{Campaign, StartFrom};
use crate::campaign::CampaignError;

/// The hanging campaign.
pub const HANG_CAMPAIGN: &str = include_str!("../../../ci/campaigns/hang.toml");

/// The figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HangFigures {
    /// The campaign's file.
    pub file: String,
    /// Kernel instructions of the fault-free baseline (a completed run).
    pub completed_kernel_instructions: Option<u64>,
    /// Kernel instructions of the hung experiment.
    pub hung_kernel_instructions: Option<u64>,
    /// Hung over completed.
    pub ratio: Option<f64>,
    /// How the hung experiment ended (`hung: virtual-time budget`, ...).
    pub ended_by: String,
    /// Virtual ticks the hung workload ran, and its budget.
    pub hung_ticks: Option<u64>,
    pub tick_budget: u64,
    /// The kernel-instruction budget (0: none).
    pub instruction_budget: u64,
}

/// The hanging campaign, checked against the embedded images.
pub fn hang_campaign() -> Result<Campaign, CampaignError> {
    let file = "ci/campaigns/hang.toml";
    Campaign::parse(HANG_CAMPAIGN, file, "hang", Path::new("."), crate::campaign::file::image_programs)
        .map_err(|e| CampaignError::InFile { path: file.into(), source: Box::new(e) })
}

/// Runs the baseline and the hung experiment from one snapshot; `scratch`
/// holds the disk copy.
pub fn measure(scratch: &Path) -> Result<HangFigures, CampaignError> {
    let mut campaign = hang_campaign()?;
    let hooks = crate::campaign::run::Hooks { quiet: true, ..Default::default() };
    let (results, _) = crate::campaign::run_indices(&mut campaign, &[0], 1, scratch, StartFrom::Snapshot, &hooks)?;
    let hung =
        results.first().ok_or_else(|| CampaignError::Results("bench: the hung experiment did not run".into()))?;
    let completed = campaign.baseline_kernel_instructions;
    let hung_insns = hung.timing.kernel_instructions;
    Ok(HangFigures {
        file: campaign.file.clone(),
        completed_kernel_instructions: completed,
        hung_kernel_instructions: hung_insns,
        ratio: match (hung_insns, completed) {
            (Some(h), Some(c)) if c > 0 => Some(h as f64 / c as f64),
            _ => None,
        },
        ended_by: hung.verdict.exit.clone(),
        hung_ticks: hung.verdict.ticks,
        tick_budget: campaign.tick_budget(),
        instruction_budget: campaign.kernel_instruction_budget(),
    })
}

/// The figures as a table.
pub fn format(f: &HangFigures) -> String {
    let opt = |v: Option<u64>| v.map_or("n/a".to_string(), |v| v.to_string());
    format!(
        "\nhung experiment ({}), from one snapshot, kernel instructions\n\
         \x20 {:<34}{:>14}\n\
         \x20 {:<34}{:>14}  ({}, {} of {} virtual ticks; instruction budget {})\n\
         \x20 {:<34}{:>14}\n",
        f.file,
        "completed (fault-free baseline)",
        opt(f.completed_kernel_instructions),
        "hung",
        opt(f.hung_kernel_instructions),
        f.ended_by,
        opt(f.hung_ticks),
        f.tick_budget,
        if f.instruction_budget == 0 { "none".to_string() } else { f.instruction_budget.to_string() },
        "hung / completed",
        f.ratio.map_or("n/a".to_string(), |r| format!("x{r:.2}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_campaign_parses_and_the_table_names_every_figure() {
        let c = hang_campaign().unwrap();
        assert_eq!((c.experiments, c.faults.len()), (1, 1));
        let f = HangFigures {
            file: c.file,
            completed_kernel_instructions: Some(1_000_000),
            hung_kernel_instructions: Some(500_000),
            ratio: Some(0.5),
            ended_by: "hung: virtual-time budget".into(),
            hung_ticks: Some(1001),
            tick_budget: 1000,
            instruction_budget: 10_000_000,
        };
        let t = format(&f);
        for want in ["1000000", "500000", "x0.50", "hung: virtual-time budget", "1001 of 1000", "10000000"] {
            assert!(t.contains(want), "{want} in {t}");
        }
    }
}
