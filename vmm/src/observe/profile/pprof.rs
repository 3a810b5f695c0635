//! A run's profile in pprof's format: the `Profile` message of Google's
//! `profile.proto`, protobuf-encoded and gzipped, as `go tool pprof`,
//! `pprof`, Pyroscope, Grafana and most profile viewers read it.
//!
//! Why these choices:
//! - Only the messages and fields a sampled call-stack profile needs are
//!   declared (prost derives their encoding); the field numbers are
//!   profile.proto's, which is all that makes the file readable.
//! - The process is the outermost frame of every sample, as in the folded
//!   stacks, so a flame graph groups by process, and is also the sample's
//!   `process` label, so `pprof -tagfocus process=vfs` selects one. The
//!   label `mode` says user, kernel or idle.
//! - A sample is worth one count and 1/hz seconds of guest time (the
//!   sampler's period), so pprof can show either.
//! - Frames carry names, not addresses (the report keeps no more), so each
//!   distinct frame is one function and one location; a function's
//!   file name says where it runs: `kernel` or the process.

use std::collections::HashMap;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;

use super::report::{Frame, Profile};
use super::Mode;

/// profile.proto's `Profile` (the fields used here).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PprofProfile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Index 0 must be the empty string.
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
}

/// profile.proto's `ValueType`: string-table indices of a type and unit.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// profile.proto's `Sample`: locations leaf first, one value per sample type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// profile.proto's `Label` (string labels only here).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
}

/// profile.proto's `Location`, with one `Line`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

/// profile.proto's `Line`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
}

/// profile.proto's `Function`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// The string table being built: each string once, "" at index 0.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings::default();
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// A frame as pprof sees it: its name and where it runs.
#[derive(Clone, PartialEq, Eq, Hash)]
struct FrameKey {
    name: String,
    file: String,
}

impl Profile {
    /// The profile as profile.proto's `Profile` message; `comment` is
    /// kept in the file (pprof shows it with `-comments`).
    pub fn pprof(&self, comment: &str) -> PprofProfile {
        let mut strings = Strings::new();
        let mut ids: HashMap<FrameKey, u64> = HashMap::new();
        let mut function = Vec::new();
        let mut location = Vec::new();
        let mut id_of = |key: FrameKey, strings: &mut Strings| -> u64 {
            if let Some(&id) = ids.get(&key) {
                return id;
            }
            // Ids start at 1: 0 means "none" in profile.proto.
            let id = ids.len() as u64 + 1;
            let name = strings.get(&key.name);
            function.push(Function { id, name, system_name: name, filename: strings.get(&key.file) });
            location.push(Location { id, line: vec![Line { function_id: id }] });
            ids.insert(key, id);
            id
        };
        let period = if self.hz == 0 { 0 } else { 1_000_000_000 / i64::from(self.hz) };
        let (process_key, mode_key) = (strings.get("process"), strings.get("mode"));
        let mut sample = Vec::with_capacity(self.stacks.len());
        for s in &self.stacks {
            let file = |f: &Frame| if f.kernel { "kernel".to_string() } else { s.process.clone() };
            let root = FrameKey { name: s.process.clone(), file: s.process.clone() };
            let mut location_id: Vec<u64> = s
                .frames
                .iter()
                .rev()
                .map(|f| id_of(FrameKey { name: f.name.clone(), file: file(f) }, &mut strings))
                .collect();
            location_id.push(id_of(root, &mut strings));
            let mode = match s.mode {
                Mode::User => "user",
                Mode::Kernel => "kernel",
                Mode::Idle => "idle",
            };
            let label = vec![
                Label { key: process_key, str: strings.get(&s.process) },
                Label { key: mode_key, str: strings.get(mode) },
            ];
            sample.push(Sample { location_id, value: vec![1, period], label });
        }
        let samples = ValueType { r#type: strings.get("samples"), unit: strings.get("count") };
        let cpu = ValueType { r#type: strings.get("cpu"), unit: strings.get("nanoseconds") };
        let comment = vec![strings.get(comment)];
        PprofProfile {
            sample_type: vec![samples, cpu.clone()],
            sample,
            location,
            function,
            string_table: strings.table,
            period_type: Some(cpu),
            period,
            comment,
        }
    }

    /// [`Profile::pprof`], encoded and gzipped: the bytes of a `.pb.gz` file.
    pub fn pprof_bytes(&self, comment: &str) -> std::io::Result<Vec<u8>> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&self.pprof(comment).encode_to_vec())?;
        gz.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::profile::report::Stack;

    fn profile() -> Profile {
        let frame = |n: &str, kernel| Frame { name: n.into(), kernel };
        let user =
            Stack { process: "sh".into(), mode: Mode::User, frames: vec![frame("main", false), frame("work", false)] };
        let kernel = Stack {
            process: "vfs".into(),
            mode: Mode::Kernel,
            frames: vec![frame("main", false), frame("trap_entry", true)],
        };
        Profile { hz: 1000, stacks: vec![user.clone(), user, kernel], failed: 0, dropped: 0 }
    }

    /// The gzipped bytes decode back to the message, and the message says
    /// what the stacks say: leaf first, the process outermost, labels,
    /// values and ids that resolve.
    #[test]
    fn the_file_decodes_to_the_stacks() {
        let bytes = profile().pprof_bytes("viv profile test").unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut raw).unwrap();
        let p = PprofProfile::decode(&raw[..]).unwrap();
        assert_eq!(p.string_table[0], "");
        let s = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!((s(p.sample_type[0].r#type), s(p.sample_type[0].unit)), ("samples", "count"));
        assert_eq!((s(p.sample_type[1].r#type), s(p.sample_type[1].unit)), ("cpu", "nanoseconds"));
        assert_eq!(p.period, 1_000_000);
        assert_eq!(s(p.comment[0]), "viv profile test");
        let function = |location: u64| {
            let l = p.location.iter().find(|l| l.id == location).unwrap();
            let f = p.function.iter().find(|f| f.id == l.line[0].function_id).unwrap();
            (s(f.name), s(f.filename))
        };
        let names = |i: usize| p.sample[i].location_id.iter().map(|&l| function(l)).collect::<Vec<_>>();
        assert_eq!(names(0), [("work", "sh"), ("main", "sh"), ("sh", "sh")]);
        assert_eq!(names(2), [("trap_entry", "kernel"), ("main", "vfs"), ("vfs", "vfs")]);
        let labels = |i: usize| p.sample[i].label.iter().map(|l| (s(l.key), s(l.str))).collect::<Vec<_>>();
        assert_eq!(labels(2), [("process", "vfs"), ("mode", "kernel")]);
        assert!(p.sample.iter().all(|x| x.value == [1, 1_000_000]));
        // `main` of sh and of vfs are different functions; each once.
        assert_eq!(p.function.len(), 6);
        assert_eq!(p.location.len(), 6);
    }
}
