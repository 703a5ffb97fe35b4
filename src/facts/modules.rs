//! Loaded modules and the running kernel's module tree.

use std::collections::BTreeSet;

use super::{Fact, ModuleTree, Modules, list_sorted, parse, parsed_large};
use crate::profiles::Profile;
use crate::root::Root;

pub fn loaded(root: &Root) -> Modules {
    let path = "proc/modules";
    let loaded = parsed_large(root, path, parse::proc_modules);
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

    let builtin = parsed_large(
        root,
        &format!("{dir}/modules.builtin"),
        parse::modules_builtin,
    );
    let available = parsed_large(root, &format!("{dir}/modules.dep"), parse::modules_dep);
    let aliases = parsed_large(root, &format!("{dir}/modules.alias"), |t| {
        parse::modules_alias(t, &wanted)
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
