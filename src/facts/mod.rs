//! Facts: what the machine shows, collected in one bounded pass, judged nowhere.
//!
//! Each collector reads one source through a [`Root`] and fills its part of [`Facts`].
//! A read that fails becomes a recorded [`Fact::Absent`] (the path does not exist:
//! evidence) or [`Fact::Unknown`] (it exists but could not be read or parsed: no
//! evidence either way). Facts serialize to JSON (`surface-check capture`) and back
//! (`status --from`), so a bug report replays exactly.

pub mod devices;
pub mod dtx;
pub mod firmware;
pub mod hidraw;
pub mod identity;
pub mod input;
pub mod kernel;
pub mod kmsg;
pub mod modules;
pub mod nixos;
pub mod parse;
pub mod power;
pub mod redact;
pub mod services;
pub mod video;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::profiles::Profile;
use crate::root::{ReadError, Root, RootError};

/// Version of the facts format; `status --from` refuses other versions.
pub const FACTS_VERSION: u32 = 1;

/// One collected value, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact<T> {
    /// The value as read.
    Ok(T),
    /// The path does not exist: evidence that the thing is not there.
    Absent { path: String },
    /// The path exists but could not be read or understood: no evidence either way.
    Unknown { path: String, reason: String },
}

impl<T> Fact<T> {
    /// A fact from a read result: `NotFound` is absence, every other error is unknown.
    pub fn from_read(path: &str, r: Result<T, ReadError>) -> Fact<T> {
        match r {
            Ok(v) => Fact::Ok(v),
            Err(ReadError::NotFound) => Fact::Absent {
                path: path.to_string(),
            },
            Err(e) => Fact::Unknown {
                path: path.to_string(),
                reason: e.to_string(),
            },
        }
    }

    pub fn unparseable(path: &str, why: impl std::fmt::Display) -> Fact<T> {
        Fact::Unknown {
            path: path.to_string(),
            reason: format!("unparseable: {why}"),
        }
    }

    pub fn ok(&self) -> Option<&T> {
        match self {
            Fact::Ok(v) => Some(v),
            _ => None,
        }
    }

    /// The path this fact rests on, where it failed.
    pub fn failure(&self) -> Option<(&str, Option<&str>)> {
        match self {
            Fact::Ok(_) => None,
            Fact::Absent { path } => Some((path, None)),
            Fact::Unknown { path, reason } => Some((path, Some(reason))),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fact<U> {
        match self {
            Fact::Ok(v) => Fact::Ok(f(v)),
            Fact::Absent { path } => Fact::Absent { path },
            Fact::Unknown { path, reason } => Fact::Unknown { path, reason },
        }
    }
}

/// Everything collected from one machine (or one captured tree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub facts_version: u32,
    pub source: Source,
    pub os: Os,
    pub dmi: Dmi,
    pub kernel: Kernel,
    pub config: Fact<KernelConfig>,
    pub modules: Modules,
    pub module_tree: Fact<ModuleTree>,
    /// Devices per bus (`pci`, `acpi`, `platform`, `i2c`, `serial`, `usb`, `hid`, `mei`).
    pub buses: BTreeMap<String, Fact<Vec<BusDevice>>>,
    /// Registered drivers per bus: a driver listed here is in the kernel (built in or
    /// loaded), bound or not.
    pub drivers: BTreeMap<String, Fact<BTreeSet<String>>>,
    pub inputs: Fact<Vec<InputDevice>>,
    pub video: Fact<Vec<VideoNode>>,
    /// Network interfaces (`sys/class/net`) with their parent devices.
    pub net: Fact<Vec<NetInterface>>,
    pub media: Fact<Vec<MediaDevice>>,
    /// `sys/class/hidraw` nodes and what they answer.
    #[serde(default = "not_collected")]
    pub hidraw: Fact<Vec<Hidraw>>,
    pub power: Fact<Vec<PowerSupply>>,
    pub dtx: Dtx,
    pub platform_profile: PlatformProfile,
    pub firmware: Firmware,
    pub services: Services,
    pub nixos: Option<NixOs>,
    /// The current boot's kernel messages that matter to the profile.
    #[serde(default = "KernelLog::not_collected")]
    pub kernel_log: Fact<KernelLog>,
    /// Paths whose reads hung and were cut off during this collection.
    pub hung_paths: Vec<String>,
}

/// The kernel messages of the current boot that the profile's checks look for
/// (probe errors, firmware loads, sensor counts, patch fingerprints), in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelLog {
    /// Where the messages were read: `/dev/kmsg`, `journal`, or a `--dmesg` file.
    pub source: String,
    /// Whether the log reaches back to the kernel's first message (`Linux version`):
    /// when it does not (the ring buffer wrapped, or the file is an excerpt), a line
    /// that is not there proves nothing.
    pub from_boot: bool,
    /// Messages read in all.
    pub total: u64,
    /// The matching messages, text only (no timestamp or priority), in log order.
    pub lines: Vec<String>,
}

