//! Perturbing a guest: the mechanisms a fault-injection experiment uses.
//! A fault plan ([`fault`]) is written into guest memory before boot and
//! the kernel executes it at every IPC event; host-side SWIFI ([`swifi`])
//! mutates a process's code when a plan rule stops the guest. Campaigns
//! (`crate::campaign`) draw the plans and judge the runs.

pub mod fault;
pub mod swifi;
