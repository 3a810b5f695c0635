//! Stripped copies of the guest's ELFs for what the guest runs.
//!
//! Why: the guest is built with full debug info (docs/gdb.md) so that gdb
//! shows source lines, arguments and locals, which makes the programs'
//! ELFs 3-10 times larger. The boot image and the disk's `/bin` hold
//! every program's whole file, PM reads the whole file at every exec and
//! the kernel maps the boot image, so what the guest gets is a copy
//! without the `.debug_*` sections: the same loaded bytes at the same
//! file offsets, the same symbol table (the profiler, SWIFI and the gdb
//! stub name functions by it), no DWARF. The unstripped file is what
//! `viv export --symbols` gives gdb.
//!
//! build.rs includes this file too (it strips the programs before it
//! assembles the images and disks), so it depends on nothing else in
//! the crate.

use object::build::elf::Builder;
use object::read::elf::{ElfFile64, ProgramHeader as _};
use object::{Endianness, Object, ObjectSection};

/// Why an ELF could not be stripped.
#[derive(Debug, thiserror::Error)]
pub enum StripError {
    /// The input is not an ELF file `object` can rewrite.
    #[error("cannot read the ELF file: {0}")]
    Read(object::build::Error),
    /// Writing the stripped copy failed.
    #[error("cannot write the stripped ELF file: {0}")]
    Write(object::build::Error),
}

/// Whether a section named `name` is debug info (DWARF) that the
/// stripped copy leaves out.
pub fn is_debug_section(name: &[u8]) -> bool {
    name.starts_with(b".debug_")
}

/// `elf` without its `.debug_*` sections. Loaded segments keep their
/// bytes and file offsets (the builder keeps the offsets of allocated
/// sections), so the code is byte for byte the one in `elf`.
///
/// The copy is at least as long as every loaded segment's end in the file:
/// a segment of bss only (no file bytes) keeps the offset it had in front
/// of the debug info, which may lie past the shorter file's end, and the
/// kernel's exec refuses a segment that ends past the file.
pub fn strip_debug(elf: &[u8]) -> Result<Vec<u8>, StripError> {
    let mut builder = Builder::read(elf).map_err(StripError::Read)?;
    for section in builder.sections.iter_mut() {
        if is_debug_section(&section.name) {
            section.delete = true;
        }
    }
    let mut out = Vec::with_capacity(elf.len());
    builder.write(&mut out).map_err(StripError::Write)?;
    let segments_end = loaded_segments(elf).iter().map(|s| s.offset + s.bytes.len() as u64).max().unwrap_or(0);
    if let Ok(end) = usize::try_from(segments_end) {
        if end > out.len() {
            out.resize(end, 0);
        }
    }
    Ok(out)
}

/// One `PT_LOAD` segment of an ELF file: what the guest gets of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSegment<'a> {
    /// Virtual address.
    pub vaddr: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Size in memory (the file bytes, then zeroes).
    pub mem_size: u64,
    /// `PF_*` flags.
    pub flags: u32,
    /// The file bytes.
    pub bytes: &'a [u8],
}

/// The `PT_LOAD` segments of an ELF64 file (none if `elf` is not a
/// readable ELF64 file). Two files that agree here run the same.
pub fn loaded_segments(elf: &[u8]) -> Vec<LoadedSegment<'_>> {
    let Ok(file) = ElfFile64::<Endianness>::parse(elf) else { return Vec::new() };
    let endian = file.endian();
    file.elf_program_headers()
        .iter()
        .filter(|p| p.p_type(endian) == object::elf::PT_LOAD)
        .map(|p| LoadedSegment {
            vaddr: p.p_vaddr(endian),
            offset: p.p_offset(endian),
            mem_size: p.p_memsz(endian),
            flags: p.p_flags(endian).0,
            bytes: p.data(endian, elf).unwrap_or_default(),
        })
        .collect()
}

/// The names of `elf`'s debug sections (none if it is not a readable ELF).
pub fn debug_sections(elf: &[u8]) -> Vec<String> {
    let Ok(file) = object::File::parse(elf) else { return Vec::new() };
    file.sections()
        .filter_map(|s| s.name_bytes().ok().filter(|n| is_debug_section(n)).map(|n| String::from_utf8_lossy(n).into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_loses_its_debug_info_and_keeps_its_loaded_bytes() {
        let kernel = crate::image::embedded::embedded_kernel().unwrap();
        assert!(debug_sections(kernel).iter().any(|s| s == ".debug_line"));
        let stripped = strip_debug(kernel).unwrap();
        assert_eq!(debug_sections(&stripped), Vec::<String>::new());
        assert!(stripped.len() < kernel.len() / 2, "{} of {} bytes", stripped.len(), kernel.len());
        let segments = loaded_segments(&stripped);
        assert!(!segments.is_empty());
        assert_eq!(segments, loaded_segments(kernel));
        let end = segments.iter().map(|s| s.offset + s.bytes.len() as u64).max().unwrap();
        assert!(stripped.len() as u64 >= end);
    }

    #[test]
    fn what_is_not_an_elf_file_is_an_error() {
        let err = strip_debug(b"not an elf file").unwrap_err();
        assert!(err.to_string().contains("cannot read the ELF file"), "{err}");
        assert!(loaded_segments(b"nope").is_empty() && debug_sections(b"nope").is_empty());
    }
}
