//! The trace as Chrome trace-event JSON for ui.perfetto.dev: one track
//! per process, each message a slice on the sender's and the receiver's
//! track joined by a flow arrow, each SENDREC a slice on the caller's
//! track from its request to its reply, each SENDA request (and each
//! request sent by SENDNB, as VFS sends ext2fs its requests) an async
//! slice from the request to the server's reply.
//!
//! Time: by default the records' TSC, turned into nanoseconds with the
//! vCPU's TSC frequency (`TraceLog::tsc_khz`), so the picture shows where
//! the time went ([`Clock::Tsc`]). The TSC is the host's, so that view
//! differs from run to run; [`Clock::Seq`] puts record `n` at `n` µs
//! instead, the exact order of events and the same for the same trace
//! (the TSC is then left out of the slices' arguments too).
//!
//! What a viewer relies on, and why it holds here:
//!
//! * Slices on one track nest and never overlap. Times strictly grow
//!   from record to record (a TSC that stands still or goes back is moved
//!   to just after the previous record), and a record's slices last at
//!   most until the next record; a SENDREC slice starts at a record and
//!   ends just after the reply's slice (or before the caller's next own
//!   action, when no reply came), so it holds the slices in between
//!   whole. A SENDREC span that would still cross another (a trace the
//!   guest garbled) is left out, never drawn overlapping.
//! * Flows bind to slices by id (`bind_id` with `flow_out` / `flow_in`),
//!   and every message gets both slices, so every flow has both ends.
//! * Every track is named: the process's program names over its life
//!   (exec changes them) and its endpoint, as a thread of the one process
//!   "vivarium guest".

use std::collections::{BTreeMap, HashMap};

use abi::syscall::Trap;
use abi::trace::{Kind, Record};
use abi::Endpoint;
use serde_json::{json, Value};

use super::analysis::{call_name, event_name, Analysis};

/// Where the slices are in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The records' TSC, in nanoseconds since the first record.
    #[default]
    Tsc,
    /// Record `n` at `n` µs: the order of events, deterministic.
    Seq,
}

/// Longest slice of one record, in ns (shorter when the next record comes
/// sooner).
const EVENT_NS: u64 = 1000;

/// The Perfetto JSON of `a`. `tsc_khz` is the TSC frequency for
/// [`Clock::Tsc`]; without it the sequence clock is used (the file's
/// `metadata.clock` says which).
pub fn perfetto(a: &Analysis, clock: Clock, tsc_khz: Option<u32>) -> String {
    let (times, clock_used) = match (clock, tsc_khz.filter(|&k| k > 0)) {
        (Clock::Tsc, Some(khz)) => (tsc_times(a.records, khz), "tsc"),
        _ => (seq_times(a.records.len()), "seq"),
    };
    let durations: Vec<u64> =
        (0..times.len()).map(|i| times.get(i + 1).map_or(EVENT_NS, |next| (next - times[i]).min(EVENT_NS))).collect();
    let mut tracks = Tracks::default();
    let mut slices: Vec<Slice> = Vec::new();
    let mut spans = Spans::default();
    for (i, r) in a.records.iter().enumerate() {
        let e = &r.event;
        let (t, d) = (times[i], durations[i]);
        let (src_name, dst_name) = (&a.names[i].0, &a.names[i].1);
        let s = tracks.get(e.src, src_name);
        if let Some(span) = spans.caller_acts(actor(r), i) {
            slices.push(span.into_slice(t, "no reply: the caller went on"));
        }
        let name = event_name(r);
        let mut args = json!({"seq": r.seq, "cause": e.cause, "src": src_name, "dst": dst_name,
                              "mtype": e.mtype, "result": e.result});
        // The host's TSC differs between runs: the sequence view leaves
        // it out, so the same trace gives the same file.
        if clock_used == "tsc" {
            args["tsc"] = r.tsc.into();
        }
        if r.kind.is_message() && e.src != e.dst {
            let dst = tracks.get(e.dst, dst_name);
            slices.push(Slice::event(s, t, d, &name, args.clone()).flow(i as u64, true));
            slices.push(Slice::event(dst, t, d, &name, args).flow(i as u64, false));
        } else {
            slices.push(Slice::event(s, t, d, &name, args));
        }
        if let Some(span) = spans.reply(r, t + d) {
            slices.push(span.into_slice(t + d, "answered"));
        }
        spans.request(r, i, s, t);
    }
    let end = times.last().zip(durations.last()).map_or(0, |(t, d)| t + d);
    for (_, span) in spans.open.into_values() {
        slices.push(span.into_slice(end, "open at the end of the trace"));
    }
    let mut unanswered: Vec<(u64, String)> = spans.pending_async.into_values().collect();
    unanswered.sort();
    for (id, name) in unanswered {
        spans
            .asynchronous
            .push(json!({"name": name, "cat": "senda", "ph": "e", "id": id, "ts": micros(end), "pid": 1}));
    }
    let slices = drop_crossing_spans(slices);
    let mut events: Vec<Value> =
        vec![json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "vivarium guest"}})];
    for (tid, name) in tracks.names() {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}));
    }
    events.extend(slices.iter().map(Slice::to_json));
    events.extend(spans.asynchronous);
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "metadata": {"clock": clock_used, "tsc_khz": tsc_khz},
    })
    .to_string()
}

