//! The virtio-blk device (virtio 1.x §5.2): one request queue, backed by a
//! raw disk image file (or a snapshot's disk, [`super::disk_backing`]).
//!
//! Why this is the whole storage stack on the host side: the guest's disk
//! driver is an ordinary user-space server, and the dependability
//! experiments need a disk whose every request is visible and whose
//! failures are well defined, not a fast one. So requests are served
//! synchronously on the vCPU thread with positioned reads and writes
//! (`pread`/`pwrite`) on the image, one queue, no write cache (a write is
//! in the host page cache when it completes; `FLUSH` is an `fsync`).
//!
//! Requests: `IN` (read), `OUT` (write), `FLUSH`, `GET_ID`; any other type
//! is answered `VIRTIO_BLK_S_UNSUPP`. Framing follows the spec (no
//! assumptions about how the driver splits buffers): the device-readable
//! descriptors carry the 16-byte header and, for `OUT`, the data; the
//! device-writable ones carry, for `IN` and `GET_ID`, the data and, in
//! their last byte, the status. A request that is malformed (readable and
//! writable descriptors interleaved, data in the wrong direction, a buffer
//! outside guest memory, a length that is not a whole number of sectors,
//! sectors beyond the capacity) is answered `VIRTIO_BLK_S_IOERR`. A chain
//! with no place for the status (no writable byte at its end, the status
//! outside guest memory, a loop or an out-of-range `next`) cannot be
//! answered: it is logged and returned on the used ring with length 0, so
//! the driver gets its descriptors back. Nothing the guest writes can panic
//! the VMM; a loop is cut off after `QueueNum` descriptors by
//! `virtio-queue`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::Path;

use abi::platform::{VIRTIO_BLK_QUEUE_SIZE, VIRTIO_BLK_SECTOR_SIZE};
use virtio_bindings::virtio_blk::{
    VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR,
    VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use super::disk_backing::Backing;
use super::virtio_mmio::{QueueFault, VirtioDevice};
use super::DeviceError;

/// Size of the disk `viv` creates when `--disk` names a file that does not
/// exist (zero-filled, sparse).
pub const DEFAULT_DISK_BYTES: u64 = 32 << 20;
/// The serial number `GET_ID` returns (zero-padded to 20 bytes).
pub const DISK_ID: &[u8] = b"vivarium-disk";
/// Size of the request header (`struct virtio_blk_outhdr`).
const HEADER_BYTES: usize = 16;
/// Bytes moved between the image and guest memory at a time.
const CHUNK_BYTES: usize = 64 << 10;
/// Most data bytes one notify may move (reads plus writes): a notify is
/// served inside one VM exit, where the watchdog cannot interrupt it, so a
/// driver naming one huge chain in every avail slot must not make that exit
/// copy gigabytes. Requests past the budget fail with `IOERR` without any
/// I/O. 16 MiB is 256 requests of the driver's largest transfer
/// (`abi::proto::blockdev::MAX_TRANSFER`, 64 KiB): a correct driver never
/// reaches it.
pub const IO_BYTES_PER_NOTIFY: usize = 16 << 20;
/// Offset of `seg_max` and `blk_size` in `struct virtio_blk_config`.
const CONFIG_SEG_MAX: usize = 12;
const CONFIG_BLK_SIZE: usize = 20;
/// The part of `struct virtio_blk_config` we fill in (up to `blk_size`).
const CONFIG_BYTES: usize = 24;

/// A virtio-blk device backed by an open image file or a snapshot's disk.
pub struct Block {
    backing: Backing,
    /// Capacity in 512-byte sectors (a partial last sector is not used).
    capacity: u64,
    queue_sizes: [u16; 1],
    buf: Vec<u8>,
    /// [`IO_BYTES_PER_NOTIFY`], and what is left of it in this notify.
    notify_budget: usize,
    budget_left: usize,
}

/// Why a request failed (the guest gets `IOERR`; the log gets this).
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("empty descriptor chain (bad head index?)")]
    EmptyChain,
    #[error("descriptor chain loops, is too long or links outside the table")]
    BadChain,
    #[error("the last descriptor is not a writable status byte")]
    NoStatusByte,
    #[error("status byte of {addr:#x}+{len} outside guest memory")]
    StatusOutside { addr: u64, len: u32 },
    #[error("device-readable descriptor after a device-writable one")]
    ReadableAfterWritable,
    #[error("buffer {addr:#x}+{len} outside guest memory")]
    BufferOutside { addr: u64, len: u32 },
    #[error("header of {0} bytes (expected {HEADER_BYTES})")]
    ShortHeader(usize),
    #[error("{what} with {len} {direction} data bytes")]
    WrongDirection { what: &'static str, len: usize, direction: &'static str },
    #[error("transfer of {0} bytes is not a whole number of sectors")]
    PartialSector(usize),
    #[error("sectors {sector}+{sectors} beyond the capacity of {capacity}")]
    BeyondCapacity { sector: u64, sectors: u64, capacity: u64 },
    #[error("{0} bytes past this notify's I/O budget of {IO_BYTES_PER_NOTIFY}")]
    OverBudget(usize),
    #[error("address overflow")]
    AddressOverflow,
    #[error("guest memory at {addr:#x}: {source}")]
    GuestMemory { addr: u64, source: vm_memory::GuestMemoryError },
    #[error(transparent)]
    Disk(#[from] DeviceError),
}

