//! The privilege table of every boot image, `docs/privileges.md`.
//!
//! Least privilege is only reviewable when what each program holds can be
//! read in one place, so the table is generated from the image
//! definitions themselves (after defaults and the symmetric send masks are
//! applied, exactly what the kernel loads) and a test
//! (`vmm/tests/privileges_doc.rs`) fails when the committed file differs
//! from what [`render_dir`] produces. `VIV_BLESS=1` makes that test
//! rewrite the file.

use crate::image::definition::{DefinitionError, ImageConfig};
use abi::boot_image::Privileges;
use abi::syscall::{KernelCall, Trap};
use std::fmt::Write as _;
use std::path::Path;

/// The header of the generated file: what it is and how to regenerate it.
const HEADER: &str = "# Privileges of every program\n\n\
Generated from `images/*/image.toml` by `vmm::image::privileges_doc`; do not edit by hand.\n\
Regenerate with `VIV_BLESS=1 cargo test -p vivarium-vmm --test privileges_doc`\n\
(the test fails whenever this file and the image definitions disagree).\n\n\
Each row is what the kernel loads for the program: its trap mask, the\n\
programs it may send to (the send masks are symmetric: a program listed\n\
in another's `ipc` may reply to it, so these include replies), its\n\
kernel calls, I/O port ranges, IRQ lines, MMIO windows and the heartbeat\n\
period RS checks. Every list is the entry's own (a system program must\n\
list its traps and kernel calls; nothing defaults to all); \"ALL\" is an\n\
explicit `ipc = [\"ALL\"]`: every program of the image.\n\
Why each server and driver holds what it holds: [docs/threats-kernel.md](threats-kernel.md#least-privilege).\n\
Above each table: the frames the processes of one user other than uid 0\n\
may hold together ([docs/security.md](security.md#memory)).\n";

/// The table for every `images/NAME/image.toml` under `images_dir`, in
/// name order.
pub fn render_dir(images_dir: &Path) -> Result<String, DefinitionError> {
    let entries = std::fs::read_dir(images_dir)
        .map_err(|source| DefinitionError::Read { path: images_dir.to_path_buf(), source })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("image.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut images = Vec::new();
    for name in names {
        let config = ImageConfig::load(&images_dir.join(&name).join("image.toml"))?;
        images.push((name, config));
    }
    render(&images)
}

/// The table for the given images (name, definition).
pub fn render(images: &[(String, ImageConfig)]) -> Result<String, DefinitionError> {
    let mut out = String::from(HEADER);
    for (name, config) in images {
        let privileges = config.resolved_privileges().map_err(|e| DefinitionError::InFile {
            path: std::path::PathBuf::from(format!("images/{name}/image.toml")),
            source: Box::new(e),
        })?;
        let _ = write!(out, "\n## {name}\n\n");
        if !config.description.is_empty() {
            let _ = writeln!(out, "{}\n", config.description);
        }
        let _ = writeln!(out, "Memory per user other than root: {}.\n", user_memory(&config.cmdline));
        out.push_str("| program | kind | traps | may send to | kernel calls | I/O ports | IRQs | MMIO | heartbeat |\n");
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        let names: Vec<&str> = config.programs.iter().map(|p| p.name.get_ref().as_str()).collect();
        for (program, p) in config.programs.iter().zip(&privileges) {
            let heartbeat = match program.heartbeat_ms {
                0 => "—".to_string(),
                ms => format!("{ms} ms"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                program.name.get_ref(),
                program.kind.get_ref(),
                traps(p.traps),
                destinations(p.send_to, &names),
                kernel_calls(p.kernel_calls),
                ports(p),
                irqs(p.irqs),
                mmio(p),
                heartbeat
            );
        }
    }
    Ok(out)
}

/// The per-user memory quota the image's command line sets, in words.
fn user_memory(cmdline: &str) -> String {
    use abi::platform::{cmdline_value, CMDLINE_USER_FRAMES_KEY, DEFAULT_USER_MEMORY_SHARE};
    match cmdline_value(cmdline, CMDLINE_USER_FRAMES_KEY) {
        Some(frames) => format!("{frames} frames of 4 KiB (`{CMDLINE_USER_FRAMES_KEY}`)"),
        None => format!("1/{DEFAULT_USER_MEMORY_SHARE} of the frames free at boot (the default)"),
    }
}

/// "—" for an empty list.
fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "—".to_string()
    } else {
        items.join(", ")
    }
}

fn traps(mask: u8) -> String {
    let every: Vec<Trap> = (1..=6).filter_map(Trap::from_number).collect();
    list(every.iter().filter(|t| mask & 1 << **t as u8 != 0).map(|t| t.name().to_lowercase()).collect())
}

fn destinations(mask: u64, names: &[&str]) -> String {
    let reachable: Vec<String> =
        names.iter().enumerate().filter(|(i, _)| mask & 1 << i != 0).map(|(_, n)| n.to_string()).collect();
    if reachable.len() == names.len() {
        return "ALL".to_string();
    }
    list(reachable)
}

fn kernel_calls(mask: u64) -> String {
    list(KernelCall::ALL.iter().filter(|c| mask & 1 << **c as u32 != 0).map(|c| c.name().to_string()).collect())
}

fn ports(p: &Privileges) -> String {
    list(
        p.io_ranges
            .iter()
            .filter(|&&(_, last)| last != 0)
            .map(|&(first, last)| if first == last { format!("{first:#x}") } else { format!("{first:#x}–{last:#x}") })
            .collect(),
    )
}

fn irqs(mask: u32) -> String {
    list((0..32).filter(|i| mask & 1 << i != 0).map(|i| i.to_string()).collect())
}

fn mmio(p: &Privileges) -> String {
    list(
        p.mmio_ranges
            .iter()
            .filter(|&&(_, len)| len != 0)
            .map(|&(base, len)| format!("{base:#x}–{:#x}", base + len - 1))
            .collect(),
    )
}
