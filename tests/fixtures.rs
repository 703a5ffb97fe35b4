//! Whole-machine verdicts: each test builds a Surface Book 2 root tree with the
//! fixture generator, breaks one link the way real machines break (docs/hardware.md
//! section 4), runs the real binary on it and asserts the verdict a linux-surface
//! maintainer would give: exit code, the broken subsystem's status and first broken
//! link, a summary or hint that names the cause, and every other subsystem still ok.

mod common;

use common::sb2::{self, Distro, NIX_FIRMWARE, Sb2, Size};
use common::tree::Tree;
use common::verdict::{self, SUBSYSTEMS, Verdict};
use serde_json::Value;

const ACPI: &str = "sys/devices/LNXSYSTM:00/LNXSYBUS:00";

/// Runs the binary on `t`; the report must match the published schema and list
/// every subsystem.
fn verdict(t: &Tree) -> Verdict {
    let v = verdict::verdict(t, &[]);
    v.lists_every_subsystem();
    v
}

fn healthy(size: Size, distro: Distro) -> Tree {
    Sb2::new(size, distro).build()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

// ---- healthy machines ------------------------------------------------------------

#[test]
fn healthy_13_on_nixos_is_ok_and_its_patches_show_in_config_and_modules() {
    let t = healthy(Size::In13, Distro::NixOs);
    let v = verdict(&t);
    v.exit(0).rest_ok(&["dgpu"]).no_dgpu();
    assert_eq!(v.machine("model"), "surface-book-2-13");
    assert_eq!(v.machine("model_source"), "ipts-hid");
    assert_eq!(v.machine("nixos"), true);
    assert_eq!(v.machine("base"), "attached");
    assert_eq!(v.kernel("release"), "6.19.8");
    assert_eq!(v.kernel("surface_patches"), true, "{}", v.report["kernel"]);
    let ev: Vec<&str> = v
        .kernel("patch_evidence")
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(
        !ev.iter().any(|e| e.contains("osrelease")),
        "no release suffix on NixOS: {ev:?}"
    );
    assert!(ev.iter().any(|e| e.contains("CONFIG_HID_IPTS")), "{ev:?}");
    assert!(ev.iter().any(|e| e.ends_with("ipts.ko.zst")), "{ev:?}");
    v.check_is("kernel.nixos-generation", "ok", &["/run/booted-system"]);
}

#[test]
fn healthy_15_on_a_linux_surface_kernel_is_ok() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert_eq!(v.machine("model"), "surface-book-2-15");
    assert_eq!(v.machine("base"), "attached");
    assert_eq!(v.kernel("surface_patches"), true);
    assert_eq!(v.report["overall"], "ok");
    v.check_is("dgpu.present", "ok", &["0000:02:00.0"])
        .check_is("kernel.nixos-generation", "absent", &[]);
}

// ---- F13: the stock distribution kernel -----------------------------------------

#[test]
fn stock_kernel_fails_the_patch_set_and_touch() {
    let t = healthy(Size::In15, Distro::DebianStock);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "kernel",
            "failed",
            Some("kernel.surface-patches"),
            &["stock kernel"],
        )
        .sub_is(
            "touch",
            "failed",
            Some("touch.ipts-driver"),
            &["stock kernel", "linux-surface"],
        )
        .rest_ok(&["kernel", "touch"]);
    assert_eq!(v.kernel("surface_patches"), false);
    assert_eq!(v.machine("model"), "surface-book-2-15");
    v.check_is("touch.ipts-bound", "unknown", &["not checked"]);
}

// ---- the clipboard without its base ---------------------------------------------

#[test]
fn detached_clipboard_reports_the_base_parts_absent() {
    let mut m = Sb2::new(Size::In15, Distro::DebianSurface);
    m.base_attached = false;
    let t = m.build();
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert_eq!(v.machine("base"), "detached");
    v.check_is("battery.base", "absent", &["detached"])
        .check_is("input.keyboard", "absent", &["detached"])
        .check_is("input.touchpad", "absent", &[])
        .check_is("dgpu.present", "absent", &["detached"])
        .check_is("battery.clipboard", "ok", &["BAT1"])
        .check_is("dgpu.hotplug", "ok", &[]);
}

