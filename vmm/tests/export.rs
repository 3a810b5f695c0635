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

/// The section `name` of `elf` (its bytes), if it has one.
fn section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).unwrap();
    let section = file.section_by_name(name)?;
    Some(section.data().unwrap())
}

/// What the guest runs has no debug info (the boot image's and the
/// disk's programs), what `viv export --symbols` gives gdb has it (the
/// kernel and every program), and the code is the same bytes in both.
/// No VM boots.
#[test]
fn the_guest_runs_stripped_programs_and_gdb_gets_them_with_debug_info() {
    use vmm::image::strip::{debug_sections, loaded_segments};
    let dir = common::scratch_dir("export-symbols");
    let summary = vmm::commands::symbols::export_symbols("system", &dir).unwrap();
    assert!(summary.contains("programs of image system"), "{summary}");
    let exported = vmm::commands::export::export_files("system", &dir, "").unwrap();
    let disk = exported.disk.expect("the system image has a disk");
    let kernel = std::fs::read(dir.join("kernel.elf")).unwrap();
    assert!(debug_sections(&kernel).iter().any(|s| s == ".debug_info"), "the kernel for gdb has variables");

    let image = vmm::image::embedded::find_image("system").unwrap();
    let boot = abi::boot_image::BootImage::parse(image.archive).unwrap();
    let mut on_disk = 0;
    for (i, entry) in boot.entries().enumerate() {
        let (name, guest) = (entry.name, boot.elf(i));
        let for_gdb = std::fs::read(dir.join("programs").join(format!("{name}.elf"))).unwrap();
        assert_eq!(debug_sections(guest), Vec::<String>::new(), "{name} in the boot image");
        let debug = debug_sections(&for_gdb);
        for wanted in [".debug_info", ".debug_line"] {
            assert!(debug.iter().any(|s| s == wanted), "{name} for gdb lacks {wanted}: {debug:?}");
        }
        assert!(
            for_gdb.len() > 2 * guest.len(),
            "{name}: {} bytes for gdb, {} in the image",
            for_gdb.len(),
            guest.len()
        );
        // The same code and data at the same addresses and file offsets.
        let segments = loaded_segments(guest);
        assert!(!segments.is_empty(), "{name}");
        assert_eq!(segments, loaded_segments(&for_gdb), "{name}");
        let text = section(guest, ".text").unwrap_or_else(|| panic!("{name} has no .text"));
        assert_eq!(Some(text), section(&for_gdb, ".text"), "{name}: .text differs");
        assert!(section(guest, ".symtab").is_some(), "{name} keeps its symbols (profiles, SWIFI)");
        // User programs are on the disk's /bin too: the image's copy.
        if entry.flags & abi::boot_image::FLAG_USER != 0 {
            assert_eq!(common::debugfs_cat(&disk, &format!("/bin/{name}")), guest, "/bin/{name}");
            on_disk += 1;
        }
    }
    assert!(on_disk >= 10, "{on_disk} programs checked on the disk");
    let _ = std::fs::remove_dir_all(&dir);
}
