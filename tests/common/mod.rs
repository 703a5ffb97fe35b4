//! Shared test support: the fixture generator and helpers that run the real binary.

#![allow(dead_code)]

pub mod boots;
pub mod bus;
pub mod hints;
pub mod sb2;
pub mod tree;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_surface-check");

/// Runs `surface-check` with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_with(Path::new(BIN), args)
}

/// Runs the binary `bin` with `args`; returns (exit code, stdout, stderr).
pub fn run_with(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running surface-check");
    (
        out.status.code().expect("exited normally, not by a signal"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// `status --local --root DIR --json`: (exit code, report).
pub fn status(root: &Path) -> (i32, Value) {
    let v = verdict::run(Path::new(BIN), root, &[]);
    (v.code, v.report)
}

pub fn subsystem<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no subsystem {id}"))
}

pub fn sub_status(r: &Value, id: &str) -> String {
    subsystem(r, id)["status"].as_str().unwrap().to_string()
}

pub fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    let sub = id.split('.').next().unwrap();
    subsystem(r, sub)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

pub fn check_status(r: &Value, id: &str) -> String {
    check(r, id)["status"].as_str().unwrap().to_string()
}

/// Every check's id and status, in report order.
pub fn check_statuses(r: &Value) -> Vec<(String, String)> {
    r["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["checks"].as_array().unwrap())
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every subsystem's status, for failure messages.
pub fn overview(r: &Value) -> String {
    r["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}={} ({})",
                s["id"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
                s["summary"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `report` satisfies docs/report-schema.json.
pub fn assert_schema(report: &Value) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/report-schema.json"
    ))
    .expect("docs/report-schema.json");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report violates the schema:\n{}",
        errors.join("\n")
    );
}

/// Debian 12's stock kernel package, for the preflight's tests and benchmark:
/// `$SURFACE_CHECK_DEBIAN_KERNEL`, else `target/debian-kernel/*.deb` (from
/// scripts/fetch-debian-kernel.sh, which scripts/test.sh runs in its set-up).
pub fn debian_kernel() -> PathBuf {
    if let Some(p) = std::env::var_os("SURFACE_CHECK_DEBIAN_KERNEL") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "SURFACE_CHECK_DEBIAN_KERNEL={} is not a file: run scripts/fetch-debian-kernel.sh",
            p.display()
        );
        return p;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian-kernel");
    std::fs::read_dir(&dir)
        .ok()
        .and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "deb"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no Debian kernel package in {}: run scripts/fetch-debian-kernel.sh (or set SURFACE_CHECK_DEBIAN_KERNEL)",
                dir.display()
            )
        })
}

/// `setpriv` to uid and gid 65534 (nobody) without groups or capabilities; the
/// program to run and its arguments follow.
pub fn setpriv_nobody() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
    ]);
    c
}

/// `KEY=VALUE` lines of a unit, D-Bus service or desktop-entry file: (section,
/// key, value). Any other line fails the test.
pub fn unit_entries(path: &Path) -> Vec<(String, String, String)> {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut section = String::new();
    let mut out = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        } else {
            panic!("{}: not KEY=VALUE: {line:?}", path.display());
        }
    }
    out
}