// ---- another machine ------------------------------------------------------------

#[test]
fn a_machine_that_is_not_a_surface_book_2_is_absent_everywhere() {
    let t = Tree::new();
    t.attr("sys/class/dmi/id/sys_vendor", "Dell Inc.");
    t.attr("sys/class/dmi/id/product_name", "XPS 13 9370");
    t.attr("sys/class/dmi/id/board_name", "0F6P3V");
    t.kernel(
        "6.1.0-18-amd64",
        "(debian-kernel@lists.debian.org)",
        "quiet",
    );
    let v = verdict(&t);
    v.exit(0);
    assert_eq!(v.machine("model"), "other");
    assert_eq!(v.report["overall"], "absent");
    for id in SUBSYSTEMS {
        assert_eq!(
            s(&v.subsystem(id)["status"]),
            "absent",
            "{id}\n{}",
            v.dump()
        );
        for c in v.subsystem(id)["checks"].as_array().unwrap() {
            assert_eq!(c["status"], "absent", "{}", c["id"]);
        }
    }
    assert!(s(&v.subsystem("touch")["summary"]).contains("not a Surface Book 2"));
}

#[test]
fn dmi_that_contradicts_the_devices_is_unknown_never_absent() {
    // DMI says Dell, while the board, the SKU, the IPTS HID device and the SB2's own
    // ACPI ids say Surface Book 2: no silent all-clear.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.attr("sys/class/dmi/id/sys_vendor", "Dell Inc.");
    t.attr("sys/class/dmi/id/product_name", "XPS 13 9370");
    let v = verdict(&t);
    assert_eq!(v.machine("model"), "unknown");
    assert!(s(v.machine("model_evidence")).contains("conflicts"));
    for id in SUBSYSTEMS {
        assert_eq!(
            s(&v.subsystem(id)["status"]),
            "unknown",
            "{id}\n{}",
            v.dump()
        );
    }
}

#[test]
fn a_machine_without_smbios_or_any_model_device_is_not_a_surface_book_2() {
    // A virtual machine without SMBIOS: no DMI identity file exists and none of the
    // model's devices either. Every Surface Book 2 firmware has SMBIOS: "other".
    let t = Tree::new();
    t.kernel(
        "6.1.0-18-amd64",
        "(debian-kernel@lists.debian.org)",
        "quiet",
    );
    let v = verdict(&t);
    v.exit(0);
    assert_eq!(v.machine("model"), "other");
    assert_eq!(v.report["overall"], "absent");
}

#[test]
fn an_unknown_identity_offers_no_fix_it_cannot_know() {
    // Unreadable DMI text and no model device: unknown, with the reason, and no
    // subsystem's generic fix as if the hardware had been judged.
    let t = Tree::new();
    t.kernel(
        "6.1.0-18-amd64",
        "(debian-kernel@lists.debian.org)",
        "quiet",
    );
    t.file("sys/class/dmi/id/product_name", b"\xff\xfe\x01\n");
    let v = verdict(&t);
    assert_eq!(v.machine("model"), "unknown");
    for id in SUBSYSTEMS {
        let sub = v.subsystem(id);
        assert_eq!(s(&sub["status"]), "unknown", "{id}");
        for c in sub["checks"].as_array().unwrap() {
            assert!(c["hint"].is_null(), "{}: {}", c["id"], c["hint"]);
        }
    }
}

#[test]
fn garbage_in_product_name_does_not_hide_the_machine() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.file(
        "sys/class/dmi/id/product_name",
        b"\xff\xfe\x00garbage\x01\n",
    );
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert_eq!(v.machine("model"), "surface-book-2-15");
}

// ---- F1: the Surface Aggregator failed to probe ---------------------------------

/// SSAM lost the race against pinctrl/LPSS: its serial device stays unbound while
/// its driver is registered, and everything that waits for it never appears.
fn ssam_probe_failed(t: &Tree) {
    t.unbind("serial", "serial0-0");
    for dev in ["MSHW0091:00", "MSHW0133:00", "MSHW0107:00"] {
        t.unbind("platform", dev);
    }
    t.remove_device("surface_aggregator", "01:03:01:00:01");
    t.remove("sys/firmware/acpi/platform_profile");
    t.remove("sys/firmware/acpi/platform_profile_choices");
    t.remove("dev/surface/dtx");
    t.remove("sys/class/misc/surface_dtx");
    t.remove("sys/devices/virtual/misc/surface_dtx");
    t.remove_input(5);
    t.remove_power_supply("BAT1");
    t.remove_power_supply("BAT2");
    t.remove("sys/fs/cgroup/system.slice/surface-dtx-daemon.service");
    t.remove("proc/987");
}

