//! The real-kernel layer: surface-check's collectors against a real Linux kernel.
//!
//! Fixture trees encode our own idea of sysfs and procfs; this test boots a Debian 12
//! kernel under QEMU (TCG) with the Surface Book 2 13"'s SMBIOS identity, loads real
//! modules (vivid for V4L2 and media-controller nodes, uinput, uhid, evdev, hid-generic,
//! surface_gpe) and runs `surface-check capture` and `status --local --json` in the
//! guest twice, and `status` once more each time as the unprivileged user 65534
//! (tests/vm/init.sh):
//!
//! 1. with devices made through uinput (examples/vm-uinput.rs): iptsd's virtual
//!    touchscreen and stylus, a keyboard with the base's ids, gpio-keys buttons, the
//!    lid switch and the DTX device-mode switch in tablet mode; and the IPTS HID device
//!    (045E:0021) made through uhid (examples/vm-uhid.rs), which hid-generic binds and
//!    gives a hidraw node. Then `surface-check test` for touch, pen, keyboard, buttons
//!    and lid while vm-uinput injects the events (with `--json` and as a person sees
//!    it), once with nothing injected, and `test camera` and `test detach`;
//! 2. with the base attached: the uinput keyboard gone, the DTX switch in laptop mode,
//!    and a USB gadget with the base keyboard's ids (045e:0922) plugged into dummy_hcd,
//!    which usbhid and hid-generic bind like the real one.
//!
//! Each round the guest also prints the kernel's own view (sysfs links, device numbers
//! and modes; dmesg at the end), which the facts are held against; before the first,
//! the answers of vivid's video nodes and media device to raw V4L2 and media ioctls,
//! and what MEDIA_IOC_SETUP_LINK says to changing a link (examples/vm-media.rs).
//!
//! The guest runs a system bus (dbus-daemon with the project's policy) and
//! systemd-udevd (without rules) from the start, as a distribution does. Between the
//! rounds, `surface-checkd` serves the live root on that bus: `status` reads its
//! report as root and as the user 65534, `watch --json` follows it, and a USB device
//! with the Marvell Bluetooth function's ids is plugged into dummy_hcd and unplugged:
//! real uevents, after which the right SubsystemChanged must arrive with no Refresh
//! call (the daemon's and watch's lines are stamped with the guest's clock).
//!
//! Needs qemu-system-x86_64, apt-get with current lists, dpkg-deb, depmod (kmod), ldd,
//! strip, and the `dbus` and `udev` packages (the guest runs their programs); without
//! any of them the test fails. One boot serves every test here.

mod common;
#[path = "vm/guest.rs"]
mod guest;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use common::hints;
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

/// One sysfs entry as the guest's shell resolved it.
struct Sys {
    /// `readlink -f` of the entry.
    real: String,
    /// `readlink -f` of its `device` link; empty without one.
    device: String,
    /// The name of the driver its `driver` link points to; empty without one.
    driver: String,
    /// Entries of its `hidraw` directory.
    hidraw: Vec<String>,
}

/// What one round printed: facts, report, and the kernel's own view.
struct Round {
    suffix: &'static str,
    facts: Value,
    report: Value,
    sysfs: BTreeMap<String, Sys>,
    /// Device nodes as `stat` saw them: path -> (major, minor).
    nodes: BTreeMap<String, (u32, u32)>,
    /// Registered drivers of each bus that exists.
    drivers: BTreeMap<String, BTreeSet<String>>,
}

impl Round {
    fn load(suffix: &'static str) -> Round {
        let sysfs = section(&format!("sysfs{suffix}"))
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                assert_eq!(f.len(), 5, "sysfs line {l:?}");
                let sys = Sys {
                    real: f[1].to_string(),
                    device: f[2].to_string(),
                    driver: f[3].to_string(),
                    hidraw: f[4].split_whitespace().map(str::to_string).collect(),
                };
                (f[0].to_string(), sys)
            })
            .collect();
        let nodes = section(&format!("nodes{suffix}"))
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                assert_eq!(f.len(), 4, "nodes line {l:?}");
                assert_eq!(f[1], "character special file", "{l}");
                let hex = |s: &str| u32::from_str_radix(s, 16).unwrap();
                (f[0].to_string(), (hex(f[2]), hex(f[3])))
            })
            .collect();
        let drivers = section(&format!("drivers{suffix}"))
            .lines()
            .map(|l| {
                let (bus, names) = l.split_once('|').expect("bus|drivers");
                let names = names
                    .split('/')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                (bus.to_string(), names)
            })
            .collect();
        Round {
            suffix,
            drivers,
            facts: json(&format!("capture{suffix}.json")),
            report: json(&format!("status{suffix}.json")),
            sysfs,
            nodes,
        }
    }

    fn sys(&self, path: &str) -> &Sys {
        self.sysfs
            .get(path)
            .unwrap_or_else(|| panic!("round {:?}: the guest listed no {path}", self.suffix))
    }

    /// Entries the guest listed under `dir/`, by name.
    fn listed(&self, dir: &str) -> BTreeSet<&str> {
        self.sysfs
            .keys()
            .filter_map(|p| p.strip_prefix(dir)?.strip_prefix('/'))
            .collect()
    }

    /// Asserts that a `NodeKind` fact is the character device `stat` saw at `path`.
    fn assert_node(&self, node: &Value, path: &str) {
        let (major, minor) = *self
            .nodes
            .get(path)
            .unwrap_or_else(|| panic!("round {:?}: the guest saw no {path}", self.suffix));
        let n = ok(node, path);
        assert_eq!(n["type"], "char_device", "{path}: {n}");
        assert_eq!(n["major"], major, "{path}: {n}");
        assert_eq!(n["minor"], minor, "{path}: {n}");
    }

    fn inputs(&self) -> &[Value] {
        ok(&self.facts["inputs"], "inputs").as_array().unwrap()
    }

    fn inputs_named(&self, name: &str) -> Vec<&Value> {
        self.inputs()
            .iter()
            .filter(|i| i["name"]["ok"] == name)
            .collect()
    }

    fn input_named(&self, name: &str) -> &Value {
        let found = self.inputs_named(name);
        assert_eq!(found.len(), 1, "input devices named {name:?}: {found:?}");
        found[0]
    }

    fn bus(&self, bus: &str) -> &[Value] {
        ok(&self.facts["buses"][bus], bus).as_array().unwrap()
    }
}

/// Round 1: uinput devices only.
fn uinput_round() -> &'static Round {
    static R: OnceLock<Round> = OnceLock::new();
    R.get_or_init(|| Round::load(""))
}

/// Round 2: the base attached over USB.
fn base_round() -> &'static Round {
    static R: OnceLock<Round> = OnceLock::new();
    R.get_or_init(|| Round::load("-base"))
}

fn rounds() -> [&'static Round; 2] {
    [uinput_round(), base_round()]
}

fn facts() -> &'static Value {
    &uinput_round().facts
}

fn report() -> &'static Value {
    &uinput_round().report
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

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().expect("string"))
        .collect()
}

