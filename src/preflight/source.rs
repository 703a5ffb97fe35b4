//! Reading a target into a [`KernelImage`]: the running kernel, a NixOS
//! generation, a kernel store path or unpacked tree, or a package file (`.deb`,
//! `.pkg.tar.zst`/`.pkg.tar.xz`, `.rpm`) read once as a stream.
//!
//! Every path resolves inside the [`Root`] (as under chroot). Nothing is written:
//! packages are never unpacked, no temporary file is made. What is decompressed,
//! how many entries an archive may have and how large a kept file may be are
//! bounded by [`Caps`]; a target that breaks a bound, is corrupt, names a `..`
//! path, or links out of its tree is an [`InspectError`], never a partial answer.
//!
//! What is kept of a target (the rest is read past):
//!
//! - the config: `boot/config-<release>`, `lib/modules/<release>/config` (Fedora),
//!   `.config` (a tree), `lib/modules/<release>/build/.config` (headers), else the
//!   config the kernel image embeds (`CONFIG_IKCONFIG=y`, see `archive::read_image`);
//! - the module directory `lib/modules/<release>` (or `usr/lib/modules/...`):
//!   `modules.builtin`, `modules.dep` and `modules.alias` where shipped, and the
//!   `.ko[.xz|.zst|.gz]` files seen (Debian and Arch packages ship no
//!   `modules.dep`: depmod writes it when the kernel is installed);
//! - the kernel image's header (`boot/vmlinuz-<release>`,
//!   `usr/lib/modules/<release>/vmlinuz`, a generation's `kernel`): the release
//!   the kernel will report.
//!
//! Symlinks: every path resolves inside the root, as [`Root`] does (an absolute
//! link or a `..` never leaves it). In a tree, the files a verdict rests on (config,
//! image, module directory and indexes) must moreover resolve inside the tree itself
//! or the Nix store, where store paths link each other: a link elsewhere (a
//! `lib/modules/<release>` pointing at `/etc`) is [`InspectError::Unsafe`], because
//! a tree's verdict must rest on the tree's own files, not on whatever the host has
//! at the link's target. A generation's `kernel`, `kernel-modules` and `initrd` must
//! resolve into the store. Inside packages, symlink entries are never followed.
//!
//! NixOS: a generation's `kernel` links to `<kernel>/bzImage`, `kernel-modules` to
//! the aggregated module tree, `initrd` to the initrd. nixpkgs does not put the
//! kernel's config in the kernel's output: `pkgs/os-specific/linux/kernel/
//! manual-config.nix` (`postInstall`) copies `.config` only to the `dev` output
//! (`$dev/lib/modules/<modDirVersion>/build/.config`), which a generation does not
//! reference, and the `configfile` derivation is reachable only from Nix. But
//! `common-config.nix` builds every nixpkgs kernel with `proc-config-gz = {
//! IKCONFIG = yes; IKCONFIG_PROC = yes; }`, so the config is read from the image
//! itself; an old layout's `lib/modules/<release>/build/.config` is tried first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::archive::{
    self, AR_MAGIC, Budget, Compression, Counted, Entry, Fail, ImageConfig, ImageInfo, Kind,
    RPM_MAGIC, Range,
};
use super::{KernelImage, TargetKind};
use crate::facts::{self, Fact, KernelConfig, ModAlias, ModuleTree, parse};
use crate::profiles::Profile;
use crate::root::{NodeKind, ReadError, Root};

/// Bounds on reading one target.
#[derive(Debug, Clone)]
pub struct Caps {
    /// Total bytes decompressed from one target (default 4 GiB).
    pub max_unpacked: u64,
    /// Archive entries (default 200,000).
    pub max_entries: u64,
    /// One file kept in memory: config, modules.builtin, modules.dep, modules.order
    /// (default 32 MiB).
    pub max_kept_file: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_unpacked: 4 << 30,
            max_entries: 200_000,
            max_kept_file: 32 << 20,
        }
    }
}

/// Why a target could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{target}: not found")]
    NotFound { target: String },
    /// Not a known kind of target.
    #[error("{target}: not a kernel target this tool reads: {why}")]
    Unsupported { target: String, why: String },
    /// A package or tree with no kernel in it.
    #[error("{target}: no kernel in it: {why}")]
    NotAKernel { target: String, why: String },
    /// Truncated, bad magic, bad compression.
    #[error("{target}: corrupt: {why}")]
    Corrupt { target: String, why: String },
    /// A cap was hit (an archive bomb).
    #[error("{target}: too large: {what} over the cap of {limit} (refused as an archive bomb)")]
    TooLarge {
        target: String,
        what: String,
        limit: u64,
    },
    /// Path traversal, a symlink out of the tree.
    #[error("{target}: unsafe entry {entry:?}: {why}")]
    Unsafe {
        target: String,
        entry: String,
        why: String,
    },
    #[error("{target}: {source}")]
    Io {
        target: String,
        #[source]
        source: std::io::Error,
    },
}

/// TARGET resolved inside `root` (as every path is): a NixOS generation or profile
/// link (`/nix/var/nix/profiles/system`, `system-42-link`, `/run/current-system`;
/// absolute store links resolve inside the root), a kernel store path or unpacked
/// tree, or a package file (.deb, .pkg.tar.zst/.pkg.tar.xz, .rpm), recognised by
/// content (magic), not by name.
///
/// On the live root a relative TARGET is taken from the current directory; in
/// another root it is relative to that root.
pub fn inspect(
    root: &Root,
    target: &str,
    profile: &Profile,
    caps: &Caps,
) -> Result<KernelImage, InspectError> {
    let path = resolve(root, target);
    let started = std::time::Instant::now();
    let budget = Budget::new(caps);
    let r = match root.stat(&path) {
        Err(ReadError::NotFound) => {
            return Err(InspectError::NotFound {
                target: target.into(),
            });
        }
        Err(e) => Err(read_fail(&path, e)),
        Ok(NodeKind::Dir) => inspect_dir(root, &path, target, profile, &budget),
        Ok(NodeKind::File) => inspect_file(root, &path, target, profile, &budget),
        Ok(other) => Err(Fail::Unsupported(format!(
            "{} is a {}, not a package or a directory",
            path,
            match other {
                NodeKind::CharDevice { .. } => "character device",
                NodeKind::BlockDevice { .. } => "block device",
                NodeKind::Fifo => "FIFO",
                NodeKind::Socket => "socket",
                _ => "node",
            }
        ))),
    };
    tracing::debug!(
        target = target,
        ms = started.elapsed().as_millis() as u64,
        unpacked = budget.unpacked_total(),
        ok = r.is_ok(),
        "preflight target read"
    );
    r.map_err(|f| f.inspect(target))
}

