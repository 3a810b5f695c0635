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
/// An indirect grant (MINIX's "magic" grant): it passes on a grant that
/// someone else made to the granter. The entry names a target grant
/// (`address` = target granter endpoint | target grant id << 32) and a
/// window of it (`size` = length | offset into the target grant << 32);
/// see [`Grant::indirect`]. On a safe copy the kernel checks this entry
/// (grantee, rights, window) and the target entry (whose grantee must be
/// this granter, with the same rights), then copies straight between the
/// final grantee and the memory's owner: a server hands a client's buffer
/// on to another server without copying it.
pub const GRANT_INDIRECT: u32 = 8;

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
    /// An indirect grant letting `grantee` use `len` bytes at `offset` of
    /// grant `target_id` that `target_granter` made to us, with `rights`
    /// (`GRANT_READ` and/or `GRANT_WRITE`).
    pub const fn indirect(
        grantee: u32,
        target_granter: u32,
        target_id: u32,
        offset: u32,
        len: u32,
        rights: u32,
    ) -> Grant {
        Grant {
            flags: GRANT_VALID | GRANT_INDIRECT | rights,
            grantee,
            address: target_granter as u64 | (target_id as u64) << 32,
            size: len as u64 | (offset as u64) << 32,
        }
    }

    /// For an indirect grant: (target granter endpoint, target grant id,
    /// offset into the target grant, window length).
    pub const fn indirect_target(&self) -> (u32, u32, u32, u32) {
        (self.address as u32, (self.address >> 32) as u32, (self.size >> 32) as u32, self.size as u32)
    }

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
        let i = Grant::indirect(0x2003, 0x4005, 7, 100, 512, GRANT_WRITE);
        assert_eq!(i.indirect_target(), (0x4005, 7, 100, 512));
        assert_eq!(i.flags, GRANT_VALID | GRANT_INDIRECT | GRANT_WRITE);
        assert_eq!(Grant::from_bytes(&i.to_bytes()), i);
    }
}
