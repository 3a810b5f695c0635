//! Campaign reports: `results.json` (everything, machine-readable, the
//! input of `replay` and `merge`), `junit.xml` (one testcase per
//! experiment, for CI test views) and `summary.md` (for people and CI job
//! summaries).
//!
//! All three come from one [`Results`] value, so a merged set of shards and
//! an unsharded run write identical reports apart from the timing fields.
//! Every value that depends on the host's speed lives in a field named
//! `timing` (per experiment and for the run), so tools comparing runs can
//! drop exactly those.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::classify::{Outcome, Verdict};
use super::draw::Plan;
use super::file::Campaign;
use super::CampaignError;
use crate::inject::swifi::{hex, Mutation};

/// Version of the `results.json` shape.
pub const FORMAT: u32 = 1;
/// Bytes of console and log kept for a failed experiment.
pub const DETAIL_BYTES: usize = 2048;

/// A shard: experiments whose index % count == index - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Parses "K/N" (1 <= K <= N).
    pub fn parse(text: &str) -> Result<Shard, CampaignError> {
        let bad = || CampaignError::Results(format!("{text:?} is not a shard K/N with 1 <= K <= N"));
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The experiment indices of this shard out of `experiments`.
    pub fn indices(self, experiments: u32) -> Vec<u32> {
        (0..experiments).filter(|i| i % self.count == self.index - 1).collect()
    }
}

/// The ends of a failed experiment's console and log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    pub console_tail: String,
    pub log_tail: String,
}

fn tail(text: &str) -> String {
    let mut start = text.len().saturating_sub(DETAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

impl Detail {
    /// The tails of `console` and `log`.
    pub fn new(console: &str, log: &str) -> Detail {
        Detail { console_tail: tail(console), log_tail: tail(log) }
    }
}

/// Host-dependent figures of one experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentTiming {
    pub wall_ms: u64,
    /// Kernel-mode instructions (KVM's `insn_emulation`; software KVM only).
    pub kernel_instructions: Option<u64>,
    pub vm_exits: Option<u64>,
    /// Host CPU milliseconds (user + system) of the experiment's vCPU
    /// thread (`RunOutcome::vcpu_cpu`): its cost to the host, which wall
    /// time is not when VMs share the cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_cpu_ms: Option<u64>,
}

/// One experiment's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentResult {
    pub index: u32,
    /// The plan in words.
    pub description: String,
    pub plan: Plan,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub faults_injected: u64,
    /// (matched, injected) per rule.
    pub fault_counters: Vec<(u32, u32)>,
    /// Console and log tails, for failed experiments only.
    pub detail: Option<Detail>,
    /// The code mutations made at the plan's Stops (SWIFI templates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swifi: Vec<Mutation>,
    pub timing: ExperimentTiming,
}

impl ExperimentResult {
    /// Whether a fault was injected: a rule fired and, for SWIFI, the
    /// host mutated the code (a Stop where nothing could be mutated
    /// injected nothing).
    pub fn injected(&self) -> bool {
        self.faults_injected > 0 && self.swifi.iter().all(|m| m.error.is_none())
    }

    /// The mutations, one line each.
    fn mutations(&self) -> String {
        self.swifi.iter().map(|m| format!("mutation: {}\n", m.describe())).collect()
    }
}

/// Host-dependent figures of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Wall-clock seconds of the run (of the slowest shard when merged).
    pub wall_secs: f64,
    /// Worker threads (summed over shards when merged).
    pub jobs: usize,
    /// Experiments per second of wall-clock time (snapshot included).
    pub experiments_per_second: f64,
    /// Seconds spent booting to the workload and taking the snapshot
    /// (`None`: experiments cold-booted).
    #[serde(default)]
    pub snapshot_secs: Option<f64>,
    /// Median kernel instructions per experiment.
    pub median_kernel_instructions: Option<u64>,
    /// Median wall-clock milliseconds per experiment.
    pub median_experiment_ms: u64,
    /// Host kind (software or hardware KVM).
    pub host: String,
    /// Median host CPU milliseconds of an experiment's vCPU thread.
    #[serde(default)]
    pub median_vcpu_cpu_ms: Option<u64>,
    /// The experiments' vCPU threads' host CPU over their kernel
    /// instructions, in microseconds: what one kernel instruction costs
    /// this host (on software KVM, with the exits and user mode around it).
    #[serde(default)]
    pub vcpu_cpu_us_per_kernel_instruction: Option<f64>,
    /// Host CPU seconds (user + system, every thread) of the whole run,
    /// snapshot and baseline included (summed over shards when merged;
    /// `None` when not measured).
    #[serde(default)]
    pub process_cpu_secs: Option<f64>,
}

