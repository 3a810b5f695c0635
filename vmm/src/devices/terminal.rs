//! The host terminal during an interactive run: raw input, restored on
//! every way out.
//!
//! Why raw mode: the guest's TTY driver has its own line discipline (echo,
//! backspace, ^C, ^D), so every key must reach it at once and unchanged;
//! the host terminal must neither echo, nor edit lines, nor turn ^C into
//! SIGINT. Output processing (`OPOST`, `\n` → `\r\n`) stays on, so the
//! guest writes plain `\n` as it does to a pipe.
//!
//! Why a guard and a global: the terminal must come back however `viv`
//! ends: a normal return or an error drops the [`RawTerminal`]; a panic
//! runs the hook installed by [`RawTerminal::enable`]; the escape key
//! ([`ESCAPE_BYTE`], ^]) ends the process from the stdin thread through
//! [`leave`]. All three restore the one saved state, at most once.
//! When stdin is not a terminal nothing is changed.

use std::io::{self, Write};
use std::os::unix::io::RawFd;
use std::sync::{Mutex, Once};

/// ^]: ends the VM when typed on a raw terminal (as in telnet).
pub const ESCAPE_BYTE: u8 = 0x1d;

/// The terminal's state before raw mode, while raw mode is on.
static SAVED: Mutex<Option<(RawFd, libc::termios)>> = Mutex::new(None);

/// Raw mode on a terminal; dropping it restores the terminal.
#[derive(Debug)]
pub struct RawTerminal {
    _private: (),
}

impl RawTerminal {
    /// Puts `fd` in raw mode if it is a terminal (`None` otherwise).
    pub fn enable(fd: RawFd) -> io::Result<Option<RawTerminal>> {
        // SAFETY: isatty only inspects the descriptor number.
        if unsafe { libc::isatty(fd) } != 1 {
            return Ok(None);
        }
        // SAFETY: termios is plain data; all-zero is a valid value that
        // tcgetattr overwrites.
        let mut original: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `original` is a valid termios to fill.
        if unsafe { libc::tcgetattr(fd, &mut original) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = original;
        raw.c_iflag &= !(libc::IGNBRK
            | libc::BRKINT
            | libc::PARMRK
            | libc::ISTRIP
            | libc::INLCR
            | libc::IGNCR
            | libc::ICRNL
            | libc::IXON);
        raw.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
        raw.c_cflag = (raw.c_cflag & !(libc::CSIZE | libc::PARENB)) | libc::CS8;
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        install_panic_hook();
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some((fd, original));
        // SAFETY: `raw` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            let err = io::Error::last_os_error();
            SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Err(err);
        }
        Ok(Some(RawTerminal { _private: () }))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        restore();
    }
}

/// True while a terminal is in raw mode (the escape key is live).
pub fn is_raw() -> bool {
    SAVED.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Puts the terminal back as it was (once; later calls do nothing).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((fd, original)) = saved {
        // SAFETY: restoring the state tcgetattr returned for this fd.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    }
}

/// The escape key was typed: restore the terminal and end `viv` (status
/// 0: the user ended the VM on purpose).
pub fn leave() -> ! {
    let _ = io::stdout().flush();
    restore();
    eprintln!("\nviv: ^] typed; VM stopped");
    std::process::exit(0)
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_is_left_alone() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() returns.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        assert!(RawTerminal::enable(fds[0]).unwrap().is_none());
        assert!(!is_raw());
        restore(); // harmless without raw mode
        for fd in fds {
            // SAFETY: closing descriptors we own.
            unsafe { libc::close(fd) };
        }
    }
}
