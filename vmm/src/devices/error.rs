//! Errors of the device models: a disk image that cannot be used, a
//! device whose saved state does not fit, a failed transfer.

use std::io;
use std::path::PathBuf;

/// A device could not be set up or could not move data.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// `--disk ""`.
    #[error("disk image: empty path")]
    EmptyPath,
    /// The disk image is a directory.
    #[error("disk image {}: is a directory", .0.display())]
    IsADirectory(PathBuf),
    /// The disk image is a device, a FIFO or a socket.
    #[error("disk image {}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    /// The disk image could not be created, opened, sized or read.
    #[error("{what} {}: {source}", path.display())]
    DiskFile {
        /// What was being done ("cannot create disk image", "disk image", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Another process holds the disk image's lock.
    #[error("disk image {} is in use by another process ({source})", path.display())]
    InUse {
        /// The file.
        path: PathBuf,
        /// The lock's error.
        source: io::Error,
    },
    /// A disk image that must hold the image's root file system does not.
    #[error("disk image {}: not an ext2 file system (this image's root file system)", .0.display())]
    NotExt2(PathBuf),
    /// The disk is smaller than one sector.
    #[error("{0} bytes is smaller than one {sector}-byte sector", sector = abi::platform::VIRTIO_BLK_SECTOR_SIZE)]
    TooSmall(u64),
    /// The default disk embedded in `viv` is damaged.
    #[error("embedded default disk is {0}")]
    BadDefaultDisk(&'static str),
    /// A virtqueue could not be made.
    #[error("queue of {max} entries: {source}")]
    Queue {
        /// Its size.
        max: u16,
        /// virtio-queue's error.
        source: virtio_queue::Error,
    },
    /// A saved transport has another number of queues than the device.
    #[error("the saved transport has {saved} queue(s), the device {device}")]
    QueueCount {
        /// Queues saved.
        saved: usize,
        /// Queues of the device.
        device: usize,
    },
    /// A saved queue is inconsistent.
    #[error("saved queue: {0}")]
    SavedQueue(virtio_queue::Error),
    /// The UART's saved state does not load.
    #[error("serial state: {0}")]
    SerialState(String),
    /// A read or write of the disk's file failed.
    #[error("{op} at byte {pos}: {source}")]
    BackingFile {
        /// "read" or "write".
        op: &'static str,
        /// Byte offset.
        pos: u64,
        /// Why.
        source: io::Error,
    },
    /// A read or write of a snapshot's disk mapping failed.
    #[error("{op} at byte {pos}: {source}")]
    BackingMapped {
        /// "read" or "write".
        op: &'static str,
        /// Byte offset.
        pos: u64,
        /// Why.
        source: vm_memory::GuestMemoryError,
    },
    /// `fsync` of the disk failed.
    #[error("fsync: {0}")]
    Flush(io::Error),
}
