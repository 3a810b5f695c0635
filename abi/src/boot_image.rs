//! The boot image: every program the kernel starts, in one archive.
//!
//! The archive is a single PVH module (QEMU passes only one module, the
//! `-initrd`), so our VMM and QEMU boot the same bytes. Each program is an
//! ELF stored at a page-aligned offset, so the kernel maps the ELF's
//! segments straight from the archive instead of copying them.
//!
//! Layout: a header page (`Header`, then `count` [`Entry`] records), then
//! the ELF files, each starting on a page boundary.

use crate::layout::PAGE_SIZE;

/// Magic bytes at offset 0.
pub const MAGIC: [u8; 8] = *b"VIVBOOT\0";
/// Format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Size of the header before the entries.
pub const HEADER_SIZE: usize = 32;
/// Size of one entry.
pub const ENTRY_SIZE: usize = 64;
/// Most programs one image holds (entries fill the header page).
pub const MAX_PROGRAMS: usize = (PAGE_SIZE as usize - HEADER_SIZE) / ENTRY_SIZE;
/// Longest program name.
pub const NAME_MAX: usize = 16;

/// Flag: when this program exits, the kernel powers the machine off with
/// the program's exit status.
pub const FLAG_POWEROFF_ON_EXIT: u8 = 1;

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
        let offset = le_u64(self.bytes, at + 16);
        let size = le_u64(self.bytes, at + 24);
        let end = offset.checked_add(size).ok_or(ParseError::BadRange(index))?;
        if offset % PAGE_SIZE != 0 || offset < PAGE_SIZE || end > self.bytes.len() as u64 {
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
        Entry {
            name: core::str::from_utf8(&raw_name[..len]).unwrap_or("?"),
            offset: le_u64(self.bytes, at + 16),
            size: le_u64(self.bytes, at + 24),
            priority: self.bytes[at + 32],
            flags: self.bytes[at + 33],
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
        /// The ELF file.
        pub elf: Vec<u8>,
    }

    /// Lays the programs out as an archive; fails on a bad name or too many
    /// programs.
    pub fn build(programs: &[Program]) -> Result<Vec<u8>, ParseError> {
        if programs.len() > MAX_PROGRAMS {
            return Err(ParseError::TooManyPrograms);
        }
        let mut out = std::vec![0u8; PAGE_SIZE as usize];
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
            out[at + 16..at + 24].copy_from_slice(&offset.to_le_bytes());
            out[at + 24..at + 32].copy_from_slice(&(program.elf.len() as u64).to_le_bytes());
            out[at + 32] = program.priority;
            out[at + 33] = program.flags;
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
        Program { name: name.into(), priority: 3, flags: FLAG_POWEROFF_ON_EXIT, elf: elf.to_vec() }
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
    }

    #[test]
    fn corrupt_images_are_refused() {
        let good = build(&[program("a", &[1])]).unwrap();
        assert_eq!(BootImage::parse(&good[..10]).unwrap_err(), ParseError::Truncated);
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadMagic);
        let mut bad = good.clone();
        bad[HEADER_SIZE + 31] = 0x01; // size far past the end
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadRange(0));
        let mut bad = good.clone();
        bad[HEADER_SIZE] = 0;
        assert_eq!(BootImage::parse(&bad).unwrap_err(), ParseError::BadName(0));
        assert!(build(&[program("", &[])]).is_err());
        assert!(build(&vec![program("x", &[]); MAX_PROGRAMS + 1]).is_err());
    }
}
