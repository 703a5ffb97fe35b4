//! Cameras: IPU3 CIO2 and ImgU -> bridge -> INT3472 -> three sensors -> firmware ->
//! media graph -> each sensor linked to a CSI-2 receiver.

use std::collections::{BTreeMap, BTreeSet};

use super::ctx::{Ctx, Has, Look, NodeSeen, why};
use super::{CheckDef, Outcome, SubsystemDef, Tag, fact};
use crate::facts::{BusDevice, Fact, MediaDevice, MediaEntity, MediaLink, MediaPad, MediaTopology};
use crate::profiles::{Driver, PciFn, Sensor};
use crate::report::Status;
use crate::root::ReadError;

pub const SUBSYSTEM: SubsystemDef = SubsystemDef {
    id: "camera",
    title: "Cameras (IPU3)",
    checks: &[
        CheckDef {
            id: "camera.pci",
            title: "IPU3 PCI functions",
            verifies: "The IPU3 CIO2 (8086:9d32, 00:14.3) and ImgU (8086:1919, 00:05.0) PCI functions are present.",
            rationale: "When the cameras are disabled in the UEFI settings these functions and the camera I2C controllers vanish; that is a setting, not a kernel fault.",
            fix: "Enable the cameras in the UEFI settings (Devices > Front/Rear/IR camera) if you want them.",
            requires: &[],
            basis: &[
                fact(
                    Tag::Verified,
                    "The SB2 has the IPU3 CIO2 8086:9d32 at 00:14.3 and the ImgU 8086:1919 at 00:05.0",
                    "§6 PCI; hw-probe 79D657BBD855, 5B3E4C5AAEC5",
                ),
                fact(
                    Tag::Verified,
                    "With the cameras disabled in UEFI the IPU3 functions and the camera I2C controllers vanish",
                    "§6 PCI; hw-probe 1987F55FAE3C, 2B7E0582A8AD",
                ),
            ],
            proven_by: "nothing later proves it: every later camera link hangs off these functions",
            captured: "A captured tree shows the PCI functions in sysfs as well as the live root; it cannot show the UEFI setting itself, so missing functions read \"disabled in UEFI, or not present\".",
            run: pci,
        },
        CheckDef {
            id: "camera.atomisp",
            title: "No atomisp conflict",
            verifies: "The atomisp staging driver is not loaded.",
            rationale: "atomisp claims the same OV5693 sensor on some kernels and keeps the IPU3 pipeline from binding it.",
            fix: "Blacklist it: add `blacklist atomisp` to /etc/modprobe.d/ (NixOS: `boot.blacklistedKernelModules = [ \"atomisp\" ];`).",
            requires: &[],
            basis: &[fact(
                Tag::Verified,
                "atomisp (stock Ubuntu 5.11) takes the front sensor: `ov5693: probe of i2c-INT33BE:00 failed with error -22`",
                "§7; hw-probe A1E230F83ACD, 098A00936EA6",
            )],
            proven_by: "the front sensor bound to ov5693 proves atomisp did not take it",
            captured: "Loaded modules and the sensor's binding are in /proc and sysfs of a captured tree; the kernel log line only with --dmesg.",
            run: atomisp,
        },
        CheckDef {
            id: "camera.cio2",
            title: "CIO2 driver",
            verifies: "The CIO2 function is bound to ipu3-cio2 (CONFIG_VIDEO_IPU3_CIO2).",
            rationale: "CIO2 receives the sensors' CSI-2 streams; without it no camera exists.",
            fix: "If the kernel lacks CONFIG_VIDEO_IPU3_CIO2, use one that has it; if it is a module, load `ipu3_cio2`; otherwise read `journalctl -k -b | grep -i ipu3-cio2`.",
            requires: &["camera.pci"],
            basis: &[fact(
                Tag::Verified,
                "CIO2 8086:9d32 binds to ipu3-cio2 (`ipu3-cio2 0000:00:14.3: device 0x9d32`)",
                "§1.7, §6 PCI; hw-probe 79D657BBD855",
            )],
            proven_by: "the CIO2 media graph (\"Intel IPU3 CIO2\") and `Connected N cameras` prove it bound",
            captured: "The driver link is in sysfs; a captured tree shows it.",
            run: cio2,
        },
        CheckDef {
            id: "camera.imgu",
            title: "ImgU driver",
            verifies: "The ImgU function is bound to ipu3-imgu (CONFIG_VIDEO_IPU3_IMGU, staging).",
            rationale: "libcamera's IPU3 pipeline needs the ImgU to process raw frames.",
            fix: "If the kernel lacks CONFIG_VIDEO_IPU3_IMGU (staging), use one that has it; if it is a module, load `ipu3_imgu`; otherwise read `journalctl -k -b | grep -i ipu3-imgu`.",
            requires: &["camera.pci"],
            basis: &[fact(
                Tag::Verified,
                "ImgU 8086:1919 binds to ipu3-imgu and loads its firmware in its probe; without the firmware the probe fails with -2",
                "§1.7, §7; hw-probe 79D657BBD855, 44CB94E9B7BC",
            )],
            proven_by: "`loaded firmware version irci_` in the kernel log proves its probe ran",
            captured: "The driver link is in sysfs; the firmware load line only in the kernel log (--dmesg for a captured tree).",
            run: imgu,
        },
        CheckDef {
            id: "camera.bridge",
            title: "IPU bridge",
            verifies: "The kernel has the IPU bridge (CONFIG_IPU_BRIDGE, formerly CIO2_BRIDGE) that builds the sensor graph from ACPI.",
            rationale: "Without the bridge CIO2 finds no sensor on ACPI machines like the Surface Book 2.",
            fix: "If the kernel lacks CONFIG_IPU_BRIDGE (CONFIG_CIO2_BRIDGE before 6.6), use one that has it (linux-surface kernels do).",
            requires: &["camera.pci"],
            basis: &[fact(
                Tag::Verified,
                "The IPU bridge (IPU_BRIDGE, formerly CIO2_BRIDGE) builds the sensor graph from ACPI; without it CIO2 finds no sensor",
                "§1.7 (K ipu-bridge.c)",
            )],
            proven_by: "bound sensors, or `Connected N cameras` / a CIO2 graph with sensors, prove the bridge worked",
            captured: "Kernel config and module tree are files a captured tree keeps; `Connected N cameras` only with --dmesg.",
            run: bridge,
        },
        CheckDef {
            id: "camera.int3472",
            title: "Camera power controller (INT3472)",
            verifies: "The INT3472 camera PMIC device is bound to int3472-tps68470 or int3472-discrete.",
            rationale: "INT3472 powers and clocks the sensors; sensors cannot probe without it.",
            fix: "If the sensors do not bind and the kernel lacks CONFIG_INTEL_SKL_INT3472 (with CONFIG_REGULATOR_TPS68470 and CONFIG_COMMON_CLK_TPS68470), use one that has them.",
            requires: &["camera.pci"],
            basis: &[
                fact(
                    Tag::Verified,
                    "INT3472 exists on the SB2: stock Ubuntu 5.15 logs int3472-discrete INT3472:00..02 failing with -16",
                    "§7; hw-probe 098A00936EA6",
                ),
                fact(
                    Tag::Unverified,
                    "whether INT3472 binds on linux-surface kernels (no linux-surface log read mentions it), and its variant",
                    "§7, §5",
                ),
            ],
            proven_by: "bound sensors prove their power and clock came up (INT3472 or not)",
            captured: "Devices and bindings are in sysfs; int3472 probe errors only in the kernel log (--dmesg).",
            run: int3472,
        },
        CheckDef {
            id: "camera.sensors",
            title: "Camera sensors",
            verifies: "All three sensors are bound: OV5693 front (INT33BE), OV8865 rear (INT347A), OV7251 infrared (INT347E).",
            rationale: "The bridge waits for every sensor: one sensor that fails to probe hides all cameras.",
            fix: "Read `journalctl -k -b | grep -i -e ov5693 -e ov8865 -e ov7251 -e int3472` for the sensor's probe error; if the kernel lacks CONFIG_VIDEO_OV5693, CONFIG_VIDEO_OV8865 or CONFIG_VIDEO_OV7251, use one that has them.",
            requires: &["camera.pci"],
            basis: &[
                fact(
                    Tag::Verified,
                    "The SB2 has OV5693 front (INT33BE), OV8865 rear (INT347A), OV7251 IR (INT347E) on I2C",
                    "§1.7, §6; hw-probe 79D657BBD855",
                ),
                fact(
                    Tag::Verified,
                    "The IR sensor ov7251 commonly fails (`cannot get enable gpio`, error -2) while `Connected 3 cameras` is logged and front and rear bind",
                    "§7; hw-probe 79D657BBD855, 5B3E4C5AAEC5",
                ),
            ],
            proven_by: "the CIO2 media graph and `Connected N cameras` show which sensors the bridge connected",
            captured: "I2C clients and their driver links are in sysfs; probe errors (the cause) only in the kernel log (--dmesg).",
            run: sensors,
        },
        CheckDef {
            id: "camera.firmware",
            title: "ImgU firmware",
            verifies: "The ImgU firmware `intel/ipu3-fw.bin` (or its irci_ name, possibly .zst/.xz) is in a firmware directory the kernel searches.",
            rationale: "Without it the ImgU cannot start and libcamera shows no camera.",
            fix: "Install linux-firmware (Debian: firmware-misc-nonfree; NixOS: `hardware.enableRedistributableFirmware = true;`).",
            requires: &["camera.pci"],
            basis: &[fact(
                Tag::Verified,
                "ImgU needs intel/ipu3-fw.bin: `Direct firmware load for intel/ipu3-fw.bin failed with error -2` then its probe fails",
                "§1.7, §7; hw-probe 44CB94E9B7BC",
            )],
            proven_by: "ImgU bound, or `loaded firmware version irci_` in the kernel log, proves the firmware loaded (from the initrd or built in)",
            captured: "Firmware files are files a captured tree keeps; the initrd and built-in firmware are not visible.",
            run: firmware,
        },
        CheckDef {
            id: "camera.nodes",
            title: "Media graph and video nodes",
            verifies: "The CIO2 media device (`Intel IPU3 CIO2`) and its video nodes exist with device nodes in /dev.",
            rationale: "Applications and libcamera open these nodes.",
            fix: "A missing media graph with everything bound means a sensor failed late: read `journalctl -k -b | grep -i ipu3`.",
            requires: &["camera.cio2"],
            basis: &[fact(
                Tag::Verified,
                "CIO2 registers a media device with model \"Intel IPU3 CIO2\" and video nodes \"ipu3-cio2 N\"",
                "§1.7 (#523, K ipu3-cio2.h)",
            )],
            proven_by: "nothing later proves it: applications open these nodes",
            captured: "sysfs shows the media and video devices; the /dev nodes are judged only on the live root (a captured /dev may hold plain files or nothing).",
            run: nodes,
        },
        CheckDef {
            id: "camera.graph",
            title: "Sensors linked to the CSI-2 receivers",
            verifies: "In the CIO2 media graph (`MEDIA_IOC_G_TOPOLOGY` on /dev/mediaN), each bound sensor is an entity (`ov5693 2-0036`) whose source pad has a data link to an `ipu3-csi2 N` sink pad, enabled or enableable (not immutable).",
            rationale: "libcamera makes a camera only of a sensor linked to a CSI-2 receiver: sensors that bind but have no links leave `cam --list` empty, as on linux-surface 6.19 (linux-surface#2188).",
            fix: "Read the graph with `media-ctl -d /dev/mediaN -p` and CIO2's messages with `journalctl -k -b | grep -i -e ipu3-cio2 -e ipu_bridge`; on linux-surface 6.19 reload ipu3_cio2 after the sensor drivers (when it is a module) or boot a kernel without the regression.",
            requires: &["camera.cio2"],
            basis: &[
                fact(
                    Tag::Verified,
                    "When its notifier completes, CIO2 links each sensor's source pad to the sink pad (0) of an `ipu3-csi2 N` receiver with flags 0 (libcamera's IPU3 pipeline enables the link) and registers the receivers' subdevice nodes",
                    "§1.7 media graph (K ipu3-cio2.c cio2_notifier_complete, linux-media \"ipu3-cio2: Use v4l2_create_fwnode_links_to_pad()\")",
                ),
                fact(
                    Tag::Verified,
                    "linux-surface 6.19.8 on a Surface Book 2: the three sensors bind and are entities `ov5693 2-0036`, `ov8865 3-0010`, `ov7251 3-0060` with 1 pad and 0 links, and `cam --list` is empty (6.18.8 works); on the same kernel the receivers have no node (`Skip ipu3-csi2 0: no device node`)",
                    "§4 F14; linux-surface#2188, #2220 (SB2), #2183, #2101, #1634",
                ),
            ],
            proven_by: "nothing later proves it: libcamera reads these links",
            captured: "Only /dev/mediaN answers with the graph, on the live system and to a user allowed to open it (root): a captured tree, an older capture or an unprivileged run reads no graph, so camera.sensors and camera.nodes judge from sysfs and this link says what was not read (ok, with a notice).",
            run: graph,
        },
    ],
};

