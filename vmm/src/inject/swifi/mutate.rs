//! The code mutations of each SWIFI fault type, on a decoded copy of a
//! process's code.
//!
//! Why exact, documented byte changes: a campaign must be able to say
//! which instruction became what, and a test must be able to check it. So
//! each type changes bytes in one documented way:
//!
//! | type | candidates | change |
//! |---|---|---|
//! | TEXT | every byte of code | one bit of it flipped |
//! | NOP | every decodable instruction | all its bytes become `0x90` |
//! | SRC | legacy-encoded instructions whose 2nd operand is a general register or that have an immediate | the register replaced by another of the same size (re-encoded, same length), or one bit of the immediate flipped |
//! | DST | legacy-encoded instructions (not CMP/TEST/BT) with ≥ 2 operands whose 1st is a general register | that register replaced by another of the same size (same length) |
//! | PTR | legacy-encoded instructions with a memory operand | one bit flipped among ModRM's `mod` and `rm` bits (0–2, 6–7), the SIB byte and the displacement |
//! | INTERFACE | `mov`/`movzx`/`movsx`/`movsxd` of a general register from a stack slot (`[rsp+d]`, `[rbp+d]`) or from an argument register (rdi, rsi, rdx, rcx, r8, r9) | all its bytes become `0x90` |
//! | LOOP | conditional jumps (short, near), and string instructions with `rep`/`repe`/`repne` | the condition inverted (low bit of the Jcc opcode), or `F3` ↔ `F2` |
//!
//! Candidates lie inside the spans the caller gives (the target's
//! functions, from its ELF: `super::code_map`), each decoded from its
//! start, so padding between and after functions is never mutated and
//! decoding never runs on from data into code. The candidate is drawn
//! from the seeded PRNG; when a candidate cannot be mutated (no
//! same-length re-encoding), the next one in code order is tried, so a
//! draw always gives the same mutation for the same code.

use iced_x86::{
    Code as IcedCode, Decoder, DecoderOptions, Encoder, EncodingKind, Instruction, Mnemonic, OpKind, Register,
};
use serde::{Deserialize, Serialize};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::code_map::Span;
use super::{CodePage, SwifiError};
use abi::layout::PAGE_SIZE;

/// The MINIX 3 SWIFI fault types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultType {
    Text,
    Nop,
    Src,
    Dst,
    Ptr,
    Interface,
    Loop,
}

impl FaultType {
    /// Every type.
    pub const ALL: [FaultType; 7] = [
        FaultType::Text,
        FaultType::Nop,
        FaultType::Src,
        FaultType::Dst,
        FaultType::Ptr,
        FaultType::Interface,
        FaultType::Loop,
    ];

    /// The type called `name` in campaign files.
    pub fn by_name(name: &str) -> Option<FaultType> {
        FaultType::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Its name in campaign files and reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultType::Text => "text",
            FaultType::Nop => "nop",
            FaultType::Src => "src",
            FaultType::Dst => "dst",
            FaultType::Ptr => "ptr",
            FaultType::Interface => "interface",
            FaultType::Loop => "loop",
        }
    }
}

/// A run of virtually contiguous code pages, copied out.
#[derive(Debug, Clone)]
pub struct Run {
    /// Guest-virtual start.
    pub start: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Guest-physical frame of each page.
    pub frames: Vec<u64>,
}

/// A process's code, as runs of pages.
#[derive(Debug, Clone, Default)]
pub struct Code {
    pub runs: Vec<Run>,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub address: u64,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub note: String,
    /// The function hit and the offset of `address` in it, when the
    /// span was a named function.
    pub function: Option<(String, u64)>,
}

/// The bytes of one span that the code holds (a span is cut where a page
/// is missing).
struct Piece<'a> {
    start: u64,
    bytes: &'a [u8],
    span: usize,
}

