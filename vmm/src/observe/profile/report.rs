//! A run's samples with names: folded stacks, speedscope JSON and the
//! top-N table (`docs/profiling.md` explains how to read them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::symbols::{ProgramElf, Symbolizer};
use super::{Mode, Samples};

/// Suffix of kernel frames in folded stacks (as `perf script` marks
/// them; flame graph tools colour them apart).
pub const KERNEL_SUFFIX: &str = "_[k]";

/// One frame with its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame {
    /// The function (demangled), or `[kernel]`/`[unknown]` when no
    /// symbol covers the address, `[kip entry stub]` for the KIP page.
    pub name: String,
    /// A kernel frame (else a user one).
    pub kernel: bool,
}

/// One sample with names: its process and its frames, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub process: String,
    pub mode: Mode,
    /// User frames (outermost first), then kernel frames; the last is
    /// where the vCPU was.
    pub frames: Vec<Frame>,
}

/// A run's profile.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The requested rate.
    pub hz: u32,
    /// One per sample, in the order taken.
    pub stacks: Vec<Stack>,
    /// Kicks whose registers could not be read.
    pub failed: u64,
    /// Samples not kept (past `MAX_SAMPLES`).
    pub dropped: u64,
}

/// The name of one address: `pc` is exact, a return address is looked up
/// one byte back (in its call instruction, which may end its function).
fn name_of(address: u64, is_return: bool, lookup: impl FnOnce(u64) -> Option<String>, unknown: &str) -> String {
    if address & !(abi::layout::PAGE_SIZE - 1) == abi::layout::KIP_CODE {
        return "[kip entry stub]".to_string();
    }
    let at = if is_return { address.saturating_sub(1) } else { address };
    lookup(at).unwrap_or_else(|| unknown.to_string())
}

impl Profile {
    /// Names the addresses of `samples` with the symbols of `kernel_elf`
    /// and of the programs `program_elf` finds.
    pub fn symbolize(samples: &Samples, kernel_elf: &[u8], program_elf: ProgramElf) -> Profile {
        let mut symbols = Symbolizer::new(kernel_elf, program_elf);
        let mut stacks = Vec::with_capacity(samples.samples.len());
        for s in &samples.samples {
            let mut frames = Vec::with_capacity(s.user.len() + s.kernel.len());
            for (i, &a) in s.user.iter().enumerate().rev() {
                let name = name_of(a, i > 0, |at| symbols.user(&s.process, at).map(str::to_string), "[unknown]");
                frames.push(Frame { name, kernel: false });
            }
            for (i, &a) in s.kernel.iter().enumerate().rev() {
                let name = name_of(a, i > 0, |at| symbols.kernel(at).map(str::to_string), "[kernel]");
                frames.push(Frame { name, kernel: true });
            }
            stacks.push(Stack { process: s.process.clone(), mode: s.mode, frames });
        }
        Profile { hz: samples.hz, stacks, failed: samples.failed, dropped: samples.dropped }
    }

    /// Folded stacks, one line per distinct stack: `process;outer;…;leaf
    /// count`, kernel frames suffixed [`KERNEL_SUFFIX`] (flamegraph.pl,
    /// inferno, speedscope all read it).
    pub fn folded(&self) -> String {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for s in &self.stacks {
            let mut line = s.process.replace([';', ' '], "_");
            for f in &s.frames {
                line.push(';');
                line.push_str(&f.name);
                if f.kernel {
                    line.push_str(KERNEL_SUFFIX);
                }
            }
            *counts.entry(line).or_default() += 1;
        }
        counts.into_iter().map(|(stack, n)| format!("{stack} {n}\n")).collect()
    }

