//! Images made by mke2fs -d are read correctly; foreign, damaged and
//! unsupported images are refused with an error; the triple-indirect map.

mod common;
use common::*;
use ext2::{Error, FileType, ROOT_INO};
use std::io::{Seek, SeekFrom, Write};

#[test]
fn reads_tree_made_by_mke2fs_d() {
    for bs in ["1024", "4096"] {
        let tree = scratch("tree");
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(tree.join("a/b/c")).unwrap();
        let files: Vec<(String, Vec<u8>)> = vec![
            ("empty".into(), vec![]),
            ("one".into(), b"1".to_vec()),
            ("a/mid".into(), pattern(70_000, 1)),
            ("a/b/big".into(), pattern(2_500_000, 2)),
            ("a/b/c/deep".into(), pattern(4096, 3)),
        ];
        for (p, d) in &files {
            std::fs::write(tree.join(p), d).unwrap();
        }
        for i in 0..60 {
            std::fs::write(tree.join(format!("a/many-{i:02}")), format!("{i}")).unwrap();
        }
        std::os::unix::fs::symlink("a/b/c/deep", tree.join("link")).unwrap();
        let img = mkfs("tree", &["-b", bs, "-N", "256", "-d", tree.to_str().unwrap()], "16M");
        let mut fs = mount(&img);
        for (p, d) in &files {
            let ino = fs.resolve(p.as_bytes()).unwrap();
            assert_eq!(&read_all(&mut fs, ino), d, "{p}");
        }
        let link = fs.resolve(b"/link").unwrap();
        assert_eq!(fs.stat(link).unwrap().kind, FileType::Symlink);
        let mut buf = [0u8; 64];
        let n = fs.read(link, 0, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"a/b/c/deep");
        let a = fs.resolve(b"a").unwrap();
        let listing = names(&mut fs, a);
        assert_eq!(listing.len(), 2 + 2 + 60, "{listing:?}");
        // Modify what mke2fs made: delete, rename, append, remove dirs.
        fs.unlink(a, b"many-07").unwrap();
        fs.unlink(ROOT_INO, b"link").unwrap();
        let big = fs.resolve(b"a/b/big").unwrap();
        fs.write(big, 2_500_000, b"appended").unwrap();
        fs.rename(a, b"mid", ROOT_INO, b"mid").unwrap();
        let c = fs.resolve(b"a/b/c").unwrap();
        fs.unlink(c, b"deep").unwrap();
        let b = fs.resolve(b"a/b").unwrap();
        fs.rmdir(b, b"c").unwrap();
        fs.sync().unwrap();
        drop(fs);
        fsck_clean(&img);
        let mut want = pattern(2_500_000, 2);
        want.extend_from_slice(b"appended");
        assert_cat(&img, "/a/b/big", &want);
        assert_cat(&img, "/mid", &pattern(70_000, 1));
    }
}

fn refuse(img: &std::path::Path) -> Error {
    match Fs::mount(FileDev::open(img, 512), NOW) {
        Ok(_) => panic!("mounted a bad image"),
        Err(e) => e,
    }
}

