//! The running kernel: identity, linux-surface patches, config, module tree, NixOS
//! generations, taint.

use super::ctx::{Ctx, slash, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::Fact;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "kernel",
    title: "Kernel",
    checks: &[
        CheckDef {
            id: "kernel.release",
            title: "Kernel release",
            verifies: "The running kernel's release (`uname -r`) can be read.",
            rationale: "Every other kernel check looks up the modules and config of this release.",
            fix: "Make /proc/sys/kernel/osrelease readable (is /proc mounted?).",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "The release is /proc/sys/kernel/osrelease (`uname -r`); module trees are per release",
                "§2 (how a build identifies itself), §3",
            )],
            proven_by: "nothing later proves it (it never fails: unreadable is unknown)",
            captured: "the tree's proc/sys/kernel/osrelease as copied.",
            run: release,
        },
        CheckDef {
            id: "kernel.surface-patches",
            title: "linux-surface patch set",
            verifies: "The kernel carries the linux-surface patches: config options or modules only the patches add (CONFIG_HID_IPTS, ipts.ko, ...), or a `surface` release suffix. NixOS builds have no suffix, so the config and module tree decide.",
            rationale: "The Surface Book 2 touchscreen and pen need the IPTS driver, which only the linux-surface patches provide; stock kernels also lack the camera and Wi-Fi fixes.",
            fix: "Boot a linux-surface kernel: on Debian/Ubuntu/Arch/Fedora install it from the linux-surface repository; on NixOS import nixos-hardware's `microsoft-surface-common` module, rebuild and reboot.",
            requires: &["kernel.release"],
            basis: &[
                fact(
                    Tag::Verified,
                    "HID_IPTS, HID_ITHC, HID_SURFACE, SURFACE_BOOK1_DGPU_SWITCH, RTC_DRV_SURFACE and modules ipts/ithc/hid-surface exist only in the linux-surface patches; stock kernels log no IPTS lines and drive no touchscreen",
                    "§2 (LS patches/6.19), §7; hw-probe 098A00936EA6, 44CB94E9B7BC, DAD0271D40B8 (stock)",
                ),
                fact(
                    Tag::Verified,
                    "Every linux-surface kernel read logs `DMAR: Passthrough IOMMU for IPTS`, no stock one does",
                    "§7; records note 2",
                ),
            ],
            proven_by: "a bound IPTS driver (touch.ipts-bound) proves the patches; patch markers come from ctx.surface_patches",
            captured: "config.gz, the module tree and the release of the tree; the DMAR lines only with --dmesg. `No` needs a readable config or module tree.",
            run: patches,
        },
        CheckDef {
            id: "kernel.config",
            title: "Kernel config",
            verifies: "The running kernel's config is readable from /proc/config.gz or /boot/config-<release>.",
            rationale: "Without the config the checks cannot tell a driver missing from the kernel from a driver not loaded.",
            fix: "Build with CONFIG_IKCONFIG_PROC=y (NixOS does by default), or install the kernel's config as /boot/config-<release>.",
            requires: &["kernel.release"],
            basis: &[fact(
                Tag::Verified,
                "NixOS kernels have /proc/config.gz built in (IKCONFIG_PROC); other distributions install /boot/config-<release>",
                "§3 (nixpkgs common-config.nix)",
            )],
            proven_by: "nothing later proves it (it never fails: missing is unknown, and checks fall back to the module tree)",
            captured: "the tree's proc/config.gz or boot/config-<release>.",
            run: config,
        },
        CheckDef {
            id: "kernel.modules",
            title: "Modules of the running kernel",
            verifies: "The module tree of the running release exists (/lib/modules/<release>, or on NixOS /run/booted-system/kernel-modules/lib/modules/<release>) with modules.dep.",
            rationale: "When a kernel update removed the running kernel's modules, no driver that is a module can load until reboot.",
            fix: "Reboot into the installed kernel, or reinstall the modules package of the running kernel.",
            requires: &["kernel.release"],
            basis: &[fact(
                Tag::Verified,
                "The running kernel's modules are in /lib/modules/<release>, on NixOS /run/booted-system/kernel-modules/lib/modules/<release>",
                "§3 (nixpkgs kmod module-dir.patch, systemd kmod-static-nodes)",
            )],
            proven_by: "a module of this release loaded (/proc/modules) proves the tree existed at boot, not that it exists now",
            captured: "the tree's module directories; a copied tree may leave them out (then the failure is the copy's).",
            run: modules,
        },
        CheckDef {
            id: "kernel.nixos-generation",
            title: "NixOS boot generation",
            verifies: "On NixOS, the booted generation's kernel, modules and initrd are those of the current and the default (next boot) generation.",
            rationale: "After `nixos-rebuild switch` or `boot` with a new kernel, the running kernel is not the one configured: checks describe the old kernel until reboot.",
            fix: "Reboot to run the configured kernel.",
            requires: &["kernel.release"],
            basis: &[fact(
                Tag::Verified,
                "A reboot is pending when /run/booted-system/{kernel,kernel-modules,initrd} differ from /nix/var/nix/profiles/system or /run/current-system",
                "§3 (nixpkgs auto-upgrade.nix allowReboot)",
            )],
            proven_by: "nothing later proves it",
            captured: "the generation links of the tree (they are symlinks into /nix/store and resolve only if the store was copied).",
            run: nixos_generation,
        },
        CheckDef {
            id: "kernel.taint",
            title: "Kernel taint",
            verifies: "The kernel has not oopsed or hit a machine check since boot (taint flags D and M).",
            rationale: "After an oops, drivers may be half-initialized and any verdict about them is suspect.",
            fix: "Read the oops with `journalctl -k -b | grep -B5 -A30 'Oops\\|BUG'` and report it with the linux-surface issue template.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "Taint bits D (7, oops) and M (4, machine check) of /proc/sys/kernel/tainted",
                "K Documentation/admin-guide/tainted-kernels.rst",
            )],
            proven_by: "nothing later proves it",
            captured: "the tree's proc/sys/kernel/tainted as copied.",
            run: taint,
        },
    ],
};

