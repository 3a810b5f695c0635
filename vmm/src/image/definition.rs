//! Boot-image definitions: `images/NAME/image.toml`.
//!
//! This file is compiled twice: into `viv` and into `build.rs`, which turns
//! every definition into a boot image at build time. Keeping one parser means
//! the build and the tool can never disagree about what a definition says.
//!
//! ```toml
//! description = "prints a greeting and powers off"
//! cmdline = "pingpong.rounds=1000"   # default kernel command line
//!
//! [[program]]
//! name = "hello"            # a program of guest-servers/ (its binary name)
//! priority = 4              # 0 = highest, up to 15
//! poweroff_on_exit = true   # the machine powers off with its exit status
//! kind = "user"             # "user" (default) or "system"
//! ipc = ["pong"]            # destinations by program name, or ["ALL"]
//! traps = ["sendrec"]       # default: user = sendrec; system: none,
//!                           #   so a system program must list its traps
//! kernel_calls = ["exit"]   # default: user = exit, diag_write,
//!                           #   set_grant_table; system: none, so a
//!                           #   system program must list its calls
//! io_ports = ["0x3f8-0x3ff"]  # at most 4 inclusive ranges
//! irqs = [4]                # IRQ lines 0-31
//! mmio = ["0xfeb00000-0xfeb00fff"]  # device windows for map_device: at
//!                           #   most 2 inclusive, page-aligned ranges
//! heartbeat_ms = 0          # for the reincarnation server; 0 = none
//! autostart = true          # false: started later by a privileged process
//! service = false           # true: the reincarnation server starts,
//!                           #   heartbeats and restarts it
//! restart = "restart"       # or "hold": a dead service stays down
//! backup = false            # true: RS lends it memory that outlives
//!                           #   its restarts (abi::backup)
//! ```
//!
//! Allowing A to send to B also allows B to send to A (its reply), as in
//! MINIX 3: the builder makes every send mask symmetric.
//!
//! Least privilege: no default grants a kernel call a program does not
//! need. A "system" program (server, driver) must list its traps and its
//! kernel calls; leaving either list out is an error, not "all of them",
//! so a driver can never hold `kill`, `poweroff` or a primitive it does
//! not use by omission. Destinations, ports, IRQs and MMIO windows have no
//! default at all: only what the entry lists (`ipc = ["ALL"]` is an
//! explicit grant, held by RS and DS, which serve every program). `docs/privileges.md` is the
//! table of what every program of every image holds
//! ([`crate::privileges_doc`]).

use abi::boot_image::Privileges;
use abi::syscall::{KernelCall, Trap};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Lowest scheduling priority (highest number).
pub const LOWEST_PRIORITY: u8 = 15;

/// One image definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// One line saying what the image is for.
    #[serde(default)]
    pub description: String,
    /// Kernel command line the image boots with by default.
    #[serde(default)]
    pub cmdline: String,
    /// Another image (a directory name beside this one) whose programs come
    /// first; this file adds programs to them.
    #[serde(default)]
    pub extends: Option<String>,
    /// The programs, in boot order (a program's index is its endpoint slot).
    #[serde(rename = "program", default)]
    pub programs: Vec<ProgramConfig>,
}

/// One program of an image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// Program name; also the binary built from guest-servers/.
    pub name: Spanned<String>,
    /// Scheduling priority.
    #[serde(default = "default_priority")]
    pub priority: Spanned<u8>,
    /// Power the machine off with this program's exit status.
    #[serde(default)]
    pub poweroff_on_exit: bool,
    /// Start at boot (default); `false` leaves it to a privileged process.
    #[serde(default = "default_autostart")]
    pub autostart: bool,
    /// A service: the reincarnation server starts, watches and restarts it
    /// (the kernel does not start it).
    #[serde(default)]
    pub service: bool,
    /// What RS does when the service dies: "restart" (default) or "hold".
    #[serde(default = "default_restart")]
    pub restart: Spanned<String>,
    /// "user" or "system": the default traps and kernel calls.
    #[serde(default = "default_kind")]
    pub kind: Spanned<String>,
    /// Programs this one may send to.
    #[serde(default)]
    pub ipc: Vec<Spanned<String>>,
    /// Allowed traps (default by kind).
    pub traps: Option<Vec<Spanned<String>>>,
    /// Allowed kernel calls (default by kind).
    pub kernel_calls: Option<Vec<Spanned<String>>>,
    /// Allowed I/O port ranges, "0xFIRST-0xLAST" or "0xPORT".
    #[serde(default)]
    pub io_ports: Vec<Spanned<String>>,
    /// Allowed IRQ lines.
    #[serde(default)]
    pub irqs: Vec<Spanned<u32>>,
    /// Device MMIO windows the program may map ("0xFIRST-0xLAST",
    /// inclusive, whole pages).
    #[serde(default)]
    pub mmio: Vec<Spanned<String>>,
    /// Heartbeat period for the reincarnation server (0 = none).
    #[serde(default)]
    pub heartbeat_ms: u32,
    /// The reincarnation server lends the program a backup
    /// (`abi::backup`).
    #[serde(default)]
    pub backup: bool,
}

