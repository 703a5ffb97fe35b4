//! Reads a media device and video nodes with the raw V4L2 and media-controller ioctls
//! and tries to change a link, for the real-kernel test (`tests/vm.rs`): the kernel's
//! answers, independently of surface-check's collectors. Linux only.
//!
//! Usage: `vm-media MEDIA_NODE VIDEO_NODE...`. Prints, one a line:
//! - `VM-MEDIA querycap {json}`: each video node's `VIDIOC_QUERYCAP`;
//! - `VM-MEDIA info {json}`: the media device's `MEDIA_IOC_DEVICE_INFO`;
//! - `VM-MEDIA topology {json}`: its `MEDIA_IOC_G_TOPOLOGY`;
//! - `VM-MEDIA setup_link {json}`: what `MEDIA_IOC_SETUP_LINK` answers when asked to
//!   disable an interface link (its interface and entity given as the link's ends)
//!   and to enable a data link from the first source pad to the first sink pad of
//!   another entity; then the topology once more, to show whether it changed;
//! - `VM-MEDIA done`.
//!
//! Any failure other than the link changes' answers ends it with `VM-MEDIA error`.

use std::os::fd::AsRawFd;

use serde_json::{Value, json};

// include/uapi/linux/videodev2.h
#[repr(C)]
struct V4l2Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

// include/uapi/linux/media.h
#[repr(C)]
struct MediaDeviceInfo {
    driver: [u8; 16],
    model: [u8; 32],
    serial: [u8; 40],
    bus_info: [u8; 32],
    media_version: u32,
    hw_revision: u32,
    driver_version: u32,
    reserved: [u32; 31],
}

