//! Input devices: names, ids, capabilities, properties, event nodes, udev records, and
//! what each event device answers to the `EVIOCG*` ioctls.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, RawFd};

use nix::errno::Errno;

use super::{Evdev, Fact, InputDevice, InputId, list_sorted, parse, parsed, text, text_opt};
use crate::root::{ReadError, Root};

/// Capability types kept, as named under `capabilities/`.
pub const CAPS: &[&str] = &["ev", "key", "sw", "abs", "rel", "msc"];

pub fn collect(root: &Root) -> Fact<Vec<InputDevice>> {
    let base = "sys/class/input";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .filter(|n| n.starts_with("input"))
            .map(|n| device(root, &format!("{base}/{n}"), n))
            .collect()
    })
}

fn bitmap_fact(root: &Root, path: &str) -> Fact<Vec<u16>> {
    parsed(root, path, parse::bitmap)
}

fn id(root: &Root, dir: &str) -> Fact<InputId> {
    let mut v = [0u16; 4];
    for (i, f) in ["bustype", "vendor", "product", "version"]
        .iter()
        .enumerate()
    {
        let p = format!("{dir}/id/{f}");
        match root.read_text(&p) {
            Ok(t) => match parse::hex_u16(&t) {
                Ok(x) => v[i] = x,
                Err(e) => return Fact::unparseable(&p, e),
            },
            Err(e) => return Fact::from_read(&p, Err(e)),
        }
    }
    Fact::Ok(InputId {
        bustype: v[0],
        vendor: v[1],
        product: v[2],
        version: v[3],
    })
}

