//! Fixtures modelled on REAL Surface Book 2 machines: six public hw-probe records
//! (linuxhw `Dmesg`, `DMI`, `LsPCI`, `LsUSB` repositories, path prefix
//! `Tablet/Microsoft/Surface/Surface Book 2/<probe>/`; tests/real/README.md lists the
//! exact files). One module per record in `tests/real/`, each citing the
//! record for every fact and marking what had to be invented; the record's kernel-log
//! lines, verbatim, are in `tests/real/<probe>.dmesg` and are fed with `--dmesg`.
//!
//! Each record is diagnosed three times: with `/dev` holding real device nodes (as
//! the generator makes them), with every `/dev` entry a plain empty file (a tree
//! copied without privileges), and with no `/dev` at all. A captured tree never
//! opens its nodes, so the verdicts must be the same in all three.
//!
//! The expected verdicts, and why, are tabled in `tests/real/README.md`.

mod common;

#[path = "real/r098a00936ea6.rs"]
mod r098a00936ea6;
#[path = "real/r1987f55fae3c.rs"]
mod r1987f55fae3c;
#[path = "real/r44cb94e9b7bc.rs"]
mod r44cb94e9b7bc;
#[path = "real/r5b3e4c5aaec5.rs"]
mod r5b3e4c5aaec5;
#[path = "real/r79d657bbd855.rs"]
mod r79d657bbd855;
#[path = "real/rdad0271d40b8.rs"]
mod rdad0271d40b8;

use std::path::{Path, PathBuf};

use common::sb2::PCI;
use common::tree::Tree;
use common::verdict::{self, Verdict};
use serde_json::Value;

pub const ACPI: &str = "sys/devices/LNXSYSTM:00/LNXSYBUS:00";
pub const XHCI: &str = "pci0000:00/0000:00:14.0";

// ---- building a record's tree ------------------------------------------------------

/// DMI as the record's linuxhw/DMI file (or its dmesg `DMI:` line) shows it. `None`
/// for the SKU removes the file: the record does not show it.
pub fn dmi(t: &Tree, sku: Option<&str>, bios: &str, product_version: Option<&str>) {
    match sku {
        Some(s) => t.attr("sys/class/dmi/id/product_sku", s),
        None => t.remove("sys/class/dmi/id/product_sku"),
    }
    t.attr("sys/class/dmi/id/bios_version", bios);
    if let Some(v) = product_version {
        t.attr("sys/class/dmi/id/product_version", v);
    }
}

pub fn os_release(t: &Tree, text: &str) {
    t.file("etc/os-release", text);
}

/// Where the kernel's config is: Arch builds IKCONFIG_PROC, Debian and Ubuntu
/// install `/boot/config-<release>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConfigAt {
    Proc,
    Boot,
}