fn drv(f: &PciFn) -> Driver {
    Driver {
        config: f.config,
        module: f.module,
        driver: f.driver,
    }
}

/// The CIO2 media device, when sysfs shows it (`/sys/bus/media/devices/mediaN`).
fn cio2_graph<'a>(c: &Ctx<'a>) -> Option<&'a crate::facts::MediaDevice> {
    let model = c.profile.camera.cio2_media_model;
    c.facts
        .media
        .ok()?
        .iter()
        .find(|m| m.model.ok().is_some_and(|x| x == model))
}

/// `Connected N cameras` from the kernel log: (N, evidence line).
fn connected_cameras(c: &Ctx) -> Option<(u32, String)> {
    c.log_lines(&["ipu3-cio2", "Connected", "camera"])
        .into_iter()
        .rev()
        .find_map(|l| {
            let n = l
                .split("Connected ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((n, l))
        })
}

/// A sensor's I2C client and whether it is bound to its driver.
fn sensor_bound<'a>(c: &Ctx<'a>, s: &Sensor) -> (Look<&'a BusDevice>, bool) {
    let dev = c.by_hid("i2c", s.hid);
    let bound = matches!(&dev, Look::Found(d) if d.driver.as_deref() == Some(s.driver.driver));
    (dev, bound)
}

/// Whether any sensor is bound: proof that their power, clock and the bridge worked.
fn any_sensor_bound(c: &Ctx) -> Vec<String> {
    c.profile
        .camera
        .sensors
        .iter()
        .filter(|s| sensor_bound(c, s).1)
        .map(|s| {
            format!(
                "/sys/bus/i2c/devices/i2c-{}:00/driver -> {}",
                s.hid, s.driver.driver
            )
        })
        .collect()
}

/// What the kernel log says about a sensor's probe, as (cause, evidence lines). The
/// `supply ... not found, using dummy regulator` lines are normal on a Surface Book 2
/// (its INT3472 board data is not in mainline, reference §1.7, F8) and never a cause.
fn sensor_log_cause(c: &Ctx, s: &Sensor) -> Option<(String, Vec<String>)> {
    let client = format!("{}:00", s.hid);
    let lines: Vec<String> = c
        .log_lines(&[client.as_str()])
        .into_iter()
        .filter(|l| !l.contains("dummy regulator"))
        .collect();
    let has = |n: &str| lines.iter().any(|l| l.contains(n));
    let pick =
        |n: &str| -> Vec<String> { lines.iter().filter(|l| l.contains(n)).cloned().collect() };
    let atomisp_loaded = c
        .profile
        .camera
        .atomisp_modules
        .iter()
        .any(|m| c.loaded(m) == Some(true));
    if has("cannot get enable gpio") {
        let mut ev = pick("cannot get enable gpio");
        ev.extend(pick("failed with error"));
        return Some((
            "its probe failed: `cannot get enable gpio` (the firmware gives the sensor no enable GPIO on this kernel)".into(),
            ev,
        ));
    }
    if has("-121") {
        return Some((
            "the sensor did not answer on I2C (error -121, -EREMOTEIO): it is not powered or not at its address".into(),
            pick("-121"),
        ));
    }
    if has("deferred probe pending") || has("EPROBE_DEFER") {
        let mut ev = pick("deferred probe pending");
        ev.extend(pick("EPROBE_DEFER"));
        ev.extend(c.log_lines(&["0000:00:14.3", "deferred probe pending"]));
        return Some((
            "its probe is still deferred (`deferred probe pending`): a resource it waits for (regulator, clock or GPIO from the power controller) never appeared".into(),
            ev,
        ));
    }
    if has("failed with error -22") && atomisp_loaded {
        return Some((
            "atomisp's sensor driver took it and failed (error -22); the IPU3 driver never got it"
                .into(),
            pick("failed with error -22"),
        ));
    }
    if has("failed with error") {
        return Some(("its probe failed".into(), pick("failed with error")));
    }
    None
}

