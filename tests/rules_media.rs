//! What the devices answer, judged by the verdict rules: the CIO2 media graph
//! (`camera.graph`: each bound sensor linked to a CSI-2 receiver) and the IPTS
//! hidraw node's ids (`touch.hid`). Facts come from the Sb2 fixture builder through
//! `capture`, are marked as a capture of the live system (which carries device
//! answers), get the answers the case needs, and are judged by `status --from`.
//!
//! The graphs follow the `media-ctl -p` dumps of linux-surface#2188 (Surface Book 2
//! 13", 6.19.8: `entity 37: ov5693 2-0036 (1 pad, 0 link, 0 routes)`, entities 39
//! `ov8865 3-0010` and 41 `ov7251 3-0060`), #2220 (Surface Book 2 15") and #2183
//! (`Skip ipu3-csi2 0: no device node`). Invented, as no record shows them: the
//! receiver and video entity ids, which receiver port each sensor links to, and
//! the interface ids.

mod common;

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use common::verdict::Verdict;
use serde_json::{Value, json};

/// `MEDIA_ENT_F_CAM_SENSOR`, `MEDIA_ENT_F_VID_IF_BRIDGE`, `MEDIA_ENT_F_IO_V4L`.
const CAM_SENSOR: u32 = 0x2_0001;
const VID_IF_BRIDGE: u32 = 0x4002;
const IO_V4L: u32 = 0x1_0001;
/// Link flags: enabled, immutable, interface link.
const ENABLED: u32 = 1;
const IMMUTABLE: u32 = 2;
const INTERFACE: u32 = 1 << 28;

/// The sensors as the graph names them: (entity id, name, receiver port).
const SENSORS: [(u32, &str, u32); 3] = [
    (41, "ov5693 2-0036", 0),
    (39, "ov8865 3-0010", 1),
    (37, "ov7251 3-0060", 2),
];

/// How the sensors sit in a graph.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    /// Each sensor linked to its receiver with `flags`; receivers have nodes.
    All(u32),
    /// As `All(0)`, but the sensor at index `i` has no link.
    AllBut(usize),
    /// linux-surface 6.19: sensors are entities without links, receivers have no
    /// device node.
    None,
}

/// A CIO2 media graph (`MEDIA_IOC_G_TOPOLOGY`) as the facts hold it.
fn topology(links: Links) -> Value {
    let mut entities = Vec::new();
    let mut pads = Vec::new();
    let mut interfaces = Vec::new();
    let mut ls = Vec::new();
    let mut next = 1000u32;
    let mut id = || {
        next += 1;
        next
    };
    for port in 0..4u32 {
        let (csi2, video) = (1 + port * 4, 3 + port * 4);
        entities.push(json!({"id": csi2, "name": format!("ipu3-csi2 {port}"), "function": VID_IF_BRIDGE, "flags": 0}));
        entities.push(json!({"id": video, "name": format!("ipu3-cio2 {port}"), "function": IO_V4L, "flags": 0}));
        let (sink, source, vsink) = (100 + port * 4, 101 + port * 4, 102 + port * 4);
        pads.push(json!({"id": sink, "entity_id": csi2, "flags": 1, "index": 0}));
        pads.push(json!({"id": source, "entity_id": csi2, "flags": 2, "index": 1}));
        pads.push(json!({"id": vsink, "entity_id": video, "flags": 1, "index": 0}));
        // The receiver feeds its video node (created with the queue, before any sensor).
        ls.push(json!({"id": id(), "source_id": source, "sink_id": vsink, "flags": ENABLED | IMMUTABLE}));
        let vintf = 200 + port * 2;
        interfaces.push(json!({"id": vintf, "intf_type": 0x200, "major": 81, "minor": port}));
        ls.push(json!({"id": id(), "source_id": vintf, "sink_id": video, "flags": INTERFACE | ENABLED | IMMUTABLE}));
        if links != Links::None {
            let sintf = 201 + port * 2;
            interfaces
                .push(json!({"id": sintf, "intf_type": 0x203, "major": 81, "minor": 10 + port}));
            ls.push(json!({"id": id(), "source_id": sintf, "sink_id": csi2, "flags": INTERFACE | ENABLED | IMMUTABLE}));
        }
    }
    for (i, (eid, name, port)) in SENSORS.iter().enumerate() {
        entities.push(json!({"id": eid, "name": name, "function": CAM_SENSOR, "flags": 0}));
        let pad = eid + 1;
        pads.push(json!({"id": pad, "entity_id": eid, "flags": 2, "index": 0}));
        let flags = match links {
            Links::All(f) => Some(f),
            Links::AllBut(j) if j != i => Some(0),
            _ => None,
        };
        if let Some(f) = flags {
            ls.push(json!({"id": id(), "source_id": pad, "sink_id": 100 + port * 4, "flags": f}));
        }
    }
    json!({"version": 7, "entities": entities, "interfaces": interfaces, "pads": pads, "links": ls})
}

