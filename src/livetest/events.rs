//! Input events as the tests see them: type, code and value, decoded from the
//! kernel's `struct input_event`, with their names.

use evdev::{AbsoluteAxisCode, KeyCode, SwitchCode};

/// `EV_SYN`.
pub const EV_SYN: u16 = 0x00;
/// `EV_KEY`: keys and buttons.
pub const EV_KEY: u16 = 0x01;
/// `EV_REL`.
pub const EV_REL: u16 = 0x02;
/// `EV_ABS`: absolute axes.
pub const EV_ABS: u16 = 0x03;
/// `EV_MSC`.
pub const EV_MSC: u16 = 0x04;
/// `EV_SW`: switches.
pub const EV_SW: u16 = 0x05;
/// `SYN_DROPPED`: the kernel's buffer overflowed and events were lost.
pub const SYN_DROPPED: u16 = 3;
/// `INPUT_PROP_DIRECT`: the device's coordinates are the screen's.
pub const INPUT_PROP_DIRECT: u16 = 0x01;

pub const KEY_A: u16 = KeyCode::KEY_A.0;
pub const KEY_Z: u16 = KeyCode::KEY_Z.0;
pub const KEY_VOLUMEDOWN: u16 = KeyCode::KEY_VOLUMEDOWN.0;
pub const KEY_VOLUMEUP: u16 = KeyCode::KEY_VOLUMEUP.0;
pub const KEY_POWER: u16 = KeyCode::KEY_POWER.0;
/// First of the `BTN_*` codes; keys proper are below it or from `KEY_OK` on.
pub const BTN_MISC: u16 = KeyCode::BTN_0.0;
pub const KEY_OK: u16 = KeyCode::KEY_OK.0;
pub const BTN_TOOL_PEN: u16 = KeyCode::BTN_TOOL_PEN.0;
pub const BTN_TOOL_RUBBER: u16 = KeyCode::BTN_TOOL_RUBBER.0;
pub const BTN_TOOL_DOUBLETAP: u16 = KeyCode::BTN_TOOL_DOUBLETAP.0;
pub const BTN_TOUCH: u16 = KeyCode::BTN_TOUCH.0;
pub const BTN_STYLUS: u16 = KeyCode::BTN_STYLUS.0;
pub const BTN_STYLUS2: u16 = KeyCode::BTN_STYLUS2.0;
pub const ABS_X: u16 = AbsoluteAxisCode::ABS_X.0;
pub const ABS_Y: u16 = AbsoluteAxisCode::ABS_Y.0;
pub const ABS_PRESSURE: u16 = AbsoluteAxisCode::ABS_PRESSURE.0;
pub const ABS_MT_SLOT: u16 = AbsoluteAxisCode::ABS_MT_SLOT.0;
pub const ABS_MT_POSITION_X: u16 = AbsoluteAxisCode::ABS_MT_POSITION_X.0;
pub const ABS_MT_POSITION_Y: u16 = AbsoluteAxisCode::ABS_MT_POSITION_Y.0;
pub const ABS_MT_TRACKING_ID: u16 = AbsoluteAxisCode::ABS_MT_TRACKING_ID.0;
pub const SW_LID: u16 = SwitchCode::SW_LID.0;

/// One input event: `type`, `code`, `value` of `struct input_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ev {
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

impl Ev {
    pub const fn new(kind: u16, code: u16, value: i32) -> Ev {
        Ev { kind, code, value }
    }

    pub const fn key(code: u16, value: i32) -> Ev {
        Ev::new(EV_KEY, code, value)
    }

    pub const fn abs(code: u16, value: i32) -> Ev {
        Ev::new(EV_ABS, code, value)
    }

    pub const fn sw(code: u16, value: i32) -> Ev {
        Ev::new(EV_SW, code, value)
    }

    /// `SYN_REPORT`: the end of one frame.
    pub const fn syn() -> Ev {
        Ev::new(EV_SYN, 0, 0)
    }

    /// Whether this is a key event of a key proper (not a `BTN_*` button).
    pub fn is_keyboard_key(&self) -> bool {
        self.kind == EV_KEY && (self.code < BTN_MISC || self.code >= KEY_OK)
    }

