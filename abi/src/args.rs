//! Argument blocks: how `exec` hands a program its arguments.
//!
//! A block is the arguments as NUL-terminated strings back to back
//! (`"sh\0-c\0echo hi\0"`); the number of arguments is the number of NULs.
//! The kernel copies the block to the top of the new program's stack and
//! starts it with `rdi` = the block's address and `rsi` = its length.

/// Most bytes one block may have.
pub const MAX_ARGS_LEN: usize = 4096;

// init runs the command from the kernel command line as `/bin/sh -c CMD`:
// a block of that must fit whatever command line viv accepts.
const _: () = assert!(MAX_ARGS_LEN >= crate::layout::kip::CMDLINE_MAX + "/bin/sh\0-c\0\0".len());

/// Encodes `args` into `out`; returns the length, or `None` when it does
/// not fit or an argument contains a NUL.
pub fn encode(args: &[&str], out: &mut [u8]) -> Option<usize> {
    let mut at = 0;
    for arg in args {
        let bytes = arg.as_bytes();
        if bytes.contains(&0) || at + bytes.len() + 1 > out.len().min(MAX_ARGS_LEN) {
            return None;
        }
        out[at..at + bytes.len()].copy_from_slice(bytes);
        out[at + bytes.len()] = 0;
        at += bytes.len() + 1;
    }
    Some(at)
}

/// The arguments of a block (a trailing part without NUL is ignored).
pub fn decode(block: &[u8]) -> impl Iterator<Item = &str> {
    let complete = block.iter().rposition(|&b| b == 0).map_or(0, |last| last + 1);
    block[..complete]
        .split(|&b| b == 0)
        .take(block[..complete].iter().filter(|&&b| b == 0).count())
        .map(|arg| core::str::from_utf8(arg).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip() {
        let mut buf = [0u8; 64];
        let n = encode(&["sh", "-c", "echo hi", ""], &mut buf).unwrap();
        assert_eq!(&buf[..n], b"sh\0-c\0echo hi\0\0");
        let args: [&str; 4] = {
            let mut it = decode(&buf[..n]);
            core::array::from_fn(|_| it.next().unwrap())
        };
        assert_eq!(args, ["sh", "-c", "echo hi", ""]);
        assert_eq!(decode(&buf[..n]).count(), 4);
        assert_eq!(decode(b"a\0partial").count(), 1);
        assert_eq!(decode(b"").count(), 0);
        assert!(encode(&["a\0b"], &mut buf).is_none());
        assert!(encode(&["toolong"], &mut buf[..4]).is_none());
    }
}