fn host_file(path: &std::path::Path) -> String {
    String::from_utf8_lossy(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .into_owned()
}

/// The devices vm-uinput created in a round, with the bits it set.
fn uinput_specs(section_name: &str) -> Vec<Value> {
    let text = section(section_name);
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
const BTN_LEFT: u16 = 0x110;
const REL_X: u16 = 0x00;
const REL_Y: u16 = 0x01;
const REL_WHEEL: u16 = 0x08;
const EV_REL: u16 = 0x02;
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
    for (name, _) in b.loaded.iter().chain(&b.loaded_base) {
        assert_eq!(
            b.value(&format!("insmod {name} rc")),
            Some("0"),
            "insmod {name}"
        );
    }
    assert_eq!(b.value("gadget rc"), Some("0"), "binding the USB gadget");
    for r in rounds() {
        let sfx = r.suffix;
        assert_eq!(
            b.value(&format!("capture{sfx} rc")),
            Some("0"),
            "{}",
            section(&format!("capture{sfx}.err"))
        );
        // Exit 1: this stock kernel on a machine without the SB2's hardware fails checks.
        for status in ["status", "status-user"] {
            assert_eq!(
                b.value(&format!("{status}{sfx} rc")),
                Some("1"),
                "{}",
                section(&format!("{status}{sfx}.err"))
            );
        }
        for err in ["capture", "status", "status-user"] {
            let text = section(&format!("{err}{sfx}.err"));
            assert!(
                !text.contains("ERROR") && !text.contains("WARN"),
                "{err}{sfx}:\n{text}"
            );
        }
        let hung = &r.facts["hung_paths"];
        assert!(hung.as_array().unwrap().is_empty(), "{hung}");
    }
}

#[test]
fn the_report_validates_and_dmi_says_surface_book_2_13() {
    common::assert_schema(&base_round().report);
    let r = report();
    common::assert_schema(r);
    let m = &r["machine"];
    assert_eq!(m["model"], "surface-book-2-13", "{m}");
    // The IPTS HID device made through uhid (045E:0021) tells the 13" best.
    assert_eq!(m["model_source"], "ipts-hid", "{m}");
    // Every piece of evidence that decided the model is named.
    let ipts = uinput_round()
        .bus("hid")
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .find(|n| n.starts_with("0000:045E:0021."))
        .expect("the IPTS HID device");
    assert_eq!(
        m["model_evidence"],
        format!(
            "/sys/class/dmi/id/product_name: Surface Book 2; /sys/class/dmi/id/board_name: Surface Book 2; /sys/class/dmi/id/product_sku: Surface_Book_1832; /sys/bus/hid/devices/{ipts}"
        )
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
    for r in rounds() {
        let file = dir.path().join(format!("facts{}.json", r.suffix));
        std::fs::write(&file, section(&format!("capture{}.json", r.suffix))).unwrap();
        let (code, out, err) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1, "{err}");
        let replay: Value = serde_json::from_str(&out).unwrap();
        common::assert_schema(&replay);
        assert_eq!(replay["machine"], r.report["machine"]);
        assert_eq!(replay["subsystems"], r.report["subsystems"]);
    }
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
    assert_eq!(
        loaded["uinput"]["refcount"],
        uinput_specs("uinput").len(),
        "{}",
        loaded["uinput"]
    );
    // The open /dev/uhid descriptor holds uhid.
    assert_eq!(loaded["uhid"]["refcount"], 1, "{}", loaded["uhid"]);

    let sys_module: BTreeSet<&str> = ok(&facts()["modules"]["sys_module"], "sys/module")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in loaded.keys() {
        assert!(sys_module.contains(name.as_str()), "{name}");
    }

    // The second round adds the USB and HID stack, and nothing else.
    let base = ok(&base_round().facts["modules"]["loaded"], "proc/modules")
        .as_object()
        .unwrap();
    let want: BTreeSet<&str> = b
        .loaded
        .iter()
        .chain(&b.loaded_base)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        base.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        want
    );
    assert!(strs(&base["usbcore"]["used_by"]).contains(&"usbhid"));
    assert!(strs(&base["hid"]["used_by"]).contains(&"hid_generic"));
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

/// The one uinput device named `name` in `r`: uinput devices are virtual, without a
/// parent device (the base's USB devices share the keyboard's name).
fn uinput_device<'a>(r: &'a Round, name: &str) -> &'a Value {
    let found: Vec<&Value> = r
        .inputs_named(name)
        .into_iter()
        .filter(|i| i["parent"].is_null())
        .collect();
    assert_eq!(found.len(), 1, "uinput devices named {name:?}: {found:?}");
    found[0]
}

/// Asserts that the devices in `specs` exist in `r` with exactly the bits set.
fn assert_uinput(r: &Round, specs: &[Value]) {
    for s in specs {
        let name = s["name"].as_str().unwrap();
        let i = uinput_device(r, name);
        // No phys unless set, as the real driver does.
        assert_eq!(i["phys"], s["phys"], "{name}");
        let id = ok(&i["id"], name);
        assert_eq!(id["bustype"], s["bustype"], "{name}");
        assert_eq!(id["vendor"], s["vendor"], "{name}");
        assert_eq!(id["product"], s["product"], "{name}");
        assert_eq!(id["version"], s["version"], "{name}");
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
        assert_eq!(cap("sw"), u16s(&s["sw"]), "{name} sw");
        assert_eq!(
            u16s(ok(&i["properties"], name)),
            u16s(&s["prop"]),
            "{name} properties"
        );
    }
}

#[test]
fn uinput_devices_carry_their_ids_and_exactly_the_bits_set() {
    let specs = uinput_specs("uinput");
    assert_eq!(specs.len(), 6, "{specs:?}");
    assert_uinput(uinput_round(), &specs);
    // Round 2 made the devices again, without the keyboard.
    let specs = uinput_specs("uinput-base");
    assert_eq!(specs.len(), 5, "{specs:?}");
    assert!(specs.iter().all(|s| s["kind"] != "keyboard"), "{specs:?}");
    assert_uinput(base_round(), &specs);
    let ui = uinput_round();
    // The Surface Book 2's identities, independently of what vm-uinput reports.
    let ts = ui.input_named("IPTSD Virtual Touchscreen 045E:0021");
    assert_eq!(ts["id"]["ok"]["product"], 0x0021);
    assert!(u16s(&ts["capabilities"]["key"]["ok"]).contains(&BTN_TOUCH));
    let abs = u16s(&ts["capabilities"]["abs"]["ok"]);
    assert!(abs.contains(&ABS_MT_POSITION_X) && abs.contains(&ABS_MT_POSITION_Y));
    assert!(u16s(&ts["properties"]["ok"]).contains(&INPUT_PROP_DIRECT));
    let pen = ui.input_named("IPTSD Virtual Stylus 045E:0021");
    assert_eq!(pen["id"]["ok"]["product"], 0x0021);
    let keys = u16s(&pen["capabilities"]["key"]["ok"]);
    assert!(keys.contains(&BTN_TOOL_PEN) && keys.contains(&BTN_TOUCH));
    let abs = u16s(&pen["capabilities"]["abs"]["ok"]);
    for a in [ABS_X, ABS_Y, ABS_PRESSURE] {
        assert!(abs.contains(&a), "stylus abs {a}");
    }
    let kb = ui.input_named("Microsoft Surface Keyboard");
    assert_eq!(kb["id"]["ok"]["bustype"], 0x03);
    assert_eq!(kb["id"]["ok"]["product"], 0x0922);
    assert!(u16s(&kb["capabilities"]["key"]["ok"]).contains(&KEY_Q));
}

#[test]
fn every_input_device_matches_the_kernel_s_own_view() {
    for r in rounds() {
        let collected: BTreeSet<&str> = r
            .inputs()
            .iter()
            .map(|i| i["sysname"].as_str().unwrap())
            .collect();
        assert_eq!(
            collected,
            r.listed("/sys/class/input"),
            "round {:?}",
            r.suffix
        );
        // Beyond the SB2's devices: the i8042 keyboard and vivid's CEC remote controls.
        assert!(r.inputs().len() >= 6, "{}", r.inputs().len());
        for i in r.inputs() {
            let sysname = i["sysname"].as_str().unwrap();
            let sys = r.sys(&format!("/sys/class/input/{sysname}"));
            match i["parent"].as_str() {
                Some(p) => assert_eq!(p, sys.device, "{sysname}"),
                None => assert!(sys.device.is_empty(), "{sysname}: {}", sys.device),
            }
            assert!(i["name"]["ok"].is_string(), "{i}");
            assert!(i["id"]["ok"].is_object(), "{i}");
            for k in ["ev", "key", "sw", "abs", "rel", "msc"] {
                assert!(i["capabilities"][k]["ok"].is_array(), "{sysname} {k}: {i}");
            }
            // evdev is loaded: every device has its handler and a char device 13:N.
            let ev = i["event"].as_str().unwrap_or_else(|| panic!("{i}"));
            r.assert_node(&i["node"], &format!("/dev/input/{ev}"));
            assert_eq!(i["node"]["ok"]["major"], 13);
            let n: u32 = ev.strip_prefix("event").unwrap().parse().unwrap();
            assert_eq!(i["node"]["ok"]["minor"], 64 + n, "{sysname}");
            // udevd runs without rules: every event device has a database record
            // (udevd handled its uevent), holding no properties.
            assert_eq!(i["udev"], serde_json::json!({"ok": {}}), "{sysname}");
        }
    }
}

#[test]
fn every_bus_device_and_driver_matches_the_kernel_s_own_view() {
    for r in rounds() {
        for (bus, _) in surface_check::facts::devices::BUSES {
            let dir = format!("/sys/bus/{bus}/devices");
            let devs = &r.facts["buses"][*bus];
            let drivers = &r.facts["drivers"][*bus];
            let Some(listed) = r.drivers.get(*bus) else {
                // The bus is not registered: both listings are absent, not unknown.
                assert!(devs["absent"].is_object(), "{bus}: {devs}");
                assert!(drivers["absent"].is_object(), "{bus}: {drivers}");
                continue;
            };
            let collected: BTreeSet<&str> = strs(ok(drivers, bus)).into_iter().collect();
            assert_eq!(
                collected,
                listed.iter().map(String::as_str).collect(),
                "{bus} drivers, round {:?}",
                r.suffix
            );
            let devs = ok(devs, bus).as_array().unwrap();
            let names: BTreeSet<&str> = devs.iter().map(|d| d["name"].as_str().unwrap()).collect();
            assert_eq!(names, r.listed(&dir), "{bus}, round {:?}", r.suffix);
            for d in devs {
                let name = d["name"].as_str().unwrap();
                let sys = r.sys(&format!("{dir}/{name}"));
                assert_eq!(d["path"], sys.real.as_str(), "{bus} {name}");
                assert_eq!(
                    d["driver"].as_str().unwrap_or(""),
                    sys.driver,
                    "{bus} {name}"
                );
            }
        }
        // What QEMU's q35 machine shows: PCI functions with ids, ACPI devices with
        // their _STA, platform devices.
        let pci = r.bus("pci");
        assert!(pci.len() >= 4, "{pci:?}");
        for d in pci {
            for a in ["vendor", "device", "class"] {
                let v = d["attrs"][a].as_str().unwrap_or_else(|| panic!("{d}"));
                assert!(v.starts_with("0x"), "{d}");
            }
        }
        assert!(pci.iter().any(|d| d["attrs"]["vendor"] == "0x8086"));
        assert!(!r.bus("acpi").is_empty());
        assert!(
            r.bus("platform")
                .iter()
                .any(|d| d["name"] == "vivid.0" && d["driver"] == "vivid")
        );
    }
}

