//! Unreadable is not broken (issue 6, item 7) and numbers that make no sense (item 9).
//!
//! The real binary runs as an unprivileged user (uid 65534, through `setpriv`) on a
//! healthy fixture tree in which single files are `chmod 600` (root-owned, so that
//! user cannot read them) or whole directories are missing: every check that rests on
//! such a file must say `unknown` with the reason, never `failed` and never `ok` on a
//! guess. Battery values that are not finite, negative or absurd are `unknown`
//! (garbage from the firmware or a capture), with the value as evidence.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use common::{check, check_status, overview};
use serde_json::Value;

/// The binary, where uid 65534 can execute it: a copy in a world-readable directory
/// (the build directory may sit under a path that user cannot traverse).
fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("surface-check-bin-")
            .tempdir()
            .expect("temp dir for the binary")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = dir.join("surface-check");
        std::fs::copy(common::BIN, &p).expect("copying the binary");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    })
}

/// Makes the tree traversable by anyone (a temp dir is 0700), then makes each of
/// `files` readable by root only.
fn lock(t: &Tree, files: &[&str]) {
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in files {
        let p = t.path().join(f);
        assert!(p.exists(), "fixture has no {f}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// `status --local --root DIR --json` as uid/gid 65534 without groups: (exit, report).
fn status_unprivileged(root: &Path) -> (i32, Value) {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["status", "--local", "--root"])
        .arg(root)
        .arg("--json")
        .env("NO_COLOR", "1")
        .output()
        .expect("running setpriv (util-linux)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("status printed no JSON ({e}); stderr: {stderr}\nstdout: {stdout}")
    });
    (out.status.code().expect("exited normally"), v)
}

fn evidence(r: &Value, id: &str) -> String {
    let c = check(r, id);
    format!("{} | {}", c["summary"], c["evidence"])
}

/// Asserts that check `id` is `unknown` and that its summary or evidence names
/// `path` and `reason`.
fn assert_unknown(r: &Value, id: &str, path: &str, reason: &str) {
    let st = check_status(r, id);
    let ev = evidence(r, id);
    assert_eq!(st, "unknown", "{id}: {ev}\n{}", overview(r));
    assert!(
        ev.contains(path) && ev.contains(reason),
        "{id}: the evidence should name {path} and {reason:?}: {ev}"
    );
}

fn sb2() -> Sb2 {
    Sb2::new(Size::In15, Distro::DebianSurface)
}

// ---- item 7: unreadable is not broken ----------------------------------------------

#[test]
fn unreadable_mei_device_id_is_unknown_not_missing() {
    let t = sb2().build();
    let f = "sys/devices/pci0000:00/0000:00:16.4/device";
    lock(&t, &[f]);
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "touch.mei", "0000:00:16.4/device", "permission denied");
}

#[test]
fn unreadable_keyboard_id_product_is_unknown() {
    let t = sb2().build();
    let dir = std::fs::canonicalize(t.path().join("sys/bus/usb/devices/1-1.3")).unwrap();
    let f = dir.join("idProduct");
    let rel = f
        .strip_prefix(t.path())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    lock(&t, &[&rel]);
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "input.keyboard", "1-1.3/idProduct", "permission denied");
}

#[test]
fn unreadable_platform_profile_is_unknown() {
    let t = sb2().build();
    lock(&t, &["sys/firmware/acpi/platform_profile"]);
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(
        &r,
        "platform.profile",
        "/sys/firmware/acpi/platform_profile",
        "permission denied",
    );
}

