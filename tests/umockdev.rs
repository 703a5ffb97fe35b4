//! The DTX ioctl path against an emulated /dev/surface/dtx: umockdev redirects the
//! live root's /sys and /dev to a testbed whose ioctl handler answers the DTX UAPI
//! (tests/umockdev/dtx.py). Needs umockdev, its GObject introspection data and
//! python3-gi (scripts/test.sh installs them); without them the test fails.
//!
//! The state ioctls are read by `surface-check` itself; the event stream by
//! examples/dtx-events.rs, which runs the library's `DtxEvents` reader and prints each
//! event as a JSON line.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const HARNESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/umockdev/dtx.py");

/// Runs surface-check ARGS against the emulated DTX device in `scenario`; returns
/// its JSON output and the ioctl requests it made.
fn run(scenario: &str, args: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let r = Command::new("/usr/bin/python3")
        .arg(HARNESS)
        .arg(common::BIN)
        .arg(scenario)
        .arg(&out)
        .args(args)
        .output()
        .expect("running /usr/bin/python3 (install python3-gi, gir1.2-umockdev-1.0, umockdev)");
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    let code = r
        .status
        .code()
        .unwrap_or_else(|| panic!("harness killed: {err}"));
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("no JSON ({e}): {err}"));
    (v, err)
}

#[test]
fn an_attached_base_is_read_from_the_dtx_device() {
    let (facts, ioctls) = run("attached", &["capture"]);
    assert!(
        ioctls.contains("0x8004a529")
            && ioctls.contains("0x8002a52a")
            && ioctls.contains("0x8002a52b"),
        "{ioctls}"
    );
    let dtx = &facts["dtx"];
    assert_eq!(dtx["node"]["ok"]["type"], "char_device", "{dtx}");
    assert_eq!(dtx["node"]["ok"]["major"], 10);
    assert_eq!(dtx["state"]["ok"]["base_state"], 1, "{dtx}");
    assert_eq!(dtx["state"]["ok"]["base_id"], 0x0207);
    assert_eq!(dtx["state"]["ok"]["device_mode"], 1);
    assert_eq!(dtx["state"]["ok"]["latch_status"], 0);

    let (report, _) = run("attached", &["status", "--local", "--json"]);
    common::assert_schema(&report);
    assert_eq!(report["machine"]["model"], "surface-book-2-15");
    assert_eq!(
        report["machine"]["base"], "attached",
        "{}",
        report["machine"]
    );
    assert!(
        report["machine"]["base_evidence"]
            .as_str()
            .unwrap()
            .contains("/dev/surface/dtx")
    );
}

#[test]
fn a_detached_base_makes_base_devices_absent() {
    let (facts, _) = run("detached", &["capture"]);
    assert_eq!(facts["dtx"]["state"]["ok"]["base_state"], 0);
    assert_eq!(facts["dtx"]["state"]["ok"]["device_mode"], 0);
    assert_eq!(facts["dtx"]["state"]["ok"]["latch_status"], 1);

    let (report, _) = run("detached", &["status", "--local", "--json"]);
    common::assert_schema(&report);
    assert_eq!(
        report["machine"]["base"], "detached",
        "{}",
        report["machine"]
    );
    assert_eq!(common::check_status(&report, "input.keyboard"), "absent");
    assert_eq!(common::check_status(&report, "dgpu.present"), "absent");
}

#[test]
fn a_refused_ioctl_is_unknown_with_its_reason() {
    let (facts, ioctls) = run("enotty", &["capture"]);
    assert!(ioctls.contains("0x8002a52a"), "{ioctls}");
    let state = &facts["dtx"]["state"]["unknown"];
    assert!(
        state["reason"].as_str().unwrap().contains("ioctl"),
        "{}",
        facts["dtx"]
    );
    let (report, _) = run("enotty", &["status", "--local", "--json"]);
    common::assert_schema(&report);
    assert_ne!(
        report["machine"]["base_evidence"].as_str().unwrap(),
        "/dev/surface/dtx: base attached"
    );
}

/// examples/dtx-events.rs, built with this test's profile (`cargo test` has built it
/// already, so this costs nothing).
fn dtx_events_bin() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--example", "dtx-events", "--message-format=json"])
            .output()
            .expect("running cargo build --example dtx-events");
        assert!(
            out.status.success(),
            "cargo build --example dtx-events: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "dtx-events")
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo build reported no dtx-events executable")
    })
}

/// What dtx-events printed in an event scenario, the ioctls and reads the emulated
/// device saw, its exit code and how long the whole run took.
struct Stream {
    lines: Vec<Value>,
    ioctls: Vec<String>,
    reads: Vec<String>,
    code: i32,
    took: Duration,
}

