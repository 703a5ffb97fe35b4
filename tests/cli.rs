//! The CLI's interface: JSON validated against docs/report-schema.json, exit codes,
//! human output, `explain`, `checks`, and the real `/` of the machine running the tests.

mod common;

use common::sb2::{Distro, Sb2, Size};
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/report-schema.json"
    ))
    .expect("docs/report-schema.json");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn assert_valid(report: &Value) {
    common::assert_schema(report);
}

#[test]
fn fixture_reports_match_the_schema() {
    for (size, distro) in [
        (Size::In13, Distro::NixOs),
        (Size::In15, Distro::DebianSurface),
        (Size::In15, Distro::DebianStock),
    ] {
        let t = Sb2::new(size, distro).build();
        let (code, r) = common::status(t.path());
        assert!(code == 0 || code == 1, "exit {code}");
        assert_valid(&r);
        assert_eq!(r["schema_version"], 1);
    }
}

#[test]
fn the_schema_rejects_what_the_interface_forbids() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let (_, r) = common::status(t.path());
    let v = schema();
    let mut bad = r.clone();
    bad["overall"] = "fine".into();
    assert!(!v.is_valid(&bad));
    let mut bad = r.clone();
    bad["machine"]["model"] = "surface-book-3".into();
    assert!(!v.is_valid(&bad));
    let mut bad = r.clone();
    bad["subsystems"][0]["checks"][0]["status"] = "failed".into();
    bad["subsystems"][0]["checks"][0]["hint"] = Value::Null;
    assert!(
        !v.is_valid(&bad),
        "a failed check without a hint must not validate"
    );
}

#[test]
fn the_live_root_of_this_machine_gives_a_valid_report() {
    let (code, out, err) = common::run(&["status", "--local", "--json"]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let r: Value = serde_json::from_str(&out).expect("JSON");
    assert_valid(&r);
    assert_eq!(r["source"], "/");
    // Plain `surface-check` is `status` on `/`, in human form, with the same exit code.
    let (plain, human, _) = common::run(&[]);
    assert_eq!(plain, code);
    assert!(human.contains("overall: "), "{human}");
}

#[test]
fn exit_codes() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let root = t.path().to_str().unwrap();
    assert_eq!(common::run(&["status", "--root", root]).0, 0);
    let stock = Sb2::new(Size::In15, Distro::DebianStock).build();
    assert_eq!(
        common::run(&["status", "--root", stock.path().to_str().unwrap()]).0,
        1
    );
    // Usage and runtime errors are 2.
    assert_eq!(common::run(&["status", "--bogus"]).0, 2);
    assert_eq!(common::run(&["explain", "no.such-check"]).0, 2);
    let (code, _, err) = common::run(&["status", "--root", "/nonexistent/root"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/root"), "{err}");
    let (code, _, err) = common::run(&["status", "--from", "/nonexistent/capture.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("capture.json"), "{err}");
}

#[test]
fn human_output_names_the_broken_link_and_its_fix() {
    let t = Sb2::new(Size::In15, Distro::DebianStock).build();
    let (code, out, _) = common::run(&["status", "--root", t.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let touch = out
        .lines()
        .position(|l| l.starts_with("✗ touch"))
        .unwrap_or_else(|| panic!("{out}"));
    let below: Vec<&str> = out.lines().skip(touch + 1).take(6).collect();
    assert!(
        below.iter().any(|l| l.contains("check: touch.ipts-driver")),
        "{out}"
    );
    assert!(
        below.iter().any(|l| l.trim_start().starts_with("fix: ")),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "NO_COLOR output has escape codes");
    let (_, colored, _) = common::run(&[
        "status",
        "--color",
        "always",
        "--root",
        t.path().to_str().unwrap(),
    ]);
    assert!(
        colored.contains("\x1b[31m"),
        "--color always paints failures red"
    );
}

#[test]
fn checks_and_explain_come_from_the_registry() {
    let (code, list, _) = common::run(&["checks"]);
    assert_eq!(code, 0);
    let (_, json, _) = common::run(&["checks", "--json"]);
    let all: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(all.len(), list.lines().count());
    for c in &all {
        let id = c["id"].as_str().unwrap();
        let (code, text, _) = common::run(&["explain", id]);
        assert_eq!(code, 0);
        assert!(text.starts_with(id), "{text}");
        assert!(text.contains(c["fix"].as_str().unwrap()));
    }
    assert!(all.iter().any(|c| c["id"] == "touch.iptsd"));
}
