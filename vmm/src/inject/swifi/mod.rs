//! Host-side SWIFI: mutating a process's code at a fault-plan Stop, with
//! the MINIX 3 fault types (TEXT, NOP, SRC, DST, PTR, INTERFACE, LOOP;
//! `docs/campaigns.md`, "SWIFI: mutating the target's code").
//!
//! Why on the host: the kernel must stay small, and patching code needs an
//! x86 decoder (iced-x86). At a Stop the guest is paused in the doorbell
//! exit; the kernel has filled the Stop mailbox in the plan region
//! (`abi::fault::STOP_MAILBOX_OFFSET`) with the target's page-table root
//! and name, because the host cannot see the kernel's process table. The
//! host walks the target's 4-level tables over user space (1–2 GiB),
//! collects its code (user, present, read-only, executable pages below the
//! KIP), restricts it to the functions of the program's ELF ([`code_map`]:
//! the host has the boot image, whose ELFs are also the disk's `/bin`),
//! decodes each function, draws a candidate instruction for the fault
//! type with `abi::fault::next_random` from [`SwifiSpec::seed`] (the state
//! carries over from one Stop to the next), mutates it ([`mutate`]) and
//! writes the bytes through their guest-physical addresses, then the guest
//! resumes. The ELF is used only when its code equals the code in memory
//! (apart from this run's earlier mutations); otherwise, or when the name
//! is not in the boot image, the whole pages are the candidates and the
//! mutation's note says why.
//!
//! Which instances run the mutated code: text pages are shared (boot-image
//! frames for every instance RS starts, frames shared with forks), so at a
//! Stop the kernel first gives the target private copies of its code pages
//! (`abi::fault::STOP_PRIVATE_PAGES_AT` says how many). The write goes to
//! those: the mutated instance (and children it forks later) run the
//! mutated code, while an instance RS restarts runs the pristine program,
//! as in MINIX 3's campaigns, where RS reloaded a driver from its binary.

pub mod code_map;
mod error;
pub mod mutate;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use abi::fault::{STOP_MAILBOX_MAGIC, STOP_MAILBOX_OFFSET, STOP_MAILBOX_SIZE, STOP_NAME_BYTES, STOP_PRIVATE_PAGES_AT};
use abi::layout::{KIP_DATA, PAGE_SIZE, USER_BASE};
use kvm_ioctls::VcpuFd;
use serde::{Deserialize, Serialize};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::inject::fault::PlanRegion;

pub use code_map::Scope;
pub use error::SwifiError;
pub use mutate::FaultType;

/// What to mutate at each Stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwifiSpec {
    /// The fault type.
    pub kind: FaultType,
    /// Seed of the draws (0 is replaced by a fixed non-zero seed).
    pub seed: u64,
}

/// One mutation (or why none was made) at a Stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mutation {
    /// The fault type.
    pub kind: FaultType,
    /// The plan rule whose Stop this was.
    pub rule: u32,
    /// The target's program name and endpoint (from the Stop mailbox).
    pub program: String,
    pub endpoint: u32,
    /// The target's page-table root.
    pub cr3: u64,
    /// Guest-virtual address of the first changed byte's instruction (or
    /// of the byte, for TEXT).
    pub address: u64,
    /// Bytes at `address` before and after (the instruction, or the byte).
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    /// The function hit (demangled, from the ELF's symbols) and the
    /// offset of `address` in it, when known.
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default)]
    pub function_offset: Option<u64>,
    /// What the candidates were restricted to.
    #[serde(default)]
    pub scope: Scope,
    /// Code pages the kernel made private to this instance at the Stop
    /// (0: they already were, from an earlier Stop).
    #[serde(default)]
    pub private_pages: u16,
    /// What was done, in words.
    pub note: String,
    /// Why nothing was mutated (then `before` and `after` are empty).
    pub error: Option<String>,
    /// The bytes at `address` when the run ended, read back through the
    /// same guest-physical addresses (equal to `after` unless the guest
    /// rewrote its code).
    pub final_bytes: Vec<u8>,
}

/// A user code page: guest-virtual and guest-physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePage {
    pub virt: u64,
    pub phys: u64,
}

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const HUGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

/// Most code pages SWIFI copies and decodes at one Stop (32 MiB): the page
/// tables come from the kernel, which may be mutated or hostile and point
/// the mailbox at tables aliasing all of RAM. A target with more fails its
/// mutation (`SwifiError::TooMuchCode`) instead of growing the host.
pub const MAX_CODE_PAGES: usize = 8192;