/// (key, module name, path in the module tree without extension, config option).
const MODS: &[(&str, &str, &str, &str)] = &[
    (
        "mei_me",
        "mei_me",
        "kernel/drivers/misc/mei/mei-me",
        "INTEL_MEI_ME",
    ),
    (
        "ipts_hid",
        "ipts",
        "kernel/drivers/hid/ipts/ipts",
        "HID_IPTS",
    ),
    (
        "ipts_misc",
        "ipts",
        "kernel/drivers/misc/ipts/ipts",
        "MISC_IPTS",
    ),
    (
        "ipu3_cio2",
        "ipu3_cio2",
        "kernel/drivers/media/pci/intel/ipu3/ipu3-cio2",
        "VIDEO_IPU3_CIO2",
    ),
    (
        "ipu3_imgu",
        "ipu3_imgu",
        "kernel/drivers/staging/media/ipu3/ipu3-imgu",
        "VIDEO_IPU3_IMGU",
    ),
    (
        "intel_skl_int3472_discrete",
        "intel_skl_int3472_discrete",
        "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_discrete",
        "INTEL_SKL_INT3472",
    ),
    (
        "intel_skl_int3472_tps68470",
        "intel_skl_int3472_tps68470",
        "kernel/drivers/platform/x86/intel/int3472/intel_skl_int3472_tps68470",
        "INTEL_SKL_INT3472",
    ),
    (
        "ov5693",
        "ov5693",
        "kernel/drivers/media/i2c/ov5693",
        "VIDEO_OV5693",
    ),
    (
        "ov8865",
        "ov8865",
        "kernel/drivers/media/i2c/ov8865",
        "VIDEO_OV8865",
    ),
    (
        "ov7251",
        "ov7251",
        "kernel/drivers/media/i2c/ov7251",
        "VIDEO_OV7251",
    ),
    (
        "dw9719",
        "dw9719",
        "kernel/drivers/media/i2c/dw9719",
        "VIDEO_DW9719",
    ),
    (
        "atomisp",
        "atomisp",
        "kernel/drivers/staging/media/atomisp/atomisp",
        "INTEL_ATOMISP",
    ),
    (
        "atomisp_gmin_platform",
        "atomisp_gmin_platform",
        "kernel/drivers/staging/media/atomisp/atomisp_gmin_platform",
        "INTEL_ATOMISP",
    ),
    (
        "atomisp_ov5693",
        "atomisp_ov5693",
        "kernel/drivers/staging/media/atomisp/i2c/ov5693/atomisp-ov5693",
        "VIDEO_ATOMISP_OV5693",
    ),
    (
        "surface_aggregator",
        "surface_aggregator",
        "kernel/drivers/platform/surface/aggregator/surface_aggregator",
        "SURFACE_AGGREGATOR",
    ),
    (
        "surface_aggregator_registry",
        "surface_aggregator_registry",
        "kernel/drivers/platform/surface/surface_aggregator_registry",
        "SURFACE_AGGREGATOR_REGISTRY",
    ),
    (
        "surface_acpi_notify",
        "surface_acpi_notify",
        "kernel/drivers/platform/surface/surface_acpi_notify",
        "SURFACE_ACPI_NOTIFY",
    ),
    (
        "surface_dtx",
        "surface_dtx",
        "kernel/drivers/platform/surface/surface_dtx",
        "SURFACE_DTX",
    ),
    (
        "surface_platform_profile",
        "surface_platform_profile",
        "kernel/drivers/platform/surface/surface_platform_profile",
        "SURFACE_PLATFORM_PROFILE",
    ),
    (
        "surface_hotplug",
        "surface_hotplug",
        "kernel/drivers/platform/surface/surface_hotplug",
        "SURFACE_HOTPLUG",
    ),
    (
        "surface_gpe",
        "surface_gpe",
        "kernel/drivers/platform/surface/surface_gpe",
        "SURFACE_GPE",
    ),
    (
        "soc_button_array",
        "soc_button_array",
        "kernel/drivers/input/misc/soc_button_array",
        "INPUT_SOC_BUTTON_ARRAY",
    ),
    (
        "mwifiex_pcie",
        "mwifiex_pcie",
        "kernel/drivers/net/wireless/marvell/mwifiex/mwifiex_pcie",
        "MWIFIEX_PCIE",
    ),
    (
        "btusb",
        "btusb",
        "kernel/drivers/bluetooth/btusb",
        "BT_HCIBTUSB",
    ),
    (
        "intel_lpss_pci",
        "intel_lpss_pci",
        "kernel/drivers/mfd/intel-lpss-pci",
        "MFD_INTEL_LPSS_PCI",
    ),
    (
        "8250_dw",
        "8250_dw",
        "kernel/drivers/tty/serial/8250/8250_dw",
        "SERIAL_8250_DW",
    ),
];

/// The running kernel of a record: its release and `Linux version` line, and (all
/// invented unless a module says otherwise) its config, module tree and loaded
/// modules.
pub struct Kernel<'a> {
    /// `uname -r`, from the record's `Linux version` line.
    pub release: &'a str,
    /// The rest of the `Linux version` line after the release.
    pub version: &'a str,
    pub cmdline: &'a str,
    /// Keys of [`MODS`] built as modules (`=m`, file in the module tree).
    pub modules: &'a [&'a str],
    /// Config options built in (`=y`).
    pub builtin: &'a [&'a str],
    /// Other config lines (`("CIO2_BRIDGE", "y")`, `("INTEL_ATOMISP", "")`).
    pub other_config: &'a [(&'a str, &'a str)],
    /// Modules in /proc/modules.
    pub loaded: &'a [&'a str],
    pub tainted: u64,
    /// Module file suffix: `.ko`, `.ko.xz`, `.ko.zst`.
    pub ext: &'a str,
    pub config_at: ConfigAt,
}

