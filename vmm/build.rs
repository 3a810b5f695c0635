//! Builds the guest (kernel and programs, for `x86_64-unknown-none`) and
//! assembles every boot image under `images/`, so that building `viv` is the
//! only step a user takes. The results are embedded into `viv`.
//!
//! Developer escape hatch: with `VIV_SKIP_GUEST=1` in the environment the
//! guest is not built and `viv` embeds no kernel and no images (an empty
//! `KERNEL_ELF` and `IMAGES`). That lets the host crate be compiled and its
//! unit tests run while the guest does not build; `viv run` then reports
//! that no kernel is embedded.

#[path = "build_disk.rs"]
mod build_disk;

#[path = "src/image/definition.rs"]
#[allow(dead_code)]
mod image_config;

#[path = "src/image/strip.rs"]
#[allow(dead_code)]
mod strip;

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "x86_64-unknown-none";
/// The guest's compiler flags (also in the guest workspaces'
/// `.cargo/config.toml`, for building them by hand).
const GUEST_RUSTFLAGS: &[&str] = &["-Crelocation-model=static", "-Cforce-frame-pointers=yes"];

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for dir in ["abi", "kernel-core", "guest-kernel", "guest-servers", "images"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    println!("cargo:rerun-if-env-changed=VIV_SKIP_GUEST");
    if env::var_os("VIV_SKIP_GUEST").is_some_and(|v| !v.is_empty() && v != "0") {
        println!("cargo:warning=VIV_SKIP_GUEST is set: viv is built without a guest kernel or images");
        let generated = "/// The guest kernel ELF (empty: built with VIV_SKIP_GUEST).\n\
                         pub static KERNEL_ELF: &[u8] = &[];\n\
                         /// Every boot image (none: built with VIV_SKIP_GUEST).\n\
                         pub static IMAGES: &[(&str, &str, &str, &[u8])] = &[];\n\
                         /// Default disks (none: built with VIV_SKIP_GUEST).\n\
                         pub static DISKS: &[(&str, &[u8])] = &[];\n\
                         /// Programs with debug info (none: built with VIV_SKIP_GUEST).\n\
                         pub static PROGRAM_ELFS: &[(&str, &[u8])] = &[];\n";
        return fs::write(out_dir.join("guest_artifacts.rs"), generated).map_err(|e| e.to_string());
    }

    let target_dir = root.join("target").join("guest");
    build_guest(&root.join("guest-kernel"), &target_dir)?;
    build_guest(&root.join("guest-servers"), &target_dir)?;
    let bin_dir = target_dir.join(GUEST_TARGET).join("release");
    // What the guest runs: stripped copies (src/image/strip.rs); gdb gets
    // the files in bin_dir (`viv export --symbols`).
    let stripped_dir = out_dir.join("stripped");
    fs::create_dir_all(&stripped_dir).map_err(|e| e.to_string())?;
    // Each program stripped once (images share programs), by name.
    let mut programs_used: std::collections::BTreeMap<String, Vec<u8>> = Default::default();

    let kernel = bin_dir.join("guest-kernel");
    let mut generated = String::new();
    writeln!(generated, "/// The guest kernel ELF.").unwrap();
    writeln!(generated, "pub static KERNEL_ELF: &[u8] = include_bytes!({:?});", kernel.display().to_string()).unwrap();
    writeln!(generated, "/// Every boot image: (name, description, default command line, archive).").unwrap();
    writeln!(generated, "pub static IMAGES: &[(&str, &str, &str, &[u8])] = &[").unwrap();

    let images_out = out_dir.join("images");
    fs::create_dir_all(&images_out).map_err(|e| e.to_string())?;
    let mut names: Vec<_> = fs::read_dir(root.join("images"))
        .map_err(|e| format!("images/: {e}"))?
        .filter_map(|d| d.ok())
        .filter(|d| d.path().join("image.toml").is_file())
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mke2fs = build_disk::mke2fs();
    let mut disks = Vec::new();
    for name in names {
        let config_path = root.join("images").join(&name).join("image.toml");
        let config = image_config::ImageConfig::load(&config_path).map_err(|e| e.to_string())?;
        let archive = config
            .build_image(|program| {
                if let Some(bytes) = programs_used.get(program) {
                    return Ok::<_, String>(bytes.clone());
                }
                let bytes = stripped(&bin_dir, &stripped_dir, program)
                    .map_err(|e| format!("{}: program {program:?}: {e}", config_path.display()))?;
                programs_used.insert(program.to_string(), bytes.clone());
                Ok(bytes)
            })
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let archive_path = images_out.join(format!("{name}.img"));
        fs::write(&archive_path, archive).map_err(|e| e.to_string())?;
        writeln!(
            generated,
            "    ({name:?}, {:?}, {:?}, include_bytes!({:?})),",
            config.description,
            config.cmdline,
            archive_path.display().to_string()
        )
        .unwrap();
        let has = |n: &str| config.programs.iter().any(|p| p.name.get_ref() == n);
        if has("ext2fs") && has("vfs") {
            let Some(mke2fs) = &mke2fs else {
                println!("cargo:warning=mke2fs not found: image {name} gets no default disk (install e2fsprogs)");
                continue;
            };
            let users: Vec<String> = config
                .programs
                .iter()
                .filter(|p| p.kind.get_ref() == "user")
                .map(|p| p.name.get_ref().clone())
                .collect();
            let sparse = build_disk::build(&root.join("images"), &name, &users, &stripped_dir, &images_out, mke2fs)?;
            disks.push((name, sparse));
        }
    }
    writeln!(generated, "];").unwrap();
    writeln!(generated, "/// Default disks: (image name, sparse ext2 image; see vmm::devices::disk_image).").unwrap();
    writeln!(generated, "pub static DISKS: &[(&str, &[u8])] = &[").unwrap();
    for (name, sparse) in disks {
        writeln!(generated, "    ({name:?}, include_bytes!({:?})),", sparse.display().to_string()).unwrap();
    }
    writeln!(generated, "];").unwrap();
    writeln!(generated, "/// Every program of an image as built, with its debug info (for gdb).").unwrap();
    writeln!(generated, "pub static PROGRAM_ELFS: &[(&str, &[u8])] = &[").unwrap();
    for program in programs_used.keys() {
        let path = bin_dir.join(program).display().to_string();
        writeln!(generated, "    ({program:?}, include_bytes!({path:?})),").unwrap();
    }
    writeln!(generated, "];").unwrap();
    fs::write(out_dir.join("guest_artifacts.rs"), generated).map_err(|e| e.to_string())
}