#[test]
fn vivid_video_nodes_and_media_device_are_collected() {
    for r in rounds() {
        let video = ok(&r.facts["video"], "video4linux").as_array().unwrap();
        let collected: BTreeSet<&str> = video
            .iter()
            .map(|v| v["sysname"].as_str().unwrap())
            .collect();
        assert_eq!(collected, r.listed("/sys/class/video4linux"));
        for v in video {
            let sysname = v["sysname"].as_str().unwrap();
            let name = ok(&v["name"], sysname).as_str().unwrap();
            assert!(name.starts_with("vivid-000-"), "{sysname}: {name}");
            r.assert_node(&v["node"], &format!("/dev/{sysname}"));
            assert_eq!(v["node"]["ok"]["major"], 81, "{sysname}");
            let sys = r.sys(&format!("/sys/class/video4linux/{sysname}"));
            assert_eq!(v["parent"], sys.device.as_str(), "{sysname}");
            assert_eq!(v["parent"], "/sys/devices/platform/vivid.0");
        }
        let cap = video
            .iter()
            .find(|v| v["sysname"] == "video0")
            .expect("video0");
        assert_eq!(cap["name"]["ok"], "vivid-000-vid-cap");

        let media = ok(&r.facts["media"], "media").as_array().unwrap();
        assert_eq!(media.len(), 1, "{media:?}");
        let m = &media[0];
        assert_eq!(m["sysname"], "media0");
        assert_eq!(m["model"]["ok"], "vivid");
        r.assert_node(&m["node"], "/dev/media0");
        // On the media bus: no `device` link, the parent is the directory above.
        let sys = r.sys("/sys/bus/media/devices/media0");
        assert!(sys.device.is_empty(), "{}", sys.device);
        assert_eq!(sys.real, "/sys/devices/platform/vivid.0/media0");
        assert_eq!(m["parent"], "/sys/devices/platform/vivid.0");

        // vivid is no IPU3: the camera chain does not take it for one.
        assert_eq!(common::check_status(&r.report, "camera.pci"), "absent");
        assert_eq!(common::check_status(&r.report, "camera.nodes"), "absent");
    }
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
        "the base keyboard cannot be found: this kernel shows no USB bus at all"
    );
    // The cause a fact shows: no USB bus, not a detached base.
    assert!(
        !kb["hint"].as_str().unwrap_or("").contains("reattach"),
        "{kb}"
    );
    assert_eq!(r["machine"]["base"], "unknown");
    // The lid and the DTX switch made through uinput report their switches.
    assert_eq!(common::check_status(r, "input.lid"), "ok");
    assert_eq!(common::check_status(r, "input.tablet-mode"), "ok");
    let tp = common::check(r, "input.touchpad");
    assert_eq!(tp["status"], "unknown", "{tp}");
    assert_eq!(tp["summary"], "not checked: input.keyboard is failed");
    // Every device with an event handler has its node (devtmpfs made them).
    let n = uinput_round()
        .inputs()
        .iter()
        .filter(|i| i["event"].is_string())
        .count();
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
    let sys = uinput_round().sys("/sys/bus/platform/devices/surface_gpe");
    assert_eq!(sys.real, "/sys/devices/platform/surface_gpe");
    assert_eq!(sys.driver, "", "surface_gpe is bound");

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
fn touch_fails_at_the_missing_driver_although_iptsd_like_devices_exist() {
    // Devices named like iptsd's exist (uinput made them). They count as downstream
    // proof for a missing upstream fact (no ME iTouch function listed: a notice), but
    // not against the kernel's own config and module tree, which show no IPTS driver.
    uinput_round().input_named("IPTSD Virtual Touchscreen 045E:0021");
    let r = report();
    let mei = common::check(r, "touch.mei");
    assert_eq!(mei["status"], "ok", "{mei}");
    assert!(mei["notices"].to_string().contains("8086:9d3e"), "{mei}");
    let drv = common::check(r, "touch.ipts-driver");
    assert_eq!(drv["status"], "failed", "{drv}");
    assert!(
        drv["summary"].as_str().unwrap().contains("stock kernel"),
        "{drv}"
    );
    assert!(
        drv["notices"].to_string().contains("IPTSD Virtual"),
        "{drv}"
    );
    assert_eq!(common::sub_status(r, "touch"), "failed");
}

#[test]
fn the_base_on_usb_is_read_from_the_real_usb_and_hid_buses() {
    let r = base_round();
    // Every USB device and interface, where sysfs has it and with its driver.
    let usb = r.bus("usb");
    let names: BTreeSet<&str> = usb.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, r.listed("/sys/bus/usb/devices"));
    for d in usb {
        let name = d["name"].as_str().unwrap();
        let sys = r.sys(&format!("/sys/bus/usb/devices/{name}"));
        assert_eq!(d["path"], sys.real.as_str(), "{name}");
        assert_eq!(d["driver"].as_str().unwrap_or(""), sys.driver, "{name}");
    }
    let kb = usb.iter().find(|d| d["name"] == "1-1").expect("1-1");
    assert_eq!(kb["attrs"]["idVendor"], "045e", "{kb}");
    assert_eq!(kb["attrs"]["idProduct"], "0922", "{kb}");
    assert_eq!(kb["attrs"]["product"], "Surface Keyboard", "{kb}");
    assert_eq!(kb["driver"], "usb");
    let ifaces: Vec<&Value> = usb
        .iter()
        .filter(|d| d["name"].as_str().unwrap().starts_with("1-1:"))
        .collect();
    assert_eq!(ifaces.len(), 2, "{ifaces:?}");
    assert!(ifaces.iter().all(|d| d["driver"] == "usbhid"), "{ifaces:?}");

    // Its two HID devices, named BUS:VENDOR:PRODUCT.N, with their hidraw nodes, beside
    // the IPTS device made through uhid (bus 0).
    let all_hid = r.bus("hid");
    let names: BTreeSet<&str> = all_hid
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, r.listed("/sys/bus/hid/devices"));
    assert_eq!(all_hid.len(), 3, "{all_hid:?}");
    let hid: Vec<&Value> = all_hid
        .iter()
        .filter(|d| d["name"].as_str().unwrap().starts_with("0003:"))
        .collect();
    assert_eq!(hid.len(), 2, "{hid:?}");
    for d in &hid {
        let name = d["name"].as_str().unwrap();
        assert_eq!(
            surface_check::facts::parse::hid_name(name),
            Some((0x0003, 0x045e, 0x0922)),
            "{name}"
        );
        let sys = r.sys(&format!("/sys/bus/hid/devices/{name}"));
        assert_eq!(d["path"], sys.real.as_str(), "{name}");
        assert_eq!(d["driver"], "hid-generic", "{name}");
        assert_eq!(d["driver"], sys.driver.as_str(), "{name}");
        assert_eq!(strs(&d["children"]), sys.hidraw, "{name}");
        assert_eq!(d["children"].as_array().unwrap().len(), 1, "{name}");
    }
    let drivers = |bus: &str| strs(ok(&r.facts["drivers"][bus], bus));
    assert!(drivers("usb").contains(&"usbhid"));
    assert!(drivers("hid").contains(&"hid-generic"));

    // Its input devices, under the HID devices, with the keys and pointer of a real
    // report descriptor.
    let usb_inputs: Vec<&Value> = r
        .inputs_named("Microsoft Surface Keyboard")
        .into_iter()
        .filter(|i| !i["parent"].is_null())
        .collect();
    assert_eq!(usb_inputs.len(), 2, "{usb_inputs:?}");
    for i in &usb_inputs {
        let id = ok(&i["id"], "id");
        assert_eq!((&id["bustype"], &id["vendor"]), (&3.into(), &0x045e.into()));
        assert_eq!(id["product"], 0x0922);
        let parent = i["parent"].as_str().unwrap();
        assert!(hid.iter().any(|d| d["path"] == parent), "{parent}");
        assert!(
            i["phys"]
                .as_str()
                .is_some_and(|p| p.starts_with("usb-dummy_hcd.0-1/input")),
            "{i}"
        );
    }
    let caps = |i: &Value, k: &str| u16s(ok(&i["capabilities"][k], k));
    let keyboard = usb_inputs
        .iter()
        .find(|i| caps(i, "key").contains(&KEY_Q))
        .expect("a USB input with KEY_Q");
    let pointer = usb_inputs
        .iter()
        .find(|i| caps(i, "ev").contains(&EV_REL))
        .expect("a USB input with EV_REL");
    for rel in [REL_X, REL_Y, REL_WHEEL] {
        assert!(caps(pointer, "rel").contains(&rel), "{pointer}");
    }
    assert!(caps(pointer, "key").contains(&BTN_LEFT), "{pointer}");
    // No uinput keyboard this round.
    assert!(
        r.inputs()
            .iter()
            .all(|i| !(i["parent"].is_null() && i["id"]["ok"]["product"] == 0x0922))
    );

    // The verdicts: the base is attached, its keyboard and touchpad work.
    let rep = &r.report;
    assert_eq!(rep["machine"]["base"], "attached");
    assert_eq!(
        rep["machine"]["base_evidence"],
        "/sys/bus/usb/devices: base USB hubs present"
    );
    let kb = common::check(rep, "input.keyboard");
    assert_eq!(kb["status"], "ok", "{kb}");
    assert_eq!(kb["summary"], "Microsoft Surface Keyboard on USB 1-1");
    assert_eq!(
        kb["evidence"][0],
        format!(
            "/sys/class/input/{} (Microsoft Surface Keyboard)",
            keyboard["sysname"].as_str().unwrap()
        )
    );
    let tp = common::check(rep, "input.touchpad");
    assert_eq!(tp["status"], "ok", "{tp}");
    assert_eq!(
        tp["evidence"][0],
        format!(
            "/sys/class/input/{} (Microsoft Surface Keyboard)",
            pointer["sysname"].as_str().unwrap()
        )
    );
    let n = r.inputs().iter().filter(|i| i["event"].is_string()).count();
    let nodes = common::check(rep, "input.nodes");
    assert_eq!(nodes["status"], "ok", "{nodes}");
    assert_eq!(nodes["summary"], format!("{n} event nodes present"));
    // Unchanged by the base: surface_gpe's probe still failed.
    assert_eq!(common::check_status(rep, "input.lid-wake"), "failed");
}

