//! Clipboard detach: pinctrl/UART -> Surface Aggregator -> DTX driver -> /dev/surface/dtx
//! -> surface-dtx-daemon.

use super::ctx::{Aggregator, Ctx, Has, Look, NodeSeen, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::Fact;
use crate::facts::dtx::{LatchError, LatchStatus};
use crate::profiles::Driver;
use crate::report::Status;

/// The `SAM firmware version` line: the aggregator probed in this boot (§1.1 [V]).
fn sam_probed(c: &Ctx) -> Vec<String> {
    c.log_lines(&["SAM firmware version"])
}

/// Kernel-log lines of the aggregator's probe going wrong (F1, #2219).
fn ssam_errors(c: &Ctx) -> Vec<String> {
    let mut v: Vec<String> = c
        .log_lines(&["serial0-0"])
        .into_iter()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            (l.contains("fail") || l.contains("error") || l.contains("defer"))
                && !l.contains("invalid start of frame")
        })
        .collect();
    for l in c.log_lines(&["surface_serial_hub"]) {
        let low = l.to_ascii_lowercase();
        if (low.contains("fail") || low.contains("-eprobe_defer") || low.contains("-einval"))
            && !v.contains(&l)
        {
            v.push(l);
        }
    }
    v
}

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "detach",
    title: "Clipboard detach (DTX)",
    checks: &[
        CheckDef {
            id: "detach.ssam",
            title: "Surface Aggregator",
            verifies: "The Surface Aggregator serial device (serial0-0, ACPI MSHW0084) is bound to surface_serial_hub.",
            rationale: "Batteries, detach, the platform profile and the lid all go through the aggregator. Its probe needs the Sunrise Point pinctrl and the LPSS UART; if they load later the probe fails and is not retried.",
            fix: "Make the pinctrl and LPSS UART drivers (pinctrl_sunrisepoint, intel_lpss_pci, 8250_dw) available before surface_aggregator: those that are modules go in the initrd (NixOS: `boot.initrd.kernelModules`). To recover now: `echo serial0-0 > /sys/bus/serial/drivers_probe`.",
            requires: &[],
            basis: &[
                fact(
                    Tag::Verified,
                    "The aggregator is ACPI MSHW0084, the serdev serial0-0 bound to surface_serial_hub, which logs `SAM firmware version: x.y.z` on probe",
                    "§1.1, §6, §7; hw-probe 79D657BBD855, 5B3E4C5AAEC5, 098A00936EA6, 44CB94E9B7BC",
                ),
                fact(
                    Tag::Verified,
                    "Its probe needs GPIOs and an IRQ from pinctrl and is not retried when they come late (F1)",
                    "§1.1, §4 F1; linux-surface#1271, #1319, #2219",
                ),
            ],
            proven_by: "`SAM firmware version` in this boot's kernel log; the DTX device (MSHW0133) or SAN (MSHW0091) bound; batteries BAT1/BAT2 present (records: they appear whenever the serial hub binds)",
            captured: "sysfs shows serial0-0 and its driver link; the kernel log only with --dmesg. Nothing is opened.",
            run: ssam,
        },
        CheckDef {
            id: "detach.dtx-driver",
            title: "DTX driver",
            verifies: "The DTX device (ACPI MSHW0133) is bound to surface_dtx_pltf (CONFIG_SURFACE_DTX).",
            rationale: "The DTX driver unlocks the clipboard latch and reports the base state.",
            fix: "If the kernel lacks CONFIG_SURFACE_DTX use one that has it; otherwise load `surface_dtx` (it waits for the Surface Aggregator).",
            requires: &["detach.ssam"],
            basis: &[fact(
                Tag::Verified,
                "The DTX device is platform MSHW0133:00, bound by surface_dtx; it appears whenever the serial hub binds",
                "§6, §7; hw-probe 79D657BBD855, 5B3E4C5AAEC5, 098A00936EA6, 44CB94E9B7BC",
            )],
            proven_by: "the input \"Microsoft Surface DTX Device Mode Switch\" under MSHW0133:00 (only surface_dtx creates it)",
            captured: "sysfs shows the platform device and its driver link; the DTX latch/timeout messages only with --dmesg.",
            run: dtx_driver,
        },
        CheckDef {
            id: "detach.dtx-node",
            title: "DTX device node",
            verifies: "On the live system /dev/surface/dtx is a character device; in a captured tree the surface_dtx misc device is registered in sysfs. What the device answers (base state and id, device mode, latch status) is reported; a latch hardware error is a notice.",
            rationale: "surface-dtx-daemon and `surface dtx` open this node; without it their units wait and time out.",
            fix: "Check that udev runs and that the surface_dtx misc device is registered (`ls /sys/class/misc/surface_dtx`); `udevadm trigger --subsystem-match=misc`.",
            requires: &["detach.dtx-driver"],
            basis: &[fact(
                Tag::Verified,
                "surface_dtx registers the misc device /dev/surface/dtx that surface-dtx-daemon opens",
                "§6 (uapi header comment; DTXD)",
            )],
            proven_by: "nothing later proves it (the daemon opens the node, but a running daemon may be waiting for it)",
            captured: "/dev may hold plain files or nothing: only sysfs (/sys/class/misc/surface_dtx) is judged, and the DTX state is never read (it is \"never opened\").",
            run: dtx_node,
        },
        CheckDef {
            id: "detach.daemon",
            title: "surface-dtx-daemon",
            verifies: "surface-dtx-daemon is installed and running.",
            rationale: "Without the daemon detach still works, but each request waits for the firmware timeout and nothing unmounts base drives or checks the dGPU first.",
            fix: "Install surface-dtx-daemon and `systemctl enable --now surface-dtx-daemon` (NixOS does not package it).",
            requires: &["detach.dtx-node"],
            basis: &[fact(
                Tag::Verified,
                "surface-dtx-daemon handles detach requests on /dev/surface/dtx; the kernel aborts detach while the dGPU is in use only through it",
                "§1.8 (surface_dtx.c header comment), §6; DTXD",
            )],
            proven_by: "nothing later proves it",
            captured: "unit files, *.wants links, cgroups and /proc/*/comm of the tree; a copied tree's processes are those at copy time.",
            run: daemon,
        },
    ],
};

