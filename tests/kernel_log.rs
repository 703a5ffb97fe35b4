//! The kernel log as evidence: `--dmesg FILE` on a captured tree, in `capture` (with
//! redaction) and `status`, and files that must not hang or crash the run.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use serde_json::Value;

/// Verbatim lines of hw-probe record 79D657BBD855 (linux-surface 6.0.3, 15"; see
/// tests/real/README.md), plus two invented lines (marked) that carry a host name, a
/// user name and a MAC address for the redaction test.
const DMESG: &str = "\
[    0.000000] Linux version 6.0.3-arch1-1-surface (alice@sb2-alice) (gcc (GCC) 12.2.0, GNU ld (GNU Binutils) 2.39.0) #1 SMP PREEMPT_DYNAMIC Mon, 24 Oct 2022 10:30:44 +0000
[    0.000000] DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 389.2837.768 08/21/2019
[    0.341373] pci 0000:00:05.0: DMAR: Passthrough IOMMU for integrated Intel IPU
[    0.351567] pci 0000:00:16.4: DMAR: Passthrough IOMMU for IPTS
[    0.359916] pci 0000:01:00.0: [11ab:2b38] type 00 class 0x020000
[    3.607036] ipu3-cio2 0000:00:14.3: Found supported sensor INT33BE:00
[    3.607259] ipu3-cio2 0000:00:14.3: Connected 3 cameras
[    3.623044] ov7251: probe of i2c-INT347E:00 failed with error -2
[    3.878602] ipts 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04: Starting IPTS
[    3.889013] surface_serial_hub serial0-0: SAM firmware version: 182.1004.139
[    5.299284] mwifiex_pcie 0000:01:00.0: info: FW download over, size 723540 bytes
[    6.000000] mwifiex_pcie 0000:01:00.0: WLAN FW is active (invented: address 70:bc:10:aa:bb:cc on sb2-alice)
";

/// Runs the binary with a deadline: (exit code, stdout, stderr, elapsed). A run past
/// the deadline is killed and fails the test.
fn run_within(args: &[&str], limit: Duration) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(common::BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running surface-check");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("surface-check {args:?} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited normally, not by a signal"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        start.elapsed(),
    )
}

