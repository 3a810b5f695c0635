//! Evidence the campaign judges by that the guest's programs cannot forge.
//!
//! Console and log text is written by any program (`DiagWrite` is open to
//! all), so a workload printing `rs: tty ... restarting now` could pass
//! for a recovered experiment. Restarts are therefore counted by the
//! kernel, which alone starts boot-image programs (a privileged kernel
//! call), in the fault-plan region (`abi::fault::RESTART_COUNTS_OFFSET`),
//! and read back by the host after the run.

use std::collections::BTreeMap;

/// Restarts per service name, from the kernel's per-program counts
/// (`counts[i]`: program `i` of the image, named `programs[i]`); programs
/// never restarted are left out.
pub fn restarts(counts: &[u32], programs: &[String]) -> BTreeMap<String, u32> {
    counts.iter().zip(programs).filter(|(&n, _)| n > 0).map(|(&n, name)| (name.clone(), n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_named_by_image_index() {
        let programs: Vec<String> = ["rs", "ds", "tty"].map(String::from).to_vec();
        let got = restarts(&[0, 0, 2, 7], &programs);
        assert_eq!(got, BTreeMap::from([("tty".to_string(), 2)]));
        assert!(restarts(&[], &programs).is_empty());
    }
}
