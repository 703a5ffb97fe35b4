//! Cameras: IPU3 CIO2 and ImgU -> bridge -> INT3472 -> three sensors -> firmware ->
//! media graph.

use super::ctx::{Ctx, Has, Look};
use super::{CheckDef, Outcome, SubsystemDef};
use crate::facts::Fact;
use crate::profiles::{Driver, PciFn};
use crate::root::NodeKind;

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
            basis: &[],
            proven_by: "",
            captured: "",
            run: pci,
        },
        CheckDef {
            id: "camera.atomisp",
            title: "No atomisp conflict",
            verifies: "The atomisp staging driver is not loaded.",
            rationale: "atomisp claims the same OV5693 sensor on some kernels and keeps the IPU3 pipeline from binding it.",
            fix: "Blacklist it: add `blacklist atomisp` to /etc/modprobe.d/ (NixOS: `boot.blacklistedKernelModules = [ \"atomisp\" ];`).",
            requires: &[],
            basis: &[],
            proven_by: "",
            captured: "",
            run: atomisp,
        },
        CheckDef {
            id: "camera.cio2",
            title: "CIO2 driver",
            verifies: "The CIO2 function is bound to ipu3-cio2 (CONFIG_VIDEO_IPU3_CIO2).",
            rationale: "CIO2 receives the sensors' CSI-2 streams; without it no camera exists.",
            fix: "Enable CONFIG_VIDEO_IPU3_CIO2 and load `ipu3_cio2`.",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: cio2,
        },
        CheckDef {
            id: "camera.imgu",
            title: "ImgU driver",
            verifies: "The ImgU function is bound to ipu3-imgu (CONFIG_VIDEO_IPU3_IMGU, staging).",
            rationale: "libcamera's IPU3 pipeline needs the ImgU to process raw frames.",
            fix: "Enable CONFIG_VIDEO_IPU3_IMGU (staging) and load `ipu3_imgu`.",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: imgu,
        },
        CheckDef {
            id: "camera.bridge",
            title: "IPU bridge",
            verifies: "The kernel has the IPU bridge (CONFIG_IPU_BRIDGE, formerly CIO2_BRIDGE) that builds the sensor graph from ACPI.",
            rationale: "Without the bridge CIO2 finds no sensor on ACPI machines like the Surface Book 2.",
            fix: "Enable CONFIG_IPU_BRIDGE (linux-surface kernels do).",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: bridge,
        },
        CheckDef {
            id: "camera.int3472",
            title: "Camera power controller (INT3472)",
            verifies: "The INT3472 camera PMIC device is bound to int3472-tps68470 or int3472-discrete.",
            rationale: "INT3472 powers and clocks the sensors; sensors cannot probe without it.",
            fix: "Enable CONFIG_INTEL_SKL_INT3472 and its TPS68470 regulator/clock drivers (CONFIG_REGULATOR_TPS68470, CONFIG_COMMON_CLK_TPS68470).",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: int3472,
        },
        CheckDef {
            id: "camera.sensors",
            title: "Camera sensors",
            verifies: "All three sensors are bound: OV5693 front (INT33BE), OV8865 rear (INT347A), OV7251 infrared (INT347E).",
            rationale: "The bridge waits for every sensor: one sensor that fails to probe hides all cameras.",
            fix: "Enable CONFIG_VIDEO_OV5693, CONFIG_VIDEO_OV8865 and CONFIG_VIDEO_OV7251, and read `journalctl -k -b | grep -i -e ov5693 -e ov8865 -e ov7251 -e int3472`.",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: sensors,
        },
        CheckDef {
            id: "camera.firmware",
            title: "ImgU firmware",
            verifies: "The ImgU firmware `intel/ipu3-fw.bin` (or its irci_ name, possibly .zst/.xz) is in a firmware directory the kernel searches.",
            rationale: "Without it the ImgU cannot start and libcamera shows no camera.",
            fix: "Install linux-firmware (Debian: firmware-misc-nonfree; NixOS: `hardware.enableRedistributableFirmware = true;`).",
            requires: &["camera.pci"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: firmware,
        },
        CheckDef {
            id: "camera.nodes",
            title: "Media graph and video nodes",
            verifies: "The CIO2 media device (`Intel IPU3 CIO2`) and its video nodes exist with device nodes in /dev.",
            rationale: "Applications and libcamera open these nodes.",
            fix: "A missing media graph with everything bound means a sensor failed late: read `journalctl -k -b | grep -i ipu3`.",
            requires: &["camera.cio2"],
            basis: &[],
            proven_by: "",
            captured: "",
            run: nodes,
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

fn pci(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let (cio2, imgu) = (c.pci(&cam.cio2), c.pci(&cam.imgu));
    match (&cio2, &imgu) {
        (Look::Unknown(u), _) | (_, Look::Unknown(u)) => {
            Outcome::unknown("cannot list PCI devices").evidence(u.clone())
        }
        (Look::Found(a), Look::Found(b)) => Outcome::ok("CIO2 and ImgU present")
            .evidence(format!("/sys/bus/pci/devices/{}", a.name))
            .evidence(format!("/sys/bus/pci/devices/{}", b.name)),
        (Look::Missing(m), Look::Missing(_)) => {
            let i2c_gone = cam
                .i2c_controllers
                .iter()
                .all(|slot| matches!(c.find_dev("pci", |d| d.name == *slot), Look::Missing(_)));
            let o = Outcome::absent(if i2c_gone {
                "cameras are disabled in the UEFI settings (IPU3 functions and camera I2C controllers absent)"
            } else {
                "the IPU3 PCI functions are absent (cameras disabled in the UEFI settings?)"
            })
            .evidence(format!("{m}: no 8086:9d32 or 8086:1919"));
            o.hint("Enable the cameras in the UEFI settings if you want them.")
        }
        (Look::Found(_), Look::Missing(m)) => {
            Outcome::failed("CIO2 is present but the ImgU function is missing")
                .evidence(format!("{m}: no 8086:1919"))
        }
        (Look::Missing(m), Look::Found(_)) => {
            Outcome::failed("ImgU is present but the CIO2 function is missing")
                .evidence(format!("{m}: no 8086:9d32"))
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
            match c.by_hid("i2c", front.hid) {
                Look::Found(d) if d.driver.as_deref() == Some(front.driver.driver) => Outcome::ok(
                    format!("atomisp is loaded but {} is bound to {}", d.name, front.driver.driver),
                )
                .evidence(ev),
                Look::Found(d) => Outcome::failed(format!(
                    "atomisp is loaded and {} is {}: atomisp keeps the IPU3 pipeline from the sensor",
                    d.name,
                    d.driver
                        .as_deref()
                        .map(|x| format!("bound to {x}"))
                        .unwrap_or_else(|| "unbound".into())
                ))
                .evidence(ev),
                _ => Outcome::failed("atomisp is loaded and the front sensor has no I2C client")
                    .evidence(ev),
            }
        }
        f => Outcome::unknown("cannot read loaded modules").evidence(super::ctx::why(f)),
    }
}

fn cio2(c: &Ctx) -> Outcome {
    let f = &c.profile.camera.cio2;
    c.link_bound("pci", c.pci(f), &drv(f), "CIO2")
}

fn imgu(c: &Ctx) -> Outcome {
    let f = &c.profile.camera.imgu;
    let o = c.link_bound("pci", c.pci(f), &drv(f), "ImgU");
    // ImgU loads its firmware in its probe: a probe that failed while the firmware is
    // missing failed for the firmware, which camera.firmware names.
    if o.status == crate::report::Status::Failed
        && let Look::Found(d) = c.pci(f)
        && d.driver.is_none()
        && c.driver_registered("pci", f.driver) == Some(true)
        && imgu_firmware(c).is_none()
    {
        return Outcome::unknown(format!(
            "ImgU: {} is not bound: its probe loads the firmware, which is missing (see camera.firmware)",
            d.name
        ))
        .evidence_all(o.evidence)
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
    c.link_kernel_has(b, "IPU bridge")
}

fn int3472(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    // How many INT3472 devices a Surface Book 2 has, and of which variant, is not
    // verified: judge them all, and fail only when none is bound.
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
    let is_int3472 = |d: &crate::facts::BusDevice| {
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
    match (bound.is_empty(), unbound.first()) {
        (false, _) => {
            let mut o = Outcome::ok(format!("{} bound", bound.join(", "))).evidence_all(bound);
            for (_, d) in &unbound {
                o = o.evidence(format!(
                    "{} not bound (the sensors decide whether it matters)",
                    d.name
                ));
            }
            o
        }
        (true, Some((bus, d))) => {
            let want = if *bus == "i2c" {
                &cam.int3472[0]
            } else {
                &cam.int3472[1]
            };
            c.unbound(bus, d, want, "INT3472")
        }
        (true, None) => {
            Outcome::failed("no INT3472 device: the camera power controller was not enumerated")
                .evidence("/sys/bus/i2c/devices, /sys/bus/platform/devices: no INT3472")
        }
    }
}

fn sensors(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let mut ok = Vec::new();
    let mut first_bad: Option<Outcome> = None;
    for s in cam.sensors {
        let what = format!("{} camera {}", s.role, s.chip);
        let o = match c.by_hid("i2c", s.hid) {
            Look::Missing(m) => match c.by_hid("acpi", s.hid) {
                Look::Found(a) => Outcome::failed(format!(
                    "{what}: ACPI device {} exists but no I2C client was created (INT3472 or ACPI dependency not ready)",
                    a.name
                ))
                .evidence(format!("{m}: no i2c-{}:00", s.hid)),
                _ => Outcome::failed(format!("{what}: no I2C client i2c-{}:00", s.hid)).evidence(m),
            },
            dev => match c.kernel_has(&s.driver) {
                Has::No(e) => Outcome::failed(format!(
                    "{what}: the kernel has no {} driver (CONFIG_{})",
                    s.driver.module, s.driver.config
                ))
                .evidence(e),
                _ => c.link_bound("i2c", dev, &s.driver, &what),
            },
        };
        if o.status == crate::report::Status::Ok {
            ok.extend(o.evidence);
        } else if first_bad.is_none() {
            first_bad = Some(o);
        }
    }
    match first_bad {
        None => Outcome::ok("front, rear and infrared sensors bound").evidence_all(ok),
        Some(mut o) => {
            if o.status == crate::report::Status::Failed {
                o.summary.push_str("; one failed sensor hides every camera");
            }
            o.evidence_all(ok)
        }
    }
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
    match imgu_firmware(c) {
        Some(p) => Outcome::ok(format!("ImgU firmware found at {p}")).evidence(p),
        // ImgU loads the firmware in its probe: bound, it has it (from the initrd, or
        // built into the kernel), wherever the files searched here are.
        None => {
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
            let mut o = Outcome::failed(
                "the ImgU firmware intel/ipu3-fw.bin is not in any firmware directory",
            )
            .evidence(format!("searched: {}", fw.search.join(", ")));
            if c.facts.os.is_nixos {
                o = o.hint("Set `hardware.enableRedistributableFirmware = true;` (or add linux-firmware to hardware.firmware), rebuild and reboot.");
            }
            o
        }
    }
}

fn nodes(c: &Ctx) -> Outcome {
    let cam = &c.profile.camera;
    let media = match &c.facts.media {
        Fact::Ok(m) => m.as_slice(),
        Fact::Absent { .. } => &[],
        f => return Outcome::unknown("cannot list media devices").evidence(super::ctx::why(f)),
    };
    let Some(m) = media
        .iter()
        .find(|m| m.model.ok().is_some_and(|x| x == cam.cio2_media_model))
    else {
        return Outcome::failed(
            "CIO2 is bound but registered no media graph: a sensor failed to probe",
        )
        .evidence(format!(
            "/sys/bus/media/devices: no model \"{}\"",
            cam.cio2_media_model
        ));
    };
    if !matches!(m.node, Fact::Ok(NodeKind::CharDevice { .. })) {
        return Outcome::failed(format!("/dev/{} is missing or not a device node", m.sysname))
            .evidence(super::ctx::why(&m.node))
            .hint("udev did not create the node: check `udevadm info /dev/{media}` and that systemd-udevd runs.");
    }
    let video = match &c.facts.video {
        Fact::Ok(v) => v.as_slice(),
        _ => &[],
    };
    let cio2_video: Vec<_> = video
        .iter()
        .filter(|v| v.name.ok().is_some_and(|n| n.starts_with("ipu3-cio2")))
        .collect();
    let missing: Vec<_> = cio2_video
        .iter()
        .filter(|v| !matches!(v.node, Fact::Ok(NodeKind::CharDevice { .. })))
        .map(|v| format!("/dev/{}", v.sysname))
        .collect();
    if cio2_video.is_empty() {
        Outcome::failed("the CIO2 media graph has no video nodes")
            .evidence("/sys/class/video4linux: no ipu3-cio2 node")
    } else if !missing.is_empty() {
        Outcome::failed(format!(
            "video nodes missing in /dev: {}",
            missing.join(", ")
        ))
        .evidence_all(missing)
    } else {
        Outcome::ok(format!(
            "/dev/{} ({}) with {} CIO2 video nodes",
            m.sysname,
            cam.cio2_media_model,
            cio2_video.len()
        ))
        .evidence(format!("/sys/bus/media/devices/{}/model", m.sysname))
    }
}
