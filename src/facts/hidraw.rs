//! hidraw nodes: which HID device each belongs to, and what the node answers.

use std::os::fd::{AsRawFd, RawFd};

use super::input::{IoctlError, device_answer, ioctl};
use super::{Fact, Hidraw, HidrawInfo, list_sorted};
use crate::root::Root;

/// `HID_MAX_DESCRIPTOR_SIZE` of `<linux/hid.h>`: the kernel refuses a larger report
/// descriptor, so a size past it never comes from a working kernel. The collector
/// records the size as the device reports it.
pub const HID_MAX_DESCRIPTOR_SIZE: u32 = 4096;

pub fn collect(root: &Root) -> Fact<Vec<Hidraw>> {
    let base = "sys/class/hidraw";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| Hidraw {
                hid_device: root
                    .canonical(&format!("{base}/{n}/device"))
                    .ok()
                    .and_then(|p| p.rsplit('/').next().map(str::to_string)),
                node: Fact::from_read(&format!("dev/{n}"), root.stat(&format!("dev/{n}"))),
                info: info(root, &n),
                sysname: n,
            })
            .collect()
    })
}

/// Asks `dev/<sysname>` for its bus, ids and report descriptor size (live root only:
/// a captured tree answers [`crate::root::ReadError::NotLive`]).
fn info(root: &Root, sysname: &str) -> Fact<HidrawInfo> {
    let path = format!("dev/{sysname}");
    match device_answer(
        &path,
        root.with_device(&path, |f| query(f.as_raw_fd())),
        "not a hidraw device",
    ) {
        Fact::Ok((raw, size)) => match decode(&raw, size) {
            Ok(info) => Fact::Ok(info),
            Err(why) => Fact::unparseable(&path, why),
        },
        Fact::Absent { path } => Fact::Absent { path },
        Fact::Unknown { path, reason } => Fact::Unknown { path, reason },
    }
}

/// `struct hidraw_devinfo` of `<linux/hidraw.h>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DevInfo {
    bustype: u32,
    vendor: i16,
    product: i16,
}

/// Request codes from `<linux/hidraw.h>`.
mod uapi {
    use nix::sys::ioctl::ioctl_num_type;

    /// `HIDIOCGRDESCSIZE`: `_IOR('H', 0x01, int)`.
    pub const HIDIOCGRDESCSIZE: ioctl_num_type =
        nix::request_code_read!(b'H', 0x01, std::mem::size_of::<libc::c_int>());
    /// `HIDIOCGRAWINFO`: `_IOR('H', 0x03, struct hidraw_devinfo)`.
    pub const HIDIOCGRAWINFO: ioctl_num_type =
        nix::request_code_read!(b'H', 0x03, std::mem::size_of::<super::DevInfo>());
}

/// The two query ioctls; nothing is read from or written to the device.
fn query(fd: RawFd) -> Result<(DevInfo, libc::c_int), IoctlError> {
    let mut raw = DevInfo::default();
    // SAFETY: `raw` is a `struct hidraw_devinfo`, the size HIDIOCGRAWINFO encodes.
    unsafe { ioctl(fd, uapi::HIDIOCGRAWINFO, &mut raw) }.map_err(|e| ("HIDIOCGRAWINFO", e))?;
    let mut size: libc::c_int = 0;
    // SAFETY: `size` is an `int`, the size HIDIOCGRDESCSIZE encodes.
    unsafe { ioctl(fd, uapi::HIDIOCGRDESCSIZE, &mut size) }.map_err(|e| ("HIDIOCGRDESCSIZE", e))?;
    Ok((raw, size))
}