/// The running kernel: release, config and module tree from the same collectors as
/// `status` (facts::kernel::kernel/config, facts::modules::tree), its image
/// (`run/booted-system/kernel`, `boot/vmlinuz-<release>`), and the modules of the
/// initrd it booted with (`run/booted-system/initrd`, `boot/initrd.img-<release>`,
/// `boot/initramfs-<release>.img`).
pub fn running(root: &Root, profile: &Profile, caps: &Caps) -> KernelImage {
    let kernel = facts::kernel::kernel(root);
    let release = kernel.release.ok().cloned();
    let config = facts::kernel::config(root, release.as_deref());
    let module_tree = facts::modules::tree(root, release.as_deref(), profile);
    let mut notes = Vec::new();
    let rel = release.as_deref().unwrap_or("<release>");

    let images = [
        "run/booted-system/kernel".to_string(),
        format!("boot/vmlinuz-{rel}"),
    ];
    let (mut image_path, mut image_release) = (None, None);
    for p in images
        .iter()
        .filter(|p| release.is_some() || !p.contains("<release>"))
    {
        match root.open_file(p) {
            Ok(mut f) => {
                let mut head = vec![0u8; archive::IMAGE_HEAD];
                let n = read_up_to(&mut f, &mut head);
                image_path = Some(format!("/{p}"));
                image_release = archive::bzimage_release(&head[..n]);
                if image_release.is_none() {
                    notes.push(format!("/{p}: no release string in its header"));
                }
                break;
            }
            Err(ReadError::NotFound) => {}
            Err(e) => {
                notes.push(format!("/{p}: {e}"));
                break;
            }
        }
    }

    let initrds = [
        "run/booted-system/initrd".to_string(),
        format!("boot/initrd.img-{rel}"),
        format!("boot/initramfs-{rel}.img"),
    ];
    let mut initrd = Fact::Absent {
        path: initrds
            .iter()
            .map(|p| format!("/{p}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    for p in &initrds {
        if p.contains("<release>") {
            continue;
        }
        match root.open_file(p) {
            Ok(f) => {
                let budget = Budget::new(caps);
                let mut r = BufReader::with_capacity(128 << 10, f);
                initrd = match archive::initrd_modules_in(&mut r, &budget) {
                    Ok(m) => Fact::Ok(m),
                    Err(e) => Fact::Unknown {
                        path: format!("/{p}"),
                        reason: e.to_string(),
                    },
                };
                break;
            }
            Err(ReadError::NotFound) => {}
            Err(e) => {
                initrd = Fact::from_read(&format!("/{p}"), Err(e));
                break;
            }
        }
    }

    let os = facts::kernel::os(root);
    let generation =
        facts::nixos::collect(root, os.is_nixos).and_then(|n| n.booted.ok().and_then(|g| g.number));
    KernelImage {
        target: "running kernel".into(),
        kind: TargetKind::Running,
        release,
        other_releases: Vec::new(),
        image_path,
        image_release,
        config,
        module_tree,
        initrd_modules: Some(initrd),
        generation,
        notes,
    }
}

// ---------------------------------------------------------------------------
// Targets

fn resolve(root: &Root, target: &str) -> String {
    if root.is_live()
        && !target.starts_with('/')
        && let Ok(cwd) = std::env::current_dir()
    {
        return cwd.join(target).to_string_lossy().into_owned();
    }
    target.to_string()
}

/// A root-relative path with one leading `/`.
fn abs(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn read_fail(path: &str, e: ReadError) -> Fail {
    match e {
        ReadError::SymlinkLoop => Fail::Unsafe {
            entry: abs(path),
            why: "a symlink loop".into(),
        },
        ReadError::NotRegular { what } => {
            Fail::Unsupported(format!("{}: {what}, not a regular file", abs(path)))
        }
        ReadError::TooLarge { limit } => Fail::TooLarge {
            what: format!("bytes of {}", abs(path)),
            limit,
        },
        ReadError::PermissionDenied => Fail::Io(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: permission denied", abs(path)),
        )),
        other => Fail::Io(io::Error::other(format!("{}: {other}", abs(path)))),
    }
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

fn inspect_file(
    root: &Root,
    path: &str,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let file = root.open_file(path).map_err(|e| read_fail(path, e))?;
    let len = file.metadata().map_err(Fail::Io)?.len();
    let mut head = [0u8; 512];
    let n = {
        let mut got = 0;
        while got < head.len() {
            match file.read_at(&mut head[got..], got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fail::Io(e)),
            }
        }
        got
    };
    let head = &head[..n];
    let file = Arc::new(file);
    if head.starts_with(AR_MAGIC) {
        return read_deb(file, len, target, profile, budget);
    }
    if head.starts_with(RPM_MAGIC) {
        return read_rpm(file, len, target, profile, budget);
    }
    if let Some(c) = Compression::sniff(head) {
        return read_arch(file, len, c, target, profile, budget);
    }
    if is_tar(head) {
        return read_arch_tar(
            Box::new(Range {
                file,
                pos: 0,
                end: len,
            }),
            target,
            profile,
            budget,
        );
    }
    if head.get(0x202..0x206) == Some(b"HdrS".as_slice()) {
        return Err(Fail::Unsupported(
            "a kernel image alone: inspect the package, store path or tree it came with".into(),
        ));
    }
    Err(Fail::Unsupported(format!(
        "not a .deb, Arch package or RPM (starts with {})",
        head.iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    )))
}

fn is_tar(block: &[u8]) -> bool {
    block.get(257..262) == Some(b"ustar".as_slice())
}

/// A decompressed stream, counted against the budget and buffered.
fn counted<'b>(
    r: Box<dyn Read + 'b>,
    budget: &'b Budget,
) -> BufReader<Counted<'b, Box<dyn Read + 'b>>> {
    BufReader::with_capacity(256 << 10, Counted { inner: r, budget })
}

/// A compressed member in `[start, end)` of `file`.
fn member_reader<'a>(
    file: Arc<File>,
    start: u64,
    end: u64,
    c: Option<Compression>,
) -> Result<Box<dyn Read + 'a>, Fail> {
    Ok(match c {
        None => Box::new(Range {
            file,
            pos: start,
            end,
        }),
        Some(Compression::Xz) => archive::xz_reader(file, start, end)?,
        Some(c) => archive::decoder(
            c,
            BufReader::with_capacity(
                128 << 10,
                Range {
                    file,
                    pos: start,
                    end,
                },
            ),
        )?,
    })
}

