//! The Vivarium VMM: boots the Vivarium microkernel on KVM, observes every
//! IPC message (trace ring) and perturbs it (fault plans, SWIFI).
//!
//! The folders are the architecture, from the bottom up (no module uses
//! one above it; `scripts/check-module-cycles` keeps it so):
//!
//! - [`image`]: the embedded kernel and boot images, their definitions.
//! - [`devices`]: device models (UART, virtio-mmio transport, virtio-blk,
//!   disk files, the terminal), port-I/O and MMIO dispatch.
//! - [`observe`]: the IPC trace ring in guest memory; decoding, analysis
//!   and export of its records.
//! - [`inject`]: fault plans in guest memory and host-side SWIFI.
//! - [`debug`]: the gdb stub (`--gdb`): breakpoints, single steps and
//!   processes as threads, on KVM's guest-debug interface.
//! - [`vstate`]: KVM, memory, vCPU, assembling a VM, the run loop, the
//!   watchdog, statistics, snapshots: [`run`] boots one [`RunConfig`] and
//!   returns a [`RunOutcome`].
//! - [`campaign`]: fault-injection campaigns (draw, run, judge, report).
//! - [`threats`]: `viv threats`, every IPC threat class attacked, with
//!   its negative control, and the IPC fuzzer.
//! - [`bench`]: `viv bench`'s measurements.
//! - [`commands`]: what each `viv` subcommand does (`main.rs` dispatches).
//!
//! Every number that crosses to the guest comes from the `abi` crate.

#![warn(clippy::undocumented_unsafe_blocks)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod bench;
pub mod campaign;
pub mod commands;
pub mod debug;
pub mod devices;
pub mod image;
pub mod inject;
pub mod observe;
pub mod threats;
pub mod vstate;

pub use image::embedded::DEFAULT_IMAGE;
pub use vstate::config::{EntryChoice, HostKind, RunConfig};
pub use vstate::error::Error;
pub use vstate::outcome::{Exit, Mark, RunOutcome};
pub use vstate::run::run;
pub use vstate::stats::StatsSnapshot;