fn ssam(c: &Ctx) -> Outcome {
    let o = ssam_link(c);
    if !o.status.is_problem() {
        return o;
    }
    // Downstream proof: the DTX and SAN drivers probe only once the aggregator is
    // up, and the ACPI batteries report real values only through SAN and the
    // aggregator (§1.2). (The SAM firmware line says the aggregator probed once in
    // this boot, not that it is bound now: it counts only where sysfs cannot tell.)
    let d = &c.profile.detach;
    let proof: Vec<String> = client_bound(c, d.dtx_hid, d.dtx.driver)
        .into_iter()
        .chain(client_bound(
            c,
            c.profile.battery.san_hid,
            c.profile.battery.san.driver,
        ))
        .chain(c.sane_battery())
        .collect();
    if proof.is_empty() {
        return o;
    }
    o.as_notice("the aggregator is up (proven by what depends on it)")
        .evidence_all(proof)
}

fn ssam_link(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let probed = sam_probed(c);
    match c.ssam_device() {
        Look::Found(x) if x.driver.as_deref() == Some(d.ssam.driver) => {
            Outcome::ok(format!("{} bound to {}", x.name, d.ssam.driver))
                .evidence(format!(
                    "/sys/bus/serial/devices/{}/driver -> {}",
                    x.name, d.ssam.driver
                ))
                .evidence_all(probed)
        }
        Look::Found(x) if x.driver.is_none() => ssam_unbound(c, x),
        dev @ Look::Found(_) => c.link_bound("serial", dev, &d.ssam, "Surface Aggregator"),
        Look::Missing(m) => ssam_missing(c, m),
        Look::Unknown(u) => {
            let downstream = client_bound(c, d.dtx_hid, d.dtx.driver).or_else(|| {
                client_bound(c, c.profile.battery.san_hid, c.profile.battery.san.driver)
            });
            if !probed.is_empty() || downstream.is_some() {
                Outcome::ok("the aggregator is up (proven by what depends on it)")
                    .evidence_all(probed)
                    .evidence_all(downstream)
                    .notice(format!("cannot list /sys/bus/serial: {u}"))
            } else {
                Outcome::unknown("cannot list the serial bus").evidence(u)
            }
        }
    }
}

/// Evidence that an aggregator client (`hid`) is bound to `driver`.
fn client_bound(c: &Ctx, hid: &str, driver: &str) -> Option<String> {
    match c.by_hid("platform", hid) {
        Look::Found(x) if x.driver.as_deref() == Some(driver) => Some(format!(
            "/sys/bus/platform/devices/{}/driver -> {driver}",
            x.name
        )),
        _ => None,
    }
}

