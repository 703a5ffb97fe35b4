//! Record 44CB94E9B7BC: Arch Linux, STOCK kernel 5.14.11-arch1-1, 15", apparently
//! without linux-firmware.
//!
//! Sources ("D", "DMI"):
//! - linuxhw/Dmesg `Tablet/Microsoft/Surface/Surface Book 2/44CB94E9B7BC/ARCH-ROLLING/5.14.11-ARCH1-1/X86_64/C864CCE720`
//! - linuxhw/DMI `Tablet/Microsoft/Surface/Surface Book 2/44CB94E9B7BC`
//!
//! The kernel-log lines are in `44CB94E9B7BC.dmesg` (verbatim from D).
//! INVENTED: config (an Arch 5.14 config without INT3472, consistent with D logging no
//! INT3472 line), module tree, /proc/modules beyond what D names, udev database, /dev
//! nodes, battery values, no iptsd and no surface-dtx-daemon, the IPTS ME client
//! (unbound), the dGPU hot-plug, lid wake and platform-profile devices, the rear and IR
//! sensors' I2C clients (unbound).

use super::common::sb2::{Distro, PCI, Sb2, Size};
use super::common::tree::Tree;
use super::*;

pub fn build() -> Tree {
    let sb = Sb2::new(Size::In15, Distro::DebianStock);
    let old = sb.release();
    let t = sb.build();
    // DMI: SKU Surface_Book_1793, BIOS 390.3681.768, System Version.
    dmi(
        &t,
        Some("Surface_Book_1793"),
        "390.3681.768",
        Some("124000000000000000000000D:0B:08K:1F:5C:10P:38"),
    );
    os_release(
        &t,
        "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
    );
    kernel(
        &t,
        old,
        &Kernel {
            // D: `Linux version 5.14.11-arch1-1 (XXX@XXX) (gcc (GCC) 11.1.0, ...`
            release: "5.14.11-arch1-1",
            version: "(XXX@XXX) (gcc (GCC) 11.1.0, GNU ld (GNU Binutils) 2.36.1) #1 SMP PREEMPT Sun, 10 Oct 2021 00:48:26 +0000",
            // D: `Command line:` (the root PARTUUID as anonymised by hw-probe).
            cmdline: "initrd=\\intel-ucode.img initrd=\\initramfs-linux.img root=PARTUUID=HASH_586-55F8-5C41-3B2B-A2F222FD93BB rw nvidia-drm.modeset=1",
            modules: &[
                "mei_me",
                "ipu3_cio2",
                "ipu3_imgu",
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
                "IKCONFIG_PROC",
            ],
            other_config: &[
                ("CIO2_BRIDGE", "y"),
                ("VIDEO_OV5693", ""),
                ("INTEL_SKL_INT3472", ""),
            ],
            // D: nvidia (470.74), nvidia_uvm, nvidia-drm, atomisp_gmin_platform,
            // atomisp_ov5693, ipu3_imgu, ipu3_cio2, mei_me, mei_hdcp, mwifiex_pcie,
            // surface_aggregator, surface_dtx, hid_multitouch, r8152. Rest INVENTED.
            loaded: &[
                "nvidia",
                "nvidia_uvm",
                "nvidia_drm",
                "nvidia_modeset",
                "atomisp_gmin_platform",
                "atomisp_ov5693",
                "ipu3_cio2",
                "ipu3_imgu",
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
                "r8152",
            ],
            // D: nvidia P, O, E ("module verification failed"); staging C.
            tainted: 13313,
            ext: ".ko.zst",
            config_at: ConfigAt::Proc,
        },
    );
    no_surface_userspace(&t);
    for (slot, dev) in [("0000:00:15.0", "0x9d60"), ("0000:00:15.1", "0x9d61")] {
        pci(&t, slot, ("0x8086", dev), "0x118000", Some("intel-lpss"));
    }
    // Firmware (D): `Direct firmware load for intel/ipu3-fw.bin failed with error -2`,
    // `Direct firmware load for mrvl/pcie8897_uapsta.bin failed with error -2`.
    t.remove("lib/firmware/intel/ipu3-fw.bin");
    t.remove("lib/firmware/mrvl/pcie8897_uapsta.bin");
    // ImgU (D): `ipu3-imgu: probe of 0000:00:05.0 failed with error -2`: present,
    // unbound, its driver registered (ipu3_imgu loaded).
    t.unbind("pci", "0000:00:05.0");
    // An unbound ImgU registers no media device and no video nodes.
    t.remove_class_device("sys/bus/media/devices/media1", "media1");
    t.remove_class_device("sys/class/video4linux/video4", "video4");
    t.remove_class_device("sys/class/video4linux/video5", "video5");
    // Wi-Fi (D): `mwifiex_pcie 0000:01:00.0: ... _mwifiex_fw_dpc: unregister device`:
    // the PCI driver stays bound (firmware loads after probe), no interface.
    t.remove("sys/class/net/wlp1s0");
    t.remove(&format!("sys/devices/{PCI}/0000:01:00.0/net"));
    // Bluetooth (D, records.md): no 1286:204c in this boot: the 88W8897's USB function
    // appears only once its firmware ran.
    t.remove_device("usb", "1-6:1.0");
    t.remove_device("usb", "1-6");
    // Cameras (D): atomisp's ov5693 on INT33BE fails (`read from offset 0x300a error
    // -121`, `ov5693_detect err s_config`); cio2 `Connected 1 cameras`. No INT3472,
    // ov8865 or ov7251 line.
    t.unbind("i2c", "i2c-INT33BE:00");
    t.remove_device("i2c", "i2c-INT3472:00");
    platform(&t, "INT3472:00", None);
    for (c, d) in [("i2c-INT347A:00", "ov8865"), ("i2c-INT347E:00", "ov7251")] {
        t.unbind("i2c", c);
        t.unregister_driver("i2c", d);
    }
    // USB (D): 045e:091e XBOX ACC at 1-7; a Surface Dock: 045e:0900 (2-4), 0901 (1-4),
    // 0902 (2-4.1), 0903 (1-4.1), 07c6 GigE (2-4.2, r8152), 0904 Extender (1-4.3).
    usb(&t, "usb1/1-7", ("045e", "091e"), "XBOX ACC");
    usb(&t, "usb2/2-4", ("045e", "0900"), "Surface Dock USB3Hub");
    usb(&t, "usb1/1-4", ("045e", "0901"), "Surface Dock USB2Hub");
    usb(
        &t,
        "usb2/2-4/2-4.1",
        ("045e", "0902"),
        "Surface Dock USB3Hub",
    );
    usb(
        &t,
        "usb1/1-4/1-4.1",
        ("045e", "0903"),
        "Surface Dock USB2Hub",
    );
    usb(&t, "usb2/2-4/2-4.2", ("045e", "07c6"), "Surface Dock GigE");
    usb(
        &t,
        "usb1/1-4/1-4.3",
        ("045e", "0904"),
        "Surface Dock Extender",
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
    e.exit(1, "touch, cameras and Wi-Fi are lost");
    e.status("kernel", "failed", "a stock kernel");
    e.decided_by("kernel", "kernel.surface-patches");
    e.that(
        e.v.report["kernel"]["surface_patches"] == false,
        format!(
            "kernel.surface_patches {}, expected false",
            e.v.report["kernel"]["surface_patches"]
        ),
    );
    e.status("touch", "failed", "no IPTS driver on a stock kernel");
    e.decided_by("touch", "touch.ipts-driver");
    e.summary_names("touch", &["ipts"], "names the missing IPTS driver");
    // Camera: atomisp grabbed the front sensor; the ImgU firmware is missing.
    e.status("camera", "failed", "no camera works");
    e.decided_by("camera", "camera.atomisp");
    e.summary_names("camera", &["atomisp"], "names atomisp");
    e.check_status(
        "camera.firmware",
        &["failed"],
        "`Direct firmware load for intel/ipu3-fw.bin failed`",
    );
    e.mentions(
        "camera",
        &["intel/ipu3-fw.bin"],
        "names the missing ImgU firmware",
    );
    e.check_status(
        "camera.imgu",
        &["failed", "unknown"],
        "ImgU probe failed -2 for its firmware",
    );
    e.that(
        super::s(&e.check("camera.imgu")["summary"])
            .to_lowercase()
            .contains("firmware"),
        format!(
            "camera.imgu: {:?} does not name the firmware as the cause",
            e.check("camera.imgu")["summary"]
        ),
    );
    e.status("battery", "ok", "BAT1, BAT2 via SAM on a stock 5.14");
    e.status(
        "detach",
        "ok",
        "SAM 182.2304.139, DTX bound; no daemon is a notice",
    );
    e.status(
        "input",
        "ok",
        "keyboard, touchpad, gpio-keys .1/.2, lid, DTX switch",
    );
    e.status("dgpu", "ok", "10de:1c20 with nvidia 470.74");
    // Wi-Fi: firmware missing, mwifiex unregistered.
    e.status(
        "wireless",
        "failed",
        "no Wi-Fi: mrvl/pcie8897_uapsta.bin missing",
    );
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
    e.status("platform", "ok", "invented, healthy");
    e.that(
        e.v.report["machine"]["model"] == "surface-book-2-15",
        format!(
            "machine.model {}, expected surface-book-2-15 (SKU 1793)",
            e.v.report["machine"]["model"]
        ),
    );
}
