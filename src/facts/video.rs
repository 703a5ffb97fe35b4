//! video4linux nodes and media-controller devices: what sysfs lists, and what the
//! devices answer on the live machine (`VIDIOC_QUERYCAP`, `MEDIA_IOC_DEVICE_INFO`,
//! `MEDIA_IOC_G_TOPOLOGY`).

use std::fs::File;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use v4l::v4l_sys::{
    V4L2_CAP_DEVICE_CAPS, V4L2_CAP_STREAMING, V4L2_CAP_VIDEO_CAPTURE,
    V4L2_CAP_VIDEO_CAPTURE_MPLANE, v4l2_capability,
};

use super::{
    Fact, MediaDevice, MediaEntity, MediaInfo, MediaInterface, MediaLink, MediaPad, MediaTopology,
    V4l2Caps, VideoNode, list_sorted, text,
};
use crate::root::{ReadError, Root};

pub fn video(root: &Root) -> Fact<Vec<VideoNode>> {
    let base = "sys/class/video4linux";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| {
                let dir = format!("{base}/{n}");
                let dev = format!("dev/{n}");
                VideoNode {
                    name: text(root, &format!("{dir}/name")),
                    parent: root.canonical(&format!("{dir}/device")).ok(),
                    node: Fact::from_read(&dev, root.stat(&dev)),
                    caps: if is_video_node(&n) {
                        caps_at(root, &dev)
                    } else {
                        Fact::Unknown {
                            path: dev,
                            reason: NOT_A_VIDEO_NODE.into(),
                        }
                    },
                    sysname: n,
                }
            })
            .collect()
    })
}

/// The reason a `v4l-subdevN`, `vbiN`, `radioN`, `swradioN` or `v4l-touchN` node has
/// no capabilities.
const NOT_A_VIDEO_NODE: &str = "not a videoN node: VIDIOC_QUERYCAP is not asked";

/// `videoN`: the nodes asked for their capabilities.
fn is_video_node(sysname: &str) -> bool {
    sysname
        .strip_prefix("video")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

pub fn media(root: &Root) -> Fact<Vec<MediaDevice>> {
    let base = "sys/bus/media/devices";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| {
                let dir = format!("{base}/{n}");
                let dev = format!("dev/{n}");
                let (info, topology) = media_at(root, &dev);
                MediaDevice {
                    model: text(root, &format!("{dir}/model")),
                    parent: media_parent(root, &dir),
                    node: Fact::from_read(&dev, root.stat(&dev)),
                    info,
                    topology,
                    sysname: n,
                }
            })
            .collect()
    })
}

/// The parent device of a media device. Media devices sit on the media bus, not in a
/// class, so sysfs gives them no `device` link: the directory of
/// `/sys/devices/.../<parent>/media0` is the parent's.
fn media_parent(root: &Root, dir: &str) -> Option<String> {
    let real = root.canonical(dir).ok()?;
    let (parent, _) = real.rsplit_once('/')?;
    (parent.starts_with("/sys/devices/") && parent != "/sys/devices/virtual")
        .then(|| parent.to_string())
}

/// Asks the video node at `path` for its capabilities (live root only: a captured
/// tree answers [`ReadError::NotLive`]).
fn caps_at(root: &Root, path: &str) -> Fact<V4l2Caps> {
    match root.with_device(path, |f| retry_eintr(|| querycap(f))) {
        Err(e) => Fact::from_read(path, Err(e)),
        Ok(Ok(raw)) => Fact::Ok(decode_caps(&raw)),
        Ok(Err(e)) => Fact::Unknown {
            path: path.into(),
            reason: ioctl_reason(e, "V4L2", "VIDIOC_QUERYCAP"),
        },
    }
}

/// Asks the media device at `path` for its information and its graph, in one open.
fn media_at(root: &Root, path: &str) -> (Fact<MediaInfo>, Fact<MediaTopology>) {
    let r = root.with_device(path, |f| {
        let info = retry_eintr(|| device_info(f)).map(|raw| decode_info(&raw));
        let topology =
            read_topology(|t, mut arrays| retry_eintr(|| g_topology(f, t, arrays.as_deref_mut())));
        (info, topology)
    });
    fn unknown<T>(path: &str, reason: String) -> Fact<T> {
        Fact::Unknown {
            path: path.into(),
            reason,
        }
    }
    match r {
        Err(e) => (
            Fact::from_read(path, Err(e.clone())),
            Fact::from_read(path, Err(e)),
        ),
        Ok((info, topology)) => (
            info.map_or_else(
                |e| unknown(path, ioctl_reason(e, "media", "MEDIA_IOC_DEVICE_INFO")),
                Fact::Ok,
            ),
            topology.map_or_else(|e| unknown(path, e.reason()), Fact::Ok),
        ),
    }
}