/// A stock kernel with the Surface Book 2's identity: every non-ok verdict rests on
/// evidence, and every hint fits this kernel's own config, modules and devices.
#[test]
fn every_hint_fits_the_real_kernel_s_config_modules_and_devices() {
    for r in rounds() {
        let bad: Vec<String> = hints::misfits(&r.facts, &r.report)
            .into_iter()
            .chain(hints::unfounded(&r.report))
            .collect();
        assert!(bad.is_empty(), "round{}:\n{}", r.suffix, bad.join("\n"));
        // The rule is exercised: this kernel has failed checks with hints.
        let hinted = r.report["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["checks"].as_array().unwrap())
            .filter(|c| c["status"] == "failed" && c["hint"].is_string())
            .count();
        assert!(hinted > 0, "round{}: no failed check with a hint", r.suffix);
    }
}

/// On the live root of a real kernel the boot's log is read from /dev/kmsg, without
/// consuming it (both rounds read it whole), and keeps the profile's lines.
#[test]
fn the_kernel_log_is_read_from_dev_kmsg_of_the_real_kernel() {
    for r in rounds() {
        let log = ok(&r.facts["kernel_log"], "kernel_log");
        assert_eq!(log["source"], "/dev/kmsg", "round{}", r.suffix);
        assert_eq!(log["from_boot"], true, "round{}: {log}", r.suffix);
        assert!(log["total"].as_u64().unwrap() > 100, "{log}");
        let lines: Vec<&str> = strs(&log["lines"]);
        assert!(
            lines.iter().any(|l| l.starts_with("Linux version ")),
            "{lines:?}"
        );
        // The guest's SMBIOS identity, as the kernel logged it.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("DMI: Microsoft Corporation Surface Book 2")),
            "{lines:?}"
        );
    }
}

/// The lines of a helper's section that start with `prefix `, parsed as JSON.
fn tagged(section_name: &str, prefix: &str) -> Vec<Value> {
    let tag = format!("{prefix} ");
    section(section_name)
        .lines()
        .filter_map(|l| l.strip_prefix(tag.as_str()))
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{section_name}: {l:?}: {e}")))
        .collect()
}

fn one_tagged(section_name: &str, prefix: &str) -> Value {
    let mut v = tagged(section_name, prefix);
    assert_eq!(v.len(), 1, "{section_name}: {prefix}: {v:?}");
    v.remove(0)
}

const SW_LID: u16 = 0x00;
const SW_TABLET_MODE: u16 = 0x01;
const KEY_VOLUMEUP: u16 = 115;

/// The IPTS HID device made through /dev/uhid: the kernel's hidraw node answers with
/// the ids and descriptor size vm-uhid gave it, in both rounds.
#[test]
fn the_uhid_ipts_device_answers_its_ids_through_hidraw() {
    let text = section("uhid");
    assert!(text.contains("VM-UHID ready"), "vm-uhid failed:\n{text}");
    let made = one_tagged("uhid", "VM-UHID");
    assert_eq!(made["name"], "IPTS 045E:0021");
    let size = made["descriptor_size"].as_u64().unwrap();
    assert!(size > 0);
    for r in rounds() {
        // The kernel's name for it: bus 0, as the IPTS driver registers it, bound by
        // hid-generic, with one hidraw node.
        let hid = r.bus("hid");
        let ipts: Vec<&Value> = hid
            .iter()
            .filter(|d| d["name"].as_str().unwrap().starts_with("0000:045E:0021."))
            .collect();
        assert_eq!(ipts.len(), 1, "round {:?}: {hid:?}", r.suffix);
        let d = ipts[0];
        let name = d["name"].as_str().unwrap();
        assert_eq!(d["driver"], "hid-generic", "{d}");
        let sys = r.sys(&format!("/sys/bus/hid/devices/{name}"));
        assert_eq!(strs(&d["children"]), sys.hidraw, "{name}");
        assert_eq!(sys.hidraw.len(), 1, "{name}");
        let node = &sys.hidraw[0];

        let raws = ok(&r.facts["hidraw"], "hidraw").as_array().unwrap();
        // Every hidraw node the kernel has, and no other.
        let listed: BTreeSet<&str> = raws
            .iter()
            .map(|h| h["sysname"].as_str().unwrap())
            .collect();
        let want: BTreeSet<&str> = r
            .nodes
            .keys()
            .filter_map(|p| p.strip_prefix("/dev/"))
            .filter(|n| n.starts_with("hidraw"))
            .collect();
        assert_eq!(listed, want, "round {:?}", r.suffix);
        let h = raws
            .iter()
            .find(|h| h["sysname"] == node.as_str())
            .unwrap_or_else(|| panic!("no {node} in {raws:?}"));
        assert_eq!(h["hid_device"], name, "{h}");
        r.assert_node(&h["node"], &format!("/dev/{node}"));
        let info = ok(&h["info"], node);
        assert_eq!(info["bustype"], made["bustype"], "{info}");
        assert_eq!(info["bustype"], 0, "{info}");
        assert_eq!(info["vendor"], 0x045e, "{info}");
        assert_eq!(info["product"], 0x0021, "{info}");
        assert_eq!(info["descriptor_size"], size, "{info}");
        // Every other hidraw node answers too, with the ids in its HID device's name.
        for h in raws {
            let info = ok(&h["info"], "hidraw info");
            let dev = h["hid_device"].as_str().unwrap();
            let (bus, vendor, product) = surface_check::facts::parse::hid_name(dev).unwrap();
            assert_eq!(
                (&info["bustype"], &info["vendor"], &info["product"]),
                (&bus.into(), &vendor.into(), &product.into()),
                "{h}"
            );
            assert!(info["descriptor_size"].as_u64().unwrap() > 0, "{h}");
        }
    }
}