impl Stream {
    /// The events' `text`, in order.
    fn texts(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.get("event").is_some())
            .map(|l| l["text"].as_str().unwrap())
            .collect()
    }

    fn error(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| l["error"].as_str())
    }
}

/// Runs dtx-events for `seconds` against the emulated device in `scenario`.
fn stream(scenario: &str, seconds: &str) -> Stream {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let start = Instant::now();
    let r = Command::new("/usr/bin/python3")
        .arg(HARNESS)
        .arg(dtx_events_bin())
        .arg(scenario)
        .arg(&out)
        .arg(seconds)
        .output()
        .expect("running /usr/bin/python3 (install python3-gi, gir1.2-umockdev-1.0, umockdev)");
    let took = start.elapsed();
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    let code = r
        .status
        .code()
        .unwrap_or_else(|| panic!("harness killed: {err}"));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{err}")))
        .collect();
    let field = |name: &str| -> Vec<String> {
        err.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no '{name}' line: {err}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    Stream {
        lines,
        ioctls: field("ioctls:"),
        reads: field("reads:"),
        code,
        took,
    }
}

#[test]
fn the_event_stream_decodes_the_drivers_events_and_its_resync_quirk() {
    let s = stream("events", "2");
    assert_eq!(s.code, 0, "{:?} {:?}", s.lines, s.reads);
    // EVENTS_ENABLE first, EVENTS_DISABLE when the reader is dropped, nothing else.
    assert_eq!(s.ioctls, ["0xa521", "0xa522"], "{:?}", s.lines);
    // The quirk's BASE_CONNECTION (latch word 1 and 2 stray bytes) is a latch event,
    // not a base state; the base connection split over two reads arrives whole.
    assert_eq!(
        s.texts(),
        [
            "detach requested",
            "latch opened",
            "base detached",
            "tablet mode"
        ],
        "{:?}",
        s.lines
    );
    let events: Vec<&Value> = s.lines.iter().filter_map(|l| l.get("event")).collect();
    assert_eq!(events[0]["kind"], "request");
    assert_eq!(events[1]["kind"], "latch_status");
    assert_eq!(events[1]["value"], 1);
    assert_eq!(events[2]["kind"], "base_connection");
    assert_eq!(events[2]["value"]["state"], 0);
    assert_eq!(events[2]["value"]["base_id"], 0x0207);
    assert_eq!(events[3]["kind"], "device_mode");
    assert_eq!(events[3]["value"], 0);
    assert_eq!(s.lines.last().unwrap()["end"], "timeout", "{:?}", s.lines);
    // The reader waits in poll() and reads only when woken: one read per delivery
    // (3) and one for the wake-up with nothing queued, which answered EAGAIN, and
    // that did not stop the stream.
    assert_eq!(
        s.reads,
        ["512:4", "512:11", "512:11", "512:-EAGAIN"],
        "{:?}",
        s.lines
    );
}

#[test]
fn a_refused_events_enable_is_a_clear_error() {
    for (scenario, reason) in [
        (
            "events-enotty",
            "ioctl EVENTS_ENABLE: not a DTX device (ENOTTY)",
        ),
        ("events-eacces", "permission denied"),
    ] {
        let s = stream(scenario, "30");
        assert_eq!(s.code, 1, "{scenario}: {:?}", s.lines);
        assert_eq!(s.error(), Some(reason), "{scenario}: {:?}", s.lines);
        assert!(s.texts().is_empty(), "{scenario}: {:?}", s.lines);
        // Never enabled, so never disabled; nothing read.
        assert_eq!(s.ioctls, ["0xa521"], "{scenario}");
        assert!(s.reads.is_empty(), "{scenario}: {:?}", s.reads);
        // At once, not after the 30 s it was given.
        assert!(
            s.took < Duration::from_secs(20),
            "{scenario} took {:?}",
            s.took
        );
    }
}

#[test]
fn a_device_that_goes_away_ends_the_stream_with_its_reason() {
    let s = stream("events-gone", "30");
    assert_eq!(s.code, 1, "{:?}", s.lines);
    assert_eq!(s.texts(), ["detach requested"], "{:?}", s.lines);
    assert_eq!(
        s.error(),
        Some("read: the DTX device went away (ENODEV)"),
        "{:?}",
        s.lines
    );
    assert_eq!(s.reads, ["512:4", "512:-ENODEV"]);
    // EVENTS_DISABLE is still tried when the reader is dropped (the device answers
    // ENODEV to it).
    assert_eq!(s.ioctls, ["0xa521", "0xa522"]);
    assert!(s.took < Duration::from_secs(20), "took {:?}", s.took);
}