fn sniff_at(file: &File, at: u64, end: u64) -> Result<Option<Compression>, Fail> {
    let mut b = [0u8; 8];
    let n = (end.saturating_sub(at)).min(8) as usize;
    file.read_exact_at(&mut b[..n], at).map_err(Fail::Io)?;
    Ok(Compression::sniff(&b[..n]))
}

/// Reads to the end of a stream (the compressed layer's checks are verified only
/// there), bounded by the budget.
fn drain(r: &mut dyn Read) -> Result<(), Fail> {
    io::copy(r, &mut io::sink()).map_err(archive::from_io)?;
    Ok(())
}

fn read_deb(
    file: Arc<File>,
    len: u64,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let members = archive::ar_members(&file, len, budget)?;
    if members.first().map(|m| m.name.as_str()) != Some("debian-binary") {
        return Err(Fail::Unsupported(
            "an ar archive that is not a Debian package (no debian-binary member first)".into(),
        ));
    }
    let mut notes = Vec::new();
    if let Some(m) = members.iter().find(|m| m.name.starts_with("control.tar")) {
        let c = sniff_at(&file, m.offset, m.offset + m.size)?;
        let r = member_reader(file.clone(), m.offset, m.offset + m.size, c)?;
        let mut r = counted(r, budget);
        let mut fields = BTreeMap::new();
        archive::tar_entries(&mut r, budget, &mut |e, body| {
            if e.kind == Kind::File && archive::normalize_entry(&e.name)? == "control" {
                fields = archive::kept(
                    body,
                    e.size,
                    "the package's control file",
                    &budget.caps,
                    |r| {
                        let mut out = BTreeMap::new();
                        let _ = parse::for_each_line(r, |l| {
                            if let Some((k, v)) = l.split_once(':')
                                && matches!(k, "Package" | "Version" | "Source")
                            {
                                out.insert(k.to_string(), v.trim().to_string());
                            }
                            Ok(())
                        });
                        out
                    },
                )?;
            }
            Ok(())
        })?;
        if let (Some(p), Some(v)) = (fields.get("Package"), fields.get("Version")) {
            notes.push(format!("Debian package {p} {v}"));
        }
    }
    let data = members
        .iter()
        .find(|m| m.name.starts_with("data.tar"))
        .ok_or_else(|| Fail::corrupt_deb("no data.tar member"))?;
    let c = sniff_at(&file, data.offset, data.offset + data.size)?;
    if c.is_none() && data.name != "data.tar" {
        return Err(Fail::Corrupt(format!(
            "{}: not compressed as its name says",
            data.name
        )));
    }
    let r = member_reader(file.clone(), data.offset, data.offset + data.size, c)?;
    let mut r = counted(r, budget);
    let mut col = Collector::new(profile, &budget.caps, format!("{}:", data.name));
    col.notes = notes;
    archive::tar_entries(&mut r, budget, &mut |e, body| col.entry(e, body, budget))?;
    drain(&mut r)?;
    col.finish(target, TargetKind::Deb)
}

fn read_arch(
    file: Arc<File>,
    len: u64,
    c: Compression,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let r = member_reader(file, 0, len, Some(c))?;
    read_arch_tar(r, target, profile, budget)
}

fn read_arch_tar(
    r: Box<dyn Read + '_>,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let mut r = counted(r, budget);
    // The first block must be a tar header: a compressed file that is something
    // else (an initrd, a tarball of another kind of thing) is not a package.
    let mut first = [0u8; 512];
    let n = read_up_to(&mut r, &mut first);
    if n < 512 || !(is_tar(&first) || first[156] == b'x' || first[156] == b'L') {
        return Err(Fail::Unsupported(
            "compressed data that is not a tar archive (an Arch package is a tar in zstd or xz)"
                .into(),
        ));
    }
    let mut r = io::Cursor::new(first.to_vec()).chain(r);
    let mut col = Collector::new(profile, &budget.caps, String::new());
    let mut pkg = BTreeMap::new();
    archive::tar_entries(&mut r, budget, &mut |e, body| {
        if e.kind == Kind::File && archive::normalize_entry(&e.name)? == ".PKGINFO" {
            pkg = archive::kept(body, e.size, ".PKGINFO", &budget.caps, |r| {
                let mut out = BTreeMap::new();
                let _ = parse::for_each_line(r, |l| {
                    if let Some((k, v)) = l.split_once(" = ")
                        && matches!(k, "pkgname" | "pkgver")
                    {
                        out.insert(k.to_string(), v.to_string());
                    }
                    Ok(())
                });
                out
            })?;
            return Ok(());
        }
        col.entry(e, body, budget)
    })?;
    drain(&mut r)?;
    if let (Some(n), Some(v)) = (pkg.get("pkgname"), pkg.get("pkgver")) {
        col.notes.insert(0, format!("Arch package {n} {v}"));
    }
    col.finish(target, TargetKind::ArchPackage)
}