fn release(c: &Ctx) -> Outcome {
    match &c.facts.kernel.release {
        Fact::Ok(r) => {
            Outcome::ok(format!("running {r}")).evidence(format!("/proc/sys/kernel/osrelease: {r}"))
        }
        f => Outcome::unknown("cannot read the kernel release").evidence(why(f)),
    }
}

fn patches(c: &Ctx) -> Outcome {
    match c.surface_patches() {
        (Some(true), ev) => Outcome::ok("linux-surface patches detected").evidence_all(ev),
        (Some(false), ev) => Outcome::failed(
            "stock kernel: no linux-surface patches, so no IPTS touch and pen driver",
        )
        .evidence_all(ev),
        (None, ev) => Outcome::unknown(
            "cannot tell whether the kernel has the linux-surface patches: neither its config nor its module tree is readable",
        )
        .evidence_all(ev),
    }
}

fn config(c: &Ctx) -> Outcome {
    match &c.facts.config {
        Fact::Ok(cfg) => Outcome::ok(format!("{} options from {}", cfg.options.len(), cfg.source))
            .evidence(cfg.source.clone()),
        Fact::Absent { path } => Outcome::unknown("the kernel config is not available")
            .evidence(format!("{path}: not found")),
        f => {
            let path = f.failure().map(|(p, _)| slash(p)).unwrap_or_default();
            Outcome::unknown("the kernel config cannot be read")
                .evidence(why(f))
                .hint(format!(
                    "{path} exists but could not be read or decoded; the other checks fall back to the module tree and the loaded modules."
                ))
        }
    }
}

fn modules(c: &Ctx) -> Outcome {
    match &c.facts.module_tree {
        Fact::Ok(t) => match &t.available {
            Fact::Ok(a) => Outcome::ok(format!("{} modules in {}", a.len(), t.dir))
                .evidence(format!("{}/modules.dep", t.dir)),
            f => {
                Outcome::unknown(format!("modules.dep in {} is unreadable", t.dir)).evidence(why(f))
            }
        },
        Fact::Absent { path } => {
            let release = c.facts.kernel.release.ok().cloned().unwrap_or_default();
            Outcome::failed(format!(
                "no module tree for the running kernel {release}: its modules were removed or never installed"
            ))
            .evidence(format!("{path}: not found"))
        }
        f => Outcome::unknown("cannot read the module tree").evidence(why(f)),
    }
}

