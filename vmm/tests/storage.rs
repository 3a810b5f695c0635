//! The disk root end to end: `viv exec --disk FILE` in the `system` image
//! (blk, ext2fs, VFS with the disk as root). Files of 0 bytes, 1 byte,
//! one block and several MiB are written (`fill`), summed (`sum`, CRC-32),
//! copied, renamed and removed; afterwards `e2fsck -fn` judges the image
//! and `debugfs` reads the files back on the host. A synced file survives
//! the next boot; a copy during which the disk driver is restarted
//! completes with the right bytes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const VIV: &str = env!("CARGO_BIN_EXE_viv");

/// Runs `viv exec --disk DISK CMD`; returns (stdout, exit status).
fn exec(disk: &Path, command: &str) -> (String, i32) {
    let output = Command::new(VIV)
        .args(["exec", "--timeout", "300", "--disk"])
        .arg(disk)
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("running viv");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (format!("{stdout}{stderr}"), output.status.code().expect("viv killed by a signal"))
}

/// CRC-32 (IEEE), as `sum` prints it.
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

fn sum_line(data: &[u8], name: &str) -> String {
    format!("{:08x} {} {}", crc32(data), data.len(), name)
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

fn disk_in(name: &str) -> PathBuf {
    common::scratch_dir(name).join("disk.img")
}

#[test]
fn files_of_every_size_round_trip_through_the_disk() {
    let disk = disk_in("sizes");
    let sizes = [("/z", 0usize), ("/one", 1), ("/blk", 1024), ("/big", 3 << 20)];
    let mut command = String::new();
    for (name, size) in sizes {
        command += &format!("fill {size} {name}; ");
    }
    command += "cp /big /big2; sum /z /one /blk /big /big2";
    let (out, status) = exec(&disk, &command);
    assert_eq!(status, 0, "output:\n{out}");
    for (name, size) in sizes {
        assert!(has_line(&out, &sum_line(&common::pattern(size), name)), "no sum for {name}:\n{out}");
    }
    assert!(has_line(&out, &sum_line(&common::pattern(3 << 20), "/big2")), "output:\n{out}");
    common::assert_fsck_clean(&disk);
    for (name, size) in sizes {
        assert!(common::debugfs_cat(&disk, name) == common::pattern(size), "debugfs reads other bytes for {name}");
    }
    assert!(common::debugfs_cat(&disk, "/big2") == common::pattern(3 << 20));
}

#[test]
fn rename_unlink_mkdir_rmdir_on_the_disk() {
    let disk = disk_in("names");
    let command = "mkdir /d; echo text > /d/a; mv /d/a /d/b; cat /d/b; ls /d; rm /d/b; rmdir /d; ls /; \
                   mkdir /e; echo x > /e/f; rmdir /e; echo rmdir-status $?; ls /bin; cat /etc/motd";
    let (out, status) = exec(&disk, command);
    assert_eq!(status, 0, "output:\n{out}");
    assert!(has_line(&out, "text") && has_line(&out, "b"), "output:\n{out}");
    assert!(!has_line(&out, "d"), "output:\n{out}");
    assert!(has_line(&out, "rmdir-status 1"), "a non-empty directory was removed:\n{out}");
    assert!(has_line(&out, "sum") && has_line(&out, "Welcome to Vivarium."), "output:\n{out}");
    common::assert_fsck_clean(&disk);
    assert_eq!(common::debugfs_cat(&disk, "/e/f"), b"x\n");
}

#[test]
fn a_synced_file_survives_the_next_boot() {
    let disk = disk_in("persist");
    let (out, status) = exec(&disk, "echo kept > /kept; sync");
    assert_eq!(status, 0, "output:\n{out}");
    let (out, status) = exec(&disk, "cat /kept");
    assert_eq!(status, 0, "output:\n{out}");
    assert!(has_line(&out, "kept"), "output:\n{out}");
    common::assert_fsck_clean(&disk);
}

#[test]
fn a_copy_survives_a_disk_driver_restart() {
    let disk = disk_in("restart");
    let (out, status) = exec(&disk, "fill 2M /big; sync");
    assert_eq!(status, 0, "output:\n{out}");
    // The pipeline runs both at once: the driver is restarted while cp
    // reads and writes.
    let (out, status) = exec(&disk, "cp /big /big2 | service restart blk; sum /big /big2; service");
    assert_eq!(status, 0, "output:\n{out}");
    let data = common::pattern(2 << 20);
    assert!(has_line(&out, &sum_line(&data, "/big2")), "output:\n{out}");
    common::assert_fsck_clean(&disk);
    assert!(common::debugfs_cat(&disk, "/big2") == data);
}

#[test]
fn a_malformed_disk_is_refused_with_its_name() {
    let dir = common::scratch_dir("malformed");
    let disk = dir.join("junk.img");
    std::fs::write(&disk, vec![0x5Au8; 1 << 20]).unwrap();
    let (out, status) = exec(&disk, "true");
    assert_eq!(status, 120, "output:\n{out}");
    assert!(out.lines().any(|l| l.contains("junk.img") && l.contains("not an ext2")), "output:\n{out}");
}

#[test]
fn programs_are_executed_from_the_disk() {
    let disk = disk_in("exec");
    // hello2 exists only on the disk (a copy of echo): PM reads it through
    // VFS and the kernel execs it from PM's buffer. A text file is no
    // program.
    let command = "cp /bin/echo /bin/hello2; hello2 from the disk; cp /etc/motd /bin/notelf; notelf; echo notelf $?";
    let (out, status) = exec(&disk, command);
    assert_eq!(status, 0, "output:\n{out}");
    assert!(has_line(&out, "from the disk"), "output:\n{out}");
    assert!(out.lines().any(|l| l.starts_with("notelf ") && l != "notelf 0"), "output:\n{out}");
}
