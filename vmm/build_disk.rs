//! Default disks (part of build.rs): every image with `ext2fs` and `vfs`
//! gets an ext2 disk made by `mke2fs -d` from a tree with `/bin` holding
//! each of the image's user programs (the guest ELF files) and the files
//! under `images/<name>/disk/` (or those of the image it extends).
//!
//! Why sparse: the disk is 32 MiB but mostly zeros; `viv` embeds only its
//! non-zero chunks ([`encode_sparse`], decoded by `vmm::disk_image`), so
//! the binaries stay small.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Size of the default disk.
pub const DISK_SIZE: &str = "32M";
/// Magic of the sparse encoding.
pub const SPARSE_MAGIC: &[u8; 8] = b"VIVDISK1";
/// Chunk size of the sparse encoding.
pub const CHUNK: usize = 4096;

/// Finds `mke2fs` (often in /sbin, which is not always on PATH).
pub fn mke2fs() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("mke2fs")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain(["/usr/sbin/mke2fs", "/sbin/mke2fs"].map(PathBuf::from)).find(|p| p.is_file())
}

/// The directory of extra disk files for image `name`: its own `disk/`, or
/// the one of the image it extends (followed up to four levels).
fn disk_files(images: &Path, name: &str) -> Option<PathBuf> {
    let mut current = name.to_string();
    for _ in 0..5 {
        let dir = images.join(&current).join("disk");
        if dir.is_dir() {
            return Some(dir);
        }
        let text = fs::read_to_string(images.join(&current).join("image.toml")).ok()?;
        let value: toml::Value = toml::from_str(&text).ok()?;
        current = value.get("extends")?.as_str()?.to_string();
    }
    None
}

/// Copies `from` (a directory) into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target).map_err(|e| format!("{}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Builds image `name`'s default disk in `out` from `user_programs` (their
/// ELF files in `bin_dir`); returns the path of its sparse encoding.
pub fn build(
    images: &Path,
    name: &str,
    user_programs: &[String],
    bin_dir: &Path,
    out: &Path,
    mke2fs: &Path,
) -> Result<PathBuf, String> {
    let tree = out.join(format!("{name}.disk"));
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(tree.join("bin")).map_err(|e| e.to_string())?;
    for program in user_programs {
        let from = bin_dir.join(program);
        fs::copy(&from, tree.join("bin").join(program)).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    if let Some(extra) = disk_files(images, name) {
        println!("cargo:rerun-if-changed={}", extra.display());
        copy_tree(&extra, &tree)?;
    }
    let raw = out.join(format!("{name}.disk.img"));
    let _ = fs::remove_file(&raw);
    let status = Command::new(mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-d"])
        .arg(&tree)
        .arg(&raw)
        .arg(DISK_SIZE)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", mke2fs.display()))?;
    if !status.success() {
        return Err(format!("{} failed making the default disk of image {name:?}", mke2fs.display()));
    }
    let bytes = fs::read(&raw).map_err(|e| e.to_string())?;
    let sparse = out.join(format!("{name}.disk.sparse"));
    fs::write(&sparse, encode_sparse(&bytes)).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(&raw);
    Ok(sparse)
}

/// `SPARSE_MAGIC`, total size (u64 LE), then per non-zero chunk: its
/// offset (u64 LE) and [`CHUNK`] bytes (the last one may be shorter).
pub fn encode_sparse(bytes: &[u8]) -> Vec<u8> {
    let mut out = SPARSE_MAGIC.to_vec();
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            out.extend_from_slice(&((i * CHUNK) as u64).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out
}
