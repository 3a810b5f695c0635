//! Workloads run through the crate, judged by e2fsck and debugfs.

mod common;
use common::*;
use ext2::{Error, FileType, ROOT_INO};

fn workload(img: &std::path::Path) {
    let big_len = 3 * 1024 * 1024 + 12345; // through the double-indirect blocks with 1 KiB blocks
    let mut fs = mount(img);
    let bs = fs.statfs().block_size as usize;
    let free0 = fs.statfs().free_blocks;

    // Files of 0 bytes, 1 byte, one block, several MiB.
    let empty = fs.create(ROOT_INO, b"empty", 0o644).unwrap();
    let one = fs.create(ROOT_INO, b"one", 0o644).unwrap();
    assert_eq!(fs.write(one, 0, b"x").unwrap(), 1);
    let blk = fs.create(ROOT_INO, b"block", 0o600).unwrap();
    fs.write(blk, 0, &pattern(bs, 1)).unwrap();
    let big = fs.create(ROOT_INO, b"big", 0o644).unwrap();
    let data = pattern(big_len, 2);
    // Unaligned chunks.
    let mut off = 0;
    for (i, chunk) in data.chunks(7777).enumerate() {
        assert_eq!(fs.write(big, off as u64, chunk).unwrap(), chunk.len(), "chunk {i}");
        off += chunk.len();
    }
    assert_eq!(read_all(&mut fs, big), data);
    assert_eq!(fs.stat(empty).unwrap().size, 0);
    let st = fs.stat(big).unwrap();
    assert_eq!((st.size, st.kind, st.links, st.mode), (big_len as u64, FileType::Regular, 1, 0o100644));

    // Sparse file: a hole then data far away (single- and double-indirect).
    let sparse = fs.create(ROOT_INO, b"sparse", 0o644).unwrap();
    fs.write(sparse, 300 * 1024, b"tail").unwrap();
    let mut sp = vec![0u8; 300 * 1024 + 4];
    sp[300 * 1024..].copy_from_slice(b"tail");
    assert_eq!(read_all(&mut fs, sparse), sp);

    // Directories, many files in one directory (grows past one block).
    let d = fs.mkdir(ROOT_INO, b"dir", 0o755).unwrap();
    let sub = fs.mkdir(d, b"sub", 0o700).unwrap();
    assert_eq!(fs.stat(d).unwrap().links, 3);
    for i in 0..120 {
        let name = format!("file-with-a-longish-name-{i:03}");
        let ino = fs.create(d, name.as_bytes(), 0o644).unwrap();
        fs.write(ino, 0, name.as_bytes()).unwrap();
    }
    assert!(fs.stat(d).unwrap().size > bs as u64);
    for i in (0..120).step_by(3) {
        fs.unlink(d, format!("file-with-a-longish-name-{i:03}").as_bytes()).unwrap();
    }
    assert_eq!(fs.create(d, b"file-with-a-longish-name-001", 0o644), Err(Error::Exists));
    assert_eq!(fs.rmdir(ROOT_INO, b"dir"), Err(Error::NotEmpty));
    assert_eq!(fs.unlink(ROOT_INO, b"dir"), Err(Error::IsDir));

    // rmdir
    let gone = fs.mkdir(sub, b"gone", 0o755).unwrap();
    let _ = gone;
    fs.rmdir(sub, b"gone").unwrap();
    assert_eq!(fs.lookup(sub, b"gone"), Err(Error::NotFound));

    // rename within a directory, across directories, over an existing file,
    // and a directory across directories.
    fs.rename(ROOT_INO, b"one", ROOT_INO, b"uno").unwrap();
    fs.rename(d, b"file-with-a-longish-name-001", sub, b"moved").unwrap();
    let victim = fs.create(sub, b"victim", 0o644).unwrap();
    fs.write(victim, 0, &pattern(5000, 9)).unwrap();
    fs.rename(ROOT_INO, b"block", sub, b"victim").unwrap();
    let d2 = fs.mkdir(ROOT_INO, b"dir2", 0o755).unwrap();
    fs.rename(d, b"sub", d2, b"sub2").unwrap();
    assert_eq!(fs.lookup(sub, b"..").unwrap(), d2);
    assert_eq!(fs.stat(d).unwrap().links, 2);
    assert_eq!(fs.stat(d2).unwrap().links, 3);
    assert_eq!(fs.rename(ROOT_INO, b"dir2", sub, b"loop"), Err(Error::Invalid));

    // Hard links.
    fs.link(big, d2, b"big-link").unwrap();
    assert_eq!(fs.stat(big).unwrap().links, 2);
    fs.link(empty, d2, b"empty-link").unwrap();
    fs.unlink(ROOT_INO, b"empty").unwrap();
    assert_eq!(fs.stat(empty).unwrap().links, 1);

    // Truncate: shrink into the middle of a block, grow (hole), to zero.
    let t = fs.create(ROOT_INO, b"trunc", 0o644).unwrap();
    let tdata = pattern(600 * 1024, 3);
    fs.write(t, 0, &tdata).unwrap();
    fs.truncate(t, 100 * 1024 + 17).unwrap();
    fs.truncate(t, 200 * 1024).unwrap();
    let mut want = tdata[..100 * 1024 + 17].to_vec();
    want.resize(200 * 1024, 0);
    assert_eq!(read_all(&mut fs, t), want);
    let t0 = fs.create(ROOT_INO, b"trunc0", 0o644).unwrap();
    fs.write(t0, 0, &tdata).unwrap();
    fs.truncate(t0, 0).unwrap();
    assert_eq!(fs.stat(t0).unwrap().blocks, 0);

    // Write then unlink frees everything again.
    let tmp = fs.create(ROOT_INO, b"tmp", 0o644).unwrap();
    let before = fs.statfs().free_blocks;
    fs.write(tmp, 0, &pattern(2 * 1024 * 1024, 4)).unwrap();
    fs.unlink(ROOT_INO, b"tmp").unwrap();
    assert_eq!(fs.statfs().free_blocks, before);
    assert!(fs.statfs().free_blocks < free0);

    let mut listing = names(&mut fs, d2);
    listing.retain(|n| n != "." && n != "..");
    assert_eq!(listing, ["big-link", "empty-link", "sub2"]);

    fs.sync().unwrap();
    let stats = fs.cache_stats();
    eprintln!("bs={bs} cache stats: {stats:?}");
    drop(fs);

    fsck_clean(img);
    assert_cat(img, "/big", &data);
    assert_cat(img, "/dir2/big-link", &data);
    assert_cat(img, "/uno", b"x");
    assert_cat(img, "/dir2/empty-link", b"");
    assert_cat(img, "/dir2/sub2/victim", &pattern(bs, 1));
    assert_cat(img, "/dir2/sub2/moved", b"file-with-a-longish-name-001");
    assert_cat(img, "/sparse", &sp);
    assert_cat(img, "/trunc", &want);
    assert_cat(img, "/dir/file-with-a-longish-name-119", b"file-with-a-longish-name-119");
    let ls = String::from_utf8(debugfs(img, "ls -l /dir2")).unwrap();
    for n in ["big-link", "empty-link", "sub2"] {
        assert!(ls.contains(n), "ls -l /dir2 lacks {n}:\n{ls}");
    }
    let ls = String::from_utf8(debugfs(img, "ls -l /dir")).unwrap();
    assert!(ls.contains("file-with-a-longish-name-002") && !ls.contains("file-with-a-longish-name-003"), "{ls}");

    // Remount and read back through the crate.
    let mut fs = mount(img);
    let ino = fs.resolve(b"/dir2/big-link").unwrap();
    assert_eq!(ino, big);
    assert_eq!(read_all(&mut fs, ino), data);
    // Remove everything we made; the image must still be clean.
    fs.unlink(d2, b"big-link").unwrap();
    fs.unlink(ROOT_INO, b"big").unwrap();
    fs.rmdir(ROOT_INO, b"lost+found").unwrap();
    fs.sync().unwrap();
    drop(fs);
    fsck_clean(img);
}