/// Why an ioctl gave no answer, in the words the report uses.
fn ioctl_reason(e: Errno, family: &str, call: &str) -> String {
    match e {
        Errno::EACCES | Errno::EPERM => ReadError::PermissionDenied.to_string(),
        Errno::ENOTTY => format!("not a {family} device (ENOTTY)"),
        Errno::ENODEV | Errno::ENXIO => {
            format!("the device went away during the query ({e:?})")
        }
        _ => format!("{call} failed: {} ({e:?})", e.desc()),
    }
}

/// Runs an ioctl again when a signal interrupted it (a bounded number of times).
fn retry_eintr<T>(mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    let mut tries = 0;
    loop {
        match f() {
            Err(Errno::EINTR) if tries < 3 => tries += 1,
            r => return r,
        }
    }
}

/// A kernel version as drivers encode it (`KERNEL_VERSION(a, b, c)`): `6.1.0`.
fn kernel_version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// A fixed-size C string from a device: up to the first NUL (or the whole buffer),
/// with bytes that are not UTF-8 replaced.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

// ---- V4L2 ----

/// `VIDIOC_QUERYCAP` on an open node.
fn querycap(f: &File) -> Result<v4l2_capability, Errno> {
    // SAFETY: v4l2_capability is integers and byte arrays: all zeroes is a valid value.
    let mut raw: v4l2_capability = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is open for the call, and `raw` is the struct VIDIOC_QUERYCAP
    // writes (its size is encoded in the request).
    unsafe {
        v4l::v4l2::ioctl(
            f.as_raw_fd(),
            v4l::v4l2::vidioc::VIDIOC_QUERYCAP,
            (&mut raw as *mut v4l2_capability).cast(),
        )
    }
    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(raw)
}

fn decode_caps(raw: &v4l2_capability) -> V4l2Caps {
    let device_caps = if raw.capabilities & V4L2_CAP_DEVICE_CAPS != 0 {
        raw.device_caps
    } else {
        raw.capabilities
    };
    V4l2Caps {
        driver: c_string(&raw.driver),
        card: c_string(&raw.card),
        bus_info: c_string(&raw.bus_info),
        version: kernel_version(raw.version),
        capabilities: raw.capabilities,
        device_caps,
        capture: device_caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0,
        streaming: device_caps & V4L2_CAP_STREAMING != 0,
    }
}

// ---- Media controller ----

/// The media-controller UAPI (`include/uapi/linux/media.h`). The header declares the
/// `media_v2_*` structs packed; every field there is naturally aligned, so `repr(C)`
/// gives the same layout, which the assertions below pin down.
mod uapi {
    use std::mem::{offset_of, size_of};

    /// `struct media_device_info`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct DeviceInfo {
        pub driver: [u8; 16],
        pub model: [u8; 32],
        /// Read because the kernel writes it; never decoded or kept.
        pub serial: [u8; 40],
        pub bus_info: [u8; 32],
        pub media_version: u32,
        pub hw_revision: u32,
        pub driver_version: u32,
        pub reserved: [u32; 31],
    }

    impl DeviceInfo {
        pub const ZERO: DeviceInfo = DeviceInfo {
            driver: [0; 16],
            model: [0; 32],
            serial: [0; 40],
            bus_info: [0; 32],
            media_version: 0,
            hw_revision: 0,
            driver_version: 0,
            reserved: [0; 31],
        };
    }

    /// `struct media_v2_topology`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Topology {
        pub topology_version: u64,
        pub num_entities: u32,
        pub reserved1: u32,
        pub ptr_entities: u64,
        pub num_interfaces: u32,
        pub reserved2: u32,
        pub ptr_interfaces: u64,
        pub num_pads: u32,
        pub reserved3: u32,
        pub ptr_pads: u64,
        pub num_links: u32,
        pub reserved4: u32,
        pub ptr_links: u64,
    }

    /// `struct media_v2_entity`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Entity {
        pub id: u32,
        pub name: [u8; 64],
        pub function: u32,
        pub flags: u32,
        pub reserved: [u32; 5],
    }

    impl Entity {
        pub const ZERO: Entity = Entity {
            id: 0,
            name: [0; 64],
            function: 0,
            flags: 0,
            reserved: [0; 5],
        };
    }

    /// `struct media_v2_intf_devnode`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Devnode {
        pub major: u32,
        pub minor: u32,
    }

    /// The anonymous union of `struct media_v2_interface`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub union InterfaceTarget {
        pub devnode: Devnode,
        pub raw: [u32; 16],
    }

    /// `struct media_v2_interface`.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Interface {
        pub id: u32,
        pub intf_type: u32,
        pub flags: u32,
        pub reserved: [u32; 9],
        pub target: InterfaceTarget,
    }

    impl Interface {
        pub const ZERO: Interface = Interface {
            id: 0,
            intf_type: 0,
            flags: 0,
            reserved: [0; 9],
            target: InterfaceTarget { raw: [0; 16] },
        };

        /// The device node's numbers (every interface type the kernel defines is a
        /// device node).
        pub fn devnode(&self) -> Devnode {
            // SAFETY: both union members are plain integers over the same bytes: any
            // bit pattern is a valid `Devnode`.
            unsafe { self.target.devnode }
        }
    }

    /// `struct media_v2_pad`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct Pad {
        pub id: u32,
        pub entity_id: u32,
        pub flags: u32,
        pub index: u32,
        pub reserved: [u32; 4],
    }

    /// `struct media_v2_link`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct Link {
        pub id: u32,
        pub source_id: u32,
        pub sink_id: u32,
        pub flags: u32,
        pub reserved: [u32; 6],
    }

    // The sizes and offsets of the header (packed: no padding anywhere).
    const _: () = {
        assert!(size_of::<DeviceInfo>() == 256);
        assert!(offset_of!(DeviceInfo, bus_info) == 88);
        assert!(offset_of!(DeviceInfo, media_version) == 120);
        assert!(offset_of!(DeviceInfo, driver_version) == 128);
        assert!(size_of::<Topology>() == 72);
        assert!(offset_of!(Topology, ptr_entities) == 16);
        assert!(offset_of!(Topology, ptr_interfaces) == 32);
        assert!(offset_of!(Topology, ptr_pads) == 48);
        assert!(offset_of!(Topology, ptr_links) == 64);
        assert!(size_of::<Entity>() == 96);
        assert!(offset_of!(Entity, function) == 68);
        assert!(offset_of!(Entity, flags) == 72);
        assert!(size_of::<Devnode>() == 8);
        assert!(size_of::<InterfaceTarget>() == 64);
        assert!(size_of::<Interface>() == 112);
        assert!(offset_of!(Interface, target) == 48);
        assert!(size_of::<Pad>() == 32);
        assert!(size_of::<Link>() == 40);
    };

    nix::ioctl_readwrite!(device_info, b'|', 0x00, DeviceInfo);
    nix::ioctl_readwrite!(g_topology, b'|', 0x04, Topology);
}

