//! Record DAD0271D40B8: Debian 11, STOCK kernel 5.10.0-18-amd64 (Debian 5.10.140-1),
//! 13" i5 (no dGPU).
//!
//! Sources ("D", "DMI"):
//! - linuxhw/Dmesg `Tablet/Microsoft/Surface/Surface Book 2/DAD0271D40B8/DEBIAN-11/5.10.0-18-AMD64/X86_64/0092B0DDAF` (read completely)
//! - linuxhw/DMI `Tablet/Microsoft/Surface/Surface Book 2/DAD0271D40B8`
//!
//! The kernel-log lines are in `DAD0271D40B8.dmesg` (verbatim from D).
//! INVENTED: config (a Debian 5.10 config without the Surface Aggregator, SAN, DTX and
//! IPU3 drivers, consistent with D logging none of them), module tree, /proc/modules
//! beyond what D names, udev database, /dev nodes, no iptsd and no
//! surface-dtx-daemon, the ImgU firmware missing (D: i915 DMC firmware missing, so no
//! firmware-misc-nonfree), the devices that exist without a driver (serial0-0,
//! MSHW0091/0107/0133, INT3472, the sensors' I2C clients, the IPTS ME client), lid wake.

use super::common::sb2::{Distro, PCI, Sb2, Size};
use super::common::tree::Tree;
use super::*;

