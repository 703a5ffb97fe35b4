//! Hostile host data: garbage bytes, huge files, dangling links, symlink loops, a FIFO
//! that blocks like a hung sysfs read, files that vanish mid-run, and a directory with
//! thousands of entries. The tool must finish in seconds with valid JSON, no panic,
//! and `unknown` (with the reason) where it could not know.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use serde_json::Value;

const GARBAGE: &[u8] = b"\xff\xfe\x00\x01garbage\x80\x81\n\x00\xc3\x28 zz \xe2\x82";

fn corrupt(t: &Tree, release: &str) {
    // Garbage bytes where text is expected.
    t.file("proc/modules", GARBAGE);
    t.file("proc/config.gz", GARBAGE);
    t.file("run/udev/data/c13:74", GARBAGE);
    t.file("sys/class/input/input10/capabilities/key", GARBAGE);
    t.file("sys/class/input/input11/id/vendor", b"0xZZZZ\n");
    t.file("sys/bus/pci/devices/0000:00:14.3/vendor", GARBAGE);
    // Huge files: a sparse 200 MiB modules.alias (past the large-file cap) and an
    // 8 MiB DMI attribute (past the attribute cap).
    let alias = t
        .path()
        .join(format!("lib/modules/{release}/modules.alias"));
    std::fs::File::create(&alias)
        .unwrap()
        .set_len(200 << 20)
        .unwrap();
    t.file("sys/class/dmi/id/bios_version", vec![b'9'; 8 << 20]);
    // Dangling links and loops.
    t.link(
        "sys/bus/pci/devices/0000:00:1f.7",
        "../../../devices/pci0000:00/0000:00:1f.7",
    );
    t.link("sys/bus/hid/devices/loop", "loop");
    t.link("sys/class/power_supply/BAT9", "BAT9");
    t.link("sys/bus/usb/devices/1-9/driver", "../1-9/driver");
    let mut prev = "sys/class/video4linux/chain0".to_string();
    t.mkdir("sys/class/video4linux");
    for i in 1..60 {
        let next = format!("chain{i}");
        t.link(&prev, &next);
        prev = format!("sys/class/video4linux/{next}");
    }
    // A FIFO where the battery's uevent is: a read that blocks forever.
    t.remove("sys/class/power_supply/BAT1/uevent");
    t.fifo("sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0A:00/power_supply/BAT1/uevent");
    // Thousands of entries, and a name that is not UTF-8.
    for i in 0..5000 {
        t.link(
            &format!("sys/bus/acpi/devices/JUNK{i:04}:00"),
            "../../../devices/nowhere",
        );
    }
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"bad\xffname:00");
    std::fs::create_dir_all(t.path().join("sys/bus/platform/devices").join(bad)).unwrap();
}

/// Creates and removes files the collectors read, until stopped.
fn churn(root: std::path::PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let proc_dir = root.join("proc/5555");
            let input = root.join("sys/class/input/input77");
            let _ = std::fs::create_dir_all(&proc_dir);
            let _ = std::fs::write(proc_dir.join("comm"), "iptsd\n");
            let _ = std::fs::create_dir_all(input.join("capabilities"));
            let _ = std::fs::write(input.join("name"), "vanishing\n");
            let _ = std::fs::remove_dir_all(&proc_dir);
            let _ = std::fs::remove_dir_all(&input);
            n += 1;
        }
        assert!(n > 0);
    })
}

fn run_hostile(t: &Tree) -> (i32, Value, String, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let h = churn(t.path().to_path_buf(), stop.clone());
    let start = Instant::now();
    let (code, out, err) = common::run(&[
        "status",
        "--local",
        "--root",
        t.path().to_str().unwrap(),
        "--json",
    ]);
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    let r: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("no JSON ({e}); stderr: {err}"));
    common::assert_schema(&r);
    (code, r, err, took)
}

