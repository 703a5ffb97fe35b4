//! Loaded modules and the running kernel's module tree.

use std::collections::BTreeSet;

use super::{Fact, ModuleTree, Modules, list_sorted, parse};
use crate::profiles::Profile;
use crate::root::Root;

pub fn loaded(root: &Root) -> Modules {
    let path = "proc/modules";
    let loaded = match root.read_large(path) {
        Ok(b) => match parse::proc_modules(&String::from_utf8_lossy(&b)) {
            Ok(m) => Fact::Ok(m),
            Err(e) => Fact::unparseable(path, e),
        },
        Err(e) => Fact::from_read(path, Err(e)),
    };
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
    let read = |name: &str| {
        let p = format!("{dir}/{name}");
        let r = root
            .read_large(&p)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        (p, r)
    };
    let wanted: BTreeSet<String> = profile.modules().iter().map(|m| m.to_string()).collect();

    let (p, r) = read("modules.builtin");
    let builtin = match r {
        Ok(t) => parse::modules_builtin(&t).map_or_else(|e| Fact::unparseable(&p, e), Fact::Ok),
        Err(e) => Fact::from_read(&p, Err(e)),
    };
    let (p, r) = read("modules.dep");
    let available = match r {
        Ok(t) => parse::modules_dep(&t).map_or_else(|e| Fact::unparseable(&p, e), Fact::Ok),
        Err(e) => Fact::from_read(&p, Err(e)),
    };
    let (p, r) = read("modules.alias");
    let aliases = match r {
        Ok(t) => {
            parse::modules_alias(&t, &wanted).map_or_else(|e| Fact::unparseable(&p, e), Fact::Ok)
        }
        Err(e) => Fact::from_read(&p, Err(e)),
    };
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
