//! Surface Book 2 machines as fixture trees: a healthy machine of each kind, which
//! failure cases then break one link at a time. Ids, names and paths follow
//! docs/hardware.md.

#![allow(dead_code)]

use super::tree::Tree;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Size {
    In13,
    In15,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Distro {
    /// NixOS with nixos-hardware's linux-surface kernel (no release suffix).
    NixOs,
    /// A distribution with the linux-surface kernel package (`-surface-3` suffix).
    DebianSurface,
    /// A distribution's stock kernel.
    DebianStock,
}

#[derive(Clone, Debug)]
pub struct Sb2 {
    pub size: Size,
    pub distro: Distro,
    pub base_attached: bool,
    /// A linux-surface kernel from before 2023-02: the MISC_IPTS driver (module
    /// `ipts` too) with `/dev/ipts/*` instead of a HID device, while the current
    /// iptsd (hidraw only) is installed and never starts.
    pub legacy_ipts: bool,
    /// PINCTRL_SUNRISEPOINT as a module (nixos-hardware does not build it in), which
    /// lets the aggregator and the buttons probe before it.
    pub pinctrl_module: bool,
}

/// Makes a newer NixOS generation with kernel `release` the boot default
/// (`nixos-rebuild boot`), and with `switched` also the current system
/// (`nixos-rebuild switch`). The booted generation stays as it was.
pub fn nixos_new_generation(t: &Tree, release: &str, switched: bool) {
    let sys = "nix/store/7777gggg-nixos-system-sb2-owner-24.11.20241201.fedcba";
    let modules = format!("nix/store/8888hhhh-linux-{release}-modules-shrunk");
    t.link(
        &format!("{sys}/kernel"),
        &format!("/nix/store/9999iiii-linux-{release}/bzImage"),
    );
    t.link(&format!("{sys}/kernel-modules"), &format!("/{modules}"));
    t.link(
        &format!("{sys}/initrd"),
        &format!("/nix/store/aaaa0000-initrd-linux-{release}/initrd"),
    );
    t.file(&format!("{modules}/lib/modules/{release}/modules.dep"), "");
    t.link("nix/var/nix/profiles/system-43-link", &format!("/{sys}"));
    t.link("nix/var/nix/profiles/system", "system-43-link");
    if switched {
        t.link("run/current-system", &format!("/{sys}"));
    }
}

/// The pre-2023 stack that works: MISC_IPTS kernel, /dev/ipts/0, iptsd 0.x running
/// as iptsd.service with its "IPTS Touch"/"IPTS Stylus" devices (79D657BBD855,
/// 5B3E4C5AAEC5: `Device 045E:0020 ready`, `input: IPTS Touch`, `input: IPTS Stylus`).
pub fn legacy_ipts_working() -> Tree {
    let mut m = Sb2::new(Size::In15, Distro::DebianSurface);
    m.legacy_ipts = true;
    let t = m.build();
    t.remove("usr/lib/systemd/system/iptsd@.service");
    t.remove("usr/lib/udev/rules.d/50-iptsd.rules");
    t.file(
        "usr/lib/systemd/system/iptsd.service",
        "[Service]\nExecStart=iptsd\n",
    );
    t.attr(
        "sys/fs/cgroup/system.slice/iptsd.service/cgroup.procs",
        "1234",
    );
    t.attr("proc/1234/comm", "iptsd");
    let uinput = "sys/devices/virtual/misc/uinput";
    t.input(
        30,
        uinput,
        "IPTS Touch",
        (0x06, 0x045e, 0x0020, 1),
        &[("ev", "b")],
        Some(30),
        &[],
    );
    t.input(
        31,
        uinput,
        "IPTS Stylus",
        (0x06, 0x045e, 0x0020, 1),
        &[("ev", "b")],
        Some(31),
        &[],
    );
    t
}

/// Set bits as a sysfs capability bitmap (64-bit words, most significant first).
pub fn bits(set: &[u16]) -> String {
    let max = set.iter().copied().max().unwrap_or(0) as usize;
    let mut words = vec![0u64; max / 64 + 1];
    for b in set {
        words[*b as usize / 64] |= 1 << (b % 64);
    }
    words
        .iter()
        .rev()
        .map(|w| format!("{w:x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub const PCI: &str = "pci0000:00";
pub const MEI_UUID: &str = "3e8d0870-271a-4208-8eb5-9acb9402ae04";
pub const NIX_SYSTEM: &str = "nix/store/0000aaaa-nixos-system-sb2-owner-24.11.20241101.abcdef";
pub const NIX_KERNEL: &str = "/nix/store/1111bbbb-linux-6.19.8/bzImage";
pub const NIX_MODULES: &str = "nix/store/2222cccc-linux-6.19.8-modules-shrunk";
pub const NIX_INITRD: &str = "/nix/store/3333dddd-initrd-linux-6.19.8/initrd";
pub const NIX_FIRMWARE: &str = "nix/store/4444eeee-firmware/lib/firmware";

/// (module name, path in the module tree, config option)
const SURFACE_MODULES: &[(&str, &str, &str)] = &[
    ("ipts", "kernel/drivers/hid/ipts/ipts.ko.zst", "HID_IPTS"),
    ("ithc", "kernel/drivers/hid/ithc/ithc.ko.zst", "HID_ITHC"),
    (
        "hid_surface",
        "kernel/drivers/hid/hid-surface.ko.zst",
        "HID_SURFACE",
    ),
];

/// The pre-2023 IPTS driver: a misc device driver, also called `ipts`.
const LEGACY_SURFACE_MODULES: &[(&str, &str, &str)] =
    &[("ipts", "kernel/drivers/misc/ipts/ipts.ko.zst", "MISC_IPTS")];

const PINCTRL_MODULE: (&str, &str) = (
    "pinctrl_sunrisepoint",
    "kernel/drivers/pinctrl/intel/pinctrl-sunrisepoint.ko.zst",
);

const MAINLINE_MODULES: &[(&str, &str, &str)] = &[
    (
        "mei_me",
        "kernel/drivers/misc/mei/mei-me.ko.zst",
        "INTEL_MEI_ME",
    ),
    (
        "ipu3_cio2",
        "kernel/drivers/media/pci/intel/ipu3/ipu3-cio2.ko.zst",
        "VIDEO_IPU3_CIO2",
    ),
    (
        "ipu3_imgu",
        "kernel/drivers/staging/media/ipu3/ipu3-imgu.ko.zst",
        "VIDEO_IPU3_IMGU",
    ),
    (
        "ipu_bridge",
        "kernel/drivers/media/pci/intel/ipu-bridge.ko.zst",
        "IPU_BRIDGE",
    ),
    (
        "intel_skl_int3472_tps68470",
        "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_tps68470.ko.zst",
        "INTEL_SKL_INT3472",
    ),
    (
        "intel_skl_int3472_discrete",
        "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_discrete.ko.zst",
        "INTEL_SKL_INT3472",
    ),
    (
        "ov5693",
        "kernel/drivers/media/i2c/ov5693.ko.zst",
        "VIDEO_OV5693",
    ),
    (
        "ov8865",
        "kernel/drivers/media/i2c/ov8865.ko.zst",
        "VIDEO_OV8865",
    ),
    (
        "ov7251",
        "kernel/drivers/media/i2c/ov7251.ko.zst",
        "VIDEO_OV7251",
    ),
    (
        "dw9719",
        "kernel/drivers/media/i2c/dw9719.ko.zst",
        "VIDEO_DW9719",
    ),
    (
        "surface_aggregator",
        "kernel/drivers/platform/surface/aggregator/surface_aggregator.ko.zst",
        "SURFACE_AGGREGATOR",
    ),
    (
        "surface_aggregator_registry",
        "kernel/drivers/platform/surface/surface_aggregator_registry.ko.zst",
        "SURFACE_AGGREGATOR_REGISTRY",
    ),
    (
        "surface_acpi_notify",
        "kernel/drivers/platform/surface/surface_acpi_notify.ko.zst",
        "SURFACE_ACPI_NOTIFY",
    ),
    (
        "surface_dtx",
        "kernel/drivers/platform/surface/surface_dtx.ko.zst",
        "SURFACE_DTX",
    ),
    (
        "surface_platform_profile",
        "kernel/drivers/platform/surface/surface_platform_profile.ko.zst",
        "SURFACE_PLATFORM_PROFILE",
    ),
    (
        "surface_hotplug",
        "kernel/drivers/platform/surface/surface_hotplug.ko.zst",
        "SURFACE_HOTPLUG",
    ),
    (
        "surface_gpe",
        "kernel/drivers/platform/surface/surface_gpe.ko.zst",
        "SURFACE_GPE",
    ),
    (
        "soc_button_array",
        "kernel/drivers/input/misc/soc_button_array.ko.zst",
        "INPUT_SOC_BUTTON_ARRAY",
    ),
    (
        "mwifiex_pcie",
        "kernel/drivers/net/wireless/marvell/mwifiex/mwifiex_pcie.ko.zst",
        "MWIFIEX_PCIE",
    ),
    (
        "btusb",
        "kernel/drivers/bluetooth/btusb.ko.zst",
        "BT_HCIBTUSB",
    ),
    (
        "intel_lpss_pci",
        "kernel/drivers/mfd/intel-lpss-pci.ko.zst",
        "MFD_INTEL_LPSS_PCI",
    ),
    (
        "8250_dw",
        "kernel/drivers/tty/serial/8250/8250_dw.ko.zst",
        "SERIAL_8250_DW",
    ),
];

const BUILTIN_OPTIONS: &[&str] = &[
    "ACPI_BATTERY",
    "ACPI_AC",
    "ACPI_BUTTON",
    "PINCTRL_SUNRISEPOINT",
    "SURFACE_AGGREGATOR_BUS",
    "SERIAL_DEV_BUS",
    "HIDRAW",
    "IKCONFIG_PROC",
];

impl Sb2 {
    pub fn new(size: Size, distro: Distro) -> Sb2 {
        Sb2 {
            size,
            distro,
            base_attached: true,
            legacy_ipts: false,
            pinctrl_module: false,
        }
    }

    pub fn release(&self) -> &'static str {
        match (self.distro, self.legacy_ipts) {
            (Distro::NixOs, false) => "6.19.8",
            (Distro::NixOs, true) => "6.0.12",
            (Distro::DebianSurface, false) => "6.19.8-surface-3",
            (Distro::DebianSurface, true) => "6.0.12-surface-1",
            (Distro::DebianStock, _) => "6.1.0-28-amd64",
        }
    }

    fn surface_kernel(&self) -> bool {
        self.distro != Distro::DebianStock
    }

    /// A kernel with the current (HID) IPTS driver: touch works end to end.
    fn hid_ipts(&self) -> bool {
        self.surface_kernel() && !self.legacy_ipts
    }

    /// The linux-surface modules of this kernel: (name, path, config option).
    fn surface_modules(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        match (self.surface_kernel(), self.legacy_ipts) {
            (false, _) => &[],
            (true, false) => SURFACE_MODULES,
            (true, true) => LEGACY_SURFACE_MODULES,
        }
    }

    pub fn ipts_product(&self) -> u16 {
        match self.size {
            Size::In13 => 0x0021,
            Size::In15 => 0x0020,
        }
    }

    pub fn ipts_hid_name(&self) -> String {
        format!("0000:045E:{:04X}.0001", self.ipts_product())
    }

    pub fn has_dgpu(&self) -> bool {
        self.size == Size::In15
    }

    /// The module tree directory of the running kernel, root-relative.
    pub fn module_dir(&self) -> String {
        match self.distro {
            Distro::NixOs => format!("{NIX_MODULES}/lib/modules/{}", self.release()),
            _ => format!("lib/modules/{}", self.release()),
        }
    }

    pub fn config_options(&self) -> Vec<(&'static str, &'static str)> {
        let mut o: Vec<(&str, &str)> = MAINLINE_MODULES.iter().map(|(_, _, c)| (*c, "m")).collect();
        o.extend(BUILTIN_OPTIONS.iter().map(|c| (*c, "y")));
        o.extend(self.surface_modules().iter().map(|(_, _, c)| (*c, "m")));
        if self.pinctrl_module {
            o.retain(|(k, _)| *k != "PINCTRL_SUNRISEPOINT");
            o.push(("PINCTRL_SUNRISEPOINT", "m"));
        }
        o.push(("INTEL_ATOMISP", ""));
        o
    }

    pub fn build(&self) -> Tree {
        self.build_into(Tree::new())
    }

    /// Builds this machine in memory (see [`Tree::new_in_memory`]).
    pub fn build_in_memory(&self) -> Tree {
        self.build_into(Tree::new_in_memory())
    }

    /// Builds this machine into the empty tree `t`.
    pub fn build_into(&self, t: Tree) -> Tree {
        self.os(&t);
        self.kernel(&t);
        self.pci(&t);
        self.acpi_platform(&t);
        self.touch(&t);
        self.camera(&t);
        self.power(&t);
        self.detach(&t);
        self.usb_and_inputs(&t);
        self.firmware(&t);
        self.services(&t);
        t
    }

    fn os(&self, t: &Tree) {
        match self.distro {
            Distro::NixOs => {
                t.file("etc/os-release", "NAME=NixOS\nID=nixos\nPRETTY_NAME=\"NixOS 24.11 (Vicuna)\"\n");
                t.file("etc/NIXOS", "");
            }
            _ => t.file(
                "etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n",
            ),
        }
        t.attr("sys/class/dmi/id/sys_vendor", "Microsoft Corporation");
        t.attr("sys/class/dmi/id/product_name", "Surface Book 2");
        t.attr("sys/class/dmi/id/product_family", "Surface");
        t.attr("sys/class/dmi/id/board_name", "Surface Book 2");
        t.attr("sys/class/dmi/id/chassis_type", "9");
        t.attr(
            "sys/class/dmi/id/product_sku",
            match self.size {
                Size::In13 => "Surface_Book_1832",
                Size::In15 => "Surface_Book_1793",
            },
        );
        t.attr("sys/class/dmi/id/bios_version", "389.2837.768");
    }

    fn kernel(&self, t: &Tree) {
        let release = self.release();
        let cmdline = match self.distro {
            Distro::NixOs => format!(
                "initrd=\\efi\\nixos\\initrd.efi init=/{NIX_SYSTEM}/init mem_sleep_default=deep"
            ),
            _ => "BOOT_IMAGE=/boot/vmlinuz root=UUID=0b5e1c1e-1234-4abc-9def-0123456789ab ro quiet"
                .into(),
        };
        let version = match self.distro {
            Distro::NixOs => {
                "(nixbld@localhost) #1-NixOS SMP PREEMPT_DYNAMIC Tue Jan  1 00:00:00 UTC 1980"
            }
            _ => "(debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian",
        };
        t.kernel(release, version, &cmdline);
        t.gz("proc/config.gz", &Tree::config_text(&self.config_options()));

        let mut mods: Vec<(&str, &str)> =
            MAINLINE_MODULES.iter().map(|(n, p, _)| (*n, *p)).collect();
        mods.extend(self.surface_modules().iter().map(|(n, p, _)| (*n, *p)));
        let mut builtin = vec!["pinctrl_sunrisepoint", "battery", "ac", "button"];
        if self.pinctrl_module {
            builtin.retain(|m| *m != "pinctrl_sunrisepoint");
            mods.push(PINCTRL_MODULE);
        }
        t.module_tree(&self.module_dir(), &mods, &builtin);

        let mut loaded: Vec<&str> = MAINLINE_MODULES
            .iter()
            .map(|(n, _, _)| *n)
            .filter(|n| {
                *n != "intel_skl_int3472_discrete" && (self.has_dgpu() || *n != "surface_hotplug")
            })
            .collect();
        if self.surface_kernel() {
            loaded.push("ipts");
        }
        loaded.push("platform_profile");
        if self.pinctrl_module {
            loaded.push(PINCTRL_MODULE.0);
        }
        t.loaded_modules(&loaded);

        if self.distro == Distro::NixOs {
            let sys = NIX_SYSTEM;
            t.link(&format!("{sys}/kernel"), NIX_KERNEL);
            t.link(&format!("{sys}/kernel-modules"), &format!("/{NIX_MODULES}"));
            t.link(&format!("{sys}/initrd"), NIX_INITRD);
            t.link(&format!("{sys}/firmware"), "/nix/store/4444eeee-firmware");
            t.link("run/booted-system", &format!("/{sys}"));
            t.link("run/current-system", &format!("/{sys}"));
            t.link("nix/var/nix/profiles/system", "system-42-link");
            t.link("nix/var/nix/profiles/system-42-link", &format!("/{sys}"));
        }
    }

    fn pci(&self, t: &Tree) {
        let pci = |slot: &str, id: (&str, &str), class: &str, driver: Option<&str>| {
            t.device(
                "pci",
                slot,
                &format!("{PCI}/{slot}"),
                driver,
                &[("vendor", id.0), ("device", id.1), ("class", class)],
            );
        };
        pci(
            "0000:00:02.0",
            ("0x8086", "0x5917"),
            "0x030000",
            Some("i915"),
        );
        pci(
            "0000:00:14.0",
            ("0x8086", "0x9d2f"),
            "0x0c0330",
            Some("xhci_hcd"),
        );
        pci(
            "0000:00:16.0",
            ("0x8086", "0x9d3a"),
            "0x078000",
            Some("mei_me"),
        );
        pci(
            "0000:00:16.4",
            ("0x8086", "0x9d3e"),
            "0x078000",
            Some("mei_me"),
        );
        pci(
            "0000:00:14.3",
            ("0x8086", "0x9d32"),
            "0x048000",
            Some("ipu3-cio2"),
        );
        pci(
            "0000:00:05.0",
            ("0x8086", "0x1919"),
            "0x048000",
            Some("ipu3-imgu"),
        );
        pci(
            "0000:00:15.2",
            ("0x8086", "0x9d62"),
            "0x118000",
            Some("intel-lpss"),
        );
        pci(
            "0000:00:15.3",
            ("0x8086", "0x9d63"),
            "0x118000",
            Some("intel-lpss"),
        );
        pci(
            "0000:00:1e.0",
            ("0x8086", "0x9d27"),
            "0x118000",
            Some("intel-lpss"),
        );
        pci(
            "0000:00:1c.4",
            ("0x8086", "0x9d14"),
            "0x060400",
            Some("pcieport"),
        );
        pci(
            "0000:01:00.0",
            ("0x11ab", "0x2b38"),
            "0x020000",
            Some("mwifiex_pcie"),
        );
        let wlan = format!("sys/devices/{PCI}/0000:01:00.0/net/wlp1s0");
        t.mkdir(&wlan);
        t.rlink(
            &format!("{wlan}/device"),
            &format!("sys/devices/{PCI}/0000:01:00.0"),
        );
        t.rlink("sys/class/net/wlp1s0", &wlan);
        if self.has_dgpu() && self.base_attached {
            t.device(
                "pci",
                "0000:02:00.0",
                &format!("{PCI}/0000:00:1c.4/0000:02:00.0"),
                Some("nvidia"),
                &[
                    ("vendor", "0x10de"),
                    ("device", "0x1c20"),
                    ("class", "0x030200"),
                ],
            );
        }
    }

    /// ACPI companions and the platform devices the Surface drivers bind.
    fn acpi_platform(&self, t: &Tree) {
        let mut hids = vec![
            "MSHW0084:00",
            "MSHW0091:00",
            "MSHW0133:00",
            "MSHW0040:00",
            "MSHW0107:00",
            "INT33BE:00",
            "INT347A:00",
            "INT347E:00",
            "INT3472:00",
            "PNP0C0A:00",
            "PNP0C0A:01",
            "ACPI0003:00",
            "PNP0C0D:00",
        ];
        if self.has_dgpu() {
            hids.push("MSHW0153:00");
        }
        for h in hids {
            t.device(
                "acpi",
                h,
                &format!("LNXSYSTM:00/LNXSYBUS:00/{h}"),
                None,
                &[("status", "15")],
            );
        }
        let plat = |name: &str, driver: &str| {
            t.device(
                "platform",
                name,
                &format!("platform/{name}"),
                Some(driver),
                &[],
            );
        };
        plat("MSHW0091:00", "surface_acpi_notify");
        plat("MSHW0133:00", "surface_dtx_pltf");
        plat("MSHW0040:00", "soc_button_array");
        plat("MSHW0107:00", "surface_aggregator_platform_hub");
        plat("surface_gpe", "surface_gpe");
        if self.has_dgpu() {
            plat("MSHW0153:00", "surface_hotplug");
        }
        t.device(
            "platform",
            "gpio-keys.1.auto",
            "platform/MSHW0040:00/gpio-keys.1.auto",
            Some("gpio-keys"),
            &[],
        );
        t.device(
            "platform",
            "gpio-keys.2.auto",
            "platform/MSHW0040:00/gpio-keys.2.auto",
            Some("gpio-keys"),
            &[],
        );
        t.device(
            "serial",
            "serial0-0",
            &format!("{PCI}/0000:00:1e.0/dw-apb-uart.4/serial0/serial0-0"),
            Some("surface_serial_hub"),
            &[],
        );
        t.device(
            "surface_aggregator",
            "01:03:01:00:01",
            "platform/MSHW0107:00/01:03:01:00:01",
            Some("surface_platform_profile"),
            &[],
        );
        t.attr("sys/firmware/acpi/platform_profile", "balanced");
        t.attr(
            "sys/firmware/acpi/platform_profile_choices",
            "low-power balanced balanced-performance performance",
        );
    }

    fn touch(&self, t: &Tree) {
        let mei = format!("{PCI}/0000:00:16.4/0000:00:16.4-{MEI_UUID}");
        let driver = self.surface_kernel().then_some("ipts");
        t.device(
            "mei",
            &format!("0000:00:16.4-{MEI_UUID}"),
            &mei,
            driver,
            &[("uuid", MEI_UUID)],
        );
        if self.legacy_ipts {
            t.char_node("dev/ipts/0", 241, 0);
        }
        if !self.hid_ipts() {
            return;
        }
        let hid = self.ipts_hid_name();
        let dir = t.device(
            "hid",
            &hid,
            &format!("{mei}/{hid}"),
            Some("hid-generic"),
            &[],
        );
        t.mkdir(&format!("{dir}/hidraw/hidraw0"));
        let p = self.ipts_product();
        let touch_caps = [("ev", "b"), ("key", "400 0 0 0 0 0"), ("abs", "2608000 3")];
        t.input(
            30,
            "sys/devices/virtual/misc/uinput",
            &format!("IPTSD Virtual Touchscreen 045E:{p:04X}"),
            (0x06, 0x045e, p, 1),
            &touch_caps,
            Some(30),
            &[("ID_INPUT", "1"), ("ID_INPUT_TOUCHSCREEN", "1")],
        );
        t.input(
            31,
            "sys/devices/virtual/misc/uinput",
            &format!("IPTSD Virtual Stylus 045E:{p:04X}"),
            (0x06, 0x045e, p, 1),
            &[
                ("ev", "b"),
                ("key", "c03 0 0 0 0 0"),
                ("abs", "1000d000003"),
            ],
            Some(31),
            &[("ID_INPUT", "1"), ("ID_INPUT_TABLET", "1")],
        );
    }

    fn camera(&self, t: &Tree) {
        for (hid, bus, driver) in [
            ("INT33BE", 2, "ov5693"),
            ("INT347A", 3, "ov8865"),
            ("INT347E", 3, "ov7251"),
            ("INT3472", 2, "int3472-tps68470"),
        ] {
            let ctl = if bus == 2 {
                "0000:00:15.2"
            } else {
                "0000:00:15.3"
            };
            t.device(
                "i2c",
                &format!("i2c-{hid}:00"),
                &format!("{PCI}/{ctl}/i2c_designware.{bus}/i2c-{bus}/i2c-{hid}:00"),
                Some(driver),
                &[("name", &format!("{hid}:00"))],
            );
        }
        // Each sensor's subdevice node, which CIO2 registers once its notifier has the
        // sensors (named "<driver> <bus>-<address>", docs/hardware.md §6).
        for (n, (hid, bus, name)) in [
            ("INT33BE", 2, "ov5693 2-0036"),
            ("INT347A", 3, "ov8865 3-0010"),
            ("INT347E", 3, "ov7251 3-0060"),
        ]
        .into_iter()
        .enumerate()
        {
            let ctl = if bus == 2 {
                "0000:00:15.2"
            } else {
                "0000:00:15.3"
            };
            t.video(
                &format!("v4l-subdev{n}"),
                &format!("sys/devices/{PCI}/{ctl}/i2c_designware.{bus}/i2c-{bus}/i2c-{hid}:00"),
                name,
                128 + n as u64,
            );
        }
        let cio2 = format!("sys/devices/{PCI}/0000:00:14.3");
        let imgu = format!("sys/devices/{PCI}/0000:00:05.0");
        t.media("media0", &cio2, "Intel IPU3 CIO2", 0);
        t.media("media1", &imgu, "ipu3-imgu", 1);
        for i in 0..4 {
            t.video(&format!("video{i}"), &cio2, &format!("ipu3-cio2 {i}"), i);
        }
        t.video("video4", &imgu, "ipu3-imgu 0 input", 4);
        t.video("video5", &imgu, "ipu3-imgu 0 output", 5);
    }

    fn power(&self, t: &Tree) {
        let acpi = |h: &str| format!("sys/devices/LNXSYSTM:00/LNXSYBUS:00/{h}");
        t.power_supply(
            "BAT1",
            &acpi("PNP0C0A:00"),
            &[
                ("type", "Battery"),
                ("status", "Discharging"),
                ("present", "1"),
                ("capacity", "87"),
                ("energy_full", "21000000"),
                ("energy_full_design", "23000000"),
                ("cycle_count", "112"),
                ("serial_number", "0123456789"),
                ("model_name", "G3HTA038H"),
            ],
        );
        let base: Vec<(&str, &str)> = if self.base_attached {
            vec![
                ("type", "Battery"),
                ("status", "Discharging"),
                ("present", "1"),
                ("capacity", "64"),
                ("energy_full", "58000000"),
                ("energy_full_design", "62000000"),
                ("cycle_count", "98"),
                ("serial_number", "9876543210"),
            ]
        } else {
            vec![("type", "Battery"), ("present", "0")]
        };
        t.power_supply("BAT2", &acpi("PNP0C0A:01"), &base);
        t.power_supply(
            "ADP1",
            &acpi("ACPI0003:00"),
            &[("type", "Mains"), ("online", "1")],
        );
    }

    fn detach(&self, t: &Tree) {
        t.char_node("dev/surface/dtx", 10, 124);
        t.mkdir("sys/devices/virtual/misc/surface_dtx");
        t.rlink(
            "sys/class/misc/surface_dtx",
            "sys/devices/virtual/misc/surface_dtx",
        );
        // Tablet-mode switch and lid.
        t.input(
            5,
            "sys/devices/platform/MSHW0133:00",
            "Microsoft Surface DTX Device Mode Switch",
            (0x19, 0x045e, 0x0000, 0),
            &[("ev", "21"), ("sw", "2")],
            Some(5),
            &[("ID_INPUT", "1"), ("ID_INPUT_SWITCH", "1")],
        );
        t.input(
            0,
            "sys/devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0D:00",
            "Lid Switch",
            (0x19, 0, 5, 0),
            &[("ev", "21"), ("sw", "1")],
            Some(0),
            &[("ID_INPUT", "1"), ("ID_INPUT_SWITCH", "1")],
        );
        let power = super::sb2::bits(&[116]);
        let volume = super::sb2::bits(&[114, 115]);
        t.input(
            1,
            "sys/devices/platform/MSHW0040:00/gpio-keys.1.auto",
            "gpio-keys",
            (0x19, 1, 1, 0x100),
            &[("ev", "3"), ("key", &power)],
            Some(1),
            &[("ID_INPUT", "1"), ("ID_INPUT_KEY", "1")],
        );
        t.input(
            2,
            "sys/devices/platform/MSHW0040:00/gpio-keys.2.auto",
            "gpio-keys",
            (0x19, 1, 1, 0x100),
            &[("ev", "3"), ("key", &volume)],
            Some(2),
            &[("ID_INPUT", "1"), ("ID_INPUT_KEY", "1")],
        );
    }

    fn usb_and_inputs(&self, t: &Tree) {
        let xhci = format!("{PCI}/0000:00:14.0");
        let usb = |name: &str, path: &str, id: (&str, &str), product: &str, driver: &str| {
            t.device(
                "usb",
                name,
                &format!("{xhci}/{path}"),
                Some(driver),
                &[
                    ("idVendor", id.0),
                    ("idProduct", id.1),
                    ("product", product),
                ],
            )
        };
        usb(
            "usb1",
            "usb1",
            ("1d6b", "0002"),
            "xHCI Host Controller",
            "usb",
        );
        usb(
            "usb2",
            "usb2",
            ("1d6b", "0003"),
            "xHCI Host Controller",
            "usb",
        );
        usb(
            "1-6",
            "usb1/1-6",
            ("1286", "204c"),
            "Bluetooth and Wireless LAN Composite Device",
            "usb",
        );
        t.device(
            "usb",
            "1-6:1.0",
            &format!("{xhci}/usb1/1-6/1-6:1.0"),
            Some("btusb"),
            &[],
        );
        if !self.base_attached {
            return;
        }
        usb(
            "1-1",
            "usb1/1-1",
            ("045e", "0942"),
            "Surface Base Hub",
            "usb",
        );
        usb(
            "1-1.1",
            "usb1/1-1/1-1.1",
            ("045e", "0944"),
            "Surface Base Hub",
            "usb",
        );
        usb(
            "2-1",
            "usb2/2-1",
            ("045e", "0941"),
            "Surface Base Hub",
            "usb",
        );
        usb(
            "2-1.1",
            "usb2/2-1/2-1.1",
            ("045e", "0943"),
            "Surface Base Hub",
            "usb",
        );
        usb(
            "1-1.3",
            "usb1/1-1/1-1.3",
            ("045e", "0922"),
            "Surface Keyboard",
            "usb",
        );
        let iface = t.device(
            "usb",
            "1-1.3:1.0",
            &format!("{xhci}/usb1/1-1/1-1.3/1-1.3:1.0"),
            Some("usbhid"),
            &[],
        );
        let hid = t.device(
            "hid",
            "0003:045E:0922.0002",
            &format!("{xhci}/usb1/1-1/1-1.3/1-1.3:1.0/0003:045E:0922.0002"),
            Some("hid-multitouch"),
            &[],
        );
        let _ = iface;
        let kb_keys = bits(&[1, 2, 3, 4, 16, 17, 18, 28, 30, 57, 113, 114, 115]);
        t.input(
            10,
            &hid,
            "Microsoft Surface Keyboard",
            (0x03, 0x045e, 0x0922, 0x0111),
            &[("ev", "120013"), ("key", &kb_keys)],
            Some(10),
            &[("ID_INPUT", "1"), ("ID_INPUT_KEYBOARD", "1")],
        );
        let tp_keys = bits(&[0x110, 0x14a, 0x145, 0x14d, 0x14e]);
        t.input(
            11,
            &hid,
            "Microsoft Surface Keyboard Touchpad",
            (0x03, 0x045e, 0x0922, 0x0111),
            &[("ev", "1b"), ("key", &tp_keys), ("abs", "2e0800000000003")],
            Some(11),
            &[("ID_INPUT", "1"), ("ID_INPUT_TOUCHPAD", "1")],
        );
    }

    fn firmware(&self, t: &Tree) {
        match self.distro {
            Distro::NixOs => {
                t.attr(
                    "sys/module/firmware_class/parameters/path",
                    &format!("/{NIX_FIRMWARE}"),
                );
                t.file(
                    &format!("{NIX_FIRMWARE}/intel/ipu3-fw.bin.zst"),
                    b"\x28\xb5\x2f\xfd",
                );
                t.file(
                    &format!("{NIX_FIRMWARE}/mrvl/pcie8897_uapsta.bin.zst"),
                    b"\x28\xb5\x2f\xfd",
                );
            }
            _ => {
                t.attr("sys/module/firmware_class/parameters/path", "");
                t.file("lib/firmware/intel/ipu3-fw.bin", b"fw");
                t.file("lib/firmware/mrvl/pcie8897_uapsta.bin", b"fw");
            }
        }
    }

    fn services(&self, t: &Tree) {
        let (units, rules) = match self.distro {
            Distro::NixOs => {
                t.link("etc/systemd/system", "/nix/store/5555ffff-system-units");
                t.link("etc/udev/rules.d", "/nix/store/6666aaaa-udev-rules");
                (
                    "nix/store/5555ffff-system-units",
                    "nix/store/6666aaaa-udev-rules",
                )
            }
            _ => ("usr/lib/systemd/system", "usr/lib/udev/rules.d"),
        };
        t.file(
            &format!("{units}/iptsd@.service"),
            "[Service]\nExecStart=iptsd /%I\n",
        );
        t.file(
            &format!("{units}/surface-dtx-daemon.service"),
            "[Service]\nExecStart=surface-dtx-daemon\n",
        );
        t.file(
            &format!("{rules}/50-iptsd.rules"),
            "SUBSYSTEM==\"hidraw\", TAG+=\"systemd\"\n",
        );
        t.file(
            &format!("{rules}/40-surface_dtx.rules"),
            "KERNEL==\"surface_dtx\", TAG+=\"systemd\"\n",
        );
        let wants = match self.distro {
            Distro::NixOs => format!("{units}/multi-user.target.wants"),
            _ => "etc/systemd/system/multi-user.target.wants".into(),
        };
        t.rlink(
            &format!("{wants}/surface-dtx-daemon.service"),
            &format!("{units}/surface-dtx-daemon.service"),
        );
        // Running services: cgroups with processes, and their processes.
        let cg = "sys/fs/cgroup/system.slice";
        t.attr(
            &format!("{cg}/system-iptsd.slice/iptsd@dev-hidraw0.service/cgroup.procs"),
            "1234",
        );
        t.attr(
            &format!("{cg}/surface-dtx-daemon.service/cgroup.procs"),
            "987",
        );
        t.attr(&format!("{cg}/systemd-udevd.service/cgroup.procs"), "300");
        t.attr("proc/1/comm", "systemd");
        t.attr("proc/300/comm", "systemd-udevd");
        if self.hid_ipts() {
            t.attr("proc/1234/comm", "iptsd");
        } else {
            t.remove(&format!("{cg}/system-iptsd.slice"));
        }
        t.attr("proc/987/comm", "surface-dtx-dae");
    }
}

// ---- knobs for property and captured-tree tests ---------------------------------

impl Sb2 {
    /// Whether this kernel has the current (HID) IPTS driver, so that iptsd runs
    /// and its virtual touchscreen and stylus exist.
    pub fn has_hid_ipts(&self) -> bool {
        self.hid_ipts()
    }

    /// The directory of systemd units, root-relative.
    pub fn units_dir(&self) -> &'static str {
        match self.distro {
            Distro::NixOs => "nix/store/5555ffff-system-units",
            _ => "usr/lib/systemd/system",
        }
    }

    /// The directory of udev rules, root-relative.
    pub fn rules_dir(&self) -> &'static str {
        match self.distro {
            Distro::NixOs => "nix/store/6666aaaa-udev-rules",
            _ => "usr/lib/udev/rules.d",
        }
    }

    fn wants_dir(&self) -> String {
        match self.distro {
            Distro::NixOs => format!("{}/multi-user.target.wants", self.units_dir()),
            _ => "etc/systemd/system/multi-user.target.wants".into(),
        }
    }

    /// The ImgU firmware file, root-relative.
    pub fn imgu_firmware(&self) -> String {
        match self.distro {
            Distro::NixOs => format!("{NIX_FIRMWARE}/intel/ipu3-fw.bin.zst"),
            _ => "lib/firmware/intel/ipu3-fw.bin".into(),
        }
    }
}

/// The DMI identity files of the tree (`sys/class/dmi/id/<name>`).
pub const DMI_IDENTITY: &[&str] = &["product_name", "sys_vendor", "product_sku", "board_name"];

/// Ways a DMI identity file is found unreadable or wrong in real captures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmiCorruption {
    /// These bytes in place of the value.
    Garbage(Vec<u8>),
    /// An empty value (just the newline sysfs adds).
    Empty,
    /// A 0-byte file.
    ZeroBytes,
    /// The file is not there.
    Missing,
    /// Bytes that are not UTF-8 around a plausible value.
    NonUtf8,
    /// A directory where the file should be (reading it fails with EISDIR).
    Directory,
    /// A symlink to nothing (reading it fails with ENOENT, listing shows it).
    DanglingLink,
}

