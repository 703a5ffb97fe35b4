//! The real-kernel layer: surface-check's collectors against a real Linux kernel.
//!
//! Fixture trees encode our own idea of sysfs and procfs; this test boots a Debian 12
//! kernel under QEMU (TCG) with the Surface Book 2 13"'s SMBIOS identity, loads real
//! modules (vivid for V4L2 and media-controller nodes, uinput, evdev, surface_gpe),
//! creates the SB2's evdev devices through uinput (examples/vm-uinput.rs), and runs
//! `surface-check capture` and `status --local --json` in the guest (tests/vm/). The
//! guest also prints the kernel's own view (sysfs links, device numbers, dmesg), which
//! the facts are held against.
//!
//! Needs qemu-system-x86_64, apt-get with current lists, dpkg-deb, depmod (kmod) and
//! ldd; without any of them the test fails. One boot serves every test here.

mod common;
#[path = "vm/guest.rs"]
mod guest;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

fn boot() -> &'static guest::Boot {
    static BOOT: OnceLock<guest::Result<guest::Boot>> = OnceLock::new();
    BOOT.get_or_init(|| {
        let b = guest::boot();
        if let Ok(b) = &b {
            eprintln!(
                "vm: {} ({}): prepared in {:.1?}, booted and ran in {:.1?}",
                b.kernel.package, b.kernel.release, b.prepare_time, b.boot_time
            );
        }
        b
    })
    .as_ref()
    .unwrap_or_else(|e| panic!("{e}"))
}

fn section(name: &str) -> &'static str {
    let b = boot();
    b.section(name).unwrap_or_else(|| {
        panic!(
            "no `{name}` section on the console:\n{}",
            tail(&b.console, 80)
        )
    })
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn json(name: &str) -> Value {
    let text = section(name);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name} is not JSON ({e}):\n{text}"))
}

fn facts() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| json("capture.json"))
}

fn report() -> &'static Value {
    static R: OnceLock<Value> = OnceLock::new();
    R.get_or_init(|| json("status.json"))
}

/// The value of a `Fact` that must have been read: `{"ok": v}`.
fn ok<'a>(fact: &'a Value, what: &str) -> &'a Value {
    fact.get("ok")
        .unwrap_or_else(|| panic!("{what} was not read: {fact}"))
}

fn u16s(v: &Value) -> Vec<u16> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_u64().expect("number") as u16)
        .collect()
}

fn host_file(path: &std::path::Path) -> String {
    String::from_utf8_lossy(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .into_owned()
}

/// The guest's sysfs view: path -> (canonical path, `device` link target or driver).
fn sysfs() -> BTreeMap<String, (String, String)> {
    section("sysfs")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 3, "sysfs line {l:?}");
            (f[0].to_string(), (f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

/// The guest's device nodes as `stat` saw them: path -> (major, minor).
fn nodes() -> BTreeMap<String, (u32, u32)> {
    section("nodes")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 4, "nodes line {l:?}");
            assert_eq!(f[1], "character special file", "{l}");
            let hex = |s: &str| u32::from_str_radix(s, 16).unwrap();
            (f[0].to_string(), (hex(f[2]), hex(f[3])))
        })
        .collect()
}

/// Asserts that a `NodeKind` fact is the character device `stat` saw at `path`.
fn assert_node(node: &Value, path: &str) {
    let (major, minor) = *nodes()
        .get(path)
        .unwrap_or_else(|| panic!("the guest saw no {path}"));
    let n = ok(node, path);
    assert_eq!(n["type"], "char_device", "{path}: {n}");
    assert_eq!(n["major"], major, "{path}: {n}");
    assert_eq!(n["minor"], minor, "{path}: {n}");
}

fn inputs() -> &'static [Value] {
    ok(&facts()["inputs"], "inputs").as_array().unwrap()
}

fn input_named(name: &str) -> &'static Value {
    let found: Vec<&Value> = inputs()
        .iter()
        .filter(|i| i["name"]["ok"] == name)
        .collect();
    assert_eq!(found.len(), 1, "input devices named {name:?}: {found:?}");
    found[0]
}

