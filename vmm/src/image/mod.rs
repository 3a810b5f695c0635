//! The guest's software: the kernel and boot images embedded in `viv`
//! ([`embedded`]), the `images/*/image.toml` definitions build.rs assembles
//! them from ([`definition`]), and the small ELF builder tests use to make
//! kernels ([`elf_builder`]).

pub mod definition;
pub mod elf_builder;
pub mod embedded;
pub mod privileges_doc;
