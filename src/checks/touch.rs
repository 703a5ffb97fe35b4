//! Touchscreen and pen: MEI -> ipts -> HID/hidraw -> iptsd -> virtual input devices.

use super::ctx::{Ctx, Has, Look, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::{BusDevice, Fact};
use crate::root::ReadError;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "touch",
    title: "Touchscreen and pen (IPTS)",
    checks: &[
        CheckDef {
            id: "touch.mei",
            title: "IPTS MEI function",
            verifies: "The Intel ME iTouch function (PCI 8086:9d3e, 00:16.4) is present and bound to mei_me.",
            rationale: "IPTS talks to the touch controller through this ME function; without it there is no touch device at all.",
            fix: "Make sure the kernel provides mei_me (CONFIG_INTEL_MEI_ME) and that it binds 00:16.4; if the function is missing from `lspci -nn`, power the machine off completely and reset the UEFI settings.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "IPTS sits on the ME iTouch function 8086:9d3e at 00:16.4, bound to mei_me",
                "§1.6 (linux-surface#1319), §6 PCI; hw-probe 79D657BBD855, 5B3E4C5AAEC5",
            )],
            proven_by: "the IPTS HID device, or iptsd's virtual touchscreen/stylus devices, prove the MEI link",
            captured: "PCI devices and bindings are in sysfs, kept by a captured tree.",
            run: mei,
        },
        CheckDef {
            id: "touch.ipts-driver",
            title: "IPTS driver in the kernel",
            verifies: "The kernel has the HID IPTS driver (CONFIG_HID_IPTS, module `ipts`), and not only the pre-2023 MISC_IPTS driver.",
            rationale: "The IPTS driver exists only in linux-surface kernels; without it the touchscreen and pen are dead.",
            fix: "Boot a linux-surface kernel with CONFIG_HID_IPTS=m (NixOS: nixos-hardware `microsoft-surface-common`).",
            requires: &[],
            basis: &[
                fact(
                    Tag::Verified,
                    "The IPTS driver (HID_IPTS, and MISC_IPTS before 2023-02) exists only in linux-surface patches; stock kernels log nothing about IPTS",
                    "§1.6, §2 (LS 0005-ipts.patch), §7; hw-probe 098A00936EA6, 44CB94E9B7BC",
                ),
                fact(
                    Tag::Verified,
                    "Kernel and iptsd generations must match: /dev/ipts (MISC_IPTS) needs iptsd <= 0.5.1, hidraw (HID_IPTS) needs iptsd >= 1.0",
                    "§1.6 history, F4 (iptsd#78, linux-surface#1045)",
                ),
            ],
            proven_by: "the IPTS HID device, or iptsd's virtual devices (\"IPTSD Virtual Touchscreen/Stylus\", old \"IPTS Touch/Stylus\"), prove a working driver",
            captured: "Kernel config and module tree are files a captured tree keeps; /dev/ipts is judged only on the live root.",
            run: ipts_driver,
        },
        CheckDef {
            id: "touch.ipts-bound",
            title: "IPTS bound",
            verifies: "The IPTS MEI client (uuid 3e8d0870-...) exists on the MEI bus and is bound to the `ipts` driver.",
            rationale: "The driver must bind to the ME client to start the touch controller.",
            fix: "Load the driver: `modprobe ipts`; if it is loaded and unbound, see `journalctl -k -b | grep -i ipts`.",
            requires: &["touch.mei", "touch.ipts-driver"],
            basis: &[fact(
                Tag::Verified,
                "The IPTS ME client has uuid 3e8d0870-271a-4208-8eb5-9acb9402ae04 and binds to ipts (`ipts 0000:00:16.4-...: Starting IPTS`)",
                "§1.6; hw-probe 79D657BBD855",
            )],
            proven_by: "the IPTS HID device or iptsd's virtual devices prove the ME client bound",
            captured: "The MEI bus and its bindings are in sysfs, kept by a captured tree.",
            run: ipts_bound,
        },
        CheckDef {
            id: "touch.hid",
            title: "IPTS HID device",
            verifies: "The IPTS HID device (`0000:045E:0020/0021`) exists with a hidraw node; on the live system the node itself answers (`HIDIOCGRAWINFO`) with that bus, vendor and product, and a report descriptor (`HIDIOCGRDESCSIZE`).",
            rationale: "iptsd reads raw touch data from this hidraw node.",
            fix: "Reload the driver (`rmmod ipts && modprobe ipts`) and read `journalctl -k -b | grep -i ipts`.",
            requires: &["touch.ipts-bound"],
            basis: &[fact(
                Tag::Verified,
                "The HID IPTS driver creates HID device 045E:0020 (15\") / 045E:0021 (13\") with a hidraw node (`hid-multitouch 0000:045E:0021.0003: input,hidraw1`)",
                "§0, §1.6, §7 (iptsd presets; linux-surface#1319)",
            )],
            proven_by: "iptsd's virtual devices prove iptsd read the hidraw device",
            captured: "The HID device and its hidraw child are in sysfs; /dev/hidrawN (and the legacy /dev/ipts) are judged only on the live root, and only there (as root) does the node answer with its ids; elsewhere sysfs decides.",
            run: hid,
        },
        CheckDef {
            id: "touch.iptsd",
            title: "iptsd running",
            verifies: "iptsd (the user-space touch processor) is installed with its udev rule and runs for the IPTS hidraw node (`iptsd@dev-hidrawN.service`).",
            rationale: "The kernel only forwards raw heatmaps; without iptsd there are no touch or pen events.",
            fix: "Install iptsd (NixOS: `services.iptsd.enable = true;`), then `systemctl start iptsd@$(systemd-escape --path /dev/hidrawN).service` or replug by rebooting.",
            requires: &["touch.hid"],
            basis: &[fact(
                Tag::Verified,
                "iptsd is mandatory: the kernel forwards raw heatmaps, iptsd makes the input events; it runs as iptsd@dev-hidrawN.service from its udev rule",
                "§1.6 (LS surface-6.19.config comment; IPTSD README, etc/udev), F3",
            )],
            proven_by: "iptsd's virtual touchscreen and stylus devices prove it runs",
            captured: "Unit files and udev rules are files a captured tree keeps; running units and processes (cgroups, /proc) only if the capture has them.",
            run: iptsd,
        },
        CheckDef {
            id: "touch.devices",
            title: "Touchscreen and stylus input devices",
            verifies: "iptsd's virtual touchscreen and stylus input devices exist.",
            rationale: "Desktops receive touch and pen only through these devices.",
            fix: "Restart iptsd and read its log: `journalctl -b -u 'iptsd@*'`.",
            requires: &["touch.iptsd"],
            basis: &[fact(
                Tag::Verified,
                "iptsd creates uinput devices \"IPTSD Virtual Touchscreen/Stylus 045E:00xx\" (0.x: \"IPTS Touch\"/\"IPTS Stylus\")",
                "§1.6 (IPTSD uinput-device.hpp; intel-precise-touch#26), §7; hw-probe 79D657BBD855",
            )],
            proven_by: "nothing later proves it: desktops read these devices",
            captured: "/sys/class/input is kept by a captured tree; the event nodes in /dev are not judged here.",
            run: devices,
        },
    ],
};