/// The devices vm-uinput created, with the bits it set.
fn uinput_specs() -> Vec<Value> {
    let text = section("uinput");
    assert!(
        text.contains("VM-UINPUT ready"),
        "vm-uinput failed:\n{text}"
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("VM-UINPUT {"))
        .map(|l| serde_json::from_str(&format!("{{{l}")).unwrap())
        .collect()
}

const BTN_TOUCH: u16 = 0x14a;
const BTN_TOOL_PEN: u16 = 0x140;
const KEY_Q: u16 = 16;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const ABS_PRESSURE: u16 = 0x18;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const INPUT_PROP_DIRECT: u16 = 0x01;

#[test]
fn the_guest_ran_surface_check_without_a_panic() {
    let b = boot();
    for bad in [
        "Kernel panic",
        "panicked at",
        "BUG: ",
        "Oops:",
        "WARNING: CPU",
    ] {
        assert!(
            !b.console.contains(bad),
            "{bad:?} on the console:\n{}",
            b.console
        );
    }
    for (name, _) in &b.loaded {
        assert_eq!(
            b.value(&format!("insmod {name} rc")),
            Some("0"),
            "insmod {name}"
        );
    }
    assert_eq!(
        b.value("capture rc"),
        Some("0"),
        "{}",
        section("capture.err")
    );
    // Exit 1: this stock kernel on a machine without the SB2's hardware fails checks.
    assert_eq!(b.value("status rc"), Some("1"), "{}", section("status.err"));
    for err in ["capture.err", "status.err"] {
        let text = section(err);
        assert!(
            !text.contains("ERROR") && !text.contains("WARN"),
            "{err}:\n{text}"
        );
    }
    assert!(
        facts()["hung_paths"].as_array().unwrap().is_empty(),
        "{}",
        facts()["hung_paths"]
    );
}

#[test]
fn the_report_validates_and_dmi_says_surface_book_2_13() {
    let r = report();
    common::assert_schema(r);
    let m = &r["machine"];
    assert_eq!(m["model"], "surface-book-2-13", "{m}");
    assert_eq!(m["model_source"], "dmi-sku", "{m}");
    assert_eq!(
        m["model_evidence"],
        "/sys/class/dmi/id/product_sku: Surface_Book_1832"
    );
    assert_eq!(m["vendor"], "Microsoft Corporation");
    assert_eq!(m["product"], "Surface Book 2");
    let dmi = &facts()["dmi"];
    assert_eq!(dmi["sys_vendor"]["ok"], "Microsoft Corporation", "{dmi}");
    assert_eq!(dmi["product_name"]["ok"], "Surface Book 2", "{dmi}");
    assert_eq!(dmi["product_sku"]["ok"], "Surface_Book_1832", "{dmi}");
    assert_eq!(dmi["product_family"]["ok"], "Surface", "{dmi}");
    assert_eq!(dmi["board_name"]["ok"], "Surface Book 2", "{dmi}");
    assert_eq!(facts()["source"]["redacted"], true);
}

#[test]
fn a_capture_of_the_real_kernel_replays_to_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facts.json");
    std::fs::write(&file, section("capture.json")).unwrap();
    let (code, out, err) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{err}");
    let replay: Value = serde_json::from_str(&out).unwrap();
    common::assert_schema(&replay);
    assert_eq!(replay["machine"], report()["machine"]);
    assert_eq!(replay["subsystems"], report()["subsystems"]);
}