/// The CIO2 media device's `MEDIA_IOC_DEVICE_INFO` (linux-surface#2188).
fn cio2_info() -> Value {
    json!({"driver": "ipu3-cio2", "model": "Intel IPU3 CIO2", "bus_info": "PCI:0000:00:14.3",
           "hw_revision": 0, "driver_version": "6.19.8", "media_version": "6.19.8"})
}

/// The captured facts of `t`, as a capture of the live system.
fn live_facts(t: &Tree) -> Value {
    let mut f = common::verdict::facts(t);
    f["source"]["live"] = json!(true);
    f
}

/// The CIO2 media device (`media0`) in facts `f`.
fn media0(f: &mut Value) -> &mut Value {
    f["media"]["ok"]
        .as_array_mut()
        .expect("media devices listed")
        .iter_mut()
        .find(|m| m["sysname"] == "media0")
        .expect("media0")
}

/// Gives `media0` the answers `info` and `topology` (each a `Fact`).
fn with_graph(f: &mut Value, topology: Value) {
    let m = media0(f);
    m["info"] = json!({"ok": cio2_info()});
    m["topology"] = topology;
}

/// `status --from FILE --json` on facts `f`; the report must match the schema and
/// every failed or degraded check rests on evidence.
fn judge(t: &Tree, f: &Value) -> Verdict {
    let file = t.path().join("facts.json");
    std::fs::write(&file, serde_json::to_vec(f).unwrap()).unwrap();
    let (code, out, stderr) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {code}: {stderr}\n{out}"));
    common::assert_schema(&report);
    let v = Verdict {
        code,
        report,
        stderr,
    };
    v.founded();
    v
}

/// Every hint and notice of `v` fits the kernel of facts `f`.
fn hints_fit(v: &Verdict, f: &Value) {
    let bad = common::hints::misfits(f, &v.report);
    assert!(
        bad.is_empty(),
        "hints that do not fit: {bad:?}\n{}",
        v.dump()
    );
}

fn unknown(reason: &str) -> Value {
    json!({"unknown": {"path": "dev/media0", "reason": reason}})
}

// ---- camera.graph --------------------------------------------------------------------

#[test]
fn a_graph_with_every_sensor_linked_is_ok_whether_the_links_are_enabled_or_enableable() {
    // CIO2 creates the links with flags 0 (enableable: libcamera enables them), and a
    // streaming camera has its link enabled.
    for flags in [0, ENABLED] {
        let t = Sb2::new(Size::In13, Distro::NixOs).build();
        let mut f = live_facts(&t);
        with_graph(&mut f, json!({"ok": topology(Links::All(flags))}));
        let v = judge(&t, &f);
        v.exit(0).sub("camera", "ok").is("camera.graph", "ok");
        v.names(
            "camera.graph",
            &[
                "ov5693 2-0036 -> ipu3-csi2 0",
                "ov8865 3-0010 -> ipu3-csi2 1",
                "ov7251 3-0060 -> ipu3-csi2 2",
            ],
        );
        v.names(
            "camera.graph",
            &[if flags == ENABLED {
                "(enabled)"
            } else {
                "enabled when streaming"
            }],
        );
        assert_eq!(
            v.check("camera.graph")["notices"],
            json!([]),
            "{}",
            v.dump()
        );
    }
}

