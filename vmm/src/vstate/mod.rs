//! The virtual machine's state and its life: KVM ([`kvm`]), guest memory
//! ([`memory`]), loading the kernel ([`boot`]), the initial vCPU state
//! ([`cpu`]), assembling a VM from a [`config::RunConfig`] ([`machine`]),
//! the vCPU run loop ([`vcpu`]), the watchdog ([`watchdog`]), the vCPU
//! statistics KVM counts ([`stats`]), one whole run ([`run`]) and what it
//! produced ([`outcome`]), snapshots of a booted VM ([`snapshot`]), and the
//! QEMU command line that boots the same kernel and image ([`qemu`]).
//!
//! The shape follows Firecracker and rust-vmm's vmm-reference: device
//! models live apart, in `crate::devices`.

pub mod boot;
pub mod config;
pub mod cpu;
pub mod error;
pub mod kvm;
pub mod machine;
pub mod memory;
pub mod outcome;
pub mod qemu;
pub mod run;
pub mod snapshot;
pub mod stats;
pub mod vcpu;
pub mod watchdog;
