//! Which process a software breakpoint in user code goes into, if any.
//!
//! Why this is decided here: every program is linked at the same user
//! addresses, and gdb's insertion (`Z0`) names an address, not a process.
//! The stub used to put it into the address space of the thread gdb last
//! looked at, which after a stop in another process (gdb takes its
//! breakpoints out at every stop and puts them back to continue) or a
//! `thread` command is a process running another program: its `int3` then
//! landed in the middle of that program's code, where it never hit as
//! the debugger's and could end that process. Now:
//!
//! - once gdb has said which program's symbols it uses (`monitor program
//!   NAME`, which the generated script's `viv-NAME` issues), the
//!   breakpoint goes into a process running that program: the selected
//!   thread's if it runs it, else the first one that does (all of a boot
//!   program's processes share its code pages);
//! - without that, into the selected thread's process;
//! - and only if the address lies in an executable segment of that
//!   process's program's ELF. Otherwise gdb is refused (its `Z0` fails)
//!   and the reason, with what to type instead, is logged.

use object::{Object, ObjectSegment, SegmentFlags};

/// A process, as far as the choice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Its thread id.
    pub tid: usize,
    /// The program it runs.
    pub program: &'a str,
}

/// What the stub knows when gdb asks for a user-code breakpoint.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub addr: u64,
    /// The thread gdb last looked at (`None`: the kernel, no process).
    pub selected: Option<Candidate<'a>>,
    /// Every process.
    pub processes: &'a [Candidate<'a>],
    /// The program whose symbols gdb uses (`monitor program NAME`).
    pub symbols: Option<&'a str>,
}

/// Why a user-code breakpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "breakpoint at {addr:#x} refused: no process is selected (user code is per process); \
         type viv-NAME first (it loads NAME's symbols and selects its thread)"
    )]
    NoProcess { addr: u64 },
    #[error(
        "breakpoint at {addr:#x} refused: gdb has {program}'s symbols but no process runs {program} now; \
         delete it, or continue once {program} runs and type viv-{program} again"
    )]
    NotRunning { addr: u64, program: String },
    #[error(
        "breakpoint at {addr:#x} refused: it is not code of {program} (Thread 1.{tid}); \
         type viv-NAME for the program whose code it is (it loads its symbols and selects its thread)"
    )]
    NotCode { addr: u64, tid: usize, program: String },
    #[error(
        "breakpoint at {addr:#x} refused: the VMM has no ELF of {program} (Thread 1.{tid}) to check that \
         it is code there"
    )]
    UnknownProgram { addr: u64, tid: usize, program: String },
}

/// The thread whose process the breakpoint of `request` goes into;
/// `in_code(program)` says whether the address lies in an executable
/// segment of `program` (`None`: no ELF of it).
pub fn choose(request: &Request<'_>, in_code: impl Fn(&str) -> Option<bool>) -> Result<usize, Refusal> {
    let addr = request.addr;
    let target = match request.symbols {
        Some(symbols) => request
            .selected
            .filter(|p| p.program == symbols)
            .or_else(|| request.processes.iter().copied().find(|p| p.program == symbols))
            .ok_or_else(|| Refusal::NotRunning { addr, program: symbols.into() })?,
        None => request.selected.ok_or(Refusal::NoProcess { addr })?,
    };
    let (tid, program) = (target.tid, target.program.to_string());
    match in_code(target.program) {
        Some(true) => Ok(tid),
        Some(false) => Err(Refusal::NotCode { addr, tid, program }),
        None => Err(Refusal::UnknownProgram { addr, tid, program }),
    }
}

/// Whether `addr` lies in an executable loadable segment of `elf`
/// (`None`: not an ELF the `object` crate reads).
pub fn is_code(elf: &[u8], addr: u64) -> Option<bool> {
    let file = object::File::parse(elf).ok()?;
    Some(file.segments().any(|segment| {
        executable(segment.flags())
            && (segment.address()..segment.address().saturating_add(segment.size())).contains(&addr)
    }))
}