fn pci(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let (cio2, imgu) = (c.pci(&cam.cio2), c.pci(&cam.imgu));
    match (&cio2, &imgu) {
        (Look::Unknown(u), _) | (_, Look::Unknown(u)) => {
            Outcome::unknown("cannot tell whether the IPU3 functions are on the PCI bus")
                .evidence(u.clone())
        }
        (Look::Found(a), Look::Found(b)) => Outcome::ok("CIO2 and ImgU present")
            .evidence(format!("/sys/bus/pci/devices/{}", a.name))
            .evidence(format!("/sys/bus/pci/devices/{}", b.name)),
        (Look::Missing(m), Look::Missing(_)) => {
            let i2c_gone = cam
                .i2c_controllers
                .iter()
                .all(|slot| matches!(c.find_dev("pci", |d| d.name == *slot), Look::Missing(_)));
            // The setting itself cannot be read: the functions are gone because the
            // cameras are off in UEFI, or they are not there at all.
            let mut o = Outcome::absent(if i2c_gone {
                "the IPU3 functions and the camera I2C controllers are absent: cameras disabled in the UEFI settings, or not present"
            } else {
                "the IPU3 PCI functions are absent: cameras disabled in the UEFI settings, or not present"
            })
            .evidence(format!("{m}: no 8086:9d32 or 8086:1919"))
            .hint("Enable the cameras in the UEFI settings if you want them.");
            // An absent camera must not hide a kernel that could not drive it.
            let mut lacks = Vec::new();
            let mut drivers = vec![drv(&cam.cio2), drv(&cam.imgu)];
            if c.config("CIO2_BRIDGE").is_none_or(|v| v.is_empty()) {
                drivers.push(Driver { ..cam.bridge });
            }
            drivers.extend(cam.sensors.iter().map(|s| Driver { ..s.driver }));
            for d in &drivers {
                if let Has::No(e) = c.kernel_has(d) {
                    lacks.push(format!("{} (CONFIG_{})", d.module, d.config));
                    o = o.evidence(e);
                }
            }
            if !lacks.is_empty() {
                o = o.notice(format!(
                    "if the cameras are turned on, this kernel cannot drive them: it lacks {}",
                    lacks.join(", ")
                ));
            }
            o
        }
        (Look::Found(_), Look::Missing(m)) => {
            Outcome::failed("CIO2 is present but the ImgU function is missing")
                .evidence(format!("{m}: no 8086:1919"))
                .hint("Both functions come and go together with the UEFI camera setting; the cause is not shown. `lspci -nn` and `journalctl -k -b | grep -i 00:05.0` would tell.")
        }
        (Look::Missing(m), Look::Found(_)) => {
            Outcome::failed("ImgU is present but the CIO2 function is missing")
                .evidence(format!("{m}: no 8086:9d32"))
                .hint("Both functions come and go together with the UEFI camera setting; the cause is not shown. `lspci -nn` and `journalctl -k -b | grep -i 00:14.3` would tell.")
        }
    }
}

fn atomisp(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    // Without the IPU3 functions (cameras off in UEFI) there is no sensor to compete for.
    if let (Look::Missing(m), Look::Missing(_)) = (c.pci(&cam.cio2), c.pci(&cam.imgu)) {
        return Outcome::absent("no IPU3 cameras: nothing for atomisp to compete for")
            .evidence(format!("{m}: no 8086:9d32 or 8086:1919"));
    }
    let mods = cam.atomisp_modules;
    match &c.facts.modules.loaded {
        Fact::Ok(m) => {
            let loaded: Vec<String> = mods
                .iter()
                .filter(|x| m.contains_key(**x))
                .map(|s| s.to_string())
                .collect();
            if loaded.is_empty() {
                return Outcome::ok("atomisp is not loaded").evidence("/proc/modules");
            }
            let ev = format!("/proc/modules: {}", loaded.join(", "));
            // atomisp competes for the OV5693: harmless while the IPU3 sensor driver holds it.
            let front = &cam.sensors[0];
            let log = c
                .log_lines(&[front.hid, "failed with error"])
                .into_iter()
                .chain(c.log_lines(&["atomisp"]))
                .collect::<Vec<_>>();
            let hint = "Blacklist it: add `blacklist atomisp` and `blacklist atomisp_ov5693` to /etc/modprobe.d/ (NixOS: `boot.blacklistedKernelModules`), then reboot.";
            match c.by_hid("i2c", front.hid) {
                Look::Found(d) if d.driver.as_deref() == Some(front.driver.driver) => Outcome::ok(
                    format!("atomisp is loaded but {} is bound to {}", d.name, front.driver.driver),
                )
                .evidence(ev),
                Look::Found(d) => Outcome::failed(format!(
                    "atomisp is loaded and {} is {}: atomisp keeps the IPU3 pipeline from the front sensor",
                    d.name,
                    d.driver
                        .as_deref()
                        .map(|x| format!("bound to {x}"))
                        .unwrap_or_else(|| "unbound".into())
                ))
                .evidence(ev)
                .evidence_all(log)
                .hint(hint),
                _ => Outcome::failed("atomisp is loaded and the front sensor has no I2C client")
                    .evidence(ev)
                    .evidence_all(log)
                    .hint(hint),
            }
        }
        f => Outcome::unknown("cannot read loaded modules").evidence(why(f)),
    }
}

fn cio2(c: &Ctx) -> Outcome {
    let f = &c.profile.camera.cio2;
    let o = c.link_bound("pci", c.pci(f), &drv(f), "CIO2");
    if o.status.is_problem()
        && let Some(m) = cio2_graph(c)
    {
        return o.as_notice(format!(
            "the CIO2 media graph {} exists, so CIO2 is bound",
            m.sysname
        ));
    }
    o
}

fn imgu(c: &Ctx) -> Outcome {
    let f = &c.profile.camera.imgu;
    let o = c.link_bound("pci", c.pci(f), &drv(f), "ImgU");
    // ImgU loads its firmware in its probe: a probe that failed while the firmware is
    // missing (no file found, or the log's `probe of 0000:00:05.0 failed with error
    // -2`, hw-probe 44CB94E9B7BC) failed for the firmware, which camera.firmware names.
    let log_fw: Vec<String> = c
        .log_lines(&[f.slot.trim_start_matches("0000:"), "failed with error -2"])
        .into_iter()
        .chain(c.log_lines(&["ipu3-fw.bin", "failed"]))
        .collect();
    if o.status == Status::Failed
        && let Look::Found(d) = c.pci(f)
        && d.driver.is_none()
        && c.driver_registered("pci", f.driver) == Some(true)
        && (imgu_firmware(c).is_none() || !log_fw.is_empty())
    {
        return Outcome::unknown(format!(
            "ImgU: {} is not bound: its probe loads the firmware, which is missing (see camera.firmware)",
            d.name
        ))
        .evidence_all(o.evidence)
        .evidence_all(log_fw)
        .hint("Install the ImgU firmware (see camera.firmware), then `modprobe -r ipu3_imgu && modprobe ipu3_imgu`.");
    }
    o
}

fn bridge(c: &Ctx) -> Outcome {
    let b = &c.profile.camera.bridge;
    // Before the ipu-bridge rename the same code was CONFIG_CIO2_BRIDGE inside ipu3-cio2.
    if let Some(v) = c.config("CIO2_BRIDGE").filter(|v| !v.is_empty()) {
        return Outcome::ok("the CIO2 bridge is built into ipu3-cio2 (older kernel)")
            .evidence(format!("CONFIG_CIO2_BRIDGE={v}"));
    }
    let o = c.link_kernel_has(b, "IPU bridge");
    if !o.status.is_problem() {
        return o;
    }
    // Downstream proof: sensors bound through the bridge's graph, or the log's
    // `Connected N cameras`, show the bridge worked whatever the config says.
    let mut proof = any_sensor_bound(c);
    if let Some((n, l)) = connected_cameras(c).filter(|(n, _)| *n > 0) {
        proof.push(format!("{l} ({n})"));
    }
    if proof.is_empty() {
        return o;
    }
    o.as_notice("the bridge worked: sensors were connected")
        .evidence_all(proof)
}

