//! The read-ahead windows of the disk link: a few whole driver requests
//! kept for the readers that come back to them.
//!
//! Why more than one: a workload runs several programs from the disk and
//! then some of them again (`cat` in a command and in its check), and
//! each exec reads the program's file in one read-ahead request of up to
//! `MAX_TRANSFER` bytes. With one window every other file read replaced
//! it, so the second exec of a program asked the driver again: a SENDA
//! request, the driver's copy of the whole window out of its DMA buffer
//! and its answer. [`WINDOWS`] windows, the least recently used one
//! replaced, keep a few programs whole. Writes go through into every
//! window they touch ([`ReadAhead::write_through`]), so no window is ever
//! stale and a window of metadata survives the file creations that
//! change a block of it.

use abi::proto::blockdev;

/// Bytes of one window: one driver request.
pub const WINDOW_BYTES: usize = blockdev::MAX_TRANSFER as usize;
/// Windows kept (zero-fill bss until first used).
pub const WINDOWS: usize = 4;

#[derive(Clone, Copy)]
struct Window {
    /// First sector and sector count (0: empty).
    at: u64,
    sectors: u64,
    /// [`ReadAhead::clock`] when last read from or filled.
    used: u64,
}

/// Which sectors each window holds.
pub struct ReadAhead {
    windows: [Window; WINDOWS],
    clock: u64,
}

impl ReadAhead {
    /// Every window empty.
    pub const fn new() -> ReadAhead {
        ReadAhead { windows: [Window { at: 0, sectors: 0, used: 0 }; WINDOWS], clock: 0 }
    }

    /// The window holding sectors `sector..end`, and where they start in
    /// its buffer (bytes of `sector_size`).
    pub fn find(&mut self, sector: u64, end: u64, sector_size: u64) -> Option<(usize, usize)> {
        let i = self.windows.iter().position(|w| w.sectors > 0 && sector >= w.at && end <= w.at + w.sectors)?;
        self.clock += 1;
        self.windows[i].used = self.clock;
        Some((i, ((sector - self.windows[i].at) * sector_size) as usize))
    }

    /// The window to fill next (an empty one, else the least recently
    /// used), emptied until [`Self::filled`].
    pub fn take(&mut self) -> usize {
        let i = match self.windows.iter().position(|w| w.sectors == 0) {
            Some(empty) => empty,
            None => (0..WINDOWS).min_by_key(|&i| self.windows[i].used).unwrap_or(0),
        };
        self.windows[i].sectors = 0;
        i
    }

    /// Window `i` now holds `sectors` sectors from `at`.
    pub fn filled(&mut self, i: usize, at: u64, sectors: u64) {
        self.clock += 1;
        self.windows[i] = Window { at, sectors, used: self.clock };
    }

    /// Copies `data`, written to the disk from sector `sector` on (whole
    /// sectors of `sector_size`), into every window holding any of them.
    pub fn write_through(&mut self, sector: u64, data: &[u8], sector_size: u64) {
        let end = sector + (data.len() as u64).div_ceil(sector_size);
        for (i, w) in self.windows.iter().enumerate() {
            if w.sectors == 0 || sector >= w.at + w.sectors || w.at >= end {
                continue;
            }
            let (from, to) = (sector.max(w.at), end.min(w.at + w.sectors));
            let src = ((from - sector) * sector_size) as usize;
            let dst = ((from - w.at) * sector_size) as usize;
            let n = (((to - from) * sector_size) as usize).min(data.len() - src);
            buffer(i)[dst..dst + n].copy_from_slice(&data[src..src + n]);
        }
    }
}

/// The windows' data; apart from the link's state for the same reason as
/// its gather buffer (the driver writes a window through our grant).
static mut BUFFERS: [[u8; WINDOW_BYTES]; WINDOWS] = [[0; WINDOW_BYTES]; WINDOWS];

/// The data of window `i`.
pub fn buffer(i: usize) -> &'static mut [u8; WINDOW_BYTES] {
    // SAFETY: single-threaded; only `Link::read` uses the buffers, one
    // borrow at a time (the driver writes one only through our grant while
    // we wait), and `i` is checked by the indexing.
    unsafe { &mut (*(&raw mut BUFFERS))[i] }
}
