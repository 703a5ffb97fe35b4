//! Batteries and AC: Surface ACPI Notify (SAN) -> BAT1 (clipboard), BAT2 (base),
//! ADP1, with sane values.

use std::collections::BTreeMap;

use super::ctx::{Aggregator, Base, Ctx, Has, Look, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
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
            fix: "Make sure the kernel provides surface_acpi_notify (CONFIG_SURFACE_ACPI_NOTIFY) and that it binds MSHW0091; it waits for the Surface Aggregator (see detach.ssam).",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "SB2 batteries and AC are ACPI devices whose opregion needs Surface ACPI Notify (MSHW0091, surface_acpi_notify); without it they return hard-coded defaults",
                "§1.2 (K surface_acpi_notify.c; jakeday/linux-surface#28)",
            )],
            proven_by: "a battery power supply (BAT1) with sane values proves the SAN/aggregator path",
            captured: "Devices and bindings are in sysfs and power supplies in /sys/class/power_supply, both kept by a captured tree; the SAN probe messages only in the kernel log (--dmesg).",
            run: san,
        },
        CheckDef {
            id: "battery.clipboard",
            title: "Clipboard battery (BAT1)",
            verifies: "BAT1 exists and reports plausible values: present, a known status, capacity 0-100, health above 50 % where reported.",
            rationale: "The clipboard battery powers the tablet part; wrong values make the desktop hibernate or show nonsense.",
            fix: "Check that SAN is bound (battery.san) and that the kernel provides the ACPI battery driver (CONFIG_ACPI_BATTERY); then `cat /sys/class/power_supply/BAT1/uevent`.",
            requires: &["battery.san"],
            basis: &[fact(
                Tag::Verified,
                "The clipboard battery is the ACPI battery BAT1 (`ACPI: battery: Slot [BAT1] (battery present)`)",
                "§1.2, §7; hw-probe 79D657BBD855, 5B3E4C5AAEC5",
            )],
            proven_by: "nothing later proves it: it is the last link",
            captured: "/sys/class/power_supply is kept by a captured tree; values are those of the capture time.",
            run: clipboard,
        },
        CheckDef {
            id: "battery.base",
            title: "Base battery (BAT2)",
            verifies: "With the base attached, BAT2 exists and reports plausible values.",
            rationale: "The base battery is the larger one; it disappears on detach, which is normal.",
            fix: "Check that SAN is bound (battery.san); reattach the base firmly; then `cat /sys/class/power_supply/BAT2/uevent`.",
            requires: &["battery.san"],
            basis: &[fact(
                Tag::Verified,
                "The base battery is the ACPI battery BAT2 (`Slot [BAT2]`); it goes with the base on detach",
                "§1.2, §7; hw-probe 79D657BBD855, 5B3E4C5AAEC5; linux-surface#1686",
            )],
            proven_by: "nothing later proves it: it is the last link",
            captured: "/sys/class/power_supply is kept by a captured tree; the base state comes from /dev/surface/dtx only on the live root, else from the base's USB hubs.",
            run: base,
        },
        CheckDef {
            id: "battery.adapter",
            title: "AC adapter (ADP1)",
            verifies: "ADP1 exists and reports whether it is online.",
            rationale: "Power management and the desktop rely on the AC state.",
            fix: "Check that the kernel provides the ACPI AC driver (CONFIG_ACPI_AC) and that SAN is bound (battery.san).",
            requires: &["battery.san"],
            basis: &[fact(
                Tag::Verified,
                "The AC adapter is the ACPI power supply ADP1",
                "§6 (power supplies ADP1, BAT1, BAT2); hw-probe 79D657BBD855, 5B3E4C5AAEC5",
            )],
            proven_by: "nothing later proves it: it is the last link",
            captured: "/sys/class/power_supply is kept by a captured tree.",
            run: adapter,
        },
    ],
};

fn san(c: &Ctx) -> Outcome {
    let o = san_link(c);
    // Downstream proof (rule 2): without SAN the ACPI batteries only return firmware
    // defaults (§1.2), so a battery with sane values proves SAN and the aggregator.
    if o.status.is_problem()
        && let Some(p) = c.sane_battery()
    {
        return o
            .as_notice("a battery reports sane values, so the SAN and aggregator path works")
            .evidence(p);
    }
    o
}

/// What a missing SAN costs, from the power supplies that exist: a consequence is
/// claimed only when a power supply shows it.
fn san_consequence(c: &Ctx) -> String {
    let b = &c.profile.battery;
    let present: Vec<&str> = [b.clipboard, b.base, b.adapter]
        .into_iter()
        .filter(|n| matches!(c.power_supply(n), Look::Found(_)))
        .collect();
    if present.is_empty() {
        format!(
            "no battery or AC power supply exists ({}, {}, {} not found)",
            b.clipboard, b.base, b.adapter
        )
    } else {
        format!(
            "{} exist but no battery reports sane values",
            present.join(", ")
        )
    }
}

