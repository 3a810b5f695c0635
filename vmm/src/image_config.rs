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
//! ```

use serde::Deserialize;
use std::path::Path;

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
    /// The programs, in boot order (a program's index is its endpoint slot).
    #[serde(rename = "program")]
    pub programs: Vec<ProgramConfig>,
}

/// One program of an image.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramConfig {
    /// Program name; also the binary built from guest-servers/.
    pub name: String,
    /// Scheduling priority.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Power the machine off with this program's exit status.
    #[serde(default)]
    pub poweroff_on_exit: bool,
}

fn default_priority() -> u8 {
    8
}

impl ImageConfig {
    /// Reads and checks `path`; the error names the file and the problem.
    pub fn load(path: &Path) -> Result<ImageConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a definition.
    pub fn parse(text: &str) -> Result<ImageConfig, String> {
        let config: ImageConfig = toml::from_str(text).map_err(|e| {
            // toml's messages span several lines; keep the first and the
            // position so the error stays one line.
            let line = e.span().map(|s| text[..s.start].lines().count().max(1));
            let first = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string();
            match line {
                Some(n) => format!("line {n}: {first}"),
                None => first,
            }
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.programs.is_empty() {
            return Err("no [[program]] entries".into());
        }
        if self.programs.len() > abi::boot_image::MAX_PROGRAMS {
            return Err(format!(
                "more than {} programs",
                abi::boot_image::MAX_PROGRAMS
            ));
        }
        for (i, p) in self.programs.iter().enumerate() {
            let valid_name = !p.name.is_empty()
                && p.name.len() <= abi::boot_image::NAME_MAX
                && p.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name {
                return Err(format!(
                    "program {}: name {:?} must be 1-16 letters, digits, '-' or '_'",
                    i + 1,
                    p.name
                ));
            }
            if p.priority > LOWEST_PRIORITY {
                return Err(format!(
                    "program {:?}: priority {} is above {LOWEST_PRIORITY}",
                    p.name, p.priority
                ));
            }
            if self.programs[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("program {:?} is listed twice", p.name));
            }
        }
        if self.programs.iter().filter(|p| p.poweroff_on_exit).count() > 1 {
            return Err("more than one program has poweroff_on_exit".into());
        }
        Ok(())
    }

    /// The boot image of this definition, with each program's ELF supplied
    /// by `elf_of(name)`.
    pub fn build_image(
        &self,
        mut elf_of: impl FnMut(&str) -> Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>, String> {
        let mut programs = Vec::new();
        for p in &self.programs {
            programs.push(abi::boot_image::builder::Program {
                name: p.name.clone(),
                priority: p.priority,
                flags: if p.poweroff_on_exit {
                    abi::boot_image::FLAG_POWEROFF_ON_EXIT
                } else {
                    0
                },
                elf: elf_of(&p.name)?,
            });
        }
        abi::boot_image::builder::build(&programs).map_err(|e| e.to_string())
    }
}
