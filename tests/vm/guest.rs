//! The guest of the real-kernel test: a Debian 12 kernel and an initramfs that runs
//! surface-check on it under QEMU (TCG).
//!
//! - The kernel is the package `linux-image-amd64` depends on, fetched with
//!   `apt-get download`, unpacked with `dpkg-deb -x`, and indexed with `depmod` as its
//!   postinst would (the package ships no modules.dep or modules.alias). It is cached
//!   under `target/vm/<package>/`, as is busybox from `busybox-static`.
//! - The initramfs (cpio newc, gzip) is rebuilt on every run, since it carries the
//!   `surface-check`, `surface-checkd` and the guest's helpers (examples/vm-*.rs: uinput
//!   and uhid devices, raw media ioctls, a switch of user) the tests built, stripped,
//!   with the libraries `ldd` lists, busybox, `tests/vm/init.sh` as `/init`, the
//!   kernel's `/boot/config-<release>`, its complete `modules.*` index files, the module
//!   files the guest loads plus those of the profile's modules the kernel has, and under
//!   `/etc/vm/` the load lists of both rounds, the buses surface-check reads, and the
//!   USB gadget's report descriptors. From this machine's packages: dbus-daemon with
//!   a system bus configuration and the project's policy (`dbus/`), dbus-send, and
//!   systemd-udevd with udevadm (packages `dbus` and `udev`).
//! - QEMU boots it with the Surface Book 2 13"'s SMBIOS identity and a hard timeout; the
//!   guest prints its results to the serial console between `@@VM` marker lines.
//!
//! Every missing tool or failed step is an error: the test fails, it never skips.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Modules the guest loads (with their dependencies from modules.dep), and parameters.
/// vivid: one instance with every node type but the framebuffer (bit 16): video, VBI,
/// radio and SDR capture and output, metadata, touch, and its media device. uhid and
/// hid-generic: the IPTS HID device made through /dev/uhid (examples/vm-uhid.rs).
pub const LOADS: &[(&str, &str)] = &[
    ("evdev", ""),
    ("uinput", ""),
    ("vivid", "n_devs=1 node_types=0xe0d3d"),
    ("surface_gpe", ""),
    ("uhid", ""),
    ("hid_generic", ""),
];

/// The guest's helper programs (examples/vm-*.rs), installed as `/bin/<name>`.
pub const HELPERS: &[&str] = &["vm-uinput", "vm-uhid", "vm-media", "vm-runas"];

/// The daemon, the crate's second binary, installed as `/bin/surface-checkd`.
pub const DAEMON: &str = "surface-checkd";

/// Programs of this machine's packages the guest runs, at the same paths: the system
/// bus (`dbus-send` comes with dbus-bin, which dbus depends on) and udev. systemd-udevd
/// is udevadm under another name, as the udev package installs it.
pub const SYSTEM_PROGRAMS: &[(&str, &str)] = &[
    ("/usr/bin/dbus-daemon", "dbus"),
    ("/usr/bin/dbus-send", "dbus"),
    ("/usr/bin/udevadm", "udev"),
];

/// Where the udev package installs the daemon.
const UDEVD: &str = "/lib/systemd/systemd-udevd";

/// The system bus's configuration in the guest (`/usr/share/dbus-1/system.conf`):
/// Debian's, without service activation, syslog and a pid file. The bus runs as
/// messagebus; policies come from `system.d/`, where the project's is installed.
fn dbus_system_conf() -> String {
    format!(
        "{}{}{}",
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <user>messagebus</user>
  <auth>EXTERNAL</auth>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
"#,
        crate::common::bus::SYSTEM_BUS_DEFAULT_POLICY,
        r#"  <includedir>system.d</includedir>
</busconfig>
"#
    )
}

/// The guest's users: root, the bus's user, and the unprivileged user 65534 the
/// tests switch to.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
    messagebus:x:100:101::/nonexistent:/bin/false\n\
    nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nmessagebus:x:101:\nnogroup:x:65534:\n";

/// The project's bus policy, installed where a distribution puts it.
const DBUS_POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/dbus/io.github.SurfaceCheck1.conf"
);

