//! What every check needs to ask of the facts: the machine, the base, the kernel's
//! drivers, devices and their bindings. Pure lookups, no I/O.

use crate::facts::dtx::{BaseState, DeviceMode};
use crate::facts::{BusDevice, Evdev, Fact, Facts, InputDevice, KernelLog, PowerSupply};
use crate::profiles::{Driver, PciFn, Profile};
use crate::report::{KernelSummary, Machine};
use crate::root::NodeKind;

use super::Outcome;

/// The result of a lookup in the facts: found, known not to be there, or unknowable.
#[derive(Debug)]
pub enum Look<T> {
    Found(T),
    /// Not there; the string is the evidence (the path listed).
    Missing(String),
    /// Cannot be told; the string says why.
    Unknown(String),
}

/// Whether the facts show the profile's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Profile,
    Other,
    /// The evidence cannot be read or conflicts.
    Unknown,
}

/// Which machine this is.
#[derive(Debug, Clone)]
pub struct MachineId {
    pub identity: Identity,
    pub model: &'static str,
    pub source: &'static str,
    pub evidence: String,
    /// Index into the profile's variants, when the size is known.
    pub variant: Option<usize>,
}

/// Whether the clipboard sits on its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Attached,
    Detached,
    Unknown,
}

/// The attributes a PCI function is identified by.
pub const PCI_IDS: &[&str] = &["vendor", "device"];
/// The attributes a USB device is identified by.
pub const USB_IDS: &[&str] = &["idVendor", "idProduct"];

/// The `status` values of a battery that reports real data.
pub const BATTERY_STATUSES: &[&str] =
    &["Charging", "Discharging", "Not charging", "Full", "Unknown"];

/// The Surface Aggregator's state, read once for every check that depends on it.
#[derive(Debug)]
pub enum Aggregator {
    Up,
    /// Its serial device (name, evidence) exists and is not bound to its driver.
    Unbound(String, String),
    /// No serial device for it exists (evidence).
    NotFound(String),
    Unknown,
}

/// A device node as judged by [`Ctx::node`].
#[derive(Debug)]
pub enum NodeSeen {
    /// The node is there (live root) or sysfs says the device exists (captured tree).
    Ok(String),
    Missing(String),
    /// The path exists but is not a device node (live root only).
    Wrong(String),
    Unknown(String),
}

/// Whether the running kernel has a driver, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Has {
    Builtin(String),
    Module(String),
    No(String),
    Unknown(String),
}

pub struct Ctx<'a> {
    pub facts: &'a Facts,
    pub profile: &'a Profile,
    pub machine: MachineId,
    pub base: (Base, String),
}

fn fact_str(f: &Fact<String>) -> Option<&str> {
    f.ok().map(|s| s.as_str())
}

/// Describes a failed fact as evidence: `"/path: not found"`.
pub fn why<T>(f: &Fact<T>) -> String {
    match f.failure() {
        None => "ok".into(),
        Some((p, None)) => format!("{}: not found", slash(p)),
        Some((p, Some(r))) => format!("{}: {}", slash(p), r),
    }
}

/// A root-relative path as an absolute one for display.
pub fn slash(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

// Switch codes from include/uapi/linux/input-event-codes.h.
pub const SW_LID: u16 = 0;
pub const SW_TABLET_MODE: u16 = 1;

/// The name the ACPI button driver gives the lid's input device (§7: `input: Lid
/// Switch as /devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0D:00/input/input0`).
pub const LID_SWITCH_NAME: &str = "Lid Switch";

fn switch_name(code: u16) -> String {
    match code {
        SW_LID => "SW_LID".into(),
        SW_TABLET_MODE => "SW_TABLET_MODE".into(),
        c => format!("switch {c}"),
    }
}

/// What an input device's event node answered, when the answer is this device's: the
/// node names the device sysfs names (a node left from a device that went away may
/// belong to another one now). `None` when the node did not answer (a captured tree,
/// an unprivileged user): then sysfs decides.
pub fn evdev_answer(i: &InputDevice) -> Option<&Evdev> {
    let e = i.evdev.ok()?;
    // EVIOCGNAME cuts a long name to the collector's buffer: a prefix then matches.
    let same =
        |n: &str| n.trim() == e.name.trim() || (e.name.len() >= 255 && n.starts_with(&e.name));
    match i.name.ok() {
        Some(n) if !same(n) => None,
        _ => Some(e),
    }
}

// ---- what input devices report: sysfs, or the device itself ---------------------

/// The capabilities of `kind` in sysfs (`capabilities/<kind>`; `prop`: the
/// `properties` file), when readable.
pub fn sysfs_caps<'i>(i: &'i InputDevice, kind: &str) -> Option<&'i [u16]> {
    if kind == "prop" {
        return i.properties.ok().map(|v| v.as_slice());
    }
    i.capabilities
        .get(kind)
        .and_then(|f| f.ok())
        .map(|v| v.as_slice())
}

/// The capabilities of `kind` the event device itself answered (`EVIOCGBIT`;
/// `prop`: `EVIOCGPROP`).
pub fn device_caps<'e>(e: &'e Evdev, kind: &str) -> Option<&'e [u16]> {
    match kind {
        "prop" => Some(&e.properties),
        "ev" => Some(&e.ev),
        "key" => Some(&e.keys),
        "abs" => Some(&e.abs),
        "sw" => Some(&e.switches),
        _ => None,
    }
}

