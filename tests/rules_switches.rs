//! What the devices themselves answer, in the verdicts: the lid and tablet-mode switch
//! states (evdev `EVIOCGSW`), the capabilities event devices report (`EVIOCGBIT`), and
//! the DTX device's base info, device mode and latch status (§1.3). And the rule of
//! issue 7 item 6: a device that does not answer (permission denied, as an
//! unprivileged user) never changes a verdict that files decide, and the report says
//! which devices needed privileges.
//!
//! Device answers exist only on the live root, so each case captures a fixture tree
//! (`capture --root`), marks the facts live, puts the answers a real kernel would give
//! into them, and diagnoses the file (`status --from`).

mod common;

use std::path::PathBuf;

use serde_json::{Value, json};

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;

const EV_SYN: u16 = 0;
const EV_SW: u16 = 5;
const SW_LID: u16 = 0;
const SW_TABLET_MODE: u16 = 1;
/// `SDTX_BASE_TYPE_SSH(0x07)`, as the emulated device and a real SB2 report it.
const BASE_ID: u16 = 0x0207;

const DENIED: &str = "permission denied";

/// A report of `status --from` on facts, with the exit code and the human output.
struct Diag {
    code: i32,
    report: Value,
}

impl Diag {
    fn check(&self, id: &str) -> &Value {
        common::check(&self.report, id)
    }
    fn status(&self, id: &str) -> String {
        common::check_status(&self.report, id)
    }
    /// Summary, evidence and notices of check `id`, lower-cased.
    fn text(&self, id: &str) -> String {
        let c = self.check(id);
        format!("{} {} {}", c["summary"], c["evidence"], c["notices"]).to_lowercase()
    }
    fn dump(&self) -> String {
        let mut out = common::overview(&self.report);
        for sub in self.report["subsystems"].as_array().unwrap() {
            for c in sub["checks"].as_array().unwrap() {
                out.push_str(&format!(
                    "\n  {} {}: {} [evidence: {}] [notices: {}]",
                    c["id"], c["status"], c["summary"], c["evidence"], c["notices"]
                ));
            }
        }
        out
    }
    /// Every check's id and status, in report order.
    fn statuses(&self) -> Vec<(String, String)> {
        common::check_statuses(&self.report)
    }
}

/// The facts of tree `t` as the live system would give them: `capture --root`, then
/// `source.live` set (its /dev holds real character devices, made by mknod).
fn live_facts(t: &Tree) -> Value {
    let mut f = common::verdict::facts(t);
    f["source"]["live"] = json!(true);
    f
}

/// Writes `facts` next to the tree and diagnoses them: `status --from FILE` with
/// `extra` arguments.
fn diagnose_with(t: &Tree, facts: &Value, extra: &[&str]) -> (i32, String) {
    let file: PathBuf = t.path().join("facts.json");
    std::fs::write(&file, serde_json::to_vec(facts).unwrap()).unwrap();
    let mut args = vec!["status", "--from", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, out, err) = common::run(&args);
    assert!(code == 0 || code == 1, "status --from failed: {err}");
    (code, out)
}

fn diagnose(t: &Tree, facts: &Value) -> Diag {
    let (code, out) = diagnose_with(t, facts, &["--json"]);
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    common::assert_schema(&report);
    Diag { code, report }
}

fn ok_list(v: &Value) -> Vec<u16> {
    v["ok"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_u64().unwrap() as u16).collect())
        .unwrap_or_default()
}

/// The input devices of the facts.
fn inputs(f: &mut Value) -> &mut Vec<Value> {
    f["inputs"]["ok"].as_array_mut().expect("inputs listed")
}