fn san_link(c: &Ctx) -> Outcome {
    let b = &c.profile.battery;
    match c.by_hid("platform", b.san_hid) {
        Look::Unknown(u) => Outcome::unknown("cannot list /sys/bus/platform").evidence(u),
        Look::Missing(m) => {
            let consequence = san_consequence(c);
            let mut o = match c.by_hid("acpi", b.san_hid) {
                Look::Found(a) => Outcome::failed(format!(
                    "SAN: the ACPI device {} exists but no platform device {}:00 was created: {consequence}",
                    a.name, b.san_hid
                ))
                .evidence(format!("{m}: no {}:00", b.san_hid)),
                _ => Outcome::failed(format!(
                    "SAN: no {} device found (neither on the platform nor the ACPI bus): {consequence}",
                    b.san_hid
                ))
                .evidence(format!("{m}: no {}:00", b.san_hid))
                .evidence(format!("/sys/bus/acpi/devices: no {}:00", b.san_hid)),
            };
            o = o.evidence_all(c.log_lines(&[b.san_hid]));
            match c.kernel_has(&b.san) {
                Has::No(e) => {
                    o = o.evidence(e);
                    if let Some(h) = c.provide_fix(&b.san) {
                        o = o.hint(h);
                    }
                }
                _ => {
                    o = o.hint(format!(
                        "The cause is not shown: `ls /sys/bus/acpi/devices | grep MSHW` and `journalctl -k -b | grep -i -e {} -e surface_acpi_notify` would tell.",
                        b.san_hid
                    ))
                }
            }
            o
        }
        Look::Found(d) if d.driver.is_some() => {
            c.link_bound("platform", Look::Found(d), &b.san, "SAN")
        }
        Look::Found(d) => {
            let consequence = san_consequence(c);
            let path = format!("/sys/bus/platform/devices/{}/driver: not found", d.name);
            if let Has::No(_) = c.kernel_has(&b.san) {
                return c.unbound("platform", d, &b.san, "SAN").evidence(path);
            }
            match c.aggregator() {
                Aggregator::Unbound(name, e) => Outcome::failed(format!(
                    "SAN ({}) is not bound: it waits for the Surface Aggregator, whose device {name} is not bound: {consequence}",
                    d.name
                ))
                .evidence(path)
                .evidence(e)
                .hint(format!(
                    "Fix the Surface Aggregator first (see detach.ssam); to retry now: `echo {name} > /sys/bus/serial/drivers_probe`."
                )),
                Aggregator::NotFound(e) => Outcome::failed(format!(
                    "SAN ({}) is not bound, and the Surface Aggregator's serial device is not found: {consequence}",
                    d.name
                ))
                .evidence(path)
                .evidence(e)
                .hint("SAN waits for the Surface Aggregator, whose serial device does not exist: see detach.ssam."),
                Aggregator::Up | Aggregator::Unknown => {
                    let mut o = c.unbound("platform", d, &b.san, "SAN").evidence(path);
                    o.summary.push_str(&format!(": {consequence}"));
                    o.evidence_all(c.log_lines(&[d.name.as_str()]))
                }
            }
        }
    }
}

/// A health (full over design capacity) above this is no battery's: new packs
/// report a few percent above their design capacity, never half as much again.
const MAX_HEALTH: f64 = 150.0;