fn int3472(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    // INT3472 exists on the SB2 (§7: stock Ubuntu 5.15 logs INT3472:00..02), but
    // whether it binds on linux-surface is unverified: no linux-surface log read
    // mentions it. So this check never fails: bound sensors prove power and clock
    // came up; without them, INT3472 is only a lead, a notice.
    let mut devs = Vec::new();
    for bus in ["i2c", "platform"] {
        match c.bus(bus) {
            Look::Found(all) => devs.extend(
                all.iter()
                    .filter(|d| d.acpi_hid() == Some(cam.int3472_hid))
                    .map(|d| (bus, d)),
            ),
            Look::Unknown(u) | Look::Missing(u) => {
                return Outcome::unknown("cannot list I2C/platform devices").evidence(u);
            }
        }
    }
    let is_int3472 = |d: &BusDevice| {
        d.driver
            .as_deref()
            .is_some_and(|x| cam.int3472.iter().any(|i| i.driver == x))
    };
    let bound: Vec<String> = devs
        .iter()
        .filter(|(_, d)| is_int3472(d))
        .map(|(_, d)| format!("{} -> {}", d.name, d.driver.as_deref().unwrap_or_default()))
        .collect();
    let unbound: Vec<_> = devs.iter().filter(|(_, d)| !is_int3472(d)).collect();
    let log: Vec<String> = c
        .log_lines(&["INT3472"])
        .into_iter()
        .filter(|l| l.contains("fail") || l.contains("error"))
        .collect();
    if !bound.is_empty() {
        let mut o = Outcome::ok(format!("{} bound", bound.join(", "))).evidence_all(bound);
        for (_, d) in &unbound {
            o = o.evidence(format!(
                "{} not bound (the sensors decide whether it matters)",
                d.name
            ));
        }
        return o;
    }
    let what = match unbound.first() {
        Some((_, d)) => format!("{} is not bound to an INT3472 driver", d.name),
        None => "no INT3472 device found".to_string(),
    };
    let mut ev: Vec<String> = unbound
        .iter()
        .map(|(b, d)| format!("/sys/bus/{b}/devices/{}/driver: not found", d.name))
        .collect();
    if unbound.is_empty() {
        ev.push("/sys/bus/i2c/devices, /sys/bus/platform/devices: no INT3472".into());
    }
    ev.extend(log);
    let sensors = any_sensor_bound(c);
    if !sensors.is_empty() {
        return Outcome::ok("the bound sensors prove their power and clock came up")
            .evidence_all(sensors)
            .evidence_all(ev)
            .notice(format!(
                "{what}; the sensors are bound, so it is not needed on this kernel"
            ));
    }
    Outcome::ok("not confirmed: no sensor is bound, and whether INT3472 must bind on linux-surface is unverified")
        .evidence_all(ev)
        .notice(format!(
            "{what}; it may be why no sensor binds (see camera.sensors): `journalctl -k -b | grep -i -e int3472 -e tps68470` would tell"
        ))
}

/// One sensor's verdict as an outcome: ok when bound.
/// Whether a sensor without an I2C client is switched off rather than broken: its
/// ACPI device reports status 0 (the firmware hides it), or the Serial IO I2C
/// controller it hangs off is not on the PCI bus. Surface UEFI switches the front,
/// rear and IR cameras off one by one, and a switched-off camera takes its ACPI
/// device and I2C controller with it (§6: the I2C controllers vanish when cameras are
/// disabled; hw-probe 1987F55FAE3C shows only the front sensor with no 00:15.3).
fn sensor_switched_off(c: &Ctx, s: &Sensor) -> Option<String> {
    if let Look::Found(a) = c.by_hid("acpi", s.hid)
        && a.attrs.get("status").is_some_and(|v| v.trim() == "0")
    {
        return Some(format!("/sys/bus/acpi/devices/{}/status: 0", a.name));
    }
    // The front sensor sits on I2C2 (00:15.2), rear and IR on I2C3 (00:15.3) (§6).
    let cam = &c.profile.camera;
    let slot = if s.role == "front" {
        cam.i2c_controllers.first()
    } else {
        cam.i2c_controllers.get(1)
    }?;
    // Only when the PCI bus is readable and other functions are listed on it.
    match c.bus("pci") {
        Look::Found(devs) if !devs.is_empty() && !devs.iter().any(|d| d.name == *slot) => Some(
            format!("/sys/bus/pci/devices: no {slot} (the camera's I2C controller)"),
        ),
        _ => None,
    }
}

fn one_sensor(c: &Ctx, s: &Sensor) -> Outcome {
    let what = format!("{} camera {}", s.role, s.chip);
    let (dev, _) = sensor_bound(c, s);
    if let Look::Missing(_) = dev
        && let Some(ev) = sensor_switched_off(c, s)
    {
        return Outcome::absent(format!(
            "{what}: disabled in the UEFI settings, or not present"
        ))
        .evidence(ev);
    }
    let cause = sensor_log_cause(c, s);
    let o = match dev {
        Look::Missing(m) => {
            let mut o = match c.by_hid("acpi", s.hid) {
                Look::Found(a) => Outcome::failed(format!(
                    "{what}: ACPI device {} exists but no I2C client i2c-{}:00 was created",
                    a.name, s.hid
                ))
                .evidence(format!("{m}: no i2c-{}:00", s.hid)),
                _ => Outcome::failed(format!(
                    "{what}: no I2C client i2c-{}:00 and no ACPI device {}:00",
                    s.hid, s.hid
                ))
                .evidence(m),
            };
            if let Some((n, l)) = connected_cameras(c) {
                o.summary
                    .push_str(&format!("; the bridge connected {n} camera(s)"));
                o = o.evidence(l);
            }
            if cause.is_none() {
                o = o.hint(format!(
                    "The cause is not shown: `journalctl -k -b | grep -i -e {} -e {} -e int3472 -e ipu3` would tell.",
                    s.hid, s.driver.module
                ));
            }
            o
        }
        Look::Unknown(u) => {
            Outcome::unknown(format!("{what}: cannot list /sys/bus/i2c")).evidence(u)
        }
        Look::Found(d) => match c.kernel_has(&s.driver) {
            Has::No(e) => {
                let mut o = Outcome::failed(format!(
                    "{what}: the kernel has no {} driver (CONFIG_{})",
                    s.driver.module, s.driver.config
                ))
                .evidence(e);
                if let Some(h) = c.provide_fix(&s.driver) {
                    o = o.hint(h);
                }
                o
            }
            _ => c.link_bound("i2c", Look::Found(d), &s.driver, &what),
        },
    };
    match cause {
        Some((why, lines)) if o.status.is_problem() => {
            let unbound_client =
                matches!(c.by_hid("i2c", s.hid), Look::Found(d) if d.driver.is_none());
            let mut o = o.evidence_all(lines);
            if unbound_client {
                // The log names the cause; the generic "its probe failed" goes.
                o.summary = format!("{what}: i2c-{}:00 is not bound: {why}", s.hid);
            } else {
                o.summary.push_str(&format!(": {why}"));
            }
            o
        }
        _ => o,
    }
}