fn device(root: &Root, dir: &str, sysname: String) -> InputDevice {
    let mut capabilities = BTreeMap::new();
    for c in CAPS {
        capabilities.insert(
            c.to_string(),
            bitmap_fact(root, &format!("{dir}/capabilities/{c}")),
        );
    }
    let event = root.list_dir(dir).ok().and_then(|entries| {
        let mut ev: Vec<String> = entries
            .into_iter()
            .filter(|e| {
                e.strip_prefix("event")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        ev.sort();
        ev.into_iter().next()
    });
    let (node, udev, evdev) = match &event {
        Some(ev) => {
            let node = Fact::from_read(
                &format!("dev/input/{ev}"),
                root.stat(&format!("dev/input/{ev}")),
            );
            let udev = match root.read_text(&format!("{dir}/{ev}/dev")) {
                Ok(devnum)
                    if devnum
                        .split(':')
                        .all(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    parsed(root, &format!("run/udev/data/c{devnum}"), parse::udev_db)
                }
                Ok(_) => Fact::unparseable(&format!("{dir}/{ev}/dev"), "not MAJOR:MINOR"),
                Err(e) => Fact::from_read(&format!("{dir}/{ev}/dev"), Err(e)),
            };
            (Some(node), udev, evdev(root, ev))
        }
        None => {
            let none = format!("{dir}/event*");
            (
                None,
                Fact::Absent { path: none.clone() },
                Fact::Absent { path: none },
            )
        }
    };
    InputDevice {
        name: text(root, &format!("{dir}/name")),
        phys: text_opt(root, &format!("{dir}/phys")).filter(|p| !p.is_empty()),
        id: id(root, dir),
        capabilities,
        properties: bitmap_fact(root, &format!("{dir}/properties")),
        parent: root.canonical(&format!("{dir}/device")).ok(),
        event,
        node,
        udev,
        evdev,
        sysname,
    }
}

/// Asks `dev/input/<ev>` itself (live root only: a captured tree answers
/// [`ReadError::NotLive`]).
fn evdev(root: &Root, ev: &str) -> Fact<Evdev> {
    let path = format!("dev/input/{ev}");
    device_answer(
        &path,
        root.with_device(&path, |f| query_evdev(f.as_raw_fd())),
        "not an event device",
    )
}

/// An ioctl that failed: its name and the error.
pub(super) type IoctlError = (&'static str, Errno);

/// The fact from a query of a device node through [`Root::with_device`]: the open's
/// error (`NotFound` is absence) or the first ioctl's failure, explained.
/// `not_what` names what an `ENOTTY` says the node is not (`not an event device`).
pub(super) fn device_answer<T>(
    path: &str,
    r: Result<Result<T, IoctlError>, ReadError>,
    not_what: &str,
) -> Fact<T> {
    let reason = match r {
        Ok(Ok(v)) => return Fact::Ok(v),
        Ok(Err((call, e))) => ioctl_reason(call, e, not_what),
        Err(ReadError::Io(ref desc))
            if desc == Errno::ENODEV.desc() || desc == Errno::ENXIO.desc() =>
        {
            GONE.to_string()
        }
        Err(e) => return Fact::from_read(path, Err(e)),
    };
    Fact::Unknown {
        path: path.to_string(),
        reason,
    }
}

/// Why a device node could not be asked: `ENODEV` or `ENXIO` from the open or an
/// ioctl (the device was unplugged or the clipboard detached meanwhile).
pub(super) const GONE: &str = "the device went away during the query";

/// The reason recorded for a failed ioctl.
pub(super) fn ioctl_reason(call: &str, e: Errno, not_what: &str) -> String {
    match e {
        Errno::EACCES | Errno::EPERM => ReadError::PermissionDenied.to_string(),
        Errno::ENOTTY => format!("{not_what} (ENOTTY)"),
        Errno::ENODEV | Errno::ENXIO => GONE.to_string(),
        other => ReadError::Io(format!("{call}: {}", other.desc())).to_string(),
    }
}

/// Bytes asked for each bitmap: 1024 bits, past every `*_CNT` of the UAPI (`KEY_CNT`
/// is 768), so a newer kernel's wider bitmap still fits. The kernel copies at most
/// this much and returns how much it copied.
const BITMAP_BYTES: usize = 128;
/// Bytes asked for the name; a longer name comes back cut to this length.
const NAME_BYTES: usize = 256;

/// Request codes from `<linux/input.h>`, each with the size of the buffer passed.
mod uapi {
    use super::{BITMAP_BYTES, NAME_BYTES};
    use evdev::EventType;
    use nix::sys::ioctl::ioctl_num_type;

    /// `EVIOCGID`: `struct input_id`.
    pub const EVIOCGID: ioctl_num_type =
        nix::request_code_read!(b'E', 0x02, std::mem::size_of::<libc::input_id>());
    /// `EVIOCGNAME(len)`.
    pub const EVIOCGNAME: ioctl_num_type = nix::request_code_read!(b'E', 0x06, NAME_BYTES);
    /// `EVIOCGPROP(len)`: `INPUT_PROP_*` bits.
    pub const EVIOCGPROP: ioctl_num_type = nix::request_code_read!(b'E', 0x09, BITMAP_BYTES);
    /// `EVIOCGSW(len)`: switches that are on.
    pub const EVIOCGSW: ioctl_num_type = nix::request_code_read!(b'E', 0x1b, BITMAP_BYTES);
    /// `EVIOCGBIT(ev, len)` is `0x20 + ev`; `ev` 0 gives the event types.
    const fn eviocgbit(ev: EventType) -> ioctl_num_type {
        nix::request_code_read!(b'E', 0x20 + ev.0, BITMAP_BYTES)
    }
    pub const EVIOCGBIT_EV: ioctl_num_type = eviocgbit(EventType(0));
    pub const EVIOCGBIT_KEY: ioctl_num_type = eviocgbit(EventType::KEY);
    pub const EVIOCGBIT_ABS: ioctl_num_type = eviocgbit(EventType::ABSOLUTE);
    pub const EVIOCGBIT_SW: ioctl_num_type = eviocgbit(EventType::SWITCH);
}

/// `ioctl(fd, request, arg)`: what the kernel returned, or its error.
///
/// # Safety
/// `arg` must be valid for writes of the size encoded in `request`.
pub(super) unsafe fn ioctl<T>(
    fd: RawFd,
    request: nix::sys::ioctl::ioctl_num_type,
    arg: *mut T,
) -> nix::Result<libc::c_int> {
    // SAFETY: per this function's contract.
    Errno::result(unsafe { libc::ioctl(fd, request, arg) })
}

/// A bitmap ioctl: the set bit numbers.
fn bitmap_ioctl(
    fd: RawFd,
    name: &'static str,
    request: nix::sys::ioctl::ioctl_num_type,
) -> Result<Vec<u16>, IoctlError> {
    let mut buf = [0u8; BITMAP_BYTES];
    // SAFETY: `buf` is BITMAP_BYTES long, the size every bitmap request encodes.
    let n = unsafe { ioctl(fd, request, buf.as_mut_ptr()) }.map_err(|e| (name, e))?;
    Ok(set_bits(&buf, n))
}

/// Asks an event device for its name, ids, capabilities and switch states. Query
/// ioctls only: nothing is read from the device, so nothing waits for an event.
///
/// The `evdev` crate's `Device::from_fd` is not used: it reads the name, `phys` and
/// `uniq` strings into 256-byte buffers and asserts that the kernel's answer ends in
/// NUL, which a string of 256 bytes or more does not (the kernel cuts it without
/// one; uinput accepts a `phys` of up to 1024 bytes), so an odd device would panic
/// the collector.
fn query_evdev(fd: RawFd) -> Result<Evdev, IoctlError> {
    // The event types first: on a node that is not an event device this fails at
    // once with ENOTTY.
    let ev = bitmap_ioctl(fd, "EVIOCGBIT", uapi::EVIOCGBIT_EV)?;
    let mut name = [0u8; NAME_BYTES];
    // SAFETY: `name` is NAME_BYTES long, the size EVIOCGNAME encodes.
    let name = match unsafe { ioctl(fd, uapi::EVIOCGNAME, name.as_mut_ptr()) } {
        Ok(n) => c_string(&name, n),
        // A device registered without a name.
        Err(Errno::ENOENT) => String::new(),
        Err(e) => return Err(("EVIOCGNAME", e)),
    };
    let mut id = libc::input_id {
        bustype: 0,
        vendor: 0,
        product: 0,
        version: 0,
    };
    // SAFETY: `id` is a `struct input_id`, the size EVIOCGID encodes.
    unsafe { ioctl(fd, uapi::EVIOCGID, &mut id) }.map_err(|e| ("EVIOCGID", e))?;
    Ok(Evdev {
        name,
        id: InputId {
            bustype: id.bustype,
            vendor: id.vendor,
            product: id.product,
            version: id.version,
        },
        properties: bitmap_ioctl(fd, "EVIOCGPROP", uapi::EVIOCGPROP)?,
        ev,
        keys: bitmap_ioctl(fd, "EVIOCGBIT(EV_KEY)", uapi::EVIOCGBIT_KEY)?,
        abs: bitmap_ioctl(fd, "EVIOCGBIT(EV_ABS)", uapi::EVIOCGBIT_ABS)?,
        switches: bitmap_ioctl(fd, "EVIOCGBIT(EV_SW)", uapi::EVIOCGBIT_SW)?,
        switches_on: bitmap_ioctl(fd, "EVIOCGSW", uapi::EVIOCGSW)?,
    })
}

/// Whether the `evdev` crate's `RawDevice::from_fd` can open this event device
/// without panicking: its name, `phys` and `uniq` must fit (with their NUL) in the
/// 256 bytes the crate reads them into. Asked with 1024-byte buffers (uinput's
/// limit); `Err` says which string is too long, or the ioctl's error.
pub fn evdev_crate_can_open(fd: RawFd) -> Result<(), String> {
    const WIDE: usize = 1024;
    for (what, nr) in [("name", 0x06u8), ("phys", 0x07), ("uniq", 0x08)] {
        let mut buf = [0u8; WIDE];
        let request: nix::sys::ioctl::ioctl_num_type = nix::request_code_read!(b'E', nr, WIDE);
        // SAFETY: `buf` is WIDE bytes long, the size the request encodes.
        match unsafe { ioctl(fd, request, buf.as_mut_ptr()) } {
            // The kernel copies the string with its NUL, cut to the buffer.
            Ok(n) if usize::try_from(n).is_ok_and(|n| n <= NAME_BYTES) => {}
            Ok(n) => return Err(format!("its {what} is {n} bytes long, more than 255")),
            // No such string (a device without phys or uniq).
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(ioctl_reason("EVIOCG*", e, "not an event device")),
        }
    }
    Ok(())
}

/// The set bit numbers, ascending, of a kernel bitmap as the `EVIOCG*` ioctls copy it:
/// an array of `unsigned long` in the machine's byte order, of which the kernel wrote
/// `copied` bytes (its return value; anything outside `0..=buf.len()` is clamped).
fn set_bits(buf: &[u8], copied: libc::c_int) -> Vec<u16> {
    const LONG: usize = std::mem::size_of::<libc::c_ulong>();
    let copied = usize::try_from(copied).unwrap_or(0).min(buf.len());
    let mut bits = Vec::new();
    for (w, chunk) in buf[..copied].chunks(LONG).enumerate() {
        let mut word = [0u8; LONG];
        word[..chunk.len()].copy_from_slice(chunk);
        let word = libc::c_ulong::from_ne_bytes(word);
        for b in 0..LONG * 8 {
            if word & (1 << b) != 0 {
                // At most BITMAP_BYTES * 8 = 1024 bits: fits.
                bits.push((w * LONG * 8 + b) as u16);
            }
        }
    }
    bits
}

/// A string as `EVIOCGNAME` copies it: `copied` bytes (clamped to the buffer), up to
/// the first NUL; cut without a NUL when it did not fit. Bytes that are not UTF-8
/// become U+FFFD.
pub(super) fn c_string(buf: &[u8], copied: libc::c_int) -> String {
    let copied = usize::try_from(copied).unwrap_or(0).min(buf.len());
    let s = &buf[..copied];
    let s = s.iter().position(|&b| b == 0).map_or(s, |end| &s[..end]);
    String::from_utf8_lossy(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use evdev::{AbsoluteAxisCode, EventType, KeyCode, PropType, SwitchCode};
    use std::fs;

    const LONG_BITS: usize = 8 * std::mem::size_of::<libc::c_ulong>();

    #[test]
    fn the_crate_guard_asks_the_kernel_and_refuses_what_is_not_an_event_device() {
        use std::os::fd::AsRawFd;
        let f = tempfile::tempfile().unwrap();
        let e = evdev_crate_can_open(f.as_raw_fd()).unwrap_err();
        assert_eq!(e, "not an event device (ENOTTY)");
    }

    /// A bitmap as the kernel copies it: `unsigned long`s in machine byte order.
    fn kernel_bitmap(bits: &[u16]) -> [u8; BITMAP_BYTES] {
        let mut words = vec![0 as libc::c_ulong; BITMAP_BYTES * 8 / LONG_BITS];
        for &b in bits {
            words[b as usize / LONG_BITS] |= 1 << (b as usize % LONG_BITS);
        }
        let mut buf = [0u8; BITMAP_BYTES];
        for (chunk, w) in buf.chunks_mut(LONG_BITS / 8).zip(words) {
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        buf
    }

    #[test]
    fn kernel_bitmaps_decode_to_sorted_bit_numbers() {
        // A touchscreen: EV_SYN, EV_KEY, EV_ABS; BTN_TOUCH; ABS_MT_POSITION_X/Y.
        let ev = kernel_bitmap(&[0, EventType::KEY.0, EventType::ABSOLUTE.0]);
        assert_eq!(set_bits(&ev, 8), vec![0, 1, 3]);
        let keys = kernel_bitmap(&[KeyCode::BTN_TOUCH.0, KeyCode::BTN_TOOL_PEN.0]);
        assert_eq!(set_bits(&keys, 96), vec![320, 330]);
        let abs = kernel_bitmap(&[
            AbsoluteAxisCode::ABS_MT_POSITION_Y.0,
            AbsoluteAxisCode::ABS_MT_POSITION_X.0,
        ]);
        assert_eq!(set_bits(&abs, 8), vec![0x35, 0x36]);
        // A tablet in tablet mode with its lid open: SW_TABLET_MODE on, SW_LID off.
        let sw = kernel_bitmap(&[SwitchCode::SW_TABLET_MODE.0]);
        assert_eq!(set_bits(&sw, 8), vec![1]);
        let props = kernel_bitmap(&[PropType::DIRECT.0]);
        assert_eq!(set_bits(&props, 8), vec![1]);
        // The last bit the buffer holds.
        let top = kernel_bitmap(&[1023, 1]);
        assert_eq!(set_bits(&top, BITMAP_BYTES as i32), vec![1, 1023]);
    }

    #[test]
    fn only_the_bytes_the_kernel_copied_count() {
        let keys = kernel_bitmap(&[3, KeyCode::BTN_TOUCH.0]);
        // The kernel copied the first long only: BTN_TOUCH (330) is past it.
        assert_eq!(set_bits(&keys, (LONG_BITS / 8) as i32), vec![3]);
        assert_eq!(set_bits(&keys, 0), Vec::<u16>::new());
        // Odd return values are clamped, never trusted as lengths.
        assert_eq!(set_bits(&keys, -5), Vec::<u16>::new());
        assert_eq!(set_bits(&keys, i32::MAX), vec![3, 330]);
    }

    #[test]
    fn names_stop_at_nul_and_survive_odd_bytes() {
        let mut buf = [0u8; NAME_BYTES];
        buf[..16].copy_from_slice(b"Surface Pen\0xyz\0");
        assert_eq!(c_string(&buf, 12), "Surface Pen");
        // Not UTF-8: replaced, not a panic.
        buf[..4].copy_from_slice(&[0xff, b'a', 0xc3, 0]);
        assert_eq!(c_string(&buf, 4), "\u{fffd}a\u{fffd}");
        // A name of 256 bytes or more comes back cut, without a NUL.
        let long = [b'x'; NAME_BYTES];
        assert_eq!(c_string(&long, NAME_BYTES as i32), "x".repeat(NAME_BYTES));
        assert_eq!(c_string(&long, 1000), "x".repeat(NAME_BYTES));
        assert_eq!(c_string(&long, -1), "");
    }

    #[test]
    fn failed_ioctls_say_why() {
        let not = "not an event device";
        assert_eq!(
            ioctl_reason("EVIOCGBIT", Errno::EACCES, not),
            ReadError::PermissionDenied.to_string()
        );
        assert_eq!(
            ioctl_reason("EVIOCGBIT", Errno::ENOTTY, not),
            "not an event device (ENOTTY)"
        );
        assert_eq!(ioctl_reason("EVIOCGID", Errno::ENODEV, not), GONE);
        assert_eq!(ioctl_reason("EVIOCGID", Errno::ENXIO, not), GONE);
        assert_eq!(
            ioctl_reason("EVIOCGSW", Errno::EINVAL, not),
            "EVIOCGSW: Invalid argument"
        );

        let p = "dev/input/event3";
        let f = |r| device_answer::<()>(p, r, not);
        assert_eq!(f(Err(ReadError::NotFound)), Fact::Absent { path: p.into() });
        for (r, reason) in [
            (Err(ReadError::NotLive), ReadError::NotLive.to_string()),
            (
                Err(ReadError::PermissionDenied),
                "permission denied".to_string(),
            ),
            // The device went away between the listing and the open.
            (
                Err(ReadError::Io(Errno::ENXIO.desc().into())),
                GONE.to_string(),
            ),
            (Ok(Err(("EVIOCGPROP", Errno::ENODEV))), GONE.to_string()),
            (
                Ok(Err(("EVIOCGBIT", Errno::ENOTTY))),
                "not an event device (ENOTTY)".to_string(),
            ),
        ] {
            assert_eq!(
                f(r),
                Fact::Unknown {
                    path: p.into(),
                    reason
                }
            );
        }
        assert_eq!(f(Ok(Ok(()))), Fact::Ok(()));
    }

    #[test]
    fn a_plain_file_is_not_an_event_device() {
        // The real ioctl path against the kernel: a regular file answers ENOTTY to
        // the first query, and nothing else is asked.
        let t = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(
            query_evdev(t.as_file().as_raw_fd()),
            Err(("EVIOCGBIT", Errno::ENOTTY))
        );
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn request_codes_match_linux_input_h() {
        // The values of <linux/input.h>'s macros with the same sizes, as a C
        // compiler computes them on x86-64 (the generic _IOC layout).
        assert_eq!(uapi::EVIOCGID as u32, 0x8008_4502);
        assert_eq!(uapi::EVIOCGNAME as u32, 0x8100_4506); // EVIOCGNAME(256)
        assert_eq!(uapi::EVIOCGPROP as u32, 0x8080_4509); // EVIOCGPROP(128)
        assert_eq!(uapi::EVIOCGSW as u32, 0x8080_451b); // EVIOCGSW(128)
        assert_eq!(uapi::EVIOCGBIT_EV as u32, 0x8080_4520); // EVIOCGBIT(0, 128)
        assert_eq!(uapi::EVIOCGBIT_KEY as u32, 0x8080_4521);
        assert_eq!(uapi::EVIOCGBIT_ABS as u32, 0x8080_4523);
        assert_eq!(uapi::EVIOCGBIT_SW as u32, 0x8080_4525);
    }

    fn write(path: &std::path::Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// `sys/class/input/<input>`, with `eventN` when given.
    fn input_dir(root: &std::path::Path, input: &str, event: Option<(&str, &str)>) {
        let d = root.join("sys/class/input").join(input);
        write(&d.join("name"), "Microsoft Surface Lid\n");
        for f in ["bustype", "vendor", "product", "version"] {
            write(&d.join("id").join(f), "0019\n");
        }
        for c in CAPS {
            write(&d.join("capabilities").join(c), "0\n");
        }
        write(&d.join("capabilities/sw"), "3\n");
        write(&d.join("properties"), "0\n");
        if let Some((ev, devnum)) = event {
            write(&d.join(ev).join("dev"), &format!("{devnum}\n"));
        }
    }

    #[test]
    fn a_captured_tree_is_never_asked_and_never_absent() {
        let d = tempfile::tempdir().unwrap();
        // input0: a handler and a node, here a plain file as captures hold them.
        input_dir(d.path(), "input0", Some(("event0", "13:64")));
        write(&d.path().join("dev/input/event0"), "");
        // input1: a handler whose node the capture does not hold.
        input_dir(d.path(), "input1", Some(("event1", "13:65")));
        // input2: no event handler.
        input_dir(d.path(), "input2", None);
        let root = Root::open(d.path()).unwrap();
        let inputs = collect(&root);
        let inputs = inputs.ok().unwrap();
        assert_eq!(inputs.len(), 3);
        let not_live = ReadError::NotLive.to_string();
        for (dev, ev) in inputs[..2].iter().zip(["event0", "event1"]) {
            assert_eq!(
                dev.evdev,
                Fact::Unknown {
                    path: format!("dev/input/{ev}"),
                    reason: not_live.clone()
                }
            );
            // The sysfs side is still read.
            assert_eq!(dev.capabilities["sw"], Fact::Ok(vec![0, 1]));
        }
        assert_eq!(
            inputs[2].evdev,
            Fact::Absent {
                path: "sys/class/input/input2/event*".into()
            }
        );
        assert_eq!(inputs[2].evdev.failure(), inputs[2].udev.failure());
    }

    #[test]
    fn on_the_live_root_a_missing_node_is_absent() {
        let live = Root::open("/").unwrap();
        assert_eq!(
            evdev(&live, "event999999"),
            Fact::Absent {
                path: "dev/input/event999999".into()
            }
        );
    }
}
