//! Preflight judgment (`surface-check kernel`): predictions subsystem by
//! subsystem, "will it boot this system?", `--compare`, exit codes, through the
//! library and the binary, on trees built here and on Debian 12's stock kernel
//! package (fetched by scripts/fetch-debian-kernel.sh).

mod common;

use std::io::Write;
use std::path::Path;

use serde_json::Value;
use surface_check::preflight::TargetKind;
use surface_check::preflight::boot::{self, Who};
use surface_check::preflight::predict;
use surface_check::preflight::source::{self, Caps};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::report::Status;
use surface_check::root::Root;

use common::tree::Tree;

/// What a linux-surface kernel for the Surface Book 2 sets: the values of
/// linux-surface's configs/surface-6.19.config (docs/hardware.md §2, verbatim
/// options), as a linux-surface package has them.
const SURFACE_FRAGMENT: &str = "\
CONFIG_SURFACE_AGGREGATOR=m
CONFIG_SURFACE_AGGREGATOR_BUS=y
CONFIG_SURFACE_AGGREGATOR_CDEV=m
CONFIG_SURFACE_AGGREGATOR_HUB=m
CONFIG_SURFACE_AGGREGATOR_REGISTRY=m
CONFIG_SURFACE_AGGREGATOR_TABLET_SWITCH=m
CONFIG_SURFACE_ACPI_NOTIFY=m
CONFIG_SURFACE_DTX=m
CONFIG_SURFACE_PLATFORM_PROFILE=m
CONFIG_SURFACE_HID=m
CONFIG_SURFACE_KBD=m
CONFIG_SURFACE_HOTPLUG=m
CONFIG_HID_IPTS=m
CONFIG_HID_ITHC=m
CONFIG_VIDEO_DW9719=m
CONFIG_VIDEO_IPU3_IMGU=m
CONFIG_VIDEO_IPU3_CIO2=m
CONFIG_IPU_BRIDGE=m
CONFIG_INTEL_SKL_INT3472=m
CONFIG_REGULATOR_TPS68470=m
CONFIG_COMMON_CLK_TPS68470=m
CONFIG_VIDEO_OV5693=m
CONFIG_VIDEO_OV7251=m
CONFIG_VIDEO_OV8865=m
# CONFIG_INTEL_ATOMISP is not set
CONFIG_INPUT_SOC_BUTTON_ARRAY=m
CONFIG_SURFACE_GPE=m
CONFIG_HID_SURFACE=m
";

/// Real lines of Debian 12's config-6.1.0-57-amd64 (linux-image-6.1.0-57-amd64
/// 6.1.192-3): what systemd and NixOS require, the generic drivers the profile
/// needs, and the root file system's drivers.
const DEBIAN_BASE: &str = "\
CONFIG_DEVTMPFS=y
CONFIG_CGROUPS=y
CONFIG_INOTIFY_USER=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EPOLL=y
CONFIG_UNIX=y
CONFIG_NET=y
CONFIG_SYSFS=y
CONFIG_PROC_FS=y
CONFIG_FHANDLE=y
CONFIG_CRYPTO_USER_API_HASH=m
CONFIG_CRYPTO_HMAC=y
CONFIG_CRYPTO_SHA256=y
CONFIG_DMIID=y
CONFIG_AUTOFS_FS=m
CONFIG_TMPFS_POSIX_ACL=y
CONFIG_TMPFS_XATTR=y
CONFIG_SECCOMP=y
CONFIG_TMPFS=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_EFI_STUB=y
CONFIG_MODULES=y
CONFIG_INTEL_MEI_ME=m
CONFIG_PINCTRL_SUNRISEPOINT=y
CONFIG_MFD_INTEL_LPSS_PCI=m
CONFIG_SERIAL_8250_DW=y
CONFIG_SERIAL_DEV_BUS=y
CONFIG_HID_MULTITOUCH=m
CONFIG_ACPI_BUTTON=m
CONFIG_ACPI_BATTERY=m
CONFIG_ACPI_AC=m
CONFIG_MWIFIEX_PCIE=m
CONFIG_BT_HCIBTUSB=m
CONFIG_ACPI_PLATFORM_PROFILE=m
CONFIG_BLK_DEV_NVME=m
CONFIG_EXT4_FS=m
CONFIG_USB_XHCI_HCD=m
CONFIG_USB_XHCI_PCI=m
CONFIG_USB_HID=m
CONFIG_HID_GENERIC=m
CONFIG_DM_CRYPT=m
";