#[test]
fn the_6_19_regression_fails_naming_every_missing_link_with_a_reload_fix() {
    // linux-surface#2188: all three sensors bound (sysfs), entities with 0 links,
    // receivers without nodes. ipu3_cio2 is a module here, so it can be reloaded.
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let mut f = live_facts(&t);
    with_graph(&mut f, json!({"ok": topology(Links::None)}));
    let v = judge(&t, &f);
    v.exit(1)
        .sub_is("camera", "failed", Some("camera.graph"), &["no camera works"])
        .check_is(
            "camera.graph",
            "failed",
            &[
                "ov5693 2-0036, ov8865 3-0010 and ov7251 3-0060 have no link to an ipu3-csi2 receiver",
                "ov5693 2-0036: 0 data link(s)",
                "ov7251 3-0060: 0 data link(s)",
                "linux-surface#2188",
                "modprobe -r ipu3_cio2 && modprobe ipu3_cio2",
                "no device node (v4l-subdev interface) for ipu3-csi2 0",
                "6.19.8-surface-3",
            ],
        )
        .rest_ok(&["camera", "dgpu"]);
    // The sensors are bound: that link stays ok.
    v.is("camera.sensors", "ok").is("camera.nodes", "ok");
    hints_fit(&v, &f);
}

#[test]
fn a_built_in_cio2_is_never_told_to_reload() {
    // The same graph on a kernel with CONFIG_VIDEO_IPU3_CIO2=y: no `modprobe`.
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    let mut f = live_facts(&t);
    f["config"]["ok"]["options"]["VIDEO_IPU3_CIO2"] = json!("y");
    let dep = &mut f["module_tree"]["ok"];
    dep["available"]["ok"]
        .as_object_mut()
        .unwrap()
        .remove("ipu3_cio2");
    dep["builtin"]["ok"]
        .as_array_mut()
        .unwrap()
        .push(json!("ipu3_cio2"));
    f["modules"]["loaded"]["ok"]
        .as_object_mut()
        .unwrap()
        .remove("ipu3_cio2");
    with_graph(&mut f, json!({"ok": topology(Links::None)}));
    let v = judge(&t, &f);
    v.sub("camera", "failed")
        .check_is(
            "camera.graph",
            "failed",
            &["built into this kernel", "6.18.8"],
        )
        .hint_never("camera.graph", &["modprobe"]);
    hints_fit(&v, &f);
}

#[test]
fn one_front_or_rear_sensor_without_its_link_is_degraded_the_ir_alone_a_notice() {
    let t = Sb2::new(Size::In13, Distro::NixOs).build();
    let mut f = live_facts(&t);
    // The rear sensor (index 1) lost its link: the front camera still works.
    with_graph(&mut f, json!({"ok": topology(Links::AllBut(1))}));
    let v = judge(&t, &f);
    v.exit(1)
        .sub_is("camera", "degraded", Some("camera.graph"), &["front"])
        .check_is(
            "camera.graph",
            "degraded",
            &["ov8865 3-0010 has no link", "media-ctl -d /dev/media0 -p"],
        )
        // Not the 6.19 state: no claim of that regression.
        .never_tells("camera.graph", &["#2188", "modprobe"]);
    // Only the infrared sensor: face login only, a notice.
    let mut f = live_facts(&t);
    with_graph(&mut f, json!({"ok": topology(Links::AllBut(2))}));
    let v = judge(&t, &f);
    v.exit(0).sub("camera", "ok").is("camera.graph", "ok");
    v.notice_names("camera.graph", &["ov7251 3-0060 has no link", "face login"]);
}

#[test]
fn a_bound_sensor_that_is_no_entity_of_the_graph_is_named() {
    let t = Sb2::new(Size::In15, Distro::NixOs).build();
    let mut f = live_facts(&t);
    let mut topo = topology(Links::All(0));
    // The front sensor's entity, pad and link are gone.
    for (key, field) in [("entities", "id"), ("pads", "entity_id")] {
        topo[key].as_array_mut().unwrap().retain(|x| x[field] != 41);
    }
    topo["links"]
        .as_array_mut()
        .unwrap()
        .retain(|l| l["source_id"] != 42);
    with_graph(&mut f, json!({"ok": topo}));
    let v = judge(&t, &f);
    v.sub("camera", "degraded").check_is(
        "camera.graph",
        "degraded",
        &["ov5693 (i2c-int33be:00 -> ov5693) is bound but is no entity of the graph"],
    );
}