/// Whether a segment with `flags` is executable (ELF's `PF_X`).
pub fn executable(flags: SegmentFlags) -> bool {
    matches!(flags, SegmentFlags::Elf { p_flags, .. } if p_flags.0 & object::elf::PF_X.0 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: u64 = 0x4000_1234;
    const VFS: Candidate = Candidate { tid: 9, program: "vfs" };
    const EXT2FS: Candidate = Candidate { tid: 11, program: "ext2fs" };
    const ALL: &[Candidate] = &[Candidate { tid: 2, program: "rs" }, VFS, EXT2FS];

    fn choice(selected: Option<Candidate>, symbols: Option<&str>, code: &[&str]) -> Result<usize, Refusal> {
        let request = Request { addr: AT, selected, processes: ALL, symbols };
        choose(&request, |program| Some(code.contains(&program)).filter(|_| program != "rs"))
    }

    #[test]
    fn a_breakpoint_goes_into_the_program_gdb_has_symbols_of() {
        // The natural flow: viv-vfs loaded VFS's symbols and selected VFS.
        assert_eq!(choice(Some(VFS), Some("vfs"), &["vfs", "ext2fs"]), Ok(9));
        // ext2fs selected (a stop there, or `thread`): still into VFS,
        // although the address is code in ext2fs too (the programs share
        // their addresses).
        assert_eq!(choice(Some(EXT2FS), Some("vfs"), &["vfs", "ext2fs"]), Ok(9));
        assert_eq!(choice(None, Some("vfs"), &["vfs"]), Ok(9));
        // Without the script's `monitor program`: the selected process.
        assert_eq!(choice(Some(EXT2FS), None, &["vfs", "ext2fs"]), Ok(11));
    }

    #[test]
    fn a_breakpoint_never_goes_where_it_is_not_code() {
        // Not code of the program (data, or past its text).
        let refusal = choice(Some(VFS), Some("vfs"), &["ext2fs"]).unwrap_err();
        assert_eq!(refusal, Refusal::NotCode { addr: AT, tid: 9, program: "vfs".into() });
        let message = refusal.to_string();
        assert!(message.contains("0x40001234") && message.contains("not code of vfs (Thread 1.9)"), "{message}");
        assert!(message.contains("viv-NAME"), "{message}");
        assert_eq!(
            choice(Some(EXT2FS), None, &["vfs"]),
            Err(Refusal::NotCode { addr: AT, tid: 11, program: "ext2fs".into() })
        );
        // The symbols' program runs nowhere; no process selected.
        let refusal = choice(Some(VFS), Some("sh"), &["sh"]).unwrap_err();
        assert_eq!(refusal, Refusal::NotRunning { addr: AT, program: "sh".into() });
        assert!(refusal.to_string().contains("no process runs sh"), "{refusal}");
        assert_eq!(choice(None, None, &["vfs"]), Err(Refusal::NoProcess { addr: AT }));
        // A program the VMM has no ELF of.
        let rs = Candidate { tid: 2, program: "rs" };
        assert!(matches!(choice(Some(rs), None, &["rs"]), Err(Refusal::UnknownProgram { tid: 2, .. })));
    }

    #[test]
    fn code_is_an_executable_segment_of_the_program() {
        let elf = crate::image::embedded::program_with_debug_info("vfs").expect("VFS's ELF is embedded");
        let file = object::File::parse(elf).unwrap();
        let entry = file.entry();
        assert_eq!(is_code(elf, entry), Some(true), "the entry point {entry:#x}");
        // Below the user range nothing is VFS's.
        assert_eq!(is_code(elf, 0x1000), Some(false));
        // A writable data segment's address is no code.
        let data = file
            .segments()
            .find(|s| !executable(s.flags()) && s.size() > 0)
            .map(|s| s.address())
            .expect("VFS has a segment that is not code");
        assert_eq!(is_code(elf, data), Some(false));
        assert_eq!(is_code(b"not an ELF", entry), None);
    }
}
