//! Creates the Surface Book 2's evdev devices through /dev/uinput, for the real-kernel
//! test (`tests/vm.rs`): iptsd's virtual touchscreen and stylus for the 13" (045E:0021)
//! and the base keyboard's identity (USB 045e:0922). Linux only; needs write access to
//! /dev/uinput.
//!
//! Arguments name the devices to create (`touchscreen`, `stylus`, `keyboard`); none
//! means all three. For every device it prints one line `VM-UINPUT {json}` with the id
//! and the exact bits it set, then `VM-UINPUT ready`, and sleeps: the devices live as
//! long as the process.

use std::ffi::CString;
use std::io::Write;

use serde_json::json;

// include/uapi/linux/input-event-codes.h
const EV_KEY: u16 = 0x01;
const EV_MSC: u16 = 0x04;
const EV_ABS: u16 = 0x03;
const EV_LED: u16 = 0x11;
const EV_REP: u16 = 0x14;
const INPUT_PROP_POINTER: u16 = 0x00;
const INPUT_PROP_DIRECT: u16 = 0x01;
const BTN_TOOL_PEN: u16 = 0x140;
const BTN_TOOL_RUBBER: u16 = 0x141;
const BTN_TOUCH: u16 = 0x14a;
const BTN_STYLUS: u16 = 0x14b;
const ABS_X: u16 = 0x00;
const ABS_Y: u16 = 0x01;
const ABS_PRESSURE: u16 = 0x18;
const ABS_TILT_X: u16 = 0x1a;
const ABS_TILT_Y: u16 = 0x1b;
const ABS_MISC: u16 = 0x28;
const ABS_MT_SLOT: u16 = 0x2f;
const ABS_MT_TOUCH_MAJOR: u16 = 0x30;
const ABS_MT_TOUCH_MINOR: u16 = 0x31;
const ABS_MT_ORIENTATION: u16 = 0x34;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const ABS_MT_TRACKING_ID: u16 = 0x39;
const MSC_SCAN: u16 = 0x04;
const LED_NUML: u16 = 0x00;
const LED_CAPSL: u16 = 0x01;
const LED_SCROLLL: u16 = 0x02;
const BUS_USB: u16 = 0x03;
const BUS_VIRTUAL: u16 = 0x06;

// include/uapi/linux/uinput.h
#[repr(C)]
struct InputId {
    bustype: u16,
    vendor: u16,
    product: u16,
    version: u16,
}

#[repr(C)]
struct UinputSetup {
    id: InputId,
    name: [u8; 80],
    ff_effects_max: u32,
}

#[repr(C)]
struct InputAbsinfo {
    value: i32,
    minimum: i32,
    maximum: i32,
    fuzz: i32,
    flat: i32,
    resolution: i32,
}

#[repr(C)]
struct UinputAbsSetup {
    code: u16,
    absinfo: InputAbsinfo,
}

/// `_IOW('U', nr, size)`.
const fn iow(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | ((b'U' as u64) << 8) | nr
}

const UI_DEV_CREATE: u64 = (b'U' as u64) << 8 | 1;
const UI_DEV_SETUP: u64 = iow(3, size_of::<UinputSetup>());
const UI_ABS_SETUP: u64 = iow(4, size_of::<UinputAbsSetup>());
const UI_SET_EVBIT: u64 = iow(100, size_of::<libc::c_int>());
const UI_SET_KEYBIT: u64 = iow(101, size_of::<libc::c_int>());
const UI_SET_ABSBIT: u64 = iow(103, size_of::<libc::c_int>());
const UI_SET_MSCBIT: u64 = iow(104, size_of::<libc::c_int>());
const UI_SET_LEDBIT: u64 = iow(105, size_of::<libc::c_int>());
const UI_SET_PROPBIT: u64 = iow(110, size_of::<libc::c_int>());

/// One device to create: identity and capability bits by type.
struct Spec {
    /// What the command line calls it.
    kind: &'static str,
    name: &'static str,
    bustype: u16,
    vendor: u16,
    product: u16,
    ev: Vec<u16>,
    key: Vec<u16>,
    msc: Vec<u16>,
    led: Vec<u16>,
    /// (code, min, max, resolution)
    abs: Vec<(u16, i32, i32, i32)>,
    prop: Vec<u16>,
}

