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
    let numbers = numbers(root);
    let numbered = |mut g: Fact<Generation>| {
        if let Fact::Ok(g) = &mut g {
            g.number = numbers.get(&g.toplevel).copied();
        }
        g
    };
    Some(NixOs {
        booted: numbered(generation(root, BOOTED)),
        current: numbered(generation(root, CURRENT)),
        profile: numbered(generation(root, PROFILE)),
    })
}

/// The most generation links read for numbers (a profile directory may hold
/// thousands of old ones; the newest are what a boot runs).
const MAX_GENERATION_LINKS: usize = 4096;

/// Toplevel -> generation number, from the `system-N-link` entries of the system
/// profile's directory; the newest number where several links share a toplevel.
pub(crate) fn numbers(root: &Root) -> std::collections::BTreeMap<String, u32> {
    let dir = "nix/var/nix/profiles";
    let mut links: Vec<u32> = root
        .list_dir(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            n.strip_prefix("system-")?
                .strip_suffix("-link")?
                .parse()
                .ok()
        })
        .collect();
    links.sort_unstable_by(|a, b| b.cmp(a));
    links.truncate(MAX_GENERATION_LINKS);
    let mut out = std::collections::BTreeMap::new();
    for n in links {
        if let Ok(t) = root.canonical(&format!("{dir}/system-{n}-link")) {
            out.entry(t).or_insert(n);
        }
    }
    out
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
        number: None,
        kernel: target("kernel"),
        kernel_modules: target("kernel-modules"),
        initrd: target("initrd"),
        module_releases,
        toplevel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn each_generation_gets_the_number_of_the_newest_link_to_its_toplevel() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for s in ["aaaa-nixos-system-41", "bbbb-nixos-system-42"] {
            std::fs::create_dir_all(d.join("nix/store").join(s)).unwrap();
        }
        std::fs::create_dir_all(d.join("nix/var/nix/profiles")).unwrap();
        std::fs::create_dir_all(d.join("run")).unwrap();
        let p = d.join("nix/var/nix/profiles");
        symlink("/nix/store/aaaa-nixos-system-41", p.join("system-40-link")).unwrap();
        symlink("/nix/store/aaaa-nixos-system-41", p.join("system-41-link")).unwrap();
        symlink("/nix/store/bbbb-nixos-system-42", p.join("system-42-link")).unwrap();
        symlink("/nix/store/gone", p.join("system-43-link")).unwrap();
        symlink("nonsense", p.join("system-x-link")).unwrap();
        symlink("system-42-link", p.join("system")).unwrap();
        symlink(
            "/nix/store/aaaa-nixos-system-41",
            d.join("run/booted-system"),
        )
        .unwrap();
        symlink(
            "/nix/store/bbbb-nixos-system-42",
            d.join("run/current-system"),
        )
        .unwrap();
        let root = Root::open(d).unwrap();
        let n = collect(&root, true).unwrap();
        assert_eq!(n.booted.ok().unwrap().number, Some(41));
        assert_eq!(n.current.ok().unwrap().number, Some(42));
        assert_eq!(n.profile.ok().unwrap().number, Some(42));
    }
}
