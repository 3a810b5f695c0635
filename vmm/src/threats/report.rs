//! The report of `viv threats`: a table for people, JSON for programs.

use serde::Serialize;

use super::fuzz::FuzzResult;
use super::judge::{RowResult, RunJudgement};

/// The whole report (`--json`).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Rows that passed.
    pub passed: usize,
    /// Rows that failed.
    pub failed: usize,
    /// The `--seed` the fuzzer rows used.
    pub seed: u64,
    /// Every row.
    pub rows: &'a [RowResult],
    /// The fuzzer run (absent when `--only` left it out).
    pub fuzz: Option<&'a FuzzResult>,
}

impl<'a> Report<'a> {
    /// The report of `rows`.
    pub fn new(rows: &'a [RowResult], fuzz: Option<&'a FuzzResult>, seed: u64) -> Report<'a> {
        let passed = rows.iter().filter(|r| r.passed()).count() + usize::from(fuzz.is_some_and(|f| f.ok));
        let total = rows.len() + usize::from(fuzz.is_some());
        Report { passed, failed: total - passed, seed, rows, fuzz }
    }

    /// The JSON text.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The table, one block per row, and the totals.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for row in self.rows {
            out += &format!(
                "{} {} ({}, as {})\n  defense: {}\n  defended: {}{}\n  {}: {}{}\n",
                if row.passed() { "PASS" } else { "FAIL" },
                row.name,
                row.class,
                row.attacker,
                row.defense,
                describe(&row.defended),
                match row.defended.workload_ok {
                    Some(true) => "; workload intact",
                    Some(false) => "; workload BROKEN",
                    None => "",
                },
                if row.weaken.is_empty() { "control".to_string() } else { format!("switched off ({})", row.weaken) },
                describe(&row.control),
                if row.control.ok && !row.weaken.is_empty() {
                    " (the attack gets through: the defense is what stops it)"
                } else {
                    ""
                },
            );
            for p in row.defended.problems.iter().chain(&row.control.problems) {
                out += &format!("  problem: {p}\n");
            }
        }
        if let Some(f) = self.fuzz {
            out += &format!(
                "{} ipc-fuzzer (seed {}, {} messages as user and as driver, then the workload)\n",
                if f.ok { "PASS" } else { "FAIL" },
                f.seed,
                f.messages
            );
            for s in &f.summaries {
                out += &format!("  {s}\n");
            }
            let restarts: Vec<String> = f.driver_restarts.iter().map(|(d, n)| format!("{d} {n}")).collect();
            out += &format!(
                "  driver restarts: {}; e2fsck -fn: {}\n",
                restarts.join(", "),
                match f.fsck_clean {
                    Some(true) => "clean",
                    Some(false) => "DAMAGED",
                    None => "not run (e2fsck missing)",
                }
            );
            for p in &f.problems {
                out += &format!("  problem: {p}\n");
            }
        }
        out += &format!("{} checks: {} passed, {} failed\n", self.passed + self.failed, self.passed, self.failed);
        out
    }
}

fn describe(run: &RunJudgement) -> String {
    if run.records.is_empty() {
        run.observed.clone()
    } else {
        let records: Vec<String> = run.records.iter().map(|r| format!("#{r}")).collect();
        format!("{} (trace records {})", run.observed, records.join(", "))
    }
}
