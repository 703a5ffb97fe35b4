//! Input: base keyboard and touchpad (USB), buttons (MSHW0040), lid and tablet-mode
//! switches, lid wake (surface_gpe), event nodes.

use super::ctx::{
    Base, Ctx, Has, Look, NodeSeen, SW_LID, SW_TABLET_MODE, denied_by_device, device_caps,
    device_says, evdev_answer, event_node, input_caps, slash, why,
};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::{Fact, InputDevice};

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "input",
    title: "Keyboard, touchpad, buttons and switches",
    checks: &[
        CheckDef {
            id: "input.keyboard",
            title: "Base keyboard",
            verifies: "With the base attached, the Surface Keyboard (USB 045e:0922) is on the USB bus and has a keyboard input device. In tablet mode (the DTX device mode tablet or studio, or the DTX switch's SW_TABLET_MODE on) a keyboard that is not there is not judged.",
            rationale: "The keyboard and touchpad of the base are USB devices behind the base's hubs.",
            fix: "With the base attached: if the kernel has no USB bus, use one with CONFIG_USB and CONFIG_USB_XHCI_HCD; otherwise detach and reattach the base and check `lsusb -d 045e:0922` and `journalctl -k -b | grep -i usb`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "The base keyboard is USB 045e:0922 (usb 1-1.3) behind the base hubs 045e:0941-0944; hid-generic binds it first, then hid-multitouch",
                "§1.9, §6 USB, §7; records note 4; hw-probe 79D657BBD855, 5B3E4C5AAEC5, DAD0271D40B8, 098A00936EA6, 44CB94E9B7BC",
            )],
            proven_by: "nothing later proves it (its own input device is the last link)",
            captured: "sysfs shows the USB device and its inputs; the binding lines only with --dmesg. A tree without /sys/bus/usb means a kernel without a USB bus. The device mode and the switch states are read only from the live devices (as root).",
            run: keyboard,
        },
        CheckDef {
            id: "input.touchpad",
            title: "Base touchpad",
            verifies: "The Surface Keyboard device also provides a pointer (touchpad) input device.",
            rationale: "Without it the touchpad is dead while the keyboard works.",
            fix: "If the kernel lacks CONFIG_HID_MULTITOUCH, use one that has it; otherwise detach and reattach the base.",
            requires: &["input.keyboard"],
            basis: &[fact(
                Tag::Verified,
                "The touchpad is \"Microsoft Surface Keyboard Touchpad\" on the same USB device 045e:0922 (no separate device), created once hid-multitouch binds",
                "§7 Inputs; records note 4; hw-probe 79D657BBD855, 5B3E4C5AAEC5, DAD0271D40B8",
            )],
            proven_by: "nothing later proves it",
            captured: "sysfs input capabilities decide; /dev is not judged.",
            run: touchpad,
        },
        CheckDef {
            id: "input.buttons",
            title: "Power and volume buttons",
            verifies: "MSHW0040 is bound to soc_button_array and its gpio-keys input devices report KEY_POWER and the volume keys.",
            rationale: "soc_button_array needs the Sunrise Point pinctrl; probed too early it leaves the buttons dead.",
            fix: "If the buttons probed before a modular pinctrl_sunrisepoint, put it in the initrd or build it in; then reload soc_button_array: `modprobe -r soc_button_array && modprobe soc_button_array`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "The power and volume buttons are two gpio-keys devices under MSHW0040:00 bound by soc_button_array (instance numbers vary: .1/.2 or .8/.9)",
                "§6, §7; records note 5; all six hw-probe records",
            )],
            proven_by: "nothing later proves it (the gpio-keys inputs are the last link); the load-order cause (F11) is [I] and is named only when the kernel log shows it",
            captured: "sysfs shows MSHW0040:00, its driver and the gpio-keys inputs; probe and defer lines only with --dmesg.",
            run: buttons,
        },
        CheckDef {
            id: "input.lid",
            title: "Lid switch",
            verifies: "An input device reports SW_LID.",
            rationale: "Without it closing the lid does not suspend.",
            fix: "If the kernel lacks CONFIG_ACPI_BUTTON use one that has it; if it is a module, load `button`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "The lid is LID0 on PNP0C0D, \"Lid Switch\" from the ACPI button driver, reporting SW_LID (the 15\" also logs the harmless \"not compliant to SW_LID\")",
                "§6, §7; records note 7; hw-probe 79D657BBD855, 5B3E4C5AAEC5, DAD0271D40B8, 098A00936EA6, 44CB94E9B7BC",
            )],
            proven_by: "nothing later proves it",
            captured: "sysfs input capabilities decide; the `Lid Switch [LID0]` line only with --dmesg.",
            run: lid,
        },
        CheckDef {
            id: "input.tablet-mode",
            title: "Tablet-mode switch",
            verifies: "The DTX device-mode switch input device reports SW_TABLET_MODE.",
            rationale: "Desktops switch to tablet mode (on-screen keyboard, rotation) from this switch.",
            fix: "Make the DTX driver bind (see detach.dtx-driver).",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "surface_dtx creates \"Microsoft Surface DTX Device Mode Switch\" under MSHW0133:00 whenever the serial hub binds",
                "§7 Inputs; records note 6; hw-probe 79D657BBD855, 5B3E4C5AAEC5, 098A00936EA6, 44CB94E9B7BC",
            )],
            proven_by: "nothing later proves it",
            captured: "sysfs input capabilities decide.",
            run: tablet_mode,
        },
        CheckDef {
            id: "input.lid-wake",
            title: "Lid wake (surface_gpe)",
            verifies: "The surface_gpe device is bound to the surface_gpe driver (CONFIG_SURFACE_GPE).",
            rationale: "Without it opening the lid does not wake the machine from suspend.",
            fix: "If the kernel lacks CONFIG_SURFACE_GPE use one that has it; if it is a module, load `surface_gpe` (its DMI alias loads it automatically).",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "surface_gpe matches DMI product_name \"Surface Book 2\" and registers its platform device surface_gpe",
                "§0 (K surface_gpe.c); the QEMU layer (tests/vm.rs) sees the device on the SB2 DMI",
            )],
            proven_by: "nothing later proves it (that lid wake needs it is [I], F12)",
            captured: "sysfs shows the surface_gpe platform device and driver; GPE state is not captured.",
            run: lid_wake,
        },
        CheckDef {
            id: "input.nodes",
            title: "Event device nodes",
            verifies: "Every input device with an event handler has its /dev/input/eventN character device.",
            rationale: "Desktops and iptsd read only from device nodes.",
            fix: "Check that systemd-udevd runs; `udevadm trigger --subsystem-match=input`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "Every input device with an evdev handler (eventN in sysfs) gets /dev/input/eventN from devtmpfs and udev",
                "K drivers/input/evdev.c; the QEMU layer (tests/vm.rs)",
            )],
            proven_by: "nothing later proves it",
            captured: "a captured tree's /dev may hold plain files or nothing: there the sysfs event handler (and its udev record) decides and /dev/input is judged only on the live root",
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

