//! KVM binary statistics of a vCPU (`KVM_GET_STATS_FD`).
//!
//! Why: on our development hosts every guest kernel-mode instruction goes
//! through KVM's instruction emulator, and the per-vCPU stat `insn_emulation`
//! counts them exactly (see `docs/platform.md`). Together with `exits` it gives
//! repeatable benchmark figures (kernel instructions per IPC, exits per
//! round trip) where wall time is noisy and host-dependent.
//!
//! The stats file descriptor holds a header, a table of descriptors (one per
//! statistic, each followed by its name) and a data block of `u64` values.
//! The header and descriptors never change for the life of the fd, so they
//! are parsed once ([`StatsLayout::parse`]); a snapshot is then a single
//! `pread` of the data block ([`VcpuStats::snapshot`]).
//!
//! Layout (linux/kvm.h):
//!
//! ```text
//! struct kvm_stats_header { u32 flags, name_size, num_desc, id_offset, desc_offset, data_offset; }
//! struct kvm_stats_desc   { u32 flags; i16 exponent; u16 size; u32 offset; u32 bucket_size; char name[name_size]; }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::{AsRawFd, FromRawFd};

use kvm_ioctls::VcpuFd;
use vmm_sys_util::{ioctl::ioctl, ioctl_io_nr};

// KVM_GET_STATS_FD = _IO(KVMIO, 0xce); kvm-ioctls does not wrap it.
ioctl_io_nr!(KVM_GET_STATS_FD, kvm_bindings::KVMIO, 0xce);

/// Size of `struct kvm_stats_header`.
pub const HEADER_SIZE: usize = 24;
/// Size of `struct kvm_stats_desc` before the name.
pub const DESC_FIXED_SIZE: usize = 16;
/// Largest name size we accept (the kernel uses 48).
const MAX_NAME_SIZE: u32 = 4096;
/// Most descriptors we accept (the kernel has a few dozen per vCPU).
const MAX_DESCS: u32 = 65536;
/// Largest data block we accept.
const MAX_DATA_BYTES: u64 = 1 << 24;

/// Why a stats file could not be parsed or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatsError {
    /// The buffer ends before a structure it must contain.
    #[error("KVM stats: truncated {0}")]
    Truncated(&'static str),
    /// A field holds an impossible value.
    #[error("KVM stats: {0}")]
    Invalid(String),
    /// An ioctl or read failed.
    #[error("KVM stats: {0}")]
    Io(String),
}

/// One statistic: its name and where its values are in the data block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatDesc {
    /// Name, e.g. `insn_emulation`.
    pub name: String,
    /// Byte offset of the first value from the start of the data block.
    pub offset: u32,
    /// Number of `u64` values (1 for counters; more for histograms).
    pub size: u16,
}

/// The parsed header and descriptors of a stats file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsLayout {
    /// Offset of the data block in the file.
    pub data_offset: u64,
    /// Length of the data block in bytes (covers every descriptor).
    pub data_len: usize,
    /// Every statistic, in file order.
    pub descs: Vec<StatDesc>,
}

fn u32_at(buf: &[u8], at: usize, what: &'static str) -> Result<u32, StatsError> {
    let bytes = buf.get(at..at + 4).ok_or(StatsError::Truncated(what))?;
    Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
}

fn u16_at(buf: &[u8], at: usize, what: &'static str) -> Result<u16, StatsError> {
    let bytes = buf.get(at..at + 2).ok_or(StatsError::Truncated(what))?;
    Ok(u16::from_le_bytes(bytes.try_into().expect("2 bytes")))
}