fn sensors(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let connected = connected_cameras(c);
    let graph = cio2_graph(c);
    let results: Vec<(&Sensor, Outcome)> =
        cam.sensors.iter().map(|s| (s, one_sensor(c, s))).collect();
    if let Some((_, u)) = results.iter().find(|(_, o)| o.status == Status::Unknown) {
        return u.clone();
    }
    let ok_ev: Vec<String> = results
        .iter()
        .filter(|(_, o)| o.status == Status::Ok)
        .flat_map(|(_, o)| o.evidence.clone())
        .collect();
    let bad: Vec<&(&Sensor, Outcome)> = results
        .iter()
        .filter(|(_, o)| o.status.is_problem())
        .collect();
    let off: Vec<&(&Sensor, Outcome)> = results
        .iter()
        .filter(|(_, o)| o.status == Status::Absent)
        .collect();
    if bad.is_empty() && off.is_empty() {
        return Outcome::ok("front, rear and infrared sensors bound").evidence_all(ok_ev);
    }
    if bad.is_empty() {
        if off.len() == results.len() {
            let mut o = Outcome::absent(
                "every camera sensor is disabled in the UEFI settings, or not present",
            );
            for (_, x) in &off {
                o = o.evidence_all(x.evidence.clone());
            }
            return o;
        }
        // Switched off is the person's choice, not the kernel's failure.
        let mut o = Outcome::ok(format!(
            "{} bound",
            results
                .iter()
                .filter(|(_, o)| o.status == Status::Ok)
                .map(|(s, _)| s.role)
                .collect::<Vec<_>>()
                .join(" and ")
        ))
        .evidence_all(ok_ev);
        for (_, x) in &off {
            o = o.evidence_all(x.evidence.clone());
            o.notices.push(x.summary.clone());
        }
        return o;
    }
    let bound = |role: &str| {
        results
            .iter()
            .any(|(s, o)| s.role == role && o.status == Status::Ok)
    };
    let (front, rear) = (bound("front"), bound("rear"));
    // A camera switched off in UEFI is not lost to the kernel.
    let fine = |role: &str| {
        results
            .iter()
            .any(|(s, o)| s.role == role && matches!(o.status, Status::Ok | Status::Absent))
    };
    let only_ir_lost = (front || rear) && fine("front") && fine("rear");
    let mut ctx_ev: Vec<String> = Vec::new();
    if let Some(m) = graph {
        ctx_ev.push(format!(
            "/sys/bus/media/devices/{}/model: {}",
            m.sysname, cam.cio2_media_model
        ));
    }
    if let Some((_, l)) = &connected {
        ctx_ev.push(l.clone());
    }
    let lost: Vec<&str> = bad.iter().map(|(s, _)| s.role).collect();
    let first = &bad[0].1;
    let merged = |o: Outcome| {
        let mut o = o;
        for (_, b) in &bad {
            o = o.evidence_all(b.evidence.clone());
        }
        let mut o = o.evidence_all(ok_ev.clone()).evidence_all(ctx_ev.clone());
        let mut seen = std::collections::BTreeSet::new();
        o.evidence.retain(|e| seen.insert(e.clone()));
        o
    };
    // Whether the bound sensors are usable although another failed: CIO2 registers
    // the sensors' subdevice nodes (`v4l-subdevN`, parent: the I2C client) once its
    // notifier has what it needs; on kernels whose notifier waits for every sensor
    // a single failed probe leaves none, and no camera works (F7).
    let bound_roles = match (front, rear) {
        (true, true) => "front and rear sensors",
        (true, false) => "the front sensor",
        _ => "the rear sensor",
    };
    let mut usable_ev: Vec<String> = Vec::new();
    if front || rear {
        let subdevs = match &c.facts.video {
            Fact::Ok(v) => Some(v.as_slice()),
            Fact::Absent { .. } => Some(&[][..]),
            Fact::Unknown { .. } => None,
        };
        let bound_devs: Vec<&BusDevice> = cam
            .sensors
            .iter()
            .filter_map(|s| match sensor_bound(c, s) {
                (Look::Found(d), true) => Some(d),
                _ => None,
            })
            .collect();
        match subdevs {
            None => {
                return merged(Outcome::unknown(format!(
                    "{} bound, but whether they are usable cannot be told: {}",
                    bound_roles, first.summary
                )))
                .evidence(why(&c.facts.video));
            }
            Some(v) => {
                let with_node: Vec<String> = bound_devs
                    .iter()
                    .filter_map(|d| {
                        v.iter()
                            .find(|n| {
                                n.sysname.starts_with("v4l-subdev")
                                    && n.parent.is_some()
                                    && n.parent == d.path
                            })
                            .map(|n| {
                                format!("/sys/class/video4linux/{} (parent {})", n.sysname, d.name)
                            })
                    })
                    .collect();
                if with_node.is_empty() {
                    let mut o = merged(Outcome::failed(format!(
                        "{}; the bridge waits for every sensor: no bound sensor has its subdevice node, so no camera works",
                        first.summary
                    )))
                    .evidence("/sys/class/video4linux: no v4l-subdev of a bound sensor");
                    if first.hint.is_some() {
                        o.hint = first.hint.clone();
                    }
                    return o;
                }
                usable_ev = with_node;
            }
        }
    }
    if only_ir_lost {
        // Only the infrared OV7251 is lost. Real Surface Book 2s on linux-surface 5.19
        // and 6.0 (hw-probe 79D657BBD855, 5B3E4C5AAEC5) log `ov7251 ... cannot get
        // enable gpio` and `probe of i2c-INT347E:00 failed with error -2` while the
        // front and rear sensors bind: it is the common state. Does the person notice?
        // The IR camera serves only face login (Windows Hello; on Linux howdy, set up
        // by hand); video calls and photos use the front and rear cameras, which work.
        // A person who never set up face login loses nothing they use, so this is ok
        // with a notice, not degraded (rule 4: degraded means a loss they would
        // notice). The notice names the cause the log shows, for those who want it.
        let mut n = first.summary.clone();
        if let Some(h) = &first.hint {
            n.push_str(&format!(" ({h})"));
        }
        let mut o = merged(Outcome::ok(format!(
            "{} bound; the infrared sensor (face login only) is not",
            bound_roles
        )))
        .evidence_all(usable_ev);
        o.notices.push(format!(
            "{n}: the IR camera is lost (face login such as howdy cannot work); front and rear cameras are unaffected"
        ));
        return o;
    }
    if front || rear {
        // One of the cameras people use works; the other is lost: they notice.
        let works = if front { "front" } else { "rear" };
        let mut o = merged(Outcome::degraded(format!(
            "the {works} camera works; lost: {} ({})",
            lost.join(", "),
            first.summary
        )))
        .evidence_all(usable_ev);
        if first.hint.is_some() {
            o.hint = first.hint.clone();
        }
        return o;
    }
    let mut o = merged(Outcome::failed(format!(
        "no front or rear camera sensor is bound: {}",
        first.summary
    )));
    if first.hint.is_some() {
        o.hint = first.hint.clone();
    }
    o
}

/// Where the ImgU firmware was found, under any of its names.
fn imgu_firmware(c: &Ctx) -> Option<String> {
    let fw = &c.facts.firmware;
    c.profile
        .camera
        .firmware
        .iter()
        .find_map(|f| fw.files.get(*f).cloned().flatten())
}

fn firmware(c: &Ctx) -> Outcome {
    let fw = &c.facts.firmware;
    let imgu = &c.profile.camera.imgu;
    if let Some(p) = imgu_firmware(c) {
        return Outcome::ok(format!("ImgU firmware found at {p}")).evidence(p);
    }
    // ImgU loads the firmware in its probe: bound, or the log's `loaded firmware
    // version irci_` line, shows it has it (from the initrd, or built into the
    // kernel), wherever the files searched here are.
    let loaded = c.log_lines(&["loaded firmware version irci_"]);
    if !loaded.is_empty() {
        return Outcome::ok("the kernel log shows the ImgU firmware loaded")
            .evidence_all(loaded)
            .evidence(format!("searched: {}", fw.search.join(", ")));
    }
    if let Look::Found(d) = c.pci(imgu)
        && d.driver.as_deref() == Some(imgu.driver)
    {
        return Outcome::ok(
            "ImgU is bound, so it loaded its firmware (not in the directories searched: from the initrd or built in)",
        )
        .evidence(format!(
            "/sys/bus/pci/devices/{}/driver -> {}",
            d.name, imgu.driver
        ))
        .evidence(format!("searched: {}", fw.search.join(", ")));
    }
    let o = Outcome::failed("the ImgU firmware intel/ipu3-fw.bin is not in any firmware directory")
        .evidence(format!("searched: {}", fw.search.join(", ")))
        .evidence_all(c.log_lines(&["ipu3-fw.bin"]))
        .evidence_all(c.log_lines(&[
            imgu.slot.trim_start_matches("0000:"),
            "failed with error -2",
        ]));
    if c.facts.os.is_nixos {
        o.hint("Set `hardware.enableRedistributableFirmware = true;` (or add linux-firmware to hardware.firmware), rebuild and reboot.")
    } else {
        o
    }
}

