//! Surface platform integration: the aggregator's platform hub and the platform
//! profile (performance modes).

use super::ctx::{Ctx, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::Fact;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "platform",
    title: "Platform profile",
    checks: &[
        CheckDef {
            id: "platform.hub",
            title: "Aggregator platform hub",
            verifies: "The Surface Book 2 platform hub (ACPI MSHW0107) is bound to surface_aggregator_platform_hub (CONFIG_SURFACE_AGGREGATOR_REGISTRY).",
            rationale: "The hub creates the aggregator client devices, here the platform-profile device.",
            fix: "If the kernel lacks CONFIG_SURFACE_AGGREGATOR_REGISTRY use one that has it; if it is a module, load `surface_aggregator_registry`; the hub binds once the aggregator is up.",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "ACPI MSHW0107 is the Surface Book 2 in the aggregator registry; surface_aggregator_platform_hub binds it and creates the platform-profile client 01:03:01:00:01",
                "§1.1 (K surface_aggregator_registry.c), §6",
            )],
            proven_by: "the platform-profile client 01:03:01:00:01 bound (only the hub creates it)",
            captured: "sysfs shows MSHW0107:00 and its driver link.",
            run: hub,
        },
        CheckDef {
            id: "platform.profile",
            title: "Platform profile",
            verifies: "The platform-profile client (01:03:01:00:01) is bound to surface_platform_profile and /sys/firmware/acpi/platform_profile answers.",
            rationale: "Power daemons switch between low-power and performance modes through it.",
            fix: "If the kernel lacks CONFIG_SURFACE_PLATFORM_PROFILE, use one that has it; if it is a module, load `surface_platform_profile`.",
            requires: &["platform.hub"],
            basis: &[fact(
                Tag::Verified,
                "The gen5 registry group of the SB2 holds only the platform-profile node ssam:01:03:01:00:01, bound by surface_platform_profile",
                "§1.1 (K surface_aggregator_registry.c)",
            )],
            proven_by: "/sys/firmware/acpi/platform_profile answering proves the driver bound",
            captured: "sysfs shows the client device and /sys/firmware/acpi/platform_profile as copied.",
            run: profile,
        },
    ],
};

fn hub(c: &Ctx) -> Outcome {
    let p = &c.profile.platform;
    super::detach::aggregator_client(
        c,
        p.hub_hid,
        &p.hub,
        "the platform hub",
        "no platform profile",
        "Fix the Surface Aggregator first (see detach.ssam); the hub binds once it is up.",
    )
}

fn profile(c: &Ctx) -> Outcome {
    let p = &c.profile.platform;
    let dev = c.find_dev("surface_aggregator", |d| d.name == p.profile_device);
    let bound = c.link_bound("surface_aggregator", dev, &p.profile, "platform profile");
    if bound.status != crate::report::Status::Ok {
        return bound;
    }
    match &c.facts.platform_profile.current {
        Fact::Ok(cur) => Outcome::ok(format!(
            "profile {cur} (choices: {})",
            c.facts
                .platform_profile
                .choices
                .ok()
                .cloned()
                .unwrap_or_default()
        ))
        .evidence("/sys/firmware/acpi/platform_profile")
        .evidence_all(bound.evidence),
        // There but unreadable (permissions, a hung read): no evidence either way.
        f @ Fact::Unknown { .. } => Outcome::unknown(
            "surface_platform_profile is bound but /sys/firmware/acpi/platform_profile cannot be read",
        )
        .evidence(why(f))
        .evidence_all(bound.evidence),
        f => {
            let o = Outcome::failed("surface_platform_profile is bound but /sys/firmware/acpi/platform_profile does not answer")
                .evidence(why(f));
            match c.provide_fix(&c.profile.platform.profile_core) {
                Some(h) => o.hint(format!("The ACPI platform-profile core provides that file: {h}")),
                None => o.hint("The platform-profile core is in this kernel: the cause cannot be told from here; `journalctl -k -b | grep -i platform_profile` would tell."),
            }
        }
    }
}