impl StatsLayout {
    /// Parses the header and descriptor table from `buf`, which holds the
    /// stats file from offset 0 up to at least the end of the descriptors.
    /// Never panics on malformed input.
    pub fn parse(buf: &[u8]) -> Result<StatsLayout, StatsError> {
        if buf.len() < HEADER_SIZE {
            return Err(StatsError::Truncated("header"));
        }
        let name_size = u32_at(buf, 4, "header")?;
        let num_desc = u32_at(buf, 8, "header")?;
        let desc_offset = u32_at(buf, 16, "header")? as usize;
        let data_offset = u32_at(buf, 20, "header")?;
        if name_size == 0 || name_size > MAX_NAME_SIZE {
            return Err(StatsError::Invalid(format!("name size {name_size}")));
        }
        if num_desc > MAX_DESCS {
            return Err(StatsError::Invalid(format!("{num_desc} descriptors")));
        }
        let desc_size = DESC_FIXED_SIZE + name_size as usize;
        let mut descs = Vec::with_capacity(num_desc as usize);
        let mut data_len: u64 = 0;
        for i in 0..num_desc as usize {
            let at = desc_offset
                .checked_add(i * desc_size)
                .ok_or_else(|| StatsError::Invalid("descriptor offset overflows".into()))?;
            let end =
                at.checked_add(desc_size).ok_or_else(|| StatsError::Invalid("descriptor offset overflows".into()))?;
            let desc = buf.get(at..end).ok_or(StatsError::Truncated("descriptor"))?;
            let size = u16_at(desc, 6, "descriptor")?;
            let offset = u32_at(desc, 8, "descriptor")?;
            let raw_name = &desc[DESC_FIXED_SIZE..];
            let len = raw_name.iter().position(|&b| b == 0).unwrap_or(raw_name.len());
            let name = std::str::from_utf8(&raw_name[..len])
                .map_err(|_| StatsError::Invalid(format!("descriptor {i}: name is not UTF-8")))?
                .to_string();
            if name.is_empty() {
                return Err(StatsError::Invalid(format!("descriptor {i}: empty name")));
            }
            let end = u64::from(offset) + u64::from(size) * 8;
            if end > MAX_DATA_BYTES {
                return Err(StatsError::Invalid(format!("{name}: values at {offset} beyond any data block")));
            }
            data_len = data_len.max(end);
            descs.push(StatDesc { name, offset, size });
        }
        Ok(StatsLayout { data_offset: u64::from(data_offset), data_len: data_len as usize, descs })
    }

    /// Builds a snapshot from the data block `data` (length `data_len`).
    /// Histograms and other multi-value statistics are summed.
    pub fn decode(&self, data: &[u8]) -> Result<StatsSnapshot, StatsError> {
        let mut values = BTreeMap::new();
        for d in &self.descs {
            let mut total: u64 = 0;
            for k in 0..d.size as usize {
                let at = d.offset as usize + k * 8;
                let bytes = data.get(at..at + 8).ok_or(StatsError::Truncated("data block"))?;
                total = total.wrapping_add(u64::from_le_bytes(bytes.try_into().expect("8 bytes")));
            }
            values.insert(d.name.clone(), total);
        }
        Ok(StatsSnapshot { values })
    }
}

/// The statistics of one vCPU at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Every statistic by name.
    pub values: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// The value of `name`, if KVM has that statistic.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.values.get(name).copied()
    }

    /// Instructions KVM emulated: on software KVM, every guest kernel
    /// instruction.
    pub fn insn_emulation(&self) -> Option<u64> {
        self.get("insn_emulation")
    }

    /// All VM exits.
    pub fn exits(&self) -> Option<u64> {
        self.get("exits")
    }

    /// Exits for port I/O.
    pub fn io_exits(&self) -> Option<u64> {
        self.get("io_exits")
    }

    /// Exits because the guest executed `hlt`.
    pub fn halt_exits(&self) -> Option<u64> {
        self.get("halt_exits")
    }

    /// Wake-ups from `hlt`.
    pub fn halt_wakeup(&self) -> Option<u64> {
        self.get("halt_wakeup")
    }

    /// `self - earlier` for `name` (saturating), when both have it.
    pub fn delta(&self, earlier: &StatsSnapshot, name: &str) -> Option<u64> {
        Some(self.get(name)?.saturating_sub(earlier.get(name)?))
    }
}

/// An open stats file of one vCPU.
#[derive(Debug)]
pub struct VcpuStats {
    file: File,
    layout: StatsLayout,
    buf: Vec<u8>,
}

