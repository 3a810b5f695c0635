//! A write-back cache of a fixed number of file-system blocks.
//!
//! Why: the guest has no heap, and every metadata operation touches the same
//! few blocks (bitmaps, group descriptors, inode-table blocks, indirect
//! blocks) again and again. The cache is a plain array of `N` slots of
//! [`MAX_BLOCK`] bytes, replaced least-recently-used; dirty blocks reach the
//! device only when evicted or on [`BlockCache::flush`]. Lookup is a linear
//! scan, which is cheaper than hashing for the small `N` a guest server can
//! afford. Whole-block file data that is not cached already bypasses the
//! cache ([`BlockCache::read_whole`], [`BlockCache::write_whole`]), so a
//! large sequential transfer does not evict the metadata. Hits, misses and device transfers are counted for benchmarks.
//!
//! Every block number is checked against the file-system size before it is
//! used, so a damaged pointer read from disk becomes [`Error::Corrupt`], not a
//! read past the end of the device.

use crate::{BlockDevice, Error, Result};

/// The largest block size supported (4 KiB).
pub const MAX_BLOCK: usize = 4096;

/// Counters of the block cache, for benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups satisfied from the cache.
    pub hits: u64,
    /// Lookups that needed a slot (followed by a device read, unless the
    /// caller overwrites the whole block).
    pub misses: u64,
    /// File-system blocks read from the device.
    pub reads: u64,
    /// File-system blocks written to the device.
    pub writes: u64,
    /// Slots reused for another block.
    pub evictions: u64,
}

struct Slot {
    blk: u64,
    valid: bool,
    dirty: bool,
    stamp: u64,
    data: [u8; MAX_BLOCK],
}

impl Slot {
    const EMPTY: Slot = Slot { blk: 0, valid: false, dirty: false, stamp: 0, data: [0; MAX_BLOCK] };
}

/// The cache proper: the device, `N` slots and the counters.
pub struct BlockCache<D, const N: usize> {
    dev: D,
    bs: usize,
    ratio: u64,
    limit: u64,
    tick: u64,
    stats: CacheStats,
    slots: [Slot; N],
}

impl<D: BlockDevice, const N: usize> BlockCache<D, N> {
    /// A cache over `dev` using 1 KiB blocks (enough to read the superblock).
    pub(crate) fn new(dev: D) -> Result<Self> {
        if N == 0 {
            return Err(Error::Invalid);
        }
        let mut c = BlockCache {
            dev,
            bs: 1024,
            ratio: 1,
            limit: 2,
            tick: 0,
            stats: CacheStats::default(),
            slots: [const { Slot::EMPTY }; N],
        };
        c.set_geometry(1024, 2)?;
        Ok(c)
    }

    /// Switches to blocks of `bs` bytes, `limit` of them; drops all slots
    /// (they must be clean).
    pub(crate) fn set_geometry(&mut self, bs: usize, limit: u64) -> Result<()> {
        let dbs = self.dev.block_size();
        if dbs == 0 || !dbs.is_power_of_two() || dbs > 1024 || bs > MAX_BLOCK || !bs.is_multiple_of(dbs) {
            return Err(Error::Unsupported("device block size must be a power of two <= 1024"));
        }
        for s in self.slots.iter_mut() {
            s.valid = false;
            s.dirty = false;
        }
        self.bs = bs;
        self.ratio = (bs / dbs) as u64;
        self.limit = limit;
        Ok(())
    }

