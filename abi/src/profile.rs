//! The process directory: how the host's sampling profiler (`viv profile`)
//! names the process behind a page-table root.
//!
//! At a sample the host sees only the vCPU's registers, so CR3 says which
//! address space ran but not whose it is. The kernel keeps a table, one
//! entry per process slot, in a static named [`DIRECTORY_SYMBOL`], which
//! the host finds in the kernel ELF's symbol table (the kernel is
//! identity-mapped, so the symbol's address is a guest-physical one). The
//! kernel writes an entry when a slot gets an address space (spawn, fork,
//! exec) and clears it when the address space is freed: never on the IPC
//! path. Entry layout (little-endian, [`ENTRY_SIZE`] bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | page-table root (guest-physical, as in CR3); 0 = empty slot |
//! | 8 | 4 | endpoint |
//! | 12 | 1 | length of the name (at most [`NAME_BYTES`]) |
//! | 13 | 3 | reserved |
//! | 16 | 16 | program name (UTF-8, not terminated) |

/// Symbol of the directory in the kernel ELF (its size is the table's).
pub const DIRECTORY_SYMBOL: &str = "VIV_PROCESS_DIRECTORY";
/// Symbol of the kernel's own page-table root (no process: boot, exits).
pub const KERNEL_ROOT_SYMBOL: &str = "BOOT_PML4";
/// Size of one entry.
pub const ENTRY_SIZE: usize = 32;
/// Offset of the `u64` page-table root.
pub const ROOT_OFFSET: usize = 0;
/// Offset of the `u32` endpoint.
pub const ENDPOINT_OFFSET: usize = 8;
/// Offset of the `u8` name length.
pub const NAME_LEN_OFFSET: usize = 12;
/// Offset of the name.
pub const NAME_OFFSET: usize = 16;
/// Most name bytes.
pub const NAME_BYTES: usize = 16;

const _: () = assert!(NAME_OFFSET + NAME_BYTES == ENTRY_SIZE);

/// The entry for a process with page-table root `root`, `endpoint` and
/// `name` (truncated to [`NAME_BYTES`]).
pub fn entry(root: u64, endpoint: u32, name: &[u8]) -> [u8; ENTRY_SIZE] {
    let mut e = [0u8; ENTRY_SIZE];
    e[ROOT_OFFSET..ROOT_OFFSET + 8].copy_from_slice(&root.to_le_bytes());
    e[ENDPOINT_OFFSET..ENDPOINT_OFFSET + 4].copy_from_slice(&endpoint.to_le_bytes());
    let n = name.len().min(NAME_BYTES);
    e[NAME_LEN_OFFSET] = n as u8;
    e[NAME_OFFSET..NAME_OFFSET + n].copy_from_slice(&name[..n]);
    e
}

/// Symbol of the table of saved-register addresses, one `u64` per process
/// slot beside the directory: the guest-physical address of the slot's
/// saved user state (its trap frame, [`frame`]). Written with the
/// directory entry, so that a debugger on the host (`viv run --gdb`)
/// can show a process that is not running.
pub const FRAMES_SYMBOL: &str = "VIV_PROCESS_FRAMES";

/// The saved user state of a process (the kernel's trap frame): 22
/// little-endian `u64`s, pushed by the entry stubs and the CPU in this
/// order. Offsets are in bytes.
pub mod frame {
    /// Size of a frame.
    pub const SIZE: usize = 176;
    pub const R15: usize = 0;
    pub const R14: usize = 8;
    pub const R13: usize = 16;
    pub const R12: usize = 24;
    pub const R11: usize = 32;
    pub const R10: usize = 40;
    pub const R9: usize = 48;
    pub const R8: usize = 56;
    pub const RBP: usize = 64;
    pub const RDI: usize = 72;
    pub const RSI: usize = 80;
    pub const RDX: usize = 88;
    pub const RCX: usize = 96;
    pub const RBX: usize = 104;
    pub const RAX: usize = 112;
    /// The entry's vector (not a register).
    pub const VECTOR: usize = 120;
    pub const ERROR_CODE: usize = 128;
    pub const RIP: usize = 136;
    pub const CS: usize = 144;
    pub const RFLAGS: usize = 152;
    pub const RSP: usize = 160;
    pub const SS: usize = 168;
}
