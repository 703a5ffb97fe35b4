//! Creates the Surface Book 2's evdev devices through /dev/uinput, for the real-kernel
//! test (`tests/vm.rs`): iptsd's virtual touchscreen and stylus for the 13" (045E:0021),
//! the base keyboard's identity (USB 045e:0922), the power and volume buttons
//! (`gpio-keys`), the ACPI lid switch and the DTX device-mode switch. Linux only; needs
//! write access to /dev/uinput.
//!
//! Usage: `vm-uinput [--tablet-mode 0|1] [--fifo PATH] [DEVICE...]`. DEVICEs are
//! `touchscreen`, `stylus`, `keyboard`, `buttons`, `lid`, `dtx`; none means all. After
//! creating the DTX switch it reports SW_TABLET_MODE as `--tablet-mode` says (default
//! 1, as the real driver does without a base); the lid starts open. For every device
//! it prints one line `VM-UINPUT {json}` with the id, the exact bits it set and the
//! switches that are on, then `VM-UINPUT ready`. The devices live as long as the
//! process.
//!
//! With `--fifo PATH` it then reads commands, one a line, from that FIFO and injects
//! the events of a person using the device: `touch` (one finger down, moving, up),
//! `pen` (the pen comes into range, touches and moves with pressure, lifts, leaves),
//! `key` (KEY_A pressed and released), `volume` (volume up, then down), `power` (the
//! power button pressed and released), `lid` (closed, then opened). Each is acknowledged with `VM-UINPUT injected <cmd>`.

use std::ffi::CString;
use std::io::Write;

use serde_json::json;

// include/uapi/linux/input-event-codes.h
const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_MSC: u16 = 0x04;
const EV_ABS: u16 = 0x03;
const EV_SW: u16 = 0x05;
const SYN_REPORT: u16 = 0;
const SW_LID: u16 = 0x00;
const SW_TABLET_MODE: u16 = 0x01;
const KEY_A: u16 = 30;
const KEY_VOLUMEDOWN: u16 = 114;
const KEY_VOLUMEUP: u16 = 115;
const KEY_POWER: u16 = 116;
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
const BUS_HOST: u16 = 0x19;

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
const UI_SET_SWBIT: u64 = iow(109, size_of::<libc::c_int>());
const UI_SET_PROPBIT: u64 = iow(110, size_of::<libc::c_int>());
const UI_SET_PHYS: u64 = iow(108, size_of::<*const libc::c_char>());