/// Record `n` at `n` µs.
fn seq_times(n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| i * 1000).collect()
}

/// Each record's TSC in ns since the first record, strictly growing.
fn tsc_times(records: &[Record], khz: u32) -> Vec<u64> {
    let first = records.first().map_or(0, |r| r.tsc);
    let mut last: Option<u64> = None;
    records
        .iter()
        .map(|r| {
            let ticks = u128::from(r.tsc.saturating_sub(first));
            let ns = u64::try_from(ticks * 1_000_000 / u128::from(khz)).unwrap_or(u64::MAX / 2);
            let ns = last.map_or(ns, |l| ns.max(l + 1));
            last = Some(ns);
            ns
        })
        .collect()
}

/// The process that acts in a record: the receiver when it takes a
/// message, else the sender (or the process that spawns, execs, exits).
fn actor(r: &Record) -> u32 {
    match r.kind {
        Kind::Receive | Kind::NotifyReceived => r.event.dst,
        _ => r.event.src,
    }
}

/// Tracks by endpoint, numbered in order of appearance.
#[derive(Default)]
struct Tracks {
    by_endpoint: HashMap<u32, u64>,
    /// Per track: its endpoint and the names it had, in order.
    names: BTreeMap<u64, (u32, Vec<String>)>,
}

impl Tracks {
    fn get(&mut self, endpoint: u32, name: &str) -> u64 {
        let next = self.by_endpoint.len() as u64 + 1;
        let tid = *self.by_endpoint.entry(endpoint).or_insert(next);
        let (_, names) = self.names.entry(tid).or_insert_with(|| (endpoint, Vec::new()));
        if names.last().map(String::as_str) != Some(name) {
            names.push(name.to_string());
        }
        tid
    }

    fn names(&self) -> impl Iterator<Item = (u64, String)> + '_ {
        self.names.iter().map(|(tid, (endpoint, names))| {
            let name = match Endpoint(*endpoint) {
                Endpoint::SYSTEM => "kernel (SYSTEM)".to_string(),
                Endpoint::ANY | Endpoint::NONE => names.join(" → "),
                _ => format!("{} [{endpoint:#x}]", names.join(" → ")),
            };
            (*tid, name)
        })
    }
}

/// A complete slice ("X") on a thread track.
struct Slice {
    tid: u64,
    ts: u64,
    dur: u64,
    name: String,
    cat: &'static str,
    args: Value,
    /// A flow bound to this slice: its id and whether it leaves here.
    flow: Option<(u64, bool)>,
}

impl Slice {
    fn event(tid: u64, ts: u64, dur: u64, name: &str, args: Value) -> Slice {
        Slice { tid, ts, dur, name: name.to_string(), cat: "event", args, flow: None }
    }

