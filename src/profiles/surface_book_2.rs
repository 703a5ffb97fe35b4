//! The Surface Book 2 (13.5" and 15"). Sources: `docs/hardware.md` (sections cited
//! by number), itself drawn from the kernel, linux-surface and iptsd trees.

use super::*;

pub static SURFACE_BOOK_2: Profile = Profile {
    id: "surface-book-2",
    name: "Surface Book 2",
    // §6 DMI.
    dmi_vendor: "Microsoft Corporation",
    dmi_product: "Surface Book 2",
    // §6: board name "Surface Book 2" in every linuxhw DMI dump read.
    dmi_board: "Surface Book 2",
    // §1.1: MSHW0107 is the SB2's WSID entry in the aggregator registry; §1.3: the
    // MSHW0133 DTX platform device exists on the SB2 only (the SB3 uses SSAM).
    model_acpi_ids: &["MSHW0107", "MSHW0133"],
    // The messages of §4 and §7 the checks cite: probe errors and deferrals, firmware
    // loads, sensor counts, patch fingerprints, the base keyboard's HID bindings.
    log_needles: &[
        "Linux version",
        "DMI:",
        "DMAR: Passthrough IOMMU",
        "DMAR: Disabling IOMMU",
        "surface",
        "ssam",
        "serial0",
        "SAM firmware",
        "battery",
        "BAT1",
        "BAT2",
        "ADP1",
        "ipts",
        "IPTS",
        "mei",
        "ipu3",
        "cio2",
        "imgu",
        "Found supported sensor",
        "Connected",
        "ov5693",
        "ov8865",
        "ov7251",
        "INT33BE",
        "INT347A",
        "INT347E",
        "INT3472",
        "int3472",
        "tps68470",
        "atomisp",
        "dw9719",
        "deferred probe",
        "MSHW",
        "gpio-keys",
        "Lid Switch",
        "SW_LID",
        "soc_button",
        "dtx",
        "DTX",
        // Only the Wi-Fi firmware lines: other mwifiex lines can carry network names
        // (`associate to '<SSID>'`).
        "WLAN FW is active",
        "FW download over",
        "pcie8897",
        "0000:02:00.0",
        "Direct firmware load",
        "quirk do_flr_on_bridge",
        "QUIESCE_IO",
        "poll mode",
        "event mode",
        "doorbell mode",
        "pinctrl",
        "0003:045E:0922",
        "probe of ... failed",
    ],
    // §6 DMI SKUs (Microsoft SKU reference) and §0 IPTS product ids (iptsd presets).
    variants: &[
        Variant {
            model: "surface-book-2-13",
            dmi_sku: "Surface_Book_1832",
            ipts_product: 0x0021,
            always_has_dgpu: false,
            // §6: GTX 1050 on the 13" i7 (hw-probe 1987F55FAE3C).
            dgpu_device: 0x1c8d,
        },
        Variant {
            model: "surface-book-2-15",
            dmi_sku: "Surface_Book_1793",
            ipts_product: 0x0020,
            always_has_dgpu: true,
            // §6: GTX 1060 on the 15" (79D657BBD855, 44CB94E9B7BC, 098A00936EA6).
            dgpu_device: 0x1c20,
        },
    ],
    // §2: Kconfig symbols and modules added only by the linux-surface patches.
    // LEDS_TPS68470 is not one: the driver was submitted to mainline in 2023, so a
    // stock kernel may have it. MISC_IPTS is the pre-2023 IPTS driver (§1.6 (c)).
    patches: Patches {
        config_options: &[
            "HID_IPTS",
            "MISC_IPTS",
            "HID_ITHC",
            "HID_SURFACE",
            "SURFACE_BOOK1_DGPU_SWITCH",
            "RTC_DRV_SURFACE",
        ],
        modules: &["ipts", "ithc", "hid_surface"],
        release_marker: "surface",
        // §7 and hw-probe records: `DMAR: Passthrough IOMMU for IPTS` on every
        // linux-surface kernel read (79D657BBD855 6.0.3, 5B3E4C5AAEC5 5.19.6,
        // 1987F55FAE3C 6.2.8) and on no stock one. `... for integrated Intel IPU` is
        // NOT a marker: stock Ubuntu 5.15 (098A00936EA6) logs it too. The IPTS quirk
        // prints `Disabling IOMMU for IPTS` in newer patch sets (§1.6), and the
        // mwifiex patch `quirk do_flr_on_bridge enabled` (§1.10).
        log_markers: &[
            "DMAR: Passthrough IOMMU for IPTS",
            "DMAR: Disabling IOMMU for IPTS",
            "quirk do_flr_on_bridge enabled",
        ],
    },
    // §1.6.
    touch: Touch {
        mei_pci: PciFn {
            vendor: 0x8086,
            device: 0x9d3e,
            slot: "0000:00:16.4",
            driver: "mei_me",
            module: "mei_me",
            config: "INTEL_MEI_ME",
        },
        mei_client_uuid: "3e8d0870-271a-4208-8eb5-9acb9402ae04",
        ipts: Driver {
            config: "HID_IPTS",
            module: "ipts",
            driver: "ipts",
        },
        hid_vendor: 0x045e,
        iptsd_unit: "iptsd@.service",
        iptsd_legacy_unit: "iptsd.service",
        iptsd_rule: "50-iptsd.rules",
        iptsd_process: "iptsd",
        virtual_touch: &["IPTSD Virtual Touchscreen", "IPTS Touch"],
        virtual_stylus: &["IPTSD Virtual Stylus", "IPTS Stylus"],
        legacy_dev_dir: "dev/ipts",
        // §1.6 history (c): the pre-2023 driver's module is also `ipts`.
        ipts_legacy: Driver {
            config: "MISC_IPTS",
            module: "ipts",
            driver: "ipts",
        },
    },
    // §1.7, §6 PCI.
    camera: Camera {
        cio2: PciFn {
            vendor: 0x8086,
            device: 0x9d32,
            slot: "0000:00:14.3",
            driver: "ipu3-cio2",
            module: "ipu3_cio2",
            config: "VIDEO_IPU3_CIO2",
        },
        imgu: PciFn {
            vendor: 0x8086,
            device: 0x1919,
            slot: "0000:00:05.0",
            driver: "ipu3-imgu",
            module: "ipu3_imgu",
            config: "VIDEO_IPU3_IMGU",
        },
        bridge: Driver {
            config: "IPU_BRIDGE",
            module: "ipu_bridge",
            driver: "ipu_bridge",
        },
        // §1.7: `CONFIG_CIO2_BRIDGE` before ipu-bridge existed (issue #91).
        bridge_legacy: Driver {
            config: "CIO2_BRIDGE",
            module: "ipu3_cio2",
            driver: "ipu3-cio2",
        },
        sensors: &[
            Sensor {
                role: "front",
                hid: "INT33BE",
                chip: "OV5693",
                driver: Driver {
                    config: "VIDEO_OV5693",
                    module: "ov5693",
                    driver: "ov5693",
                },
            },
            Sensor {
                role: "rear",
                hid: "INT347A",
                chip: "OV8865",
                driver: Driver {
                    config: "VIDEO_OV8865",
                    module: "ov8865",
                    driver: "ov8865",
                },
            },
            Sensor {
                role: "infrared",
                hid: "INT347E",
                chip: "OV7251",
                driver: Driver {
                    config: "VIDEO_OV7251",
                    module: "ov7251",
                    driver: "ov7251",
                },
            },
        ],
        int3472_hid: "INT3472",
        int3472: &[
            Driver {
                config: "INTEL_SKL_INT3472",
                module: "intel_skl_int3472_tps68470",
                driver: "int3472-tps68470",
            },
            Driver {
                config: "INTEL_SKL_INT3472",
                module: "intel_skl_int3472_discrete",
                driver: "int3472-discrete",
            },
        ],
        vcm: Driver {
            config: "VIDEO_DW9719",
            module: "dw9719",
            driver: "dw9719",
        },
        firmware: &[
            "intel/ipu3-fw.bin",
            "intel/ipu/irci_irci_ecr-master_20161208_0213_20170112_1500.bin",
            "intel/irci_irci_ecr-master_20161208_0213_20170112_1500.bin",
        ],
        cio2_media_model: "Intel IPU3 CIO2",
        // §1.7 media graph: receivers `ipu3-csi2 0..3` (K ipu3-cio2.h CIO2_ENTITY_NAME;
        // linux-surface#2188, #2183 media-ctl dumps).
        csi2_entity: "ipu3-csi2",
        atomisp_modules: &["atomisp", "atomisp_ov5693"],
        i2c_controllers: &["0000:00:15.2", "0000:00:15.3"],
    },
    // §1.2.
    battery: Battery {
        san_hid: "MSHW0091",
        san: Driver {
            config: "SURFACE_ACPI_NOTIFY",
            module: "surface_acpi_notify",
            driver: "surface_acpi_notify",
        },
        battery: Driver {
            config: "ACPI_BATTERY",
            module: "battery",
            driver: "battery",
        },
        ac: Driver {
            config: "ACPI_AC",
            module: "ac",
            driver: "ac",
        },
        clipboard: "BAT1",
        base: "BAT2",
        adapter: "ADP1",
    },
    // §1.1, §1.3, §1.12.
    detach: Detach {
        ssam_hid: "MSHW0084",
        ssam_serdev: "serial0-0",
        ssam: Driver {
            config: "SURFACE_AGGREGATOR",
            module: "surface_aggregator",
            driver: "surface_serial_hub",
        },
        pinctrl: Driver {
            config: "PINCTRL_SUNRISEPOINT",
            module: "pinctrl_sunrisepoint",
            driver: "sunrisepoint-pinctrl",
        },
        // §1.12, §6 PCI "Serial IO UART #0"; records 79D657BBD855, 5B3E4C5AAEC5:
        // `intel-lpss 0000:00:1e.0`, `dw-apb-uart.4: ttyS4`, `serial serial0: tty port
        // ttyS4 registered` (dw-apb-uart.3 on 1987F55FAE3C).
        uart_pci: (0x8086, 0x9d27),
        lpss_pci: Driver {
            config: "MFD_INTEL_LPSS_PCI",
            module: "intel_lpss_pci",
            driver: "intel-lpss",
        },
        uart: Driver {
            config: "SERIAL_8250_DW",
            module: "8250_dw",
            driver: "dw-apb-uart",
        },
        serdev: Driver {
            config: "SERIAL_DEV_BUS",
            module: "serdev",
            driver: "",
        },
        dtx_hid: "MSHW0133",
        dtx: Driver {
            config: "SURFACE_DTX",
            module: "surface_dtx",
            driver: "surface_dtx_pltf",
        },
        dtx_node: "dev/surface/dtx",
        dtx_misc: "sys/class/misc/surface_dtx",
        daemon_unit: "surface-dtx-daemon.service",
        daemon_process: "surface-dtx-dae",
        tablet_switch_name: "Microsoft Surface DTX Device Mode Switch",
    },
    // §1.5, §1.9, §6 USB.
    input: Input {
        usb_vendor: 0x045e,
        // §6 PCI: xHCI 00:14.0.
        xhci: (0x8086, 0x9d2f),
        keyboard_product: 0x0922,
        // §7.1: hid-generic binds first, hid-multitouch takes it 1-3 s later, in
        // every hw-probe record read.
        keyboard_hid: Driver {
            config: "HID_MULTITOUCH",
            module: "hid_multitouch",
            driver: "hid-multitouch",
        },
        base_hub_products: &[0x0941, 0x0942, 0x0943, 0x0944],
        buttons_hid: "MSHW0040",
        buttons: Driver {
            config: "INPUT_SOC_BUTTON_ARRAY",
            module: "soc_button_array",
            driver: "soc_button_array",
        },
        lid_hid: "PNP0C0D",
        // §7: `ACPI: button: Lid Switch [LID0]`.
        lid: Driver {
            config: "ACPI_BUTTON",
            module: "button",
            driver: "button",
        },
        gpe: Driver {
            config: "SURFACE_GPE",
            module: "surface_gpe",
            driver: "surface_gpe",
        },
        gpe_device: "surface_gpe",
        // §1.9, §7.1: the base keyboard is USB HID 045e:0922 behind the xHCI at
        // 00:14.0, bound by hid-generic first (then hid-multitouch); NixOS's default
        // initrd modules "for LUKS passphrase prompt" are the same set (nixpkgs
        // nixos/modules/system/boot/kernel.nix: xhci_hcd, xhci_pci, usbhid,
        // hid_generic).
        boot_keyboard_modules: &["xhci_pci", "xhci_hcd", "usbhid", "hid_generic"],
    },
    // §1.8.
    dgpu: Dgpu {
        vendor: 0x10de,
        hotplug_hid: "MSHW0153",
        hotplug: Driver {
            config: "SURFACE_HOTPLUG",
            module: "surface_hotplug",
            driver: "surface_hotplug",
        },
    },
    // §1.10.
    wireless: Wireless {
        wifi: PciFn {
            vendor: 0x11ab,
            device: 0x2b38,
            slot: "0000:01:00.0",
            driver: "mwifiex_pcie",
            module: "mwifiex_pcie",
            config: "MWIFIEX_PCIE",
        },
        wifi_firmware: &["mrvl/pcie8897_uapsta.bin"],
        bt_usb: (0x1286, 0x204c),
        bt: Driver {
            config: "BT_HCIBTUSB",
            module: "btusb",
            driver: "btusb",
        },
    },
    // §1.1 registry, §1.4.
    platform: Platform {
        hub_hid: "MSHW0107",
        hub: Driver {
            config: "SURFACE_AGGREGATOR_REGISTRY",
            module: "surface_aggregator_registry",
            driver: "surface_aggregator_platform_hub",
        },
        profile_device: "01:03:01:00:01",
        profile: Driver {
            config: "SURFACE_PLATFORM_PROFILE",
            module: "surface_platform_profile",
            driver: "surface_platform_profile",
        },
        // §1.4: surface_platform_profile needs the platform_profile core.
        profile_core: Driver {
            config: "ACPI_PLATFORM_PROFILE",
            module: "platform_profile",
            driver: "",
        },
    },
};
