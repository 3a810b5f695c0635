//! Why SWIFI could not mutate a target (recorded in the mutation's
//! `error`, never fatal to the run).

/// Why no mutation was made, or why the ELF's functions could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SwifiError {
    /// The program's file is not a 64-bit ELF.
    #[error("not an ELF64 file: {0}")]
    NotElf(String),
    /// The ELF's headers or symbols do not parse.
    #[error("{0}")]
    BadElf(String),
    /// An executable segment points outside the file.
    #[error("an executable segment lies outside the file")]
    SegmentOutside,
    /// The ELF has no executable segment.
    #[error("no executable PT_LOAD segment")]
    NoExecutableSegment,
    /// The boot image does not parse.
    #[error("boot image: {0}")]
    BootImage(String),
    /// The boot image has no program of this name.
    #[error("the boot image has no program {0:?}")]
    NoProgram(String),
    /// The boot image's ELF is not the code in memory.
    #[error("the boot image's ELF of {program:?} differs from its code in memory ({bytes} bytes)")]
    Differs {
        /// The program.
        program: String,
        /// Bytes that differ.
        bytes: usize,
    },
    /// The target's code (as its page tables map it) is larger than SWIFI
    /// copies and decodes at a Stop ([`super::MAX_CODE_PAGES`]).
    #[error("decode limit: the target maps more than {0} code pages")]
    TooMuchCode(usize),
    /// The target has no code pages at all.
    #[error("the target has no code pages")]
    NoCodePages,
    /// No instruction suits the fault type.
    #[error("no {0} candidate in the target's code")]
    NoCandidate(&'static str),
    /// Candidates there were, but none could be mutated.
    #[error("no {0} candidate could be mutated")]
    NotMutated(&'static str),
    /// An address to write is not in the target's code.
    #[error("{0:#x} is not code")]
    NotCode(u64),
    /// Guest memory could not be written.
    #[error("{0}")]
    Memory(vm_memory::GuestMemoryError),
}
