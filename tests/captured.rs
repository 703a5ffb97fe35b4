//! Trees as they are really captured (issue 5, rule 3): a root copied without
//! privileges holds plain files where `/dev` had device nodes, and a copy that left
//! `/dev` out has none. Every fixture family, healthy and broken, runs three ways —
//! `/dev` with real nodes as built, every `/dev` entry a plain empty file, and no
//! `/dev` at all — and the status of every subsystem and check must be the same
//! three times: a tree given with `--root` is never the live `/`, so no verdict may
//! rest on a node. The healthy machines of both sizes, on NixOS and on a
//! distribution's linux-surface kernel, exit 0 all three ways.

mod common;

use common::sb2::{Break, Distro, Sb2, Size};
use common::tree::{DevMode, Tree};
use serde_json::Value;

/// Every verdict of a report: the machine, then each subsystem and check status.
fn verdicts(code: i32, r: &Value) -> Vec<(String, String)> {
    let mut v = vec![
        ("exit".to_string(), code.to_string()),
        ("machine.model".into(), r["machine"]["model"].to_string()),
        ("machine.base".into(), r["machine"]["base"].to_string()),
        ("overall".into(), r["overall"].to_string()),
    ];
    for s in r["subsystems"].as_array().unwrap() {
        v.push((
            s["id"].as_str().unwrap().to_string(),
            s["status"].to_string(),
        ));
        for c in s["checks"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            v.push((id.to_string(), c["status"].to_string()));
            // What the check says, not only its status: a node judged on a captured
            // tree shows here even where a notice hides it from the status.
            v.push((format!("{id} summary"), c["summary"].to_string()));
            v.push((format!("{id} hint"), c["hint"].to_string()));
            v.push((format!("{id} notices"), c["notices"].to_string()));
        }
    }
    v
}

/// A check's summary in report `r`, for failure messages.
fn summary(r: &Value, id: &str) -> String {
    if !id.contains('.') || id.starts_with("machine.") || id.contains(' ') {
        return String::new();
    }
    common::check(r, id)["summary"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Builds `m`, breaks `breaks`, and runs the binary with `/dev` in each of the
/// three shapes (the same tree, reshaped in turn). Asserts that the verdicts are
/// identical and, when given, the exit code of every run. Returns the report of
/// the run with real nodes.
fn three_ways(name: &str, m: &Sb2, breaks: &[Break], exit: Option<i32>) -> Value {
    let t: Tree = m.build_in_memory();
    for b in breaks {
        assert!(b.applies(m), "{name}: {b:?} does not apply to {m:?}");
        b.apply(m, &t);
    }
    three_ways_tree(name, &t, exit)
}

/// [`three_ways`] on a tree prepared by the caller.
fn three_ways_tree(name: &str, t: &Tree, exit: Option<i32>) -> Value {
    let mut runs: Vec<(DevMode, i32, Value)> = Vec::new();
    for mode in DevMode::ALL {
        mode.apply(t);
        match mode {
            DevMode::Nodes => assert!(t.has_device_nodes(), "{name}: no nodes as built"),
            DevMode::PlainFiles => {
                assert!(t.exists("dev"), "{name}: /dev kept");
                assert!(!t.has_device_nodes(), "{name}: a node is left in /dev");
            }
            DevMode::Missing => assert!(!t.exists("dev"), "{name}: /dev removed"),
        }
        let (code, r) = common::status(t.path());
        common::assert_schema(&r);
        if let Some(want) = exit {
            assert_eq!(
                code,
                want,
                "{name} with /dev {mode:?}: exit code\n{}",
                common::overview(&r)
            );
        }
        runs.push((mode, code, r));
    }
    let (_, code0, r0) = &runs[0];
    let base = verdicts(*code0, r0);
    let mut diffs = Vec::new();
    for (mode, code, r) in &runs[1..] {
        let other = verdicts(*code, r);
        assert_eq!(base.len(), other.len(), "{name}: the same checks");
        for ((id, a), (_, b)) in base.iter().zip(&other) {
            if a != b {
                diffs.push(format!(
                    "{id}: nodes {a} ({}) vs {mode:?} {b} ({})",
                    summary(r0, id),
                    summary(r, id)
                ));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{name}: verdicts depend on /dev in a tree that is not the live root:\n{}",
        diffs.join("\n")
    );
    runs.swap_remove(0).2
}

fn sb2(size: Size, distro: Distro) -> Sb2 {
    Sb2::new(size, distro)
}

// ---- healthy machines: the same verdicts, and exit 0, three ways ------------------

#[test]
fn healthy_13_nixos() {
    let r = three_ways("13\" NixOS", &sb2(Size::In13, Distro::NixOs), &[], Some(0));
    assert_eq!(r["machine"]["model"], "surface-book-2-13");
}

#[test]
fn healthy_15_nixos() {
    let r = three_ways("15\" NixOS", &sb2(Size::In15, Distro::NixOs), &[], Some(0));
    assert_eq!(r["machine"]["model"], "surface-book-2-15");
}

#[test]
fn healthy_13_linux_surface_distribution_kernel() {
    let m = sb2(Size::In13, Distro::DebianSurface);
    let r = three_ways("13\" DebianSurface", &m, &[], Some(0));
    assert_eq!(r["machine"]["model"], "surface-book-2-13");
}

#[test]
fn healthy_15_linux_surface_distribution_kernel() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    let r = three_ways("15\" DebianSurface", &m, &[], Some(0));
    assert_eq!(r["machine"]["model"], "surface-book-2-15");
}

#[test]
fn healthy_detached_clipboard() {
    let mut m = sb2(Size::In15, Distro::DebianSurface);
    m.base_attached = false;
    let r = three_ways("detached 15\"", &m, &[], Some(0));
    assert_eq!(r["machine"]["base"], "detached");
}

#[test]
fn stock_distribution_kernel() {
    for size in [Size::In13, Size::In15] {
        three_ways(
            &format!("{size:?} DebianStock"),
            &sb2(size, Distro::DebianStock),
            &[],
            None,
        );
    }
}

#[test]
fn legacy_ipts_kernel() {
    let mut m = sb2(Size::In15, Distro::DebianSurface);
    m.legacy_ipts = true;
    three_ways("legacy MISC_IPTS", &m, &[], None);
}

/// The pre-2023 kernel told without its config: `/sys/class/misc/ipts` (or the
/// `ipts` module's driver) must tell it, since a captured `/dev/ipts` may be gone.
#[test]
fn legacy_ipts_kernel_without_a_readable_config() {
    let mut m = sb2(Size::In15, Distro::DebianSurface);
    m.legacy_ipts = true;
    let t = m.build_in_memory();
    t.file("proc/config.gz", b"\x00\x01 not gzip at all");
    three_ways_tree("legacy MISC_IPTS, config unreadable", &t, None);
}

#[test]
fn pinctrl_as_a_module() {
    let mut m = sb2(Size::In15, Distro::NixOs);
    m.pinctrl_module = true;
    three_ways("pinctrl module", &m, &[], None);
}

// ---- failure modes (tests/fixtures.rs): the same verdicts three ways -------------

#[test]
fn f1_aggregator_probe_failed() {
    let mut m = sb2(Size::In15, Distro::NixOs);
    m.pinctrl_module = true;
    three_ways("F1", &m, &[Break::SsamProbeFailed], None);
    three_ways(
        "F1 pinctrl built in",
        &sb2(Size::In13, Distro::NixOs),
        &[Break::SsamProbeFailed],
        None,
    );
}

#[test]
fn f2_san_not_loaded() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F2 not loaded", &m, &[Break::SanNotLoaded], None);
    three_ways("F2 unbound", &m, &[Break::SanUnbound], None);
}

#[test]
fn f3_iptsd_not_running_or_not_installed() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F3 stopped", &m, &[Break::IptsdStopped], None);
    let m = sb2(Size::In13, Distro::NixOs);
    three_ways("F3 not installed", &m, &[Break::IptsdNotInstalled], None);
}

#[test]
fn f7_one_sensor_unbound() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F7", &m, &[Break::SensorUnbound(2)], None);
}

