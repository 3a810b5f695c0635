//! The ext2 file server end to end under KVM: the `fs-test` image boots
//! with a disk image made on the host by `mke2fs`, and `fs_probe` talks the
//! file-server protocol to `ext2fs`, which reads and writes the disk
//! through the `blk` driver. Judged from both sides: the probe's report on
//! the console, and the image on the host (`e2fsck -fn` must find nothing
//! to fix, `debugfs` must read back the bytes the guest wrote). Also: a
//! second boot sees the first boot's files, a driver killed in the middle
//! of a 1 MiB write (between two requests, or with a request outstanding
//! at it) costs nothing, and a disk without a file system is
//! refused while the server stays up answering `Unavailable`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vmm::vstate::config::RunConfig;
use vmm::vstate::outcome::Exit;

/// Byte `i` of pattern `tag`, as in `guest-servers/programs/src/bin/fs_probe.rs`.
fn pattern(tag: u8, i: usize) -> u8 {
    ((i * 31 + usize::from(tag) * 7) ^ (i >> 9)) as u8
}

const HOST_LINE: &str = "hello from the host\n";

/// Files the full run leaves behind: (path, pattern tag, length).
const FILES: [(&str, u8, usize); 5] =
    [("/empty", 0, 0), ("/one", 1, 1), ("/block", 2, 1024), ("/big", 3, 1 << 20), ("/renamed.txt", 4, 3000)];

const FULL: &[&str] = &[
    "host_file",
    "empty",
    "empty_read",
    "one_byte",
    "one_byte_read",
    "one_block",
    "one_block_read",
    "big_write",
    "big_read",
    "mkdir_rmdir",
    "path_lookup",
    "rename",
    "rename_read",
    "unlink",
    "readdir",
    "stat",
    "statfs",
    "sync",
];

fn tool(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = format!("{dir}/{name}");
        if Path::new(&p).exists() {
            return p;
        }
    }
    panic!("e2fsprogs is missing: `{name}` not found (scripts/setup installs it)")
}

/// A 16 MiB ext2 image with 1 KiB blocks holding `/hello.txt`.
fn make_image(tag: &str) -> PathBuf {
    let dir = common::scratch_dir(&format!("ext2-{tag}"));
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("hello.txt"), HOST_LINE.repeat(100)).unwrap();
    let img = dir.join("disk.img");
    let out = Command::new(tool("mke2fs"))
        .args(["-q", "-t", "ext2", "-b", "1024", "-d"])
        .arg(&tree)
        .arg(&img)
        .arg("16M")
        .output()
        .unwrap();
    assert!(out.status.success(), "mke2fs: {}", String::from_utf8_lossy(&out.stderr));
    img
}

/// Boots fs-test on `disk` in `mode`; returns the console after checking
/// that exactly `cases` were reported ok and the probe found no failure.
fn boot(disk: &Path, mode: &str, cases: &[&str]) -> String {
    let mut config = RunConfig::for_image("fs-test").unwrap();
    config.disk = Some(disk.to_path_buf());
    config.append = format!("fs_probe.mode={mode}");
    config.timeout = Some(Duration::from_secs(180));
    let outcome = vmm::run(&config).expect("booting fs-test");
    let console = outcome.console_text();
    let ok: Vec<&str> = console.lines().filter_map(|l| l.strip_prefix("fs_probe: ")?.strip_suffix(" ok")).collect();
    assert_eq!(ok, cases, "cases reported ok, in order ({mode})\nconsole:\n{console}");
    assert!(console.lines().any(|l| l == "fs_probe: done, 0 failed"), "console:\n{console}");
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    console
}

