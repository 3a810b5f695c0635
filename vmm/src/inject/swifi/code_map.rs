//! Where a program's real code is: the spans SWIFI may mutate, from the
//! program's ELF.
//!
//! Why: the page walk ([`super::code_pages`]) yields whole pages, and a
//! text segment ends in padding (zeros, `int3`) that never runs, as do the
//! gaps the linker leaves between functions. A mutation there changes
//! nothing and skews a campaign towards "no effect". The host has every
//! program's ELF — the boot image archive holds them all, and the
//! programs on the default disk's `/bin` are the same files (`build.rs`
//! copies them from the same guest build) — so the candidates are
//! restricted to the bytes of `STT_FUNC` symbols (the guest programs keep
//! their symbol table), or, without symbols, to the file bytes of the
//! executable `PT_LOAD` segments (`p_vaddr .. p_vaddr + p_filesz`).

use object::elf::{FileHeader64, PF_X, PT_LOAD, SHT_SYMTAB, STT_FUNC};
use object::read::elf::{FileHeader, ProgramHeader, Sym};
use object::Endianness;
use serde::{Deserialize, Serialize};

use super::SwifiError;

/// Most name bytes of a program exec'd from the disk
/// (`abi::syscall::KernelCall::ExecElf`), so the Stop mailbox may hold a
/// truncated name.
pub const EXEC_NAME_BYTES: usize = 8;

/// A range of code that runs: a function or an executable segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Guest-virtual start (inclusive) and end (exclusive).
    pub start: u64,
    pub end: u64,
    /// The function's demangled name (without the hash), for functions.
    pub name: Option<String>,
}

/// What the candidates of a mutation were restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The bytes of the ELF's `STT_FUNC` symbols.
    Functions,
    /// The file bytes of the ELF's executable `PT_LOAD` segments.
    Segments,
    /// Whole user code pages from the page walk (no usable ELF).
    #[default]
    Pages,
}

/// The code of one ELF.
#[derive(Debug, Clone)]
pub struct CodeMap<'a> {
    /// Disjoint spans in address order.
    pub spans: Vec<Span>,
    /// [`Scope::Functions`] or [`Scope::Segments`].
    pub scope: Scope,
    /// Each executable segment: its address and its file bytes.
    pub segments: Vec<(u64, &'a [u8])>,
}

/// The code map of the 64-bit little-endian ELF `elf`.
pub fn code_map(elf: &[u8]) -> Result<CodeMap<'_>, SwifiError> {
    let header = FileHeader64::<Endianness>::parse(elf).map_err(|e| SwifiError::NotElf(e.to_string()))?;
    let endian = header.endian().map_err(|e| SwifiError::BadElf(e.to_string()))?;
    let mut segments = Vec::new();
    for ph in header.program_headers(endian, elf).map_err(|e| SwifiError::BadElf(e.to_string()))? {
        if ph.p_type(endian) != PT_LOAD || !ph.p_flags(endian).contains(PF_X) {
            continue;
        }
        let bytes = ph.data(endian, elf).map_err(|_| SwifiError::SegmentOutside)?;
        segments.push((ph.p_vaddr(endian), bytes));
    }
    if segments.is_empty() {
        return Err(SwifiError::NoExecutableSegment);
    }
    segments.sort_by_key(|s| s.0);
    let in_segments = |start: u64, end: u64| {
        segments.iter().find_map(|&(va, b)| {
            let (s, e) = (start.max(va), end.min(va + b.len() as u64));
            (s < e).then_some((s, e))
        })
    };
    // A damaged or missing symbol table leaves the segments.
    let mut functions = functions(header, endian, elf, &in_segments).unwrap_or_default();
    if functions.is_empty() {
        let spans = segments.iter().map(|&(va, b)| Span { start: va, end: va + b.len() as u64, name: None }).collect();
        return Ok(CodeMap { spans, scope: Scope::Segments, segments });
    }
    // Aliases (one body, several names) and overlaps: the longest first,
    // then names in order, and later spans start where earlier ones end.
    functions.sort_by(|a, b| (a.start, b.end, &a.name).cmp(&(b.start, a.end, &b.name)));
    let mut spans: Vec<Span> = Vec::with_capacity(functions.len());
    for mut f in functions {
        if let Some(last) = spans.last() {
            f.start = f.start.max(last.end);
        }
        if f.start < f.end {
            spans.push(f);
        }
    }
    Ok(CodeMap { spans, scope: Scope::Functions, segments })
}

/// The `STT_FUNC` symbols of `elf`, clipped by `clip` to the executable
/// segments (symbols outside them are left out).
fn functions(
    header: &FileHeader64<Endianness>,
    endian: Endianness,
    elf: &[u8],
    clip: &dyn Fn(u64, u64) -> Option<(u64, u64)>,
) -> Result<Vec<Span>, object::read::Error> {
    let symbols = header.sections(endian, elf)?.symbols(endian, elf, SHT_SYMTAB)?;
    let mut functions = Vec::new();
    for sym in symbols.iter() {
        let (value, size) = (sym.st_value(endian), sym.st_size(endian));
        if sym.st_type() != STT_FUNC || size == 0 {
            continue;
        }
        let Some((start, end)) = clip(value, value.saturating_add(size)) else { continue };
        let raw = symbols.symbol_name(endian, sym).unwrap_or_default();
        let name = format!("{:#}", rustc_demangle::demangle(&String::from_utf8_lossy(raw)));
        functions.push(Span { start, end, name: Some(name) });
    }
    Ok(functions)
}

/// The ELF of the program called `name` in the boot image `archive`: the
/// entry of that name, or the only entry whose name starts with a name
/// truncated to [`EXEC_NAME_BYTES`].
pub fn program_elf<'a>(archive: &'a [u8], name: &str) -> Result<&'a [u8], SwifiError> {
    let image = abi::boot_image::BootImage::parse(archive).map_err(|e| SwifiError::BootImage(e.to_string()))?;
    let names: Vec<&str> = image.entries().map(|e| e.name).collect();
    if let Some(i) = names.iter().position(|&n| n == name) {
        return Ok(image.elf(i));
    }
    let prefixed: Vec<usize> = (0..names.len()).filter(|&i| names[i].starts_with(name)).collect();
    match prefixed[..] {
        [i] if name.len() == EXEC_NAME_BYTES => Ok(image.elf(i)),
        _ => Err(SwifiError::NoProgram(name.to_string())),
    }
}

#[cfg(test)]
mod tests;
