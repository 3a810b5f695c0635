//! `monitor` commands: what gdb's protocol has no packet for.
//!
//! - `monitor user`: the saved user registers of the process whose
//!   address space is loaded (while it is in the kernel, gdb's registers
//!   for it are the kernel's: the vCPU's).
//! - `monitor phys ADDR [LEN]`: guest-physical memory, in hex.
//! - `monitor processes`: the kernel's process directory.
//! - `monitor injection`: the SWIFI mutations so far, each with both
//!   instructions disassembled (`super::injection`).
//! - `monitor program [NAME]`: the program whose symbols gdb uses (the
//!   generated script's `viv-NAME` says so): user-code breakpoints then go
//!   into a process running it, whichever thread gdb has selected
//!   (`super::placement`). Without NAME: which one it is.

use std::fmt::Write as _;

use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd};
use vm_memory::{Bytes, GuestAddress};

use super::target::Stub;
use super::threads::read_frame;
use super::Guest;

/// Most bytes `monitor phys` shows.
const PHYS_MAX: u64 = 4096;

const HELP: &str =
    "monitor user | monitor phys ADDR [LEN] | monitor processes | monitor injection | monitor program [NAME]";

impl<G: Guest> MonitorCmd for Stub<'_, G> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), Self::Error> {
        let cmd = String::from_utf8_lossy(cmd);
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let text = match words.as_slice() {
            ["user"] => self.user_registers(),
            ["phys", addr, rest @ ..] => match (parse(addr), rest.first().map_or(Some(64), |l| parse(l))) {
                (Some(addr), Some(len)) => self.phys_dump(addr, len.min(PHYS_MAX)),
                _ => format!("usage: {HELP}"),
            },
            ["processes"] => self.process_list(),
            ["injection"] => self.injections(),
            ["program"] => match &self.st.symbols {
                Some(name) => format!("user-code breakpoints go into a process running {name}\n"),
                None => "no program named: user-code breakpoints go into the selected thread's process\n".into(),
            },
            ["program", name] => {
                self.st.symbols = Some(name.to_string());
                format!("user-code breakpoints go into a process running {name}\n")
            }
            _ => format!("usage: {HELP}"),
        };
        for line in text.lines() {
            gdbstub::outputln!(out, "{line}");
        }
        Ok(())
    }
}

/// A number in hex (`0x…`) or decimal.
fn parse(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl<G: Guest> Stub<'_, G> {
    fn user_registers(&self) -> String {
        let tid = self.current_tid().get();
        let procs = self.st.procs.processes(&self.st.mem);
        let Some(p) = procs.iter().find(|p| p.tid == tid) else {
            return "no process is loaded (the kernel's own address space)".into();
        };
        let Some(regs) = p.frame.and_then(|at| read_frame(&self.st.mem, at)) else {
            return format!("{}: no saved registers published", p.name);
        };
        let names = [
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
            "r15",
        ];
        let mut s = format!("{} (endpoint {}), saved at its last kernel entry:\n", p.name, p.endpoint);
        let _ = writeln!(s, "rip {:#018x}  rflags {:#x}", regs.rip, regs.rflags);
        for (name, value) in names.iter().zip(regs.gprs) {
            let _ = writeln!(s, "{name:<3} {value:#018x}");
        }
        s
    }

    fn phys_dump(&self, addr: u64, len: u64) -> String {
        let mut s = String::new();
        for line in (0..len).step_by(16) {
            let mut bytes = vec![0u8; (len - line).min(16) as usize];
            if self.st.mem.read_slice(&mut bytes, GuestAddress(addr + line)).is_err() {
                let _ = writeln!(s, "{:#x}: outside guest memory", addr + line);
                break;
            }
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(s, "{:#012x}: {}", addr + line, hex.join(" "));
        }
        s
    }

    /// Every SWIFI mutation of the run so far, described.
    pub fn injections(&self) -> String {
        let Some(hook) = &self.st.swifi else { return "this run mutates no code (no SWIFI)\n".into() };
        let mutations = hook.mutations();
        if mutations.is_empty() {
            return "no mutation yet\n".into();
        }
        let procs = self.st.procs.processes(&self.st.mem);
        mutations.iter().map(|m| super::injection::describe(&self.st.mem, &procs, m)).collect()
    }

    fn process_list(&self) -> String {
        let mut s = String::from("thread  endpoint  cr3         program\n");
        for p in self.st.procs.processes(&self.st.mem) {
            let _ = writeln!(s, "{:<7} {:<9} {:#010x}  {}", p.tid, p.endpoint, p.root, p.name);
        }
        s
    }
}
