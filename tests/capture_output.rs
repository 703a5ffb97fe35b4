//! Where `capture` reads its names and writes its output, and what `status --from`
//! reads (issue 6, items 2 and 3, and the `--from` cap): the host name is read
//! under the watchdog; `-o` never follows or replaces what is not a regular file,
//! never leaves a temporary file behind, and writes through FIFOs and character
//! devices; `--from` caps every kind of file and gives up on a FIFO with no writer.
//!
//! Every test runs the real binary as root (the tests use mknod and lchown).

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use serde_json::Value;

/// What a run of the binary gave.
struct Run {
    code: i32,
    out: Vec<u8>,
    err: String,
    took: Duration,
}

/// Runs the binary with `args` in `cwd`, feeding `stdin` from a thread (write
/// errors ignored: the binary may stop reading), killing it past `limit` and
/// failing the test then: a hang is a failure, not a stuck suite.
fn run_limited(args: &[&str], cwd: &Path, stdin: Option<Vec<u8>>, limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(common::BIN)
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting surface-check");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_h = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_h = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err_h.join().unwrap()).into_owned();
            panic!("surface-check {args:?} still running after {limit:?}; stderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    Run {
        code: status.code().expect("exited normally, not by a signal"),
        out: out_h.join().unwrap(),
        err: String::from_utf8_lossy(&err_h.join().unwrap()).into_owned(),
        took,
    }
}

const LIMIT: Duration = Duration::from_secs(60);

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("surface-check-output-")
        .tempdir()
        .unwrap()
}

/// A small healthy tree: capturing it is fast.
fn small_root() -> common::tree::Tree {
    Sb2::new(Size::In13, Distro::NixOs).build()
}

/// `capture --root ROOT -o OUT`.
fn capture_to(root: &Path, out: &str, cwd: &Path) -> Run {
    run_limited(
        &["capture", "--root", root.to_str().unwrap(), "-o", out],
        cwd,
        None,
        LIMIT,
    )
}

/// `capture --root ROOT` to standard output.
fn capture_stdout(root: &Path) -> Vec<u8> {
    let r = run_limited(
        &["capture", "--root", root.to_str().unwrap()],
        root,
        None,
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.err);
    r.out
}

/// Asserts `bytes` is a capture: JSON that `status --from` accepts.
fn assert_capture(bytes: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "not a capture ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        )
    });
    assert!(v.get("facts_version").is_some(), "no facts_version");
    v
}

/// The sorted entries of `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn is_char_dev(p: &Path, major: u64, minor: u64) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| {
        m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(major, minor)
    })
}

// ---- item 2: the host and user names are read under the watchdog ----------------

#[test]
fn capture_with_fifos_at_the_host_name_paths_finishes_and_replays() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    t.fifo("proc/sys/kernel/hostname");
    t.fifo("etc/hostname");
    let dir = tempdir();
    let file = dir.path().join("capture.json");
    let r = capture_to(t.path(), file.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    // Two hung reads at the default 1.5 s timeout, and the probe.
    assert!(r.took < Duration::from_secs(8), "capture took {:?}", r.took);
    assert_capture(&std::fs::read(&file).unwrap());
    // The capture replays to the verdicts of the tree itself.
    let (_, live) = common::status(t.path());
    let (code, out, err) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
    assert!(code == 0 || code == 1, "{err}");
    let replayed: Value = serde_json::from_str(&out).unwrap();
    common::assert_schema(&replayed);
    assert_eq!(common::overview(&live), common::overview(&replayed));
}

// ---- item 3: `capture -o` ---------------------------------------------------------