#[test]
fn a_graph_that_could_not_be_read_is_not_failed_and_says_why() {
    let t = Sb2::new(Size::In13, Distro::NixOs).build();
    for (reason, says) in [
        ("permission denied", "run surface-check as root"),
        (
            "a device node in a tree that is not the live system is never opened",
            "on the machine itself",
        ),
        ("timed out after 2000 ms", "media-ctl -d /dev/media0 -p"),
    ] {
        let mut f = live_facts(&t);
        with_graph(&mut f, unknown(reason));
        let v = judge(&t, &f);
        v.exit(0).sub("camera", "ok").is("camera.graph", "ok");
        v.notice_names("camera.graph", &[reason, says]);
    }
    // Even on a graph the 6.19 kernel broke, an unreadable graph fails nothing: the
    // sysfs links decide, and they show the sensors bound.
    let mut f = live_facts(&t);
    with_graph(&mut f, unknown("permission denied"));
    media0(&mut f)["info"] = unknown("permission denied");
    let v = judge(&t, &f);
    v.exit(0).is("camera.graph", "ok");
}

/// Every check of a report but `except`, with its status, summary and hint.
fn all_but(v: &Verdict, except: &str) -> Vec<(String, String)> {
    let mut out = vec![("exit".into(), v.code.to_string())];
    for s in v.report["subsystems"].as_array().unwrap() {
        for c in s["checks"].as_array().unwrap() {
            if c["id"] == except {
                continue;
            }
            out.push((
                c["id"].as_str().unwrap().to_string(),
                format!("{} | {} | {}", c["status"], c["summary"], c["hint"]),
            ));
        }
    }
    out
}

/// The status of subsystem `sub` judged from its checks without `except`.
fn worst_without(v: &Verdict, sub: &str, except: &str) -> String {
    let rank = |s: &str| {
        ["absent", "ok", "unknown", "degraded", "failed"]
            .iter()
            .position(|x| *x == s)
    };
    v.subsystem(sub)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] != except)
        .map(|c| c["status"].as_str().unwrap().to_string())
        .max_by_key(|s| rank(s))
        .unwrap()
}

#[test]
fn a_captured_tree_keeps_the_verdicts_the_files_give() {
    // A captured tree carries no device answers: camera.graph adds nothing to the
    // verdict, whatever the sysfs links show (healthy, a sensor unbound, every
    // sensor unbound, CIO2 unbound).
    type Breaks = Box<dyn Fn(&Tree)>;
    let cases: Vec<(&str, Breaks)> = vec![
        ("healthy", Box::new(|_| {})),
        (
            "front sensor unbound",
            Box::new(|t| t.unbind("i2c", "i2c-INT33BE:00")),
        ),
        (
            "every sensor unbound",
            Box::new(|t| {
                for hid in ["INT33BE", "INT347A", "INT347E"] {
                    t.unbind("i2c", &format!("i2c-{hid}:00"));
                }
            }),
        ),
        (
            "CIO2 unbound",
            Box::new(|t| t.unbind("pci", "0000:00:14.3")),
        ),
    ];
    for (name, breaks) in cases {
        let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
        breaks(&t);
        let v = common::verdict::verdict(&t, &[]);
        let g = v.check("camera.graph")["status"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            !matches!(g.as_str(), "failed" | "degraded"),
            "{name}: camera.graph {g}\n{}",
            v.dump()
        );
        assert_eq!(
            v.subsystem("camera")["status"].as_str().unwrap(),
            worst_without(&v, "camera", "camera.graph"),
            "{name}: camera.graph changed the camera verdict\n{}",
            v.dump()
        );
        assert_ne!(
            v.subsystem("camera")["decided_by"],
            json!("camera.graph"),
            "{name}\n{}",
            v.dump()
        );
        // The same facts, replayed with the graph unreadable as a captured tree
        // records it, give the same verdict in every other check.
        let mut f = common::verdict::facts(&t);
        if let Some(m) = f["media"]["ok"]
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|m| m["sysname"] == "media0"))
        {
            m["topology"] =
                unknown("a device node in a tree that is not the live system is never opened");
        }
        let r = judge(&t, &f);
        assert_eq!(
            all_but(&r, "camera.graph"),
            all_but(&v, "camera.graph"),
            "{name}"
        );
    }
}

// ---- touch.hid: the hidraw node's ids --------------------------------------------------

