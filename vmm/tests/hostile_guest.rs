//! The hostile-guest suite (issue 13): a small kernel-mode guest that, for
//! N seeded iterations, writes random and adversarial values to every port
//! the VMM handles (UART, log, bench mark, trace doorbell, fault Stop), the
//! trace ring header and records, the fault plan and Stop mailbox, the
//! virtio-mmio registers, descriptors and rings, then powers off. Every run
//! must end with an outcome, within its timeout, with every kept buffer
//! inside its cap; the VMM must never panic or hang.
//!
//! Each iteration's guest is straight-line 32-bit code generated on the
//! host from the iteration's seed (so a failure names the seed that
//! reproduces it): `mov edx/eax, imm32; out/in` for ports, `mov [imm32],
//! imm32` and `mov eax, [imm32]` for memory and MMIO. It runs in the PVH
//! entry state (protected mode, no paging), so addresses are physical.
//! `VIV_HOSTILE_ITERATIONS` sets N (default 64).

use std::time::Duration;

use abi::platform::{
    PORT_BENCH_MARK, PORT_COM1, PORT_FAULT_STOP, PORT_LOG, PORT_POWEROFF, PORT_TRACE_DOORBELL, VIRTIO_BLK_MMIO_BASE,
};
use vmm::devices::limits::HostLimits;
use vmm::image::elf_builder::pvh_elf;
use vmm::inject::fault::{FaultPlan, PLAN_BYTES};
use vmm::inject::swifi::{FaultType, SwifiSpec};
use vmm::observe::ring::MIN_RING_BYTES;
use vmm::{Exit, RunConfig};

const MEMORY_MIB: u64 = 32;
const MEM_END: u64 = MEMORY_MIB << 20;
const RING: u64 = MEM_END - MIN_RING_BYTES;
const PLAN: u64 = RING - PLAN_BYTES;
/// Where the guest builds its virtqueue: descriptors, avail, used rings
/// and buffers (the code sits at 1 MiB, well below).
const DRIVER: u64 = 0x40_0000;
const OPS: usize = 400;
const TIMEOUT_SECS: u64 = 5;

/// xorshift64*: the iteration's draws.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A value a buggy or hostile guest would write: edge values, small
    /// counts, plausible addresses, or anything.
    fn value(&mut self) -> u32 {
        match self.below(6) {
            0 => self.pick(&[0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0xFFFF, 0x100]),
            1 => self.below(300) as u32,
            2 => (DRIVER + self.below(16) * 0x1000) as u32,
            3 => (RING + self.below(MIN_RING_BYTES)) as u32,
            _ => self.next() as u32,
        }
    }
}

/// Straight-line guest code.
#[derive(Default)]
struct Code(Vec<u8>);

impl Code {
    fn out(&mut self, port: u16, value: u32, width: u8) {
        self.0.push(0xBA); // mov edx, imm32
        self.0.extend_from_slice(&u32::from(port).to_le_bytes());
        self.0.push(0xB8); // mov eax, imm32
        self.0.extend_from_slice(&value.to_le_bytes());
        match width {
            1 => self.0.push(0xEE),
            2 => self.0.extend_from_slice(&[0x66, 0xEF]),
            _ => self.0.push(0xEF),
        }
    }

    fn inp(&mut self, port: u16, width: u8) {
        self.0.push(0xBA);
        self.0.extend_from_slice(&u32::from(port).to_le_bytes());
        match width {
            1 => self.0.push(0xEC),
            2 => self.0.extend_from_slice(&[0x66, 0xED]),
            _ => self.0.push(0xED),
        }
    }

