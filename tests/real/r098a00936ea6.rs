//! Record 098A00936EA6: Zorin OS 16, STOCK Ubuntu HWE kernel 5.15.0-53-generic, 15".
//!
//! Source ("D"): linuxhw/Dmesg `Tablet/Microsoft/Surface/Surface Book 2/098A00936EA6/ZORIN-16/5.15.0-53-GENERIC/X86_64/C4BBE90221`.
//! No linuxhw/DMI file exists for this probe: DMI from D's `DMI:` line and the RMRR
//! firmware-bug line (`Product Version: D:0B:08K:1F:5C:10P:38`); the SKU is NOT KNOWN
//! (no product_sku file). 15" from D: dGPU [10de:1c20] on 02:00.0.
//!
//! The kernel-log lines are in `098A00936EA6.dmesg` (verbatim from D).
//! INVENTED: config (an Ubuntu 5.15 config), module tree, /proc/modules beyond what D
//! names, udev database, /dev nodes, battery values, firmware locations, no iptsd and
//! no surface-dtx-daemon installed (stock Zorin), the MEI client device of IPTS
//! (unbound), the dGPU hot-plug, lid wake and platform-profile devices.

use super::common::sb2::{Distro, Sb2, Size};
use super::common::tree::Tree;
use super::*;