/// `MEDIA_IOC_DEVICE_INFO` on an open node.
fn device_info(f: &File) -> Result<uapi::DeviceInfo, Errno> {
    let mut raw = uapi::DeviceInfo::ZERO;
    // SAFETY: the fd is open for the call and `raw` is the struct the ioctl writes.
    unsafe { uapi::device_info(f.as_raw_fd(), &mut raw) }?;
    Ok(raw)
}

fn decode_info(raw: &uapi::DeviceInfo) -> MediaInfo {
    MediaInfo {
        driver: c_string(&raw.driver),
        model: c_string(&raw.model),
        bus_info: c_string(&raw.bus_info),
        hw_revision: raw.hw_revision,
        driver_version: kernel_version(raw.driver_version),
        media_version: kernel_version(raw.media_version),
    }
}

/// Most objects of one kind (entities, interfaces, pads, links) read from one graph.
const MAX_GRAPH_OBJECTS: u32 = 4096;

/// How many times the graph is read when it changes between the counting and the
/// filling call.
const TOPOLOGY_TRIES: u32 = 4;

/// The arrays `MEDIA_IOC_G_TOPOLOGY` fills.
struct Arrays {
    entities: Vec<uapi::Entity>,
    interfaces: Vec<uapi::Interface>,
    pads: Vec<uapi::Pad>,
    links: Vec<uapi::Link>,
}

/// Why the graph could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TopologyError {
    Ioctl(Errno),
    TooMany { what: &'static str, count: u32 },
    KeptChanging,
}

impl From<Errno> for TopologyError {
    fn from(e: Errno) -> Self {
        TopologyError::Ioctl(e)
    }
}

impl TopologyError {
    fn reason(&self) -> String {
        match self {
            TopologyError::Ioctl(e) => ioctl_reason(*e, "media", "MEDIA_IOC_G_TOPOLOGY"),
            TopologyError::TooMany { what, count } => format!(
                "more than {MAX_GRAPH_OBJECTS} {what} in the media graph (it reports {count}): not read"
            ),
            TopologyError::KeptChanging => {
                format!("the media graph changed during each of {TOPOLOGY_TRIES} reads")
            }
        }
    }
}

