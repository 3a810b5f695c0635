//! The line discipline: what a typed byte does.
//!
//! Input is cooked a line at a time, as on a MINIX or UNIX console: the
//! driver echoes what is typed, backspace (DEL 0x7f or BS 0x08) erases the
//! last character, and only a completed line (Enter) becomes readable.
//! ^D at the start of a line is end of file (a read returns 0); ^D after
//! some text makes that text readable without a newline. ^C throws the
//! line away and interrupts (the caller answers pending reads with
//! `Interrupted` and asks PM to signal the foreground programs).
//!
//! Completed input waits in a bounded ring ([`Ready`]) until a read takes
//! it, so type-ahead is kept. End of file is kept in the ring as the byte
//! 0x04, which can never be ordinary input (^D is always interpreted).

/// Longest line being edited; further characters are dropped.
pub const LINE_MAX: usize = 1024;
/// Completed input kept for future reads.
pub const READY_MAX: usize = 4096;
/// The end-of-file marker in the ready ring.
pub const EOF_MARK: u8 = 0x04;

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const DELETE: u8 = 0x7F;

/// What a typed byte asks the driver to do besides echoing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// Nothing more.
    None,
    /// New readable input (a line or an end of file).
    Ready,
    /// ^C: interrupt.
    Interrupt,
}

/// The line being typed.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

/// Completed input (bytes of lines and EOF marks), oldest first.
pub struct Ready {
    buf: [u8; READY_MAX],
    head: usize,
    len: usize,
}

impl Ready {
    /// An empty ring.
    pub const fn new() -> Ready {
        Ready { buf: [0; READY_MAX], head: 0, len: 0 }
    }

    /// True when nothing is readable.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at(&self, i: usize) -> u8 {
        self.buf[(self.head + i) % READY_MAX]
    }

    fn push(&mut self, bytes: &[u8]) -> bool {
        if READY_MAX - self.len < bytes.len() {
            return false;
        }
        for &b in bytes {
            self.buf[(self.head + self.len) % READY_MAX] = b;
            self.len += 1;
        }
        true
    }

    /// Takes what one read of up to `out.len()` bytes gets: bytes up to and
    /// including the next newline (never past an EOF mark). Returns `None`
    /// when nothing is ready, `Some(0)` for end of file.
    pub fn take(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        if self.at(0) == EOF_MARK {
            self.head = (self.head + 1) % READY_MAX;
            self.len -= 1;
            return Some(0);
        }
        let mut n = 0;
        while n < out.len() && n < self.len {
            let b = self.at(n);
            if b == EOF_MARK {
                break;
            }
            out[n] = b;
            n += 1;
            if b == b'\n' {
                break;
            }
        }
        self.head = (self.head + n) % READY_MAX;
        self.len -= n;
        Some(n)
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Line {
        Line { buf: [0; LINE_MAX], len: 0 }
    }

    /// Interprets one typed byte: appends what to echo to `echo` (which
    /// must have room for 4 bytes) and moves completed input to `ready`.
    pub fn feed(&mut self, byte: u8, ready: &mut Ready, echo: &mut Echo) -> Event {
        match byte {
            b'\r' | b'\n' => {
                if self.len < LINE_MAX {
                    self.buf[self.len] = b'\n';
                    self.len += 1;
                }
                echo.push(b"\n");
                self.complete(ready)
            }
            BACKSPACE | DELETE => {
                if self.len > 0 {
                    self.len -= 1;
                    // Erase a whole UTF-8 character.
                    while self.len > 0 && self.buf[self.len] & 0xC0 == 0x80 {
                        self.len -= 1;
                    }
                    echo.push(b"\x08 \x08");
                }
                Event::None
            }
            CTRL_D => {
                if self.len == 0 {
                    if ready.push(&[EOF_MARK]) {
                        return Event::Ready;
                    }
                    return Event::None;
                }
                self.complete(ready)
            }
            CTRL_C => {
                self.len = 0;
                echo.push(b"^C\n");
                Event::Interrupt
            }
            b'\t' | 0x20..=0x7E | 0x80..=0xFF => {
                if self.len < LINE_MAX - 1 {
                    self.buf[self.len] = byte;
                    self.len += 1;
                    echo.push(&[byte]);
                }
                Event::None
            }
            _ => Event::None,
        }
    }

    fn complete(&mut self, ready: &mut Ready) -> Event {
        let ok = ready.push(&self.buf[..self.len]);
        self.len = 0;
        if ok {
            Event::Ready
        } else {
            rt::println!("tty: input overflow, line dropped");
            Event::None
        }
    }
}

/// Echo bytes gathered while draining the UART, written in one go.
pub struct Echo {
    pub buf: [u8; 512],
    pub len: usize,
    /// Echo at all: off with `viv.echo=0` (`abi::platform::CMDLINE_ECHO_KEY`),
    /// which `viv` sets when its input is a pipe or a file, so that input
    /// is not printed back.
    pub on: bool,
}

impl Echo {
    /// Nothing to echo.
    pub const fn new() -> Echo {
        Echo { buf: [0; 512], len: 0, on: true }
    }

    fn push(&mut self, bytes: &[u8]) {
        if !self.on {
            return;
        }
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Writes what was gathered to the console.
    pub fn flush(&mut self) {
        if self.len > 0 {
            // Echo is best effort: nobody waits for it.
            let _ = crate::uart::write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}
