//! Record 5B3E4C5AAEC5: Linux Mint 21, linux-surface 5.19.6-surface, 13" i5 (no dGPU).
//!
//! Sources ("D", "DMI"):
//! - linuxhw/Dmesg `Tablet/Microsoft/Surface/Surface Book 2/5B3E4C5AAEC5/LINUXMINT-21/5.19.6-SURFACE/X86_64/ACA221C7CF`
//! - linuxhw/DMI `Tablet/Microsoft/Surface/Surface Book 2/5B3E4C5AAEC5`
//!
//! The kernel-log lines are in `5B3E4C5AAEC5.dmesg` (verbatim from D).
//! INVENTED: config, module tree, /proc/modules beyond what D names, udev database,
//! /dev nodes, battery values, firmware file locations, services (iptsd 0.x,
//! surface-dtx-daemon), the platform profile and lid wake, the INT3472 devices, input
//! numbers of the generator's devices.

use super::common::sb2::{Distro, PCI, Sb2, Size};
use super::common::tree::Tree;
use super::*;

pub fn build() -> Tree {
    // D: 13" (IPTS `Device 045E:0021 ready`; SKU 1832; no device on bus 02), Sept 2022
    // linux-surface: the pre-2023 IPTS driver and iptsd 0.x ("IPTS Touch"/"IPTS Stylus").
    let sb = Sb2 {
        legacy_ipts: true,
        ..Sb2::new(Size::In13, Distro::DebianSurface)
    };
    let old = sb.release();
    let t = sb.build();
    // DMI: SKU Surface_Book_1832, BIOS 392.178.768, System Version.
    dmi(
        &t,
        Some("Surface_Book_1832"),
        "392.178.768",
        Some("124000000000000000000000D:0B:09K:0F:5C:09P:38"),
    );
    // Probe path LINUXMINT-21.
    os_release(
        &t,
        "NAME=\"Linux Mint\"\nVERSION=\"21 (Vanessa)\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nPRETTY_NAME=\"Linux Mint 21\"\n",
    );
    kernel(
        &t,
        old,
        &Kernel {
            // D: `Linux version 5.19.6-surface (XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) ...`
            release: "5.19.6-surface",
            version: "(XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) 9.4.0, GNU ld (GNU Binutils for Ubuntu) 2.34) #1 SMP PREEMPT_DYNAMIC Fri Sep 2 20:37:42 UTC 2022",
            cmdline: "BOOT_IMAGE=/boot/vmlinuz-5.19.6-surface root=UUID=XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX ro quiet splash",
            // INVENTED: a linux-surface 5.19 config (MISC_IPTS; CIO2_BRIDGE in ipu3-cio2).
            modules: &[
                "mei_me",
                "ipts_misc",
                "ipu3_cio2",
                "ipu3_imgu",
                "intel_skl_int3472_discrete",
                "intel_skl_int3472_tps68470",
                "ov5693",
                "ov8865",
                "ov7251",
                "dw9719",
                "surface_aggregator",
                "surface_aggregator_registry",
                "surface_acpi_notify",
                "surface_dtx",
                "surface_platform_profile",
                "surface_hotplug",
                "surface_gpe",
                "soc_button_array",
                "mwifiex_pcie",
                "btusb",
                "intel_lpss_pci",
                "8250_dw",
            ],
            builtin: &[
                "ACPI_BATTERY",
                "ACPI_AC",
                "ACPI_BUTTON",
                "PINCTRL_SUNRISEPOINT",
                "SURFACE_AGGREGATOR_BUS",
                "SERIAL_DEV_BUS",
                "HIDRAW",
            ],
            other_config: &[("CIO2_BRIDGE", "y"), ("INTEL_ATOMISP", "")],
            // D names ipu3_imgu, ov5693, ov8865, ov7251, dw9719, mei_me, mei_hdcp, ipts,
            // mwifiex_pcie, surface_aggregator, surface_dtx; the rest INVENTED.
            loaded: &[
                "mei_me",
                "mei_hdcp",
                "ipts",
                "ipu3_cio2",
                "ipu3_imgu",
                "ov5693",
                "ov8865",
                "ov7251",
                "dw9719",
                "intel_skl_int3472_tps68470",
                "surface_aggregator",
                "surface_aggregator_registry",
                "surface_acpi_notify",
                "surface_dtx",
                "surface_platform_profile",
                "surface_gpe",
                "platform_profile",
                "soc_button_array",
                "mwifiex_pcie",
                "mwifiex",
                "btusb",
                "intel_lpss_pci",
                "8250_dw",
            ],
            // D: no taint line (no out-of-tree module); ipu3_imgu is staging (C).
            tainted: 1024,
            ext: ".ko",
            config_at: ConfigAt::Boot,
        },
    );
    // PCI (D): iGPU of the i5-7300U is 8086:5916 (reference 6); 00:15.0/15.1 enabled by
    // intel-lpss. No device on bus 02 (the generator's 13" has none).
    t.attr(&format!("sys/devices/{PCI}/0000:00:02.0/device"), "0x5916");
    for (slot, dev) in [("0000:00:15.0", "0x9d60"), ("0000:00:15.1", "0x9d61")] {
        pci(&t, slot, ("0x8086", dev), "0x118000", Some("intel-lpss"));
    }
    // Buttons (D): `gpio-keys as /devices/platform/MSHW0040:00/gpio-keys.8.auto` and `.9.auto`.
    gpio_keys(&t, "gpio-keys.8.auto", "gpio-keys.9.auto");
    // Touch (D): "IPTS Touch" input30, "IPTS Stylus" input31, from iptsd 0.x. The
    // generator's 13" has no input 30/31 on the legacy stack.
    iptsd_0x(&t, 30, 31);
    // Cameras (D): ov5693 and ov8865 bound, dw9719 VCM up, `ov7251: probe of
    // i2c-INT347E:00 failed with error -2`.
    t.unbind("i2c", "i2c-INT347E:00");
    i2c_client(&t, "INT347A:00-VCM", 3, "0000:00:15.3", Some("dw9719"));
    // INT3472: no line in D; INFERRED unbound as in 79D657BBD855.
    t.remove_device("i2c", "i2c-INT3472:00");
    for n in ["INT3472:01", "INT3472:02"] {
        acpi(&t, n, "15");
    }
    for n in ["INT3472:00", "INT3472:01", "INT3472:02"] {
        platform(&t, n, None);
    }
    // Power (D): ADP1 off-line; BAT1, BAT2 present.
    t.attr(&format!("{ACPI}/ACPI0003:00/power_supply/ADP1/online"), "0");
    t.file(
        &format!("{ACPI}/ACPI0003:00/power_supply/ADP1/uevent"),
        "POWER_SUPPLY_NAME=ADP1\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=0\n",
    );
    // USB (D): base hubs, keyboard 1-1.3 (hid-generic then hid-multitouch), Marvell
    // 1286:204c at 1-6 (`usb 1-6: New USB device found, idVendor=1286`): the generator's.
    t
}