fn capture(root: &Path, dmesg: Option<&Path>) -> Value {
    let mut args = vec!["capture", "--root", root.to_str().unwrap()];
    if let Some(d) = dmesg {
        args.extend(["--dmesg", d.to_str().unwrap()]);
    }
    let (code, out, err, _) = run_within(&args, Duration::from_secs(60));
    assert_eq!(code, 0, "capture failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("capture printed no JSON: {e}"))
}

fn lines(facts: &Value) -> Vec<String> {
    facts["kernel_log"]["ok"]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no kernel log lines: {}", facts["kernel_log"]))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_dmesg_file_feeds_the_capture_redacted() {
    let sb2 = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = sb2.build();
    t.file("proc/sys/kernel/hostname", "sb2-alice\n");
    t.mkdir("home/alice");
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("dmesg.txt");
    std::fs::write(&file, DMESG).unwrap();

    let facts = capture(t.path(), Some(&file));
    let log = &facts["kernel_log"]["ok"];
    assert_eq!(log["source"], file.to_str().unwrap());
    assert_eq!(log["from_boot"], true);
    assert_eq!(log["total"], 12);
    let got = lines(&facts);
    for want in [
        "DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 389.2837.768 08/21/2019",
        "pci 0000:00:16.4: DMAR: Passthrough IOMMU for IPTS",
        "ipu3-cio2 0000:00:14.3: Connected 3 cameras",
        "ov7251: probe of i2c-INT347E:00 failed with error -2",
        "surface_serial_hub serial0-0: SAM firmware version: 182.1004.139",
        // Redacted: the builder's user and host, a MAC, the host name. The IPTS MEI
        // client's UUID is a protocol constant that names the device the checks
        // look for: kept.
        "ipts 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04: Starting IPTS",
        "Linux version 6.0.3-arch1-1-surface (<user>@<host>) (gcc (GCC) 12.2.0, GNU ld (GNU Binutils) 2.39.0) #1 SMP PREEMPT_DYNAMIC Mon, 24 Oct 2022 10:30:44 +0000",
        "mwifiex_pcie 0000:01:00.0: WLAN FW is active (invented: address <mac> on <host>)",
    ] {
        assert!(
            got.iter().any(|l| l == want),
            "missing {want:?} in {got:#?}"
        );
    }
    // Not a profile message: left out.
    assert!(!got.iter().any(|l| l.contains("[11ab:2b38]")), "{got:#?}");
    let text = facts["kernel_log"].to_string();
    for secret in ["alice", "70:bc:10"] {
        assert!(!text.contains(secret), "{secret} left in {text}");
    }

    // `status --from` reads the capture with its log; `--dmesg` does not go with it.
    let cap = d.path().join("facts.json");
    std::fs::write(&cap, facts.to_string()).unwrap();
    let (code, out, err, _) = run_within(
        &["status", "--from", cap.to_str().unwrap(), "--json"],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let (code, _, err, _) = run_within(
        &[
            "status",
            "--from",
            cap.to_str().unwrap(),
            "--dmesg",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 2, "--from with --dmesg must be refused: {err}");
}

#[test]
fn a_captured_tree_without_a_log_says_not_provided_and_stays_healthy() {
    let sb2 = Sb2::new(Size::In13, Distro::NixOs);
    let t = sb2.build();
    let facts = capture(t.path(), None);
    assert_eq!(facts["kernel_log"]["unknown"]["path"], "kernel log");
    let reason = facts["kernel_log"]["unknown"]["reason"].as_str().unwrap();
    assert!(reason.contains("not provided"), "{reason}");
    assert!(reason.contains("--dmesg"), "{reason}");

    let (code, report) = common::status(t.path());
    assert_eq!(code, 0, "{}", common::overview(&report));

    // The same tree with a log: still healthy, same verdicts.
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("dmesg");
    std::fs::write(&file, DMESG).unwrap();
    let root = t.path().to_str().unwrap();
    let (code, out, err, _) = run_within(
        &[
            "status",
            "--root",
            root,
            "--dmesg",
            file.to_str().unwrap(),
            "--json",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let with_log: Value = serde_json::from_str(&out).unwrap();
    for sub in ["touch", "camera", "battery", "detach", "input"] {
        assert_eq!(
            common::sub_status(&with_log, sub),
            common::sub_status(&report, sub),
            "{sub} changed with the log"
        );
    }
}

#[test]
fn a_fifo_or_a_huge_file_as_dmesg_fails_fast_and_clearly() {
    let sb2 = Sb2::new(Size::In15, Distro::DebianStock);
    let t = sb2.build();
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let huge = d.path().join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let root = t.path().to_str().unwrap();
    for (file, why) in [(&fifo, "not a regular file"), (&huge, "larger than")] {
        for cmd in ["status", "capture"] {
            let (code, out, err, took) = run_within(
                &[cmd, "--root", root, "--dmesg", file.to_str().unwrap()],
                Duration::from_secs(20),
            );
            assert_eq!(code, 2, "{cmd} with {}: {err}\n{out}", file.display());
            assert!(err.contains(why), "{cmd}: stderr {err:?} lacks {why:?}");
            assert!(!err.contains("panicked"), "{err}");
            assert!(took < Duration::from_secs(10), "{cmd} took {took:?}");
        }
    }
    // A missing file, a directory and an empty file.
    let (code, _, err, _) = run_within(
        &["status", "--root", root, "--dmesg", "/nonexistent/dmesg"],
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/dmesg"), "{err}");
    let (code, _, err, _) = run_within(
        &[
            "status",
            "--root",
            root,
            "--dmesg",
            d.path().to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{err}");
    let empty = d.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let facts = capture(t.path(), Some(&empty));
    assert_eq!(facts["kernel_log"]["ok"]["total"], 0);
    assert_eq!(facts["kernel_log"]["ok"]["from_boot"], false);
}