/// The guest-memory error at `addr`.
fn at(addr: GuestAddress) -> impl FnOnce(vm_memory::GuestMemoryError) -> Failed {
    move |source| Failed::GuestMemory { addr: addr.0, source }
}

/// A guest buffer: address and length.
type Segment = (GuestAddress, usize);

/// What a chain asks for, after the framing checks.
struct Request {
    readable: Vec<Segment>,
    /// The writable buffers without the status byte.
    writable: Vec<Segment>,
    status: GuestAddress,
}

impl Block {
    /// Opens (creating it, `create_bytes` long and zero-filled, if it does
    /// not exist) and locks the image at `path`.
    pub fn open(path: &Path, create_bytes: u64) -> Result<Block, DeviceError> {
        let shown = path.display();
        if path.as_os_str().is_empty() {
            return Err(DeviceError::EmptyPath);
        }
        let file_err = |what| move |source| DeviceError::DiskFile { what, path: path.to_path_buf(), source };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Err(DeviceError::IsADirectory(path.to_path_buf())),
            Ok(meta) if !meta.is_file() => return Err(DeviceError::NotAFile(path.to_path_buf())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(file_err("cannot create disk image"))?;
                file.set_len(create_bytes).map_err(file_err("cannot size disk image"))?;
                log::info!("created disk image {shown} ({} MiB, zero-filled)", create_bytes >> 20);
            }
            Err(e) => return Err(file_err("disk image")(e)),
        }
        let file = super::disk_image::open_regular(path, true, "cannot open (read-write) disk image")?;
        // SAFETY: flock on a file descriptor we own; it touches no memory.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let source = std::io::Error::last_os_error();
            return Err(DeviceError::InUse { path: path.to_path_buf(), source });
        }
        let mut file = file;
        let len = file.seek(SeekFrom::End(0)).map_err(file_err("cannot find the size of disk image"))?;
        Block::with_backing(Backing::File(file), len)
    }

    /// A device serving `file` (opened for reading and writing).
    pub fn new(mut file: File) -> Result<Block, DeviceError> {
        let len =
            file.seek(SeekFrom::End(0)).map_err(|source| DeviceError::BackingFile { op: "seek", pos: 0, source })?;
        Block::with_backing(Backing::File(file), len)
    }

    /// A device serving `len` bytes of `backing`.
    pub fn with_backing(backing: Backing, len: u64) -> Result<Block, DeviceError> {
        let capacity = len / VIRTIO_BLK_SECTOR_SIZE;
        if capacity == 0 {
            return Err(DeviceError::TooSmall(len));
        }
        if !len.is_multiple_of(VIRTIO_BLK_SECTOR_SIZE) {
            log::warn!("disk image size {len} is not a multiple of {VIRTIO_BLK_SECTOR_SIZE}; the tail is unused");
        }
        Ok(Block {
            backing,
            capacity,
            queue_sizes: [VIRTIO_BLK_QUEUE_SIZE],
            buf: vec![0; CHUNK_BYTES],
            notify_budget: IO_BYTES_PER_NOTIFY,
            budget_left: IO_BYTES_PER_NOTIFY,
        })
    }

    /// Capacity in 512-byte sectors.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Writes the disk's bytes as the guest sees them now into a new file
    /// `path` (a snapshot experiment's disk lives only in its private
    /// mapping: this is how the host gets to judge it). Blocks of zeros
    /// are left as holes.
    pub fn write_out(&self, path: &std::path::Path) -> Result<(), DeviceError> {
        use std::os::unix::fs::FileExt;
        let file_err = |op, pos, source| DeviceError::BackingFile { op, pos, source };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| file_err("create", 0, e))?;
        let bytes = self.capacity * VIRTIO_BLK_SECTOR_SIZE;
        file.set_len(bytes).map_err(|e| file_err("truncate", bytes, e))?;
        let mut chunk = vec![0u8; 1 << 20];
        let mut pos = 0;
        while pos < bytes {
            let len = chunk.len().min((bytes - pos) as usize);
            self.backing.read_at(&mut chunk[..len], pos)?;
            if chunk[..len].iter().any(|&b| b != 0) {
                file.write_all_at(&chunk[..len], pos).map_err(|e| file_err("write", pos, e))?;
            }
            pos += len as u64;
        }
        Ok(())
    }

    fn config(&self) -> [u8; CONFIG_BYTES] {
        let mut config = [0u8; CONFIG_BYTES];
        config[..8].copy_from_slice(&self.capacity.to_le_bytes());
        // Header and status take two descriptors of a chain.
        let seg_max = u32::from(VIRTIO_BLK_QUEUE_SIZE) - 2;
        config[CONFIG_SEG_MAX..CONFIG_SEG_MAX + 4].copy_from_slice(&seg_max.to_le_bytes());
        config[CONFIG_BLK_SIZE..CONFIG_BLK_SIZE + 4].copy_from_slice(&(VIRTIO_BLK_SECTOR_SIZE as u32).to_le_bytes());
        config
    }

    /// Checks a chain's framing; `Err` carries the status address when
    /// there is one (then the request fails with `IOERR`).
    fn frame(descs: &[Descriptor], mem: &GuestMemoryMmap) -> Result<Request, (Option<GuestAddress>, Failed)> {
        let last = match descs.last() {
            None => return Err((None, Failed::EmptyChain)),
            Some(d) if d.has_next() => return Err((None, Failed::BadChain)),
            Some(d) if !d.is_write_only() || d.len() == 0 => return Err((None, Failed::NoStatusByte)),
            Some(d) => *d,
        };
        let status = match last.addr().checked_add(u64::from(last.len()) - 1) {
            Some(a) if mem.check_range(a, 1) => a,
            _ => return Err((None, Failed::StatusOutside { addr: last.addr().0, len: last.len() })),
        };
        let fail = |why: Failed| Err((Some(status), why));
        let split = descs.iter().position(|d| d.is_write_only()).unwrap_or(descs.len());
        if descs[split..].iter().any(|d| !d.is_write_only()) {
            return fail(Failed::ReadableAfterWritable);
        }
        for d in descs {
            if !mem.check_range(d.addr(), d.len() as usize) {
                return fail(Failed::BufferOutside { addr: d.addr().0, len: d.len() });
            }
        }
        let readable = descs[..split].iter().map(|d| (d.addr(), d.len() as usize)).collect();
        let mut writable: Vec<Segment> = descs[split..].iter().map(|d| (d.addr(), d.len() as usize)).collect();
        if let Some(tail) = writable.last_mut() {
            tail.1 -= 1;
        }
        Ok(Request { readable, writable, status })
    }

    /// Serves one chain; returns the used length (bytes written to guest
    /// memory, status included; 0 when the status could not be written).
    fn execute(&mut self, descs: &[Descriptor], mem: &GuestMemoryMmap) -> u32 {
        let request = match Self::frame(descs, mem) {
            Ok(request) => request,
            Err((status, why)) => {
                log::warn!("virtio-blk: malformed request: {why}");
                return match status {
                    Some(status) => Self::finish(mem, status, VIRTIO_BLK_S_IOERR, 0),
                    None => 0,
                };
            }
        };
        match self.serve(&request, mem) {
            Ok((status, written)) => Self::finish(mem, request.status, status, written),
            Err(why) => {
                log::warn!("virtio-blk: request failed: {why}");
                Self::finish(mem, request.status, VIRTIO_BLK_S_IOERR, 0)
            }
        }
    }

    /// Writes the status byte; returns the used length.
    fn finish(mem: &GuestMemoryMmap, status_addr: GuestAddress, status: u32, written: usize) -> u32 {
        match mem.write_obj(status as u8, status_addr) {
            Ok(()) => u32::try_from(written + 1).unwrap_or(u32::MAX),
            Err(e) => {
                log::warn!("virtio-blk: cannot write the status byte: {e}");
                0
            }
        }
    }

    /// Serves a well-framed request: (status, data bytes written to the guest).
    fn serve(&mut self, req: &Request, mem: &GuestMemoryMmap) -> Result<(u32, usize), Failed> {
        let mut header = [0u8; HEADER_BYTES];
        if total(&req.readable) < HEADER_BYTES {
            return Err(Failed::ShortHeader(total(&req.readable)));
        }
        gather(mem, &req.readable, &mut header)?;
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let mut sector_bytes = [0u8; 8];
        sector_bytes.copy_from_slice(&header[8..16]);
        let sector = u64::from_le_bytes(sector_bytes);
        let readable_data = skip(&req.readable, HEADER_BYTES);
        let (in_len, out_len) = (total(&req.writable), total(&readable_data));
        if matches!(kind, VIRTIO_BLK_T_IN | VIRTIO_BLK_T_OUT) {
            let len = in_len.max(out_len);
            self.budget_left = self.budget_left.checked_sub(len).ok_or(Failed::OverBudget(len))?;
        }
        match kind {
            VIRTIO_BLK_T_IN => {
                if out_len != 0 {
                    return Err(Failed::WrongDirection {
                        what: "read request",
                        len: out_len,
                        direction: "device-readable",
                    });
                }
                let pos = self.range(sector, in_len)?;
                self.read_into(mem, &req.writable, pos)?;
                Ok((VIRTIO_BLK_S_OK, in_len))
            }
            VIRTIO_BLK_T_OUT => {
                if in_len != 0 {
                    return Err(Failed::WrongDirection {
                        what: "write request",
                        len: in_len,
                        direction: "device-writable",
                    });
                }
                let pos = self.range(sector, out_len)?;
                self.write_from(mem, &readable_data, pos)?;
                Ok((VIRTIO_BLK_S_OK, 0))
            }
            VIRTIO_BLK_T_FLUSH => {
                self.backing.flush()?;
                Ok((VIRTIO_BLK_S_OK, 0))
            }
            VIRTIO_BLK_T_GET_ID => {
                if out_len != 0 {
                    return Err(Failed::WrongDirection { what: "GET_ID", len: out_len, direction: "device-readable" });
                }
                let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
                id[..DISK_ID.len()].copy_from_slice(DISK_ID);
                let n = in_len.min(id.len());
                scatter(mem, &req.writable, &id[..n])?;
                Ok((VIRTIO_BLK_S_OK, n))
            }
            other => {
                log::warn!("virtio-blk: unsupported request type {other}");
                Ok((VIRTIO_BLK_S_UNSUPP, 0))
            }
        }
    }

    /// The byte offset of `len` bytes at `sector`, if whole sectors within
    /// the capacity.
    fn range(&self, sector: u64, len: usize) -> Result<u64, Failed> {
        let sectors = len as u64 / VIRTIO_BLK_SECTOR_SIZE;
        if !(len as u64).is_multiple_of(VIRTIO_BLK_SECTOR_SIZE) {
            return Err(Failed::PartialSector(len));
        }
        match sector.checked_add(sectors) {
            Some(end) if end <= self.capacity => Ok(sector * VIRTIO_BLK_SECTOR_SIZE),
            _ => Err(Failed::BeyondCapacity { sector, sectors, capacity: self.capacity }),
        }
    }

    fn read_into(&mut self, mem: &GuestMemoryMmap, segs: &[Segment], mut pos: u64) -> Result<(), Failed> {
        for &(addr, len) in segs {
            let mut done = 0;
            while done < len {
                let n = (len - done).min(CHUNK_BYTES);
                let buf = &mut self.buf[..n];
                self.backing.read_at(buf, pos)?;
                let to = addr.checked_add(done as u64).ok_or(Failed::AddressOverflow)?;
                mem.write_slice(buf, to).map_err(at(to))?;
                done += n;
                pos += n as u64;
            }
        }
        Ok(())
    }

    fn write_from(&mut self, mem: &GuestMemoryMmap, segs: &[Segment], mut pos: u64) -> Result<(), Failed> {
        for &(addr, len) in segs {
            let mut done = 0;
            while done < len {
                let n = (len - done).min(CHUNK_BYTES);
                let buf = &mut self.buf[..n];
                let from = addr.checked_add(done as u64).ok_or(Failed::AddressOverflow)?;
                mem.read_slice(buf, from).map_err(at(from))?;
                self.backing.write_at(buf, pos)?;
                done += n;
                pos += n as u64;
            }
        }
        Ok(())
    }
}

