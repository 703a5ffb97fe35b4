//! A small generator of root trees that look like a machine's `/`: sysfs with class,
//! bus, driver and module links (relative, as the kernel makes them), procfs files,
//! a gzipped kernel config, module trees, udev records and device nodes.
//!
//! Device nodes are made with mknod, which needs root (CI runs as root); a tree that
//! cannot be built fails the test, it never skips it.

#![allow(dead_code)]

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// How a tree's `/dev` looks: as the generator builds it (real device nodes), every
/// entry a plain empty file (copied without privileges), or not there at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevMode {
    Nodes,
    PlainFiles,
    Missing,
}

impl DevMode {
    pub const ALL: [DevMode; 3] = [DevMode::Nodes, DevMode::PlainFiles, DevMode::Missing];

    /// Puts `t`'s `/dev` into this shape (from a tree as built).
    pub fn apply(self, t: &Tree) {
        match self {
            DevMode::Nodes => {}
            DevMode::PlainFiles => {
                t.dev_as_plain_files();
            }
            DevMode::Missing => {
                t.remove_dev();
            }
        }
    }
}

pub struct Tree {
    dir: tempfile::TempDir,
}

/// The relative path from directory `from` to `to` (both root-relative, no leading
/// slash), as sysfs writes its links.
pub fn relative(from_dir: &str, to: &str) -> String {
    let f: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let t: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(t[common..].iter().map(|s| s.to_string()));
    parts.join("/")
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::Builder::new()
                .prefix("surface-check-fixture-")
                .tempdir()
                .expect("creating a fixture directory"),
        }
    }

    /// A tree in directory `dir` (which must exist).
    pub fn new_in(dir: &Path) -> Tree {
        Tree {
            dir: tempfile::Builder::new()
                .prefix("surface-check-fixture-")
                .tempdir_in(dir)
                .expect("creating a fixture directory"),
        }
    }

    /// A tree in memory (`/dev/shm`) when there is one, else as [`Tree::new`]:
    /// building it is several times faster, which property tests need.
    pub fn new_in_memory() -> Tree {
        let shm = Path::new("/dev/shm");
        let writable = std::fs::metadata(shm).is_ok_and(|m| m.is_dir())
            && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok();
        if writable {
            Tree::new_in(shm)
        } else {
            Tree::new()
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel.trim_start_matches('/'))
    }

    pub fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.abs(rel)).expect("mkdir");
    }

    pub fn file(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.abs(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        std::fs::write(&p, content).expect("write fixture file");
    }

    /// A sysfs-style attribute: the value plus a newline.
    pub fn attr(&self, rel: &str, value: &str) {
        self.file(rel, format!("{value}\n"));
    }

    pub fn link(&self, rel: &str, target: &str) {
        let p = self.abs(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        let _ = std::fs::remove_file(&p);
        symlink(target, &p).expect("symlink");
    }

    /// A relative link at `rel` to the root-relative `to`.
    pub fn rlink(&self, rel: &str, to: &str) {
        self.link(rel, &relative(parent(rel), to));
    }

    pub fn remove(&self, rel: &str) {
        let p = self.abs(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p).expect("rm -r"),
            Ok(_) => std::fs::remove_file(&p).expect("rm"),
            Err(e) => panic!("fixture: cannot remove {rel}: {e}"),
        }
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.abs(rel)).is_ok()
    }

    pub fn char_node(&self, rel: &str, major: u64, minor: u64) {
        let p = self.abs(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        let _ = std::fs::remove_file(&p);
        nix::sys::stat::mknod(
            &p,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o660),
            nix::sys::stat::makedev(major, minor),
        )
        .unwrap_or_else(|e| panic!("mknod {rel} (fixtures need root): {e}"));
    }

    pub fn fifo(&self, rel: &str) {
        let p = self.abs(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("mkdir");
        let _ = std::fs::remove_file(&p);
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    }

    pub fn gz(&self, rel: &str, content: &str) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(content.as_bytes()).unwrap();
        self.file(rel, e.finish().unwrap());
    }

    // ---- captured trees --------------------------------------------------------

    /// Every entry under `dev/` that is not a directory (device nodes, FIFOs,
    /// symlinks, files) becomes a plain empty file, as a copy made without
    /// privileges, or by a tool that keeps no special files, leaves it. Returns how
    /// many entries were replaced.
    pub fn dev_as_plain_files(&self) -> usize {
        fn walk(dir: &Path, n: &mut usize) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let p = entry.expect("dir entry").path();
                let m = std::fs::symlink_metadata(&p).expect("lstat");
                if m.is_dir() {
                    walk(&p, n);
                } else {
                    std::fs::remove_file(&p).expect("rm dev entry");
                    std::fs::write(&p, b"").expect("write plain file");
                    *n += 1;
                }
            }
        }
        let mut n = 0;
        walk(&self.abs("dev"), &mut n);
        n
    }

    /// Removes `dev/` altogether, as a copy that left it out does. Returns whether
    /// there was one.
    pub fn remove_dev(&self) -> bool {
        let had = self.exists("dev");
        if had {
            self.remove("dev");
        }
        had
    }

    /// Whether any entry under `dev/` is a device node (character or block).
    pub fn has_device_nodes(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        fn walk(dir: &Path) -> bool {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return false;
            };
            entries.map(|e| e.expect("dir entry").path()).any(|p| {
                let t = std::fs::symlink_metadata(&p).expect("lstat").file_type();
                t.is_char_device() || t.is_block_device() || (t.is_dir() && walk(&p))
            })
        }
        walk(&self.abs("dev"))
    }

    /// Replaces the file at `rel` (whatever it is, or nothing) with a directory.
    pub fn dir_in_place_of(&self, rel: &str) {
        if self.exists(rel) {
            self.remove(rel);
        }
        self.mkdir(rel);
    }

    /// Replaces the file at `rel` with a symlink to a target that does not exist.
    pub fn dangling_link_in_place_of(&self, rel: &str) {
        self.link(rel, "/nonexistent/surface-check-fixture");
    }

    /// Reads a root-relative file as text, or None.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.abs(rel)).ok()
    }

    /// The entries of a root-relative directory, sorted; empty when it cannot be read.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.abs(rel))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    // ---- sysfs ---------------------------------------------------------------

    /// A device at `sys/devices/<devpath>` on `bus` named `name`, bound to `driver`.
    /// Returns the root-relative device directory.
    pub fn device(
        &self,
        bus: &str,
        name: &str,
        devpath: &str,
        driver: Option<&str>,
        attrs: &[(&str, &str)],
    ) -> String {
        let dir = format!("sys/devices/{devpath}");
        self.mkdir(&dir);
        for (k, v) in attrs {
            self.attr(&format!("{dir}/{k}"), v);
        }
        self.rlink(&format!("{dir}/subsystem"), &format!("sys/bus/{bus}"));
        self.rlink(&format!("sys/bus/{bus}/devices/{name}"), &dir);
        if let Some(d) = driver {
            self.register_driver(bus, d);
            self.rlink(
                &format!("{dir}/driver"),
                &format!("sys/bus/{bus}/drivers/{d}"),
            );
            self.rlink(&format!("sys/bus/{bus}/drivers/{d}/{name}"), &dir);
        }
        dir
    }

    pub fn register_driver(&self, bus: &str, driver: &str) {
        self.mkdir(&format!("sys/bus/{bus}/drivers/{driver}"));
    }

    /// Unbinds a device: removes its `driver` link and the driver's back link.
    pub fn unbind(&self, bus: &str, name: &str) {
        let dev = format!("sys/bus/{bus}/devices/{name}");
        let drv = std::fs::read_link(self.abs(&format!("{dev}/driver")))
            .unwrap_or_else(|_| panic!("fixture: {dev} is not bound"));
        let drv_name = drv.file_name().unwrap().to_string_lossy().to_string();
        self.remove(&format!("{dev}/driver"));
        self.remove(&format!("sys/bus/{bus}/drivers/{drv_name}/{name}"));
    }

    /// Removes a device entirely (bus link, driver link, device directory).
    pub fn remove_device(&self, bus: &str, name: &str) {
        let dev = format!("sys/bus/{bus}/devices/{name}");
        let target = std::fs::canonicalize(self.abs(&dev)).expect("device exists");
        if let Ok(drv) = std::fs::read_link(self.abs(&format!("{dev}/driver"))) {
            let d = drv.file_name().unwrap().to_string_lossy().to_string();
            self.remove(&format!("sys/bus/{bus}/drivers/{d}/{name}"));
        }
        self.remove(&dev);
        std::fs::remove_dir_all(target).expect("rm device dir");
    }

    /// An input device `inputN` under `parent_dir` (root-relative device directory).
    #[allow(clippy::too_many_arguments)]
    pub fn input(
        &self,
        n: u32,
        parent_dir: &str,
        name: &str,
        id: (u16, u16, u16, u16),
        caps: &[(&str, &str)],
        event: Option<u32>,
        udev: &[(&str, &str)],
    ) -> String {
        let dir = format!("{parent_dir}/input/input{n}");
        self.attr(&format!("{dir}/name"), name);
        self.attr(&format!("{dir}/phys"), "");
        for (f, v) in [
            ("bustype", id.0),
            ("vendor", id.1),
            ("product", id.2),
            ("version", id.3),
        ] {
            self.attr(&format!("{dir}/id/{f}"), &format!("{v:04x}"));
        }
        for kind in ["ev", "key", "sw", "abs", "rel", "msc"] {
            let v = caps
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, v)| *v)
                .unwrap_or("0");
            self.attr(&format!("{dir}/capabilities/{kind}"), v);
        }
        self.attr(&format!("{dir}/properties"), "0");
        self.rlink(&format!("{dir}/device"), parent_dir);
        self.rlink(&format!("{dir}/subsystem"), "sys/class/input");
        self.rlink(&format!("sys/class/input/input{n}"), &dir);
        if let Some(e) = event {
            let ev = format!("{dir}/event{e}");
            self.attr(&format!("{ev}/dev"), &format!("13:{}", 64 + e));
            self.rlink(&format!("sys/class/input/event{e}"), &ev);
            let mut rec = String::from("I:1000000\nG:seat\n");
            for (k, v) in udev {
                rec.push_str(&format!("E:{k}={v}\n"));
            }
            self.file(&format!("run/udev/data/c13:{}", 64 + e), rec);
            self.char_node(&format!("dev/input/event{e}"), 13, 64 + e as u64);
        }
        dir
    }

    pub fn power_supply(&self, name: &str, parent_dir: &str, props: &[(&str, &str)]) {
        let dir = format!("{parent_dir}/power_supply/{name}");
        let mut u = format!("POWER_SUPPLY_NAME={name}\n");
        for (k, v) in props {
            u.push_str(&format!("POWER_SUPPLY_{}={v}\n", k.to_ascii_uppercase()));
            self.attr(&format!("{dir}/{k}"), v);
        }
        self.file(&format!("{dir}/uevent"), u);
        self.rlink(&format!("{dir}/device"), parent_dir);
        self.rlink(&format!("sys/class/power_supply/{name}"), &dir);
    }

    pub fn video(&self, sysname: &str, parent_dir: &str, name: &str, minor: u64) {
        let dir = format!("{parent_dir}/video4linux/{sysname}");
        self.attr(&format!("{dir}/name"), name);
        self.rlink(&format!("{dir}/device"), parent_dir);
        self.rlink(&format!("sys/class/video4linux/{sysname}"), &dir);
        self.char_node(&format!("dev/{sysname}"), 81, minor);
    }

    /// A media-controller device. It is on the media bus, not in a class: its directory
    /// is directly under its parent's and it has no `device` link (as Linux lays it out).
    pub fn media(&self, sysname: &str, parent_dir: &str, model: &str, minor: u64) {
        let dir = format!("{parent_dir}/{sysname}");
        self.attr(&format!("{dir}/model"), model);
        self.rlink(&format!("sys/bus/media/devices/{sysname}"), &dir);
        self.char_node(&format!("dev/{sysname}"), 238, minor);
    }

    // ---- procfs and kernel ---------------------------------------------------

    pub fn kernel(&self, release: &str, version: &str, cmdline: &str) {
        self.attr("proc/sys/kernel/osrelease", release);
        self.attr("proc/sys/kernel/tainted", "0");
        self.attr("proc/sys/kernel/hostname", "sb2-owner");
        self.attr(
            "proc/version",
            &format!("Linux version {release} {version}"),
        );
        self.attr("proc/cmdline", cmdline);
    }

    pub fn config_text(options: &[(&str, &str)]) -> String {
        let mut s = String::from("#\n# Automatically generated file; DO NOT EDIT.\n#\n");
        for (k, v) in options {
            if v.is_empty() {
                s.push_str(&format!("# CONFIG_{k} is not set\n"));
            } else {
                s.push_str(&format!("CONFIG_{k}={v}\n"));
            }
        }
        s
    }

    /// `proc/modules` and `sys/module/<name>` for these modules.
    pub fn loaded_modules(&self, names: &[&str]) {
        let mut s = String::new();
        for n in names {
            s.push_str(&format!("{n} 40960 0 - Live 0x0000000000000000\n"));
            self.mkdir(&format!("sys/module/{n}"));
        }
        self.file("proc/modules", s);
    }

    /// A module tree in `dir` with these (name, path) modules and built-ins.
    pub fn module_tree(&self, dir: &str, modules: &[(&str, &str)], builtin: &[&str]) {
        let mut dep = String::new();
        let mut alias = String::from("# Aliases extracted from modules themselves.\n");
        for (name, path) in modules {
            dep.push_str(&format!("{path}:\n"));
            alias.push_str(&format!("alias platform:{name} {name}\n"));
            self.file(&format!("{dir}/{path}"), b"\x28\xb5\x2f\xfd");
        }
        let mut b = String::new();
        for name in builtin {
            b.push_str(&format!("kernel/drivers/builtin/{name}.ko\n"));
        }
        self.file(&format!("{dir}/modules.dep"), dep);
        self.file(&format!("{dir}/modules.builtin"), b);
        self.file(&format!("{dir}/modules.alias"), alias);
    }

    /// Unloads a module: drops its `proc/modules` line and `sys/module/<name>`.
    pub fn unload_module(&self, name: &str) {
        let text = std::fs::read_to_string(self.abs("proc/modules")).expect("proc/modules");
        assert!(
            text.lines().any(|l| l.split(' ').next() == Some(name)),
            "fixture: module {name} is not loaded"
        );
        let kept: String = text
            .lines()
            .filter(|l| l.split(' ').next() != Some(name))
            .map(|l| format!("{l}\n"))
            .collect();
        self.file("proc/modules", kept);
        if self.exists(&format!("sys/module/{name}")) {
            self.remove(&format!("sys/module/{name}"));
        }
    }

    /// Loads a module: adds its `proc/modules` line and `sys/module/<name>`.
    pub fn load_module(&self, name: &str) {
        let mut text = std::fs::read_to_string(self.abs("proc/modules")).unwrap_or_default();
        text.push_str(&format!("{name} 40960 0 - Live 0x0000000000000000\n"));
        self.file("proc/modules", text);
        self.mkdir(&format!("sys/module/{name}"));
    }

    /// Unregisters a driver that no device is bound to.
    pub fn unregister_driver(&self, bus: &str, driver: &str) {
        let dir = format!("sys/bus/{bus}/drivers/{driver}");
        let bound = std::fs::read_dir(self.abs(&dir))
            .unwrap_or_else(|e| panic!("fixture: {dir}: {e}"))
            .count();
        assert_eq!(bound, 0, "fixture: devices are still bound to {dir}");
        self.remove(&dir);
    }

    /// Removes an input device `inputN` with its event handlers, their device nodes
    /// and udev records.
    pub fn remove_input(&self, n: u32) {
        let class = format!("sys/class/input/input{n}");
        let dir = std::fs::canonicalize(self.abs(&class))
            .unwrap_or_else(|e| panic!("fixture: {class}: {e}"));
        for entry in std::fs::read_dir(&dir).expect("input dir") {
            let name = entry.expect("dir entry").file_name();
            let name = name.to_string_lossy();
            if let Some(e) = name.strip_prefix("event") {
                let e: u64 = e.parse().expect("event number");
                self.remove(&format!("sys/class/input/event{e}"));
                self.remove(&format!("dev/input/event{e}"));
                self.remove(&format!("run/udev/data/c13:{}", 64 + e));
            }
        }
        self.remove(&class);
        std::fs::remove_dir_all(dir).expect("rm input dir");
    }

    /// Removes a power supply's class link and its directory.
    pub fn remove_power_supply(&self, name: &str) {
        let class = format!("sys/class/power_supply/{name}");
        let dir = std::fs::canonicalize(self.abs(&class)).expect("power supply exists");
        self.remove(&class);
        std::fs::remove_dir_all(dir).expect("rm power supply dir");
    }

    /// Removes a class device reached through `link` (a class or bus link to its
    /// directory) with its device node `dev/<node>`.
    pub fn remove_class_device(&self, link: &str, node: &str) {
        let dir = std::fs::canonicalize(self.abs(link))
            .unwrap_or_else(|e| panic!("fixture: {link}: {e}"));
        self.remove(link);
        std::fs::remove_dir_all(dir).expect("rm class device dir");
        self.remove(&format!("dev/{node}"));
    }
}