/// Counts per outcome class and of failed experiments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub experiments: u32,
    pub failed: u32,
    pub injected: u32,
    pub outcomes: BTreeMap<String, u32>,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub format: u32,
    pub campaign: Campaign,
    /// The shard this run covered (`None`: all experiments).
    pub shard: Option<Shard>,
    pub totals: Totals,
    /// Expectations on the whole run that failed (`expect.min_injected`).
    pub campaign_failures: Vec<String>,
    pub experiments: Vec<ExperimentResult>,
    pub timing: Timing,
}

pub(crate) fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

impl Totals {
    /// The totals of `experiments`.
    pub fn of(experiments: &[ExperimentResult]) -> Totals {
        let mut outcomes: BTreeMap<String, u32> = Outcome::ALL.iter().map(|o| (o.name().to_string(), 0)).collect();
        for e in experiments {
            *outcomes.entry(e.verdict.outcome.name().to_string()).or_insert(0) += 1;
        }
        Totals {
            experiments: experiments.len() as u32,
            failed: experiments.iter().filter(|e| !e.verdict.failures.is_empty()).count() as u32,
            injected: experiments.iter().filter(|e| e.injected()).count() as u32,
            outcomes,
        }
    }
}

impl Timing {
    /// Figures of a run of `experiments` that took `wall_secs` on `jobs`
    /// threads, `snapshot_secs` of them to take the snapshot.
    pub fn of(experiments: &[ExperimentResult], wall_secs: f64, jobs: usize, snapshot_secs: Option<f64>) -> Timing {
        Timing {
            wall_secs,
            jobs,
            experiments_per_second: if wall_secs > 0.0 { experiments.len() as f64 / wall_secs } else { 0.0 },
            snapshot_secs,
            median_kernel_instructions: median(
                experiments.iter().filter_map(|e| e.timing.kernel_instructions).collect(),
            ),
            median_experiment_ms: median(experiments.iter().map(|e| e.timing.wall_ms).collect()).unwrap_or(0),
            host: crate::vstate::config::HostKind::detect().describe().to_string(),
            median_vcpu_cpu_ms: median(experiments.iter().filter_map(|e| e.timing.vcpu_cpu_ms).collect()),
            vcpu_cpu_us_per_kernel_instruction: cpu_per_instruction(experiments),
            process_cpu_secs: None,
        }
    }
}

/// Microseconds of vCPU-thread CPU per kernel instruction over the
/// experiments that have both figures (`None` without any).
fn cpu_per_instruction(experiments: &[ExperimentResult]) -> Option<f64> {
    let (cpu_ms, instructions) = experiments
        .iter()
        .filter_map(|e| Some((e.timing.vcpu_cpu_ms?, e.timing.kernel_instructions?)))
        .fold((0u64, 0u64), |(c, n), (ms, insns)| (c + ms, n + insns));
    (instructions > 0).then(|| cpu_ms as f64 * 1e3 / instructions as f64)
}

/// Host CPU seconds (user + system, every thread) this process has used.
pub fn process_cpu_secs() -> Option<f64> {
    let usage = crate::vstate::outcome::rusage(libc::RUSAGE_SELF)?;
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(usage.ru_utime) + secs(usage.ru_stime))
}

impl Results {
    /// A report of `experiments` (sorted by index here).
    pub fn new(
        campaign: Campaign,
        shard: Option<Shard>,
        mut experiments: Vec<ExperimentResult>,
        timing: Timing,
    ) -> Results {
        experiments.sort_by_key(|e| e.index);
        let totals = Totals::of(&experiments);
        let mut campaign_failures = Vec::new();
        // An empty shard has nothing to judge; its share is in the merge.
        if totals.experiments > 0 {
            let share = f64::from(totals.injected) / f64::from(totals.experiments);
            match campaign.expect.min_injected {
                Some(least) if share < least => campaign_failures.push(format!(
                    "faults fired in {} of {} experiments ({:.1} %), expected at least {:.1} %",
                    totals.injected,
                    totals.experiments,
                    100.0 * share,
                    100.0 * least
                )),
                None if totals.injected == 0 => campaign_failures.push(format!(
                    "no fault fired in any of the {} experiments (a campaign that injects nothing proves nothing; \
                     expect.min_injected = 0 accepts it)",
                    totals.experiments
                )),
                _ => {}
            }
        }
        Results { format: FORMAT, campaign, shard, totals, campaign_failures, experiments, timing }
    }

