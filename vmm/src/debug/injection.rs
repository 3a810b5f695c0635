//! What `--break-at-injection` shows when a SWIFI experiment stops after
//! its mutation: where the code was changed (program, thread, address,
//! function), its bytes before and after, and both instructions
//! disassembled.
//!
//! Why here and from guest memory: the mutation record
//! (`crate::inject::swifi::Mutation`) has the changed bytes only (for
//! TEXT, a single byte inside some instruction); the instruction they
//! belong to is decoded from the target's code as it is in memory, read
//! through the target's page tables, with the old bytes put back for
//! the original. For TEXT the instruction holding the byte is found by
//! decoding the function from its start.

use std::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction};
use vm_memory::GuestMemoryMmap;

use super::threads::Process;
use crate::inject::swifi::{hex, FaultType, Mutation};
use crate::observe::profile::paging::read_virt_u8;

/// The longest x86 instruction.
const MAX_INSN: u64 = 15;
/// Most bytes decoded from a function's start to find a TEXT byte's
/// instruction (functions are far shorter; a lying offset stops here).
const MAX_WALK: u64 = 64 * 1024;

/// The mutation `m` described for gdb's user, over several lines: the
/// first says where, the next ones what the instruction was and became.
/// `processes` names the target's thread.
pub fn describe(mem: &GuestMemoryMmap, processes: &[Process], m: &Mutation) -> String {
    let mut s = String::new();
    let thread = processes
        .iter()
        .find(|p| p.root == m.cr3 & super::threads::ROOT_MASK && p.endpoint == m.endpoint)
        .map(|p| format!(", thread 1.{}", p.tid))
        .unwrap_or_default();
    let _ = writeln!(s, "swifi rule {}: {}", m.rule, m.describe());
    if m.error.is_some() {
        return s;
    }
    let function = match (&m.function, m.function_offset) {
        (Some(f), Some(o)) => format!("{f}+{o:#x}"),
        _ => "no function known".into(),
    };
    let _ = writeln!(
        s,
        "  in {} (endpoint {}{thread}) at {:#x} ({function}): {}",
        m.program,
        m.endpoint,
        m.address,
        m.kind.name()
    );
    let Some(start) = instruction_start(mem, m) else {
        let _ = writeln!(s, "  (the code around {:#x} is not mapped in its address space)", m.address);
        return s;
    };
    let window = |original: bool| -> Vec<u8> {
        (start..start + 2 * MAX_INSN)
            .map_while(|va| {
                let i = va.wrapping_sub(m.address) as usize;
                match (original, va >= m.address && i < m.before.len()) {
                    (true, true) => Some(m.before[i]),
                    _ => read_virt_u8(mem, m.cr3, va),
                }
            })
            .collect()
    };
    let (before, after) = (window(true), window(false));
    let original = decode(&before, start, 1);
    let covered = m.address + m.after.len() as u64;
    let end = original.first().map_or(covered, |i| i.next_ip().max(covered));
    let _ = writeln!(s, "  before: {}", listing(&before, start, &original));
    let mutated = decode_until(&after, start, end);
    let _ = writeln!(s, "  after:  {}", listing(&after, start, &mutated));
    s
}

/// The address of the instruction that holds the mutated bytes: the
/// mutation's address, except for TEXT, whose byte may lie inside an
/// instruction (found by decoding its function from the start).
fn instruction_start(mem: &GuestMemoryMmap, m: &Mutation) -> Option<u64> {
    read_virt_u8(mem, m.cr3, m.address)?;
    let (FaultType::Text, Some(offset)) = (m.kind, m.function_offset) else { return Some(m.address) };
    if offset > MAX_WALK {
        return Some(m.address);
    }
    let from = m.address - offset;
    let code: Vec<u8> = (from..m.address + MAX_INSN)
        .map_while(|va| match va == m.address {
            true => m.before.first().copied(),
            false => read_virt_u8(mem, m.cr3, va),
        })
        .collect();
    let mut decoder = Decoder::with_ip(64, &code, from, DecoderOptions::NONE);
    while decoder.can_decode() {
        let insn = decoder.decode();
        if insn.is_invalid() {
            break;
        }
        if (insn.ip()..insn.next_ip()).contains(&m.address) {
            return Some(insn.ip());
        }
    }
    Some(m.address)
}

/// Up to `count` instructions of `bytes` (at `ip`).
fn decode(bytes: &[u8], ip: u64, count: usize) -> Vec<Instruction> {
    Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE).into_iter().take(count).collect()
}

