//! Preflight: judge a kernel before booting it.
//!
//! A target (the running kernel, a NixOS generation, an unpacked tree, or a
//! `.deb`, `.pkg.tar.zst` or `.rpm` read as a stream) is read into a
//! [`KernelImage`] by [`source`]; [`predict`] judges it with the same profile and
//! the same driver logic (`Ctx::kernel_has`) as the live diagnosis, and [`boot`]
//! holds what systemd and NixOS need from any kernel to boot.

pub mod archive;
pub mod boot;
pub mod predict;
pub mod source;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::facts::{Fact, KernelConfig, ModuleTree};

/// What kind of thing was inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// The kernel this machine runs.
    Running,
    /// A NixOS system generation or profile (`kernel`, `kernel-modules`, `initrd`).
    NixGeneration,
    /// A kernel store path or an unpacked tree (`boot/config-*`, `lib/modules/<release>`).
    Tree,
    /// A Debian package (`.deb`).
    Deb,
    /// An Arch Linux package (`.pkg.tar.zst`, `.pkg.tar.xz`).
    ArchPackage,
    /// An RPM package.
    Rpm,
}

/// A kernel on disk (or the running one), as far as preflight can see it.
#[derive(Debug, Clone, Serialize)]
pub struct KernelImage {
    /// What was inspected, as the person named it (or `running kernel`).
    pub target: String,
    pub kind: TargetKind,
    /// The release the module directory is named after (`lib/modules/<release>`,
    /// NixOS's `modDirVersion`): what `uname -r` must say for modules to load.
    pub release: Option<String>,
    /// Further module directories found besides `release` (a tree should have one).
    pub other_releases: Vec<String>,
    /// Where the kernel image is (`boot/vmlinuz-<release>`, the generation's `kernel`).
    pub image_path: Option<String>,
    /// The release string inside the kernel image (the bzImage header's version
    /// string, first word): what `uname -r` will say once booted.
    pub image_release: Option<String>,
    /// The kernel's config, with `source` naming the file inside the target.
    pub config: Fact<KernelConfig>,
    /// The module tree of `release`: `builtin` from `modules.builtin`, `available`
    /// from `modules.dep` or, where a package ships none (Debian runs depmod at
    /// install), from the `.ko[.xz|.zst|.gz]` files seen; `files_present` for the
    /// profile's modules.
    pub module_tree: Fact<ModuleTree>,
    /// Module names packed in the target's initrd (a NixOS generation's `initrd`),
    /// when it has one and it could be read.
    pub initrd_modules: Option<Fact<BTreeSet<String>>>,
    /// The NixOS generation number, for a generation link.
    pub generation: Option<u32>,
    /// Things seen while reading that a person should know (an unexpected second
    /// module directory, a config found only in the headers, ...).
    pub notes: Vec<String>,
}