/// What each event device answers to the EVIOCG* ioctls: exactly what vm-uinput made,
/// the same bits sysfs shows, and the switches in the state vm-uinput reported.
#[test]
fn evdev_answers_carry_the_uinput_bits_and_switch_states() {
    for (r, sect) in [(uinput_round(), "uinput"), (base_round(), "uinput-base")] {
        for s in uinput_specs(sect) {
            let name = s["name"].as_str().unwrap();
            let i = uinput_device(r, name);
            let e = ok(&i["evdev"], name);
            assert_eq!(e["name"], name);
            for k in ["bustype", "vendor", "product", "version"] {
                assert_eq!(e["id"][k], s[k], "{name} {k}");
            }
            let mut ev = u16s(&s["ev"]);
            ev.push(0);
            ev.sort_unstable();
            assert_eq!(u16s(&e["ev"]), ev, "{name} ev");
            assert_eq!(u16s(&e["keys"]), u16s(&s["key"]), "{name} keys");
            assert_eq!(u16s(&e["abs"]), u16s(&s["abs"]), "{name} abs");
            assert_eq!(u16s(&e["switches"]), u16s(&s["sw"]), "{name} switches");
            assert_eq!(u16s(&e["properties"]), u16s(&s["prop"]), "{name} props");
            assert_eq!(
                u16s(&e["switches_on"]),
                u16s(&s["switches_on"]),
                "{name} switches_on, round {:?}",
                r.suffix
            );
        }
        // Every event device's answers agree with its sysfs bitmaps.
        for i in r.inputs() {
            let sysname = i["sysname"].as_str().unwrap();
            let e = ok(&i["evdev"], sysname);
            assert_eq!(e["name"], i["name"]["ok"], "{sysname}");
            assert_eq!(e["id"], i["id"]["ok"], "{sysname}");
            let caps = |k: &str| u16s(ok(&i["capabilities"][k], k));
            assert_eq!(u16s(&e["ev"]), caps("ev"), "{sysname} ev");
            assert_eq!(u16s(&e["keys"]), caps("key"), "{sysname} keys");
            assert_eq!(u16s(&e["abs"]), caps("abs"), "{sysname} abs");
            assert_eq!(u16s(&e["switches"]), caps("sw"), "{sysname} sw");
            assert_eq!(
                u16s(&e["properties"]),
                u16s(ok(&i["properties"], sysname)),
                "{sysname} properties"
            );
            // A switch that is on is a switch the device has.
            for on in u16s(&e["switches_on"]) {
                assert!(caps("sw").contains(&on), "{sysname}: {e}");
            }
        }
    }
    // Independently of what vm-uinput says: the touchscreen is direct multi-touch, the
    // stylus a pen, the keyboard has keys; the lid is open; the DTX switch says tablet
    // mode without the base and laptop mode with it.
    let ui = uinput_round();
    let ev = |r: &Round, name: &str| ok(&uinput_device(r, name)["evdev"], name).clone();
    let ts = ev(ui, "IPTSD Virtual Touchscreen 045E:0021");
    assert!(u16s(&ts["abs"]).contains(&ABS_MT_POSITION_X), "{ts}");
    assert!(u16s(&ts["abs"]).contains(&ABS_MT_POSITION_Y), "{ts}");
    assert!(u16s(&ts["properties"]).contains(&INPUT_PROP_DIRECT), "{ts}");
    let pen = ev(ui, "IPTSD Virtual Stylus 045E:0021");
    assert!(u16s(&pen["keys"]).contains(&BTN_TOOL_PEN), "{pen}");
    let kb = ev(ui, "Microsoft Surface Keyboard");
    assert!(u16s(&kb["keys"]).contains(&KEY_Q), "{kb}");
    let buttons = ev(ui, "gpio-keys");
    assert!(u16s(&buttons["keys"]).contains(&KEY_VOLUMEUP), "{buttons}");
    for r in rounds() {
        let lid = ev(r, "Lid Switch");
        assert_eq!(u16s(&lid["switches"]), [SW_LID], "{lid}");
        assert_eq!(u16s(&lid["switches_on"]), Vec::<u16>::new(), "{lid}");
    }
    let dtx = "Microsoft Surface DTX Device Mode Switch";
    assert_eq!(u16s(&ev(ui, dtx)["switches_on"]), [SW_TABLET_MODE]);
    assert_eq!(u16s(&ev(base_round(), dtx)["switches"]), [SW_TABLET_MODE]);
    assert_eq!(
        u16s(&ev(base_round(), dtx)["switches_on"]),
        Vec::<u16>::new()
    );
}

const V4L2_CAP_VIDEO_CAPTURE: u64 = 0x1;
const V4L2_CAP_VIDEO_CAPTURE_MPLANE: u64 = 0x1000;
const V4L2_CAP_STREAMING: u64 = 0x0400_0000;
const V4L2_CAP_DEVICE_CAPS: u64 = 0x8000_0000;
const MEDIA_LNK_FL_INTERFACE_LINK: u64 = 1 << 28;
const MEDIA_INTF_T_V4L_VIDEO: u64 = 0x200;

/// vivid's video nodes and media device answer VIDIOC_QUERYCAP, MEDIA_IOC_DEVICE_INFO
/// and MEDIA_IOC_G_TOPOLOGY as the guest's own raw ioctls (examples/vm-media.rs) saw.
#[test]
fn vivid_answers_querycap_device_info_and_topology_as_the_kernel_does() {
    let b = boot();
    assert_eq!(b.value("vm-media rc"), Some("0"), "{}", section("media"));
    let querycaps = tagged("media", "VM-MEDIA querycap");
    let info = one_tagged("media", "VM-MEDIA info");
    let topo = one_tagged("media", "VM-MEDIA topology");
    for r in rounds() {
        let video = ok(&r.facts["video"], "video4linux").as_array().unwrap();
        let nodes: Vec<&Value> = video
            .iter()
            .filter(|v| {
                v["sysname"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("video")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .collect();
        assert_eq!(nodes.len(), querycaps.len(), "{querycaps:?}");
        for v in &nodes {
            let sysname = v["sysname"].as_str().unwrap();
            let raw = querycaps
                .iter()
                .find(|q| q["node"] == format!("/dev/{sysname}"))
                .unwrap_or_else(|| panic!("the guest queried no /dev/{sysname}"));
            let caps = ok(&v["caps"], sysname);
            assert_eq!(caps["driver"], "vivid", "{sysname}: {caps}");
            assert_eq!(caps["bus_info"], "platform:vivid-000", "{sysname}: {caps}");
            for k in [
                "driver",
                "card",
                "bus_info",
                "version",
                "capabilities",
                "device_caps",
            ] {
                assert_eq!(caps[k], raw[k], "{sysname} {k}");
            }
            // The kernel's own version (Debian's 6.1.0-N package is upstream 6.1.x).
            let kversion = ok(&r.facts["kernel"]["version"], "version")
                .as_str()
                .unwrap();
            let v = caps["version"].as_str().unwrap();
            assert!(
                kversion.contains(&format!(" Debian {v}-")),
                "{v}: {kversion}"
            );
            let all = caps["capabilities"].as_u64().unwrap();
            assert_ne!(all & V4L2_CAP_DEVICE_CAPS, 0, "{caps}");
            let dc = caps["device_caps"].as_u64().unwrap();
            assert_eq!(
                caps["capture"],
                dc & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0,
                "{caps}"
            );
            assert_eq!(caps["streaming"], dc & V4L2_CAP_STREAMING != 0, "{caps}");
        }
        // vivid's video capture node captures and streams; its output node does not
        // capture.
        let caps_of = |n: &str| {
            let v = nodes
                .iter()
                .find(|v| v["name"]["ok"] == n)
                .unwrap_or_else(|| panic!("no {n}"));
            ok(&v["caps"], n).clone()
        };
        let cap = caps_of("vivid-000-vid-cap");
        assert_eq!(
            (&cap["capture"], &cap["streaming"]),
            (&true.into(), &true.into())
        );
        let out = caps_of("vivid-000-vid-out");
        assert_eq!(out["capture"], false, "{out}");
        assert_eq!(out["streaming"], true, "{out}");

        let m = &ok(&r.facts["media"], "media").as_array().unwrap()[0];
        let mi = ok(&m["info"], "media0 info");
        assert_eq!(mi["driver"], "vivid", "{mi}");
        assert_eq!(mi["bus_info"], "platform:vivid-000", "{mi}");
        for k in [
            "driver",
            "model",
            "bus_info",
            "hw_revision",
            "driver_version",
            "media_version",
        ] {
            assert_eq!(mi[k], info[k], "media0 {k}");
        }
        let t = ok(&m["topology"], "media0 topology");
        for k in ["version", "entities", "interfaces", "pads", "links"] {
            assert_eq!(t[k], topo[k], "media0 topology {k}");
        }
        // The graph as vivid builds it: an entity per video node (named like it), each
        // with its interface (the node's device number, as `stat` saw it) linked to it;
        // pads; no data links.
        let entities = t["entities"].as_array().unwrap();
        let interfaces = t["interfaces"].as_array().unwrap();
        let links = t["links"].as_array().unwrap();
        let pads = t["pads"].as_array().unwrap();
        assert!(!pads.is_empty(), "{t}");
        for p in pads {
            assert!(
                entities.iter().any(|e| e["id"] == p["entity_id"]),
                "pad {p} of no entity"
            );
        }
        for l in links {
            assert_eq!(
                l["flags"].as_u64().unwrap() & (0xf << 28),
                MEDIA_LNK_FL_INTERFACE_LINK,
                "vivid has only interface links: {l}"
            );
        }
        for v in &nodes {
            let sysname = v["sysname"].as_str().unwrap();
            let (major, minor) = r.nodes[&format!("/dev/{sysname}")];
            let intf = interfaces
                .iter()
                .find(|i| i["major"] == major && i["minor"] == minor)
                .unwrap_or_else(|| panic!("no interface {major}:{minor} for {sysname}: {t}"));
            assert_eq!(intf["intf_type"], MEDIA_INTF_T_V4L_VIDEO, "{intf}");
            let link = links
                .iter()
                .find(|l| l["source_id"] == intf["id"])
                .unwrap_or_else(|| panic!("interface {intf} has no link"));
            let entity = entities
                .iter()
                .find(|e| e["id"] == link["sink_id"])
                .unwrap_or_else(|| panic!("link {link} to no entity"));
            assert_eq!(entity["name"], v["name"]["ok"], "{sysname}");
        }
    }

    // Changing a link: vivid has no data link to enable or disable, and an interface
    // link cannot be set up through MEDIA_IOC_SETUP_LINK; the kernel says EINVAL to
    // both, and the graph is unchanged.
    let answers = tagged("media", "VM-MEDIA setup_link");
    assert_eq!(answers.len(), 2, "{answers:?}");
    for a in &answers {
        assert_eq!(a["answer"], "EINVAL", "{a}");
    }
    let after = one_tagged("media", "VM-MEDIA topology-after");
    assert_eq!(after, topo);
    assert!(section("media").ends_with("VM-MEDIA done"));
}

/// udevd runs without rules, so it changes no mode: devtmpfs gives event, hidraw, video
/// and media nodes to root alone (0600), as a distribution's nodes are to a user outside
/// their groups.
#[test]
fn device_nodes_are_root_only_as_devtmpfs_makes_them() {
    for r in rounds() {
        let modes: BTreeMap<&str, (&str, &str, &str)> = section(&format!("modes{}", r.suffix))
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                assert_eq!(f.len(), 4, "{l}");
                (f[0], (f[1], f[2], f[3]))
            })
            .collect();
        for p in r.nodes.keys() {
            assert_eq!(modes.get(p.as_str()), Some(&("600", "0", "0")), "{p}");
        }
        assert!(
            modes.keys().any(|p| p.starts_with("/dev/hidraw")),
            "{modes:?}"
        );
        assert_eq!(modes["/dev/kmsg"], ("644", "0", "0"));
    }
}

/// The guest's own clock, for the time budget: boot, setup, each round and the tests.
#[test]
fn the_guest_stays_well_inside_its_time_limit() {
    let b = boot();
    let times: Vec<(&str, f64)> = b
        .console
        .lines()
        .filter_map(|l| l.strip_prefix("@@VM time "))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let names: Vec<&str> = times.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "start",
            "services",
            "setup",
            "snapshot",
            "capture",
            "status",
            "round",
            "tests",
            "daemon",
            "snapshot-base",
            "capture-base",
            "status-base",
            "round-base",
            "end"
        ]
    );
    eprintln!(
        "vm: prepared in {:.1?}, booted and ran in {:.1?}; guest clock: {times:?}",
        b.prepare_time, b.boot_time
    );
    assert!(
        b.boot_time < guest::BOOT_TIMEOUT / 2,
        "{:?} of {:?}: {times:?}",
        b.boot_time,
        guest::BOOT_TIMEOUT
    );
}