    fn store(&mut self, addr: u64, value: u32) {
        self.0.extend_from_slice(&[0xC7, 0x05]); // mov dword [addr32], imm32
        self.0.extend_from_slice(&(addr as u32).to_le_bytes());
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn load(&mut self, addr: u64) {
        self.0.push(0xA1); // mov eax, [addr32]
        self.0.extend_from_slice(&(addr as u32).to_le_bytes());
    }

    fn poweroff(&mut self, status: u32) {
        self.out(PORT_POWEROFF, status, 4);
        self.0.extend_from_slice(&[0xEB, 0xFE]); // jmp $
    }
}

/// Virtio-mmio register offsets (virtio 1.x §4.2.2) and a few config bytes.
const MMIO_REGISTERS: [u64; 24] = [
    0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
    0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x100, 0x10C,
];

/// A plausible driver start: reset, features, queue 0 of 16 at DRIVER,
/// ready, DRIVER_OK, so random descriptors and rings get served.
fn virtio_setup(code: &mut Code) {
    let reg = |off: u64| VIRTIO_BLK_MMIO_BASE + off;
    for (off, value) in [
        (0x070, 0),
        (0x070, 1),
        (0x070, 3),
        (0x024, 1),
        (0x020, 1),
        (0x070, 11),
        (0x030, 0),
        (0x038, 16),
        (0x080, DRIVER as u32),
        (0x090, DRIVER as u32 + 0x400),
        (0x0A0, DRIVER as u32 + 0x800),
        (0x044, 1),
        (0x070, 15),
    ] {
        code.store(reg(off), value);
    }
}

fn hostile_program(seed: u64) -> Vec<u8> {
    let mut d = Draw(seed | 1);
    let mut code = Code::default();
    virtio_setup(&mut code);
    let ports = [
        PORT_COM1,
        PORT_COM1 + 1,
        PORT_COM1 + 2,
        PORT_COM1 + 3,
        PORT_COM1 + 4,
        PORT_COM1 + 5,
        PORT_COM1 + 7,
        PORT_LOG,
        PORT_BENCH_MARK,
        PORT_TRACE_DOORBELL,
        PORT_FAULT_STOP,
        0x510,
    ];
    for _ in 0..OPS {
        match d.below(10) {
            0 | 1 => {
                let port = if d.below(8) == 0 { d.next() as u16 } else { d.pick(&ports) };
                let port = if port == PORT_POWEROFF { PORT_LOG } else { port };
                let value = d.value();
                code.out(port, value, d.pick(&[1, 2, 4]));
            }
            2 => {
                let port = d.pick(&ports);
                code.inp(port, d.pick(&[1, 2, 4]));
            }
            // The trace ring: whole 64-bit header fields at the edges of
            // their range (a tail just below u64::MAX, a head just past
            // 0), then the doorbell.
            3 if d.below(2) == 0 => {
                let field = d.below(8);
                let (near, random) = (d.below(8), u64::from(d.value()));
                let value = d.pick(&[u64::MAX - near, near, 1 << 63, random]);
                code.store(RING + 8 * field, value as u32);
                code.store(RING + 8 * field + 4, (value >> 32) as u32);
                code.out(PORT_TRACE_DOORBELL, 0, 4);
            }
            // The trace ring: header words and records.
            3 => {
                let at = if d.below(2) == 0 { RING + 4 * d.below(16) } else { RING + 4 * d.below(MIN_RING_BYTES / 4) };
                code.store(at, d.value());
            }
            // The plan: header, rules, duplicate slots, the Stop mailbox.
            4 => {
                let at = PLAN + 4 * d.below(PLAN_BYTES / 4);
                code.store(at, d.value());
            }
            // A filled-in mailbox naming page tables anywhere (often in
            // the driver area the guest scribbles on), then the doorbell.
            5 => {
                let mailbox = PLAN + abi::fault::STOP_MAILBOX_OFFSET as u64;
                code.store(mailbox, abi::fault::STOP_MAILBOX_MAGIC);
                let cr3 = if d.below(2) == 0 { (DRIVER + d.below(16) * 0x1000) as u32 } else { d.value() };
                code.store(mailbox + 8, cr3);
                code.store(mailbox + 4 * (2 + d.below(14)), d.value());
                code.out(PORT_FAULT_STOP, d.value(), 4);
            }
            // Descriptors, rings and buffers of the virtqueue.
            6 | 7 => {
                let at = DRIVER + 4 * d.below(0x4000 / 4);
                code.store(at, d.value());
            }
            8 => {
                let at = VIRTIO_BLK_MMIO_BASE + d.pick(&MMIO_REGISTERS);
                code.store(at, d.value());
            }
            _ => {
                let notify = d.below(2) == 0;
                if notify {
                    code.store(VIRTIO_BLK_MMIO_BASE + 0x050, 0);
                } else {
                    code.load(VIRTIO_BLK_MMIO_BASE + d.pick(&MMIO_REGISTERS));
                }
            }
        }
    }
    code.poweroff(0);
    code.0
}

fn config(seed: u64, disk: &std::path::Path) -> RunConfig {
    let mut config = RunConfig::new(pvh_elf(&hostile_program(seed), 0, 0, true), Vec::new());
    config.memory_mib = MEMORY_MIB;
    config.timeout = Some(Duration::from_secs(TIMEOUT_SECS));
    config.separate_log = true;
    config.trace = Some(vmm::observe::TraceMode::Lossless);
    config.trace_ring_bytes = MIN_RING_BYTES;
    config.fault_plan = Some(FaultPlan { seed, rules: Vec::new() });
    config.swifi = Some(SwifiSpec { kind: FaultType::ALL[(seed % 7) as usize], seed });
    config.disk = Some(disk.to_path_buf());
    config.limits = HostLimits { capture_bytes: 4096, marks: 64, trace_records: 4096 };
    config
}

fn iterations() -> u64 {
    std::env::var("VIV_HOSTILE_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
}

#[test]
fn hostile_guests_end_with_an_outcome_in_bounded_time_and_memory() {
    assert_eq!((RING, PLAN % 4096), (MEM_END - MIN_RING_BYTES, 0));
    let dir = std::env::temp_dir().join(format!("viv-hostile-guest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut endings = std::collections::BTreeMap::new();
    let (mut stops, mut records, mut mutated) = (0, 0, 0);
    for seed in 1..=iterations() {
        let disk = dir.join(format!("disk-{seed}.img"));
        let config = config(seed, &disk);
        let outcome = vmm::run(&config).unwrap_or_else(|e| panic!("seed {seed}: the VMM failed: {e}"));
        // Bounded time: the watchdog's deadline plus a generous margin
        // (a hang would never return at all).
        assert!(outcome.wall_time < Duration::from_secs(TIMEOUT_SECS + 60), "seed {seed}: {:?}", outcome.wall_time);
        let limits = config.limits;
        assert!(outcome.console.as_ref().is_none_or(|c| c.len() <= limits.capture_bytes), "seed {seed}");
        assert!(outcome.log.as_ref().is_none_or(|l| l.len() <= limits.capture_bytes), "seed {seed}");
        assert!(outcome.marks.len() <= limits.marks, "seed {seed}");
        assert!(outcome.trace.as_ref().is_none_or(|t| t.raw.len() <= limits.trace_records), "seed {seed}");
        let kind = match &outcome.exit {
            Exit::PowerOff(s) => {
                assert!(*s <= abi::platform::GUEST_STATUS_MAX, "seed {seed}");
                "power-off"
            }
            Exit::GuestLimit(_) => "guest limit",
            Exit::Timeout | Exit::InstructionBudget => "timeout",
            Exit::KernelPanic => "panic status",
            Exit::TripleFault => "triple fault",
            Exit::VmError(why) => panic!("seed {seed}: a VM error is the VMM failing: {why}"),
        };
        *endings.entry(kind).or_insert(0) += 1;
        stops += outcome.fault_stops.len();
        records += outcome.trace.as_ref().map_or(0, |t| t.raw.len());
        mutated += outcome.swifi.iter().filter(|m| m.error.is_none()).count();
        std::fs::remove_file(&disk).unwrap();
    }
    eprintln!("hostile guests: {endings:?}; {stops} Stops, {mutated} mutations, {records} trace records");
    // The suite reaches what it attacks: Stops were served (SWIFI walked
    // the scribbled tables) and the scribbled ring was drained.
    assert!(stops > 0 && records > 0, "{stops} Stops, {records} records");
    // The programs end with a power-off: most runs must get there, so the
    // suite exercises the whole sequence and not only early limits.
    assert!(endings.get("power-off").copied().unwrap_or(0) * 2 >= iterations(), "{endings:?}");
    // Bounded memory: the whole suite's peak stays far below what one
    // unbounded buffer would reach (each VM has 32 MiB of RAM).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(peak_kib < 1 << 20, "peak resident memory {peak_kib} KiB");
    std::fs::remove_dir_all(&dir).unwrap();
}
