//! "Will it boot this system?": what systemd and NixOS require of any kernel, the
//! modules the root file system needs in the initrd, and a release string that
//! matches the module directory.
//!
//! [`REQUIREMENTS`] is the one table of kernel options, each with who requires it,
//! how (set, `y` or `m`; or built in, `y`), what breaks without it and where that
//! is stated. [`host`] reads what this machine needs at boot (the only I/O here);
//! [`judge`] is pure.
//!
//! Sources of the table:
//! - systemd `README`, "REQUIREMENTS", "Kernel Config Options" (systemd/systemd,
//!   main): `CONFIG_DEVTMPFS`, `CONFIG_CGROUPS` ("it is OK to disable all
//!   controllers"), `CONFIG_INOTIFY_USER`, `CONFIG_SIGNALFD`, `CONFIG_TIMERFD`,
//!   `CONFIG_EPOLL`, `CONFIG_UNIX` ("it requires CONFIG_NET"), `CONFIG_SYSFS`,
//!   `CONFIG_PROC_FS`, `CONFIG_FHANDLE`; older READMEs list `CONFIG_NET` itself.
//! - nixpkgs `nixos/modules/system/boot/systemd.nix`: `system.requiredKernelConfig
//!   = map config.lib.kernelConfig.isEnabled [ "DEVTMPFS" "CGROUPS" "INOTIFY_USER"
//!   "SIGNALFD" "TIMERFD" "EPOLL" "NET" "SYSFS" "PROC_FS" "FHANDLE"
//!   "CRYPTO_USER_API_HASH" "CRYPTO_HMAC" "CRYPTO_SHA256" "DMIID" "AUTOFS_FS"
//!   "TMPFS_POSIX_ACL" "TMPFS_XATTR" "SECCOMP" ]` (`AUTOFS4_FS` in older nixpkgs).
//! - nixpkgs `nixos/modules/system/boot/stage-1.nix`: `isYes "TMPFS"`,
//!   `isYes "BLK_DEV_INITRD"`.
//! - nixpkgs `nixos/modules/system/boot/kernel.nix`: `isYes "BINFMT_ELF"` (and
//!   `isYes "MODULES"` in older nixpkgs); its assertions are checked for kernels
//!   without nixpkgs' `features` (a precompiled or manual-config kernel), with the
//!   messages `CONFIG_X is not enabled!` (isEnabled) and `CONFIG_X is not yes!`
//!   (isYes).
//! - nixpkgs `nixos/modules/services/hardware/udev.nix`: `isEnabled "UNIX"`,
//!   `isYes "INOTIFY_USER"`, `isYes "NET"`.
//! - nixpkgs `nixos/modules/system/boot/loader/systemd-boot/systemd-boot.nix`:
//!   `isYes "EFI_STUB"`.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{KernelImage, TargetKind};
use crate::facts::Fact;
use crate::profiles::Profile;
use crate::report::Status;
use crate::root::{NodeKind, Root};

/// How a requirement wants an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// `y` or `m` (NixOS's `isEnabled`).
    Set,
    /// `y` (NixOS's `isYes`).
    Builtin,
}

/// Who requires an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    Systemd,
    Nixos,
    /// NixOS booting with systemd-boot (its `isYes "EFI_STUB"` is inside
    /// systemd-boot's module, so only a host that boots with it needs the stub).
    SystemdBoot,
}

impl Need {
    /// Whether a config value (`y`, `m`, `""` for not set) meets this need.
    pub fn met(self, value: &str) -> bool {
        match self {
            Need::Set => value == "y" || value == "m",
            Need::Builtin => value == "y",
        }
    }
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Systemd => "systemd",
            Who::Nixos => "NixOS",
            Who::SystemdBoot => "systemd-boot",
        }
    }
}

/// One requirement of the table.
#[derive(Debug)]
pub struct Requirement {
    /// The option, without `CONFIG_`.
    pub option: &'static str,
    /// Older names of the same option, accepted in its place (`AUTOFS4_FS`).
    pub also: &'static [&'static str],
    pub need: Need,
    pub who: Who,
    /// What happens at boot without it.
    pub consequence: &'static str,
    /// Where the requirement is stated.
    pub source: &'static str,
}

const SYSTEMD_README: &str = "systemd README, REQUIREMENTS (Kernel Config Options)";
const NIX_SYSTEMD: &str =
    "nixpkgs nixos/modules/system/boot/systemd.nix (system.requiredKernelConfig, isEnabled)";
const NIX_STAGE1: &str =
    "nixpkgs nixos/modules/system/boot/stage-1.nix (system.requiredKernelConfig, isYes)";
const NIX_KERNEL: &str =
    "nixpkgs nixos/modules/system/boot/kernel.nix (system.requiredKernelConfig, isYes)";
const NIX_UDEV: &str =
    "nixpkgs nixos/modules/services/hardware/udev.nix (system.requiredKernelConfig)";
const NIX_SDBOOT: &str = "nixpkgs nixos/modules/system/boot/loader/systemd-boot/systemd-boot.nix (system.requiredKernelConfig, isYes)";

