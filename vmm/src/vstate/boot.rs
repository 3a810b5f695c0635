//! Loading the guest: the kernel ELF, the boot image archive and the PVH
//! boot information.
//!
//! Why PVH: the kernel is an ordinary ELF with a `XEN_ELFNOTE_PHYS32_ENTRY`
//! note, so QEMU (`-kernel`, `-initrd`) and this VMM boot the same bytes the
//! same way: the VMM enters the 32-bit entry with `%ebx` pointing at an
//! `hvm_start_info` that lists one module (the archive), the memory map and
//! the command line. The kernel switches to long mode itself.
//!
//! Guest physical layout written here:
//!
//! | address | what |
//! |---|---|
//! | 0x0500 | GDT (see `cpu.rs`) |
//! | 0x6000 | `hvm_start_info` |
//! | 0x6040 | one `hvm_modlist_entry` (the archive) |
//! | 0x6080 | three `hvm_memmap_table_entry` (four with a reserved trace ring at the top of RAM) |
//! | 0x7000 | command line, NUL-terminated (at most 4 KiB) |
//! | 0x10_0000 | the kernel (linked there) |
//! | after the kernel, page-aligned | the archive |
//!
//! The structures are written field by field in little-endian order, at the
//! offsets of the Xen `arch-x86/hvm/start_info.h` ABI; their sizes are
//! checked against linux-loader's bindgen definitions.

use std::io::Cursor;

