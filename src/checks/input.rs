//! Input: base keyboard and touchpad (USB), buttons (MSHW0040), lid and tablet-mode
//! switches, lid wake (surface_gpe), event nodes.

use super::ctx::{Base, Ctx, Has, Look, why};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::facts::{Fact, InputDevice};
use crate::root::NodeKind;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "input",
    title: "Keyboard, touchpad, buttons and switches",
    checks: &[
        CheckDef {
            id: "input.keyboard",
            title: "Base keyboard",
            verifies: "With the base attached, the Surface Keyboard (USB 045e:0922) is on the USB bus and has a keyboard input device.",
            rationale: "The keyboard and touchpad of the base are USB devices behind the base's hubs.",
            fix: "Detach and reattach the base; check `lsusb -d 045e:0922` and `journalctl -k -b | grep -i usb`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: keyboard,
        },
        CheckDef {
            id: "input.touchpad",
            title: "Base touchpad",
            verifies: "The Surface Keyboard device also provides a pointer (touchpad) input device.",
            rationale: "Without it the touchpad is dead while the keyboard works.",
            fix: "Enable CONFIG_HID_MULTITOUCH and reattach the base.",
            requires: &["input.keyboard"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: touchpad,
        },
        CheckDef {
            id: "input.buttons",
            title: "Power and volume buttons",
            verifies: "MSHW0040 is bound to soc_button_array and its gpio-keys input devices report KEY_POWER and the volume keys.",
            rationale: "soc_button_array needs the Sunrise Point pinctrl; probed too early it leaves the buttons dead.",
            fix: "Build in or load pinctrl_sunrisepoint early (initrd), then reload soc_button_array: `modprobe -r soc_button_array && modprobe soc_button_array`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: buttons,
        },
        CheckDef {
            id: "input.lid",
            title: "Lid switch",
            verifies: "An input device reports SW_LID.",
            rationale: "Without it closing the lid does not suspend.",
            fix: "Enable CONFIG_ACPI_BUTTON.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: lid,
        },
        CheckDef {
            id: "input.tablet-mode",
            title: "Tablet-mode switch",
            verifies: "The DTX device-mode switch input device reports SW_TABLET_MODE.",
            rationale: "Desktops switch to tablet mode (on-screen keyboard, rotation) from this switch.",
            fix: "Make the DTX driver bind (see detach.dtx-driver).",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: tablet_mode,
        },
        CheckDef {
            id: "input.lid-wake",
            title: "Lid wake (surface_gpe)",
            verifies: "The surface_gpe device is bound to the surface_gpe driver (CONFIG_SURFACE_GPE).",
            rationale: "Without it opening the lid does not wake the machine from suspend.",
            fix: "Enable CONFIG_SURFACE_GPE and load `surface_gpe` (its DMI alias loads it automatically).",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: lid_wake,
        },
        CheckDef {
            id: "input.nodes",
            title: "Event device nodes",
            verifies: "Every input device with an event handler has its /dev/input/eventN character device.",
            rationale: "Desktops and iptsd read only from device nodes.",
            fix: "Check that systemd-udevd runs; `udevadm trigger --subsystem-match=input`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: nodes,
        },
    ],
};

// Event codes from include/uapi/linux/input-event-codes.h.
const EV_KEY: u16 = 1;
const EV_REL: u16 = 2;
const EV_ABS: u16 = 3;
const EV_SW: u16 = 5;
const KEY_Q: u16 = 16;
const KEY_VOLUMEDOWN: u16 = 114;
const KEY_VOLUMEUP: u16 = 115;
const KEY_POWER: u16 = 116;
const BTN_LEFT: u16 = 0x110;
const BTN_TOUCH: u16 = 0x14a;
const SW_LID: u16 = 0;
const SW_TABLET_MODE: u16 = 1;

fn caps<'i>(i: &'i InputDevice, kind: &str) -> &'i [u16] {
    i.capabilities
        .get(kind)
        .and_then(|f| f.ok())
        .map(|v| v.as_slice())
        .unwrap_or(&[])
}

fn has(i: &InputDevice, kind: &str, code: u16) -> bool {
    caps(i, kind).contains(&code)
}

fn name(i: &InputDevice) -> String {
    i.name.ok().cloned().unwrap_or_else(|| i.sysname.clone())
}

fn ev(i: &InputDevice) -> String {
    format!("/sys/class/input/{} ({})", i.sysname, name(i))
}