/// What a real kernel's event device answers: the same bitmaps as sysfs (both come
/// from the input device's own), the same name and ids, and the switches in
/// `switches_on` on. Every input with an event node gets its answer.
fn answer_everything(f: &mut Value, switches_on: &[(&str, &[u16])]) {
    for i in inputs(f) {
        if i["event"].is_null() {
            continue;
        }
        let name = i["name"]["ok"].as_str().unwrap().to_string();
        let caps = |k: &str| ok_list(&i["capabilities"][k]);
        let on = switches_on
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.to_vec())
            .unwrap_or_default();
        i["evdev"] = json!({ "ok": {
            "name": name,
            "id": i["id"]["ok"].clone(),
            "properties": ok_list(&i["properties"]),
            "ev": caps("ev"),
            "keys": caps("key"),
            "abs": caps("abs"),
            "switches": caps("sw"),
            "switches_on": on,
        }});
    }
}

/// The evdev answer of the input named `name`.
fn evdev_of<'f>(f: &'f mut Value, name: &str) -> &'f mut Value {
    inputs(f)
        .iter_mut()
        .find(|i| i["name"]["ok"] == name)
        .unwrap_or_else(|| panic!("no input {name}"))
        .get_mut("evdev")
        .unwrap()
}

/// The DTX device's answer: base state, device mode and latch status words.
fn dtx_answers(f: &mut Value, base_state: u16, device_mode: u16, latch_status: u16) {
    f["dtx"]["state"] = json!({ "ok": {
        "base_state": base_state,
        "base_id": BASE_ID,
        "device_mode": device_mode,
        "latch_status": latch_status,
    }});
}

/// Every device answer refused, as for a user without privileges: the event devices,
/// hidraw, video and media nodes, the DTX device, and /dev/kmsg (with no journal to
/// stand in).
fn deny_everything(f: &mut Value) {
    fn deny(v: &mut Value, path: &str) {
        *v = json!({ "unknown": { "path": path, "reason": DENIED } });
    }
    for i in inputs(f) {
        if let Some(e) = i["event"].as_str().map(str::to_string) {
            deny(&mut i["evdev"], &format!("dev/input/{e}"));
        }
    }
    for (list, fields) in [
        ("hidraw", &["info"][..]),
        ("video", &["caps"][..]),
        ("media", &["info", "topology"][..]),
    ] {
        // `get_mut`: indexing would add an "ok" key to an absent list.
        if let Some(a) = f[list].get_mut("ok").and_then(Value::as_array_mut) {
            for x in a {
                let path = format!("dev/{}", x["sysname"].as_str().unwrap());
                for field in fields {
                    deny(&mut x[*field], &path);
                }
            }
        }
    }
    deny(&mut f["dtx"]["state"], "dev/surface/dtx");
    f["kernel_log"] = json!({ "unknown": {
        "path": "kernel log",
        "reason": "/dev/kmsg: permission denied; journal: `journalctl -k -b` shows no kernel messages of this boot",
    }});
}

/// A 15" with its base attached whose keyboard is gone from USB altogether (the USB
/// device, its interface, HID device and both input devices), as it is when the
/// clipboard sits reversed on the base, or when the keyboard is lost.
fn no_keyboard() -> Tree {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    t.remove_input(10);
    t.remove_input(11);
    t.remove_device("hid", "0003:045E:0922.0002");
    t.remove_device("usb", "1-1.3:1.0");
    t.remove_device("usb", "1-1.3");
    t
}

// ---- tablet mode is not a missing keyboard ----------------------------------------

#[test]
fn studio_mode_with_no_keyboard_is_not_failed_but_noticed() {
    let t = no_keyboard();
    let mut f = live_facts(&t);
    answer_everything(
        &mut f,
        &[(
            "Microsoft Surface DTX Device Mode Switch",
            &[SW_TABLET_MODE],
        )],
    );
    // Attached in reverse: keyboard and touchpad off, base battery and hubs there.
    dtx_answers(&mut f, 0x0001, 2, 0x0000);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "absent", "{}", d.dump());
    assert_eq!(d.status("input.touchpad"), "absent", "{}", d.dump());
    let kb = d.text("input.keyboard");
    assert!(
        kb.contains("studio mode") && kb.contains("reversed"),
        "{kb}"
    );
    let notices = d.check("input.keyboard")["notices"].to_string();
    assert!(
        notices.contains("not on the USB bus") && notices.contains("tablet mode"),
        "{notices}"
    );
    let input = common::subsystem(&d.report, "input");
    assert_eq!(input["status"], "ok", "{}", d.dump());
    assert!(
        input["notices"].to_string().contains("input.keyboard:"),
        "{input}"
    );
    assert_eq!(d.code, 0, "{}", d.dump());
    assert_eq!(d.report["machine"]["base"], "attached");
}