/// Corrupts DMI identity file `name` (one of [`DMI_IDENTITY`]) as `how` says.
pub fn corrupt_dmi(t: &Tree, name: &str, how: &DmiCorruption) {
    let rel = format!("sys/class/dmi/id/{name}");
    match how {
        DmiCorruption::Garbage(bytes) => t.file(&rel, bytes),
        DmiCorruption::Empty => t.file(&rel, "\n"),
        DmiCorruption::ZeroBytes => t.file(&rel, ""),
        DmiCorruption::Missing => t.remove(&rel),
        DmiCorruption::NonUtf8 => t.file(&rel, b"\xff\xfeSurface\x80Book\xc3\x28 2\n"),
        DmiCorruption::Directory => t.dir_in_place_of(&rel),
        DmiCorruption::DanglingLink => t.dangling_link_in_place_of(&rel),
    }
}

/// Config options [`Break::ConfigUnset`] may unset.
pub const UNSETTABLE_OPTIONS: &[&str] = &[
    "SURFACE_AGGREGATOR",
    "SURFACE_ACPI_NOTIFY",
    "SURFACE_DTX",
    "SURFACE_GPE",
    "INTEL_MEI_ME",
    "VIDEO_IPU3_CIO2",
    "INTEL_SKL_INT3472",
    "VIDEO_OV7251",
    "INPUT_SOC_BUTTON_ARRAY",
    "ACPI_BATTERY",
    "MWIFIEX_PCIE",
    "HIDRAW",
    "HID_IPTS",
];