fn nixos_generation(c: &Ctx) -> Outcome {
    let Some(nix) = &c.facts.nixos else {
        return Outcome::absent("not NixOS");
    };
    let booted = match &nix.booted {
        Fact::Ok(g) => g,
        f => return Outcome::unknown("cannot resolve /run/booted-system").evidence(why(f)),
    };
    let mut ev = vec![format!("/run/booted-system -> {}", booted.toplevel)];
    let release = c.facts.kernel.release.ok();
    if let Some(r) = release
        && !booted.module_releases.is_empty()
        && !booted.module_releases.iter().any(|m| m == r)
    {
        return Outcome::failed(format!(
                "the booted generation has modules for {} but the kernel is {r}",
                booted.module_releases.join(", ")
            ))
            .evidence_all(ev)
            .hint("The running kernel does not belong to the booted generation: reboot, and check the boot loader entry.");
    }
    let mut pending = Vec::new();
    for (name, g) in [
        ("/run/current-system", &nix.current),
        ("/nix/var/nix/profiles/system", &nix.profile),
    ] {
        match g {
            Fact::Ok(g) => {
                ev.push(format!("{name} -> {}", g.toplevel));
                for (part, a, b) in [
                    ("kernel", &booted.kernel, &g.kernel),
                    ("kernel-modules", &booted.kernel_modules, &g.kernel_modules),
                    ("initrd", &booted.initrd, &g.initrd),
                ] {
                    if a != b {
                        pending.push(format!(
                            "{name}/{part} -> {} differs from /run/booted-system/{part} -> {}",
                            b.as_deref().unwrap_or("(none)"),
                            a.as_deref().unwrap_or("(none)")
                        ));
                    }
                }
            }
            f => ev.push(why(f)),
        }
    }
    if pending.is_empty() {
        Outcome::ok("the booted generation's kernel is the configured one").evidence_all(ev)
    } else {
        Outcome::degraded(
            "reboot pending: a newer generation has another kernel, modules or initrd",
        )
        .evidence_all(pending)
        .evidence_all(ev)
    }
}

fn taint(c: &Ctx) -> Outcome {
    // Bits of /proc/sys/kernel/tainted (Documentation/admin-guide/tainted-kernels.rst).
    const FLAGS: &[(u32, char, &str)] = &[
        (0, 'P', "proprietary module"),
        (1, 'F', "module force-loaded"),
        (4, 'M', "machine check"),
        (7, 'D', "kernel oops"),
        (9, 'W', "kernel warning"),
        (10, 'C', "staging driver"),
        (12, 'O', "out-of-tree module"),
        (13, 'E', "unsigned module"),
    ];
    let t = match &c.facts.kernel.tainted {
        Fact::Ok(t) => *t,
        f => return Outcome::unknown("cannot read the taint flags").evidence(why(f)),
    };
    let ev = format!("{}: {t}", slash("proc/sys/kernel/tainted"));
    let set: Vec<String> = FLAGS
        .iter()
        .filter(|(b, _, _)| t & (1u64 << b) != 0)
        .map(|(_, ch, what)| format!("{ch} ({what})"))
        .collect();
    if t & ((1 << 7) | (1 << 4)) != 0 {
        Outcome::degraded(format!("the kernel is tainted: {}", set.join(", "))).evidence(ev)
    } else if t == 0 {
        Outcome::ok("not tainted").evidence(ev)
    } else if set.is_empty() {
        Outcome::ok(format!("tainted ({t:#x}), no oops or machine check")).evidence(ev)
    } else {
        Outcome::ok(format!(
            "tainted: {} (no oops or machine check)",
            set.join(", ")
        ))
        .evidence(ev)
    }
}
