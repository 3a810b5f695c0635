//! Builds a minimal PVH-bootable ELF around flat 32-bit code.
//!
//! Why this exists: the VMM's boot path (ELF loading, the PVH note, the
//! 32-bit entry state, the devices, the watchdog) must be testable on real
//! KVM without the guest kernel, which is built separately and may not
//! exist yet. A few hand-assembled bytes wrapped in this ELF exercise the
//! exact path the kernel takes. The integration tests in `tests/` use it,
//! and so can anyone checking a host ("does KVM work here?").
//!
//! The file has two program headers: a `PT_LOAD` of the code at
//! `abi::platform::KERNEL_LOAD_ADDR` and a `PT_NOTE` holding the Xen
//! `XEN_ELFNOTE_PHYS32_ENTRY` note that names the entry point.

/// ELF note type of the PVH 32-bit entry point.
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const NOTE_OFFSET: usize = EHDR_SIZE + 2 * PHDR_SIZE;
const NOTE_SIZE: usize = 12 + 4 + 4;
const CODE_OFFSET: usize = 0x1000;

fn put16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_le_bytes());
}
fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}
fn put64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// An ELF64 file that loads `code` at `KERNEL_LOAD_ADDR` (followed by
/// `bss` zero bytes) and whose PVH entry is `KERNEL_LOAD_ADDR + entry_offset`.
/// Pass `with_pvh_note = false` to leave the note out (to test the error).
pub fn pvh_elf(code: &[u8], entry_offset: u32, bss: u64, with_pvh_note: bool) -> Vec<u8> {
    let base = abi::platform::KERNEL_LOAD_ADDR;
    let entry = base + u64::from(entry_offset);
    let mut f = Vec::with_capacity(CODE_OFFSET + code.len());
    // ELF header.
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    put16(&mut f, 2); // ET_EXEC
    put16(&mut f, 0x3e); // EM_X86_64
    put32(&mut f, 1); // EV_CURRENT
    put64(&mut f, entry);
    put64(&mut f, EHDR_SIZE as u64); // e_phoff
    put64(&mut f, 0); // e_shoff
    put32(&mut f, 0); // e_flags
    put16(&mut f, EHDR_SIZE as u16);
    put16(&mut f, PHDR_SIZE as u16);
    put16(&mut f, 2); // e_phnum
    put16(&mut f, 64); // e_shentsize
    put16(&mut f, 0); // e_shnum
    put16(&mut f, 0); // e_shstrndx
                      // PT_LOAD, RWX.
    put32(&mut f, 1);
    put32(&mut f, 7);
    put64(&mut f, CODE_OFFSET as u64);
    put64(&mut f, base);
    put64(&mut f, base);
    put64(&mut f, code.len() as u64);
    put64(&mut f, code.len() as u64 + bss);
    put64(&mut f, 0x1000);
    // PT_NOTE (or PT_NULL without the note).
    put32(&mut f, if with_pvh_note { 4 } else { 0 });
    put32(&mut f, 4);
    put64(&mut f, NOTE_OFFSET as u64);
    put64(&mut f, 0);
    put64(&mut f, 0);
    put64(&mut f, NOTE_SIZE as u64);
    put64(&mut f, NOTE_SIZE as u64);
    put64(&mut f, 4);
    // The note: namesz, descsz, type, "Xen\0", the 32-bit entry.
    put32(&mut f, 4);
    put32(&mut f, 4);
    put32(&mut f, XEN_ELFNOTE_PHYS32_ENTRY);
    f.extend_from_slice(b"Xen\0");
    put32(&mut f, entry as u32);
    f.resize(CODE_OFFSET, 0);
    f.extend_from_slice(code);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vstate::boot;
    use vm_memory::{Bytes, GuestAddress};

    #[test]
    fn the_loader_finds_the_pvh_entry_and_places_the_archive() {
        let mem = crate::vstate::memory::create(16 << 20).unwrap();
        let code = [0x90u8; 100];
        let elf = pvh_elf(&code, 4, 0x2000, true);
        let archive = vec![0xAAu8; 5000];
        let layout = boot::load(&mem, &elf, &archive, "x=1").unwrap();
        assert_eq!(layout.entry, 0x10_0004);
        assert_eq!(layout.kernel_end, 0x10_0000 + 100 + 0x2000);
        assert_eq!(layout.archive_addr, 0x10_3000);
        assert_eq!(layout.archive_size, 5000);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x10_0063)).unwrap(), 0x90);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x10_3000 + 4999)).unwrap(), 0xAA);
        let modlist: u64 = mem.read_obj(GuestAddress(boot::MODLIST_ADDR)).unwrap();
        assert_eq!(modlist, 0x10_3000);
    }

    #[test]
    fn a_kernel_without_pvh_note_is_refused() {
        let mem = crate::vstate::memory::create(16 << 20).unwrap();
        let err = boot::load(&mem, &pvh_elf(&[0x90], 0, 0, false), &[], "").unwrap_err();
        assert!(err.to_string().contains("PVH"), "{err}");
    }

    #[test]
    fn an_archive_that_does_not_fit_is_refused() {
        let mem = crate::vstate::memory::create(8 << 20).unwrap();
        let err = boot::load(&mem, &pvh_elf(&[0x90], 0, 0, true), &vec![0; 8 << 20], "").unwrap_err();
        assert!(err.to_string().contains("--memory"), "{err}");
    }
}