/// One broken link, the way real machines break (docs/hardware.md section 4 and
/// tests/fixtures.rs). Each is applied to a healthy tree; they can be combined,
/// in which case a link already broken by another is left as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Break {
    /// The aggregator's serial device alone is unbound.
    SsamUnbound,
    /// F1: the aggregator failed to probe, and everything waiting for it is gone.
    SsamProbeFailed,
    /// F2: Surface ACPI Notify's device is unbound (probe failed).
    SanUnbound,
    /// F2: surface_acpi_notify is not loaded.
    SanNotLoaded,
    /// F3: iptsd is not running (its virtual devices are gone too).
    IptsdStopped,
    /// F3: iptsd is not installed (unit and udev rule gone).
    IptsdNotInstalled,
    /// iptsd runs but its virtual touchscreen and stylus are gone.
    TouchDevicesGone,
    /// The ipts module is not loaded: the MEI client is unbound, no HID device,
    /// iptsd not running.
    IptsNotLoaded,
    /// One sensor (0: INT33BE ov5693, 1: INT347A ov8865, 2: INT347E ov7251) unbound.
    SensorUnbound(u8),
    /// The INT3472 power controller is unbound (the sensors stay bound: a state
    /// downstream proof must read as "INT3472 worked").
    Int3472Unbound,
    /// The INT3472 power controller is unbound and so no sensor probed.
    CamerasUnpowered,
    /// ImgU failed to probe: unbound, its media and video devices never registered.
    ImguProbeFailed,
    /// The ImgU firmware file is gone from disk (ImgU still bound).
    ImguFirmwareRemoved,
    /// The CIO2 PCI function and its media and video devices are gone.
    Cio2Removed,
    /// F10: the NVIDIA GPU is not on the PCI bus (15" with its base).
    NvidiaRemoved,
    /// The NVIDIA GPU is there but no driver is bound.
    NvidiaUnbound,
    /// F11: the gpio-keys input devices (power, volume) are gone.
    ButtonsGone,
    /// F12: surface_gpe is not loaded.
    SurfaceGpeNotLoaded,
    /// A power supply is gone.
    Bat1Removed,
    Bat2Removed,
    AdapterRemoved,
    /// `/dev/surface/dtx` is gone and the DTX daemon not running.
    DtxNodeRemoved,
    /// surface-dtx-daemon is not installed.
    DtxDaemonNotInstalled,
    /// surface_dtx is not loaded: no misc device, node or tablet-mode switch.
    DtxNotLoaded,
    /// The running kernel's module tree is gone.
    ModuleTreeRemoved,
    /// surface_gpe is not loaded, and its module file is gone from the module tree
    /// and modules.dep (the config still says `=m`).
    ModuleFileRemoved,
    /// A config option (index into [`UNSETTABLE_OPTIONS`]) is not set.
    ConfigUnset(u8),
    /// mwifiex_pcie is not loaded: the Wi-Fi card is unbound, no interface.
    WifiNotLoaded,
    /// btusb is not loaded.
    BluetoothNotLoaded,
    /// The base keyboard's input device is gone.
    KeyboardGone,
    /// The base touchpad's input device is gone.
    TouchpadGone,
    /// The lid switch input device is gone.
    LidGone,
    /// The platform profile device and its ACPI files are gone.
    ProfileGone,
}

