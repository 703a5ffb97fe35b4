//! Issue 6, item 1: a root that is not the live `/` is data. Device nodes and FIFOs
//! inside it are never opened: a block node pointing at a real loop device with
//! known content, a `c 1 3` node at the DTX path, a FIFO where a file is expected.
//! Each runs the real binary on a fixture tree, and `strace` proves the node was
//! never opened for reading (only `O_PATH`, which runs no driver code).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use serde_json::Value;

const MARK: &str = "LOOPDEV-SECRET-CONTENT-7f3a";

/// A loop device over a small file whose every line is `MARK`; detached on drop.
struct Loop {
    dev: PathBuf,
    _file: tempfile::NamedTempFile,
}

impl Loop {
    fn new() -> Loop {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let line = format!("{MARK}\n");
        for _ in 0..(64 * 1024 / line.len()) {
            f.write_all(line.as_bytes()).unwrap();
        }
        f.as_file().set_len(64 * 1024).unwrap();
        f.flush().unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(f.path())
            .output()
            .expect("losetup (util-linux) must be installed");
        assert!(
            out.status.success(),
            "losetup failed (tests run as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        // The loop device really holds the content.
        let head = std::fs::read(&dev).unwrap();
        assert!(String::from_utf8_lossy(&head).starts_with(MARK));
        Loop { dev, _file: f }
    }

    fn rdev(&self) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let r = std::fs::metadata(&self.dev).unwrap().rdev();
        (libc::major(r) as u64, libc::minor(r) as u64)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn block_node(t: &Tree, rel: &str, (major, minor): (u64, u64)) {
    let p = t.path().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&p);
    nix::sys::stat::mknod(
        &p,
        nix::sys::stat::SFlag::S_IFBLK,
        nix::sys::stat::Mode::from_bits_truncate(0o660),
        nix::sys::stat::makedev(major, minor),
    )
    .expect("mknod (tests run as root)");
}

/// Runs the binary under `strace`, returning (exit code, stdout, the trace).
fn traced(args: &[&str]) -> (i32, String, String) {
    let trace = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(trace.path())
        .arg(common::BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("strace must be installed");
    let code = out.status.code().expect("exited normally");
    (
        code,
        String::from_utf8(out.stdout).unwrap(),
        std::fs::read_to_string(trace.path()).unwrap(),
    )
}

/// The trace lines that open `rel` (the tree's path, resolved in-root or not)
/// other than with `O_PATH`.
fn opened_for_io<'a>(trace: &'a str, rel: &str) -> Vec<&'a str> {
    trace
        .lines()
        .filter(|l| l.contains(rel) && !l.contains("O_PATH"))
        .collect()
}

fn fact<'a>(facts: &'a Value, ptr: &str) -> &'a Value {
    facts.pointer(ptr).unwrap_or_else(|| panic!("no {ptr}"))
}

fn capture(root: &Path) -> (Value, String) {
    let (code, out, trace) = traced(&["capture", "--root", root.to_str().unwrap()]);
    assert_eq!(code, 0, "capture failed");
    let v: Value = serde_json::from_str(&out).expect("capture prints JSON");
    (v, trace)
}

#[test]
fn a_block_node_inside_a_root_is_never_read() {
    let lo = Loop::new();
    let sb2 = Sb2::new(Size::In13, Distro::DebianSurface);
    let t = sb2.build();
    block_node(&t, "sys/class/dmi/id/product_sku", lo.rdev());
    block_node(&t, "proc/version", lo.rdev());
    let root = t.path().to_str().unwrap();

    let (code, out, trace) = traced(&["status", "--local", "--root", root, "-v", "--json"]);
    assert!(code == 0 || code == 1, "exit {code}");
    assert!(
        !out.contains(MARK),
        "the loop device's content reached status"
    );
    for rel in ["product_sku", "proc/version"] {
        assert!(
            opened_for_io(&trace, rel).is_empty(),
            "{rel} was opened: {:?}",
            opened_for_io(&trace, rel)
        );
    }
    let r: Value = serde_json::from_str(&out).unwrap();
    common::assert_schema(&r);

    let (facts, trace) = capture(t.path());
    let text = facts.to_string();
    assert!(
        !text.contains(MARK),
        "the loop device's content reached capture"
    );
    assert!(opened_for_io(&trace, "proc/version").is_empty());
    for ptr in ["/kernel/version/unknown", "/dmi/product_sku/unknown"] {
        let reason = fact(&facts, ptr)["reason"].as_str().unwrap();
        assert!(
            reason.contains("a block device") && reason.contains("not a regular file"),
            "{ptr}: {reason}"
        );
    }
}

#[test]
fn a_character_node_at_the_dtx_path_of_a_root_is_never_opened() {
    let sb2 = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = sb2.build();
    t.char_node("dev/surface/dtx", 1, 3);
    let (facts, trace) = capture(t.path());
    assert!(
        opened_for_io(&trace, "surface/dtx").is_empty(),
        "{:?}",
        opened_for_io(&trace, "surface/dtx")
    );
    let state = fact(&facts, "/dtx/state");
    assert!(
        state.get("ok").is_none(),
        "DTX state from /dev/null: {state}"
    );
    let reason = state["unknown"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("never opened"), "{state}");
}

#[test]
fn a_fifo_where_a_file_is_expected_is_unknown_at_once() {
    let sb2 = Sb2::new(Size::In13, Distro::NixOs);
    let t = sb2.build();
    t.fifo("proc/version");
    t.fifo("sys/class/dmi/id/product_sku");
    let start = Instant::now();
    let (code, out, _) = common::run(&["capture", "--root", t.path().to_str().unwrap()]);
    let took = start.elapsed();
    assert_eq!(code, 0);
    // Not cut off by the 1.5 s watchdog: never opened at all.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let facts: Value = serde_json::from_str(&out).unwrap();
    let reason = fact(&facts, "/kernel/version/unknown/reason")
        .as_str()
        .unwrap();
    assert!(reason.contains("a FIFO, not a regular file"), "{reason}");
    assert!(
        facts["hung_paths"].as_array().unwrap().is_empty(),
        "{}",
        facts["hung_paths"]
    );
}
