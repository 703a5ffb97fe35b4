//! Preflight's readers of kernel targets (src/preflight/source.rs, archive.rs):
//! small but real packages built here with the system's own tools (`ar` and
//! `tar` for a .deb, `tar` and `zstd` for an Arch package, `rpmbuild` for an RPM,
//! `cpio` for initrds), the stock Debian 12 kernel package, a NixOS generation
//! tree, unpacked trees, and every kind of bad input, each asserted field by field
//! or by its error; the binary under strace proves nothing is written.
//!
//! Set-up: `apt-get install ar tar zstd xz-utils cpio rpm strace` (scripts/test.sh)
//! and `scripts/fetch-debian-kernel.sh` for the Debian package.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use surface_check::facts::Fact;
use surface_check::preflight::archive::{bzimage_release, initrd_modules};
use surface_check::preflight::source::{Caps, InspectError, inspect, running};
use surface_check::preflight::{KernelImage, TargetKind};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::root::Root;

mod common;
use common::debian_kernel;

// ---------------------------------------------------------------------------
// Set-up

/// Runs a tool, failing with the set-up step when it is missing or fails.
fn run(cmd: &mut Command) -> Vec<u8> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {name} ({e}): install it (scripts/test.sh: apt-get install binutils tar zstd xz-utils cpio rpm strace)")
    });
    assert!(
        out.status.success(),
        "{name} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sh(script: &str) -> Vec<u8> {
    run(Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script))
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

fn inspect_file(p: &Path) -> Result<KernelImage, InspectError> {
    let root = Root::open("/").unwrap();
    inspect(
        &root,
        p.to_str().unwrap(),
        &SURFACE_BOOK_2,
        &Caps::default(),
    )
}

fn options(k: &KernelImage) -> &std::collections::BTreeMap<String, String> {
    &k.config.ok().expect("a config").options
}

// ---------------------------------------------------------------------------
// Real-format content

const REL: &str = "6.8.1-surface-1";

/// A kernel config in the real format. The options systemd and NixOS require and
/// the stock drivers are the lines of Debian 12's `boot/config-6.1.0-57-amd64`
/// (linux-image-6.1.0-57-amd64 6.1.192-3) as they are; the Surface drivers are
/// set as linux-surface's config fragment sets them.
fn surface_config(release: &str) -> String {
    format!(
        "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 {release} Kernel Configuration\n#\n\
CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\"\n\
# --- from Debian 12's config-6.1.0-57-amd64:\n\
CONFIG_DEVTMPFS=y\nCONFIG_CGROUPS=y\nCONFIG_INOTIFY_USER=y\nCONFIG_SIGNALFD=y\nCONFIG_TIMERFD=y\n\
CONFIG_EPOLL=y\nCONFIG_NET=y\nCONFIG_SYSFS=y\nCONFIG_PROC_FS=y\nCONFIG_FHANDLE=y\n\
CONFIG_CRYPTO_USER_API_HASH=m\nCONFIG_CRYPTO_HMAC=y\nCONFIG_CRYPTO_SHA256=y\nCONFIG_DMIID=y\n\
CONFIG_AUTOFS_FS=m\nCONFIG_TMPFS_POSIX_ACL=y\nCONFIG_TMPFS_XATTR=y\nCONFIG_SECCOMP=y\nCONFIG_TMPFS=y\n\
CONFIG_BLK_DEV_INITRD=y\nCONFIG_EFI_STUB=y\nCONFIG_BINFMT_ELF=y\nCONFIG_UNIX=y\nCONFIG_MODULES=y\n\
CONFIG_BLK_DEV_NVME=m\nCONFIG_EXT4_FS=m\nCONFIG_DM_CRYPT=m\n\
CONFIG_ACPI_AC=m\nCONFIG_ACPI_BATTERY=m\nCONFIG_ACPI_BUTTON=m\nCONFIG_ACPI_PLATFORM_PROFILE=m\n\
CONFIG_BT_HCIBTUSB=m\nCONFIG_HID_MULTITOUCH=m\nCONFIG_INPUT_SOC_BUTTON_ARRAY=m\nCONFIG_INTEL_MEI_ME=m\n\
CONFIG_MFD_INTEL_LPSS_PCI=m\nCONFIG_MWIFIEX_PCIE=m\nCONFIG_PINCTRL_SUNRISEPOINT=y\nCONFIG_SERIAL_8250_DW=y\n\
CONFIG_SERIAL_DEV_BUS=y\nCONFIG_SURFACE_ACPI_NOTIFY=m\nCONFIG_SURFACE_AGGREGATOR=m\n\
CONFIG_SURFACE_AGGREGATOR_REGISTRY=m\nCONFIG_SURFACE_DTX=m\nCONFIG_SURFACE_GPE=m\nCONFIG_SURFACE_HOTPLUG=m\n\
CONFIG_SURFACE_PLATFORM_PROFILE=m\n\
# --- as linux-surface's config fragment sets them:\n\
CONFIG_HID_IPTS=m\nCONFIG_HID_ITHC=m\nCONFIG_VIDEO_IPU3_CIO2=m\nCONFIG_IPU_BRIDGE=m\nCONFIG_VIDEO_IPU3_IMGU=m\n\
CONFIG_INTEL_SKL_INT3472=m\nCONFIG_VIDEO_OV5693=m\nCONFIG_VIDEO_OV7251=m\nCONFIG_VIDEO_OV8865=m\n\
CONFIG_VIDEO_DW9719=m\n# CONFIG_IKCONFIG is not set\n"
    )
}

/// The module files of a linux-surface-like kernel (paths under `lib/modules/<rel>`).
const MODULES: &[&str] = &[
    "kernel/drivers/hid/ipts/ipts.ko",
    "kernel/drivers/hid/ithc/ithc.ko",
    "kernel/drivers/misc/mei/mei-me.ko",
    "kernel/drivers/media/pci/intel/ipu3/ipu3-cio2.ko",
    "kernel/drivers/media/pci/intel/ipu-bridge.ko",
    "kernel/drivers/staging/media/ipu3/ipu3-imgu.ko",
    "kernel/drivers/media/i2c/ov5693.ko",
    "kernel/drivers/media/i2c/ov7251.ko",
    "kernel/drivers/media/i2c/ov8865.ko",
    "kernel/drivers/media/i2c/dw9719.ko",
    "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_discrete.ko",
    "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_tps68470.ko",
    "kernel/drivers/platform/surface/aggregator/surface_aggregator.ko",
    "kernel/drivers/platform/surface/surface_aggregator_registry.ko",
    "kernel/drivers/platform/surface/surface_dtx.ko",
    "kernel/drivers/platform/surface/surface_gpe.ko",
    "kernel/drivers/platform/surface/surface_hotplug.ko",
    "kernel/drivers/platform/surface/surface_acpi_notify.ko",
    "kernel/drivers/platform/surface/surface_platform_profile.ko",
    "kernel/drivers/acpi/platform_profile.ko",
    "kernel/drivers/acpi/battery.ko",
    "kernel/drivers/acpi/ac.ko",
    "kernel/drivers/acpi/button.ko",
    "kernel/drivers/input/misc/soc_button_array.ko",
    "kernel/drivers/hid/hid-multitouch.ko",
    "kernel/drivers/mfd/intel-lpss-pci.ko",
    "kernel/drivers/bluetooth/btusb.ko",
    "kernel/drivers/net/wireless/marvell/mwifiex/mwifiex_pcie.ko",
    "kernel/drivers/nvme/host/nvme.ko",
    "kernel/fs/ext4/ext4.ko",
];