#[test]
fn kernel_release_and_config_are_the_debian_kernel_s() {
    let b = boot();
    let rel = &b.kernel.release;
    let k = &facts()["kernel"];
    assert_eq!(ok(&k["release"], "release"), rel.as_str());
    let version = ok(&k["version"], "version").as_str().unwrap();
    assert!(
        version.starts_with(&format!("Linux version {rel} ")) && version.contains("Debian"),
        "{version}"
    );
    assert_eq!(ok(&k["tainted"], "tainted"), 0);

    // The config comes from /boot (Debian builds without IKCONFIG) and holds every
    // `CONFIG_X=V` line of the real file, with string quotes removed.
    let config = ok(&facts()["config"], "config");
    assert_eq!(config["source"], format!("/boot/config-{rel}"));
    let options = config["options"].as_object().unwrap();
    let text = host_file(&b.kernel.config());
    let lines: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("CONFIG_")?.split_once('='))
        .collect();
    assert!(lines.len() > 3000, "{} options", lines.len());
    assert_eq!(options.len(), lines.len());
    for (k, v) in &lines {
        let want = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(v);
        assert_eq!(options.get(*k).and_then(Value::as_str), Some(want), "{k}");
    }
    for opt in ["VIDEO_VIVID", "INPUT_UINPUT", "SURFACE_GPE", "INPUT_EVDEV"] {
        assert_eq!(options[opt], "m", "{opt}");
    }
    let r = report();
    assert_eq!(common::check_status(r, "kernel.release"), "ok");
    assert_eq!(common::check_status(r, "kernel.config"), "ok");
    assert_eq!(
        common::check(r, "kernel.config")["summary"],
        format!("{} options from /boot/config-{rel}", lines.len())
    );
    // A Debian kernel without the linux-surface patches, known from config and tree.
    assert_eq!(common::check_status(r, "kernel.surface-patches"), "failed");
}

#[test]
fn loaded_modules_come_from_proc_modules() {
    let b = boot();
    let loaded = ok(&facts()["modules"]["loaded"], "proc/modules")
        .as_object()
        .unwrap();
    for (name, _) in &b.loaded {
        let m = loaded
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in /proc/modules: {loaded:?}"));
        assert_eq!(m["name"], name.as_str());
        assert_eq!(m["state"], "Live", "{m}");
        assert_eq!(m["taint"], "", "{m}");
        assert!(m["size"].as_u64().unwrap() > 0, "{m}");
    }
    for name in ["vivid", "uinput", "evdev", "surface_gpe"] {
        assert!(loaded.contains_key(name), "{name}");
    }
    // Nothing else is loaded: the guest loads modules only by insmod.
    assert_eq!(loaded.len(), b.loaded.len(), "{loaded:?}");
    // `used by` names loaded modules: videodev is used by vivid, mc by videodev.
    for m in loaded.values() {
        for u in m["used_by"].as_array().unwrap() {
            assert!(loaded.contains_key(u.as_str().unwrap()), "{m}");
        }
    }
    let used_by = |m: &str| -> Vec<&str> {
        loaded[m]["used_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    };
    assert!(used_by("videodev").contains(&"vivid"));
    assert!(used_by("mc").contains(&"videodev"));
    // The open /dev/uinput descriptors hold uinput: one per device vm-uinput made.
    assert_eq!(loaded["uinput"]["refcount"], 3);

    let sys_module: BTreeSet<&str> = ok(&facts()["modules"]["sys_module"], "sys/module")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in loaded.keys() {
        assert!(sys_module.contains(name.as_str()), "{name}");
    }
}

#[test]
fn the_module_tree_is_parsed_from_the_real_index_files() {
    let b = boot();
    let rel = &b.kernel.release;
    let tree = ok(&facts()["module_tree"], "module_tree");
    assert_eq!(tree["dir"], format!("/lib/modules/{rel}"));
    let mdir = b.kernel.modules_dir();

    let dep = guest::modules_dep(&host_file(&mdir.join("modules.dep")));
    let available = ok(&tree["available"], "modules.dep").as_object().unwrap();
    assert!(available.len() > 3000, "{} modules", available.len());
    assert_eq!(available.len(), dep.len());
    for (name, (path, _)) in &dep {
        assert_eq!(available[name], path.as_str(), "{name}");
    }

    let builtin_text = host_file(&mdir.join("modules.builtin"));
    let builtin_host: BTreeSet<String> = builtin_text
        .lines()
        .filter_map(|l| l.rsplit('/').next()?.strip_suffix(".ko"))
        .map(|n| n.replace('-', "_"))
        .collect();
    let builtin: BTreeSet<&str> = ok(&tree["builtin"], "modules.builtin")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(builtin.len() > 100, "{} built-ins", builtin.len());
    assert_eq!(
        builtin,
        builtin_host
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
    );

    // Aliases are kept for the profile's modules only: exactly those lines of the file.
    let wanted: BTreeSet<String> = surface_check::profiles::SURFACE_BOOK_2
        .modules()
        .iter()
        .map(|m| m.to_string())
        .collect();
    let alias_text = host_file(&mdir.join("modules.alias"));
    let aliases_host: Vec<(String, String)> = alias_text
        .lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("alias ")?.split_whitespace();
            let (p, m) = (f.next()?, f.next()?.replace('-', "_"));
            wanted.contains(&m).then(|| (p.to_string(), m))
        })
        .collect();
    let aliases: Vec<(String, String)> = ok(&tree["aliases"], "modules.alias")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["pattern"].as_str().unwrap().to_string(),
                a["module"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!aliases.is_empty());
    assert_eq!(aliases, aliases_host);
    // surface_gpe's DMI alias is how it loads on a Surface.
    assert!(
        aliases
            .iter()
            .any(|(p, m)| m == "surface_gpe" && p.starts_with("dmi:") && p.contains("Surface")),
        "{aliases:?}"
    );

    // The guest has the files of the profile's modules this kernel has (and no others).
    let present = tree["files_present"].as_object().unwrap();
    let expected: BTreeSet<&str> = wanted
        .iter()
        .filter(|m| dep.contains_key(*m))
        .map(String::as_str)
        .collect();
    assert_eq!(
        present.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );
    for (m, v) in present {
        assert_eq!(v, true, "{m}: {}", available[m]);
        assert!(b.module_files.contains(available[m].as_str().unwrap()));
    }
    assert_eq!(present["surface_gpe"], true);

    let r = report();
    assert_eq!(common::check_status(r, "kernel.modules"), "ok");
    assert_eq!(
        common::check(r, "kernel.modules")["summary"],
        format!("{} modules in /lib/modules/{rel}", dep.len())
    );
}