/// The aggregator's serial device does not exist: walk down the chain (kernel driver,
/// ACPI device, UART function, its drivers) and name the first link a fact shows
/// missing; never a module that is built in or loaded.
fn ssam_missing(c: &Ctx, m: String) -> Outcome {
    let d = &c.profile.detach;
    if let Has::No(e) = c.kernel_has(&d.ssam) {
        let o = Outcome::failed(
            "the kernel has no Surface Aggregator driver (CONFIG_SURFACE_AGGREGATOR)",
        )
        .evidence(e)
        .evidence(format!("{m}: no {}", d.ssam_serdev));
        return match c.provide_fix(&d.ssam) {
            Some(h) => o.hint(h),
            None => o,
        };
    }
    let ev = format!("{m}: no {}", d.ssam_serdev);
    match c.by_hid("acpi", d.ssam_hid) {
        Look::Missing(a) => {
            return Outcome::failed(format!(
                "the Surface Aggregator is not found: no ACPI {} device and no serial device",
                d.ssam_hid
            ))
            .evidence(format!("{a}: no {}", d.ssam_hid))
            .evidence(ev)
            .hint(format!(
                "The cause cannot be told from here: the firmware lists no {} (every Surface Book 2 firmware read does). What would tell: `ls /sys/bus/acpi/devices | grep MSHW`, `journalctl -k -b | grep -i -e MSHW -e serial0`, and the ACPI tables (`acpidump`).",
                d.ssam_hid
            ));
        }
        Look::Found(_) | Look::Unknown(_) => {}
    }
    match c.pci_id(d.uart_pci) {
        Look::Missing(p) => {
            return Outcome::failed(
                "the aggregator's UART (PCI 8086:9d27, 00:1e.0) is not found, so serial0-0 does not exist",
            )
            .evidence(format!("{p}: no 8086:9d27"))
            .evidence(ev)
            .hint("The cause cannot be told from here: the UART function is not on the PCI bus. What would tell: `lspci -nn | grep 9d27` and `journalctl -k -b | grep 00:1e.0`.");
        }
        Look::Found(u) if u.driver.is_none() => {
            let o = Outcome::failed(format!(
                "the aggregator's UART {} has no driver, so serial0-0 does not exist",
                u.name
            ))
            .evidence(format!("/sys/bus/pci/devices/{}/driver: not found", u.name))
            .evidence(ev);
            return match c.provide_fix(&d.lpss_pci) {
                Some(h) => o.hint(h),
                None => o.hint(format!(
                    "{} is in this kernel, so its probe failed: read `journalctl -k -b | grep {}`.",
                    d.lpss_pci.module, u.name
                )),
            };
        }
        _ => {}
    }
    let fixes: Vec<String> = [&d.uart, &d.serdev]
        .into_iter()
        .filter_map(|x| c.provide_fix(x))
        .collect();
    let o = Outcome::failed(format!(
        "the aggregator's serial device {} does not exist",
        d.ssam_serdev
    ))
    .evidence(ev)
    .evidence_all(c.log_lines(&["serial serial0"]));
    if fixes.is_empty() {
        o.hint("The cause cannot be told from here: the UART function, 8250_dw and serdev are all in this kernel. What would tell: `journalctl -k -b | grep -i -e ttyS -e serial0 -e MSHW0084`.")
    } else {
        o.hint(fixes.join(" "))
    }
}