/// `status` as the unprivileged user 65534 (no groups): the same verdicts as root's in
/// the same round, and the device nodes root could ask named as needing privileges.
#[test]
fn an_unprivileged_user_gets_root_s_verdicts_and_is_told_what_needed_privileges() {
    for r in rounds() {
        let user = json(&format!("status-user{}.json", r.suffix));
        common::assert_schema(&user);
        let statuses = |rep: &Value| -> BTreeMap<String, String> {
            common::check_statuses(rep).into_iter().collect()
        };
        let root = statuses(&r.report);
        assert!(root.len() > 30, "{root:?}");
        assert_eq!(statuses(&user), root, "round {:?}", r.suffix);
        assert_eq!(user["machine"], r.report["machine"], "round {:?}", r.suffix);
        assert_eq!(user["overall"], r.report["overall"], "round {:?}", r.suffix);

        // Root was refused nothing.
        assert_eq!(r.report["needs_privileges"], serde_json::json!([]));
        // The user was refused every device root asked (devtmpfs's 0600 nodes).
        let denied: BTreeSet<&str> = strs(&user["needs_privileges"]).into_iter().collect();
        let mut asked = BTreeSet::new();
        for i in r.inputs() {
            ok(&i["evdev"], "evdev");
            asked.insert(format!("/dev/input/{}", i["event"].as_str().unwrap()));
        }
        for h in ok(&r.facts["hidraw"], "hidraw").as_array().unwrap() {
            ok(&h["info"], "hidraw info");
            asked.insert(format!("/dev/{}", h["sysname"].as_str().unwrap()));
        }
        for v in ok(&r.facts["video"], "video").as_array().unwrap() {
            if v["caps"]["ok"].is_object() {
                asked.insert(format!("/dev/{}", v["sysname"].as_str().unwrap()));
            }
        }
        assert!(asked.contains("/dev/video0"), "{asked:?}");
        for m in ok(&r.facts["media"], "media").as_array().unwrap() {
            ok(&m["info"], "media info");
            asked.insert(format!("/dev/{}", m["sysname"].as_str().unwrap()));
        }
        let asked: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
        let missing: Vec<&&str> = asked.difference(&denied).collect();
        assert!(
            missing.is_empty(),
            "round {:?}: not listed {missing:?}",
            r.suffix
        );
        // Anything else listed is the kernel log (dmesg_restrict) and nothing more.
        let extra: Vec<&&str> = denied.difference(&asked).collect();
        assert!(
            extra.iter().all(|p| **p == "/dev/kmsg"),
            "round {:?}: {extra:?}",
            r.suffix
        );
    }
}

/// One `surface-check test` run in the guest.
struct LiveTest {
    rc: i32,
    listening: bool,
    /// stdout (JSON) with `--json`.
    out: Option<Value>,
    /// stderr, or with a person's view stdout and stderr together.
    text: &'static str,
}

fn live_test(name: &str) -> LiveTest {
    let b = boot();
    let rc = b
        .value(&format!("test-{name} rc"))
        .unwrap_or_else(|| panic!("test-{name} did not run"))
        .parse()
        .unwrap();
    let listening = b.value(&format!("test-{name} listening")) == Some("1");
    match b.section(&format!("test-{name}.all")) {
        Some(text) => LiveTest {
            rc,
            listening,
            out: None,
            text,
        },
        None => LiveTest {
            rc,
            listening,
            out: Some(json(&format!("test-{name}.out"))),
            text: section(&format!("test-{name}.err")),
        },
    }
}

fn expectation<'a>(out: &'a Value, id: &str) -> &'a Value {
    out["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no expectation {id}: {out}"))
}