const BUILTIN: &str = "kernel/drivers/pinctrl/intel/pinctrl-sunrisepoint.ko\n\
kernel/drivers/tty/serial/8250/8250_dw.ko\nkernel/drivers/tty/serdev/serdev.ko\n";

/// A bzImage: boot protocol 2.15 setup header with the version string, and a
/// payload compressed by `compress` (a vmlinux whose data holds `IKCFG_ST`, the
/// gzipped config and `IKCFG_ED` when `config` is given, as `CONFIG_IKCONFIG=y`
/// builds it).
fn bzimage(release: &str, config: Option<&str>, compress: fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut vmlinux = vec![0x90u8; 200 << 10];
    for (i, b) in vmlinux.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2654435761).to_le_bytes()[3];
    }
    if let Some(c) = config {
        vmlinux.extend_from_slice(b"IKCFG_ST");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(c.as_bytes()).unwrap();
        vmlinux.extend(gz.finish().unwrap());
        vmlinux.extend_from_slice(b"IKCFG_ED");
    }
    vmlinux.extend(vec![0u8; 50 << 10]);
    let payload = compress(&vmlinux);
    let setup_sects = 4u8;
    let pm = (setup_sects as usize + 1) * 512;
    let payload_offset = 0x100usize;
    let mut img = vec![0u8; pm + payload_offset];
    img[0x1f1] = setup_sects;
    img[0x1fe] = 0x55;
    img[0x1ff] = 0xAA;
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    img[0x20e..0x210].copy_from_slice(&0x0400u16.to_le_bytes());
    let v = format!("{release} (builder@nixos) #1-NixOS SMP PREEMPT_DYNAMIC\0");
    img[0x600..0x600 + v.len()].copy_from_slice(v.as_bytes());
    img[0x248..0x24c].copy_from_slice(&(payload_offset as u32).to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    img.extend(payload);
    img.extend_from_slice(&(vmlinux.len() as u32).to_le_bytes());
    img
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b).unwrap();
    gz.finish().unwrap()
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

fn xz(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = liblzma::read::XzEncoder::new(b, 6);
    std::io::Read::read_to_end(&mut e, &mut out).unwrap();
    out
}

/// A linux-surface-like kernel laid out as a package's data: `boot/config-*` and
/// `boot/vmlinuz-*`, or (`usr`) Arch's `usr/lib/modules/<rel>/vmlinuz` with the
/// config embedded in the image; a module tree without modules.dep.
fn kernel_tree(dir: &Path, layout: Layout) {
    let mods = match layout {
        Layout::Debian => dir.join(format!("lib/modules/{REL}")),
        Layout::Arch => dir.join(format!("usr/lib/modules/{REL}")),
        Layout::Fedora => dir.join(format!("lib/modules/{REL}")),
    };
    let ext = match layout {
        Layout::Debian => "",
        Layout::Arch => ".zst",
        Layout::Fedora => ".xz",
    };
    match layout {
        Layout::Debian => {
            write(
                &dir.join(format!("boot/config-{REL}")),
                surface_config(REL).as_bytes(),
            );
            write(
                &dir.join(format!("boot/vmlinuz-{REL}")),
                &bzimage(REL, None, zstd),
            );
            write(
                &dir.join(format!("boot/System.map-{REL}")),
                b"ffffffff81000000 T _text\n",
            );
        }
        Layout::Arch => {
            write(
                &mods.join("vmlinuz"),
                &bzimage(REL, Some(&surface_config(REL)), zstd),
            );
            write(&mods.join("pkgbase"), b"linux-surface\n");
        }
        Layout::Fedora => {
            write(&mods.join("vmlinuz"), &bzimage(REL, None, xz));
            write(&mods.join("config"), surface_config(REL).as_bytes());
        }
    }
    write(&mods.join("modules.builtin"), BUILTIN.as_bytes());
    let mut order = String::new();
    for m in MODULES {
        write(
            &mods.join(format!("{m}{ext}")),
            b"\x7fELF\x02\x01\x01 module",
        );
        order.push_str(m);
        order.push('\n');
    }
    write(&mods.join("modules.order"), order.as_bytes());
    write(
        &dir.join("usr/share/doc/linux-image/changelog.gz"),
        &gzip(b"linux (6.8.1)\n"),
    );
}

#[derive(Clone, Copy)]
enum Layout {
    Debian,
    Arch,
    Fedora,
}

/// Asserts what every healthy linux-surface-like package gives.
fn assert_surface_kernel(k: &KernelImage, kind: TargetKind, dir: &str) {
    assert_eq!(k.kind, kind);
    assert_eq!(k.release.as_deref(), Some(REL));
    assert_eq!(k.image_release.as_deref(), Some(REL));
    assert!(k.other_releases.is_empty(), "{:?}", k.other_releases);
    let o = options(k);
    assert_eq!(o.get("HID_IPTS").map(String::as_str), Some("m"));
    assert_eq!(o.get("VIDEO_IPU3_CIO2").map(String::as_str), Some("m"));
    assert_eq!(o.get("DEVTMPFS").map(String::as_str), Some("y"));
    assert_eq!(o.get("PINCTRL_SUNRISEPOINT").map(String::as_str), Some("y"));
    assert!(!o.contains_key("IKCONFIG"));
    let lines = surface_config(REL)
        .lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .count();
    assert_eq!(o.len(), lines, "every CONFIG_ line kept: {o:?}");
    let t = k.module_tree.ok().expect("a module tree");
    assert_eq!(t.dir, dir);
    let builtin = t.builtin.ok().expect("modules.builtin");
    assert_eq!(
        builtin.iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["8250_dw", "pinctrl_sunrisepoint", "serdev"]
    );
    let avail = t.available.ok().expect("modules from the .ko files");
    assert_eq!(avail.len(), MODULES.len());
    assert!(
        avail
            .get("ipts")
            .unwrap()
            .starts_with("kernel/drivers/hid/ipts/ipts.ko")
    );
    assert!(
        avail
            .get("mei_me")
            .unwrap()
            .starts_with("kernel/drivers/misc/mei/mei-me.ko")
    );
    assert!(matches!(t.aliases, Fact::Unknown { .. }), "{:?}", t.aliases);
    // Every profile module the package carries is present; none is said missing.
    assert!(
        t.files_present.values().all(|&p| p),
        "{:?}",
        t.files_present
    );
    for m in [
        "ipts",
        "ipu3_cio2",
        "ov7251",
        "surface_aggregator",
        "mei_me",
    ] {
        assert_eq!(t.files_present.get(m), Some(&true), "{m}");
    }
    assert!(!t.files_present.contains_key("pinctrl_sunrisepoint"));
    assert!(k.initrd_modules.is_none());
    assert!(k.generation.is_none());
    assert!(
        k.notes.iter().any(|n| n.contains("no modules.dep")),
        "{:?}",
        k.notes
    );
}