/// The user code pages of the address space rooted at `cr3`, in address
/// order: present, user, read-only, executable 4 KiB pages in
/// `[USER_BASE, KIP_DATA)` (the KIP's entry stubs are excluded); at most
/// [`MAX_CODE_PAGES`] + 1, so a caller sees that there were more.
pub fn code_pages(mem: &GuestMemoryMmap, cr3: u64) -> Vec<CodePage> {
    let read = |table: u64, i: u64| mem.read_obj::<u64>(GuestAddress((table & ADDRESS) + i * 8)).unwrap_or(0);
    let mut pages = Vec::new();
    let mut va = USER_BASE;
    while va < KIP_DATA {
        let pml4e = read(cr3, (va >> 39) & 511);
        let pdpte = if pml4e & PRESENT != 0 { read(pml4e, (va >> 30) & 511) } else { 0 };
        if pdpte & PRESENT == 0 || pdpte & HUGE != 0 {
            va = (va | ((1 << 30) - 1)) + 1;
            continue;
        }
        let pde = read(pdpte, (va >> 21) & 511);
        if pde & PRESENT == 0 || pde & HUGE != 0 {
            va = (va | ((1 << 21) - 1)) + 1;
            continue;
        }
        for i in 0..512u64 {
            let v = va + i * PAGE_SIZE;
            if v >= KIP_DATA {
                break;
            }
            let pte = read(pde, (v >> 12) & 511);
            let flags_ok = pte & (PRESENT | USER) == (PRESENT | USER) && pte & (WRITABLE | NO_EXECUTE) == 0;
            if flags_ok {
                pages.push(CodePage { virt: v, phys: pte & ADDRESS });
                if pages.len() > MAX_CODE_PAGES {
                    return pages;
                }
            }
        }
        va = (va | ((1 << 21) - 1)) + 1;
    }
    pages
}

/// The target named in the Stop mailbox: (cr3, endpoint, name).
pub fn read_mailbox(mem: &GuestMemoryMmap, plan_base: u64) -> Option<StopTarget> {
    let mut b = [0u8; STOP_MAILBOX_SIZE];
    mem.read_slice(&mut b, GuestAddress(plan_base + STOP_MAILBOX_OFFSET as u64)).ok()?;
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    if u32_at(0) != STOP_MAILBOX_MAGIC {
        return None;
    }
    let n = (b[21] as usize).min(STOP_NAME_BYTES);
    Some(StopTarget {
        cr3: u64::from_le_bytes(b[8..16].try_into().unwrap()),
        endpoint: u32_at(16),
        name: String::from_utf8_lossy(&b[24..24 + n]).into_owned(),
        private_pages: u16::from_le_bytes([b[STOP_PRIVATE_PAGES_AT], b[STOP_PRIVATE_PAGES_AT + 1]]),
    })
}

/// The target named in the Stop mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopTarget {
    /// Its page-table root.
    pub cr3: u64,
    pub endpoint: u32,
    /// Its program name.
    pub name: String,
    /// Code pages the kernel copied for it just before the Stop.
    pub private_pages: u16,
}

/// `bytes` in hex, space-separated ("48 8b 44"), as reports show code.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

impl Mutation {
    /// One line for reports: "nop in blk at 0x40001234 (blk::Blk::run+0x1c):
    /// 48 8b 44 24 08 -> 90 90 90 90 90".
    pub fn describe(&self) -> String {
        if let Some(e) = &self.error {
            return format!("{} at rule {}: nothing mutated: {e}", self.kind.name(), self.rule);
        }
        let function = match (&self.function, self.function_offset) {
            (Some(f), Some(o)) => format!(" ({f}+{o:#x})"),
            _ => String::new(),
        };
        let (kind, program, address) = (self.kind.name(), &self.program, self.address);
        format!("{kind} in {program} at {address:#x}{function}: {} -> {}", hex(&self.before), hex(&self.after))
    }
}

/// The SWIFI state of one run.
pub struct Injector {
    mem: GuestMemoryMmap,
    plan_base: u64,
    /// The boot image archive: the ELFs of the target programs.
    archive: Cow<'static, [u8]>,
    kind: FaultType,
    state: u64,
    done: Vec<Mutation>,
    /// Guest-physical address of every mutated byte, per mutation.
    phys: Vec<Vec<u64>>,
}

impl Injector {
    /// An injector for the run whose plan region is at `plan_base` and
    /// whose programs are those of the boot image `archive`.
    pub fn new(mem: &GuestMemoryMmap, plan_base: u64, archive: Cow<'static, [u8]>, spec: SwifiSpec) -> Injector {
        let state = if spec.seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { spec.seed };
        let (done, phys) = (Vec::new(), Vec::new());
        Injector { mem: mem.clone(), plan_base, archive, kind: spec.kind, state, done, phys }
    }

    /// The spans of `program`'s code that may be mutated, with what they
    /// are, and why the whole pages are used when they are.
    fn spans(&self, program: &str, code: &mutate::Code) -> (Vec<code_map::Span>, Scope, Option<String>) {
        let map = code_map::program_elf(&self.archive, program)
            .and_then(code_map::code_map)
            .and_then(|map| self.matches_memory(program, &map, code).map(|()| map));
        match map {
            Ok(map) => (map.spans, map.scope, None),
            Err(why) => (code.page_spans(), Scope::Pages, Some(format!("{why}: whole code pages"))),
        }
    }

