//! The command language of the guest shell (`guest-servers/sh`): lists,
//! pipelines, redirections, quoting and `$?`.
//!
//! It lives apart from the shell program so that `cargo test --workspace`
//! tests it on the host; it needs only `core` and `alloc`, so the guest
//! shell links the same code.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod parse;