#[test]
fn f8_imgu_without_firmware() {
    let m = sb2(Size::In15, Distro::NixOs);
    three_ways(
        "F8",
        &m,
        &[Break::ImguFirmwareRemoved, Break::ImguProbeFailed],
        None,
    );
}

#[test]
fn f10_no_nvidia_gpu() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F10", &m, &[Break::NvidiaRemoved], None);
}

#[test]
fn f11_buttons_gone() {
    let mut m = sb2(Size::In15, Distro::NixOs);
    m.pinctrl_module = true;
    three_ways("F11 pinctrl module", &m, &[Break::ButtonsGone], None);
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F11 pinctrl built in", &m, &[Break::ButtonsGone], None);
}

#[test]
fn f12_surface_gpe_not_loaded() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("F12", &m, &[Break::SurfaceGpeNotLoaded], None);
}

#[test]
fn dtx_node_missing_and_dtx_not_loaded() {
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("DTX node missing", &m, &[Break::DtxNodeRemoved], None);
    three_ways("DTX not loaded", &m, &[Break::DtxNotLoaded], None);
}

#[test]
fn keyboard_and_touch_devices_gone() {
    let m = sb2(Size::In13, Distro::NixOs);
    three_ways("keyboard gone", &m, &[Break::KeyboardGone], None);
    let m = sb2(Size::In15, Distro::DebianSurface);
    three_ways("touch devices gone", &m, &[Break::TouchDevicesGone], None);
}

#[test]
fn cameras_unpowered_and_imgu_failed() {
    let m = sb2(Size::In13, Distro::DebianSurface);
    three_ways("INT3472 unbound", &m, &[Break::Int3472Unbound], None);
    three_ways("cameras unpowered", &m, &[Break::CamerasUnpowered], None);
    three_ways("ImgU probe failed", &m, &[Break::ImguProbeFailed], None);
}

/// The reshaping itself: every entry becomes a plain file, or `/dev` goes.
#[test]
fn dev_reshaping_reaches_every_entry() {
    let t = sb2(Size::In15, Distro::DebianSurface).build_in_memory();
    assert!(t.exists("dev/surface/dtx") && t.exists("dev/input/event10"));
    let n = t.dev_as_plain_files();
    assert!(n >= 15, "{n} entries replaced");
    assert!(!t.has_device_nodes());
    let m = std::fs::symlink_metadata(t.path().join("dev/surface/dtx")).unwrap();
    assert!(m.is_file() && m.len() == 0);
    assert!(t.remove_dev());
    assert!(!t.exists("dev"));
    assert!(!t.remove_dev());
}
