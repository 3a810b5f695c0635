//! The shell's command language, separate from the shell program so that
//! it can be unit-tested on the host (`cargo test --target
//! x86_64-unknown-linux-gnu --lib` in this directory): it uses only `core`
//! and `alloc`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod parse;