#[test]
fn the_dtx_switch_alone_says_tablet_mode_when_the_dtx_device_cannot_be_read() {
    let t = no_keyboard();
    let mut f = live_facts(&t);
    answer_everything(
        &mut f,
        &[(
            "Microsoft Surface DTX Device Mode Switch",
            &[SW_TABLET_MODE],
        )],
    );
    f["dtx"]["state"] = json!({ "unknown": { "path": "dev/surface/dtx", "reason": DENIED } });
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "absent", "{}", d.dump());
    let kb = d.text("input.keyboard");
    assert!(
        kb.contains("/dev/input/event5") && kb.contains("sw_tablet_mode on"),
        "{kb}"
    );
    assert_eq!(d.code, 0, "{}", d.dump());
}

#[test]
fn laptop_mode_with_no_keyboard_keeps_its_failure() {
    let t = no_keyboard();
    // Without any device answer (the captured tree's verdict) and in laptop mode with
    // the switch off: the same failure, the mode in its evidence.
    let plain = diagnose(&t, &live_facts(&t));
    assert_eq!(plain.status("input.keyboard"), "failed", "{}", plain.dump());

    let mut f = live_facts(&t);
    answer_everything(&mut f, &[]);
    dtx_answers(&mut f, 0x0001, 1, 0x0000);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "failed", "{}", d.dump());
    assert_eq!(
        d.check("input.keyboard")["summary"],
        plain.check("input.keyboard")["summary"]
    );
    assert!(
        d.text("input.keyboard").contains("laptop mode"),
        "{}",
        d.dump()
    );
    assert_eq!(d.code, 1);

    // The switch off with the DTX device unreadable: laptop mode too.
    let mut f = live_facts(&t);
    answer_everything(&mut f, &[]);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "failed", "{}", d.dump());
    assert!(
        d.text("input.keyboard").contains("sw_tablet_mode off"),
        "{}",
        d.dump()
    );
}

// ---- switch states and capabilities as the devices answer them --------------------

#[test]
fn the_lid_state_is_in_the_evidence() {
    let t = Sb2::new(Size::In13, Distro::NixOs).build();
    for (on, words) in [
        (&[SW_LID][..], "the lid is closed"),
        (&[][..], "the lid is open"),
    ] {
        let mut f = live_facts(&t);
        answer_everything(&mut f, &[("Lid Switch", on)]);
        let d = diagnose(&t, &f);
        assert_eq!(d.status("input.lid"), "ok", "{}", d.dump());
        let lid = d.text("input.lid");
        assert!(
            lid.contains("/dev/input/event0 (lid switch): sw_lid"),
            "{lid}"
        );
        assert!(lid.contains(words), "{lid}");
        assert!(
            lid.contains("reports sw_lid (eviocgbit), as sysfs says"),
            "{lid}"
        );
        // The keyboard's keys and the tablet switch's state are confirmed the same way.
        assert!(
            d.text("input.keyboard")
                .contains("/dev/input/event10 reports key_q"),
            "{}",
            d.dump()
        );
        assert!(
            d.text("input.tablet-mode")
                .contains("sw_tablet_mode off (laptop mode)"),
            "{}",
            d.dump()
        );
        assert_eq!(d.code, 0, "{}", d.dump());
    }
}

