//! The report of `viv threats`: a table for people, JSON for programs.

use serde::Serialize;

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
}

impl<'a> Report<'a> {
    /// The report of `rows`.
    pub fn new(rows: &'a [RowResult], seed: u64) -> Report<'a> {
        let passed = rows.iter().filter(|r| r.passed()).count();
        Report { passed, failed: rows.len() - passed, seed, rows }
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
                "{} {} ({}, as {})\n  defense: {}\n  defended: {}{}\n  switched off ({}): {}{}\n",
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
                row.weaken,
                describe(&row.control),
                if row.control.ok { " (the attack gets through: the defense is what stops it)" } else { "" },
            );
            for p in row.defended.problems.iter().chain(&row.control.problems) {
                out += &format!("  problem: {p}\n");
            }
        }
        out += &format!("{} rows: {} passed, {} failed\n", self.rows.len(), self.passed, self.failed);
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