    fn flow(mut self, id: u64, out: bool) -> Slice {
        self.flow = Some((id, out));
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"name": self.name, "cat": self.cat, "ph": "X", "ts": micros(self.ts),
                           "dur": micros(self.dur), "pid": 1, "tid": self.tid, "args": self.args});
        if let Some((id, out)) = self.flow {
            v["bind_id"] = id.into();
            v[if out { "flow_out" } else { "flow_in" }] = true.into();
        }
        v
    }
}

/// Nanoseconds as the format's microseconds.
fn micros(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// A SENDREC waiting for its reply.
struct OpenSpan {
    tid: u64,
    start: u64,
    /// Index of the request record.
    request: usize,
    name: String,
}

impl OpenSpan {
    fn into_slice(self, end: u64, outcome: &str) -> Slice {
        let args = json!({"request_record": self.request, "outcome": outcome});
        Slice {
            tid: self.tid,
            ts: self.start,
            dur: end - self.start,
            name: self.name,
            cat: "sendrec",
            args,
            flow: None,
        }
    }
}

/// The requests in flight.
#[derive(Default)]
struct Spans {
    /// SENDRECs by caller: (server, span).
    open: HashMap<u32, (u32, OpenSpan)>,
    /// SENDA requests by (client, driver): the async begin event's id.
    pending_async: HashMap<(u32, u32), (u64, String)>,
    /// Async begin and end events made so far.
    asynchronous: Vec<Value>,
}

impl Spans {
    /// `caller` acts in record `i`: a SENDREC it had open got no reply
    /// (its server died, or it was refused) and ends before this record.
    fn caller_acts(&mut self, caller: u32, i: usize) -> Option<OpenSpan> {
        let (_, span) = self.open.get(&caller)?;
        if span.request == i {
            return None;
        }
        self.open.remove(&caller).map(|(_, s)| s)
    }

    /// The SENDREC `r` answers, if any (its slice ends at `end`); ends
    /// the SENDA request it answers too.
    fn reply(&mut self, r: &Record, end: u64) -> Option<OpenSpan> {
        let e = &r.event;
        if !r.kind.is_message() || matches!(r.kind, Kind::Notify | Kind::NotifyReceived) {
            return None;
        }
        if abi::proto::is_reply(e.mtype) {
            if let Some((id, name)) = self.pending_async.remove(&(e.dst, e.src)) {
                self.asynchronous.push(json!({"name": name, "cat": "senda", "ph": "e", "id": id,
                                              "ts": micros(end), "pid": 1}));
            }
        }
        match self.open.get(&e.dst) {
            Some((server, _)) if *server == e.src => self.open.remove(&e.dst).map(|(_, s)| s),
            _ => None,
        }
    }

    /// Opens a span when `r` (record `i`, on the sender's track `tid` at
    /// `t`) is a request: the send half of a SENDREC to a process, or a
    /// SENDA of a request type.
    fn request(&mut self, r: &Record, i: usize, tid: u64, t: u64) {
        let e = &r.event;
        // A queued request's type is known only when the server takes it.
        if let Some((server, span)) = self.open.get_mut(&e.src) {
            if r.kind == Kind::Receive && *server == e.dst {
                span.name = format!("sendrec {}", call_name(e.mtype, e.dst));
            }
        }
        let sendrec = e.primitive == Trap::SendRec as u8
            && matches!(r.kind, Kind::Send | Kind::SendQueued)
            && e.dst != Endpoint::SYSTEM.0;
        if sendrec && !self.open.contains_key(&e.src) {
            let name = format!("sendrec {}", call_name(e.mtype, e.dst));
            self.open.insert(e.src, (e.dst, OpenSpan { tid, start: t, request: i, name }));
        }
        let by_sendnb = r.kind == Kind::Send && e.primitive == Trap::SendNb as u8;
        let senda_request = (by_sendnb || matches!(r.kind, Kind::SendaPended | Kind::SendaDelivered))
            && abi::proto::message_name(e.mtype).is_some()
            && !abi::proto::is_reply(e.mtype)
            // A driver's acceptance of a read answers part of a request
            // (the reply still comes): it opens nothing.
            && e.mtype != abi::proto::dev::ACCEPTED
            && e.mtype != abi::notify::NOTIFY_MTYPE;
        if senda_request && !self.pending_async.contains_key(&(e.src, e.dst)) {
            let primitive = if by_sendnb { "sendnb" } else { "senda" };
            let name = format!("{primitive} {}", call_name(e.mtype, e.dst));
            self.asynchronous.push(json!({"name": name, "cat": "senda", "ph": "b", "id": i, "ts": micros(t),
                                          "pid": 1, "args": {"request_record": i}}));
            self.pending_async.insert((e.src, e.dst), (i as u64, name));
        }
    }
}

/// The slices without any SENDREC span that would cross another slice
/// of its track (only a garbled trace makes one).
fn drop_crossing_spans(mut slices: Vec<Slice>) -> Vec<Slice> {
    slices.sort_by_key(|s| (s.tid, s.ts, std::cmp::Reverse(s.dur)));
    let mut kept: Vec<Slice> = Vec::with_capacity(slices.len());
    let mut stack: Vec<(u64, u64)> = Vec::new();
    let mut track = None;
    for s in slices {
        if track != Some(s.tid) {
            stack.clear();
            track = Some(s.tid);
        }
        while stack.last().is_some_and(|&(_, end)| end <= s.ts) {
            stack.pop();
        }
        let end = s.ts + s.dur;
        if stack.last().is_some_and(|&(_, outer_end)| end > outer_end) && s.cat == "sendrec" {
            continue;
        }
        stack.push((s.ts, end));
        kept.push(s);
    }
    kept.sort_by_key(|s| (s.ts, std::cmp::Reverse(s.dur), s.tid));
    kept
}

/// What is wrong with `json` for a trace viewer, one line per problem
/// (none: the file is sound): every thread track is named, slices on a
/// track start in file order without going back in time and nest
/// without overlapping, every flow has both ends, every async slice
/// begins and ends once. The tests hold [`perfetto`]'s output to this.
pub fn viewer_problems(json: &str) -> Vec<String> {
    let Ok(root) = serde_json::from_str::<Value>(json) else {
        return vec!["not JSON".into()];
    };
    let Some(events) = root["traceEvents"].as_array() else {
        return vec!["no traceEvents array".into()];
    };
    let ns = |v: &Value| v.as_f64().map(|us| (us * 1000.0).round() as u64);
    let mut problems = Vec::new();
    let mut named: HashMap<u64, String> = HashMap::new();
    let mut tracks: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    let mut asynchronous: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for e in events {
        let tid = e["tid"].as_u64().unwrap_or(0);
        match e["ph"].as_str() {
            Some("M") if e["name"] == "thread_name" => {
                let name = e["args"]["name"].as_str().unwrap_or("");
                if name.is_empty() {
                    problems.push(format!("track {tid} has an empty name"));
                }
                named.insert(tid, name.to_string());
            }
            Some("X") => {
                let (Some(ts), Some(dur)) = (ns(&e["ts"]), ns(&e["dur"])) else {
                    problems.push(format!("slice without ts or dur: {e}"));
                    continue;
                };
                tracks.entry(tid).or_default().push((ts, ts + dur));
                if let Some(id) = e["bind_id"].as_u64() {
                    let ends = flows.entry(id).or_default();
                    if e["flow_out"] == true {
                        ends.0 += 1;
                    }
                    if e["flow_in"] == true {
                        ends.1 += 1;
                    }
                }
            }
            Some(ph @ ("b" | "e")) => {
                let ends = asynchronous.entry(e["id"].as_u64().unwrap_or(u64::MAX)).or_default();
                if ph == "b" {
                    ends.0 += 1;
                } else {
                    ends.1 += 1;
                }
            }
            _ => {}
        }
    }
    for (tid, slices) in &tracks {
        if !named.contains_key(tid) {
            problems.push(format!("track {tid} has slices but no name"));
        }
        let mut stack: Vec<(u64, u64)> = Vec::new();
        let mut last_start = 0;
        for &(start, end) in slices {
            if start < last_start {
                problems.push(format!("track {tid}: a slice at {start} ns comes after one at {last_start} ns"));
            }
            last_start = start;
            while stack.last().is_some_and(|&(_, e)| e <= start) {
                stack.pop();
            }
            if let Some(&(outer_start, outer_end)) = stack.last() {
                if end > outer_end {
                    problems
                        .push(format!("track {tid}: slice {start}..{end} ns overlaps {outer_start}..{outer_end} ns"));
                }
            }
            stack.push((start, end));
        }
    }
    for (id, (out, into)) in flows {
        if (out, into) != (1, 1) {
            problems.push(format!("flow {id}: {out} start(s), {into} end(s)"));
        }
    }
    for (id, (begin, end)) in asynchronous {
        if (begin, end) != (1, 1) {
            problems.push(format!("async slice {id}: {begin} begin(s), {end} end(s)"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::proto::{blockdev, fs, vfs, REPLY};
    use abi::trace::Event;

    const USER: u32 = 0x2010;
    const VFS: u32 = 0x1004;
    const EXT2FS: u32 = 0x1006;
    const BLK: u32 = 0x1005;

    fn record(seq: u64, tsc: u64, kind: Kind, primitive: Trap, src: u32, dst: u32, mtype: u32) -> Record {
        let event = Event { kind: kind as u8, primitive: primitive as u8, src, dst, mtype, ..Event::default() };
        Record { seq, tsc, ticks: 0, kind, event }
    }

    /// A disk read as the kernel records it: the user's SENDREC queued at
    /// a busy VFS, VFS's SENDREC to ext2fs, ext2fs's SENDA to blk and the
    /// answers back; a TSC that once stands still.
    fn disk_read() -> Vec<Record> {
        use Kind::*;
        use Trap::{Receive as Recv, SendA, SendNb, SendRec};
        let steps = [
            (SendQueued, SendRec, USER, VFS, 0),
            (Receive, Recv, USER, VFS, vfs::READ),
            (Send, SendRec, VFS, EXT2FS, fs::READ),
            (SendaDelivered, SendA, EXT2FS, BLK, blockdev::READ),
            (SendaDelivered, SendA, BLK, EXT2FS, blockdev::REPLY),
            (Send, SendNb, EXT2FS, VFS, REPLY),
            (Send, SendNb, VFS, USER, REPLY),
        ];
        let tscs = [1_000_000, 1_003_000, 1_010_000, 1_010_000, 1_050_000, 1_052_000, 1_060_000];
        steps.iter().zip(tscs).enumerate().map(|(i, (s, tsc))| record(i as u64, tsc, s.0, s.1, s.2, s.3, s.4)).collect()
    }

    fn events(json: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(json).unwrap()["traceEvents"].as_array().unwrap().clone()
    }

    #[test]
    fn a_disk_read_has_time_spans_and_flows_a_viewer_accepts() {
        let records = disk_read();
        let names = [(USER, "cat".to_string()), (VFS, "vfs".into()), (EXT2FS, "ext2fs".into()), (BLK, "blk".into())];
        let a = Analysis::with_processes(&records, None, &names);
        // 1 GHz: one TSC tick is one ns.
        let json = perfetto(&a, Clock::Tsc, Some(1_000_000));
        assert_eq!(viewer_problems(&json), Vec::<String>::new());
        let events = events(&json);
        let slice = |name: &str| events.iter().find(|e| e["name"] == name && e["ph"] == "X").cloned().unwrap();
        // The user's SENDREC spans from its queued request (0 ns) to just
        // after the reply (60 µs), on cat's track; VFS's from 10 µs.
        let user = slice("sendrec read");
        assert_eq!((user["ts"].as_f64(), user["dur"].as_f64()), (Some(0.0), Some(61.0)));
        let vfs_span = slice("sendrec fs.read");
        assert_eq!(vfs_span["ts"].as_f64(), Some(10.0));
        assert!(events.iter().any(|e| e["ph"] == "b" && e["name"] == "senda blockdev.read"));
        assert!(events.iter().any(|e| e["ph"] == "e" && e["name"] == "senda blockdev.read"));
        // The TSC stood still between records 2 and 3: 3 is one ns later.
        let senda = events.iter().find(|e| e["name"] == "senda_delivered blockdev.read").unwrap();
        assert_eq!(senda["ts"].as_f64(), Some(10.001));
        let tracks: Vec<&str> =
            events.iter().filter(|e| e["name"] == "thread_name").map(|e| e["args"]["name"].as_str().unwrap()).collect();
        assert!(tracks.contains(&"cat [0x2010]") && tracks.contains(&"ext2fs [0x1006]"), "{tracks:?}");
        // Five messages, a flow each (the queued request is no message).
        assert_eq!(events.iter().filter(|e| e["flow_out"] == true).count(), 6);

        let seq = perfetto(&a, Clock::Seq, Some(1_000_000));
        assert_eq!(viewer_problems(&seq), Vec::<String>::new());
        let seq_events = self::events(&seq);
        let user = seq_events.iter().find(|e| e["name"] == "sendrec read").unwrap();
        assert_eq!((user["ts"].as_f64(), user["dur"].as_f64()), (Some(0.0), Some(7.0)));
        assert_eq!(serde_json::from_str::<Value>(&seq).unwrap()["metadata"]["clock"], "seq");
        // The sequence view of a rerun (other TSCs) is the same file.
        let rerun: Vec<Record> = records.iter().map(|r| Record { tsc: r.tsc * 3 + 17, ..*r }).collect();
        let rerun = Analysis::with_processes(&rerun, None, &names);
        assert_eq!(perfetto(&rerun, Clock::Seq, Some(1_000_000)), seq);
        // Without a TSC frequency the file falls back to the order.
        let fallback = perfetto(&a, Clock::Tsc, None);
        assert_eq!(serde_json::from_str::<Value>(&fallback).unwrap()["metadata"]["clock"], "seq");
    }

    #[test]
    fn a_caller_that_goes_on_without_a_reply_ends_its_span_and_garbage_stays_sound() {
        let mut records = disk_read();
        // VFS dies before replying: the user's next own act (an exit)
        // ends its SENDREC.
        records.truncate(6);
        records.push(record(6, 1_070_000, Kind::Exit, Trap::SendRec, USER, USER, 0));
        let a = Analysis::new(&records, None);
        let json = perfetto(&a, Clock::Tsc, Some(2_000_000));
        assert_eq!(viewer_problems(&json), Vec::<String>::new());
        let span = events(&json).into_iter().find(|e| e["name"] == "sendrec read").unwrap();
        assert_eq!(span["args"]["outcome"], "no reply: the caller went on");
        // TSCs that go back and forth, crossing requests: still sound.
        let mut garbled = disk_read();
        for (i, r) in garbled.iter_mut().enumerate() {
            r.tsc = if i % 2 == 0 { u64::MAX - i as u64 } else { i as u64 };
        }
        garbled.extend(disk_read().into_iter().map(|mut r| {
            r.seq += 7;
            r
        }));
        let a = Analysis::new(&garbled, None);
        assert_eq!(viewer_problems(&perfetto(&a, Clock::Tsc, Some(1))), Vec::<String>::new());
    }

    #[test]
    fn the_checker_finds_what_a_viewer_would_trip_on() {
        let bad = json!({"traceEvents": [
            {"ph": "X", "ts": 0.0, "dur": 5.0, "tid": 1, "pid": 1, "name": "a"},
            {"ph": "X", "ts": 3.0, "dur": 5.0, "tid": 1, "pid": 1, "name": "b", "bind_id": 7, "flow_out": true},
            {"ph": "X", "ts": 1.0, "dur": 1.0, "tid": 2, "pid": 1, "name": "c"},
            {"ph": "X", "ts": 0.5, "dur": 1.0, "tid": 2, "pid": 1, "name": "d"},
            {"ph": "M", "name": "thread_name", "tid": 1, "pid": 1, "args": {"name": "p"}},
        ]})
        .to_string();
        let problems = viewer_problems(&bad);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
