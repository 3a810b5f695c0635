//! Where a virtio-blk disk's bytes live.
//!
//! Why two kinds: a run serves a disk image file (`--disk`, or a temporary
//! copy of the image's default disk) with `pread`/`pwrite`, so what the
//! guest writes survives the run. An experiment started from a snapshot
//! must instead see the disk exactly as it was at the snapshot, and many
//! experiments run from one snapshot at once: each gets a private
//! copy-on-write mapping of the snapshot's disk (`memory::map_private`),
//! so starting an experiment copies nothing and its writes vanish with it.

use std::fs::File;
use std::os::unix::fs::FileExt;

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::DeviceError;

/// The bytes behind a disk.
pub enum Backing {
    /// A disk image file opened for reading and writing.
    File(File),
    /// A private copy-on-write mapping of a snapshot's disk.
    Mapped(GuestMemoryMmap),
}

impl Backing {
    /// Reads `buf.len()` bytes at byte `pos`.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<(), DeviceError> {
        match self {
            Backing::File(file) => {
                file.read_exact_at(buf, pos).map_err(|source| DeviceError::BackingFile { op: "read", pos, source })
            }
            Backing::Mapped(mem) => mem
                .read_slice(buf, GuestAddress(pos))
                .map_err(|source| DeviceError::BackingMapped { op: "read", pos, source }),
        }
    }

    /// Writes `buf` at byte `pos`.
    pub fn write_at(&self, buf: &[u8], pos: u64) -> Result<(), DeviceError> {
        match self {
            Backing::File(file) => {
                file.write_all_at(buf, pos).map_err(|source| DeviceError::BackingFile { op: "write", pos, source })
            }
            Backing::Mapped(mem) => mem
                .write_slice(buf, GuestAddress(pos))
                .map_err(|source| DeviceError::BackingMapped { op: "write", pos, source }),
        }
    }

    /// Makes completed writes durable (`FLUSH`): an `fsync` of the file; a
    /// mapping lives only as long as its experiment, so nothing to do.
    pub fn flush(&self) -> Result<(), DeviceError> {
        match self {
            Backing::File(file) => file.sync_all().map_err(DeviceError::Flush),
            Backing::Mapped(_) => Ok(()),
        }
    }
}