/// The module files of a linux-surface tree: (module path under
/// lib/modules/<release>/), as `modules.dep` lists them.
const SURFACE_MODULES: &[&str] = &[
    "kernel/drivers/hid/ipts/ipts.ko.zst",
    "kernel/drivers/hid/ithc/ithc.ko.zst",
    "kernel/drivers/hid/surface-hid/hid-surface.ko.zst",
    "kernel/drivers/misc/mei/mei-me.ko.zst",
    "kernel/drivers/media/pci/intel/ipu3/ipu3-cio2.ko.zst",
    "kernel/drivers/staging/media/ipu3/ipu3-imgu.ko.zst",
    "kernel/drivers/media/pci/intel/ipu-bridge.ko.zst",
    "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_tps68470.ko.zst",
    "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_discrete.ko.zst",
    "kernel/drivers/media/i2c/ov5693.ko.zst",
    "kernel/drivers/media/i2c/ov8865.ko.zst",
    "kernel/drivers/media/i2c/ov7251.ko.zst",
    "kernel/drivers/media/i2c/dw9719.ko.zst",
    "kernel/drivers/platform/surface/surface_acpi_notify.ko.zst",
    "kernel/drivers/platform/surface/aggregator/surface_aggregator.ko.zst",
    "kernel/drivers/platform/surface/surface_aggregator_registry.ko.zst",
    "kernel/drivers/platform/surface/surface_dtx.ko.zst",
    "kernel/drivers/platform/surface/surface_platform_profile.ko.zst",
    "kernel/drivers/platform/surface/surface_hotplug.ko.zst",
    "kernel/drivers/platform/surface/surface_gpe.ko.zst",
    "kernel/drivers/acpi/battery.ko.zst",
    "kernel/drivers/acpi/ac.ko.zst",
    "kernel/drivers/acpi/button.ko.zst",
    "kernel/drivers/acpi/platform_profile.ko.zst",
    "kernel/drivers/mfd/intel-lpss-pci.ko.zst",
    "kernel/drivers/hid/hid-multitouch.ko.zst",
    "kernel/drivers/input/misc/soc_button_array.ko.zst",
    "kernel/drivers/net/wireless/marvell/mwifiex/mwifiex_pcie.ko.zst",
    "kernel/drivers/bluetooth/btusb.ko.zst",
    "kernel/drivers/nvme/host/nvme.ko.zst",
    "kernel/fs/ext4/ext4.ko.zst",
    "kernel/drivers/md/dm-crypt.ko.zst",
    "kernel/drivers/usb/host/xhci-pci.ko.zst",
    "kernel/drivers/usb/host/xhci-hcd.ko.zst",
    "kernel/drivers/hid/usbhid/usbhid.ko.zst",
    "kernel/drivers/hid/hid-generic.ko.zst",
];

/// Built into every kernel here (`modules.builtin`).
const BUILTIN: &[&str] = &[
    "kernel/drivers/pinctrl/intel/pinctrl-sunrisepoint.ko",
    "kernel/drivers/tty/serial/8250/8250_dw.ko",
    "kernel/drivers/tty/serdev/serdev.ko",
];