pub fn build() -> Tree {
    let sb = Sb2::new(Size::In13, Distro::DebianStock);
    let old = sb.release();
    let t = sb.build();
    // DMI: SKU Surface_Book_1832, BIOS 392.178.768, System Version.
    dmi(
        &t,
        Some("Surface_Book_1832"),
        "392.178.768",
        Some("124000000000000000000000D:0B:09K:0F:5C:09P:38"),
    );
    os_release(
        &t,
        "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nID=debian\n",
    );
    kernel(
        &t,
        old,
        &Kernel {
            // D: `Linux version 5.10.0-18-amd64 (XXX@XXX) (gcc-10 (Debian 10.2.1-6) ...`
            release: "5.10.0-18-amd64",
            version: "(XXX@XXX) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.140-1 (2022-09-02)",
            cmdline: "BOOT_IMAGE=/boot/vmlinuz-5.10.0-18-amd64 root=UUID=XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX ro quiet",
            modules: &[
                "mei_me",
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
                "SERIAL_DEV_BUS",
                "HIDRAW",
            ],
            other_config: &[
                ("SURFACE_AGGREGATOR", ""),
                ("SURFACE_ACPI_NOTIFY", ""),
                ("SURFACE_DTX", ""),
                ("SURFACE_AGGREGATOR_REGISTRY", ""),
                ("SURFACE_PLATFORM_PROFILE", ""),
                ("VIDEO_IPU3_CIO2", ""),
                ("VIDEO_IPU3_IMGU", ""),
                ("INTEL_ATOMISP", ""),
            ],
            // D: mei_me, mei_hdcp, hid_multitouch, mwifiex_pcie, r8152; rest INVENTED.
            loaded: &[
                "mei_me",
                "mei_hdcp",
                "hid_multitouch",
                "mwifiex_pcie",
                "mwifiex",
                "r8152",
                "soc_button_array",
                "surface_gpe",
                "intel_lpss_pci",
                "8250_dw",
            ],
            // D: no taint line, no staging or out-of-tree module.
            tainted: 0,
            ext: ".ko",
            config_at: ConfigAt::Boot,
        },
    );
    no_surface_userspace(&t);
    // iGPU of the i5-7300U: 8086:5916 (reference 6); 00:15.0/15.1 (D: intel-lpss).
    t.attr(&format!("sys/devices/{PCI}/0000:00:02.0/device"), "0x5916");
    for (slot, dev) in [("0000:00:15.0", "0x9d60"), ("0000:00:15.1", "0x9d61")] {
        pci(&t, slot, ("0x8086", dev), "0x118000", Some("intel-lpss"));
    }
    // Cameras (D): `pci 0000:00:05.0: [8086:1919]` and 00:14.3 present, no ipu3-cio2,
    // ipu3-imgu or sensor line at all: both functions unbound, no media graph.
    t.unbind("pci", "0000:00:05.0");
    t.unbind("pci", "0000:00:14.3");
    for d in ["ipu3-imgu", "ipu3-cio2"] {
        t.unregister_driver("pci", d);
    }
    for m in ["media0", "media1"] {
        t.remove_class_device(&format!("sys/bus/media/devices/{m}"), m);
    }
    for i in 0..6 {
        t.remove_class_device(
            &format!("sys/class/video4linux/video{i}"),
            &format!("video{i}"),
        );
    }
    for (c, d) in [
        ("i2c-INT33BE:00", "ov5693"),
        ("i2c-INT347A:00", "ov8865"),
        ("i2c-INT347E:00", "ov7251"),
    ] {
        t.unbind("i2c", c);
        t.unregister_driver("i2c", d);
    }
    t.remove_device("i2c", "i2c-INT3472:00");
    t.unregister_driver("i2c", "int3472-tps68470");
    platform(&t, "INT3472:00", None);
    t.remove("lib/firmware/intel/ipu3-fw.bin");
    // Aggregator (D): `dw-apb-uart.4: ttyS0`, `serial serial0: tty port ttyS0
    // registered` and NO surface_serial_hub line: serial0-0 exists, nothing binds it.
    t.unbind("serial", "serial0-0");
    t.unregister_driver("serial", "surface_serial_hub");
    // No SAN, DTX, platform hub or profile driver: the ACPI platform devices stay unbound.
    for (dev, drv) in [
        ("MSHW0091:00", "surface_acpi_notify"),
        ("MSHW0133:00", "surface_dtx_pltf"),
        ("MSHW0107:00", "surface_aggregator_platform_hub"),
    ] {
        if dev == "MSHW0133:00" {
            // D: no DTX line: the switch input goes with the driver.
            t.remove_input(5);
        }
        t.unbind("platform", dev);
        t.unregister_driver("platform", drv);
    }
    t.remove_device("surface_aggregator", "01:03:01:00:01");
    t.remove("sys/bus/surface_aggregator");
    t.remove("sys/firmware/acpi/platform_profile");
    t.remove("sys/firmware/acpi/platform_profile_choices");
    // DTX (D): no MSHW0133 line: no misc device, no node.
    t.remove("sys/class/misc/surface_dtx");
    t.remove("sys/devices/virtual/misc/surface_dtx");
    t.remove("dev/surface/dtx");
    // Power (D): `ACPI: AC Adapter [ADP1] (off-line)`, NO BAT1/BAT2 line at all.
    t.remove_power_supply("BAT1");
    t.remove_power_supply("BAT2");
    t.attr(&format!("{ACPI}/ACPI0003:00/power_supply/ADP1/online"), "0");
    t.file(
        &format!("{ACPI}/ACPI0003:00/power_supply/ADP1/uevent"),
        "POWER_SUPPLY_NAME=ADP1\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=0\n",
    );
    // Wi-Fi (D): `Direct firmware load for mrvl/pcie8897_uapsta.bin failed with error
    // -2`, `_mwifiex_fw_dpc: unregister device`: bound, no interface, no file.
    t.remove("lib/firmware/mrvl/pcie8897_uapsta.bin");
    t.remove("sys/class/net/wlp1s0");
    t.remove(&format!("sys/devices/{PCI}/0000:01:00.0/net"));
    // Bluetooth (D): no 1286:204c.
    t.remove_device("usb", "1-6:1.0");
    t.remove_device("usb", "1-6");
    t.unregister_driver("usb", "btusb");
    // Buttons (D): gpio-keys.8.auto, .9.auto under MSHW0040:00.
    gpio_keys(&t, "gpio-keys.8.auto", "gpio-keys.9.auto");
    // USB (D): an external hub and a Realtek 0bda:8153 LAN (`r8152 2-1.2.4:1.0`) behind
    // the base's USB-A port; base hubs and keyboard (hid-generic, then hid-multitouch)
    // are the generator's.
    usb(&t, "usb2/2-1/2-1.2", ("2109", "0815"), "USB3.0 Hub");
    usb(
        &t,
        "usb2/2-1/2-1.2/2-1.2.4",
        ("0bda", "8153"),
        "USB 10/100/1000 LAN",
    );
    t
}

