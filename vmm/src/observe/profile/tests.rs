//! The sampler on synthetic guest memory: what a sample holds in user
//! mode, in kernel mode (with the user stack above), when idle, and with
//! garbage registers and stacks.

use super::paging::fake::FakeMemory;
use super::*;

const CR3: u64 = 0x1000;
/// Kernel stack page (identity-mapped) and the TSS.
const KSTACK: u64 = 0x20_0000;
const TSS: u64 = 0x30_0000;
/// User stack page (physical 0x80_0000) and the KIP code page.
const USTACK: u64 = 0x7FFE_0000;

fn memory() -> FakeMemory {
    let mut mem = FakeMemory::default();
    let mut tables = 0x100_0000;
    for page in [KSTACK, TSS, 0x10_0000] {
        mem.map(CR3, page, page, &mut tables);
    }
    mem.map(CR3, USTACK, 0x80_0000, &mut tables);
    mem.map(CR3, KIP_CODE, 0x90_0000, &mut tables);
    mem
}

fn named(_: u64) -> (String, Option<u32>) {
    ("sh".to_string(), Some(7))
}

#[test]
fn a_user_sample_walks_the_user_chain() {
    let mut mem = memory();
    mem.0.insert(0x80_0100, USTACK + 0x200);
    mem.0.insert(0x80_0108, 0x4000_1234);
    let cpu = CpuState { rip: 0x4000_0010, rsp: USTACK + 0xF0, rbp: USTACK + 0x100, cr3: CR3, cpl: 3, tss_base: 0 };
    let s = take(&mem, cpu, named);
    assert_eq!((s.mode, s.process.as_str(), s.endpoint), (Mode::User, "sh", Some(7)));
    assert_eq!(s.user[..2], [0x4000_0010, 0x4000_1234]);
    assert!(s.kernel.is_empty());
}

#[test]
fn a_kernel_sample_has_the_user_stack_above_it() {
    let mut mem = memory();
    // Kernel chain: one frame, whose saved RBP is the user's.
    mem.0.insert(KSTACK + 0x100, USTACK + 0x100);
    mem.0.insert(KSTACK + 0x108, 0x10_5555);
    // TSS RSP0 (at +4, unaligned) = 0x10_0100; the interrupt frame below.
    mem.0.insert(TSS, 0x0010_0100 << 32);
    mem.0.insert(TSS + 8, 0);
    let frame = 0x10_0100 - 40;
    mem.0.insert(frame, KIP_CODE + 1); // RIP: after the stub's int3
    mem.0.insert(frame + 8, 0x23); // CS, ring 3
    mem.0.insert(frame + 24, USTACK + 0x80); // RSP
    mem.0.insert(0x80_0080, 0x4000_0999); // the stub's return address
    mem.0.insert(0x80_0100, 0);
    mem.0.insert(0x80_0108, 0x4000_1234);
    let cpu = CpuState { rip: 0x10_0042, rsp: KSTACK + 0xF0, rbp: KSTACK + 0x100, cr3: CR3, cpl: 0, tss_base: TSS };
    let s = take(&mem, cpu, named);
    assert_eq!(s.mode, Mode::Kernel);
    assert_eq!(s.kernel, vec![0x10_0042, 0x10_5555]);
    assert_eq!(s.user, vec![KIP_CODE + 1, 0x4000_0999, 0x4000_1234]);
}

#[test]
fn a_halted_kernel_is_idle() {
    let mut mem = memory();
    mem.0.insert(0x10_0040, (HLT as u64) << 8); // hlt at 0x10_0041
    let cpu = CpuState { rip: 0x10_0042, rsp: 0, rbp: 0, cr3: CR3, cpl: 0, tss_base: TSS };
    let s = take(&mem, cpu, named);
    assert_eq!((s.mode, s.process.as_str()), (Mode::Idle, IDLE));
    assert!(s.user.is_empty());
}

#[test]
fn garbage_state_gives_short_samples() {
    let mem = memory();
    for (rip, rbp, rsp, cr3, tss) in [
        (0, 0, 0, 0, 0),
        (u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX),
        (0x8000_0000_0000_0000, 0x8000_0000_0000_0000, 3, CR3, u64::MAX - 2),
        (KIP_CODE, KSTACK + 0x100, u64::MAX, CR3, TSS),
    ] {
        for cpl in [0, 3] {
            let s = take(&mem, CpuState { rip, rsp, rbp, cr3, cpl, tss_base: tss }, named);
            assert!(s.kernel.len() + s.user.len() <= 2 * unwind::MAX_DEPTH + 2);
        }
    }
}

#[test]
fn a_function_stopped_in_its_prologue_or_at_ret_keeps_its_caller() {
    let mut mem = memory();
    // Kernel code at 0x10_0000: push rbp; mov rbp, rsp; ...; ret at +0x10.
    mem.0.insert(0x10_0000, 0xE5_89_48_55);
    mem.0.insert(0x10_0010, 0xC3);
    // The stack: [rsp] = 0x10_0777 (a return address, or at +1 the saved
    // RBP), [rsp + 8] = 0x10_0888.
    mem.0.insert(KSTACK + 0x80, 0x10_0777);
    mem.0.insert(KSTACK + 0x88, 0x10_0888);
    let at = |rip| CpuState { rip, rsp: KSTACK + 0x80, rbp: 0, cr3: CR3, cpl: 0, tss_base: 0 };
    assert_eq!(take(&mem, at(0x10_0000), named).kernel, vec![0x10_0000, 0x10_0777]);
    assert_eq!(take(&mem, at(0x10_0001), named).kernel, vec![0x10_0001, 0x10_0888]);
    assert_eq!(take(&mem, at(0x10_0010), named).kernel, vec![0x10_0010, 0x10_0777]);
    // Elsewhere in the body, only the chain counts.
    assert_eq!(take(&mem, at(0x10_0004), named).kernel, vec![0x10_0004]);
}
