//! The PVH start info handed over by the VMM (ours or QEMU).
//!
//! Layout from the Xen PVH ABI (`hvm_start_info`, version 1): the module
//! list carries the boot image, the memory map says which RAM is usable.

/// Start-info magic.
const MAGIC: u32 = 0x336e_c578;
/// E820 type of usable RAM.
const RAM: u32 = 1;

/// A physical range.
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

/// What the kernel needs from the start info.
pub struct BootInfo {
    /// The boot image module.
    pub module: Range,
    /// The command line (empty when none).
    pub cmdline: &'static str,
    /// Usable RAM ranges.
    pub ram: [Range; 8],
    pub ram_count: usize,
}

fn read<T: Copy>(addr: u64) -> T {
    // SAFETY: all callers read inside the start info structures, which the
    // VMM placed in RAM below 1 GiB, identity-mapped by the kernel.
    unsafe { core::ptr::read_unaligned(addr as *const T) }
}

/// Parses the start info at physical address `addr`.
pub fn parse(addr: u64) -> Result<BootInfo, &'static str> {
    if addr == 0 || addr >= abi::platform::MAX_GUEST_MEMORY {
        return Err("no PVH start info");
    }
    if read::<u32>(addr) != MAGIC {
        return Err("bad PVH start info magic");
    }
    let version = read::<u32>(addr + 4);
    let nr_modules = read::<u32>(addr + 12);
    let modlist = read::<u64>(addr + 16);
    let cmdline_addr = read::<u64>(addr + 24);
    if nr_modules < 1 || modlist == 0 {
        return Err("no boot image module (give one: the VMM's image, or QEMU's -initrd)");
    }
    let module_start = read::<u64>(modlist);
    let module_size = read::<u64>(modlist + 8);
    let module = Range { start: module_start, end: module_start + module_size };
    if module.end > abi::platform::MAX_GUEST_MEMORY {
        return Err("boot image module beyond the first GiB");
    }

    let cmdline = if cmdline_addr != 0 && cmdline_addr < abi::platform::MAX_GUEST_MEMORY {
        let mut len = 0;
        while len < abi::layout::kip::CMDLINE_MAX && read::<u8>(cmdline_addr + len as u64) != 0 {
            len += 1;
        }
        // SAFETY: `len` bytes at cmdline_addr were just read one by one.
        let bytes = unsafe { core::slice::from_raw_parts(cmdline_addr as *const u8, len) };
        abi::platform::utf8_prefix(bytes)
    } else {
        ""
    };

    let mut info = BootInfo { module, cmdline, ram: [Range::default(); 8], ram_count: 0 };
    if version >= 1 && read::<u64>(addr + 40) != 0 {
        let memmap = read::<u64>(addr + 40);
        let entries = read::<u32>(addr + 48);
        for i in 0..u64::from(entries) {
            let entry = memmap + i * 24;
            let (start, size, kind) = (read::<u64>(entry), read::<u64>(entry + 8), read::<u32>(entry + 16));
            if kind == RAM && info.ram_count < info.ram.len() {
                info.ram[info.ram_count] = Range { start, end: start + size };
                info.ram_count += 1;
            }
        }
    }
    if info.ram_count == 0 {
        return Err("PVH start info has no memory map");
    }
    Ok(info)
}