#[test]
fn f1_ssam_probe_failure_is_the_root_of_battery_detach_and_platform() {
    let mut m = Sb2::new(Size::In15, Distro::NixOs);
    m.pinctrl_module = true;
    let t = m.build();
    ssam_probe_failed(&t);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "detach",
            "failed",
            Some("detach.ssam"),
            &["serial0-0", "pinctrl"],
        )
        .sub_is(
            "battery",
            "failed",
            Some("battery.san"),
            &["surface aggregator", "serial0-0"],
        )
        .sub_is(
            "platform",
            "failed",
            Some("platform.hub"),
            &["surface aggregator", "serial0-0"],
        )
        .sub_is("input", "failed", Some("input.tablet-mode"), &["dtx"])
        .rest_ok(&["detach", "battery", "platform", "input"]);
    v.check_is("detach.ssam", "failed", &["pinctrl is a module"])
        .check_is("detach.dtx-driver", "unknown", &["not checked"])
        .check_is("battery.clipboard", "unknown", &["not checked"])
        .check_is("platform.profile", "unknown", &["not checked"])
        .check_is("input.keyboard", "ok", &[]);
}

#[test]
fn f1_with_pinctrl_built_in_points_at_the_uart_not_pinctrl() {
    let t = healthy(Size::In13, Distro::NixOs);
    ssam_probe_failed(&t);
    let v = verdict(&t);
    v.exit(1).sub_is(
        "detach",
        "failed",
        Some("detach.ssam"),
        &["pinctrl is built in", "uart"],
    );
    let hint = v.check("detach.ssam")["hint"].as_str().unwrap().to_string();
    assert!(
        hint.contains("intel_lpss_pci") && hint.contains("drivers_probe"),
        "{hint}"
    );
    assert!(!hint.contains("pinctrl_sunrisepoint"), "{hint}");
}

// ---- F2: Surface ACPI Notify ----------------------------------------------------

#[test]
fn f2_san_module_not_loaded_fails_the_batteries() {
    // Without SAN the ACPI batteries cannot reach the EC: here they are gone.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("platform", "MSHW0091:00");
    t.unregister_driver("platform", "surface_acpi_notify");
    t.unload_module("surface_acpi_notify");
    for ps in ["BAT1", "BAT2", "ADP1"] {
        t.remove_power_supply(ps);
    }
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "battery",
            "failed",
            Some("battery.san"),
            &["surface_acpi_notify", "not loaded", "modprobe"],
        )
        .rest_ok(&["battery"]);
}

#[test]
fn f2_san_probe_failure_with_the_aggregator_up_names_san() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("platform", "MSHW0091:00");
    for ps in ["BAT1", "BAT2", "ADP1"] {
        t.remove_power_supply(ps);
    }
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "battery",
            "failed",
            Some("battery.san"),
            &["MSHW0091", "probe failed"],
        )
        .rest_ok(&["battery"]);
    let summary = s(&v.subsystem("battery")["summary"]).to_lowercase();
    assert!(
        !summary.contains("aggregator"),
        "the aggregator is fine: {summary}"
    );
}

#[test]
fn f2_an_unbound_san_with_sane_batteries_is_a_notice() {
    // A battery with sane values proves the path through SAN worked.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("platform", "MSHW0091:00");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.notice_names("battery.san", &["MSHW0091"]);
}

// ---- F3: iptsd ------------------------------------------------------------------

/// iptsd is not running, so its virtual input devices are gone too.
fn stop_iptsd(t: &Tree) {
    t.remove("sys/fs/cgroup/system.slice/system-iptsd.slice");
    t.remove("proc/1234");
    t.remove_input(30);
    t.remove_input(31);
}