/// The kernel's answers as facts. The UAPI declares vendor and product `__s16`; they
/// are the 16-bit USB/HID ids, so their bits are read as `u16` (Intel's `0x8086`
/// arrives as -32634).
fn decode(raw: &DevInfo, descriptor_size: libc::c_int) -> Result<HidrawInfo, String> {
    Ok(HidrawInfo {
        bustype: raw.bustype,
        vendor: raw.vendor as u16,
        product: raw.product as u16,
        descriptor_size: u32::try_from(descriptor_size)
            .map_err(|_| format!("negative report descriptor size {descriptor_size}"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::ReadError;
    use nix::errno::Errno;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn ids_are_the_bits_of_the_kernel_s_s16() {
        // The kernel stores Intel's 0x8086 in an __s16: -32634.
        assert_eq!(i16::from_ne_bytes(0x8086u16.to_ne_bytes()), -32634);
        let raw = DevInfo {
            bustype: 0x18,
            vendor: -32634,
            product: -1,
        };
        assert_eq!(
            decode(&raw, 4096),
            Ok(HidrawInfo {
                bustype: 0x18,
                vendor: 0x8086,
                product: 0xffff,
                descriptor_size: 4096,
            })
        );
        // IPTS on I2C: Microsoft's 0x045e, positive as an s16.
        let ipts = DevInfo {
            bustype: 0x18,
            vendor: 0x045e,
            product: 0x0021,
        };
        let info = decode(&ipts, 1234).unwrap();
        assert_eq!((info.vendor, info.product), (0x045e, 0x0021));
        // A size past HID_MAX_DESCRIPTOR_SIZE is recorded as reported.
        assert_eq!(
            decode(&ipts, 5000).unwrap().descriptor_size,
            HID_MAX_DESCRIPTOR_SIZE + 904
        );
        assert!(decode(&ipts, -1).unwrap_err().contains("negative"));
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn request_codes_match_linux_hidraw_h() {
        // <linux/hidraw.h> compiled on x86-64 (the generic _IOC layout).
        assert_eq!(std::mem::size_of::<DevInfo>(), 8);
        assert_eq!(uapi::HIDIOCGRAWINFO as u32, 0x8008_4803);
        assert_eq!(uapi::HIDIOCGRDESCSIZE as u32, 0x8004_4801);
    }

    #[test]
    fn a_plain_file_is_not_a_hidraw_device() {
        let t = tempfile::NamedTempFile::new().unwrap();
        let r = query(t.as_file().as_raw_fd());
        assert_eq!(r, Err(("HIDIOCGRAWINFO", Errno::ENOTTY)));
        assert_eq!(
            device_answer("dev/hidraw0", Ok(r), "not a hidraw device"),
            Fact::Unknown {
                path: "dev/hidraw0".into(),
                reason: "not a hidraw device (ENOTTY)".into()
            }
        );
    }

    #[test]
    fn a_captured_tree_is_never_asked_and_never_absent() {
        let d = tempfile::tempdir().unwrap();
        let hid = d
            .path()
            .join("sys/devices/i2c-MSHW0137:00/0018:045E:0021.0001");
        for n in ["hidraw0", "hidraw1"] {
            fs::create_dir_all(hid.join("hidraw").join(n)).unwrap();
            symlink("../..", hid.join("hidraw").join(n).join("device")).unwrap();
        }
        fs::create_dir_all(d.path().join("sys/class/hidraw")).unwrap();
        for n in ["hidraw0", "hidraw1"] {
            symlink(
                format!("../../devices/i2c-MSHW0137:00/0018:045E:0021.0001/hidraw/{n}"),
                d.path().join("sys/class/hidraw").join(n),
            )
            .unwrap();
        }
        // hidraw0's node is a plain file in the capture; hidraw1 has none.
        fs::create_dir_all(d.path().join("dev")).unwrap();
        fs::write(d.path().join("dev/hidraw0"), "").unwrap();
        let root = Root::open(d.path()).unwrap();
        let nodes = collect(&root);
        let nodes = nodes.ok().unwrap();
        assert_eq!(nodes.len(), 2);
        for (h, n) in nodes.iter().zip(["hidraw0", "hidraw1"]) {
            assert_eq!(h.sysname, n);
            assert_eq!(h.hid_device.as_deref(), Some("0018:045E:0021.0001"));
            assert_eq!(
                h.info,
                Fact::Unknown {
                    path: format!("dev/{n}"),
                    reason: ReadError::NotLive.to_string()
                }
            );
        }
        assert!(matches!(nodes[1].node, Fact::Absent { .. }));
    }

    #[test]
    fn on_the_live_root_a_missing_node_is_absent() {
        let live = Root::open("/").unwrap();
        assert_eq!(
            info(&live, "hidraw999999"),
            Fact::Absent {
                path: "dev/hidraw999999".into()
            }
        );
    }
}