fn default_priority() -> Spanned<u8> {
    Spanned::new(0..0, 8)
}

fn default_autostart() -> bool {
    true
}

fn default_restart() -> Spanned<String> {
    Spanned::new(0..0, "restart".to_string())
}

fn default_kind() -> Spanned<String> {
    Spanned::new(0..0, "user".to_string())
}

const TRAP_NAMES: [(&str, Trap); 6] = [
    ("send", Trap::Send),
    ("receive", Trap::Receive),
    ("sendrec", Trap::SendRec),
    ("notify", Trap::Notify),
    ("sendnb", Trap::SendNb),
    ("senda", Trap::SendA),
];

/// Kernel calls of a "user" program without a `kernel_calls` list: ending
/// itself, the runtime's panic message, and `set_grant_table`, because
/// every call to VFS passes its buffer or path through a grant (the
/// grantee, a server, does the copy).
pub const USER_KERNEL_CALLS: [KernelCall; 3] = [KernelCall::Exit, KernelCall::DiagWrite, KernelCall::SetGrantTable];

/// A problem in a definition, with the byte span it refers to.
struct Problem {
    span: std::ops::Range<usize>,
    message: String,
}

fn problem<T>(span: std::ops::Range<usize>, message: impl Into<String>) -> Result<T, Problem> {
    Err(Problem { span, message: message.into() })
}

impl ProgramConfig {
    /// The boot-image flags of this program.
    fn flags(&self) -> u8 {
        use abi::boot_image::{
            FLAG_BACKUP, FLAG_NO_AUTOSTART, FLAG_POWEROFF_ON_EXIT, FLAG_RESTART_HOLD, FLAG_SERVICE, FLAG_USER,
        };
        let mut flags = 0;
        if self.kind.get_ref() == "user" {
            flags |= FLAG_USER;
        }
        if self.poweroff_on_exit {
            flags |= FLAG_POWEROFF_ON_EXIT;
        }
        if !self.autostart || self.service {
            flags |= FLAG_NO_AUTOSTART;
        }
        if self.service {
            flags |= FLAG_SERVICE;
        }
        if self.restart.get_ref() == "hold" {
            flags |= FLAG_RESTART_HOLD;
        }
        if self.backup {
            flags |= FLAG_BACKUP;
        }
        flags
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    1 + before.iter().filter(|&&b| b == b'\n').count()
}

fn parse_address(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => t.parse().ok(),
    }
}

/// An MMIO window "0xFIRST-0xLAST" as (base, length): FIRST page-aligned,
/// LAST the last byte of a page.
fn parse_mmio(text: &str) -> Option<(u64, u64)> {
    let (first, last) = text.split_once('-')?;
    let (first, last) = (parse_address(first)?, parse_address(last)?);
    let len = last.checked_sub(first)?.checked_add(1)?;
    (first % abi::layout::PAGE_SIZE == 0 && len % abi::layout::PAGE_SIZE == 0).then_some((first, len))
}

fn parse_port(text: &str) -> Option<u16> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

/// Why an image definition cannot be used; one line, naming the file
/// (`FILE: line N: what`) when it came from one.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A problem inside the file `path`.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// The problem.
        source: Box<DefinitionError>,
    },
    /// The definition is not valid (at a line, when known).
    #[error("{}{message}", line.map(|n| format!("line {n}: ")).unwrap_or_default())]
    Invalid {
        /// 1-based line.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// `extends` names no usable image.
    #[error("extends {base:?}: {why}")]
    Extends {
        /// The name given.
        base: String,
        /// Why it cannot be used.
        why: &'static str,
    },
    /// `extends` in text without a file to resolve it against.
    #[error("extends needs the definition's file (use ImageConfig::load)")]
    ExtendsWithoutFile,
    /// A program's ELF could not be had.
    #[error("{0}")]
    Program(String),
    /// The boot image could not be assembled.
    #[error("{0}")]
    Build(String),
}