#[test]
fn f3_iptsd_not_running() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    stop_iptsd(&t);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.iptsd"),
            &["not running", "iptsd@dev-hidraw0.service"],
        )
        .rest_ok(&["touch"]);
    v.check_is("touch.hid", "ok", &["hidraw0"]).check_is(
        "touch.devices",
        "unknown",
        &["not checked"],
    );
}

#[test]
fn f3_iptsd_not_installed_on_nixos() {
    let t = healthy(Size::In13, Distro::NixOs);
    stop_iptsd(&t);
    t.remove("nix/store/5555ffff-system-units/iptsd@.service");
    t.remove("nix/store/6666aaaa-udev-rules/50-iptsd.rules");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.iptsd"),
            &["not installed", "services.iptsd.enable"],
        )
        .rest_ok(&["touch", "dgpu"])
        .no_dgpu();
}

#[test]
fn f3_iptsd_udev_rule_missing() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    stop_iptsd(&t);
    t.remove("usr/lib/udev/rules.d/50-iptsd.rules");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.iptsd"),
            &["udev rule", "never started"],
        )
        .rest_ok(&["touch"]);
}

// ---- F4: kernel and iptsd generations -------------------------------------------

fn legacy_ipts() -> Sb2 {
    let mut m = Sb2::new(Size::In15, Distro::DebianSurface);
    m.legacy_ipts = true;
    m
}

#[test]
fn f4_legacy_misc_ipts_kernel_with_current_iptsd() {
    let t = legacy_ipts().build();
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.ipts-driver"),
            &["MISC_IPTS", "pre-2023", "generations do not match"],
        )
        .rest_ok(&["touch"]);
    assert_eq!(v.kernel("surface_patches"), true);
    assert_eq!(v.machine("model"), "surface-book-2-15");
}

#[test]
fn f4_legacy_kernel_is_told_by_dev_ipts_without_a_readable_config() {
    let t = legacy_ipts().build();
    t.file("proc/config.gz", b"\x00\x01 not gzip at all");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.ipts-driver"),
            &["/dev/ipts", "pre-2023"],
        )
        .sub_is("kernel", "unknown", Some("kernel.config"), &["config"])
        .rest_ok(&["touch", "kernel"]);
}

#[test]
fn f4_legacy_kernel_without_the_ipts_module_and_with_dev_ipts() {
    let t = legacy_ipts().build();
    t.unbind("mei", &format!("0000:00:16.4-{}", sb2::MEI_UUID));
    t.unload_module("ipts");
    let dep = "lib/modules/6.0.12-surface-1/modules.dep";
    let text = std::fs::read_to_string(t.path().join(dep)).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("ipts"))
        .map(|l| format!("{l}\n"))
        .collect();
    t.file(dep, kept);
    t.remove("lib/modules/6.0.12-surface-1/kernel/drivers/misc/ipts");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.ipts-driver"),
            &["MISC_IPTS", "generations do not match"],
        )
        .rest_ok(&["touch"]);
}

#[test]
fn f4_legacy_kernel_with_a_matching_old_iptsd_works_but_is_outdated() {
    let t = sb2::legacy_ipts_working();
    let v = verdict(&t);
    // Touch and pen work: an older generation is advice, not a loss.
    v.exit(0).rest_ok(&[]);
    v.notice_names("touch.ipts-driver", &["MISC_IPTS"]);
}

/// iptsd 0.x in place of the current one: `iptsd.service`, no template, no rule.
fn old_iptsd(t: &Tree) {
    stop_iptsd(t);
    t.remove("usr/lib/systemd/system/iptsd@.service");
    t.remove("usr/lib/udev/rules.d/50-iptsd.rules");
    t.file(
        "usr/lib/systemd/system/iptsd.service",
        "[Service]\nExecStart=iptsd\n",
    );
}

#[test]
fn f4_old_iptsd_installed_against_a_current_kernel() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    old_iptsd(&t);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.iptsd"),
            &["old iptsd", "iptsd.service", "/dev/ipts", "1.0"],
        )
        .rest_ok(&["touch"]);
}