fn poke(img: &std::path::Path, off: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn refuses_bad_magic() {
    let img = mkfs("magic", &["-b", "1024", "-N", "256"], "8M");
    poke(&img, 1024 + 56, &[0x00, 0x00]);
    assert_eq!(refuse(&img), Error::BadMagic);
}

#[test]
fn refuses_truncated_image() {
    let img = mkfs("trunc", &["-b", "1024", "-N", "256"], "8M");
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(4 * 1024 * 1024).unwrap();
    assert_eq!(refuse(&img), Error::Truncated);
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(1500).unwrap();
    assert!(matches!(refuse(&img), Error::Truncated | Error::Io));
}

#[test]
fn refuses_unknown_incompat_feature() {
    let img = mkfs("incompat", &["-b", "1024", "-N", "256"], "8M");
    poke(&img, 1024 + 96, &0x0002_0002u32.to_le_bytes());
    assert!(matches!(refuse(&img), Error::Unsupported(_)));
}

#[test]
fn refuses_ext4() {
    let img = scratch("ext4");
    std::fs::File::create(&img).unwrap();
    let st = std::process::Command::new(tool("mke2fs")).args(["-q", "-F", "-t", "ext4"]).arg(&img).arg("8M").status();
    assert!(st.unwrap().success());
    assert!(matches!(refuse(&img), Error::Unsupported(_)));
}

#[test]
fn corrupt_images_never_panic() {
    // Flip bytes all over the metadata area; mount and a few operations
    // must return (Ok or Err), never panic.
    let base = mkfs("fuzz", &["-b", "1024", "-N", "64", "-d", "src"], "2M");
    let pristine = std::fs::read(&base).unwrap();
    let mut x = 12345u32;
    for round in 0..200 {
        let mut img = pristine.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let off = 1024 + (x as usize % (64 * 1024));
            img[off] ^= (x >> 24) as u8 | 1;
        }
        let path = scratch("fuzzed");
        std::fs::write(&path, &img).unwrap();
        if let Ok(mut fs) = Fs::mount(FileDev::open(&path, 1024), NOW) {
            let mut pos = 0;
            for _ in 0..100 {
                match fs.read_dir(ROOT_INO, pos) {
                    Ok(Some((e, next))) => {
                        pos = next;
                        let mut buf = [0u8; 4096];
                        let _ = fs.read(e.ino, 0, &mut buf);
                        let _ = fs.stat(e.ino);
                    }
                    _ => break,
                }
            }
            let _ = fs.create(ROOT_INO, b"new", 0o644).and_then(|i| fs.write(i, 0, &[1; 5000]));
            let _ = fs.mkdir(ROOT_INO, b"newdir", 0o755);
            let _ = fs.resolve(b"/src/lib.rs").and_then(|i| fs.truncate(i, 10));
            let _ = fs.unlink(ROOT_INO, b"new");
            let _ = fs.sync();
        }
        std::fs::remove_file(&path).unwrap();
        let _ = round;
    }
}

#[test]
fn triple_indirect_1k() {
    let img = mkfs("triple", &["-b", "1024", "-N", "256"], "8M");
    let mut fs = mount(&img);
    let f = fs.create(ROOT_INO, b"far", 0o644).unwrap();
    let off = (12 + 256 + 256 * 256) as u64 * 1024 + 5000; // inside the triple-indirect tree
    fs.write(f, off, b"far away").unwrap();
    fs.write(f, 3, b"near").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(fs.read(f, off, &mut buf).unwrap(), 8);
    assert_eq!(&buf, b"far away");
    fs.read(f, off - 8, &mut buf).unwrap();
    assert_eq!(buf, [0; 8]);
    fs.sync().unwrap();
    drop(fs);
    fsck_clean(&img);
    let got = debugfs(&img, "cat /far");
    assert_eq!(got.len() as u64, off + 8);
    assert_eq!(&got[off as usize..], b"far away");
    assert_eq!(&got[3..7], b"near");
    let mut fs = mount(&img);
    let free = fs.statfs().free_blocks;
    fs.truncate(f, 2000).unwrap();
    assert_eq!(fs.statfs().free_blocks, free + 4); // data, single-, double-, triple-indirect
    fs.sync().unwrap();
    drop(fs);
    fsck_clean(&img);
    assert_cat(&img, "/far", &{
        let mut v = vec![0u8; 2000];
        v[3..7].copy_from_slice(b"near");
        v
    });
}

#[test]
fn group_metadata_is_where_dumpe2fs_puts_the_bitmaps_and_inode_table() {
    let img = mkfs("groups", &["-b", "1024", "-N", "256"], "16M");
    let out = std::process::Command::new(tool("dumpe2fs")).arg(&img).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let at = |prefix: &str| -> Vec<u64> {
        let numbers = |l: &str| -> Vec<u64> {
            let rest = l.trim().strip_prefix(prefix).unwrap();
            rest.split(' ').next().unwrap().split('-').map(|n| n.parse().unwrap()).collect()
        };
        text.lines().filter(|l| l.trim().starts_with(prefix)).map(|l| *numbers(l).last().unwrap()).collect()
    };
    let (bitmaps, tables) = (at("Block bitmap at "), at("Inode table at "));
    let mut fs = mount(&img);
    let groups = fs.statfs().groups;
    assert_eq!(groups as usize, bitmaps.len(), "{text}");
    for g in 0..groups {
        // mke2fs puts the block bitmap, the inode bitmap and the table in a row.
        let (first, end) = fs.group_metadata(g).unwrap();
        assert_eq!((first, end), (bitmaps[g as usize], tables[g as usize] + 1), "group {g}");
    }
    assert!(fs.group_metadata(groups).is_err());
}
