//! The discrete GPU in the base and its hot-plug driver.

use super::ctx::{Base, Ctx, Look};
use super::{CheckDef, Outcome, SubsystemDef};

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "dgpu",
    title: "Discrete GPU",
    checks: &[
        CheckDef {
            id: "dgpu.present",
            title: "dGPU on the PCI bus",
            verifies: "With the base attached, the NVIDIA GPU (vendor 10de, class 03) is on the PCI bus; required on the 15\", optional on the 13\" (the i5 model has none).",
            rationale: "The dGPU sits in the base; a missing one on the 15\" means a PCI enumeration or hot-plug failure.",
            fix: "Detach and reattach the base, or power off completely; if it stays missing, check `journalctl -k -b | grep -i -e pciehp -e 02:00`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: present,
        },
        CheckDef {
            id: "dgpu.hotplug",
            title: "dGPU hot-plug driver",
            verifies: "The dGPU hot-plug device (ACPI MSHW0153) is bound to surface_hotplug (CONFIG_SURFACE_HOTPLUG).",
            rationale: "It signals dGPU hot-plug events while the GPU sleeps; without it detach and reattach with a sleeping dGPU go unnoticed.",
            fix: "Enable CONFIG_SURFACE_HOTPLUG and load `surface_hotplug`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: hotplug,
        },
    ],
};

fn present(c: &Ctx) -> Outcome {
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base (with the dGPU) is detached").evidence(c.base.1.clone());
    }
    let vendor = c.profile.dgpu.vendor;
    let dev = c.find_dev("pci", |d| {
        d.pci_id().is_some_and(|(v, _)| v == vendor)
            && d.attrs
                .get("class")
                .is_some_and(|cl| cl.trim_start_matches("0x").starts_with("03"))
    });
    match dev {
        Look::Found(d) => {
            let drv = d.driver.as_deref().unwrap_or("no driver bound");
            Outcome::ok(format!("{} ({drv})", d.name))
                .evidence(format!("/sys/bus/pci/devices/{}", d.name))
        }
        Look::Missing(m) => match c.has_dgpu_expected() {
            Some(true) => Outcome::failed("the 15\" model's NVIDIA GPU is not on the PCI bus")
                .evidence(format!("{m}: no 10de display controller"))
                .evidence(c.machine.evidence.clone()),
            _ => Outcome::absent("no dGPU (the 13\" i5 model has none)")
                .evidence(format!("{m}: no 10de display controller")),
        },
        Look::Unknown(u) => Outcome::unknown("cannot list PCI devices").evidence(u),
    }
}

fn hotplug(c: &Ctx) -> Outcome {
    let d = &c.profile.dgpu;
    match c.by_hid("platform", d.hotplug_hid) {
        Look::Missing(m) => {
            Outcome::absent(format!("no {} device on this model", d.hotplug_hid)).evidence(m)
        }
        dev => c.link_bound("platform", dev, &d.hotplug, "dGPU hot-plug"),
    }
}
