//! The one definition of every format that crosses the host/guest or the
//! user/kernel boundary in Vivarium.
//!
//! Host (`viv`), kernel and user programs all depend on this crate, so a
//! number, a layout or an encoding is written exactly once. Anything defined
//! here is an ABI: change it in one place and every side follows.
//!
//! `docs/abi.md` is the human-readable table of the same facts.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

pub mod args;
pub mod backup;
pub mod boot_image;
pub mod debug;
pub mod elf;
pub mod endpoint;
pub mod error;
pub mod fault;
pub mod grant;
pub mod layout;
pub mod message;
pub mod notify;
pub mod platform;
pub mod profile;
pub mod proto;
pub mod senda;
pub mod syscall;
pub mod trace;
pub mod weaken;

pub use endpoint::Endpoint;
pub use error::Error;
pub use message::Message;