use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::KernelLoader;
use linux_loader::start_info::{hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::error::{BootError, Error};
use crate::image::embedded::LookupError;

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
/// `hvm_start_info.version` we write (1: has the memory map fields).
pub const START_INFO_VERSION: u32 = 1;
/// Where `hvm_start_info` goes.
pub const START_INFO_ADDR: u64 = 0x6000;
/// Where the module list goes.
pub const MODLIST_ADDR: u64 = 0x6040;
/// Where the memory map goes.
pub const MEMMAP_ADDR: u64 = 0x6080;
/// Where the command line goes.
pub const CMDLINE_ADDR: u64 = 0x7000;
/// Room for the command line including its NUL.
pub const CMDLINE_CAPACITY: usize = 0x1000;
/// End of conventional memory below the EBDA.
pub const LOW_RAM_END: u64 = 0x9_FC00;
/// Start of memory above the legacy hole.
pub const HIGH_RAM_START: u64 = 0x10_0000;
/// Memory map type: usable RAM.
pub const E820_RAM: u32 = 1;
/// Memory map type: reserved.
pub const E820_RESERVED: u32 = 2;
/// Page size for aligning the archive.
const PAGE: u64 = abi::layout::PAGE_SIZE;

const START_INFO_SIZE: usize = 56;
const MODLIST_ENTRY_SIZE: usize = 32;
const MEMMAP_ENTRY_SIZE: usize = 24;
const _: () = assert!(std::mem::size_of::<hvm_start_info>() == START_INFO_SIZE);
const _: () = assert!(std::mem::size_of::<hvm_modlist_entry>() == MODLIST_ENTRY_SIZE);
const _: () = assert!(std::mem::size_of::<hvm_memmap_table_entry>() == MEMMAP_ENTRY_SIZE);
const _: () = assert!(MODLIST_ADDR >= START_INFO_ADDR + START_INFO_SIZE as u64);
const _: () = assert!(MEMMAP_ADDR >= MODLIST_ADDR + MODLIST_ENTRY_SIZE as u64);
const _: () = assert!(CMDLINE_ADDR >= MEMMAP_ADDR + 4 * MEMMAP_ENTRY_SIZE as u64);

/// Where things ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootLayout {
    /// The PVH 32-bit entry point.
    pub entry: u64,
    /// One past the kernel's highest loaded byte (bss included).
    pub kernel_end: u64,
    /// Guest physical address of the archive (0 if none).
    pub archive_addr: u64,
    /// Archive size in bytes.
    pub archive_size: u64,
    /// Guest physical address of `hvm_start_info` (goes into `%rbx`).
    pub start_info: u64,
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

/// Loads `kernel` at its physical addresses and returns the PVH entry and
/// the end of the kernel.
pub fn load_kernel(mem: &GuestMemoryMmap, kernel: &[u8]) -> Result<(u64, u64), Error> {
    if kernel.is_empty() {
        return Err(LookupError::NoKernel.into());
    }
    let mut image = Cursor::new(kernel);
    let result = Elf::load(mem, None, &mut image, Some(GuestAddress(abi::platform::KERNEL_LOAD_ADDR)))
        .map_err(|e| Error::Boot(BootError(format!("cannot load the kernel ELF: {e}"))))?;
    let entry = match result.pvh_boot_cap {
        PvhBootCapability::PvhEntryPresent(addr) => addr.0,
        other => {
            return Err(Error::Boot(BootError(format!(
                "the kernel ELF has no usable PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): {other}"
            ))))
        }
    };
    let mem_end = crate::vstate::memory::size(mem);
    if result.kernel_end > mem_end {
        return Err(Error::Boot(BootError(format!(
            "the kernel ends at {:#x}, beyond guest memory ({:#x})",
            result.kernel_end, mem_end
        ))));
    }
    if entry < abi::platform::KERNEL_LOAD_ADDR || entry >= result.kernel_end {
        return Err(Error::Boot(BootError(format!("the PVH entry {entry:#x} is outside the kernel"))));
    }
    Ok((entry, result.kernel_end))
}

/// Loads the kernel and the archive and writes the boot information.
pub fn load(mem: &GuestMemoryMmap, kernel: &[u8], archive: &[u8], cmdline: &str) -> Result<BootLayout, Error> {
    load_reserving(mem, kernel, archive, cmdline, 0)
}

/// As [`load`], with the top `reserved_top` bytes of RAM marked reserved in
/// the memory map (the IPC trace ring), so the kernel never allocates them
/// and the archive never lands there.
pub fn load_reserving(
    mem: &GuestMemoryMmap,
    kernel: &[u8],
    archive: &[u8],
    cmdline: &str,
    reserved_top: u64,
) -> Result<BootLayout, Error> {
    let (entry, kernel_end) = load_kernel(mem, kernel)?;
    let mem_end = crate::vstate::memory::size(mem).saturating_sub(reserved_top);
    let (archive_addr, archive_size) = if archive.is_empty() {
        (0, 0)
    } else {
        let addr = align_up(kernel_end, PAGE).ok_or_else(|| Error::Boot(BootError("kernel end overflows".into())))?;
        let end = addr.checked_add(archive.len() as u64);
        if end.is_none_or(|end| end > mem_end) {
            return Err(Error::Boot(BootError(format!(
                "the boot image ({} KiB) does not fit in guest memory after the kernel; use a larger --memory",
                archive.len() / 1024
            ))));
        }
        mem.write_slice(archive, GuestAddress(addr))
            .map_err(|e| Error::Boot(BootError(format!("writing the boot image: {e}"))))?;
        (addr, archive.len() as u64)
    };
    write_start_info_reserving(mem, mem_end, reserved_top, archive_addr, archive_size, cmdline)?;
    Ok(BootLayout { entry, kernel_end, archive_addr, archive_size, start_info: START_INFO_ADDR })
}

/// The memory map for `mem_end` bytes of RAM: (address, size, type).
pub fn memory_map(mem_end: u64) -> [(u64, u64, u32); 3] {
    [
        (0, LOW_RAM_END, E820_RAM),
        (LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, E820_RESERVED),
        (HIGH_RAM_START, mem_end - HIGH_RAM_START, E820_RAM),
    ]
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Writes `hvm_start_info`, the module list, the memory map and the command
/// line.
pub fn write_start_info(
    mem: &GuestMemoryMmap,
    mem_end: u64,
    archive_addr: u64,
    archive_size: u64,
    cmdline: &str,
) -> Result<(), Error> {
    write_start_info_reserving(mem, mem_end, 0, archive_addr, archive_size, cmdline)
}

/// As [`write_start_info`], with `reserved_top` bytes after `mem_end`
/// listed as reserved (a fourth memory-map entry when non-zero).
pub fn write_start_info_reserving(
    mem: &GuestMemoryMmap,
    mem_end: u64,
    reserved_top: u64,
    archive_addr: u64,
    archive_size: u64,
    cmdline: &str,
) -> Result<(), Error> {
    if cmdline.len() >= CMDLINE_CAPACITY {
        return Err(Error::Boot(BootError(format!(
            "the kernel command line is {} bytes; at most {} fit",
            cmdline.len(),
            CMDLINE_CAPACITY - 1
        ))));
    }
    if cmdline.as_bytes().contains(&0) {
        return Err(Error::Boot(BootError("the kernel command line contains a NUL byte".into())));
    }
    let write = |bytes: &[u8], addr: u64| {
        mem.write_slice(bytes, GuestAddress(addr))
            .map_err(|e| Error::Boot(BootError(format!("writing boot info at {addr:#x}: {e}"))))
    };
    let nr_modules = u32::from(archive_size != 0);

    let mut info = [0u8; START_INFO_SIZE];
    put_u32(&mut info, 0, START_INFO_MAGIC);
    put_u32(&mut info, 4, START_INFO_VERSION);
    put_u32(&mut info, 8, 0); // flags
    put_u32(&mut info, 12, nr_modules);
    put_u64(&mut info, 16, if nr_modules != 0 { MODLIST_ADDR } else { 0 });
    put_u64(&mut info, 24, CMDLINE_ADDR);
    put_u64(&mut info, 32, 0); // rsdp_paddr: no ACPI
    put_u64(&mut info, 40, MEMMAP_ADDR);
    let entries = 3 + u32::from(reserved_top != 0);
    put_u32(&mut info, 48, entries); // memmap_entries
    write(&info, START_INFO_ADDR)?;

    let mut module = [0u8; MODLIST_ENTRY_SIZE];
    put_u64(&mut module, 0, archive_addr);
    put_u64(&mut module, 8, archive_size);
    write(&module, MODLIST_ADDR)?;

    let mut map = [0u8; 4 * MEMMAP_ENTRY_SIZE];
    let reserved = (reserved_top != 0).then_some((mem_end, reserved_top, E820_RESERVED));
    for (i, (addr, size, kind)) in memory_map(mem_end).into_iter().chain(reserved).enumerate() {
        let at = i * MEMMAP_ENTRY_SIZE;
        put_u64(&mut map, at, addr);
        put_u64(&mut map, at + 8, size);
        put_u32(&mut map, at + 16, kind);
    }
    write(&map[..entries as usize * MEMMAP_ENTRY_SIZE], MEMMAP_ADDR)?;

    let mut line = cmdline.as_bytes().to_vec();
    line.push(0);
    write(&line, CMDLINE_ADDR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> GuestMemoryMmap {
        crate::vstate::memory::create(16 << 20).unwrap()
    }

    fn u32_at(mem: &GuestMemoryMmap, addr: u64) -> u32 {
        mem.read_obj(GuestAddress(addr)).unwrap()
    }

    fn u64_at(mem: &GuestMemoryMmap, addr: u64) -> u64 {
        mem.read_obj(GuestAddress(addr)).unwrap()
    }

    #[test]
    fn start_info_and_memory_map_read_back() {
        let mem = mem();
        write_start_info(&mem, 16 << 20, 0x20_0000, 0x3000, "a b viv.entry=trap").unwrap();
        let s = START_INFO_ADDR;
        assert_eq!(u32_at(&mem, s), 0x336e_c578);
        assert_eq!(u32_at(&mem, s + 4), 1);
        assert_eq!(u32_at(&mem, s + 12), 1);
        assert_eq!(u64_at(&mem, s + 16), MODLIST_ADDR);
        assert_eq!(u64_at(&mem, s + 24), CMDLINE_ADDR);
        assert_eq!(u64_at(&mem, s + 40), MEMMAP_ADDR);
        assert_eq!(u32_at(&mem, s + 48), 3);
        assert_eq!(u64_at(&mem, MODLIST_ADDR), 0x20_0000);
        assert_eq!(u64_at(&mem, MODLIST_ADDR + 8), 0x3000);
        let expected = [(0, 0x9_FC00, 1), (0x9_FC00, 0x6_0400, 2), (0x10_0000, (16 << 20) - 0x10_0000, 1)];
        for (i, (addr, size, kind)) in expected.into_iter().enumerate() {
            let at = MEMMAP_ADDR + 24 * i as u64;
            assert_eq!((u64_at(&mem, at), u64_at(&mem, at + 8), u32_at(&mem, at + 16)), (addr, size, kind));
        }
        let mut line = [0u8; 19];
        mem.read_slice(&mut line, GuestAddress(CMDLINE_ADDR)).unwrap();
        assert_eq!(&line, b"a b viv.entry=trap\0");
    }

    #[test]
    fn no_archive_means_no_module() {
        let mem = mem();
        write_start_info(&mem, 16 << 20, 0, 0, "").unwrap();
        assert_eq!(u32_at(&mem, START_INFO_ADDR + 12), 0);
        assert_eq!(u64_at(&mem, START_INFO_ADDR + 16), 0);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(CMDLINE_ADDR)).unwrap(), 0);
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let mem = mem();
        assert!(write_start_info(&mem, 16 << 20, 0, 0, &"x".repeat(CMDLINE_CAPACITY)).is_err());
        assert!(write_start_info(&mem, 16 << 20, 0, 0, "a\0b").is_err());
        assert!(write_start_info(&mem, 16 << 20, 0, 0, &"x".repeat(CMDLINE_CAPACITY - 1)).is_ok());
    }

    #[test]
    fn garbage_kernels_are_refused() {
        let mem = mem();
        assert!(matches!(load_kernel(&mem, &[]), Err(Error::Image(LookupError::NoKernel))));
        assert!(matches!(
            load_kernel(&mem, b"not an elf at all, just some bytes here........"),
            Err(Error::Boot(BootError(_)))
        ));
        assert!(matches!(load(&mem, &[0x7f, b'E', b'L', b'F'], &[], ""), Err(Error::Boot(BootError(_)))));
    }
}