/// Modules the second round loads, to plug a USB gadget with the base keyboard's ids
/// into dummy_hcd's virtual host controller and bind it with usbhid (hid-generic is
/// loaded in the first round already); and usb_f_ss_lb, the vendor-specific function
/// of the gadget plugged in and out for surface-checkd before the base comes.
pub const BASE_LOADS: &[(&str, &str)] = &[
    ("dummy_hcd", ""),
    ("usb_f_hid", ""),
    ("usbhid", ""),
    ("usb_f_ss_lb", ""),
];

/// The gadget's keyboard interface: the HID 1.11 boot keyboard report descriptor
/// (appendix B.1): modifiers, a reserved byte, six key codes; five LEDs.
const KEYBOARD_DESC: &[u8] = &[
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01,
    0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x03, 0x95, 0x05, 0x75, 0x01,
    0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x03, 0x95, 0x06,
    0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xc0,
];

/// The gadget's pointer interface: a boot mouse (appendix B.2) with three buttons,
/// relative X and Y, and a wheel.
const MOUSE_DESC: &[u8] = &[
    0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x03,
    0x15, 0x00, 0x25, 0x01, 0x95, 0x03, 0x75, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x05, 0x81, 0x03,
    0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x03,
    0x81, 0x06, 0xc0, 0xc0,
];

/// Hard limit for one boot under TCG. The boot, both rounds and the functional tests
/// take 60 to 100 s of the guest's clock on a 2-core runner (the guest prints its
/// clock as `@@VM time` lines); the functional tests' own timeouts add at most 20 s
/// each when events do not arrive.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

pub type Result<T> = std::result::Result<T, String>;

/// A kernel unpacked and indexed on the host.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub package: String,
    pub release: String,
    /// The unpacked package: `boot/`, `lib/modules/<release>/`.
    pub root: PathBuf,
}

impl Kernel {
    pub fn vmlinuz(&self) -> PathBuf {
        self.root.join(format!("boot/vmlinuz-{}", self.release))
    }
    pub fn config(&self) -> PathBuf {
        self.root.join(format!("boot/config-{}", self.release))
    }
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join(format!("lib/modules/{}", self.release))
    }
}

/// What one guest run produced.
#[derive(Debug)]
pub struct Boot {
    pub kernel: Kernel,
    /// The serial console, `\r\n` folded to `\n`.
    pub console: String,
    /// Modules loaded in the first round, (name, path relative to the module
    /// directory), in order.
    pub loaded: Vec<(String, String)>,
    /// Modules loaded in the second round, to attach the base.
    pub loaded_base: Vec<(String, String)>,
    /// Module files copied into the guest (relative to the module directory).
    pub module_files: BTreeSet<String>,
    pub prepare_time: Duration,
    pub boot_time: Duration,
    /// `target/vm`: the cache, the last console, the transcripts.
    pub vm_dir: PathBuf,
}

impl Boot {
    /// The text between `@@VM <name> begin` and `@@VM <name> end`.
    pub fn section(&self, name: &str) -> Option<&str> {
        let begin = format!("@@VM {name} begin\n");
        let end = format!("@@VM {name} end\n");
        let start = self.console.find(&begin)? + begin.len();
        let rest = &self.console[start..];
        let len = rest
            .match_indices(&end)
            .map(|(i, _)| i)
            .find(|&i| i == 0 || rest.as_bytes()[i - 1] == b'\n')?;
        Some(rest[..len].strip_suffix('\n').unwrap_or(&rest[..len]))
    }

    /// The value after `@@VM <key>=` on its own line (`capture rc=0` -> key `capture rc`).
    pub fn value(&self, key: &str) -> Option<&str> {
        let prefix = format!("@@VM {key}=");
        self.console
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

fn run(cmd: &mut Command) -> Result<std::process::Output> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// Builds `surface-check`, `surface-checkd` and the [`HELPERS`] examples with the test
/// profile's settings (`cargo test` has built them already, so this costs nothing; a
/// release build would compile every dependency again); returns the path of
/// surface-check and those of surface-checkd and the helpers by name (all installed as
/// `/bin/<name>`).
pub fn build_binaries() -> Result<(PathBuf, BTreeMap<String, PathBuf>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--bin",
        "surface-check",
        "--bin",
        DAEMON,
    ]);
    for h in HELPERS {
        cmd.args(["--example", h]);
    }
    let out = run(cmd
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit()))?;
    let mut bin = None;
    let mut helpers = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = v["executable"].as_str() else {
            continue;
        };
        match v["target"]["name"].as_str() {
            Some("surface-check") => bin = Some(PathBuf::from(exe)),
            Some(h) if HELPERS.contains(&h) || h == DAEMON => {
                helpers.insert(h.to_string(), PathBuf::from(exe));
            }
            _ => {}
        }
    }
    let bin = bin.ok_or("cargo build reported no surface-check executable")?;
    for h in HELPERS.iter().chain([&DAEMON]) {
        if !helpers.contains_key(*h) {
            return Err(format!("cargo build reported no {h} executable"));
        }
    }
    Ok((bin, helpers))
}