fn caps<'i>(i: &'i InputDevice, kind: &str) -> &'i [u16] {
    input_caps(i, kind)
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

/// Why it cannot be told that none of `inputs` has the capabilities of `kinds`: the
/// capability files that exist but cannot be read, as evidence.
fn caps_unknown<'i>(
    inputs: impl IntoIterator<Item = &'i InputDevice>,
    kinds: &[&str],
) -> Vec<String> {
    inputs
        .into_iter()
        .flat_map(|i| {
            kinds.iter().filter_map(|k| {
                if evdev_answer(i).and_then(|e| device_caps(e, k)).is_some() {
                    return None;
                }
                match i.capabilities.get(*k) {
                    Some(f @ Fact::Unknown { .. }) => Some(why(f)),
                    _ => None,
                }
            })
        })
        .collect()
}

/// The input devices whose ids cannot be read (any of them may be the base's), as
/// evidence.
fn ids_unknown(inputs: &[InputDevice]) -> Vec<String> {
    inputs
        .iter()
        .filter(|i| matches!(i.id, Fact::Unknown { .. }))
        .map(|i| why(&i.id))
        .collect()
}

/// Why it cannot be told that the base keyboard has no input device with the
/// capabilities `kinds`: ids or capabilities that cannot be read.
fn base_unknown(c: &Ctx, inputs: &[InputDevice], kinds: &[&str]) -> Vec<String> {
    let mut u = ids_unknown(inputs);
    u.extend(caps_unknown(base_inputs(c, inputs), kinds));
    u
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

/// Kernel-log lines about the base keyboard's HID device.
fn keyboard_log(c: &Ctx) -> Vec<String> {
    c.log_lines(&["0003:045E:0922"])
        .into_iter()
        .filter(|l| l.contains("hid-generic") || l.contains("hid-multitouch"))
        .collect()
}

/// A hint that names only the options of `opts` this kernel's config shows unset,
/// or says that the config cannot tell.
fn options_hint(c: &Ctx, opts: &[&str], otherwise: &str) -> String {
    if c.facts.config.ok().is_none() {
        return format!(
            "This kernel's config cannot be read; it needs CONFIG_{}. {otherwise}",
            opts.join(", CONFIG_")
        );
    }
    let unset = c.unset_options(opts);
    if unset.is_empty() {
        otherwise.to_string()
    } else {
        format!(
            "Use a kernel built with CONFIG_{} (this one has it unset).",
            unset.join(", CONFIG_")
        )
    }
}

fn keyboard(c: &Ctx) -> Outcome {
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base is detached").evidence(c.base.1.clone());
    }
    let ip = &c.profile.input;
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    // No USB bus at all: the kernel or its host controller is the cause, not the base.
    if let Some(Fact::Absent { path }) = c.facts.buses.get("usb") {
        let o = Outcome::failed(
            "the base keyboard cannot be found: this kernel shows no USB bus at all",
        )
        .evidence(format!(
            "{}: not found (the kernel registered no USB bus)",
            slash(path.trim_end_matches("/devices"))
        ));
        let cause = match c.pci_id(c.profile.input.xhci) {
            Look::Missing(m) => format!(
                "The USB controller (PCI 8086:9d2f, 00:14.0) is not found either ({m}): the cause cannot be told from here; `lspci -nn` and `journalctl -k -b | grep -i xhci` would tell."
            ),
            Look::Found(x) if x.driver.is_none() => format!(
                "The USB controller {} has no driver: read `journalctl -k -b | grep -i -e xhci -e {}`.",
                x.name, x.name
            ),
            _ => "The cause cannot be told from here: `journalctl -k -b | grep -i usb` would tell."
                .to_string(),
        };
        return o.hint(options_hint(
            c,
            &["USB", "USB_XHCI_HCD", "USB_XHCI_PCI"],
            &cause,
        ));
    }
    let usb = c.usb_id((ip.usb_vendor, ip.keyboard_product));
    match usb {
        Look::Unknown(u) => Outcome::unknown(format!(
            "cannot tell whether the base keyboard (USB {:04x}:{:04x}) is on the USB bus",
            ip.usb_vendor, ip.keyboard_product
        ))
        .evidence(u),
        Look::Missing(m) => {
            let missing = format!("{m}: no 045e:0922");
            if let Some(o) = keyboard_off(
                c,
                "the base keyboard (USB 045e:0922) is not on the USB bus",
                &missing,
            ) {
                return o;
            }
            let o = Outcome::failed("the base keyboard (USB 045e:0922) is not on the USB bus")
                .evidence(missing)
                .evidence_all(mode_evidence(c));
            if c.base.0 == Base::Attached {
                o.evidence(c.base.1.clone()).hint(
                    "The base's hubs are there but its keyboard is not: detach and re-attach the base, and read `journalctl -k -b | grep -i -e 1-1.3 -e 045e`.",
                )
            } else {
                o.evidence(format!("base state: {}", c.base.1)).hint(
                    "Neither the keyboard nor the base's hubs are on USB, and the base state is unknown: if the base is attached, detach and re-attach it; `journalctl -k -b | grep -i -e usb -e 045e` would tell.",
                )
            }
        }
        Look::Found(d) => {
            let kb = base_inputs(c, inputs)
                .into_iter()
                .find(|i| has(i, "ev", EV_KEY) && has(i, "key", KEY_Q));
            match kb {
                Some(i) => Outcome::ok(format!("{} on USB {}", name(i), d.name))
                    .evidence(ev(i))
                    .evidence_all(device_says(i, "key", KEY_Q, "KEY_Q"))
                    .evidence_all(keyboard_log(c)),
                None if !base_unknown(c, inputs, &["ev", "key"]).is_empty() => {
                    Outcome::unknown(format!(
                        "the base keyboard is on USB ({}); whether it has a keyboard input device cannot be read",
                        d.name
                    ))
                    .evidence_all(base_unknown(c, inputs, &["ev", "key"]))
                }
                None => no_keyboard_input(c, inputs, d),
            }
        }
    }
}