fn total(segs: &[Segment]) -> usize {
    segs.iter().map(|s| s.1).sum()
}

/// `segs` without their first `n` bytes.
fn skip(segs: &[Segment], mut n: usize) -> Vec<Segment> {
    let mut rest = Vec::new();
    for &(addr, len) in segs {
        if n >= len {
            n -= len;
        } else {
            rest.push((GuestAddress(addr.0 + n as u64), len - n));
            n = 0;
        }
    }
    rest
}

/// Fills `out` from the start of `segs` (which hold at least that much).
fn gather(mem: &GuestMemoryMmap, segs: &[Segment], out: &mut [u8]) -> Result<(), Failed> {
    let mut done = 0;
    for &(addr, len) in segs {
        let n = len.min(out.len() - done);
        mem.read_slice(&mut out[done..done + n], addr).map_err(at(addr))?;
        done += n;
    }
    Ok(())
}

/// Writes `data` to the start of `segs` (which hold at least that much).
fn scatter(mem: &GuestMemoryMmap, segs: &[Segment], data: &[u8]) -> Result<(), Failed> {
    let mut done = 0;
    for &(addr, len) in segs {
        let n = len.min(data.len() - done);
        mem.write_slice(&data[done..done + n], addr).map_err(at(addr))?;
        done += n;
    }
    Ok(())
}

impl VirtioDevice for Block {
    fn device_id(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_BLK_F_FLUSH | 1 << VIRTIO_BLK_F_SEG_MAX | 1 << VIRTIO_BLK_F_BLK_SIZE
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &self.queue_sizes
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.config();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = offset
                .checked_add(i as u64)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| config.get(o).copied())
                .unwrap_or(0);
        }
    }

    fn process_queue(&mut self, _index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> Result<bool, QueueFault> {
        let mut added = false;
        self.budget_left = self.notify_budget;
        // The guest is stopped while we run, so the available index cannot
        // move under us; the bound is defensive.
        for _ in 0..queue.size() {
            let chain = match queue.iter(mem) {
                Ok(mut iter) => match iter.next() {
                    Some(chain) => chain,
                    None => return Ok(added),
                },
                Err(e) => return Err(QueueFault(e.to_string())),
            };
            let head = chain.head_index();
            let descs: Vec<Descriptor> = chain.collect();
            let used = self.execute(&descs, mem);
            match queue.add_used(mem, head, used) {
                Ok(()) => added = true,
                Err(e) => log::warn!("virtio-blk: request with head {head} dropped: {e}"),
            }
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests;
