//! The discrete GPU in the base and its hot-plug driver.

use super::ctx::{Base, Ctx, Has, Look};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "dgpu",
    title: "Discrete GPU",
    checks: &[
        CheckDef {
            id: "dgpu.present",
            title: "dGPU on the PCI bus",
            verifies: "With the base attached, the NVIDIA GPU (vendor 10de, class 03) is on the PCI bus; required on the 15\" (10de:1c20), optional on the 13\" (the i5 has none, the i7 has 10de:1c8d).",
            rationale: "The dGPU sits in the base; a missing one on the 15\" means a PCI enumeration or hot-plug failure.",
            fix: "Detach and reattach the base, or power off completely; if it stays missing, check `journalctl -k -b | grep -i -e pciehp -e 02:00`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "Every 15\" has the GTX 1060 10de:1c20 at 02:00.0 in the base; the 13\" i5 has no dGPU, the 13\" i7 a 10de:1c8d",
                "§0, §6 PCI, §7; hw-probe 79D657BBD855, 098A00936EA6, 44CB94E9B7BC (15\"), 5B3E4C5AAEC5, DAD0271D40B8 (13\" i5), 1987F55FAE3C (13\" i7)",
            )],
            proven_by: "nothing later proves it (the PCI function is the last link); a missing dGPU fails only on a 15\" whose base is known to be attached",
            captured: "sysfs PCI devices of the tree; the base state comes from the DTX state (live only) or from the base's USB hubs and battery.",
            run: present,
        },
        CheckDef {
            id: "dgpu.hotplug",
            title: "dGPU hot-plug driver",
            verifies: "The dGPU hot-plug device (ACPI MSHW0153) is bound to surface_hotplug (CONFIG_SURFACE_HOTPLUG).",
            rationale: "It signals dGPU hot-plug events while the GPU sleeps; without it detach and reattach with a sleeping dGPU go unnoticed.",
            fix: "If the kernel lacks CONFIG_SURFACE_HOTPLUG use one that has it; if it is a module, load `surface_hotplug`.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "surface_hotplug binds ACPI MSHW0153 (it refuses devices without GPIOs); SB2 logs `surface_dgpu_hotplug` attach/detach",
                "§1.8 (K surface_hotplug.c), §6; linux-surface#286",
            )],
            proven_by: "nothing later proves it",
            captured: "sysfs shows MSHW0153:00 and its driver link. Whether MSHW0153 exists on the 13\" i5 is [U]: its absence is never a failure.",
            run: hotplug,
        },
    ],
};

/// What the kernel lacks for the dGPU's hot-plug, as a notice: an `absent` dGPU must
/// not hide it (rule 6).
fn kernel_lacks_hotplug(c: &Ctx, o: Outcome) -> Outcome {
    let d = &c.profile.dgpu;
    match c.kernel_has(&d.hotplug) {
        Has::No(e) => o.notice(format!(
            "this kernel has no {} ({e}): a dGPU would go without hot-plug signalling",
            d.hotplug.module
        )),
        _ => o,
    }
}

fn present(c: &Ctx) -> Outcome {
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base (with the dGPU) is detached").evidence(c.base.1.clone());
    }
    let vendor = c.profile.dgpu.vendor;
    let dev = c.find_by_ids("pci", &["vendor", "class"], |d| {
        d.pci_id().is_some_and(|(v, _)| v == vendor)
            && d.attrs
                .get("class")
                .is_some_and(|cl| cl.trim_start_matches("0x").starts_with("03"))
    });
    match dev {
        Look::Found(d) => {
            let drv = d.driver.as_deref().unwrap_or("no driver bound");
            let id = d
                .pci_id()
                .map(|(v, p)| format!("{v:04x}:{p:04x}"))
                .unwrap_or_default();
            Outcome::ok(format!("{} {id} ({drv})", d.name))
                .evidence(format!("/sys/bus/pci/devices/{}", d.name))
        }
        Look::Missing(m) => {
            let ev = format!("{m}: no 10de display controller");
            match (c.has_dgpu_expected(), c.base.0) {
                (Some(true), Base::Attached) => {
                    Outcome::failed("the 15\" model's NVIDIA GPU is not on the PCI bus")
                        .evidence(ev)
                        .evidence(c.base.1.clone())
                        .evidence(c.machine.evidence.clone())
                        .evidence_all(c.log_lines(&["0000:02:00.0"]))
                }
                (Some(true), _) => Outcome::unknown(
                    "no NVIDIA GPU on the PCI bus, and the base state is unknown: the base may be detached",
                )
                .evidence(ev)
                .evidence(format!("base state: {}", c.base.1)),
                (Some(false), Base::Attached) => kernel_lacks_hotplug(
                    c,
                    Outcome::absent("no dGPU (the 13\" i5 model has none)").evidence(ev),
                ),
                (Some(false), _) => kernel_lacks_hotplug(
                    c,
                    Outcome::absent("no dGPU: a 13\" i5 has none, or the base is detached")
                        .evidence(ev)
                        .notice(format!(
                            "the base state is unknown ({}): a 13\" i7's dGPU (10de:1c8d) would be missing too if the base is detached",
                            c.base.1
                        )),
                ),
                (None, _) => Outcome::unknown(
                    "no dGPU on the PCI bus, and the size is unknown (the 15\" always has one, the 13\" i5 none)",
                )
                .evidence(ev)
                .evidence(c.machine.evidence.clone()),
            }
        }
        Look::Unknown(u) => {
            Outcome::unknown("cannot tell whether an NVIDIA GPU is on the PCI bus").evidence(u)
        }
    }
}

fn hotplug(c: &Ctx) -> Outcome {
    let d = &c.profile.dgpu;
    match c.by_hid("platform", d.hotplug_hid) {
        Look::Missing(m) => kernel_lacks_hotplug(
            c,
            Outcome::absent(format!(
                "no {} device: not on this model, or not present",
                d.hotplug_hid
            ))
            .evidence(m),
        ),
        dev => c.link_bound("platform", dev, &d.hotplug, "dGPU hot-plug"),
    }
}
