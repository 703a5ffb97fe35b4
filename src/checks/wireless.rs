//! Wi-Fi (Marvell 88W8897 on PCIe) and Bluetooth (its USB function).

use super::ctx::{Ctx, Look};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
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
            fix: "If the kernel lacks CONFIG_MWIFIEX_PCIE use one that has it; if it is a module, load `mwifiex_pcie`; read `journalctl -k -b | grep mwifiex`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "Wi-Fi is the Marvell 88W8897, PCI 11ab:2b38 at 01:00.0, driven by mwifiex_pcie",
                "§1.10, §6 PCI, §7; hw-probe 79D657BBD855, 5B3E4C5AAEC5, DAD0271D40B8, 098A00936EA6, 44CB94E9B7BC (the reference's [U] on the id is superseded by the records)",
            )],
            proven_by: "a network interface on the card",
            captured: "sysfs shows the PCI function, driver link and net interfaces.",
            run: wifi,
        },
        CheckDef {
            id: "wireless.wifi-firmware",
            title: "Wi-Fi firmware",
            verifies: "`mrvl/pcie8897_uapsta.bin` (possibly .zst/.xz) is in a firmware directory.",
            rationale: "mwifiex cannot start the card without it.",
            fix: "Install linux-firmware (Arch: linux-firmware-marvell; Debian: firmware-libertas; NixOS: `hardware.enableRedistributableFirmware = true;`).",
            requires: &["wireless.wifi"],
            basis: &[fact(
                Tag::Verified,
                "mwifiex_pcie needs mrvl/pcie8897_uapsta.bin; without it it logs `Direct firmware load for mrvl/pcie8897_uapsta.bin failed` and unregisters",
                "§1.10, §7; hw-probe DAD0271D40B8, 44CB94E9B7BC",
            )],
            proven_by: "a network interface on the card; `WLAN FW is active` / `FW download over` in the kernel log",
            captured: "firmware files of the tree and its net interfaces; the firmware lines only with --dmesg.",
            run: wifi_firmware,
        },
        CheckDef {
            id: "wireless.bluetooth",
            title: "Bluetooth",
            verifies: "The Marvell Bluetooth USB function (1286:204c) has an interface bound to btusb.",
            rationale: "Bluetooth devices (pen pairing, headsets) need it.",
            fix: "If the kernel lacks CONFIG_BT_HCIBTUSB use one that has it; if it is a module, load `btusb`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "Bluetooth is the Marvell USB function 1286:204c bound to btusb; it is missing when the Wi-Fi firmware failed to load",
                "§6 USB, §7; hw-probe 79D657BBD855, 1987F55FAE3C, 5B3E4C5AAEC5; DAD0271D40B8 and 44CB94E9B7BC (absent with the firmware missing)",
            )],
            proven_by: "nothing later proves it",
            captured: "sysfs shows the USB device and its interface bindings.",
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
            let o = Outcome::absent(
                "no Marvell 88W8897 on the PCI bus: disabled in UEFI, or not present",
            )
            .evidence(format!("{m}: no 11ab:2b38"));
            match c.provide_fix(&d) {
                Some(h) => o.notice(format!(
                    "if it is turned on, this kernel cannot drive it: {h}"
                )),
                None => o,
            }
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
    let loaded: Vec<String> = c
        .log_lines(&["mwifiex_pcie", "WLAN FW is active"])
        .into_iter()
        .chain(c.log_lines(&["mwifiex_pcie", "FW download over"]))
        .collect();
    if !loaded.is_empty() {
        return Outcome::ok("firmware loaded in this boot (kernel log)").evidence_all(loaded);
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
        .evidence(format!("searched: {}", fw.search.join(", ")))
        .evidence_all(c.log_lines(&["pcie8897_uapsta.bin"])),
    }
}

fn bluetooth(c: &Ctx) -> Outcome {
    let (v, p) = c.profile.wireless.bt_usb;
    let bt = &c.profile.wireless.bt;
    let dev = c.usb_id((v, p));
    let d = match dev {
        Look::Found(d) => d,
        Look::Missing(m) => {
            let fw_failed = c.log_lines(&["pcie8897_uapsta.bin", "fail"]);
            let o = Outcome::absent(
                "no Marvell Bluetooth function on USB: disabled in UEFI, or the combo card did not come up",
            )
            .evidence(format!("{m}: no {v:04x}:{p:04x}"));
            return if fw_failed.is_empty() {
                o
            } else {
                o.evidence_all(fw_failed)
                    .notice("the Wi-Fi firmware failed to load in this boot; real machines then show no Bluetooth function either (install the firmware, see wireless.wifi-firmware)")
            };
        }
        Look::Unknown(u) => {
            return Outcome::unknown(format!(
                "cannot tell whether the Bluetooth function ({v:04x}:{p:04x}) is on USB"
            ))
            .evidence(u);
        }
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
                _ => Outcome::failed(format!("{} has no USB interfaces", d.name)).hint(
                    "The cause cannot be told from here: `journalctl -k -b | grep -i -e 1286 -e btusb` would tell.",
                ),
            }
        }
    }
}