impl Code {
    /// Copies `pages` (in address order) out of guest memory.
    pub fn read(mem: &GuestMemoryMmap, pages: &[CodePage]) -> Code {
        let mut runs: Vec<Run> = Vec::new();
        for p in pages {
            let mut page = vec![0u8; PAGE_SIZE as usize];
            if mem.read_slice(&mut page, GuestAddress(p.phys)).is_err() {
                continue;
            }
            match runs.last_mut() {
                Some(r) if r.start + r.bytes.len() as u64 == p.virt => {
                    r.bytes.extend_from_slice(&page);
                    r.frames.push(p.phys);
                }
                _ => runs.push(Run { start: p.virt, bytes: page, frames: vec![p.phys] }),
            }
        }
        Code { runs }
    }

    /// Every run as one unnamed span (the page walk's code, for a target
    /// without a usable ELF).
    pub fn page_spans(&self) -> Vec<Span> {
        self.runs.iter().map(|r| Span { start: r.start, end: r.start + r.bytes.len() as u64, name: None }).collect()
    }

    fn run_at(&self, va: u64) -> Option<&Run> {
        self.runs.iter().find(|r| va >= r.start && va < r.start + r.bytes.len() as u64)
    }

    /// The byte at virtual `va`.
    pub fn byte(&self, va: u64) -> Option<u8> {
        let r = self.run_at(va)?;
        Some(r.bytes[(va - r.start) as usize])
    }

    fn pieces(&self, spans: &[Span]) -> Vec<Piece<'_>> {
        let mut out = Vec::new();
        for (i, span) in spans.iter().enumerate() {
            for r in &self.runs {
                let (start, end) = (span.start.max(r.start), span.end.min(r.start + r.bytes.len() as u64));
                if start < end {
                    let bytes = &r.bytes[(start - r.start) as usize..(end - r.start) as usize];
                    out.push(Piece { start, bytes, span: i });
                }
            }
        }
        out
    }

    /// The guest-physical address of virtual `va`.
    pub fn phys(&self, va: u64) -> Option<u64> {
        let r = self.run_at(va)?;
        let off = va - r.start;
        Some(r.frames[(off / PAGE_SIZE) as usize] + off % PAGE_SIZE)
    }

    /// Writes `bytes` at virtual `va`, byte by byte through the physical
    /// frames (an instruction may straddle two pages).
    pub fn write(&self, mem: &GuestMemoryMmap, va: u64, bytes: &[u8]) -> Result<(), SwifiError> {
        for (i, &b) in bytes.iter().enumerate() {
            let pa = self.phys(va + i as u64).ok_or(SwifiError::NotCode(va + i as u64))?;
            mem.write_obj(b, GuestAddress(pa)).map_err(SwifiError::Memory)?;
        }
        Ok(())
    }
}

/// A decoded instruction and where its bytes are.
struct Decoded {
    ins: Instruction,
    bytes: Vec<u8>,
    displacement: Option<(usize, usize)>,
    immediate: Option<(usize, usize)>,
    /// Index of the span it lies in.
    span: usize,
}

/// Decodes `pieces` in order and calls `each` with the index of every
/// candidate for `kind` (counting from 0) and the candidate, until `each`
/// returns `Some`. Nothing is kept between instructions: the code may be
/// tens of MiB (a program from the disk), and keeping every decoded
/// instruction cost about 150 bytes each.
fn find_candidate<T>(
    pieces: &[Piece],
    kind: FaultType,
    mut each: impl FnMut(usize, &Decoded) -> Option<T>,
) -> (usize, Option<T>) {
    let mut index = 0;
    for piece in pieces {
        let mut decoder = Decoder::with_ip(64, piece.bytes, piece.start, DecoderOptions::NONE);
        while decoder.can_decode() {
            let ins = decoder.decode();
            if ins.code() == IcedCode::INVALID {
                continue;
            }
            let co = decoder.get_constant_offsets(&ins);
            let off = (ins.ip() - piece.start) as usize;
            let d = Decoded {
                span: piece.span,
                bytes: piece.bytes[off..off + ins.len()].to_vec(),
                displacement: co.has_displacement().then(|| (co.displacement_offset(), co.displacement_size())),
                immediate: co.has_immediate().then(|| (co.immediate_offset(), co.immediate_size())),
                ins,
            };
            if is_candidate(kind, &d) {
                if let Some(found) = each(index, &d) {
                    return (index, Some(found));
                }
                index += 1;
            }
        }
    }
    (index, None)
}