/// The fact for a field that older captures do not have.
pub fn not_collected<T>() -> Fact<T> {
    Fact::Unknown {
        path: "(capture)".into(),
        reason: "not collected by the surface-check that made this capture".into(),
    }
}

impl KernelLog {
    /// The fact for facts that predate the kernel log (older captures).
    pub fn not_collected() -> Fact<KernelLog> {
        Fact::Unknown {
            path: "kernel log".into(),
            reason: "not collected".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The root the facts were read from (`/` for the live machine).
    pub root: String,
    /// `surface-check <version>` that collected them.
    pub collector: String,
    /// Whether identifying values were redacted (`capture`).
    pub redacted: bool,
    /// Whether the root was the live `/`: only there are device nodes real and
    /// opened. A captured or copied tree is data (its `/dev` may hold plain files or
    /// nothing), so a device exists there when sysfs and the udev database say so.
    #[serde(default)]
    pub live: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `etc/os-release` key/values.
    pub os_release: Fact<BTreeMap<String, String>>,
    /// `etc/NIXOS` exists or os-release says `ID=nixos`.
    pub is_nixos: bool,
}

/// `sys/class/dmi/id/*` (serial numbers and UUIDs are never read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dmi {
    pub sys_vendor: Fact<String>,
    pub product_name: Fact<String>,
    pub product_sku: Fact<String>,
    pub product_family: Fact<String>,
    pub product_version: Fact<String>,
    pub board_name: Fact<String>,
    pub bios_version: Fact<String>,
    pub chassis_type: Fact<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    /// `proc/sys/kernel/osrelease` (`uname -r`).
    pub release: Fact<String>,
    /// `proc/version`.
    pub version: Fact<String>,
    /// `proc/cmdline`.
    pub cmdline: Fact<String>,
    /// `proc/sys/kernel/tainted` as a bit mask.
    pub tainted: Fact<u64>,
    /// `proc/sys/kernel/random/boot_id`: this boot's identity (a UUID), which the
    /// history keys its records by.
    #[serde(default = "not_collected")]
    pub boot_id: Fact<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelConfig {
    /// Where the config was read (`/proc/config.gz` or `/boot/config-<release>`).
    pub source: String,
    /// `CONFIG_` options that are set, without the prefix: `HID_IPTS` -> `m`.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedModule {
    pub name: String,
    pub size: u64,
    pub refcount: i64,
    pub used_by: Vec<String>,
    /// `Live`, `Loading` or `Unloading`.
    pub state: String,
    /// Taint flags shown after the address, e.g. `(OE)` -> `OE`.
    pub taint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modules {
    /// `proc/modules`, by name.
    pub loaded: Fact<BTreeMap<String, LoadedModule>>,
    /// Names under `sys/module` (loaded modules and built-ins with parameters).
    pub sys_module: Fact<BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleTree {
    /// Root-relative directory of the running kernel's modules.
    pub dir: String,
    /// Module names in `modules.builtin` (normalized: `-` -> `_`).
    pub builtin: Fact<BTreeSet<String>>,
    /// Module name -> path in `modules.dep` (normalized names).
    pub available: Fact<BTreeMap<String, String>>,
    /// `modules.alias` entries for the modules the profile cares about.
    pub aliases: Fact<Vec<ModAlias>>,
    /// For the profile's modules listed in `modules.dep`: whether the file is there.
    pub files_present: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModAlias {
    pub pattern: String,
    pub module: String,
}

/// One device on a bus, with its bound driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusDevice {
    /// Name under `sys/bus/<bus>/devices` (`0000:00:14.3`, `MSHW0084:00`, `serial0-0`).
    pub name: String,
    /// Canonical sysfs path (`/sys/devices/...`), when it resolved.
    pub path: Option<String>,
    /// Bound driver, from the `driver` link.
    pub driver: Option<String>,
    /// Selected attributes (per bus: `vendor`, `device`, `class`, `status`, `uuid`, ...).
    pub attrs: BTreeMap<String, String>,
    /// Child nodes of interest (`hidraw` names of a HID device).
    pub children: Vec<String>,
    /// What exists but could not be read, with the reason: an attribute of
    /// [`attrs`](Self::attrs) by name, `driver` (the link), `hidraw` (the children).
    /// A lookup by such an attribute cannot rule this device out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    pub bustype: u16,
    pub vendor: u16,
    pub product: u16,
    pub version: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDevice {
    /// `input12`.
    pub sysname: String,
    /// The device's name (`Microsoft Surface Keyboard`).
    pub name: Fact<String>,
    pub phys: Option<String>,
    pub id: Fact<InputId>,
    /// Capability bits by type (`ev`, `key`, `sw`, `abs`, `rel`, `msc`): set bit numbers.
    pub capabilities: BTreeMap<String, Fact<Vec<u16>>>,
    /// `INPUT_PROP_*` bits set.
    pub properties: Fact<Vec<u16>>,
    /// Canonical sysfs path of the parent device.
    pub parent: Option<String>,
    /// The `eventN` handler, if any.
    pub event: Option<String>,
    /// Type of `dev/input/eventN`.
    pub node: Option<Fact<crate::root::NodeKind>>,
    /// `E:` properties from the udev database (`run/udev/data/c13:N`).
    pub udev: Fact<BTreeMap<String, String>>,
    /// What the event device itself answers (`EVIOCG*` ioctls on `dev/input/eventN`,
    /// live root only).
    #[serde(default = "not_collected")]
    pub evdev: Fact<Evdev>,
}

/// An event device's answers to the `EVIOCG*` ioctls: its own view of its name, ids,
/// capabilities and the current state of its switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evdev {
    pub name: String,
    pub id: InputId,
    /// `INPUT_PROP_*` bits set (`INPUT_PROP_DIRECT` = 1 on a touchscreen).
    pub properties: Vec<u16>,
    /// Supported event types (`EV_*`), keys (`KEY_*`/`BTN_*`), absolute axes
    /// (`ABS_*`), switches (`SW_*`): set bit numbers.
    pub ev: Vec<u16>,
    pub keys: Vec<u16>,
    pub abs: Vec<u16>,
    pub switches: Vec<u16>,
    /// Switches that are on now (`EVIOCGSW`): `SW_LID` = 0 closed, `SW_TABLET_MODE` = 1.
    pub switches_on: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoNode {
    /// `video0`, `v4l-subdev3`.
    pub sysname: String,
    pub name: Fact<String>,
    /// Canonical path of the parent device (PCI function or I2C client).
    pub parent: Option<String>,
    /// Type of `dev/<sysname>`.
    pub node: Fact<crate::root::NodeKind>,
    /// `VIDIOC_QUERYCAP` of a `videoN` node (live root only).
    #[serde(default = "not_collected")]
    pub caps: Fact<V4l2Caps>,
}

/// A video node's answer to `VIDIOC_QUERYCAP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4l2Caps {
    /// `ipu3-cio2`, `vivid`.
    pub driver: String,
    /// `Intel IPU3 CIO2`, `vivid`.
    pub card: String,
    /// `PCI:0000:00:14.3`, `platform:vivid-000`.
    pub bus_info: String,
    /// Kernel version the driver reports, `6.1.0`.
    pub version: String,
    /// `V4L2_CAP_*` of the whole device.
    pub capabilities: u32,
    /// `V4L2_CAP_*` of this node (`capabilities` when the driver gives none).
    pub device_caps: u32,
    /// This node captures video (`V4L2_CAP_VIDEO_CAPTURE` or `_MPLANE`).
    pub capture: bool,
    /// This node streams (`V4L2_CAP_STREAMING`).
    pub streaming: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    /// `wlp1s0`.
    pub name: String,
    /// Canonical path of the parent device (the PCI function), if any.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaDevice {
    pub sysname: String,
    pub model: Fact<String>,
    /// Canonical path of the parent device (the PCI function): the directory above
    /// the media device's own, since media devices have no `device` link.
    pub parent: Option<String>,
    pub node: Fact<crate::root::NodeKind>,
    /// `MEDIA_IOC_DEVICE_INFO` (live root only).
    #[serde(default = "not_collected")]
    pub info: Fact<MediaInfo>,
    /// `MEDIA_IOC_G_TOPOLOGY`: the media graph (live root only).
    #[serde(default = "not_collected")]
    pub topology: Fact<MediaTopology>,
}

/// A media device's answer to `MEDIA_IOC_DEVICE_INFO` (its serial is never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// `ipu3-cio2`, `vivid`.
    pub driver: String,
    /// `Intel IPU3 CIO2`.
    pub model: String,
    pub bus_info: String,
    pub hw_revision: u32,
    /// `6.1.0`.
    pub driver_version: String,
    pub media_version: String,
}

/// The media graph as `MEDIA_IOC_G_TOPOLOGY` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaTopology {
    /// Incremented by the kernel on every change of the graph.
    pub version: u64,
    pub entities: Vec<MediaEntity>,
    pub interfaces: Vec<MediaInterface>,
    pub pads: Vec<MediaPad>,
    pub links: Vec<MediaLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaEntity {
    pub id: u32,
    /// `ov5693 2-0036`, `ipu3-csi2 0`, `ipu3-cio2 0`.
    pub name: String,
    /// `MEDIA_ENT_F_*` (`0x20001` camera sensor, `0x4002` video interface bridge).
    pub function: u32,
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInterface {
    pub id: u32,
    /// `MEDIA_INTF_T_*` (`0x200` V4L video, `0x203` V4L sub-device).
    pub intf_type: u32,
    /// The device node's number.
    pub major: u32,
    pub minor: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaPad {
    pub id: u32,
    pub entity_id: u32,
    /// `MEDIA_PAD_FL_SINK` = 1, `MEDIA_PAD_FL_SOURCE` = 2.
    pub flags: u32,
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLink {
    pub id: u32,
    /// A pad id (data link) or an interface id (interface link).
    pub source_id: u32,
    /// A pad id (data link) or an entity id (interface link).
    pub sink_id: u32,
    /// `MEDIA_LNK_FL_ENABLED` = 1, `_IMMUTABLE` = 2, `_DYNAMIC` = 4; the type in
    /// bits 28-31 (`0` data link, `1 << 28` interface link, `2 << 28` ancillary).
    pub flags: u32,
}

/// A `hidrawN` node and its answers to `HIDIOCGRAWINFO` and `HIDIOCGRDESCSIZE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hidraw {
    /// `hidraw0`.
    pub sysname: String,
    /// The HID device it belongs to (`0003:045E:0021.0003`), from its `device` link.
    pub hid_device: Option<String>,
    /// Type of `dev/<sysname>`.
    pub node: Fact<crate::root::NodeKind>,
    /// What the node answers (live root only).
    pub info: Fact<HidrawInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HidrawInfo {
    /// `BUS_*` (`0x18` I2C, `0x03` USB, `0x06` virtual).
    pub bustype: u32,
    pub vendor: u16,
    pub product: u16,
    /// Size of the report descriptor in bytes.
    pub descriptor_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerSupply {
    /// `BAT1`, `ADP1`.
    pub name: String,
    /// `POWER_SUPPLY_*` keys from `uevent`, prefix stripped and lower-cased.
    pub props: Fact<BTreeMap<String, String>>,
    /// Canonical path of the parent device (`/sys/devices/.../PNP0C0A:00`).
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dtx {
    /// Type of `dev/surface/dtx`.
    pub node: Fact<crate::root::NodeKind>,
    /// `sys/class/misc/surface_dtx` exists.
    pub misc_registered: bool,
    /// State read by ioctl from a live DTX device.
    pub state: Fact<DtxState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtxState {
    /// `SDTX_BASE_*` state word.
    pub base_state: u16,
    pub base_id: u16,
    pub device_mode: u16,
    pub latch_status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformProfile {
    pub current: Fact<String>,
    pub choices: Fact<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    /// `sys/module/firmware_class/parameters/path` (NixOS points it into the store).
    pub custom_path: Fact<String>,
    /// Directories searched, in the kernel's order.
    pub search: Vec<String>,
    /// Wanted file (`intel/ipu3-fw.bin`) -> where it was found (with `.zst`/`.xz`).
    pub files: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Services {
    /// Unit name -> evidence (`iptsd@.service`, `surface-dtx-daemon.service`).
    pub units: BTreeMap<String, UnitEvidence>,
    /// udev rule files found, by name (`50-iptsd.rules`).
    pub udev_rules: Vec<String>,
    /// Running processes of interest (`comm` of `proc/<pid>`), with pid count.
    pub processes: Fact<BTreeMap<String, u32>>,
    /// `sys/fs/cgroup` services with live processes, by unit name.
    pub running_units: Fact<BTreeSet<String>>,
    /// `dev/ipts/*` nodes of the legacy IPTS driver.
    pub legacy_ipts_nodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitEvidence {
    /// Root-relative paths where the unit file was found.
    pub files: Vec<String>,
    /// `*.wants/` directories that enable it.
    pub enabled_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NixOs {
    pub booted: Fact<Generation>,
    pub current: Fact<Generation>,
    pub profile: Fact<Generation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// Where the generation link points (`/nix/store/...-nixos-system-...`).
    pub toplevel: String,
    /// The generation's number: the `N` of the `system-N-link` in
    /// `nix/var/nix/profiles` that points at the same toplevel (the newest such).
    #[serde(default)]
    pub number: Option<u32>,
    pub kernel: Option<String>,
    pub kernel_modules: Option<String>,
    pub initrd: Option<String>,
    /// Module directories under `kernel-modules/lib/modules`.
    pub module_releases: Vec<String>,
}

/// Why a capture file cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("no facts_version: not a surface-check capture")]
    NoVersion,
    #[error("facts version {0}; this surface-check reads version {FACTS_VERSION}")]
    Version(u64),
    #[error("not a surface-check capture: {0}")]
    Shape(serde_json::Error),
}

impl Facts {
    /// Parses facts JSON (a capture written by `surface-check capture`), refusing
    /// other facts versions.
    pub fn from_json(bytes: &[u8]) -> Result<Facts, CaptureError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(CaptureError::NotJson)?;
        match v.get("facts_version").and_then(|x| x.as_u64()) {
            Some(n) if n == u64::from(FACTS_VERSION) => {}
            Some(n) => return Err(CaptureError::Version(n)),
            None => return Err(CaptureError::NoVersion),
        }
        serde_json::from_value(v).map_err(CaptureError::Shape)
    }
}

impl Facts {
    /// Facts with nothing collected: every fact unknown (`not collected`), no
    /// devices, no services. Preflight fills in what a kernel on disk shows
    /// (release, config, module tree) and asks the same lookups as the live
    /// diagnosis.
    pub fn empty(source: Source) -> Facts {
        fn nc<T>() -> Fact<T> {
            Fact::Unknown {
                path: "(not collected)".into(),
                reason: "not collected".into(),
            }
        }
        Facts {
            facts_version: FACTS_VERSION,
            source,
            os: Os {
                os_release: nc(),
                is_nixos: false,
            },
            dmi: Dmi {
                sys_vendor: nc(),
                product_name: nc(),
                product_sku: nc(),
                product_family: nc(),
                product_version: nc(),
                board_name: nc(),
                bios_version: nc(),
                chassis_type: nc(),
            },
            kernel: Kernel {
                release: nc(),
                version: nc(),
                cmdline: nc(),
                tainted: nc(),
                boot_id: nc(),
            },
            config: nc(),
            modules: Modules {
                loaded: nc(),
                sys_module: nc(),
            },
            module_tree: nc(),
            buses: BTreeMap::new(),
            drivers: BTreeMap::new(),
            inputs: nc(),
            video: nc(),
            net: nc(),
            media: nc(),
            hidraw: nc(),
            power: nc(),
            dtx: Dtx {
                node: nc(),
                misc_registered: false,
                state: nc(),
            },
            platform_profile: PlatformProfile {
                current: nc(),
                choices: nc(),
            },
            firmware: Firmware {
                custom_path: nc(),
                search: Vec::new(),
                files: BTreeMap::new(),
            },
            services: Services {
                units: BTreeMap::new(),
                udev_rules: Vec::new(),
                processes: nc(),
                running_units: nc(),
                legacy_ipts_nodes: Vec::new(),
            },
            nixos: None,
            kernel_log: nc(),
            hung_paths: Vec::new(),
        }
    }
}

/// Collects every fact from `root`, under the read watchdog.
pub fn collect(root: &Root, profile: &'static Profile) -> Result<Facts, RootError> {
    collect_with_log(root, profile, None)
}

/// [`collect`] with the kernel log given (`--dmesg FILE`) instead of read from the
/// host (`/dev/kmsg` or the journal on the live root, nothing on a captured tree).
pub fn collect_with_log(
    root: &Root,
    profile: &'static Profile,
    kernel_log: Option<Fact<KernelLog>>,
) -> Result<Facts, RootError> {
    tracing::debug!(
        root = %root.base().display(),
        live = root.is_live(),
        "collecting facts"
    );
    let start = Instant::now();
    let mut facts = root.run_watched(move |r| collect_from(r, profile, kernel_log.as_ref()))?;
    facts.hung_paths = root.hung_paths();
    let spent = root.spent();
    if !facts.hung_paths.is_empty() {
        tracing::warn!(
            hung = %facts.hung_paths.join(", "),
            abandoned_workers = spent.abandoned,
            "reads hung and were cut off"
        );
    }
    tracing::debug!(
        ms = start.elapsed().as_millis() as u64,
        bytes = spent.bytes,
        entries = spent.entries,
        abandoned_workers = spent.abandoned,
        deadline_passed = spent.deadline_passed,
        "facts collected"
    );
    Ok(facts)
}

/// One pass over the host. Pure in what it reads: safe to re-run after a hung read.
pub fn collect_unwatched(root: &Root, profile: &Profile) -> Facts {
    collect_from(root, profile, None)
}

/// Runs one collector; at debug level logs its time, what it read, and each fact it
/// could not establish (path and reason), for a person debugging a verdict.
fn timed<T: Serialize>(root: &Root, name: &str, f: impl FnOnce() -> T) -> T {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return f();
    }
    let (start, before) = (Instant::now(), root.spent());
    let v = f();
    let after = root.spent();
    let mut failed = Vec::new();
    if let Ok(j) = serde_json::to_value(&v) {
        unknowns(&j, &mut failed);
    }
    tracing::debug!(
        collector = name,
        us = start.elapsed().as_micros() as u64,
        bytes = after.bytes.saturating_sub(before.bytes),
        entries = after.entries.saturating_sub(before.entries),
        unknown = failed.len(),
        "collector done"
    );
    for (path, reason) in failed.iter().take(32) {
        tracing::debug!(collector = name, path = %path, reason = %reason, "fact unknown");
    }
    v
}

/// The `{"unknown": {"path", "reason"}}` facts in a serialized value.
fn unknowns(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.len() == 1
                && let Some(serde_json::Value::Object(u)) = m.get("unknown")
                && let (Some(p), Some(r)) = (u.get("path"), u.get("reason"))
            {
                out.push((
                    p.as_str().unwrap_or_default().to_string(),
                    r.as_str().unwrap_or_default().to_string(),
                ));
                return;
            }
            m.values().for_each(|x| unknowns(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| unknowns(x, out)),
        _ => {}
    }
}

/// [`collect_unwatched`], with the kernel log given or read from the root.
fn collect_from(root: &Root, profile: &Profile, kernel_log: Option<&Fact<KernelLog>>) -> Facts {
    let os = timed(root, "os", || kernel::os(root));
    let kernel = timed(root, "kernel", || kernel::kernel(root));
    let release = kernel.release.ok().cloned();
    let nixos = timed(root, "nixos", || nixos::collect(root, os.is_nixos));
    let (buses, drivers) = timed(root, "devices", || devices::collect(root));
    let config = timed(root, "config", || kernel::config(root, release.as_deref()));
    let module_tree = timed(root, "module_tree", || {
        modules::tree(root, release.as_deref(), profile)
    });
    Facts {
        facts_version: FACTS_VERSION,
        source: Source {
            root: root.base().display().to_string(),
            collector: format!("surface-check {}", env!("CARGO_PKG_VERSION")),
            redacted: false,
            live: root.is_live(),
        },
        dmi: timed(root, "dmi", || kernel::dmi(root)),
        os,
        kernel,
        config,
        modules: timed(root, "modules", || modules::loaded(root)),
        module_tree,
        buses,
        drivers,
        inputs: timed(root, "inputs", || input::collect(root)),
        video: timed(root, "video", || video::video(root)),
        net: timed(root, "net", || devices::net(root)),
        media: timed(root, "media", || video::media(root)),
        hidraw: timed(root, "hidraw", || hidraw::collect(root)),
        power: timed(root, "power", || power::collect(root)),
        dtx: timed(root, "dtx", || dtx::collect(root)),
        platform_profile: timed(root, "platform_profile", || power::platform_profile(root)),
        firmware: timed(root, "firmware", || {
            firmware::collect(root, release.as_deref(), profile)
        }),
        services: timed(root, "services", || services::collect(root, profile)),
        nixos,
        kernel_log: match kernel_log {
            Some(l) => l.clone(),
            None => timed(root, "kernel_log", || {
                kmsg::collect(root, profile.log_needles)
            }),
        },
        hung_paths: Vec::new(),
    }
}

/// Lists a directory as a fact, sorted.
pub(crate) fn list_sorted(root: &Root, path: &str) -> Fact<Vec<String>> {
    Fact::from_read(path, root.list_dir(path)).map(|mut v| {
        v.sort();
        v
    })
}

/// Reads a text attribute as a fact.
pub(crate) fn text(root: &Root, path: &str) -> Fact<String> {
    Fact::from_read(path, root.read_text(path))
}

/// Reads a text file and parses it: a failed read is [`Fact::from_read`], a failed
/// parse is [`Fact::Unknown`] with the parser's reason.
pub(crate) fn parsed<T, E: std::fmt::Display>(
    root: &Root,
    path: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Fact<T> {
    match root.read_text(path) {
        Ok(t) => parse(&t).map_or_else(|e| Fact::unparseable(path, e), Fact::Ok),
        Err(e) => Fact::from_read(path, Err(e)),
    }
}

/// One of the few large files (kernel config, module indexes), parsed as a stream
/// (capped at [`crate::root::Limits::max_large_file`]): a failed or cut-off read is
/// [`Fact::from_read`], a failed parse [`Fact::Unknown`] with the parser's reason.
pub(crate) fn streamed<T, E: std::fmt::Display>(
    root: &Root,
    path: &str,
    parse: impl FnOnce(&mut dyn std::io::BufRead) -> Result<T, E>,
) -> Fact<T> {
    match root.read_stream(path, root.limits().max_large_file, parse) {
        Ok(Ok(v)) => Fact::Ok(v),
        Ok(Err(e)) => Fact::unparseable(path, e),
        Err(e) => Fact::from_read(path, Err(e)),
    }
}

/// Reads a text attribute, `None` when it cannot be read.
pub(crate) fn text_opt(root: &Root, path: &str) -> Option<String> {
    root.read_text(path).ok()
}