const fn req(
    option: &'static str,
    need: Need,
    who: Who,
    consequence: &'static str,
    source: &'static str,
) -> Requirement {
    Requirement {
        option,
        also: &[],
        need,
        who,
        consequence,
        source,
    }
}

// Consequences shared by the rows of systemd and NixOS for the same option.
const DEVTMPFS: &str = "/dev cannot be mounted as devtmpfs (a mount systemd treats as fatal, and NixOS's stage 1 makes first): the boot stops before the root file system";
const CGROUPS: &str =
    "systemd (PID 1) cannot mount the cgroup hierarchy it tracks services in and does not start";
const INOTIFY: &str = "udev, journald and systemd's path units watch files with inotify: udev does not start and devices are not set up";
const SIGNALFD: &str =
    "systemd's event loop takes signals through signalfd: PID 1 and its daemons do not start";
const TIMERFD: &str =
    "systemd's event loop arms its timers through timerfd: PID 1 and its daemons do not start";
const EPOLL: &str = "systemd's event loop is built on epoll: PID 1 and its daemons do not start";
const UNIX: &str =
    "no Unix sockets: journald, udevd, D-Bus and systemctl cannot reach each other or systemd";
const NET: &str = "no networking core, so no Unix sockets (CONFIG_UNIX needs CONFIG_NET): systemd's daemons cannot talk";
const SYSFS: &str = "no /sys: udev finds no devices";
const PROC_FS: &str = "no /proc: systemd and nearly every tool fail";
const FHANDLE: &str = "systemd and libudev follow mounts through file handles (name_to_handle_at): mount and bind-mount handling fails";
const AF_ALG: &str = "systemd's users of the kernel's crypto sockets (AF_ALG HMAC-SHA256) fail";

/// What systemd and NixOS require of a kernel, one row per requirement (an option
/// two parties require has two rows).
pub static REQUIREMENTS: &[Requirement] = &[
    req(
        "DEVTMPFS",
        Need::Set,
        Who::Systemd,
        DEVTMPFS,
        SYSTEMD_README,
    ),
    req("CGROUPS", Need::Set, Who::Systemd, CGROUPS, SYSTEMD_README),
    req(
        "INOTIFY_USER",
        Need::Set,
        Who::Systemd,
        INOTIFY,
        SYSTEMD_README,
    ),
    req(
        "SIGNALFD",
        Need::Set,
        Who::Systemd,
        SIGNALFD,
        SYSTEMD_README,
    ),
    req("TIMERFD", Need::Set, Who::Systemd, TIMERFD, SYSTEMD_README),
    req("EPOLL", Need::Set, Who::Systemd, EPOLL, SYSTEMD_README),
    req("UNIX", Need::Set, Who::Systemd, UNIX, SYSTEMD_README),
    req("NET", Need::Set, Who::Systemd, NET, SYSTEMD_README),
    req("SYSFS", Need::Set, Who::Systemd, SYSFS, SYSTEMD_README),
    req("PROC_FS", Need::Set, Who::Systemd, PROC_FS, SYSTEMD_README),
    req("FHANDLE", Need::Set, Who::Systemd, FHANDLE, SYSTEMD_README),
    req("DEVTMPFS", Need::Set, Who::Nixos, DEVTMPFS, NIX_SYSTEMD),
    req("CGROUPS", Need::Set, Who::Nixos, CGROUPS, NIX_SYSTEMD),
    req("INOTIFY_USER", Need::Set, Who::Nixos, INOTIFY, NIX_SYSTEMD),
    req("SIGNALFD", Need::Set, Who::Nixos, SIGNALFD, NIX_SYSTEMD),
    req("TIMERFD", Need::Set, Who::Nixos, TIMERFD, NIX_SYSTEMD),
    req("EPOLL", Need::Set, Who::Nixos, EPOLL, NIX_SYSTEMD),
    req("NET", Need::Set, Who::Nixos, NET, NIX_SYSTEMD),
    req("SYSFS", Need::Set, Who::Nixos, SYSFS, NIX_SYSTEMD),
    req("PROC_FS", Need::Set, Who::Nixos, PROC_FS, NIX_SYSTEMD),
    req("FHANDLE", Need::Set, Who::Nixos, FHANDLE, NIX_SYSTEMD),
    req(
        "CRYPTO_USER_API_HASH",
        Need::Set,
        Who::Nixos,
        AF_ALG,
        NIX_SYSTEMD,
    ),
    req("CRYPTO_HMAC", Need::Set, Who::Nixos, AF_ALG, NIX_SYSTEMD),
    req("CRYPTO_SHA256", Need::Set, Who::Nixos, AF_ALG, NIX_SYSTEMD),
    req(
        "DMIID",
        Need::Set,
        Who::Nixos,
        "no /sys/class/dmi/id: udev rules and virtualization detection that read it fail (systemd README), and so does identifying this machine",
        NIX_SYSTEMD,
    ),
    Requirement {
        also: &["AUTOFS4_FS"],
        ..req(
            "AUTOFS_FS",
            Need::Set,
            Who::Nixos,
            "systemd's automount units (x-systemd.automount) cannot be set up",
            NIX_SYSTEMD,
        )
    },
    req(
        "TMPFS_POSIX_ACL",
        Need::Set,
        Who::Nixos,
        "no ACLs on tmpfs and devtmpfs: logind cannot give the logged-in user access to devices (uaccess)",
        NIX_SYSTEMD,
    ),
    req(
        "TMPFS_XATTR",
        Need::Set,
        Who::Nixos,
        "no extended attributes on tmpfs (/run, /dev): what systemd and journald keep in them fails",
        NIX_SYSTEMD,
    ),
    req(
        "SECCOMP",
        Need::Set,
        Who::Nixos,
        "no seccomp: services lose their system-call filters (SystemCallFilter=)",
        NIX_SYSTEMD,
    ),
    req(
        "TMPFS",
        Need::Builtin,
        Who::Nixos,
        "NixOS's stage 1 runs from tmpfs and mounts /run as tmpfs before any module can load: the boot stops in the initrd",
        NIX_STAGE1,
    ),
    req(
        "BLK_DEV_INITRD",
        Need::Builtin,
        Who::Nixos,
        "the kernel cannot unpack the initrd: NixOS's stage 1 never runs and the root file system is never mounted",
        NIX_STAGE1,
    ),
    req(
        "BINFMT_ELF",
        Need::Builtin,
        Who::Nixos,
        "the kernel cannot run ELF programs, init among them: it panics with no working init",
        NIX_KERNEL,
    ),
    req("UNIX", Need::Set, Who::Nixos, UNIX, NIX_UDEV),
    req(
        "INOTIFY_USER",
        Need::Builtin,
        Who::Nixos,
        "udev starts before modules load and watches its rules and devices with inotify",
        NIX_UDEV,
    ),
    req(
        "NET",
        Need::Builtin,
        Who::Nixos,
        "udev and systemd talk over sockets from the first moment, before modules load",
        NIX_UDEV,
    ),
    req(
        "EFI_STUB",
        Need::Builtin,
        Who::SystemdBoot,
        "systemd-boot (NixOS's UEFI boot loader) starts the kernel as an EFI program: without the EFI stub it cannot start it",
        NIX_SDBOOT,
    ),
];

