//! The guest's software: the kernel and boot images embedded in `viv`
//! ([`embedded`]), the `images/*/image.toml` definitions build.rs assembles
//! them from ([`definition`]), the stripped copies of the programs' ELFs
//! that the images and disks hold ([`strip`]), and the small ELF builder
//! tests use to make kernels ([`elf_builder`]).

pub mod definition;
pub mod elf_builder;
pub mod embedded;
pub mod privileges_doc;
pub mod strip;