/// `target/vm`, next to the profile directory of `bin`.
pub fn vm_dir(bin: &Path) -> Result<PathBuf> {
    let target = bin
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{}: not under a target directory", bin.display()))?;
    let dir = target.join("vm");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The kernel package `linux-image-amd64` depends on, from the local apt lists.
pub fn kernel_package() -> Result<String> {
    let out = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))
        .map_err(|e| format!("{e}\n(is this Debian with `apt-get update` done?)"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64"))
        .map(str::to_string)
        .ok_or_else(|| "apt-cache depends linux-image-amd64 names no linux-image-*-amd64".into())
}

/// Downloads `package` with apt-get and unpacks it into `dest` (replaced).
fn fetch_deb(vm: &Path, package: &str, dest: &Path) -> Result<()> {
    let dl = vm.join("download");
    let _ = std::fs::remove_dir_all(&dl);
    std::fs::create_dir_all(&dl).map_err(|e| format!("{}: {e}", dl.display()))?;
    run(Command::new("apt-get")
        .args(["download", package])
        .current_dir(&dl))?;
    let deb = std::fs::read_dir(&dl)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| format!("apt-get download {package} left no .deb"))?;
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(dest))?;
    let _ = std::fs::remove_dir_all(&dl);
    Ok(())
}

/// The kernel, from the cache or fetched, unpacked and indexed.
pub fn kernel(vm: &Path) -> Result<Kernel> {
    let package = kernel_package()?;
    let release = package
        .strip_prefix("linux-image-")
        .expect("checked prefix")
        .to_string();
    let dir = vm.join(&package);
    let k = Kernel {
        package: package.clone(),
        release: release.clone(),
        root: dir.join("root"),
    };
    let stamp = dir.join("ready");
    if stamp.exists() {
        return Ok(k);
    }
    // A newer kernel replaces the cached ones (400 MB each unpacked).
    if let Ok(entries) = std::fs::read_dir(vm) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("linux-image-") && name != package {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    fetch_deb(vm, &package, &k.root)?;
    for p in [
        k.vmlinuz(),
        k.config(),
        k.modules_dir().join("modules.builtin"),
    ] {
        if !p.is_file() {
            return Err(format!("{package} has no {}", p.display()));
        }
    }
    // What the package's postinst does on a real install.
    run(Command::new("depmod").arg("-b").arg(&k.root).arg(&release))
        .map_err(|e| format!("{e}\n(depmod comes with the `kmod` package)"))?;
    for f in ["modules.dep", "modules.alias"] {
        if !k.modules_dir().join(f).is_file() {
            return Err(format!("depmod wrote no {f}"));
        }
    }
    std::fs::write(&stamp, &release).map_err(|e| e.to_string())?;
    Ok(k)
}

/// Static busybox from `busybox-static`, from the cache or fetched.
pub fn busybox(vm: &Path) -> Result<PathBuf> {
    let dir = vm.join("busybox-static");
    let bin = dir.join("root/bin/busybox");
    if dir.join("ready").exists() && bin.is_file() {
        return Ok(bin);
    }
    fetch_deb(vm, "busybox-static", &dir.join("root"))?;
    if !bin.is_file() {
        return Err("busybox-static has no bin/busybox".into());
    }
    std::fs::write(dir.join("ready"), "").map_err(|e| e.to_string())?;
    Ok(bin)
}

/// Module name -> (path, dependency paths).
pub type Deps = BTreeMap<String, (String, Vec<String>)>;

/// `modules.dep`: module name (`-` folded to `_`) -> (path, dependency paths).
pub fn modules_dep(text: &str) -> Deps {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(path, deps)| {
            let file = path.rsplit('/').next()?;
            let name = file.split_once(".ko")?.0.replace('-', "_");
            let deps = deps.split_whitespace().map(str::to_string).collect();
            Some((name, (path.to_string(), deps)))
        })
        .collect()
}

