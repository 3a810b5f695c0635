//! The virtio-blk device on real KVM: a tiny hand-assembled 32-bit guest
//! (paging off, so it reaches the register window at its physical address)
//! drives the virtio-mmio registers through MMIO exits, reads a sector and
//! writes it elsewhere, checking every step; it powers off with 42 when
//! all went well, or with the number of the check that failed.
//!
//! This is the end-to-end check of what the host unit tests cannot see:
//! the vCPU loop dispatches MMIO exits to the device, `--disk` attaches
//! it, and its absence reads as all-ones. Needs `/dev/kvm`.

use std::time::Duration;

use abi::platform::{PORT_POWEROFF, VIRTIO_BLK_MMIO_BASE};
use vmm::image::elf_builder::pvh_elf;
use vmm::{Exit, RunConfig};

const BASE: u32 = VIRTIO_BLK_MMIO_BASE as u32;
const DESC: u32 = 0x40_0000;
const AVAIL: u32 = 0x40_1000;
const USED: u32 = 0x40_2000;
const HEADER: u32 = 0x40_3000;
const STATUS: u32 = 0x40_3100;
const DATA: u32 = 0x40_4000;

/// A few instructions of 32-bit code.
#[derive(Default)]
struct Asm(Vec<u8>);

impl Asm {
    /// `mov dword [addr], value`
    fn store32(&mut self, addr: u32, value: u32) {
        self.0.extend_from_slice(&[0xC7, 0x05]);
        self.0.extend_from_slice(&addr.to_le_bytes());
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// `mov word [addr], value`
    fn store16(&mut self, addr: u32, value: u16) {
        self.0.extend_from_slice(&[0x66, 0xC7, 0x05]);
        self.0.extend_from_slice(&addr.to_le_bytes());
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// `mov byte [addr], value`
    fn store8(&mut self, addr: u32, value: u8) {
        self.0.extend_from_slice(&[0xC6, 0x05]);
        self.0.extend_from_slice(&addr.to_le_bytes());
        self.0.push(value);
    }

    /// A virtio-mmio register write.
    fn reg(&mut self, offset: u32, value: u32) {
        self.store32(BASE + offset, value);
    }

    /// `mov dx, POWEROFF; mov eax, status; out dx, eax; jmp $` (12 bytes).
    fn poweroff(&mut self, status: u32) {
        let [lo, hi] = PORT_POWEROFF.to_le_bytes();
        self.0.extend_from_slice(&[0x66, 0xBA, lo, hi, 0xB8]);
        self.0.extend_from_slice(&status.to_le_bytes());
        self.0.extend_from_slice(&[0xEF, 0xEB, 0xFE]);
    }

    /// `cmp dword [addr], value; je +12; <power off with fail>`
    fn check32(&mut self, addr: u32, value: u32, fail: u32) {
        self.0.extend_from_slice(&[0x81, 0x3D]);
        self.0.extend_from_slice(&addr.to_le_bytes());
        self.0.extend_from_slice(&value.to_le_bytes());
        self.0.extend_from_slice(&[0x74, 12]);
        self.poweroff(fail);
    }

    /// `cmp byte [addr], value; je +12; <power off with fail>`
    fn check8(&mut self, addr: u32, value: u8, fail: u32) {
        self.0.extend_from_slice(&[0x80, 0x3D]);
        self.0.extend_from_slice(&addr.to_le_bytes());
        self.0.push(value);
        self.0.extend_from_slice(&[0x74, 12]);
        self.poweroff(fail);
    }

    /// A descriptor of the table at DESC.
    fn desc(&mut self, index: u32, addr: u32, len: u32, flags: u16, next: u16) {
        let at = DESC + 16 * index;
        self.store32(at, addr);
        self.store32(at + 4, 0);
        self.store32(at + 8, len);
        self.store16(at + 12, flags);
        self.store16(at + 14, next);
    }
}

/// The guest: handshake, read sector 1, write it to sector 3, power off 42.
fn guest() -> Vec<u8> {
    let mut a = Asm::default();
    a.check32(BASE, 0x7472_6976, 1); // MagicValue
    a.check32(BASE + 4, 2, 2); // Version
    a.reg(0x70, 0); // Status: reset
    a.reg(0x70, 1); // ACKNOWLEDGE
    a.reg(0x70, 3); // DRIVER
    a.reg(0x24, 1); // DriverFeaturesSel = 1
    a.reg(0x20, 1); // VIRTIO_F_VERSION_1
    a.reg(0x70, 0xB); // FEATURES_OK
    a.check32(BASE + 0x70, 0xB, 3);
    a.reg(0x30, 0); // QueueSel
    a.reg(0x38, 8); // QueueNum
    a.reg(0x80, DESC);
    a.reg(0x90, AVAIL);
    a.reg(0xA0, USED);
    a.reg(0x44, 1); // QueueReady
    a.check32(BASE + 0x44, 1, 4);
    a.reg(0x70, 0xF); // DRIVER_OK

    // IN, sector 1: header, 512 writable bytes, status.
    a.store32(HEADER, 0);
    a.store32(HEADER + 4, 0);
    a.store32(HEADER + 8, 1);
    a.store32(HEADER + 12, 0);
    a.store8(STATUS, 0xFF);
    a.desc(0, HEADER, 16, 1, 1);
    a.desc(1, DATA, 512, 3, 2);
    a.desc(2, STATUS, 1, 2, 0);
    a.store16(AVAIL + 4, 0); // ring[0] = head 0
    a.store16(AVAIL + 2, 1); // idx
    a.reg(0x50, 0); // QueueNotify
    a.check32(DATA, 0x1122_3344, 5);
    a.check8(STATUS, 0, 6);
    a.check32(USED, 1 << 16, 7); // flags 0, idx 1
    a.check32(USED + 4, 0, 8); // id 0
    a.check32(USED + 8, 513, 9); // len
    a.check32(BASE + 0x60, 1, 10); // InterruptStatus: used buffer
    a.reg(0x64, 1); // InterruptACK

    // OUT, sector 3, from the same buffer.
    a.store32(HEADER, 1);
    a.store32(HEADER + 8, 3);
    a.store8(STATUS, 0xFF);
    a.desc(1, DATA, 512, 1, 2);
    a.store16(AVAIL + 6, 0);
    a.store16(AVAIL + 2, 2);
    a.reg(0x50, 0);
    a.check8(STATUS, 0, 11);
    a.check32(USED, 2 << 16, 12);
    a.poweroff(42);
    a.0
}

fn config() -> RunConfig {
    assert!(std::path::Path::new("/dev/kvm").exists(), "this test boots a guest on KVM");
    let mut config = RunConfig::new(pvh_elf(&guest(), 0, 0, true), Vec::new());
    config.timeout = Some(Duration::from_secs(10));
    config
}

#[test]
fn a_guest_reads_and_writes_the_disk_through_mmio() {
    let path = std::env::temp_dir().join(format!("viv-blk-guest-{}.img", std::process::id()));
    let mut image = vec![0u8; 64 << 10];
    for (i, byte) in image[512..1024].iter_mut().enumerate() {
        *byte = i as u8 ^ 0x5A;
    }
    image[512..516].copy_from_slice(&0x1122_3344u32.to_le_bytes());
    std::fs::write(&path, &image).unwrap();
    let mut config = config();
    config.disk = Some(path.clone());
    let outcome = vmm::run(&config);
    let disk = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let outcome = outcome.unwrap();
    assert_eq!(outcome.exit, Exit::PowerOff(42), "console: {}", outcome.console_text());
    assert_eq!(&disk[3 * 512..4 * 512], &image[512..1024], "sector 1 was copied to sector 3");
    assert_eq!(&disk[..3 * 512], &image[..3 * 512]);
}

#[test]
fn without_a_disk_the_window_reads_as_all_ones() {
    let outcome = vmm::run(&config()).unwrap();
    assert_eq!(outcome.exit, Exit::PowerOff(1), "the magic value check fails");
}

#[test]
fn a_bad_disk_path_is_a_host_error() {
    let mut config = config();
    config.disk = Some("/nonexistent-dir/disk.img".into());
    let err = vmm::run(&config).unwrap_err();
    assert!(matches!(err, vmm::Error::Device(vmm::devices::DeviceError::DiskFile { .. })), "{err}");
}