// ---------------------------------------------------------------------------
// The stock Debian kernel

#[test]
fn the_stock_debian_kernel_package() {
    let deb = debian_kernel();
    let k = inspect_file(&deb).unwrap();
    assert_eq!(k.kind, TargetKind::Deb);
    let rel = k.release.clone().expect("a release");
    assert!(
        rel.starts_with("6.1.0-") && rel.ends_with("-amd64"),
        "release {rel}"
    );
    assert_eq!(k.image_release.as_deref(), Some(rel.as_str()));
    assert_eq!(
        k.image_path.as_deref(),
        Some(format!("data.tar.xz:./boot/vmlinuz-{rel}").as_str())
    );
    let c = k.config.ok().unwrap();
    assert_eq!(c.source, format!("data.tar.xz:./boot/config-{rel}"));
    assert!(c.options.len() > 5000, "{} options", c.options.len());
    assert!(!c.options.contains_key("HID_IPTS"));
    assert!(!c.options.contains_key("VIDEO_IPU3_CIO2"));
    assert_eq!(c.options.get("DEVTMPFS").map(String::as_str), Some("y"));
    let t = k.module_tree.ok().unwrap();
    assert_eq!(t.dir, format!("lib/modules/{rel}"));
    let avail = t.available.ok().unwrap();
    assert!(avail.len() > 3000, "{} modules", avail.len());
    assert_eq!(
        avail.get("surface_aggregator").map(String::as_str),
        Some("kernel/drivers/platform/surface/aggregator/surface_aggregator.ko")
    );
    assert!(t.builtin.ok().unwrap().len() > 100);
    assert_eq!(t.files_present.get("mei_me"), Some(&true));
    assert!(!t.files_present.contains_key("ipts"));
    assert!(k.other_releases.is_empty());
    assert!(
        k.notes
            .iter()
            .any(|n| n.starts_with("Debian package linux-image-")),
        "{:?}",
        k.notes
    );
}

