//! Devices on the buses the profile cares about, with their bound drivers.

use std::collections::{BTreeMap, BTreeSet};

use super::{BusDevice, Fact, NetInterface, list_sorted, parse};
use crate::root::{ReadError, Root};

/// Buses read, and the attributes kept for each device.
pub const BUSES: &[(&str, &[&str])] = &[
    (
        "pci",
        &[
            "vendor",
            "device",
            "class",
            "subsystem_vendor",
            "subsystem_device",
        ],
    ),
    ("acpi", &["status"]),
    ("platform", &[]),
    ("i2c", &["name"]),
    ("serial", &[]),
    ("usb", &["idVendor", "idProduct", "product"]),
    ("hid", &[]),
    ("mei", &["uuid"]),
    ("surface_aggregator", &[]),
];

type BusMaps = (
    BTreeMap<String, Fact<Vec<BusDevice>>>,
    BTreeMap<String, Fact<BTreeSet<String>>>,
);

pub fn collect(root: &Root) -> BusMaps {
    let mut buses = BTreeMap::new();
    let mut drivers = BTreeMap::new();
    for (bus, attrs) in BUSES {
        let base = format!("sys/bus/{bus}/devices");
        let devs = list_sorted(root, &base).map(|names| {
            names
                .into_iter()
                .map(|name| device(root, bus, &format!("{base}/{name}"), name, attrs))
                .collect()
        });
        buses.insert(bus.to_string(), devs);
        let drv = list_sorted(root, &format!("sys/bus/{bus}/drivers"))
            .map(|v| v.into_iter().collect::<BTreeSet<_>>());
        drivers.insert(bus.to_string(), drv);
    }
    (buses, drivers)
}

fn device(root: &Root, bus: &str, dir: &str, name: String, attrs: &[&str]) -> BusDevice {
    let mut a = BTreeMap::new();
    // What exists and cannot be read is kept with the reason: an attribute that is
    // simply not there is no entry at all (USB interfaces have no `idVendor`).
    let mut unreadable = BTreeMap::new();
    let mut keep_error = |what: &str, e: ReadError| {
        if !matches!(e, ReadError::NotFound) {
            unreadable.insert(what.to_string(), e.to_string());
        }
    };
    for attr in attrs {
        match root.read_text(&format!("{dir}/{attr}")) {
            Ok(v) => {
                a.insert(attr.to_string(), v);
            }
            Err(e) => keep_error(attr, e),
        }
    }
    let children = if bus == "hid" {
        match root.list_dir(&format!("{dir}/hidraw")) {
            Ok(mut v) => {
                v.sort();
                v
            }
            Err(e) => {
                keep_error("hidraw", e);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let driver = match root.link_name(&format!("{dir}/driver")) {
        Ok(d) => Some(d),
        Err(e) => {
            keep_error("driver", e);
            None
        }
    };
    BusDevice {
        path: root.canonical(dir).ok(),
        driver,
        attrs: a,
        children,
        unreadable,
        name,
    }
}

impl BusDevice {
    /// PCI vendor and device ids, when both parse.
    pub fn pci_id(&self) -> Option<(u16, u16)> {
        Some((
            parse::hex_u16(self.attrs.get("vendor")?).ok()?,
            parse::hex_u16(self.attrs.get("device")?).ok()?,
        ))
    }

    /// USB vendor and product ids, when both parse.
    pub fn usb_id(&self) -> Option<(u16, u16)> {
        Some((
            parse::hex_u16(self.attrs.get("idVendor")?).ok()?,
            parse::hex_u16(self.attrs.get("idProduct")?).ok()?,
        ))
    }

    /// Why this device's hexadecimal id attributes `names` cannot be told, as
    /// evidence (`/sys/bus/pci/devices/0000:00:16.4/device: permission denied`):
    /// one could not be read, or does not read as an id. `None` when each is known,
    /// or simply not there (which is knowledge: the device has no such id).
    pub fn ids_unknown(&self, bus: &str, names: &[&str]) -> Option<String> {
        let why: Vec<String> = names
            .iter()
            .filter_map(|n| {
                let reason = match (self.unreadable.get(*n), self.attrs.get(*n)) {
                    (Some(r), _) => r.clone(),
                    (None, Some(v)) if !is_hex(v) => {
                        format!("not an id ({:?})", v.chars().take(16).collect::<String>())
                    }
                    _ => return None,
                };
                Some(format!(
                    "/sys/bus/{bus}/devices/{}/{n}: {reason}",
                    self.name
                ))
            })
            .collect();
        (!why.is_empty()).then(|| why.join("; "))
    }

    /// The ACPI hardware id of a device named `HID:NN` (`MSHW0084:00` -> `MSHW0084`),
    /// also as the I2C name `i2c-INT33BE:00`.
    pub fn acpi_hid(&self) -> Option<&str> {
        let n = self.name.strip_prefix("i2c-").unwrap_or(&self.name);
        let (hid, inst) = n.split_once(':')?;
        (inst.len() == 2 && inst.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hid)
    }
}

/// Whether a sysfs id attribute reads as a hexadecimal number (`0x8086`, `045e`,
/// a class `0x030200`).
fn is_hex(v: &str) -> bool {
    let t = v.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    !t.is_empty() && t.len() <= 8 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Network interfaces and their parent devices (virtual ones have none).
pub fn net(root: &Root) -> Fact<Vec<NetInterface>> {
    list_sorted(root, "sys/class/net").map(|names| {
        names
            .into_iter()
            .map(|n| NetInterface {
                parent: root.canonical(&format!("sys/class/net/{n}/device")).ok(),
                name: n,
            })
            .collect()
    })
}
