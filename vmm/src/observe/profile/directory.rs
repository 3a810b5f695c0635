//! The kernel's process directory (`abi::profile`) read from guest memory:
//! which process has which page-table root, endpoint and name.
//!
//! Three readers: the sampler names the process behind a CR3, a traced
//! run that starts from a snapshot names the processes that already
//! existed (their spawn and exec records were written before the
//! snapshot, so the trace itself cannot name them), and the gdb stub
//! lists the processes as threads (`crate::debug::threads`, which needs
//! each entry's slot for the kernel's saved-frame table). The guest wrote the
//! table, so every field is only believed as far as its bounds go.

use abi::profile::{ENDPOINT_OFFSET, ENTRY_SIZE, NAME_BYTES, NAME_LEN_OFFSET, NAME_OFFSET, ROOT_OFFSET};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::symbols::SymbolTable;

/// Most entries read, whatever size the symbol claims.
const MAX_ENTRIES: u64 = 1024;

/// One live process of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its slot in the directory (the kernel's process-table index).
    pub slot: u64,
    /// Its page-table root (as in CR3).
    pub root: u64,
    /// Its endpoint.
    pub endpoint: u32,
    /// Its program name.
    pub name: String,
}

/// Where the directory lies in guest memory.
#[derive(Debug, Clone, Copy)]
pub struct Directory {
    at: u64,
    entries: u64,
}

impl Directory {
    /// Finds the directory by its symbol in `kernel_elf`.
    pub fn find(kernel_elf: &[u8]) -> Option<Directory> {
        let (at, size) = SymbolTable::symbol(kernel_elf, abi::profile::DIRECTORY_SYMBOL)?;
        Some(Directory { at, entries: (size / ENTRY_SIZE as u64).min(MAX_ENTRIES) })
    }

    /// Entry `i`, if it holds a process.
    fn entry(&self, mem: &GuestMemoryMmap, i: u64) -> Option<Entry> {
        let mut e = [0u8; ENTRY_SIZE];
        mem.read_slice(&mut e, GuestAddress(self.at + i * ENTRY_SIZE as u64)).ok()?;
        let root = u64::from_le_bytes(e[ROOT_OFFSET..ROOT_OFFSET + 8].try_into().ok()?);
        if root == 0 {
            return None;
        }
        let n = (e[NAME_LEN_OFFSET] as usize).min(NAME_BYTES);
        let name = String::from_utf8_lossy(&e[NAME_OFFSET..NAME_OFFSET + n]).into_owned();
        let endpoint = u32::from_le_bytes(e[ENDPOINT_OFFSET..ENDPOINT_OFFSET + 4].try_into().ok()?);
        Some(Entry { slot: i, root, endpoint, name })
    }

    /// Every live process, in slot order.
    pub fn entries<'a>(&'a self, mem: &'a GuestMemoryMmap) -> impl Iterator<Item = Entry> + 'a {
        (0..self.entries).filter_map(move |i| self.entry(mem, i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_entries_are_read_and_empty_ones_skipped() {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let dir = Directory { at: 0x10_000, entries: 3 };
        mem.write_slice(&abi::profile::entry(0x5000, 0x1006, b"ext2fs"), GuestAddress(0x10_000)).unwrap();
        mem.write_slice(&abi::profile::entry(0x9000, 0x2009, b"a-name-longer-than-16"), GuestAddress(0x10_040))
            .unwrap();
        let got: Vec<Entry> = dir.entries(&mem).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Entry { slot: 0, root: 0x5000, endpoint: 0x1006, name: "ext2fs".into() });
        assert_eq!((got[1].slot, got[1].name.as_str()), (0x40 / ENTRY_SIZE as u64, "a-name-longer-th"));
    }
}