#[test]
fn workload_1k_blocks() {
    let img = mkfs("w1k", &["-b", "1024", "-N", "256"], "8M");
    fsck_clean(&img);
    workload(&img);
}

#[test]
fn workload_4k_blocks() {
    let img = mkfs("w4k", &["-b", "4096", "-N", "256"], "16M");
    workload(&img);
}

#[test]
fn workload_1k_many_groups() {
    // 8 groups: sparse_super backups, allocation crossing groups.
    let img = mkfs("wgroups", &["-b", "1024", "-N", "512"], "64M");
    workload(&img);
}

#[test]
fn fills_up_cleanly() {
    let img = mkfs("full", &["-b", "1024", "-N", "64"], "1M");
    let mut fs = mount(&img);
    let f = fs.create(ROOT_INO, b"huge", 0o644).unwrap();
    let chunk = pattern(64 * 1024, 5);
    let mut off = 0u64;
    loop {
        match fs.write(f, off, &chunk) {
            Ok(n) if n == chunk.len() => off += n as u64,
            Ok(n) => {
                off += n as u64;
                break;
            }
            Err(e) => {
                assert_eq!(e, Error::NoSpace);
                break;
            }
        }
    }
    assert_eq!(fs.stat(f).unwrap().size, off);
    // Directories can no longer grow either, but the count of inodes can run out first.
    let mut i = 0;
    loop {
        match fs.create(ROOT_INO, format!("f{i}").as_bytes(), 0o644) {
            Ok(_) => i += 1,
            Err(e) => {
                assert!(e == Error::NoSpace || e == Error::NoInodes, "{e:?}");
                break;
            }
        }
    }
    fs.sync().unwrap();
    drop(fs);
    fsck_clean(&img);
    let mut fs = mount(&img);
    fs.unlink(ROOT_INO, b"huge").unwrap();
    fs.sync().unwrap();
    drop(fs);
    fsck_clean(&img);
}

