//! Hardware profiles: what each subsystem of a model needs, as data.
//!
//! Checks read their ids, drivers, modules, config options, nodes, firmware and
//! services from here; another Surface model is another `Profile`, not new code.
//! Every value carries its source in `docs/` (the Surface Book 2 reference).

mod surface_book_2;

pub use surface_book_2::SURFACE_BOOK_2;

/// A PCI function the profile expects, by vendor:device and usual slot.
#[derive(Debug)]
pub struct PciFn {
    pub vendor: u16,
    pub device: u16,
    pub slot: &'static str,
    pub driver: &'static str,
    pub module: &'static str,
    pub config: &'static str,
}

/// A kernel driver: its config option, module and driver name.
#[derive(Debug)]
pub struct Driver {
    pub config: &'static str,
    pub module: &'static str,
    pub driver: &'static str,
}

/// A camera sensor on I2C.
#[derive(Debug)]
pub struct Sensor {
    pub role: &'static str,
    pub hid: &'static str,
    pub chip: &'static str,
    pub driver: Driver,
}

/// A size variant of the model and how to recognise it.
#[derive(Debug)]
pub struct Variant {
    /// Report model id (`surface-book-2-13`).
    pub model: &'static str,
    pub dmi_sku: &'static str,
    /// Product id of the IPTS HID device (vendor `045E`).
    pub ipts_product: u16,
    /// Whether every unit of this size has a dGPU (the 13" i5 has none).
    pub always_has_dgpu: bool,
    /// PCI device id (vendor 10de) of the dGPU this size comes with: size evidence
    /// where no IPTS device or SKU tells.
    pub dgpu_device: u16,
}

#[derive(Debug)]
pub struct Touch {
    pub mei_pci: PciFn,
    pub mei_client_uuid: &'static str,
    pub ipts: Driver,
    pub hid_vendor: u16,
    /// iptsd's template unit, started per hidraw node by its udev rule.
    pub iptsd_unit: &'static str,
    pub iptsd_legacy_unit: &'static str,
    pub iptsd_rule: &'static str,
    pub iptsd_process: &'static str,
    /// Name prefixes of the uinput devices iptsd creates (current, then 0.x).
    pub virtual_touch: &'static [&'static str],
    pub virtual_stylus: &'static [&'static str],
    /// Legacy `CONFIG_MISC_IPTS` char devices directory.
    pub legacy_dev_dir: &'static str,
    /// The pre-2023 IPTS driver (`CONFIG_MISC_IPTS`, `/dev/ipts/*`), which only
    /// iptsd <= 0.5.1 can use.
    pub ipts_legacy: Driver,
}

#[derive(Debug)]
pub struct Camera {
    pub cio2: PciFn,
    pub imgu: PciFn,
    pub bridge: Driver,
    /// The bridge before the ipu-bridge rename (6.6): `CONFIG_CIO2_BRIDGE`, built
    /// into ipu3-cio2.
    pub bridge_legacy: Driver,
    pub sensors: &'static [Sensor],
    pub int3472_hid: &'static str,
    pub int3472: &'static [Driver],
    pub vcm: Driver,
    pub firmware: &'static [&'static str],
    pub cio2_media_model: &'static str,
    /// Name prefix of CIO2's CSI-2 receiver entities in its media graph
    /// (`ipu3-csi2 0` .. `ipu3-csi2 3`), which each sensor's source pad links to.
    pub csi2_entity: &'static str,
    pub atomisp_modules: &'static [&'static str],
    /// I2C controllers that host the sensors; absent when cameras are off in UEFI.
    pub i2c_controllers: &'static [&'static str],
}

#[derive(Debug)]
pub struct Battery {
    pub san_hid: &'static str,
    pub san: Driver,
    pub battery: Driver,
    pub ac: Driver,
    pub clipboard: &'static str,
    pub base: &'static str,
    pub adapter: &'static str,
}

#[derive(Debug)]
pub struct Detach {
    pub ssam_hid: &'static str,
    pub ssam_serdev: &'static str,
    pub ssam: Driver,
    pub pinctrl: Driver,
    /// The Serial IO UART the aggregator talks through (PCI id), its LPSS PCI
    /// driver, its 8250 driver, and the serial device bus on top.
    pub uart_pci: (u16, u16),
    pub lpss_pci: Driver,
    pub uart: Driver,
    pub serdev: Driver,
    pub dtx_hid: &'static str,
    pub dtx: Driver,
    pub dtx_node: &'static str,
    pub dtx_misc: &'static str,
    pub daemon_unit: &'static str,
    /// `comm` of the daemon (15 characters at most).
    pub daemon_process: &'static str,
    pub tablet_switch_name: &'static str,
}