/// The load order of `loads`: each module's dependencies (from modules.dep) first,
/// skipping those in `seen` (already loaded); returns (name, path, parameters).
pub fn load_order(
    dep: &Deps,
    loads: &[(&str, &str)],
    seen: &mut BTreeSet<String>,
) -> Result<Vec<(String, String, String)>> {
    let by_path: BTreeMap<&str, &str> = dep
        .iter()
        .map(|(n, (p, _))| (p.as_str(), n.as_str()))
        .collect();
    fn visit(
        name: &str,
        dep: &Deps,
        by_path: &BTreeMap<&str, &str>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, String)>,
    ) -> Result<()> {
        if seen.contains(name) {
            return Ok(());
        }
        seen.insert(name.to_string());
        let (path, deps) = dep
            .get(name)
            .ok_or_else(|| format!("{name} is not in modules.dep"))?;
        for d in deps {
            let dn = by_path
                .get(d.as_str())
                .ok_or_else(|| format!("{d} (needed by {name}) is not in modules.dep"))?;
            visit(dn, dep, by_path, seen, out)?;
        }
        out.push((name.to_string(), path.clone()));
        Ok(())
    }
    let mut order = Vec::new();
    for (name, _) in loads {
        visit(name, dep, &by_path, seen, &mut order)?;
    }
    Ok(order
        .into_iter()
        .map(|(n, p)| {
            let params = loads
                .iter()
                .find(|(l, _)| *l == n)
                .map(|(_, p)| p.to_string())
                .unwrap_or_default();
            (n, p, params)
        })
        .collect())
}

/// Shared libraries a dynamic executable needs, as `ldd` lists them (absolute paths).
fn libraries(exe: &Path) -> Result<Vec<PathBuf>> {
    let out = run(Command::new("ldd").arg(exe))?;
    let mut libs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    if libs.is_empty() {
        return Err(format!("ldd lists no libraries for {}", exe.display()));
    }
    Ok(libs)
}

/// A cpio archive in the `newc` format, as the kernel unpacks an initramfs.
#[derive(Default)]
pub struct Cpio {
    out: Vec<u8>,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    fn header(&mut self, name: &str, mode: u32, size: usize) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            1, // nlink
            0, // mtime
            size as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// Adds `dir` and its parents, once each.
    pub fn dir(&mut self, dir: &str) {
        let mut cur = String::new();
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(part);
            if self.dirs.insert(cur.clone()) {
                let c = cur.clone();
                self.header(&c, 0o040755, 0);
            }
        }
    }

    fn parent(&mut self, name: &str) {
        if let Some((parent, _)) = name.rsplit_once('/') {
            self.dir(parent);
        }
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        let name = name.trim_start_matches('/');
        self.parent(name);
        self.header(name, 0o100000 | mode, data.len());
        self.out.extend_from_slice(data);
        self.pad();
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        let name = name.trim_start_matches('/');
        self.parent(name);
        self.header(name, 0o120777, target.len());
        self.out.extend_from_slice(target.as_bytes());
        self.pad();
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.header("TRAILER!!!", 0, 0);
        self.out
    }
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// A built initramfs.
pub struct Initramfs {
    /// The gzipped cpio archive.
    pub archive: Vec<u8>,
    /// Modules the guest loads, (name, path), in order, in each round.
    pub loads: Vec<(String, String)>,
    pub loads_base: Vec<(String, String)>,
    /// Module files in the archive, relative to the module directory.
    pub module_files: BTreeSet<String>,
}