/// The input device of the keyboard (045e:0922 with KEY_Q), by sysfs name.
fn input_dirs(t: &Tree) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(t.path().join("sys/class/input"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("input"))
        .map(|n| {
            let name = t.read(&format!("sys/class/input/{n}/name")).unwrap();
            (n, name.trim().to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn unreadable_keyboard_input_id_is_unknown() {
    // The USB device is readable; its keyboard input device's product id is not, so
    // whether the keyboard has an input device cannot be told.
    let t = sb2().build();
    let files: Vec<String> = input_dirs(&t)
        .into_iter()
        .filter(|(_, name)| name.starts_with("Microsoft Surface Keyboard"))
        .map(|(n, _)| format!("sys/class/input/{n}/id/product"))
        .collect();
    assert_eq!(files.len(), 2, "keyboard and touchpad inputs");
    lock(&t, &files.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "input.keyboard", "/id/product", "permission denied");
}

#[test]
fn unreadable_switch_capabilities_are_unknown() {
    let t = sb2().build();
    let files: Vec<String> = input_dirs(&t)
        .into_iter()
        .map(|(n, _)| format!("sys/class/input/{n}/capabilities/sw"))
        .collect();
    lock(&t, &files.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "input.lid", "/capabilities/sw", "permission denied");
    assert_unknown(
        &r,
        "input.tablet-mode",
        "/capabilities/sw",
        "permission denied",
    );
}

#[test]
fn unsearchable_device_directory_is_unknown() {
    // The MEI function's whole sysfs directory cannot be searched: neither its ids
    // nor its driver link can be read.
    let t = sb2().build();
    lock(&t, &[]);
    std::fs::set_permissions(
        t.path().join("sys/devices/pci0000:00/0000:00:16.4"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "touch.mei", "0000:00:16.4/device", "permission denied");
}

#[test]
fn unreadable_battery_is_unknown() {
    let t = sb2().build();
    let dir = std::fs::canonicalize(t.path().join("sys/class/power_supply/BAT1")).unwrap();
    let rel = dir.strip_prefix(t.path()).unwrap().join("uevent");
    lock(&t, &[rel.to_str().unwrap()]);
    let (_, r) = status_unprivileged(t.path());
    assert_unknown(&r, "battery.clipboard", "BAT1/uevent", "permission denied");
}

#[test]
fn unreadable_product_name_does_not_make_another_machine() {
    // The other evidence (board, SKU, the IPTS HID id, the model's ACPI ids) still
    // identifies it; the unreadable file is named in the evidence.
    let t = sb2().build();
    lock(&t, &["sys/class/dmi/id/product_name"]);
    let (_, r) = status_unprivileged(t.path());
    let m = &r["machine"];
    assert_eq!(m["model"], "surface-book-2-15", "{m}");
    let ev = m["model_evidence"].as_str().unwrap();
    assert!(
        ev.contains("/sys/class/dmi/id/product_name: permission denied"),
        "{ev}"
    );
    for s in r["subsystems"].as_array().unwrap() {
        assert_ne!(s["status"], "absent", "{}", overview(&r));
    }
}

#[test]
fn unreadable_and_oversized_identity_is_unknown_not_another_machine() {
    // An 8 MiB product_name (past the attribute cap), the board name and SKU
    // unreadable, and none of the model's devices: nothing says what this is.
    let t = sb2().build();
    t.file("sys/class/dmi/id/product_name", vec![b'S'; 8 << 20]);
    for d in ["MSHW0107:00", "MSHW0133:00"] {
        t.remove_device("acpi", d);
    }
    let hid: Vec<String> = t
        .list("sys/bus/hid/devices")
        .into_iter()
        .filter(|n| n.starts_with("0000:045E:"))
        .collect();
    assert!(!hid.is_empty(), "the fixture has an IPTS HID device");
    for h in hid {
        t.remove_device("hid", &h);
    }
    lock(
        &t,
        &[
            "sys/class/dmi/id/board_name",
            "sys/class/dmi/id/product_sku",
        ],
    );
    let (code, r) = status_unprivileged(t.path());
    let m = &r["machine"];
    assert_eq!(m["model"], "unknown", "{m}");
    let ev = m["model_evidence"].as_str().unwrap();
    for want in [
        "product_name: larger than",
        "board_name: permission denied",
        "product_sku: permission denied",
    ] {
        assert!(ev.contains(want), "{want}: {ev}");
    }
    for s in r["subsystems"].as_array().unwrap() {
        assert_eq!(s["status"], "unknown", "{}", overview(&r));
    }
    assert_ne!(code, 2, "a report, not an error");
}

#[test]
fn without_proc_nothing_fails() {
    // A tree without /proc (a copy of /sys and /etc only): what rests on /proc is
    // unknown; the buttons, which sysfs shows, are judged from sysfs.
    for (size, distro, pinctrl_module) in [
        (Size::In15, Distro::DebianSurface, false),
        (Size::In13, Distro::NixOs, true),
    ] {
        let mut m = Sb2::new(size, distro);
        m.pinctrl_module = pinctrl_module;
        let t = m.build();
        t.remove("proc");
        lock(&t, &[]);
        let (code, r) = status_unprivileged(t.path());
        for s in r["subsystems"].as_array().unwrap() {
            for c in s["checks"].as_array().unwrap() {
                assert!(
                    !["failed", "degraded"].contains(&c["status"].as_str().unwrap()),
                    "{} is {} without /proc: {}",
                    c["id"],
                    c["status"],
                    c["summary"]
                );
            }
        }
        assert_eq!(code, 0, "{}", overview(&r));
        assert_eq!(check_status(&r, "input.buttons"), "ok", "{}", overview(&r));
        assert_eq!(
            check_status(&r, "kernel.release"),
            "unknown",
            "{}",
            overview(&r)
        );
    }
}

// ---- item 9: numbers that make no sense ----------------------------------------------

/// Rewrites one `POWER_SUPPLY_<KEY>=` line of BAT1's uevent.
fn plant(t: &Tree, key: &str, value: &str) {
    let f = "sys/class/power_supply/BAT1/uevent";
    let prefix = format!("POWER_SUPPLY_{key}=");
    let text = t.read(f).unwrap();
    assert!(text.contains(&prefix), "{text}");
    let out: String = text
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    t.file(f, out);
}

#[test]
fn battery_garbage_numbers_are_unknown_with_the_value() {
    for (key, value) in [
        ("ENERGY_FULL", "inf"),
        ("ENERGY_FULL", "NaN"),
        ("ENERGY_FULL", "-1"),
        ("ENERGY_FULL", "-inf"),
        ("ENERGY_FULL", "banana"),
        ("ENERGY_FULL_DESIGN", "NaN"),
        ("ENERGY_FULL_DESIGN", "-23000000"),
        // A full capacity ten times the design capacity: no battery's.
        ("ENERGY_FULL", "230000000"),
        ("ENERGY_FULL", "1e308"),
    ] {
        let t = sb2().build();
        plant(&t, key, value);
        let (code, r) = common::status(t.path());
        let c = check(&r, "battery.clipboard");
        let ev = evidence(&r, "battery.clipboard");
        assert_eq!(c["status"], "unknown", "{key}={value}: {ev}");
        assert!(
            ev.contains(&format!("POWER_SUPPLY_{key}={value}")),
            "{key}={value}: the value is evidence: {ev}"
        );
        for bad in ["inf %", "NaN %", "-0 %", "worn"] {
            assert!(!ev.contains(bad), "{key}={value}: {ev}");
        }
        assert_eq!(code, 0, "garbage is no failure: {}", overview(&r));
    }
}

#[test]
fn battery_sane_numbers_are_still_judged() {
    // Worn to 40 %: degraded, as before; slightly above design (a new pack): ok.
    let t = sb2().build();
    plant(&t, "ENERGY_FULL", "9200000");
    let (_, r) = common::status(t.path());
    assert_eq!(
        check_status(&r, "battery.clipboard"),
        "degraded",
        "{}",
        evidence(&r, "battery.clipboard")
    );
    let t = sb2().build();
    plant(&t, "ENERGY_FULL", "24000000");
    let (_, r) = common::status(t.path());
    assert_eq!(
        check_status(&r, "battery.clipboard"),
        "ok",
        "{}",
        evidence(&r, "battery.clipboard")
    );
    assert!(evidence(&r, "battery.clipboard").contains("health 104 %"));
}