impl ImageConfig {
    /// Reads and checks `path`; the error names the file and the problem.
    pub fn load(path: &Path) -> Result<ImageConfig, DefinitionError> {
        Self::load_nested(path, 0)
    }

    fn load_nested(path: &Path, depth: usize) -> Result<ImageConfig, DefinitionError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DefinitionError::Read { path: path.to_path_buf(), source })?;
        let in_file = |e: DefinitionError| DefinitionError::InFile { path: path.to_path_buf(), source: Box::new(e) };
        let mut config = Self::parse_toml(&text).map_err(in_file)?;
        if let Some(base) = config.extends.take() {
            if depth >= 4 {
                return Err(in_file(DefinitionError::Extends { base, why: "images extend each other too deeply" }));
            }
            let valid = !base.is_empty() && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let images = path.parent().and_then(Path::parent);
            let (true, Some(images)) = (valid, images) else {
                return Err(in_file(DefinitionError::Extends { base, why: "not an image name" }));
            };
            let base_config = Self::load_nested(&images.join(&base).join("image.toml"), depth + 1)?;
            let mut programs = base_config.programs;
            programs.append(&mut config.programs);
            config.programs = programs;
            if config.cmdline.trim().is_empty() {
                config.cmdline = base_config.cmdline;
            }
        }
        config.validate(&text).map_err(in_file)?;
        Ok(config)
    }

    /// Parses and checks a definition. Errors are one line: `line N: what`.
    pub fn parse(text: &str) -> Result<ImageConfig, DefinitionError> {
        let config = Self::parse_toml(text)?;
        if config.extends.is_some() {
            return Err(DefinitionError::ExtendsWithoutFile);
        }
        config.validate(text)?;
        Ok(config)
    }

    /// The TOML alone, unchecked.
    fn parse_toml(text: &str) -> Result<ImageConfig, DefinitionError> {
        toml::from_str(text).map_err(|e| {
            // toml's messages span several lines; keep the first and the
            // position so the error stays one line.
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().lines().next().unwrap_or("invalid TOML").to_string();
            DefinitionError::Invalid { line, message }
        })
    }

    /// Checks the whole definition (with an extended image's programs
    /// merged in; those were checked in their own file, so every problem
    /// found here lies in `text`).
    fn validate(&self, text: &str) -> Result<(), DefinitionError> {
        let config = self;
        let at = |p: Problem| DefinitionError::Invalid { line: Some(line_of(text, p.span.start)), message: p.message };
        config.check().map_err(at)?;
        // Every privilege must resolve, so a definition that parses also
        // builds.
        for index in 0..config.programs.len() {
            config.privileges(index).map_err(at)?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), Problem> {
        if self.programs.is_empty() {
            return problem(0..0, "no [[program]] entries");
        }
        if self.programs.len() > abi::boot_image::MAX_PROGRAMS {
            return problem(0..0, format!("more than {} programs", abi::boot_image::MAX_PROGRAMS));
        }
        for (i, p) in self.programs.iter().enumerate() {
            let name = p.name.get_ref();
            let valid_name = !name.is_empty()
                && name.len() <= abi::boot_image::NAME_MAX
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name {
                return problem(
                    p.name.span(),
                    format!("program name {name:?} must be 1-16 letters, digits, '-' or '_'"),
                );
            }
            if *p.priority.get_ref() > LOWEST_PRIORITY {
                let message = format!("program {name:?}: priority {} is above {LOWEST_PRIORITY}", p.priority.get_ref());
                return problem(p.priority.span(), message);
            }
            if self.programs[..i].iter().any(|q| q.name.get_ref() == name) {
                return problem(p.name.span(), format!("program {name:?} is listed twice"));
            }
            if !matches!(p.restart.get_ref().as_str(), "restart" | "hold") {
                let message =
                    format!("program {name:?}: restart {:?} is not \"restart\" or \"hold\"", p.restart.get_ref());
                return problem(p.restart.span(), message);
            }
            if p.heartbeat_ms != 0 && !p.service {
                return problem(p.name.span(), format!("program {name:?}: heartbeat_ms needs service = true"));
            }
            if !matches!(p.kind.get_ref().as_str(), "user" | "system") {
                let message = format!("program {name:?}: kind {:?} is not \"user\" or \"system\"", p.kind.get_ref());
                return problem(p.kind.span(), message);
            }
        }
        if self.programs.iter().filter(|p| p.backup).count() > abi::backup::MAX_BACKUPS {
            return problem(0..0, format!("more than {} programs have backup = true", abi::backup::MAX_BACKUPS));
        }
        if self.programs.iter().filter(|p| p.poweroff_on_exit).count() > 1 {
            return problem(0..0, "more than one program has poweroff_on_exit");
        }
        Ok(())
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.programs.iter().position(|p| p.name.get_ref() == name)
    }

    /// The privileges of program `index`, before the send masks are made
    /// symmetric.
    fn privileges(&self, index: usize) -> Result<Privileges, Problem> {
        let p = &self.programs[index];
        let name = p.name.get_ref();
        let system = p.kind.get_ref() == "system";
        let mut privileges = Privileges::default();

        for (i, dst) in p.ipc.iter().enumerate() {
            if p.ipc[..i].iter().any(|d| d.get_ref() == dst.get_ref()) {
                return problem(dst.span(), format!("program {name:?}: ipc lists {:?} twice", dst.get_ref()));
            }
            if dst.get_ref() == "ALL" {
                privileges.send_to = u64::MAX >> (64 - self.programs.len());
                continue;
            }
            let Some(target) = self.index_of(dst.get_ref()) else {
                return problem(dst.span(), format!("program {name:?}: ipc names unknown program {:?}", dst.get_ref()));
            };
            privileges.send_to |= 1 << target;
        }
        // A program may name itself: its copies (spawned from the same
        // image entry) share its privilege id.

        privileges.traps = match &p.traps {
            None if system => {
                let message = format!(
                    "program {name:?}: kind \"system\" needs a traps list (no default grants traps; list exactly the IPC primitives it uses)"
                );
                return problem(p.kind.span(), message);
            }
            None => 1 << Trap::SendRec as u8,
            Some(list) => {
                let mut mask = 0;
                for t in list {
                    let Some((_, trap)) = TRAP_NAMES.iter().find(|(n, _)| n == t.get_ref()) else {
                        return problem(t.span(), format!("program {name:?}: unknown trap {:?}", t.get_ref()));
                    };
                    mask |= 1 << *trap as u8;
                }
                mask
            }
        };

        privileges.kernel_calls = match &p.kernel_calls {
            None if system => {
                let message = format!(
                    "program {name:?}: kind \"system\" needs a kernel_calls list (no default grants kernel calls; list exactly what it uses)"
                );
                return problem(p.kind.span(), message);
            }
            None => USER_KERNEL_CALLS.iter().fold(0, |mask, c| mask | 1 << *c as u32),
            Some(list) => {
                let mut mask = 0;
                for c in list {
                    let Some(call) = KernelCall::from_name(c.get_ref()) else {
                        return problem(c.span(), format!("program {name:?}: unknown kernel call {:?}", c.get_ref()));
                    };
                    mask |= 1 << call as u32;
                }
                mask
            }
        };

        if let Some(extra) = p.io_ports.get(abi::boot_image::MAX_IO_RANGES) {
            let message = format!("program {name:?}: more than {} I/O port ranges", abi::boot_image::MAX_IO_RANGES);
            return problem(extra.span(), message);
        }
        for (slot, range) in privileges.io_ranges.iter_mut().zip(&p.io_ports) {
            let text = range.get_ref();
            let (first, last) = text.split_once('-').unwrap_or((text, text));
            match (parse_port(first), parse_port(last)) {
                (Some(f), Some(l)) if f <= l && l != 0 => *slot = (f, l),
                _ => {
                    let message = format!(
                        "program {name:?}: bad I/O port range {text:?} (want \"0xFIRST-0xLAST\", FIRST <= LAST)"
                    );
                    return problem(range.span(), message);
                }
            }
        }
        if let Some(extra) = p.mmio.get(abi::boot_image::MAX_MMIO_RANGES) {
            let message = format!("program {name:?}: more than {} MMIO ranges", abi::boot_image::MAX_MMIO_RANGES);
            return problem(extra.span(), message);
        }
        for (slot, range) in privileges.mmio_ranges.iter_mut().zip(&p.mmio) {
            let Some(window) = parse_mmio(range.get_ref()) else {
                let message = format!(
                    "program {name:?}: bad MMIO range {:?} (want \"0xFIRST-0xLAST\" covering whole pages)",
                    range.get_ref()
                );
                return problem(range.span(), message);
            };
            *slot = window;
        }
        for irq in &p.irqs {
            if *irq.get_ref() >= 32 {
                return problem(irq.span(), format!("program {name:?}: IRQ {} is not 0-31", irq.get_ref()));
            }
            if *irq.get_ref() == abi::platform::IRQ_SPIN_TICK {
                let message =
                    format!("program {name:?}: IRQ {} is the VMM's spin tick (no driver may own it)", irq.get_ref());
                return problem(irq.span(), message);
            }
            privileges.irqs |= 1 << irq.get_ref();
        }
        Ok(privileges)
    }

    /// The privileges every program boots with, in program order: as
    /// configured, with the send masks made symmetric (A may send to B
    /// implies B may reply to A).
    pub fn resolved_privileges(&self) -> Result<Vec<Privileges>, DefinitionError> {
        let mut privileges = Vec::new();
        for index in 0..self.programs.len() {
            privileges
                .push(self.privileges(index).map_err(|p| DefinitionError::Invalid { line: None, message: p.message })?);
        }
        for a in 0..privileges.len() {
            for b in 0..privileges.len() {
                if privileges[a].send_to & 1 << b != 0 {
                    privileges[b].send_to |= 1 << a;
                }
            }
        }
        Ok(privileges)
    }

    /// The boot image of this definition, with each program's ELF supplied
    /// by `elf_of(name)`.
    pub fn build_image<E: std::fmt::Display>(
        &self,
        mut elf_of: impl FnMut(&str) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, DefinitionError> {
        let privileges = self.resolved_privileges()?;
        let mut programs = Vec::new();
        for (p, privileges) in self.programs.iter().zip(privileges) {
            programs.push(abi::boot_image::builder::Program {
                name: p.name.get_ref().clone(),
                priority: *p.priority.get_ref(),
                flags: p.flags(),
                privileges,
                heartbeat_ms: p.heartbeat_ms,
                elf: elf_of(p.name.get_ref()).map_err(|e| DefinitionError::Program(e.to_string()))?,
            });
        }
        abi::boot_image::builder::build(&programs).map_err(|e| DefinitionError::Build(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
description = "two programs"

[[program]]
name = "server"
kind = "system"
io_ports = ["0x3f8-0x3ff", "0x70"]
irqs = [4]
mmio = ["0xd0000000-0xd0000fff"]
kernel_calls = ["exit", "devio", "poweroff"]
traps = ["receive", "sendrec", "sendnb"]

[[program]]
name = "client"
ipc = ["server"]
poweroff_on_exit = true
"#;

    fn error_of(text: &str) -> String {
        ImageConfig::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn privileges_follow_kind_and_lists_and_replies_are_allowed() {
        let config = ImageConfig::parse(GOOD).unwrap();
        let image = config.build_image(|_| Ok::<_, String>(vec![0x7f, b'E', b'L', b'F'])).unwrap();
        let image = abi::boot_image::BootImage::parse(&image).unwrap();
        let (server, client) = (image.entry(0).privileges, image.entry(1).privileges);
        assert_eq!(client.traps, 1 << Trap::SendRec as u8);
        assert_eq!(client.send_to, 0b01);
        // The server may reply to its client.
        assert_eq!(server.send_to, 0b10);
        assert_eq!(server.traps, 1 << Trap::Receive as u8 | 1 << Trap::SendRec as u8 | 1 << Trap::SendNb as u8);
        assert!(server.allows_port(0x3fc) && server.allows_port(0x70) && !server.allows_port(0x71));
        assert_eq!(server.irqs, 1 << 4);
        assert_eq!(server.mmio_ranges, [(0xd000_0000, 0x1000), (0, 0)]);
        assert_eq!(client.mmio_ranges, [(0, 0); 2]);
        assert_eq!(client.kernel_calls & (1 << KernelCall::PowerOff as u32), 0);
        let user: u64 = USER_KERNEL_CALLS.iter().map(|c| 1 << *c as u32).sum();
        assert_eq!(client.kernel_calls, user);
        let listed = [KernelCall::Exit, KernelCall::DevIo, KernelCall::PowerOff];
        assert_eq!(server.kernel_calls, listed.iter().map(|c| 1u64 << *c as u32).sum::<u64>());
    }

    #[test]
    fn a_backup_is_a_flag_for_at_most_max_backups_programs() {
        let lent = GOOD.replace(
            "traps = [\"receive\", \"sendrec\", \"sendnb\"]",
            "traps = [\"receive\", \"sendrec\", \"sendnb\"]\nbackup = true",
        );
        let image =
            ImageConfig::parse(&lent).unwrap().build_image(|_| Ok::<_, String>(vec![0x7f, b'E', b'L', b'F'])).unwrap();
        let image = abi::boot_image::BootImage::parse(&image).unwrap();
        assert_ne!(image.entry(0).flags & abi::boot_image::FLAG_BACKUP, 0);
        assert_eq!(image.entry(1).flags & abi::boot_image::FLAG_BACKUP, 0);
        let mut many = String::new();
        for i in 0..=abi::backup::MAX_BACKUPS {
            many.push_str(&format!("[[program]]\nname = \"p{i}\"\nbackup = true\n\n"));
        }
        assert!(error_of(&many).contains("have backup = true"), "{}", error_of(&many));
    }

    #[test]
    fn an_image_extends_another_and_may_name_its_programs() {
        let dir = std::env::temp_dir().join(format!("viv-extends-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("base")).unwrap();
        std::fs::create_dir_all(dir.join("more")).unwrap();
        std::fs::write(dir.join("base/image.toml"), GOOD).unwrap();
        let more = "extends = \"base\"\n\n[[program]]\nname = \"extra\"\nipc = [\"server\"]\n";
        std::fs::write(dir.join("more/image.toml"), more).unwrap();
        let config = ImageConfig::load(&dir.join("more/image.toml")).unwrap();
        let names: Vec<&str> = config.programs.iter().map(|p| p.name.get_ref().as_str()).collect();
        assert_eq!(names, ["server", "client", "extra"]);
        std::fs::write(dir.join("more/image.toml"), more.replace("server", "nosuch")).unwrap();
        let error = ImageConfig::load(&dir.join("more/image.toml")).unwrap_err().to_string();
        assert!(error.ends_with("line 5: program \"extra\": ipc names unknown program \"nosuch\""), "{error}");
        std::fs::write(dir.join("more/image.toml"), "extends = \"../x\"\n").unwrap();
        assert!(ImageConfig::load(&dir.join("more/image.toml")).unwrap_err().to_string().contains("not an image name"));
        assert!(ImageConfig::parse(more).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn problems_name_their_line() {
        let unknown = GOOD.replace("ipc = [\"server\"]", "ipc = [\"sever\"]");
        assert_eq!(error_of(&unknown), "line 15: program \"client\": ipc names unknown program \"sever\"");
        let twice = GOOD.replace("name = \"client\"", "name = \"server\"");
        assert_eq!(error_of(&twice), "line 14: program \"server\" is listed twice");
        let range = GOOD.replace("\"0x70\"", "\"0x80-0x70\"");
        assert!(error_of(&range).starts_with("line 7: program \"server\": bad I/O port range \"0x80-0x70\""));
        let trap = GOOD.replace("\"receive\", \"sendrec\"", "\"sendrec\", \"yield\"");
        assert_eq!(error_of(&trap), "line 11: program \"server\": unknown trap \"yield\"");
        let no_traps = GOOD.replace("traps = [\"receive\", \"sendrec\", \"sendnb\"]\n", "");
        assert!(error_of(&no_traps).starts_with("line 6: program \"server\": kind \"system\" needs a traps list"));
        let call = GOOD.replace("\"devio\", \"poweroff\"", "\"reboot\"");
        assert_eq!(error_of(&call), "line 10: program \"server\": unknown kernel call \"reboot\"");
        let unlisted = GOOD.replace("kernel_calls = [\"exit\", \"devio\", \"poweroff\"]\n", "");
        assert!(
            error_of(&unlisted).starts_with("line 6: program \"server\": kind \"system\" needs a kernel_calls list")
        );
        let mmio = GOOD.replace("0xd0000fff", "0xd0000ffe");
        assert!(error_of(&mmio).starts_with("line 9: program \"server\": bad MMIO range"), "{}", error_of(&mmio));
        let irq = GOOD.replace("irqs = [4]", "irqs = [40]");
        assert_eq!(error_of(&irq), "line 8: program \"server\": IRQ 40 is not 0-31");
        let spin = GOOD.replace("irqs = [4]", "irqs = [9]");
        assert_eq!(error_of(&spin), "line 8: program \"server\": IRQ 9 is the VMM's spin tick (no driver may own it)");
        let field = GOOD.replace("irqs = [4]", "irq = [4]");
        assert!(error_of(&field).starts_with("line 8: unknown field `irq`"), "{}", error_of(&field));
        let priority = GOOD.replace("kind = \"system\"", "priority = 99");
        assert_eq!(error_of(&priority), "line 6: program \"server\": priority 99 is above 15");
        assert!(error_of("description = 3").contains("line 1"));
    }
}
