//! Property test: random sequences of namespace and data operations run
//! against the crate and against an in-memory model must agree, and the
//! image must pass `e2fsck -fn` at the end. A tiny cache (4 blocks) makes
//! evictions happen all the time.

mod common;
use common::*;
use ext2::{Error, Ext2};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

type SmallFs = Ext2<FileDev, 4>;

#[derive(Clone, Debug, PartialEq)]
enum Node {
    File(Vec<u8>),
    Dir,
}

#[derive(Clone, Debug)]
enum Op {
    Create(u8, u8),
    Mkdir(u8, u8),
    Write(u8, u32, u16, u32),
    Truncate(u8, u32),
    Unlink(u8),
    Rmdir(u8),
    Rename(u8, u8, u8),
    Link(u8, u8, u8),
}

const NAMES: [&str; 6] = ["a", "bb", "c-long-name-for-a-file", "d", "e", "f"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), 0..6u8).prop_map(|(d, n)| Op::Create(d, n)),
        2 => (any::<u8>(), 0..6u8).prop_map(|(d, n)| Op::Mkdir(d, n)),
        4 => (any::<u8>(), 0..300_000u32, 0..20_000u16, any::<u32>()).prop_map(|(f, o, l, s)| Op::Write(f, o, l, s)),
        2 => (any::<u8>(), 0..300_000u32).prop_map(|(f, s)| Op::Truncate(f, s)),
        2 => any::<u8>().prop_map(Op::Unlink),
        1 => any::<u8>().prop_map(Op::Rmdir),
        2 => (any::<u8>(), any::<u8>(), 0..6u8).prop_map(|(s, d, n)| Op::Rename(s, d, n)),
        1 => (any::<u8>(), any::<u8>(), 0..6u8).prop_map(|(s, d, n)| Op::Link(s, d, n)),
    ]
}