/// The assertion message NixOS gives for an unmet requirement.
pub fn nixos_message(option: &str, need: Need) -> String {
    match need {
        Need::Set => format!("CONFIG_{option} is not enabled!"),
        Need::Builtin => format!("CONFIG_{option} is not yes!"),
    }
}

/// What this machine needs at boot, read from the host.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostBoot {
    /// The host is NixOS (`etc/NIXOS`, or `ID=nixos`): NixOS's requirements apply.
    pub nixos: bool,
    /// The modules the initrd the running kernel booted with holds.
    pub initrd_modules: Option<Fact<BTreeSet<String>>>,
    /// The root file system's type (`proc/self/mountinfo`).
    pub root_fs: Option<String>,
    /// The block device under the root file system (`nvme0n1p2`, `dm-0`).
    pub root_device: Option<String>,
    pub root_on_nvme: bool,
    pub root_on_dm_crypt: bool,
    /// The host boots with systemd-boot (its loader files on the ESP): the EFI
    /// stub is needed.
    pub systemd_boot: bool,
    /// How the above was read.
    pub evidence: Vec<String>,
}

/// Reads what this machine needs at boot: whether it is NixOS, its root file
/// system's type and the block devices under it (NVMe, dm-crypt), through `root`.
/// `running_initrd` is the running kernel's initrd modules (`source::running`).
pub fn host(root: &Root, running_initrd: Option<Fact<BTreeSet<String>>>) -> HostBoot {
    let mut h = HostBoot {
        nixos: crate::facts::kernel::os(root).is_nixos,
        initrd_modules: running_initrd,
        ..HostBoot::default()
    };
    // systemd-boot's files on the ESP, where NixOS mounts it (/boot, or /efi).
    if let Some(p) = [
        "boot/loader/loader.conf",
        "boot/EFI/systemd/systemd-bootx64.efi",
        "efi/loader/loader.conf",
        "efi/EFI/systemd/systemd-bootx64.efi",
    ]
    .iter()
    .find(|p| root.exists(p))
    {
        h.systemd_boot = true;
        h.evidence
            .push(format!("/{p}: the host boots with systemd-boot"));
    }
    let Some((majmin, fstype, source)) = root_mount(root, &mut h.evidence) else {
        return h;
    };
    h.root_fs = Some(fstype.clone());
    // The block device: the mount's own device number, else (btrfs and others
    // report an anonymous one) the device node named as its source.
    let mut dev = majmin.filter(|(maj, _)| *maj != 0);
    if dev.is_none()
        && let Some(src) = source.strip_prefix("/dev/")
        && let Ok(NodeKind::BlockDevice { major, minor }) = root.stat(&format!("dev/{src}"))
    {
        dev = Some((major, minor));
    }
    let Some((maj, min)) = dev else {
        h.evidence
            .push(format!("/: {fstype} on {source}, not a block device"));
        return h;
    };
    match root.canonical(&format!("sys/dev/block/{maj}:{min}")) {
        Ok(path) => {
            h.root_device = path.rsplit('/').next().map(str::to_string);
            walk_block(root, &path, 0, &mut h);
        }
        Err(e) => h.evidence.push(format!("/sys/dev/block/{maj}:{min}: {e}")),
    }
    h
}