#[test]
fn uinput_devices_carry_their_ids_and_exactly_the_bits_set() {
    let specs = uinput_specs();
    assert_eq!(specs.len(), 3, "{specs:?}");
    for s in &specs {
        let name = s["name"].as_str().unwrap();
        let i = input_named(name);
        let id = ok(&i["id"], name);
        assert_eq!(id["bustype"], s["bustype"], "{name}");
        assert_eq!(id["vendor"], 0x045e, "{name}");
        assert_eq!(id["product"], s["product"], "{name}");
        assert_eq!(id["version"], 1, "{name}");
        let caps = &i["capabilities"];
        let cap = |k: &str| u16s(ok(&caps[k], &format!("{name} {k}")));
        // The kernel adds EV_SYN to every device; everything else is what was set.
        let mut ev = u16s(&s["ev"]);
        ev.push(0);
        ev.sort_unstable();
        assert_eq!(cap("ev"), ev, "{name} ev");
        assert_eq!(cap("key"), u16s(&s["key"]), "{name} key");
        assert_eq!(cap("abs"), u16s(&s["abs"]), "{name} abs");
        assert_eq!(cap("msc"), u16s(&s["msc"]), "{name} msc");
        assert_eq!(cap("rel"), Vec::<u16>::new(), "{name} rel");
        assert_eq!(cap("sw"), Vec::<u16>::new(), "{name} sw");
        assert_eq!(
            u16s(ok(&i["properties"], name)),
            u16s(&s["prop"]),
            "{name} properties"
        );
        // uinput devices are virtual: no parent device, no phys unless set.
        assert!(i["parent"].is_null(), "{name}: {}", i["parent"]);
        assert!(i["phys"].is_null(), "{name}: {}", i["phys"]);
    }
    // The Surface Book 2's identities, independently of what vm-uinput reports.
    let ts = input_named("IPTSD Virtual Touchscreen 045E:0021");
    assert_eq!(ts["id"]["ok"]["product"], 0x0021);
    assert!(u16s(&ts["capabilities"]["key"]["ok"]).contains(&BTN_TOUCH));
    let abs = u16s(&ts["capabilities"]["abs"]["ok"]);
    assert!(abs.contains(&ABS_MT_POSITION_X) && abs.contains(&ABS_MT_POSITION_Y));
    assert!(u16s(&ts["properties"]["ok"]).contains(&INPUT_PROP_DIRECT));
    let pen = input_named("IPTSD Virtual Stylus 045E:0021");
    assert_eq!(pen["id"]["ok"]["product"], 0x0021);
    let keys = u16s(&pen["capabilities"]["key"]["ok"]);
    assert!(keys.contains(&BTN_TOOL_PEN) && keys.contains(&BTN_TOUCH));
    let abs = u16s(&pen["capabilities"]["abs"]["ok"]);
    for a in [ABS_X, ABS_Y, ABS_PRESSURE] {
        assert!(abs.contains(&a), "stylus abs {a}");
    }
    let kb = input_named("Microsoft Surface Keyboard");
    assert_eq!(kb["id"]["ok"]["bustype"], 0x03);
    assert_eq!(kb["id"]["ok"]["product"], 0x0922);
    assert!(u16s(&kb["capabilities"]["key"]["ok"]).contains(&KEY_Q));
}