#[test]
fn where_evdev_contradicts_sysfs_the_device_s_answer_counts_and_is_named() {
    // sysfs lost the lid's SW_LID bit; the device reports it: ok, and said so.
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let lid_sw = "sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0D:00/input/input0/capabilities/sw";
    t.attr(lid_sw, "0");
    let captured = diagnose(&t, &live_facts(&t));
    assert_eq!(
        captured.status("input.lid"),
        "failed",
        "{}",
        captured.dump()
    );
    let mut f = live_facts(&t);
    answer_everything(&mut f, &[]);
    let e = evdev_of(&mut f, "Lid Switch");
    e["ok"]["ev"] = json!([EV_SYN, EV_SW]);
    e["ok"]["switches"] = json!([SW_LID]);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.lid"), "ok", "{}", d.dump());
    assert!(
        d.text("input.lid")
            .contains("does not list it: the device's own answer is taken"),
        "{}",
        d.dump()
    );

    // sysfs lists the keyboard's keys; the device says it has none: failed, and the
    // evidence says whose answer decided.
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let mut f = live_facts(&t);
    answer_everything(&mut f, &[]);
    evdev_of(&mut f, "Microsoft Surface Keyboard")["ok"]["keys"] = json!([]);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "failed", "{}", d.dump());
    let kb = d.text("input.keyboard");
    assert!(
        kb.contains("/dev/input/event10 does not report key_q")
            && kb.contains("while /sys/class/input/input10/capabilities/key lists it"),
        "{kb}"
    );

    // A node answering with another device's name is not this device's: its answer
    // is not used (sysfs decides) and input.nodes says so.
    let mut f = live_facts(&t);
    answer_everything(&mut f, &[]);
    let e = evdev_of(&mut f, "Microsoft Surface Keyboard");
    e["ok"]["name"] = json!("Some Other Device");
    e["ok"]["keys"] = json!([]);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("input.keyboard"), "ok", "{}", d.dump());
    assert!(
        d.check("input.nodes")["notices"]
            .to_string()
            .contains("/dev/input/event10 answers as \\\"Some Other Device\\\""),
        "{}",
        d.dump()
    );
}

// ---- the DTX device's answers -------------------------------------------------------

#[test]
fn the_detach_subsystem_reports_base_mode_and_latch_in_human_names() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let mut f = live_facts(&t);
    dtx_answers(&mut f, 0x0001, 1, 0x0000);
    let d = diagnose(&t, &f);
    assert_eq!(d.status("detach.dtx-node"), "ok", "{}", d.dump());
    let node = d.text("detach.dtx-node");
    for w in [
        "/dev/surface/dtx: base attached (ssh, id 0x07)",
        "/dev/surface/dtx: laptop mode",
        "/dev/surface/dtx: latch closed (status 0x0000)",
    ] {
        assert!(node.contains(w), "{w}: {node}");
    }
    assert!(
        d.report["machine"]["base_evidence"]
            .as_str()
            .unwrap()
            .contains("base attached (SSH, id 0x07); laptop mode"),
        "{}",
        d.report["machine"]
    );
    assert_eq!(d.code, 0, "{}", d.dump());

    // A base state the driver did not know: the device mode decides (tablet is
    // detached), and base-dependent checks follow.
    let mut f = live_facts(&t);
    dtx_answers(&mut f, 0xf003, 0, 0x0001);
    let d = diagnose(&t, &f);
    assert_eq!(d.report["machine"]["base"], "detached", "{}", d.dump());
    assert_eq!(d.status("input.keyboard"), "absent", "{}", d.dump());
}

#[test]
fn a_latch_hardware_error_is_a_notice_naming_the_error() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    for (word, what) in [
        (0x2001u16, "failed to open"),
        (0x2002, "failed to remain open"),
        (0x2003, "failed to close"),
    ] {
        let mut f = live_facts(&t);
        dtx_answers(&mut f, 0x0001, 1, word);
        let d = diagnose(&t, &f);
        assert_eq!(d.status("detach.dtx-node"), "ok", "{}", d.dump());
        let c = d.check("detach.dtx-node");
        let notices = c["notices"].to_string();
        assert!(
            notices.contains("latch hardware error")
                && notices.contains(what)
                && notices.contains(&format!("{word:#06x}")),
            "{notices}"
        );
        assert!(
            d.text("detach.dtx-node")
                .contains(&format!("latch error: {what}"))
        );
        assert!(
            common::subsystem(&d.report, "detach")["notices"]
                .to_string()
                .contains("detach.dtx-node: the DTX device reports a latch hardware error"),
            "{}",
            d.dump()
        );
        assert_eq!(d.code, 0, "{}", d.dump());
    }
}