/// The instructions of `bytes` (at `ip`) up to the one that reaches `end`.
fn decode_until(bytes: &[u8], ip: u64, end: u64) -> Vec<Instruction> {
    let mut out = Vec::new();
    for insn in Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE) {
        let next = insn.next_ip();
        out.push(insn);
        if next >= end || insn.is_invalid() {
            break;
        }
    }
    out
}

/// `insns` as "BYTES  TEXT; TEXT", in gdb's (AT&T) syntax.
fn listing(bytes: &[u8], ip: u64, insns: &[Instruction]) -> String {
    let mut formatter = GasFormatter::new();
    // As gdb writes them: 0x8(%rsp), not 8(%rsp); lower-case hex.
    formatter.options_mut().set_small_hex_numbers_in_decimal(false);
    formatter.options_mut().set_uppercase_hex(false);
    let mut text = Vec::new();
    for insn in insns {
        let mut one = String::new();
        match insn.is_invalid() {
            true => one.push_str("(bad)"),
            false => formatter.format(insn, &mut one),
        }
        text.push(one);
    }
    let len = insns.last().map_or(0, |i| (i.next_ip() - ip) as usize).min(bytes.len());
    format!("{}    {}", hex(&bytes[..len]), text.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::swifi::Scope;
    use vm_memory::{Bytes, GuestAddress};

    /// One user page at 0x4000_0000 mapped to 0x20_0000 by tables at 0x1000.
    fn memory(code: &[u8]) -> (GuestMemoryMmap, u64) {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let (pml4, pdpt, pd, pt, page) = (0x1000u64, 0x2000u64, 0x3000u64, 0x4000u64, 0x20_0000u64);
        let va = 0x4000_0000u64;
        mem.write_obj(pdpt | 7, GuestAddress(pml4 + ((va >> 39) & 511) * 8)).unwrap();
        mem.write_obj(pd | 7, GuestAddress(pdpt + ((va >> 30) & 511) * 8)).unwrap();
        mem.write_obj(pt | 7, GuestAddress(pd + ((va >> 21) & 511) * 8)).unwrap();
        mem.write_obj(page | 5, GuestAddress(pt + ((va >> 12) & 511) * 8)).unwrap();
        mem.write_slice(code, GuestAddress(page)).unwrap();
        (mem, pml4)
    }

    fn mutation(kind: FaultType, cr3: u64, address: u64, before: &[u8], after: &[u8], offset: u64) -> Mutation {
        Mutation {
            kind,
            rule: 0,
            program: "blk".into(),
            endpoint: 9,
            cr3,
            address,
            before: before.to_vec(),
            after: after.to_vec(),
            function: Some("blk::f".into()),
            function_offset: Some(offset),
            scope: Scope::Functions,
            private_pages: 1,
            note: String::new(),
            error: None,
            final_bytes: after.to_vec(),
        }
    }

    #[test]
    fn a_nop_mutation_shows_the_original_and_the_nops() {
        // push rbp; mov 0x8(%rsp),%rax (mutated to nops); ret
        let (mem, cr3) = memory(&[0x55, 0x90, 0x90, 0x90, 0x90, 0x90, 0xC3]);
        let before = [0x48, 0x8B, 0x44, 0x24, 0x08];
        let m = mutation(FaultType::Nop, cr3, 0x4000_0001, &before, &[0x90; 5], 1);
        let procs = [Process { tid: 10, root: cr3, endpoint: 9, name: "blk".into(), frame: None }];
        let text = describe(&mem, &procs, &m);
        assert!(text.contains("in blk (endpoint 9, thread 1.10) at 0x40000001 (blk::f+0x1)"), "{text}");
        assert!(text.contains("before: 48 8b 44 24 08    mov 0x8(%rsp),%rax\n"), "{text}");
        assert!(text.contains("after:  90 90 90 90 90    nop; nop; nop; nop; nop\n"), "{text}");
    }

    #[test]
    fn a_text_flip_inside_an_instruction_shows_the_whole_instruction() {
        // push rbp; mov 0x8(%rsp),%rax with its displacement 0x08 -> 0x09.
        let (mem, cr3) = memory(&[0x55, 0x48, 0x8B, 0x44, 0x24, 0x09, 0xC3]);
        let m = mutation(FaultType::Text, cr3, 0x4000_0005, &[0x08], &[0x09], 5);
        let text = describe(&mem, &[], &m);
        assert!(text.contains("before: 48 8b 44 24 08    mov 0x8(%rsp),%rax\n"), "{text}");
        assert!(text.contains("after:  48 8b 44 24 09    mov 0x9(%rsp),%rax\n"), "{text}");
    }
}