/// The initramfs for `kernel`.
pub fn initramfs(
    kernel: &Kernel,
    busybox: &Path,
    bin: &Path,
    helpers: &BTreeMap<String, PathBuf>,
) -> Result<Initramfs> {
    let mut c = Cpio::default();
    for d in ["proc", "sys", "dev", "run", "tmp", "etc/vm", "sbin"] {
        c.dir(d);
    }
    let init = read(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vm/init.sh"
    )))?;
    c.file("init", 0o755, &init);
    c.file("bin/busybox", 0o755, &read(busybox)?);
    c.symlink("bin/sh", "busybox");
    c.file("bin/surface-check", 0o755, &read(bin)?);
    for (name, exe) in helpers {
        c.file(&format!("bin/{name}"), 0o755, &read(exe)?);
    }
    let mut libs = BTreeSet::new();
    for exe in std::iter::once(bin).chain(helpers.values().map(PathBuf::as_path)) {
        libs.extend(libraries(exe)?);
    }
    for (path, package) in SYSTEM_PROGRAMS {
        let data =
            read(Path::new(path)).map_err(|e| format!("{e} (install the `{package}` package)"))?;
        c.file(path, 0o755, &data);
        libs.extend(libraries(Path::new(path))?);
    }
    // systemd-udevd: a link to udevadm, which tells by its name what to be.
    let udevadm = std::fs::canonicalize("/usr/bin/udevadm").map_err(|e| e.to_string())?;
    match std::fs::canonicalize(UDEVD) {
        Ok(p) if p == udevadm => c.symlink(UDEVD, "/usr/bin/udevadm"),
        Ok(p) => {
            c.file(UDEVD, 0o755, &read(&p)?);
            libs.extend(libraries(&p)?);
        }
        Err(e) => return Err(format!("{UDEVD}: {e} (install the `udev` package)")),
    }
    c.dir("etc/udev");
    // Where zbus, like most clients, finds the system bus: /var/run/dbus/.
    c.symlink("var/run", "../run");
    c.file(
        "usr/share/dbus-1/system.conf",
        0o644,
        dbus_system_conf().as_bytes(),
    );
    c.file(
        "usr/share/dbus-1/system.d/io.github.SurfaceCheck1.conf",
        0o644,
        &read(Path::new(DBUS_POLICY))?,
    );
    c.file("etc/passwd", 0o644, PASSWD.as_bytes());
    c.file("etc/group", 0o644, GROUP.as_bytes());
    for lib in &libs {
        c.file(&lib.to_string_lossy(), 0o755, &read(lib)?);
    }

    let rel = &kernel.release;
    c.file(
        &format!("boot/config-{rel}"),
        0o644,
        &read(&kernel.config())?,
    );
    let mdir = kernel.modules_dir();
    let mut index: Vec<PathBuf> = std::fs::read_dir(&mdir)
        .map_err(|e| format!("{}: {e}", mdir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("modules."))
        })
        .collect();
    index.sort();
    for p in &index {
        let name = p.file_name().unwrap().to_string_lossy();
        c.file(&format!("lib/modules/{rel}/{name}"), 0o644, &read(p)?);
    }

    let dep_text = String::from_utf8_lossy(&read(&mdir.join("modules.dep"))?).into_owned();
    let dep = modules_dep(&dep_text);
    let mut seen = BTreeSet::new();
    let order = load_order(&dep, LOADS, &mut seen)?;
    let order_base = load_order(&dep, BASE_LOADS, &mut seen)?;
    let mut files: BTreeSet<String> = order
        .iter()
        .chain(&order_base)
        .map(|(_, p, _)| p.clone())
        .collect();
    // The profile's modules this kernel has, so the module tree's file checks see them.
    for m in surface_check::profiles::SURFACE_BOOK_2.modules() {
        if let Some((p, _)) = dep.get(m) {
            files.insert(p.clone());
        }
    }
    for f in &files {
        c.file(
            &format!("lib/modules/{rel}/{f}"),
            0o644,
            &read(&mdir.join(f))?,
        );
    }
    let list = |order: &[(String, String, String)]| -> String {
        order
            .iter()
            .map(|(n, p, params)| format!("{n} {p} {params}\n"))
            .collect()
    };
    c.file("etc/vm/modules", 0o644, list(&order).as_bytes());
    c.file("etc/vm/modules-base", 0o644, list(&order_base).as_bytes());
    let buses: Vec<&str> = surface_check::facts::devices::BUSES
        .iter()
        .map(|(b, _)| *b)
        .collect();
    c.file(
        "etc/vm/buses",
        0o644,
        format!("{}\n", buses.join(" ")).as_bytes(),
    );
    c.file("etc/vm/kbd.desc", 0o644, KEYBOARD_DESC);
    c.file("etc/vm/mouse.desc", 0o644, MOUSE_DESC);

    let cpio = c.finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&cpio).map_err(|e| e.to_string())?;
    let gz = gz.finish().map_err(|e| e.to_string())?;
    Ok(Initramfs {
        archive: gz,
        loads: order.into_iter().map(|(n, p, _)| (n, p)).collect(),
        loads_base: order_base.into_iter().map(|(n, p, _)| (n, p)).collect(),
        module_files: files,
    })
}

