//! Shell utilities (see `src/bin/`): what they share.
#![no_std]

use abi::Error;

/// An error as the utilities print it (`cat: FILE: no such file or
/// directory`).
pub use rt::errors::describe;

/// Runs `op` on every path argument, reporting each failure as
/// `NAME: PATH: error` on stderr; the exit status is 1 if any failed (the
/// shape of `mkdir`, `rmdir`, `rm`).
pub fn for_each_path(name: &str, op: impl Fn(&str) -> Result<(), Error>) -> i32 {
    let mut status = 0;
    for path in rt::args().skip(1) {
        if let Err(e) = op(path) {
            rt::errln!("{}: {}: {}", name, path, describe(e));
            status = 1;
        }
    }
    status
}

/// Bytes per read or write of the file utilities: large, so a file moves
/// in few VFS calls (each is one safe copy between the user and the file
/// server).
pub const IO_CHUNK: usize = 16 * 1024;

/// Reads `fd` to its end in chunks of [`IO_CHUNK`], calling `each` with
/// every chunk read.
pub fn for_each_chunk(fd: u64, mut each: impl FnMut(&[u8]) -> Result<(), Error>) -> Result<(), Error> {
    let mut buf = [0u8; IO_CHUNK];
    loop {
        let n = rt::vfs::read(fd, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        each(&buf[..n])?;
    }
}

/// Parses a size: decimal digits with an optional `K` or `M` suffix
/// (×1024, ×1024²).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1024),
        b'M' | b'm' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// The CRC-32 (IEEE 802.3, as zlib and `cksum -a crc32b`) state.
pub struct Crc32(u32);

impl Crc32 {
    /// A fresh CRC.
    pub const fn new() -> Crc32 {
        Crc32(0xFFFF_FFFF)
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
        self.0 = c;
    }

    /// The CRC of everything fed.
    pub fn finish(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}