fn read_rpm(
    file: Arc<File>,
    len: u64,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let rpm = archive::rpm_headers(&file, len, &budget.caps)?;
    if let Some(f) = rpm.format.as_deref()
        && f != "cpio"
    {
        return Err(Fail::Unsupported(format!("an RPM payload in {f} format")));
    }
    let at = rpm.payload_offset;
    if at >= len {
        return Err(Fail::corrupt_rpm("truncated: no payload"));
    }
    let c = sniff_at(&file, at, len)?;
    if c.is_none() && rpm.compressor.as_deref().is_some_and(|n| n != "identity") {
        return Err(Fail::Corrupt(format!(
            "the payload is not {}-compressed as the header says",
            rpm.compressor.as_deref().unwrap_or("?")
        )));
    }
    let r = member_reader(file, at, len, c)?;
    let mut r = counted(r, budget);
    let mut col = Collector::new(profile, &budget.caps, String::new());
    if let Some(nvr) = &rpm.nvr {
        col.notes.push(format!("RPM {nvr}"));
    }
    let end = archive::cpio_entries(&mut r, budget, true, &mut |e, body| {
        col.entry(e, body, budget)
    })?;
    if end != archive::CpioEnd::Trailer {
        return Err(Fail::corrupt_rpm(
            "truncated: the payload ends without its trailer",
        ));
    }
    drain(&mut r)?;
    col.finish(target, TargetKind::Rpm)
}

impl Fail {
    fn corrupt_deb(why: &str) -> Fail {
        Fail::Corrupt(format!("Debian package: {why}"))
    }

    fn corrupt_rpm(why: &str) -> Fail {
        Fail::Corrupt(format!("RPM: {why}"))
    }
}

// ---------------------------------------------------------------------------
// Directories: NixOS generations, store paths and unpacked trees

fn inspect_dir(
    root: &Root,
    path: &str,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let canon = root.canonical(path).map_err(|e| read_fail(path, e))?;
    let p = |n: &str| format!("{}/{n}", canon.trim_end_matches('/'));
    if root.exists(&p("kernel"))
        && (root.exists(&p("kernel-modules")) || root.exists(&p("nixos-version")))
    {
        return read_generation(root, path, &canon, target, profile, budget);
    }
    read_tree(root, &canon, target, profile, budget)
}

/// Whether `canon` (a canonical root-relative path) lies inside `base` or in the
/// Nix store (where store paths link each other).
fn inside(canon: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    canon == base
        || base.is_empty()
        || canon.starts_with(&format!("{base}/"))
        || canon.starts_with("/nix/store/")
}

/// The canonical path of `path`, which must stay inside `base` (or the store):
/// `None` when it does not exist.
fn contained(root: &Root, path: &str, base: &str) -> Result<Option<String>, Fail> {
    match root.canonical(path) {
        Ok(c) if inside(&c, base) => Ok(Some(c)),
        Ok(c) => Err(Fail::Unsafe {
            entry: abs(path),
            why: format!(
                "a symlink to {c}, outside {}",
                if base.is_empty() { "/" } else { base }
            ),
        }),
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(read_fail(path, e)),
    }
}

/// Opens a regular file of a tree, as an entry for the collector.
fn tree_file(root: &Root, path: &str, base: &str) -> Result<Option<(File, u64)>, Fail> {
    let Some(canon) = contained(root, path, base)? else {
        return Ok(None);
    };
    match root.open_file(&canon) {
        Ok(f) => {
            let len = f.metadata().map_err(Fail::Io)?.len();
            Ok(Some((f, len)))
        }
        Err(ReadError::NotFound) | Err(ReadError::IsADirectory) => Ok(None),
        Err(e) => Err(read_fail(path, e)),
    }
}

fn list(root: &Root, path: &str) -> Vec<String> {
    let mut v = root.list_dir(path).unwrap_or_default();
    v.sort();
    v
}

fn read_tree(
    root: &Root,
    canon: &str,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let base = canon.trim_end_matches('/').to_string();
    let at = |rel: &str| format!("{base}/{rel}");
    let mut col = Collector::new(profile, &budget.caps, String::new());
    col.display_base = format!("{base}/");

    let mut module_dirs = Vec::new();
    for prefix in ["lib/modules", "usr/lib/modules"] {
        if contained(root, &at(prefix), &base)?.is_none() {
            continue;
        }
        for rel in list(root, &at(prefix)) {
            let dir = at(&format!("{prefix}/{rel}"));
            if facts::kernel::valid_release(&rel)
                && !module_dirs.iter().any(|(_, r)| *r == rel)
                && root.stat(&dir) == Ok(NodeKind::Dir)
            {
                // The module directory itself must not lead out of the tree.
                contained(root, &dir, &base)?;
                module_dirs.push((prefix, rel));
            }
        }
    }
    // Files named like the entries of a package, in the order a package has them.
    let mut files: Vec<String> = Vec::new();
    files.push(".config".into());
    for f in list(root, &at("boot")) {
        if f.starts_with("config-") || f.starts_with("vmlinuz-") {
            files.push(format!("boot/{f}"));
        }
    }
    for (prefix, rel) in &module_dirs {
        for f in [
            "config",
            "build/.config",
            "pkgbase",
            "modules.builtin",
            "modules.dep",
            "modules.alias",
            "modules.order",
        ] {
            files.push(format!("{prefix}/{rel}/{f}"));
        }
    }
    files.extend(["bzImage", "vmlinuz"].map(String::from));
    for (prefix, rel) in &module_dirs {
        files.push(format!("{prefix}/{rel}/vmlinuz"));
    }
    for f in &files {
        if let Some((file, len)) = tree_file(root, &at(f), &base)? {
            budget.entry()?;
            let e = Entry {
                name: f.clone(),
                kind: Kind::File,
                size: len,
            };
            let mut r = BufReader::with_capacity(64 << 10, file).take(len);
            col.entry(&e, &mut r, budget)?;
        }
    }
    // The module files: those modules.dep names, where it is shipped, else a walk.
    for (prefix, rel) in &module_dirs {
        let dir = format!("{prefix}/{rel}");
        let has_dep = col
            .rels
            .get(rel.as_str())
            .is_some_and(|r| matches!(r.dep, Some(Fact::Ok(_))));
        if has_dep {
            for (m, p) in col.wanted_in_dep(rel) {
                let ok = archive::normalize_entry(&p).is_ok()
                    && contained(root, &at(&format!("{dir}/{p}")), &base)?.is_some();
                if ok {
                    col.rel(prefix, rel).kos.insert(m, p);
                }
            }
        } else {
            walk_modules(root, &base, &dir, prefix, rel, &mut col, budget)?;
        }
    }
    col.finish(target, TargetKind::Tree)
}