#[repr(C)]
#[derive(Default)]
struct MediaV2Topology {
    topology_version: u64,
    num_entities: u32,
    reserved1: u32,
    ptr_entities: u64,
    num_interfaces: u32,
    reserved2: u32,
    ptr_interfaces: u64,
    num_pads: u32,
    reserved3: u32,
    ptr_pads: u64,
    num_links: u32,
    reserved4: u32,
    ptr_links: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MediaV2Entity {
    id: u32,
    name: [u8; 64],
    function: u32,
    flags: u32,
    reserved: [u32; 5],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MediaV2Interface {
    id: u32,
    intf_type: u32,
    flags: u32,
    reserved: [u32; 9],
    /// `devnode.major`, `devnode.minor`, or raw.
    raw: [u32; 16],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MediaV2Pad {
    id: u32,
    entity_id: u32,
    flags: u32,
    index: u32,
    reserved: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MediaV2Link {
    id: u32,
    source_id: u32,
    sink_id: u32,
    flags: u32,
    reserved: [u32; 6],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MediaPadDesc {
    entity: u32,
    index: u16,
    flags: u32,
    reserved: [u32; 2],
}

#[repr(C)]
#[derive(Default)]
struct MediaLinkDesc {
    source: MediaPadDesc,
    sink: MediaPadDesc,
    flags: u32,
    reserved: [u32; 2],
}

nix::ioctl_read!(vidioc_querycap, b'V', 0, V4l2Capability);
nix::ioctl_readwrite!(media_ioc_device_info, b'|', 0x00, MediaDeviceInfo);
nix::ioctl_readwrite!(media_ioc_setup_link, b'|', 0x03, MediaLinkDesc);
nix::ioctl_readwrite!(media_ioc_g_topology, b'|', 0x04, MediaV2Topology);

const MEDIA_PAD_FL_SINK: u32 = 1;
const MEDIA_PAD_FL_SOURCE: u32 = 2;
const MEDIA_LNK_FL_ENABLED: u32 = 1;
const MEDIA_LNK_FL_LINK_TYPE: u32 = 0xf << 28;
const MEDIA_LNK_FL_INTERFACE_LINK: u32 = 1 << 28;

fn fail(what: impl std::fmt::Display) -> ! {
    println!("VM-MEDIA error {what}");
    std::process::exit(1);
}

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

fn open(path: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| fail(format!("{path}: {e}")))
}

fn querycap(path: &str) -> Value {
    let f = open(path);
    // SAFETY: all-zero is a valid v4l2_capability.
    let mut cap: V4l2Capability = unsafe { std::mem::zeroed() };
    // SAFETY: VIDIOC_QUERYCAP fills the struct of the size the request encodes.
    unsafe { vidioc_querycap(f.as_raw_fd(), &mut cap) }
        .unwrap_or_else(|e| fail(format!("{path}: VIDIOC_QUERYCAP: {e}")));
    json!({
        "node": path,
        "driver": text(&cap.driver),
        "card": text(&cap.card),
        "bus_info": text(&cap.bus_info),
        "version": version(cap.version),
        "capabilities": cap.capabilities,
        "device_caps": cap.device_caps,
    })
}

struct Topology {
    version: u64,
    entities: Vec<MediaV2Entity>,
    interfaces: Vec<MediaV2Interface>,
    pads: Vec<MediaV2Pad>,
    links: Vec<MediaV2Link>,
}

fn topology(f: &std::fs::File) -> Topology {
    let fd = f.as_raw_fd();
    let mut t = MediaV2Topology::default();
    // SAFETY: with null pointers the kernel only fills in the counts.
    unsafe { media_ioc_g_topology(fd, &mut t) }
        .unwrap_or_else(|e| fail(format!("MEDIA_IOC_G_TOPOLOGY (counts): {e}")));
    // SAFETY: all-zero is valid for these plain structs.
    let (mut entities, mut interfaces, mut pads, mut links) = unsafe {
        (
            vec![std::mem::zeroed::<MediaV2Entity>(); t.num_entities as usize],
            vec![std::mem::zeroed::<MediaV2Interface>(); t.num_interfaces as usize],
            vec![std::mem::zeroed::<MediaV2Pad>(); t.num_pads as usize],
            vec![std::mem::zeroed::<MediaV2Link>(); t.num_links as usize],
        )
    };
    t.ptr_entities = entities.as_mut_ptr() as u64;
    t.ptr_interfaces = interfaces.as_mut_ptr() as u64;
    t.ptr_pads = pads.as_mut_ptr() as u64;
    t.ptr_links = links.as_mut_ptr() as u64;
    let counts = (t.num_entities, t.num_interfaces, t.num_pads, t.num_links);
    // SAFETY: each array holds as many elements as the count the kernel is given.
    unsafe { media_ioc_g_topology(fd, &mut t) }
        .unwrap_or_else(|e| fail(format!("MEDIA_IOC_G_TOPOLOGY: {e}")));
    if counts != (t.num_entities, t.num_interfaces, t.num_pads, t.num_links) {
        fail("the graph changed between the two MEDIA_IOC_G_TOPOLOGY calls");
    }
    Topology {
        version: t.topology_version,
        entities,
        interfaces,
        pads,
        links,
    }
}

fn topology_json(t: &Topology) -> Value {
    json!({
        "version": t.version,
        "entities": t.entities.iter().map(|e| json!({
            "id": e.id, "name": text(&e.name), "function": e.function, "flags": e.flags,
        })).collect::<Vec<_>>(),
        "interfaces": t.interfaces.iter().map(|i| json!({
            "id": i.id, "intf_type": i.intf_type, "major": i.raw[0], "minor": i.raw[1],
        })).collect::<Vec<_>>(),
        "pads": t.pads.iter().map(|p| json!({
            "id": p.id, "entity_id": p.entity_id, "flags": p.flags, "index": p.index,
        })).collect::<Vec<_>>(),
        "links": t.links.iter().map(|l| json!({
            "id": l.id, "source_id": l.source_id, "sink_id": l.sink_id, "flags": l.flags,
        })).collect::<Vec<_>>(),
    })
}

/// `MEDIA_IOC_SETUP_LINK` from `source` to `sink` ((entity, pad index)) with `flags`:
/// the errno name, or "ok".
fn setup_link(f: &std::fs::File, source: (u32, u16), sink: (u32, u16), flags: u32) -> String {
    let mut d = MediaLinkDesc {
        source: MediaPadDesc {
            entity: source.0,
            index: source.1,
            flags: MEDIA_PAD_FL_SOURCE,
            ..Default::default()
        },
        sink: MediaPadDesc {
            entity: sink.0,
            index: sink.1,
            flags: MEDIA_PAD_FL_SINK,
            ..Default::default()
        },
        flags,
        ..Default::default()
    };
    // SAFETY: MEDIA_IOC_SETUP_LINK reads and writes a media_link_desc.
    match unsafe { media_ioc_setup_link(f.as_raw_fd(), &mut d) } {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((media, videos)) = args.split_first() else {
        fail("usage: vm-media MEDIA_NODE VIDEO_NODE...");
    };
    for v in videos {
        println!("VM-MEDIA querycap {}", querycap(v));
    }
    let f = open(media);
    // SAFETY: all-zero is a valid media_device_info.
    let mut info: MediaDeviceInfo = unsafe { std::mem::zeroed() };
    // SAFETY: the request encodes the struct's size.
    unsafe { media_ioc_device_info(f.as_raw_fd(), &mut info) }
        .unwrap_or_else(|e| fail(format!("{media}: MEDIA_IOC_DEVICE_INFO: {e}")));
    let info = json!({
        "driver": text(&info.driver),
        "model": text(&info.model),
        "bus_info": text(&info.bus_info),
        "hw_revision": info.hw_revision,
        "driver_version": version(info.driver_version),
        "media_version": version(info.media_version),
    });
    println!("VM-MEDIA info {info}");
    let before = topology(&f);
    println!("VM-MEDIA topology {}", topology_json(&before));

    // An interface link: its ends are an interface and an entity, not pads.
    let Some(intf) = before
        .links
        .iter()
        .find(|l| l.flags & MEDIA_LNK_FL_LINK_TYPE == MEDIA_LNK_FL_INTERFACE_LINK)
    else {
        fail("the graph has no interface link");
    };
    let answer = setup_link(&f, (intf.source_id, 0), (intf.sink_id, 0), 0);
    println!(
        "VM-MEDIA setup_link {}",
        json!({"link": "interface", "id": intf.id, "source": intf.source_id,
               "sink": intf.sink_id, "flags": 0, "answer": answer})
    );
    // A data link between two entities' pads, whether the graph has one or not.
    let source = before
        .pads
        .iter()
        .find(|p| p.flags & MEDIA_PAD_FL_SOURCE != 0);
    let sink = source.and_then(|s| {
        before
            .pads
            .iter()
            .find(|p| p.flags & MEDIA_PAD_FL_SINK != 0 && p.entity_id != s.entity_id)
    });
    let (Some(source), Some(sink)) = (source, sink) else {
        fail("the graph has no source pad and sink pad on two entities");
    };
    let answer = setup_link(
        &f,
        (source.entity_id, source.index as u16),
        (sink.entity_id, sink.index as u16),
        MEDIA_LNK_FL_ENABLED,
    );
    println!(
        "VM-MEDIA setup_link {}",
        json!({"link": "data", "source": [source.entity_id, source.index],
               "sink": [sink.entity_id, sink.index], "flags": MEDIA_LNK_FL_ENABLED,
               "answer": answer})
    );
    let after = topology(&f);
    println!("VM-MEDIA topology-after {}", topology_json(&after));
    println!("VM-MEDIA done");
}
