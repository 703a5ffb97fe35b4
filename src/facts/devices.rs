//! Devices on the buses the profile cares about, with their bound drivers.

use std::collections::{BTreeMap, BTreeSet};

use super::{BusDevice, Fact, NetInterface, list_sorted, parse};
use crate::root::Root;

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
    for attr in attrs {
        if let Ok(v) = root.read_text(&format!("{dir}/{attr}")) {
            a.insert(attr.to_string(), v);
        }
    }
    let children = if bus == "hid" {
        root.list_dir(&format!("{dir}/hidraw"))
            .map(|mut v| {
                v.sort();
                v
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    BusDevice {
        path: root.canonical(dir).ok(),
        driver: root.link_name(&format!("{dir}/driver")).ok(),
        attrs: a,
        children,
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

    /// The ACPI hardware id of a device named `HID:NN` (`MSHW0084:00` -> `MSHW0084`),
    /// also as the I2C name `i2c-INT33BE:00`.
    pub fn acpi_hid(&self) -> Option<&str> {
        let n = self.name.strip_prefix("i2c-").unwrap_or(&self.name);
        let (hid, inst) = n.split_once(':')?;
        (inst.len() == 2 && inst.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hid)
    }
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