#[test]
fn the_stock_debian_kernel_unpacked_as_a_tree() {
    let deb = debian_kernel();
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    let root = Root::open(tmp.path()).unwrap();
    let k = inspect(&root, "/tree", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    let from_deb = inspect_file(&deb).unwrap();
    assert_eq!(k.kind, TargetKind::Tree);
    assert_eq!(k.release, from_deb.release);
    assert_eq!(k.image_release, from_deb.release);
    let rel = k.release.clone().unwrap();
    assert_eq!(
        k.config.ok().unwrap().source,
        format!("/tree/boot/config-{rel}")
    );
    assert_eq!(
        k.config.ok().unwrap().options,
        from_deb.config.ok().unwrap().options
    );
    let (a, b) = (
        k.module_tree.ok().unwrap(),
        from_deb.module_tree.ok().unwrap(),
    );
    assert_eq!(a.dir, format!("/tree/lib/modules/{rel}"));
    assert_eq!(
        a.available, b.available,
        "the walk finds what the package lists"
    );
    assert_eq!(a.builtin, b.builtin);
    assert_eq!(a.files_present, b.files_present);

    // Only the image and the modules: the image is decompressed (Debian's kernel
    // is xz with the x86 BCJ filter) and holds no config (no CONFIG_IKCONFIG).
    std::fs::remove_file(tree.join(format!("boot/config-{rel}"))).unwrap();
    let k = inspect(&root, "tree", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(k.image_release.as_deref(), Some(rel.as_str()));
    assert!(matches!(k.config, Fact::Absent { .. }), "{:?}", k.config);
}

// ---------------------------------------------------------------------------
// Packages built here

/// A .deb made with `tar` and `ar`, data compressed with `compress` (a shell
/// filter); xz in many blocks so that the parallel reader has blocks to share.
fn build_deb(dir: &Path, data: &Path, compress: &str, ext: &str) -> PathBuf {
    let ctl = dir.join("control");
    write(
        &ctl.join("control"),
        format!(
            "Package: linux-image-{REL}\nVersion: 6.8.1-1\nArchitecture: amd64\nDescription: test\n"
        )
        .as_bytes(),
    );
    let out = dir.join("pkg.deb");
    sh(&format!(
        "cd {d} && printf '2.0\\n' > debian-binary && \
         tar -C {ctl} --sort=name --owner=0 --group=0 -cf - . | xz -c > control.tar.xz && \
         tar -C {data} --sort=name --owner=0 --group=0 -cf - . | {compress} > data.tar.{ext} && \
         rm -f pkg.deb && ar rc pkg.deb debian-binary control.tar.xz data.tar.{ext}",
        d = q(dir),
        ctl = q(&ctl),
        data = q(data),
    ));
    out
}

#[test]
fn a_deb_built_with_ar_and_tar() {
    for (compress, ext) in [
        // Many blocks: the parallel xz reader decodes them on two threads.
        ("xz -T2 --block-size=64KiB -c", "xz"),
        ("xz -T1 -c", "xz"),
        ("zstd -q -c", "zst"),
        ("gzip -c", "gz"),
        ("cat", "tar"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        kernel_tree(&data, Layout::Debian);
        // Incompressible bulk, so that xz writes several blocks.
        let mut bulk = vec![0u8; 1 << 20];
        let mut x = 0x2545F4914F6CDD1Du64;
        for b in bulk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        write(
            &data.join(format!("lib/modules/{REL}/kernel/zz/bulk.ko")),
            &bulk,
        );
        let ext_name = if ext == "tar" {
            String::new()
        } else {
            ext.to_string()
        };
        let deb = if ext == "tar" {
            let d = build_deb(tmp.path(), &data, "cat", "tar");
            // `ar` member named data.tar: rebuild with that name.
            sh(&format!(
                "cd {} && mv data.tar.tar data.tar && rm pkg.deb && ar rc pkg.deb debian-binary control.tar.xz data.tar",
                q(tmp.path())
            ));
            d
        } else {
            build_deb(tmp.path(), &data, compress, &ext_name)
        };
        let k = inspect_file(&deb).unwrap_or_else(|e| panic!("{compress}: {e}"));
        let member = if ext == "tar" {
            "data.tar".to_string()
        } else {
            format!("data.tar.{ext}")
        };
        assert_eq!(
            k.config.ok().unwrap().source,
            format!("{member}:./boot/config-{REL}"),
            "{compress}"
        );
        assert_eq!(
            k.image_path.as_deref(),
            Some(format!("{member}:./boot/vmlinuz-{REL}").as_str())
        );
        let mut k = k;
        // The bulk module is one more .ko.
        if let Fact::Ok(t) = &mut k.module_tree
            && let Fact::Ok(a) = &mut t.available
        {
            assert!(a.remove("bulk").is_some());
        }
        assert_surface_kernel(&k, TargetKind::Deb, &format!("lib/modules/{REL}"));
        assert!(
            k.notes
                .contains(&format!("Debian package linux-image-{REL} 6.8.1-1")),
            "{:?}",
            k.notes
        );
    }
}

#[test]
fn an_arch_package_with_tar_and_zstd_and_the_config_in_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    kernel_tree(&data, Layout::Arch);
    write(
        &data.join(".PKGINFO"),
        b"# Generated by makepkg\npkgname = linux-surface\npkgbase = linux-surface\npkgver = 6.8.1.arch1-1\narch = x86_64\n",
    );
    write(&data.join(".BUILDINFO"), b"format = 2\n");
    for (ext, filter) in [("zst", "--zstd"), ("xz", "--xz")] {
        let pkg = tmp
            .path()
            .join(format!("linux-surface-6.8.1.arch1-1-x86_64.pkg.tar.{ext}"));
        sh(&format!(
            "tar -C {d} --sort=name --owner=0 --group=0 {filter} -cf {p} .PKGINFO .BUILDINFO usr",
            d = q(&data),
            p = q(&pkg)
        ));
        let k = inspect_file(&pkg).unwrap();
        assert_eq!(
            k.config.ok().unwrap().source,
            format!("usr/lib/modules/{REL}/vmlinuz (embedded config, CONFIG_IKCONFIG)")
        );
        assert_eq!(
            k.image_path.as_deref(),
            Some(format!("usr/lib/modules/{REL}/vmlinuz").as_str())
        );
        assert_surface_kernel(
            &k,
            TargetKind::ArchPackage,
            &format!("usr/lib/modules/{REL}"),
        );
        assert!(
            k.module_tree.ok().unwrap().available.ok().unwrap()["ipts"].ends_with("ipts.ko.zst")
        );
        assert_eq!(
            k.notes.first().map(String::as_str),
            Some("Arch package linux-surface 6.8.1.arch1-1")
        );
        assert!(k.notes.contains(&"pkgbase: linux-surface".to_string()));
    }
}

#[test]
fn an_rpm_built_with_rpmbuild() {
    for payload in ["w19.zstdio", "w6.xzdio", "w9.gzdio"] {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("tree");
        kernel_tree(&tree, Layout::Fedora);
        let spec = tmp.path().join("kernel.spec");
        write(
            &spec,
            format!(
                "Name: kernel-surface-core\nVersion: 6.8.1\nRelease: 1.surface\nSummary: test kernel\nLicense: GPLv2\nBuildArch: noarch\n\
%define debug_package %{{nil}}\n%define __os_install_post %{{nil}}\n%define _build_id_links none\n\
%description\ntest\n%install\nmkdir -p %{{buildroot}}/lib/modules\ncp -a {tree}/lib/modules/{REL} %{{buildroot}}/lib/modules/\n\
%files\n/lib/modules/{REL}\n",
                tree = tree.display()
            )
            .as_bytes(),
        );
        run(Command::new("rpmbuild")
            .arg("-bb")
            .arg("--nodeps")
            .arg("--quiet")
            .arg("--define")
            .arg(format!("_topdir {}", tmp.path().join("rpm").display()))
            .arg("--define")
            .arg(format!("_binary_payload {payload}"))
            .arg(&spec));
        let rpm = tmp
            .path()
            .join("rpm/RPMS/noarch/kernel-surface-core-6.8.1-1.surface.noarch.rpm");
        let k = inspect_file(&rpm).unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(
            k.config.ok().unwrap().source,
            format!("./lib/modules/{REL}/config"),
            "{payload}"
        );
        assert_eq!(
            k.image_path.as_deref(),
            Some(format!("./lib/modules/{REL}/vmlinuz").as_str())
        );
        assert_surface_kernel(&k, TargetKind::Rpm, &format!("lib/modules/{REL}"));
        assert!(
            k.notes
                .contains(&"RPM kernel-surface-core-6.8.1-1.surface".to_string()),
            "{:?}",
            k.notes
        );
    }
}

// ---------------------------------------------------------------------------
// NixOS generations and trees

/// A newc cpio archive of `files` (regular files), with its trailer.
fn newc(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ino = 1;
    let mut push = |out: &mut Vec<u8>, name: &str, data: &[u8], mode: u32| {
        let h = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        ino += 1;
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    };
    for (n, d) in files {
        push(&mut out, n, d, 0o100644);
    }
    push(&mut out, "TRAILER!!!", b"", 0);
    out
}

/// A NixOS system inside `root`: generation 41 and 42 of the system profile, each
/// with its kernel (config embedded, `CONFIG_IKCONFIG=y` as nixpkgs builds it),
/// aggregated module tree with depmod's indexes, and initrd.
fn nixos_root(root: &Path, config: &str) {
    let store = root.join("nix/store");
    let kernel = store.join("aaaa-linux-6.8.1");
    write(
        &kernel.join("bzImage"),
        &bzimage("6.8.1", Some(config), gzip),
    );
    write(&kernel.join("System.map"), b"");
    let km = store.join("bbbb-linux-6.8.1-modules");
    let md = km.join("lib/modules/6.8.1");
    let mut dep = String::new();
    for m in MODULES {
        write(&km.join(format!("lib/modules/6.8.1/{m}.xz")), b"module");
        dep.push_str(&format!("{m}.xz:\n"));
    }
    write(&md.join("modules.dep"), dep.as_bytes());
    write(&md.join("modules.builtin"), BUILTIN.as_bytes());
    write(
        &md.join("modules.alias"),
        b"alias pci:v00008086d00009D3Esv*sd*bc*sc*i* mei_me\nalias acpi*:MSHW0084:* surface_aggregator_registry\nalias usb:v1234d5678* other\n",
    );
    let initrd = store.join("cccc-initrd-linux-6.8.1");
    let main = newc(&[
        ("init", b"#!/bin/sh\n"),
        (
            "lib/modules/6.8.1/kernel/drivers/nvme/host/nvme.ko.xz",
            b"m",
        ),
        ("lib/modules/6.8.1/kernel/fs/ext4/ext4.ko.xz", b"m"),
        ("lib/modules/6.8.1/kernel/drivers/md/dm-crypt.ko.xz", b"m"),
    ]);
    write(&initrd.join("initrd"), &zstd(&main));
    let sys = store.join("dddd-nixos-system-sb2-24.11");
    std::fs::create_dir_all(&sys).unwrap();
    symlink("/nix/store/aaaa-linux-6.8.1/bzImage", sys.join("kernel")).unwrap();
    symlink(
        "/nix/store/bbbb-linux-6.8.1-modules",
        sys.join("kernel-modules"),
    )
    .unwrap();
    symlink(
        "/nix/store/cccc-initrd-linux-6.8.1/initrd",
        sys.join("initrd"),
    )
    .unwrap();
    write(&sys.join("kernel-params"), b"mem_sleep_default=deep");
    write(&sys.join("nixos-version"), b"24.11.20250101.abcdef");
    let old = store.join("eeee-nixos-system-sb2-24.05");
    std::fs::create_dir_all(&old).unwrap();
    let profiles = root.join("nix/var/nix/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    symlink(
        "/nix/store/eeee-nixos-system-sb2-24.05",
        profiles.join("system-41-link"),
    )
    .unwrap();
    symlink(
        "/nix/store/dddd-nixos-system-sb2-24.11",
        profiles.join("system-42-link"),
    )
    .unwrap();
    symlink("system-42-link", profiles.join("system")).unwrap();
    std::fs::create_dir_all(root.join("run")).unwrap();
    symlink(
        "/nix/store/dddd-nixos-system-sb2-24.11",
        root.join("run/current-system"),
    )
    .unwrap();
}

#[test]
fn a_nixos_generation_and_its_profile_links() {
    let tmp = tempfile::tempdir().unwrap();
    let config =
        surface_config("6.8.1").replace("CONFIG_DEVTMPFS=y\n", "# CONFIG_DEVTMPFS is not set\n");
    nixos_root(tmp.path(), &config);
    let root = Root::open(tmp.path()).unwrap();
    for target in [
        "/nix/var/nix/profiles/system",
        "/nix/var/nix/profiles/system-42-link",
        "/run/current-system",
        "/nix/store/dddd-nixos-system-sb2-24.11",
    ] {
        let k = inspect(&root, target, &SURFACE_BOOK_2, &Caps::default()).unwrap();
        assert_eq!(k.kind, TargetKind::NixGeneration, "{target}");
        assert_eq!(k.target, target);
        assert_eq!(k.generation, Some(42), "{target}");
        assert_eq!(k.release.as_deref(), Some("6.8.1"));
        assert_eq!(k.image_release.as_deref(), Some("6.8.1"));
        assert_eq!(
            k.image_path.as_deref(),
            Some("/nix/store/aaaa-linux-6.8.1/bzImage")
        );
        let c = k.config.ok().unwrap();
        assert_eq!(
            c.source,
            "/nix/store/aaaa-linux-6.8.1/bzImage (embedded config, CONFIG_IKCONFIG)"
        );
        assert!(!c.options.contains_key("DEVTMPFS"));
        assert_eq!(c.options.get("HID_IPTS").map(String::as_str), Some("m"));
        let t = k.module_tree.ok().unwrap();
        assert_eq!(
            t.dir,
            "/nix/store/bbbb-linux-6.8.1-modules/lib/modules/6.8.1"
        );
        assert_eq!(
            t.available.ok().unwrap().get("ipts").map(String::as_str),
            Some("kernel/drivers/hid/ipts/ipts.ko.xz")
        );
        assert_eq!(t.builtin.ok().unwrap().len(), 3);
        let aliases = t.aliases.ok().unwrap();
        assert_eq!(
            aliases
                .iter()
                .map(|a| a.module.as_str())
                .collect::<BTreeSet<_>>(),
            ["mei_me", "surface_aggregator_registry"]
                .into_iter()
                .collect()
        );
        assert!(t.files_present.values().all(|&p| p));
        assert_eq!(t.files_present.get("ipts"), Some(&true));
        let initrd = k.initrd_modules.as_ref().unwrap().ok().unwrap();
        assert_eq!(
            initrd.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["dm_crypt", "ext4", "nvme"]
        );
        assert!(
            k.notes.contains(&"NixOS 24.11.20250101.abcdef".to_string()),
            "{:?}",
            k.notes
        );
    }
    // A module file the index names but the store lost: not present.
    std::fs::remove_file(tmp.path().join(
        "nix/store/bbbb-linux-6.8.1-modules/lib/modules/6.8.1/kernel/drivers/hid/ipts/ipts.ko.xz",
    ))
    .unwrap();
    let k = inspect(
        &root,
        "/nix/var/nix/profiles/system",
        &SURFACE_BOOK_2,
        &Caps::default(),
    )
    .unwrap();
    assert_eq!(
        k.module_tree.ok().unwrap().files_present.get("ipts"),
        Some(&false)
    );
}

#[test]
fn a_kernel_store_path_and_an_unpacked_tree() {
    let tmp = tempfile::tempdir().unwrap();
    nixos_root(tmp.path(), &surface_config("6.8.1"));
    // The kernel's own store path: bzImage and (here) no lib/modules: the config
    // from the image, no module tree.
    let root = Root::open(tmp.path()).unwrap();
    let k = inspect(
        &root,
        "/nix/store/aaaa-linux-6.8.1",
        &SURFACE_BOOK_2,
        &Caps::default(),
    )
    .unwrap();
    assert_eq!(k.kind, TargetKind::Tree);
    assert_eq!(k.release.as_deref(), Some("6.8.1"));
    assert_eq!(
        k.image_path.as_deref(),
        Some("/nix/store/aaaa-linux-6.8.1/bzImage")
    );
    assert!(
        k.config
            .ok()
            .unwrap()
            .source
            .ends_with("(embedded config, CONFIG_IKCONFIG)")
    );
    assert!(matches!(k.module_tree, Fact::Absent { .. }));

    // An unpacked Debian-like tree, modules found by walking (no modules.dep).
    let tree = tmp.path().join("home/u/kernel");
    kernel_tree(&tree, Layout::Debian);
    let k = inspect(&root, "/home/u/kernel", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(
        k.config.ok().unwrap().source,
        format!("/home/u/kernel/boot/config-{REL}")
    );
    assert_eq!(
        k.image_path.as_deref(),
        Some(format!("/home/u/kernel/boot/vmlinuz-{REL}").as_str())
    );
    assert_surface_kernel(
        &k,
        TargetKind::Tree,
        &format!("/home/u/kernel/lib/modules/{REL}"),
    );

    // A second module directory: kept aside, with a note.
    write(
        &tree.join("lib/modules/6.1.0-old/modules.builtin"),
        BUILTIN.as_bytes(),
    );
    let k = inspect(&root, "/home/u/kernel", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(k.release.as_deref(), Some(REL));
    assert_eq!(k.other_releases, vec!["6.1.0-old".to_string()]);
    assert!(
        k.notes
            .iter()
            .any(|n| n.contains("more than one module directory"))
    );

    // A module tree whose image reports another release (the NixOS report: "a
    // release string that did not match the module directory").
    let odd = tmp.path().join("odd");
    write(
        &odd.join("bzImage"),
        &bzimage("6.8.1-rc1", Some(&surface_config("6.8.1")), zstd),
    );
    write(
        &odd.join("lib/modules/6.8.1/modules.builtin"),
        BUILTIN.as_bytes(),
    );
    let k = inspect(&root, "/odd", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(k.release.as_deref(), Some("6.8.1"));
    assert_eq!(k.image_release.as_deref(), Some("6.8.1-rc1"));

    // An image whose payload is damaged: its config cannot be told (unknown, with
    // the reason), the rest of the tree is read.
    let mut img = bzimage("6.8.1", Some(&surface_config("6.8.1")), zstd);
    // The payload starts after 4 setup sectors and the boot sector, at 0x100.
    let payload = 5 * 512 + 0x100;
    // Past the zstd magic: the frame and block headers.
    for b in &mut img[payload + 4..payload + 16] {
        *b ^= 0xA5;
    }
    write(&odd.join("bzImage"), &img);
    let k = inspect(&root, "/odd", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(k.image_release.as_deref(), Some("6.8.1"));
    assert!(matches!(k.config, Fact::Unknown { .. }), "{:?}", k.config);
    assert!(
        k.notes
            .iter()
            .any(|n| n.contains("embedded config was not read")),
        "{:?}",
        k.notes
    );
}

#[test]
fn the_running_kernel_of_a_debian_and_a_nixos_root() {
    // Debian: /boot holds the image, config and initrd of the running release.
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    write(
        &r.join("proc/sys/kernel/osrelease"),
        format!("{REL}\n").as_bytes(),
    );
    write(&r.join("etc/os-release"), b"ID=debian\nVERSION_ID=\"12\"\n");
    write(
        &r.join(format!("boot/config-{REL}")),
        surface_config(REL).as_bytes(),
    );
    write(
        &r.join(format!("boot/vmlinuz-{REL}")),
        &bzimage(REL, None, zstd),
    );
    let mut dep = String::new();
    for m in MODULES {
        write(&r.join(format!("lib/modules/{REL}/{m}")), b"module");
        dep.push_str(&format!("{m}:\n"));
    }
    write(
        &r.join(format!("lib/modules/{REL}/modules.dep")),
        dep.as_bytes(),
    );
    write(
        &r.join(format!("lib/modules/{REL}/modules.builtin")),
        BUILTIN.as_bytes(),
    );
    let root = Root::open(r).unwrap();
    let k = running(&root, &SURFACE_BOOK_2, &Caps::default());
    assert_eq!(k.kind, TargetKind::Running);
    assert_eq!(k.target, "running kernel");
    assert_eq!(k.release.as_deref(), Some(REL));
    assert_eq!(
        k.image_path.as_deref(),
        Some(format!("/boot/vmlinuz-{REL}").as_str())
    );
    assert_eq!(k.image_release.as_deref(), Some(REL));
    assert_eq!(k.config.ok().unwrap().source, format!("/boot/config-{REL}"));
    assert_eq!(
        k.module_tree.ok().unwrap().dir,
        format!("/lib/modules/{REL}")
    );
    assert_eq!(
        k.module_tree.ok().unwrap().files_present.get("ipts"),
        Some(&true)
    );
    assert!(
        matches!(k.initrd_modules, Some(Fact::Absent { .. })),
        "{:?}",
        k.initrd_modules
    );
    assert_eq!(k.generation, None);
    let initrd = newc(&[(
        "usr/lib/modules/x/kernel/drivers/nvme/host/nvme.ko.zst",
        b"m",
    )]);
    write(&r.join(format!("boot/initrd.img-{REL}")), &zstd(&initrd));
    let k = running(&root, &SURFACE_BOOK_2, &Caps::default());
    assert_eq!(
        k.initrd_modules
            .unwrap()
            .ok()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        vec!["nvme"]
    );
    // A corrupt initrd: unknown, with the reason.
    write(
        &r.join(format!("boot/initrd.img-{REL}")),
        &zstd(&initrd)[..20],
    );
    let k = running(&root, &SURFACE_BOOK_2, &Caps::default());
    assert!(
        matches!(k.initrd_modules, Some(Fact::Unknown { .. })),
        "{:?}",
        k.initrd_modules
    );

    // NixOS: the booted generation's kernel, modules and initrd.
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    nixos_root(r, &surface_config("6.8.1"));
    write(&r.join("proc/sys/kernel/osrelease"), b"6.8.1\n");
    write(&r.join("etc/os-release"), b"ID=nixos\n");
    symlink(
        "/nix/store/dddd-nixos-system-sb2-24.11",
        r.join("run/booted-system"),
    )
    .unwrap();
    let root = Root::open(r).unwrap();
    let k = running(&root, &SURFACE_BOOK_2, &Caps::default());
    assert_eq!(k.image_path.as_deref(), Some("/run/booted-system/kernel"));
    assert_eq!(k.image_release.as_deref(), Some("6.8.1"));
    assert_eq!(
        k.module_tree.ok().unwrap().dir,
        "/run/booted-system/kernel-modules/lib/modules/6.8.1"
    );
    assert_eq!(
        k.initrd_modules
            .unwrap()
            .ok()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        vec!["dm_crypt", "ext4", "nvme"]
    );
    assert_eq!(k.generation, Some(42));
}

#[test]
fn initrds_made_with_cpio() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        &d.join("early/kernel/x86/microcode/GenuineIntel.bin"),
        b"ucode",
    );
    for m in [
        "lib/modules/6.8.1/kernel/drivers/nvme/host/nvme.ko.zst",
        "lib/modules/6.8.1/kernel/drivers/hid/hid-multitouch.ko",
        "lib/modules/6.8.1/kernel/drivers/platform/surface/aggregator/surface_aggregator.ko.xz",
        "lib/modules/6.8.1/kernel/fs/ext4/ext4.ko.gz",
    ] {
        write(&d.join("main").join(m), b"\x7fELF");
    }
    write(&d.join("main/init"), b"#!/bin/sh\n");
    let want = vec!["ext4", "hid_multitouch", "nvme", "surface_aggregator"];
    for compress in ["gzip -c", "zstd -q -c", "xz -c --check=crc32", "cat"] {
        let (early, main) = (d.join("early.cpio"), d.join("main.cpio"));
        sh(&format!(
            "cd {d}/early && find . | sort | cpio -o -H newc --quiet > {e} && \
             cd {d}/main && find . | sort | cpio -o -H newc --quiet | {compress} > {m}",
            d = d.display(),
            e = q(&early),
            m = q(&main)
        ));
        let early = std::fs::read(&early).unwrap();
        let main = std::fs::read(&main).unwrap();
        let bytes = [early.clone(), main.clone()].concat();
        let m = initrd_modules(&mut bytes.as_slice(), &Caps::default())
            .unwrap_or_else(|e| panic!("{compress}: {e}"));
        assert_eq!(
            m.iter().map(String::as_str).collect::<Vec<_>>(),
            want,
            "{compress}"
        );
        // Cut inside the main part: an error, never part of the list.
        let cut = &bytes[..early.len() + main.len() / 2];
        let r = initrd_modules(&mut &cut[..], &Caps::default());
        assert!(
            r.is_err(),
            "{compress}: {} of {} bytes: {r:?}",
            cut.len(),
            bytes.len()
        );
    }
}

#[test]
fn the_release_in_a_real_bzimage_header() {
    let deb = debian_kernel();
    let image = sh(&format!(
        "dpkg-deb --fsys-tarfile {} | tar -xO --wildcards './boot/vmlinuz-*'",
        q(&deb)
    ));
    let head = &image[..65536];
    let rel = bzimage_release(head).unwrap();
    assert!(
        rel.starts_with("6.1.0-") && rel.ends_with("-amd64"),
        "{rel}"
    );
    assert_eq!(bzimage_release(&head[..0x300]), None);
}

// ---------------------------------------------------------------------------
// Bad input

/// A tar stream of `(name, data)` regular files, written by hand (GNU tar will not
/// store a `..` name).
fn raw_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend(vec![0u8; 1024]);
    out
}

/// A .deb whose data.tar.zst is `tar` (ar by hand: the format is three fields).
fn deb_of(tar: &[u8]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    let control = zstd(&raw_tar(&[("./control", b"Package: x\nVersion: 1\n")]));
    for (name, data) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.zst", control),
        ("data.tar.zst", zstd(tar)),
    ] {
        out.extend_from_slice(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                100644,
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// The bad targets of one root, each with the error kind it must give.
struct Bad {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    cases: Vec<(String, &'static str)>,
}

fn bad_targets() -> Bad {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().to_path_buf();
    let mut cases = Vec::new();

    // A good package to break.
    let data = r.join("build/data");
    kernel_tree(&data, Layout::Debian);
    let good = build_deb(
        &r.join("build"),
        &data,
        "xz -T2 --block-size=64KiB -c",
        "xz",
    );
    let bytes = std::fs::read(&good).unwrap();
    write(&r.join("pkgs/good.deb"), &bytes);

    write(&r.join("pkgs/truncated.deb"), &bytes[..bytes.len() * 3 / 5]);
    cases.push(("/pkgs/truncated.deb".into(), "corrupt"));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5A;
    }
    write(&r.join("pkgs/corrupt.deb"), &flipped);
    cases.push(("/pkgs/corrupt.deb".into(), "corrupt"));
    write(&r.join("pkgs/empty.deb"), b"");
    cases.push(("/pkgs/empty.deb".into(), "unsupported"));

    // Path traversal, in a .deb and in an Arch package.
    let evil = raw_tar(&[
        ("./boot/config-6.8.1", surface_config("6.8.1").as_bytes()),
        ("./../../etc/cron.d/evil", b"* * * * * root sh\n"),
    ]);
    write(&r.join("pkgs/traversal.deb"), &deb_of(&evil));
    cases.push(("/pkgs/traversal.deb".into(), "unsafe"));
    write(&r.join("pkgs/traversal.pkg.tar.zst"), &zstd(&evil));
    cases.push(("/pkgs/traversal.pkg.tar.zst".into(), "unsafe"));

    // Not a kernel: documentation only.
    let docs = raw_tar(&[("./usr/share/doc/hello/README", b"hello\n")]);
    write(&r.join("pkgs/hello.deb"), &deb_of(&docs));
    cases.push(("/pkgs/hello.deb".into(), "not_a_kernel"));
    write(&r.join("pkgs/hello.pkg.tar.zst"), &zstd(&docs));
    cases.push(("/pkgs/hello.pkg.tar.zst".into(), "not_a_kernel"));

    // Bombs: 4 GiB and a byte of zeros in one entry (a few hundred kilobytes of
    // zstd); more entries than the cap.
    {
        let mut h = raw_tar(&[("./big", b"")]);
        h.truncate(512);
        let size = (4u64 << 30) + 1;
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let f = std::fs::File::create(r.join("pkgs/bomb.pkg.tar.zst")).unwrap();
        let mut enc = zstd::Encoder::new(f, 1).unwrap();
        enc.write_all(&h).unwrap();
        std::io::copy(
            &mut std::io::Read::take(std::io::repeat(0), size + 2048),
            &mut enc,
        )
        .unwrap();
        enc.finish().unwrap();
        cases.push(("/pkgs/bomb.pkg.tar.zst".into(), "too_large"));
    }
    {
        let f = std::fs::File::create(r.join("pkgs/entries.pkg.tar.zst")).unwrap();
        let mut enc = zstd::Encoder::new(f, 1).unwrap();
        let one = raw_tar(&[("./usr/share/x", b"")]);
        for _ in 0..200_001 {
            enc.write_all(&one[..512]).unwrap();
        }
        enc.write_all(&[0u8; 1024]).unwrap();
        enc.finish().unwrap();
        cases.push(("/pkgs/entries.pkg.tar.zst".into(), "too_large"));
    }

    // Not a package at all; compressed data that is not a tar; a FIFO; missing.
    write(&r.join("pkgs/notes.txt"), b"just some text\n");
    cases.push(("/pkgs/notes.txt".into(), "unsupported"));
    write(
        &r.join("pkgs/initrd.pkg.tar.zst"),
        &zstd(&newc(&[("init", b"x")])),
    );
    cases.push(("/pkgs/initrd.pkg.tar.zst".into(), "unsupported"));
    nix::unistd::mkfifo(&r.join("pkgs/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    cases.push(("/pkgs/fifo".into(), "unsupported"));
    cases.push(("/pkgs/missing.deb".into(), "not_found"));

    // Symlinks out of the tree: a module directory, a config; a generation whose
    // kernel is not in the store; a loop.
    let t = r.join("trees/linked");
    kernel_tree(&t, Layout::Debian);
    std::fs::create_dir_all(r.join("etc/secret")).unwrap();
    std::fs::remove_dir_all(t.join(format!("lib/modules/{REL}"))).unwrap();
    symlink("/etc/secret", t.join(format!("lib/modules/{REL}"))).unwrap();
    cases.push(("/trees/linked".into(), "unsafe"));
    let t2 = r.join("trees/config-link");
    kernel_tree(&t2, Layout::Debian);
    std::fs::remove_file(t2.join(format!("boot/config-{REL}"))).unwrap();
    write(&r.join("etc/kernel-config"), surface_config(REL).as_bytes());
    symlink(
        "../../../etc/kernel-config",
        t2.join(format!("boot/config-{REL}")),
    )
    .unwrap();
    cases.push(("/trees/config-link".into(), "unsafe"));
    let g = r.join("gen");
    std::fs::create_dir_all(&g).unwrap();
    write(&r.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n");
    symlink("/etc/passwd", g.join("kernel")).unwrap();
    symlink("/nix/store/none", g.join("kernel-modules")).unwrap();
    write(&g.join("nixos-version"), b"24.11");
    cases.push(("/gen".into(), "unsafe"));
    symlink("loop-b", r.join("loop-a")).unwrap();
    symlink("loop-a", r.join("loop-b")).unwrap();
    cases.push(("/loop-a".into(), "unsafe"));
    // An empty directory: no kernel.
    std::fs::create_dir_all(r.join("trees/empty")).unwrap();
    cases.push(("/trees/empty".into(), "not_a_kernel"));
    Bad {
        root: r,
        _tmp: tmp,
        cases,
    }
}

fn kind_of(e: &InspectError) -> &'static str {
    match e {
        InspectError::NotFound { .. } => "not_found",
        InspectError::Unsupported { .. } => "unsupported",
        InspectError::NotAKernel { .. } => "not_a_kernel",
        InspectError::Corrupt { .. } => "corrupt",
        InspectError::TooLarge { .. } => "too_large",
        InspectError::Unsafe { .. } => "unsafe",
        InspectError::Io { .. } => "io",
    }
}

#[test]
fn bad_input_is_an_error_of_its_kind() {
    let bad = bad_targets();
    let root = Root::open(&bad.root).unwrap();
    let good = inspect(&root, "/pkgs/good.deb", &SURFACE_BOOK_2, &Caps::default()).unwrap();
    assert_eq!(good.release.as_deref(), Some(REL));
    for (target, want) in &bad.cases {
        let start = std::time::Instant::now();
        let e = inspect(&root, target, &SURFACE_BOOK_2, &Caps::default())
            .err()
            .unwrap_or_else(|| panic!("{target}: read without an error"));
        assert_eq!(kind_of(&e), *want, "{target}: {e}");
        assert!(e.to_string().starts_with(target.as_str()), "{e}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{target}"
        );
    }
    // A small cap on what is decompressed, on the good package.
    let small = Caps {
        max_unpacked: 64 << 10,
        ..Caps::default()
    };
    let e = inspect(&root, "/pkgs/good.deb", &SURFACE_BOOK_2, &small).unwrap_err();
    assert!(
        matches!(e, InspectError::TooLarge { limit, .. } if limit == 64 << 10),
        "{e}"
    );
    let few = Caps {
        max_entries: 10,
        ..Caps::default()
    };
    let e = inspect(&root, "/pkgs/good.deb", &SURFACE_BOOK_2, &few).unwrap_err();
    assert!(matches!(e, InspectError::TooLarge { limit: 10, .. }), "{e}");
    let kept = Caps {
        max_kept_file: 1000,
        ..Caps::default()
    };
    let e = inspect(&root, "/pkgs/good.deb", &SURFACE_BOOK_2, &kept).unwrap_err();
    assert!(
        matches!(e, InspectError::TooLarge { limit: 1000, .. }),
        "{e}"
    );
}

/// Syscalls that create, write or remove a path.
const WRITES: &str =
    "trace=openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,symlink";

/// The lines of an strace log that write or create anything.
fn writes_in(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            // `PID call(...)` with -f and -o, `[pid N] call(...)` without -o.
            let l = l.trim_start();
            let call = match l.split_once(' ') {
                Some((pid, rest)) if pid.bytes().all(|b| b.is_ascii_digit()) => rest,
                _ => l.split_once(']').map_or(l, |x| x.1),
            }
            .trim_start();
            if call.starts_with("openat(") || call.starts_with("open(") {
                ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
                    .iter()
                    .any(|f| call.contains(f))
            } else {
                ["creat(", "mkdir", "rename", "unlink", "link(", "symlink("]
                    .iter()
                    .any(|c| call.starts_with(c))
            }
        })
        .map(String::from)
        .collect()
}

#[test]
fn nothing_is_written_while_inspecting_good_or_bad_input() {
    let bad = bad_targets();
    let bin = env!("CARGO_BIN_EXE_surface-check");
    let mut targets: Vec<(String, i32)> = bad.cases.iter().map(|(t, _)| (t.clone(), 2)).collect();
    targets.push(("/pkgs/good.deb".into(), -1));
    let logs = tempfile::tempdir().unwrap();
    // The log does show writes: a shell that creates a file.
    let probe = logs.path().join("probe.log");
    run(Command::new("strace")
        .args(["-f", "-qq", "-e", WRITES, "-o"])
        .arg(&probe)
        .args(["sh", "-c"])
        .arg(format!("echo x > {}", q(&logs.path().join("made")))));
    assert_eq!(
        writes_in(&std::fs::read_to_string(&probe).unwrap()).len(),
        1
    );
    for (target, want) in targets {
        let log = logs.path().join("strace.log");
        let out = Command::new("strace")
            .arg("-f")
            .arg("-qq")
            .arg("-e")
            .arg(WRITES)
            .arg("-o")
            .arg(&log)
            .arg(bin)
            .arg("kernel")
            .arg("--root")
            .arg(&bad.root)
            .arg("--inspect")
            .arg(&target)
            .arg("--json")
            .output()
            .expect("strace: apt-get install strace (scripts/test.sh)");
        let code = out.status.code().unwrap_or(-100);
        if want == 2 {
            assert_eq!(
                code,
                2,
                "{target}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            assert!(
                matches!(code, 0 | 1),
                "{target}: {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("openat("),
            "{target}: strace saw no opens: {text}"
        );
        let w = writes_in(&text);
        assert!(w.is_empty(), "{target}: writes: {w:#?}");
        std::fs::remove_file(&log).unwrap();
    }
}
