//! Helpers shared by the integration tests that boot the real guest.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use vmm::vstate::config::RunConfig;
use vmm::vstate::outcome::RunOutcome;

/// Boots `image` under KVM with `append` on the command line and returns
/// what happened. Fails the test on a host error (no KVM, no image).
pub fn boot(image: &str, append: &str, timeout_secs: f64) -> RunOutcome {
    let mut config = RunConfig::for_image(image).unwrap_or_else(|e| panic!("image {image}: {e}"));
    config.append = append.to_string();
    config.timeout = Some(Duration::from_secs_f64(timeout_secs));
    vmm::run(&config).unwrap_or_else(|e| panic!("booting {image} failed on the host: {e}"))
}

/// Boots `image` under QEMU (TCG, so the kernel takes the `syscall` entry)
/// and returns (console output, exit status of the guest).
pub fn boot_qemu(image: &str, append: &str) -> (String, i32) {
    let qemu = "qemu-system-x86_64";
    assert!(
        Command::new(qemu).arg("--version").output().is_ok(),
        "{qemu} not found: run scripts/setup (installs qemu-system-x86)"
    );
    let config = RunConfig::for_image(image).unwrap();
    let dir = scratch_dir(&format!("qemu-{image}"));
    let kernel = dir.join("kernel.elf");
    let initrd = dir.join(format!("{image}.img"));
    std::fs::write(&kernel, &config.kernel).unwrap();
    std::fs::write(&initrd, &config.archive).unwrap();
    let cmdline = vmm::vstate::config::build_cmdline(&config.image_cmdline, abi::layout::EntryKind::Syscall, append);
    let output = Command::new("timeout")
        .arg("120")
        .arg(qemu)
        .args(["-kernel", kernel.to_str().unwrap(), "-initrd", initrd.to_str().unwrap()])
        .args(["-append", &cmdline])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-serial", "stdio", "-display", "none", "-no-reboot", "-m", "128", "-cpu", "max"])
        .output()
        .expect("running QEMU");
    // isa-debug-exit exits with (status << 1) | 1.
    let code = output.status.code().expect("QEMU killed by a signal");
    assert!(code & 1 == 1, "QEMU did not exit through the power-off port: {code}");
    (String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"), code >> 1)
}

/// A fresh directory for one test's files.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("viv-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Console lines with host-dependent details replaced: the entry kind,
/// cycle counts and free memory.
pub fn normalized_lines(console: &str) -> Vec<String> {
    console
        .lines()
        .map(|line| {
            let line = line.replace("Trap entry", "<entry> entry").replace("Syscall entry", "<entry> entry");
            let words: Vec<String> = line
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    let next = line.split(' ').nth(i + 1).unwrap_or("");
                    if w.chars().all(|c| c.is_ascii_digit()) && (next == "cycles" || next == "MiB") {
                        "<n>".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            words.join(" ")
        })
        .collect()
}

/// The function of program `program` in image `image` whose body holds
/// the `len` bytes at `address` (its demangled name), found with object's
/// generic ELF reader, apart from `vmm::inject::swifi::code_map`: an `STT_FUNC`
/// symbol covering the bytes, which also lie within the file bytes of an
/// executable segment. `None` when there is no such function.
pub fn function_holding(image: &str, program: &str, address: u64, len: u64) -> Option<String> {
    use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
    let archive = vmm::image::embedded::find_image(image).unwrap().archive;
    let boot = abi::boot_image::BootImage::parse(archive).unwrap();
    let index = boot.entries().position(|e| e.name == program)?;
    let elf = object::File::parse(boot.elf(index)).unwrap();
    let end = address + len;
    let in_text = elf.segments().any(|s| {
        let filesz = s.file_range().1;
        s.permissions().executable() && s.address() <= address && end <= s.address() + filesz
    });
    let symbol = elf.symbols().find(|s| {
        s.kind() == SymbolKind::Text && s.size() > 0 && s.address() <= address && end <= s.address() + s.size()
    })?;
    in_text.then(|| format!("{:#}", rustc_demangle::demangle(symbol.name().unwrap())))
}

/// An e2fsprogs tool (often in /sbin, not always on PATH).
pub fn e2fs_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .chain(["/usr/sbin", "/sbin"].iter().map(|d| std::path::Path::new(d).join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found (install e2fsprogs)"))
}

/// Asserts that `e2fsck -fn` finds nothing wrong on `disk`.
pub fn assert_fsck_clean(disk: &std::path::Path) {
    let out = Command::new(e2fs_tool("e2fsck")).arg("-fn").arg(disk).output().expect("running e2fsck");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "e2fsck -fn found problems:\n{text}");
}

/// The bytes of `file` on `disk`, read on the host with debugfs.
pub fn debugfs_cat(disk: &std::path::Path, file: &str) -> Vec<u8> {
    let out = Command::new(e2fs_tool("debugfs"))
        .args(["-R", &format!("cat {file}")])
        .arg(disk)
        .output()
        .expect("running debugfs");
    out.stdout
}

/// The privilege id (boot-image index) of program `program` in `image`.
pub fn program_id(image: &str, program: &str) -> u8 {
    let archive = vmm::image::embedded::find_image(image).unwrap().archive;
    let boot = abi::boot_image::BootImage::parse(archive).unwrap();
    let index = boot.entries().position(|e| e.name == program);
    index.unwrap_or_else(|| panic!("no {program} in image {image}")) as u8
}

/// `fill`'s pattern (guest-servers/utils/src/bin/fill.rs).
pub fn pattern(size: usize) -> Vec<u8> {
    let word = |n: u64| {
        let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..size as u64).map(|pos| (word(pos / 8) >> (8 * (pos % 8))) as u8).collect()
}

/// Writes the host file `source` into `disk` as `dir/name`, with debugfs.
pub fn debugfs_write(disk: &std::path::Path, source: &std::path::Path, dir: &str, name: &str) {
    let script = disk.with_extension("debugfs");
    std::fs::write(&script, format!("cd {dir}\nwrite {} {name}\n", source.display())).unwrap();
    let out = Command::new(e2fs_tool("debugfs"))
        .arg("-w")
        .arg("-f")
        .arg(&script)
        .arg(disk)
        .output()
        .expect("running debugfs");
    assert!(out.status.success(), "debugfs write: {}", String::from_utf8_lossy(&out.stderr));
}