#[test]
fn every_input_device_matches_the_kernel_s_own_view() {
    let sys = sysfs();
    let listed: BTreeSet<&str> = sys
        .keys()
        .filter_map(|p| p.strip_prefix("/sys/class/input/"))
        .collect();
    let collected: BTreeSet<&str> = inputs()
        .iter()
        .map(|i| i["sysname"].as_str().unwrap())
        .collect();
    assert_eq!(collected, listed);
    // Beyond the uinput devices: the i8042 keyboard and vivid's CEC remote controls.
    assert!(inputs().len() >= 6, "{}", inputs().len());
    for i in inputs() {
        let sysname = i["sysname"].as_str().unwrap();
        let (_, device) = &sys[&format!("/sys/class/input/{sysname}")];
        match i["parent"].as_str() {
            Some(p) => assert_eq!(p, device, "{sysname}"),
            None => assert!(device.is_empty(), "{sysname}: {device}"),
        }
        assert!(i["name"]["ok"].is_string(), "{i}");
        assert!(i["id"]["ok"].is_object(), "{i}");
        for k in ["ev", "key", "sw", "abs", "rel", "msc"] {
            assert!(i["capabilities"][k]["ok"].is_array(), "{sysname} {k}: {i}");
        }
        // evdev is loaded: every device has its handler and a char device 13:N.
        let ev = i["event"].as_str().unwrap_or_else(|| panic!("{i}"));
        assert_node(&i["node"], &format!("/dev/input/{ev}"));
        assert_eq!(i["node"]["ok"]["major"], 13);
        let n: u32 = ev.strip_prefix("event").unwrap().parse().unwrap();
        assert_eq!(i["node"]["ok"]["minor"], 64 + n, "{sysname}");
        // No udev in the guest: its database is absent, which is evidence, not unknown.
        assert!(i["udev"]["absent"].is_object(), "{i}");
    }
}

#[test]
fn vivid_video_nodes_and_media_device_are_collected() {
    let sys = sysfs();
    let video = ok(&facts()["video"], "video4linux").as_array().unwrap();
    let listed: BTreeSet<&str> = sys
        .keys()
        .filter_map(|p| p.strip_prefix("/sys/class/video4linux/"))
        .collect();
    let collected: BTreeSet<&str> = video
        .iter()
        .map(|v| v["sysname"].as_str().unwrap())
        .collect();
    assert_eq!(collected, listed);
    for v in video {
        let sysname = v["sysname"].as_str().unwrap();
        let name = ok(&v["name"], sysname).as_str().unwrap();
        assert!(name.starts_with("vivid-000-"), "{sysname}: {name}");
        assert_node(&v["node"], &format!("/dev/{sysname}"));
        assert_eq!(v["node"]["ok"]["major"], 81, "{sysname}");
        let (_, device) = &sys[&format!("/sys/class/video4linux/{sysname}")];
        assert_eq!(v["parent"], device.as_str(), "{sysname}");
        assert_eq!(v["parent"], "/sys/devices/platform/vivid.0");
    }
    let cap = video
        .iter()
        .find(|v| v["sysname"] == "video0")
        .expect("video0");
    assert_eq!(cap["name"]["ok"], "vivid-000-vid-cap");

    let media = ok(&facts()["media"], "media").as_array().unwrap();
    assert_eq!(media.len(), 1, "{media:?}");
    let m = &media[0];
    assert_eq!(m["sysname"], "media0");
    assert_eq!(m["model"]["ok"], "vivid");
    assert_node(&m["node"], "/dev/media0");
    // On the media bus: no `device` link, the parent is the directory above.
    let (real, device) = &sys["/sys/bus/media/devices/media0"];
    assert!(device.is_empty(), "{device}");
    assert_eq!(real, "/sys/devices/platform/vivid.0/media0");
    assert_eq!(m["parent"], "/sys/devices/platform/vivid.0");

    // vivid is no IPU3: the camera chain does not take it for one.
    let r = report();
    assert_eq!(common::check_status(r, "camera.pci"), "absent");
    assert_eq!(common::check_status(r, "camera.nodes"), "absent");
}