fn list<'a>(c: &Ctx<'a>) -> Result<&'a [InputDevice], Outcome> {
    match c.inputs() {
        Look::Found(i) => Ok(i),
        Look::Unknown(u) | Look::Missing(u) => {
            Err(Outcome::unknown("cannot list input devices").evidence(u))
        }
    }
}

fn base_inputs<'a>(c: &Ctx<'a>, inputs: &'a [InputDevice]) -> Vec<&'a InputDevice> {
    let ip = &c.profile.input;
    inputs
        .iter()
        .filter(|i| {
            i.id.ok()
                .is_some_and(|id| id.vendor == ip.usb_vendor && id.product == ip.keyboard_product)
        })
        .collect()
}

fn keyboard(c: &Ctx) -> Outcome {
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base is detached").evidence(c.base.1.clone());
    }
    let ip = &c.profile.input;
    let usb = c.find_dev("usb", |d| {
        d.usb_id() == Some((ip.usb_vendor, ip.keyboard_product))
    });
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    match usb {
        Look::Unknown(u) => Outcome::unknown("cannot list USB devices").evidence(u),
        Look::Missing(m) => {
            let o = Outcome::failed("the base keyboard (USB 045e:0922) is not on the USB bus")
                .evidence(format!("{m}: no 045e:0922"));
            if c.base.0 == Base::Attached {
                o.evidence(c.base.1.clone())
            } else {
                o.evidence(format!("base state: {}", c.base.1))
            }
        }
        Look::Found(d) => {
            let kb = base_inputs(c, inputs)
                .into_iter()
                .find(|i| has(i, "ev", EV_KEY) && has(i, "key", KEY_Q));
            match kb {
                Some(i) => Outcome::ok(format!("{} on USB {}", name(i), d.name)).evidence(ev(i)),
                None => Outcome::failed(format!(
                    "the base keyboard is on USB ({}) but has no keyboard input device",
                    d.name
                ))
                .evidence(format!(
                    "/sys/bus/usb/devices/{}/driver: {}",
                    d.name,
                    d.driver.as_deref().unwrap_or("none")
                ))
                .hint("Enable CONFIG_USB_HID and CONFIG_HID_GENERIC; reattach the base."),
            }
        }
    }
}

fn touchpad(c: &Ctx) -> Outcome {
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    let tp = base_inputs(c, inputs).into_iter().find(|i| {
        (has(i, "ev", EV_ABS) && has(i, "key", BTN_TOUCH))
            || (has(i, "ev", EV_REL) && has(i, "key", BTN_LEFT))
    });
    match tp {
        Some(i) => Outcome::ok(format!("{} present", name(i))).evidence(ev(i)),
        None => Outcome::degraded("the keyboard works but there is no touchpad input device")
            .evidence("/sys/class/input: no 045e:0922 device with pointer capabilities"),
    }
}

fn buttons(c: &Ctx) -> Outcome {
    let ip = &c.profile.input;
    let dev = c.by_hid("platform", ip.buttons_hid);
    let bound = c.link_bound("platform", dev, &ip.buttons, "buttons");
    if bound.status != crate::report::Status::Ok {
        return bound;
    }
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    let marker = format!("/{}:", ip.buttons_hid);
    let keys: Vec<&InputDevice> = inputs
        .iter()
        .filter(|i| i.parent.as_deref().is_some_and(|p| p.contains(&marker)))
        .collect();
    let found = |k: u16| keys.iter().any(|i| has(i, "key", k));
    let missing: Vec<&str> = [
        (KEY_POWER, "power"),
        (KEY_VOLUMEUP, "volume up"),
        (KEY_VOLUMEDOWN, "volume down"),
    ]
    .iter()
    .filter(|(k, _)| !found(*k))
    .map(|(_, n)| *n)
    .collect();
    if keys.is_empty() {
        let o = Outcome::failed("soc_button_array is bound but created no gpio-keys input devices")
            .evidence_all(bound.evidence)
            .evidence(format!(
                "/sys/class/input: no device under {}",
                ip.buttons_hid
            ));
        // The known cause is a probe before the Sunrise Point pinctrl was ready, which a
        // built-in pinctrl rules out.
        match c.kernel_has(&c.profile.detach.pinctrl) {
            Has::Builtin(e) => o
                .evidence(e)
                .hint("pinctrl is built in, so this is not the pinctrl load-order race: reload soc_button_array (`modprobe -r soc_button_array && modprobe soc_button_array`) and read `journalctl -k -b | grep -i -e soc_button -e gpio-keys`."),
            Has::Module(e) => o
                .summary_suffix(" (probed before the pinctrl module was loaded)")
                .evidence(format!("pinctrl is a module: {e}")),
            _ => o.summary_suffix(" (probed before pinctrl?)"),
        }
    } else if missing.is_empty() {
        Outcome::ok("power, volume up and volume down buttons present")
            .evidence_all(keys.iter().map(|i| ev(i)))
    } else {
        Outcome::degraded(format!("button(s) missing: {}", missing.join(", ")))
            .evidence_all(keys.iter().map(|i| ev(i)))
    }
}

