//! The boot image: every program the kernel starts, in one archive.
//!
//! The archive is a single PVH module (QEMU passes only one module, the
//! `-initrd`), so our VMM and QEMU boot the same bytes. Each program is an
//! ELF stored at a page-aligned offset, so the kernel maps the ELF's
//! segments straight from the archive instead of copying them.
//!
//! Layout: the header (`Header`, then `count` [`Entry`] records, padded to
//! whole pages), then the ELF files, each starting on a page boundary.

use crate::layout::PAGE_SIZE;

/// Magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"VIVBOOT\0";
/// Format version this crate reads and writes.
pub const VERSION: u32 = 3;
/// Size of the header before the entries.
pub const HEADER_SIZE: usize = 32;
/// Size of one entry.
pub const ENTRY_SIZE: usize = 128;
/// Most I/O port ranges one program may be granted.
pub const MAX_IO_RANGES: usize = 4;
/// Most device MMIO windows one program may be granted
/// (`KernelCall::MapDevice`).
pub const MAX_MMIO_RANGES: usize = 2;
/// Most programs one image holds: as many as the kernel info page lists
/// (`layout::kip::MAX_BOOT_PROCS`); their entries take two header pages.
pub const MAX_PROGRAMS: usize = crate::layout::kip::MAX_BOOT_PROCS;
/// Longest program name.
pub const NAME_MAX: usize = 16;

/// Flag: when this program exits, the kernel powers the machine off with
/// the program's exit status.
pub const FLAG_POWEROFF_ON_EXIT: u8 = 1;
/// Flag: the kernel does not start this program at boot; a privileged
/// process starts it later (`KernelCall::Spawn`).
pub const FLAG_NO_AUTOSTART: u8 = 2;
/// Flag: a service, started (and restarted) by the reincarnation server
/// rather than by the kernel: the kernel never starts it at boot.
pub const FLAG_SERVICE: u8 = 4;
/// Flag: a service the reincarnation server does not restart when it dies
/// (`restart = "hold"`).
pub const FLAG_RESTART_HOLD: u8 = 8;
/// Flag: a program of kind "user" (not a server or driver): its requests
/// open new cause ids in the IPC trace (`abi::trace`).
pub const FLAG_USER: u8 = 16;
/// Flag: the reincarnation server lends this program a backup, memory
/// that outlives its restarts (`backup = true`; [`crate::backup`]).
pub const FLAG_BACKUP: u8 = 32;

/// What a program may do, as the kernel enforces it.
///
/// Bit `n` of `traps` allows trap number `n` ([`crate::syscall::Trap`]);
/// bit `n` of `kernel_calls` allows kernel call `n`
/// ([`crate::syscall::KernelCall`]); bit `i` of `send_to` allows IPC to the
/// program at index `i` of the same image (boot processes get the slots
/// of their index); bit `n` of `irqs` allows IRQ line `n`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Privileges {
    pub traps: u8,
    pub kernel_calls: u64,
    pub send_to: u64,
    pub irqs: u32,
    /// Inclusive port ranges; `(0, 0)` entries are unused.
    pub io_ranges: [(u16, u16); MAX_IO_RANGES],
    /// Physical MMIO windows `(base, length)` the program may map with
    /// `KernelCall::MapDevice`; length 0 = unused.
    pub mmio_ranges: [(u64, u64); MAX_MMIO_RANGES],
}

impl Privileges {
    /// True when port `port` is inside one of the granted ranges.
    pub fn allows_port(&self, port: u16) -> bool {
        self.io_ranges.iter().any(|&(first, last)| last != 0 && (first..=last).contains(&port))
    }

    /// True when the physical range `base..base + len` (non-empty) lies
    /// wholly inside one granted MMIO window.
    pub fn allows_mmio(&self, base: u64, len: u64) -> bool {
        let Some(end) = base.checked_add(len) else { return false };
        len != 0
            && self.mmio_ranges.iter().any(|&(first, size)| {
                size != 0 && base >= first && first.checked_add(size).is_some_and(|last| end <= last)
            })
    }
}