#[test]
fn f4_old_iptsd_running_against_a_current_kernel_creates_no_devices() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    old_iptsd(&t);
    t.attr(
        "sys/fs/cgroup/system.slice/iptsd.service/cgroup.procs",
        "1234",
    );
    t.attr("proc/1234/comm", "iptsd");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "touch",
            "failed",
            Some("touch.devices"),
            &["iptsd.service", "/dev/ipts", "1.0"],
        )
        .rest_ok(&["touch"]);
    v.check_is("touch.iptsd", "ok", &["iptsd.service"]);
}

// ---- cameras --------------------------------------------------------------------

#[test]
fn f7_the_infrared_sensor_failing_alone_is_a_notice() {
    // As on real machines (hw-probe 79D657BBD855, 5B3E4C5AAEC5): the IR sensor fails
    // while front and rear work; only face login loses its camera.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("i2c", "i2c-INT347E:00");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.notice_names("camera.sensors", &["ov7251"]);
}

#[test]
fn f7_one_failed_sensor_hides_every_camera_when_no_subdevice_node_appeared() {
    // On kernels whose CIO2 notifier waits for every sensor, the IR sensor failing
    // leaves no sensor with its subdevice node: no camera works (F7, linux-surface#893).
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("i2c", "i2c-INT347E:00");
    for n in 0..3 {
        t.remove_class_device(
            &format!("sys/class/video4linux/v4l-subdev{n}"),
            &format!("v4l-subdev{n}"),
        );
    }
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "camera",
            "failed",
            Some("camera.sensors"),
            &["ov7251", "no camera works"],
        )
        .rest_ok(&["camera"]);
    v.check_is(
        "camera.sensors",
        "failed",
        &["no v4l-subdev of a bound sensor"],
    );
}

#[test]
fn f7_the_rear_sensor_failing_degrades_the_cameras() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("i2c", "i2c-INT347A:00");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "camera",
            "degraded",
            Some("camera.sensors"),
            &["ov8865", "front"],
        )
        .rest_ok(&["camera"]);
}

/// ImgU's probe loads its firmware: without it the probe fails and the ImgU media
/// device and video nodes are never registered.
fn imgu_probe_failed(t: &Tree) {
    t.unbind("pci", "0000:00:05.0");
    t.remove_class_device("sys/bus/media/devices/media1", "media1");
    t.remove_class_device("sys/class/video4linux/video4", "video4");
    t.remove_class_device("sys/class/video4linux/video5", "video5");
}

#[test]
fn f8_nixos_without_imgu_firmware() {
    let t = healthy(Size::In15, Distro::NixOs);
    t.remove(&format!("{NIX_FIRMWARE}/intel/ipu3-fw.bin.zst"));
    imgu_probe_failed(&t);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "camera",
            "failed",
            Some("camera.firmware"),
            &["ipu3-fw.bin", "hardware.enableRedistributableFirmware"],
        )
        .rest_ok(&["camera"]);
    v.check_is("camera.imgu", "unknown", &["firmware"]);
}

#[test]
fn imgu_bound_proves_its_firmware_loaded_even_when_the_file_is_not_found() {
    let t = healthy(Size::In15, Distro::NixOs);
    t.remove(&format!("{NIX_FIRMWARE}/intel/ipu3-fw.bin.zst"));
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.check_is("camera.firmware", "ok", &["bound"]);
}

#[test]
fn cameras_disabled_in_uefi_are_absent_not_failed() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    for m in ["media0", "media1"] {
        t.remove_class_device(&format!("sys/bus/media/devices/{m}"), m);
    }
    for n in 0..6 {
        let video = format!("video{n}");
        t.remove_class_device(&format!("sys/class/video4linux/{video}"), &video);
    }
    for hid in ["INT33BE", "INT347A", "INT347E", "INT3472"] {
        t.remove_device("i2c", &format!("i2c-{hid}:00"));
        t.attr(&format!("{ACPI}/{hid}:00/status"), "0");
    }
    for slot in [
        "0000:00:14.3",
        "0000:00:05.0",
        "0000:00:15.2",
        "0000:00:15.3",
    ] {
        t.remove_device("pci", slot);
    }
    let v = verdict(&t);
    v.exit(0)
        .sub_is(
            "camera",
            "absent",
            Some("camera.pci"),
            &["disabled in the uefi settings"],
        )
        .rest_ok(&["camera"]);
    for c in v.subsystem("camera")["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "absent", "{}\n{}", c["id"], v.dump());
    }
}