/// Replaces the generator's kernel (release, config, module tree, loaded modules)
/// with the record's. `old_release` is the generator's release, whose module tree goes.
pub fn kernel(t: &Tree, old_release: &str, k: &Kernel) {
    t.remove(&format!("lib/modules/{old_release}"));
    t.kernel(k.release, k.version, k.cmdline);
    t.attr("proc/sys/kernel/tainted", &k.tainted.to_string());
    let mut config: Vec<(&str, &str)> = Vec::new();
    let mut files: Vec<(&str, String)> = Vec::new();
    for key in k.modules {
        let (_, name, path, opt) = MODS
            .iter()
            .find(|m| m.0 == *key)
            .unwrap_or_else(|| panic!("fixture: no module {key}"));
        if !config.iter().any(|(o, _)| o == opt) {
            config.push((opt, "m"));
        }
        files.push((name, format!("{path}{}", k.ext)));
    }
    config.extend(k.builtin.iter().map(|o| (*o, "y")));
    config.extend(k.other_config.iter().copied());
    let text = Tree::config_text(&config);
    t.remove("proc/config.gz");
    match k.config_at {
        ConfigAt::Proc => t.gz("proc/config.gz", &text),
        ConfigAt::Boot => t.file(&format!("boot/config-{}", k.release), text),
    }
    let mods: Vec<(&str, &str)> = files.iter().map(|(n, p)| (*n, p.as_str())).collect();
    let builtin: Vec<&str> = [
        ("PINCTRL_SUNRISEPOINT", "pinctrl_sunrisepoint"),
        ("ACPI_BATTERY", "battery"),
        ("ACPI_AC", "ac"),
        ("ACPI_BUTTON", "button"),
    ]
    .iter()
    .filter(|(o, _)| k.builtin.contains(o))
    .map(|(_, m)| *m)
    .collect();
    t.module_tree(&format!("lib/modules/{}", k.release), &mods, &builtin);
    // The generator's /sys/module entries go with its /proc/modules.
    if t.exists("sys/module") {
        for e in std::fs::read_dir(t.path().join("sys/module")).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "firmware_class" {
                std::fs::remove_dir_all(e.path()).unwrap();
            }
        }
    }
    t.loaded_modules(k.loaded);
}

/// A PCI function at `devpath` (under `pci0000:00`).
pub fn pci(t: &Tree, devpath: &str, id: (&str, &str), class: &str, driver: Option<&str>) {
    let slot = devpath.rsplit('/').next().unwrap();
    t.device(
        "pci",
        slot,
        &format!("{PCI}/{devpath}"),
        driver,
        &[("vendor", id.0), ("device", id.1), ("class", class)],
    );
}

/// An ACPI companion device with `_STA` status.
pub fn acpi(t: &Tree, name: &str, status: &str) {
    t.device(
        "acpi",
        name,
        &format!("LNXSYSTM:00/LNXSYBUS:00/{name}"),
        None,
        &[("status", status)],
    );
}

/// A platform device `name` (created from ACPI), bound to `driver` or not.
pub fn platform(t: &Tree, name: &str, driver: Option<&str>) {
    t.device("platform", name, &format!("platform/{name}"), driver, &[]);
}

/// An I2C client of an ACPI sensor on the DesignWare controller of `ctl` (a PCI slot).
pub fn i2c_client(t: &Tree, hid: &str, bus: u32, ctl: &str, driver: Option<&str>) {
    t.device(
        "i2c",
        &format!("i2c-{hid}:00"),
        &format!("{PCI}/{ctl}/i2c_designware.{bus}/i2c-{bus}/i2c-{hid}:00"),
        driver,
        &[("name", &format!("{hid}:00"))],
    );
}

/// A USB device under the xHCI at `path` (`usb1/1-1/1-1.3`).
pub fn usb(t: &Tree, path: &str, id: (&str, &str), product: &str) {
    let name = path.rsplit('/').next().unwrap();
    t.device(
        "usb",
        name,
        &format!("{XHCI}/{path}"),
        Some("usb"),
        &[
            ("idVendor", id.0),
            ("idProduct", id.1),
            ("product", product),
        ],
    );
}