    /// Checks that the ELF's code is the code in memory, but for bytes
    /// this run mutated earlier in the same program (a program exec'd
    /// from a disk other than the image's could differ).
    fn matches_memory(&self, program: &str, map: &code_map::CodeMap, code: &mutate::Code) -> Result<(), SwifiError> {
        let mutated = |va: u64| {
            self.done.iter().any(|m| {
                m.program == program && m.error.is_none() && (m.address..m.address + m.after.len() as u64).contains(&va)
            })
        };
        let differing = map
            .segments
            .iter()
            .flat_map(|&(start, bytes)| bytes.iter().enumerate().map(move |(i, &b)| (start + i as u64, b)))
            .filter(|&(va, b)| code.byte(va) != Some(b) && !mutated(va))
            .count();
        match differing {
            0 => Ok(()),
            bytes => Err(SwifiError::Differs { program: program.to_string(), bytes }),
        }
    }

    fn draw(&mut self) -> u32 {
        let (state, d) = abi::fault::next_random(self.state);
        self.state = state;
        d
    }

    /// Mutates the target of the Stop for `rule` (the guest is paused).
    pub fn at_stop(&mut self, rule: u32) -> (Mutation, Vec<u64>) {
        let mut m = Mutation {
            kind: self.kind,
            rule,
            program: String::new(),
            endpoint: 0,
            cr3: 0,
            address: 0,
            before: Vec::new(),
            after: Vec::new(),
            function: None,
            function_offset: None,
            scope: Scope::Pages,
            private_pages: 0,
            note: String::new(),
            error: None,
            final_bytes: Vec::new(),
        };
        let Some(StopTarget { cr3, endpoint, name: program, private_pages }) = read_mailbox(&self.mem, self.plan_base)
        else {
            m.error = Some("no Stop mailbox (kernel without SWIFI support?)".into());
            return (m, Vec::new());
        };
        let pages = code_pages(&self.mem, cr3);
        if pages.len() > MAX_CODE_PAGES {
            (m.cr3, m.endpoint, m.program) = (cr3, endpoint, program);
            m.error = Some(SwifiError::TooMuchCode(MAX_CODE_PAGES).to_string());
            return (m, Vec::new());
        }
        let code = mutate::Code::read(&self.mem, &pages);
        let (spans, scope, fallback) = self.spans(&program, &code);
        (m.cr3, m.endpoint, m.program, m.scope, m.private_pages) = (cr3, endpoint, program, scope, private_pages);
        let kind = self.kind;
        match mutate::apply(&code, &spans, kind, &mut || self.draw()) {
            Ok(change) => {
                if let Err(e) = code.write(&self.mem, change.address, &change.after) {
                    m.error = Some(e.to_string());
                    return (m, Vec::new());
                }
                let phys = (0..change.after.len() as u64).filter_map(|i| code.phys(change.address + i)).collect();
                m.address = change.address;
                m.before = change.before;
                m.after = change.after;
                m.note = change.note + &fallback.map(|f| format!("; {f}")).unwrap_or_default();
                (m.function, m.function_offset) = change.function.unzip();
                return (m, phys);
            }
            Err(e) => {
                m.error = Some(e.to_string());
                m.note = fallback.unwrap_or_default();
            }
        }
        (m, Vec::new())
    }
}

/// What the run loop calls at every fault-plan Stop, with the vCPU and the
/// rule index, while the guest is paused in the doorbell exit.
pub type OnStop = Box<dyn FnMut(&VcpuFd, u32) + Send>;

/// The Stop hook of a run, shared between the vCPU thread and the caller
/// (and the gdb stub, which shows the mutations).
#[derive(Clone)]
pub struct StopHook(Arc<Mutex<Injector>>);

impl StopHook {
    /// The closure for `VcpuRunner::on_fault_stop`.
    pub fn boxed(&self) -> OnStop {
        let inner = self.0.clone();
        Box::new(move |_vcpu, rule| {
            let mut injector = inner.lock().unwrap_or_else(|e| e.into_inner());
            let (m, phys) = injector.at_stop(rule);
            log::info!("swifi: {} ({})", m.describe(), m.note);
            injector.done.push(m);
            injector.phys.push(phys);
        })
    }

    /// The mutations made so far, with the bytes read back now.
    pub fn mutations(&self) -> Vec<Mutation> {
        let injector = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = injector.done.clone();
        for (m, phys) in done.iter_mut().zip(&injector.phys) {
            m.final_bytes = phys.iter().map(|&pa| injector.mem.read_obj::<u8>(GuestAddress(pa)).unwrap_or(0)).collect();
        }
        done
    }
}

/// The Stop hook for mutations as `spec` says in the programs of boot
/// image `archive` (`None` without a plan, whose Stop mailbox it reads).
pub fn stop_hook(
    spec: SwifiSpec,
    archive: Cow<'static, [u8]>,
    mem: &GuestMemoryMmap,
    plan: Option<&PlanRegion>,
) -> Option<StopHook> {
    let plan = plan?;
    Some(StopHook(Arc::new(Mutex::new(Injector::new(mem, plan.base, archive, spec)))))
}

#[cfg(test)]
mod tests;
