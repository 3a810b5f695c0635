//! Links the `sh` binary with the user linker script (as
//! `../rt/build_user.rs` does for other programs), but only the binary: the
//! library's unit tests link as ordinary host programs.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg-bins=-T{dir}/../rt/user.ld");
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rerun-if-changed={dir}/../rt/user.ld");
}
