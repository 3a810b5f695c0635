//! `ls [-l] [PATH...]`: lists directories (the working directory when no
//! path is given), one name per line; a file operand lists itself. `-l`
//! adds the type (`d` directory, `-` file, `c` device, `p` pipe) and the
//! size. Names are printed in the directory's order.
#![no_std]
#![no_main]

use abi::proto::vfs::{O_RDONLY, TYPE_CHAR, TYPE_DIR, TYPE_PIPE};
use abi::Error;
use rt::{errln, outln};

rt::main!(run);

/// Longest `DIR/NAME` path `-l` can stat.
const PATH_MAX: usize = 512;

fn type_char(kind: u64) -> char {
    match kind {
        TYPE_DIR => 'd',
        TYPE_CHAR => 'c',
        TYPE_PIPE => 'p',
        _ => '-',
    }
}

/// Prints one entry: its name, or with `long` its type, size and name
/// (the size from a stat of `path`).
fn show(name: &str, kind: u64, path: &str, long: bool) {
    if !long {
        outln!("{}", name);
        return;
    }
    match rt::vfs::stat(path) {
        Ok(st) => outln!("{} {:>8} {}", type_char(st.kind), st.size, name),
        Err(_) => outln!("{} {:>8} {}", type_char(kind), "?", name),
    };
}

/// `dir/name` in `buf`.
fn join<'a>(buf: &'a mut [u8; PATH_MAX], dir: &str, name: &str) -> Option<&'a str> {
    let slash = usize::from(!dir.ends_with('/'));
    let len = dir.len() + slash + name.len();
    if len > PATH_MAX {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir.as_bytes());
    if slash == 1 {
        buf[dir.len()] = b'/';
    }
    buf[dir.len() + slash..len].copy_from_slice(name.as_bytes());
    core::str::from_utf8(&buf[..len]).ok()
}

fn list_dir(dir: &str, long: bool) -> Result<(), Error> {
    let fd = rt::vfs::open(dir, O_RDONLY)?;
    let mut buf = [0u8; 1024];
    let result = loop {
        let n = match rt::vfs::getdents(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        for (kind, name) in rt::vfs::dir_entries(&buf[..n]) {
            let mut path = [0u8; PATH_MAX];
            show(name, kind, join(&mut path, dir, name).unwrap_or(name), long);
        }
    };
    let _ = rt::vfs::close(fd);
    result
}

fn list(path: &str, long: bool, header: bool) -> Result<(), Error> {
    let st = rt::vfs::stat(path)?;
    if st.kind != TYPE_DIR {
        show(path, st.kind, path, long);
        return Ok(());
    }
    if header {
        outln!("{}:", path);
    }
    list_dir(path, long)
}

fn run() -> i32 {
    let long = rt::args().skip(1).any(|a| a == "-l");
    if let Some(bad) = rt::args().skip(1).find(|a| a.starts_with('-') && *a != "-l") {
        errln!("ls: unknown option {}", bad);
        errln!("usage: ls [-l] [PATH...]");
        return 2;
    }
    let paths = || rt::args().skip(1).filter(|a| *a != "-l");
    let count = paths().count();
    let mut status = 0;
    if count == 0 {
        if let Err(e) = list(".", long, false) {
            errln!("ls: .: {}", utils::describe(e));
            status = 1;
        }
    }
    for (i, path) in paths().enumerate() {
        if i > 0 && count > 1 {
            outln!();
        }
        if let Err(e) = list(path, long, count > 1) {
            errln!("ls: {}: {}", path, utils::describe(e));
            status = 1;
        }
    }
    status
}