fn nodes(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    match &c.facts.media {
        Fact::Ok(_) | Fact::Absent { .. } => {}
        f => return Outcome::unknown("cannot list media devices").evidence(why(f)),
    }
    let Some(m) = cio2_graph(c) else {
        return Outcome::failed("CIO2 is bound but registered no media graph")
            .evidence(format!(
                "/sys/bus/media/devices: no model \"{}\"",
                cam.cio2_media_model
            ))
            .hint("The cause is not shown: `journalctl -k -b | grep -i ipu3-cio2` would tell.");
    };
    let sys = format!("/sys/bus/media/devices/{}", m.sysname);
    match c.node(&format!("/dev/{}", m.sysname), &m.node, &sys) {
        NodeSeen::Ok(_) => {}
        NodeSeen::Unknown(u) => {
            return Outcome::unknown(format!("cannot stat /dev/{}", m.sysname)).evidence(u);
        }
        NodeSeen::Missing(e) | NodeSeen::Wrong(e) => {
            return Outcome::failed(format!("/dev/{} is missing or not a device node", m.sysname))
                .evidence(e)
                .evidence(sys)
                .hint(format!("udev did not create the node: check `udevadm info /dev/{}` and that systemd-udevd runs.", m.sysname));
        }
    }
    let video = match &c.facts.video {
        Fact::Ok(v) => v.as_slice(),
        Fact::Absent { .. } => &[],
        f => {
            return Outcome::unknown("cannot list the video nodes").evidence(why(f));
        }
    };
    let cio2_video: Vec<_> = video
        .iter()
        .filter(|v| v.name.ok().is_some_and(|n| n.starts_with("ipu3-cio2")))
        .collect();
    let mut bad = Vec::new();
    for v in &cio2_video {
        let sys = format!("/sys/class/video4linux/{}", v.sysname);
        match c.node(&format!("/dev/{}", v.sysname), &v.node, &sys) {
            NodeSeen::Missing(e) | NodeSeen::Wrong(e) => bad.push(e),
            NodeSeen::Ok(_) | NodeSeen::Unknown(_) => {}
        }
    }
    if cio2_video.is_empty() {
        Outcome::failed("the CIO2 media graph has no video nodes")
            .evidence("/sys/class/video4linux: no ipu3-cio2 node")
            .hint("The cause is not shown: `journalctl -k -b | grep -i ipu3-cio2` would tell.")
    } else if !bad.is_empty() {
        Outcome::failed(format!("video nodes missing in /dev: {}", bad.join(", ")))
            .evidence_all(bad)
            .hint("udev did not create the nodes: check that systemd-udevd runs and `udevadm trigger --subsystem-match=video4linux`.")
    } else {
        Outcome::ok(format!(
            "{} ({}) with {} CIO2 video nodes",
            m.sysname,
            cam.cio2_media_model,
            cio2_video.len()
        ))
        .evidence(format!("{sys}/model"))
    }
}

// ---- the media graph (MEDIA_IOC_G_TOPOLOGY) -------------------------------------

/// `MEDIA_ENT_F_CAM_SENSOR` (include/uapi/linux/media.h).
const ENT_F_CAM_SENSOR: u32 = 0x0002_0001;
/// `MEDIA_PAD_FL_SINK`, `MEDIA_PAD_FL_SOURCE`.
const PAD_FL_SINK: u32 = 1;
const PAD_FL_SOURCE: u32 = 2;
/// `MEDIA_LNK_FL_ENABLED`, `MEDIA_LNK_FL_IMMUTABLE`.
const LNK_FL_ENABLED: u32 = 1;
const LNK_FL_IMMUTABLE: u32 = 2;
/// `MEDIA_LNK_FL_LINK_TYPE` and its values.
const LNK_FL_LINK_TYPE: u32 = 0xf << 28;
const LNK_FL_DATA_LINK: u32 = 0;
const LNK_FL_INTERFACE_LINK: u32 = 1 << 28;
/// `MEDIA_INTF_T_V4L_SUBDEV`.
const INTF_T_V4L_SUBDEV: u32 = 0x203;

/// The CIO2 media device: by the model sysfs shows, else by what the device itself
/// answered (`MEDIA_IOC_DEVICE_INFO`), else by its parent, the CIO2 PCI function.
fn cio2_media<'a>(c: &Ctx<'a>) -> Option<&'a MediaDevice> {
    let cam = &c.profile.camera;
    let media = c.facts.media.ok()?;
    cio2_graph(c)
        .or_else(|| {
            media.iter().find(|m| {
                m.info
                    .ok()
                    .is_some_and(|i| i.driver == cam.cio2.driver || i.model == cam.cio2_media_model)
            })
        })
        .or_else(|| {
            let slot = format!("/{}", cam.cio2.slot);
            media
                .iter()
                .find(|m| m.parent.as_deref().is_some_and(|p| p.ends_with(&slot)))
        })
}

/// The I2C adapter number of a client (`.../i2c-2/i2c-INT33BE:00` -> 2), which
/// the sensor's entity name carries (`ov5693 2-0036`).
fn i2c_adapter(d: &BusDevice) -> Option<u32> {
    d.path
        .as_deref()?
        .split('/')
        .rev()
        .skip(1)
        .find_map(|seg| seg.strip_prefix("i2c-")?.parse().ok())
}

/// How one bound sensor sits in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SensorLink {
    /// Linked to a CSI-2 receiver: (sensor entity, receiver entity, link enabled).
    Linked(String, String, bool),
    /// An entity, without a usable link to a receiver: (entity, what is wrong).
    Unlinked(String, String),
    /// Bound, but no entity of the graph.
    NoEntity,
}

/// A read-only view of a media topology with lookups by id.
struct Graph<'t> {
    t: &'t MediaTopology,
    entities: BTreeMap<u32, &'t MediaEntity>,
    pads: BTreeMap<u32, &'t MediaPad>,
}

impl<'t> Graph<'t> {
    fn new(t: &'t MediaTopology) -> Graph<'t> {
        Graph {
            t,
            entities: t.entities.iter().map(|e| (e.id, e)).collect(),
            pads: t.pads.iter().map(|p| (p.id, p)).collect(),
        }
    }

    fn data_links(&self) -> impl Iterator<Item = &'t MediaLink> + '_ {
        self.t
            .links
            .iter()
            .filter(|l| l.flags & LNK_FL_LINK_TYPE == LNK_FL_DATA_LINK)
    }

    /// The entity a data link's pad belongs to.
    fn pad_entity(&self, pad: u32) -> Option<(&'t MediaPad, &'t MediaEntity)> {
        let p = self.pads.get(&pad)?;
        Some((p, self.entities.get(&p.entity_id)?))
    }

    fn is_receiver(e: &MediaEntity, prefix: &str) -> bool {
        e.name.starts_with(prefix)
    }

    /// The sensor entity named `<driver> <adapter>-<addr>`: a camera sensor entity
    /// first, any entity of that name otherwise.
    fn sensor(&self, driver: &str, adapter: Option<u32>) -> Option<&'t MediaEntity> {
        let prefix = match adapter {
            Some(n) => format!("{driver} {n}-"),
            None => format!("{driver} "),
        };
        let named = || {
            self.t
                .entities
                .iter()
                .filter(|e| e.name.starts_with(&prefix))
        };
        named()
            .find(|e| e.function == ENT_F_CAM_SENSOR)
            .or_else(|| named().next())
    }

