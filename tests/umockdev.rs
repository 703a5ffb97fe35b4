//! The DTX ioctl path against an emulated /dev/surface/dtx: umockdev redirects the
//! live root's /sys and /dev to a testbed whose ioctl handler answers the DTX UAPI
//! (tests/umockdev/dtx.py). Needs umockdev, its GObject introspection data and
//! python3-gi (scripts/test.sh installs them); without them the test fails.

mod common;

use std::process::Command;

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
