//! Which input devices a test watches, chosen from the collected facts by what the
//! devices report they can do. Pure: no I/O.

use crate::facts::{Fact, InputDevice, InputId};
use crate::profiles::Profile;

use super::TestName;
use super::events::*;

/// Keys of a device of hardware buttons, at most (`soc_button_array` gives 3 to 5).
const MAX_BUTTON_KEYS: usize = 16;

/// An input device a test will watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `input12`.
    pub sysname: String,
    /// `event3`: the node is `/dev/input/event3`.
    pub event: String,
    pub name: String,
    pub id: Option<InputId>,
    /// The device the profile names for this test (iptsd's virtual touchscreen, the
    /// Surface Keyboard, the Surface buttons).
    pub preferred: bool,
    /// The device reports `ABS_PRESSURE` (a pen is then asked for pressure).
    pub has_pressure: bool,
}

/// The devices to watch, and a remark for the person when the choice is a fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub devices: Vec<Candidate>,
    pub note: Option<String>,
}

/// What a device reports it can do: its own answers (`EVIOCGBIT`) when they were
/// collected, else the sysfs capability bitmaps.
#[derive(Debug, Default)]
struct Caps {
    ev: Vec<u16>,
    keys: Vec<u16>,
    abs: Vec<u16>,
    sw: Vec<u16>,
    props: Vec<u16>,
}

fn caps(d: &InputDevice) -> Caps {
    if let Fact::Ok(e) = &d.evdev {
        return Caps {
            ev: e.ev.clone(),
            keys: e.keys.clone(),
            abs: e.abs.clone(),
            sw: e.switches.clone(),
            props: e.properties.clone(),
        };
    }
    let bits = |k: &str| {
        d.capabilities
            .get(k)
            .and_then(|f| f.ok())
            .cloned()
            .unwrap_or_default()
    };
    Caps {
        ev: bits("ev"),
        keys: bits("key"),
        abs: bits("abs"),
        sw: bits("sw"),
        props: d.properties.ok().cloned().unwrap_or_default(),
    }
}

fn name(d: &InputDevice) -> String {
    match (&d.evdev, &d.name) {
        (Fact::Ok(e), _) if !e.name.is_empty() => e.name.clone(),
        (_, Fact::Ok(n)) => n.clone(),
        _ => String::new(),
    }
}

fn id(d: &InputDevice) -> Option<InputId> {
    match (&d.evdev, &d.id) {
        (Fact::Ok(e), _) => Some(e.id.clone()),
        (_, Fact::Ok(i)) => Some(i.clone()),
        _ => None,
    }
}

fn starts_with_any(name: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| name.starts_with(p))
}

/// The number in `input12`, for ordering.
fn number(sysname: &str) -> u64 {
    sysname
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(u64::MAX)
}