/// The root mount from `proc/self/mountinfo`: (device number, type, source).
type RootMount = (Option<(u32, u32)>, String, String);

fn root_mount(root: &Root, ev: &mut Vec<String>) -> Option<RootMount> {
    let text = match root.read_text("proc/self/mountinfo") {
        Ok(t) => t,
        Err(e) => {
            ev.push(format!("/proc/self/mountinfo: {e}"));
            return None;
        }
    };
    // `36 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw`: the last
    // mount on `/` is the one seen.
    let mut found = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < dash + 3 || f.get(4) != Some(&"/") {
            continue;
        }
        let majmin = f.get(2).and_then(|m| {
            let (a, b) = m.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        });
        found = Some((majmin, f[dash + 1].to_string(), f[dash + 2].to_string()));
    }
    match &found {
        Some((_, t, s)) => ev.push(format!("/proc/self/mountinfo: / is {t} on {s}")),
        None => ev.push("/proc/self/mountinfo: no mount on /".into()),
    }
    found
}

/// Follows a block device down its stack (`dm/uuid`, `slaves`): NVMe underneath,
/// dm-crypt on the way.
fn walk_block(root: &Root, path: &str, depth: usize, h: &mut HostBoot) {
    if depth > 8 {
        return;
    }
    let name = path.rsplit('/').next().unwrap_or_default();
    if path.contains("/nvme") && !h.root_on_nvme {
        h.root_on_nvme = true;
        h.evidence.push(format!("{path}: on NVMe"));
    }
    if name.starts_with("dm-")
        && let Ok(uuid) = root.read_text(&format!("{path}/dm/uuid"))
        && uuid.starts_with("CRYPT-")
    {
        h.root_on_dm_crypt = true;
        h.evidence.push(format!(
            "{path}/dm/uuid: {} (dm-crypt)",
            uuid.split('-').take(2).collect::<Vec<_>>().join("-")
        ));
    }
    if let Ok(mut slaves) = root.list_dir(&format!("{path}/slaves")) {
        slaves.sort();
        for s in slaves.iter().take(16) {
            if let Ok(p) = root.canonical(&format!("{path}/slaves/{s}")) {
                walk_block(root, &p, depth + 1, h);
            }
        }
    }
}

/// One option of the table, judged in a kernel's config.
#[derive(Debug, Clone, Serialize)]
pub struct OptionCheck {
    pub option: String,
    /// The strictest need of the parties it applies to.
    pub need: Need,
    pub required_by: Vec<Who>,
    /// The option's value: `y`, `m`, `""` (not set); `null` when the config
    /// cannot be read.
    pub value: Option<String>,
    pub status: Status,
    /// What goes wrong (set when the requirement is not met).
    pub consequence: Option<String>,
    pub sources: Vec<String>,
}

/// One module the boot needs, judged in a kernel.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleCheck {
    pub module: String,
    /// Why the boot needs it (`the root file system is ext4`).
    pub needed_for: String,
    pub status: Status,
    /// Where it was found, or why it counts as missing.
    pub evidence: String,
    pub consequence: Option<String>,
}

/// Whether a kernel will boot this system.
#[derive(Debug, Clone, Serialize)]
pub struct BootVerdict {
    /// `ok`: it will boot; `failed`: it will not; `unknown`: cannot tell.
    pub status: Status,
    pub summary: String,
    /// Who the requirements are those of (systemd always; NixOS on NixOS).
    pub requirements_of: Vec<Who>,
    pub options: Vec<OptionCheck>,
    pub modules: Vec<ModuleCheck>,
    /// The release `uname -r` will say against the module directory's.
    pub release: ModuleCheck,
    /// What this machine's boot needs, as read.
    pub host: HostBoot,
    pub notices: Vec<String>,
}

/// The module of a root file system type: `None` for types that need none or that
/// no kernel tree provides.
fn fs_module(fstype: &str) -> Option<String> {
    match fstype {
        "tmpfs" | "ramfs" | "rootfs" | "proc" | "sysfs" | "devtmpfs" => None,
        // Out of tree: the kernel package never has it.
        "zfs" => None,
        "fuseblk" => Some("fuse".into()),
        t if t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Some(crate::facts::parse::normalize_module(t))
        }
        _ => None,
    }
}

/// Modules that a root file system may need, for when the host's mounts cannot be
/// read but its initrd can: those of them the initrd holds are taken as needed.
const ROOT_MODULES: &[&str] = &[
    "nvme", "ext4", "btrfs", "xfs", "f2fs", "bcachefs", "dm_crypt", "dm_mod", "vfat",
];

/// Whether the target's config shows a kernel without loadable modules.
pub fn modules_off(target: &KernelImage) -> bool {
    matches!(&target.config, Fact::Ok(c) if !c.options.contains_key("MODULES"))
}