impl Break {
    /// Every breaker (each sensor and config option once).
    pub fn all() -> Vec<Break> {
        let mut v = vec![
            Break::SsamUnbound,
            Break::SsamProbeFailed,
            Break::SanUnbound,
            Break::SanNotLoaded,
            Break::IptsdStopped,
            Break::IptsdNotInstalled,
            Break::TouchDevicesGone,
            Break::IptsNotLoaded,
            Break::Int3472Unbound,
            Break::CamerasUnpowered,
            Break::ImguProbeFailed,
            Break::ImguFirmwareRemoved,
            Break::Cio2Removed,
            Break::NvidiaRemoved,
            Break::NvidiaUnbound,
            Break::ButtonsGone,
            Break::SurfaceGpeNotLoaded,
            Break::Bat1Removed,
            Break::Bat2Removed,
            Break::AdapterRemoved,
            Break::DtxNodeRemoved,
            Break::DtxDaemonNotInstalled,
            Break::DtxNotLoaded,
            Break::ModuleTreeRemoved,
            Break::ModuleFileRemoved,
            Break::WifiNotLoaded,
            Break::BluetoothNotLoaded,
            Break::KeyboardGone,
            Break::TouchpadGone,
            Break::LidGone,
            Break::ProfileGone,
        ];
        v.extend((0..3).map(Break::SensorUnbound));
        v.extend((0..UNSETTABLE_OPTIONS.len() as u8).map(Break::ConfigUnset));
        v
    }