/// Judges one battery's values.
fn judge(name: &str, props: &BTreeMap<String, String>) -> Outcome {
    let path = format!("/sys/class/power_supply/{name}/uevent");
    if props.get("present").is_some_and(|p| p == "0") {
        return Outcome::failed(format!("{name} reports present=0"))
            .evidence(format!("{path}: PRESENT=0"));
    }
    let status = props.get("status").map(String::as_str);
    let cap = props
        .get("capacity")
        .and_then(|v| v.trim().parse::<i64>().ok());
    let mut ev = vec![path.clone()];
    let Some(cap) = cap else {
        if let Some(v) = props.get("capacity") {
            ev.push(format!("{path}: POWER_SUPPLY_CAPACITY={v}"));
        }
        return Outcome::unknown(format!("{name} has no readable capacity")).evidence_all(ev);
    };
    if !(0..=100).contains(&cap) {
        return Outcome::degraded(format!("{name} reports an impossible capacity of {cap} %"))
            .evidence_all(ev)
            .hint("The firmware returns garbage: check that SAN is bound and reboot; if it persists, report it with `surface-check capture`.");
    }
    if let Some(s) = status.filter(|s| !super::ctx::BATTERY_STATUSES.contains(s)) {
        return Outcome::degraded(format!("{name} reports an unknown status {s:?}"))
            .evidence_all(ev);
    }
    // Energy (uWh) or charge (uAh), full and design: a value that is not a finite,
    // non-negative number, or a health no battery has, is garbage from the firmware
    // or a capture. It shows nothing about the battery: unknown, with the value.
    let garbage = |what: String, values: Vec<String>| {
        Outcome::unknown(format!("{name} reports {what}: its values cannot be judged"))
            .evidence(path.clone())
            .evidence_all(values)
            .hint(format!("The firmware (or the capture) gave nonsense: check that SAN is bound, read `cat /sys/class/power_supply/{name}/uevent` again after a reboot, and if it persists report it with `surface-check capture`."))
    };
    let value = |k: &str| {
        let v = props.get(k)?;
        let shown = format!("{path}: POWER_SUPPLY_{}={v}", k.to_ascii_uppercase());
        Some(
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| (x, shown.clone()))
                .ok_or(shown),
        )
    };
    let pair = [
        ("energy_full", "energy_full_design"),
        ("charge_full", "charge_full_design"),
    ]
    .into_iter()
    .find_map(|(f, d)| Some((value(f)?, value(d)?)));
    let health = match pair {
        Some((Err(bad), other)) | Some((other, Err(bad))) => {
            let mut values = vec![bad];
            values.extend(other.err());
            return garbage(
                "an energy value that is not a number of zero or more".into(),
                values,
            );
        }
        // A design capacity of 0 is no reported health.
        Some((Ok((f, fs)), Ok((d, ds)))) if d > 0.0 => {
            let h = f / d * 100.0;
            if h > MAX_HEALTH {
                return garbage(
                    format!("a full capacity {h:.0} % of its design capacity"),
                    vec![fs, ds],
                );
            }
            Some(h)
        }
        _ => None,
    };
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
            f => Outcome::unknown(format!("{what} {name} cannot be read")).evidence(why(f)),
        },
        Look::Missing(m) => {
            let b = &c.profile.battery;
            let o = Outcome::failed(format!("{what} {name} not found"))
                .evidence(format!("{m}: not found"))
                .evidence_all(c.log_lines(&[name, "battery"]));
            match c.kernel_has(&b.battery) {
                Has::No(e) => {
                    let mut o = o.evidence(e);
                    o.summary
                        .push_str(": the kernel has no ACPI battery driver");
                    match c.provide_fix(&b.battery) {
                        Some(h) => o.hint(h),
                        None => o,
                    }
                }
                _ => o.hint(format!(
                    "The cause is not shown: `ls /sys/class/power_supply` and `journalctl -k -b | grep -i -e {name} -e battery` would tell."
                )),
            }
        }
        Look::Unknown(u) => Outcome::unknown("cannot list power supplies").evidence(u),
    }
}

fn clipboard(c: &Ctx) -> Outcome {
    battery(c, c.profile.battery.clipboard, "the clipboard battery")
}

fn base(c: &Ctx) -> Outcome {
    let name = c.profile.battery.base;
    if c.base.0 == Base::Detached {
        return Outcome::absent("the base is detached").evidence(c.base.1.clone());
    }
    let o = battery(c, name, "the base battery");
    // BAT2 gone or not present while the base state cannot be told: a detached base
    // (context, absent) and a lost battery look the same.
    let not_there = c.battery_gone(name);
    if not_there && c.base.0 == Base::Unknown {
        return Outcome::unknown(format!(
            "{name} is not there, and whether the base is attached cannot be told"
        ))
        .evidence_all(o.evidence)
        .evidence(c.base.1.clone())
        .hint("On the live machine /dev/surface/dtx (`surface dtx status`) or the base's USB hubs (`lsusb -d 045e:`) would tell.");
    }
    o
}

fn adapter(c: &Ctx) -> Outcome {
    let b = &c.profile.battery;
    match c.power_supply(b.adapter) {
        Look::Found(ps) => match ps.props.ok().and_then(|p| p.get("online")) {
            Some(v) if v == "1" => Outcome::ok(format!("{} online", b.adapter)),
            Some(v) if v == "0" => Outcome::ok(format!("{} offline (on battery)", b.adapter)),
            Some(v) => Outcome::degraded(format!("{} reports online={v:?}", b.adapter)),
            None => Outcome::unknown(format!("{} has no readable online state", b.adapter))
                .evidence(why(&ps.props)),
        }
        .evidence(format!("/sys/class/power_supply/{}/uevent", b.adapter)),
        Look::Missing(m) => {
            let o = Outcome::failed(format!("the AC adapter {} not found", b.adapter))
                .evidence(format!("{m}: not found"));
            match c.kernel_has(&b.ac) {
                Has::No(e) => {
                    let o = o.evidence(e);
                    match c.provide_fix(&b.ac) {
                        Some(h) => o.hint(h),
                        None => o,
                    }
                }
                _ => o.hint(format!(
                    "The cause is not shown: `ls /sys/class/power_supply` and `journalctl -k -b | grep -i -e {} -e \"ACPI: AC\"` would tell.",
                    b.adapter
                )),
            }
        }
        Look::Unknown(u) => Outcome::unknown("cannot list power supplies").evidence(u),
    }
}