    /// Where the sensor `e`'s source pads lead.
    fn sensor_link(&self, e: &MediaEntity, receiver: &str) -> SensorLink {
        let mut to_receiver: Vec<(&MediaLink, &MediaEntity)> = Vec::new();
        let mut elsewhere = 0usize;
        for l in self.data_links() {
            let Some((sp, se)) = self.pad_entity(l.source_id) else {
                continue;
            };
            if se.id != e.id || sp.flags & PAD_FL_SOURCE == 0 {
                continue;
            }
            match self.pad_entity(l.sink_id) {
                Some((kp, ke))
                    if kp.flags & PAD_FL_SINK != 0 && Self::is_receiver(ke, receiver) =>
                {
                    to_receiver.push((l, ke))
                }
                _ => elsewhere += 1,
            }
        }
        // Enabled, or enableable (not enabled, not immutable: libcamera enables it).
        let usable =
            |l: &MediaLink| l.flags & LNK_FL_ENABLED != 0 || l.flags & LNK_FL_IMMUTABLE == 0;
        if let Some((l, r)) = to_receiver
            .iter()
            .find(|(l, _)| l.flags & LNK_FL_ENABLED != 0)
            .or_else(|| to_receiver.iter().find(|(l, _)| usable(l)))
        {
            return SensorLink::Linked(
                e.name.clone(),
                r.name.clone(),
                l.flags & LNK_FL_ENABLED != 0,
            );
        }
        let why = match (to_receiver.first(), elsewhere) {
            (Some((_, r)), _) => format!(
                "its link to {} is disabled and immutable: it cannot be enabled",
                r.name
            ),
            (None, 0) => format!("has no link to an {receiver} receiver"),
            (None, n) => {
                format!("has no link to an {receiver} receiver ({n} data link(s) lead elsewhere)")
            }
        };
        SensorLink::Unlinked(e.name.clone(), why)
    }

    /// How many data links touch entity `id`.
    fn data_links_of(&self, id: u32) -> usize {
        self.data_links()
            .filter(|l| {
                [l.source_id, l.sink_id]
                    .iter()
                    .any(|p| self.pads.get(p).is_some_and(|p| p.entity_id == id))
            })
            .count()
    }

    /// How many data links end at a sink pad of entity `id`.
    fn sink_links_of(&self, id: u32) -> usize {
        self.data_links()
            .filter(|l| {
                self.pads
                    .get(&l.sink_id)
                    .is_some_and(|p| p.entity_id == id && p.flags & PAD_FL_SINK != 0)
            })
            .count()
    }

    /// The receivers, each with whether an interface (a `v4l-subdev` node) links to it.
    fn receivers(&self, prefix: &str) -> Vec<(&'t MediaEntity, bool)> {
        let subdev_intfs: BTreeSet<u32> = self
            .t
            .interfaces
            .iter()
            .filter(|i| i.intf_type == INTF_T_V4L_SUBDEV)
            .map(|i| i.id)
            .collect();
        self.t
            .entities
            .iter()
            .filter(|e| Self::is_receiver(e, prefix))
            .map(|e| {
                let node = self.t.links.iter().any(|l| {
                    l.flags & LNK_FL_LINK_TYPE == LNK_FL_INTERFACE_LINK
                        && l.sink_id == e.id
                        && subdev_intfs.contains(&l.source_id)
                });
                (e, node)
            })
            .collect()
    }
}

/// The CIO2 video nodes' answers to `VIDIOC_QUERYCAP`, as evidence.
fn cio2_video_caps(c: &Ctx) -> Vec<String> {
    let Fact::Ok(video) = &c.facts.video else {
        return Vec::new();
    };
    video
        .iter()
        .filter(|v| {
            v.name
                .ok()
                .is_some_and(|n| n.starts_with(c.profile.camera.cio2.driver))
        })
        .filter_map(|v| {
            let caps = v.caps.ok()?;
            let what: Vec<&str> = [(caps.capture, "capture"), (caps.streaming, "streaming")]
                .into_iter()
                .map(|(on, name)| if on { name } else { "" })
                .filter(|s| !s.is_empty())
                .collect();
            Some(format!(
                "/dev/{}: VIDIOC_QUERYCAP driver {}, card {:?}: {}",
                v.sysname,
                caps.driver,
                caps.card,
                if what.is_empty() {
                    "neither capture nor streaming".to_string()
                } else {
                    what.join(" and ")
                }
            ))
        })
        .collect()
}

/// The bound sensors, with their I2C clients.
fn bound_sensors<'a>(c: &Ctx<'a>) -> Vec<(&'a Sensor, &'a BusDevice)> {
    c.profile
        .camera
        .sensors
        .iter()
        .filter_map(|s| match sensor_bound(c, s) {
            (Look::Found(d), true) => Some((s, d)),
            _ => None,
        })
        .collect()
}

/// The fix for a graph whose sensors joined without links, from this kernel: a
/// loadable CIO2 can be reloaded now that the sensors are there; a built-in one
/// cannot.
fn graph_regression_fix(c: &Ctx) -> String {
    let cio2 = drv(&c.profile.camera.cio2);
    let other_kernel = "boot a kernel without the regression (linux-surface 6.18.8 worked in linux-surface#2188) until a fixed one is released";
    match c.kernel_has(&cio2) {
        Has::Module(_) => format!(
            "Reload CIO2 now that the sensors are bound, so that its notifier links them: `modprobe -r {0} && modprobe {0}`, then `cam --list`; if the links stay missing, {other_kernel}.",
            cio2.module
        ),
        Has::Builtin(e) => format!(
            "{} is built into this kernel ({e}), so it cannot be reloaded: {other_kernel}.",
            cio2.module
        ),
        Has::No(_) | Has::Unknown(_) => format!(
            "If {0} is a module, reload it now that the sensors are bound (`modprobe -r {0} && modprobe {0}`); otherwise {other_kernel}.",
            cio2.module
        ),
    }
}