    /// The profile in speedscope's file format (`"type": "sampled"`), one
    /// profile per process, most samples first; `name` names the file.
    pub fn speedscope(&self, name: &str) -> serde_json::Value {
        let mut frames: Vec<serde_json::Value> = Vec::new();
        let mut index: HashMap<&Frame, usize> = HashMap::new();
        let mut per_process: BTreeMap<&str, Vec<Vec<usize>>> = BTreeMap::new();
        for s in &self.stacks {
            let stack = s
                .frames
                .iter()
                .map(|f| {
                    *index.entry(f).or_insert_with(|| {
                        let file = if f.kernel { "kernel" } else { s.process.as_str() };
                        frames.push(json!({ "name": f.name, "file": file }));
                        frames.len() - 1
                    })
                })
                .collect();
            per_process.entry(&s.process).or_default().push(stack);
        }
        let mut processes: Vec<(&str, Vec<Vec<usize>>)> = per_process.into_iter().collect();
        processes.sort_by_key(|(_, samples)| std::cmp::Reverse(samples.len()));
        let profiles: Vec<serde_json::Value> = processes
            .into_iter()
            .map(|(process, samples)| {
                json!({
                    "type": "sampled",
                    "name": process,
                    "unit": "none",
                    "startValue": 0,
                    "endValue": samples.len(),
                    "weights": vec![1; samples.len()],
                    "samples": samples,
                })
            })
            .collect();
        json!({
            "$schema": "https://www.speedscope.app/file-format-schema.json",
            "shared": { "frames": frames },
            "profiles": profiles,
            "name": name,
            "activeProfileIndex": 0,
            "exporter": concat!("viv profile ", env!("CARGO_PKG_VERSION")),
        })
    }

    /// The top-N table: samples by mode, by process (user and kernel
    /// share), the `n` functions with the most self samples (kernel
    /// functions summed over all processes, user functions per process),
    /// and each busy process's own top functions.
    pub fn top(&self, n: usize) -> String {
        let total = self.stacks.len();
        let pct = |x: usize| if total == 0 { 0.0 } else { 100.0 * x as f64 / total as f64 };
        let secs = if self.hz == 0 { 0.0 } else { total as f64 / self.hz as f64 };
        let by_mode = |m: Mode| self.stacks.iter().filter(|s| s.mode == m).count();
        let mut out = format!(
            "{total} samples at {} Hz (~{secs:.1} s of guest time): user {:.1}%, kernel {:.1}%, idle {:.1}%\n",
            self.hz,
            pct(by_mode(Mode::User)),
            pct(by_mode(Mode::Kernel)),
            pct(by_mode(Mode::Idle)),
        );
        if self.failed > 0 || self.dropped > 0 {
            out += &format!("({} kicks without registers, {} samples past the limit)\n", self.failed, self.dropped);
        }
        // Per process.
        let mut procs: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for s in &self.stacks {
            let e = procs.entry(&s.process).or_default();
            match s.mode {
                Mode::User => e.0 += 1,
                _ => e.1 += 1,
            }
        }
        let mut procs: Vec<(&str, (usize, usize))> = procs.into_iter().collect();
        procs.sort_by_key(|&(name, (u, k))| (std::cmp::Reverse(u + k), name));
        out += &format!("\n{:<18} {:>8} {:>7} {:>7} {:>7}\n", "process", "samples", "share", "user", "kernel");
        for (name, (u, k)) in &procs {
            out += &format!("{name:<18} {:>8} {:>6.1}% {:>6.1}% {:>6.1}%\n", u + k, pct(u + k), pct(*u), pct(*k));
        }
        // Functions, all processes.
        let key = |s: &Stack, f: &Frame| {
            let owner = if f.kernel { "kernel".to_string() } else { s.process.clone() };
            (owner, f.name.clone())
        };
        let (self_counts, total_counts) = self.count(|_| true, key);
        out += &format!("\ntop {n} functions by self samples (share of all samples)\n");
        out += &format!("{:>7} {:>7}  {:<12} function\n", "self", "total", "in");
        for ((owner, name), c, t) in ranked(&self_counts, &total_counts, n) {
            out += &format!("{:>6.1}% {:>6.1}%  {owner:<12} {name}\n", pct(c), pct(t));
        }
        // Per process, its top functions (kernel ones: what the kernel
        // did while serving it).
        for (process, _) in procs.iter().take(6) {
            let (self_counts, total_counts) = self.count(|s| s.process == *process, key);
            out += &format!("\n{process}: top {} by self samples\n", n.min(8));
            for ((owner, name), c, t) in ranked(&self_counts, &total_counts, n.min(8)) {
                let place = if owner == "kernel" { "kernel" } else { "user" };
                out += &format!("{:>6.1}% {:>6.1}%  {place:<12} {name}\n", pct(c), pct(t));
            }
        }
        out
    }