/// iptsd's virtual input devices (current or 0.x names) that exist, as evidence.
/// Their presence proves every link before them (rule 2): MEI, ipts, the raw device
/// (hidraw, or /dev/ipts on the pre-2023 driver) and iptsd itself.
fn virtual_devices(c: &Ctx) -> Vec<String> {
    let t = &c.profile.touch;
    match c.inputs() {
        Look::Found(inputs) => inputs
            .iter()
            .filter_map(|i| i.name.ok().map(|n| (i, n)))
            .filter(|(_, n)| {
                t.virtual_touch
                    .iter()
                    .chain(t.virtual_stylus)
                    .any(|p| n.starts_with(p))
            })
            .map(|(i, n)| format!("/sys/class/input/{}/name: {n}", i.sysname))
            .collect(),
        _ => Vec::new(),
    }
}

/// Turns a failing upstream outcome into ok + notice when a later link proves it.
fn proven_downstream(c: &Ctx, o: Outcome, what: &str) -> Outcome {
    if !o.status.is_problem() {
        return o;
    }
    let mut proof = virtual_devices(c);
    if let Look::Found(h) = c.ipts_hid() {
        proof.insert(0, format!("/sys/bus/hid/devices/{}", h.name));
    }
    if proof.is_empty() {
        return o;
    }
    o.as_notice(format!(
        "{what} works: later links of the touch chain are up"
    ))
    .evidence_all(proof)
}