/// Every functional test listens on the device made for it, receives what vm-uinput
/// injected, says so and exits 0, well before its timeout.
#[test]
fn functional_tests_receive_the_injected_events() {
    let injected = section("uinput-injected");
    for cmd in ["touch", "pen", "key", "volume", "power", "lid"] {
        assert!(
            injected.contains(&format!("VM-UINPUT injected {cmd}\n")),
            "{injected}"
        );
    }
    assert!(!injected.contains("VM-UINPUT error"), "{injected}");
    // (test, the device it watches, events that must have come: (code, at least)).
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);
    let cases: [Case; 5] = [
        (
            "touch",
            "IPTSD Virtual Touchscreen 045E:0021",
            &[
                ("EV_KEY BTN_TOUCH", 2),
                ("EV_ABS ABS_MT_TRACKING_ID", 2),
                ("EV_ABS ABS_MT_POSITION_X", 4),
            ],
        ),
        (
            "pen",
            "IPTSD Virtual Stylus 045E:0021",
            // The pen leaving is optional: the test may end before it.
            &[("EV_KEY BTN_TOOL_PEN", 1), ("EV_KEY BTN_TOUCH", 1)],
        ),
        (
            "keyboard",
            "Microsoft Surface Keyboard",
            &[("EV_KEY KEY_A", 2)],
        ),
        (
            "buttons",
            "gpio-keys",
            // Run with --power: it listens until the power button's press came too.
            &[
                ("EV_KEY KEY_VOLUMEUP", 2),
                ("EV_KEY KEY_VOLUMEDOWN", 2),
                ("EV_KEY KEY_POWER", 1),
            ],
        ),
        ("lid", "Lid Switch", &[("EV_SW SW_LID", 2)]),
    ];
    for (name, device, counts) in cases {
        let t = live_test(name);
        let out = t.out.as_ref().unwrap();
        assert!(t.listening, "{name}: never listened:\n{}", t.text);
        assert_eq!(t.rc, 0, "{name}: {out}\n{}", t.text);
        assert_eq!(out["test"], name);
        assert_eq!(out["outcome"], "passed", "{out}");
        assert_eq!(out["exit_code"], 0, "{out}");
        assert_eq!(out["timeout_s"], 20, "{out}");
        // It stopped as soon as everything asked for arrived.
        assert!(out["elapsed_ms"].as_u64().unwrap() < 15_000, "{out}");
        for e in out["expectations"].as_array().unwrap() {
            if e["required"] == true {
                assert_eq!(e["arrived"], true, "{name}: {e}");
            }
        }
        // The device it chose is the uinput device, at the event node the capture saw.
        let devices = out["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 1, "{name}: {devices:?}");
        let d = &devices[0];
        let input = uinput_device(uinput_round(), device);
        assert_eq!(d["name"], device, "{name}");
        assert_eq!(d["sysname"], input["sysname"], "{name}");
        assert_eq!(
            d["node"],
            format!("/dev/input/{}", input["event"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(d["events"], out["events"]["total"], "{name}");
        assert_eq!(out["events"]["dropped"], 0, "{name}");
        // At least these events came (a test stops reading once it has what it asked
        // for, so the last events injected may not be read).
        for (code, n) in counts {
            let got = out["events"]["by_code"][code].as_u64().unwrap_or(0);
            assert!(got >= *n, "{name} {code}: {got} < {n}: {out}");
        }
        // Its stderr says where it listened, and what to do.
        assert!(
            t.text
                .contains(&format!("listening on {}", d["node"].as_str().unwrap())),
            "{}",
            t.text
        );
        assert!(
            t.text.contains(out["prompt"].as_str().unwrap()),
            "{}",
            t.text
        );
    }
    // What only these injections make: pressure from the pen, the lid closed and opened.
    let pen = live_test("pen").out.unwrap();
    assert_eq!(expectation(&pen, "pressure")["arrived"], true, "{pen}");
    let buttons = live_test("buttons").out.unwrap();
    let power = expectation(&buttons, "power");
    assert_eq!(
        (&power["required"], &power["arrived"]),
        (&true.into(), &true.into())
    );
    let lid = live_test("lid").out.unwrap();
    assert_eq!(expectation(&lid, "closed")["count"], 1, "{lid}");
    assert_eq!(expectation(&lid, "opened")["count"], 1, "{lid}");
}

/// Nothing injected: the test waits out its timeout, says what did not arrive and
/// exits 1.
#[test]
fn a_functional_test_without_events_reports_what_did_not_arrive() {
    let t = live_test("touch-idle");
    let out = t.out.as_ref().unwrap();
    assert!(t.listening, "{}", t.text);
    assert_eq!(t.rc, 1, "{out}");
    assert_eq!(out["outcome"], "not_arrived", "{out}");
    assert_eq!(out["exit_code"], 1, "{out}");
    assert!(out["elapsed_ms"].as_u64().unwrap() >= 3000, "{out}");
    assert_eq!(out["events"]["total"], 0, "{out}");
    for id in ["touch_down_up", "movement"] {
        assert_eq!(expectation(out, id)["arrived"], false, "{out}");
    }
    // A person is told the same in words.
    let t = live_test("lid-idle-human");
    assert!(t.listening, "{}", t.text);
    assert_eq!(t.rc, 1, "{}", t.text);
    assert!(t.text.contains("did not arrive"), "{}", t.text);
}

/// `test camera` in a guest without libcamera says so, and lists the video nodes the
/// kernel has with what they answered; `test detach` without a DTX device says so.
#[test]
fn camera_and_detach_tests_say_what_is_missing() {
    let t = live_test("camera");
    let out = t.out.as_ref().unwrap();
    assert_eq!(t.rc, 2, "{out}");
    assert_eq!(out["outcome"], "error", "{out}");
    let msg = out["message"].as_str().unwrap();
    assert!(
        msg.contains("libcamera") && msg.contains("is not installed"),
        "{msg}"
    );
    assert!(t.text.contains(msg), "{}", t.text);
    let cam = &out["camera"];
    assert_eq!(cam["libcamera"]["installed"], false, "{cam}");
    let listed: Vec<(&str, &str)> = cam["video_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["node"].as_str().unwrap(), v["name"].as_str().unwrap()))
        .collect();
    let video = ok(&facts()["video"], "video").as_array().unwrap();
    let want: Vec<(String, &str)> = video
        .iter()
        .filter(|v| v["caps"]["ok"].is_object())
        .map(|v| {
            (
                format!("/dev/{}", v["sysname"].as_str().unwrap()),
                v["name"]["ok"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        want.iter()
            .map(|(n, m)| (n.as_str(), *m))
            .collect::<Vec<_>>()
    );
    for v in cam["video_nodes"].as_array().unwrap() {
        assert_eq!(v["driver"], "vivid", "{v}");
    }

    let t = live_test("detach");
    let out = t.out.as_ref().unwrap();
    assert_eq!(t.rc, 2, "{out}");
    assert_eq!(out["outcome"], "error", "{out}");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .starts_with("no DTX device: /dev/surface/dtx does not exist"),
        "{out}"
    );
}

/// A person's view of every input test: where it listens, what to do, what arrived,
/// and the outcome. Kept in target/vm/transcript-<test>.txt for the docs.
#[test]
fn functional_tests_read_well_to_a_person() {
    let b = boot();
    for name in ["touch", "pen", "keyboard", "buttons", "lid"] {
        let t = live_test(&format!("{name}-human"));
        assert!(t.out.is_none());
        assert!(t.listening, "{name}:\n{}", t.text);
        assert_eq!(t.rc, 0, "{name}:\n{}", t.text);
        assert!(
            t.text.contains("listening on /dev/input/event"),
            "{}",
            t.text
        );
        assert!(t.text.contains("What arrived:"), "{}", t.text);
        assert!(
            t.text
                .trim_end()
                .ends_with(&format!("{name}: passed: everything asked for arrived.")),
            "{}",
            t.text
        );
        // No terminal: no escape sequences and no carriage returns.
        assert!(
            !t.text.contains('\x1b') && !t.text.contains('\r'),
            "{:?}",
            t.text
        );
        let file = b.vm_dir.join(format!("transcript-{name}.txt"));
        std::fs::write(&file, format!("{}\n", t.text.trim_end()))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    let t = live_test("lid-idle-human");
    let file = b.vm_dir.join("transcript-lid-idle.txt");
    std::fs::write(&file, format!("{}\n", t.text.trim_end()))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// The guest's system bus: dbus-daemon with the system configuration and the project's
/// policy from `system.d/`, as installed: root may own io.github.SurfaceCheck1, the
/// user 65534 may not.
#[test]
fn the_guest_s_system_bus_runs_with_the_project_s_policy() {
    let b = boot();
    let log = section("dbus-daemon");
    assert!(
        !log.contains("Unknown") && !log.contains("rror") && !log.contains("ailed"),
        "{log}"
    );
    assert_eq!(b.value("bus rc"), Some("0"), "{}", section("bus"));
    let id = section("bus")
        .lines()
        .find_map(|l| l.trim().strip_prefix("string \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no bus id:\n{}", section("bus")));
    assert!(
        id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    // RequestName with DO_NOT_QUEUE: 1, the primary owner (the name is free again
    // when dbus-send exits).
    assert_eq!(
        b.value("bus-own-root rc"),
        Some("0"),
        "{}",
        section("bus-own-root")
    );
    assert_eq!(
        section("bus-own-root").lines().last().map(str::trim),
        Some("uint32 1"),
        "{}",
        section("bus-own-root")
    );
    assert_eq!(b.value("bus-own-user rc"), Some("1"));
    let denied = section("bus-own-user");
    assert!(
        denied.starts_with("Error org.freedesktop.DBus.Error.AccessDenied: ")
            && denied.contains("not allowed to own the service \"io.github.SurfaceCheck1\""),
        "{denied}"
    );
}

/// udevd runs in the guest as a distribution starts it (without rules), and sends each
/// uevent on to libudev's monitors once it handled it (the `udev` netlink group): every
/// uinput device and its event node arrived as an `add`.
#[test]
fn udevd_passes_real_uevents_on_to_monitors() {
    let b = boot();
    assert_eq!(b.value("udevd rc"), Some("0"), "{}", section("udevd"));
    assert!(
        section("udevd").starts_with("Starting systemd-udevd version "),
        "{}",
        section("udevd")
    );
    for s in ["settle-boot", "settle", "settle-base"] {
        assert_eq!(b.value(&format!("{s} rc")), Some("0"), "{s}");
    }
    let text = section("udev-monitor");
    assert!(
        text.contains("UDEV - the event which udev sends out after rule processing"),
        "{text}"
    );
    // (action, devpath, subsystem) of each event.
    let events: BTreeSet<(&str, &str, &str)> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<&str>>())
        .filter(|f| f.len() > 1 && f[0] == "UDEV" && f[1].starts_with('['))
        .map(|f| {
            assert_eq!(f.len(), 5, "{f:?}");
            (f[2], f[3], f[4])
        })
        .collect();
    let uinput: Vec<&Value> = uinput_round()
        .inputs()
        .iter()
        .filter(|i| i["parent"].is_null())
        .collect();
    assert_eq!(uinput.len(), uinput_specs("uinput").len(), "{uinput:?}");
    for i in uinput {
        let sysname = i["sysname"].as_str().unwrap();
        let event = i["event"].as_str().unwrap();
        let dir = format!("/devices/virtual/input/{sysname}");
        assert_eq!(
            uinput_round()
                .sys(&format!("/sys/class/input/{sysname}"))
                .real,
            format!("/sys{dir}")
        );
        for path in [dir.clone(), format!("{dir}/{event}")] {
            assert!(
                events.contains(&("add", path.as_str(), "(input)")),
                "no udev event for {path}:\n{text}"
            );
        }
    }
}

/// A log the guest stamped line by line: (the guest's clock when the line arrived, the
/// line).
fn stamped(section_name: &str) -> Vec<(f64, &'static str)> {
    section(section_name)
        .lines()
        .map(|l| {
            let (t, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("{section_name}: {l:?}"));
            let t = t
                .parse()
                .unwrap_or_else(|_| panic!("{section_name}: no stamp: {l:?}"));
            (t, rest)
        })
        .collect()
}

/// The guest's clock at a step of the daemon test (`plug`, `unplug`, `stop`).
fn daemon_event(step: &str) -> f64 {
    boot()
        .value(&format!("daemon-event {step}"))
        .unwrap_or_else(|| panic!("the daemon step {step} did not run"))
        .parse()
        .unwrap()
}

/// Each subsystem's status in a report.
fn subsystem_statuses(report: &Value) -> BTreeMap<String, String> {
    report["subsystems"]
        .as_array()
        .unwrap_or_else(|| panic!("no subsystems: {report}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The watch lines (JSON) in a stretch of the guest's clock, with their stamps.
fn watch_lines(from: f64, to: f64) -> Vec<(f64, Value)> {
    stamped("watch.log")
        .into_iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(t, l)| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("watch: {e}: {l:?}"));
            (t, v)
        })
        .collect()
}

/// surface-checkd in the guest: on the system bus of a real dbus-daemon with the
/// project's policy, on the live root of a real kernel. `status` without `--local`
/// gets its report, as root and as the unprivileged user 65534, with `status
/// --local`'s verdicts; `watch` starts from the same states; SIGTERM ends it with 0.
#[test]
fn surface_checkd_serves_the_guest_s_report_on_the_system_bus() {
    let b = boot();
    let log = stamped("daemon.log");
    let text: Vec<&str> = log.iter().map(|(_, l)| *l).collect();
    let all = text.join("\n");
    assert_eq!(b.value("daemon rc"), Some("0"), "{all}");
    let serving = format!(
        "surface-checkd {} serving io.github.SurfaceCheck1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        text.iter()
            .any(|l| l.contains(&serving) && l.contains("bus=\"system bus\"")),
        "{all}"
    );
    assert!(
        text.iter().any(|l| l.contains("listening to uevents: ")),
        "{all}"
    );
    assert!(text.last().unwrap().ends_with("SIGTERM: stopping"), "{all}");
    for l in &text {
        assert!(
            !l.starts_with(" WARN") && !l.starts_with("ERROR"),
            "{l}\n{all}"
        );
    }
    assert!(
        text.iter()
            .find(|l| l.contains(" probe seq="))
            .is_some_and(|l| l.ends_with("probe seq=1 cause=start")),
        "{all}"
    );
    assert!(
        section("daemon.out").is_empty(),
        "{}",
        section("daemon.out")
    );

    let local = json("daemon-before.json");
    assert_eq!(b.value("daemon-before rc"), Some("1"));
    common::assert_schema(&local);
    let checks =
        |r: &Value| -> BTreeMap<String, String> { common::check_statuses(r).into_iter().collect() };
    for who in ["daemon-status", "daemon-status-user"] {
        let err = section(&format!("{who}.err"));
        assert_eq!(b.value(&format!("{who} rc")), Some("1"), "{err}");
        assert_eq!(
            err.trim_end(),
            format!(
                "surface-check: report from surface-checkd {} on the system bus",
                env!("CARGO_PKG_VERSION")
            ),
            "{who}"
        );
        let r = json(&format!("{who}.json"));
        common::assert_schema(&r);
        assert_eq!(checks(&r), checks(&local), "{who}");
        assert_eq!(r["machine"], local["machine"], "{who}");
        assert_eq!(r["overall"], local["overall"], "{who}");
        // The daemon reads as root: nothing was refused, for the user either.
        assert_eq!(r["needs_privileges"], serde_json::json!([]), "{who}");
    }
    // One report, the same document for both.
    assert_eq!(json("daemon-status.json"), json("daemon-status-user.json"));

    // watch: connected, with the states in place, then the daemon's going.
    let lines = watch_lines(0.0, f64::MAX);
    let (_, first) = &lines[0];
    assert_eq!(first["event"], "connected", "{first}");
    assert_eq!(first["bus"], "system bus", "{first}");
    assert_eq!(first["overall"], local["overall"], "{first}");
    let connected: BTreeMap<String, String> = first["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(connected, subsystem_statuses(&local));
    let (_, last) = lines.last().unwrap();
    assert_eq!(
        last,
        &serde_json::json!({"event": "daemon", "running": false})
    );
    assert!(section("watch.err").is_empty(), "{}", section("watch.err"));
}

/// The real-kernel layer's test of the daemon's events: a USB device with the ids of
/// the Marvell Bluetooth function plugged into dummy_hcd and unplugged. udevd sends the
/// uevents on, surface-checkd probes for them (its log names the cause: `udev:usb`,
/// never `refresh`), and `watch` receives exactly one SubsystemChanged per subsystem
/// whose status differs between `status --local` before and after: wireless, absent
/// to failed (no driver bound: btusb is not loaded) and back.
#[test]
fn a_real_hotplug_reaches_surface_checkd_and_the_right_signal_follows_without_refresh() {
    let b = boot();
    let log = stamped("daemon.log");
    let all: String = log.iter().map(|(t, l)| format!("{t} {l}\n")).collect();
    assert!(!all.contains("cause=refresh"), "{all}");
    assert_eq!(b.value("bluetooth-plug rc"), Some("0"));
    assert_eq!(b.value("bluetooth-unplug rc"), Some("0"));
    let steps = [
        (
            "plug",
            "daemon-before",
            "daemon-plug",
            "unplug",
            ("absent", "failed"),
        ),
        (
            "unplug",
            "daemon-plug",
            "daemon-unplug",
            "stop",
            ("failed", "absent"),
        ),
    ];
    // Nothing changed before the first step.
    let quiet: Vec<_> = watch_lines(0.0, daemon_event("plug"))
        .into_iter()
        .filter(|(_, v)| v["event"] != "connected")
        .collect();
    assert!(quiet.is_empty(), "{quiet:?}");
    for (step, before, after, next, wireless) in steps {
        for q in ["before", "after"] {
            assert_eq!(
                b.value(&format!("daemon-quiet-{q}-{step} rc")),
                Some("0"),
                "surface-checkd did not settle {q} {step}:\n{all}"
            );
        }
        assert_eq!(b.value(&format!("{after} rc")), Some("1"));
        let (t0, t1) = (daemon_event(step), daemon_event(next));
        let before = json(&format!("{before}.json"));
        let after = json(&format!("{after}.json"));
        let (old, new) = (subsystem_statuses(&before), subsystem_statuses(&after));
        assert_eq!(
            old.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>()
        );
        let want: BTreeSet<(String, String, String)> = old
            .iter()
            .filter(|(id, s)| new[*id] != **s)
            .map(|(id, s)| (id.clone(), s.clone(), new[id].clone()))
            .collect();
        assert!(
            want.contains(&(
                "wireless".to_string(),
                wireless.0.to_string(),
                wireless.1.to_string()
            )),
            "{step}: {want:?}"
        );
        let lines = watch_lines(t0, t1);
        let signals: Vec<(f64, &Value)> = lines
            .iter()
            .filter(|(_, v)| v["event"] == "SubsystemChanged")
            .map(|(t, v)| (*t, v))
            .collect();
        let got: Vec<(String, String, String)> = signals
            .iter()
            .map(|(_, v)| {
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["old_status"].as_str().unwrap().to_string(),
                    v["new_status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got.iter().cloned().collect::<BTreeSet<_>>(),
            want,
            "{step}: {signals:?}"
        );
        assert_eq!(
            got.len(),
            want.len(),
            "{step}: each change once: {signals:?}"
        );
        for (_, v) in &signals {
            let sub = after["subsystems"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == v["id"])
                .unwrap();
            assert_eq!(v["summary"], sub["summary"], "{step}");
        }
        // The Subsystems property changed with it.
        assert!(
            lines.iter().any(|(_, v)| v["event"] == "PropertiesChanged"
                && v["changed"].get("Subsystems").is_some()),
            "{step}: {lines:?}"
        );

        // The daemon's side: the uevents arrived, and each probe of the step was for
        // them (or the one more a change is followed by).
        let window: Vec<&(f64, &str)> = log.iter().filter(|(t, _)| *t >= t0 && *t < t1).collect();
        assert!(
            window
                .iter()
                .any(|(_, l)| l.contains("uevent") && l.contains("subsystem=usb")),
            "{step}:\n{all}"
        );
        let causes: Vec<&str> = window
            .iter()
            .filter_map(|(_, l)| l.split_once(" probe seq=")?.1.split_once(" cause="))
            .map(|(_, c)| c)
            .collect();
        assert!(
            causes.first().is_some_and(|c| c.starts_with("udev:")),
            "{step}: {causes:?}\n{all}"
        );
        assert!(
            causes
                .iter()
                .all(|c| c.starts_with("udev:") || *c == "settle"),
            "{step}: {causes:?}"
        );
        // The probe that found the change was a uevent's.
        let changed = window
            .iter()
            .position(|(_, l)| l.contains(&format!("wireless: {} -> {}: ", wireless.0, wireless.1)))
            .unwrap_or_else(|| panic!("{step}: the daemon logged no change:\n{all}"));
        let cause = window[..changed]
            .iter()
            .rev()
            .find_map(|(_, l)| l.split_once(" probe seq=")?.1.split_once(" cause="))
            .map(|(_, c)| c);
        assert!(
            cause.is_some_and(|c| c.starts_with("udev:")),
            "{step}: {cause:?}"
        );

        let at = |what: &str| {
            window
                .iter()
                .find(|(_, l)| l.contains(what))
                .map(|(t, _)| *t - t0)
                .unwrap()
        };
        let (signal, _) = signals[0];
        eprintln!(
            "vm: {step} (guest clock, TCG, from the write to the gadget's UDC): first uevent \
             at surface-checkd {:.2} s, probe {:.2} s, its report {:.2} s, SubsystemChanged \
             at watch {:.2} s",
            at("uevent"),
            at(" probe seq="),
            at(" report in place "),
            signal - t0
        );
        assert!(signal - t0 < 15.0, "{step}: {:.2} s", signal - t0);
    }
}