#[test]
fn a_hostile_tree_gives_valid_json_in_seconds_with_unknowns_and_reasons() {
    let sb2 = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = sb2.build();
    corrupt(&t, sb2.release());
    let (code, r, err, took) = run_hostile(&t);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    assert!(!err.contains("panicked"), "{err}");

    // The FIFO is never opened (only regular files are read): unknown at once, with
    // what it is; no read hung.
    assert!(
        r["hung_paths"].as_array().unwrap().is_empty(),
        "{}",
        r["hung_paths"]
    );
    let bat1 = common::check(&r, "battery.clipboard");
    assert_eq!(bat1["status"], "unknown", "{bat1}");
    assert!(
        bat1["evidence"]
            .to_string()
            .contains("a FIFO, not a regular file"),
        "{bat1}"
    );

    // Garbage config is unknown, not absent; the patch set is still known from the
    // module files and the release.
    assert_eq!(common::check_status(&r, "kernel.config"), "unknown");
    assert!(
        common::check(&r, "kernel.config")["evidence"]
            .to_string()
            .contains("unparseable")
    );
    assert_eq!(r["kernel"]["surface_patches"], true);
    // Unreadable /proc/modules makes the atomisp check unknown, never ok.
    assert_eq!(common::check_status(&r, "camera.atomisp"), "unknown");
    // The corrupted CIO2 vendor id cannot be matched: the camera chain must not claim ok.
    assert_ne!(common::check_status(&r, "camera.pci"), "ok");
    // Nothing in a hostile tree is a confident verdict about untouched hardware gone wrong:
    // touch still works.
    assert_eq!(
        common::sub_status(&r, "touch"),
        "ok",
        "{}",
        common::overview(&r)
    );
}

#[test]
fn everything_garbage_still_gives_valid_json() {
    let t = Tree::new();
    t.file("proc/sys/kernel/osrelease", b"../../../etc\n");
    t.file("proc/sys/kernel/tainted", GARBAGE);
    t.file("sys/class/dmi/id/sys_vendor", GARBAGE);
    t.file("sys/class/dmi/id/product_name", GARBAGE);
    t.file("etc/os-release", GARBAGE);
    t.link("sys/bus", "bus");
    t.link("sys/module", "../sys/module");
    t.link("proc/modules", "/proc/modules");
    t.link("run/booted-system", "/run/booted-system");
    t.file("etc/NIXOS", "");
    let (code, r, err, took) = run_hostile(&t);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(code, 0, "{err}");
    // Nothing readable says which machine this is: unknown with the reason, never
    // a silent "not a Surface Book 2".
    assert_eq!(r["machine"]["model"], "unknown");
    assert!(
        r["machine"]["model_evidence"]
            .as_str()
            .is_some_and(|e| e.contains("sys_vendor")),
        "{}",
        r["machine"]
    );
    assert_eq!(r["kernel"]["release"], Value::Null);
}

#[test]
fn a_garbage_surface_book_is_judged_without_wrong_failures() {
    // DMI says Surface Book 2 but nothing else is readable: every verdict must be
    // unknown or failed-for-a-stated-reason, never ok.
    let t = Tree::new();
    t.attr("sys/class/dmi/id/sys_vendor", "Microsoft Corporation");
    t.attr("sys/class/dmi/id/product_name", "Surface Book 2");
    t.file("proc/sys/kernel/osrelease", GARBAGE);
    for bus in [
        "pci", "usb", "platform", "acpi", "i2c", "serial", "hid", "mei",
    ] {
        t.link(&format!("sys/bus/{bus}/devices"), "devices");
    }
    t.link("sys/class/input", "input");
    t.link("sys/class/power_supply", "power_supply");
    let (code, r, err, _) = run_hostile(&t);
    assert!(code == 0 || code == 1, "{err}");
    for s in r["subsystems"].as_array().unwrap() {
        for c in s["checks"].as_array().unwrap() {
            assert_ne!(
                c["status"], "ok",
                "{} is ok on a garbage tree: {c}",
                c["id"]
            );
        }
    }
    assert_eq!(common::check_status(&r, "kernel.release"), "unknown");
    assert_eq!(common::check_status(&r, "touch.mei"), "unknown");
}