/// One program of the boot image.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Entry<'a> {
    /// Program name (ASCII, at most [`NAME_MAX`] bytes).
    pub name: &'a str,
    /// Offset of the ELF from the start of the archive (page-aligned).
    pub offset: u64,
    /// Size of the ELF in bytes.
    pub size: u64,
    /// Scheduling priority, 0 = highest.
    pub priority: u8,
    /// `FLAG_*` bits.
    pub flags: u8,
    /// What the program may do.
    pub privileges: Privileges,
    /// Heartbeat period for the reincarnation server, in milliseconds (0 =
    /// none).
    pub heartbeat_ms: u32,
}

/// Why an archive was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParseError {
    /// Shorter than its header or its entry table.
    Truncated,
    /// Wrong magic bytes.
    BadMagic,
    /// A version this reader does not know.
    BadVersion(u32),
    /// More programs than [`MAX_PROGRAMS`].
    TooManyPrograms,
    /// Entry `index` has a name that is empty, too long or not ASCII.
    BadName(usize),
    /// Entry `index` points outside the archive or is not page-aligned.
    BadRange(usize),
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Truncated => write!(f, "boot image truncated"),
            ParseError::BadMagic => write!(f, "not a Vivarium boot image (bad magic)"),
            ParseError::BadVersion(v) => write!(f, "boot image version {v} unsupported (want {VERSION})"),
            ParseError::TooManyPrograms => write!(f, "boot image lists more than {MAX_PROGRAMS} programs"),
            ParseError::BadName(i) => write!(f, "boot image entry {i}: bad name"),
            ParseError::BadRange(i) => write!(f, "boot image entry {i}: ELF outside the image or misaligned"),
        }
    }
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from(le_u32(bytes, at)) | u64::from(le_u32(bytes, at + 4)) << 32
}

fn le_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

// Entry field offsets.
const AT_OFFSET: usize = 16;
const AT_SIZE: usize = 24;
const AT_PRIORITY: usize = 32;
const AT_FLAGS: usize = 33;
const AT_TRAPS: usize = 34;
const AT_IRQS: usize = 36;
const AT_SEND_TO: usize = 40;
const AT_KERNEL_CALLS: usize = 48;
const AT_IO_RANGES: usize = 56;
const AT_HEARTBEAT: usize = 72;
/// [`MAX_MMIO_RANGES`] pairs of `u64` base and `u64` length (version 3).
const AT_MMIO_RANGES: usize = 80;