fn lid(c: &Ctx) -> Outcome {
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    match inputs
        .iter()
        .find(|i| has(i, "ev", EV_SW) && has(i, "sw", SW_LID))
    {
        Some(i) => Outcome::ok(format!("{} reports SW_LID", name(i))).evidence(ev(i)),
        None => {
            let acpi = c.by_hid("acpi", c.profile.input.lid_hid);
            let o = Outcome::failed("no input device reports the lid switch (SW_LID)")
                .evidence("/sys/class/input/*/capabilities/sw: no SW_LID");
            match acpi {
                Look::Found(d) => o.evidence(format!("/sys/bus/acpi/devices/{} exists", d.name)),
                _ => o,
            }
        }
    }
}

fn tablet_mode(c: &Ctx) -> Outcome {
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    let want = c.profile.detach.tablet_switch_name;
    match inputs
        .iter()
        .find(|i| has(i, "ev", EV_SW) && has(i, "sw", SW_TABLET_MODE))
    {
        Some(i) => Outcome::ok(format!("{} reports SW_TABLET_MODE", name(i))).evidence(ev(i)),
        None => {
            let d = &c.profile.detach;
            let dtx = c.by_hid("platform", d.dtx_hid);
            let bound = matches!(&dtx, Look::Found(x) if x.driver.as_deref() == Some(d.dtx.driver));
            let o = Outcome::failed(format!("no tablet-mode switch (\"{want}\")"))
                .evidence("/sys/class/input/*/capabilities/sw: no SW_TABLET_MODE");
            if bound {
                o
            } else {
                o.summary_suffix("; the DTX driver is not bound (see detach)")
            }
        }
    }
}

fn lid_wake(c: &Ctx) -> Outcome {
    let ip = &c.profile.input;
    let dev = c.find_dev("platform", |d| d.name == ip.gpe_device);
    match dev {
        Look::Missing(m) => {
            let o = c.link_kernel_has(&ip.gpe, "lid wake");
            if o.status == crate::report::Status::Ok {
                Outcome::failed("surface_gpe is available but not loaded: opening the lid will not wake the machine")
                    .evidence(format!("{m}: no {}", ip.gpe_device))
                    .evidence_all(o.evidence)
                    .hint("Load it: `modprobe surface_gpe` (and check that it is not blacklisted).")
            } else {
                Outcome::failed(format!(
                    "{}: opening the lid will not wake the machine",
                    o.summary
                ))
                .evidence_all(o.evidence)
            }
        }
        dev => c.link_bound("platform", dev, &ip.gpe, "lid wake"),
    }
}

fn nodes(c: &Ctx) -> Outcome {
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    let mut n = 0;
    for i in inputs {
        if let (Some(e), Some(node)) = (&i.event, &i.node) {
            n += 1;
            match node {
                Fact::Ok(NodeKind::CharDevice { .. }) => {}
                Fact::Unknown { .. } => unknown.push(why(node)),
                _ => missing.push(format!("/dev/input/{e} ({})", name(i))),
            }
        }
    }
    if !missing.is_empty() {
        Outcome::failed(format!(
            "{} of {n} event nodes missing in /dev/input",
            missing.len()
        ))
        .evidence_all(missing)
    } else if !unknown.is_empty() {
        Outcome::unknown("some event nodes cannot be examined").evidence_all(unknown)
    } else if n == 0 {
        Outcome::failed("no input device has an event node")
            .evidence("/sys/class/input/*/event*: none")
    } else {
        Outcome::ok(format!("{n} event nodes present")).evidence("/dev/input")
    }
}

impl Outcome {
    fn summary_suffix(mut self, s: &str) -> Outcome {
        self.summary.push_str(s);
        self
    }
}