/// A bzImage's first bytes with `release` in its header (boot protocol 2.15,
/// `kernel_version` at 0x300) and, as payload, `payload` uncompressed.
fn bzimage(release: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    b[0x1f1] = 1; // one setup sector: the payload area starts at 1024
    b[0x1fe] = 0x55;
    b[0x1ff] = 0xaa;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
    let v = format!("{release} (nixbld@localhost) #1-NixOS SMP PREEMPT_DYNAMIC\0");
    b[0x300..0x300 + v.len()].copy_from_slice(v.as_bytes());
    b.extend_from_slice(payload);
    b
}

/// The payload of a kernel built with `CONFIG_IKCONFIG=y`: the gzipped config
/// between `IKCFG_ST` and `IKCFG_ED`.
fn ikconfig(config: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(config.as_bytes()).unwrap();
    let mut p = b"\x7fELF kernel data ".to_vec();
    p.extend_from_slice(b"IKCFG_ST");
    p.extend_from_slice(&gz.finish().unwrap());
    p.extend_from_slice(b"IKCFG_ED more kernel data");
    p
}

/// A newc cpio archive of empty files at `paths`.
fn cpio(paths: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut entry = |name: &str, mode: u32| {
        let n = name.len() + 1;
        out.extend_from_slice(
            format!(
                "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                1, mode, 0, 0, 1, 0, 0, 0, 0, 0, 0, n, 0
            )
            .as_bytes(),
        );
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    };
    for p in paths {
        entry(p, 0o100644);
    }
    entry("TRAILER!!!", 0);
    out
}

/// A kernel tree at `base` (root-relative) with `config`, its image and module
/// tree of `modules` (paths under lib/modules/<release>/).
fn kernel_tree(t: &Tree, base: &str, release: &str, config: &str, modules: &[&str]) {
    t.file(&format!("{base}/boot/config-{release}"), config);
    t.file(
        &format!("{base}/boot/vmlinuz-{release}"),
        bzimage(release, b"payload"),
    );
    module_dir(t, &format!("{base}/lib/modules/{release}"), modules);
}

fn module_dir(t: &Tree, dir: &str, modules: &[&str]) {
    let mut dep = String::new();
    for m in modules {
        t.file(&format!("{dir}/{m}"), b"");
        dep.push_str(&format!("{m}:\n"));
    }
    t.file(&format!("{dir}/modules.dep"), dep);
    t.file(&format!("{dir}/modules.builtin"), BUILTIN.join("\n") + "\n");
}

fn surface_config() -> String {
    format!("{DEBIAN_BASE}{SURFACE_FRAGMENT}")
}

/// The host: a Debian-like system running linux-surface 6.18.8, its root ext4 on
/// an NVMe disk (`proc/self/mountinfo`, `sys/dev/block`).
fn host(nixos: bool) -> Tree {
    let t = Tree::new();
    let rel = "6.18.8-surface-1";
    t.attr("proc/sys/kernel/osrelease", rel);
    kernel_tree(&t, "", rel, &surface_config(), SURFACE_MODULES);
    t.file(
        "proc/self/mountinfo",
        "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n\
         23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n",
    );
    let dev = "sys/devices/pci0000:00/0000:00:1d.0/0000:3b:00.0/nvme/nvme0/nvme0n1/nvme0n1p2";
    t.attr(&format!("{dev}/dev"), "259:2");
    t.rlink("sys/dev/block/259:2", dev);
    if nixos {
        t.file("etc/os-release", "ID=nixos\nNAME=NixOS\n");
        t.file("etc/NIXOS", "");
    } else {
        t.file("etc/os-release", "ID=debian\nNAME=\"Debian GNU/Linux\"\n");
    }
    t
}

/// `surface-check kernel ARGS --json --root ROOT`: (exit code, report, stderr).
fn kernel_json(root: &Path, args: &[&str]) -> (i32, Value, String) {
    let root = root.to_str().unwrap();
    let mut all = vec!["kernel", "--json", "--root", root];
    all.extend_from_slice(args);
    let (code, out, err) = common::run(&all);
    let v = if out.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    };
    (code, v, err)
}

