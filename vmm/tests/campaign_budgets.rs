//! Issue 12, item 5: a hung experiment is ended by a budget, not by the
//! wall-clock timeout. `ci/campaigns/hang.toml` stops the workload's shell
//! at its first message, so its one experiment never finishes: the
//! virtual-time budget ends it at the same tick in every run (here: a
//! campaign run, `viv bench`'s hang row and a traced replay), and a small kernel-instruction
//! budget, checked by the VMM, ends it first and says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HANG_CAMPAIGN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ci/campaigns/hang.toml");

fn viv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_viv")).args(args).output().expect("running viv")
}

/// Runs the campaign `file` into `dir/out`; its results.json.
fn run_campaign(file: &Path, out: &Path) -> serde_json::Value {
    let run = viv(&["campaign", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    // The expectations fail (the workload hangs): status 1, not a VMM error.
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

#[test]
fn a_hung_experiment_ends_by_its_virtual_budget_at_the_same_tick_every_run() {
    let dir = common::scratch_dir("campaign-budgets-virtual");
    let out = dir.join("out");
    let results = run_campaign(Path::new(HANG_CAMPAIGN), &out);
    let campaign = &results["campaign"];
    let baseline = campaign["baseline_ticks"].as_u64().expect("the baseline completed");
    // The default budget: ten baselines, at least 10 s of guest time.
    let budget = (baseline * 10).max(1000);
    let e = &results["experiments"][0];
    assert_eq!(e["outcome"], "hung", "{e}");
    assert_eq!(e["exit"], "hung: virtual-time budget", "{e}");
    // The kernel powers off at the first entry past the budget.
    assert_eq!(e["ticks"], budget + 1, "{e}");
    assert_eq!(e["faults_injected"], 1, "{e}");
    let failure = e["failures"][0].as_str().unwrap();
    assert!(failure.contains(&format!("budget of {budget} virtual ticks")), "{failure}");

    // `viv bench --only hang` runs the same experiment: the same tick and,
    // exactly, the same kernel instructions, beside the baseline's.
    let bench = vmm::bench::hang::measure(&dir).unwrap();
    assert_eq!(bench.ended_by, "hung: virtual-time budget");
    assert_eq!((bench.hung_ticks, bench.tick_budget), (Some(budget + 1), budget));
    assert_eq!(bench.hung_kernel_instructions, e["timing"]["kernel_instructions"].as_u64(), "{bench:?}");
    assert_eq!(bench.completed_kernel_instructions, campaign["baseline_kernel_instructions"].as_u64());
    if let (Some(h), Some(c)) = (bench.hung_kernel_instructions, bench.completed_kernel_instructions) {
        assert_eq!(bench.ratio, Some(h as f64 / c as f64));
    }

    // A replay (from a fresh snapshot, traced) hangs at the same tick.
    let trace = dir.join("t.jsonl");
    let replay =
        viv(&["campaign", "replay", out.join("results.json").to_str().unwrap(), "0", "--out", trace.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(stdout.contains("same outcome as recorded"), "{stdout}{}", String::from_utf8_lossy(&replay.stderr));
    assert!(stdout.contains("hung: virtual-time budget"), "{stdout}");
}

#[test]
fn a_kernel_instruction_budget_ends_a_hung_experiment_and_names_itself() {
    // Well below what the hung experiment spends before its virtual
    // budget (≈ 250 k kernel instructions to tick 1001 in session 15,
    // ≈ 315 k before; at 200 k the two budgets ran out within a few ticks
    // of each other), so this budget ends it first.
    const LIMIT: u64 = 100_000;
    let dir = common::scratch_dir("campaign-budgets-instructions");
    let file: PathBuf = dir.join("hang-insns.toml");
    let text = std::fs::read_to_string(HANG_CAMPAIGN).unwrap();
    let text = text.replace("timeout = 120\n", &format!("timeout = 120\ninstruction_budget = {LIMIT}\n"));
    assert!(text.contains("instruction_budget"), "the campaign file changed shape");
    std::fs::write(&file, text).unwrap();
    let results = run_campaign(&file, &dir.join("out"));
    // The baseline measures the workload without budgets.
    assert!(results["campaign"]["baseline_ticks"].as_u64().is_some_and(|t| t > 0), "{}", results["campaign"]);
    let e = &results["experiments"][0];
    assert_eq!(e["outcome"], "hung", "{e}");
    assert_eq!(e["exit"], "hung: kernel-instruction budget", "{e}");
    let failure = e["failures"][0].as_str().unwrap();
    assert!(failure.contains(&format!("budget of {LIMIT} kernel instructions")), "{failure}");
    let spent = e["timing"]["kernel_instructions"].as_u64().unwrap();
    assert!(spent > LIMIT, "ended only past its budget: {e}");
    // Long before its virtual budget.
    assert!(e["ticks"].as_u64().unwrap() < 1000, "{e}");
}
