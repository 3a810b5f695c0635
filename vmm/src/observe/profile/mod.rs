//! `viv profile`: a sampling profiler of the whole guest, from the host.
//!
//! The watchdog thread kicks the vCPU out of `KVM_RUN` at a fixed rate
//! (`crate::vstate::watchdog`, the same signal that stops a run at its
//! deadline); in that exit the vCPU thread calls [`Sampler::sample`],
//! which reads the registers, walks the frame-pointer chains through the
//! guest's page tables ([`paging`], [`unwind`]) and names the process
//! from the kernel's process directory (`abi::profile`). After the run,
//! [`report`] names the addresses ([`symbols`]) and writes folded stacks,
//! speedscope JSON and the top-N table. See `docs/profiling.md`.
//!
//! Why this does not change what the guest does: a kick exit is not a
//! kernel entry, and the sampler only reads guest memory and registers,
//! so in experiment mode, where guest time advances with kernel entries,
//! a profiled run gives the same IPC trace as an unprofiled one.
//!
//! What a sample holds: in user mode, the user stack. In kernel mode, the
//! kernel stack and, above it, the user stack of the process whose entry
//! the kernel serves: the kernel's trap stub keeps the user's RBP, so
//! the kernel chain ends in it, and the hardware's interrupt frame just
//! below the TSS's RSP0 holds the user RIP and RSP. A kernel halted in
//! its idle loop (the byte before RIP is `hlt`) is the "(idle)" process.

pub mod directory;
pub mod paging;
pub mod pprof;
pub mod report;
pub mod symbols;
pub mod unwind;

use abi::layout::{KIP_CODE, PAGE_SIZE, USER_BASE, USER_END};
use vm_memory::GuestMemoryMmap;

use paging::{read_virt_u64, read_virt_u8, PhysMemory};
use symbols::SymbolTable;

/// Default sampling rate (`--hz`).
pub const DEFAULT_HZ: u32 = 1000;
/// Most samples a run keeps (5 minutes at the default rate; a sample is
/// a few hundred bytes); later kicks are counted in [`Samples::dropped`].
pub const MAX_SAMPLES: usize = 300_000;
/// Name of the process a halted kernel is charged to.
pub const IDLE: &str = "(idle)";
/// Name for the kernel's own address space (boot, after an exit).
pub const KERNEL: &str = "(kernel)";

const HLT: u8 = 0xF4;
const KERNEL_RANGE: (u64, u64) = (PAGE_SIZE, USER_BASE);
const USER_RANGE: (u64, u64) = (USER_BASE, USER_END);
const CR3_ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

/// Where the vCPU was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In a program.
    User,
    /// In the kernel (serving the process, or between processes).
    Kernel,
    /// In the kernel's idle halt.
    Idle,
}

/// One sample, as taken: addresses, not names yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSample {
    /// The process (from the directory), [`IDLE`], [`KERNEL`] or
    /// "cr3 0x…" for an address space the directory does not list.
    pub process: String,
    /// Its endpoint, when the directory lists it.
    pub endpoint: Option<u32>,
    pub mode: Mode,
    /// Kernel frames, innermost first (empty in user mode).
    pub kernel: Vec<u64>,
    /// User frames, innermost first.
    pub user: Vec<u64>,
}

/// The samples of one run.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// The requested rate.
    pub hz: u32,
    pub samples: Vec<RawSample>,
    /// Kicks in which the registers could not be read.
    pub failed: u64,
    /// Samples not kept, past [`MAX_SAMPLES`].
    pub dropped: u64,
}

/// What the sampler reads of the vCPU's state.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuState {
    pub rip: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub cr3: u64,
    /// Current privilege level (CS's low bits).
    pub cpl: u8,
    /// Base of the TSS (its RSP0 is where user state is saved).
    pub tss_base: u64,
}

/// The vCPU thread's half of the profiler.
pub struct Sampler {
    mem: GuestMemoryMmap,
    /// Where the process directory is.
    directory: Option<directory::Directory>,
    kernel_root: Option<u64>,
    taken: Samples,
}

impl Sampler {
    /// A sampler for a run of `kernel_elf` in `mem` at `hz` samples/s.
    pub fn new(mem: &GuestMemoryMmap, kernel_elf: &[u8], hz: u32) -> Sampler {
        let directory = directory::Directory::find(kernel_elf);
        if directory.is_none() {
            log::warn!("profile: the kernel has no process directory; processes are named by their CR3");
        }
        let kernel_root = SymbolTable::symbol(kernel_elf, abi::profile::KERNEL_ROOT_SYMBOL).map(|s| s.0);
        Sampler { mem: mem.clone(), directory, kernel_root, taken: Samples { hz, ..Samples::default() } }
    }