#[derive(Debug)]
pub struct Input {
    pub usb_vendor: u16,
    /// The xHCI controller the base's USB tree hangs off (PCI id).
    pub xhci: (u16, u16),
    pub keyboard_product: u16,
    /// The driver the base keyboard's HID device ends up bound to.
    pub keyboard_hid: Driver,
    pub base_hub_products: &'static [u16],
    pub buttons_hid: &'static str,
    pub buttons: Driver,
    pub lid_hid: &'static str,
    /// The ACPI button driver that reports the lid.
    pub lid: Driver,
    pub gpe: Driver,
    pub gpe_device: &'static str,
    /// Modules a LUKS passphrase prompt in the initrd needs for the base keyboard:
    /// the xHCI controller it hangs off and the USB HID drivers that bind it first.
    pub boot_keyboard_modules: &'static [&'static str],
}

#[derive(Debug)]
pub struct Dgpu {
    pub vendor: u16,
    pub hotplug_hid: &'static str,
    pub hotplug: Driver,
}

#[derive(Debug)]
pub struct Wireless {
    pub wifi: PciFn,
    pub wifi_firmware: &'static [&'static str],
    pub bt_usb: (u16, u16),
    pub bt: Driver,
}

#[derive(Debug)]
pub struct Platform {
    pub hub_hid: &'static str,
    pub hub: Driver,
    pub profile_device: &'static str,
    pub profile: Driver,
    /// The ACPI platform-profile core behind `/sys/firmware/acpi/platform_profile`.
    pub profile_core: Driver,
}

/// Evidence that a kernel carries the linux-surface patch set.
#[derive(Debug)]
pub struct Patches {
    /// Config options only the patches add.
    pub config_options: &'static [&'static str],
    /// Modules only the patches add.
    pub modules: &'static [&'static str],
    /// Substring of `uname -r` on distribution builds.
    pub release_marker: &'static str,
    /// Kernel messages only a patched kernel prints. Their absence proves nothing
    /// (the IOMMU may be off), so they only ever say yes.
    pub log_markers: &'static [&'static str],
}

#[derive(Debug)]
pub struct Profile {
    pub id: &'static str,
    pub name: &'static str,
    pub dmi_vendor: &'static str,
    pub dmi_product: &'static str,
    /// DMI `board_name` of the model.
    pub dmi_board: &'static str,
    /// ACPI ids that only this model has (evidence of the model when DMI cannot be read).
    pub model_acpi_ids: &'static [&'static str],
    /// Substrings (case-sensitive) of the kernel messages the checks may cite; the
    /// log collector keeps only these. A needle with `...` matches its parts in
    /// order (`probe of ... failed`).
    pub log_needles: &'static [&'static str],
    pub variants: &'static [Variant],
    pub patches: Patches,
    pub touch: Touch,
    pub camera: Camera,
    pub battery: Battery,
    pub detach: Detach,
    pub input: Input,
    pub dgpu: Dgpu,
    pub wireless: Wireless,
    pub platform: Platform,
}

impl Profile {
    /// Every module this profile names: the collectors record alias and file facts
    /// for these.
    pub fn modules(&self) -> Vec<&'static str> {
        let mut m = vec![
            self.touch.mei_pci.module,
            self.touch.ipts.module,
            self.camera.cio2.module,
            self.camera.imgu.module,
            self.camera.bridge.module,
            self.camera.vcm.module,
            self.battery.san.module,
            self.battery.battery.module,
            self.battery.ac.module,
            self.detach.ssam.module,
            self.detach.pinctrl.module,
            self.detach.dtx.module,
            self.input.buttons.module,
            self.input.gpe.module,
            self.dgpu.hotplug.module,
            self.wireless.wifi.module,
            self.wireless.bt.module,
            self.platform.hub.module,
            self.platform.profile.module,
        ];
        m.extend(self.camera.sensors.iter().map(|s| s.driver.module));
        m.extend(self.camera.int3472.iter().map(|d| d.module));
        m.extend(self.camera.atomisp_modules.iter().copied());
        m.extend([
            self.detach.lpss_pci.module,
            self.detach.uart.module,
            self.input.keyboard_hid.module,
            self.input.lid.module,
            self.platform.profile_core.module,
        ]);
        m.extend(self.patches.modules.iter().copied());
        m.sort_unstable();
        m.dedup();
        m
    }

    /// Every firmware file this profile names.
    pub fn firmware(&self) -> Vec<&'static str> {
        let mut f: Vec<&'static str> = self.camera.firmware.to_vec();
        f.extend(self.wireless.wifi_firmware.iter().copied());
        f
    }

    /// Unit files the collectors look for.
    pub fn units(&self) -> Vec<&'static str> {
        vec![
            self.touch.iptsd_unit,
            self.touch.iptsd_legacy_unit,
            self.detach.daemon_unit,
        ]
    }

    /// Process names (`comm`) the collectors look for.
    pub fn processes(&self) -> Vec<&'static str> {
        vec![self.touch.iptsd_process, self.detach.daemon_process]
    }
}

