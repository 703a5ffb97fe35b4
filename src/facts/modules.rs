//! Loaded modules and the running kernel's module tree.

use std::collections::BTreeSet;

use super::{Fact, ModuleTree, Modules, list_sorted, parse, streamed};
use crate::profiles::Profile;
use crate::root::Root;

pub fn loaded(root: &Root) -> Modules {
    let path = "proc/modules";
    let loaded = streamed(root, path, |r| parse::proc_modules_from(r));
    let sys_module = list_sorted(root, "sys/module")
        .map(|v| v.iter().map(|n| parse::normalize_module(n)).collect());
    Modules { loaded, sys_module }
}

/// Where the running kernel's modules live: `lib/modules/<release>`, or on NixOS
/// `run/booted-system/kernel-modules/lib/modules/<release>` (there is no /lib/modules).
pub fn tree_dirs(release: &str) -> [String; 3] {
    [
        format!("lib/modules/{release}"),
        format!("usr/lib/modules/{release}"),
        format!("run/booted-system/kernel-modules/lib/modules/{release}"),
    ]
}

pub fn tree(root: &Root, release: Option<&str>, profile: &Profile) -> Fact<ModuleTree> {
    let Some(release) = release else {
        return Fact::Unknown {
            path: "/lib/modules".into(),
            reason: "kernel release unknown".into(),
        };
    };
    let dirs = tree_dirs(release);
    let Some(dir) = dirs
        .iter()
        .find(|d| root.exists(&format!("{d}/modules.dep")))
    else {
        return Fact::Absent {
            path: dirs
                .iter()
                .map(|d| format!("/{d}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
    };
    let wanted: BTreeSet<String> = profile.modules().iter().map(|m| m.to_string()).collect();

    // Each index is parsed as a stream and keeps only what the checks use: module
    // names, their paths (modules.dep, without the dependency lists), and the
    // aliases of the profile's modules.
    let builtin = streamed(root, &format!("{dir}/modules.builtin"), |r| {
        parse::modules_builtin_from(r)
    });
    let available = streamed(root, &format!("{dir}/modules.dep"), |r| {
        parse::modules_dep_from(r)
    });
    let aliases = streamed(root, &format!("{dir}/modules.alias"), |r| {
        parse::modules_alias_from(r, &wanted)
    });
    let mut files_present = std::collections::BTreeMap::new();
    if let Fact::Ok(avail) = &available {
        for m in &wanted {
            if let Some(rel) = avail.get(m) {
                let ok = !rel.contains("..") && root.exists(&format!("{dir}/{rel}"));
                files_present.insert(m.clone(), ok);
            }
        }
    }
    Fact::Ok(ModuleTree {
        dir: format!("/{dir}"),
        builtin,
        available,
        aliases,
        files_present,
    })
}
