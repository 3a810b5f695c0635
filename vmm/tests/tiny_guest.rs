//! Boots tiny hand-assembled guests on real KVM through the library API.
//!
//! Each guest is a few bytes of 32-bit code wrapped by
//! `vmm::image::elf_builder::pvh_elf` into a PVH ELF, so the whole boot path runs:
//! ELF loading, the PVH note, `hvm_start_info`, the 32-bit entry state, the
//! devices, the run loop and the watchdog. These tests need `/dev/kvm`; on
//! a machine without it they fail (loudly), they do not skip.

use std::time::{Duration, Instant};

use vmm::image::elf_builder::pvh_elf;
use vmm::{Exit, RunConfig, RunOutcome};

fn require_kvm() {
    let kvm = std::path::Path::new("/dev/kvm");
    assert!(kvm.exists(), "these tests boot guests on KVM, and /dev/kvm does not exist on this machine");
}

fn config(code: &[u8]) -> RunConfig {
    require_kvm();
    let mut config = RunConfig::new(pvh_elf(code, 0, 0, true), Vec::new());
    config.timeout = Some(Duration::from_secs(10));
    config
}

fn run(config: &RunConfig) -> RunOutcome {
    match vmm::run(config) {
        Ok(outcome) => outcome,
        Err(e) => panic!("the VMM failed to run the guest: {e}"),
    }
}

/// `mov dx, PORT`
fn mov_dx(port: u16) -> Vec<u8> {
    let [lo, hi] = port.to_le_bytes();
    vec![0x66, 0xBA, lo, hi]
}

/// `mov eax, VALUE; out dx, eax` to the power-off port.
fn poweroff(status: u32) -> Vec<u8> {
    let mut code = mov_dx(abi::platform::PORT_POWEROFF);
    code.push(0xB8);
    code.extend_from_slice(&status.to_le_bytes());
    code.push(0xEF);
    code.extend_from_slice(&[0xEB, 0xFE]); // jmp $ (never reached)
    code
}

#[test]
fn prints_and_powers_off_with_its_status() {
    let mut code = mov_dx(abi::platform::PORT_COM1);
    for &b in b"ok\n" {
        code.extend_from_slice(&[0xB0, b, 0xEE]); // mov al, b; out dx, al
    }
    code.extend(poweroff(7));
    let outcome = run(&config(&code));
    assert_eq!(outcome.exit, Exit::PowerOff(7));
    assert_eq!(outcome.exit_status(), 7);
    assert_eq!(outcome.console_text(), "ok\n");
}

#[test]
fn start_info_and_command_line_reach_the_guest() {
    #[rustfmt::skip]
    let code = [
        0x8B, 0x73, 0x18,             // mov esi, [ebx + 24]   ; cmdline_paddr
        0x66, 0xBA, 0xF8, 0x03,       // mov dx, 0x3f8
        0x8A, 0x06,                   // loop: mov al, [esi]
        0x84, 0xC0,                   // test al, al
        0x74, 0x04,                   // jz done
        0xEE,                         // out dx, al
        0x46,                         // inc esi
        0xEB, 0xF6,                   // jmp loop
        0x66, 0xBA, 0xF4, 0x00,       // done: mov dx, 0xf4
        0x8B, 0x03,                   // mov eax, [ebx]        ; magic
        0x3D, 0x78, 0xC5, 0x6E, 0x33, // cmp eax, 0x336ec578
        0x75, 0x07,                   // jne bad
        0xB8, 0x05, 0, 0, 0,          // mov eax, 5
        0xEF,                         // out dx, eax
        0xF4,                         // hlt
        0xB8, 0x06, 0, 0, 0,          // bad: mov eax, 6
        0xEF,                         // out dx, eax
        0xF4,                         // hlt
    ];
    let mut config = config(&code);
    config.image_cmdline = "image.default=1".into();
    config.append = "user.text=2".into();
    let outcome = run(&config);
    assert_eq!(outcome.exit, Exit::PowerOff(5), "start info magic not found at %ebx");
    let entry = vmm::vstate::config::entry_word(config.entry_kind());
    assert_eq!(outcome.console_text(), format!("image.default=1 viv.memzero=1 viv.entry={entry} user.text=2"));
}

