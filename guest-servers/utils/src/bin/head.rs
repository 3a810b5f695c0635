//! `head [-n LINES | -c BYTES] [FILE]`: the first lines (10 by default)
//! or bytes of a file or of standard input.
#![no_std]
#![no_main]

use abi::proto::vfs::O_RDONLY;
use rt::errln;
use rt::vfs::{STDIN, STDOUT};

rt::main!(run);

enum Limit {
    Lines(u64),
    Bytes(u64),
}

fn head(fd: u64, limit: Limit) -> Result<(), abi::Error> {
    let mut buf = [0u8; utils::IO_CHUNK];
    let mut left = match limit {
        Limit::Lines(n) | Limit::Bytes(n) => n,
    };
    let lines = matches!(limit, Limit::Lines(_));
    while left > 0 {
        let want = if lines { buf.len() } else { (left as usize).min(buf.len()) };
        let n = rt::vfs::read(fd, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        let mut take = n;
        if lines {
            for (i, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    left -= 1;
                    if left == 0 {
                        take = i + 1;
                        break;
                    }
                }
            }
        } else {
            left -= n as u64;
        }
        rt::vfs::write_all(STDOUT, &buf[..take])?;
    }
    Ok(())
}

fn run() -> i32 {
    let mut limit = Limit::Lines(10);
    let mut file = None;
    let mut args = rt::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg {
            "-n" => args.next().and_then(utils::parse_size).map(Limit::Lines),
            "-c" => args.next().and_then(utils::parse_size).map(Limit::Bytes),
            name if file.is_none() => {
                file = Some(name);
                continue;
            }
            _ => None,
        };
        match parsed {
            Some(l) => limit = l,
            None => {
                errln!("usage: head [-n LINES | -c BYTES] [FILE]");
                return 2;
            }
        }
    }
    let fd = match file {
        Some(name) => match rt::vfs::open(name, O_RDONLY) {
            Ok(fd) => fd,
            Err(e) => {
                errln!("head: {}: {}", name, utils::describe(e));
                return 1;
            }
        },
        None => STDIN,
    };
    match head(fd, limit) {
        Ok(()) => 0,
        Err(e) => {
            errln!("head: {}", utils::describe(e));
            1
        }
    }
}