// ---- privileges: the same verdicts, and the devices named -------------------------

/// Trees whose verdicts files decide: healthy, and with links broken that sysfs shows.
fn trees() -> Vec<(&'static str, Tree)> {
    let healthy = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let no_lid = Sb2::new(Size::In13, Distro::NixOs).build();
    no_lid.remove_input(0);
    let no_keyboard_input = Sb2::new(Size::In13, Distro::DebianSurface).build();
    no_keyboard_input.remove_input(10);
    vec![
        ("healthy", healthy),
        ("no lid switch", no_lid),
        ("no keyboard input", no_keyboard_input),
    ]
}

#[test]
fn without_privileges_the_verdicts_are_root_s_and_the_refused_devices_are_listed() {
    for (what, t) in trees() {
        let mut root = live_facts(&t);
        answer_everything(&mut root, &[]);
        dtx_answers(&mut root, 0x0001, 1, 0x0000);
        let as_root = diagnose(&t, &root);
        assert_eq!(
            as_root.report["needs_privileges"],
            json!([]),
            "{what}: root needs nothing more"
        );

        let mut user = live_facts(&t);
        deny_everything(&mut user);
        let as_user = diagnose(&t, &user);
        assert_eq!(
            as_user.statuses(),
            as_root.statuses(),
            "{what}: verdicts differ\nroot:\n{}\nuser:\n{}",
            as_root.dump(),
            as_user.dump()
        );
        assert_eq!(
            as_user.report["overall"], as_root.report["overall"],
            "{what}"
        );
        assert_eq!(as_user.code, as_root.code, "{what}");

        let listed: Vec<&str> = as_user.report["needs_privileges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for p in [
            "/dev/input/event5",
            "/dev/input/event10",
            "/dev/surface/dtx",
            "/dev/kmsg",
        ] {
            assert!(
                listed.contains(&p) || (p == "/dev/input/event10" && what == "no keyboard input"),
                "{what}: {p} not in {listed:?}"
            );
        }
        // Every refused event device once, and nothing that answered or that is not a
        // device.
        let events = inputs(&mut user)
            .iter()
            .filter(|i| !i["event"].is_null())
            .count();
        assert_eq!(
            listed
                .iter()
                .filter(|p| p.starts_with("/dev/input/"))
                .count(),
            events,
            "{what}: {listed:?}"
        );
        assert!(listed.iter().all(|p| p.starts_with("/dev/")), "{listed:?}");
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), listed.len(), "{listed:?}");
    }
}

#[test]
fn the_human_output_names_the_devices_that_needed_privileges_in_one_line() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let mut user = live_facts(&t);
    deny_everything(&mut user);
    let (_, out) = diagnose_with(&t, &user, &[]);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("these devices were not asked"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    let line = lines[0];
    // Compact: the event devices once, in number order; every refused device named.
    for p in [
        "run as root",
        "/dev/surface/dtx",
        "/dev/input/event{0,1,2,5,10,11,30,31}",
        "/dev/kmsg",
    ] {
        assert!(line.contains(p), "{p}: {line}");
    }
    let listed = diagnose(&t, &user).report["needs_privileges"].clone();
    for p in listed.as_array().unwrap() {
        let p = p.as_str().unwrap();
        let stem = p.trim_end_matches(|c: char| c.is_ascii_digit());
        assert!(
            line.contains(p) || line.contains(&format!("{stem}{{")),
            "{p}: {line}"
        );
    }

    let mut root = live_facts(&t);
    answer_everything(&mut root, &[]);
    dtx_answers(&mut root, 0x0001, 1, 0x0000);
    let (_, out) = diagnose_with(&t, &root, &[]);
    assert!(!out.contains("these devices were not asked"), "{out}");
}
