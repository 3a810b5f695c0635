//! Exec from the disk: PM resolves a program name as `/bin/NAME` through
//! VFS and reads the ELF file into its own buffer; the kernel then execs
//! it from there (`KernelCall::ExecElf`), copying its segments into fresh
//! frames.
//!
//! When there is no such file (an image without a disk, whose in-memory
//! `/bin` lists the boot-image programs as empty files), the boot image's
//! program of that name is the fallback. A program found only on the disk
//! runs with the privileges of an ordinary user program ([`TEMPLATE`]);
//! a file named like a service or init is refused (`Perm`), as is a boot
//! program the kernel starts itself.

use abi::proto::vfs::{O_RDONLY, TYPE_FILE};
use abi::Error;

/// Largest program file PM loads.
pub const ELF_MAX: usize = 256 * 1024;
/// The boot-image program whose privileges a disk-only program gets: the
/// shell, a plain user program (it may talk to PM, VFS and DS).
pub const TEMPLATE: &str = "sh";

/// The buffer the file is read into (bss: fresh zeroed pages).
static mut ELF: [u8; ELF_MAX] = [0; ELF_MAX];

fn buffer() -> &'static mut [u8; ELF_MAX] {
    // SAFETY: PM is single-threaded and every borrow ends before the next
    // exec starts (the kernel reads the buffer during the ExecElf call).
    unsafe { &mut *(&raw mut ELF) }
}

/// Reads `/bin/NAME`; `None` when there is no usable file (then the boot
/// image is used), else the file or why it cannot be loaded.
pub fn load(name: &str) -> Option<Result<&'static [u8], Error>> {
    let mut path = [0u8; 64];
    let prefix = b"/bin/";
    if name.is_empty() || name.contains('/') || prefix.len() + name.len() > path.len() {
        return None;
    }
    path[..prefix.len()].copy_from_slice(prefix);
    path[prefix.len()..prefix.len() + name.len()].copy_from_slice(name.as_bytes());
    let path = core::str::from_utf8(&path[..prefix.len() + name.len()]).ok()?;
    let fd = match rt::vfs::open(path, O_RDONLY) {
        Ok(fd) => fd,
        // The file may be there but unreadable: say so rather than fall
        // back as if there were no such program.
        Err(Error::Io) => return Some(Err(Error::Io)),
        Err(_) => return None,
    };
    let result = read_file(fd);
    let _ = rt::vfs::close(fd);
    result
}

fn read_file(fd: u64) -> Option<Result<&'static [u8], Error>> {
    let st = rt::vfs::fstat(fd).ok()?;
    if st.kind != TYPE_FILE || st.size == 0 {
        return None;
    }
    if st.size > ELF_MAX as u64 {
        return Some(Err(Error::NoMemory));
    }
    let buf = buffer();
    let size = st.size as usize;
    let mut done = 0;
    while done < size {
        match rt::vfs::read(fd, &mut buf[done..size]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(&buf[..done]))
}