fn mei(c: &Ctx) -> Outcome {
    let f = &c.profile.touch.mei_pci;
    let d = crate::profiles::Driver {
        config: f.config,
        module: f.module,
        driver: f.driver,
    };
    let o = match c.pci(f) {
        Look::Missing(m) => Outcome::failed(format!(
            "the ME iTouch function {:04x}:{:04x} is not on the PCI bus",
            f.vendor, f.device
        ))
        .evidence(m)
        .hint("The cause is not shown: the ME may hide it after a warm reboot. Power the machine off completely and start again; `lspci -nn | grep -i 9d3e` tells whether it is back."),
        dev => {
            let mut o = c.link_bound("pci", dev, &d, "ME iTouch function");
            if o.status.is_problem() && c.loaded(d.module) == Some(false) {
                o = o.evidence(format!("/proc/modules: {} is not loaded", d.module));
            }
            // link_bound's fallback has no hint; never let the generic fix say
            // "enable" an option this kernel has.
            if o.status.is_problem() && o.hint.is_none() {
                let h = c.provide_fix(&d).unwrap_or_else(|| {
                    "The cause is not shown: `journalctl -k -b | grep -i mei` would tell.".into()
                });
                o.hint(h)
            } else {
                o
            }
        }
    };
    proven_downstream(c, o, "the ME iTouch function")
}

fn ipts_driver(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    // The pre-2023 MISC_IPTS driver's module is also called `ipts`: a loaded `ipts`
    // is the HID driver only when the config does not say otherwise.
    if let Some(ev) = legacy_evidence(c) {
        return legacy_ipts(c, ev);
    }
    let o = if let Has::No(e) = c.kernel_has(&t.ipts)
        && c.surface_patches().0 == Some(false)
    {
        Outcome::failed("no IPTS driver: this is a stock kernel without the linux-surface patches")
            .evidence(e)
            .evidence_all(c.log_lines(&["Passthrough IOMMU for IPTS"]))
            .hint(c.provide_fix(&t.ipts).unwrap_or_default())
    } else {
        c.link_kernel_has(&t.ipts, "IPTS")
    };
    // The kernel's own config and module tree showing no driver is a fact, not a
    // missing one: virtual touch devices cannot prove it wrong (something else made
    // them), so they are named, and the verdict stands.
    if o.status.is_problem() && matches!(c.kernel_has(&t.ipts), Has::No(_)) {
        let virt = virtual_devices(c);
        if virt.is_empty() {
            return o;
        }
        return o.notice(format!(
            "touch devices named like iptsd's exist ({}), but this kernel has no IPTS driver to feed them",
            virt.join(", ")
        ));
    }
    proven_downstream(c, o, "the IPTS driver")
}

/// Evidence of the pre-2023 MISC_IPTS driver (`/dev/ipts/*`, for iptsd <= 0.5.1):
/// its config option, its device nodes or its module under drivers/misc; `None` when
/// there is none, or when the config has the HID driver.
fn legacy_evidence(c: &Ctx) -> Option<Vec<String>> {
    let t = &c.profile.touch;
    if c.config(t.ipts.config).is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let mut ev = Vec::new();
    if let Some(v) = c.config("MISC_IPTS").filter(|v| !v.is_empty()) {
        let src = c.facts.config.ok().map(|c| c.source.as_str()).unwrap_or("");
        ev.push(format!("{src}: CONFIG_MISC_IPTS={v}"));
    }
    // Names listed in /dev/ipts: on the live root they are the nodes; in a captured
    // tree a listed name still says the driver made them (copies keep names even as
    // plain files), while an empty or missing /dev/ipts proves nothing.
    for n in &c.facts.services.legacy_ipts_nodes {
        ev.push(format!("/{}/{n}", t.legacy_dev_dir));
    }
    if let Fact::Ok(tree) = &c.facts.module_tree
        && let Fact::Ok(avail) = &tree.available
        && let Some(p) = avail
            .get(t.ipts.module)
            .filter(|p| p.contains("drivers/misc/"))
    {
        ev.push(format!("{}/{p}", tree.dir));
    }
    (!ev.is_empty()).then_some(ev)
}