/// `MEDIA_IOC_G_TOPOLOGY` on an open node, with `arrays` to fill (or none, to count).
/// The counts in `t` are the arrays' lengths.
fn g_topology(f: &File, t: &mut uapi::Topology, arrays: Option<&mut Arrays>) -> Result<(), Errno> {
    fn ptr<T>(v: &mut [T]) -> u64 {
        if v.is_empty() {
            0
        } else {
            v.as_mut_ptr() as u64
        }
    }
    if let Some(a) = arrays {
        // The kernel writes at most `num_*` elements to each pointer.
        debug_assert!(t.num_entities as usize <= a.entities.len());
        debug_assert!(t.num_interfaces as usize <= a.interfaces.len());
        debug_assert!(t.num_pads as usize <= a.pads.len());
        debug_assert!(t.num_links as usize <= a.links.len());
        t.ptr_entities = ptr(&mut a.entities);
        t.ptr_interfaces = ptr(&mut a.interfaces);
        t.ptr_pads = ptr(&mut a.pads);
        t.ptr_links = ptr(&mut a.links);
    }
    // SAFETY: the fd is open for the call; each pointer is null or points to an array
    // of at least the count the kernel is given, which it never writes past, and the
    // arrays outlive the call.
    unsafe { uapi::g_topology(f.as_raw_fd(), t) }.map(|_| ())
}

