//! Just enough ELF64 to map a statically linked user program: the
//! format of every program the kernel loads, from the boot image or from
//! a file PM read off the disk (`KernelCall::ExecElf`). The kernel and PM
//! read it with this one parser; every offset is checked against the bytes
//! given, so a damaged file is refused, never read out of bounds.

/// A loadable segment.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub file_size: u64,
    pub mem_size: u64,
    pub writable: bool,
    pub executable: bool,
}

/// A checked ELF image.
pub struct Elf<'a> {
    bytes: &'a [u8],
    pub entry: u64,
    phoff: usize,
    phnum: usize,
}

// One bounds check and one load each: the kernel reads every program
// header at each exec (twice: the entry check and the mapping), and a read
// byte by byte costs a check and a load per byte.
#[inline(always)]
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}
#[inline(always)]
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
#[inline(always)]
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

const PT_LOAD: u32 = 1;
const PHDR_SIZE: usize = 56;

impl<'a> Elf<'a> {
    /// Checks the header: 64-bit little-endian x86-64 executable.
    pub fn parse(bytes: &'a [u8]) -> Result<Elf<'a>, &'static str> {
        if bytes.len() < 64 || bytes[..4] != *b"\x7fELF" {
            return Err("not an ELF file");
        }
        if bytes[4] != 2 || bytes[5] != 1 || u16_at(bytes, 18) != 62 {
            return Err("not a little-endian x86-64 ELF64 file");
        }
        if u16_at(bytes, 16) != 2 {
            return Err("not a static executable (ET_EXEC)");
        }
        let phoff = u64_at(bytes, 32) as usize;
        let phnum = u16_at(bytes, 56) as usize;
        if u16_at(bytes, 54) as usize != PHDR_SIZE
            || phoff.checked_add(phnum * PHDR_SIZE).is_none_or(|end| end > bytes.len())
        {
            return Err("bad program header table");
        }
        Ok(Elf { bytes, entry: u64_at(bytes, 24), phoff, phnum })
    }

    /// One past the last file byte any PT_LOAD segment loads (0 when there
    /// is none): the part of the file an exec needs, besides the headers.
    /// `None` when a segment's file range overflows.
    pub fn load_end(&self) -> Option<u64> {
        self.segments().try_fold(0u64, |end, seg| Some(end.max(seg.offset.checked_add(seg.file_size)?)))
    }

    /// The PT_LOAD segments.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.phnum).filter_map(move |i| {
            let at = self.phoff + i * PHDR_SIZE;
            if u32_at(self.bytes, at) != PT_LOAD {
                return None;
            }
            let flags = u32_at(self.bytes, at + 4);
            Some(Segment {
                offset: u64_at(self.bytes, at + 8),
                vaddr: u64_at(self.bytes, at + 16),
                file_size: u64_at(self.bytes, at + 32),
                mem_size: u64_at(self.bytes, at + 40),
                executable: flags & 1 != 0,
                writable: flags & 2 != 0,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 x86-64 executable header with `phnum` program headers
    /// right after it, each given as (type, flags, offset, vaddr,
    /// file size, memory size).
    fn elf(entry: u64, phdrs: &[(u32, u32, u64, u64, u64, u64)]) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[24..32].copy_from_slice(&entry.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        b[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, &(kind, flags, offset, vaddr, file, mem)) in phdrs.iter().enumerate() {
            let at = 64 + i * PHDR_SIZE;
            b[at..at + 4].copy_from_slice(&kind.to_le_bytes());
            b[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
            b[at + 16..at + 24].copy_from_slice(&vaddr.to_le_bytes());
            b[at + 32..at + 40].copy_from_slice(&file.to_le_bytes());
            b[at + 40..at + 48].copy_from_slice(&mem.to_le_bytes());
        }
        b
    }

    #[test]
    fn segments_and_the_loaded_part_of_the_file() {
        let b = elf(
            0x20_1000,
            &[
                (PT_LOAD, 5, 0x1000, 0x20_1000, 0x2345, 0x2345),
                (6, 4, 0x40, 0x20_0040, 0x70, 0x70), // PT_PHDR: not loaded
                (PT_LOAD, 6, 0x4000, 0x20_4000, 0x100, 0x3000),
            ],
        );
        let e = Elf::parse(&b).unwrap();
        assert_eq!(e.entry, 0x20_1000);
        let segs: [Segment; 2] = [e.segments().next().unwrap(), e.segments().nth(1).unwrap()];
        assert_eq!(e.segments().count(), 2);
        assert!(segs[0].executable && !segs[0].writable);
        assert!(segs[1].writable && !segs[1].executable);
        assert_eq!((segs[1].file_size, segs[1].mem_size), (0x100, 0x3000));
        // The symbols and sections after the last segment are not needed.
        assert_eq!(e.load_end(), Some(0x4100));
        assert_eq!(Elf::parse(&elf(0, &[])).unwrap().load_end(), Some(0));
        let overflowing = elf(0, &[(PT_LOAD, 4, u64::MAX, 0x20_0000, 2, 2)]);
        assert_eq!(Elf::parse(&overflowing).unwrap().load_end(), None);
    }

    #[test]
    fn what_is_not_a_static_x86_64_executable_is_refused() {
        let good = elf(0, &[(PT_LOAD, 5, 0, 0x20_0000, 0x10, 0x10)]);
        assert!(Elf::parse(&good).is_ok());
        assert!(Elf::parse(&good[..63]).is_err());
        let mut bad = good;
        bad[0] = 0;
        assert!(Elf::parse(&bad).is_err());
        let mut bad = good;
        bad[4] = 1; // 32-bit
        assert!(Elf::parse(&bad).is_err());
        let mut bad = good;
        bad[18] = 3; // i386
        assert!(Elf::parse(&bad).is_err());
        let mut bad = good;
        bad[16] = 3; // ET_DYN
        assert!(Elf::parse(&bad).is_err());
        let mut bad = good;
        bad[54] = 32; // wrong program-header size
        assert!(Elf::parse(&bad).is_err());
        // A program-header table past the bytes given (the kernel reads
        // only the first KiB of a file for the headers).
        assert!(Elf::parse(&good[..100]).is_err());
        let mut bad = good;
        bad[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(Elf::parse(&bad).is_err());
        let mut bad = good;
        bad[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Elf::parse(&bad).is_err());
    }
}