impl VcpuStats {
    /// Opens the stats file of `vcpu` and parses its layout.
    pub fn open(vcpu: &VcpuFd) -> Result<VcpuStats, StatsError> {
        // SAFETY: KVM_GET_STATS_FD takes no argument and returns a new file
        // descriptor or -1; `vcpu` is a valid vCPU fd for the whole call.
        let fd = unsafe { ioctl(vcpu, KVM_GET_STATS_FD()) };
        if fd < 0 {
            return Err(StatsError::Io(format!("KVM_GET_STATS_FD: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        let file = unsafe { File::from_raw_fd(fd) };
        Self::from_file(file)
    }

    fn from_file(file: File) -> Result<VcpuStats, StatsError> {
        let io = |e: std::io::Error| StatsError::Io(e.to_string());
        let mut header = [0u8; HEADER_SIZE];
        file.read_exact_at(&mut header, 0).map_err(io)?;
        let name_size = u32_at(&header, 4, "header")? as u64;
        let num_desc = u32_at(&header, 8, "header")? as u64;
        let desc_offset = u32_at(&header, 16, "header")? as u64;
        let table_end = desc_offset + num_desc * (DESC_FIXED_SIZE as u64 + name_size);
        if table_end > MAX_DATA_BYTES {
            return Err(StatsError::Invalid(format!("descriptor table ends at {table_end}")));
        }
        let mut table = vec![0u8; table_end as usize];
        file.read_exact_at(&mut table, 0).map_err(io)?;
        let layout = StatsLayout::parse(&table)?;
        log::debug!(
            "KVM stats fd {}: {} statistics, data block {} bytes",
            file.as_raw_fd(),
            layout.descs.len(),
            layout.data_len
        );
        let buf = vec![0u8; layout.data_len];
        Ok(VcpuStats { file, layout, buf })
    }

    /// The parsed layout.
    pub fn layout(&self) -> &StatsLayout {
        &self.layout
    }

    /// Reads every statistic now (one `pread`).
    pub fn snapshot(&mut self) -> Result<StatsSnapshot, StatsError> {
        self.file.read_exact_at(&mut self.buf, self.layout.data_offset).map_err(|e| StatsError::Io(e.to_string()))?;
        self.layout.decode(&self.buf)
    }

    /// Where the single-value counter `name` is, if KVM has it: read it
    /// with [`VcpuStats::read`], one 8-byte `pread` and no decoding, cheap
    /// enough for every exit (the instruction budget, `vstate::vcpu`).
    pub fn counter(&self, name: &str) -> Option<Counter> {
        let d = self.layout.descs.iter().find(|d| d.name == name && d.size == 1)?;
        Some(Counter { at: self.layout.data_offset + u64::from(d.offset) })
    }

    /// The value of `counter` now.
    pub fn read(&self, counter: Counter) -> Result<u64, StatsError> {
        let mut value = [0u8; 8];
        self.file.read_exact_at(&mut value, counter.at).map_err(|e| StatsError::Io(e.to_string()))?;
        Ok(u64::from_le_bytes(value))
    }
}

/// A single-value statistic's place in the stats file ([`VcpuStats::counter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME_SIZE: usize = 48;

    /// A stats file with the given (name, offset, size) descriptors and the
    /// data block `data`.
    fn build(descs: &[(&str, u32, u16)], data: &[u64]) -> Vec<u8> {
        let desc_offset = HEADER_SIZE + 8; // an id string would sit between
        let data_offset = desc_offset + descs.len() * (DESC_FIXED_SIZE + NAME_SIZE);
        let mut buf = Vec::new();
        for v in [0u32, NAME_SIZE as u32, descs.len() as u32, HEADER_SIZE as u32] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        buf.extend_from_slice(&(desc_offset as u32).to_le_bytes());
        buf.extend_from_slice(&(data_offset as u32).to_le_bytes());
        buf.extend_from_slice(b"kvm-1/0\0");
        for (name, offset, size) in descs {
            buf.extend_from_slice(&0u32.to_le_bytes()); // flags
            buf.extend_from_slice(&0i16.to_le_bytes()); // exponent
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&offset.to_le_bytes());
            buf.extend_from_slice(&0u32.to_le_bytes()); // bucket size
            let mut name_buf = [0u8; NAME_SIZE];
            name_buf[..name.len()].copy_from_slice(name.as_bytes());
            buf.extend_from_slice(&name_buf);
        }
        for v in data {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        buf
    }

    #[test]
    fn parses_a_well_formed_file() {
        let file = build(&[("exits", 0, 1), ("insn_emulation", 8, 1), ("hist", 16, 2)], &[10, 2_000_007, 3, 4]);
        let layout = StatsLayout::parse(&file).unwrap();
        assert_eq!(layout.descs.len(), 3);
        assert_eq!(layout.data_len, 32);
        let data = &file[layout.data_offset as usize..];
        let snap = layout.decode(data).unwrap();
        assert_eq!(snap.exits(), Some(10));
        assert_eq!(snap.insn_emulation(), Some(2_000_007));
        assert_eq!(snap.get("hist"), Some(7));
        assert_eq!(snap.io_exits(), None);
        let mut later = snap.clone();
        later.values.insert("exits".into(), 15);
        assert_eq!(later.delta(&snap, "exits"), Some(5));
        assert_eq!(later.delta(&snap, "missing"), None);
    }

    #[test]
    fn reads_through_a_file() {
        let bytes = build(&[("io_exits", 0, 1), ("halt_exits", 8, 1)], &[5, 6]);
        let path = std::env::temp_dir().join(format!("viv-stats-test-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let mut stats = VcpuStats::from_file(File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        let snap = stats.snapshot().unwrap();
        assert_eq!(snap.io_exits(), Some(5));
        assert_eq!(snap.halt_exits(), Some(6));
        assert_eq!(stats.layout().descs[1].name, "halt_exits");
        // One counter alone, as the instruction budget reads it.
        let halts = stats.counter("halt_exits").unwrap();
        assert_eq!(stats.read(halts), Ok(6));
        assert_eq!(stats.counter("insn_emulation"), None);
    }

    #[test]
    fn refuses_malformed_files_without_panicking() {
        let good = build(&[("exits", 0, 1)], &[1]);
        assert_eq!(StatsLayout::parse(&good[..10]), Err(StatsError::Truncated("header")));
        // Descriptor table cut short.
        assert_eq!(StatsLayout::parse(&good[..HEADER_SIZE + 20]), Err(StatsError::Truncated("descriptor")));
        // Absurd name size.
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(StatsLayout::parse(&bad), Err(StatsError::Invalid(_))));
        // Zero name size.
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(StatsLayout::parse(&bad), Err(StatsError::Invalid(_))));
        // Descriptor offset near usize::MAX.
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StatsLayout::parse(&bad).is_err());
        // Huge descriptor count.
        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StatsLayout::parse(&bad).is_err());
        // Value offset far beyond any data block.
        let mut bad = good.clone();
        let desc = HEADER_SIZE + 8;
        bad[desc + 8..desc + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(StatsLayout::parse(&bad), Err(StatsError::Invalid(_))));
        // Empty name.
        let mut bad = good.clone();
        bad[desc + DESC_FIXED_SIZE] = 0;
        assert!(matches!(StatsLayout::parse(&bad), Err(StatsError::Invalid(_))));
        // Non-UTF-8 name.
        let mut bad = good.clone();
        bad[desc + DESC_FIXED_SIZE] = 0xFF;
        assert!(matches!(StatsLayout::parse(&bad), Err(StatsError::Invalid(_))));
        // Data block shorter than the layout says.
        let layout = StatsLayout::parse(&good).unwrap();
        assert_eq!(layout.decode(&[0u8; 3]), Err(StatsError::Truncated("data block")));
        // Garbage of every length.
        let mut seed = 0x1234_5678u32;
        for len in 0..400 {
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = StatsLayout::parse(&garbage);
        }
    }
}