/// The base keyboard is on USB but none of its input devices has keys.
fn no_keyboard_input(c: &Ctx, inputs: &[InputDevice], d: &crate::facts::BusDevice) -> Outcome {
    let what = format!(
        "the base keyboard is on USB ({}) but has no keyboard input device",
        d.name
    );
    let no_input = format!(
        "/sys/class/input: no 045e:0922 device with keys ({})",
        d.name
    );
    if let Some(o) = keyboard_off(c, &what, &no_input) {
        return o;
    }
    let hint = options_hint(
        c,
        &["USB_HID", "HID_GENERIC"],
        "The cause cannot be told from here: `journalctl -k -b | grep -i 045E:0922` would tell; detaching and re-attaching the base re-probes it.",
    );
    Outcome::failed(what)
        .evidence(format!(
            "/sys/bus/usb/devices/{}/driver: {}",
            d.name,
            d.driver.as_deref().unwrap_or("none")
        ))
        .evidence_all(denied_by_device(
            base_inputs(c, inputs),
            "key",
            KEY_Q,
            "KEY_Q",
        ))
        .evidence_all(mode_evidence(c))
        .evidence_all(keyboard_log(c))
        .hint(hint)
}

/// A keyboard (or touchpad) that is not there while the machine is in tablet mode: the
/// clipboard is detached, or sits reversed on the base where the keyboard and touchpad
/// are off (UAPI `SDTX_DEVICE_MODE_STUDIO`, §1.3). Not a missing keyboard, and not
/// one that can be judged now: absent, with a notice saying what was not seen. `None`
/// when the machine is in laptop mode or its mode cannot be told.
fn keyboard_off(c: &Ctx, what: &str, missing: &str) -> Option<Outcome> {
    let (true, mode) = c.tablet_mode()? else {
        return None;
    };
    Some(
        Outcome::absent("not judged in tablet mode: the keyboard and touchpad are out of use")
            .evidence(mode)
            .evidence(missing.to_string())
            .notice(format!(
                "{what}, but the machine is in tablet mode (the clipboard detached or reversed on the base), where that is expected; run the check again in laptop mode"
            )),
    )
}