    /// Whether this link exists on machine `m` as built.
    pub fn applies(self, m: &Sb2) -> bool {
        match self {
            Break::IptsdStopped
            | Break::IptsdNotInstalled
            | Break::TouchDevicesGone
            | Break::IptsNotLoaded => m.hid_ipts(),
            Break::NvidiaRemoved | Break::NvidiaUnbound => m.has_dgpu() && m.base_attached,
            Break::KeyboardGone | Break::TouchpadGone => m.base_attached,
            Break::ConfigUnset(i) => {
                let o = UNSETTABLE_OPTIONS[i as usize];
                m.config_options()
                    .iter()
                    .any(|(k, v)| *k == o && !v.is_empty())
            }
            _ => true,
        }
    }

    /// Breaks this link in `t`, a tree built from `m` (possibly with other links
    /// already broken).
    pub fn apply(self, m: &Sb2, t: &Tree) {
        match self {
            Break::SsamUnbound => unbind(t, "serial", "serial0-0"),
            Break::SsamProbeFailed => {
                unbind(t, "serial", "serial0-0");
                for dev in ["MSHW0091:00", "MSHW0133:00", "MSHW0107:00"] {
                    unbind(t, "platform", dev);
                }
                remove_device(t, "surface_aggregator", "01:03:01:00:01");
                remove(t, "sys/firmware/acpi/platform_profile");
                remove(t, "sys/firmware/acpi/platform_profile_choices");
                remove(t, "dev/surface/dtx");
                remove(t, "sys/class/misc/surface_dtx");
                remove(t, "sys/devices/virtual/misc/surface_dtx");
                remove_input(t, 5);
                remove_power_supply(t, "BAT1");
                remove_power_supply(t, "BAT2");
                stop_dtx_daemon(t);
            }
            Break::SanUnbound => unbind(t, "platform", "MSHW0091:00"),
            Break::SanNotLoaded => {
                unbind(t, "platform", "MSHW0091:00");
                unregister_driver(t, "platform", "surface_acpi_notify");
                unload_module(t, "surface_acpi_notify");
            }
            Break::IptsdStopped => stop_iptsd(t),
            Break::IptsdNotInstalled => {
                stop_iptsd(t);
                remove(t, &format!("{}/iptsd@.service", m.units_dir()));
                remove(t, &format!("{}/50-iptsd.rules", m.rules_dir()));
            }
            Break::TouchDevicesGone => {
                remove_input(t, 30);
                remove_input(t, 31);
            }
            Break::IptsNotLoaded => {
                stop_iptsd(t);
                remove_device(t, "hid", &m.ipts_hid_name());
                unbind(t, "mei", &format!("0000:00:16.4-{MEI_UUID}"));
                unregister_driver(t, "mei", "ipts");
                unload_module(t, "ipts");
            }
            Break::SensorUnbound(i) => {
                let hid = ["INT33BE", "INT347A", "INT347E"][i as usize % 3];
                unbind(t, "i2c", &format!("i2c-{hid}:00"));
            }
            Break::Int3472Unbound => unbind(t, "i2c", "i2c-INT3472:00"),
            Break::CamerasUnpowered => {
                unbind(t, "i2c", "i2c-INT3472:00");
                for hid in ["INT33BE", "INT347A", "INT347E"] {
                    unbind(t, "i2c", &format!("i2c-{hid}:00"));
                }
            }
            Break::ImguProbeFailed => {
                unbind(t, "pci", "0000:00:05.0");
                remove_class_device(t, "sys/bus/media/devices/media1", "media1");
                remove_class_device(t, "sys/class/video4linux/video4", "video4");
                remove_class_device(t, "sys/class/video4linux/video5", "video5");
            }
            Break::ImguFirmwareRemoved => remove(t, &m.imgu_firmware()),
            Break::Cio2Removed => {
                remove_class_device(t, "sys/bus/media/devices/media0", "media0");
                for i in 0..4 {
                    let v = format!("video{i}");
                    remove_class_device(t, &format!("sys/class/video4linux/{v}"), &v);
                }
                remove_device(t, "pci", "0000:00:14.3");
            }
            Break::NvidiaRemoved => remove_device(t, "pci", "0000:02:00.0"),
            Break::NvidiaUnbound => unbind(t, "pci", "0000:02:00.0"),
            Break::ButtonsGone => {
                remove_input(t, 1);
                remove_input(t, 2);
            }
            Break::SurfaceGpeNotLoaded => {
                remove_device(t, "platform", "surface_gpe");
                unregister_driver(t, "platform", "surface_gpe");
                unload_module(t, "surface_gpe");
            }
            Break::Bat1Removed => remove_power_supply(t, "BAT1"),
            Break::Bat2Removed => remove_power_supply(t, "BAT2"),
            Break::AdapterRemoved => remove_power_supply(t, "ADP1"),
            Break::DtxNodeRemoved => {
                remove(t, "dev/surface/dtx");
                stop_dtx_daemon(t);
            }
            Break::DtxDaemonNotInstalled => {
                remove(t, &format!("{}/surface-dtx-daemon.service", m.units_dir()));
                remove(t, &format!("{}/surface-dtx-daemon.service", m.wants_dir()));
                stop_dtx_daemon(t);
            }
            Break::DtxNotLoaded => {
                unbind(t, "platform", "MSHW0133:00");
                unregister_driver(t, "platform", "surface_dtx_pltf");
                unload_module(t, "surface_dtx");
                remove(t, "dev/surface/dtx");
                remove(t, "sys/class/misc/surface_dtx");
                remove(t, "sys/devices/virtual/misc/surface_dtx");
                remove_input(t, 5);
                stop_dtx_daemon(t);
            }
            Break::ModuleTreeRemoved => remove(t, &m.module_dir()),
            Break::ModuleFileRemoved => {
                Break::SurfaceGpeNotLoaded.apply(m, t);
                let path = "kernel/drivers/platform/surface/surface_gpe.ko.zst";
                remove(t, &format!("{}/{path}", m.module_dir()));
                let dep = format!("{}/modules.dep", m.module_dir());
                if let Some(text) = t.read(&dep) {
                    let kept: String = text
                        .lines()
                        .filter(|l| !l.starts_with(path))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    t.file(&dep, kept);
                }
            }
            Break::ConfigUnset(i) => unset_option(t, UNSETTABLE_OPTIONS[i as usize]),
            Break::WifiNotLoaded => {
                unbind(t, "pci", "0000:01:00.0");
                let wlan = format!("sys/devices/{PCI}/0000:01:00.0/net");
                remove(t, "sys/class/net/wlp1s0");
                remove(t, &wlan);
                unregister_driver(t, "pci", "mwifiex_pcie");
                unload_module(t, "mwifiex_pcie");
            }
            Break::BluetoothNotLoaded => {
                unbind(t, "usb", "1-6:1.0");
                unregister_driver(t, "usb", "btusb");
                unload_module(t, "btusb");
            }
            Break::KeyboardGone => remove_input(t, 10),
            Break::TouchpadGone => remove_input(t, 11),
            Break::LidGone => remove_input(t, 0),
            Break::ProfileGone => {
                remove_device(t, "surface_aggregator", "01:03:01:00:01");
                remove(t, "sys/firmware/acpi/platform_profile");
                remove(t, "sys/firmware/acpi/platform_profile_choices");
            }
        }
    }
}

