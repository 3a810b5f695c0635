//! Evidence the campaign judges by that the guest's programs cannot forge.
//!
//! Console and log text is written by any program (`DiagWrite` is open to
//! all), so a workload printing `rs: tty ... restarting now` could pass
//! for a recovered experiment, and one printing `status 0` before it fails
//! for a successful one. So:
//!
//! - restarts are counted by the kernel, which alone starts boot-image
//!   programs (a privileged kernel call), in the fault-plan region
//!   (`abi::fault::RESTART_COUNTS_OFFSET`);
//! - the workload's and the check's exit statuses are recorded by the
//!   kernel when their shells end (`abi::fault::STATUS_OFFSET`; init runs
//!   each in its own shell and marks which is which, and the kernel takes
//!   those marks from init only);
//! - the console is split between the workload's and the check's output
//!   where the VMM saw init's `MARK_CHECK_START` (a mark the kernel
//!   refuses to anyone else), never at a line any program could print.
//!
//! The host reads them all back after the run.

use std::collections::BTreeMap;

/// Restarts per service name, from the kernel's per-program counts
/// (`counts[i]`: program `i` of the image, named `programs[i]`); programs
/// never restarted are left out.
pub fn restarts(counts: &[u32], programs: &[String]) -> BTreeMap<String, u32> {
    counts.iter().zip(programs).filter(|(&n, _)| n > 0).map(|(&n, name)| (name.clone(), n)).collect()
}

/// Guest text as the reports show it: lossy UTF-8, `\r\n` as `\n`.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}

/// The console as text, and where the check's output begins in it:
/// `check_at` is the byte count the VMM saw before init's
/// `MARK_CHECK_START` (`None`: the check never started). Each side is
/// converted alone, so the boundary stays where the mark put it.
pub fn console_text(raw: &[u8], check_at: Option<usize>) -> (String, Option<usize>) {
    match check_at {
        None => (text(raw), None),
        Some(at) => {
            let (workload, check) = raw.split_at(at.min(raw.len()));
            let workload = text(workload);
            let at = workload.len();
            (workload + &text(check), Some(at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_splits_where_the_check_mark_was() {
        let raw = b"tiny\r\n@viv-check=0\r\ndata\r\n";
        assert_eq!(console_text(raw, None), ("tiny\n@viv-check=0\ndata\n".to_string(), None));
        let (console, at) = console_text(raw, Some(20));
        assert_eq!((&console[..at.unwrap()], &console[at.unwrap()..]), ("tiny\n@viv-check=0\n", "data\n"));
        // A `\r\n` cut by the mark, and a mark past the end.
        assert_eq!(console_text(b"a\r\nb", Some(2)), ("a\r\nb".to_string(), Some(2)));
        assert_eq!(console_text(b"ab", Some(9)), ("ab".to_string(), Some(2)));
    }

    #[test]
    fn counts_are_named_by_image_index() {
        let programs: Vec<String> = ["rs", "ds", "tty"].map(String::from).to_vec();
        let got = restarts(&[0, 0, 2, 7], &programs);
        assert_eq!(got, BTreeMap::from([("tty".to_string(), 2)]));
        assert!(restarts(&[], &programs).is_empty());
    }
}
