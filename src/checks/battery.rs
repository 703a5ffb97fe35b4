//! Batteries and AC: Surface ACPI Notify (SAN) -> BAT1 (clipboard), BAT2 (base),
//! ADP1, with sane values.

use std::collections::BTreeMap;

use super::ctx::{Base, Ctx, Look};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::facts::Fact;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "battery",
    title: "Batteries and AC",
    checks: &[
        CheckDef {
            id: "battery.san",
            title: "Surface ACPI Notify",
            verifies: "The Surface ACPI Notify device (MSHW0091) is bound to surface_acpi_notify.",
            rationale: "SAN relays the firmware's battery and AC requests to the embedded controller; without it the batteries report defaults (critical, discharging) or vanish.",
            fix: "Enable CONFIG_SURFACE_ACPI_NOTIFY and load `surface_acpi_notify`; it waits for the Surface Aggregator (see detach.ssam).",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: san,
        },
        CheckDef {
            id: "battery.clipboard",
            title: "Clipboard battery (BAT1)",
            verifies: "BAT1 exists and reports plausible values: present, a known status, capacity 0-100, health above 50 % where reported.",
            rationale: "The clipboard battery powers the tablet part; wrong values make the desktop hibernate or show nonsense.",
            fix: "Check that SAN is bound (battery.san) and CONFIG_ACPI_BATTERY is enabled; then `cat /sys/class/power_supply/BAT1/uevent`.",
            requires: &["battery.san"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: clipboard,
        },
        CheckDef {
            id: "battery.base",
            title: "Base battery (BAT2)",
            verifies: "With the base attached, BAT2 exists and reports plausible values.",
            rationale: "The base battery is the larger one; it disappears on detach, which is normal.",
            fix: "Check that SAN is bound (battery.san); reattach the base firmly; then `cat /sys/class/power_supply/BAT2/uevent`.",
            requires: &["battery.san"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: base,
        },
        CheckDef {
            id: "battery.adapter",
            title: "AC adapter (ADP1)",
            verifies: "ADP1 exists and reports whether it is online.",
            rationale: "Power management and the desktop rely on the AC state.",
            fix: "Enable CONFIG_ACPI_AC; check that SAN is bound (battery.san).",
            requires: &["battery.san"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: adapter,
        },
    ],
};

fn san(c: &Ctx) -> Outcome {
    let b = &c.profile.battery;
    super::detach::aggregator_client(
        c,
        b.san_hid,
        &b.san,
        "SAN",
        "batteries report defaults",
        "Fix the Surface Aggregator first (see detach.ssam): load pinctrl_sunrisepoint, intel_lpss_pci and 8250_dw before surface_aggregator (in the initrd), or `echo serial0-0 > /sys/bus/serial/drivers_probe`.",
    )
}

/// Judges one battery's values.
fn judge(name: &str, props: &BTreeMap<String, String>) -> Outcome {
    let path = format!("/sys/class/power_supply/{name}/uevent");
    if props.get("present").is_some_and(|p| p == "0") {
        return Outcome::failed(format!("{name} reports present=0"))
            .evidence(format!("{path}: PRESENT=0"));
    }
    let status = props.get("status").map(String::as_str);
    const STATUSES: &[&str] = &["Charging", "Discharging", "Not charging", "Full", "Unknown"];
    let cap = props.get("capacity").and_then(|v| v.parse::<i64>().ok());
    let mut ev = vec![path.clone()];
    let Some(cap) = cap else {
        return Outcome::unknown(format!("{name} has no readable capacity")).evidence_all(ev);
    };
    if !(0..=100).contains(&cap) {
        return Outcome::degraded(format!("{name} reports an impossible capacity of {cap} %"))
            .evidence_all(ev)
            .hint("The firmware returns garbage: check that SAN is bound and reboot; if it persists, report it with `surface-check capture`.");
    }
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Outcome::degraded(format!("{name} reports an unknown status {s:?}"))
            .evidence_all(ev);
    }
    let pair = |full: &str, design: &str| {
        Some((
            props.get(full)?.parse::<f64>().ok()?,
            props.get(design)?.parse::<f64>().ok()?,
        ))
    };
    let health = pair("energy_full", "energy_full_design")
        .or_else(|| pair("charge_full", "charge_full_design"))
        .filter(|(_, d)| *d > 0.0)
        .map(|(f, d)| f / d * 100.0);
    let cycles = props.get("cycle_count").and_then(|v| v.parse::<u64>().ok());
    let mut summary = format!("{name}: {cap} %, {}", status.unwrap_or("status unknown"));
    if let Some(h) = health {
        summary.push_str(&format!(", health {h:.0} %"));
    }
    if let Some(n) = cycles.filter(|n| *n > 0) {
        summary.push_str(&format!(", {n} cycles"));
    }
    if let Some(h) = health.filter(|h| *h < 50.0) {
        ev.push(format!("energy_full/energy_full_design = {h:.0} %"));
        return Outcome::degraded(format!("{summary}: worn below half its design capacity"))
            .evidence_all(ev)
            .hint("The battery itself is worn; only a replacement restores its capacity.");
    }
    Outcome::ok(summary).evidence_all(ev)
}

fn battery(c: &Ctx, name: &str, what: &str) -> Outcome {
    match c.power_supply(name) {
        Look::Found(ps) => match &ps.props {
            Fact::Ok(p) => judge(name, p),
            f => Outcome::unknown(format!("{what} {name} cannot be read"))
                .evidence(super::ctx::why(f)),
        },
        Look::Missing(m) => {
            let b = &c.profile.battery;
            let o = Outcome::failed(format!("{what} {name} is missing"))
                .evidence(format!("{m}: not found"));
            match c.kernel_has(&b.battery) {
                super::ctx::Has::No(e) => o.evidence(e).hint("Enable CONFIG_ACPI_BATTERY."),
                _ => o,
            }
        }
        Look::Unknown(u) => Outcome::unknown("cannot list power supplies").evidence(u),
    }
}

fn clipboard(c: &Ctx) -> Outcome {
    battery(c, c.profile.battery.clipboard, "the clipboard battery")
}

fn base(c: &Ctx) -> Outcome {
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base is detached").evidence(c.base.1.clone());
    }
    battery(c, c.profile.battery.base, "the base battery")
}

fn adapter(c: &Ctx) -> Outcome {
    let b = &c.profile.battery;
    match c.power_supply(b.adapter) {
        Look::Found(ps) => match ps.props.ok().and_then(|p| p.get("online")) {
            Some(v) if v == "1" => Outcome::ok(format!("{} online", b.adapter)),
            Some(v) if v == "0" => Outcome::ok(format!("{} offline (on battery)", b.adapter)),
            Some(v) => Outcome::degraded(format!("{} reports online={v:?}", b.adapter)),
            None => Outcome::unknown(format!("{} has no readable online state", b.adapter))
                .evidence(super::ctx::why(&ps.props)),
        }
        .evidence(format!("/sys/class/power_supply/{}/uevent", b.adapter)),
        Look::Missing(m) => Outcome::failed(format!("the AC adapter {} is missing", b.adapter))
            .evidence(format!("{m}: not found")),
        Look::Unknown(u) => Outcome::unknown("cannot list power supplies").evidence(u),
    }
}
