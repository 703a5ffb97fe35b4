//! Firmware files the profile needs, found where the kernel's loader looks.

use std::collections::BTreeMap;

use super::{Fact, Firmware, text};
use crate::profiles::Profile;
use crate::root::Root;

/// Compression suffixes the kernel's loader accepts (NixOS compresses firmware).
pub const SUFFIXES: &[&str] = &["", ".zst", ".xz"];

pub fn collect(root: &Root, release: Option<&str>, profile: &Profile) -> Firmware {
    let custom_path = text(root, "sys/module/firmware_class/parameters/path");
    // The kernel's order: the custom path first, then the built-in list.
    let mut search = Vec::new();
    if let Fact::Ok(p) = &custom_path {
        let p = p.trim();
        if p.starts_with('/') && !p.contains("..") {
            search.push(p.trim_end_matches('/').to_string());
        }
    }
    if let Some(r) = release {
        search.push(format!("/lib/firmware/updates/{r}"));
    }
    search.push("/lib/firmware/updates".into());
    if let Some(r) = release {
        search.push(format!("/lib/firmware/{r}"));
    }
    search.push("/lib/firmware".into());
    // NixOS: the booted generation's firmware, even before activation set the path.
    search.push("/run/booted-system/firmware/lib/firmware".into());
    search.dedup();

    let mut files = BTreeMap::new();
    for f in profile.firmware() {
        let found = search.iter().find_map(|dir| {
            SUFFIXES.iter().find_map(|suf| {
                let p = format!("{dir}/{f}{suf}");
                matches!(root.stat(&p), Ok(crate::root::NodeKind::File)).then_some(p)
            })
        });
        files.insert(f.to_string(), found);
    }
    Firmware {
        custom_path,
        search,
        files,
    }
}
