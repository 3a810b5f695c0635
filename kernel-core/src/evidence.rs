//! Outcome evidence: how the command's processes ended, recorded by the
//! kernel in the fault-plan region (`abi::fault::STATUS_OFFSET`).
//!
//! Why the kernel: a campaign classes an experiment by the workload's and
//! the check's exit statuses, and console text cannot carry them, since
//! any program can print `status 0` and then fail. Only the kernel sees
//! every process end (exit, kill, CPU fault), and it knows which processes
//! to watch from init's marks: the workload is the process that wrote the
//! first `MARK_COMMAND_START` (init's child, before it execs the shell;
//! exec keeps the endpoint), the check the process that wrote
//! `MARK_CHECK_START`. Nothing in user space can move either choice: the
//! first command mark comes at the end of the boot, before any workload
//! program exists, and the check mark is taken once and only from a
//! process with the first mark's privilege id (init and its children
//! before their exec: PM never execs a program as init).

use crate::Kernel;
use abi::fault::{exit_status_word, REGION_END, STATUS_CHECK, STATUS_WORKLOAD};
use abi::Endpoint;

/// Which processes the kernel watches for the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandWatch {
    /// Privilege id of the first `MARK_COMMAND_START`'s writer (init's);
    /// `None` before that mark.
    starter: Option<u8>,
    /// The workload's process while it lives.
    workload: Option<Endpoint>,
    /// The check mark was taken.
    check_marked: bool,
    /// The check's process while it lives.
    check: Option<Endpoint>,
}

impl CommandWatch {
    /// Nothing watched yet.
    pub const NONE: CommandWatch = CommandWatch { starter: None, workload: None, check_marked: false, check: None };
}

impl Kernel {
    /// `slot` wrote `MARK_COMMAND_START`: the first writer is the workload
    /// (later marks change nothing). True when this mark was taken.
    pub fn mark_workload_start(&mut self, slot: usize) -> bool {
        if self.command.starter.is_some() {
            return false;
        }
        self.command.starter = Some(self.procs[slot].privilege_id);
        self.command.workload = Some(self.procs[slot].endpoint);
        true
    }

    /// `slot` wrote `MARK_CHECK_START`: taken once, after the workload's
    /// mark, from a process with its writer's privilege id; false (the
    /// caller refuses the mark) otherwise.
    pub fn mark_check_start(&mut self, slot: usize) -> bool {
        let from_starter = self.command.starter == Some(self.procs[slot].privilege_id);
        if !from_starter || self.command.check_marked {
            return false;
        }
        self.command.check_marked = true;
        self.command.check = Some(self.procs[slot].endpoint);
        true
    }

    /// Process `slot` ends with `status`: if it is the workload or the
    /// check, its status goes into the plan region.
    pub(crate) fn record_command_exit(&mut self, slot: usize, status: u32) {
        let ep = Some(self.procs[slot].endpoint);
        let at = if self.command.workload == ep {
            self.command.workload = None;
            STATUS_WORKLOAD
        } else if self.command.check == ep {
            self.command.check = None;
            STATUS_CHECK
        } else {
            return;
        };
        if let Some(word) = self.faults_region_mut().filter(|r| r.len() >= REGION_END).map(|r| &mut r[at..at + 8]) {
            word.copy_from_slice(&exit_status_word(status).to_le_bytes());
        }
    }

    /// Whether an exit may have to be recorded (one test on the exit path).
    #[inline]
    pub(crate) fn watching_command(&self) -> bool {
        self.command.workload.is_some() || self.command.check.is_some()
    }
}