#[test]
fn a_planted_symlink_at_the_old_tmp_name_is_left_alone() {
    // A shared directory (like /tmp) where another user planted `<out>.tmp`, the
    // name the tool used to write through, pointing at a 0600 file of root's.
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "root's own\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("capture.tmp");
    std::os::unix::fs::symlink("secret", &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();

    let root = small_root();
    let out = dir.path().join("capture.json");
    let r = capture_to(root.path(), out.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        std::fs::read_to_string(&secret).unwrap() == "root's own\n",
        "root's 0600 file was overwritten through the planted link"
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("secret"),
        "the planted link was touched"
    );
    let m = std::fs::symlink_metadata(&out).unwrap();
    assert!(m.file_type().is_file());
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert_capture(&std::fs::read(&out).unwrap());
    assert_eq!(
        entries(dir.path()),
        strings(&["capture.json", "capture.tmp", "secret"]),
        "a temporary file was left behind"
    );
}

#[test]
fn a_symlink_at_the_target_is_refused_and_its_target_kept() {
    let dir = tempdir();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "keep me\n").unwrap();
    let out = dir.path().join("capture.json");
    std::os::unix::fs::symlink("secret", &out).unwrap();
    let root = small_root();
    let r = capture_to(root.path(), out.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("symbolic link"), "{}", r.err);
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep me\n");
    assert_eq!(std::fs::read_link(&out).unwrap(), Path::new("secret"));
    assert_eq!(entries(dir.path()), strings(&["capture.json", "secret"]));
}

#[test]
fn a_character_device_is_written_through_not_replaced() {
    let dir = tempdir();
    let null = dir.path().join("null");
    nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod (the tests run as root)");
    let root = small_root();
    let r = capture_to(root.path(), null.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(is_char_dev(&null, 1, 3), "the node was replaced");
    assert_eq!(entries(dir.path()), strings(&["null"]));
    // Only once the tool is known not to replace nodes: the real /dev/null.
    let r = capture_to(root.path(), "/dev/null", dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        is_char_dev(Path::new("/dev/null"), 1, 3),
        "/dev/null is no longer the null device"
    );
}

#[test]
fn a_directory_is_an_error_that_leaves_nothing_behind() {
    let base = tempdir();
    let out = base.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let root = small_root();
    for target in [
        format!("{}/", out.display()),
        out.display().to_string(),
        format!("{}/missing/", base.path().display()),
    ] {
        let r = capture_to(root.path(), &target, base.path());
        assert_eq!(r.code, 2, "-o {target}: {}", r.err);
        assert!(r.err.contains("directory"), "-o {target}: {}", r.err);
        assert_eq!(entries(base.path()), strings(&["out"]), "-o {target}");
        assert!(entries(&out).is_empty(), "-o {target}");
    }
}

#[test]
fn a_fifo_receives_the_capture_and_stays_a_fifo() {
    let dir = tempdir();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (tx, rx) = mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let r = std::fs::File::open(&reader_path).and_then(|mut f| f.read_to_end(&mut v));
        let _ = tx.send(r.map(|_| v));
    });
    let root = small_root();
    let r = capture_to(root.path(), fifo.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the FIFO's reader got nothing")
        .unwrap();
    assert_capture(&got);
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(entries(dir.path()), strings(&["pipe"]));
}