/// Reads the media graph with `call` (one `MEDIA_IOC_G_TOPOLOGY`): a first call
/// counts, a second fills arrays of those sizes. When the graph changed in between
/// (its version moved, it outgrew the arrays) the read starts again, a bounded number
/// of times.
fn read_topology(
    mut call: impl FnMut(&mut uapi::Topology, Option<&mut Arrays>) -> Result<(), Errno>,
) -> Result<MediaTopology, TopologyError> {
    for _ in 0..TOPOLOGY_TRIES {
        let mut count = uapi::Topology::default();
        call(&mut count, None)?;
        for (what, n) in [
            ("entities", count.num_entities),
            ("interfaces", count.num_interfaces),
            ("pads", count.num_pads),
            ("links", count.num_links),
        ] {
            if n > MAX_GRAPH_OBJECTS {
                return Err(TopologyError::TooMany { what, count: n });
            }
        }
        let mut arrays = Arrays {
            entities: vec![uapi::Entity::ZERO; count.num_entities as usize],
            interfaces: vec![uapi::Interface::ZERO; count.num_interfaces as usize],
            pads: vec![uapi::Pad::default(); count.num_pads as usize],
            links: vec![uapi::Link::default(); count.num_links as usize],
        };
        let mut fill = uapi::Topology {
            num_entities: count.num_entities,
            num_interfaces: count.num_interfaces,
            num_pads: count.num_pads,
            num_links: count.num_links,
            ..Default::default()
        };
        match call(&mut fill, Some(&mut arrays)) {
            // More objects than the arrays hold: the graph grew.
            Err(Errno::ENOSPC) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        let fits = fill.num_entities <= count.num_entities
            && fill.num_interfaces <= count.num_interfaces
            && fill.num_pads <= count.num_pads
            && fill.num_links <= count.num_links;
        if fill.topology_version != count.topology_version || !fits {
            continue;
        }
        arrays.entities.truncate(fill.num_entities as usize);
        arrays.interfaces.truncate(fill.num_interfaces as usize);
        arrays.pads.truncate(fill.num_pads as usize);
        arrays.links.truncate(fill.num_links as usize);
        return Ok(decode_topology(fill.topology_version, &arrays));
    }
    Err(TopologyError::KeptChanging)
}

fn decode_topology(version: u64, a: &Arrays) -> MediaTopology {
    MediaTopology {
        version,
        entities: a
            .entities
            .iter()
            .map(|e| MediaEntity {
                id: e.id,
                name: c_string(&e.name),
                function: e.function,
                flags: e.flags,
            })
            .collect(),
        interfaces: a
            .interfaces
            .iter()
            .map(|i| {
                let d = i.devnode();
                MediaInterface {
                    id: i.id,
                    intf_type: i.intf_type,
                    major: d.major,
                    minor: d.minor,
                }
            })
            .collect(),
        pads: a
            .pads
            .iter()
            .map(|p| MediaPad {
                id: p.id,
                entity_id: p.entity_id,
                flags: p.flags,
                index: p.index,
            })
            .collect(),
        links: a
            .links
            .iter()
            .map(|l| MediaLink {
                id: l.id,
                source_id: l.source_id,
                sink_id: l.sink_id,
                flags: l.flags,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_media_device_s_parent_is_the_directory_above_it() {
        // As Linux 6.1 lays out vivid's media device (no `device` link).
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("sys/devices/platform/vivid.0/media0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("model"), "vivid\n").unwrap();
        std::fs::create_dir_all(d.path().join("sys/bus/media/devices")).unwrap();
        symlink(
            "../../../devices/platform/vivid.0/media0",
            d.path().join("sys/bus/media/devices/media0"),
        )
        .unwrap();
        let root = Root::open(d.path()).unwrap();
        let m = media(&root);
        let m = &m.ok().unwrap()[0];
        assert_eq!(m.model.ok().map(String::as_str), Some("vivid"));
        assert_eq!(m.parent.as_deref(), Some("/sys/devices/platform/vivid.0"));
        // A captured tree has no device to ask.
        let not_live = ReadError::NotLive.to_string();
        let not_live = Some(("dev/media0", Some(not_live.as_str())));
        assert!(m.info.ok().is_none() && m.topology.ok().is_none());
        assert_eq!(m.info.failure(), not_live);
        assert_eq!(m.topology.failure(), not_live);
    }

    #[test]
    fn only_video_nodes_are_asked_and_a_captured_tree_is_never_asked() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "video0",
            "v4l-subdev0",
            "vbi1",
            "radio2",
            "swradio3",
            "v4l-touch4",
        ] {
            let dir = d.path().join("sys/class/video4linux").join(n);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("name"), format!("{n}\n")).unwrap();
        }
        let root = Root::open(d.path()).unwrap();
        let v = video(&root);
        let v = v.ok().unwrap();
        assert_eq!(v.len(), 6);
        for node in v {
            let reason = if node.sysname == "video0" {
                ReadError::NotLive.to_string()
            } else {
                NOT_A_VIDEO_NODE.to_string()
            };
            assert_eq!(
                node.caps,
                Fact::Unknown {
                    path: format!("dev/{}", node.sysname),
                    reason
                },
                "{}",
                node.sysname
            );
        }
    }

    #[test]
    fn video_nodes_are_video_and_a_number() {
        for yes in ["video0", "video12", "video999999"] {
            assert!(is_video_node(yes), "{yes}");
        }
        for no in [
            "video",
            "videoX",
            "video1a",
            "v4l-subdev0",
            "vbi0",
            "radio0",
            "swradio0",
            "v4l-touch0",
            "xvideo0",
        ] {
            assert!(!is_video_node(no), "{no}");
        }
    }

    #[test]
    fn device_strings_stop_at_nul_and_survive_garbage() {
        assert_eq!(c_string(b"vivid\0\0\0"), "vivid");
        assert_eq!(c_string(b"vivid\0junk"), "vivid");
        // No NUL: the whole buffer.
        assert_eq!(c_string(b"0123456789abcdef"), "0123456789abcdef");
        assert_eq!(c_string(b"\0vivid"), "");
        assert_eq!(c_string(&[0; 32]), "");
        // Not UTF-8: replaced, never a panic.
        assert_eq!(c_string(b"ov\xff5693\xc3\0"), "ov\u{fffd}5693\u{fffd}");
        assert_eq!(c_string(&[0xff; 64]), "\u{fffd}".repeat(64));
    }

    #[test]
    fn versions_read_as_the_kernel_encodes_them() {
        assert_eq!(kernel_version(0x0006_0100), "6.1.0");
        assert_eq!(kernel_version((4 << 16) | (19 << 8) | 7), "4.19.7");
        assert_eq!(kernel_version(0), "0.0.0");
        assert_eq!(kernel_version(u32::MAX), "65535.255.255");
    }

    fn raw_caps(capabilities: u32, device_caps: u32) -> v4l2_capability {
        // SAFETY: integers and byte arrays: zeroes are valid.
        let mut c: v4l2_capability = unsafe { std::mem::zeroed() };
        c.driver[..5].copy_from_slice(b"vivid");
        c.card[..5].copy_from_slice(b"vivid");
        c.bus_info[..18].copy_from_slice(b"platform:vivid-000");
        c.version = 0x0006_0100;
        c.capabilities = capabilities;
        c.device_caps = device_caps;
        c
    }

    #[test]
    fn capabilities_decode_with_and_without_device_caps() {
        // vivid's capture node: the device has everything, this node captures.
        let all = 0x85e0_5ff7 | V4L2_CAP_DEVICE_CAPS;
        let cap = decode_caps(&raw_caps(
            all,
            V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | 0x0100_0000,
        ));
        assert_eq!(
            cap,
            V4l2Caps {
                driver: "vivid".into(),
                card: "vivid".into(),
                bus_info: "platform:vivid-000".into(),
                version: "6.1.0".into(),
                capabilities: all,
                device_caps: V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | 0x0100_0000,
                capture: true,
                streaming: true,
            }
        );
        // The same device's output node: not a capture node.
        let out = decode_caps(&raw_caps(all, 0x2 | V4L2_CAP_STREAMING));
        assert!(!out.capture);
        assert!(out.streaming);
        // Multi-planar capture counts as capture (ipu3-cio2).
        let mplane = decode_caps(&raw_caps(
            V4L2_CAP_DEVICE_CAPS | V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_STREAMING,
            V4L2_CAP_VIDEO_CAPTURE_MPLANE,
        ));
        assert!(mplane.capture);
        assert!(!mplane.streaming, "device_caps, not capabilities, decide");
        // No V4L2_CAP_DEVICE_CAPS: device_caps is ignored (an old driver's garbage)
        // and the whole device's capabilities stand for the node.
        let old = decode_caps(&raw_caps(V4L2_CAP_VIDEO_CAPTURE, 0xdead_beef));
        assert_eq!(old.device_caps, V4L2_CAP_VIDEO_CAPTURE);
        assert!(old.capture);
        assert!(!old.streaming);
        // Garbage strings decode without a panic.
        let mut g = raw_caps(0, 0);
        g.driver = [0xff; 16];
        g.card = [b'x'; 32];
        let g = decode_caps(&g);
        assert_eq!(g.driver, "\u{fffd}".repeat(16));
        assert_eq!(g.card, "x".repeat(32));
        assert!(!g.capture && !g.streaming);
    }

    #[test]
    fn media_info_decodes_and_drops_the_serial() {
        let mut raw = uapi::DeviceInfo::ZERO;
        raw.driver[..9].copy_from_slice(b"ipu3-cio2");
        raw.model[..15].copy_from_slice(b"Intel IPU3 CIO2");
        raw.serial[..12].copy_from_slice(b"SERIAL-12345");
        raw.bus_info[..16].copy_from_slice(b"PCI:0000:00:14.3");
        raw.media_version = 0x0006_0100;
        raw.driver_version = 0x0006_0113;
        raw.hw_revision = 3;
        let info = decode_info(&raw);
        assert_eq!(
            info,
            MediaInfo {
                driver: "ipu3-cio2".into(),
                model: "Intel IPU3 CIO2".into(),
                bus_info: "PCI:0000:00:14.3".into(),
                hw_revision: 3,
                driver_version: "6.1.19".into(),
                media_version: "6.1.0".into(),
            }
        );
        let json = serde_json::to_string(&info).unwrap();
        assert!(!json.contains("SERIAL"), "{json}");
    }

    #[test]
    fn request_codes_are_the_header_s() {
        // _IOWR('|', 0x00, struct media_device_info), _IOWR('|', 0x04, struct
        // media_v2_topology), _IOR('V', 0, struct v4l2_capability).
        let info = nix::request_code_readwrite!(b'|', 0x00, size_of::<uapi::DeviceInfo>());
        let topo = nix::request_code_readwrite!(b'|', 0x04, size_of::<uapi::Topology>());
        assert_eq!(info as u32, 0xc100_7c00);
        assert_eq!(topo as u32, 0xc048_7c04);
        assert_eq!(v4l::v4l2::vidioc::VIDIOC_QUERYCAP as u32, 0x8068_5600);
    }

    // ---- The media graph, read through a kernel stand-in ----

    fn entity(id: u32, name: &[u8], function: u32) -> uapi::Entity {
        let mut e = uapi::Entity::ZERO;
        e.id = id;
        e.name[..name.len()].copy_from_slice(name);
        e.function = function;
        e
    }

    fn interface(id: u32, intf_type: u32, major: u32, minor: u32) -> uapi::Interface {
        let mut i = uapi::Interface::ZERO;
        i.id = id;
        i.intf_type = intf_type;
        let mut raw = [0u32; 16];
        raw[0] = major;
        raw[1] = minor;
        raw[2] = 0xffff_ffff; // beyond the devnode: ignored
        i.target = uapi::InterfaceTarget { raw };
        i
    }

    fn pad(id: u32, entity_id: u32, flags: u32, index: u32) -> uapi::Pad {
        uapi::Pad {
            id,
            entity_id,
            flags,
            index,
            reserved: [0; 4],
        }
    }

    fn link(id: u32, source_id: u32, sink_id: u32, flags: u32) -> uapi::Link {
        uapi::Link {
            id,
            source_id,
            sink_id,
            flags,
            reserved: [0; 6],
        }
    }

    #[derive(Clone)]
    struct Graph {
        version: u64,
        entities: Vec<uapi::Entity>,
        interfaces: Vec<uapi::Interface>,
        pads: Vec<uapi::Pad>,
        links: Vec<uapi::Link>,
    }

    /// A sensor, a CSI-2 receiver and a capture node, linked; the capture node's
    /// interface is /dev/video0 (81:0).
    fn camera(version: u64) -> Graph {
        Graph {
            version,
            entities: vec![
                entity(1, b"ov5693 2-0036", 0x20001),
                entity(3, b"ipu3-csi2 0", 0x4002),
                entity(6, b"ipu3-cio2 0\0\xff\xff", 0x10001),
            ],
            interfaces: vec![interface(8, 0x200, 81, 0)],
            pads: vec![
                pad(2, 1, 2, 0),
                pad(4, 3, 1, 0),
                pad(5, 3, 2, 1),
                pad(7, 6, 1, 0),
            ],
            links: vec![
                link(9, 2, 4, 1),
                link(10, 5, 7, 1 | 2),
                link(11, 8, 6, (1 << 28) | 1 | 2),
            ],
        }
    }

    /// Answers as `media_device_get_topology` does: counts always, the arrays it is
    /// given filled (ENOSPC when one is too small), the graph per call from `graphs`
    /// (the last one repeating).
    struct Kernel {
        graphs: Vec<Graph>,
        calls: usize,
        /// Answers the call of this number with this error instead.
        fail: Option<(usize, Errno)>,
    }

    impl Kernel {
        fn new(graphs: Vec<Graph>) -> Self {
            Kernel {
                graphs,
                calls: 0,
                fail: None,
            }
        }

        fn call(&mut self, t: &mut uapi::Topology, a: Option<&mut Arrays>) -> Result<(), Errno> {
            let n = self.calls;
            self.calls += 1;
            if let Some((at, e)) = self.fail
                && at == n
            {
                return Err(e);
            }
            let g = &self.graphs[n.min(self.graphs.len() - 1)];
            fn put<T: Copy>(have: &[T], dst: &mut [T], room: u32) -> Result<(), Errno> {
                if dst.is_empty() {
                    return Ok(()); // a null pointer: counted only
                }
                if have.len() > room as usize {
                    return Err(Errno::ENOSPC);
                }
                dst[..have.len()].copy_from_slice(have);
                Ok(())
            }
            if let Some(a) = a {
                put(&g.entities, &mut a.entities, t.num_entities)?;
                put(&g.interfaces, &mut a.interfaces, t.num_interfaces)?;
                put(&g.pads, &mut a.pads, t.num_pads)?;
                put(&g.links, &mut a.links, t.num_links)?;
            }
            t.topology_version = g.version;
            t.num_entities = g.entities.len() as u32;
            t.num_interfaces = g.interfaces.len() as u32;
            t.num_pads = g.pads.len() as u32;
            t.num_links = g.links.len() as u32;
            Ok(())
        }

        fn read(&mut self) -> Result<MediaTopology, TopologyError> {
            read_topology(|t, a| self.call(t, a))
        }
    }

    #[test]
    fn a_stable_graph_is_read_in_two_calls_and_decoded() {
        let mut k = Kernel::new(vec![camera(7)]);
        let t = k.read().unwrap();
        assert_eq!(k.calls, 2);
        assert_eq!(t.version, 7);
        let names: Vec<&str> = t.entities.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ov5693 2-0036", "ipu3-csi2 0", "ipu3-cio2 0"]);
        assert_eq!(
            t.entities[0],
            MediaEntity {
                id: 1,
                name: "ov5693 2-0036".into(),
                function: 0x20001,
                flags: 0
            }
        );
        assert_eq!(
            t.interfaces,
            [MediaInterface {
                id: 8,
                intf_type: 0x200,
                major: 81,
                minor: 0
            }]
        );
        assert_eq!(
            t.pads[2],
            MediaPad {
                id: 5,
                entity_id: 3,
                flags: 2,
                index: 1
            }
        );
        assert_eq!(
            t.links[2],
            MediaLink {
                id: 11,
                source_id: 8,
                sink_id: 6,
                flags: (1 << 28) | 3
            }
        );
        assert_eq!(t.links.len(), 3);
        // An empty graph is a graph, not a failure.
        let mut empty = Kernel::new(vec![Graph {
            version: 1,
            entities: vec![],
            interfaces: vec![],
            pads: vec![],
            links: vec![],
        }]);
        assert_eq!(
            empty.read().unwrap(),
            MediaTopology {
                version: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_graph_that_changes_between_the_calls_is_read_again() {
        // The version moves between counting and filling: the next round is kept.
        let mut g2 = camera(2);
        g2.links.pop();
        let mut k = Kernel::new(vec![camera(1), g2.clone()]);
        let t = k.read().unwrap();
        assert_eq!(k.calls, 4);
        assert_eq!(t.version, 2);
        assert_eq!(t.links.len(), 2);
        // It grew: the kernel answers ENOSPC, and the read starts again.
        let mut bigger = camera(1);
        bigger.entities.push(entity(12, b"ov8865 3-0010", 0x20001));
        let mut k = Kernel::new(vec![camera(1), bigger.clone()]);
        let t = k.read().unwrap();
        assert_eq!(k.calls, 4);
        assert_eq!(t.entities.len(), 4);
        // It gained its first links (none to allocate for, so no ENOSPC): the count
        // outgrew the arrays, and the read starts again.
        let mut unlinked = camera(1);
        unlinked.links.clear();
        let mut k = Kernel::new(vec![unlinked, camera(1)]);
        let t = k.read().unwrap();
        assert_eq!(k.calls, 4);
        assert_eq!(t.links.len(), 3);
        // A graph that shrank under the same version is read as returned.
        let mut k = Kernel::new(vec![camera(1), g2.clone()]);
        k.graphs[1].version = 1;
        assert_eq!(k.read().unwrap().links.len(), 2);
    }

    #[test]
    fn a_graph_that_never_settles_is_unknown() {
        let mut k = Kernel::new((0..20).map(camera).collect());
        let e = k.read().unwrap_err();
        assert_eq!(e, TopologyError::KeptChanging);
        assert_eq!(k.calls, 2 * TOPOLOGY_TRIES as usize);
        assert_eq!(e.reason(), "the media graph changed during each of 4 reads");
    }

    #[test]
    fn counts_over_the_cap_are_not_read() {
        let mut g = camera(1);
        g.links = vec![link(1, 2, 3, 0); MAX_GRAPH_OBJECTS as usize + 1];
        let mut k = Kernel::new(vec![g]);
        let e = k.read().unwrap_err();
        assert_eq!(k.calls, 1, "nothing is allocated for them");
        assert_eq!(
            e.reason(),
            "more than 4096 links in the media graph (it reports 4097): not read"
        );
        // At the cap: read.
        let mut g = camera(1);
        g.pads = vec![pad(1, 1, 1, 0); MAX_GRAPH_OBJECTS as usize];
        assert_eq!(Kernel::new(vec![g]).read().unwrap().pads.len(), 4096);
    }

    #[test]
    fn ioctl_errors_say_why() {
        for (at, e, want) in [
            (0, Errno::ENOTTY, "not a media device (ENOTTY)"),
            (0, Errno::EACCES, "permission denied"),
            (
                1,
                Errno::ENODEV,
                "the device went away during the query (ENODEV)",
            ),
            (
                1,
                Errno::ENXIO,
                "the device went away during the query (ENXIO)",
            ),
            (
                0,
                Errno::EINVAL,
                "MEDIA_IOC_G_TOPOLOGY failed: Invalid argument (EINVAL)",
            ),
        ] {
            let mut k = Kernel::new(vec![camera(1)]);
            k.fail = Some((at, e));
            assert_eq!(k.read().unwrap_err().reason(), want);
        }
        assert_eq!(
            ioctl_reason(Errno::ENOTTY, "V4L2", "VIDIOC_QUERYCAP"),
            "not a V4L2 device (ENOTTY)"
        );
        assert_eq!(
            ioctl_reason(Errno::EPERM, "V4L2", "VIDIOC_QUERYCAP"),
            ReadError::PermissionDenied.to_string()
        );
    }

    #[test]
    fn an_interrupted_ioctl_is_tried_again_a_few_times() {
        let mut n = 0;
        assert_eq!(
            retry_eintr(|| {
                n += 1;
                if n < 3 { Err(Errno::EINTR) } else { Ok(n) }
            }),
            Ok(3)
        );
        let mut n = 0;
        assert_eq!(
            retry_eintr(|| -> Result<(), Errno> {
                n += 1;
                Err(Errno::EINTR)
            }),
            Err(Errno::EINTR)
        );
        assert_eq!(n, 4);
    }

    #[test]
    fn the_real_ioctls_on_a_plain_file_answer_enotty() {
        // The kernel's own answer for a file that is no device.
        let f = tempfile::tempfile().unwrap();
        assert_eq!(querycap(&f).map(|_| ()), Err(Errno::ENOTTY));
        assert_eq!(device_info(&f).map(|_| ()), Err(Errno::ENOTTY));
        assert_eq!(
            read_topology(|t, mut a| g_topology(&f, t, a.as_deref_mut())),
            Err(TopologyError::Ioctl(Errno::ENOTTY))
        );
    }

    #[test]
    fn the_live_root_opens_the_node_and_asks_it() {
        // No video or media node on a test host: /dev/kmsg is a character device the
        // live root opens (the suite runs as root), and the kernel refuses both
        // families' ioctls there. This is the collectors' whole live path: open
        // through the root, ioctl, errno to reason.
        let live = Root::open("/").unwrap();
        assert_eq!(
            caps_at(&live, "dev/kmsg"),
            Fact::Unknown {
                path: "dev/kmsg".into(),
                reason: "not a V4L2 device (ENOTTY)".into()
            }
        );
        let (info, topology) = media_at(&live, "dev/kmsg");
        let not_media = Some(("dev/kmsg", Some("not a media device (ENOTTY)")));
        assert!(info.ok().is_none() && topology.ok().is_none());
        assert_eq!(info.failure(), not_media);
        assert_eq!(topology.failure(), not_media);
        // A node that is not there is absent; a captured tree is never asked.
        assert_eq!(
            caps_at(&live, "dev/video999999"),
            Fact::Absent {
                path: "dev/video999999".into()
            }
        );
        let t = tempfile::tempdir().unwrap();
        let captured = Root::open(t.path()).unwrap();
        assert_eq!(
            caps_at(&captured, "dev/video0"),
            Fact::Unknown {
                path: "dev/video0".into(),
                reason: ReadError::NotLive.to_string()
            }
        );
    }
}
