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
}

#[derive(Debug)]
pub struct Camera {
    pub cio2: PciFn,
    pub imgu: PciFn,
    pub bridge: Driver,
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