/// Where a kernel has module `m`: built in, in its own initrd, in its module tree.
fn find_module(target: &KernelImage, m: &str) -> Result<String, Option<String>> {
    let tree = target.module_tree.ok();
    if let Some(t) = tree
        && let Fact::Ok(b) = &t.builtin
        && b.contains(m)
    {
        return Ok(format!("{}/modules.builtin: {m}", t.dir));
    }
    let builtin_read = tree.is_some_and(|t| matches!(t.builtin, Fact::Ok(_)));
    if let Some(Fact::Ok(i)) = &target.initrd_modules {
        return if i.contains(m) {
            Ok(format!("{m} is in the kernel's initrd"))
        } else if !builtin_read {
            // It may be built in: without modules.builtin that cannot be told.
            Err(None)
        } else {
            // A generation boots from its own initrd: a module only in its tree
            // comes too late for the root file system.
            Err(Some(format!(
                "{m} is neither built in nor in the initrd it boots with"
            )))
        };
    }
    match tree.map(|t| (t, &t.available)) {
        Some((t, Fact::Ok(a))) => match a.get(m) {
            Some(p) => Ok(format!("{}/{p}", t.dir)),
            None if matches!(t.builtin, Fact::Ok(_)) => Err(Some(format!(
                "{m} is neither in {0}/modules.builtin nor in the module tree",
                t.dir
            ))),
            // It may be built in: without modules.builtin that cannot be told.
            None => Err(None),
        },
        _ => Err(None),
    }
}