#[test]
fn atomisp_loaded_and_holding_the_front_sensor_fails_the_cameras() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.load_module("atomisp");
    t.unbind("i2c", "i2c-INT33BE:00");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "camera",
            "failed",
            Some("camera.atomisp"),
            &["atomisp", "blacklist"],
        )
        .rest_ok(&["camera"]);
}

#[test]
fn atomisp_loaded_beside_bound_sensors_is_harmless() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.load_module("atomisp");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert_eq!(v.check("camera.atomisp")["status"], "ok", "{}", v.dump());
}

// ---- F10: dGPU ------------------------------------------------------------------

#[test]
fn f10_15_inch_with_its_base_and_no_nvidia_gpu() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove_device("pci", "0000:02:00.0");
    let v = verdict(&t);
    v.exit(1)
        .sub_is("dgpu", "failed", Some("dgpu.present"), &["nvidia", "pci"])
        .rest_ok(&["dgpu"]);
    assert_eq!(v.machine("base"), "attached");
}

// ---- F11, F12: buttons and lid wake ---------------------------------------------

#[test]
fn f11_buttons_probed_before_the_pinctrl_module() {
    let mut m = Sb2::new(Size::In15, Distro::NixOs);
    m.pinctrl_module = true;
    let t = m.build();
    t.remove_input(1);
    t.remove_input(2);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "input",
            "failed",
            Some("input.buttons"),
            &["gpio-keys", "before the pinctrl module", "initrd"],
        )
        .rest_ok(&["input"]);
}

#[test]
fn f11_buttons_without_gpio_keys_and_a_built_in_pinctrl_blame_no_load_order() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove_input(1);
    t.remove_input(2);
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "input",
            "failed",
            Some("input.buttons"),
            &["gpio-keys", "pinctrl is built in", "journalctl"],
        )
        .rest_ok(&["input"]);
}

#[test]
fn f12_surface_gpe_not_loaded_means_no_lid_wake() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove_device("platform", "surface_gpe");
    t.unregister_driver("platform", "surface_gpe");
    t.unload_module("surface_gpe");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "input",
            "failed",
            Some("input.lid-wake"),
            &["surface_gpe", "not loaded", "lid"],
        )
        .rest_ok(&["input"]);
}

// ---- kernel ---------------------------------------------------------------------

#[test]
fn nixos_reboot_pending_after_a_kernel_update() {
    for switched in [false, true] {
        let t = healthy(Size::In15, Distro::NixOs);
        sb2::nixos_new_generation(&t, "6.19.9", switched);
        let v = verdict(&t);
        v.exit(1)
            .sub_is(
                "kernel",
                "degraded",
                Some("kernel.nixos-generation"),
                &["reboot"],
            )
            .rest_ok(&["kernel"]);
        v.check_is(
            "kernel.nixos-generation",
            "degraded",
            &["/nix/var/nix/profiles/system/kernel", "6.19.9"],
        );
    }
}

#[test]
fn running_kernel_without_its_module_tree() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove("lib/modules/6.19.8-surface-3");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "kernel",
            "failed",
            Some("kernel.modules"),
            &["6.19.8-surface-3", "removed"],
        )
        .rest_ok(&["kernel"]);
    assert_eq!(v.kernel("surface_patches"), true);
}

#[test]
fn unreadable_config_is_unknown_and_patches_come_from_module_files() {
    let t = healthy(Size::In13, Distro::NixOs);
    t.file(
        "proc/config.gz",
        b"\x1f\x8b\x08\x00garbage, not a gzip stream",
    );
    let v = verdict(&t);
    v.exit(0)
        .sub_is(
            "kernel",
            "unknown",
            Some("kernel.config"),
            &["/proc/config.gz", "decoded"],
        )
        .rest_ok(&["kernel", "dgpu"])
        .no_dgpu();
    v.check_is("kernel.surface-patches", "ok", &["ipts.ko"]);
    assert_eq!(v.kernel("surface_patches"), true);
    let ev: Vec<&str> = v
        .kernel("patch_evidence")
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(ev.iter().any(|e| e.ends_with("ipts.ko.zst")), "{ev:?}");
    assert!(!ev.iter().any(|e| e.contains("config")), "{ev:?}");
}