/// Gives the facts of `m`'s tree the IPTS hidraw node answering with `info` (a
/// `Fact<HidrawInfo>`).
fn with_hidraw(m: &Sb2, f: &mut Value, info: Value) {
    f["hidraw"] = json!({"ok": [{
        "sysname": "hidraw0",
        "hid_device": m.ipts_hid_name(),
        "node": {"ok": {"type": "char_device", "major": 243, "minor": 0}},
        "info": info,
    }]});
}

fn hidraw_info(bus: u32, vendor: u16, product: u16, size: u32) -> Value {
    json!({"ok": {"bustype": bus, "vendor": vendor, "product": product, "descriptor_size": size}})
}

#[test]
fn an_ipts_hidraw_node_answering_with_the_ipts_id_is_confirmed() {
    for size in [Size::In13, Size::In15] {
        let m = Sb2::new(size, Distro::NixOs);
        let t = m.build();
        let mut f = live_facts(&t);
        with_hidraw(&m, &mut f, hidraw_info(0, 0x045e, m.ipts_product(), 1134));
        let v = judge(&t, &f);
        v.exit(0).sub("touch", "ok").check_is(
            "touch.hid",
            "ok",
            &[
                "answers with the ipts hid id",
                &format!("045e:{:04x}", m.ipts_product()),
                "1134 bytes",
            ],
        );
    }
}

#[test]
fn an_ipts_hidraw_node_answering_with_another_id_fails_unless_iptsd_proves_it() {
    // The 15" HID device whose node answers as a USB keyboard (045E:0922): the node
    // is not the IPTS device. The ids are [V] (reference §6), so without downstream
    // proof this fails.
    let m = Sb2::new(Size::In15, Distro::NixOs);
    let t = m.build();
    for n in [30, 31] {
        t.remove_input(n);
    }
    let mut f = live_facts(&t);
    with_hidraw(&m, &mut f, hidraw_info(3, 0x045e, 0x0922, 500));
    let v = judge(&t, &f);
    v.sub("touch", "failed").check_is(
        "touch.hid",
        "failed",
        &["/dev/hidraw0", "045e:0922", "not the ipts hid id 045e:0020"],
    );
    hints_fit(&v, &f);
    // A 13" id on the 15": the size's own id is expected.
    with_hidraw(&m, &mut f, hidraw_info(0, 0x045e, 0x0021, 500));
    judge(&t, &f).is("touch.hid", "failed");
    // With iptsd's devices there, iptsd reads the IPTS device: a notice.
    let t = m.build();
    let mut f = live_facts(&t);
    with_hidraw(&m, &mut f, hidraw_info(3, 0x045e, 0x0922, 500));
    let v = judge(&t, &f);
    v.exit(0).is("touch.hid", "ok");
    v.notice_names("touch.hid", &["045e:0922"]);
}

#[test]
fn unread_hidraw_ids_fall_back_to_sysfs_with_a_notice_only_where_it_matters() {
    let m = Sb2::new(Size::In13, Distro::NixOs);
    let t = m.build();
    let unread = |reason: &str| json!({"unknown": {"path": "dev/hidraw0", "reason": reason}});
    // iptsd's devices prove the node: nothing to say.
    let mut f = live_facts(&t);
    with_hidraw(&m, &mut f, unread("permission denied"));
    let v = judge(&t, &f);
    v.exit(0).is("touch.hid", "ok");
    assert_eq!(v.check("touch.hid")["notices"], json!([]), "{}", v.dump());
    // Without them, an unprivileged run says that root would confirm the ids; the
    // verdict is the one files give (touch.iptsd and touch.devices fail).
    let t = m.build();
    for n in [30, 31] {
        t.remove_input(n);
    }
    let mut f = live_facts(&t);
    with_hidraw(&m, &mut f, unread("permission denied"));
    let v = judge(&t, &f);
    v.is("touch.hid", "ok")
        .notice_names("touch.hid", &["permission denied", "as root"]);
    // A captured tree's node was never asked: sysfs decides, silently.
    let mut f = live_facts(&t);
    f["source"]["live"] = json!(false);
    with_hidraw(
        &m,
        &mut f,
        unread("a device node in a tree that is not the live system is never opened"),
    );
    let v = judge(&t, &f);
    v.is("touch.hid", "ok");
    assert_eq!(v.check("touch.hid")["notices"], json!([]), "{}", v.dump());
}
