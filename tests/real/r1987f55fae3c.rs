//! Record 1987F55FAE3C: Linux Mint 21.1, linux-surface 6.2.8-surface, 13" i7 with a
//! GTX 1050 (10de:1c8d).
//!
//! Source ("D"): linuxhw/Dmesg `Tablet/Microsoft/Surface/Surface Book 2/1987F55FAE3C/LINUXMINT-21.1/6.2.8-SURFACE/X86_64/4ECEAEB7C1`.
//! There is no linuxhw/DMI file for this probe: DMI comes from D's `DMI:` line, and
//! the SKU is NOT KNOWN (the fixture has no product_sku file, as a capture that lacks
//! it). 13" from D: IPTS HID `045E:0021`, efifb 3000x2000 (records.md).
//!
//! The kernel-log lines are in `1987F55FAE3C.dmesg` (verbatim from D).
//! INVENTED: config, module tree, /proc/modules beyond what D names, udev database,
//! /dev nodes, battery values, firmware locations, services (iptsd >= 1.0 as
//! `iptsd@dev-hidraw1.service`, surface-dtx-daemon), the platform profile, lid wake,
//! the dGPU hot-plug device (absent: unknown on the 13" i7), the ACPI status of the
//! disabled sensors.

use super::common::sb2::{Distro, MEI_UUID, PCI, Sb2, Size};
use super::common::tree::Tree;
use super::*;