/// The `.ko*` files under a module directory, without a `modules.dep` to list them.
fn walk_modules(
    root: &Root,
    base: &str,
    dir: &str,
    prefix: &str,
    rel: &str,
    col: &mut Collector,
    budget: &Budget,
) -> Result<(), Fail> {
    let mut stack = vec![String::new()];
    while let Some(sub) = stack.pop() {
        let path = if sub.is_empty() {
            format!("{base}/{dir}")
        } else {
            format!("{base}/{dir}/{sub}")
        };
        if contained(root, &path, base)?.is_none() {
            continue;
        }
        let Ok(names) = root.list_dir(&path) else {
            continue;
        };
        for n in names {
            budget.entry()?;
            let relp = if sub.is_empty() {
                n.clone()
            } else {
                format!("{sub}/{n}")
            };
            if let Some(m) = parse::module_name_of_path(&n) {
                col.rel(prefix, rel).kos.insert(m, relp);
            } else if !n.starts_with("modules.")
                && !matches!(n.as_str(), "build" | "source")
                && root.stat(&format!("{base}/{dir}/{relp}")) == Ok(NodeKind::Dir)
            {
                stack.push(relp);
            }
        }
    }
    Ok(())
}

/// The number of a generation: from a `system-N-link` name on the way to it, else
/// the newest `system-N-link` in the profile directory with the same toplevel.
fn generation_number(root: &Root, path: &str, toplevel: &str) -> Option<u32> {
    let number = |p: &str| -> Option<u32> {
        p.trim_end_matches('/')
            .rsplit('/')
            .next()?
            .strip_prefix("system-")?
            .strip_suffix("-link")?
            .parse()
            .ok()
    };
    let mut p = abs(path);
    for _ in 0..8 {
        if let Some(n) = number(&p) {
            return Some(n);
        }
        match root.read_link(&p) {
            Ok(t) if t.starts_with('/') => p = t,
            Ok(t) => {
                let parent = p
                    .trim_end_matches('/')
                    .rsplit_once('/')
                    .map(|x| x.0)
                    .unwrap_or("");
                p = format!("{parent}/{t}");
            }
            Err(_) => break,
        }
    }
    // The profile's links, as the live facts read them.
    crate::facts::nixos::numbers(root).get(toplevel).copied()
}

fn read_generation(
    root: &Root,
    path: &str,
    toplevel: &str,
    target: &str,
    profile: &Profile,
    budget: &Budget,
) -> Result<KernelImage, Fail> {
    let part = |n: &str| -> Result<Option<String>, Fail> {
        let p = format!("{toplevel}/{n}");
        match root.canonical(&p) {
            Ok(c) if c.starts_with("/nix/store/") || inside(&c, toplevel) => Ok(Some(c)),
            Ok(c) => Err(Fail::Unsafe {
                entry: abs(&p),
                why: format!("a generation's {n} links to {c}, outside /nix/store"),
            }),
            Err(ReadError::NotFound) => Ok(None),
            Err(e) => Err(read_fail(&p, e)),
        }
    };
    let kernel = part("kernel")?;
    let modules = part("kernel-modules")?;
    let initrd = part("initrd")?;
    let mut col = Collector::new(profile, &budget.caps, String::new());
    if let Ok(v) = root.read_text(&format!("{toplevel}/nixos-version")) {
        col.notes.push(format!("NixOS {v}"));
    }

    // The module tree: kernel-modules/lib/modules/<release>.
    let mut rels = Vec::new();
    if let Some(m) = &modules {
        for rel in list(root, &format!("{m}/lib/modules")) {
            if facts::kernel::valid_release(&rel) {
                rels.push(rel);
            }
        }
    }
    let kernel_dir = kernel
        .as_deref()
        .and_then(|k| k.rsplit_once('/'))
        .map(|(d, _)| d.to_string());
    for rel in &rels {
        let m = modules.as_deref().unwrap_or_default();
        let dir = format!("{m}/lib/modules/{rel}");
        let files = [
            "modules.builtin",
            "modules.dep",
            "modules.alias",
            "modules.order",
        ];
        for f in files {
            if let Some((file, len)) = tree_file(root, &format!("{dir}/{f}"), "/nix/store")? {
                let e = Entry {
                    name: format!("lib/modules/{rel}/{f}"),
                    kind: Kind::File,
                    size: len,
                };
                let mut r = BufReader::new(file).take(len);
                col.entry(&e, &mut r, budget)?;
            }
        }
        col.rel("lib/modules", rel).display = Some(dir.clone());
        // The old nixpkgs layout kept the build tree (with .config) in the output.
        let mut configs = vec![format!("{dir}/build/.config")];
        if let Some(k) = &kernel_dir {
            configs.push(format!("{k}/lib/modules/{rel}/build/.config"));
        }
        for c in configs {
            if let Some((file, len)) = tree_file(root, &c, "/nix/store")? {
                let mut r = BufReader::new(file).take(len);
                col.config(&c, Some(rel.as_str()), 1, &mut r, len)?;
                break;
            }
        }
        let wanted = col.wanted_in_dep(rel);
        if col.rels.get(rel.as_str()).is_some_and(|r| r.dep.is_some()) {
            for (m, p) in wanted {
                if archive::normalize_entry(&p).is_ok()
                    && contained(root, &format!("{dir}/{p}"), "/nix/store")?.is_some()
                {
                    col.rel("lib/modules", rel).kos.insert(m, p);
                }
            }
        } else {
            walk_modules(
                root,
                &format!("{m}/lib/modules"),
                rel,
                "lib/modules",
                rel,
                &mut col,
                budget,
            )?;
        }
    }

    // The image: its release, and its embedded config when no file gave one.
    if let Some(k) = &kernel {
        let file = root.open_file(k).map_err(|e| read_fail(k, e))?;
        let want = !col.configs.iter().any(|c| c.options.is_ok());
        let mut r = BufReader::with_capacity(128 << 10, file);
        let info = archive::read_image(&mut r, budget, want)?;
        col.images.push(ImageSeen {
            path: k.clone(),
            rel: None,
            info,
        });
    }

    let mut img = col.finish(target, TargetKind::NixGeneration)?;
    img.generation = generation_number(root, path, toplevel);
    if img.release.is_none() && kernel.is_none() {
        return Err(Fail::NotAKernel(format!("{toplevel} has no kernel link")));
    }
    img.initrd_modules = Some(match &initrd {
        None => Fact::Absent {
            path: format!("{toplevel}/initrd"),
        },
        Some(i) => match root.open_file(i) {
            Ok(f) => {
                let ib = Budget::new(&budget.caps);
                let mut r = BufReader::with_capacity(128 << 10, f);
                match archive::initrd_modules_in(&mut r, &ib) {
                    Ok(m) => Fact::Ok(m),
                    Err(e) => Fact::Unknown {
                        path: i.clone(),
                        reason: e.to_string(),
                    },
                }
            }
            Err(e) => Fact::from_read(i, Err(e)),
        },
    });
    Ok(img)
}