    /// Whether every experiment, and the run as a whole, met the expectations.
    pub fn passed(&self) -> bool {
        self.totals.failed == 0 && self.campaign_failures.is_empty()
    }

    /// Reads `results.json`.
    pub fn load(path: &Path) -> Result<Results, CampaignError> {
        let text = std::fs::read_to_string(path).map_err(|source| CampaignError::Io { path: path.into(), source })?;
        let results: Results =
            serde_json::from_str(&text).map_err(|source| CampaignError::Json { path: path.into(), source })?;
        if results.format != FORMAT {
            let why = format!("{}: results format {} (this viv reads {FORMAT})", path.display(), results.format);
            return Err(CampaignError::Results(why));
        }
        super::validate::check_results(&results.campaign, path)?;
        Ok(results)
    }

    /// Writes results.json, junit.xml and summary.md into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), CampaignError> {
        std::fs::create_dir_all(dir).map_err(|source| CampaignError::Io { path: dir.into(), source })?;
        // The replay hints name results.json as the user reached it (the
        // directory given to --out joined by the file), so they run from
        // where viv was started.
        let results = shell_word(&dir.join("results.json").display().to_string());
        let json = serde_json::to_string_pretty(self)
            .map_err(|source| CampaignError::Json { path: dir.join("results.json"), source })?;
        for (name, text) in [
            ("results.json", json + "\n"),
            ("junit.xml", self.junit_for(&results)),
            ("summary.md", self.markdown_for(&results)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| CampaignError::Io { path: path.clone(), source })?;
        }
        Ok(())
    }

    /// The JUnit XML report, its replay hints naming `results.json` bare.
    pub fn junit(&self) -> String {
        self.junit_for("results.json")
    }

    /// The JUnit XML report: one testsuite, one testcase per experiment;
    /// failed expectations are `<failure>`, VMM errors `<error>`; the
    /// replay hints name the results file `results`.
    pub fn junit_for(&self, results: &str) -> String {
        let name = xml(&self.campaign.name);
        let errors = self.experiments.iter().filter(|e| e.verdict.outcome == Outcome::VmmError).count();
        let whole_failed = usize::from(!self.campaign_failures.is_empty());
        let failures = self.totals.failed as usize - errors + whole_failed;
        let secs = self.timing.wall_secs;
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let tests = self.experiments.len() + usize::from(!self.experiments.is_empty());
        let counts = format!("tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\"");
        let _ = writeln!(x, "<testsuites name=\"viv campaign {name}\" {counts} time=\"{secs:.3}\">");
        let _ = writeln!(x, "  <testsuite name=\"{name}\" {counts} skipped=\"0\" time=\"{secs:.3}\">");
        let _ = writeln!(x, "    <properties>");
        for (key, value) in [
            ("image", self.campaign.image.clone()),
            ("workload", self.campaign.workload.clone()),
            ("seed", self.campaign.seed.to_string()),
            ("experiments", self.campaign.experiments.to_string()),
        ] {
            let _ = writeln!(x, "      <property name=\"{key}\" value=\"{}\"/>", xml(&value));
        }
        let _ = writeln!(x, "    </properties>");
        for e in &self.experiments {
            let case = format!("experiment {}: {}", e.index, e.description);
            let time = e.timing.wall_ms as f64 / 1000.0;
            let _ = write!(x, "    <testcase classname=\"campaign.{name}\" name=\"{}\" time=\"{time:.3}\"", xml(&case));
            let mutations = e.mutations();
            if e.verdict.failures.is_empty() && mutations.is_empty() {
                let _ = writeln!(x, "/>");
                continue;
            }
            let _ = writeln!(x, ">");
            if !e.verdict.failures.is_empty() {
                let tag = if e.verdict.outcome == Outcome::VmmError { "error" } else { "failure" };
                let mut body =
                    format!("outcome: {}\nexit: {}\n{mutations}", e.verdict.outcome.describe(), e.verdict.exit);
                for f in &e.verdict.failures {
                    body += &format!("- {f}\n");
                }
                body += &format!("replay: viv campaign replay {results} {}\n", e.index);
                if let Some(d) = &e.detail {
                    body += &format!("--- console (tail)\n{}\n--- log (tail)\n{}\n", d.console_tail, d.log_tail);
                }
                let message = xml(&e.verdict.failures.join("; "));
                let _ = writeln!(
                    x,
                    "      <{tag} message=\"{message}\" type=\"{}\">{}</{tag}>",
                    e.verdict.outcome.name(),
                    xml(&body)
                );
            }
            if !mutations.is_empty() {
                let _ = writeln!(x, "      <system-out>{}</system-out>", xml(&mutations));
            }
            let _ = writeln!(x, "    </testcase>");
        }
        if !self.experiments.is_empty() {
            let _ = write!(x, "    <testcase classname=\"campaign.{name}\" name=\"campaign: faults fired\" time=\"0\"");
            if self.campaign_failures.is_empty() {
                let _ = writeln!(x, "/>");
            } else {
                let message = xml(&self.campaign_failures.join("; "));
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{message}\" type=\"campaign\">{message}</failure>\n    </testcase>"
                );
            }
        }
        x += "  </testsuite>\n</testsuites>\n";
        x
    }

    /// The Markdown summary, its replay hint naming `results.json` bare.
    pub fn markdown(&self) -> String {
        self.markdown_for("results.json")
    }

    /// The Markdown summary; the replay hint names the results file `results`.
    pub fn markdown_for(&self, results: &str) -> String {
        let c = &self.campaign;
        let t = &self.totals;
        let mut m = format!("# Campaign `{}`\n\n", c.name);
        let verdict =
            if self.passed() { "**passed**".to_string() } else { format!("**failed** ({} experiments)", t.failed) };
        let _ = writeln!(m, "{verdict}: {} experiments, {} with an injected fault.\n", t.experiments, t.injected);
        for f in &self.campaign_failures {
            let _ = writeln!(m, "- campaign expectation failed: {f}\n");
        }
        let scope = match self.shard {
            Some(s) => format!("shard {}/{} of {}", s.index, s.count, c.experiments),
            None => format!("all {}", c.experiments),
        };
        let _ = writeln!(
            m,
            "Image `{}`, workload `{}`, seed {}, {scope} experiments started from {}, timeout {} s, file `{}`.\n",
            c.image,
            c.workload,
            c.seed,
            match c.start {
                super::StartFrom::Snapshot => "a snapshot",
                super::StartFrom::Boot => "a cold boot",
            },
            c.timeout_secs,
            c.file
        );
        m += "| outcome | experiments | share |\n|---|---:|---:|\n";
        for o in Outcome::ALL {
            let n = t.outcomes.get(o.name()).copied().unwrap_or(0);
            let share = if t.experiments == 0 { 0.0 } else { 100.0 * f64::from(n) / f64::from(t.experiments) };
            let _ = writeln!(m, "| {} | {n} | {share:.1} % |", o.describe());
        }
        self.by_fault_table(&mut m);
        let tm = &self.timing;
        let instructions = tm.median_kernel_instructions.map_or("n/a".to_string(), |n| n.to_string());
        let _ = write!(
            m,
            "\n## Throughput\n\n| what | value |\n|---|---:|\n| experiments per second | {:.2} |\n\
             | median wall time per experiment | {} ms |\n| median kernel instructions per experiment | {instructions} |\n\
             | parallel VMs | {} |\n| wall time | {:.1} s |\n",
            tm.experiments_per_second, tm.median_experiment_ms, tm.jobs, tm.wall_secs
        );
        if let Some(ms) = tm.median_vcpu_cpu_ms {
            let _ = writeln!(m, "| median host CPU per experiment (its vCPU thread) | {ms} ms |");
        }
        if let Some(us) = tm.vcpu_cpu_us_per_kernel_instruction {
            let _ = writeln!(m, "| host CPU per kernel instruction (vCPU threads) | {us:.2} µs |");
        }
        if let Some(secs) = tm.process_cpu_secs {
            let per = if self.experiments.is_empty() { 0.0 } else { secs / self.experiments.len() as f64 };
            let _ = writeln!(
                m,
                "| host CPU of the run (every thread, snapshot and baseline included) | {secs:.1} s ({per:.2} s per \
                 experiment) |"
            );
        }
        m.push('\n');
        let _ = match tm.snapshot_secs {
            Some(secs) => writeln!(
                m,
                "Experiments start from one snapshot taken where the workload starts ({secs:.1} s to boot and take \
                 it, included above), with copy-on-write memory and disk, on {}; kernel instructions count from the \
                 restore.",
                tm.host
            ),
            None => writeln!(m, "Every experiment cold-boots its own VM on {}.", tm.host),
        };
        self.mutations_table(&mut m);
        let failed: Vec<&ExperimentResult> =
            self.experiments.iter().filter(|e| !e.verdict.failures.is_empty()).collect();
        if !failed.is_empty() {
            m += "\n## Failed expectations\n\n| experiment | fault | outcome | what failed |\n|---:|---|---|---|\n";
            for e in failed.iter().take(100) {
                let what = e.verdict.failures.join("; ").replace('|', "\\|");
                let _ = writeln!(m, "| {} | {} | {} | {what} |", e.index, e.description, e.verdict.outcome.describe());
            }
            if failed.len() > 100 {
                let _ = writeln!(m, "\n… and {} more (results.json has them all).", failed.len() - 100);
            }
            let _ = writeln!(m, "\nReplay one with its full trace: `viv campaign replay {results} EXPERIMENT`.");
        }
        m
    }
}

