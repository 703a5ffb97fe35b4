//! Three boots of a NixOS Surface Book 2 (tests/common/sb2.rs) for the history's
//! tests, each with its own `proc/sys/kernel/random/boot_id`:
//! 1. kernel 6.18.8, generation 41, healthy;
//! 2. the same kernel and generation, iptsd gone (not installed, not running);
//! 3. kernel 6.19.8, generation 42, whose kernel has no ipts module.

use super::sb2::{Break, Distro, NIX_MODULES, NIX_SYSTEM, Sb2, Size};
use super::tree::Tree;

pub const BOOT1: &str = "11111111-aaaa-4aaa-8aaa-000000000001";
pub const BOOT2: &str = "22222222-bbbb-4bbb-8bbb-000000000002";
pub const BOOT3: &str = "33333333-cccc-4ccc-8ccc-000000000003";

// ---- fixtures -------------------------------------------------------------------

pub fn machine() -> Sb2 {
    Sb2::new(Size::In15, Distro::NixOs)
}

/// The NixOS machine as built (kernel 6.19.8, generation 42) with this boot id.
pub fn boot_on_6_19_8(boot_id: &str) -> Tree {
    let t = machine().build();
    t.attr("proc/sys/kernel/random/boot_id", boot_id);
    t
}

/// The NixOS machine booted into generation 41 with kernel 6.18.8: its own system
/// store path, kernel, module tree (the fixture's, moved under 6.18.8) and profile
/// link; generation 42 does not exist yet.
pub fn boot_on_6_18_8(boot_id: &str) -> Tree {
    let m = machine();
    let t = m.build();
    let sys = "nix/store/4141aaaa-nixos-system-sb2-owner-24.11.20241001.aaaaaa";
    let modules = "nix/store/4141bbbb-linux-6.18.8-modules-shrunk";
    let from = t.path().join(m.module_dir());
    let to = t.path().join(format!("{modules}/lib/modules/6.18.8"));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::rename(&from, &to).unwrap();
    t.remove(NIX_MODULES);
    t.link(
        &format!("{sys}/kernel"),
        "/nix/store/4141cccc-linux-6.18.8/bzImage",
    );
    t.link(&format!("{sys}/kernel-modules"), &format!("/{modules}"));
    t.link(
        &format!("{sys}/initrd"),
        "/nix/store/4141dddd-initrd-linux-6.18.8/initrd",
    );
    t.link(&format!("{sys}/firmware"), "/nix/store/4444eeee-firmware");
    t.remove(NIX_SYSTEM);
    for l in ["run/booted-system", "run/current-system"] {
        t.remove(l);
        t.link(l, &format!("/{sys}"));
    }
    t.remove("nix/var/nix/profiles/system-42-link");
    t.remove("nix/var/nix/profiles/system");
    t.link("nix/var/nix/profiles/system-41-link", &format!("/{sys}"));
    t.link("nix/var/nix/profiles/system", "system-41-link");
    t.attr("proc/sys/kernel/osrelease", "6.18.8");
    t.attr(
        "proc/version",
        "Linux version 6.18.8 (nixbld@localhost) #1-NixOS SMP PREEMPT_DYNAMIC Tue Jan  1 00:00:00 UTC 1980",
    );
    t.attr(
        "proc/cmdline",
        &format!("initrd=\\efi\\nixos\\initrd.efi init=/{sys}/init mem_sleep_default=deep"),
    );
    t.attr("proc/sys/kernel/random/boot_id", boot_id);
    t
}

/// Boot 1: healthy on 6.18.8 (generation 41).
pub fn boot1() -> Tree {
    boot_on_6_18_8(BOOT1)
}

/// Boot 2: the same kernel, iptsd gone.
pub fn boot2() -> Tree {
    let t = boot_on_6_18_8(BOOT2);
    Break::IptsdNotInstalled.apply(&machine(), &t);
    t
}

/// Boot 3: 6.19.8 (generation 42), built without the ipts module (not loaded, no
/// file in the module tree, its option not set), so iptsd has nothing to serve.
pub fn boot3() -> Tree {
    let m = machine();
    let t = boot_on_6_19_8(BOOT3);
    Break::IptsNotLoaded.apply(&m, &t);
    let path = "kernel/drivers/hid/ipts/ipts.ko.zst";
    t.remove(&format!("{}/{path}", m.module_dir()));
    let dep = format!("{}/modules.dep", m.module_dir());
    let kept: String = t
        .read(&dep)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with(path))
        .map(|l| format!("{l}\n"))
        .collect();
    t.file(&dep, kept);
    let options: Vec<(&str, &str)> = m
        .config_options()
        .into_iter()
        .map(|(k, v)| if k == "HID_IPTS" { (k, "") } else { (k, v) })
        .collect();
    t.gz("proc/config.gz", &Tree::config_text(&options));
    // The older generation is still on disk, as after `nixos-rebuild boot`.
    t.link(
        "nix/var/nix/profiles/system-41-link",
        "/nix/store/4141aaaa-nixos-system-sb2-owner-24.11.20241001.aaaaaa",
    );
    t
}