/// A validated boot image.
#[derive(Clone, Copy, Debug)]
pub struct BootImage<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> BootImage<'a> {
    /// Checks the header and every entry.
    pub fn parse(bytes: &'a [u8]) -> Result<BootImage<'a>, ParseError> {
        if bytes.len() < HEADER_SIZE {
            return Err(ParseError::Truncated);
        }
        if bytes[..8] != MAGIC {
            return Err(ParseError::BadMagic);
        }
        let version = le_u32(bytes, 8);
        if version != VERSION {
            return Err(ParseError::BadVersion(version));
        }
        let count = le_u32(bytes, 12) as usize;
        if count > MAX_PROGRAMS {
            return Err(ParseError::TooManyPrograms);
        }
        if bytes.len() < HEADER_SIZE + count * ENTRY_SIZE {
            return Err(ParseError::Truncated);
        }
        let image = BootImage { bytes, count };
        for index in 0..count {
            image.check_entry(index)?;
        }
        Ok(image)
    }

    fn check_entry(&self, index: usize) -> Result<(), ParseError> {
        let at = HEADER_SIZE + index * ENTRY_SIZE;
        let raw_name = &self.bytes[at..at + NAME_MAX];
        let len = raw_name.iter().position(|&b| b == 0).unwrap_or(NAME_MAX);
        if len == 0 || !raw_name[..len].iter().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::BadName(index));
        }
        let offset = le_u64(self.bytes, at + AT_OFFSET);
        let size = le_u64(self.bytes, at + AT_SIZE);
        let end = offset.checked_add(size).ok_or(ParseError::BadRange(index))?;
        if !offset.is_multiple_of(PAGE_SIZE) || offset < PAGE_SIZE || end > self.bytes.len() as u64 {
            return Err(ParseError::BadRange(index));
        }
        Ok(())
    }

    /// Number of programs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the image holds no program.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `index` (panics when out of range; entries were validated).
    pub fn entry(&self, index: usize) -> Entry<'a> {
        assert!(index < self.count);
        let at = HEADER_SIZE + index * ENTRY_SIZE;
        let raw_name = &self.bytes[at..at + NAME_MAX];
        let len = raw_name.iter().position(|&b| b == 0).unwrap_or(NAME_MAX);
        let b = self.bytes;
        let mut io_ranges = [(0u16, 0u16); MAX_IO_RANGES];
        for (i, range) in io_ranges.iter_mut().enumerate() {
            *range = (le_u16(b, at + AT_IO_RANGES + i * 4), le_u16(b, at + AT_IO_RANGES + i * 4 + 2));
        }
        let mut mmio_ranges = [(0u64, 0u64); MAX_MMIO_RANGES];
        for (i, range) in mmio_ranges.iter_mut().enumerate() {
            *range = (le_u64(b, at + AT_MMIO_RANGES + i * 16), le_u64(b, at + AT_MMIO_RANGES + i * 16 + 8));
        }
        Entry {
            name: core::str::from_utf8(&raw_name[..len]).unwrap_or("?"),
            offset: le_u64(b, at + AT_OFFSET),
            size: le_u64(b, at + AT_SIZE),
            priority: b[at + AT_PRIORITY],
            flags: b[at + AT_FLAGS],
            privileges: Privileges {
                traps: b[at + AT_TRAPS],
                kernel_calls: le_u64(b, at + AT_KERNEL_CALLS),
                send_to: le_u64(b, at + AT_SEND_TO),
                irqs: le_u32(b, at + AT_IRQS),
                io_ranges,
                mmio_ranges,
            },
            heartbeat_ms: le_u32(b, at + AT_HEARTBEAT),
        }
    }

    /// The ELF bytes of entry `index`.
    pub fn elf(&self, index: usize) -> &'a [u8] {
        let e = self.entry(index);
        &self.bytes[e.offset as usize..(e.offset + e.size) as usize]
    }

    /// All entries in order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'a>> + '_ {
        (0..self.count).map(move |i| self.entry(i))
    }
}

/// Builds boot images on the host.
#[cfg(feature = "std")]
pub mod builder {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// A program to put into an image.
    #[derive(Clone, Debug)]
    pub struct Program {
        /// Name (ASCII graphic, 1..=16 bytes).
        pub name: String,
        /// Scheduling priority, 0 = highest.
        pub priority: u8,
        /// `FLAG_*` bits.
        pub flags: u8,
        /// What the program may do.
        pub privileges: Privileges,
        /// Heartbeat period in milliseconds (0 = none).
        pub heartbeat_ms: u32,
        /// The ELF file.
        pub elf: Vec<u8>,
    }