/// One device to create: identity and capability bits by type.
struct Spec {
    /// What the command line calls it.
    kind: &'static str,
    name: &'static str,
    bustype: u16,
    vendor: u16,
    product: u16,
    version: u16,
    /// The physical path the real driver sets, if any.
    phys: Option<&'static str>,
    ev: Vec<u16>,
    key: Vec<u16>,
    msc: Vec<u16>,
    led: Vec<u16>,
    sw: Vec<u16>,
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
    for &w in &s.sw {
        ioctl_int(fd, UI_SET_SWBIT, w)?;
    }
    for &p in &s.prop {
        ioctl_int(fd, UI_SET_PROPBIT, p)?;
    }
    if let Some(phys) = s.phys {
        let phys = CString::new(phys).expect("no NUL");
        // SAFETY: UI_SET_PHYS takes a C string, which the kernel copies.
        if unsafe { libc::ioctl(fd, UI_SET_PHYS as _, phys.as_ptr()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
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
            version: s.version,
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
        version: 1,
        phys: None,
        ev: vec![EV_KEY, EV_ABS],
        key: vec![BTN_TOUCH],
        msc: vec![],
        led: vec![],
        sw: vec![],
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
        version: 1,
        phys: None,
        ev: vec![EV_KEY, EV_ABS],
        key: vec![BTN_TOOL_PEN, BTN_TOOL_RUBBER, BTN_TOUCH, BTN_STYLUS],
        msc: vec![],
        led: vec![],
        sw: vec![],
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
        version: 1,
        phys: None,
        ev: vec![EV_KEY, EV_MSC, EV_LED, EV_REP],
        key: keys,
        msc: vec![MSC_SCAN],
        led: vec![LED_NUML, LED_CAPSL, LED_SCROLLL],
        sw: vec![],
        abs: vec![],
        prop: vec![],
    };
    // soc_button_array's gpio-keys (drivers/input/keyboard/gpio_keys.c ids).
    let buttons = Spec {
        kind: "buttons",
        name: "gpio-keys",
        bustype: BUS_HOST,
        vendor: 0x0001,
        product: 0x0001,
        version: 0x0100,
        phys: Some("gpio-keys/input0"),
        ev: vec![EV_KEY],
        key: vec![KEY_VOLUMEDOWN, KEY_VOLUMEUP, KEY_POWER],
        msc: vec![],
        led: vec![],
        sw: vec![],
        abs: vec![],
        prop: vec![],
    };
    // The ACPI button driver's lid (drivers/acpi/button.c: BUS_HOST, product
    // ACPI_BUTTON_TYPE_LID).
    let lid = Spec {
        kind: "lid",
        name: "Lid Switch",
        bustype: BUS_HOST,
        vendor: 0,
        product: 0x0005,
        version: 1,
        phys: Some("PNP0C0D/button/input0"),
        ev: vec![EV_SW],
        key: vec![],
        msc: vec![],
        led: vec![],
        sw: vec![SW_LID],
        abs: vec![],
        prop: vec![],
    };
    // drivers/platform/surface/surface_dtx.c: name, phys and BUS_HOST, no ids.
    let dtx = Spec {
        kind: "dtx",
        name: "Microsoft Surface DTX Device Mode Switch",
        bustype: BUS_HOST,
        vendor: 0,
        product: 0,
        version: 1,
        phys: Some("ssam/01:11:01:00:00/input0"),
        ev: vec![EV_SW],
        key: vec![],
        msc: vec![],
        led: vec![],
        sw: vec![SW_TABLET_MODE],
        abs: vec![],
        prop: vec![],
    };
    vec![touchscreen, stylus, keyboard, buttons, lid, dtx]
}

#[repr(C)]
struct InputEvent {
    time: libc::timeval,
    kind: u16,
    code: u16,
    value: i32,
}

/// Writes events to a uinput device, each batch followed by SYN_REPORT.
fn emit(fd: libc::c_int, events: &[(u16, u16, i32)]) -> std::io::Result<()> {
    let mut all: Vec<InputEvent> = events
        .iter()
        .map(|&(kind, code, value)| InputEvent {
            time: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            kind,
            code,
            value,
        })
        .collect();
    all.push(InputEvent {
        time: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        kind: EV_SYN,
        code: SYN_REPORT,
        value: 0,
    });
    let bytes = all.len() * size_of::<InputEvent>();
    // SAFETY: `all` is a slice of plain structs in the kernel's `input_event` layout.
    let n = unsafe { libc::write(fd, all.as_ptr().cast(), bytes) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if n as usize != bytes {
        return Err(std::io::Error::other(format!(
            "short write: {n} of {bytes}"
        )));
    }
    Ok(())
}

fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(50));
}

/// The events of one command, on the devices by kind.
fn inject(cmd: &str, fds: &[(&'static str, libc::c_int)]) -> std::io::Result<()> {
    let fd = |kind: &str| {
        fds.iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, fd)| *fd)
            .ok_or_else(|| std::io::Error::other(format!("no {kind} device for `{cmd}`")))
    };
    match cmd {
        "touch" => {
            let ts = fd("touchscreen")?;
            emit(
                ts,
                &[
                    (EV_ABS, ABS_MT_SLOT, 0),
                    (EV_ABS, ABS_MT_TRACKING_ID, 1),
                    (EV_ABS, ABS_MT_POSITION_X, 4800),
                    (EV_ABS, ABS_MT_POSITION_Y, 3600),
                    (EV_KEY, BTN_TOUCH, 1),
                    (EV_ABS, ABS_X, 4800),
                    (EV_ABS, ABS_Y, 3600),
                ],
            )?;
            for step in 1..=3 {
                pause();
                emit(
                    ts,
                    &[
                        (EV_ABS, ABS_MT_POSITION_X, 4800 + 100 * step),
                        (EV_ABS, ABS_X, 4800 + 100 * step),
                    ],
                )?;
            }
            pause();
            emit(
                ts,
                &[(EV_ABS, ABS_MT_TRACKING_ID, -1), (EV_KEY, BTN_TOUCH, 0)],
            )
        }
        "pen" => {
            let pen = fd("stylus")?;
            emit(
                pen,
                &[
                    (EV_KEY, BTN_TOOL_PEN, 1),
                    (EV_ABS, ABS_X, 3000),
                    (EV_ABS, ABS_Y, 2000),
                ],
            )?;
            pause();
            emit(pen, &[(EV_KEY, BTN_TOUCH, 1), (EV_ABS, ABS_PRESSURE, 2048)])?;
            for step in 1..=3 {
                pause();
                emit(
                    pen,
                    &[
                        (EV_ABS, ABS_X, 3000 + 100 * step),
                        (EV_ABS, ABS_Y, 2000 + 50 * step),
                        (EV_ABS, ABS_PRESSURE, 2048 + 100 * step),
                    ],
                )?;
            }
            pause();
            emit(pen, &[(EV_KEY, BTN_TOUCH, 0), (EV_ABS, ABS_PRESSURE, 0)])?;
            pause();
            emit(pen, &[(EV_KEY, BTN_TOOL_PEN, 0)])
        }
        "key" => {
            let kb = fd("keyboard")?;
            emit(kb, &[(EV_KEY, KEY_A, 1)])?;
            pause();
            emit(kb, &[(EV_KEY, KEY_A, 0)])
        }
        "volume" => {
            let b = fd("buttons")?;
            for key in [KEY_VOLUMEUP, KEY_VOLUMEDOWN] {
                emit(b, &[(EV_KEY, key, 1)])?;
                pause();
                emit(b, &[(EV_KEY, key, 0)])?;
                pause();
            }
            Ok(())
        }
        "power" => {
            let b = fd("buttons")?;
            emit(b, &[(EV_KEY, KEY_POWER, 1)])?;
            pause();
            emit(b, &[(EV_KEY, KEY_POWER, 0)])
        }
        "lid" => {
            let lid = fd("lid")?;
            emit(lid, &[(EV_SW, SW_LID, 1)])?;
            std::thread::sleep(std::time::Duration::from_millis(200));
            emit(lid, &[(EV_SW, SW_LID, 0)])
        }
        other => Err(std::io::Error::other(format!("unknown command `{other}`"))),
    }
}

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("VM-UINPUT error {what}");
    std::process::exit(1);
}

