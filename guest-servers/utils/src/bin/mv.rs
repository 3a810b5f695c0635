//! `mv OLD NEW`: renames a file or directory (within one file system;
//! an existing file NEW is replaced).
#![no_std]
#![no_main]

use rt::errln;

rt::main!(run);

fn run() -> i32 {
    let mut args = rt::args().skip(1);
    let (Some(old), Some(new), None) = (args.next(), args.next(), args.next()) else {
        errln!("usage: mv OLD NEW");
        return 2;
    };
    match rt::vfs::rename(old, new) {
        Ok(()) => 0,
        Err(e) => {
            errln!("mv: {} -> {}: {}", old, new, utils::describe(e));
            1
        }
    }
}