/// The aggregator's serial device exists but has no driver.
fn ssam_unbound(c: &Ctx, x: &crate::facts::BusDevice) -> Outcome {
    let d = &c.profile.detach;
    let o = c.unbound("serial", x, &d.ssam, "Surface Aggregator");
    if c.driver_registered("serial", d.ssam.driver) != Some(true) {
        return o;
    }
    let down = "batteries, detach and the platform profile are down";
    let recover = format!(
        "To recover now: `echo {} > /sys/bus/serial/drivers_probe`.",
        x.name
    );
    let errors = ssam_errors(c);
    // Modules of the UART chain that are modules here: only they can load late.
    let late_uart: Vec<&str> = [&d.lpss_pci, &d.uart]
        .into_iter()
        .filter(|m| c.config(m.config) != Some("y"))
        .map(|m| m.module)
        .collect();
    let mut o = Outcome::failed(format!(
        "the Surface Aggregator failed to probe {}: {down}",
        x.name
    ))
    .evidence_all(o.evidence)
    .evidence_all(errors.clone());
    match c.kernel_has(&d.pinctrl) {
        Has::Builtin(e) => {
            o.summary = format!(
                "the Surface Aggregator failed to probe {}; pinctrl is built in, so it is not the pinctrl load-order race (the LPSS UART or its IRQ not ready remains possible): {down}",
                x.name
            );
            let initrd = if late_uart.is_empty() {
                String::new()
            } else {
                format!(
                    "Put {} in the initrd (NixOS: `boot.initrd.kernelModules`) so the UART is up first; ",
                    late_uart.join(", ")
                )
            };
            o.evidence(e).hint(format!(
                "{initrd}read `journalctl -k -b | grep -i -e serial0 -e surface` (after 6.11 the probe fails with -EINVAL instead of retrying, linux-surface#2219). {recover}"
            ))
        }
        Has::Module(e) => {
            let mut initrd = vec![d.pinctrl.module];
            initrd.extend(late_uart.iter().copied());
            let o = o.evidence(format!("pinctrl is a module: {e}"));
            if errors.is_empty() {
                let mut o = o.hint(format!(
                    "The kernel log would tell: `journalctl -k -b | grep serial0-0` showing `failed to setup IRQ`, `-EINVAL` or `-EPROBE_DEFER` means it probed before pinctrl; then put {} in the initrd (NixOS: `boot.initrd.kernelModules`). {recover}",
                    initrd.join(", ")
                ));
                o.summary = format!(
                    "the Surface Aggregator failed to probe {}; pinctrl is a module, so it may have probed before pinctrl (no kernel log to tell): {down}",
                    x.name
                );
                o
            } else {
                let mut o = o.hint(format!(
                    "Put {} in the initrd (NixOS: `boot.initrd.kernelModules`) or build pinctrl in. {recover}",
                    initrd.join(", ")
                ));
                o.summary = format!(
                    "the Surface Aggregator probed {} before the pinctrl module was ready (kernel log): {down}",
                    x.name
                );
                o
            }
        }
        _ => o.hint(format!(
            "Cannot tell whether pinctrl is built in. The kernel log would tell the cause: `journalctl -k -b | grep -i serial0-0`. {recover}"
        )),
    }
}

/// Link "an aggregator client is bound" for a platform device (the platform
/// hub). Clients defer their probe until the aggregator is up, so while it is down
/// they stay unbound without a failure of their own: the aggregator is the cause,
/// named with what it takes down (`consequence`). A client device that does not
/// exist is "not found", and no rebind is suggested for it. `hint` is used when the
/// aggregator's own diagnosis gives none.
pub(super) fn aggregator_client(
    c: &Ctx,
    hid: &str,
    driver: &Driver,
    what: &str,
    consequence: &str,
    hint: &str,
) -> Outcome {
    let dev = c.by_hid("platform", hid);
    if let Look::Missing(m) = &dev {
        let acpi = match c.by_hid("acpi", hid) {
            Look::Found(a) => format!(
                "/sys/bus/acpi/devices/{} exists, but no platform device was created for it",
                a.name
            ),
            Look::Missing(a) => format!("{a}: no {hid} either"),
            Look::Unknown(u) => u,
        };
        return Outcome::failed(format!("{what} is not found: no {hid} device"))
            .evidence(format!("{m}: no {hid}"))
            .evidence(acpi)
            .hint(format!(
                "The cause cannot be told from here: the firmware lists no {hid} platform device. What would tell: `ls /sys/bus/acpi/devices /sys/bus/platform/devices | grep {hid}` and `journalctl -k -b | grep {hid}`."
            ));
    }
    let o = c.link_bound("platform", dev, driver, what);
    if o.status == Status::Ok {
        return o;
    }
    match c.aggregator() {
        Aggregator::Unbound(name, e) => {
            let agg = ssam(c);
            Outcome::failed(format!(
                "{what} is not bound because the Surface Aggregator ({name}) is not bound: {consequence}"
            ))
            .evidence_all(o.evidence)
            .evidence(e)
            .hint(format!(
                "Fix the Surface Aggregator first (see detach.ssam): {}",
                agg.hint.as_deref().unwrap_or(hint)
            ))
        }
        _ => o,
    }
}