/// Judges whether `target` will boot this system (`host`): the table's options in
/// its config, the modules the root file system needs, its release against its
/// module directory. A config that cannot be read makes the options unknown, not
/// failed.
pub fn judge(target: &KernelImage, host: &HostBoot, profile: &Profile) -> BootVerdict {
    let mut whos = vec![Who::Systemd];
    if host.nixos || target.kind == TargetKind::NixGeneration {
        whos.push(Who::Nixos);
        if host.systemd_boot {
            whos.push(Who::SystemdBoot);
        }
    }
    let options = judge_options(target, &whos);
    let mut notices = Vec::new();
    let modules = judge_modules(target, host, profile, &mut notices);
    let release = judge_release(target, &mut notices);

    // (long form with the consequence, short form) of each unmet requirement.
    let failed: Vec<(String, String)> = options
        .iter()
        .filter(|o| o.status == Status::Failed)
        .map(|o| {
            let (what, short) = match o.value.as_deref() {
                Some("m") => (
                    format!(
                        "CONFIG_{}=m, but {} needs it built in",
                        o.option,
                        who_list(&o.required_by)
                    ),
                    format!("CONFIG_{}=m (needs =y)", o.option),
                ),
                _ => (
                    format!("CONFIG_{} is not set", o.option),
                    format!("CONFIG_{} not set", o.option),
                ),
            };
            (
                format!("{what} ({})", o.consequence.clone().unwrap_or_default()),
                short,
            )
        })
        .chain(
            modules
                .iter()
                .chain(std::iter::once(&release))
                .filter(|m| m.status == Status::Failed)
                .map(|m| {
                    (
                        format!(
                            "{} ({})",
                            m.evidence,
                            m.consequence.clone().unwrap_or_default()
                        ),
                        if m.module == "(release)" {
                            "the release does not match the module directory".to_string()
                        } else {
                            format!("{} missing", m.module)
                        },
                    )
                }),
        )
        .collect();
    let unknown: Vec<String> = {
        let mut u = Vec::new();
        if options.iter().any(|o| o.status == Status::Unknown) {
            u.push(format!(
                "the kernel's config cannot be read ({})",
                crate::checks::ctx::why(&target.config)
            ));
        }
        u.extend(
            modules
                .iter()
                .chain(std::iter::once(&release))
                .filter(|m| m.status == Status::Unknown)
                .map(|m| m.evidence.clone()),
        );
        u
    };
    let (status, summary) = if let Some((first, _)) = failed.first() {
        let more = if failed.len() > 1 {
            format!(
                "; also: {}",
                failed[1..]
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        (
            Status::Failed,
            format!("will not boot this system: {first}{more}"),
        )
    } else if !unknown.is_empty() {
        (
            Status::Unknown,
            format!(
                "cannot tell whether it boots this system: {}",
                unknown.join("; ")
            ),
        )
    } else {
        (
            Status::Ok,
            format!(
                "will boot this system: the options {} requires are set{}",
                who_list(&whos),
                if modules.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", and it has the modules checked for the root file system ({})",
                        modules
                            .iter()
                            .map(|m| m.module.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        )
    };
    BootVerdict {
        status,
        summary,
        requirements_of: whos,
        options,
        modules,
        release,
        host: host.clone(),
        notices,
    }
}

fn who_list(w: &[Who]) -> String {
    w.iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn judge_options(target: &KernelImage, whos: &[Who]) -> Vec<OptionCheck> {
    let mut order: Vec<&'static str> = Vec::new();
    for r in REQUIREMENTS.iter().filter(|r| whos.contains(&r.who)) {
        if !order.contains(&r.option) {
            order.push(r.option);
        }
    }
    let cfg = target.config.ok();
    order
        .into_iter()
        .map(|opt| {
            let rows: Vec<&Requirement> = REQUIREMENTS
                .iter()
                .filter(|r| r.option == opt && whos.contains(&r.who))
                .collect();
            let need = rows.iter().map(|r| r.need).max().unwrap_or(Need::Set);
            let mut required_by: Vec<Who> = rows.iter().map(|r| r.who).collect();
            required_by.dedup();
            let value = cfg.map(|c| {
                std::iter::once(opt)
                    .chain(rows.iter().flat_map(|r| r.also.iter().copied()))
                    .find_map(|o| c.options.get(o).cloned())
                    .unwrap_or_default()
            });
            let (status, consequence) = match value.as_deref() {
                None => (Status::Unknown, None),
                Some(v) => {
                    let unmet: Vec<&&Requirement> =
                        rows.iter().filter(|r| !r.need.met(v)).collect();
                    match unmet.first() {
                        None => (Status::Ok, None),
                        Some(first) => {
                            let mut c = first.consequence.to_string();
                            if let Some(r) = unmet.iter().find(|r| r.who == Who::Nixos) {
                                c.push_str(&format!(
                                    "; NixOS refuses the kernel: `{}`",
                                    nixos_message(opt, r.need)
                                ));
                            }
                            (Status::Failed, Some(c))
                        }
                    }
                }
            };
            OptionCheck {
                option: opt.to_string(),
                need,
                required_by,
                value,
                status,
                consequence,
                sources: rows.iter().map(|r| r.source.to_string()).collect(),
            }
        })
        .collect()
}

/// The modules the root file system needs at boot, each with why and what goes
/// wrong without it.
fn needed_modules(host: &HostBoot, profile: &Profile) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut add = |m: &str, why: String, without: String| {
        if !out.iter().any(|(x, _, _)| x == m) {
            out.push((m.to_string(), why, without));
        }
    };
    let keyboard = |add: &mut dyn FnMut(&str, String, String)| {
        for k in profile.input.boot_keyboard_modules {
            add(
                k,
                "the LUKS passphrase prompt needs the base keyboard (USB HID behind the xHCI)"
                    .into(),
                "no keyboard at the LUKS passphrase prompt: the root cannot be unlocked".into(),
            );
        }
    };
    if host.root_fs.is_some() || host.root_on_nvme || host.root_on_dm_crypt {
        if let Some(fs) = &host.root_fs
            && let Some(m) = fs_module(fs)
        {
            add(
                &m,
                format!("the root file system is {fs}"),
                format!(
                    "the root file system ({fs}) cannot be mounted: the boot stops in the initrd"
                ),
            );
        }
        if host.root_on_nvme {
            add(
                "nvme",
                "the root file system is on NVMe".into(),
                "the NVMe disk under the root file system is not seen: the boot stops in the initrd".into(),
            );
        }
        if host.root_on_dm_crypt {
            add(
                "dm_crypt",
                "the root file system is on dm-crypt (LUKS)".into(),
                "the encrypted root cannot be opened: the boot stops in the initrd".into(),
            );
            keyboard(&mut add);
        }
        return out;
    }
    // The mounts cannot be read: the root-related modules of the current initrd.
    if let Some(Fact::Ok(i)) = &host.initrd_modules {
        for m in ROOT_MODULES.iter().filter(|m| i.contains(**m)) {
            add(
                m,
                "the current initrd loads it (the root file system's type cannot be read)".into(),
                format!(
                    "whatever the current initrd needs {m} for at boot (the root file system, most likely) is missing: the boot may stop in the initrd"
                ),
            );
        }
        if i.contains("dm_crypt") {
            keyboard(&mut add);
        }
    }
    out
}

fn judge_modules(
    target: &KernelImage,
    host: &HostBoot,
    profile: &Profile,
    notices: &mut Vec<String>,
) -> Vec<ModuleCheck> {
    let needed = needed_modules(host, profile);
    let mut checks: Vec<ModuleCheck> = needed
        .iter()
        .map(|(m, why, without)| match find_module(target, m) {
            Ok(ev) => ModuleCheck {
                module: m.clone(),
                needed_for: why.clone(),
                status: Status::Ok,
                evidence: ev,
                consequence: None,
            },
            Err(Some(ev)) => ModuleCheck {
                module: m.clone(),
                needed_for: why.clone(),
                status: Status::Failed,
                evidence: ev,
                consequence: Some(without.clone()),
            },
            Err(None) => ModuleCheck {
                module: m.clone(),
                needed_for: why.clone(),
                status: Status::Unknown,
                evidence: format!(
                    "whether it has {m} cannot be told: {}",
                    crate::checks::ctx::why(&target.module_tree)
                ),
                consequence: None,
            },
        })
        .collect();
    match &host.initrd_modules {
        Some(Fact::Ok(i)) => {
            let missing: Vec<&str> = i
                .iter()
                .filter(|m| !checks.iter().any(|c| &c.module == *m))
                .filter(|m| matches!(find_module_in_tree(target, m), Some(false)))
                .map(|m| m.as_str())
                .collect();
            if !missing.is_empty() {
                notices.push(format!(
                    "the current initrd holds {} module(s) this kernel does not have (neither built in nor in its module tree): {}",
                    missing.len(),
                    missing.join(", ")
                ));
            }
        }
        Some(f @ Fact::Absent { .. }) => notices.push(format!(
            "the running kernel's initrd was not found ({}): the modules it loads are not compared",
            crate::checks::ctx::why(f)
        )),
        Some(f) => notices.push(format!(
            "the running kernel's initrd cannot be read ({}): the modules it loads are not compared",
            crate::checks::ctx::why(f)
        )),
        None => {}
    }
    if needed.is_empty() {
        notices.push(
            "which modules the root file system needs cannot be told: neither the mounts nor the current initrd could be read".into(),
        );
    }
    checks.sort_by_key(|c| c.status != Status::Failed);
    checks
}

/// Whether the kernel has module `m` built in or in its tree; `None` when that
/// cannot be read.
fn find_module_in_tree(target: &KernelImage, m: &str) -> Option<bool> {
    let t = target.module_tree.ok()?;
    let builtin = t.builtin.ok().map(|b| b.contains(m));
    let avail = t.available.ok().map(|a| a.contains_key(m));
    match (builtin, avail) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn judge_release(target: &KernelImage, notices: &mut Vec<String>) -> ModuleCheck {
    for o in &target.other_releases {
        notices.push(format!(
            "a second module directory lib/modules/{o} is in the target; the kernel loads only lib/modules/<uname -r>"
        ));
    }
    let mk = |status, evidence: String, consequence: Option<String>| ModuleCheck {
        module: "(release)".into(),
        needed_for: "modules load from lib/modules/<uname -r>".into(),
        status,
        evidence,
        consequence,
    };
    match (&target.image_release, &target.release) {
        (Some(img), Some(dir)) if img == dir => mk(
            Status::Ok,
            format!("the image says {img}, the module directory is {dir}"),
            None,
        ),
        (Some(img), Some(dir)) => mk(
            Status::Failed,
            format!("the image says {img} but the module directory is lib/modules/{dir}"),
            Some(format!(
                "`uname -r` will say {img}: modprobe looks in lib/modules/{img}, so no module will load"
            )),
        ),
        (None, Some(dir)) => {
            notices.push(format!(
                "the release inside the kernel image could not be read{}: that it matches lib/modules/{dir} is not checked",
                target
                    .image_path
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_else(|| " (no image found)".into())
            ));
            mk(
                Status::Ok,
                format!("module directory lib/modules/{dir} (the image's own release unread)"),
                None,
            )
        }
        // A kernel built without loadable modules has no module directory to miss.
        (Some(img), None) if modules_off(target) => mk(
            Status::Ok,
            format!(
                "the image says {img}; it is built without loadable modules (CONFIG_MODULES not set)"
            ),
            None,
        ),
        (Some(img), None) => mk(
            Status::Failed,
            format!("the image says {img} but there is no module directory"),
            Some("no module can load: every driver built as a module is missing".into()),
        ),
        (None, None) => mk(
            Status::Unknown,
            "neither the image's release nor a module directory could be read".into(),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Fact;
    use crate::preflight::predict::tests::healthy;
    use crate::profiles::SURFACE_BOOK_2;

    fn set(img: &mut KernelImage, opt: &str, v: Option<&str>) {
        if let Fact::Ok(c) = &mut img.config {
            match v {
                Some(v) => c.options.insert(opt.into(), v.into()),
                None => c.options.remove(opt),
            };
        }
    }

    fn nixos() -> HostBoot {
        HostBoot {
            nixos: true,
            ..HostBoot::default()
        }
    }

    #[test]
    fn the_table_cites_a_source_and_a_consequence_for_every_row() {
        for r in REQUIREMENTS {
            assert!(
                !r.consequence.is_empty() && !r.source.is_empty(),
                "{}",
                r.option
            );
        }
        // The options the issue lists, all in the table.
        for o in [
            "DEVTMPFS",
            "CGROUPS",
            "INOTIFY_USER",
            "SIGNALFD",
            "TIMERFD",
            "EPOLL",
            "NET",
            "SYSFS",
            "PROC_FS",
            "FHANDLE",
            "CRYPTO_USER_API_HASH",
            "CRYPTO_HMAC",
            "CRYPTO_SHA256",
            "DMIID",
            "AUTOFS_FS",
            "TMPFS_POSIX_ACL",
            "TMPFS_XATTR",
            "SECCOMP",
        ] {
            assert!(
                REQUIREMENTS
                    .iter()
                    .any(|r| r.option == o && r.who == Who::Nixos),
                "{o}"
            );
        }
        for o in [
            "TMPFS",
            "BLK_DEV_INITRD",
            "EFI_STUB",
            "BINFMT_ELF",
            "INOTIFY_USER",
            "NET",
        ] {
            assert!(
                REQUIREMENTS
                    .iter()
                    .any(|r| r.option == o && r.need == Need::Builtin),
                "{o} built in"
            );
        }
    }

    #[test]
    fn devtmpfs_missing_does_not_boot_naming_it_and_nixos_refusing() {
        let mut img = healthy();
        set(&mut img, "DEVTMPFS", None);
        let b = judge(&img, &nixos(), &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed);
        assert!(b.summary.starts_with("will not boot this system: CONFIG_DEVTMPFS is not set (/dev cannot be mounted as devtmpfs"), "{}", b.summary);
        assert!(
            b.summary.contains("`CONFIG_DEVTMPFS is not enabled!`"),
            "{}",
            b.summary
        );
        let o = b.options.iter().find(|o| o.option == "DEVTMPFS").unwrap();
        assert_eq!(o.required_by, vec![Who::Systemd, Who::Nixos]);
        assert_eq!(o.value.as_deref(), Some(""));
        // A systemd system that is not NixOS needs it too.
        assert_eq!(
            judge(&img, &HostBoot::default(), &SURFACE_BOOK_2).status,
            Status::Failed
        );
    }

    #[test]
    fn built_in_requirements_apply_on_nixos_only() {
        let mut img = healthy();
        set(&mut img, "TMPFS", Some("m"));
        set(&mut img, "CRYPTO_USER_API_HASH", None);
        let b = judge(&img, &nixos(), &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed);
        let t = b.options.iter().find(|o| o.option == "TMPFS").unwrap();
        assert_eq!((t.need, t.status), (Need::Builtin, Status::Failed));
        assert!(
            t.consequence
                .as_deref()
                .unwrap()
                .contains("`CONFIG_TMPFS is not yes!`")
        );
        assert!(
            b.summary.contains("also: CONFIG_TMPFS=m (needs =y)"),
            "{}",
            b.summary
        );
        let plain = judge(&img, &HostBoot::default(), &SURFACE_BOOK_2);
        assert_eq!(plain.status, Status::Ok, "{}", plain.summary);
        assert!(
            plain
                .options
                .iter()
                .all(|o| o.option != "CRYPTO_USER_API_HASH")
        );
    }

    #[test]
    fn an_older_option_name_counts() {
        let mut img = healthy();
        set(&mut img, "AUTOFS_FS", None);
        set(&mut img, "AUTOFS4_FS", Some("m"));
        assert_eq!(judge(&img, &nixos(), &SURFACE_BOOK_2).status, Status::Ok);
    }

    #[test]
    fn the_root_file_system_needs_its_modules() {
        let host = HostBoot {
            root_fs: Some("btrfs".into()),
            root_on_nvme: true,
            root_on_dm_crypt: true,
            ..HostBoot::default()
        };
        let mut img = healthy();
        let b = judge(&img, &host, &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed);
        let failed: Vec<&str> = b
            .modules
            .iter()
            .filter(|m| m.status == Status::Failed)
            .map(|m| m.module.as_str())
            .collect();
        assert_eq!(
            failed,
            vec![
                "btrfs",
                "nvme",
                "dm_crypt",
                "xhci_pci",
                "xhci_hcd",
                "usbhid",
                "hid_generic"
            ]
        );
        let kb = b.modules.iter().find(|m| m.module == "usbhid").unwrap();
        assert!(
            kb.consequence
                .as_deref()
                .unwrap()
                .contains("LUKS passphrase prompt")
        );
        if let Fact::Ok(t) = &mut img.module_tree {
            if let Fact::Ok(a) = &mut t.available {
                for m in [
                    "btrfs", "nvme", "dm_crypt", "xhci_pci", "xhci_hcd", "usbhid",
                ] {
                    a.insert(m.into(), format!("kernel/{m}.ko"));
                }
            }
            if let Fact::Ok(bi) = &mut t.builtin {
                bi.insert("hid_generic".into());
            }
        }
        let b = judge(&img, &host, &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Ok, "{}", b.summary);
        // A generation boots from its own initrd: in the tree is not enough.
        img.initrd_modules = Some(Fact::Ok(
            ["btrfs", "nvme", "xhci_pci", "xhci_hcd", "usbhid"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ));
        let b = judge(&img, &host, &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed);
        assert!(
            b.summary
                .contains("dm_crypt is neither built in nor in the initrd it boots with"),
            "{}",
            b.summary
        );
    }

    #[test]
    fn without_mounts_the_current_initrds_root_modules_count() {
        let host = HostBoot {
            initrd_modules: Some(Fact::Ok(
                ["nvme", "ext4", "hid_apple"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )),
            ..HostBoot::default()
        };
        let b = judge(&healthy(), &host, &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed, "{}", b.summary);
        let m: Vec<&str> = b.modules.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(m, vec!["nvme", "ext4"]);
        assert_eq!(b.modules[1].status, Status::Ok);
        assert!(
            b.notices.iter().any(|n| n.contains("hid_apple")),
            "{:?}",
            b.notices
        );
    }

    #[test]
    fn a_release_that_is_not_the_module_directorys_does_not_boot() {
        let mut img = healthy();
        img.image_release = Some("6.19.8".into());
        let b = judge(&img, &HostBoot::default(), &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Failed);
        assert!(
            b.summary.contains(
                "the image says 6.19.8 but the module directory is lib/modules/6.19.8-surface-1"
            ),
            "{}",
            b.summary
        );
        assert!(b.summary.contains("no module will load"));
    }

    #[test]
    fn an_unreadable_config_is_unknown_not_failed() {
        let mut img = healthy();
        img.config = Fact::Absent {
            path: "boot/config-x".into(),
        };
        let b = judge(&img, &nixos(), &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Unknown, "{}", b.summary);
        assert!(
            b.options
                .iter()
                .all(|o| o.status == Status::Unknown && o.value.is_none())
        );
    }
}
