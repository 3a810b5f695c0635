//! Sparse disk files: where their data is, and copies that keep the holes.
//!
//! Campaign disks may be large and mostly empty (a 4 GiB image with a few
//! MiB of file system). Copying one with `std::fs::copy` or reading it
//! whole for a snapshot costs the full size for every experiment, so
//! both go through the file's data extents (`SEEK_DATA`/`SEEK_HOLE`),
//! which cost only what is really written. A file system without those
//! seeks reports the whole file as one extent: correct, just not sparse.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::disk_image::open_regular;
use super::DeviceError;

/// The byte ranges `(start, end)` of `file` (of `len` bytes) that may hold
/// data, in order; holes in between read as zeros.
pub fn data_extents(file: &File, len: u64) -> io::Result<Vec<(u64, u64)>> {
    let seek = |at: u64, whence| {
        // SAFETY: lseek on a descriptor `file` owns; it touches no memory.
        let r = unsafe { libc::lseek(file.as_raw_fd(), at as libc::off_t, whence) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as u64)
        }
    };
    let mut extents = Vec::new();
    let mut at = 0;
    while at < len {
        let start = match seek(at, libc::SEEK_DATA) {
            Ok(start) => start,
            // No data past `at`.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && at == 0 => return Ok(vec![(0, len)]),
            Err(e) => return Err(e),
        };
        if start >= len {
            break;
        }
        let end = seek(start, libc::SEEK_HOLE)?.min(len);
        extents.push((start, end));
        at = end;
    }
    Ok(extents)
}

/// Copies the regular file `source` to a new file `dest`, writing only its
/// data extents, so the copy is as sparse as the source.
pub fn copy_sparse(source: &Path, dest: &Path) -> Result<(), DeviceError> {
    let input = open_regular(source, false, "disk image")?;
    let in_err =
        |source_err| DeviceError::DiskFile { what: "disk image", path: source.to_path_buf(), source: source_err };
    let out_err = |source_err| DeviceError::DiskFile {
        what: "cannot copy disk image to",
        path: dest.to_path_buf(),
        source: source_err,
    };
    let len = input.metadata().map_err(in_err)?.len();
    let output = OpenOptions::new().write(true).create_new(true).open(dest).map_err(out_err)?;
    output.set_len(len).map_err(out_err)?;
    let mut buf = vec![0u8; 1 << 20];
    for (start, end) in data_extents(&input, len).map_err(in_err)? {
        let mut at = start;
        while at < end {
            let n = buf.len().min((end - at) as usize);
            input.read_exact_at(&mut buf[..n], at).map_err(in_err)?;
            output.write_all_at(&buf[..n], at).map_err(out_err)?;
            at += n as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const GIB: u64 = 1 << 30;

    #[test]
    fn a_sparse_disk_copies_sparsely_and_exactly() {
        let dir = std::env::temp_dir().join(format!("viv-sparse-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (source, dest) = (dir.join("big.img"), dir.join("copy.img"));
        let file = File::create(&source).unwrap();
        file.set_len(4 * GIB).unwrap();
        let marks = [(0, b"first"), (GIB + 12_345, b"inner"), (4 * GIB - 5, b"lastb")];
        for (at, bytes) in marks {
            file.write_all_at(bytes, at).unwrap();
        }
        drop(file);
        let extents = data_extents(&File::open(&source).unwrap(), 4 * GIB).unwrap();
        let data: u64 = extents.iter().map(|(s, e)| e - s).sum();
        assert!(data < 64 << 20, "extents cover {data} bytes: {extents:?}");
        copy_sparse(&source, &dest).unwrap();
        let copy = File::open(&dest).unwrap();
        let meta = copy.metadata().unwrap();
        assert_eq!(meta.len(), 4 * GIB);
        assert!(meta.blocks() * 512 < 64 << 20, "the copy allocates {} bytes", meta.blocks() * 512);
        for (at, bytes) in marks {
            let mut back = [0u8; 5];
            copy.read_exact_at(&mut back, at).unwrap();
            assert_eq!(&back, bytes);
        }
        let mut zeros = [1u8; 4];
        copy.read_exact_at(&mut zeros, 2 * GIB).unwrap();
        assert_eq!(zeros, [0; 4]);
        assert!(copy_sparse(&source, &dest).is_err(), "the copy never replaces a file");
        // A snapshot of the disk reads only its extents.
        let mut read = 0u64;
        let input = File::open(&source).unwrap();
        let memfd = crate::vstate::memory::sparse_memfd_of(c"t", 4 * GIB, &extents, |buf, at| {
            read += buf.len() as u64;
            input.read_exact_at(buf, at).map_err(|e| crate::vstate::error::MemoryError::Source(e.to_string()))
        })
        .unwrap();
        assert!(read < 64 << 20, "the snapshot read {read} bytes");
        let mut back = [0u8; 5];
        memfd.read_exact_at(&mut back, GIB + 12_345).unwrap();
        assert_eq!(&back, b"inner");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