/// The pre-2023 stack: it works with iptsd 0.x (its virtual devices prove it), and
/// fails only when the generations really do not match.
fn legacy_ipts(c: &Ctx, ev: Vec<String>) -> Outcome {
    let t = &c.profile.touch;
    let working = virtual_devices(c);
    if !working.is_empty() {
        // Rule 4: touch and pen work, so the person loses nothing; an older
        // generation is advice.
        return Outcome::ok("touch and pen work on the pre-2023 MISC_IPTS driver (/dev/ipts) with iptsd 0.x")
            .evidence_all(ev)
            .evidence_all(working)
            .notice("older generation: the MISC_IPTS driver and iptsd 0.x are unmaintained, and current iptsd (>= 1.0) needs the HID driver (HID_IPTS); update the kernel and iptsd together");
    }
    let legacy_unit = c
        .facts
        .services
        .units
        .get(t.iptsd_legacy_unit)
        .is_some_and(|u| !u.files.is_empty());
    let current_unit = c
        .facts
        .services
        .units
        .get(t.iptsd_unit)
        .is_some_and(|u| !u.files.is_empty());
    if legacy_unit && !current_unit {
        return Outcome::failed(format!(
            "the pre-2023 MISC_IPTS driver with iptsd 0.x ({}) installed, but no touchscreen or stylus device exists: iptsd 0.x is not running or failed",
            t.iptsd_legacy_unit
        ))
        .evidence_all(ev)
        .evidence("/sys/class/input/*/name: no IPTS Touch / IPTS Stylus device")
        .hint(format!(
            "Start it and read why it stopped: `systemctl start {0}; journalctl -b -u {0}`.",
            t.iptsd_legacy_unit
        ));
    }
    if !current_unit && !legacy_unit {
        return Outcome::failed(
            "the kernel has the pre-2023 MISC_IPTS driver (/dev/ipts) and no iptsd is installed: touch data is never turned into input events",
        )
        .evidence_all(ev)
        .evidence(format!(
            "{} and {} not found in the systemd unit directories",
            t.iptsd_unit, t.iptsd_legacy_unit
        ))
        .hint("Install iptsd <= 0.5.1 for this kernel, or better, a current linux-surface kernel (HID_IPTS) with current iptsd.");
    }
    Outcome::failed(
        "the kernel has the pre-2023 MISC_IPTS driver (/dev/ipts), not HID_IPTS: the installed current iptsd cannot use it",
    )
    .evidence_all(ev)
    .evidence(format!("{} installed", t.iptsd_unit))
    .hint("Kernel and iptsd generations do not match: update to a current linux-surface kernel (HID_IPTS), or use iptsd <= 0.5.1 with this kernel.")
}

fn ipts_bound(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    let dev = c.find_dev("mei", |d| {
        d.name.to_ascii_lowercase().ends_with(t.mei_client_uuid)
            || d.attrs
                .get("uuid")
                .is_some_and(|u| u.eq_ignore_ascii_case(t.mei_client_uuid))
    });
    let o = match dev {
        Look::Missing(m) => Outcome::failed("the IPTS ME client is not on the MEI bus (the ME firmware did not expose it)")
            .evidence(m)
            .hint("Power the machine off completely (not reboot) and start again; if it persists, boot Windows once to reset the ME."),
        dev => {
            let o = c.link_bound("mei", dev, &t.ipts, "IPTS ME client");
            if o.status.is_problem() && o.hint.is_none() {
                o.hint("The cause is not shown: `journalctl -k -b | grep -i ipts` would tell.")
            } else {
                o
            }
        }
    };
    proven_downstream(c, o, "the IPTS ME client")
}