fn main() {
    let mut wanted: Vec<String> = Vec::new();
    let mut fifo: Option<String> = None;
    let mut tablet_mode = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fifo" => fifo = Some(args.next().unwrap_or_else(|| fail("--fifo needs a path"))),
            "--tablet-mode" => {
                tablet_mode = match args.next().as_deref() {
                    Some("1") => true,
                    Some("0") => false,
                    _ => fail("--tablet-mode needs 0 or 1"),
                };
            }
            _ => wanted.push(a),
        }
    }
    let mut out = std::io::stdout();
    let mut fds = Vec::new();
    for s in specs() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == s.kind) {
            continue;
        }
        // The descriptor stays open until the process ends, and with it the device.
        let fd = create(&s).unwrap_or_else(|e| fail(format!("{}: {e}", s.name)));
        // The switches' initial state, reported as their drivers do after creation.
        let mut switches_on = Vec::new();
        if s.sw.contains(&SW_TABLET_MODE) {
            emit(fd, &[(EV_SW, SW_TABLET_MODE, i32::from(tablet_mode))])
                .unwrap_or_else(|e| fail(format!("{}: {e}", s.name)));
            if tablet_mode {
                switches_on.push(SW_TABLET_MODE);
            }
        }
        if s.sw.contains(&SW_LID) {
            // Open: SW_LID 0, the state a new device starts in; said once more, as the
            // ACPI button driver does on registration.
            emit(fd, &[(EV_SW, SW_LID, 0)]).unwrap_or_else(|e| fail(format!("{}: {e}", s.name)));
        }
        fds.push((s.kind, fd));
        let line = json!({
            "kind": s.kind,
            "name": s.name,
            "bustype": s.bustype,
            "vendor": s.vendor,
            "product": s.product,
            "version": s.version,
            "phys": s.phys,
            "ev": s.ev,
            "key": s.key,
            "msc": s.msc,
            "led": s.led,
            "sw": s.sw,
            "abs": s.abs.iter().map(|a| a.0).collect::<Vec<_>>(),
            "prop": s.prop,
            "switches_on": switches_on,
        });
        let _ = writeln!(out, "VM-UINPUT {line}");
    }
    let _ = writeln!(out, "VM-UINPUT ready");
    let _ = out.flush();
    let Some(fifo) = fifo else {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    };
    // Opened for reading and writing, so that the FIFO never reports end of file
    // when a writer closes it.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap_or_else(|e| fail(format!("{fifo}: {e}")));
    for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
        let line = line.unwrap_or_else(|e| fail(format!("{fifo}: {e}")));
        let cmd = line.trim();
        if cmd.is_empty() {
            continue;
        }
        match inject(cmd, &fds) {
            Ok(()) => {
                let _ = writeln!(out, "VM-UINPUT injected {cmd}");
            }
            Err(e) => {
                let _ = writeln!(out, "VM-UINPUT error injecting {cmd}: {e}");
            }
        }
        let _ = out.flush();
    }
}
