//! Memory grants: how a process lets one other process copy to or from a
//! range of its memory, checked by the kernel (MINIX 3's SAFECOPY).
//!
//! The grant table lives in the granter's own memory (registered with
//! `KernelCall::SetGrantTable`), so granting costs no kernel memory and
//! revoking is a store to the table: the kernel reads the entry at every
//! copy.

/// Size of one grant-table entry: `flags: u32`, `grantee: u32` (an
/// endpoint, or `Endpoint::ANY`), `address: u64`, `size: u64`.
pub const GRANT_ENTRY_SIZE: usize = 24;
/// Most entries one table may have.
pub const MAX_GRANTS: u64 = 1024;

/// The entry is in use.
pub const GRANT_VALID: u32 = 1;
/// The grantee may copy from the range.
pub const GRANT_READ: u32 = 2;
/// The grantee may copy into the range.
pub const GRANT_WRITE: u32 = 4;

/// One grant-table entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct Grant {
    pub flags: u32,
    pub grantee: u32,
    pub address: u64,
    pub size: u64,
}

impl Grant {
    /// The entry as its little-endian bytes.
    pub fn to_bytes(&self) -> [u8; GRANT_ENTRY_SIZE] {
        let mut b = [0u8; GRANT_ENTRY_SIZE];
        b[0..4].copy_from_slice(&self.flags.to_le_bytes());
        b[4..8].copy_from_slice(&self.grantee.to_le_bytes());
        b[8..16].copy_from_slice(&self.address.to_le_bytes());
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    /// Decodes an entry.
    pub fn from_bytes(b: &[u8; GRANT_ENTRY_SIZE]) -> Grant {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| u64::from(u32_at(i)) | u64::from(u32_at(i + 4)) << 32;
        Grant { flags: u32_at(0), grantee: u32_at(4), address: u64_at(8), size: u64_at(16) }
    }
}

const _: () = assert!(core::mem::size_of::<Grant>() == GRANT_ENTRY_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let g = Grant { flags: GRANT_VALID | GRANT_READ, grantee: 0x1003, address: 0x4000_1000, size: 512 };
        assert_eq!(Grant::from_bytes(&g.to_bytes()), g);
    }
}
