//! Unit tests of the code map: a hand-made ELF with and without symbols,
//! and the guest's own programs.

use super::*;

const TEXT_VA: u64 = 0x4000_0000;
const TEXT_AT: usize = 0x100;

/// A minimal ELF64: one R+X PT_LOAD of `text` at [`TEXT_VA`], and, when
/// `functions` is not empty, a symbol table of (name, offset, size, type).
fn elf(text: &[u8], functions: &[(&str, u64, u64, u8)]) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    for &(name, offset, size, kind) in functions {
        let name_at = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        symtab.extend_from_slice(&name_at.to_le_bytes());
        symtab.push(kind); // st_info: local binding
        symtab.push(0);
        symtab.extend_from_slice(&1u16.to_le_bytes());
        symtab.extend_from_slice(&(TEXT_VA + offset).to_le_bytes());
        symtab.extend_from_slice(&size.to_le_bytes());
    }
    let symtab_at = TEXT_AT + text.len();
    let strtab_at = symtab_at + symtab.len();
    let shdrs_at = (strtab_at + strtab.len() + 7) & !7;
    let sections = if functions.is_empty() { 0 } else { 3u16 };
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&TEXT_VA.to_le_bytes());
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&(if sections == 0 { 0 } else { shdrs_at as u64 }).to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, sections, if sections == 0 { 0 } else { 2 }] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    // PT_LOAD, R+X.
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&5u32.to_le_bytes());
    for v in [TEXT_AT as u64, TEXT_VA, TEXT_VA, text.len() as u64, text.len() as u64 + 0x40, 0x1000] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.resize(TEXT_AT, 0);
    f.extend_from_slice(text);
    f.extend_from_slice(&symtab);
    f.extend_from_slice(&strtab);
    f.resize(shdrs_at, 0);
    if sections != 0 {
        f.extend_from_slice(&[0u8; 64]);
        // (type, offset, size, link, entsize)
        for (kind, at, size, link, entsize) in
            [(2u32, symtab_at, symtab.len(), 2u32, 24u64), (3, strtab_at, strtab.len(), 0, 0)]
        {
            f.extend_from_slice(&0u32.to_le_bytes());
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(&[0u8; 16]); // flags, addr
            f.extend_from_slice(&(at as u64).to_le_bytes());
            f.extend_from_slice(&(size as u64).to_le_bytes());
            f.extend_from_slice(&link.to_le_bytes());
            f.extend_from_slice(&1u32.to_le_bytes()); // sh_info
            f.extend_from_slice(&8u64.to_le_bytes());
            f.extend_from_slice(&entsize.to_le_bytes());
        }
    }
    f
}

#[test]
fn functions_come_from_stt_func_symbols_clipped_to_the_segment() {
    let text = [0x90u8; 0x60];
    let m = code_map_of(&elf(
        &text,
        &[
            ("_ZN3blk3Blk3run17had0e639cf001010eE", 0x10, 0x20, 2),
            ("alias", 0x10, 0x08, 2),
            ("data_object", 0x00, 0x08, 1),
            ("empty", 0x38, 0, 2),
            ("tail", 0x50, 0x40, 2),
            ("outside", 0x1000, 0x10, 2),
        ],
    ));
    assert_eq!(m.scope, Scope::Functions);
    let spans: Vec<(u64, u64, &str)> =
        m.spans.iter().map(|s| (s.start - TEXT_VA, s.end - TEXT_VA, s.name.as_deref().unwrap())).collect();
    // The alias lies inside the longer body; the object, the empty and the
    // outside symbols are no code; "tail" ends with the segment's file bytes.
    assert_eq!(spans, [(0x10, 0x30, "blk::Blk::run"), (0x50, 0x60, "tail")]);
    assert_eq!(m.segments, [(TEXT_VA, &text[..])]);
}

fn code_map_of(bytes: &[u8]) -> CodeMap<'static> {
    let leaked: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    code_map(leaked).unwrap()
}

#[test]
fn without_symbols_the_segments_file_bytes() {
    let m = code_map_of(&elf(&[0xC3; 0x30], &[]));
    assert_eq!(m.scope, Scope::Segments);
    assert_eq!(m.spans, [Span { start: TEXT_VA, end: TEXT_VA + 0x30, name: None }]);
    assert!(code_map(b"not an elf").is_err());
}

#[test]
fn the_guest_programs_have_functions_inside_their_text() {
    // The embedded images (none when built with VIV_SKIP_GUEST).
    for image in crate::image::embedded::embedded_images() {
        let parsed = abi::boot_image::BootImage::parse(image.archive).unwrap();
        for (i, entry) in parsed.entries().enumerate() {
            let m = code_map(parsed.elf(i)).unwrap();
            assert_eq!(m.scope, Scope::Functions, "{} in {}", entry.name, image.name);
            assert!(m.spans.windows(2).all(|w| w[0].end <= w[1].start), "{}", entry.name);
            let (va, text) = m.segments[0];
            let covered: u64 = m.spans.iter().map(|s| s.end - s.start).sum();
            assert!(covered <= text.len() as u64 && covered > 0, "{}", entry.name);
            assert!(m.spans.iter().all(|s| s.start >= va), "{}", entry.name);
            assert_eq!(program_elf(image.archive, entry.name).unwrap().as_ptr(), parsed.elf(i).as_ptr());
        }
    }
}

#[test]
fn exec_names_truncated_to_eight_bytes_resolve_when_unique() {
    for image in crate::image::embedded::embedded_images() {
        assert!(program_elf(image.archive, "no-such").is_err());
        let parsed = abi::boot_image::BootImage::parse(image.archive).unwrap();
        let names: Vec<&str> = parsed.entries().map(|e| e.name).collect();
        for long in names.iter().filter(|n| n.len() > EXEC_NAME_BYTES) {
            let short = &long[..EXEC_NAME_BYTES];
            let found = program_elf(image.archive, short);
            if names.iter().filter(|n| n.starts_with(short)).count() == 1 {
                assert_eq!(found.unwrap(), program_elf(image.archive, long).unwrap());
            } else {
                assert!(found.is_err(), "{short} is ambiguous in {}", image.name);
            }
        }
    }
}