// Tolerant forms of the Tree helpers: a link another breaker already broke is left.

fn remove(t: &Tree, rel: &str) {
    if t.exists(rel) {
        t.remove(rel);
    }
}

fn unbind(t: &Tree, bus: &str, name: &str) {
    if t.exists(&format!("sys/bus/{bus}/devices/{name}/driver")) {
        t.unbind(bus, name);
    }
}

fn remove_device(t: &Tree, bus: &str, name: &str) {
    if t.path()
        .join(format!("sys/bus/{bus}/devices/{name}"))
        .exists()
    {
        t.remove_device(bus, name);
    }
}

fn unregister_driver(t: &Tree, bus: &str, driver: &str) {
    let dir = format!("sys/bus/{bus}/drivers/{driver}");
    if t.exists(&dir) && t.list(&dir).is_empty() {
        t.unregister_driver(bus, driver);
    }
}

fn unload_module(t: &Tree, name: &str) {
    let loaded = t
        .read("proc/modules")
        .is_some_and(|s| s.lines().any(|l| l.split(' ').next() == Some(name)));
    if loaded {
        t.unload_module(name);
    }
}

fn remove_input(t: &Tree, n: u32) {
    if t.exists(&format!("sys/class/input/input{n}")) {
        // The node may already be gone (or /dev reshaped): remove_input wants it.
        for e in t.list(&format!("sys/class/input/input{n}/")) {
            if let Some(ev) = e.strip_prefix("event") {
                let node = format!("dev/input/event{ev}");
                if !t.exists(&node) {
                    t.file(&node, "");
                }
            }
        }
        t.remove_input(n);
    }
}