/// Program `name`'s ELF without debug info, written once into `stripped_dir`
/// (the disk builder copies it from there); returns its bytes.
fn stripped(bin_dir: &Path, stripped_dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    let out = stripped_dir.join(name);
    let path = bin_dir.join(name);
    let elf = fs::read(&path).map_err(|e| format!("{} ({e})", path.display()))?;
    let bytes = strip::strip_debug(&elf).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::write(&out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    // As the linker made it: the disk's /bin keeps the file's mode.
    let mode = fs::metadata(&path).map_err(|e| format!("{} ({e})", path.display()))?.permissions();
    fs::set_permissions(&out, mode).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(bytes)
}

/// Runs a nested `cargo build` for the guest workspace at `dir`.
fn build_guest(dir: &Path, target_dir: &Path) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir).args(["build", "--release", "--target", GUEST_TARGET, "--target-dir"]).arg(target_dir);
    // The outer build's settings are for the host; the guest gets its own.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // Statically linked at fixed addresses: the kernel is loaded where it is
    // linked and user programs are mapped where they are linked, so nobody
    // applies relocations. Frame pointers everywhere, so that `viv profile`
    // can walk the guest's stacks from the host (docs/profiling.md).
    cmd.env("CARGO_ENCODED_RUSTFLAGS", GUEST_RUSTFLAGS.join("\x1f"));
    let status = cmd.status().map_err(|e| format!("cannot run cargo for {}: {e}", dir.display()))?;
    if !status.success() {
        return Err(format!(
            "building the guest in {} failed; is the target installed? (rustup target add {GUEST_TARGET})",
            dir.display()
        ));
    }
    Ok(())
}
