//! NixOS generations: booted, current and the boot default.

use super::{Fact, Generation, NixOs};
use crate::root::Root;

pub const BOOTED: &str = "run/booted-system";
pub const CURRENT: &str = "run/current-system";
pub const PROFILE: &str = "nix/var/nix/profiles/system";

pub fn collect(root: &Root, is_nixos: bool) -> Option<NixOs> {
    if !is_nixos && !root.exists(BOOTED) {
        return None;
    }
    Some(NixOs {
        booted: generation(root, BOOTED),
        current: generation(root, CURRENT),
        profile: generation(root, PROFILE),
    })
}

fn generation(root: &Root, link: &str) -> Fact<Generation> {
    let toplevel = match root.canonical(link) {
        Ok(t) => t,
        Err(e) => return Fact::from_read(link, Err(e)),
    };
    let target = |name: &str| root.read_link(&format!("{toplevel}/{name}")).ok();
    let module_releases = root
        .list_dir(&format!("{toplevel}/kernel-modules/lib/modules"))
        .map(|mut v| {
            v.sort();
            v
        })
        .unwrap_or_default();
    Fact::Ok(Generation {
        kernel: target("kernel"),
        kernel_modules: target("kernel-modules"),
        initrd: target("initrd"),
        module_releases,
        toplevel,
    })
}