/// How the clipboard sits, as evidence for a verdict on the base's devices: the mode
/// the devices answered, or, on the live system, why it could not be read.
fn mode_evidence(c: &Ctx) -> Vec<String> {
    match c.tablet_mode() {
        Some((_, e)) => vec![e],
        None if c.live() => match &c.facts.dtx.state {
            Fact::Ok(s) => vec![format!("/dev/surface/dtx: {}", s.mode())],
            f => vec![format!("tablet mode not read: {}", why(f))],
        },
        None => Vec::new(),
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
        None if !base_unknown(c, inputs, &["ev", "key", "abs", "rel"]).is_empty() => {
            Outcome::unknown("whether the base keyboard has a touchpad input device cannot be read")
                .evidence_all(base_unknown(c, inputs, &["ev", "key", "abs", "rel"]))
        }
        None => {
            let missing = "/sys/class/input: no 045e:0922 device with pointer capabilities";
            if let Some(o) =
                keyboard_off(c, "the keyboard is there but its touchpad is not", missing)
            {
                return o;
            }
            let o = Outcome::degraded("the keyboard works but there is no touchpad input device")
                .evidence(missing)
                .evidence_all(mode_evidence(c))
                .evidence_all(keyboard_log(c));
            match c.provide_fix(&c.profile.input.keyboard_hid) {
                Some(h) => o.hint(format!(
                    "The touchpad is driven by hid-multitouch (it takes the keyboard over from hid-generic): {h}"
                )),
                None => o.hint("hid_multitouch is in this kernel: the cause cannot be told from here; `journalctl -k -b | grep -i 045E:0922` would tell, and detaching and re-attaching the base re-probes it."),
            }
        }
    }
}

