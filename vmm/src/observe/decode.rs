//! Decoding drained records: the guest wrote them, so nothing here may
//! trust them. Bad bytes become [`BadRecord`]s in the report, a break in
//! the sequence numbers becomes a gap; nothing panics (a property test
//! feeds random bytes).

use abi::trace::{Record, RecordError, RECORD_SIZE};

/// A record that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Its position in the drained log.
    pub index: usize,
    /// Why it was refused.
    pub why: String,
}

/// The decoded log.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Good records, in log order.
    pub records: Vec<Record>,
    /// Refused records.
    pub bad: Vec<BadRecord>,
    /// Sequence numbers missing between good records (lost or bad).
    pub missing: u64,
}

fn describe(e: RecordError) -> String {
    match e {
        RecordError::Truncated => "truncated".into(),
        RecordError::BadKind(k) => format!("unknown kind {k}"),
        RecordError::Reserved => "reserved bytes not zero".into(),
        RecordError::BadPrimitive(p) => format!("unknown primitive {p}"),
    }
}

/// Decodes raw records.
pub fn decode(raw: &[[u8; RECORD_SIZE]]) -> Decoded {
    let mut out = Decoded::default();
    let mut next_seq: Option<u64> = None;
    for (index, bytes) in raw.iter().enumerate() {
        match Record::from_bytes(bytes) {
            Ok(r) => {
                if let Some(expected) = next_seq {
                    if r.seq != expected {
                        if r.seq > expected {
                            out.missing = out.missing.saturating_add(r.seq - expected);
                        } else {
                            out.bad
                                .push(BadRecord { index, why: format!("sequence {} after {}", r.seq, expected - 1) });
                            continue;
                        }
                    }
                }
                next_seq = r.seq.checked_add(1);
                out.records.push(r);
            }
            Err(e) => out.bad.push(BadRecord { index, why: describe(e) }),
        }
    }
    out
}

/// Decodes a byte stream of records (e.g. a file); a short tail is one
/// bad record.
pub fn decode_bytes(bytes: &[u8]) -> Decoded {
    let chunks = bytes.chunks_exact(RECORD_SIZE);
    let tail = chunks.remainder().len();
    let raw: Vec<[u8; RECORD_SIZE]> = chunks.map(|c| c.try_into().unwrap_or([0; RECORD_SIZE])).collect();
    let mut out = decode(&raw);
    if tail != 0 {
        out.bad.push(BadRecord { index: raw.len(), why: format!("truncated ({tail} bytes)") });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::trace::{Event, Kind};
    use proptest::prelude::*;

    fn record(seq: u64) -> [u8; RECORD_SIZE] {
        Record { seq, tsc: 0, ticks: 0, kind: Kind::Send, event: Event { kind: 1, primitive: 3, ..Event::default() } }
            .to_bytes()
    }

    #[test]
    fn gaps_and_garbage_are_reported() {
        let mut raw = vec![record(0), record(1), record(5), [0xAA; RECORD_SIZE], record(6), record(2)];
        raw[1][20] = 1;
        let d = decode(&raw);
        assert_eq!(d.records.len(), 4);
        assert_eq!(d.missing, 3);
        assert_eq!(d.bad.len(), 2, "{:?}", d.bad);
        assert_eq!(d.bad[0].index, 3);
        let d = decode_bytes(&[0u8; 70]);
        assert_eq!(d.bad.len(), 2);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let d = decode_bytes(&bytes);
            prop_assert!(d.records.len() + d.bad.len() >= bytes.len() / RECORD_SIZE);
            let analysis = super::super::analysis::Analysis::new(&d.records, None);
            let _ = analysis.count_report();
            let _ = super::super::export::jsonl(&analysis);
            let _ = super::super::perfetto::perfetto(&analysis, super::super::perfetto::Clock::Tsc, Some(1));
            let _ = super::super::export::msc_svg(&analysis, None);
        }

        #[test]
        fn random_records_with_valid_kinds_never_panic(
            words in proptest::collection::vec(any::<[u64; 8]>(), 0..64),
            kinds in proptest::collection::vec(1u8..=14, 64),
        ) {
            let raw: Vec<[u8; RECORD_SIZE]> = words.iter().zip(&kinds).map(|(w, k)| {
                let mut b = [0u8; RECORD_SIZE];
                for (i, word) in w.iter().enumerate() {
                    b[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
                }
                b[20] = *k;
                b[21] %= 7;
                b[22] = 0;
                b[23] = 0;
                b[44..48].fill(0);
                b
            }).collect();
            let d = decode(&raw);
            let analysis = super::super::analysis::Analysis::new(&d.records, None);
            let _ = analysis.count_report();
            let _ = super::super::export::jsonl(&analysis);
            let _ = super::super::perfetto::perfetto(&analysis, super::super::perfetto::Clock::Tsc, Some(1));
            let _ = super::super::export::msc_svg(&analysis, None);
        }
    }
}