/// The capabilities of `kind`: the device's own answer when it gave one (the live
/// root, with the privileges to open the node), else sysfs's. Both come from the same
/// kernel bitmaps, so they disagree only when something is wrong; then the device's
/// own answer counts ([`device_says`] says so in the evidence).
pub fn input_caps<'i>(i: &'i InputDevice, kind: &str) -> &'i [u16] {
    evdev_answer(i)
        .and_then(|e| device_caps(e, kind))
        .or_else(|| sysfs_caps(i, kind))
        .unwrap_or(&[])
}

/// What the device answered about capability `code` (named `what`) of `kind`, as
/// evidence: that it confirms sysfs, or that the two disagree and the device's answer
/// is taken. `None` when the device did not answer.
pub fn device_says(i: &InputDevice, kind: &str, code: u16, what: &str) -> Option<String> {
    let dev = device_caps(evdev_answer(i)?, kind)?.contains(&code);
    let node = event_node(i);
    let verb = if dev { "reports" } else { "does not report" };
    let (ioctl, file) = if kind == "prop" {
        ("EVIOCGPROP", "properties".to_string())
    } else {
        ("EVIOCGBIT", format!("capabilities/{kind}"))
    };
    Some(match sysfs_caps(i, kind).map(|s| s.contains(&code)) {
        Some(sys) if sys != dev => format!(
            "{node} {verb} {what} ({ioctl}), while /sys/class/input/{}/{file} {} it: the device's own answer is taken",
            i.sysname,
            if sys { "lists" } else { "does not list" }
        ),
        Some(_) => format!("{node} {verb} {what} ({ioctl}), as sysfs says"),
        None => format!("{node} {verb} {what} ({ioctl}); sysfs cannot be read"),
    })
}

/// Of `inputs`, where sysfs lists capability `code` of `kind` and the device says it
/// has none: evidence for a verdict that takes the device's answer.
pub fn denied_by_device<'i>(
    inputs: impl IntoIterator<Item = &'i InputDevice>,
    kind: &str,
    code: u16,
    what: &str,
) -> Vec<String> {
    inputs
        .into_iter()
        .filter(|i| {
            sysfs_caps(i, kind).is_some_and(|s| s.contains(&code))
                && !input_caps(i, kind).contains(&code)
        })
        .filter_map(|i| device_says(i, kind, code, what))
        .collect()
}

/// The event node of an input device for evidence: `/dev/input/eventN`, else its
/// sysfs directory.
pub fn event_node(i: &InputDevice) -> String {
    match &i.event {
        Some(e) => format!("/dev/input/{e}"),
        None => format!("/sys/class/input/{}", i.sysname),
    }
}