/// DTX driver messages worth a notice: latch errors, timeouts, failures (F9).
fn dtx_messages(c: &Ctx) -> Vec<String> {
    c.log_lines(&["surface_dtx"])
        .into_iter()
        .chain(c.log_lines(&["MSHW0133"]))
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("latch")
                || l.contains("timeout")
                || l.contains("timed out")
                || l.contains("fail")
                || l.contains("error")
        })
        .collect()
}

fn dtx_driver(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let dev = c.by_hid("platform", d.dtx_hid);
    let mut o = match &dev {
        Look::Missing(m) => Outcome::failed(format!("DTX: no {} device", d.dtx_hid))
            .evidence(m.clone())
            .hint(format!(
                "The cause cannot be told from here: the aggregator is up but the firmware lists no {} platform device. What would tell: `ls /sys/bus/acpi/devices | grep {}` and `journalctl -k -b | grep -i dtx`.",
                d.dtx_hid, d.dtx_hid
            )),
        _ => c.link_bound("platform", dev, &d.dtx, "DTX"),
    };
    if o.status != Status::Ok {
        // Downstream proof: only surface_dtx creates the device-mode switch.
        let marker = format!("/{}:", d.dtx_hid);
        if let Look::Found(inputs) = c.inputs()
            && let Some(i) = inputs
                .iter()
                .find(|i| i.parent.as_deref().is_some_and(|p| p.contains(&marker)))
        {
            o = o.as_notice(format!(
                "the DTX switch input {} exists, so surface_dtx is bound",
                i.sysname
            ));
        }
    }
    for l in dtx_messages(c) {
        o = o.notice(l);
    }
    o
}

fn dtx_node(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let dtx = &c.facts.dtx;
    let node = format!("/{}", d.dtx_node);
    let misc = format!("/{}", d.dtx_misc);
    if !c.live() && !dtx.misc_registered {
        return Outcome::unknown(format!(
            "a captured tree without {misc}: cannot tell whether the DTX misc device registered"
        ))
        .evidence(format!("{misc}: not found"));
    }
    let sysfs = if dtx.misc_registered {
        format!("{misc} exists")
    } else {
        format!("{misc}: not found")
    };
    match c.node(&node, &dtx.node, &sysfs) {
        NodeSeen::Ok(e) => {
            let mut o = if c.live() {
                Outcome::ok(format!("{node} is a device node"))
            } else {
                Outcome::ok("the surface_dtx misc device is registered")
            }
            .evidence(e);
            // The state is read only from a live node; elsewhere it is "never opened",
            // which says nothing about the device.
            match &dtx.state {
                Fact::Ok(s) => {
                    o.summary
                        .push_str(&format!("; {}, {}, {}", s.base(), s.mode(), s.latch()));
                    o = o
                        .evidence(format!("{node}: {}", s.base_info()))
                        .evidence(format!("{node}: {}", s.mode()))
                        .evidence(format!(
                            "{node}: {} (status {:#06x})",
                            s.latch(),
                            s.latch_status
                        ));
                    if let LatchStatus::Error(e) = s.latch() {
                        o = o.notice(latch_notice(e, s.latch_status));
                    }
                }
                f if c.live() => o = o.evidence(format!("state: {}", why(f))),
                _ => {}
            }
            o
        }
        NodeSeen::Wrong(e) => Outcome::failed(format!("{node} is not a device node"))
            .evidence(e)
            .hint(format!(
                "Remove it and let udev recreate it: `rm {node} && udevadm trigger --subsystem-match=misc`."
            )),
        NodeSeen::Missing(e) => {
            let o = Outcome::failed(format!("{node} is missing")).evidence(e);
            if dtx.misc_registered {
                o.evidence(format!("{misc} exists: udev did not create the node"))
                    .hint("Check that systemd-udevd runs and `udevadm trigger --subsystem-match=misc`.")
            } else {
                o.evidence(format!("{misc}: not found")).hint(format!(
                    "surface_dtx is bound but registered no misc device: the cause cannot be told from here; read `journalctl -k -b | grep -i dtx` and reload it (`modprobe -r {m} && modprobe {m}`).",
                    m = d.dtx.module
                ))
            }
        }
        NodeSeen::Unknown(e) => Outcome::unknown(format!("cannot stat {node}")).evidence(e),
    }
}