#[test]
fn kernel_panic_status_and_clamping() {
    let outcome = run(&config(&poweroff(abi::platform::STATUS_KERNEL_PANIC as u32)));
    assert_eq!(outcome.exit, Exit::KernelPanic);
    assert_eq!(outcome.exit_status(), 123);

    // Unknown ports read as all-ones: power off with what port 0x510 gave.
    let mut code = mov_dx(0x510);
    code.push(0xED); // in eax, dx
    code.extend(mov_dx(abi::platform::PORT_POWEROFF));
    code.extend_from_slice(&[0xEF, 0xEB, 0xFE]); // out dx, eax; jmp $
    let outcome = run(&config(&code));
    assert_eq!(outcome.exit, Exit::PowerOff(abi::platform::GUEST_STATUS_MAX));
    assert_eq!(outcome.exit_status(), 119);
}

#[test]
fn bench_marks_carry_statistics() {
    let mut code = mov_dx(abi::platform::PORT_BENCH_MARK);
    code.extend_from_slice(&[0xB8, 0, 0, 0, 0, 0xEF]); // mov eax, 0; out dx, eax
    code.extend_from_slice(&[0xB9, 0x64, 0, 0, 0]); // mov ecx, 100
    code.extend_from_slice(&[0x49, 0x75, 0xFD]); // loop: dec ecx; jnz loop
    code.extend_from_slice(&[0xB8, 2, 0, 0, 0, 0xEF]); // mov eax, 2; out dx, eax
    code.extend(poweroff(0));
    let outcome = run(&config(&code));
    assert_eq!(outcome.exit, Exit::PowerOff(0));
    let ids: Vec<u32> = outcome.marks.iter().map(|m| m.id).collect();
    assert_eq!(ids, [abi::platform::MARK_FIRST_USER, abi::platform::MARK_BENCH_END]);
    let (first, last) = (&outcome.marks[0], &outcome.marks[1]);
    assert!(last.time_ns >= first.time_ns);
    assert!(first.time_ns as u128 <= outcome.wall_time.as_nanos());
    let exits = last.stats.delta(&first.stats, "exits").expect("KVM has an `exits` statistic");
    assert!(exits >= 1, "the second mark is at least one exit after the first");
    // Three port writes, each an exit (software KVM counts them in `exits`
    // but not in `io_exits`).
    assert!(outcome.final_stats.exits().unwrap_or(0) >= 3, "{:?}", outcome.final_stats);
    if vmm::HostKind::detect() == vmm::HostKind::SoftwarePvm {
        // docs/platform.md: every kernel-mode instruction is emulated and counted.
        let insns = last.stats.delta(&first.stats, "insn_emulation").unwrap();
        assert!((200..=220).contains(&insns), "dec/jnz x100 plus a few: {insns}");
    }
}

#[test]
fn a_spinning_guest_is_stopped_at_the_timeout() {
    let mut config = config(&[0xEB, 0xFE]); // jmp $
    config.timeout = Some(Duration::from_millis(500));
    let started = Instant::now();
    let outcome = run(&config);
    let took = started.elapsed();
    assert_eq!(outcome.exit, Exit::Timeout);
    assert_eq!(outcome.exit_status(), 124);
    assert!(took >= Duration::from_millis(500), "stopped early: {took:?}");
    assert!(took < Duration::from_secs(2), "stopped late: {took:?}");
}