#[test]
fn input_verdicts_follow_the_real_devices() {
    let r = report();
    // The keyboard with the base's ids is a uinput device: nothing is on a USB bus, and
    // the check does not take the ids of a virtual device for the base.
    assert_eq!(
        facts()["buses"]["usb"]["absent"]["path"],
        "sys/bus/usb/devices"
    );
    let kb = common::check(r, "input.keyboard");
    assert_eq!(kb["status"], "failed", "{kb}");
    assert_eq!(
        kb["summary"],
        "the base keyboard (USB 045e:0922) is not on the USB bus"
    );
    assert_eq!(r["machine"]["base"], "unknown");
    let tp = common::check(r, "input.touchpad");
    assert_eq!(tp["status"], "unknown", "{tp}");
    assert_eq!(tp["summary"], "not checked: input.keyboard is failed");
    // Every device with an event handler has its node (devtmpfs made them).
    let n = inputs().iter().filter(|i| i["event"].is_string()).count();
    let nodes = common::check(r, "input.nodes");
    assert_eq!(nodes["status"], "ok", "{nodes}");
    assert_eq!(nodes["summary"], format!("{n} event nodes present"));
}

#[test]
fn lid_wake_reports_what_surface_gpe_did() {
    // The DMI match registers the surface_gpe platform device; its probe then marks
    // GPE 0x17 for wake and enables it, which QEMU's ACPI tables give no handler for.
    let dmesg = section("dmesg");
    assert!(
        dmesg.contains("surface_gpe surface_gpe: failed to enable GPE: AE_NO_HANDLER")
            && dmesg.contains("probe of surface_gpe failed with error -22"),
        "{dmesg}"
    );
    let (real, driver) = &sysfs()["/sys/bus/platform/devices/surface_gpe"];
    assert_eq!(real, "/sys/devices/platform/surface_gpe");
    assert_eq!(driver, "driver=", "surface_gpe is bound");

    let f = facts();
    let dev = ok(&f["buses"]["platform"], "platform")
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "surface_gpe")
        .expect("surface_gpe platform device");
    assert!(dev["driver"].is_null(), "{dev}");
    assert_eq!(dev["path"], "/sys/devices/platform/surface_gpe");
    let drivers = ok(&f["drivers"]["platform"], "platform drivers");
    assert!(
        drivers
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "surface_gpe")
    );

    let lw = common::check(report(), "input.lid-wake");
    assert_eq!(lw["status"], "failed", "{lw}");
    assert_eq!(
        lw["summary"],
        "lid wake: driver surface_gpe is registered but surface_gpe is not bound: its probe failed"
    );
}

#[test]
fn touch_devices_is_not_reached_without_the_mei_device() {
    // iptsd's virtual devices exist, but the chain breaks first: no ME iTouch function,
    // no IPTS driver in a stock kernel.
    input_named("IPTSD Virtual Touchscreen 045E:0021");
    let r = report();
    let mei = common::check(r, "touch.mei");
    assert_eq!(mei["status"], "failed", "{mei}");
    assert_eq!(
        mei["summary"],
        "the ME iTouch function 8086:9d3e is not on the PCI bus"
    );
    assert_eq!(common::check_status(r, "touch.ipts-driver"), "failed");
    let d = common::check(r, "touch.devices");
    assert_eq!(d["status"], "unknown", "{d}");
    assert_eq!(d["summary"], "not checked: touch.iptsd is unknown");
}