/// `e2fsck -fn` must find nothing wrong.
fn fsck(img: &Path) {
    let out = Command::new(tool("e2fsck")).arg("-fn").arg(img).output().unwrap();
    assert!(
        out.status.success(),
        "e2fsck -fn {}: {:?}\n{}{}",
        img.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The contents of `path` in the image, by debugfs.
fn cat(img: &Path, path: &str) -> Vec<u8> {
    let out = Command::new(tool("debugfs")).arg("-R").arg(format!("cat {path}")).arg(img).output().unwrap();
    assert!(out.status.success(), "debugfs cat {path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn assert_file(img: &Path, path: &str, tag: u8, len: usize) {
    let got = cat(img, path);
    let want: Vec<u8> = (0..len).map(|i| pattern(tag, i)).collect();
    assert_eq!(got.len(), len, "{path}: length in the image");
    assert!(got == want, "{path}: the bytes in the image differ from what the guest wrote");
}

/// The server's data-path counters from its SYNC report: (bytes copied
/// between clients' grants and the server, driver requests).
fn copied(console: &str) -> (u64, u64) {
    let line = console.lines().rfind(|l| l.starts_with("ext2fs: stats:")).expect("no stats line");
    let number_before = |what: &str| -> u64 {
        let at = line.find(what).unwrap_or_else(|| panic!("{what:?} not in {line:?}"));
        line[..at].split_whitespace().last().unwrap().trim_start_matches('(').parse().unwrap()
    };
    (number_before(" bytes copied"), number_before(" requests ("))
}

#[test]
fn files_written_by_the_guest_are_in_the_image_and_survive_a_reboot() {
    let img = make_image("persist");
    let console = boot(&img, "full", FULL);
    assert!(console.contains("ext2fs: mounted ext2, 16384 blocks of 1024 bytes"), "console:\n{console}");
    // One safe copy per byte of file data: what the probe wrote (0 + 1 +
    // 1024 + 1 MiB + 3000 + 5000) and read back (2000 + 1 + 1024 + 1 MiB +
    // 3000).
    let data = (1 + 1024 + (1 << 20) + 3000 + 5000) + (2000 + 1 + 1024 + (1 << 20) + 3000);
    let (bytes, requests) = copied(&console);
    assert_eq!(bytes, data, "bytes the server copied to and from its client");
    // Gathered writes and read-ahead: far fewer driver requests than the
    // 2 x 1024 blocks of the big file.
    assert!(requests < 200, "{requests} driver requests");
    fsck(&img);
    for (path, tag, len) in FILES {
        assert_file(&img, path, tag, len);
    }
    assert_eq!(cat(&img, "/hello.txt"), HOST_LINE.repeat(100).as_bytes());
    let ls = Command::new(tool("debugfs")).args(["-R", "ls -l /"]).arg(&img).output().unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout);
    for gone in ["gone", "tmp", " dir"] {
        assert!(!ls.contains(gone), "{gone:?} is still in the root:\n{ls}");
    }

    let persist = [
        "persist_one",
        "persist_block",
        "persist_big",
        "persist_renamed",
        "persist_names",
        "second_boot_write",
        "sync",
    ];
    boot(&img, "verify", &persist);
    fsck(&img);
    assert_file(&img, "/second", 6, 70_000);
    assert_file(&img, "/big", 3, 1 << 20);
}

#[test]
fn a_driver_killed_in_the_middle_of_a_write_costs_nothing() {
    let img = make_image("kill");
    let mut cases = FULL.to_vec();
    cases.insert(cases.iter().position(|c| *c == "big_write").unwrap() + 1, "killed_driver");
    let console = boot(&img, "kill", &cases);
    assert!(console.contains("rs: blk (ep 3.0) exited with status 109"), "console:\n{console}");
    assert!(console.contains("ext2fs: disk driver now at"), "console:\n{console}");
    assert_eq!(console.matches("blk: virtio-blk with").count(), 2, "console:\n{console}");
    fsck(&img);
    for (path, tag, len) in FILES {
        assert_file(&img, path, tag, len);
    }
}

#[test]
fn a_driver_killed_with_a_request_outstanding_gets_it_again_from_its_successor() {
    let mut cases = FULL.to_vec();
    cases.insert(cases.iter().position(|c| *c == "big_write").unwrap(), "spawned_killer");
    // blk_killer kills blk when it finds it busy, which is nearly always in
    // the middle of a request; busy with a heartbeat instead, nothing is
    // outstanding and there is nothing to resend. Every boot must still
    // leave intact files and a clean disk; the resend must show within
    // three boots.
    let mut resent = false;
    for attempt in 0..3 {
        let img = make_image(&format!("inflight{attempt}"));
        let console = boot(&img, "inflight", &cases);
        assert!(console.contains("blk_killer: killed blk in the middle of a request"), "console:\n{console}");
        let stats = console.lines().rfind(|l| l.starts_with("ext2fs: stats:")).unwrap();
        assert!(stats.ends_with(" restarts") && stats.contains(", 1 restarts"), "{stats}");
        fsck(&img);
        for (path, tag, len) in FILES {
            assert_file(&img, path, tag, len);
        }
        if stats.ends_with("1 resent, 1 restarts") {
            resent = true;
            break;
        }
    }
    assert!(resent, "in three boots the killed driver never had a request outstanding to resend");
}

#[test]
fn a_disk_without_ext2_is_refused_and_the_server_answers_unavailable() {
    let img = make_image("corrupt");
    // Zero the superblock (bytes 1024..2048).
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[1024..2048].fill(0);
    std::fs::write(&img, &bytes).unwrap();
    let console = boot(&img, "corrupt", &["unavailable", "still_up"]);
    assert!(
        console.contains("ext2fs: refusing the disk: not a usable ext2 file system"),
        "no clear message on the console:\n{console}"
    );
    assert!(!console.contains("panic"), "console:\n{console}");
    // The server never wrote to the disk it refused.
    assert_eq!(std::fs::read(&img).unwrap(), bytes);
}
