//! Reading a campaign file's TOML into raw structs that keep every
//! value's byte span, so that [`super::check`] can name the line of a bad
//! field; a TOML syntax or type error becomes the same one-line
//! `LINE: FIELD: what` here.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::CampaignError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCampaign {
    pub(super) name: Option<Spanned<String>>,
    pub(super) image: Spanned<String>,
    pub(super) disk: Option<Spanned<String>>,
    pub(super) workload: Spanned<String>,
    pub(super) experiments: Spanned<u64>,
    pub(super) seed: Spanned<u64>,
    pub(super) timeout: Option<Spanned<Value>>,
    pub(super) virtual_timeout: Option<Spanned<Value>>,
    pub(super) instruction_budget: Option<Spanned<u64>>,
    pub(super) degraded_factor: Option<Spanned<Value>>,
    pub(super) memory: Option<Spanned<u64>>,
    pub(super) start: Option<Spanned<String>>,
    pub(super) weaken: Option<Spanned<Vec<String>>>,
    #[serde(rename = "fault", default)]
    pub(super) faults: Vec<RawFault>,
    #[serde(default)]
    pub(super) expect: Option<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub(super) targets: Spanned<Vec<Spanned<String>>>,
    pub(super) side: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) peers: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) primitives: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) message_types: Vec<Spanned<u32>>,
    pub(super) nth: Option<Spanned<Value>>,
    pub(super) ticks: Option<Spanned<Value>>,
    pub(super) window: Option<Spanned<u64>>,
    pub(super) probability: Option<Spanned<Value>>,
    pub(super) actions: Spanned<Vec<Spanned<String>>>,
    pub(super) arg_a: Option<Spanned<Value>>,
    pub(super) arg_b: Option<Spanned<Value>>,
    pub(super) bits: Option<Spanned<u32>>,
    pub(super) limit: Option<Spanned<u32>>,
    pub(super) swifi: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub(super) exit_status: Option<Spanned<i64>>,
    pub(super) output: Option<String>,
    pub(super) check: Option<Spanned<String>>,
    pub(super) check_output: Option<Spanned<String>>,
    pub(super) no_panic: Option<bool>,
    pub(super) no_hang: Option<bool>,
    #[serde(default)]
    pub(super) min_restarts: BTreeMap<String, Spanned<u32>>,
    pub(super) min_injected: Option<Spanned<Value>>,
    pub(super) fsck: Option<bool>,
}

/// Reads `text` as a campaign file (fields unchecked).
pub(super) fn read(text: &str) -> Result<RawCampaign, CampaignError> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().lines().next().unwrap_or("invalid TOML").to_string();
        match e.span() {
            Some(s) => {
                let field = field_at(text, s.start).unwrap_or_else(|| "file".into());
                CampaignError::Invalid { line: line_of(text, s.start), field, message }
            }
            None => CampaignError::Invalid { line: 1, field: "file".into(), message },
        }
    })
}

/// The 1-based line of byte `offset`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

/// The field a TOML error points at: the key on its line, prefixed by the
/// table header above it.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let line_no = line_of(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no - 1)?.trim();
    if line.starts_with('[') {
        return Some(line.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('['));
    let table = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}
