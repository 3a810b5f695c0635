//! Pipes: bounded byte queues between a writing and a reading end.
//!
//! Blocking is VFS's business, not the pipe's: a read of an empty pipe
//! that still has writers, or a write to a full pipe, reports
//! `WouldBlock` and the caller's request is parked
//! (`crate::requests`) and tried again whenever a pipe changes. With no
//! writers left a read returns 0 (end of file); with no readers left a
//! write fails with `BrokenPipe`. The buffer is [`PIPE_BUF`] bytes, so a
//! writer that outruns its reader waits instead of growing VFS.

/// Bytes one pipe holds.
pub const PIPE_BUF: usize = 2048;
/// Pipes at once.
pub const MAX_PIPES: usize = 32;

/// One pipe.
pub struct Pipe {
    pub used: bool,
    buf: [u8; PIPE_BUF],
    head: usize,
    pub len: usize,
    /// Open file descriptions of the read end.
    pub readers: u32,
    /// Open file descriptions of the write end.
    pub writers: u32,
}

/// The outcome of a pipe operation that may have to wait.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Io {
    /// Bytes moved (0 for a read = end of file).
    Done(usize),
    /// Try again when the pipe changes.
    WouldBlock,
    /// Nobody reads any more.
    Broken,
}

impl Pipe {
    const EMPTY: Pipe = Pipe { used: false, buf: [0; PIPE_BUF], head: 0, len: 0, readers: 0, writers: 0 };

    /// Takes up to `out.len()` bytes.
    pub fn read(&mut self, out: &mut [u8]) -> Io {
        if self.len == 0 {
            return if self.writers == 0 { Io::Done(0) } else { Io::WouldBlock };
        }
        let n = out.len().min(self.len);
        for (i, b) in out[..n].iter_mut().enumerate() {
            *b = self.buf[(self.head + i) % PIPE_BUF];
        }
        self.head = (self.head + n) % PIPE_BUF;
        self.len -= n;
        Io::Done(n)
    }

    /// Room for this many bytes.
    pub fn room(&self) -> usize {
        PIPE_BUF - self.len
    }

    /// Adds as much of `data` as fits.
    pub fn write(&mut self, data: &[u8]) -> Io {
        if self.readers == 0 {
            return Io::Broken;
        }
        let n = data.len().min(self.room());
        if n == 0 && !data.is_empty() {
            return Io::WouldBlock;
        }
        for (i, &b) in data[..n].iter().enumerate() {
            self.buf[(self.head + self.len + i) % PIPE_BUF] = b;
        }
        self.len += n;
        Io::Done(n)
    }
}

/// Every pipe.
pub struct Pipes {
    pipes: [Pipe; MAX_PIPES],
}

impl Pipes {
    /// No pipes.
    pub const fn new() -> Pipes {
        Pipes { pipes: [Pipe::EMPTY; MAX_PIPES] }
    }

    /// A new pipe with one reader and one writer.
    pub fn create(&mut self) -> Option<usize> {
        let i = self.pipes.iter().position(|p| !p.used)?;
        self.pipes[i] = Pipe { used: true, readers: 1, writers: 1, ..Pipe::EMPTY };
        Some(i)
    }

    /// Pipe `i`.
    pub fn get(&mut self, i: usize) -> &mut Pipe {
        &mut self.pipes[i]
    }

    /// One end closed; the pipe is freed when both ends are gone.
    pub fn close_end(&mut self, i: usize, write_end: bool) {
        let p = &mut self.pipes[i];
        if write_end {
            p.writers = p.writers.saturating_sub(1);
        } else {
            p.readers = p.readers.saturating_sub(1);
        }
        if p.readers == 0 && p.writers == 0 {
            p.used = false;
            p.len = 0;
            p.head = 0;
        }
    }
}
