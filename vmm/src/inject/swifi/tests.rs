//! SWIFI against a hostile kernel: page tables and Stop mailboxes with
//! arbitrary contents never make the host copy or decode without bound,
//! or panic.

use proptest::prelude::*;

use super::*;

const MEM: usize = 16 << 20;
const PLAN: u64 = 8 << 20;
const PML4: u64 = 0x10_0000;
const PDPT: u64 = 0x10_1000;
const PD: u64 = 0x10_2000;
const PT: u64 = 0x10_3000;
const CODE: u64 = 0x20_0000;

fn memory() -> GuestMemoryMmap {
    crate::vstate::memory::create(MEM as u64).unwrap()
}

/// Tables mapping every page of user space to one code frame (one page
/// table used by all 512 directory entries): 262,144 code pages.
fn aliasing_tables(mem: &GuestMemoryMmap) {
    let user_code = PRESENT | USER;
    mem.write_obj(PDPT | PRESENT | USER, GuestAddress(PML4)).unwrap();
    mem.write_obj(PD | PRESENT | USER, GuestAddress(PDPT + 8 * ((USER_BASE >> 30) & 511))).unwrap();
    for i in 0..512u64 {
        mem.write_obj(PT | PRESENT | USER, GuestAddress(PD + 8 * i)).unwrap();
        mem.write_obj(CODE | user_code, GuestAddress(PT + 8 * i)).unwrap();
    }
    // Code that decodes: `nop` everywhere but a `ret`.
    mem.write_slice(&[0x90; 4095], GuestAddress(CODE)).unwrap();
    mem.write_obj(0xC3u8, GuestAddress(CODE + 4095)).unwrap();
}

fn mailbox(mem: &GuestMemoryMmap, cr3: u64, name: &[u8]) {
    let mut b = [0u8; STOP_MAILBOX_SIZE];
    b[0..4].copy_from_slice(&STOP_MAILBOX_MAGIC.to_le_bytes());
    b[8..16].copy_from_slice(&cr3.to_le_bytes());
    b[21] = name.len() as u8;
    b[24..24 + name.len()].copy_from_slice(name);
    mem.write_slice(&b, GuestAddress(PLAN + STOP_MAILBOX_OFFSET as u64)).unwrap();
}

fn injector(mem: &GuestMemoryMmap, kind: FaultType) -> Injector {
    let archive = crate::image::embedded::find_image("system").unwrap().archive;
    Injector::new(mem, PLAN, Cow::Borrowed(archive), SwifiSpec { kind, seed: 7 })
}

#[test]
fn tables_aliasing_all_of_user_space_stop_at_the_code_limit() {
    let mem = memory();
    aliasing_tables(&mem);
    assert_eq!(code_pages(&mem, PML4).len(), MAX_CODE_PAGES + 1);
    mailbox(&mem, PML4, b"tty");
    let (m, phys) = injector(&mem, FaultType::Nop).at_stop(0);
    assert!(phys.is_empty());
    assert!(m.error.as_deref().is_some_and(|e| e.contains("decode limit")), "{m:?}");
}

#[test]
fn a_large_code_area_within_the_limit_is_decoded_and_mutated() {
    // 512 aliased pages (2 MiB of `nop`s, one page table): mutated, with
    // no per-instruction memory kept.
    let mem = memory();
    aliasing_tables(&mem);
    for i in 1..512u64 {
        mem.write_obj(0u64, GuestAddress(PD + 8 * i)).unwrap();
    }
    mailbox(&mem, PML4, b"not-in-the-image");
    let (m, phys) = injector(&mem, FaultType::Nop).at_stop(0);
    assert_eq!(m.error, None, "{m:?}");
    assert_eq!((m.before.len(), phys.len()), (m.after.len(), m.after.len()));
    assert_eq!(m.scope, code_map::Scope::Pages);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary mailbox bytes and table entries: a mutation or an error,
    /// never a panic, and never more than the code limit read.
    #[test]
    fn arbitrary_mailboxes_and_tables_never_panic(
        raw in proptest::collection::vec(any::<u8>(), STOP_MAILBOX_SIZE),
        cr3 in prop_oneof![Just(PML4), any::<u64>()],
        entries in proptest::collection::vec((0u64..4, 0u64..512, any::<u64>()), 0..64),
        kind in 0usize..FaultType::ALL.len(),
    ) {
        let mem = memory();
        aliasing_tables(&mem);
        for (table, index, value) in entries {
            let base = [PML4, PDPT, PD, PT][table as usize];
            mem.write_obj(value, GuestAddress(base + 8 * index)).unwrap();
        }
        let mut b = raw;
        b[0..4].copy_from_slice(&STOP_MAILBOX_MAGIC.to_le_bytes());
        b[8..16].copy_from_slice(&cr3.to_le_bytes());
        mem.write_slice(&b, GuestAddress(PLAN + STOP_MAILBOX_OFFSET as u64)).unwrap();
        prop_assert!(read_mailbox(&mem, PLAN).is_some());
        prop_assert!(code_pages(&mem, cr3).len() <= MAX_CODE_PAGES + 1);
        let (m, phys) = injector(&mem, FaultType::ALL[kind]).at_stop(0);
        prop_assert!(m.error.is_some() || phys.len() == m.after.len());
    }
}