// ---- detach ---------------------------------------------------------------------

#[test]
fn dtx_node_missing_in_a_captured_tree_is_judged_by_sysfs() {
    // A copied tree often has no /dev: the misc device registered in sysfs is what
    // shows the DTX device exists there. (On the live root a missing node fails.)
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove("dev/surface/dtx");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.check_is("detach.dtx-node", "ok", &["surface_dtx"]);
}

#[test]
fn dtx_daemon_not_installed_is_a_notice_because_detach_still_works() {
    // Without surface-dtx-daemon the clipboard still detaches, after the firmware's
    // timeout: nothing the person uses is lost, so this is advice, not a degraded
    // subsystem (and NixOS does not package the daemon).
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove("usr/lib/systemd/system/surface-dtx-daemon.service");
    t.remove("etc/systemd/system/multi-user.target.wants/surface-dtx-daemon.service");
    t.remove("sys/fs/cgroup/system.slice/surface-dtx-daemon.service");
    t.remove("proc/987");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.notice_names("detach.daemon", &["surface-dtx-daemon"]);
}

// ---- battery values -------------------------------------------------------------

fn battery(t: &Tree, name: &str, parent: &str, props: &[(&str, &str)]) {
    t.power_supply(name, &format!("{ACPI}/{parent}"), props);
}

#[test]
fn worn_clipboard_battery_is_degraded() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    battery(
        &t,
        "BAT1",
        "PNP0C0A:00",
        &[
            ("type", "Battery"),
            ("status", "Discharging"),
            ("present", "1"),
            ("capacity", "80"),
            ("energy_full", "9000000"),
            ("energy_full_design", "23000000"),
            ("cycle_count", "912"),
        ],
    );
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "battery",
            "degraded",
            Some("battery.clipboard"),
            &["BAT1", "worn", "39 %"],
        )
        .rest_ok(&["battery"]);
}

#[test]
fn impossible_capacity_is_degraded() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    battery(
        &t,
        "BAT2",
        "PNP0C0A:01",
        &[
            ("type", "Battery"),
            ("status", "Discharging"),
            ("present", "1"),
            ("capacity", "250"),
            ("energy_full", "58000000"),
            ("energy_full_design", "62000000"),
        ],
    );
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "battery",
            "degraded",
            Some("battery.base"),
            &["BAT2", "250"],
        )
        .rest_ok(&["battery"]);
}

// ---- Wi-Fi firmware -------------------------------------------------------------

#[test]
fn wifi_firmware_missing_on_disk_but_loaded_is_ok() {
    // The firmware came from the initrd: the card has its interface, so it loaded.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove("lib/firmware/mrvl/pcie8897_uapsta.bin");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert_eq!(
        v.check("wireless.wifi-firmware")["status"],
        "ok",
        "{}",
        v.dump()
    );
}

#[test]
fn wifi_firmware_missing_and_no_interface_fails_wireless() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.remove("lib/firmware/mrvl/pcie8897_uapsta.bin");
    t.remove("sys/class/net/wlp1s0");
    let v = verdict(&t);
    v.exit(1)
        .sub_is(
            "wireless",
            "failed",
            Some("wireless.wifi-firmware"),
            &["pcie8897_uapsta.bin"],
        )
        .rest_ok(&["wireless"]);
}

#[test]
fn a_second_unbound_int3472_does_not_fail_working_cameras() {
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.device("platform", "INT3472:01", "platform/INT3472:01", None, &[]);
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    assert!(
        v.check("camera.int3472")["evidence"]
            .to_string()
            .contains("INT3472:01 not bound"),
        "{}",
        v.dump()
    );
}

#[test]
fn no_int3472_bound_is_a_notice_while_the_sensors_are_bound() {
    // Whether INT3472 binds on a linux-surface kernel is unverified; bound sensors
    // prove their power and clock came up.
    let t = healthy(Size::In15, Distro::DebianSurface);
    t.unbind("i2c", "i2c-INT3472:00");
    let v = verdict(&t);
    v.exit(0).rest_ok(&[]);
    v.notice_names("camera.int3472", &["INT3472"]);
}
