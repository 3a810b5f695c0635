//! An attacker for `images/threats`: a user program that asks RS to kill a
//! driver by complaining about it (`abi::proto::rs::COMPLAIN`), as if it
//! depended on it. RS must refuse (`ECALLDENIED`): only system services
//! may complain. `complainer NAME` prints `complainer: NAME: refused` or
//! `complainer: NAME: accepted (RESULT)` and exits 0 when refused, 1 when
//! accepted (`vmm/tests/driver_distrust.rs`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    let name = rt::args().nth(1).unwrap_or("blk");
    let target = match rt::names::lookup_fresh(name) {
        Ok((ep, _)) => ep,
        Err(e) => {
            rt::println!("complainer: {}: not in DS ({})", name, e);
            return 2;
        }
    };
    match rt::service::complain(name, target) {
        Err(abi::Error::CallDenied) => {
            rt::println!("complainer: {}: refused", name);
            0
        }
        Err(e) => {
            rt::println!("complainer: {}: {}", name, e);
            2
        }
        Ok(result) => {
            rt::println!("complainer: {}: accepted ({})", name, result);
            1
        }
    }
}