fn buttons(c: &Ctx) -> Outcome {
    let ip = &c.profile.input;
    let dev = c.by_hid("platform", ip.buttons_hid);
    if let Look::Missing(m) = &dev {
        let acpi = match c.by_hid("acpi", ip.buttons_hid) {
            Look::Found(a) => format!("/sys/bus/acpi/devices/{} exists", a.name),
            Look::Missing(a) => format!("{a}: no {} either", ip.buttons_hid),
            Look::Unknown(u) => u,
        };
        return Outcome::failed(format!("buttons: {} not found", ip.buttons_hid))
            .evidence(format!("{m}: no {}", ip.buttons_hid))
            .evidence(acpi)
            .hint(format!(
                "The cause cannot be told from here: the firmware lists no {h} platform device. `ls /sys/bus/acpi/devices | grep {h}` and `journalctl -k -b | grep {h}` would tell.",
                h = ip.buttons_hid
            ));
    }
    let bound = c.link_bound("platform", dev, &ip.buttons, "buttons");
    if bound.status != crate::report::Status::Ok {
        return bound;
    }
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    // gpio-keys.N.auto under MSHW0040:00; N varies between boots (.1/.2, .8/.9).
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
        let log: Vec<String> = c
            .log_lines(&[ip.buttons_hid])
            .into_iter()
            .chain(c.log_lines(&["soc_button_array"]))
            .collect();
        let o = Outcome::failed("soc_button_array is bound but created no gpio-keys input devices")
            .evidence_all(bound.evidence)
            .evidence(format!(
                "/sys/class/input: no device under {}",
                ip.buttons_hid
            ))
            .evidence_all(log.clone());
        let reload = "`modprobe -r soc_button_array && modprobe soc_button_array`";
        // The known cause is a probe before the Sunrise Point pinctrl was ready (F11),
        // which a built-in pinctrl rules out; a module pinctrl makes it possible, and
        // only the kernel log shows it.
        match c.kernel_has(&c.profile.detach.pinctrl) {
            Has::Builtin(e) => o
                .evidence(e)
                .hint(format!("pinctrl is built in, so this is not the pinctrl load-order race: reload soc_button_array ({reload}) and read `journalctl -k -b | grep -i -e soc_button -e gpio-keys`.")),
            Has::Module(e) => {
                let shown = log.iter().any(|l| {
                    let l = l.to_ascii_lowercase();
                    l.contains("defer") || l.contains("gpio") && l.contains("fail")
                });
                let o = o.evidence(format!("pinctrl is a module: {e}"));
                if shown {
                    o.summary_suffix(" (probed before the pinctrl module was ready, as the kernel log shows)")
                        .hint(format!("Put pinctrl_sunrisepoint in the initrd (NixOS: `boot.initrd.kernelModules`) or build it in; for now reload soc_button_array: {reload}."))
                } else {
                    o.summary_suffix(" (pinctrl is a module, so it may have probed before the pinctrl module was ready; no kernel log line shows it)")
                        .hint(format!("The kernel log would tell (`journalctl -k -b | grep -i -e soc_button -e gpio-keys -e MSHW0040`). If it probed before pinctrl, put pinctrl_sunrisepoint in the initrd (NixOS: `boot.initrd.kernelModules`); for now reload soc_button_array: {reload}."))
                }
            }
            _ => o
                .summary_suffix(" (cannot tell whether pinctrl is built in)")
                .hint(format!("The kernel log would tell: `journalctl -k -b | grep -i -e soc_button -e gpio-keys -e pinctrl`; reload soc_button_array: {reload}.")),
        }
    } else if missing.is_empty() {
        let confirmed: Vec<String> = keys
            .iter()
            .flat_map(|i| {
                [
                    (KEY_POWER, "KEY_POWER"),
                    (KEY_VOLUMEUP, "KEY_VOLUMEUP"),
                    (KEY_VOLUMEDOWN, "KEY_VOLUMEDOWN"),
                ]
                .into_iter()
                .filter(|(k, _)| has(i, "key", *k))
                .filter_map(|(k, n)| device_says(i, "key", k, n))
            })
            .collect();
        Outcome::ok("power, volume up and volume down buttons present")
            .evidence_all(keys.iter().map(|i| ev(i)))
            .evidence_all(confirmed)
    } else if !caps_unknown(keys.iter().copied(), &["key"]).is_empty() {
        Outcome::unknown(format!(
            "whether the gpio-keys devices report {} cannot be read",
            missing.join(", ")
        ))
        .evidence_all(caps_unknown(keys.iter().copied(), &["key"]))
    } else {
        let denied: Vec<String> = [
            (KEY_POWER, "KEY_POWER"),
            (KEY_VOLUMEUP, "KEY_VOLUMEUP"),
            (KEY_VOLUMEDOWN, "KEY_VOLUMEDOWN"),
        ]
        .into_iter()
        .flat_map(|(k, n)| denied_by_device(keys.iter().copied(), "key", k, n))
        .collect();
        Outcome::degraded(format!("button(s) missing: {}", missing.join(", ")))
            .evidence_all(keys.iter().map(|i| ev(i)))
            .evidence_all(denied)
            .hint("The cause cannot be told from here: `journalctl -k -b | grep -i gpio-keys` would tell; reload soc_button_array.")
    }
}