    /// Lays the programs out as an archive; fails on a bad name or too many
    /// programs.
    pub fn build(programs: &[Program]) -> Result<Vec<u8>, ParseError> {
        if programs.len() > MAX_PROGRAMS {
            return Err(ParseError::TooManyPrograms);
        }
        let header_bytes = (HEADER_SIZE + programs.len() * ENTRY_SIZE).next_multiple_of(PAGE_SIZE as usize);
        let mut out = std::vec![0u8; header_bytes.max(PAGE_SIZE as usize)];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(programs.len() as u32).to_le_bytes());
        for (index, program) in programs.iter().enumerate() {
            let name = program.name.as_bytes();
            if name.is_empty() || name.len() > NAME_MAX || !name.iter().all(|b| b.is_ascii_graphic()) {
                return Err(ParseError::BadName(index));
            }
            let offset = out.len() as u64;
            out.extend_from_slice(&program.elf);
            let padded = out.len().div_ceil(PAGE_SIZE as usize) * PAGE_SIZE as usize;
            out.resize(padded, 0);
            let at = HEADER_SIZE + index * ENTRY_SIZE;
            out[at..at + name.len()].copy_from_slice(name);
            let p = &program.privileges;
            out[at + AT_OFFSET..][..8].copy_from_slice(&offset.to_le_bytes());
            out[at + AT_SIZE..][..8].copy_from_slice(&(program.elf.len() as u64).to_le_bytes());
            out[at + AT_PRIORITY] = program.priority;
            out[at + AT_FLAGS] = program.flags;
            out[at + AT_TRAPS] = p.traps;
            out[at + AT_IRQS..][..4].copy_from_slice(&p.irqs.to_le_bytes());
            out[at + AT_SEND_TO..][..8].copy_from_slice(&p.send_to.to_le_bytes());
            out[at + AT_KERNEL_CALLS..][..8].copy_from_slice(&p.kernel_calls.to_le_bytes());
            for (i, &(first, last)) in p.io_ranges.iter().enumerate() {
                out[at + AT_IO_RANGES + i * 4..][..2].copy_from_slice(&first.to_le_bytes());
                out[at + AT_IO_RANGES + i * 4 + 2..][..2].copy_from_slice(&last.to_le_bytes());
            }
            for (i, &(base, len)) in p.mmio_ranges.iter().enumerate() {
                out[at + AT_MMIO_RANGES + i * 16..][..8].copy_from_slice(&base.to_le_bytes());
                out[at + AT_MMIO_RANGES + i * 16 + 8..][..8].copy_from_slice(&len.to_le_bytes());
            }
            out[at + AT_HEARTBEAT..][..4].copy_from_slice(&program.heartbeat_ms.to_le_bytes());
        }
        let total = out.len() as u64;
        out[16..24].copy_from_slice(&total.to_le_bytes());
        Ok(out)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::builder::{build, Program};
    use super::*;
    use std::vec;

    fn program(name: &str, elf: &[u8]) -> Program {
        let privileges = Privileges {
            traps: 0b1000,
            kernel_calls: 0x16,
            send_to: 0b10,
            irqs: 1 << 4,
            io_ranges: [(0x3f8, 0x3ff), (0, 0), (0, 0), (0, 0)],
            mmio_ranges: [(0xD000_0000, 0x1000), (0, 0)],
        };
        Program {
            name: name.into(),
            priority: 3,
            flags: FLAG_POWEROFF_ON_EXIT,
            privileges,
            heartbeat_ms: 250,
            elf: elf.to_vec(),
        }
    }

    #[test]
    fn built_images_parse_back() {
        let bytes = build(&[program("hello", &[1, 2, 3]), program("pong", &[9; 5000])]).unwrap();
        let image = BootImage::parse(&bytes).unwrap();
        assert_eq!(image.len(), 2);
        assert_eq!(image.entry(0).name, "hello");
        assert_eq!(image.elf(0), &[1, 2, 3]);
        assert_eq!(image.entry(1).offset % PAGE_SIZE, 0);
        assert_eq!(image.elf(1).len(), 5000);
        assert_eq!(image.entry(1).priority, 3);
        let p = image.entry(1).privileges;
        assert_eq!(p, program("x", &[]).privileges);
        assert!(p.allows_port(0x3fd) && !p.allows_port(0x3f7) && !p.allows_port(0));
        assert_eq!(image.entry(0).heartbeat_ms, 250);
        assert!(p.allows_mmio(0xD000_0000, 0x1000) && p.allows_mmio(0xD000_0800, 0x800));
        assert!(!p.allows_mmio(0xD000_0000, 0x2000) && !p.allows_mmio(0xCFFF_F000, 0x1000));
        assert!(!p.allows_mmio(0xD000_0000, 0) && !p.allows_mmio(u64::MAX, 2));
    }

    #[test]
    fn corrupt_images_are_refused() {
        let good = build(&[program("a", &[1])]).unwrap();
        assert_eq!(BootImage::parse(&good[..10]).unwrap_err(), ParseError::Truncated);
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadMagic);
        let mut bad = good.clone();
        bad[HEADER_SIZE + AT_SIZE + 7] = 0x01; // size far past the end
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadRange(0));
        let mut bad = good.clone();
        bad[HEADER_SIZE] = 0;
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadName(0));
        assert!(build(&[program("", &[])]).is_err());
        assert!(build(&vec![program("x", &[]); MAX_PROGRAMS + 1]).is_err());
    }
}
