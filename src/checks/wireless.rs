//! Wi-Fi (Marvell 88W8897 on PCIe) and Bluetooth (its USB function).

use super::ctx::{Ctx, Look};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::profiles::Driver;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "wireless",
    title: "Wi-Fi and Bluetooth",
    checks: &[
        CheckDef {
            id: "wireless.wifi",
            title: "Wi-Fi",
            verifies: "The Marvell 88W8897 (PCI 11ab:2b38) is bound to mwifiex_pcie.",
            rationale: "The Surface Book 2's only built-in network adapter.",
            fix: "Enable CONFIG_MWIFIEX_PCIE and load `mwifiex_pcie`; read `journalctl -k -b | grep mwifiex`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: wifi,
        },
        CheckDef {
            id: "wireless.wifi-firmware",
            title: "Wi-Fi firmware",
            verifies: "`mrvl/pcie8897_uapsta.bin` (possibly .zst/.xz) is in a firmware directory.",
            rationale: "mwifiex cannot start the card without it.",
            fix: "Install linux-firmware (Arch: linux-firmware-marvell; Debian: firmware-libertas; NixOS: `hardware.enableRedistributableFirmware = true;`).",
            requires: &["wireless.wifi"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: wifi_firmware,
        },
        CheckDef {
            id: "wireless.bluetooth",
            title: "Bluetooth",
            verifies: "The Marvell Bluetooth USB function (1286:204c) has an interface bound to btusb.",
            rationale: "Bluetooth devices (pen pairing, headsets) need it.",
            fix: "Enable CONFIG_BT_HCIBTUSB and load `btusb`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: bluetooth,
        },
    ],
};

fn wifi(c: &Ctx) -> Outcome {
    let w = &c.profile.wireless.wifi;
    let d = Driver {
        config: w.config,
        module: w.module,
        driver: w.driver,
    };
    match c.pci(w) {
        Look::Missing(m) => {
            Outcome::absent("no Marvell 88W8897 on the PCI bus (Wi-Fi disabled in UEFI?)")
                .evidence(format!("{m}: no 11ab:2b38"))
        }
        dev => c.link_bound("pci", dev, &d, "Wi-Fi"),
    }
}

fn wifi_firmware(c: &Ctx) -> Outcome {
    // A network interface on the card proves mwifiex loaded its firmware, wherever the
    // file came from (the initrd, a built-in blob).
    let w = &c.profile.wireless.wifi;
    if let (Look::Found(dev), Some(ifaces)) = (c.pci(w), c.facts.net.ok())
        && let Some(i) = ifaces
            .iter()
            .find(|i| dev.path.is_some() && i.parent == dev.path)
    {
        return Outcome::ok(format!(
            "firmware loaded: interface {} is on the card",
            i.name
        ))
        .evidence(format!("/sys/class/net/{}/device -> {}", i.name, dev.name));
    }
    let fw = &c.facts.firmware;
    match c
        .profile
        .wireless
        .wifi_firmware
        .iter()
        .find_map(|f| fw.files.get(*f).cloned().flatten())
    {
        Some(p) => Outcome::ok(format!("found at {p}")).evidence(p),
        None => Outcome::failed(
            "the Wi-Fi firmware mrvl/pcie8897_uapsta.bin is missing and the card has no network interface",
        )
        .evidence(format!("searched: {}", fw.search.join(", "))),
    }
}

fn bluetooth(c: &Ctx) -> Outcome {
    let (v, p) = c.profile.wireless.bt_usb;
    let bt = &c.profile.wireless.bt;
    let dev = c.find_dev("usb", |d| d.usb_id() == Some((v, p)));
    let d = match dev {
        Look::Found(d) => d,
        Look::Missing(m) => {
            return Outcome::absent("no Marvell Bluetooth function on USB (disabled in UEFI?)")
                .evidence(format!("{m}: no {v:04x}:{p:04x}"));
        }
        Look::Unknown(u) => return Outcome::unknown("cannot list USB devices").evidence(u),
    };
    let prefix = format!("{}:", d.name);
    let iface = c.find_dev("usb", |x| {
        x.name.starts_with(&prefix) && x.driver.as_deref() == Some(bt.driver)
    });
    match iface {
        Look::Found(i) => Outcome::ok(format!("{} bound to {}", i.name, bt.driver)).evidence(
            format!("/sys/bus/usb/devices/{}/driver -> {}", i.name, bt.driver),
        ),
        _ => {
            let first = c.find_dev("usb", |x| x.name.starts_with(&prefix));
            match first {
                Look::Found(i) => c.unbound("usb", i, bt, "Bluetooth"),
                _ => Outcome::failed(format!("{} has no USB interfaces", d.name)),
            }
        }
    }
}