#[test]
fn workload_revision_0() {
    // No features at all: no file types in directory entries, 128-byte inodes.
    let img = mkfs("r0", &["-r", "0", "-b", "1024", "-N", "256"], "8M");
    workload(&img);
}

/// Cache counters for a sequential write and read of 4 MiB, with three
/// cache sizes (printed with `--nocapture`; the README of the server can
/// quote them).
#[test]
fn cache_counters() {
    // A cache of 128 blocks is half a MiB, moved by value in debug builds.
    std::thread::Builder::new().stack_size(64 << 20).spawn(cache_counters_body).unwrap().join().unwrap();
}

fn run<const N: usize>(img: &std::path::Path) -> (ext2::CacheStats, ext2::CacheStats) {
    let mut fs = ext2::Ext2::<FileDev, N>::mount(FileDev::open(img, 512), NOW).unwrap();
    let f = fs.create(ROOT_INO, b"seq", 0o644).unwrap();
    let data = pattern(4 << 20, 7);
    fs.reset_cache_stats();
    for (i, c) in data.chunks(4096).enumerate() {
        fs.write(f, (i * 4096) as u64, c).unwrap();
    }
    fs.sync().unwrap();
    let w = fs.cache_stats();
    fs.reset_cache_stats();
    let mut buf = vec![0u8; 4096];
    for i in 0..(data.len() / 4096) {
        fs.read(f, (i * 4096) as u64, &mut buf).unwrap();
        assert_eq!(buf, data[i * 4096..(i + 1) * 4096]);
    }
    let r = fs.cache_stats();
    fs.unlink(ROOT_INO, b"seq").unwrap();
    fs.sync().unwrap();
    (w, r)
}

fn cache_counters_body() {
    for bs in ["1024", "4096"] {
        let img = mkfs("bench", &["-b", bs, "-N", "256"], "16M");
        let blocks = (4u64 << 20) / bs.parse::<u64>().unwrap();
        for (n, (w, r)) in [(8, run::<8>(&img)), (32, run::<32>(&img)), (128, run::<128>(&img))] {
            eprintln!("bs={bs} N={n:3} write 4 MiB: {w:?}\n             read  4 MiB: {r:?}");
            // Whole-block writes never read data blocks; metadata stays cached.
            assert!(w.reads < blocks / 50 + 8, "{w:?}");
            assert!(w.writes >= blocks && w.writes < blocks + blocks / 50 + 16, "{w:?}");
            assert!(r.reads <= blocks + blocks / 50 + 8, "{r:?}");
        }
        fsck_clean(&img);
    }
}