#[test]
fn another_users_fifo_in_a_shared_directory_is_refused() {
    // As the kernel's protected_fifos: in a sticky world-writable directory, a FIFO
    // neither ours nor the directory owner's may be someone listening for a capture.
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let fifo = dir.path().join("capture.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    std::os::unix::fs::lchown(&fifo, Some(65534), Some(65534)).unwrap();
    let root = small_root();
    let r = capture_to(root.path(), fifo.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("another user"), "{}", r.err);
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(entries(dir.path()), strings(&["capture.json"]));
}

#[test]
fn a_regular_file_is_replaced_atomically_with_mode_0600() {
    let dir = tempdir();
    let out = dir.path().join("capture.json");
    std::fs::write(&out, "old\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A second name of the old file: an atomic replacement leaves it whole.
    let other = dir.path().join("other");
    std::fs::hard_link(&out, &other).unwrap();
    let old_ino = std::fs::metadata(&out).unwrap().ino();
    let root = small_root();
    let r = capture_to(root.path(), out.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    let m = std::fs::symlink_metadata(&out).unwrap();
    assert!(m.file_type().is_file());
    assert_ne!(m.ino(), old_ino, "written in place, not replaced");
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert_capture(&std::fs::read(&out).unwrap());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "old\n");
    assert_eq!(entries(dir.path()), strings(&["capture.json", "other"]));
    // A new file is 0600 too, whatever the umask.
    let new = dir.path().join("new.json");
    let r = capture_to(root.path(), new.to_str().unwrap(), dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o7777, 0o600);
}

#[test]
fn dash_and_the_standard_streams_are_written_to_directly() {
    let dir = tempdir();
    let root = small_root();
    let r = capture_to(root.path(), "-", dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert_capture(&r.out);
    assert!(entries(dir.path()).is_empty(), "-o - made a file");
    // /dev/stdout is a link into /proc: never replaced, written to.
    let r = capture_to(root.path(), "/dev/stdout", dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    assert_capture(&r.out);
    let r = capture_to(root.path(), "/dev/stderr", dir.path());
    assert_eq!(r.code, 0, "{}", r.err);
    let json = r.err.find('{').map(|i| &r.err[i..]).unwrap_or("");
    assert_capture(json.as_bytes());
    assert!(entries(dir.path()).is_empty());
    for p in ["/dev/stdout", "/dev/stderr"] {
        assert!(
            std::fs::symlink_metadata(p)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{p} was replaced"
        );
    }
}

// ---- `status --from`: a cap on every kind of file, and no endless wait ----------

/// A valid capture padded with whitespace past 64 MiB: it parses if read whole.
fn oversized_capture() -> Vec<u8> {
    let mut v = capture_stdout(small_root().path());
    v.resize((64 << 20) + (1 << 20), b' ');
    v
}

#[test]
fn from_stdin_and_a_fifo_past_the_cap_are_refused() {
    let big = oversized_capture();
    let dir = tempdir();
    let r = run_limited(
        &["status", "--from", "/dev/stdin", "--json"],
        dir.path(),
        Some(big.clone()),
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("larger than 64 MiB"), "{}", r.err);

    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&writer_path) {
            let _ = f.write_all(&big);
        }
    });
    let r = run_limited(
        &["status", "--from", fifo.to_str().unwrap(), "--json"],
        dir.path(),
        None,
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("larger than 64 MiB"), "{}", r.err);

    // A regular file past the cap, as before.
    let file = dir.path().join("big.json");
    std::fs::write(&file, oversized_capture()).unwrap();
    let r = run_limited(
        &["status", "--from", file.to_str().unwrap()],
        dir.path(),
        None,
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("larger than 64 MiB"), "{}", r.err);
}

#[test]
fn from_a_fifo_with_no_writer_gives_up() {
    let dir = tempdir();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let r = run_limited(
        &["status", "--from", fifo.to_str().unwrap()],
        dir.path(),
        None,
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("no writer"), "{}", r.err);
    assert!(r.took < Duration::from_secs(15), "took {:?}", r.took);
}

#[test]
fn from_stdin_and_a_fifo_with_a_capture_replay_it() {
    let root = small_root();
    let dir = tempdir();
    let cap = capture_stdout(root.path());
    let r = run_limited(
        &["status", "--from", "/dev/stdin", "--json"],
        dir.path(),
        Some(cap.clone()),
        LIMIT,
    );
    assert!(r.code == 0 || r.code == 1, "{}", r.err);
    common::assert_schema(&serde_json::from_slice(&r.out).unwrap());

    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let writer_path = fifo.clone();
    std::thread::spawn(move || {
        // The writer comes late: the reader waits for it.
        std::thread::sleep(Duration::from_millis(500));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&writer_path)
            .unwrap();
        f.write_all(&cap).unwrap();
    });
    let r = run_limited(
        &["status", "--from", fifo.to_str().unwrap(), "--json"],
        dir.path(),
        None,
        LIMIT,
    );
    assert!(r.code == 0 || r.code == 1, "{}", r.err);
    common::assert_schema(&serde_json::from_slice(&r.out).unwrap());
}