const ARG_REGISTERS: [Register; 6] =
    [Register::RDI, Register::RSI, Register::RDX, Register::RCX, Register::R8, Register::R9];

fn gprs_like(r: Register) -> Vec<Register> {
    let all: Vec<Register> = match r.size() {
        8 => (Register::RAX as u32..=Register::R15 as u32).map(reg).collect(),
        4 => (Register::EAX as u32..=Register::R15D as u32).map(reg).collect(),
        2 => (Register::AX as u32..=Register::R15W as u32).map(reg).collect(),
        _ => [Register::AL, Register::CL, Register::DL, Register::BL]
            .into_iter()
            .chain((Register::SPL as u32..=Register::R15L as u32).map(reg))
            .collect(),
    };
    all.into_iter().filter(|&x| x != r).collect()
}

fn reg(n: u32) -> Register {
    Register::values().nth(n as usize).unwrap_or(Register::None)
}

fn is_string(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Movsb
            | Movsw
            | Movsd
            | Movsq
            | Stosb
            | Stosw
            | Stosd
            | Stosq
            | Cmpsb
            | Cmpsw
            | Cmpsd
            | Cmpsq
            | Scasb
            | Scasw
            | Scasd
            | Scasq
            | Lodsb
            | Lodsw
            | Lodsd
            | Lodsq
    )
}

fn is_candidate(kind: FaultType, d: &Decoded) -> bool {
    let ins = &d.ins;
    if d.bytes.iter().all(|&b| b == 0) {
        // Zero padding after the code decodes as `add [rax], al`: not code.
        return false;
    }
    let legacy = ins.encoding() == EncodingKind::Legacy;
    let gpr = |i: u32| ins.op_count() > i && ins.op_kind(i) == OpKind::Register && ins.op_register(i).is_gpr();
    match kind {
        FaultType::Text => false,
        FaultType::Nop => true,
        FaultType::Src => legacy && ins.op_count() >= 2 && (gpr(1) || d.immediate.is_some()),
        FaultType::Dst => {
            legacy
                && ins.op_count() >= 2
                && gpr(0)
                && !matches!(ins.mnemonic(), Mnemonic::Cmp | Mnemonic::Test | Mnemonic::Bt)
        }
        FaultType::Ptr => {
            legacy && (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory) && modrm_at(d).is_some()
        }
        FaultType::Interface => {
            let load = matches!(ins.mnemonic(), Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd);
            let from_stack = ins.op_count() == 2
                && ins.op_kind(1) == OpKind::Memory
                && matches!(ins.memory_base(), Register::RSP | Register::RBP)
                && ins.memory_index() == Register::None;
            let from_arg = gpr(1) && ARG_REGISTERS.contains(&ins.op_register(1).full_register());
            load && gpr(0) && (from_stack || from_arg)
        }
        FaultType::Loop => jcc_opcode(d).is_some() || (is_string(ins.mnemonic()) && rep_prefix(d).is_some()),
    }
}

/// Index of the ModRM byte (and whether a SIB follows) of a legacy
/// instruction with a memory operand.
fn modrm_at(d: &Decoded) -> Option<(usize, bool)> {
    let ins = &d.ins;
    let end = match (d.displacement, d.immediate) {
        (Some((o, _)), _) => o,
        (None, Some((o, _))) => o,
        (None, None) => ins.len(),
    };
    let base = ins.memory_base();
    let sib = !ins.is_ip_rel_memory_operand()
        && (ins.memory_index() != Register::None
            || base == Register::None
            || matches!(base.full_register(), Register::RSP | Register::R12));
    let at = end.checked_sub(1 + sib as usize)?;
    let modrm = *d.bytes.get(at)?;
    (modrm >> 6 != 3).then_some((at, sib))
}

/// Index of the condition-carrying opcode byte of a Jcc.
fn jcc_opcode(d: &Decoded) -> Option<usize> {
    let b = &d.bytes;
    let n = b.len();
    if d.ins.condition_code() == iced_x86::ConditionCode::None || !d.ins.is_jcc_short_or_near() {
        return None;
    }
    if n >= 2 && (0x70..=0x7F).contains(&b[n - 2]) {
        return Some(n - 2);
    }
    if n >= 6 && b[n - 6] == 0x0F && (0x80..=0x8F).contains(&b[n - 5]) {
        return Some(n - 5);
    }
    None
}

