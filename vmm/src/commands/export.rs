//! `viv export`: write the kernel and an image to a directory and give the
//! QEMU command line that boots them (QEMU exits with 2*status+1).

use std::path::Path;

use super::CommandError;
use crate::image::embedded::{embedded_kernel, find_image};
use crate::vstate::qemu::{qemu_args, QEMU_BINARY};

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
    let args = qemu_args(&kernel_path, &image_path, image.cmdline, append);
    let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    Ok(format!("{QEMU_BINARY} {}", quoted.join(" ")))
}

/// Quotes `text` for a POSIX shell when it needs it.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=,:@".contains(&b));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/tmp/out/kernel.elf"), "/tmp/out/kernel.elf");
        assert_eq!(shell_quote("/tmp/my dir/k"), "'/tmp/my dir/k'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
