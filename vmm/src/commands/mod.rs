//! What each `viv` subcommand does, apart from parsing its arguments
//! (`cli.rs`) and printing (`main.rs`): so that `main.rs` only dispatches
//! and the integration tests call the same functions. One file per
//! subcommand.

pub mod bench;
pub mod campaign;
pub mod count;
mod error;
pub mod export;
pub mod images;
pub mod output;
pub mod profile;
pub mod run;
pub mod symbols;
pub mod threats;
pub mod trace;
pub mod vm;

pub use error::CommandError;
pub use vm::VmOptions;