fn graph(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let bound = bound_sensors(c);
    if bound.is_empty() {
        let all_off = cam.sensors.iter().all(|s| {
            matches!(c.by_hid("i2c", s.hid), Look::Missing(_))
                && sensor_switched_off(c, s).is_some()
        });
        if all_off {
            return Outcome::absent(
                "every camera sensor is disabled in the UEFI settings, or not present: no link to look for",
            );
        }
        return Outcome::unknown(
            "no sensor is bound (see camera.sensors): no link to look for in the media graph",
        );
    }
    match &c.facts.media {
        Fact::Ok(_) | Fact::Absent { .. } => {}
        f => return Outcome::unknown("cannot list media devices").evidence(why(f)),
    }
    let Some(m) = cio2_media(c) else {
        return Outcome::unknown("no CIO2 media graph to read (see camera.nodes)").evidence(
            format!(
                "/sys/bus/media/devices: no model \"{}\"",
                cam.cio2_media_model
            ),
        );
    };
    let dev = format!("/dev/{}", m.sysname);
    let topo = match &m.topology {
        Fact::Ok(t) => t,
        f => {
            // Files cannot show the links: camera.sensors and camera.nodes judge what
            // they show, and this link says what was not read.
            let reason = f.failure().and_then(|(_, r)| r).unwrap_or("not found");
            let act = if reason == ReadError::PermissionDenied.to_string() {
                "run surface-check as root to read it"
            } else if reason == ReadError::NotLive.to_string() {
                "run `surface-check status` on the machine itself, as root, to read it"
            } else {
                "`media-ctl -d DEV -p` shows it"
            }
            .replace("DEV", &dev);
            return Outcome::ok(format!(
                "not confirmed: the media graph of {dev} was not read ({reason}); camera.sensors and camera.nodes judge from sysfs"
            ))
            .evidence(why(f))
            .evidence_all(cio2_video_caps(c))
            .notice(format!(
                "whether each bound sensor is linked to a CSI-2 receiver cannot be told without the media graph ({reason}): {act}"
            ));
        }
    };
    let g = Graph::new(topo);
    let results: Vec<(&Sensor, &BusDevice, SensorLink)> = bound
        .iter()
        .map(|(s, d)| {
            let link = match g.sensor(s.driver.driver, i2c_adapter(d)) {
                Some(e) => g.sensor_link(e, cam.csi2_entity),
                None => SensorLink::NoEntity,
            };
            (*s, *d, link)
        })
        .collect();
    let mut ev: Vec<String> = Vec::new();
    let mut linked: Vec<&Sensor> = Vec::new();
    let mut lost: Vec<(&Sensor, String)> = Vec::new();
    for (s, d, l) in &results {
        match l {
            SensorLink::Linked(e, r, enabled) => {
                linked.push(s);
                ev.push(format!(
                    "{dev}: {e} -> {r} ({})",
                    if *enabled {
                        "enabled"
                    } else {
                        "not enabled, not immutable: enabled when streaming"
                    }
                ));
            }
            SensorLink::Unlinked(e, why) => {
                let text = format!("{e} {why}");
                ev.push(format!(
                    "{dev}: {e}: {} data link(s)",
                    g.entities
                        .values()
                        .find(|x| &x.name == e)
                        .map_or(0, |x| g.data_links_of(x.id))
                ));
                lost.push((s, text));
            }
            SensorLink::NoEntity => lost.push((
                s,
                format!(
                    "{} ({} -> {}) is bound but is no entity of the graph",
                    s.driver.driver, d.name, s.driver.driver
                ),
            )),
        }
    }
    ev.push(format!(
        "{dev}: MEDIA_IOC_G_TOPOLOGY: {} entities, {} data links",
        topo.entities.len(),
        g.data_links().count()
    ));
    let receivers = g.receivers(cam.csi2_entity);
    let nodeless: Vec<&str> = receivers
        .iter()
        .filter(|(_, node)| !node)
        .map(|(e, _)| e.name.as_str())
        .collect();
    if !nodeless.is_empty() {
        ev.push(format!(
            "{dev}: no device node (v4l-subdev interface) for {}",
            nodeless.join(", ")
        ));
    }
    ev.extend(cio2_video_caps(c));
    if lost.is_empty() {
        return Outcome::ok(format!(
            "every bound sensor is linked to a CSI-2 receiver: {}",
            linked
                .iter()
                .map(|s| s.driver.driver)
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .evidence_all(ev);
    }
    ev.extend(connected_cameras(c).map(|(_, l)| l));
    let lost_text = lost
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    // The linux-surface 6.19 state (#2188, #2220): the sensors are entities of the
    // graph, none has a data link, and no receiver has one either.
    let regression = linked.is_empty()
        && results.iter().all(|(_, _, l)| match l {
            SensorLink::Unlinked(e, _) => g
                .entities
                .values()
                .find(|x| &x.name == e)
                .is_some_and(|x| g.data_links_of(x.id) == 0),
            _ => false,
        })
        && receivers.iter().all(|(e, _)| g.sink_links_of(e.id) == 0);
    if regression && let Some(r) = c.facts.kernel.release.ok() {
        ev.push(format!("/proc/sys/kernel/osrelease: {r}"));
    }
    let people = |s: &Sensor| s.role == "front" || s.role == "rear";
    let o = if lost.iter().all(|(s, _)| !people(s)) {
        // Only the infrared sensor: face login only (see camera.sensors).
        return Outcome::ok(format!(
            "{} linked to a CSI-2 receiver; the infrared sensor (face login only) is not",
            linked.iter().map(|s| s.driver.driver).collect::<Vec<_>>().join(", ")
        ))
        .evidence_all(ev)
        .notice(format!(
            "{lost_text}: the IR camera cannot be used (face login such as howdy cannot work); front and rear cameras are unaffected"
        ));
    } else if linked.iter().any(|s| people(s)) {
        let works: Vec<&str> = linked
            .iter()
            .filter(|s| people(s))
            .map(|s| s.role)
            .collect();
        Outcome::degraded(format!(
            "the {} camera is linked; no application sees the others: {lost_text}",
            works.join(" and ")
        ))
    } else if regression {
        let names: Vec<&str> = results
            .iter()
            .filter_map(|(_, _, l)| match l {
                SensorLink::Unlinked(e, _) => Some(e.as_str()),
                _ => None,
            })
            .collect();
        let (verb, names) = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                ("have", format!("{} and {last}", rest.join(", ")))
            }
            _ => ("has", names.join("")),
        };
        Outcome::failed(format!(
            "no camera works: {names} {verb} no link to an {} receiver; the sensors joined the graph without links, as in the linux-surface 6.19 regression (linux-surface#2188)",
            cam.csi2_entity
        ))
    } else {
        Outcome::failed(format!("no camera works: {lost_text}"))
    };
    let hint = if regression {
        graph_regression_fix(c)
    } else {
        format!(
            "The cause is not shown: `media-ctl -d {dev} -p` shows the graph, and `journalctl -k -b | grep -i -e ipu3-cio2 -e ipu_bridge` what CIO2 logged while linking."
        )
    };
    o.evidence_all(ev).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::MediaInterface;

    fn topo(links: &[(u32, u32, u32)]) -> MediaTopology {
        let e = |id, name: &str, function| MediaEntity {
            id,
            name: name.into(),
            function,
            flags: 0,
        };
        let p = |id, entity_id, flags| MediaPad {
            id,
            entity_id,
            flags,
            index: 0,
        };
        MediaTopology {
            version: 1,
            entities: vec![
                e(1, "ipu3-csi2 0", 0x4002),
                e(2, "ipu3-cio2 0", 0x1_0001),
                e(41, "ov5693 2-0036", ENT_F_CAM_SENSOR),
            ],
            interfaces: vec![MediaInterface {
                id: 9,
                intf_type: INTF_T_V4L_SUBDEV,
                major: 81,
                minor: 3,
            }],
            pads: vec![
                p(10, 1, PAD_FL_SINK),
                p(11, 1, PAD_FL_SOURCE),
                p(20, 2, PAD_FL_SINK),
                p(42, 41, PAD_FL_SOURCE),
            ],
            links: links
                .iter()
                .enumerate()
                .map(|(i, &(source_id, sink_id, flags))| MediaLink {
                    id: 100 + i as u32,
                    source_id,
                    sink_id,
                    flags,
                })
                .collect(),
        }
    }

    fn link_of(t: &MediaTopology) -> SensorLink {
        let g = Graph::new(t);
        let s = g.sensor("ov5693", Some(2)).expect("the sensor entity");
        g.sensor_link(s, "ipu3-csi2")
    }

    #[test]
    fn a_sensor_link_counts_when_enabled_or_enableable_never_when_locked_off() {
        let name = || "ov5693 2-0036".to_string();
        let csi = || "ipu3-csi2 0".to_string();
        assert_eq!(
            link_of(&topo(&[(42, 10, LNK_FL_ENABLED)])),
            SensorLink::Linked(name(), csi(), true)
        );
        assert_eq!(
            link_of(&topo(&[(42, 10, 0)])),
            SensorLink::Linked(name(), csi(), false)
        );
        let SensorLink::Unlinked(_, why) = link_of(&topo(&[(42, 10, LNK_FL_IMMUTABLE)])) else {
            panic!("a disabled immutable link is no link");
        };
        assert!(why.contains("disabled and immutable"), "{why}");
        // A link into the receiver's source pad, or to another entity, is no link.
        let SensorLink::Unlinked(_, why) = link_of(&topo(&[(42, 20, LNK_FL_ENABLED)])) else {
            panic!("a link elsewhere is no link to a receiver");
        };
        assert!(why.contains("1 data link(s) lead elsewhere"), "{why}");
        // An interface link is not a data link.
        let t = topo(&[(9, 41, LNK_FL_INTERFACE_LINK | LNK_FL_ENABLED)]);
        assert!(matches!(link_of(&t), SensorLink::Unlinked(..)));
        // A sensor on another adapter is another sensor.
        assert!(Graph::new(&t).sensor("ov5693", Some(3)).is_none());
    }

    #[test]
    fn receivers_know_their_subdevice_node_and_sink_links() {
        let t = topo(&[(9, 1, LNK_FL_INTERFACE_LINK | 3), (11, 20, 3)]);
        let g = Graph::new(&t);
        let r = g.receivers("ipu3-csi2");
        assert_eq!(r.len(), 1);
        assert!(r[0].1, "the interface link gives the receiver its node");
        // The receiver -> video link leaves from its source pad: no sink link.
        assert_eq!(g.sink_links_of(1), 0);
        assert_eq!(g.data_links_of(1), 1);
        let t = topo(&[(42, 10, 0)]);
        let g = Graph::new(&t);
        assert!(!g.receivers("ipu3-csi2")[0].1);
        assert_eq!(g.sink_links_of(1), 1);
    }

    #[test]
    fn the_i2c_adapter_comes_from_the_client_path() {
        let d = |path: &str| BusDevice {
            name: "i2c-INT33BE:00".into(),
            path: Some(path.into()),
            driver: None,
            attrs: Default::default(),
            children: Vec::new(),
            unreadable: Default::default(),
        };
        let p = "/sys/devices/pci0000:00/0000:00:15.2/i2c_designware.2/i2c-2/i2c-INT33BE:00";
        assert_eq!(i2c_adapter(&d(p)), Some(2));
        assert_eq!(i2c_adapter(&d("/sys/devices/x/i2c-INT33BE:00")), None);
    }
}