impl<'a> Ctx<'a> {
    pub fn new(facts: &'a Facts, profile: &'a Profile) -> Ctx<'a> {
        let mut ctx = Ctx {
            facts,
            profile,
            machine: MachineId::unknown(String::new()),
            base: (Base::Unknown, String::new()),
        };
        ctx.machine = ctx.identify();
        ctx.base = ctx.base_state();
        ctx
    }

    /// Which machine this is, from every piece of evidence: DMI product, board and
    /// SKU, the IPTS HID product id, and the model's own ACPI ids. One unreadable or
    /// garbled file does not decide; evidence that conflicts gives `unknown`.
    fn identify(&self) -> MachineId {
        let p = self.profile;
        let dmi = &self.facts.dmi;
        // A DMI string counts only when it reads as text a firmware would write.
        let clean = |f: &'a Fact<String>| {
            fact_str(f)
                .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() || c == ' '))
        };
        let vendor = clean(&dmi.sys_vendor);
        let product = clean(&dmi.product_name);
        let board = clean(&dmi.board_name);
        let sku = clean(&dmi.product_sku);

        let mut yes: Vec<String> = Vec::new();
        let mut no: Vec<String> = Vec::new();
        match vendor {
            Some(v) if v == p.dmi_vendor => {}
            Some(v) => no.push(format!("/sys/class/dmi/id/sys_vendor: {v}")),
            None => {}
        }
        match product {
            Some(n) if n == p.dmi_product => {
                yes.push(format!("/sys/class/dmi/id/product_name: {n}"))
            }
            Some(n) => no.push(format!("/sys/class/dmi/id/product_name: {n}")),
            None => {}
        }
        match board {
            Some(n) if n == p.dmi_board => yes.push(format!("/sys/class/dmi/id/board_name: {n}")),
            Some(n) => no.push(format!("/sys/class/dmi/id/board_name: {n}")),
            None => {}
        }
        let sku_variant = sku.and_then(|s| p.variants.iter().position(|v| v.dmi_sku == s));
        if let (Some(s), Some(_)) = (sku, sku_variant) {
            yes.push(format!("/sys/class/dmi/id/product_sku: {s}"));
        }
        let hid_variant = match self.ipts_hid() {
            Look::Found(hid) => crate::facts::parse::hid_name(&hid.name).and_then(|(_, _, pid)| {
                p.variants
                    .iter()
                    .position(|v| v.ipts_product == pid)
                    .map(|i| (i, hid))
            }),
            _ => None,
        };
        if let Some((_, hid)) = hid_variant {
            yes.push(format!("/sys/bus/hid/devices/{}", hid.name));
        }
        for id in p.model_acpi_ids {
            if let Look::Found(d) = self.by_hid("acpi", id) {
                yes.push(format!("/sys/bus/acpi/devices/{}", d.name));
            }
        }

        let unreadable = || {
            [
                ("sys_vendor", &dmi.sys_vendor),
                ("product_name", &dmi.product_name),
                ("board_name", &dmi.board_name),
                ("product_sku", &dmi.product_sku),
            ]
            .into_iter()
            .filter(|(_, f)| clean(f).is_none())
            .map(|(name, f)| match f {
                Fact::Ok(v) => format!(
                    "/sys/class/dmi/id/{name}: not text ({:?})",
                    v.chars().take(16).collect::<String>()
                ),
                f => why(f),
            })
            .collect::<Vec<_>>()
        };
        if yes.is_empty() {
            // No DMI identity at all (a virtual machine without SMBIOS, a board without
            // it) and none of the model's devices: not this model. Every Surface Book 2
            // firmware has SMBIOS, so only files that exist and cannot be read leave
            // the question open.
            let all_absent = [
                &dmi.sys_vendor,
                &dmi.product_name,
                &dmi.board_name,
                &dmi.product_sku,
            ]
            .iter()
            .all(|f| matches!(f, Fact::Absent { .. }));
            if no.is_empty() && all_absent {
                return MachineId {
                    identity: Identity::Other,
                    model: "other",
                    source: "dmi",
                    evidence: "/sys/class/dmi/id: no identity; none of the model's devices".into(),
                    variant: None,
                };
            }
            if no.is_empty() {
                let mut ev = unreadable();
                ev.insert(0, "no DMI or device evidence of any model".into());
                return MachineId::unknown(ev.join("; "));
            }
            return MachineId {
                identity: Identity::Other,
                model: "other",
                source: "dmi",
                evidence: no.join("; "),
                variant: None,
            };
        }
        if !no.is_empty() {
            return MachineId::unknown(format!(
                "the evidence conflicts: {} but {}",
                yes.join(", "),
                no.join(", ")
            ));
        }
        // The size: the IPTS HID product id, then the SKU; when both are known they
        // must agree.
        // A dGPU of one size's model is size evidence of last resort (the 13" i5
        // has none; an absent dGPU says nothing).
        let dgpu_variant = match self.bus("pci") {
            Look::Found(devs) => devs.iter().find_map(|d| {
                let (v, dev) = d.pci_id()?;
                let i = p
                    .variants
                    .iter()
                    .position(|x| v == 0x10de && x.dgpu_device == dev)?;
                Some((i, d))
            }),
            _ => None,
        };
        let (variant, source) = match (hid_variant.map(|(i, _)| i), sku_variant) {
            (Some(a), Some(b)) if a != b => {
                return MachineId::unknown(format!(
                    "the size evidence conflicts: {} says {}, the SKU {}",
                    hid_variant
                        .map(|(_, h)| h.name.as_str())
                        .unwrap_or_default(),
                    p.variants[a].model,
                    p.variants[b].model
                ));
            }
            (Some(a), _) => (Some(a), "ipts-hid"),
            (None, Some(b)) => (Some(b), "dmi-sku"),
            (None, None) => match dgpu_variant {
                Some((i, d)) => {
                    yes.push(format!(
                        "/sys/bus/pci/devices/{}: 10de:{:04x}",
                        d.name, p.variants[i].dgpu_device
                    ));
                    (Some(i), "dgpu")
                }
                None if product.is_some() => (None, "dmi-product"),
                None => (None, "devices"),
            },
        };
        let mut evidence = yes;
        evidence.extend(unreadable());
        MachineId {
            identity: Identity::Profile,
            // Without size evidence the model is named without a size.
            model: variant.map_or(p.id, |i| p.variants[i].model),
            source,
            evidence: evidence.join("; "),
            variant,
        }
    }

    /// The base state: from the DTX device when it answered (its base state, else its
    /// device mode: tablet is detached, laptop and studio are attached, UAPI
    /// `enum sdtx_device_mode`, §1.3), else inferred from the devices that live in the
    /// base (its USB hubs and the base battery).
    fn base_state(&self) -> (Base, String) {
        if let Fact::Ok(s) = &self.facts.dtx.state {
            let ev = format!("/dev/surface/dtx: {}; {}", s.base_info(), s.mode());
            return match (s.base(), s.mode()) {
                // Not feasible: attached, and it cannot be detached now.
                (BaseState::Attached | BaseState::NotFeasible, _) => (Base::Attached, ev),
                (BaseState::Detached, _) => (Base::Detached, ev),
                (_, DeviceMode::Laptop | DeviceMode::Studio) => (Base::Attached, ev),
                (_, DeviceMode::Tablet) => (Base::Detached, ev),
                _ => (Base::Unknown, ev),
            };
        }
        let usb = match self.bus("usb") {
            Look::Found(d) => d,
            _ => return (Base::Unknown, "/sys/bus/usb/devices: unreadable".into()),
        };
        let ip = &self.profile.input;
        let base_usb = usb.iter().any(|d| {
            d.usb_id().is_some_and(|(v, p)| {
                v == ip.usb_vendor
                    && (p == ip.keyboard_product || ip.base_hub_products.contains(&p))
            })
        });
        if base_usb {
            return (
                Base::Attached,
                "/sys/bus/usb/devices: base USB hubs present".into(),
            );
        }
        // A device whose ids cannot be read may be one of the base's.
        if let Some(u) = self.ids_unknown("usb", USB_IDS) {
            return (Base::Unknown, format!("no base USB hubs seen, but {u}"));
        }
        let has_root_hubs = usb.iter().any(|d| d.name.starts_with("usb"));
        let base_battery_gone = self.battery_gone(self.profile.battery.base);
        if has_root_hubs && base_battery_gone {
            (
                Base::Detached,
                format!(
                    "no base USB hubs on a working USB bus and no {} (inferred)",
                    self.profile.battery.base
                ),
            )
        } else {
            (Base::Unknown, "base devices missing, cause unclear".into())
        }
    }

    pub fn machine_report(&self) -> Machine {
        let mut m = self.machine.report(self.facts);
        m.base = match self.base.0 {
            Base::Attached => "attached",
            Base::Detached => "detached",
            Base::Unknown => "unknown",
        }
        .to_string();
        m.base_evidence = self.base.1.clone();
        m
    }

    pub fn kernel_summary(&self) -> KernelSummary {
        let (patches, evidence) = self.surface_patches();
        KernelSummary {
            release: self.facts.kernel.release.ok().cloned(),
            surface_patches: patches,
            patch_evidence: evidence,
            config_source: self.facts.config.ok().map(|c| c.source.clone()),
            tainted: self.facts.kernel.tainted.ok().copied(),
        }
    }

    /// Whether the running kernel carries the linux-surface patches, with evidence.
    pub fn surface_patches(&self) -> (Option<bool>, Vec<String>) {
        let p = &self.profile.patches;
        let mut yes = Vec::new();
        if let Fact::Ok(c) = &self.facts.config {
            for opt in p.config_options {
                if let Some(v) = c.options.get(*opt) {
                    yes.push(format!("{}: CONFIG_{opt}={v}", c.source));
                }
            }
        }
        if let Fact::Ok(t) = &self.facts.module_tree
            && let Fact::Ok(avail) = &t.available
        {
            for m in p.modules {
                if let Some(path) = avail.get(*m) {
                    yes.push(format!("{}/{path}", t.dir));
                }
            }
        }
        let release = self.facts.kernel.release.ok();
        if let Some(r) = release.filter(|r| r.contains(p.release_marker)) {
            yes.push(format!("/proc/sys/kernel/osrelease: {r}"));
        }
        for m in p.log_markers {
            yes.extend(self.log_lines(&[m]).into_iter().take(1));
        }
        if !yes.is_empty() {
            return (Some(true), yes);
        }
        // "No" needs positive knowledge: a readable config or module tree without any
        // patch-only option or module.
        let config_says_no = matches!(&self.facts.config, Fact::Ok(_));
        let tree_says_no =
            matches!(&self.facts.module_tree, Fact::Ok(t) if matches!(t.available, Fact::Ok(_)));
        if config_says_no || tree_says_no {
            let mut ev = Vec::new();
            if let Fact::Ok(c) = &self.facts.config {
                ev.push(format!(
                    "{}: none of CONFIG_{}",
                    c.source,
                    p.config_options.join(", CONFIG_")
                ));
            }
            if let Fact::Ok(t) = &self.facts.module_tree
                && matches!(t.available, Fact::Ok(_))
            {
                ev.push(format!(
                    "{}/modules.dep: none of {}",
                    t.dir,
                    p.modules.join(", ")
                ));
            }
            if let Some(r) = release {
                ev.push(format!("/proc/sys/kernel/osrelease: {r}"));
            }
            return (Some(false), ev);
        }
        (
            None,
            vec![why(&self.facts.config), why(&self.facts.module_tree)],
        )
    }

    // ---- buses and devices -------------------------------------------------------

    pub fn bus(&self, bus: &str) -> Look<&'a [BusDevice]> {
        match self.facts.buses.get(bus) {
            Some(Fact::Ok(v)) => Look::Found(v.as_slice()),
            // A bus whose directory does not exist has no devices.
            Some(Fact::Absent { .. }) => Look::Found(&[]),
            Some(f @ Fact::Unknown { .. }) => Look::Unknown(why(f)),
            None => Look::Unknown(format!("/sys/bus/{bus}: not collected")),
        }
    }

    /// First device on `bus` matching `pred`.
    pub fn find_dev(&self, bus: &str, pred: impl Fn(&BusDevice) -> bool) -> Look<&'a BusDevice> {
        match self.bus(bus) {
            Look::Found(devs) => match devs.iter().find(|d| pred(d)) {
                Some(d) => Look::Found(d),
                None => Look::Missing(format!("/sys/bus/{bus}/devices")),
            },
            Look::Missing(m) => Look::Missing(m),
            Look::Unknown(u) => Look::Unknown(u),
        }
    }

    /// First device on `bus` matching `pred`, a test of the id attributes `ids`:
    /// when none matches but a device's ids cannot be read (or do not read as ids),
    /// that device may be the one sought, and the answer is [`Look::Unknown`] with
    /// the reason, never [`Look::Missing`].
    pub fn find_by_ids(
        &self,
        bus: &str,
        ids: &[&str],
        pred: impl Fn(&BusDevice) -> bool,
    ) -> Look<&'a BusDevice> {
        match self.find_dev(bus, pred) {
            Look::Missing(m) => match self.ids_unknown(bus, ids) {
                Some(u) => Look::Unknown(format!("{m}: none matches, but {u}")),
                None => Look::Missing(m),
            },
            found => found,
        }
    }

    /// The devices on `bus` whose id attributes `ids` cannot be told, as evidence.
    pub fn ids_unknown(&self, bus: &str, ids: &[&str]) -> Option<String> {
        let Look::Found(devs) = self.bus(bus) else {
            return None;
        };
        let why: Vec<String> = devs
            .iter()
            .filter_map(|d| d.ids_unknown(bus, ids))
            .collect();
        (!why.is_empty()).then(|| why.join("; "))
    }

    /// The PCI function `f`, by vendor and device id.
    pub fn pci(&self, f: &PciFn) -> Look<&'a BusDevice> {
        self.pci_id((f.vendor, f.device))
    }

    /// The PCI function with vendor and device `id`.
    pub fn pci_id(&self, id: (u16, u16)) -> Look<&'a BusDevice> {
        self.find_by_ids("pci", PCI_IDS, |d| d.pci_id() == Some(id))
    }

    /// The USB device with vendor and product `id`.
    pub fn usb_id(&self, id: (u16, u16)) -> Look<&'a BusDevice> {
        self.find_by_ids("usb", USB_IDS, |d| d.usb_id() == Some(id))
    }

    /// A device whose name is an ACPI id (`MSHW0133:00`, `i2c-INT33BE:00`) on `bus`.
    pub fn by_hid(&self, bus: &str, hid: &str) -> Look<&'a BusDevice> {
        self.find_dev(bus, |d| d.acpi_hid() == Some(hid))
    }

    /// Whether `driver` is registered on `bus` (built in or loaded).
    pub fn driver_registered(&self, bus: &str, driver: &str) -> Option<bool> {
        match self.facts.drivers.get(bus) {
            Some(Fact::Ok(d)) => Some(d.contains(driver)),
            Some(Fact::Absent { .. }) => Some(false),
            _ => None,
        }
    }

    /// The IPTS HID device: vendor 045E with a profile product id, on bus 0 or under
    /// the IPTS ME client.
    pub fn ipts_hid(&self) -> Look<&'a BusDevice> {
        let t = &self.profile.touch;
        self.find_dev("hid", |d| {
            crate::facts::parse::hid_name(&d.name).is_some_and(|(bus, v, p)| {
                v == t.hid_vendor
                    && self.profile.variants.iter().any(|x| x.ipts_product == p)
                    && (bus == 0
                        || d.path
                            .as_deref()
                            .is_some_and(|p| p.to_ascii_lowercase().contains(t.mei_client_uuid)))
            })
        })
    }

    /// The Surface Aggregator's serial device: the one bound to its driver, else the
    /// expected `serial0-0`, else the only serial device there is.
    pub fn ssam_device(&self) -> Look<&'a BusDevice> {
        let d = &self.profile.detach;
        let devs = match self.bus("serial") {
            Look::Found(v) => v,
            Look::Missing(m) => return Look::Missing(m),
            Look::Unknown(u) => return Look::Unknown(u),
        };
        let found = devs
            .iter()
            .find(|x| x.driver.as_deref() == Some(d.ssam.driver))
            .or_else(|| devs.iter().find(|x| x.name == d.ssam_serdev))
            .or_else(|| (devs.len() == 1).then(|| &devs[0]));
        match found {
            Some(x) => Look::Found(x),
            None => Look::Missing("/sys/bus/serial/devices".into()),
        }
    }

    /// The Surface Aggregator: bound, present but unbound, not found, or unknowable.
    pub fn aggregator(&self) -> Aggregator {
        let d = &self.profile.detach;
        match self.ssam_device() {
            Look::Found(x) if x.driver.as_deref() == Some(d.ssam.driver) => Aggregator::Up,
            Look::Found(x) => Aggregator::Unbound(
                x.name.clone(),
                format!(
                    "/sys/bus/serial/devices/{}/driver: not {}",
                    x.name, d.ssam.driver
                ),
            ),
            Look::Missing(m) => Aggregator::NotFound(format!("{m}: no {}", d.ssam_serdev)),
            Look::Unknown(_) => Aggregator::Unknown,
        }
    }

    /// Whether the power supply `name` is known not to be there: missing, or
    /// reporting `present=0`. `false` when that cannot be told.
    pub fn battery_gone(&self, name: &str) -> bool {
        match self.power_supply(name) {
            Look::Missing(_) => true,
            Look::Found(ps) => ps
                .props
                .ok()
                .and_then(|p| p.get("present"))
                .is_some_and(|v| v == "0"),
            Look::Unknown(_) => false,
        }
    }

    pub fn inputs(&self) -> Look<&'a [InputDevice]> {
        match &self.facts.inputs {
            Fact::Ok(v) => Look::Found(v.as_slice()),
            Fact::Absent { .. } => Look::Found(&[]),
            f => Look::Unknown(why(f)),
        }
    }

    pub fn power_supply(&self, name: &str) -> Look<&'a PowerSupply> {
        match &self.facts.power {
            Fact::Ok(v) => match v.iter().find(|p| p.name == name) {
                Some(p) => Look::Found(p),
                None => Look::Missing(format!("/sys/class/power_supply/{name}")),
            },
            Fact::Absent { path } => Look::Missing(slash(path)),
            f => Look::Unknown(why(f)),
        }
    }

    // ---- kernel: config, modules -------------------------------------------------

    /// The value of `CONFIG_<opt>`: `Some("y"|"m"|...)`, `Some("")` when known to be
    /// unset, `None` when the config is unknown.
    pub fn config(&self, opt: &str) -> Option<&'a str> {
        match &self.facts.config {
            Fact::Ok(c) => Some(c.options.get(opt).map(|s| s.as_str()).unwrap_or("")),
            _ => None,
        }
    }

    pub fn loaded(&self, module: &str) -> Option<bool> {
        self.facts
            .modules
            .loaded
            .ok()
            .map(|m| m.contains_key(module))
    }

    /// Whether the kernel provides `d`: from the config, checked against the module
    /// tree; without a config, from the module tree and the loaded modules.
    pub fn kernel_has(&self, d: &Driver) -> Has {
        let tree = self.facts.module_tree.ok();
        let builtin = tree
            .and_then(|t| t.builtin.ok())
            .map(|b| b.contains(d.module));
        let file = tree.and_then(|t| {
            t.available.ok().map(|a| {
                a.get(d.module).map(|p| {
                    (
                        format!("{}/{p}", t.dir),
                        // The collector checks the files of the profile's modules;
                        // another module is taken as modules.dep lists it.
                        t.files_present.get(d.module).copied().unwrap_or(true),
                    )
                })
            })
        });
        let src = self
            .facts
            .config
            .ok()
            .map(|c| c.source.clone())
            .unwrap_or_default();
        if self.loaded(d.module) == Some(true) {
            return Has::Module(format!("/proc/modules: {} loaded", d.module));
        }
        match self.config(d.config) {
            Some("y") => Has::Builtin(format!("{src}: CONFIG_{}=y", d.config)),
            Some("m") => match file {
                Some(Some((path, true))) => Has::Module(path),
                Some(Some((path, false))) => Has::No(format!(
                    "{src}: CONFIG_{}=m, but {path} is missing",
                    d.config
                )),
                Some(None) => Has::No(format!(
                    "{src}: CONFIG_{}=m, but {} is not in modules.dep",
                    d.config, d.module
                )),
                // No module tree at all: the module cannot be loaded from it.
                None if matches!(self.facts.module_tree, Fact::Absent { .. }) => Has::No(format!(
                    "{src}: CONFIG_{}=m, but the module tree is missing ({})",
                    d.config,
                    why(&self.facts.module_tree)
                )),
                None => Has::Unknown(format!(
                    "{src}: CONFIG_{}=m; module tree: {}",
                    d.config,
                    why(&self.facts.module_tree)
                )),
            },
            Some("") => Has::No(format!("{src}: CONFIG_{} is not set", d.config)),
            Some(other) => Has::Unknown(format!("{src}: CONFIG_{}={other}", d.config)),
            None => match (builtin, file) {
                (Some(true), _) => Has::Builtin(format!("modules.builtin: {}", d.module)),
                (_, Some(Some((path, true)))) => Has::Module(path),
                (Some(false), Some(None)) => Has::No(format!(
                    "{} is neither in modules.builtin nor in modules.dep (no kernel config to confirm)",
                    d.module
                )),
                _ => Has::Unknown(format!(
                    "kernel config: {}; module tree: {}",
                    why(&self.facts.config),
                    why(&self.facts.module_tree)
                )),
            },
        }
    }

    /// Link "the kernel has the driver" as an outcome. `what` names the part.
    pub fn link_kernel_has(&self, d: &Driver, what: &str) -> Outcome {
        match self.kernel_has(d) {
            Has::Builtin(e) => Outcome::ok(format!("{what}: {} is built in", d.module)).evidence(e),
            Has::Module(e) => {
                Outcome::ok(format!("{what}: module {} is available", d.module)).evidence(e)
            }
            Has::No(e) => {
                let o = Outcome::failed(format!(
                    "{what}: the running kernel has no {} driver (CONFIG_{})",
                    d.module, d.config
                ))
                .evidence(e);
                match self.provide_fix(d) {
                    Some(h) => o.hint(h),
                    None => o,
                }
            }
            Has::Unknown(e) => Outcome::unknown(format!(
                "{what}: cannot tell whether the kernel has {}",
                d.module
            ))
            .evidence(e),
        }
    }

    /// Link "device is bound to the expected driver".
    pub fn link_bound(&self, bus: &str, dev: Look<&BusDevice>, d: &Driver, what: &str) -> Outcome {
        match dev {
            Look::Unknown(u) => Outcome::unknown(format!(
                "{what}: cannot tell whether the device is on /sys/bus/{bus}"
            ))
            .evidence(u),
            Look::Missing(m) => Outcome::failed(format!("{what}: device not found")).evidence(m),
            Look::Found(dev) => {
                let path = format!("/sys/bus/{bus}/devices/{}/driver", dev.name);
                match &dev.driver {
                    Some(drv) if drv == d.driver => {
                        Outcome::ok(format!("{what}: {} bound to {drv}", dev.name))
                            .evidence(format!("{path} -> {drv}"))
                    }
                    Some(other) => Outcome::failed(format!(
                        "{what}: {} is bound to {other}, expected {}",
                        dev.name, d.driver
                    ))
                    .evidence(format!("{path} -> {other}"))
                    .hint(format!(
                        "{other} holds the device: unbind it (`echo {} > /sys/bus/{bus}/drivers/{other}/unbind`) and blacklist its module, then `echo {} > /sys/bus/{bus}/drivers_probe`.",
                        dev.name, dev.name
                    )),
                    None => match dev.unreadable.get("driver") {
                        Some(r) => Outcome::unknown(format!(
                            "{what}: cannot tell which driver {} is bound to",
                            dev.name
                        ))
                        .evidence(format!("{path}: {r}")),
                        None => self
                            .unbound(bus, dev, d, what)
                            .evidence(format!("{path}: not found")),
                    },
                }
            }
        }
    }

    /// Why a present device has no driver: the kernel lacks it, it is not loaded, or
    /// it is loaded and its probe failed.
    pub fn unbound(&self, bus: &str, dev: &BusDevice, d: &Driver, what: &str) -> Outcome {
        match self.kernel_has(d) {
            Has::No(e) => {
                let o = Outcome::failed(format!(
                    "{what}: {} has no driver; the kernel lacks {} (CONFIG_{})",
                    dev.name, d.module, d.config
                ))
                .evidence(e);
                match self.provide_fix(d) {
                    Some(h) => o.hint(h),
                    None => o,
                }
            }
            has => {
                let registered = self.driver_registered(bus, d.driver);
                match (registered, self.loaded(d.module), has) {
                    (Some(true), _, _) => Outcome::failed(format!(
                        "{what}: driver {} is registered but {} is not bound: its probe failed",
                        d.driver, dev.name
                    ))
                    .evidence(format!("/sys/bus/{bus}/drivers/{}", d.driver))
                    .evidence_all(self.log_lines(&[dev.name.trim_start_matches("i2c-"), "fail"]))
                    .hint(format!(
                        "See `journalctl -k -b | grep -i {}`; rebind with `echo {} > /sys/bus/{bus}/drivers_probe` or reload the module.",
                        d.module, dev.name
                    )),
                    (_, Some(false), Has::Module(e)) => Outcome::failed(format!(
                        "{what}: {} is not bound: module {} is not loaded",
                        dev.name, d.module
                    ))
                    .evidence(e)
                    .hint(format!("Load it: `modprobe {}`; if that fails, see `journalctl -k -b`.", d.module)),
                    _ => Outcome::failed(format!("{what}: {} is not bound to {}", dev.name, d.driver))
                        .hint(format!(
                            "The cause is not shown: whether {} is loaded and its driver registered cannot be read here; `journalctl -k -b | grep -i {}` and `ls /sys/bus/{bus}/drivers` would tell.",
                            d.module, d.module
                        )),
                }
            }
        }
    }

    // ---- device nodes ------------------------------------------------------------

    /// Whether the facts came from the live `/`, where device nodes are real.
    pub fn live(&self) -> bool {
        self.facts.source.live
    }

    /// Judges a device node that sysfs says exists (`sysfs`: the evidence for that).
    /// On the live root the node must be a character device; in a captured or
    /// copied tree, whose `/dev` may hold plain files or nothing, sysfs decides and
    /// the node itself is not judged.
    pub fn node(&self, dev_path: &str, node: &Fact<NodeKind>, sysfs: &str) -> NodeSeen {
        if !self.live() {
            return NodeSeen::Ok(format!(
                "{sysfs} (a captured tree: sysfs decides, {dev_path} is not judged)"
            ));
        }
        match node {
            Fact::Ok(NodeKind::CharDevice { major, minor }) => {
                NodeSeen::Ok(format!("{dev_path}: character device {major}:{minor}"))
            }
            Fact::Ok(other) => NodeSeen::Wrong(format!("{dev_path}: {other:?}, not a device node")),
            Fact::Absent { .. } => NodeSeen::Missing(format!("{dev_path}: not found")),
            f => NodeSeen::Unknown(why(f)),
        }
    }

    // ---- switches: how the machine sits now ---------------------------------------

    /// Whether the base's keyboard and touchpad are out of use because of how the
    /// clipboard sits, with the evidence: the DTX device's mode (tablet: detached;
    /// studio: attached in reverse, keyboard and touchpad off; UAPI
    /// `enum sdtx_device_mode`, §1.3), else the state of the DTX device-mode switch
    /// (`SW_TABLET_MODE` is on unless the mode is laptop, §1.3). `None` when no device
    /// answered (a captured tree, an unprivileged user).
    pub fn tablet_mode(&self) -> Option<(bool, String)> {
        if let Fact::Ok(s) = &self.facts.dtx.state {
            let ev = |what: &str| format!("/dev/surface/dtx: {}{what}", s.mode());
            match s.mode() {
                DeviceMode::Laptop => return Some((false, ev(""))),
                DeviceMode::Tablet => {
                    return Some((true, ev(" (the clipboard is detached from the base)")));
                }
                DeviceMode::Studio => {
                    return Some((
                        true,
                        ev(
                            " (the clipboard sits reversed on the base: keyboard and touchpad are off)",
                        ),
                    ));
                }
                DeviceMode::Other(_) => {}
            }
        }
        self.switch_state(SW_TABLET_MODE, self.profile.detach.tablet_switch_name)
            .map(|(on, ev)| {
                let what = if on {
                    "tablet mode: the clipboard is detached or reversed on the base"
                } else {
                    "laptop mode"
                };
                (on, format!("{ev} ({what})"))
            })
    }

    /// Whether the lid is closed now (`SW_LID` on), as the lid switch's event device
    /// answered, with the evidence. `None` when no device answered.
    pub fn lid_closed(&self) -> Option<(bool, String)> {
        self.switch_state(SW_LID, LID_SWITCH_NAME).map(|(on, ev)| {
            let what = if on {
                "the lid is closed"
            } else {
                "the lid is open"
            };
            (on, format!("{ev} ({what})"))
        })
    }

    /// The state of switch `code` as an event device answered it (`EVIOCGSW`): of the
    /// input devices whose own answer lists the switch, the one named `name`, else the
    /// first.
    fn switch_state(&self, code: u16, name: &str) -> Option<(bool, String)> {
        let Look::Found(inputs) = self.inputs() else {
            return None;
        };
        let answers: Vec<(&InputDevice, &Evdev)> = inputs
            .iter()
            .filter_map(|i| evdev_answer(i).map(|e| (i, e)))
            .filter(|(_, e)| e.switches.contains(&code))
            .collect();
        let (i, e) = answers
            .iter()
            .find(|(_, e)| e.name == name)
            .or_else(|| answers.first())?;
        let on = e.switches_on.contains(&code);
        Some((
            on,
            format!(
                "{} ({}): {} {}",
                event_node(i),
                e.name,
                switch_name(code),
                if on { "on" } else { "off" }
            ),
        ))
    }

    // ---- the kernel log ----------------------------------------------------------

    /// The kernel log of this boot, when it was read.
    pub fn log(&self) -> Option<&'a KernelLog> {
        self.facts.kernel_log.ok()
    }

    /// Kernel messages containing every one of `needles`, as evidence lines.
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        self.log()
            .map(|l| {
                l.lines
                    .iter()
                    .filter(|x| needles.iter().all(|n| x.contains(n)))
                    .map(|x| format!("kernel log: {x}"))
                    .collect()
            })
            .unwrap_or_default()
    }

    // ---- fixes that fit this kernel ----------------------------------------------

    /// What to do so that the kernel provides `d`, chosen from this kernel's config,
    /// module tree and loaded modules: never "enable" a set option, never "load" a
    /// built-in or loaded module. `None` when the kernel already provides it.
    pub fn provide_fix(&self, d: &Driver) -> Option<String> {
        match self.kernel_has(d) {
            Has::Builtin(_) => None,
            Has::Module(_) if self.loaded(d.module) == Some(true) => None,
            Has::Module(_) => Some(format!("Load the module: `modprobe {}`.", d.module)),
            Has::No(e) if self.config(d.config) == Some("m") => Some(format!(
                "The kernel is built with CONFIG_{}=m but its module is not installed ({e}): reinstall this kernel's modules{}.",
                d.config,
                if self.facts.os.is_nixos {
                    " (NixOS: rebuild and boot the new generation)"
                } else {
                    ""
                }
            )),
            Has::No(_) if self.config(d.config).is_some() => Some(format!(
                "Use a kernel built with CONFIG_{} (=m or =y){}.",
                d.config,
                self.surface_kernel_hint()
            )),
            Has::No(_) | Has::Unknown(_) => Some(format!(
                "Make sure the kernel has CONFIG_{} and module {} (this kernel's config cannot be read){}.",
                d.config,
                d.module,
                self.surface_kernel_hint()
            )),
        }
    }

    fn surface_kernel_hint(&self) -> &'static str {
        if self.facts.os.is_nixos {
            ": nixos-hardware's microsoft-surface kernel has it"
        } else {
            ": linux-surface kernels have it"
        }
    }

    /// Of `options`, those this kernel's config shows unset; all of them when the
    /// config cannot be read (then the fix says so).
    pub fn unset_options<'o>(&self, options: &[&'o str]) -> Vec<&'o str> {
        options
            .iter()
            .filter(|o| matches!(self.config(o), Some("") | None))
            .copied()
            .collect()
    }

    /// A battery that reports what only a working path through SAN and the aggregator
    /// gives: present, a capacity of 0-100, a known status, a design capacity and the
    /// pack's model name. Without SAN the firmware's battery methods return defaults
    /// (§1.2: critical and discharging, jakeday#28), so a nearly empty battery that
    /// discharges while the adapter is online, or one without a model name, proves
    /// nothing. `None` when no battery proves the path.
    pub fn sane_battery(&self) -> Option<String> {
        let b = &self.profile.battery;
        let ac_online = match self.power_supply(b.adapter) {
            Look::Found(ps) => ps
                .props
                .ok()
                .and_then(|p| p.get("online"))
                .is_some_and(|v| v == "1"),
            _ => false,
        };
        [b.clipboard, b.base].into_iter().find_map(|name| {
            let Look::Found(ps) = self.power_supply(name) else {
                return None;
            };
            let p = ps.props.ok()?;
            let num = |k: &str| p.get(k).and_then(|v| v.trim().parse::<f64>().ok());
            let present = p.get("present").is_none_or(|v| v == "1");
            let cap = num("capacity").filter(|v| (0.0..=100.0).contains(v))?;
            let status = p
                .get("status")
                .filter(|s| BATTERY_STATUSES.contains(&s.as_str()))?;
            let design = num("energy_full_design")
                .or_else(|| num("charge_full_design"))
                .filter(|d| d.is_finite() && *d > 0.0)?;
            let model = p.get("model_name").map(|m| m.trim()).filter(|m| !m.is_empty())?;
            let looks_default = cap <= 5.0 && status == "Discharging" && ac_online;
            (present && !looks_default).then(|| {
                format!(
                    "/sys/class/power_supply/{name}/uevent: {model}, {cap:.0} %, {status}, design {design:.0}"
                )
            })
        })
    }

    pub fn has_dgpu_expected(&self) -> Option<bool> {
        self.machine
            .variant
            .map(|i| self.profile.variants[i].always_has_dgpu)
    }
}

impl MachineId {
    fn unknown(evidence: String) -> MachineId {
        MachineId {
            identity: Identity::Unknown,
            model: "unknown",
            source: "unknown",
            evidence,
            variant: None,
        }
    }

    pub fn report(&self, facts: &Facts) -> Machine {
        let os = facts
            .os
            .os_release
            .ok()
            .and_then(|kv| kv.get("PRETTY_NAME").or_else(|| kv.get("NAME")).cloned());
        Machine {
            model: self.model.to_string(),
            model_source: self.source.to_string(),
            model_evidence: self.evidence.clone(),
            vendor: facts.dmi.sys_vendor.ok().cloned(),
            product: facts.dmi.product_name.ok().cloned(),
            sku: facts.dmi.product_sku.ok().cloned(),
            os,
            nixos: facts.os.is_nixos,
            base: String::new(),
            base_evidence: String::new(),
        }
    }
}