fn hid(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    if legacy_evidence(c).is_some() {
        // The pre-2023 driver has no HID device: its raw device is /dev/ipts/N.
        let nodes: Vec<String> = c
            .facts
            .services
            .legacy_ipts_nodes
            .iter()
            .map(|n| format!("/{}/{n}", t.legacy_dev_dir))
            .collect();
        let working = virtual_devices(c);
        if !working.is_empty() {
            return Outcome::ok(
                "the pre-2023 driver's raw device works: iptsd 0.x made its input devices",
            )
            .evidence_all(nodes)
            .evidence_all(working);
        }
        if !c.live() && !nodes.is_empty() {
            // A copy keeps the names even as plain files: the driver made them.
            return Outcome::ok(format!("{} listed (pre-2023 driver)", nodes.join(", ")))
                .evidence_all(nodes);
        }
        if !c.live() {
            // A captured tree without them: its /dev is not judged, and nothing else
            // shows whether the pre-2023 driver made its device.
            return Outcome::unknown(format!(
                "whether the pre-2023 driver made its device cannot be told in a captured tree (/{} is not judged)",
                t.legacy_dev_dir
            ))
            .evidence_all(nodes);
        }
        return match nodes.is_empty() {
            false => {
                Outcome::ok(format!("{} (pre-2023 driver)", nodes.join(", "))).evidence_all(nodes)
            }
            true => Outcome::failed(format!(
                "the pre-2023 IPTS driver made no /{} node",
                t.legacy_dev_dir
            ))
            .evidence(format!("/{}: not found", t.legacy_dev_dir))
            .hint("The cause is not shown: `journalctl -k -b | grep -i ipts` would tell."),
        };
    }
    let o = match c.ipts_hid() {
        Look::Found(d) if !d.children.is_empty() => {
            let o = Outcome::ok(format!("{} with {}", d.name, d.children.join(", ")))
                .evidence(format!("/sys/bus/hid/devices/{}/hidraw", d.name));
            confirm_hidraw(c, d, o)
        }
        Look::Found(d) => {
            let o = Outcome::failed(format!("{} has no hidraw node", d.name))
                .evidence(format!("/sys/bus/hid/devices/{}/hidraw: not found", d.name));
            match c.unset_options(&["HIDRAW"]).first() {
                Some(opt) if c.config(opt).is_some() => o.hint(format!(
                    "Use a kernel built with CONFIG_{opt}; iptsd needs /dev/hidrawN."
                )),
                Some(_) => o.hint("Make sure the kernel has CONFIG_HIDRAW (this kernel's config cannot be read); iptsd needs /dev/hidrawN."),
                None => o.hint(format!(
                    "The kernel has CONFIG_HIDRAW={}; the cause is not shown: `journalctl -k -b | grep -i -e ipts -e hidraw` would tell.",
                    c.config("HIDRAW").unwrap_or_default()
                )),
            }
        }
        Look::Missing(m) => Outcome::failed(
            "ipts is bound but created no HID device: the touch controller did not start",
        )
        .evidence(m)
        .evidence_all(c.log_lines(&["IPTS", "fail"]))
        .hint("Reload the driver (`rmmod ipts && modprobe ipts`) and read `journalctl -k -b | grep -i ipts`."),
        Look::Unknown(u) => Outcome::unknown("cannot list HID devices").evidence(u),
    };
    // iptsd's devices prove it read the raw device.
    if o.status.is_problem() {
        let proof = virtual_devices(c);
        if !proof.is_empty() {
            return o
                .as_notice("iptsd's input devices exist, so it reads the IPTS device")
                .evidence_all(proof);
        }
    }
    o
}

