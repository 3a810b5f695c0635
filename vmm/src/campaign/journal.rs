//! The campaign journal: every experiment's result, appended to the output
//! directory the moment it finishes, so that nothing done is lost.
//!
//! Why: a campaign may run for hours and be killed at any moment (`^C`,
//! SIGKILL, the OOM killer, a lost CI node). The reports are written only
//! at the end, so the journal, `experiments.jsonl` in `--out`, carries the
//! results meanwhile: a header line naming the campaign and shard, then
//! one JSON line per finished experiment, each written whole with one
//! `write` and synced. `viv campaign FILE --resume DIR` reads it back,
//! runs only the experiments it lacks, and writes the same reports an
//! uninterrupted run would have (a last line cut short by the kill is
//! dropped: that experiment runs again).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::report::ExperimentResult;
use super::{Campaign, CampaignError, Shard};

/// The journal's file name in the output directory.
pub const FILE_NAME: &str = "experiments.jsonl";
/// Format of the journal's header line.
const FORMAT: u32 = 1;

/// The first line: which campaign (and shard) the results belong to.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    journal: u32,
    campaign: Campaign,
    shard: Option<Shard>,
}

/// An open journal, shared by the worker threads.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CampaignError + '_ {
    move |source| CampaignError::Io { path: path.to_path_buf(), source }
}

impl Journal {
    /// Starts a new journal in `out` (replacing an earlier one).
    pub fn create(out: &Path, campaign: &Campaign, shard: Option<Shard>) -> Result<Journal, CampaignError> {
        std::fs::create_dir_all(out).map_err(io(out))?;
        let path = out.join(FILE_NAME);
        let file = File::create(&path).map_err(io(&path))?;
        let journal = Journal { path, file: Mutex::new(file) };
        let header = Header { journal: FORMAT, campaign: campaign.clone(), shard };
        journal.append_line(&serde_json::to_string(&header).map_err(|source| json(&journal.path, source))?)?;
        Ok(journal)
    }

    /// Reopens the journal in `out` for `campaign`/`shard` and returns the
    /// results it holds (at most one per index; a torn last line dropped).
    pub fn resume(
        out: &Path,
        campaign: &Campaign,
        shard: Option<Shard>,
    ) -> Result<(Journal, Vec<ExperimentResult>), CampaignError> {
        let path = out.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        // Only whole lines count: the kill may have cut the last one.
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        let mut lines = text[..complete].lines();
        let header: Header = match lines.next().map(serde_json::from_str) {
            Some(Ok(header)) => header,
            _ => return Err(problem(&path, "no journal header (not a campaign's output directory?)")),
        };
        if header.journal != FORMAT {
            return Err(problem(&path, &format!("journal format {} (this viv reads {FORMAT})", header.journal)));
        }
        if let Some(difference) = super::merge::campaign_difference(campaign, &header.campaign) {
            let why = difference.replace("in the first", "in the journal").replace("here", "in the file");
            return Err(problem(&path, &format!("the journal is of a different campaign than the one given ({why})")));
        }
        if header.shard != shard {
            return Err(problem(&path, "the journal is of a different shard than the one given"));
        }
        let mut results: Vec<ExperimentResult> = Vec::new();
        for (n, line) in lines.enumerate() {
            let result: ExperimentResult =
                serde_json::from_str(line).map_err(|e| problem(&path, &format!("line {}: {e}", n + 2)))?;
            if result.index >= campaign.experiments {
                return Err(problem(
                    &path,
                    &format!("line {}: experiment {} is not in the campaign", n + 2, result.index),
                ));
            }
            if !results.iter().any(|r| r.index == result.index) {
                results.push(result);
            }
        }
        let file = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
        file.set_len(complete as u64).map_err(io(&path))?;
        let mut file = file;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0)).map_err(io(&path))?;
        Ok((Journal { path, file: Mutex::new(file) }, results))
    }

    /// Appends one finished experiment.
    pub fn append(&self, result: &ExperimentResult) -> Result<(), CampaignError> {
        let line = serde_json::to_string(result).map_err(|source| json(&self.path, source))?;
        self.append_line(&line)
    }

    fn append_line(&self, line: &str) -> Result<(), CampaignError> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // One write of the whole line, then to the disk: a kill leaves
        // whole lines and at most one torn last line.
        file.write_all(format!("{line}\n").as_bytes()).map_err(io(&self.path))?;
        file.sync_data().map_err(io(&self.path))
    }
}

fn json(path: &Path, source: serde_json::Error) -> CampaignError {
    CampaignError::Json { path: path.to_path_buf(), source }
}

fn problem(path: &Path, what: &str) -> CampaignError {
    CampaignError::Results(format!("{}: {what}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::file::tests_support::campaign_with;

    fn result(index: u32) -> ExperimentResult {
        let c = campaign_with("");
        let p = crate::campaign::draw::plan(&c, index);
        let obs = crate::campaign::classify::Observation {
            console: "hi\n".into(),
            workload_status: Some(0),
            faults_injected: 1,
            ..crate::campaign::classify::Observation::nothing(crate::campaign::classify::Ending::PowerOff(0))
        };
        ExperimentResult {
            index,
            description: p.describe(),
            verdict: crate::campaign::classify::judge(&c, &p, &obs),
            plan: p,
            faults_injected: 1,
            fault_counters: Vec::new(),
            detail: None,
            swifi: Vec::new(),
            timing: crate::campaign::report::ExperimentTiming {
                wall_ms: 1,
                kernel_instructions: None,
                vm_exits: None,
                vcpu_cpu_ms: None,
            },
        }
    }

    #[test]
    fn a_torn_journal_resumes_with_its_whole_lines() {
        let out = std::env::temp_dir().join(format!("viv-journal-unit-{}", std::process::id()));
        let c = campaign_with("");
        let journal = Journal::create(&out, &c, None).unwrap();
        for i in [3, 0, 3] {
            journal.append(&result(i)).unwrap();
        }
        drop(journal);
        // A kill in the middle of the next line.
        let mut f = OpenOptions::new().append(true).open(out.join(FILE_NAME)).unwrap();
        f.write_all(b"{\"index\": 7, \"desc").unwrap();
        drop(f);
        let (journal, done) = Journal::resume(&out, &c, None).unwrap();
        assert_eq!(done.iter().map(|r| r.index).collect::<Vec<_>>(), [3, 0]);
        assert_eq!(done[0], result(3));
        journal.append(&result(7)).unwrap();
        drop(journal);
        let (_, done) = Journal::resume(&out, &c, None).unwrap();
        assert_eq!(done.iter().map(|r| r.index).collect::<Vec<_>>(), [3, 0, 7]);
        let mut other = c.clone();
        other.seed += 1;
        let err = Journal::resume(&out, &other, None).err().unwrap().to_string();
        assert!(err.contains("different campaign"), "{err}");
        assert!(Journal::resume(&out, &c, Some(Shard { index: 1, count: 2 })).is_err());
        std::fs::remove_dir_all(&out).unwrap();
    }
}