// A latch hardware error (SDTX_ERR_FAILED_TO_OPEN/_REMAIN_OPEN/_CLOSE, category
// 0x2000, §1.3 [V]) is a notice, not a failure. GET_LATCH_STATUS returns "the current
// latch status or (presumably) the last error encountered when trying to open/close
// the latch" (the UAPI documentation's own hedge): the word may tell of an earlier
// detach that failed once, not of a latch that fails now, and that it persists is
// [I]. Only verified facts fail, so the person is told what the device reported and
// what to watch for.
fn latch_notice(e: LatchError, word: u16) -> String {
    let what = match e {
        LatchError::FailedToOpen => {
            "the latch failed to open (a detach could not release the clipboard)"
        }
        LatchError::FailedToRemainOpen => {
            "the latch failed to remain open (a detach was cut short)"
        }
        LatchError::FailedToClose => {
            "the latch failed to close (the clipboard may not be locked to the base: handle it with care)"
        }
    };
    format!(
        "the DTX device reports a latch hardware error ({word:#06x}): {what}. The status may be the last latch operation's, not the latch's state now; if detaching or re-attaching fails again, read `journalctl -k -b | grep -i dtx`: a latch that keeps failing is a hardware fault"
    )
}

// Rule 4 (degraded = the person loses something they would notice): without the
// daemon detach still works (the request is acknowledged when the firmware's
// timeout runs out), so the person loses a few seconds and the unmount/dGPU
// checks, not detach itself. NixOS does not even package the daemon. So a missing
// or merely disabled daemon is ok with a notice. A daemon that is enabled but not
// running is different: the person set it up to guard detach (base drives, dGPU in
// use) and it has died, which they would notice at the next detach: degraded.
fn daemon(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let s = &c.facts.services;
    if let Fact::Ok(u) = &s.running_units
        && u.contains(d.daemon_unit)
    {
        return Outcome::ok(format!("{} is running", d.daemon_unit)).evidence(format!(
            "/sys/fs/cgroup/system.slice/{}/cgroup.procs",
            d.daemon_unit
        ));
    }
    if let Fact::Ok(p) = &s.processes
        && p.contains_key(d.daemon_process)
    {
        return Outcome::ok("surface-dtx-daemon is running")
            .evidence(format!("/proc/*/comm: {}", d.daemon_process));
    }
    // Whether it runs can be told only from processes or cgroups: a captured tree
    // without them, or a /proc that hides PID 1, cannot say.
    let blind = matches!(
        (&s.processes, &s.running_units),
        (p, u) if p.ok().is_none() && u.ok().is_none()
    );
    let unit = s.units.get(d.daemon_unit);
    match unit {
        Some(u) if !u.files.is_empty() && !u.enabled_by.is_empty() && blind => {
            Outcome::unknown("surface-dtx-daemon is enabled; whether it runs cannot be seen")
                .evidence(why(&s.processes))
                .evidence(why(&s.running_units))
        }
        // Enabled but stopped loses what not installed loses (detach waits for the
        // firmware timeout, the handlers do not run) and no more: a notice as well, so
        // that removing the daemon never reads as an improvement.
        Some(u) if !u.files.is_empty() && !u.enabled_by.is_empty() => {
            Outcome::ok("detach works without surface-dtx-daemon running")
                .evidence_all(u.files.clone())
                .evidence_all(u.enabled_by.clone())
                .notice(format!(
                    "surface-dtx-daemon is enabled but not running: each detach waits for the firmware timeout and its handlers (unmounting base drives, checking the dGPU) do not run. Read why it stopped: `journalctl -b -u {}`.",
                    d.daemon_unit
                ))
        }
        Some(u) if !u.files.is_empty() => Outcome::ok("detach works without surface-dtx-daemon")
            .evidence_all(u.files.clone())
            .notice(format!(
                "surface-dtx-daemon is installed but not enabled: each detach waits for the firmware timeout. Enable it: `systemctl enable --now {}`.",
                d.daemon_unit
            )),
        _ => {
            let how = if c.facts.os.is_nixos {
                "NixOS does not package it; it is optional"
            } else {
                "install surface-dtx-daemon from the linux-surface repository"
            };
            Outcome::ok("detach works without surface-dtx-daemon")
                .evidence(format!(
                    "{} not found in the systemd unit directories",
                    d.daemon_unit
                ))
                .notice(format!(
                    "surface-dtx-daemon is not installed: each detach waits for the firmware timeout and nothing unmounts base drives first ({how})."
                ))
        }
    }
}