fn sub<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["kernel"]["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no subsystem {id}"))
}

fn statuses(r: &Value) -> Vec<(String, String)> {
    r["kernel"]["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const ALL_OK: &[(&str, &str)] = &[
    ("kernel", "ok"),
    ("touch", "ok"),
    ("camera", "ok"),
    ("battery", "ok"),
    ("detach", "ok"),
    ("input", "ok"),
    ("dgpu", "ok"),
    ("wireless", "ok"),
    ("platform", "ok"),
];

// ---- a healthy linux-surface-like tree ------------------------------------------

#[test]
fn a_linux_surface_tree_works_everywhere_and_boots() {
    let t = host(false);
    let rel = "6.19.8-surface-1";
    kernel_tree(
        &t,
        "srv/linux-surface",
        rel,
        &surface_config(),
        SURFACE_MODULES,
    );

    // The library.
    let root = Root::open(t.path()).unwrap();
    let img = source::inspect(
        &root,
        "/srv/linux-surface",
        &SURFACE_BOOK_2,
        &Caps::default(),
    )
    .expect("the tree reads");
    assert_eq!(img.kind, TargetKind::Tree);
    let h = boot::host(&root, None);
    assert_eq!(h.root_fs.as_deref(), Some("ext4"));
    assert!(h.root_on_nvme && !h.root_on_dm_crypt && !h.nixos, "{h:?}");
    let r = predict::inspect_report(&img, &h, &SURFACE_BOOK_2);
    for s in &r.kernel.subsystems {
        assert_eq!(s.status, Status::Ok, "{}", s.summary);
    }
    assert_eq!(r.kernel.boots_as.as_deref(), Some(rel));
    assert_eq!(r.kernel.surface_patches, Some(true));
    let b = r.boot.as_ref().unwrap();
    assert_eq!(b.status, Status::Ok, "{}", b.summary);
    assert_eq!(b.requirements_of, vec![Who::Systemd]);
    let m: Vec<&str> = b.modules.iter().map(|m| m.module.as_str()).collect();
    assert_eq!(m, vec!["ext4", "nvme"]);

    // The binary.
    let (code, v, err) = kernel_json(t.path(), &["--inspect", "/srv/linux-surface"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(statuses(&v), expect(ALL_OK));
    assert_eq!(
        sub(&v, "touch")["summary"],
        "touch: will work (HID_IPTS=m, ipts.ko.zst present; needs iptsd >= 1.0 in userspace)"
    );
    assert_eq!(v["boot"]["status"], "ok");
    assert_eq!(v["kernel"]["release"], rel);
    assert_eq!(v["kernel"]["image_release"], rel);
    assert_eq!(v["mode"], "inspect");
    assert_eq!(v["schema_version"], 1);

    let (code, text, _) = common::run(&[
        "kernel",
        "--root",
        t.path().to_str().unwrap(),
        "--inspect",
        "/srv/linux-surface",
    ]);
    assert_eq!(code, 0);
    assert!(text.contains("✓ touch: will work (HID_IPTS=m"), "{text}");
    assert!(text.contains("Boot: ✓ will boot this system"), "{text}");
}

// ---- a NixOS generation whose config lacks DEVTMPFS -----------------------------

/// A NixOS generation `system-42-link` in `t`, its store paths inside the root, with
/// the kernel's config embedded in the image (nixpkgs builds with IKCONFIG) and an
/// initrd holding `initrd`'s modules.
fn nixos_generation(t: &Tree, config: &str, initrd: &[&str]) {
    let rel = "6.19.8";
    let top = "/nix/store/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-nixos-system-sb2-25.05.20250101.abcdef";
    let kernel = "/nix/store/1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q-linux-6.19.8";
    let modules = "/nix/store/2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r-linux-6.19.8-modules-shrunk";
    let initrd_dir = "/nix/store/3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s-initrd-linux-6.19.8";
    t.file(
        &format!("{kernel}/bzImage"),
        bzimage(rel, &ikconfig(config)),
    );
    module_dir(t, &format!("{modules}/lib/modules/{rel}"), SURFACE_MODULES);
    let files: Vec<String> = initrd
        .iter()
        .map(|m| format!("lib/modules/{rel}/{m}"))
        .collect();
    t.file(&format!("{initrd_dir}/initrd"), cpio(&files));
    t.link(&format!("{top}/kernel"), &format!("{kernel}/bzImage"));
    t.link(&format!("{top}/kernel-modules"), modules);
    t.link(&format!("{top}/initrd"), &format!("{initrd_dir}/initrd"));
    t.file(&format!("{top}/kernel-params"), "loglevel=4");
    t.file(&format!("{top}/nixos-version"), "25.05.20250101.abcdef");
    t.link("nix/var/nix/profiles/system-42-link", top);
    t.link("nix/var/nix/profiles/system", "system-42-link");
}

const NIX_INITRD: &[&str] = &[
    "kernel/drivers/nvme/host/nvme.ko.zst",
    "kernel/fs/ext4/ext4.ko.zst",
    "kernel/drivers/usb/host/xhci-pci.ko.zst",
    "kernel/drivers/hid/usbhid/usbhid.ko.zst",
];

#[test]
fn a_nixos_generation_without_devtmpfs_does_not_boot() {
    let t = host(true);
    let config = surface_config().replace("CONFIG_DEVTMPFS=y\n", "");
    nixos_generation(&t, &config, NIX_INITRD);

    let root = Root::open(t.path()).unwrap();
    let img = source::inspect(
        &root,
        "/nix/var/nix/profiles/system-42-link",
        &SURFACE_BOOK_2,
        &Caps::default(),
    )
    .expect("the generation reads");
    assert_eq!(img.kind, TargetKind::NixGeneration);
    assert_eq!(img.generation, Some(42));
    let b = boot::judge(&img, &boot::host(&root, None), &SURFACE_BOOK_2);
    assert_eq!(b.status, Status::Failed);
    assert_eq!(b.requirements_of, vec![Who::Systemd, Who::Nixos]);
    let o = b.options.iter().find(|o| o.option == "DEVTMPFS").unwrap();
    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.required_by, vec![Who::Systemd, Who::Nixos]);

    let (code, v, err) = kernel_json(t.path(), &["--inspect", "/nix/var/nix/profiles/system"]);
    assert_eq!(code, 1, "{err}");
    // Every subsystem would work: only the boot fails.
    assert_eq!(statuses(&v), expect(ALL_OK));
    assert_eq!(v["kernel"]["kind"], "nix-generation");
    assert_eq!(v["kernel"]["generation"], 42);
    assert_eq!(v["boot"]["status"], "failed");
    let summary = v["boot"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("will not boot this system: CONFIG_DEVTMPFS is not set (/dev cannot be mounted as devtmpfs"),
        "{summary}"
    );
    assert!(
        summary.contains("`CONFIG_DEVTMPFS is not enabled!`"),
        "{summary}"
    );
    // The generation's own initrd has the root file system's modules.
    let mods: Vec<(&str, &str)> = v["boot"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["module"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(mods, vec![("ext4", "ok"), ("nvme", "ok")]);

    let (_, text, _) = common::run(&[
        "kernel",
        "--root",
        t.path().to_str().unwrap(),
        "--inspect",
        "/nix/var/nix/profiles/system",
    ]);
    assert!(
        text.contains(
            "✗ CONFIG_DEVTMPFS = not set (needs y or m, for systemd, NixOS): /dev cannot be mounted"
        ),
        "{text}"
    );
}

#[test]
fn a_nixos_generation_whose_initrd_lacks_nvme_does_not_boot() {
    let t = host(true);
    nixos_generation(&t, &surface_config(), &NIX_INITRD[1..]);
    let (code, v, _) = kernel_json(t.path(), &["--inspect", "/nix/var/nix/profiles/system"]);
    assert_eq!(code, 1);
    let summary = v["boot"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("nvme is neither built in nor in the initrd it boots with (the NVMe disk under the root file system is not seen"),
        "{summary}"
    );
    // With it, it boots.
    let t = host(true);
    nixos_generation(&t, &surface_config(), NIX_INITRD);
    let (code, v, err) = kernel_json(t.path(), &["--inspect", "/nix/var/nix/profiles/system"]);
    assert_eq!(code, 0, "{err} {v}");
    assert_eq!(v["boot"]["status"], "ok");
}

// ---- Debian 12's stock kernel package -------------------------------------------

#[test]
fn debians_stock_kernel_lacks_touch_and_cameras_and_boots_a_systemd_system() {
    let deb = common::debian_kernel();
    // Inside the host root (where TARGET resolves): a hard link, else a copy.
    let t = Tree::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let h = host(false);
    for rel in ["proc", "sys", "etc", "boot", "lib"] {
        copy_tree(&h.path().join(rel), &t.path().join(rel));
    }
    let inside = t.path().join("srv/linux-image.deb");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    if std::fs::hard_link(&deb, &inside).is_err() {
        std::fs::copy(&deb, &inside).unwrap();
    }
    let (code, v, err) = kernel_json(t.path(), &["--inspect", "/srv/linux-image.deb"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["kernel"]["kind"], "deb");
    assert_eq!(
        statuses(&v),
        expect(&[
            ("kernel", "failed"),
            ("touch", "failed"),
            ("camera", "failed"),
            ("battery", "ok"),
            ("detach", "ok"),
            ("input", "ok"),
            ("dgpu", "ok"),
            ("wireless", "ok"),
            ("platform", "ok"),
        ])
    );
    let release = v["kernel"]["release"].as_str().unwrap();
    assert!(
        release.starts_with("6.1.0-") && release.ends_with("-amd64"),
        "{release}"
    );
    assert_eq!(v["kernel"]["image_release"], release);
    assert_eq!(v["kernel"]["boots_as"], release);
    assert_eq!(v["kernel"]["surface_patches"], false);
    assert!(
        sub(&v, "kernel")["summary"]
            .as_str()
            .unwrap()
            .contains("stock kernel: no linux-surface patches")
    );
    let touch = sub(&v, "touch")["summary"].as_str().unwrap();
    assert!(touch.starts_with("touch: will not work (HID_IPTS not set: without it the touchscreen and pen are dead (the IPTS driver exists only in linux-surface kernels)"), "{touch}");
    let camera = sub(&v, "camera")["summary"].as_str().unwrap();
    assert!(
        camera.starts_with("camera: will not work (VIDEO_IPU3_CIO2 not set"),
        "{camera}"
    );
    assert!(camera.contains("VIDEO_OV8865 not set"), "{camera}");
    // The IR sensor's driver is missing too: a notice ([U] what it costs the others).
    assert!(
        sub(&v, "camera")["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("VIDEO_OV7251 not set")),
        "{camera}"
    );
    // Fixes from this kernel's own config: the options are not set.
    assert!(
        sub(&v, "touch")["fix"]
            .as_str()
            .unwrap()
            .contains("CONFIG_HID_IPTS")
    );
    // Drivers it has, as modules, with their files.
    let battery = sub(&v, "battery");
    assert_eq!(
        battery["summary"],
        "battery: will work (SURFACE_ACPI_NOTIFY=m, surface_acpi_notify.ko present)"
    );
    // It boots a systemd system: systemd's options are set, and it has the root
    // file system's modules.
    assert_eq!(v["boot"]["status"], "ok", "{}", v["boot"]["summary"]);
    assert_eq!(v["boot"]["requirements_of"], serde_json::json!(["systemd"]));
    assert_eq!(v["boot"]["release"]["status"], "ok");
    let mods: Vec<&str> = v["boot"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(mods, vec!["ext4", "nvme"]);
}

fn copy_tree(from: &Path, to: &Path) {
    let Ok(md) = std::fs::symlink_metadata(from) else {
        return;
    };
    if md.file_type().is_symlink() {
        let target = std::fs::read_link(from).unwrap();
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, to).unwrap();
    } else if md.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

// ---- --compare ------------------------------------------------------------------

#[test]
fn compare_names_what_the_new_kernel_gains_and_loses() {
    let t = host(false);
    // The new kernel dropped the rear sensor's driver and gained the old IPTS one.
    let config = surface_config()
        .replace("CONFIG_VIDEO_OV8865=m\n", "")
        .replace(
            "CONFIG_SECCOMP=y\n",
            "CONFIG_SECCOMP=y\nCONFIG_MISC_IPTS=m\n",
        );
    let modules: Vec<&str> = SURFACE_MODULES
        .iter()
        .copied()
        .filter(|m| !m.ends_with("ov8865.ko.zst"))
        .collect();
    kernel_tree(&t, "srv/next", "6.19.9-surface-1", &config, &modules);

    let (code, v, err) = kernel_json(t.path(), &["--compare", "/srv/next"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["mode"], "compare");
    let c = &v["compare"];
    assert_eq!(c["running"]["target"], "running kernel");
    assert_eq!(c["running"]["release"], "6.18.8-surface-1");
    assert_eq!(v["kernel"]["release"], "6.19.9-surface-1");
    assert_eq!(c["options_changed"], 2);
    let opts: Vec<(&str, &str, Value)> = c["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["option"].as_str().unwrap(),
                o["change"].as_str().unwrap(),
                o["matters_for"].clone(),
            )
        })
        .collect();
    assert_eq!(
        opts,
        vec![
            (
                "MISC_IPTS",
                "gained",
                serde_json::json!(["kernel", "touch"])
            ),
            ("VIDEO_OV8865", "lost", serde_json::json!(["camera"])),
        ]
    );
    let subs: Vec<(&str, &str, &str, &str)> = c["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["before"].as_str().unwrap(),
                s["after"].as_str().unwrap(),
                s["change"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        subs,
        vec![
            ("kernel", "ok", "ok", "unchanged"),
            ("touch", "ok", "ok", "unchanged"),
            ("camera", "ok", "degraded", "regressed"),
            ("battery", "ok", "ok", "unchanged"),
            ("detach", "ok", "ok", "unchanged"),
            ("input", "ok", "ok", "unchanged"),
            ("dgpu", "ok", "ok", "unchanged"),
            ("wireless", "ok", "ok", "unchanged"),
            ("platform", "ok", "ok", "unchanged"),
        ]
    );
    assert_eq!(
        sub(&v, "camera")["summary"],
        "camera: will work in part (VIDEO_OV8865 not set: the rear camera is lost)"
    );
    assert_eq!(v["boot"]["status"], "ok");

    // The same kernel again: nothing changes, exit 0.
    kernel_tree(
        &t,
        "srv/same",
        "6.18.8-surface-1",
        &surface_config(),
        SURFACE_MODULES,
    );
    let (code, v, err) = kernel_json(t.path(), &["--compare", "/srv/same"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["compare"]["options_changed"], 0);
    let (code, text, _) = common::run(&[
        "kernel",
        "--root",
        t.path().to_str().unwrap(),
        "--compare",
        "/srv/next",
    ]);
    assert_eq!(code, 1);
    assert!(
        text.contains(
            "! camera    ok -> degraded  (regressed: camera: will work in part (VIDEO_OV8865 not set"
        ),
        "{text}"
    );
    assert!(
        text.contains("lost   CONFIG_VIDEO_OV8865 m -> not set (camera)"),
        "{text}"
    );
}

// ---- the running kernel, and errors ---------------------------------------------

#[test]
fn the_running_kernel_lists_every_driver() {
    let t = host(false);
    let (code, v, err) = kernel_json(t.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["mode"], "running");
    assert!(v["boot"].is_null());
    assert_eq!(statuses(&v), expect(ALL_OK));
    let drivers = sub(&v, "camera")["drivers"].as_array().unwrap();
    assert_eq!(drivers.len(), 8);
    assert_eq!(drivers[0]["config"], "VIDEO_IPU3_CIO2");
    assert_eq!(drivers[0]["presence"], "module");
    assert_eq!(drivers[0]["basis"], "V");
    let (_, text, _) = common::run(&["kernel", "--root", t.path().to_str().unwrap()]);
    assert!(
        text.contains(
            "module   ov7251 (infrared camera sensor OV7251): VIDEO_OV7251=m, ov7251.ko.zst present"
        ),
        "{text}"
    );
    assert!(text.contains("built in pinctrl_sunrisepoint"), "{text}");
}

#[test]
fn a_target_that_cannot_be_read_is_an_error_with_exit_2() {
    let t = host(false);
    t.file(
        "srv/garbage.deb",
        b"!<arch>\nthis is not a Debian package at all",
    );
    t.file("srv/notes.txt", "hello");
    for target in ["/srv/missing", "/srv/garbage.deb", "/srv/notes.txt"] {
        let (code, v, err) = kernel_json(t.path(), &["--inspect", target]);
        assert_eq!(code, 2, "{target}: {err}");
        assert!(v.is_null(), "{target}: nothing on stdout");
        assert!(err.starts_with("surface-check: "), "{err}");
        assert!(err.contains(target), "{err}");
    }
    let (code, _, err) = kernel_json(t.path(), &["--inspect", "/srv/a", "--compare", "/srv/b"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn a_root_on_luks_needs_dm_crypt_and_the_keyboard_in_the_target() {
    let t = host(false);
    // / is ext4 on dm-0, a LUKS2 mapping of the NVMe partition.
    t.file(
        "proc/self/mountinfo",
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n",
    );
    let dm = "sys/devices/virtual/block/dm-0";
    t.attr(&format!("{dm}/dev"), "254:0");
    t.attr(
        &format!("{dm}/dm/uuid"),
        "CRYPT-LUKS2-0123456789abcdef0123456789abcdef-root",
    );
    t.rlink("sys/dev/block/254:0", dm);
    t.rlink(
        &format!("{dm}/slaves/nvme0n1p2"),
        "sys/devices/pci0000:00/0000:00:1d.0/0000:3b:00.0/nvme/nvme0/nvme0n1/nvme0n1p2",
    );
    let root = Root::open(t.path()).unwrap();
    let h = boot::host(&root, None);
    assert_eq!(
        (
            h.root_fs.as_deref(),
            h.root_device.as_deref(),
            h.root_on_dm_crypt,
            h.root_on_nvme
        ),
        (Some("ext4"), Some("dm-0"), true, true),
        "{h:?}"
    );
    // A kernel without usbhid: no keyboard at the passphrase prompt.
    let modules: Vec<&str> = SURFACE_MODULES
        .iter()
        .copied()
        .filter(|m| !m.ends_with("usbhid.ko.zst"))
        .collect();
    kernel_tree(&t, "srv/k", "6.19.8-surface-1", &surface_config(), &modules);
    let (code, v, err) = kernel_json(t.path(), &["--inspect", "/srv/k"]);
    assert_eq!(code, 1, "{err}");
    let mods: Vec<(&str, &str)> = v["boot"]["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["module"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        mods,
        vec![
            ("usbhid", "failed"),
            ("ext4", "ok"),
            ("nvme", "ok"),
            ("dm_crypt", "ok"),
            ("xhci_pci", "ok"),
            ("xhci_hcd", "ok"),
            ("hid_generic", "ok"),
        ]
    );
    let summary = v["boot"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("usbhid is neither in")
            && summary.contains("no keyboard at the LUKS passphrase prompt"),
        "{summary}"
    );
}