/// Boots `kernel` with `initrd` under QEMU with the Surface Book 2 13"'s SMBIOS
/// identity; returns the console once the guest powered off.
pub fn qemu(kernel: &Path, initrd: &Path, log: &Path) -> Result<String> {
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-machine", "q35", "-m", "512", "-smp", "1"])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio", "-monitor", "none"])
        .args([
            "-smbios",
            "type=1,manufacturer=Microsoft Corporation,product=Surface Book 2,\
             family=Surface,sku=Surface_Book_1832",
            "-smbios",
            "type=2,manufacturer=Microsoft Corporation,product=Surface Book 2",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 panic=-1 rdinit=/init"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run qemu-system-x86_64 ({e}): install the qemu-system-x86 package")
        })?;
    let buf = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = {
        let buf = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s);
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = reader.join();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let console = String::from_utf8_lossy(&buf.lock().unwrap()).replace("\r\n", "\n");
    let _ = std::fs::write(log, &console);
    match status {
        None => Err(format!(
            "the guest did not power off within {BOOT_TIMEOUT:?}; console ({}):\n{console}",
            log.display()
        )),
        Some(s) if !s.success() => Err(format!(
            "qemu-system-x86_64 exited with {s}: {stderr}\nconsole:\n{console}"
        )),
        Some(_) if !console.contains("@@VM done") => Err(format!(
            "the guest stopped before it finished; console ({}):\n{console}",
            log.display()
        )),
        Some(_) => Ok(console),
    }
}

/// An exclusive lock on the cache, released when dropped: test runs that share a
/// target directory fetch the kernel one at a time.
struct CacheLock {
    _file: std::fs::File,
}

impl CacheLock {
    fn take(vm: &Path) -> Result<CacheLock> {
        let path = vm.join("lock");
        let f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) } != 0 {
            return Err(format!(
                "{}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(CacheLock { _file: f })
    }
}

/// A copy of `exe` in `dir` without debug information (binutils' `strip`).
fn stripped(exe: &Path, dir: &Path) -> Result<PathBuf> {
    let name = exe
        .file_name()
        .ok_or_else(|| format!("{}: no file name", exe.display()))?;
    let out = dir.join(name);
    run(Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(exe))
    .map_err(|e| format!("{e}\n(strip comes with binutils)"))?;
    Ok(out)
}

/// Prepares the guest and boots it once. The console is also written to
/// `target/vm/console.log` (the last run's).
pub fn boot() -> Result<Boot> {
    let t0 = Instant::now();
    let (bin, helpers) = build_binaries()?;
    let vm = vm_dir(&bin)?;
    let lock = CacheLock::take(&vm)?;
    let kernel = kernel(&vm)?;
    let busybox = busybox(&vm)?;
    drop(lock);
    // Without debug info the guest's archive is a sixth of the size.
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = stripped(&bin, tmp.path())?;
    let helpers = helpers
        .iter()
        .map(|(n, p)| Ok((n.clone(), stripped(p, tmp.path())?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let initrd = initramfs(&kernel, &busybox, &bin, &helpers)?;
    let initrd_path = tmp.path().join("initramfs.cpio.gz");
    std::fs::write(&initrd_path, &initrd.archive).map_err(|e| e.to_string())?;
    let prepare_time = t0.elapsed();
    let t1 = Instant::now();
    let console = qemu(&kernel.vmlinuz(), &initrd_path, &vm.join("console.log"))?;
    let boot_time = t1.elapsed();
    Ok(Boot {
        kernel,
        console,
        loaded: initrd.loads,
        loaded_base: initrd.loads_base,
        module_files: initrd.module_files,
        prepare_time,
        boot_time,
        vm_dir: vm,
    })
}