// ---------------------------------------------------------------------------
// What is kept

/// One module directory (`lib/modules/<release>`) as seen.
#[derive(Default)]
struct RelDir {
    /// The directory as in the target (`lib/modules/6.1.0-28-amd64`).
    dir: String,
    /// Where it is, when that is not `dir` in the target (a generation's store path).
    display: Option<String>,
    builtin: Option<Fact<BTreeSet<String>>>,
    dep: Option<Fact<BTreeMap<String, String>>>,
    alias: Option<Fact<Vec<ModAlias>>>,
    order: Option<BTreeSet<String>>,
    /// Module name -> path relative to the directory, for each `.ko*` file seen.
    kos: BTreeMap<String, String>,
}

struct ConfigSeen {
    source: String,
    rel: Option<String>,
    /// 0: `boot/config-*`, `lib/modules/*/config`; 1: `.config`, a build tree's;
    /// 2: the image's embedded one.
    prio: u8,
    options: Result<BTreeMap<String, String>, String>,
}

struct ImageSeen {
    path: String,
    rel: Option<String>,
    info: ImageInfo,
}

/// Most configs or images kept from one target (a package holds one kernel).
const MAX_KERNELS: usize = 16;

struct Collector {
    wanted: BTreeSet<String>,
    caps: Caps,
    /// Prefix of sources: `data.tar.xz:` in a `.deb`.
    prefix: String,
    /// Prefix of a tree's paths (its root-relative directory).
    display_base: String,
    rels: BTreeMap<String, RelDir>,
    configs: Vec<ConfigSeen>,
    images: Vec<ImageSeen>,
    notes: Vec<String>,
    pkgbase: Option<String>,
}

impl Collector {
    fn new(profile: &Profile, caps: &Caps, prefix: String) -> Collector {
        Collector {
            wanted: profile.modules().iter().map(|m| m.to_string()).collect(),
            caps: caps.clone(),
            prefix,
            display_base: String::new(),
            rels: BTreeMap::new(),
            configs: Vec::new(),
            images: Vec::new(),
            notes: Vec::new(),
            pkgbase: None,
        }
    }