/// Replaces the generator's two gpio-keys devices (`gpio-keys.1.auto`, `.2.auto`,
/// inputs 1 and 2) with the instance numbers the record shows.
pub fn gpio_keys(t: &Tree, power: &str, volume: &str) {
    for (n, name) in [(1, "gpio-keys.1.auto"), (2, "gpio-keys.2.auto")] {
        t.remove_input(n);
        t.remove_device("platform", name);
    }
    let bits_power = common::sb2::bits(&[116]);
    let bits_volume = common::sb2::bits(&[114, 115]);
    for (n, name, keys) in [(1, power, bits_power), (2, volume, bits_volume)] {
        let dir = t.device(
            "platform",
            name,
            &format!("platform/MSHW0040:00/{name}"),
            Some("gpio-keys"),
            &[],
        );
        t.input(
            n,
            &dir,
            "gpio-keys",
            (0x19, 1, 1, 0x100),
            &[("ev", "3"), ("key", &keys)],
            Some(n),
            &[("ID_INPUT", "1"), ("ID_INPUT_KEY", "1")],
        );
    }
}

/// iptsd 0.x, the generation of the pre-2023 MISC_IPTS driver: `iptsd.service`
/// running, with its uinput devices "IPTS Touch" and "IPTS Stylus" at the record's
/// input numbers. Replaces the generator's iptsd >= 1.0 unit and rule.
pub fn iptsd_0x(t: &Tree, touch_input: u32, stylus_input: u32) {
    t.remove("usr/lib/systemd/system/iptsd@.service");
    t.remove("usr/lib/udev/rules.d/50-iptsd.rules");
    t.file(
        "usr/lib/systemd/system/iptsd.service",
        "[Service]\nExecStart=/usr/bin/iptsd\n",
    );
    t.attr(
        "sys/fs/cgroup/system.slice/iptsd.service/cgroup.procs",
        "1234",
    );
    t.attr("proc/1234/comm", "iptsd");
    virtual_ipts_inputs(t, touch_input, stylus_input);
}

/// The uinput devices "IPTS Touch" and "IPTS Stylus" (`/devices/virtual/input/inputN`).
pub fn virtual_ipts_inputs(t: &Tree, touch_input: u32, stylus_input: u32) {
    t.input(
        touch_input,
        "sys/devices/virtual",
        "IPTS Touch",
        (0x03, 0x045e, 0x0000, 0),
        &[("ev", "b"), ("key", "400 0 0 0 0 0"), ("abs", "2608000 3")],
        Some(touch_input),
        &[("ID_INPUT", "1"), ("ID_INPUT_TOUCHSCREEN", "1")],
    );
    t.input(
        stylus_input,
        "sys/devices/virtual",
        "IPTS Stylus",
        (0x03, 0x045e, 0x0000, 0),
        &[
            ("ev", "b"),
            ("key", "c03 0 0 0 0 0"),
            ("abs", "1000d000003"),
        ],
        Some(stylus_input),
        &[("ID_INPUT", "1"), ("ID_INPUT_TABLET", "1")],
    );
}

/// No iptsd and no surface-dtx-daemon installed: a distribution without the
/// linux-surface repository.
pub fn no_surface_userspace(t: &Tree) {
    for f in [
        "usr/lib/systemd/system/iptsd@.service",
        "usr/lib/udev/rules.d/50-iptsd.rules",
        "usr/lib/systemd/system/surface-dtx-daemon.service",
        "usr/lib/udev/rules.d/40-surface_dtx.rules",
        "etc/systemd/system/multi-user.target.wants/surface-dtx-daemon.service",
        "sys/fs/cgroup/system.slice/surface-dtx-daemon.service",
        "proc/987",
    ] {
        if t.exists(f) {
            t.remove(f);
        }
    }
    if t.exists("sys/fs/cgroup/system.slice/system-iptsd.slice") {
        t.remove("sys/fs/cgroup/system.slice/system-iptsd.slice");
    }
    if t.exists("proc/1234") {
        t.remove("proc/1234");
    }
}

// ---- /dev as trees are really captured ---------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevMode {
    /// Real device nodes (mknod), as the generator makes them.
    Nodes,
    /// Every entry under /dev a plain empty file (copied without privileges).
    PlainFiles,
    /// No /dev at all.
    Missing,
}

const DEV_MODES: [DevMode; 3] = [DevMode::Nodes, DevMode::PlainFiles, DevMode::Missing];

