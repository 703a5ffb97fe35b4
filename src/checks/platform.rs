//! Surface platform integration: the aggregator's platform hub and the platform
//! profile (performance modes).

use super::ctx::{Ctx, why};
use super::{CheckDef, Outcome, SubsystemDef};
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
            fix: "Enable CONFIG_SURFACE_AGGREGATOR_REGISTRY and load `surface_aggregator_registry`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: hub,
        },
        CheckDef {
            id: "platform.profile",
            title: "Platform profile",
            verifies: "The platform-profile client (01:03:01:00:01) is bound to surface_platform_profile and /sys/firmware/acpi/platform_profile answers.",
            rationale: "Power daemons switch between low-power and performance modes through it.",
            fix: "Enable CONFIG_SURFACE_PLATFORM_PROFILE and load `surface_platform_profile`.",
            requires: &["platform.hub"],
            basis: &[],
            proven_by: "",
            captured: "",
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
            c.facts.platform_profile.choices.ok().cloned().unwrap_or_default()
        ))
        .evidence("/sys/firmware/acpi/platform_profile")
        .evidence_all(bound.evidence),
        f => Outcome::failed("surface_platform_profile is bound but /sys/firmware/acpi/platform_profile does not answer")
            .evidence(why(f))
            .hint("Load `platform_profile` (CONFIG_ACPI_PLATFORM_PROFILE)."),
    }
}
