//! `viv export`: write the kernel, an image and its disk to a directory
//! and give the QEMU command line that boots them (QEMU exits with
//! 2*status+1).
//!
//! The machine is QEMU's `microvm`: it has virtio-mmio transports, the
//! transport the disk's virtio-blk device is put on (bus
//! `virtio-mmio-bus.0`) sits at `abi::platform::VIRTIO_BLK_MMIO_BASE` with
//! interrupt `VIRTIO_BLK_IRQ` (with `acpi=off`), where `viv` puts its own,
//! so the `blk` driver finds the disk under both. `auto-kernel-cmdline=off`
//! keeps QEMU from appending its `virtio_mmio.device=` keys to the command
//! line (they would land in the shell command after ` -- `), and
//! `force-legacy=false` gives the modern (version 2) transport the driver
//! speaks.

use std::path::{Path, PathBuf};

use super::CommandError;
use crate::campaign::report::shell_word;
use crate::devices::disk_image::{default_for, write_disk};
use crate::image::embedded::{embedded_kernel, find_image};
use crate::vstate::qemu::{qemu_args, QEMU_BINARY};

/// The files `viv export` wrote and the QEMU command that boots them.
#[derive(Debug, Clone)]
pub struct Exported {
    /// `DIR/kernel.elf`.
    pub kernel: PathBuf,
    /// `DIR/NAME.img`, the boot image.
    pub image: PathBuf,
    /// `DIR/NAME.disk`, the image's ext2 disk, when it has one.
    pub disk: Option<PathBuf>,
    /// `qemu-system-x86_64` and its arguments.
    pub qemu: Vec<String>,
}

/// Writes `kernel.elf`, `IMAGE.img` and (for an image with a disk)
/// `IMAGE.disk` into `dir`. An existing disk file is kept, as `viv run
/// --disk` keeps it: it may hold files written under QEMU.
pub fn export_files(image: &str, dir: &Path, append: &str) -> Result<Exported, CommandError> {
    let image = find_image(image).map_err(crate::Error::from)?;
    let kernel = embedded_kernel().map_err(crate::Error::from)?;
    std::fs::create_dir_all(dir).map_err(|source| CommandError::File {
        what: "cannot create",
        path: dir.into(),
        source,
    })?;
    let kernel_path = dir.join("kernel.elf");
    let image_path = dir.join(format!("{}.img", image.name));
    for (path, bytes) in [(&kernel_path, kernel), (&image_path, image.archive)] {
        std::fs::write(path, bytes).map_err(|source| CommandError::File {
            what: "cannot write",
            path: path.clone(),
            source,
        })?;
    }
    let disk = match default_for(image.archive) {
        Some(sparse) => {
            let path = dir.join(format!("{}.disk", image.name));
            if !path.exists() {
                write_disk(sparse, &path).map_err(crate::Error::from)?;
            }
            Some(path)
        }
        None => None,
    };
    let mut qemu = vec![QEMU_BINARY.to_string()];
    qemu.extend(qemu_args(&kernel_path, &image_path, image.cmdline, append, disk.as_deref()));
    Ok(Exported { kernel: kernel_path, image: image_path, disk, qemu })
}

/// `viv export`: writes the files ([`export_files`]) and returns the QEMU
/// command line, with `append` added to the kernel command line.
pub fn export(image: &str, dir: &Path, append: &str) -> Result<String, CommandError> {
    let exported = export_files(image, dir, append)?;
    Ok(exported.qemu.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_word("/tmp/out/kernel.elf"), "/tmp/out/kernel.elf");
        assert_eq!(shell_word("/tmp/my dir/k"), "'/tmp/my dir/k'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
