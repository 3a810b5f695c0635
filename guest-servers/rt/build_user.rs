//! Build script shared by every guest program crate: link with the user
//! linker script (see rt/user.ld).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg=-T{dir}/../rt/user.ld");
    println!("cargo:rustc-link-arg=--no-pie");
    println!("cargo:rerun-if-changed={dir}/../rt/user.ld");
}