pub fn build() -> Tree {
    // D, 2023-03 linux-surface 6.2.8: the HID IPTS driver (`IPTS EDS Version: 1`,
    // `IPTS running in event mode`, HID `0000:045E:0021.0003`).
    let sb = Sb2::new(Size::In13, Distro::DebianSurface);
    let old = sb.release();
    let t = sb.build();
    // D: `DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 392.178.768`.
    // No DMI file: SKU and System Version unknown.
    dmi(&t, None, "392.178.768", None);
    os_release(
        &t,
        "NAME=\"Linux Mint\"\nVERSION=\"21.1 (Vera)\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nPRETTY_NAME=\"Linux Mint 21.1\"\n",
    );
    kernel(
        &t,
        old,
        &Kernel {
            // D: `Linux version 6.2.8-surface (XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) ...`
            release: "6.2.8-surface",
            version: "(XXX@XXX) (gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) 9.4.0, GNU ld (GNU Binutils for Ubuntu) 2.34) #1 SMP PREEMPT_DYNAMIC Thu Mar 23 15:17:30 UTC 2023",
            cmdline: "BOOT_IMAGE=/boot/vmlinuz-6.2.8-surface root=UUID=XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX ro quiet splash",
            // INVENTED: a linux-surface 6.2 config (HID_IPTS; CIO2_BRIDGE still inside
            // ipu3-cio2 in 6.2).
            modules: &[
                "mei_me",
                "ipts_hid",
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
            // D names ipu3_imgu, ov5693, mei_me, mei_hdcp, ipts, hid_multitouch,
            // mwifiex_pcie, surface_aggregator, surface_dtx, nvidia (525.85.05),
            // nvidia_uvm, nvidia-drm; the rest INVENTED. ov8865/ov7251 are not loaded:
            // their sensors are not enumerated.
            loaded: &[
                "mei_me",
                "mei_hdcp",
                "ipts",
                "hid_multitouch",
                "ipu3_cio2",
                "ipu3_imgu",
                "ov5693",
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
                "nvidia",
                "nvidia_uvm",
                "nvidia_drm",
                "nvidia_modeset",
            ],
            // D: nvidia P, O, E; ipu3_imgu staging C.
            tainted: 13313,
            ext: ".ko",
            config_at: ConfigAt::Boot,
        },
    );
    // PCI (D): 00:15.0/15.1/15.2 enabled by intel-lpss, NO 00:15.3 (the controller of
    // the rear and IR sensors, reference 6: it vanishes when they are disabled in UEFI);
    // 02:00.0 [10de:1c8d] with nvidia (`Initialized nvidia-drm ... for 0000:02:00.0`).
    for (slot, dev) in [("0000:00:15.0", "0x9d60"), ("0000:00:15.1", "0x9d61")] {
        pci(&t, slot, ("0x8086", dev), "0x118000", Some("intel-lpss"));
    }
    t.remove_device("i2c", "i2c-INT347A:00");
    t.remove_device("i2c", "i2c-INT347E:00");
    t.remove_device("pci", "0000:00:15.3");
    // INVENTED: the ACPI devices of the disabled sensors stay, with _STA 0.
    t.attr(&format!("{ACPI}/INT347A:00/status"), "0");
    t.attr(&format!("{ACPI}/INT347E:00/status"), "0");
    t.remove_device("i2c", "i2c-INT3472:00");
    platform(&t, "INT3472:00", None);
    pci(
        &t,
        "0000:00:1c.4/0000:02:00.0",
        ("0x10de", "0x1c8d"),
        "0x030200",
        Some("nvidia"),
    );
    // Aggregator (D): `dw-apb-uart.3: ttyS4`, `serial serial0: tty port ttyS4
    // registered`, `surface_serial_hub serial0-0: SAM firmware version: 182.2304.139`:
    // the UART is dw-apb-uart.3 here (one LPSS I2C function fewer).
    t.remove_device("serial", "serial0-0");
    t.device(
        "serial",
        "serial0-0",
        &format!("{PCI}/0000:00:1e.0/dw-apb-uart.3/serial0/serial0-0"),
        Some("surface_serial_hub"),
        &[],
    );
    // Buttons (D): gpio-keys.8.auto, .9.auto.
    gpio_keys(&t, "gpio-keys.8.auto", "gpio-keys.9.auto");
    // Touch (D): HID `0000:045E:0021.0003` bound by hid-generic, then by hid-multitouch
    // (`hid-multitouch 0000:045E:0021.0003: input,hidraw1`), its input
    // `IPTS 045E:0021` (input30), and iptsd's "IPTS Touch" input32 / "IPTS Stylus"
    // input33 (`IPTS running in doorbell mode` once iptsd opened it). Replaces the
    // generator's `.0001` device with hidraw0 and its IPTSD Virtual inputs.
    t.remove_input(30);
    t.remove_input(31);
    t.remove_device("hid", "0000:045E:0021.0001");
    let mei = format!("{PCI}/0000:00:16.4/0000:00:16.4-{MEI_UUID}");
    let hid = t.device(
        "hid",
        "0000:045E:0021.0003",
        &format!("{mei}/0000:045E:0021.0003"),
        Some("hid-multitouch"),
        &[],
    );
    t.mkdir(&format!("{hid}/hidraw/hidraw1"));
    t.input(
        30,
        &hid,
        "IPTS 045E:0021",
        (0x00, 0x045e, 0x0021, 0),
        &[("ev", "1b"), ("key", "400 0 0 0 0 0"), ("abs", "2608000 3")],
        Some(30),
        &[("ID_INPUT", "1"), ("ID_INPUT_TOUCHSCREEN", "1")],
    );
    virtual_ipts_inputs(&t, 32, 33);
    // INVENTED: iptsd@dev-hidraw1.service (hidraw1 from D).
    let cg = "sys/fs/cgroup/system.slice/system-iptsd.slice";
    t.remove(&format!("{cg}/iptsd@dev-hidraw0.service"));
    t.attr(
        &format!("{cg}/iptsd@dev-hidraw1.service/cgroup.procs"),
        "1234",
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
    e.exit(
        0,
        "everything the owner would notice works; rear and IR cameras are off in UEFI",
    );
    e.status(
        "kernel",
        "ok",
        "6.2.8-surface, `DMAR: Passthrough IOMMU for IPTS`",
    );
    e.status(
        "touch",
        "ok",
        "HID IPTS 045E:0021 bound, iptsd's IPTS Touch/Stylus present",
    );
    e.check_status("touch.hid", &["ok"], "0000:045E:0021.0003 with hidraw1");
    // Camera: only the front sensor is enumerated (`Found supported sensor INT33BE:00`,
    // `Connected 1 cameras`) and it is bound; 00:15.3 is missing, as when the rear and
    // IR cameras are disabled in UEFI. Not failed, not degraded: "disabled in UEFI, or
    // not present" is a notice.
    e.status(
        "camera",
        "ok",
        "front sensor bound; rear/IR disabled in UEFI or not present",
    );
    e.mentions(
        "camera",
        &["INT347A", "rear"],
        "the missing rear sensor is noticed",
    );
    e.never_says("camera", "no INT3472", "INT3472 is [U]");
    e.status("battery", "ok", "BAT1, BAT2 present");
    e.status("detach", "ok", "SAM on dw-apb-uart.3, DTX MSHW0133:00");
    e.status(
        "input",
        "ok",
        "keyboard, touchpad, gpio-keys .8/.9, lid, DTX switch",
    );
    // dGPU: a 13" with a GTX 1050 (10de:1c8d) on 02:00.0, bound to nvidia.
    e.status("dgpu", "ok", "10de:1c8d on 02:00.0");
    e.status(
        "wireless",
        "ok",
        "mwifiex `WLAN FW is active`, BT 1286:204c",
    );
    e.status("platform", "ok", "invented, healthy");
    e.that(
        e.v.report["machine"]["model"] == "surface-book-2-13",
        format!(
            "machine.model {}, expected surface-book-2-13 (IPTS 045E:0021)",
            e.v.report["machine"]["model"]
        ),
    );
}