fn plain_files(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("read /dev") {
        let e = e.expect("dir entry");
        let ty = e.file_type().expect("file type");
        if ty.is_dir() {
            plain_files(&e.path());
        } else {
            std::fs::remove_file(e.path()).expect("rm /dev entry");
            std::fs::write(e.path(), b"").expect("write plain file");
        }
    }
}

/// Rewrites the tree's `dev/` as `mode` says.
pub fn rewrite_dev(t: &Tree, mode: DevMode) {
    let dev = t.path().join("dev");
    match mode {
        DevMode::Nodes => {}
        DevMode::PlainFiles => plain_files(&dev),
        DevMode::Missing => {
            if dev.exists() {
                std::fs::remove_dir_all(&dev).expect("rm -r /dev");
            }
        }
    }
}

// ---- running and judging -----------------------------------------------------------

fn dmesg_file(probe: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/real/{probe}.dmesg"))
}

/// The binary, copied once per test process: other engineers rebuild
/// `target/debug/surface-check` while the suite runs, and the three /dev variants of
/// a record must be judged by the same build.
fn binary() -> &'static Path {
    static COPY: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &COPY
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let to = dir.path().join("surface-check");
            std::fs::copy(common::BIN, &to).expect("copying the binary");
            (dir, to)
        })
        .1
}

/// `status --local --root DIR --dmesg FILE --json` on the record's tree.
pub fn verdict(t: &Tree, probe: &str) -> Verdict {
    let dmesg = dmesg_file(probe);
    assert!(dmesg.exists(), "{} is missing", dmesg.display());
    let v = verdict::run(binary(), t.path(), &["--dmesg", dmesg.to_str().unwrap()]);
    common::assert_schema(&v.report);
    // REAL_DUMP=1 prints each report (for the README's verdict table).
    if std::env::var_os("REAL_DUMP").is_some() {
        eprintln!(
            "==== {probe} exit {}\n{}\n{}\n{}",
            v.code,
            serde_json::to_string(&v.report["machine"]).unwrap(),
            serde_json::to_string(&v.report["kernel"]).unwrap(),
            serde_json::to_string_pretty(&v.report["subsystems"]).unwrap()
        );
    }
    v
}

/// Collects every unmet expectation of a record, so that one run reports them all.
pub struct Expect<'a> {
    pub probe: &'static str,
    pub v: &'a Verdict,
    pub failures: Vec<String>,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