/// Index of an `F3`/`F2` prefix byte.
fn rep_prefix(d: &Decoded) -> Option<usize> {
    let prefixes = [0xF0, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0x66, 0x67];
    d.bytes
        .iter()
        .take_while(|b| prefixes.contains(b) || (0x40..=0x4F).contains(*b))
        .position(|&b| b == 0xF3 || b == 0xF2)
}

fn reencode(ins: &Instruction, operand: u32, reg: Register) -> Option<Vec<u8>> {
    let mut changed = *ins;
    changed.set_op_register(operand, reg);
    let mut enc = Encoder::new(64);
    let len = enc.encode(&changed, ins.ip()).ok()?;
    (len == ins.len()).then(|| enc.take_buffer())
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// An index below `n` from the 32-bit draw `r` (multiply and shift: no
/// modulo bias worth the name, and the same on every host).
fn pick(n: usize, r: u32) -> usize {
    ((u64::from(r) * n as u64) >> 32) as usize
}

/// The mutation of one candidate, or `None` if it has none.
fn mutate_one(kind: FaultType, d: &Decoded, draw: &mut dyn FnMut() -> u32) -> Option<(Vec<u8>, String)> {
    let ins = &d.ins;
    match kind {
        FaultType::Nop | FaultType::Interface => {
            Some((vec![0x90; d.bytes.len()], format!("{:?} ({} bytes) replaced by NOPs", ins.mnemonic(), ins.len())))
        }
        FaultType::Src | FaultType::Dst => {
            let operand = if kind == FaultType::Dst { 0 } else { 1 };
            if ins.op_kind(operand) == OpKind::Register && ins.op_register(operand).is_gpr() {
                let old = ins.op_register(operand);
                let others = gprs_like(old);
                let first = pick(others.len(), draw());
                (0..others.len()).find_map(|i| {
                    let new = others[(first + i) % others.len()];
                    reencode(ins, operand, new)
                        .map(|b| (b, format!("{:?}: operand {operand} {old:?} -> {new:?}", ins.mnemonic())))
                })
            } else {
                let (at, size) = d.immediate?;
                let bit = pick(size * 8, draw());
                let mut after = d.bytes.clone();
                after[at + bit / 8] ^= 1 << (bit % 8);
                Some((after, format!("{:?}: immediate bit {bit} flipped", ins.mnemonic())))
            }
        }
        FaultType::Ptr => {
            let (modrm, sib) = modrm_at(d)?;
            // Bit positions (byte index, bit) in ModRM mod/rm, SIB, displacement.
            let mut bits: Vec<(usize, u8)> = [0u8, 1, 2, 6, 7].iter().map(|&b| (modrm, b)).collect();
            if sib {
                bits.extend((0..8).map(|b| (modrm + 1, b)));
            }
            if let Some((o, s)) = d.displacement {
                bits.extend((o..o + s).flat_map(|i| (0..8).map(move |b| (i, b))));
            }
            let (i, b) = bits[pick(bits.len(), draw())];
            let mut after = d.bytes.clone();
            after[i] ^= 1 << b;
            Some((after, format!("{:?}: address byte {i} bit {b} flipped", ins.mnemonic())))
        }
        FaultType::Loop => {
            let mut after = d.bytes.clone();
            if let Some(at) = jcc_opcode(d) {
                after[at] ^= 1;
                let mut inverted = *ins;
                inverted.negate_condition_code();
                Some((after, format!("{:?} -> {:?}", ins.mnemonic(), inverted.mnemonic())))
            } else {
                let at = rep_prefix(d)?;
                after[at] = if after[at] == 0xF3 { 0xF2 } else { 0xF3 };
                let note = format!("{:?}: prefix {:#x} -> {:#x}", ins.mnemonic(), d.bytes[at], after[at]);
                Some((after, note))
            }
        }
        FaultType::Text => None,
    }
}

/// The function of span `span` holding `address`, with the offset.
fn function_at(spans: &[Span], span: usize, address: u64) -> Option<(String, u64)> {
    let s = &spans[span];
    s.name.clone().map(|name| (name, address - s.start))
}

/// Plans the mutation of `kind` in the parts of `code` inside `spans`
/// (disjoint, in address order) with draws from `draw`.
pub fn apply(
    code: &Code,
    spans: &[Span],
    kind: FaultType,
    draw: &mut dyn FnMut() -> u32,
) -> Result<Change, SwifiError> {
    let pieces = code.pieces(spans);
    if pieces.is_empty() {
        return Err(SwifiError::NoCodePages);
    }
    if kind == FaultType::Text {
        let bytes: usize = pieces.iter().map(|p| p.bytes.len()).sum();
        let mut at = pick(bytes, draw());
        let bit = pick(8, draw());
        let piece = pieces
            .iter()
            .find(|p| {
                let here = at < p.bytes.len();
                if !here {
                    at -= p.bytes.len();
                }
                here
            })
            .expect("the byte index is below the number of bytes");
        let address = piece.start + at as u64;
        let before = vec![piece.bytes[at]];
        let after = flip(&before, bit);
        let note = format!("bit {bit} of the byte at {address:#x} flipped");
        let function = function_at(spans, piece.span, address);
        return Ok(Change { address, before, after, note, function });
    }
    // Count the candidates, draw the first to try, then try them in order
    // from there, wrapping around: the draws are those of a list of all
    // candidates, without keeping one.
    let (count, _) = find_candidate(&pieces, kind, |_, _| None::<()>);
    if count == 0 {
        return Err(SwifiError::NoCandidate(kind.name()));
    }
    let first = pick(count, draw());
    let mut try_one = |d: &Decoded| {
        mutate_one(kind, d, draw).map(|(after, note)| {
            let address = d.ins.ip();
            let function = function_at(spans, d.span, address);
            Change { address, before: d.bytes.clone(), after, note, function }
        })
    };
    let (_, found) = find_candidate(&pieces, kind, |i, d| if i >= first { try_one(d) } else { None });
    let found = found.or_else(|| find_candidate(&pieces, kind, |i, d| if i < first { try_one(d) } else { None }).1);
    found.ok_or(SwifiError::NotMutated(kind.name()))
}

/// Decodes `bytes` at `ip` (one instruction): for checking mutations.
pub fn decode_one(bytes: &[u8], ip: u64) -> Instruction {
    Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE).decode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(bytes: &[u8]) -> Code {
        let mut page = bytes.to_vec();
        page.resize(PAGE_SIZE as usize, 0xCC);
        Code { runs: vec![Run { start: 0x4000_0000, bytes: page, frames: vec![0x10_0000] }] }
    }

    fn draws(seed: u64) -> impl FnMut() -> u32 {
        let mut s = seed;
        move || {
            let (n, d) = abi::fault::next_random(s);
            s = n;
            d
        }
    }

    // mov rax, [rsp+8]; add ecx, edx; jne +2; rep movsb; mov rbx, rdi; mov eax, 5
    const SAMPLE: &[u8] =
        &[0x48, 0x8B, 0x44, 0x24, 0x08, 0x01, 0xD1, 0x75, 0x02, 0xF3, 0xA4, 0x48, 0x89, 0xFB, 0xB8, 0x05, 0, 0, 0];

    #[test]
    fn each_type_changes_what_it_documents_and_is_deterministic() {
        let code = code_of(SAMPLE);
        for kind in FaultType::ALL {
            let a = apply(&code, &code.page_spans(), kind, &mut draws(7)).unwrap();
            let b = apply(&code, &code.page_spans(), kind, &mut draws(7)).unwrap();
            assert_eq!(a, b, "{kind:?}");
            assert_ne!(a.before, a.after, "{kind:?}");
            assert_eq!(a.before.len(), a.after.len(), "{kind:?}");
            let old = decode_one(&a.before, a.address);
            let new = decode_one(&a.after, a.address);
            match kind {
                FaultType::Nop | FaultType::Interface => assert!(a.after.iter().all(|&b| b == 0x90)),
                FaultType::Loop => {
                    if old.is_jcc_short_or_near() {
                        let mut want = old;
                        want.negate_condition_code();
                        assert_eq!(new.mnemonic(), want.mnemonic());
                    } else {
                        assert_eq!(old.mnemonic(), Mnemonic::Movsb);
                        assert!(new.has_repne_prefix());
                    }
                }
                FaultType::Dst | FaultType::Src if new.len() == old.len() && old.op_kind(0) == OpKind::Register => {
                    assert_eq!(new.mnemonic(), old.mnemonic(), "{kind:?}");
                }
                _ => {
                    let diff: u32 = a.before.iter().zip(&a.after).map(|(x, y)| (x ^ y).count_ones()).sum();
                    assert!(diff >= 1, "{kind:?}");
                }
            }
        }
        let i = apply(&code, &code.page_spans(), FaultType::Interface, &mut draws(1)).unwrap();
        assert!(i.address == 0x4000_0000 || i.address == 0x4000_000B, "{i:?}");
    }

    #[test]
    fn mutations_stay_inside_the_spans_and_name_their_function() {
        // int3 padding, f, zero padding, g, int3 padding to the page's end.
        let mut bytes = vec![0xCC; 0x10];
        bytes.extend_from_slice(SAMPLE);
        bytes.resize(0x40, 0);
        bytes.extend_from_slice(SAMPLE);
        let code = code_of(&bytes);
        let len = SAMPLE.len() as u64;
        let span = |start: u64, name: &str| Span { start, end: start + len, name: Some(name.into()) };
        let spans = [span(0x4000_0010, "f"), span(0x4000_0040, "g")];
        for kind in FaultType::ALL {
            for seed in 1..60 {
                let c = apply(&code, &spans, kind, &mut draws(seed)).unwrap();
                let s = spans.iter().find(|s| c.address >= s.start && c.address < s.end).expect("inside a span");
                assert!(c.address + c.before.len() as u64 <= s.end, "{kind:?} {c:?}");
                assert_eq!(c.function, Some((s.name.clone().unwrap(), c.address - s.start)), "{kind:?}");
                assert_eq!(code.byte(c.address), Some(c.before[0]));
            }
        }
        // The whole page: NOP lands in the padding for some draws.
        let in_padding = (1..60).filter(|&seed| {
            let c = apply(&code, &code.page_spans(), FaultType::Nop, &mut draws(seed)).unwrap();
            !spans.iter().any(|s| c.address >= s.start && c.address < s.end)
        });
        assert!(in_padding.count() > 30);
        // A span beyond the code is cut to it; no span, no code.
        let past = [Span { start: 0x4000_0FF0, end: 0x4000_2000, name: None }];
        let c = apply(&code, &past, FaultType::Text, &mut draws(3)).unwrap();
        assert!((0x4000_0FF0..0x4000_1000).contains(&c.address) && c.function.is_none(), "{c:?}");
        assert!(apply(&code, &[], FaultType::Nop, &mut draws(3)).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Arbitrary code bytes and spans (the code of a mutated or hostile
        /// program): every fault type plans a change inside the spans, with
        /// the bytes that are there, or says why not; it never panics.
        #[test]
        fn arbitrary_code_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..600),
            cuts in proptest::collection::vec((0u64..700, 0u64..700), 0..4),
            kind in 0usize..FaultType::ALL.len(),
            seed in 1u64..u64::MAX,
        ) {
            let code = code_of(&bytes);
            let base = 0x4000_0000;
            let mut spans: Vec<Span> = cuts
                .iter()
                .map(|&(a, b)| Span { start: base + a.min(b), end: base + a.max(b), name: Some("f".into()) })
                .collect();
            spans.sort_by_key(|s| s.start);
            let mut end = 0;
            spans.retain(|s| {
                let keep = s.start >= end;
                if keep {
                    end = s.end;
                }
                keep
            });
            if let Ok(c) = apply(&code, &spans, FaultType::ALL[kind], &mut draws(seed)) {
                proptest::prop_assert!(spans.iter().any(|s| (s.start..s.end).contains(&c.address)));
                let at = (c.address - base) as usize;
                proptest::prop_assert_eq!(&code.runs[0].bytes[at..at + c.before.len()], &c.before[..]);
            }
        }
    }
}