fn remove_power_supply(t: &Tree, name: &str) {
    if t.exists(&format!("sys/class/power_supply/{name}")) {
        t.remove_power_supply(name);
    }
}

fn remove_class_device(t: &Tree, link: &str, node: &str) {
    if t.exists(link) {
        if !t.exists(&format!("dev/{node}")) {
            t.file(&format!("dev/{node}"), "");
        }
        t.remove_class_device(link, node);
    }
}

fn stop_iptsd(t: &Tree) {
    remove(t, "sys/fs/cgroup/system.slice/system-iptsd.slice");
    remove(t, "proc/1234");
    remove_input(t, 30);
    remove_input(t, 31);
}

fn stop_dtx_daemon(t: &Tree) {
    remove(t, "sys/fs/cgroup/system.slice/surface-dtx-daemon.service");
    remove(t, "proc/987");
}

/// Rewrites `proc/config.gz` with `CONFIG_<option>` not set.
fn unset_option(t: &Tree, option: &str) {
    use std::io::Read;
    let Ok(bytes) = std::fs::read(t.path().join("proc/config.gz")) else {
        return;
    };
    let mut text = String::new();
    if flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .is_err()
    {
        return;
    }
    let set = format!("CONFIG_{option}=");
    let out: String = text
        .lines()
        .map(|l| {
            if l.starts_with(&set) {
                format!("# CONFIG_{option} is not set\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    t.gz("proc/config.gz", &out);
}