#[test]
fn a_guest_halted_forever_is_stopped_at_the_timeout() {
    let mut config = config(&[0xFA, 0xF4, 0xEB, 0xFD]); // cli; hlt; jmp back to hlt
    config.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let outcome = run(&config);
    assert!(
        matches!(outcome.exit, Exit::Timeout | Exit::VmError(_)),
        "halting with interrupts off: {:?}",
        outcome.exit
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_fault_with_an_empty_idt_is_a_triple_fault() {
    #[rustfmt::skip]
    let code = [
        0x0F, 0x01, 0x1D, 0x10, 0x00, 0x10, 0x00, // lidt [0x100010]
        0x0F, 0x0B,                               // ud2
        0xEB, 0xFE,                               // jmp $
        0x90, 0x90, 0x90, 0x90, 0x90,             // pad to 0x10
        0, 0, 0, 0, 0, 0,                         // 0x100010: IDT limit 0, base 0
    ];
    let outcome = run(&config(&code));
    assert_eq!(outcome.exit, Exit::TripleFault);
    assert_eq!(outcome.exit_status(), 122);
}

#[test]
fn a_kernel_without_pvh_note_is_a_host_error() {
    require_kvm();
    let config = RunConfig::new(pvh_elf(&[0xF4], 0, 0, false), Vec::new());
    let err = vmm::run(&config).unwrap_err();
    assert!(err.to_string().contains("PVH"), "{err}");
}

#[test]
fn the_archive_is_passed_as_the_one_module() {
    // Print the first 4 bytes of module 0 and its size (low byte) as status.
    #[rustfmt::skip]
    let code = [
        0x8B, 0x73, 0x10,             // mov esi, [ebx + 16]   ; modlist_paddr
        0x8B, 0x4E, 0x08,             // mov ecx, [esi + 8]    ; size
        0x8B, 0x36,                   // mov esi, [esi]        ; paddr
        0x66, 0xBA, 0xF8, 0x03,       // mov dx, 0x3f8
        0x8A, 0x06, 0xEE,             // mov al, [esi]; out dx, al
        0x8A, 0x46, 0x01, 0xEE,       // mov al, [esi + 1]; out dx, al
        0x8A, 0x46, 0x02, 0xEE,       // mov al, [esi + 2]; out dx, al
        0x66, 0xBA, 0xF4, 0x00,       // mov dx, 0xf4
        0x89, 0xC8,                   // mov eax, ecx
        0xEF,                         // out dx, eax
        0xF4,                         // hlt
    ];
    let mut config = config(&code);
    let mut archive = b"VIV".to_vec();
    archive.resize(45, b'x');
    config.archive = archive.into();
    let outcome = run(&config);
    assert_eq!(outcome.console_text(), "VIV");
    assert_eq!(outcome.exit, Exit::PowerOff(45));
}

/// The log port's bytes arrive whole and in order, also when the guest
/// writes more of them between two exits than KVM's coalesced-I/O ring
/// holds (where the VMM coalesces the port; one exit per byte otherwise).
#[test]
fn the_log_keeps_every_byte_in_order() {
    let text: Vec<u8> = (0..1500u32).map(|i| if i % 61 == 60 { b'\n' } else { b'a' + (i % 26) as u8 }).collect();
    let mut code = mov_dx(abi::platform::PORT_LOG);
    for &b in &text {
        code.extend_from_slice(&[0xB0, b, 0xEE]); // mov al, b; out dx, al
    }
    code.extend(poweroff(3));
    let mut config = config(&code);
    config.separate_log = true;
    // Experiment mode, where the VMM coalesces the port.
    config.deterministic = true;
    let outcome = run(&config);
    assert_eq!(outcome.exit, Exit::PowerOff(3));
    assert_eq!(outcome.log.as_deref(), Some(&text[..]));
}

/// A guest writing `value` to `port` forever (`out dx, eax` in a loop; a
/// byte, `out dx, al`, for values below 256).
fn port_flood(port: u16, value: u32) -> Vec<u8> {
    let mut code = mov_dx(port);
    code.push(0xB8); // mov eax, value
    code.extend_from_slice(&value.to_le_bytes());
    let out = if value < 256 { 0xEE } else { 0xEF };
    code.extend_from_slice(&[out, 0xEB, 0xFD]); // loop: out dx, al/eax; jmp loop
    code
}

/// Each cap on what the guest makes the host keep ends the run with that
/// limit, having kept no more than the cap (`vmm::devices::limits`).
#[test]
fn floods_end_at_the_host_limits() {
    use vmm::devices::limits::Limit;
    let cases = [
        (abi::platform::PORT_COM1, u32::from(b'x'), false, Limit::Console),
        (abi::platform::PORT_LOG, u32::from(b'y'), true, Limit::Log),
        (abi::platform::PORT_BENCH_MARK, 777, false, Limit::Marks),
    ];
    for (port, value, separate_log, limit) in cases {
        let mut config = config(&port_flood(port, value));
        config.separate_log = separate_log;
        config.limits.capture_bytes = 3000;
        config.limits.marks = 50;
        let outcome = run(&config);
        assert_eq!(outcome.exit, Exit::GuestLimit(limit), "{limit:?}");
        assert_eq!(outcome.exit_status(), abi::platform::STATUS_GUEST_LIMIT);
        let kept_only = |bytes: &[u8], b: u8| bytes.len() == 3000 && bytes.iter().all(|&x| x == b);
        match limit {
            Limit::Console => assert!(kept_only(outcome.console.as_deref().unwrap(), b'x')),
            Limit::Log => assert!(kept_only(outcome.log.as_deref().unwrap(), b'y')),
            _ => assert_eq!((outcome.marks.len(), outcome.marks[0].id), (50, 777)),
        }
    }
}