    /// The profile's modules that `modules.dep` of release `rel` lists, with their
    /// paths there (none when it was not read).
    fn wanted_in_dep(&self, rel: &str) -> Vec<(String, String)> {
        self.rels
            .get(rel)
            .and_then(|r| r.dep.as_ref())
            .and_then(|d| d.ok())
            .map(|d| {
                self.wanted
                    .iter()
                    .filter_map(|m| d.get(m).map(|p| (m.clone(), p.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn rel(&mut self, prefix: &str, rel: &str) -> &mut RelDir {
        self.rels.entry(rel.to_string()).or_insert_with(|| RelDir {
            dir: format!("{prefix}/{rel}"),
            ..RelDir::default()
        })
    }

    fn source(&self, name: &str) -> String {
        if self.display_base.is_empty() {
            format!("{}{name}", self.prefix)
        } else {
            format!("{}{}", self.display_base, name.trim_start_matches("./"))
        }
    }

    fn config(
        &mut self,
        source: &str,
        rel: Option<&str>,
        prio: u8,
        body: &mut dyn Read,
        size: u64,
    ) -> Result<(), Fail> {
        if self.configs.len() >= MAX_KERNELS {
            self.note_once(format!(
                "more than {MAX_KERNELS} kernel configs: the rest are not read"
            ));
            return Ok(());
        }
        let options = archive::kept(body, size, source, &self.caps, |r| {
            parse::kernel_config_from(r).map_err(|e| e.to_string())
        })?;
        self.configs.push(ConfigSeen {
            source: source.to_string(),
            rel: rel.map(String::from),
            prio,
            options,
        });
        Ok(())
    }

    fn image(
        &mut self,
        source: &str,
        rel: Option<&str>,
        body: &mut dyn Read,
        budget: &Budget,
    ) -> Result<(), Fail> {
        if self.images.len() >= MAX_KERNELS {
            self.note_once(format!(
                "more than {MAX_KERNELS} kernel images: the rest are not read"
            ));
            return Ok(());
        }
        // The embedded config is looked for only when no config file for this
        // release came first (packages list `config-*` before `vmlinuz-*`).
        let want = !self.configs.iter().any(|c| {
            c.options.is_ok() && (rel.is_none() || c.rel.as_deref() == rel || c.rel.is_none())
        });
        let info = archive::read_image(body, budget, want)?;
        self.images.push(ImageSeen {
            path: source.to_string(),
            rel: rel.map(String::from),
            info,
        });
        Ok(())
    }

    fn note_once(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// One entry of a package (or a file of a tree): kept, parsed or passed over.
    fn entry(&mut self, e: &Entry, body: &mut dyn Read, budget: &Budget) -> Result<(), Fail> {
        let path = archive::normalize_entry(&e.name)?;
        if e.kind != Kind::File {
            return Ok(());
        }
        let src = self.source(&e.name);
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["boot", f] if f.starts_with("config-") => {
                let rel = &f["config-".len()..];
                if facts::kernel::valid_release(rel) {
                    self.config(&src, Some(rel), 0, body, e.size)?;
                }
            }
            ["boot", f] if f.starts_with("vmlinuz-") => {
                let rel = &f["vmlinuz-".len()..];
                if facts::kernel::valid_release(rel) {
                    self.image(&src, Some(rel), body, budget)?;
                }
            }
            [".config"] => self.config(&src, None, 1, body, e.size)?,
            ["bzImage"] | ["vmlinuz"] => self.image(&src, None, body, budget)?,
            _ => {
                let (prefix, rest) = match parts.as_slice() {
                    ["lib", "modules", rest @ ..] => ("lib/modules", rest),
                    ["usr", "lib", "modules", rest @ ..] => ("usr/lib/modules", rest),
                    _ => return Ok(()),
                };
                let [rel, inner @ ..] = rest else {
                    return Ok(());
                };
                if !facts::kernel::valid_release(rel) || inner.is_empty() {
                    return Ok(());
                }
                let rel = rel.to_string();
                self.rel(prefix, &rel);
                let caps = self.caps.clone();
                match inner {
                    ["config"] => self.config(&src, Some(&rel), 0, body, e.size)?,
                    ["build", ".config"] => self.config(&src, Some(&rel), 1, body, e.size)?,
                    ["vmlinuz"] => self.image(&src, Some(&rel), body, budget)?,
                    ["pkgbase"] => {
                        let t = archive::kept(body, e.size.min(256), "pkgbase", &caps, |r| {
                            let mut s = String::new();
                            let _ = r.read_to_string(&mut s);
                            s.trim().to_string()
                        })?;
                        self.pkgbase = Some(t);
                    }
                    ["modules.builtin"] => {
                        let f = archive::kept(body, e.size, &src, &caps, |r| {
                            parse::modules_builtin_from(r)
                        })?;
                        self.rel(prefix, &rel).builtin = Some(parsed(&src, f));
                    }
                    ["modules.dep"] => {
                        let f = archive::kept(body, e.size, &src, &caps, |r| {
                            parse::modules_dep_from(r)
                        })?;
                        self.rel(prefix, &rel).dep = Some(parsed(&src, f));
                    }
                    ["modules.alias"] => {
                        let wanted = self.wanted.clone();
                        let f = archive::kept(body, e.size, &src, &caps, |r| {
                            parse::modules_alias_from(r, &wanted)
                        })?;
                        self.rel(prefix, &rel).alias = Some(parsed(&src, f));
                    }
                    ["modules.order"] => {
                        let f = archive::kept(body, e.size, &src, &caps, |r| {
                            let mut out = BTreeSet::new();
                            let res = parse::for_each_line(r, |l| {
                                if let Some(m) = parse::module_name_of_path(l.trim())
                                    && out.len() < parse::MAX_MODULES
                                {
                                    out.insert(m);
                                }
                                Ok(())
                            });
                            res.map(|_| out)
                        })?;
                        if let Ok(o) = f {
                            self.rel(prefix, &rel).order = Some(o);
                        }
                    }
                    [.., file] => {
                        if let Some(m) = parse::module_name_of_path(file)
                            && file.contains(".ko")
                        {
                            let d = self.rel(prefix, &rel);
                            if d.kos.len() < parse::MAX_MODULES {
                                d.kos.insert(m, inner.join("/"));
                            }
                        }
                    }
                    [] => {}
                }
            }
        }
        Ok(())
    }

    /// The kernel image of everything kept.
    fn finish(mut self, target: &str, kind: TargetKind) -> Result<KernelImage, Fail> {
        let image_rel = |i: &ImageSeen| i.rel.clone().or_else(|| i.info.release.clone());
        let with_kernel: BTreeSet<String> = self
            .images
            .iter()
            .filter_map(image_rel)
            .chain(self.configs.iter().filter_map(|c| c.rel.clone()))
            .collect();
        let dirs: Vec<String> = self.rels.keys().cloned().collect();
        if dirs.is_empty() && self.images.is_empty() && self.configs.is_empty() {
            return Err(Fail::NotAKernel(
                "no kernel image, config or module directory (boot/vmlinuz-*, boot/config-*, lib/modules/<release>/)"
                    .into(),
            ));
        }
        let with_image: BTreeSet<String> = self.images.iter().filter_map(image_rel).collect();
        let release = dirs
            .iter()
            .find(|d| with_image.contains(*d))
            .or_else(|| dirs.iter().find(|d| with_kernel.contains(*d)))
            .cloned()
            .or_else(|| {
                if dirs.len() == 1 {
                    return dirs.first().cloned();
                }
                // Several directories and nothing to tell them apart: the one with
                // the most modules.
                let best = self
                    .rels
                    .iter()
                    .max_by_key(|(_, r)| r.kos.len())
                    .map(|(k, _)| k.clone());
                if let Some(b) = &best {
                    self.notes.push(format!(
                        "no kernel image or config names a module directory; {b} has the most modules"
                    ));
                }
                best
            })
            .or_else(|| with_image.iter().next().cloned())
            .or_else(|| with_kernel.iter().next().cloned());
        let other_releases: Vec<String> = dirs
            .iter()
            .filter(|d| Some(*d) != release.as_ref())
            .cloned()
            .collect();
        if !other_releases.is_empty() {
            self.notes.push(format!(
                "more than one module directory: {} besides {}",
                other_releases.join(", "),
                release.as_deref().unwrap_or("?")
            ));
        }

        // The image of this release (or the only one).
        let image_idx = self
            .images
            .iter()
            .position(|i| release.is_some() && image_rel(i) == release)
            .or_else(|| (self.images.len() == 1).then_some(0));
        let (image_path, image_release, image_config) = match image_idx {
            Some(i) => {
                let im = &self.images[i];
                let cfg = match &im.info.config {
                    ImageConfig::Found(r) => Some(r.clone()),
                    _ => None,
                };
                if im.info.release.is_none() {
                    self.notes
                        .push(format!("{}: no release string in its header", im.path));
                }
                if let ImageConfig::Unreadable(why) = &im.info.config {
                    self.notes.push(format!(
                        "{}: its embedded config was not read: {why}",
                        im.path
                    ));
                }
                (
                    Some(im.path.clone()),
                    im.info.release.clone(),
                    cfg.map(|c| (im.path.clone(), c)),
                )
            }
            None => (None, None, None),
        };

        // The config: a file of this release, then one without a release, then
        // the image's own.
        let pick = self
            .configs
            .iter()
            .filter(|c| c.rel.is_none() || c.rel == release)
            .min_by_key(|c| (c.prio, c.rel.is_none()));
        let config = match (pick, image_config) {
            (Some(c), _) => match &c.options {
                Ok(o) => Fact::Ok(KernelConfig {
                    source: c.source.clone(),
                    options: o.clone(),
                }),
                Err(e) => Fact::unparseable(&c.source, e),
            },
            (None, Some((path, Ok(o)))) => Fact::Ok(KernelConfig {
                source: format!("{path} (embedded config, CONFIG_IKCONFIG)"),
                options: o,
            }),
            (None, Some((path, Err(e)))) => {
                Fact::unparseable(&format!("{path} (embedded config)"), e)
            }
            (None, None) => {
                let r = release.as_deref().unwrap_or("<release>");
                let why = match image_idx.map(|i| &self.images[i].info.config) {
                    Some(ImageConfig::Unreadable(w)) => {
                        Some(format!("the image's embedded config: {w}"))
                    }
                    _ => None,
                };
                match why {
                    Some(reason) => Fact::Unknown {
                        path: format!("boot/config-{r}"),
                        reason,
                    },
                    None => Fact::Absent {
                        path: format!(
                            "boot/config-{r}, lib/modules/{r}/config, .config, the image's embedded config (CONFIG_IKCONFIG)"
                        ),
                    },
                }
            }
        };

        let module_tree = match release.as_ref().and_then(|r| self.rels.get(r)) {
            Some(d) => self.module_tree(d),
            None => Fact::Absent {
                path: format!("lib/modules/{}", release.as_deref().unwrap_or("<release>")),
            },
        };
        if let Some(rel) = release.as_ref().and_then(|r| self.rels.get(r)) {
            if rel.dep.is_none() && !rel.kos.is_empty() {
                self.notes.push(
                    "no modules.dep in the target (depmod writes it when the kernel is installed): modules are taken from the .ko files in it"
                        .into(),
                );
            }
            if let Some(order) = &rel.order {
                let elsewhere: Vec<&str> = self
                    .wanted
                    .iter()
                    .filter(|m| order.contains(*m) && !rel.kos.contains_key(*m))
                    .map(|m| m.as_str())
                    .collect();
                if !elsewhere.is_empty() && !rel.kos.is_empty() {
                    self.notes.push(format!(
                        "built as modules (modules.order) but not in this target: {} (another package carries them)",
                        elsewhere.join(", ")
                    ));
                }
            }
        }
        if let Some(p) = &self.pkgbase {
            self.notes.push(format!("pkgbase: {p}"));
        }
        Ok(KernelImage {
            target: target.to_string(),
            kind,
            release,
            other_releases,
            image_path,
            image_release,
            config,
            module_tree,
            initrd_modules: None,
            generation: None,
            notes: self.notes,
        })
    }

    fn module_tree(&self, d: &RelDir) -> Fact<ModuleTree> {
        let dir = d
            .display
            .clone()
            .unwrap_or_else(|| format!("{}{}", self.display_base, d.dir));
        let builtin = d.builtin.clone().unwrap_or(Fact::Absent {
            path: format!("{dir}/modules.builtin"),
        });
        let available = match &d.dep {
            Some(dep) => dep.clone(),
            None => Fact::Ok(d.kos.clone()),
        };
        let aliases = d.alias.clone().unwrap_or(Fact::Unknown {
            path: format!("{dir}/modules.alias"),
            reason: "not collected: the target has no modules.alias (depmod writes it when the kernel is installed)".into(),
        });
        let mut files_present = BTreeMap::new();
        if let Fact::Ok(avail) = &available {
            for m in &self.wanted {
                if avail.contains_key(m) {
                    files_present.insert(m.clone(), d.kos.contains_key(m));
                }
            }
        }
        Fact::Ok(ModuleTree {
            dir,
            builtin,
            available,
            aliases,
            files_present,
        })
    }
}

fn parsed<T>(path: &str, r: Result<T, parse::ParseError>) -> Fact<T> {
    match r {
        Ok(v) => Fact::Ok(v),
        Err(e) => Fact::unparseable(path, e),
    }
}