impl Results {
    /// The "SWIFI mutations" section of the summary: one row per mutation
    /// (the first 100), when the campaign has SWIFI templates. The
    /// workload's status is shown whether or not it is judged: a SWIFI
    /// campaign that accepts any status still shows which copies failed.
    /// Outcome counts per fault kind ("blk crash", "tty swifi nop"), the
    /// breakdown dependability papers report: which faults a driver
    /// survives and which it does not.
    fn by_fault_table(&self, m: &mut String) {
        let mut rows: BTreeMap<String, BTreeMap<&str, u32>> = BTreeMap::new();
        for e in &self.experiments {
            let Some(rule) = e.plan.rules.first() else { continue };
            let fault = match &e.plan.swifi {
                Some(spec) => format!("{} swifi {}", rule.target, spec.kind.name()),
                None => format!("{} {}", rule.target, rule.action),
            };
            *rows.entry(fault).or_default().entry(e.verdict.outcome.name()).or_insert(0) += 1;
        }
        if rows.len() < 2 {
            return;
        }
        *m += "\n## Outcomes by fault\n\n| fault | experiments |";
        for o in Outcome::ALL {
            let _ = write!(m, " {} |", o.describe());
        }
        *m += "\n|---|---:|";
        *m += &"---:|".repeat(Outcome::ALL.len());
        for (fault, counts) in &rows {
            let _ = write!(m, "\n| {fault} | {} |", counts.values().sum::<u32>());
            for o in Outcome::ALL {
                let _ = write!(m, " {} |", counts.get(o.name()).copied().unwrap_or(0));
            }
        }
        *m += "\n";
    }

