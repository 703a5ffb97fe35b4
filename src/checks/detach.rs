//! Clipboard detach: pinctrl/UART -> Surface Aggregator -> DTX driver -> /dev/surface/dtx
//! -> surface-dtx-daemon.

use super::ctx::{Ctx, Has, Look, why};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::facts::Fact;
use crate::profiles::Driver;
use crate::report::Status;
use crate::root::NodeKind;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "detach",
    title: "Clipboard detach (DTX)",
    checks: &[
        CheckDef {
            id: "detach.ssam",
            title: "Surface Aggregator",
            verifies: "The Surface Aggregator serial device (serial0-0, ACPI MSHW0084) is bound to surface_serial_hub.",
            rationale: "Batteries, detach, the platform profile and the lid all go through the aggregator. Its probe needs the Sunrise Point pinctrl and the LPSS UART; if they load later the probe fails and is not retried.",
            fix: "Load pinctrl_sunrisepoint, intel_lpss, intel_lpss_pci and 8250_dw before surface_aggregator: put them in the initrd (NixOS: `boot.initrd.kernelModules`) or build them in. To recover now: `echo serial0-0 > /sys/bus/serial/drivers_probe`.",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: ssam,
        },
        CheckDef {
            id: "detach.dtx-driver",
            title: "DTX driver",
            verifies: "The DTX device (ACPI MSHW0133) is bound to surface_dtx_pltf (CONFIG_SURFACE_DTX).",
            rationale: "The DTX driver unlocks the clipboard latch and reports the base state.",
            fix: "Enable CONFIG_SURFACE_DTX and load `surface_dtx`; it waits for the Surface Aggregator.",
            requires: &["detach.ssam"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: dtx_driver,
        },
        CheckDef {
            id: "detach.dtx-node",
            title: "DTX device node",
            verifies: "/dev/surface/dtx exists as a character device.",
            rationale: "surface-dtx-daemon and `surface dtx` open this node; without it their units wait and time out.",
            fix: "Check that udev runs and that the surface_dtx misc device is registered (`ls /sys/class/misc/surface_dtx`).",
            requires: &["detach.dtx-driver"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: dtx_node,
        },
        CheckDef {
            id: "detach.daemon",
            title: "surface-dtx-daemon",
            verifies: "surface-dtx-daemon is installed and running.",
            rationale: "Without the daemon detach still works, but each request waits for the firmware timeout and nothing unmounts base drives first.",
            fix: "Install surface-dtx-daemon and `systemctl enable --now surface-dtx-daemon`.",
            requires: &["detach.dtx-node"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: daemon,
        },
    ],
};

fn ssam(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let dev = c.ssam_device();
    match dev {
        Look::Missing(m) => {
            if let Has::No(e) = c.kernel_has(&d.ssam) {
                return Outcome::failed(
                    "the kernel has no Surface Aggregator driver (CONFIG_SURFACE_AGGREGATOR)",
                )
                .evidence(e);
            }
            Outcome::failed(format!(
                "the aggregator's serial device {} does not exist: the LPSS UART is not up",
                d.ssam_serdev
            ))
            .evidence(format!("{m}: no {}", d.ssam_serdev))
            .hint("Load intel_lpss_pci and 8250_dw (CONFIG_MFD_INTEL_LPSS_PCI, CONFIG_SERIAL_8250_DW) and CONFIG_SERIAL_DEV_BUS.")
        }
        Look::Found(x) if x.driver.is_none() => {
            let mut o = c.unbound("serial", x, &d.ssam, "Surface Aggregator");
            if c.driver_registered("serial", d.ssam.driver) == Some(true) {
                let down = "batteries, detach and the platform profile are down";
                let recover = format!(
                    "To recover now: `echo {} > /sys/bus/serial/drivers_probe`.",
                    x.name
                );
                match c.kernel_has(&d.pinctrl) {
                    Has::Builtin(e) => {
                        o.summary = format!(
                            "the Surface Aggregator failed to probe {}; pinctrl is built in, so the LPSS UART or its IRQ was not ready: {down}",
                            x.name
                        );
                        o = o.evidence(e).hint(format!(
                            "Put intel_lpss, intel_lpss_pci and 8250_dw in the initrd (NixOS: `boot.initrd.kernelModules`) or build them in; kernels after 6.11 may also fail with -EINVAL instead of retrying (see `journalctl -k -b | grep -i -e serial -e surface`). {recover}"
                        ));
                    }
                    has => {
                        o.summary = format!(
                            "the Surface Aggregator failed to probe {} (pinctrl or the UART loaded too late): {down}",
                            x.name
                        );
                        o.hint = None;
                        if let Has::Module(e) = has {
                            o = o.evidence(format!("pinctrl is a module: {e}"));
                        }
                    }
                }
            }
            o
        }
        dev => c.link_bound("serial", dev, &d.ssam, "Surface Aggregator"),
    }
}

/// The Surface Aggregator's device name and the evidence that it is down (its serial
/// device missing or not bound to its driver). `None` when it is up or cannot be told.
fn aggregator_down(c: &Ctx) -> Option<(String, String)> {
    let d = &c.profile.detach;
    match c.ssam_device() {
        Look::Found(x) if x.driver.as_deref() == Some(d.ssam.driver) => None,
        Look::Found(x) => Some((
            x.name.clone(),
            format!(
                "/sys/bus/serial/devices/{}/driver: not {}",
                x.name, d.ssam.driver
            ),
        )),
        Look::Missing(m) => Some((
            d.ssam_serdev.to_string(),
            format!("{m}: no {}", d.ssam_serdev),
        )),
        Look::Unknown(_) => None,
    }
}

/// Link "an aggregator client is bound" for a platform device (SAN, the platform
/// hub). Clients defer their probe until the aggregator is up, so while it is down
/// they stay unbound without a failure of their own: the aggregator is the cause,
/// named with what it takes down (`consequence`) and how to fix it (`hint`).
pub(super) fn aggregator_client(
    c: &Ctx,
    hid: &str,
    driver: &Driver,
    what: &str,
    consequence: &str,
    hint: &str,
) -> Outcome {
    let o = c.link_bound("platform", c.by_hid("platform", hid), driver, what);
    if o.status == Status::Ok {
        return o;
    }
    match aggregator_down(c) {
        Some((name, e)) => Outcome::failed(format!(
            "{what} is not bound because the Surface Aggregator ({name}) is not bound: {consequence}"
        ))
        .evidence_all(o.evidence)
        .evidence(e)
        .hint(hint),
        None => o,
    }
}

fn dtx_driver(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    c.link_bound("platform", c.by_hid("platform", d.dtx_hid), &d.dtx, "DTX")
}

fn dtx_node(c: &Ctx) -> Outcome {
    let d = &c.profile.detach;
    let dtx = &c.facts.dtx;
    match &dtx.node {
        Fact::Ok(NodeKind::CharDevice { major, minor }) => {
            let mut o = Outcome::ok(format!(
                "/{} is a device node ({major}:{minor})",
                d.dtx_node
            ))
            .evidence(format!("/{}", d.dtx_node));
            match &dtx.state {
                Fact::Ok(s) => {
                    let mode = match s.device_mode {
                        0 => "tablet",
                        1 => "laptop",
                        2 => "studio",
                        _ => "unknown mode",
                    };
                    let latch = match s.latch_status {
                        0 => "latch closed",
                        1 => "latch open",
                        _ => "latch error",
                    };
                    o.summary.push_str(&format!("; {mode}, {latch}"));
                }
                f => o = o.evidence(format!("state: {}", why(f))),
            }
            o
        }
        Fact::Ok(other) => {
            Outcome::failed(format!("/{} is not a device node ({other:?})", d.dtx_node))
                .evidence(format!("/{}", d.dtx_node))
        }
        Fact::Absent { .. } => {
            let o = Outcome::failed(format!("/{} is missing", d.dtx_node))
                .evidence(format!("/{}: not found", d.dtx_node));
            if dtx.misc_registered {
                o.evidence(format!(
                    "/{} exists: udev did not create the node",
                    d.dtx_misc
                ))
                .hint("Check that systemd-udevd runs and `udevadm trigger --subsystem-match=misc`.")
            } else {
                o.evidence(format!("/{}: not found", d.dtx_misc))
            }
        }
        f => Outcome::unknown(format!("cannot stat /{}", d.dtx_node)).evidence(why(f)),
    }
}

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
    if matches!(
        (&s.processes, &s.running_units),
        (Fact::Unknown { .. }, Fact::Unknown { .. })
    ) {
        return Outcome::unknown("cannot see running processes or services")
            .evidence(why(&s.processes));
    }
    let unit = s.units.get(d.daemon_unit);
    match unit {
        Some(u) if !u.files.is_empty() => {
            let o = Outcome::degraded("surface-dtx-daemon is installed but not running: detach waits for the firmware timeout")
                .evidence_all(u.files.clone());
            if u.enabled_by.is_empty() {
                o.hint(format!(
                    "Enable it: `systemctl enable --now {}`.",
                    d.daemon_unit
                ))
            } else {
                o.hint(format!(
                    "It is enabled but stopped: `journalctl -b -u {}`.",
                    d.daemon_unit
                ))
            }
        }
        _ => Outcome::degraded(
            "surface-dtx-daemon is not installed: detach works but waits for the firmware timeout",
        )
        .evidence(format!(
            "{} not found in the systemd unit directories",
            d.daemon_unit
        )),
    }
}