/// How much a subsystem depends on one driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliance {
    /// Without it the subsystem does not work at all.
    Required,
    /// Without it the subsystem works in part: a loss the person notices.
    Partial,
}

/// One driver a subsystem needs from the kernel: what preflight asks of a kernel
/// before it boots (`Ctx::kernel_has`, the same lookup as the live diagnosis).
#[derive(Debug)]
pub struct KernelNeed {
    /// What the driver does for the subsystem (`IPTS touch and pen driver`).
    pub role: String,
    pub driver: Driver,
    /// An older driver that serves the same role (the pre-2023 IPTS driver, the
    /// CIO2 bridge before 6.6), with what using it means.
    pub older: Option<(Driver, &'static str)>,
    pub reliance: Reliance,
    /// What is lost without it.
    pub without: String,
    /// The check whose verdict rests on this driver: the reference facts of its
    /// `basis` decide whether a missing driver may fail a prediction (only
    /// verified ones may). `None`: no check rests on it, so it is only a notice.
    pub check: Option<&'static str>,
    /// Why a missing driver is only a notice although its check rests on verified
    /// facts: the link from this driver to the loss is itself not verified, or
    /// depends on what a kernel on disk cannot know (the model).
    pub notice_only: Option<&'static str>,
}

/// What one subsystem (a check-registry id) needs from a kernel, in chain order.
#[derive(Debug)]
pub struct SubsystemNeeds {
    pub subsystem: &'static str,
    pub needs: Vec<KernelNeed>,
    /// What it needs besides the kernel, as a prediction says it (`needs iptsd >= 1.0
    /// in userspace`).
    pub userspace: Option<&'static str>,
}

fn as_driver(d: &Driver) -> Driver {
    Driver { ..*d }
}

fn pci_driver(f: &PciFn) -> Driver {
    Driver {
        config: f.config,
        module: f.module,
        driver: f.driver,
    }
}

fn need(
    role: impl Into<String>,
    driver: Driver,
    reliance: Reliance,
    without: impl Into<String>,
    check: Option<&'static str>,
) -> KernelNeed {
    KernelNeed {
        role: role.into(),
        driver,
        older: None,
        reliance,
        without: without.into(),
        check,
        notice_only: None,
    }
}

/// [`need`] whose absence is only a notice, for the reason given.
fn notice(
    role: impl Into<String>,
    driver: Driver,
    without: impl Into<String>,
    check: Option<&'static str>,
    why: &'static str,
) -> KernelNeed {
    KernelNeed {
        notice_only: Some(why),
        ..need(role, driver, Reliance::Partial, without, check)
    }
}

impl Profile {
    /// Per subsystem of the check registry, the drivers it needs from a kernel, with
    /// their role, whether it can work without them, and the check that rests on
    /// each (the same drivers the checks ask `Ctx::kernel_has` about).
    pub fn kernel_needs(&self) -> Vec<SubsystemNeeds> {
        use Reliance::{Partial, Required};
        let t = &self.touch;
        let c = &self.camera;
        let b = &self.battery;
        let d = &self.detach;
        let i = &self.input;
        let p = &self.platform;
        let ssam = |without: &str| {
            need(
                "Surface Aggregator (surface_aggregator)",
                as_driver(&d.ssam),
                Required,
                without,
                Some("detach.ssam"),
            )
        };
        let mut camera = vec![
            need(
                "IPU3 CIO2, the CSI-2 receiver",
                pci_driver(&c.cio2),
                Required,
                "CIO2 receives the sensors' streams: without it no camera exists",
                Some("camera.cio2"),
            ),
            need(
                "IPU3 ImgU, the image processor",
                pci_driver(&c.imgu),
                Required,
                "libcamera's IPU3 pipeline needs the ImgU to process raw frames",
                Some("camera.imgu"),
            ),
            KernelNeed {
                older: Some((
                    as_driver(&c.bridge_legacy),
                    "the CIO2 bridge built into ipu3-cio2 (kernels before 6.6)",
                )),
                ..need(
                    "IPU bridge (builds the sensor graph from ACPI)",
                    as_driver(&c.bridge),
                    Required,
                    "without the bridge CIO2 finds no sensor in the Surface Book 2's ACPI tables",
                    Some("camera.bridge"),
                )
            },
        ];
        if let Some(pmic) = c.int3472.first() {
            camera.push(need(
                "INT3472 camera power controller",
                as_driver(pmic),
                Required,
                "INT3472 powers and clocks the sensors",
                Some("camera.int3472"),
            ));
        }
        for s in c.sensors {
            let part = format!("{} camera sensor {}", s.role, s.chip);
            if s.role == "infrared" {
                camera.push(notice(
                    part,
                    as_driver(&s.driver),
                    "the IR camera (face login) is lost; on kernels whose CIO2 notifier waits \
                     for every sensor, the front and rear cameras are lost too",
                    Some("camera.sensors"),
                    "[U] whether the front and rear cameras work without the IR sensor \
                     (reference F7: ov7251 often fails while the other two bind)",
                ));
            } else {
                camera.push(need(
                    part,
                    as_driver(&s.driver),
                    Partial,
                    format!("the {} camera is lost", s.role),
                    Some("camera.sensors"),
                ));
            }
        }
        camera.push(need(
            "rear camera focus motor (VCM)",
            as_driver(&c.vcm),
            Partial,
            "the rear camera's focus motor has no driver: no autofocus",
            None,
        ));
        vec![
            SubsystemNeeds {
                subsystem: "kernel",
                needs: Vec::new(),
                userspace: None,
            },
            SubsystemNeeds {
                subsystem: "touch",
                needs: vec![
                    KernelNeed {
                        older: Some((
                            as_driver(&t.ipts_legacy),
                            "the pre-2023 IPTS driver (MISC_IPTS, /dev/ipts): touch works only with iptsd <= 0.5.1, and current iptsd (>= 1.0) needs HID_IPTS",
                        )),
                        ..need(
                            "IPTS touch and pen driver",
                            as_driver(&t.ipts),
                            Required,
                            "without it the touchscreen and pen are dead (the IPTS driver exists only in linux-surface kernels)",
                            Some("touch.ipts-driver"),
                        )
                    },
                    need(
                        "Intel ME interface (IPTS talks through it)",
                        pci_driver(&t.mei_pci),
                        Required,
                        "IPTS reaches the touch controller through the ME: without mei_me there is no touch device",
                        Some("touch.mei"),
                    ),
                ],
                userspace: Some("needs iptsd >= 1.0 in userspace"),
            },
            SubsystemNeeds {
                subsystem: "camera",
                needs: camera,
                userspace: Some(
                    "needs libcamera's IPU3 pipeline and the ImgU firmware intel/ipu3-fw.bin in userspace",
                ),
            },
            SubsystemNeeds {
                subsystem: "battery",
                needs: vec![
                    need(
                        "Surface ACPI Notify (SAN)",
                        as_driver(&b.san),
                        Required,
                        "without SAN the batteries report firmware defaults (critical, discharging) or vanish",
                        Some("battery.san"),
                    ),
                    ssam("SAN, and with it the batteries and AC, goes through the aggregator"),
                    need(
                        "ACPI battery driver",
                        as_driver(&b.battery),
                        Required,
                        "no battery power supplies (BAT1, BAT2)",
                        Some("battery.clipboard"),
                    ),
                    need(
                        "ACPI AC driver",
                        as_driver(&b.ac),
                        Partial,
                        "no AC adapter power supply (ADP1): the desktop cannot tell whether it runs on mains",
                        Some("battery.adapter"),
                    ),
                ],
                userspace: None,
            },
            SubsystemNeeds {
                subsystem: "detach",
                needs: vec![
                    ssam(
                        "batteries, detach, the platform profile and the lid all go through the aggregator",
                    ),
                    notice(
                        "Sunrise Point pinctrl",
                        as_driver(&d.pinctrl),
                        "the aggregator's probe needs GPIOs and an IRQ from pinctrl",
                        Some("detach.ssam"),
                        "[I] which drivers supply the aggregator's GPIOs, IRQ and UART on the \
                         Surface Book 2 (reference 1.12)",
                    ),
                    notice(
                        "Intel LPSS (the aggregator's Serial IO UART)",
                        as_driver(&d.lpss_pci),
                        "the aggregator talks through the Serial IO UART that intel-lpss exposes",
                        Some("detach.ssam"),
                        "[I] which drivers supply the aggregator's GPIOs, IRQ and UART on the \
                         Surface Book 2 (reference 1.12)",
                    ),
                    notice(
                        "8250 DesignWare UART",
                        as_driver(&d.uart),
                        "the aggregator's UART is a DesignWare 8250",
                        Some("detach.ssam"),
                        "[I] which drivers supply the aggregator's GPIOs, IRQ and UART on the \
                         Surface Book 2 (reference 1.12)",
                    ),
                    need(
                        "serial device bus",
                        as_driver(&d.serdev),
                        Required,
                        "the aggregator is a serdev client of its UART",
                        Some("detach.ssam"),
                    ),
                    need(
                        "DTX driver",
                        as_driver(&d.dtx),
                        Required,
                        "the DTX driver unlocks the clipboard latch and reports the base state",
                        Some("detach.dtx-driver"),
                    ),
                ],
                userspace: Some(
                    "wants surface-dtx-daemon in userspace (without it a detach request waits for its timeout)",
                ),
            },
            SubsystemNeeds {
                subsystem: "input",
                needs: vec![
                    need(
                        "HID multitouch (the base touchpad)",
                        as_driver(&i.keyboard_hid),
                        Partial,
                        "the touchpad is dead (the keyboard still works through hid-generic)",
                        Some("input.touchpad"),
                    ),
                    need(
                        "power and volume buttons",
                        as_driver(&i.buttons),
                        Partial,
                        "the power and volume buttons are dead",
                        Some("input.buttons"),
                    ),
                    need(
                        "ACPI lid switch",
                        as_driver(&i.lid),
                        Partial,
                        "closing the lid does not suspend",
                        Some("input.lid"),
                    ),
                    need(
                        "DTX tablet-mode switch",
                        as_driver(&d.dtx),
                        Partial,
                        "no tablet-mode switch: desktops do not switch to tablet mode",
                        Some("input.tablet-mode"),
                    ),
                    need(
                        "lid wake (surface_gpe)",
                        as_driver(&i.gpe),
                        Partial,
                        "opening the lid does not wake the machine",
                        Some("input.lid-wake"),
                    ),
                ],
                userspace: None,
            },
            SubsystemNeeds {
                subsystem: "dgpu",
                needs: vec![notice(
                    "dGPU hot-plug signalling",
                    as_driver(&self.dgpu.hotplug),
                    "detach and reattach while the dGPU sleeps go unnoticed (models with a dGPU)",
                    Some("dgpu.hotplug"),
                    "only models with a dGPU lose it (the 13\" i5 has none), and a kernel on \
                     disk does not know the model",
                )],
                userspace: None,
            },
            SubsystemNeeds {
                subsystem: "wireless",
                needs: vec![
                    need(
                        "Marvell 88W8897 Wi-Fi",
                        pci_driver(&self.wireless.wifi),
                        Required,
                        "no Wi-Fi: the card has no driver",
                        Some("wireless.wifi"),
                    ),
                    need(
                        "Bluetooth over USB",
                        as_driver(&self.wireless.bt),
                        Partial,
                        "no Bluetooth",
                        Some("wireless.bluetooth"),
                    ),
                ],
                userspace: Some("needs the firmware mrvl/pcie8897_uapsta.bin in userspace"),
            },
            SubsystemNeeds {
                subsystem: "platform",
                needs: vec![
                    ssam("the platform profile is an aggregator client"),
                    need(
                        "aggregator platform hub",
                        as_driver(&p.hub),
                        Required,
                        "the hub creates the platform-profile device",
                        Some("platform.hub"),
                    ),
                    need(
                        "Surface platform profile",
                        as_driver(&p.profile),
                        Required,
                        "no performance modes",
                        Some("platform.profile"),
                    ),
                    need(
                        "ACPI platform-profile core",
                        as_driver(&p.profile_core),
                        Required,
                        "nothing provides /sys/firmware/acpi/platform_profile",
                        Some("platform.profile"),
                    ),
                ],
                userspace: None,
            },
        ]
    }
}
