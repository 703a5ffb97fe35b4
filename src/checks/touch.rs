//! Touchscreen and pen: MEI -> ipts -> HID/hidraw -> iptsd -> virtual input devices.

use super::ctx::{Ctx, Has, Look, why};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::facts::Fact;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "touch",
    title: "Touchscreen and pen (IPTS)",
    checks: &[
        CheckDef {
            id: "touch.mei",
            title: "IPTS MEI function",
            verifies: "The Intel ME iTouch function (PCI 8086:9d3e, 00:16.4) is present and bound to mei_me.",
            rationale: "IPTS talks to the touch controller through this ME function; without it there is no touch device at all.",
            fix: "Enable CONFIG_INTEL_MEI_ME and load `mei_me`; if the function is missing from `lspci -nn`, reset the UEFI settings.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: mei,
        },
        CheckDef {
            id: "touch.ipts-driver",
            title: "IPTS driver in the kernel",
            verifies: "The kernel has the HID IPTS driver (CONFIG_HID_IPTS, module `ipts`), and not only the pre-2023 MISC_IPTS driver.",
            rationale: "The IPTS driver exists only in linux-surface kernels; without it the touchscreen and pen are dead.",
            fix: "Boot a linux-surface kernel with CONFIG_HID_IPTS=m (NixOS: nixos-hardware `microsoft-surface-common`).",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: ipts_driver,
        },
        CheckDef {
            id: "touch.ipts-bound",
            title: "IPTS bound",
            verifies: "The IPTS MEI client (uuid 3e8d0870-...) exists on the MEI bus and is bound to the `ipts` driver.",
            rationale: "The driver must bind to the ME client to start the touch controller.",
            fix: "Load the driver: `modprobe ipts`; if it is loaded and unbound, see `journalctl -k -b | grep -i ipts`.",
            requires: &["touch.mei", "touch.ipts-driver"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: ipts_bound,
        },
        CheckDef {
            id: "touch.hid",
            title: "IPTS HID device",
            verifies: "The IPTS HID device (`0000:045E:0020/0021`) exists with a hidraw node.",
            rationale: "iptsd reads raw touch data from this hidraw node.",
            fix: "Reload the driver (`rmmod ipts && modprobe ipts`) and read `journalctl -k -b | grep -i ipts`.",
            requires: &["touch.ipts-bound"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: hid,
        },
        CheckDef {
            id: "touch.iptsd",
            title: "iptsd running",
            verifies: "iptsd (the user-space touch processor) is installed with its udev rule and runs for the IPTS hidraw node (`iptsd@dev-hidrawN.service`).",
            rationale: "The kernel only forwards raw heatmaps; without iptsd there are no touch or pen events.",
            fix: "Install iptsd (NixOS: `services.iptsd.enable = true;`), then `systemctl start iptsd@$(systemd-escape --path /dev/hidrawN).service` or replug by rebooting.",
            requires: &["touch.hid"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: iptsd,
        },
        CheckDef {
            id: "touch.devices",
            title: "Touchscreen and stylus input devices",
            verifies: "iptsd's virtual touchscreen and stylus input devices exist.",
            rationale: "Desktops receive touch and pen only through these devices.",
            fix: "Restart iptsd and read its log: `journalctl -b -u 'iptsd@*'`.",
            requires: &["touch.iptsd"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: devices,
        },
    ],
};

fn mei(c: &Ctx) -> Outcome {
    let f = &c.profile.touch.mei_pci;
    let d = crate::profiles::Driver {
        config: f.config,
        module: f.module,
        driver: f.driver,
    };
    match c.pci(f) {
        Look::Missing(m) => Outcome::failed(format!(
            "the ME iTouch function {:04x}:{:04x} is not on the PCI bus",
            f.vendor, f.device
        ))
        .evidence(m),
        dev => c.link_bound("pci", dev, &d, "ME iTouch function"),
    }
}

fn ipts_driver(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    // The pre-2023 MISC_IPTS driver's module is also called `ipts`: a loaded `ipts`
    // is the HID driver only when the config does not say otherwise.
    let hid_in_config = c.config(t.ipts.config).is_some_and(|v| !v.is_empty());
    if !hid_in_config && let Some(o) = legacy_ipts(c) {
        return o;
    }
    if let Has::No(e) = c.kernel_has(&t.ipts)
        && c.surface_patches().0 == Some(false)
    {
        return Outcome::failed(
            "no IPTS driver: this is a stock kernel without the linux-surface patches",
        )
        .evidence(e);
    }
    c.link_kernel_has(&t.ipts, "IPTS")
}

/// The pre-2023 MISC_IPTS driver (`/dev/ipts/*`, for iptsd <= 0.5.1), told by its
/// config option, its device nodes or its module under drivers/misc.
fn legacy_ipts(c: &Ctx) -> Option<Outcome> {
    let t = &c.profile.touch;
    let mut ev = Vec::new();
    if let Some(v) = c.config("MISC_IPTS").filter(|v| !v.is_empty()) {
        let src = c.facts.config.ok().map(|c| c.source.as_str()).unwrap_or("");
        ev.push(format!("{src}: CONFIG_MISC_IPTS={v}"));
    }
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
    if ev.is_empty() {
        return None;
    }
    // An iptsd 0.x on this kernel works: its input devices are the proof.
    let working: Vec<String> = match c.inputs() {
        Look::Found(inputs) => inputs
            .iter()
            .filter_map(|i| i.name.ok())
            .filter(|n| {
                t.virtual_touch
                    .iter()
                    .chain(t.virtual_stylus)
                    .any(|p| n.starts_with(p))
            })
            .map(|n| format!("input device: {n}"))
            .collect(),
        _ => Vec::new(),
    };
    if !working.is_empty() {
        return Some(
            Outcome::degraded(
                "touch runs on the pre-2023 MISC_IPTS driver (/dev/ipts) with an iptsd 0.x: it works, but this generation is unmaintained",
            )
            .evidence_all(ev)
            .evidence_all(working)
            .hint("Update the kernel and iptsd together: a current linux-surface kernel (HID_IPTS) with iptsd >= 1.0."),
        );
    }
    Some(
        Outcome::failed(
            "the kernel has the pre-2023 MISC_IPTS driver (/dev/ipts), not HID_IPTS: current iptsd cannot use it",
        )
        .evidence_all(ev)
        .hint("Kernel and iptsd generations do not match: update to a current linux-surface kernel (HID_IPTS), or use iptsd <= 0.5.1 with this kernel."),
    )
}

fn ipts_bound(c: &Ctx) -> Outcome {
    let t = &c.profile.touch;
    let dev = c.find_dev("mei", |d| {
        d.name.to_ascii_lowercase().ends_with(t.mei_client_uuid)
            || d.attrs
                .get("uuid")
                .is_some_and(|u| u.eq_ignore_ascii_case(t.mei_client_uuid))
    });
    match dev {
        Look::Missing(m) => Outcome::failed("the IPTS ME client is not on the MEI bus (the ME firmware did not expose it)")
            .evidence(m)
            .hint("Power the machine off completely (not reboot) and start again; if it persists, boot Windows once to reset the ME."),
        dev => c.link_bound("mei", dev, &t.ipts, "IPTS ME client"),
    }
}

fn hid(c: &Ctx) -> Outcome {
    match c.ipts_hid() {
        Look::Found(d) if !d.children.is_empty() => {
            Outcome::ok(format!("{} with {}", d.name, d.children.join(", ")))
                .evidence(format!("/sys/bus/hid/devices/{}/hidraw", d.name))
        }
        Look::Found(d) => Outcome::failed(format!("{} has no hidraw node", d.name))
            .evidence(format!("/sys/bus/hid/devices/{}/hidraw: not found", d.name))
            .hint("Enable CONFIG_HIDRAW; iptsd needs /dev/hidrawN."),
        Look::Missing(m) => Outcome::failed(
            "ipts is bound but created no HID device: the touch controller did not start",
        )
        .evidence(m),
        Look::Unknown(u) => Outcome::unknown("cannot list HID devices").evidence(u),
    }
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
    let files = |unit: &str| {
        s.units
            .get(unit)
            .map(|u| u.files.clone())
            .unwrap_or_default()
    };
    let installed = !files(t.iptsd_unit).is_empty();
    let legacy_files = files(t.iptsd_legacy_unit);
    let rule = s.udev_rules.iter().find(|r| r.contains("iptsd"));
    let mut o = match (&s.processes, &s.running_units) {
        (Fact::Unknown { .. }, Fact::Unknown { .. }) => {
            return Outcome::unknown("cannot see running processes or services")
                .evidence(why(&s.processes))
                .evidence(why(&s.running_units));
        }
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
