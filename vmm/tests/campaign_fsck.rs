//! Campaigns that judge the disk (`expect.fsck`, docs/campaigns.md): a
//! fault that redirects one ext2fs → blk WRITE onto a directory block
//! (an overwrite of the request's position) is refused by the driver,
//! whose check word on the request no longer fits, and sent again, so the
//! disk stays clean; with that check switched off (`weaken =
//! ["blk_request_check"]`) the same fault is classed `corrupted` (every
//! check the file server makes on the reply passes: the driver did write
//! that many bytes, only elsewhere). The weakened one starts from a
//! snapshot (its disk is a private mapping the VMM writes out), the
//! defended one cold-boots (a disk file).

mod common;

use std::path::Path;
use std::process::Command;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The first block of directory `dir` on `disk` (debugfs `blocks`).
fn first_block(disk: &Path, dir: &str) -> u64 {
    let out = Command::new(common::e2fs_tool("debugfs"))
        .args(["-R", &format!("blocks {dir}")])
        .arg(disk)
        .output()
        .expect("running debugfs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().and_then(|b| b.parse().ok()).unwrap_or_else(|| panic!("no block of {dir}: {text}"))
}

/// Writes a one-experiment campaign on `disk.img` with fault `fault` and
/// runs it; returns (viv's status, results.json).
fn run_campaign(
    dir: &Path,
    name: &str,
    start: &str,
    weaken: &str,
    fault: &str,
    exit_status: i32,
) -> (i32, serde_json::Value) {
    let text = format!(
        "name = \"{name}\"\nimage = \"system\"\ndisk = \"disk.img\"\nworkload = \"fill 20000 /f && sync\"\n\
         experiments = 1\nseed = 5\ntimeout = 120\nstart = \"{start}\"\nweaken = [{weaken}]\n\n\
         [[fault]]\ntargets = [\"blk\"]\n\
         peers = [\"ext2fs\"]\nprimitives = [\"senda\"]\nmessage_types = [{write}]\nnth = 1\n{fault}\n\n\
         [expect]\nexit_status = {exit_status}\nfsck = true\nmin_injected = 1.0\n",
        write = abi::proto::blockdev::WRITE,
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out_dir = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_viv"))
        .args(["campaign", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--jobs", "1"])
        .output()
        .expect("running viv");
    let status = out.status.code().expect("viv killed by a signal");
    assert!(status == 0 || status == 1, "{}", String::from_utf8_lossy(&out.stderr));
    (status, json(&out_dir.join("results.json")))
}

#[test]
fn a_write_redirected_onto_a_directory_is_refused_and_resent_and_corrupts_only_without_the_check() {
    let dir = common::scratch_dir("campaign-fsck");
    let disk = dir.join("disk.img");
    let config = vmm::RunConfig::for_image("system").expect("system image");
    let sparse = vmm::devices::disk_image::default_for(&config.archive).expect("the system image has a disk");
    vmm::devices::disk_image::write_disk(sparse, &disk).expect("writing the disk");
    common::assert_fsck_clean(&disk);
    // /etc is a directory the workload never touches: the first WRITE of
    // the workload lands on its block instead of where it belongs.
    let etc = first_block(&disk, "/etc") * 1024;

    let redirect = format!("actions = [\"overwrite\"]\narg_a = 8\narg_b = {etc}");
    let weakened = format!("\"{}\"", abi::weaken::BLK_REQUEST_CHECK);
    let (status, results) = run_campaign(&dir, "redirect", "snapshot", &weakened, &redirect, -1);
    let experiment = &results["experiments"][0];
    assert_eq!(experiment["faults_injected"], 1, "{experiment:#}");
    assert_eq!(experiment["outcome"], "corrupted", "{experiment:#}");
    assert_eq!(results["totals"]["outcomes"]["corrupted"], 1);
    assert!(experiment["failures"][0].as_str().unwrap().contains("e2fsck"), "{experiment:#}");
    assert_eq!(status, 1, "a corrupted disk fails the campaign");
    // The campaign's own disk is never written.
    common::assert_fsck_clean(&disk);

    // Defended: blk refuses the garbled WRITE (BadRequest), ext2fs has
    // it restarted and sends the WRITE again; the copy and the disk are
    // whole.
    let (status, results) = run_campaign(&dir, "refused", "boot", "", &redirect, 0);
    let experiment = &results["experiments"][0];
    assert_eq!(experiment["faults_injected"], 1, "{experiment:#}");
    assert_eq!(experiment["outcome"], "recovered", "{experiment:#}");
    assert_eq!(experiment["restarts"]["blk"], 1, "{experiment:#}");
    assert_eq!(results["totals"]["outcomes"]["corrupted"], 0);
    assert_eq!(status, 0, "{results:#}");
}