    /// Takes a sample of `vcpu`, which a kick has just stopped.
    pub fn sample(&mut self, vcpu: &kvm_ioctls::VcpuFd) {
        let (Ok(regs), Ok(sregs)) = (vcpu.get_regs(), vcpu.get_sregs()) else {
            self.taken.failed += 1;
            return;
        };
        let cpu = CpuState {
            rip: regs.rip,
            rsp: regs.rsp,
            rbp: regs.rbp,
            cr3: sregs.cr3,
            cpl: (sregs.cs.selector & 3) as u8,
            tss_base: sregs.tr.base,
        };
        if self.taken.samples.len() < MAX_SAMPLES {
            let sample = take(&self.mem, cpu, |cr3| self.process(cr3));
            self.taken.samples.push(sample);
        } else {
            self.taken.dropped += 1;
        }
    }

    /// The samples taken.
    pub fn finish(self) -> Samples {
        self.taken
    }

    /// The name and endpoint of the process whose page-table root is `cr3`.
    fn process(&self, cr3: u64) -> (String, Option<u32>) {
        let root = cr3 & CR3_ADDRESS;
        if let Some(dir) = &self.directory {
            if let Some(e) = dir.entries(&self.mem).find(|e| root != 0 && e.root & CR3_ADDRESS == root) {
                return (e.name, Some(e.endpoint));
            }
        }
        // Root 0: the boot code before it loads the kernel's tables.
        if root == 0 || self.kernel_root == Some(root) {
            return (KERNEL.to_string(), None);
        }
        (format!("cr3 {root:#x}"), None)
    }
}

/// A return address the chain does not show yet: a vCPU stopped in the
/// KIP's entry stub (`int3; ret`, no frame of its own), at a function's
/// first instruction (`push rbp`) or at its `ret` returns to `[rsp]`;
/// one stopped at `mov rbp, rsp` (the caller's RBP just pushed) to
/// `[rsp + 8]`. In all these, RBP is still the caller's frame.
fn leaf_return(mem: &impl PhysMemory, cr3: u64, rip: u64, rsp: u64) -> Option<u64> {
    const PUSH_RBP: u8 = 0x55;
    const RET: u8 = 0xC3;
    const MOV_RBP_RSP: [u8; 3] = [0x48, 0x89, 0xE5];
    let byte = |i: u64| read_virt_u8(mem, cr3, rip.checked_add(i)?);
    let at = if rip & !(PAGE_SIZE - 1) == KIP_CODE || matches!(byte(0), Some(PUSH_RBP | RET)) {
        rsp
    } else if (0..3).map(byte).eq(MOV_RBP_RSP.map(Some)) {
        rsp.checked_add(8)?
    } else {
        return None;
    };
    read_virt_u64(mem, cr3, at)
}

/// The `u64` at the unaligned guest-virtual `va`.
fn read_unaligned(mem: &impl PhysMemory, cr3: u64, va: u64) -> Option<u64> {
    let mut bytes = [0u8; 8];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = read_virt_u8(mem, cr3, va.checked_add(i as u64)?)?;
    }
    Some(u64::from_le_bytes(bytes))
}

/// The sample of a vCPU in state `cpu`; `process` names an address space.
pub fn take(mem: &impl PhysMemory, cpu: CpuState, process: impl Fn(u64) -> (String, Option<u32>)) -> RawSample {
    let (mut name, endpoint) = process(cpu.cr3);
    if cpu.cpl == 3 {
        let first = leaf_return(mem, cpu.cr3, cpu.rip, cpu.rsp);
        let (user, _) = unwind::walk(mem, cpu.cr3, cpu.rip, cpu.rbp, first, USER_RANGE);
        return RawSample { process: name, endpoint, mode: Mode::User, kernel: Vec::new(), user };
    }
    let first = leaf_return(mem, cpu.cr3, cpu.rip, cpu.rsp);
    let (kernel, end) = unwind::walk(mem, cpu.cr3, cpu.rip, cpu.rbp, first, KERNEL_RANGE);
    let halted = cpu.rip.checked_sub(1).and_then(|at| read_virt_u8(mem, cpu.cr3, at)) == Some(HLT);
    if halted {
        name = IDLE.to_string();
        return RawSample { process: name, endpoint: None, mode: Mode::Idle, kernel, user: Vec::new() };
    }
    // The interrupt frame the CPU pushed below RSP0 at the entry: RIP,
    // CS, RFLAGS, RSP, SS.
    let user = read_unaligned(mem, cpu.cr3, cpu.tss_base.wrapping_add(4))
        .and_then(|rsp0| rsp0.checked_sub(40))
        .and_then(|frame| {
            let cs = read_virt_u64(mem, cpu.cr3, frame.wrapping_add(8))?;
            let rip = read_virt_u64(mem, cpu.cr3, frame)?;
            let rsp = read_virt_u64(mem, cpu.cr3, frame.wrapping_add(24))?;
            (cs & 3 == 3).then_some((rip, rsp))
        })
        .map(|(rip, rsp)| {
            let fp = end.left_range.filter(|fp| (USER_RANGE.0..USER_RANGE.1).contains(fp)).unwrap_or(0);
            unwind::walk(mem, cpu.cr3, rip, fp, leaf_return(mem, cpu.cr3, rip, rsp), USER_RANGE).0
        })
        .unwrap_or_default();
    RawSample { process: name, endpoint, mode: Mode::Kernel, kernel, user }
}

#[cfg(test)]
mod tests;