    fn mutations_table(&self, m: &mut String) {
        let rows: Vec<(&ExperimentResult, &Mutation)> =
            self.experiments.iter().flat_map(|e| e.swifi.iter().map(move |s| (e, s))).collect();
        if rows.is_empty() {
            return;
        }
        *m += "\n## SWIFI mutations\n\n| experiment | type | program | function | address | before → after | outcome | status |\n\
               |---:|---|---|---|---:|---|---|---:|\n";
        for (e, s) in rows.iter().take(100) {
            let (kind, outcome) = (s.kind.name(), e.verdict.outcome.describe());
            let status = e.verdict.workload_status.map_or("–".to_string(), |s| s.to_string());
            let cell = |t: &str| t.replace('|', "\\|");
            let what = match &s.error {
                Some(why) => format!("nothing mutated: {}", cell(why)),
                None => format!("`{}` → `{}`", hex(&s.before), hex(&s.after)),
            };
            let function = match (&s.function, s.function_offset) {
                (Some(f), Some(o)) => format!("`{}`+{o:#x}", cell(f)),
                _ => format!("({:?})", s.scope).to_lowercase(),
            };
            let _ = writeln!(
                m,
                "| {} | {kind} | {} | {function} | {:#x} | {what} | {outcome} | {status} |",
                e.index, s.program, s.address
            );
        }
        if rows.len() > 100 {
            let _ = writeln!(m, "\n… and {} more (results.json has them all).", rows.len() - 100);
        }
    }
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production): not the
/// control characters other than tab and newline (carriage returns are
/// dropped too, as line ends are newlines), and not
/// the noncharacters U+FFFE and U+FFFF (a guest may print either).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` quoted for a POSIX shell when it needs it (a replay hint, or
/// `viv export`'s QEMU command line, is pasted into one).
pub fn shell_word(text: &str) -> String {
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=,:@".contains(&b));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` escaped for XML attributes and content (characters XML 1.0
/// cannot carry dropped).
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if !xml_char(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A JSON value with every field named `timing` removed (for comparing
/// runs).
pub fn without_timing(mut value: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("timing");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

#[cfg(test)]
mod tests;