/// The hidraw node's own answer (`HIDIOCGRAWINFO`, `HIDIOCGRDESCSIZE`) for the IPTS
/// HID device `d` that sysfs shows: its bus, vendor and product must be the IPTS
/// HID id of the device's name (045E:0021 on the 13", 045E:0020 on the 15"), and its
/// report descriptor not empty. Without an answer (a captured tree, an unprivileged
/// run, an older capture) sysfs decides, as `ok` already says.
fn confirm_hidraw(c: &Ctx, d: &BusDevice, ok: Outcome) -> Outcome {
    let t = &c.profile.touch;
    let Some((bus, vendor, product)) = crate::facts::parse::hid_name(&d.name) else {
        return ok;
    };
    let Fact::Ok(nodes) = &c.facts.hidraw else {
        return ok;
    };
    let Some(h) = d
        .children
        .iter()
        .find_map(|n| nodes.iter().find(|h| &h.sysname == n))
    else {
        return ok;
    };
    let node = format!("/dev/{}", h.sysname);
    let info = match &h.info {
        Fact::Ok(i) => i,
        f => {
            let reason = f.failure().and_then(|(_, r)| r).unwrap_or("not found");
            // It matters only where nothing later shows iptsd reading the device, and
            // only a run with privileges can read it.
            if reason == ReadError::PermissionDenied.to_string() && virtual_devices(c).is_empty() {
                return ok.evidence(why(f)).notice(format!(
                    "the ids {node} answers with were not read ({reason}): sysfs names the IPTS device; run surface-check as root to confirm them"
                ));
            }
            return ok.evidence(why(f));
        }
    };
    let expected: Vec<u16> = match c.machine.variant {
        Some(i) => vec![c.profile.variants[i].ipts_product],
        None => c.profile.variants.iter().map(|v| v.ipts_product).collect(),
    };
    let answered = format!(
        "{node}: HIDIOCGRAWINFO bus {:#06x}, {:04X}:{:04X}; HIDIOCGRDESCSIZE {} bytes",
        info.bustype, info.vendor, info.product, info.descriptor_size
    );
    let ids_match = info.bustype == u32::from(bus)
        && info.vendor == vendor
        && info.vendor == t.hid_vendor
        && info.product == product
        && expected.contains(&info.product);
    if !ids_match {
        let want = expected
            .iter()
            .map(|p| format!("{:04X}:{p:04X}", t.hid_vendor))
            .collect::<Vec<_>>()
            .join(" or ");
        let o = Outcome::failed(format!(
            "{node}, the hidraw node of {}, answers as bus {:#06x} {:04X}:{:04X}, not the IPTS HID id {want} (bus {bus:#06x}) that sysfs names: the node is not the IPTS device",
            d.name, info.bustype, info.vendor, info.product
        ))
        .evidence(format!("/sys/bus/hid/devices/{}/hidraw", d.name))
        .evidence(answered)
        .hint(format!(
            "The cause is not shown: `udevadm info {node}` and `journalctl -k -b | grep -i -e ipts -e hidraw` tell which device the node belongs to."
        ));
        return o;
    }
    let mut o = ok.evidence(answered);
    o.summary
        .push_str(" (the node answers with the IPTS HID id)");
    if info.descriptor_size == 0 {
        o.notices.push(format!(
            "{node} answers with an empty report descriptor (HIDIOCGRDESCSIZE 0): if touch does not work, `journalctl -k -b | grep -i ipts` tells what the driver logged"
        ));
    }
    o
}

const OLD_IPTSD_HINT: &str = "Install iptsd >= 1.0 (it runs as iptsd@dev-hidrawN.service from its udev rule) and remove the old iptsd.";

/// The iptsd unit name for a hidraw node, as systemd escapes `/dev/hidrawN`.
fn iptsd_instance(hidraw: &str) -> String {
    format!("iptsd@dev-{hidraw}.service")
}

