//! Just enough ELF64 to map a statically linked user program.

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

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
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