fn lid(c: &Ctx) -> Outcome {
    let inputs = match list(c) {
        Ok(i) => i,
        Err(o) => return o,
    };
    // Records: `ACPI: button: Lid Switch [LID0]` (>= 5.14) or `ACPI: Lid Switch [LID0]`
    // (5.10); the 15" also warns "The lid device is not compliant to SW_LID.", which is
    // harmless.
    let log: Vec<String> = c
        .log_lines(&["Lid Switch [LID0]"])
        .into_iter()
        .chain(c.log_lines(&["not compliant to SW_LID"]))
        .collect();
    match inputs
        .iter()
        .find(|i| has(i, "ev", EV_SW) && has(i, "sw", SW_LID))
    {
        Some(i) => Outcome::ok(format!("{} reports SW_LID", name(i)))
            .evidence(ev(i))
            .evidence_all(device_says(i, "sw", SW_LID, "SW_LID"))
            .evidence_all(c.lid_closed().map(|(_, e)| e))
            .evidence_all(log),
        None if !caps_unknown(inputs, &["ev", "sw"]).is_empty() => Outcome::unknown(
            "whether an input device reports the lid switch (SW_LID) cannot be read",
        )
        .evidence_all(caps_unknown(inputs, &["ev", "sw"]))
        .evidence_all(log),
        None => {
            let acpi = c.by_hid("acpi", c.profile.input.lid_hid);
            let denied = denied_by_device(inputs, "sw", SW_LID, "SW_LID");
            let o = Outcome::failed("no input device reports the lid switch (SW_LID)")
                .evidence(if denied.is_empty() {
                    "/sys/class/input/*/capabilities/sw: no SW_LID"
                } else {
                    "no event device reports SW_LID"
                })
                .evidence_all(denied)
                .evidence_all(log);
            match acpi {
                Look::Missing(m) => o
                    .summary_suffix(&format!("; no {} lid device found", c.profile.input.lid_hid))
                    .evidence(format!("{m}: no {}", c.profile.input.lid_hid))
                    .hint("The firmware lists no lid device: the cause cannot be told from here; `ls /sys/bus/acpi/devices | grep PNP0C0D` and `journalctl -k -b | grep -i lid` would tell."),
                found => {
                    let o = match found {
                        Look::Found(d) => o.evidence(format!("/sys/bus/acpi/devices/{} exists", d.name)),
                        _ => o,
                    };
                    match c.provide_fix(&c.profile.input.lid) {
                        Some(h) => o.hint(format!("The ACPI button driver reports the lid: {h}")),
                        None => o.hint("The ACPI button driver is in this kernel: the cause cannot be told from here; `journalctl -k -b | grep -i lid` would tell."),
                    }
                }
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
        Some(i) => Outcome::ok(format!("{} reports SW_TABLET_MODE", name(i)))
            .evidence(ev(i))
            .evidence_all(device_says(i, "sw", SW_TABLET_MODE, "SW_TABLET_MODE"))
            .evidence_all(c.tablet_mode().map(|(_, e)| e)),
        None if !caps_unknown(inputs, &["ev", "sw"]).is_empty() => Outcome::unknown(
            "whether an input device reports the tablet-mode switch cannot be read",
        )
        .evidence_all(caps_unknown(inputs, &["ev", "sw"])),
        None => {
            let d = &c.profile.detach;
            let dtx = c.by_hid("platform", d.dtx_hid);
            let denied = denied_by_device(inputs, "sw", SW_TABLET_MODE, "SW_TABLET_MODE");
            let o = Outcome::failed(format!("no tablet-mode switch (\"{want}\")"))
                .evidence(if denied.is_empty() {
                    "/sys/class/input/*/capabilities/sw: no SW_TABLET_MODE"
                } else {
                    "no event device reports SW_TABLET_MODE"
                })
                .evidence_all(denied);
            match dtx {
                Look::Found(x) if x.driver.as_deref() == Some(d.dtx.driver) => o.hint(format!(
                    "surface_dtx is bound but created no switch: the cause cannot be told from here; `journalctl -k -b | grep -i dtx` would tell; reload it (`modprobe -r {m} && modprobe {m}`).",
                    m = d.dtx.module
                )),
                Look::Found(_) => o
                    .summary_suffix("; the DTX driver is not bound (see detach)")
                    .hint("Make the DTX driver bind (see detach.dtx-driver and detach.ssam)."),
                Look::Missing(m) => o
                    .summary_suffix(&format!("; no DTX device {} found", d.dtx_hid))
                    .evidence(format!("{m}: no {}", d.dtx_hid))
                    .hint("The cause cannot be told from here: the firmware lists no DTX device; see detach."),
                Look::Unknown(u) => o.evidence(u).hint("See detach.dtx-driver."),
            }
        }
    }
}

fn lid_wake(c: &Ctx) -> Outcome {
    let ip = &c.profile.input;
    let dev = c.find_dev("platform", |d| d.name == ip.gpe_device);
    match dev {
        Look::Missing(m) => {
            let ev = format!("{m}: no {}", ip.gpe_device);
            match c.kernel_has(&ip.gpe) {
                Has::Builtin(e) => Outcome::failed("surface_gpe is built in but created no device: opening the lid will not wake the machine")
                    .evidence(ev)
                    .evidence(e)
                    .hint("Its DMI match did not apply: the cause cannot be told from here; `cat /sys/class/dmi/id/product_name` and `journalctl -k -b | grep -i surface_gpe` would tell."),
                Has::Module(e) if c.loaded(ip.gpe.module) == Some(true) => Outcome::failed("surface_gpe is loaded but created no device: opening the lid will not wake the machine")
                    .evidence(ev)
                    .evidence(e)
                    .hint("Its DMI match did not apply: the cause cannot be told from here; `cat /sys/class/dmi/id/product_name` and `journalctl -k -b | grep -i surface_gpe` would tell."),
                Has::Module(e) => Outcome::failed("surface_gpe is available but not loaded: opening the lid will not wake the machine")
                    .evidence(ev)
                    .evidence(e)
                    .hint("Load it: `modprobe surface_gpe` (and check that it is not blacklisted)."),
                Has::No(e) => {
                    let o = Outcome::failed(format!(
                        "lid wake: the running kernel has no {} driver (CONFIG_{}): opening the lid will not wake the machine",
                        ip.gpe.module, ip.gpe.config
                    ))
                    .evidence(ev)
                    .evidence(e);
                    match c.provide_fix(&ip.gpe) {
                        Some(h) => o.hint(h),
                        None => o,
                    }
                }
                // Not loaded and no driver registered: lid wake is off whatever the
                // kernel has; only the fix depends on what cannot be read.
                Has::Unknown(e)
                    if c.loaded(ip.gpe.module) == Some(false)
                        && c.driver_registered("platform", ip.gpe.driver) == Some(false) =>
                {
                    Outcome::failed("surface_gpe is not loaded and created no device: opening the lid will not wake the machine")
                        .evidence(ev)
                        .evidence(format!("/proc/modules: no {}", ip.gpe.module))
                        .evidence(format!("/sys/bus/platform/drivers: no {}", ip.gpe.driver))
                        .evidence(e)
                        .hint(format!(
                            "Try `modprobe {}`; if the module is not found, this kernel lacks CONFIG_{} (its config and module tree cannot be read to tell).",
                            ip.gpe.module, ip.gpe.config
                        ))
                }
                Has::Unknown(e) => Outcome::unknown("lid wake: cannot tell whether the kernel has surface_gpe")
                    .evidence(ev)
                    .evidence(e),
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
    let mut no_udev = Vec::new();
    let mut n = 0;
    for i in inputs {
        let (Some(e), Some(node)) = (&i.event, &i.node) else {
            continue;
        };
        n += 1;
        let sysfs = format!("/sys/class/input/{e}");
        match c.node(&format!("/dev/input/{e}"), node, &sysfs) {
            NodeSeen::Ok(_) => {
                if !c.live() && matches!(i.udev, Fact::Absent { .. }) {
                    no_udev.push(format!(
                        "/sys/class/input/{e} ({}): no udev record",
                        name(i)
                    ));
                }
            }
            NodeSeen::Unknown(u) => unknown.push(u),
            NodeSeen::Missing(m) | NodeSeen::Wrong(m) => missing.push(format!("{m} ({})", name(i))),
        }
    }
    if !missing.is_empty() {
        Outcome::failed(format!(
            "{} of {n} event nodes missing in /dev/input",
            missing.len()
        ))
        .evidence_all(missing)
        .hint("Check that systemd-udevd runs; `udevadm trigger --subsystem-match=input`.")
    } else if !unknown.is_empty() {
        Outcome::unknown("some event nodes cannot be examined").evidence_all(unknown)
    } else if n == 0 {
        Outcome::failed("no input device has an event node")
            .evidence("/sys/class/input/*/event*: none")
            .hint(options_hint(
                c,
                &["INPUT_EVDEV"],
                "The cause cannot be told from here: `journalctl -k -b | grep -i evdev` would tell.",
            ))
    } else if c.live() {
        // A node that answers with another device's name is not this device's (one
        // that went away and came back as another): its answers are not used.
        let strangers: Vec<String> = inputs
            .iter()
            .filter_map(|i| {
                let e = i.evdev.ok()?;
                evdev_answer(i).is_none().then(|| {
                    format!(
                        "{} answers as \"{}\", while sysfs names {} \"{}\"",
                        event_node(i),
                        e.name,
                        i.sysname,
                        name(i)
                    )
                })
            })
            .collect();
        let o = Outcome::ok(format!("{n} event nodes present")).evidence("/dev/input");
        if strangers.is_empty() {
            o
        } else {
            o.notice(format!(
                "event nodes that answer as another device (devices that changed while they were read; their answers are not used): {}",
                strangers.join("; ")
            ))
        }
    } else {
        let mut o = Outcome::ok(format!(
            "{n} event devices in sysfs (a captured tree: /dev/input is not judged)"
        ))
        .evidence("/sys/class/input/event*");
        if !no_udev.is_empty() && no_udev.len() < n {
            o = o.notice(format!(
                "the udev database has no record of {} of {n} event devices: {}",
                no_udev.len(),
                no_udev.join(", ")
            ));
        }
        o
    }
}

impl Outcome {
    fn summary_suffix(mut self, s: &str) -> Outcome {
        self.summary.push_str(s);
        self
    }
}