pub fn expect(e: &mut Expect) {
    e.exit(1, "no touch, cameras, batteries, detach or Wi-Fi");
    e.status("kernel", "failed", "a stock 5.10 kernel");
    e.decided_by("kernel", "kernel.surface-patches");
    e.that(
        e.v.report["kernel"]["surface_patches"] == false,
        format!(
            "kernel.surface_patches {}, expected false",
            e.v.report["kernel"]["surface_patches"]
        ),
    );
    e.status("touch", "failed", "no IPTS driver");
    e.decided_by("touch", "touch.ipts-driver");
    e.summary_names("touch", &["ipts"], "names the missing IPTS driver");
    // Camera: the IPU3 functions are there; the kernel has no IPU3 driver.
    e.status("camera", "failed", "no IPU3 driver on Debian 5.10");
    e.decided_by("camera", "camera.cio2");
    e.summary_names(
        "camera",
        &["ipu3_cio2", "VIDEO_IPU3_CIO2"],
        "names the missing CIO2 driver",
    );
    e.never_says(
        "camera",
        "disabled in the UEFI",
        "both IPU3 functions are present",
    );
    // Batteries: no BAT1/BAT2 at all; the kernel has no SAN (nor the aggregator).
    e.status("battery", "failed", "no batteries (D: no BAT line)");
    e.decided_by("battery", "battery.san");
    e.mentions(
        "battery",
        &["SURFACE_ACPI_NOTIFY", "SURFACE_AGGREGATOR"],
        "names what the kernel lacks",
    );
    e.never_says(
        "battery",
        "report defaults",
        "no power supply exists to report anything",
    );
    e.never_says(
        "battery",
        "drivers_probe",
        "the kernel has no driver to probe",
    );
    // Detach: no aggregator driver in the kernel.
    e.status("detach", "failed", "no aggregator, no DTX");
    e.decided_by("detach", "detach.ssam");
    e.summary_names(
        "detach",
        &["SURFACE_AGGREGATOR"],
        "names the missing driver",
    );
    e.never_says(
        "detach",
        "drivers_probe",
        "the kernel has no driver to probe",
    );
    // Input: keyboard, touchpad, gpio-keys, lid work; the tablet-mode switch (DTX) is
    // missing.
    for c in [
        "input.keyboard",
        "input.touchpad",
        "input.buttons",
        "input.lid",
    ] {
        e.check_status(c, &["ok"], "D shows it");
    }
    e.status_not(
        "input",
        &["ok", "absent", "unknown"],
        "no tablet-mode switch",
    );
    e.decided_by("input", "input.tablet-mode");
    e.status("dgpu", "absent", "13\" i5: no dGPU");
    e.status("wireless", "failed", "Wi-Fi firmware missing");
    e.decided_by("wireless", "wireless.wifi-firmware");
    e.summary_names(
        "wireless",
        &["pcie8897_uapsta.bin"],
        "names the firmware file",
    );
    // Bluetooth (records.md): the 88W8897's USB function appears only after its
    // firmware ran (5B3E4C5AAEC5 `FW download over` 5.948 s, `usb 1-6` 6.848 s;
    // 1987F55FAE3C 7.388 s, 8.287 s): the check must name the missing firmware.
    let bt = e.check("wireless.bluetooth");
    let bt_status = super::s(&bt["status"]);
    let bt_text = format!("{} {}", bt["summary"], bt["notices"]);
    e.that(
        bt_status != "ok" && bt_text.contains("firmware"),
        format!(
            "wireless.bluetooth: {bt_status} ({bt_text}): the BT function is missing because the Wi-Fi firmware never ran, which it must name"
        ),
    );
    e.status_not(
        "platform",
        &["ok", "absent", "unknown"],
        "no platform profile",
    );
    e.never_says(
        "platform",
        "drivers_probe",
        "the kernel has no driver to probe",
    );
    e.that(
        e.v.report["machine"]["model"] == "surface-book-2-13",
        format!(
            "machine.model {}, expected surface-book-2-13 (SKU 1832)",
            e.v.report["machine"]["model"]
        ),
    );
}