fn iptsd(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    let s = &c.facts.services;
    let hidraw = match c.ipts_hid() {
        Look::Found(d) => d.children.first().cloned(),
        _ => None,
    };
    let instance = hidraw.as_deref().map(iptsd_instance);
    let proof = virtual_devices(c);
    if let Fact::Ok(units) = &s.running_units
        && let Some(u) = units.iter().find(|u| u.starts_with("iptsd"))
    {
        return Outcome::ok(format!("{u} is running"))
            .evidence(format!("/sys/fs/cgroup/system.slice/.../{u}/cgroup.procs"));
    }
    if let Fact::Ok(p) = &s.processes
        && let Some(n) = p.get(t.iptsd_process)
    {
        return Outcome::ok(format!("{n} iptsd process(es) running"))
            .evidence(format!("/proc/*/comm: {}", t.iptsd_process));
    }
    if !proof.is_empty() {
        return Outcome::ok("iptsd runs: its input devices exist").evidence_all(proof);
    }
    let legacy_kernel = legacy_evidence(c).is_some();
    let files = |unit: &str| {
        s.units
            .get(unit)
            .map(|u| u.files.clone())
            .unwrap_or_default()
    };
    let installed = !files(t.iptsd_unit).is_empty();
    let legacy_files = files(t.iptsd_legacy_unit);
    let rule = s.udev_rules.iter().find(|r| r.contains("iptsd"));
    // Whether iptsd runs can be told only from processes or cgroups (a captured tree
    // may have neither); what is installed is told from files either way.
    let blind = matches!(
        (&s.processes, &s.running_units),
        (p, u) if p.ok().is_none() && u.ok().is_none()
    );
    let mut o = match () {
        _ if blind && (installed || (legacy_kernel && !legacy_files.is_empty())) && (rule.is_some() || !installed) => {
            return Outcome::unknown("iptsd is installed; whether it runs cannot be seen")
                .evidence(why(&s.processes))
                .evidence(why(&s.running_units));
        }
        _ if legacy_kernel && !legacy_files.is_empty() => Outcome::failed(format!(
            "iptsd 0.x ({}) is installed but not running",
            t.iptsd_legacy_unit
        ))
        .evidence_all(legacy_files)
        .hint(format!(
            "Start it and read why it stopped: `systemctl start {0}; journalctl -b -u {0}`.",
            t.iptsd_legacy_unit
        )),
        // iptsd 0.x runs as `iptsd.service` and reads /dev/ipts, which the HID driver
        // (checked before this link) does not have.
        _ if !installed && !legacy_files.is_empty() => Outcome::failed(format!(
            "only an old iptsd (0.x, {}) is installed: it reads /dev/ipts, which this kernel's HID IPTS driver does not have",
            t.iptsd_legacy_unit
        ))
            .hint(OLD_IPTSD_HINT)
            .evidence_all(legacy_files)
            .evidence(format!("{} not found in the systemd unit directories", t.iptsd_unit)),
        _ if !installed => Outcome::failed("iptsd is not installed: touch data is never turned into input events")
            .evidence(format!("{} not found in the systemd unit directories", t.iptsd_unit)),
        _ if rule.is_none() => Outcome::failed("iptsd is installed but its udev rule is not, so it is never started")
            .evidence(format!("{} not found in the udev rule directories", t.iptsd_rule))
            .hint("Install iptsd's udev rule (NixOS: use `services.iptsd.enable`, which adds it to services.udev.packages)."),
        _ => Outcome::failed("iptsd is installed but not running")
            .evidence(format!("{} installed, no iptsd process", t.iptsd_unit))
            .hint(match &instance {
                Some(i) => format!("Start it and read why it stopped: `systemctl start {i}; journalctl -b -u {i}`."),
                None => "Start it and read why it stopped: `journalctl -b -u 'iptsd@*'`.".to_string(),
            }),
    };
    if let Some(i) = instance {
        o = o.evidence(format!("expected unit: {i}"));
    }
    o
}

fn devices(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    let inputs = match c.inputs() {
        Look::Found(i) => i,
        Look::Unknown(u) | Look::Missing(u) => {
            return Outcome::unknown("cannot list input devices").evidence(u);
        }
    };
    let find = |prefixes: &[&str]| {
        inputs.iter().find(|i| {
            i.name
                .ok()
                .is_some_and(|n| prefixes.iter().any(|p| n.starts_with(p)))
        })
    };
    let touch = find(t.virtual_touch);
    let stylus = find(t.virtual_stylus);
    let ev = |i: &crate::facts::InputDevice| {
        format!(
            "/sys/class/input/{}/name: {}",
            i.sysname,
            i.name.ok().cloned().unwrap_or_default()
        )
    };
    match (touch, stylus) {
        (Some(a), Some(b)) => Outcome::ok("touchscreen and stylus devices present")
            .evidence(ev(a))
            .evidence(ev(b)),
        (Some(a), None) => Outcome::degraded(
            "touchscreen works, but there is no stylus device: the pen will not work",
        )
        .evidence(ev(a)),
        (None, Some(b)) => {
            Outcome::degraded("stylus works, but there is no touchscreen device").evidence(ev(b))
        }
        (None, None) => {
            let o = Outcome::failed("iptsd runs but created no touchscreen or stylus device")
                .evidence("/sys/class/input/*/name: no IPTSD Virtual device");
            // Only the 0.x unit running: an iptsd that looks for /dev/ipts.
            match &c.facts.services.running_units {
                Fact::Ok(u)
                    if u.contains(t.iptsd_legacy_unit)
                        && !u.iter().any(|x| x.starts_with("iptsd@")) =>
                {
                    Outcome::failed(format!(
                        "iptsd runs as {}, the unit of iptsd 0.x, and created no touchscreen or stylus device: iptsd 0.x reads /dev/ipts, which this kernel's HID IPTS driver does not have",
                        t.iptsd_legacy_unit
                    ))
                    .evidence_all(o.evidence)
                    .evidence(format!("/sys/fs/cgroup/system.slice/{}: running", t.iptsd_legacy_unit))
                    .hint(OLD_IPTSD_HINT)
                }
                _ => o,
            }
        }
    }
}