fn ioctl_int(fd: libc::c_int, req: u64, v: u16) -> std::io::Result<()> {
    // SAFETY: the UI_SET_*BIT requests take an integer argument by value.
    let r = unsafe { libc::ioctl(fd, req as _, libc::c_ulong::from(v)) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn ioctl_ptr<T>(fd: libc::c_int, req: u64, arg: &T) -> std::io::Result<()> {
    // SAFETY: `req` encodes the size of `T`, which is the kernel's struct layout.
    let r = unsafe { libc::ioctl(fd, req as _, arg as *const T) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn create(s: &Spec) -> std::io::Result<libc::c_int> {
    let path = CString::new("/dev/uinput").expect("no NUL");
    // SAFETY: a valid C string; the descriptor is kept open for the device's lifetime.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    for &e in &s.ev {
        ioctl_int(fd, UI_SET_EVBIT, e)?;
    }
    for &k in &s.key {
        ioctl_int(fd, UI_SET_KEYBIT, k)?;
    }
    for &m in &s.msc {
        ioctl_int(fd, UI_SET_MSCBIT, m)?;
    }
    for &l in &s.led {
        ioctl_int(fd, UI_SET_LEDBIT, l)?;
    }
    for &p in &s.prop {
        ioctl_int(fd, UI_SET_PROPBIT, p)?;
    }
    for &(code, minimum, maximum, resolution) in &s.abs {
        ioctl_int(fd, UI_SET_ABSBIT, code)?;
        let a = UinputAbsSetup {
            code,
            absinfo: InputAbsinfo {
                value: 0,
                minimum,
                maximum,
                fuzz: 0,
                flat: 0,
                resolution,
            },
        };
        ioctl_ptr(fd, UI_ABS_SETUP, &a)?;
    }
    let mut setup = UinputSetup {
        id: InputId {
            bustype: s.bustype,
            vendor: s.vendor,
            product: s.product,
            version: 1,
        },
        name: [0; 80],
        ff_effects_max: 0,
    };
    setup.name[..s.name.len()].copy_from_slice(s.name.as_bytes());
    ioctl_ptr(fd, UI_DEV_SETUP, &setup)?;
    // SAFETY: UI_DEV_CREATE takes no argument.
    if unsafe { libc::ioctl(fd, UI_DEV_CREATE as _) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

fn specs() -> Vec<Spec> {
    // iptsd 3.x for the 13": 16 contacts, 9600x7200 touch units, 28.53x19.02 cm.
    let touchscreen = Spec {
        kind: "touchscreen",
        name: "IPTSD Virtual Touchscreen 045E:0021",
        bustype: BUS_VIRTUAL,
        vendor: 0x045e,
        product: 0x0021,
        ev: vec![EV_KEY, EV_ABS],
        key: vec![BTN_TOUCH],
        msc: vec![],
        led: vec![],
        abs: vec![
            (ABS_X, 0, 9600, 34),
            (ABS_Y, 0, 7200, 38),
            (ABS_MT_SLOT, 0, 16, 0),
            (ABS_MT_TOUCH_MAJOR, 0, 12000, 35),
            (ABS_MT_TOUCH_MINOR, 0, 12000, 35),
            (ABS_MT_ORIENTATION, 0, 180, 0),
            (ABS_MT_POSITION_X, 0, 9600, 34),
            (ABS_MT_POSITION_Y, 0, 7200, 38),
            (ABS_MT_TRACKING_ID, 0, 16, 0),
        ],
        prop: vec![INPUT_PROP_DIRECT],
    };
    let stylus = Spec {
        kind: "stylus",
        name: "IPTSD Virtual Stylus 045E:0021",
        bustype: BUS_VIRTUAL,
        vendor: 0x045e,
        product: 0x0021,
        ev: vec![EV_KEY, EV_ABS],
        key: vec![BTN_TOOL_PEN, BTN_TOOL_RUBBER, BTN_TOUCH, BTN_STYLUS],
        msc: vec![],
        led: vec![],
        abs: vec![
            (ABS_X, 0, 9600, 34),
            (ABS_Y, 0, 7200, 38),
            (ABS_PRESSURE, 0, 4096, 0),
            (ABS_TILT_X, -9000, 9000, 5730),
            (ABS_TILT_Y, -9000, 9000, 5730),
            (ABS_MISC, 0, 65535, 0),
        ],
        prop: vec![INPUT_PROP_POINTER, INPUT_PROP_DIRECT],
    };
    // A USB HID boot keyboard's keys (KEY_ESC..KEY_KPDOT, KEY_102ND..KEY_F12, the
    // right-hand block, F13..F24) and the Surface keyboard's media and brightness keys:
    // spread over four 64-bit words of the bitmap.
    let mut keys: Vec<u16> = (1..=83).collect();
    keys.extend(86..=88);
    keys.extend(96..=111);
    keys.extend([113, 114, 115, 119, 125, 127]);
    keys.extend(183..=194);
    keys.extend([163, 164, 165, 224, 225]);
    keys.sort_unstable();
    let keyboard = Spec {
        kind: "keyboard",
        name: "Microsoft Surface Keyboard",
        bustype: BUS_USB,
        vendor: 0x045e,
        product: 0x0922,
        ev: vec![EV_KEY, EV_MSC, EV_LED, EV_REP],
        key: keys,
        msc: vec![MSC_SCAN],
        led: vec![LED_NUML, LED_CAPSL, LED_SCROLLL],
        abs: vec![],
        prop: vec![],
    };
    vec![touchscreen, stylus, keyboard]
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout();
    for s in specs() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == s.kind) {
            continue;
        }
        // The descriptor stays open until the process ends, and with it the device.
        if let Err(e) = create(&s) {
            eprintln!("VM-UINPUT error {}: {e}", s.name);
            std::process::exit(1);
        }
        let line = json!({
            "name": s.name,
            "bustype": s.bustype,
            "vendor": s.vendor,
            "product": s.product,
            "ev": s.ev,
            "key": s.key,
            "msc": s.msc,
            "led": s.led,
            "abs": s.abs.iter().map(|a| a.0).collect::<Vec<_>>(),
            "prop": s.prop,
        });
        let _ = writeln!(out, "VM-UINPUT {line}");
    }
    let _ = writeln!(out, "VM-UINPUT ready");
    let _ = out.flush();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
