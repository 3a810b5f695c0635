//! Guest-virtual to guest-physical translation through the guest's own
//! 4-level page tables, for reading the stacks of a sampled vCPU.
//!
//! Every entry comes from guest memory the guest can write, so nothing
//! here trusts it: an unreadable table, a non-present entry or a
//! non-canonical address ends the translation with `None`, and the walk
//! has exactly four steps, so it cannot loop.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const PRESENT: u64 = 1;
const HUGE: u64 = 1 << 7;
/// Bits 12..52 of an entry: the next table's or the page's address.
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

/// Guest-physical memory, as the profiler reads it (a trait so that the
/// walker and the unwinder are tested on synthetic memory).
pub trait PhysMemory {
    /// The little-endian `u64` at `pa`, if it lies in memory.
    fn read_u64(&self, pa: u64) -> Option<u64>;
    /// The byte at `pa`, if it lies in memory.
    fn read_u8(&self, pa: u64) -> Option<u8>;
}

impl PhysMemory for GuestMemoryMmap {
    fn read_u64(&self, pa: u64) -> Option<u64> {
        self.read_obj::<u64>(GuestAddress(pa)).ok()
    }

    fn read_u8(&self, pa: u64) -> Option<u8> {
        self.read_obj::<u8>(GuestAddress(pa)).ok()
    }
}

/// True when `va` is canonical (bits 48..64 copy bit 47).
pub fn canonical(va: u64) -> bool {
    let top = va >> 47;
    top == 0 || top == (1 << 17) - 1
}

/// The guest-physical address of `va` in the address space rooted at
/// `cr3` (4-level paging, 4 KiB, 2 MiB and 1 GiB pages), or `None`.
pub fn translate(mem: &impl PhysMemory, cr3: u64, va: u64) -> Option<u64> {
    if !canonical(va) {
        return None;
    }
    let mut table = cr3 & ADDRESS;
    for shift in [39u32, 30, 21, 12] {
        let entry = mem.read_u64(table + ((va >> shift) & 511) * 8)?;
        if entry & PRESENT == 0 {
            return None;
        }
        let page = 1u64 << shift;
        if shift == 12 || ((shift == 30 || shift == 21) && entry & HUGE != 0) {
            return Some((entry & ADDRESS & !(page - 1)) | (va & (page - 1)));
        }
        table = entry & ADDRESS;
    }
    None
}

/// The `u64` at guest-virtual `va` (8-byte aligned, so within one page).
pub fn read_virt_u64(mem: &impl PhysMemory, cr3: u64, va: u64) -> Option<u64> {
    if !va.is_multiple_of(8) {
        return None;
    }
    mem.read_u64(translate(mem, cr3, va)?)
}

/// The byte at guest-virtual `va`.
pub fn read_virt_u8(mem: &impl PhysMemory, cr3: u64, va: u64) -> Option<u8> {
    mem.read_u8(translate(mem, cr3, va)?)
}

/// Synthetic guest memory for the tests: sparse 8-byte words.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::HashMap;

    /// Words by guest-physical address (8-aligned); everything else is
    /// outside memory.
    #[derive(Default)]
    pub struct FakeMemory(pub HashMap<u64, u64>);

    impl super::PhysMemory for FakeMemory {
        fn read_u64(&self, pa: u64) -> Option<u64> {
            pa.is_multiple_of(8).then(|| self.0.get(&pa).copied()).flatten()
        }

        fn read_u8(&self, pa: u64) -> Option<u8> {
            self.0.get(&(pa & !7)).map(|w| (w >> ((pa & 7) * 8)) as u8)
        }
    }

    impl FakeMemory {
        /// Maps the 4 KiB page `va` to `pa` under `cr3`, creating the
        /// intermediate tables at `tables`, `tables + 0x1000`, ...
        pub fn map(&mut self, cr3: u64, va: u64, pa: u64, tables: &mut u64) {
            let mut table = cr3;
            for shift in [39u32, 30, 21] {
                let at = table + ((va >> shift) & 511) * 8;
                let entry = match self.0.get(&at) {
                    Some(&e) => e,
                    None => {
                        let e = *tables | 0x7;
                        *tables += 0x1000;
                        self.0.insert(at, e);
                        e
                    }
                };
                table = entry & super::ADDRESS;
            }
            self.0.insert(table + ((va >> 12) & 511) * 8, pa | 0x7);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeMemory;
    use super::*;

    #[test]
    fn four_kib_pages_translate_and_unmapped_ones_do_not() {
        let mut mem = FakeMemory::default();
        let mut tables = 0x10_0000;
        mem.map(0x1000, 0x4000_2000, 0x55_5000, &mut tables);
        assert_eq!(translate(&mem, 0x1000, 0x4000_2123), Some(0x55_5123));
        assert_eq!(translate(&mem, 0x1000, 0x4000_3000), None);
        assert_eq!(translate(&mem, 0x1000, 0x8000_0000), None);
        // Flags in CR3's low bits are ignored.
        assert_eq!(translate(&mem, 0x1018, 0x4000_2008), Some(0x55_5008));
    }

    #[test]
    fn huge_pages_translate() {
        let mut mem = FakeMemory::default();
        // PML4[0] -> PDPT at 0x2000; PDPT[0] = 1 GiB page at 0; PDPT[1] -> PD
        // at 0x3000 whose entry 2 is a 2 MiB page at 0x60_0000.
        mem.0.insert(0x1000, 0x2000 | 7);
        mem.0.insert(0x2000, HUGE | 7);
        mem.0.insert(0x2008, 0x3000 | 7);
        mem.0.insert(0x3000 + 2 * 8, 0x60_0000 | HUGE | 7);
        assert_eq!(translate(&mem, 0x1000, 0x1234_5678), Some(0x1234_5678));
        assert_eq!(translate(&mem, 0x1000, 0x4040_1234), Some(0x60_1234));
    }

    #[test]
    fn garbage_never_translates_or_panics() {
        let mut mem = FakeMemory::default();
        // Non-canonical addresses.
        assert_eq!(translate(&mem, 0x1000, 0x0000_8000_0000_0000), None);
        assert_eq!(translate(&mem, 0x1000, 0xFFFF_0000_0000_0000), None);
        // A table that points at itself, entries with every bit set, a root
        // outside memory.
        mem.0.insert(0x1000, 0x1000 | 7);
        mem.0.insert(0x1008, u64::MAX);
        assert_eq!(translate(&mem, 0x1000, 0x0000_0080_0000_0000), None);
        let _ = translate(&mem, 0x1000, 0x10);
        assert_eq!(translate(&mem, u64::MAX, 0x10), None);
        assert_eq!(read_virt_u64(&mem, 0x1000, 0x3), None);
        for va in [0u64, 8, 0x7FFF_FFFF_FFF8, u64::MAX, 0xFFFF_8000_0000_0000] {
            let _ = read_virt_u64(&mem, 0x1000, va);
            let _ = read_virt_u8(&mem, 0x1000, va);
        }
    }
}