impl<'a> Expect<'a> {
    pub fn new(probe: &'static str, v: &'a Verdict) -> Expect<'a> {
        Expect {
            probe,
            v,
            failures: Vec::new(),
        }
    }

    pub fn sub(&self, id: &str) -> &Value {
        common::subsystem(&self.v.report, id)
    }

    pub fn check(&self, id: &str) -> &Value {
        common::check(&self.v.report, id)
    }

    /// All text of a subsystem: its summary, notices, and every check's summary,
    /// hint, evidence and notices.
    pub fn text(&self, sub: &str) -> String {
        serde_json::to_string(self.sub(sub)).unwrap()
    }

    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    pub fn that(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.fail(what.into());
        }
    }

    pub fn exit(&mut self, want: i32, why: &str) {
        let got = self.v.code;
        self.that(
            got == want,
            format!("exit code {got}, expected {want}: {why}"),
        );
    }

    /// Subsystem `id` has status `want`.
    pub fn status(&mut self, id: &str, want: &str, why: &str) {
        let got = s(&self.sub(id)["status"]);
        let summary = s(&self.sub(id)["summary"]);
        self.that(
            got == want,
            format!("{id}: {got} ({summary}), expected {want}: {why}"),
        );
    }

    /// Subsystem `id` does not have status `not`.
    pub fn status_not(&mut self, id: &str, not: &[&str], why: &str) {
        let got = s(&self.sub(id)["status"]);
        let summary = s(&self.sub(id)["summary"]);
        self.that(
            !not.contains(&got.as_str()),
            format!("{id}: {got} ({summary}), expected none of {not:?}: {why}"),
        );
    }

    pub fn decided_by(&mut self, id: &str, want: &str) {
        let got = s(&self.sub(id)["decided_by"]);
        self.that(
            got == want,
            format!("{id}: decided_by {got:?}, expected {want}"),
        );
    }

    pub fn check_status(&mut self, id: &str, want: &[&str], why: &str) {
        let c = self.check(id);
        let got = s(&c["status"]);
        let summary = s(&c["summary"]);
        self.that(
            want.contains(&got.as_str()),
            format!("{id}: {got} ({summary}), expected {want:?}: {why}"),
        );
    }

    /// The subsystem's own summary contains one of `needles` (case-insensitive).
    pub fn summary_names(&mut self, id: &str, needles: &[&str], why: &str) {
        let summary = s(&self.sub(id)["summary"]);
        let l = summary.to_lowercase();
        self.that(
            needles.iter().any(|n| l.contains(&n.to_lowercase())),
            format!("{id}: summary {summary:?} names none of {needles:?}: {why}"),
        );
    }

    /// Somewhere in the subsystem's report (summaries, evidence, notices, hints)
    /// one of `needles` appears (case-insensitive).
    pub fn mentions(&mut self, id: &str, needles: &[&str], why: &str) {
        let text = self.text(id).to_lowercase();
        self.that(
            needles.iter().any(|n| text.contains(&n.to_lowercase())),
            format!("{id}: report names none of {needles:?}: {why}"),
        );
    }

    /// Nowhere in the subsystem's report does `needle` appear.
    pub fn never_says(&mut self, id: &str, needle: &str, why: &str) {
        let text = self.text(id);
        self.that(
            !text.to_lowercase().contains(&needle.to_lowercase()),
            format!("{id}: report says {needle:?}: {why}"),
        );
    }

    /// The check's evidence includes a kernel-log line containing `needle`.
    pub fn cites_log(&mut self, check: &str, needle: &str) {
        let c = self.check(check);
        let found = c["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(c["notices"].as_array().into_iter().flatten())
            .any(|e| {
                let e = s(e);
                e.contains("kernel log") && e.contains(needle)
            });
        let summary = s(&c["summary"]);
        self.that(
            found,
            format!("{check}: ({summary}) cites no kernel-log line with {needle:?}"),
        );
    }

    /// Panics with every unmet expectation.
    pub fn done(self) {
        if !self.failures.is_empty() {
            panic!(
                "{}: {} unmet expectation(s):\n  - {}\n\nreport overview:\n{}\nstderr: {}",
                self.probe,
                self.failures.len(),
                self.failures.join("\n  - "),
                common::overview(&self.v.report),
                self.v.stderr
            );
        }
    }
}

/// What must not change with /dev: exit code, every subsystem's status and
/// deciding check, and every check's status.
fn signature(v: &Verdict) -> Vec<String> {
    let mut out = vec![format!("exit {}", v.code)];
    for sub in v.report["subsystems"].as_array().unwrap() {
        out.push(format!(
            "{} = {} (decided_by {})",
            s(&sub["id"]),
            s(&sub["status"]),
            s(&sub["decided_by"])
        ));
        for c in sub["checks"].as_array().unwrap() {
            out.push(format!(
                "  {} = {}: {}",
                s(&c["id"]),
                s(&c["status"]),
                s(&c["summary"])
            ));
        }
    }
    out
}

/// Builds the record three times, with /dev as nodes, plain files and missing, and
/// requires the same verdicts.
fn same_across_dev_modes(probe: &str, build: fn() -> Tree) {
    let sigs: Vec<(DevMode, Vec<String>)> = DEV_MODES
        .iter()
        .map(|m| {
            let t = build();
            rewrite_dev(&t, *m);
            match m {
                DevMode::Nodes => {}
                DevMode::PlainFiles => {
                    let kind = std::fs::symlink_metadata(t.path().join("dev/input/event0"))
                        .expect("dev/input/event0 as a plain file")
                        .file_type();
                    assert!(kind.is_file(), "{probe}: /dev entries became plain files");
                }
                DevMode::Missing => assert!(!t.exists("dev"), "{probe}: /dev removed"),
            }
            (*m, signature(&verdict(&t, probe)))
        })
        .collect();
    let base = &sigs[0].1;
    let mut diffs = Vec::new();
    for (m, sig) in &sigs[1..] {
        for (a, b) in base.iter().zip(sig) {
            if a != b {
                diffs.push(format!("{m:?}:\n    nodes: {a}\n    {m:?}: {b}"));
            }
        }
        if base.len() != sig.len() {
            diffs.push(format!("{m:?}: {} lines vs {}", sig.len(), base.len()));
        }
    }
    assert!(
        diffs.is_empty(),
        "{probe}: verdicts change with /dev:\n  {}",
        diffs.join("\n  ")
    );
}