/// Chooses the devices `test` watches among `inputs`, or says why there are none.
/// `test` is one of the input tests (touch, pen, keyboard, buttons, lid).
pub fn select(
    test: TestName,
    inputs: &[InputDevice],
    profile: &Profile,
) -> Result<Selection, String> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut no_node: Vec<String> = Vec::new();
    for d in inputs {
        let c = caps(d);
        let has = |set: &[u16], bit: u16| set.contains(&bit);
        let name = name(d);
        let id = id(d);
        let is_base_keyboard = id.as_ref().is_some_and(|i| {
            i.vendor == profile.input.usb_vendor && i.product == profile.input.keyboard_product
        }) || name.contains("Surface Keyboard");
        let is_keyboard = has(&c.keys, KEY_A) && has(&c.keys, KEY_Z);
        let (matches, preferred) = match test {
            TestName::Touch => (
                has(&c.abs, ABS_MT_POSITION_X)
                    && has(&c.props, INPUT_PROP_DIRECT)
                    && !has(&c.keys, BTN_TOOL_PEN),
                starts_with_any(&name, profile.touch.virtual_touch),
            ),
            TestName::Pen => (
                has(&c.keys, BTN_TOOL_PEN),
                starts_with_any(&name, profile.touch.virtual_stylus),
            ),
            TestName::Keyboard => (
                (c.ev.is_empty() || has(&c.ev, EV_KEY)) && is_keyboard,
                is_base_keyboard,
            ),
            // Hardware buttons have a handful of keys; a device with many is a
            // keyboard's media keys or a remote control (vivid, IR receivers).
            TestName::Buttons => (
                [KEY_VOLUMEUP, KEY_VOLUMEDOWN, KEY_POWER]
                    .iter()
                    .any(|k| has(&c.keys, *k))
                    && c.keys.len() <= MAX_BUTTON_KEYS
                    && !is_keyboard
                    && !is_base_keyboard,
                d.parent
                    .as_deref()
                    .is_some_and(|p| p.contains(profile.input.buttons_hid))
                    || d.phys
                        .as_deref()
                        .is_some_and(|p| p.starts_with("gpio-keys")),
            ),
            TestName::Lid => (has(&c.sw, SW_LID), false),
            TestName::Detach | TestName::Camera => (false, false),
        };
        if !matches {
            continue;
        }
        match &d.event {
            Some(ev) => found.push(Candidate {
                sysname: d.sysname.clone(),
                event: ev.clone(),
                name,
                id,
                preferred,
                has_pressure: has(&c.abs, ABS_PRESSURE),
            }),
            None => no_node.push(d.sysname.clone()),
        }
    }
    found.sort_by_key(|c| (!c.preferred, number(&c.sysname)));
    let mut note = None;
    // The keyboard test is about the base's keyboard: another keyboard answering
    // would prove nothing about it, so it is watched only when the base's is not there.
    if test == TestName::Keyboard {
        if found.iter().any(|c| c.preferred) {
            found.retain(|c| c.preferred);
        } else if !found.is_empty() {
            note = Some(format!(
                "the Surface Keyboard ({:04x}:{:04x}) is not connected; watching every keyboard",
                profile.input.usb_vendor, profile.input.keyboard_product
            ));
        }
    }
    if !found.is_empty() {
        return Ok(Selection {
            devices: found,
            note,
        });
    }
    let looked = inputs.len();
    let what = match test {
        TestName::Touch => {
            "no touchscreen found: no input device reports ABS_MT_POSITION_X and \
             INPUT_PROP_DIRECT without BTN_TOOL_PEN"
        }
        TestName::Pen => "no pen found: no input device reports BTN_TOOL_PEN",
        TestName::Keyboard => "no keyboard found: no input device reports the letter keys",
        TestName::Buttons => {
            "no power or volume buttons found: no input device other than a keyboard \
             reports KEY_VOLUMEUP, KEY_VOLUMEDOWN or KEY_POWER"
        }
        TestName::Lid => "no lid switch found: no input device reports SW_LID",
        TestName::Detach | TestName::Camera => "not an input test",
    };
    let mut msg = format!(
        "{what} ({looked} input device{} looked at)",
        if looked == 1 { "" } else { "s" }
    );
    if !no_node.is_empty() {
        msg.push_str(&format!(
            "; {} match{} but {} no event node",
            no_node.join(", "),
            if no_node.len() == 1 { "es" } else { "" },
            if no_node.len() == 1 { "has" } else { "have" },
        ));
    }
    let hint = match test {
        TestName::Touch | TestName::Pen => {
            "; is iptsd running? `surface-check status` names the broken link"
        }
        TestName::Keyboard => {
            "; is the base attached? `surface-check status` names the broken link"
        }
        _ => "; `surface-check status` names the broken link",
    };
    msg.push_str(hint);
    Err(msg)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::profiles::SURFACE_BOOK_2;

    fn dev(
        n: u32,
        name: &str,
        id: (u16, u16),
        caps: &[(&str, &[u16])],
        props: &[u16],
    ) -> InputDevice {
        let mut capabilities = BTreeMap::new();
        for (k, v) in caps {
            capabilities.insert(k.to_string(), Fact::Ok(v.to_vec()));
        }
        InputDevice {
            sysname: format!("input{n}"),
            name: Fact::Ok(name.into()),
            phys: None,
            id: Fact::Ok(InputId {
                bustype: 3,
                vendor: id.0,
                product: id.1,
                version: 1,
            }),
            capabilities,
            properties: Fact::Ok(props.to_vec()),
            parent: None,
            event: Some(format!("event{n}")),
            node: None,
            udev: Fact::Absent { path: "x".into() },
            evdev: crate::facts::not_collected(),
        }
    }

    fn machine() -> Vec<InputDevice> {
        vec![
            dev(
                0,
                "Lid Switch",
                (0, 5),
                &[("ev", &[0, 5]), ("sw", &[SW_LID])],
                &[],
            ),
            dev(
                1,
                "Power Button",
                (0, 1),
                &[("ev", &[0, 1]), ("key", &[KEY_POWER])],
                &[],
            ),
            dev(
                2,
                "Microsoft Surface Keyboard",
                (0x045e, 0x0922),
                &[("ev", &[0, 1, 4]), ("key", &[KEY_A, KEY_Z, KEY_VOLUMEUP])],
                &[],
            ),
            dev(
                3,
                "Microsoft Surface Keyboard Consumer Control",
                (0x045e, 0x0922),
                &[("ev", &[0, 1]), ("key", &[KEY_VOLUMEUP, KEY_VOLUMEDOWN])],
                &[],
            ),
            dev(
                14,
                "IPTSD Virtual Touchscreen 045E:0020",
                (0x045e, 0x0020),
                &[
                    ("ev", &[0, 1, 3]),
                    ("key", &[BTN_TOUCH]),
                    ("abs", &[0, 1, ABS_MT_SLOT, ABS_MT_POSITION_X]),
                ],
                &[INPUT_PROP_DIRECT],
            ),
            dev(
                15,
                "IPTSD Virtual Stylus 045E:0020",
                (0x045e, 0x0020),
                &[
                    ("ev", &[0, 1, 3]),
                    ("key", &[BTN_TOUCH, BTN_TOOL_PEN]),
                    ("abs", &[0, 1, ABS_PRESSURE, ABS_MT_POSITION_X]),
                ],
                &[INPUT_PROP_DIRECT],
            ),
            dev(
                9,
                "AT Translated Set 2 keyboard",
                (0x11, 0x1),
                &[("ev", &[0, 1]), ("key", &[KEY_A, KEY_Z])],
                &[],
            ),
            dev(
                6,
                "SynPS/2 touchpad",
                (0x11, 0x2),
                &[
                    ("ev", &[0, 1, 3]),
                    ("key", &[BTN_TOUCH]),
                    ("abs", &[0, 1, ABS_MT_POSITION_X]),
                ],
                &[],
            ),
        ]
    }

    fn names(s: &Selection) -> Vec<&str> {
        s.devices.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn the_touchscreen_is_direct_multitouch_without_a_pen() {
        let s = select(TestName::Touch, &machine(), &SURFACE_BOOK_2).unwrap();
        // Not the stylus (BTN_TOOL_PEN), not the touchpad (no INPUT_PROP_DIRECT).
        assert_eq!(names(&s), ["IPTSD Virtual Touchscreen 045E:0020"]);
        assert!(s.devices[0].preferred);
        assert_eq!(s.devices[0].event, "event14");
    }

    #[test]
    fn the_pen_is_btn_tool_pen_with_pressure() {
        let s = select(TestName::Pen, &machine(), &SURFACE_BOOK_2).unwrap();
        assert_eq!(names(&s), ["IPTSD Virtual Stylus 045E:0020"]);
        assert!(s.devices[0].has_pressure);
    }

    #[test]
    fn the_base_keyboard_is_preferred_to_any_other() {
        let s = select(TestName::Keyboard, &machine(), &SURFACE_BOOK_2).unwrap();
        assert_eq!(names(&s), ["Microsoft Surface Keyboard"]);
        assert_eq!(s.note, None);
        // Base detached: every other keyboard, said so.
        let rest: Vec<_> = machine()
            .into_iter()
            .filter(|d| !d.name.ok().unwrap().contains("Surface Keyboard"))
            .collect();
        let s = select(TestName::Keyboard, &rest, &SURFACE_BOOK_2).unwrap();
        assert_eq!(names(&s), ["AT Translated Set 2 keyboard"]);
        assert!(s.note.unwrap().contains("045e:0922"));
    }

    #[test]
    fn buttons_are_not_the_keyboards_media_keys() {
        let mut m = machine();
        let mut b = dev(
            20,
            "gpio-keys",
            (0x19, 1),
            &[
                ("ev", &[0, 1]),
                ("key", &[KEY_VOLUMEUP, KEY_VOLUMEDOWN, KEY_POWER]),
            ],
            &[],
        );
        b.parent = Some("/sys/devices/platform/MSHW0040:00/gpio-keys.1.auto".into());
        m.push(b);
        // A remote control (vivid's) has the power and volume keys among many.
        let remote: Vec<u16> = (1..200).collect();
        m.push(dev(
            21,
            "vivid-000-vid-cap0",
            (0, 0),
            &[("ev", &[0, 1]), ("key", &remote)],
            &[],
        ));
        let s = select(TestName::Buttons, &m, &SURFACE_BOOK_2).unwrap();
        // The soc_button_array device first, then the ACPI power button; never the
        // Surface Keyboard's consumer controls.
        assert_eq!(names(&s), ["gpio-keys", "Power Button"]);
        assert!(s.devices[0].preferred && !s.devices[1].preferred);
    }

    #[test]
    fn the_lid_is_sw_lid() {
        let s = select(TestName::Lid, &machine(), &SURFACE_BOOK_2).unwrap();
        assert_eq!(names(&s), ["Lid Switch"]);
    }

    #[test]
    fn none_found_says_what_was_looked_for() {
        let e = select(TestName::Touch, &[], &SURFACE_BOOK_2).unwrap_err();
        assert!(e.starts_with("no touchscreen found"), "{e}");
        assert!(e.contains("0 input devices looked at"), "{e}");
        let mut m = machine();
        m[4].event = None;
        let e = select(TestName::Touch, &m, &SURFACE_BOOK_2).unwrap_err();
        assert!(e.contains("input14 matches but has no event node"), "{e}");
    }

    #[test]
    fn unreadable_capabilities_rule_nothing_in() {
        let mut d = dev(1, "x", (1, 1), &[], &[]);
        d.capabilities.insert(
            "abs".into(),
            Fact::Unknown {
                path: "p".into(),
                reason: "permission denied".into(),
            },
        );
        d.properties = Fact::Unknown {
            path: "p".into(),
            reason: "permission denied".into(),
        };
        assert!(select(TestName::Touch, &[d], &SURFACE_BOOK_2).is_err());
    }
}
