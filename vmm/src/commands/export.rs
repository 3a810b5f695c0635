//! `viv export`: write the kernel and an image to a directory and give the
//! QEMU command line that boots them (QEMU exits with 2*status+1).

use std::path::Path;

use abi::layout::EntryKind;

use super::CommandError;
use crate::campaign::report::shell_word;
use crate::image::embedded::{embedded_kernel, find_image};
use crate::vstate::config::{build_cmdline, DEFAULT_MEMORY_MIB};

/// Writes `kernel.elf` and `IMAGE.img` into `dir`; returns the QEMU
/// command line, with `append` added to the kernel command line.
pub fn export(image: &str, dir: &Path, append: &str) -> Result<String, CommandError> {
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
    // QEMU (TCG or hardware KVM) runs the syscall entry.
    let cmdline = build_cmdline(image.cmdline, EntryKind::Syscall, append);
    Ok(format!(
        "qemu-system-x86_64 -kernel {} -initrd {} -append {} -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
         -serial stdio -display none -no-reboot -m {DEFAULT_MEMORY_MIB}",
        shell_word(&kernel_path.display().to_string()),
        shell_word(&image_path.display().to_string()),
        format_args!(
            "\"{}\"",
            cmdline.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$").replace('`', "\\`")
        ),
    ))
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