macro_rules! record {
    ($m:ident, $probe:literal, $verdicts:ident, $dev:ident) => {
        #[test]
        fn $verdicts() {
            let t = $m::build();
            let v = verdict(&t, $probe);
            let mut e = Expect::new($probe, &v);
            $m::expect(&mut e);
            e.done();
        }

        #[test]
        fn $dev() {
            same_across_dev_modes($probe, $m::build);
        }
    };
}

record!(
    r79d657bbd855,
    "79D657BBD855",
    arch_surface_6_0_15in_79d657bbd855_verdicts,
    arch_surface_6_0_15in_79d657bbd855_dev_modes
);
record!(
    r5b3e4c5aaec5,
    "5B3E4C5AAEC5",
    mint_surface_5_19_13in_5b3e4c5aaec5_verdicts,
    mint_surface_5_19_13in_5b3e4c5aaec5_dev_modes
);
record!(
    r1987f55fae3c,
    "1987F55FAE3C",
    mint_surface_6_2_13in_i7_1987f55fae3c_verdicts,
    mint_surface_6_2_13in_i7_1987f55fae3c_dev_modes
);
record!(
    r098a00936ea6,
    "098A00936EA6",
    zorin_stock_5_15_15in_098a00936ea6_verdicts,
    zorin_stock_5_15_15in_098a00936ea6_dev_modes
);
record!(
    r44cb94e9b7bc,
    "44CB94E9B7BC",
    arch_stock_5_14_15in_44cb94e9b7bc_verdicts,
    arch_stock_5_14_15in_44cb94e9b7bc_dev_modes
);
record!(
    rdad0271d40b8,
    "DAD0271D40B8",
    debian_stock_5_10_13in_dad0271d40b8_verdicts,
    debian_stock_5_10_13in_dad0271d40b8_dev_modes
);

/// The dmesg files are the records' lines, verbatim: each starts at the kernel's
/// first message and every line has a `[seconds]` timestamp.
#[test]
fn dmesg_files_are_verbatim_excerpts() {
    for probe in [
        "79D657BBD855",
        "5B3E4C5AAEC5",
        "1987F55FAE3C",
        "098A00936EA6",
        "44CB94E9B7BC",
        "DAD0271D40B8",
    ] {
        let text = std::fs::read_to_string(dmesg_file(probe)).unwrap();
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("[    0.000000] Linux version "),
            "{probe}: {first}"
        );
        for l in text.lines() {
            assert!(
                l.starts_with('[') && l.contains("] "),
                "{probe}: not a dmesg line: {l}"
            );
        }
    }
}

/// The README's example outputs are what the binary prints for two of these records
/// (`README_DUMP=1` prints them).
#[test]
fn readme_shows_real_output() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    let mut failures = Vec::new();
    for (probe, build) in [
        ("79D657BBD855", r79d657bbd855::build as fn() -> Tree),
        ("DAD0271D40B8", rdad0271d40b8::build),
    ] {
        let t = build();
        let dmesg = dmesg_file(probe);
        let out = std::process::Command::new(binary())
            .args(["status", "--local", "--color", "never", "--root"])
            .arg(t.path())
            .arg("--dmesg")
            .arg(&dmesg)
            .env("NO_COLOR", "1")
            .output()
            .expect("running surface-check");
        let text = String::from_utf8(out.stdout).expect("UTF-8 output");
        if std::env::var_os("README_DUMP").is_some() {
            eprintln!("==== {probe} exit {:?}\n{text}", out.status.code());
        }
        let marker = format!(
            "<!-- real output: {probe} -->\n```\n$ surface-check status --root {probe}/ --dmesg tests/real/{probe}.dmesg\n"
        );
        let Some(start) = readme.find(&marker) else {
            failures.push(format!("README.md has no block `{}`", marker.trim_end()));
            continue;
        };
        let body = &readme[start + marker.len()..];
        let shown = &body[..body.find("```").unwrap_or(body.len())];
        if shown != text {
            let line = shown
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(shown.lines().count().min(text.lines().count()));
            failures.push(format!(
                "README.md's output of {probe} differs from the binary's from line {}:\n  README: {:?}\n  binary: {:?}",
                line + 1,
                shown.lines().nth(line),
                text.lines().nth(line)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