/// The model: path ("" is the root, "a/bb" …) → node. Hard links are
/// modelled by a shared id.
#[derive(Default)]
struct Model {
    nodes: BTreeMap<String, (u32, Node)>,
    next_id: u32,
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn parent_of(p: &str) -> &str {
    p.rfind('/').map_or("", |i| &p[..i])
}

impl Model {
    fn dirs(&self) -> Vec<String> {
        let mut v = vec![String::new()];
        v.extend(self.nodes.iter().filter(|(_, (_, n))| *n == Node::Dir).map(|(p, _)| p.clone()));
        v
    }
    fn files(&self) -> Vec<String> {
        self.nodes.iter().filter(|(_, (_, n))| *n != Node::Dir).map(|(p, _)| p.clone()).collect()
    }
    fn pick(v: &[String], i: u8) -> Option<String> {
        (!v.is_empty()).then(|| v[i as usize % v.len()].clone())
    }
    fn children(&self, dir: &str) -> Vec<String> {
        self.nodes.keys().filter(|p| parent_of(p) == dir && !p.is_empty()).cloned().collect()
    }
    fn set_content(&mut self, id: u32, data: Vec<u8>) {
        for (_, (i, n)) in self.nodes.iter_mut() {
            if *i == id {
                *n = Node::File(data.clone());
            }
        }
    }
}

fn resolve(fs: &mut SmallFs, p: &str) -> u32 {
    fs.resolve(p.as_bytes()).unwrap_or_else(|e| panic!("resolve {p}: {e:?}"))
}

fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

fn apply(fs: &mut SmallFs, m: &mut Model, op: &Op) {
    match *op {
        Op::Create(d, n) | Op::Mkdir(d, n) => {
            let dir = Model::pick(&m.dirs(), d).unwrap();
            let path = join(&dir, NAMES[n as usize]);
            let di = resolve(fs, &dir);
            let mk = matches!(op, Op::Mkdir(..));
            let r = if mk {
                fs.mkdir(di, NAMES[n as usize].as_bytes(), 0o755)
            } else {
                fs.create(di, NAMES[n as usize].as_bytes(), 0o644)
            };
            if m.nodes.contains_key(&path) {
                assert_eq!(r, Err(Error::Exists), "{op:?}");
            } else {
                r.unwrap();
                m.next_id += 1;
                m.nodes.insert(path, (m.next_id, if mk { Node::Dir } else { Node::File(vec![]) }));
            }
        }
        Op::Write(f, off, len, seed) => {
            let Some(p) = Model::pick(&m.files(), f) else { return };
            let (id, Node::File(mut data)) = m.nodes[&p].clone() else { unreachable!() };
            let buf = pattern(len as usize, seed);
            let ino = resolve(fs, &p);
            assert_eq!(fs.write(ino, off as u64, &buf).unwrap(), buf.len());
            if !buf.is_empty() {
                let end = off as usize + buf.len();
                if data.len() < end {
                    data.resize(end, 0);
                }
                data[off as usize..end].copy_from_slice(&buf);
            }
            m.set_content(id, data);
        }
        Op::Truncate(f, size) => {
            let Some(p) = Model::pick(&m.files(), f) else { return };
            let (id, Node::File(mut data)) = m.nodes[&p].clone() else { unreachable!() };
            let ino = resolve(fs, &p);
            fs.truncate(ino, size as u64).unwrap();
            data.resize(size as usize, 0);
            m.set_content(id, data);
        }
        Op::Unlink(f) => {
            let Some(p) = Model::pick(&m.files(), f) else { return };
            let (dir, name) = split(&p);
            let di = resolve(fs, dir);
            fs.unlink(di, name.as_bytes()).unwrap();
            m.nodes.remove(&p);
        }
        Op::Rmdir(d) => {
            let dirs: Vec<String> = m.dirs().into_iter().filter(|d| !d.is_empty()).collect();
            let Some(p) = Model::pick(&dirs, d) else { return };
            let (dir, name) = split(&p);
            let di = resolve(fs, dir);
            let r = fs.rmdir(di, name.as_bytes());
            if m.children(&p).is_empty() {
                r.unwrap();
                m.nodes.remove(&p);
            } else {
                assert_eq!(r, Err(Error::NotEmpty));
            }
        }
        Op::Link(s, d, n) => {
            let Some(src) = Model::pick(&m.files(), s) else { return };
            let dir = Model::pick(&m.dirs(), d).unwrap();
            let dst = join(&dir, NAMES[n as usize]);
            let ino = resolve(fs, &src);
            let di = resolve(fs, &dir);
            let r = fs.link(ino, di, NAMES[n as usize].as_bytes());
            if m.nodes.contains_key(&dst) {
                assert_eq!(r, Err(Error::Exists));
            } else {
                r.unwrap();
                let node = m.nodes[&src].clone();
                m.nodes.insert(dst, node);
            }
        }
        Op::Rename(s, d, n) => {
            let all: Vec<String> = m.nodes.keys().cloned().collect();
            let Some(src) = Model::pick(&all, s) else { return };
            let dir = Model::pick(&m.dirs(), d).unwrap();
            let dst = join(&dir, NAMES[n as usize]);
            let (sd, sn) = split(&src);
            let (sdi, ddi) = (resolve(fs, sd), resolve(fs, &dir));
            let r = fs.rename(sdi, sn.as_bytes(), ddi, NAMES[n as usize].as_bytes());
            let src_node = m.nodes[&src].clone();
            let is_dir = src_node.1 == Node::Dir;
            let expect: Result<(), Error> = if src == dst {
                Ok(())
            } else if is_dir && (dir == src || dir.starts_with(&format!("{src}/"))) {
                Err(Error::Invalid)
            } else {
                match m.nodes.get(&dst) {
                    None => Ok(()),
                    Some((id, _)) if *id == src_node.0 => Ok(()),
                    Some((_, Node::Dir)) if !is_dir => Err(Error::IsDir),
                    Some((_, Node::File(_))) if is_dir => Err(Error::NotDir),
                    Some((_, Node::Dir)) if !m.children(&dst).is_empty() => Err(Error::NotEmpty),
                    Some(_) => Ok(()),
                }
            };
            assert_eq!(r, expect, "{op:?} {src} -> {dst}");
            let same_inode = m.nodes.get(&dst).is_some_and(|(id, _)| *id == src_node.0);
            if r.is_ok() && src != dst && !same_inode {
                m.nodes.remove(&dst);
                let moved: Vec<String> =
                    m.nodes.keys().filter(|p| **p == src || p.starts_with(&format!("{src}/"))).cloned().collect();
                for p in moved {
                    let v = m.nodes.remove(&p).unwrap();
                    m.nodes.insert(format!("{dst}{}", &p[src.len()..]), v);
                }
            }
        }
    }
}

fn check(fs: &mut SmallFs, m: &Model) {
    for dir in m.dirs() {
        let ino = resolve(fs, &dir);
        let mut got = names_small(fs, ino);
        got.retain(|n| n != "." && n != ".." && !(dir.is_empty() && n == "lost+found"));
        let mut want: Vec<String> = m.children(&dir).iter().map(|p| split(p).1.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "listing of /{dir}");
    }
    for (p, (_, n)) in &m.nodes {
        if let Node::File(data) = n {
            let ino = resolve(fs, p);
            let size = fs.stat(ino).unwrap().size as usize;
            let mut buf = vec![0xAAu8; size];
            assert_eq!(fs.read(ino, 0, &mut buf).unwrap(), size);
            assert!(buf == *data, "content of /{p}");
        }
    }
}

fn names_small(fs: &mut SmallFs, dir: u32) -> Vec<String> {
    let mut v = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = fs.read_dir(dir, pos).unwrap() {
        v.push(String::from_utf8_lossy(e.name()).into_owned());
        pos = next;
    }
    v.sort();
    v
}

fn pristine() -> &'static Vec<u8> {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(|| std::fs::read(mkfs("model-base", &["-b", "1024", "-N", "256"], "8M")).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn matches_model_and_stays_clean(ops in proptest::collection::vec(op(), 1..40)) {
        let img = scratch("model");
        std::fs::write(&img, pristine()).unwrap();
        let mut fs = SmallFs::mount(FileDev::open(&img, 512), NOW).unwrap();
        let mut m = Model::default();
        for op in &ops {
            apply(&mut fs, &mut m, op);
        }
        check(&mut fs, &m);
        fs.sync().unwrap();
        drop(fs);
        fsck_clean(&img);
        // Remount: the same state comes back from the disk.
        let mut fs = SmallFs::mount(FileDev::open(&img, 512), NOW).unwrap();
        check(&mut fs, &m);
        drop(fs);
        std::fs::remove_file(&img).unwrap();
    }
}