pub fn expect(e: &mut Expect) {
    e.exit(0, "everything the owner would notice works");
    e.status(
        "kernel",
        "ok",
        "5.19.6-surface; `DMAR: Passthrough IOMMU for IPTS`",
    );
    e.status(
        "touch",
        "ok",
        "`Device 045E:0021 ready`, IPTS Touch/Stylus: works on the older stack",
    );
    e.mentions(
        "touch",
        &["MISC_IPTS", "pre-2023", "iptsd 0.x", "older"],
        "the notice names the older generation",
    );
    e.status_not(
        "camera",
        &["failed"],
        "front and rear sensors bound, `Connected 3 cameras`",
    );
    e.mentions(
        "camera",
        &["INT347E", "ov7251"],
        "the IR sensor's failure is named",
    );
    e.cites_log(
        "camera.sensors",
        "probe of i2c-INT347E:00 failed with error -2",
    );
    e.never_says("camera", "no INT3472", "INT3472 is [U]; sensors are bound");
    e.status("battery", "ok", "BAT1, BAT2 present, ADP1 off-line");
    e.status("detach", "ok", "SAM 182.2304.139, DTX MSHW0133:00");
    e.status(
        "input",
        "ok",
        "keyboard, touchpad, gpio-keys .8/.9, lid, DTX switch",
    );
    e.status("dgpu", "absent", "13\" i5: no device on bus 02");
    e.status(
        "wireless",
        "ok",
        "mwifiex `WLAN FW is active`, BT 1286:204c",
    );
    e.status("platform", "ok", "invented, healthy");
    e.that(
        e.v.report["machine"]["model"] == "surface-book-2-13",
        format!(
            "machine.model {}, expected surface-book-2-13",
            e.v.report["machine"]["model"]
        ),
    );
}