    /// `EV_ABS ABS_MT_POSITION_X`, `EV_KEY KEY_A`: the name the kernel headers give.
    pub fn name(&self) -> String {
        format!(
            "{} {}",
            type_name(self.kind),
            code_name(self.kind, self.code)
        )
    }
}

impl From<evdev::InputEvent> for Ev {
    fn from(e: evdev::InputEvent) -> Ev {
        Ev::new(e.event_type().0, e.code(), e.value())
    }
}

/// `EV_KEY`, or `EV_0x1f` for a type without a name.
pub fn type_name(kind: u16) -> String {
    match kind {
        EV_SYN => "EV_SYN".into(),
        EV_KEY => "EV_KEY".into(),
        EV_REL => "EV_REL".into(),
        EV_ABS => "EV_ABS".into(),
        EV_MSC => "EV_MSC".into(),
        EV_SW => "EV_SW".into(),
        0x11 => "EV_LED".into(),
        0x12 => "EV_SND".into(),
        0x14 => "EV_REP".into(),
        0x15 => "EV_FF".into(),
        other => format!("EV_0x{other:02x}"),
    }
}

/// The name of a code of type `kind`: `KEY_A`, `ABS_MT_SLOT`, `SW_LID`; a number
/// (`0x2ff`) where the kernel headers give none.
pub fn code_name(kind: u16, code: u16) -> String {
    let named = match kind {
        EV_SYN => format!("{:?}", evdev::SynchronizationCode(code)),
        EV_KEY => format!("{:?}", KeyCode(code)),
        EV_REL => format!("{:?}", evdev::RelativeAxisCode(code)),
        EV_ABS => format!("{:?}", AbsoluteAxisCode(code)),
        EV_MSC => format!("{:?}", evdev::MiscCode(code)),
        EV_SW => format!("{:?}", SwitchCode(code)),
        _ => String::new(),
    };
    if named.is_empty() || named.starts_with("unknown") {
        format!("0x{code:x}")
    } else {
        named
    }
}

/// The name of a key code alone: `KEY_VOLUMEUP`.
pub fn key_name(code: u16) -> String {
    code_name(EV_KEY, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_kernel_headers() {
        assert_eq!(
            Ev::abs(ABS_MT_POSITION_X, 3).name(),
            "EV_ABS ABS_MT_POSITION_X"
        );
        assert_eq!(Ev::key(KEY_A, 1).name(), "EV_KEY KEY_A");
        assert_eq!(Ev::sw(SW_LID, 1).name(), "EV_SW SW_LID");
        assert_eq!(Ev::syn().name(), "EV_SYN SYN_REPORT");
        assert_eq!(Ev::new(0x1f, 0x2ff, 0).name(), "EV_0x1f 0x2ff");
        assert_eq!(key_name(0x2ff), "0x2ff");
    }

    #[test]
    fn codes_are_the_uapi_numbers() {
        // include/uapi/linux/input-event-codes.h
        assert_eq!(
            (KEY_A, KEY_VOLUMEDOWN, KEY_VOLUMEUP, KEY_POWER),
            (30, 114, 115, 116)
        );
        assert_eq!((BTN_TOOL_PEN, BTN_TOUCH, BTN_MISC), (0x140, 0x14a, 0x100));
        assert_eq!(
            (
                ABS_PRESSURE,
                ABS_MT_SLOT,
                ABS_MT_POSITION_X,
                ABS_MT_TRACKING_ID
            ),
            (0x18, 0x2f, 0x35, 0x39)
        );
        assert_eq!(SW_LID, 0);
    }

    #[test]
    fn buttons_are_not_keyboard_keys() {
        assert!(Ev::key(KEY_A, 1).is_keyboard_key());
        assert!(Ev::key(KEY_OK, 1).is_keyboard_key());
        assert!(!Ev::key(BTN_TOUCH, 1).is_keyboard_key());
        assert!(!Ev::abs(ABS_X, 1).is_keyboard_key());
    }
}
