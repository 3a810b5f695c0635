//! How QEMU boots our kernel and a boot image: the one command line that
//! `viv export` prints and `viv bench --qemu` runs.
//!
//! QEMU loads the kernel's PVH note (`-kernel`), passes the boot image as
//! the one PVH module (`-initrd`), and the kernel powers off through the
//! isa-debug-exit device, so QEMU exits with `2 * status + 1`. QEMU (TCG
//! or hardware KVM) runs the `syscall` entry.

use std::path::Path;

use abi::layout::EntryKind;

use super::config::{build_cmdline, DEFAULT_MEMORY_MIB};

/// The QEMU binary.
pub const QEMU_BINARY: &str = "qemu-system-x86_64";

/// The arguments (without the binary) that boot `kernel` with the boot
/// image `initrd`, the image's own command line `image_cmdline` plus
/// `append`, and `disk` as the virtio-blk device. QEMU's `microvm`
/// machine puts its first virtio-mmio transport where `viv` puts its own
/// (`abi::platform`), so the same `blk` driver finds the disk.
pub fn qemu_args(kernel: &Path, initrd: &Path, image_cmdline: &str, append: &str, disk: Option<&Path>) -> Vec<String> {
    let cmdline = build_cmdline(image_cmdline, EntryKind::Syscall, append);
    let mut args: Vec<String> = [
        "-M",
        "microvm,acpi=off,auto-kernel-cmdline=off",
        "-kernel",
        &kernel.display().to_string(),
        "-initrd",
        &initrd.display().to_string(),
        "-append",
        &cmdline,
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-serial",
        "stdio",
        "-display",
        "none",
        "-no-reboot",
        "-m",
        &DEFAULT_MEMORY_MIB.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(disk) = disk {
        args.extend(
            [
                "-global",
                "virtio-mmio.force-legacy=false",
                "-drive",
                &format!("file={},format=raw,if=none,id=disk", disk.display().to_string().replace(',', ",,")),
                "-device",
                "virtio-blk-device,drive=disk,bus=virtio-mmio-bus.0",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    args
}

/// The guest's power-off status from QEMU's exit code, if QEMU ended
/// through the isa-debug-exit port.
pub fn guest_status(qemu_exit_code: i32) -> Option<i32> {
    (qemu_exit_code & 1 == 1).then_some(qemu_exit_code >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_boot_the_kernel_with_the_image_and_the_syscall_entry() {
        let args = qemu_args(Path::new("/k/kernel.elf"), Path::new("/k/hello.img"), "a=1", "b=2", None);
        let at = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        assert_eq!(at("-kernel"), "/k/kernel.elf");
        assert_eq!(at("-initrd"), "/k/hello.img");
        assert!(at("-append").contains("a=1") && at("-append").contains("b=2"), "{args:?}");
        assert!(at("-append").contains("syscall"), "{args:?}");
        assert_eq!(at("-m"), DEFAULT_MEMORY_MIB.to_string());
        assert_eq!(guest_status(1), Some(0));
        assert_eq!(guest_status(7), Some(3));
        assert_eq!(guest_status(0), None);
    }
}
