//! Trace exports: JSON lines (one object per record) and a
//! message-sequence chart (SVG) of one system call; the Perfetto JSON is
//! [`super::perfetto`]'s.

use std::fmt::Write;

use serde_json::json;

use super::analysis::{call_name, event_name, has_message_type, Analysis};
use abi::trace::Kind;

/// One JSON object per record, newline-terminated.
pub fn jsonl(a: &Analysis) -> String {
    let mut out = String::new();
    for (r, (src, dst)) in a.records.iter().zip(&a.names) {
        let e = &r.event;
        let primitive = abi::syscall::Trap::from_number(u64::from(e.primitive)).map(|t| t.name());
        let v = json!({
            "seq": r.seq, "tsc": r.tsc, "ticks": r.ticks, "kind": r.kind.name(),
            "primitive": primitive, "src": e.src, "src_name": src, "dst": e.dst, "dst_name": dst,
            "mtype": e.mtype, "mtype_name": has_message_type(r).then(|| call_name(e.mtype, e.dst)),
            "event": event_name(r), "result": e.result,
            "cause": e.cause, "args": [e.args[0], e.args[1]], "message": r.kind.is_message(),
        });
        out += &v.to_string();
        out.push('\n');
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The cause an MSC shows by default: the first system call of the
/// command.
pub fn default_cause(a: &Analysis) -> Option<u32> {
    a.command_calls().next().map(|c| c.cause)
}

/// A message-sequence chart (SVG) of every message of `cause` (default:
/// [`default_cause`]).
pub fn msc_svg(a: &Analysis, cause: Option<u32>) -> String {
    let cause = cause.or_else(|| default_cause(a));
    let picked: Vec<usize> = (0..a.records.len())
        .filter(|&i| {
            let r = &a.records[i];
            cause.is_some_and(|c| r.event.cause == c) && (r.kind.is_message() || r.kind == Kind::SendQueued)
        })
        .collect();
    let mut lanes: Vec<&str> = Vec::new();
    for &i in &picked {
        for n in [&a.names[i].0, &a.names[i].1] {
            if !lanes.contains(&n.as_str()) {
                lanes.push(n);
            }
        }
    }
    let lane = |n: &str| lanes.iter().position(|l| *l == n).unwrap_or(0) as u64;
    let (dx, dy, top) = (160u64, 28u64, 60u64);
    let width = 80 + dx * lanes.len().max(1) as u64;
    let height = top + dy * (picked.len() as u64 + 1) + 20;
    let title = match cause.and_then(|c| a.calls.get(&c)) {
        Some(c) => format!("cause {}: {} by {} ({} messages)", c.cause, c.name, c.caller, c.messages),
        None => "no system call in this trace".to_string(),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(s, r#"<text x="10" y="20" font-weight="bold">{}</text>"#, escape(&title));
    let _ = writeln!(
        s,
        r#"<defs><marker id="a" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>"#
    );
    for (k, name) in lanes.iter().enumerate() {
        let x = 80 + dx * k as u64;
        let _ = writeln!(s, r#"<text x="{x}" y="45" text-anchor="middle">{}</text>"#, escape(name));
        let _ = writeln!(s, r#"<line x1="{x}" y1="50" x2="{x}" y2="{}" stroke="gray"/>"#, height - 10);
    }
    for (row, &i) in picked.iter().enumerate() {
        let r = &a.records[i];
        let y = top + dy * (row as u64 + 1);
        let (x1, x2) = (80 + dx * lane(&a.names[i].0), 80 + dx * lane(&a.names[i].1));
        let label = event_name(r);
        let dash = if r.kind == Kind::SendQueued { r#" stroke-dasharray="4""# } else { "" };
        if x1 == x2 {
            let _ = writeln!(s, r#"<circle cx="{x1}" cy="{y}" r="4"/>"#);
        } else {
            let _ = writeln!(
                s,
                r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="black" marker-end="url(#a)"{dash}/>"#
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{} #{}</text>"#,
            x1.min(x2) + x1.abs_diff(x2) / 2,
            y - 4,
            escape(&label),
            r.seq
        );
    }
    s += "</svg>\n";
    s
}