    /// Device blocks available, in file-system blocks.
    pub(crate) fn device_blocks(&self) -> u64 {
        self.dev.num_blocks() / self.ratio
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Clears the counters.
    pub fn reset_stats(&mut self) {
        self.stats = CacheStats::default();
    }

    pub(crate) fn into_device(self) -> D {
        self.dev
    }

    fn find(&self, blk: u64) -> Option<usize> {
        self.slots.iter().position(|s| s.valid && s.blk == blk)
    }

    fn write_back(&mut self, i: usize) -> Result<()> {
        let bs = self.bs;
        let s = &mut self.slots[i];
        if s.valid && s.dirty {
            self.dev.write_block(s.blk * self.ratio, &s.data[..bs]).map_err(|_| Error::Io)?;
            s.dirty = false;
            self.stats.writes += 1;
        }
        Ok(())
    }

    fn victim(&mut self) -> Result<usize> {
        if let Some(i) = self.slots.iter().position(|s| !s.valid) {
            return Ok(i);
        }
        let mut best = 0;
        for (i, s) in self.slots.iter().enumerate() {
            if s.stamp < self.slots[best].stamp {
                best = i;
            }
        }
        self.write_back(best)?;
        self.slots[best].valid = false;
        self.stats.evictions += 1;
        Ok(best)
    }

    fn slot(&mut self, blk: u64, read: bool) -> Result<usize> {
        if blk >= self.limit {
            return Err(Error::Corrupt("block number beyond the end of the file system"));
        }
        self.tick += 1;
        if let Some(i) = self.find(blk) {
            self.stats.hits += 1;
            self.slots[i].stamp = self.tick;
            return Ok(i);
        }
        self.stats.misses += 1;
        let i = self.victim()?;
        let bs = self.bs;
        let s = &mut self.slots[i];
        if read {
            self.dev.read_block(blk * self.ratio, &mut s.data[..bs]).map_err(|_| Error::Io)?;
            self.stats.reads += 1;
        }
        s.blk = blk;
        s.valid = true;
        s.dirty = false;
        s.stamp = self.tick;
        Ok(i)
    }

    /// The contents of block `blk`.
    pub(crate) fn block(&mut self, blk: u64) -> Result<&[u8]> {
        let i = self.slot(blk, true)?;
        Ok(&self.slots[i].data[..self.bs])
    }

    /// The contents of block `blk`, to modify (the slot becomes dirty).
    pub(crate) fn block_mut(&mut self, blk: u64) -> Result<&mut [u8]> {
        let i = self.slot(blk, true)?;
        let s = &mut self.slots[i];
        s.dirty = true;
        Ok(&mut s.data[..self.bs])
    }

    /// Block `blk` filled with zeros, without reading it (for new blocks and
    /// whole-block overwrites).
    pub(crate) fn block_zeroed(&mut self, blk: u64) -> Result<&mut [u8]> {
        let i = self.slot(blk, false)?;
        let s = &mut self.slots[i];
        s.dirty = true;
        s.data[..self.bs].fill(0);
        Ok(&mut s.data[..self.bs])
    }

    /// Reads the whole block `blk` into `dst`: from the cache when it is
    /// there, else straight from the device without taking a slot (file
    /// data read in whole blocks would only push metadata out).
    pub(crate) fn read_whole(&mut self, blk: u64, dst: &mut [u8]) -> Result<()> {
        if blk >= self.limit || dst.len() != self.bs {
            return Err(Error::Corrupt("block number beyond the end of the file system"));
        }
        if let Some(i) = self.find(blk) {
            self.stats.hits += 1;
            dst.copy_from_slice(&self.slots[i].data[..self.bs]);
            return Ok(());
        }
        self.stats.misses += 1;
        self.stats.reads += 1;
        self.dev.read_block(blk * self.ratio, dst).map_err(|_| Error::Io)
    }

    /// Writes the whole block `blk` from `src`: into the cache when it is
    /// there, else straight to the device.
    pub(crate) fn write_whole(&mut self, blk: u64, src: &[u8]) -> Result<()> {
        if blk >= self.limit || src.len() != self.bs {
            return Err(Error::Corrupt("block number beyond the end of the file system"));
        }
        if let Some(i) = self.find(blk) {
            self.stats.hits += 1;
            let s = &mut self.slots[i];
            s.data[..src.len()].copy_from_slice(src);
            s.dirty = true;
            return Ok(());
        }
        self.stats.misses += 1;
        self.stats.writes += 1;
        self.dev.write_block(blk * self.ratio, src).map_err(|_| Error::Io)
    }

    /// Forgets block `blk` without writing it (it was freed).
    pub(crate) fn discard(&mut self, blk: u64) {
        if let Some(i) = self.find(blk) {
            self.slots[i].valid = false;
            self.slots[i].dirty = false;
        }
    }

    /// The `idx`-th little-endian u32 of block `blk`.
    pub(crate) fn read_u32(&mut self, blk: u64, idx: usize) -> Result<u32> {
        let b = self.block(blk)?;
        let o = idx * 4;
        match b.get(o..o + 4) {
            Some(w) => Ok(u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            None => Err(Error::Corrupt("index beyond block")),
        }
    }

    /// Sets the `idx`-th little-endian u32 of block `blk`.
    pub(crate) fn write_u32(&mut self, blk: u64, idx: usize, v: u32) -> Result<()> {
        let b = self.block_mut(blk)?;
        let o = idx * 4;
        match b.get_mut(o..o + 4) {
            Some(w) => {
                w.copy_from_slice(&v.to_le_bytes());
                Ok(())
            }
            None => Err(Error::Corrupt("index beyond block")),
        }
    }

    /// Writes every dirty block to the device.
    pub(crate) fn flush(&mut self) -> Result<()> {
        // Ascending block order: kinder to real disks.
        loop {
            let mut next: Option<usize> = None;
            for (i, s) in self.slots.iter().enumerate() {
                if s.valid && s.dirty && next.is_none_or(|n| s.blk < self.slots[n].blk) {
                    next = Some(i);
                }
            }
            match next {
                Some(i) => self.write_back(i)?,
                None => return Ok(()),
            }
        }
    }
}