pub fn build() -> Tree {
    let sb = Sb2::new(Size::In15, Distro::DebianStock);
    let old = sb.release();
    let t = sb.build();
    // D: `DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 389.2370.769 10/02/2018`.
    dmi(&t, None, "389.2370.769", Some("D:0B:08K:1F:5C:10P:38"));
    // Probe path ZORIN-16.
    os_release(
        &t,
        "NAME=\"Zorin OS\"\nVERSION=\"16\"\nID=zorin\nID_LIKE=\"ubuntu debian\"\nPRETTY_NAME=\"Zorin OS 16\"\n",
    );
    kernel(
        &t,
        old,
        &Kernel {
            // D: `Linux version 5.15.0-53-generic (XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) ...`
            release: "5.15.0-53-generic",
            version: "(XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) 9.4.0, GNU ld (GNU Binutils for Ubuntu) 2.34) #59~20.04.1-Ubuntu SMP Thu Oct 20 15:10:22 UTC 2022 (Ubuntu 5.15.0-53.59~20.04.1-generic 5.15.64)",
            cmdline: "BOOT_IMAGE=/boot/vmlinuz-5.15.0-53-generic root=UUID=XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX ro quiet splash vt.handoff=7",
            // INVENTED (Ubuntu 5.15): the upstream Surface drivers (D: SAM, DTX and
            // batteries work), INT3472 (D: int3472-discrete probes), atomisp in staging
            // (D: atomisp_gmin_platform, atomisp_ov5693), IPU3 with the cio2 bridge; no
            // IPTS (D: no ipts line); no upstream VIDEO_OV5693 yet (the ov5693 lines of D
            // come from atomisp's driver).
            modules: &[
                "mei_me",
                "ipu3_cio2",
                "ipu3_imgu",
                "intel_skl_int3472_discrete",
                "intel_skl_int3472_tps68470",
                "ov8865",
                "ov7251",
                "atomisp",
                "atomisp_gmin_platform",
                "atomisp_ov5693",
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
            other_config: &[("CIO2_BRIDGE", "y"), ("VIDEO_OV5693", "")],
            // D: atomisp_gmin_platform, atomisp_ov5693, ipu3_imgu (staging lines),
            // ipu3_cio2, intel_skl_int3472_discrete (`int3472-discrete` lines), mei_me,
            // mei_hdcp, mwifiex_pcie, nvidia, nvidia_uvm, nvidia-drm, surface_aggregator
            // (`surface_serial_hub`), surface_dtx, hid_multitouch. The rest INVENTED.
            loaded: &[
                "atomisp_gmin_platform",
                "atomisp_ov5693",
                "ipu3_cio2",
                "ipu3_imgu",
                "intel_skl_int3472_discrete",
                "mei_me",
                "mei_hdcp",
                "hid_multitouch",
                "surface_aggregator",
                "surface_aggregator_registry",
                "surface_acpi_notify",
                "surface_dtx",
                "surface_platform_profile",
                "surface_hotplug",
                "surface_gpe",
                "platform_profile",
                "soc_button_array",
                "mwifiex_pcie",
                "mwifiex",
                "btusb",
                "intel_lpss_pci",
                "8250_dw",
                "nvidia",
                "nvidia_uvm",
                "nvidia_drm",
                "nvidia_modeset",
            ],
            // D: nvidia "taints kernel" twice (P, O; no signature line); staging (C).
            tainted: 1 + 4096 + 1024,
            ext: ".ko",
            config_at: ConfigAt::Boot,
        },
    );
    no_surface_userspace(&t);
    // PCI (D): 00:15.0/15.1 intel-lpss. The generator's stock tree has 00:16.4 bound to
    // mei_me (D: `mei_me 0000:00:16.4: enabling device`) and the IPTS ME client unbound.
    for (slot, dev) in [("0000:00:15.0", "0x9d60"), ("0000:00:15.1", "0x9d61")] {
        pci(&t, slot, ("0x8086", dev), "0x118000", Some("intel-lpss"));
    }
    // Cameras (D): atomisp's ov5693 driver takes INT33BE and fails (`ov5693: probe of
    // i2c-INT33BE:00 failed with error -22`): the client is unbound, a driver named
    // ov5693 is registered. cio2 `Connected 1 cameras`; ImgU bound with its firmware
    // (`loaded firmware version irci_...`).
    t.unbind("i2c", "i2c-INT33BE:00");
    // INT3472:00, :01, :02 (D: `int3472-discrete: probe of INT3472:0N failed with
    // error -16`): platform devices, unbound, int3472-discrete registered.
    t.remove_device("i2c", "i2c-INT3472:00");
    for n in ["INT3472:01", "INT3472:02"] {
        acpi(&t, n, "15");
    }
    for n in ["INT3472:00", "INT3472:01", "INT3472:02"] {
        platform(&t, n, None);
    }
    t.register_driver("platform", "int3472-discrete");
    // INFERRED: no line names INT347A/INT347E; their _DEP on the failed INT3472 keeps
    // their I2C clients from being created (the ACPI devices stay).
    t.remove_device("i2c", "i2c-INT347A:00");
    t.remove_device("i2c", "i2c-INT347E:00");
    // Buttons (D): gpio-keys.8.auto, .9.auto.
    gpio_keys(&t, "gpio-keys.8.auto", "gpio-keys.9.auto");
    // USB (D): 045e:091e XBOX ACC at 1-7; base hubs, keyboard, 1286:204c are the
    // generator's. The Bluetooth "Surface Mobile Mouse" 045E:095D over uhid (input30).
    usb(&t, "usb1/1-7", ("045e", "091e"), "XBOX ACC");
    t.input(
        30,
        "sys/devices/virtual/misc/uhid/0005:045E:095D.0003",
        "Surface Mobile Mouse",
        (0x05, 0x045e, 0x095d, 0x0103),
        &[("ev", "17"), ("key", "1f0000 0 0 0 0"), ("rel", "1943")],
        Some(30),
        &[("ID_INPUT", "1"), ("ID_INPUT_MOUSE", "1")],
    );
    // Power (D): ADP1 off-line; BAT1, BAT2 present.
    t.attr(&format!("{ACPI}/ACPI0003:00/power_supply/ADP1/online"), "0");
    t.file(
        &format!("{ACPI}/ACPI0003:00/power_supply/ADP1/uevent"),
        "POWER_SUPPLY_NAME=ADP1\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=0\n",
    );
    t
}

pub fn expect(e: &mut Expect) {
    e.exit(1, "touch and the cameras are lost on this stock kernel");
    // Kernel: stock. D logs `DMAR: Passthrough IOMMU for integrated Intel IPU`, which
    // upstream prints too: it must not count as a linux-surface marker.
    e.status(
        "kernel",
        "failed",
        "a stock kernel: no IPTS, no linux-surface camera fixes",
    );
    e.decided_by("kernel", "kernel.surface-patches");
    e.summary_names("kernel", &["stock"], "names the stock kernel");
    e.that(
        e.v.report["kernel"]["surface_patches"] == false,
        format!(
            "kernel.surface_patches {}, expected false (the IPU passthrough line is upstream)",
            e.v.report["kernel"]["surface_patches"]
        ),
    );
    e.never_says(
        "kernel",
        "integrated Intel IPU",
        "the IPU passthrough quirk is upstream, not a patch marker",
    );
    // Touch: no ipts line at all: the kernel has no IPTS driver.
    e.status("touch", "failed", "no IPTS driver on a stock kernel");
    e.decided_by("touch", "touch.ipts-driver");
    e.summary_names("touch", &["ipts"], "names the missing IPTS driver");
    e.check_status("touch.mei", &["ok"], "00:16.4 bound to mei_me");
    // Camera: atomisp's ov5693 took the front sensor and failed -22.
    e.status("camera", "failed", "no camera works");
    e.decided_by("camera", "camera.atomisp");
    e.summary_names("camera", &["atomisp"], "names atomisp");
    e.mentions(
        "camera",
        &["atomisp_ov5693"],
        "names the atomisp module loaded",
    );
    e.mentions(
        "camera",
        &["i2c-INT33BE:00 failed with error -22"],
        "cites the front sensor's probe failure",
    );
    e.check_status("camera.cio2", &["ok"], "`ipu3-cio2 ... device 0x9d32`");
    e.check_status("camera.imgu", &["ok"], "`ipu3-imgu ... loaded firmware`");
    e.check_status(
        "camera.firmware",
        &["ok"],
        "`loaded firmware version irci_...`",
    );
    // Upstream Surface drivers work on 5.15.
    e.status("battery", "ok", "BAT1, BAT2 via SAM on a stock 5.15");
    e.status(
        "detach",
        "ok",
        "SAM 182.512.137, DTX bound; a missing surface-dtx-daemon is a notice",
    );
    e.status(
        "input",
        "ok",
        "keyboard, touchpad, gpio-keys .8/.9, lid, DTX switch",
    );
    e.status("dgpu", "ok", "10de:1c20 with nvidia");
    e.status(
        "wireless",
        "ok",
        "mwifiex `WLAN FW is active`, BT 1286:204c",
    );
    e.status("platform", "ok", "invented, healthy");
    // A 15" (dGPU 10de:1c20): with neither SKU nor IPTS HID the size is not known,
    // and must never be claimed as 13".
    e.that(
        e.v.report["machine"]["model"] != "surface-book-2-13",
        "machine.model claims the 13\" on a 15\" whose SKU is unknown".to_string(),
    );
}