    /// Self and total samples per key over the stacks `which` selects
    /// (total: each key once per stack).
    #[allow(clippy::type_complexity)]
    fn count<K: Ord + Clone>(
        &self,
        which: impl Fn(&Stack) -> bool,
        key: impl Fn(&Stack, &Frame) -> K,
    ) -> (BTreeMap<K, usize>, BTreeMap<K, usize>) {
        let (mut self_counts, mut total_counts) = (BTreeMap::new(), BTreeMap::new());
        for s in self.stacks.iter().filter(|s| which(s)) {
            if let Some(leaf) = s.frames.last() {
                *self_counts.entry(key(s, leaf)).or_default() += 1;
            }
            let seen: BTreeSet<K> = s.frames.iter().map(|f| key(s, f)).collect();
            for k in seen {
                *total_counts.entry(k).or_default() += 1;
            }
        }
        (self_counts, total_counts)
    }
}

/// The `n` keys with the most self samples, then the most total ones
/// (a function that is never the leaf still shows its total): (key,
/// self, total), most first, ties by key.
fn ranked<K: Ord + Clone>(
    self_counts: &BTreeMap<K, usize>,
    total_counts: &BTreeMap<K, usize>,
    n: usize,
) -> Vec<(K, usize, usize)> {
    let mut v: Vec<(K, usize, usize)> =
        total_counts.iter().map(|(k, &t)| (k.clone(), self_counts.get(k).copied().unwrap_or(0), t)).collect();
    v.sort_by(|a, b| (b.1, b.2).cmp(&(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(process: &str, mode: Mode, frames: &[(&str, bool)]) -> Stack {
        let frames = frames.iter().map(|&(n, k)| Frame { name: n.into(), kernel: k }).collect();
        Stack { process: process.into(), mode, frames }
    }

    fn profile() -> Profile {
        let a = stack("sh", Mode::User, &[("main", false), ("work", false)]);
        let b = stack("sh", Mode::Kernel, &[("main", false), ("trap_entry", true), ("dispatch", true)]);
        Profile { hz: 100, stacks: vec![a.clone(), a, b], failed: 0, dropped: 0 }
    }

    #[test]
    fn folded_lines_count_each_stack() {
        let text = profile().folded();
        assert_eq!(text, "sh;main;trap_entry_[k];dispatch_[k] 1\nsh;main;work 2\n");
    }

    #[test]
    fn speedscope_has_one_sampled_profile_per_process() {
        let v = profile().speedscope("test");
        assert_eq!(v["shared"]["frames"].as_array().unwrap().len(), 4);
        let p = &v["profiles"][0];
        assert_eq!(p["type"], "sampled");
        assert_eq!(p["samples"].as_array().unwrap().len(), 3);
        assert_eq!(p["weights"].as_array().unwrap().len(), 3);
        assert_eq!(p["samples"][2], json!([0, 2, 3]));
    }

    #[test]
    fn the_table_has_self_and_total_shares() {
        let t = profile().top(10);
        assert!(t.starts_with("3 samples at 100 Hz"), "{t}");
        assert!(t.contains("user 66.7%, kernel 33.3%, idle 0.0%"), "{t}");
        assert!(t.lines().any(|l| l.contains("66.7%") && l.contains("sh") && l.ends_with("work")), "{t}");
        // main is in every stack but never the leaf.
        assert!(t.lines().any(|l| l.trim_start().starts_with("33.3%") && l.ends_with("dispatch")), "{t}");
    }
}
