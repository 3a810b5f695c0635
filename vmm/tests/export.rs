//! `viv export` of the system image: the kernel, boot image and disk it
//! writes boot under QEMU (TCG, `microvm`) with the root file system on
//! the disk, and a command reads a file from it.
mod common;

use std::process::Command;

#[test]
fn the_exported_system_boots_under_qemu_and_reads_its_disk() {
    let dir = common::scratch_dir("export-system");
    let append = format!("{}cat /etc/motd", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    let exported = vmm::commands::export::export_files("system", &dir, &append).unwrap();
    let disk = exported.disk.clone().expect("the system image has a disk");
    let motd = String::from_utf8(common::debugfs_cat(&disk, "/etc/motd")).unwrap();
    assert!(motd.trim().len() > 10, "{motd:?}");
    // The printed line names the same files and machine.
    let line = vmm::commands::export::export("system", &dir, &append).unwrap();
    assert!(line.contains("microvm") && line.contains(&disk.display().to_string()), "{line}");

    let output = Command::new("timeout").arg("300").args(&exported.qemu).output().expect("running QEMU");
    let console = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    // isa-debug-exit: QEMU exits with 2 * status + 1.
    assert_eq!(output.status.code(), Some(1), "{console}\n{}", String::from_utf8_lossy(&output.stderr));
    for line in motd.lines().filter(|l| !l.trim().is_empty()) {
        assert!(console.contains(line), "the console lacks {line:?}:\n{console}");
    }
    common::assert_fsck_clean(&disk);
    let _ = std::fs::remove_dir_all(&dir);
}
