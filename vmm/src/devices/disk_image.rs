//! Default disks: images with the ext2 file server (`ext2fs`) come with an
//! ext2 disk that build.rs makes (`mke2fs -d`: `/bin` with the image's user
//! programs plus `images/<name>/disk/`) and embeds sparsely.
//!
//! At boot: `--disk FILE` that does not exist is created from it; without
//! `--disk` the VM gets a fresh temporary copy, deleted when the run ends.
//! A `--disk` file that exists must hold an ext2 file system (superblock
//! magic), else the run fails with one line naming the file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::DeviceError;
use crate::image::embedded::guest;

const MAGIC: &[u8; 8] = b"VIVDISK1";
const CHUNK: u64 = 4096;
/// Offset and value of the ext2 superblock magic.
const EXT2_MAGIC_AT: u64 = 1024 + 56;
const EXT2_MAGIC: u16 = 0xEF53;

/// The embedded default disk (sparse) of the image whose boot archive is
/// `archive`, if it has one.
pub fn default_for(archive: &[u8]) -> Option<&'static [u8]> {
    let (name, ..) = guest::IMAGES.iter().find(|(_, _, _, a)| *a == archive)?;
    guest::DISKS.iter().find(|(n, _)| n == name).map(|(_, d)| *d)
}

/// Writes the sparse disk `sparse` to a new file `path`.
pub fn write_disk(sparse: &[u8], path: &Path) -> Result<(), DeviceError> {
    if sparse.len() < 16 || &sparse[..8] != MAGIC {
        return Err(DeviceError::BadDefaultDisk("malformed"));
    }
    let file_err = |what| move |source| DeviceError::DiskFile { what, path: path.to_path_buf(), source };
    let total = u64::from_le_bytes(sparse[8..16].try_into().unwrap());
    let mut file =
        OpenOptions::new().write(true).create_new(true).open(path).map_err(file_err("cannot create disk image"))?;
    file.set_len(total).map_err(file_err("cannot size disk image"))?;
    let mut at = 16;
    while at + 8 <= sparse.len() {
        let offset = u64::from_le_bytes(sparse[at..at + 8].try_into().unwrap());
        let len = CHUNK.min(total.saturating_sub(offset)) as usize;
        let data = sparse.get(at + 8..at + 8 + len).ok_or(DeviceError::BadDefaultDisk("truncated"))?;
        file.seek(SeekFrom::Start(offset)).and_then(|_| file.write_all(data)).map_err(file_err("disk image"))?;
        at += 8 + len;
    }
    Ok(())
}

/// Opens `path` (read-write when `write`), refusing anything but a regular
/// file. The open does not block (`O_NONBLOCK`), so a FIFO or a device
/// named as a disk is an error at once instead of a hang before the VM
/// starts; the type is checked on the opened file, not the path, so the
/// path cannot be swapped in between.
pub fn open_regular(path: &Path, write: bool, what: &'static str) -> Result<File, DeviceError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| DeviceError::DiskFile { what, path: path.to_path_buf(), source })?;
    let meta = file.metadata().map_err(|source| DeviceError::DiskFile { what, path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Err(DeviceError::IsADirectory(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(DeviceError::NotAFile(path.to_path_buf()));
    }
    Ok(file)
}

/// Checks that `path` holds an ext2 file system.
fn check_ext2(path: &Path) -> Result<(), DeviceError> {
    let mut file = open_regular(path, false, "disk image")?;
    let mut magic = [0u8; 2];
    let ok = file.seek(SeekFrom::Start(EXT2_MAGIC_AT)).and_then(|_| file.read_exact(&mut magic)).is_ok();
    if !ok || u16::from_le_bytes(magic) != EXT2_MAGIC {
        return Err(DeviceError::NotExt2(path.to_path_buf()));
    }
    Ok(())
}

/// A temporary disk, deleted on drop.
pub struct TempDisk(PathBuf);

impl Drop for TempDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The disk a run uses: `disk`, created from the image's default
/// disk when missing, or a temporary copy of it; and the temporary file's
/// guard (keep it until the run ends).
pub fn prepare(disk: Option<&Path>, archive: &[u8]) -> Result<(Option<PathBuf>, Option<TempDisk>), DeviceError> {
    let Some(sparse) = default_for(archive) else {
        return Ok((disk.map(Path::to_path_buf), None));
    };
    match disk {
        Some(path) if path.exists() => {
            check_ext2(path)?;
            Ok((Some(path.to_path_buf()), None))
        }
        Some(path) => {
            write_disk(sparse, path)?;
            Ok((Some(path.to_path_buf()), None))
        }
        None => {
            static SERIAL: AtomicU64 = AtomicU64::new(0);
            let n = SERIAL.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("viv-disk-{}-{n}.img", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let guard = TempDisk(path.clone());
            write_disk(sparse, &path)?;
            Ok((Some(path), Some(guard)))
        }
    }
}
