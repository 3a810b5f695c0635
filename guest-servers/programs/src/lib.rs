//! Small guest programs (see `src/bin/`) and the protocols they share.
#![no_std]

pub mod attack_protocol;
pub mod attacks;
pub mod fuzz;
pub mod ktest_protocol;
