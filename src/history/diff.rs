//! The regression rules, pure: what of a boot's facts matters for a diff
//! ([`DiffFacts`], taken from the collected facts through the profile), what changed
//! between two boots ([`FactChange`]), and which subsystems got worse or better
//! ([`compare`], [`diff`]).
//!
//! The statuses always come from the stored [`Report`](crate::report::Report)s: the
//! checks decide what works. [`DiffFacts`] only explains *what changed*: a module
//! gone from the kernel, a config option no longer set, a firmware file gone, a
//! driver no longer bound, a service no longer running, a udev rule gone. A fact that
//! could not be read on either boot is never claimed changed ([`DiffFacts::unknown`]).
//!
//! Each change is tied to the subsystems it concerns through the profile
//! ([`concerns`]): a subsystem's modules, config options, firmware, devices, services
//! and udev rules, so that a regression names only its own subsystem's changes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::BootRecord;
use crate::facts::{BusDevice, Fact, Facts};
use crate::profiles::{Driver, PciFn, Profile};
use crate::report::{Status, SubsystemReport};

/// The facts of one boot that matter for a diff: only what the profile names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiffFacts {
    /// The profile's modules loaded (`proc/modules`).
    pub modules_loaded: BTreeSet<String>,
    /// The profile's modules the kernel has (built in, or a file in its module tree).
    pub modules_in_kernel: BTreeSet<String>,
    /// The profile's config options as set (absent = not set).
    pub config: BTreeMap<String, String>,
    /// The profile's firmware files: found or not.
    pub firmware: BTreeMap<String, bool>,
    /// `"<bus>/<device>"` -> driver, for the profile's devices that are bound.
    pub bound: BTreeMap<String, String>,
    /// The profile's services running (`iptsd`, `surface-dtx-daemon`).
    pub services: BTreeSet<String>,
    /// The profile's udev rules present.
    pub udev_rules: BTreeSet<String>,
    /// Facts that could not be read, so that a diff does not claim them gone: a whole
    /// field (`config`, `modules_loaded`) or one item of it (`modules_in_kernel:ipts`,
    /// `services:iptsd`; for `bound` a whole bus, `bound:pci`, or one device,
    /// `bound:pci/0000:00:14.3`).
    pub unknown: Vec<String>,
}

/// One thing that differs between two boots, in the direction earlier -> later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FactChange {
    /// The kernel had the module (built in or a file) and this one has not.
    ModuleGone { module: String },
    /// `CONFIG_<option>` was set and is not.
    ConfigGone { option: String, was: String },
    /// `CONFIG_<option>` is set to another value (`y` -> `m`).
    ConfigChanged {
        option: String,
        was: String,
        now: String,
    },
    /// A firmware file was found and is not.
    FirmwareGone { file: String },
    /// The module was loaded and is not (while the kernel still has it).
    ModuleNotLoaded { module: String },
    /// `driver` was bound to the device (on `bus`) and is not.
    DriverUnbound {
        bus: String,
        device: String,
        driver: String,
    },
    /// The service was running and is not.
    ServiceStopped { name: String },
    /// The udev rule was installed and is not.
    UdevRuleGone { name: String },
    // The reverse ones, for recoveries and diffs: what is there now and was not.
    /// The kernel has the module and did not.
    ModuleAdded { module: String },
    /// `CONFIG_<option>` is set and was not.
    ConfigSet { option: String, now: String },
    /// A firmware file is found and was not.
    FirmwareFound { file: String },
    /// The module is loaded and was not.
    ModuleLoaded { module: String },
    /// `driver` is bound to the device and was not.
    DriverBound {
        bus: String,
        device: String,
        driver: String,
    },
    /// The service runs and did not.
    ServiceStarted { name: String },
    /// The udev rule is installed and was not.
    UdevRuleAdded { name: String },
}

impl FactChange {
    /// Whether something that was there is gone (or changed): what a regression is
    /// made of, as opposed to what appeared.
    pub fn is_loss(&self) -> bool {
        self.rank() < 8
    }

    /// Order of presentation: the deepest cause first (the kernel, then its
    /// configuration and firmware, then what runs), losses before gains.
    fn rank(&self) -> u8 {
        match self {
            FactChange::ModuleGone { .. } => 0,
            FactChange::ConfigGone { .. } => 1,
            FactChange::ConfigChanged { .. } => 2,
            FactChange::FirmwareGone { .. } => 3,
            FactChange::ModuleNotLoaded { .. } => 4,
            FactChange::DriverUnbound { .. } => 5,
            FactChange::ServiceStopped { .. } => 6,
            FactChange::UdevRuleGone { .. } => 7,
            FactChange::ModuleAdded { .. } => 8,
            FactChange::ConfigSet { .. } => 9,
            FactChange::FirmwareFound { .. } => 10,
            FactChange::ModuleLoaded { .. } => 11,
            FactChange::DriverBound { .. } => 12,
            FactChange::ServiceStarted { .. } => 13,
            FactChange::UdevRuleAdded { .. } => 14,
        }
    }
}

impl fmt::Display for FactChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactChange::ModuleGone { module } => {
                write!(f, "module {module} is missing from this kernel")
            }
            FactChange::ConfigGone { option, was } => {
                write!(f, "config option {option} is no longer set (was {was})")
            }
            FactChange::ConfigChanged { option, was, now } => {
                write!(f, "config option {option} is {now} (was {was})")
            }
            FactChange::FirmwareGone { file } => write!(f, "firmware {file} is gone"),
            FactChange::ModuleNotLoaded { module } => {
                write!(f, "module {module} is no longer loaded")
            }
            FactChange::DriverUnbound { device, driver, .. } => {
                write!(f, "driver {driver} no longer bound to {device}")
            }
            FactChange::ServiceStopped { name } => write!(f, "{name} is no longer running"),
            FactChange::UdevRuleGone { name } => write!(f, "udev rule {name} is gone"),
            FactChange::ModuleAdded { module } => {
                write!(f, "module {module} is now in this kernel")
            }
            FactChange::ConfigSet { option, now } => {
                write!(f, "config option {option} is now set ({now})")
            }
            FactChange::FirmwareFound { file } => write!(f, "firmware {file} is now found"),
            FactChange::ModuleLoaded { module } => write!(f, "module {module} is now loaded"),
            FactChange::DriverBound { device, driver, .. } => {
                write!(f, "driver {driver} is now bound to {device}")
            }
            FactChange::ServiceStarted { name } => write!(f, "{name} is now running"),
            FactChange::UdevRuleAdded { name } => write!(f, "udev rule {name} is now present"),
        }
    }
}

/// A boot as a regression names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootRef {
    pub boot_id: String,
    pub kernel: String,
    pub generation: Option<u32>,
}

impl From<&BootRecord> for BootRef {
    fn from(b: &BootRecord) -> BootRef {
        BootRef {
            boot_id: b.boot_id.clone(),
            kernel: b.kernel.clone(),
            generation: b.generation,
        }
    }
}

impl fmt::Display for BootRef {
    /// The label: `6.19.8 (generation 42)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.generation {
            Some(g) => write!(f, "{} (generation {g})", self.kernel),
            None => f.write_str(&self.kernel),
        }
    }
}

/// A subsystem ok on an earlier boot and degraded or failed now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub subsystem: String,
    /// The newest earlier boot where the subsystem was ok.
    pub previous: BootRef,
    pub current: BootRef,
    pub old_status: Status,
    pub new_status: Status,
    /// The subsystem's summary now.
    pub summary: String,
    /// The subsystem's hint now.
    pub hint: Option<String>,
    /// What changed between the two boots that concerns the subsystem.
    pub changes: Vec<FactChange>,
}

impl fmt::Display for Regression {
    /// `touch worked on 6.18.8 (generation 41), fails on 6.19.8 (generation 42):
    /// module ipts is missing from this kernel`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.new_status {
            Status::Degraded => "is degraded",
            _ => "fails",
        };
        let (prev, cur) = (self.previous.to_string(), self.current.to_string());
        if prev == cur {
            write!(
                f,
                "{} worked on an earlier boot of {prev}, {verb} now",
                self.subsystem
            )?;
        } else {
            write!(f, "{} worked on {prev}, {verb} on {cur}", self.subsystem)?;
        }
        write!(f, ": {}", because(&self.changes, &self.summary))
    }
}

/// A subsystem degraded or failed on the newest earlier boot and ok now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub subsystem: String,
    pub previous: BootRef,
    pub current: BootRef,
    pub old_status: Status,
    pub new_status: Status,
    pub changes: Vec<FactChange>,
}

impl fmt::Display for Recovery {
    /// `touch works again on 6.19.9 (it was failed on 6.19.8): module ipts is now in
    /// this kernel`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} works again on {} (it was {} on {})",
            self.subsystem, self.current, self.old_status, self.previous
        )?;
        if !self.changes.is_empty() {
            write!(f, ": {}", because(&self.changes, ""))?;
        }
        Ok(())
    }
}

fn because(changes: &[FactChange], otherwise: &str) -> String {
    if changes.is_empty() {
        otherwise.to_string()
    } else {
        changes
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A status drop that the context explains (the base detached), so no regression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    pub subsystem: String,
    pub reason: String,
}

/// What [`compare`] found for the current boot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub regressions: Vec<Regression>,
    pub recoveries: Vec<Recovery>,
    pub explained: Vec<Explained>,
}

impl Comparison {
    /// Whether nothing got worse, better, or was explained.
    pub fn is_empty(&self) -> bool {
        self.regressions.is_empty() && self.recoveries.is_empty() && self.explained.is_empty()
    }
}

/// Everything that differs between two boots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BootDiff {
    /// Subsystems whose status differs: (id, status on the first boot, on the second).
    pub statuses: Vec<(String, Status, Status)>,
    /// Every fact change from the first boot to the second.
    pub changes: Vec<FactChange>,
}

/// The checks whose part sits in the base (its battery, keyboard, touchpad, the
/// dGPU): a detached base takes it away. Their subsystems are the ones a detached
/// base can explain.
pub const BASE_CHECKS: &[&str] = &[
    "battery.base",
    "input.keyboard",
    "input.touchpad",
    "dgpu.present",
];

/// Compares the current boot with the `earlier` ones (newest first, already limited
/// to those after the baseline by the caller): a subsystem ok on an earlier boot (the
/// newest where it was) and degraded or failed now is a regression, unless the
/// context explains it (the base detached now and attached then, for the subsystems
/// in the base); a subsystem absent or unknown now never is. A subsystem degraded or
/// failed on the newest earlier boot and ok now is a recovery. At most one of either
/// per subsystem.
pub fn compare(earlier: &[BootRecord], current: &BootRecord, p: &Profile) -> Comparison {
    // The same boot recorded again is not an earlier boot.
    let earlier: Vec<&BootRecord> = earlier
        .iter()
        .filter(|b| b.boot_id != current.boot_id)
        .collect();
    let mut out = Comparison::default();
    let mut seen = BTreeSet::new();
    for sub in &current.report.subsystems {
        if !seen.insert(sub.id.as_str()) {
            continue;
        }
        let now = sub.status;
        if now.is_problem() {
            let Some(prev) = earlier
                .iter()
                .find(|b| status_of(b, &sub.id) == Some(Status::Ok))
            else {
                continue;
            };
            if let Some(reason) = explained_by_context(sub, prev, current) {
                out.explained.push(Explained {
                    subsystem: sub.id.clone(),
                    reason,
                });
                continue;
            }
            out.regressions.push(Regression {
                subsystem: sub.id.clone(),
                previous: BootRef::from(*prev),
                current: BootRef::from(current),
                old_status: Status::Ok,
                new_status: now,
                summary: sub.summary.clone(),
                hint: sub.hint.clone(),
                changes: changes_for(&prev.facts, &current.facts, &sub.id, p),
            });
        } else if now == Status::Ok
            && let Some(last) = earlier.first()
            && let Some(old) = status_of(last, &sub.id)
            && old.is_problem()
        {
            out.recoveries.push(Recovery {
                subsystem: sub.id.clone(),
                previous: BootRef::from(*last),
                current: BootRef::from(current),
                old_status: old,
                new_status: now,
                changes: changes_for(&last.facts, &current.facts, &sub.id, p),
            });
        }
    }
    out
}

/// Everything that differs between boot `a` and boot `b`: the subsystems whose
/// status differs (in `b`'s report order) and every fact change from `a` to `b`.
pub fn diff(a: &BootRecord, b: &BootRecord, p: &Profile) -> BootDiff {
    let mut seen = BTreeSet::new();
    let statuses = b
        .report
        .subsystems
        .iter()
        .filter(|s| seen.insert(s.id.as_str()))
        .filter_map(|s| {
            let old = status_of(a, &s.id)?;
            (old != s.status).then(|| (s.id.clone(), old, s.status))
        })
        .collect();
    BootDiff {
        statuses,
        changes: changes(&a.facts, &b.facts, p),
    }
}

fn status_of(b: &BootRecord, id: &str) -> Option<Status> {
    b.report
        .subsystems
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.status)
}

/// Why the drop of `sub` (as `current` reports it) from `prev` is no regression, if
/// the context explains it: the base detached now and attached then, and every
/// check of the subsystem that is degraded or failed now is one of the base's
/// ([`BASE_CHECKS`]). A check of the clipboard that fails while the base is away
/// (the buttons, the lid) is still a regression.
fn explained_by_context(
    sub: &SubsystemReport,
    prev: &BootRecord,
    current: &BootRecord,
) -> Option<String> {
    let in_base = |check: &str| BASE_CHECKS.contains(&check);
    let base_subsystem = BASE_CHECKS
        .iter()
        .any(|c| c.split_once('.').is_some_and(|(s, _)| s == sub.id));
    let only_base_checks = sub
        .checks
        .iter()
        .filter(|c| c.status.is_problem())
        .all(|c| in_base(&c.id));
    (base_subsystem
        && only_base_checks
        && current.report.machine.base == "detached"
        && prev.report.machine.base == "attached")
        .then(|| {
            format!(
                "the base is detached now ({}); it was attached on {}",
                current.report.machine.base_evidence,
                prev.label()
            )
        })
}

/// The changes from `a` to `b` that concern `subsystem`.
fn changes_for(a: &DiffFacts, b: &DiffFacts, subsystem: &str, p: &Profile) -> Vec<FactChange> {
    let scopes = scopes(p);
    changes(a, b, p)
        .into_iter()
        .filter(|c| concerns_in(c, &scopes).contains(&subsystem))
        .collect()
}

// ---- what changed ------------------------------------------------------------------

impl DiffFacts {
    /// The facts that matter for a diff, for what `p` names.
    pub fn from_facts(f: &Facts, p: &Profile) -> DiffFacts {
        let mut d = DiffFacts::default();
        d.take_modules(f, p);
        d.take_config(f, p);
        d.take_firmware(f, p);
        d.take_bound(f, p);
        d.take_services(f, p);
        d.udev_rules = rules(p)
            .into_iter()
            .filter(|r| f.services.udev_rules.iter().any(|x| x == r))
            .map(String::from)
            .collect();
        d.unknown.sort();
        d.unknown.dedup();
        d
    }

    /// Whether `item` of `field` was read (not listed in [`unknown`](Self::unknown),
    /// neither the field nor the item, nor for `bound` the item's bus).
    pub fn knows(&self, field: &str, item: &str) -> bool {
        let bus = (field == "bound")
            .then(|| item.split_once('/').map(|(b, _)| b))
            .flatten();
        !self.unknown.iter().any(|u| {
            u == field
                || u.strip_prefix(field)
                    .and_then(|r| r.strip_prefix(':'))
                    .is_some_and(|r| r == item || Some(r) == bus)
        })
    }

    fn take_modules(&mut self, f: &Facts, p: &Profile) {
        let loaded = f.modules.loaded.ok();
        if loaded.is_none() {
            self.unknown.push("modules_loaded".into());
        }
        let tree = f.module_tree.ok();
        let builtin = tree.and_then(|t| t.builtin.ok());
        let avail = tree.and_then(|t| t.available.ok());
        let config = f.config.ok();
        let option = module_options(p);
        for m in p.modules() {
            let is_loaded = loaded.is_some_and(|l| l.contains_key(m));
            if is_loaded {
                self.modules_loaded.insert(m.to_string());
            }
            let opt = option
                .get(m)
                .and_then(|o| config.map(|c| c.options.get(*o)));
            let file = tree.zip(avail).and_then(|(t, a)| {
                a.get(m)
                    .map(|_| t.files_present.get(m).copied().unwrap_or(true))
            });
            let has = is_loaded
                || builtin.is_some_and(|b| b.contains(m))
                || file == Some(true)
                || matches!(opt, Some(Some(v)) if v == "y");
            if has {
                self.modules_in_kernel.insert(m.to_string());
                continue;
            }
            // Known missing: the tree's indexes are read and name it nowhere (or its
            // file is gone); or there is no module tree at all and the config shows
            // the module is not built in.
            let missing = match &f.module_tree {
                Fact::Ok(_) => builtin.is_some() && avail.is_some(),
                Fact::Absent { .. } => opt.is_some(),
                Fact::Unknown { .. } => false,
            };
            if !missing {
                self.unknown.push(format!("modules_in_kernel:{m}"));
            }
        }
    }

    fn take_config(&mut self, f: &Facts, p: &Profile) {
        let Fact::Ok(c) = &f.config else {
            self.unknown.push("config".into());
            return;
        };
        for o in options(p) {
            if let Some(v) = c.options.get(o).filter(|v| !v.is_empty()) {
                self.config.insert(o.to_string(), v.clone());
            }
        }
    }

    fn take_firmware(&mut self, f: &Facts, p: &Profile) {
        for fw in p.firmware() {
            match f.firmware.files.get(fw) {
                Some(found) => {
                    self.firmware.insert(fw.to_string(), found.is_some());
                }
                None => self.unknown.push(format!("firmware:{fw}")),
            }
        }
    }

    fn take_bound(&mut self, f: &Facts, p: &Profile) {
        for spec in devices(p) {
            let devs = match f.buses.get(spec.bus) {
                Some(Fact::Ok(v)) => v.as_slice(),
                // A bus whose directory does not exist has no devices.
                Some(Fact::Absent { .. }) => &[],
                _ => {
                    self.unknown.push(format!("bound:{}", spec.bus));
                    continue;
                }
            };
            let found: Vec<&BusDevice> = match &spec.sel {
                Sel::UsbIfaces(id) => {
                    let parents: Vec<&str> = devs
                        .iter()
                        .filter(|d| d.usb_id() == Some(*id))
                        .map(|d| d.name.as_str())
                        .collect();
                    devs.iter()
                        .filter(|d| {
                            parents
                                .iter()
                                .any(|p| d.name.strip_prefix(p).is_some_and(|r| r.starts_with(':')))
                        })
                        .collect()
                }
                sel => devs.iter().filter(|d| sel.matches(spec.bus, d)).collect(),
            };
            let matched = !found.is_empty();
            for d in found {
                let key = format!("{}/{}", spec.bus, stable_name(spec.bus, &d.name));
                match &d.driver {
                    Some(drv) => {
                        self.bound.insert(key, drv.clone());
                    }
                    None if d.unreadable.contains_key("driver") => {
                        self.unknown.push(format!("bound:{key}"))
                    }
                    None => {}
                }
            }
            // A device whose ids cannot be read may be the one sought.
            if !matched
                && let Some(ids) = spec.sel.ids()
                && devs.iter().any(|d| d.ids_unknown(spec.bus, ids).is_some())
            {
                self.unknown.push(format!("bound:{}", spec.bus));
            }
        }
    }

    fn take_services(&mut self, f: &Facts, p: &Profile) {
        let procs = f.services.processes.ok();
        let units = f.services.running_units.ok();
        for s in services(p) {
            let by_proc = procs.is_some_and(|m| m.get(s.process).is_some_and(|n| *n > 0));
            let by_unit =
                units.is_some_and(|u| u.iter().any(|r| s.units.iter().any(|x| unit_is(r, x))));
            if by_proc || by_unit {
                self.services.insert(s.name);
            } else if procs.is_none() && units.is_none() {
                self.unknown.push(format!("services:{}", s.name));
            }
        }
    }
}

/// Every fact change from `a` to `b`, for what `p` names, deepest cause first. A fact
/// unknown on either side is never claimed changed.
pub fn changes(a: &DiffFacts, b: &DiffFacts, p: &Profile) -> Vec<FactChange> {
    let mut out = Vec::new();
    let both = |field: &str, item: &str| a.knows(field, item) && b.knows(field, item);

    let mut gone_from_kernel = BTreeSet::new();
    for m in p.modules() {
        if both("modules_in_kernel", m) {
            match (
                a.modules_in_kernel.contains(m),
                b.modules_in_kernel.contains(m),
            ) {
                (true, false) => {
                    gone_from_kernel.insert(m);
                    out.push(FactChange::ModuleGone { module: m.into() });
                }
                (false, true) => out.push(FactChange::ModuleAdded { module: m.into() }),
                _ => {}
            }
        }
        // A module the kernel no longer has is not loaded either: that says nothing more.
        if both("modules_loaded", m) && !gone_from_kernel.contains(m) {
            match (a.modules_loaded.contains(m), b.modules_loaded.contains(m)) {
                (true, false) => out.push(FactChange::ModuleNotLoaded { module: m.into() }),
                (false, true) => out.push(FactChange::ModuleLoaded { module: m.into() }),
                _ => {}
            }
        }
    }
    for o in options(p) {
        if !both("config", o) {
            continue;
        }
        match (a.config.get(o), b.config.get(o)) {
            (Some(was), None) => out.push(FactChange::ConfigGone {
                option: o.into(),
                was: was.clone(),
            }),
            (None, Some(now)) => out.push(FactChange::ConfigSet {
                option: o.into(),
                now: now.clone(),
            }),
            (Some(was), Some(now)) if was != now => out.push(FactChange::ConfigChanged {
                option: o.into(),
                was: was.clone(),
                now: now.clone(),
            }),
            _ => {}
        }
    }
    for fw in p.firmware() {
        if !both("firmware", fw) {
            continue;
        }
        match (a.firmware.get(fw), b.firmware.get(fw)) {
            (Some(true), Some(false)) => out.push(FactChange::FirmwareGone { file: fw.into() }),
            (Some(false), Some(true)) => out.push(FactChange::FirmwareFound { file: fw.into() }),
            _ => {}
        }
    }
    let keys: BTreeSet<&String> = a.bound.keys().chain(b.bound.keys()).collect();
    for key in keys {
        if !both("bound", key) {
            continue;
        }
        let Some((bus, device)) = key.split_once('/') else {
            continue;
        };
        let (was, now) = (a.bound.get(key), b.bound.get(key));
        if was == now {
            continue;
        }
        if let Some(driver) = was {
            out.push(FactChange::DriverUnbound {
                bus: bus.into(),
                device: device.into(),
                driver: driver.clone(),
            });
        }
        if let Some(driver) = now {
            out.push(FactChange::DriverBound {
                bus: bus.into(),
                device: device.into(),
                driver: driver.clone(),
            });
        }
    }
    for s in services(p) {
        if !both("services", &s.name) {
            continue;
        }
        match (a.services.contains(&s.name), b.services.contains(&s.name)) {
            (true, false) => out.push(FactChange::ServiceStopped { name: s.name }),
            (false, true) => out.push(FactChange::ServiceStarted { name: s.name }),
            _ => {}
        }
    }
    for r in rules(p) {
        if !both("udev_rules", r) {
            continue;
        }
        match (a.udev_rules.contains(r), b.udev_rules.contains(r)) {
            (true, false) => out.push(FactChange::UdevRuleGone { name: r.into() }),
            (false, true) => out.push(FactChange::UdevRuleAdded { name: r.into() }),
            _ => {}
        }
    }
    out.sort_by_key(FactChange::rank);
    out
}

// ---- which subsystems a change concerns ---------------------------------------------

/// The subsystems (report ids) that `change` concerns, through the profile: the
/// subsystem whose modules, config options, firmware, devices, services or udev
/// rules it names. A device is told by its name (PCI slot, ACPI id, HID ids, the
/// name the profile gives), else by the driver the profile expects on it.
pub fn concerns(change: &FactChange, p: &Profile) -> Vec<&'static str> {
    concerns_in(change, &scopes(p))
}

fn concerns_in(change: &FactChange, scopes: &[Scope]) -> Vec<&'static str> {
    let of = |pred: &dyn Fn(&Scope) -> bool| -> Vec<&'static str> {
        scopes.iter().filter(|s| pred(s)).map(|s| s.id).collect()
    };
    match change {
        FactChange::ModuleGone { module }
        | FactChange::ModuleNotLoaded { module }
        | FactChange::ModuleAdded { module }
        | FactChange::ModuleLoaded { module } => of(&|s| s.modules.contains(&module.as_str())),
        FactChange::ConfigGone { option, .. }
        | FactChange::ConfigChanged { option, .. }
        | FactChange::ConfigSet { option, .. } => of(&|s| s.options.contains(&option.as_str())),
        FactChange::FirmwareGone { file } | FactChange::FirmwareFound { file } => {
            of(&|s| s.firmware.contains(&file.as_str()))
        }
        FactChange::DriverUnbound {
            bus,
            device,
            driver,
        }
        | FactChange::DriverBound {
            bus,
            device,
            driver,
        } => {
            let by_name = of(&|s| {
                s.devices
                    .iter()
                    .any(|d| d.bus == bus.as_str() && d.sel.names(bus, device))
            });
            if by_name.is_empty() {
                of(&|s| !driver.is_empty() && s.drivers.contains(&driver.as_str()))
            } else {
                by_name
            }
        }
        FactChange::ServiceStopped { name } | FactChange::ServiceStarted { name } => {
            of(&|s| s.services.contains(name))
        }
        FactChange::UdevRuleGone { name } | FactChange::UdevRuleAdded { name } => {
            of(&|s| s.rules.contains(&name.as_str()))
        }
    }
}

/// What one subsystem is made of, as the profile names it.
struct Scope {
    id: &'static str,
    modules: Vec<&'static str>,
    options: Vec<&'static str>,
    drivers: Vec<&'static str>,
    firmware: Vec<&'static str>,
    devices: Vec<DevSpec>,
    services: Vec<String>,
    rules: Vec<&'static str>,
}

impl Scope {
    fn new(id: &'static str) -> Scope {
        Scope {
            id,
            modules: Vec::new(),
            options: Vec::new(),
            drivers: Vec::new(),
            firmware: Vec::new(),
            devices: Vec::new(),
            services: Vec::new(),
            rules: Vec::new(),
        }
    }

    fn driver(&mut self, d: &Driver) -> &mut Scope {
        self.part(d.module, d.config, d.driver)
    }

    fn pci(&mut self, f: &PciFn) -> &mut Scope {
        self.part(f.module, f.config, f.driver)
    }

    fn part(
        &mut self,
        module: &'static str,
        config: &'static str,
        driver: &'static str,
    ) -> &mut Scope {
        for (v, x) in [
            (&mut self.modules, module),
            (&mut self.options, config),
            (&mut self.drivers, driver),
        ] {
            if !x.is_empty() && !v.contains(&x) {
                v.push(x);
            }
        }
        self
    }
}

/// Each subsystem of the report (the ids of `checks::REGISTRY`) and its parts. A part
/// another subsystem's chain goes through belongs to both (the aggregator to battery,
/// detach and platform; the pinctrl and DTX drivers to input).
fn scopes(p: &Profile) -> Vec<Scope> {
    let specs = devices(p);
    let svc = services(p);
    let t = &p.touch;
    let cam = &p.camera;
    let b = &p.battery;
    let d = &p.detach;
    let i = &p.input;

    let mut kernel = Scope::new("kernel");
    kernel.modules.extend(p.patches.modules);
    kernel.options.extend(p.patches.config_options);

    let mut touch = Scope::new("touch");
    touch.pci(&t.mei_pci).driver(&t.ipts);
    touch.rules.push(t.iptsd_rule);

    let mut camera = Scope::new("camera");
    camera
        .pci(&cam.cio2)
        .pci(&cam.imgu)
        .driver(&cam.bridge)
        .driver(&cam.vcm);
    for s in cam.sensors {
        camera.driver(&s.driver);
    }
    for x in cam.int3472 {
        camera.driver(x);
    }
    camera.modules.extend(cam.atomisp_modules);
    camera.firmware.extend(cam.firmware);

    let mut battery = Scope::new("battery");
    battery
        .driver(&b.san)
        .driver(&b.battery)
        .driver(&b.ac)
        .driver(&d.ssam);

    let mut detach = Scope::new("detach");
    detach
        .driver(&d.ssam)
        .driver(&d.pinctrl)
        .driver(&d.lpss_pci)
        .driver(&d.uart)
        .driver(&d.serdev)
        .driver(&d.dtx);

    let mut input = Scope::new("input");
    input
        .driver(&i.keyboard_hid)
        .driver(&i.buttons)
        .driver(&i.lid)
        .driver(&i.gpe)
        .driver(&d.pinctrl)
        .driver(&d.dtx);

    let mut dgpu = Scope::new("dgpu");
    dgpu.driver(&p.dgpu.hotplug);

    let mut wireless = Scope::new("wireless");
    wireless.pci(&p.wireless.wifi).driver(&p.wireless.bt);
    wireless.firmware.extend(p.wireless.wifi_firmware);

    let mut platform = Scope::new("platform");
    platform
        .driver(&p.platform.hub)
        .driver(&p.platform.profile)
        .driver(&p.platform.profile_core)
        .driver(&d.ssam);

    let mut all = vec![
        kernel, touch, camera, battery, detach, input, dgpu, wireless, platform,
    ];
    for s in &mut all {
        s.devices = specs
            .iter()
            .filter(|x| x.subsystem == s.id)
            .cloned()
            .collect();
        s.services = svc
            .iter()
            .filter(|x| x.subsystem == s.id)
            .map(|x| x.name.clone())
            .collect();
    }
    all
}

/// Module -> its config option, for the profile's drivers.
fn module_options(p: &Profile) -> BTreeMap<&'static str, &'static str> {
    let mut m = BTreeMap::new();
    for s in parts(p) {
        if !s.0.is_empty() && !s.1.is_empty() {
            m.entry(s.0).or_insert(s.1);
        }
    }
    m
}

/// Every (module, config option) pair the profile names.
fn parts(p: &Profile) -> Vec<(&'static str, &'static str)> {
    let d = |x: &Driver| (x.module, x.config);
    let f = |x: &PciFn| (x.module, x.config);
    let mut v = vec![
        f(&p.touch.mei_pci),
        d(&p.touch.ipts),
        f(&p.camera.cio2),
        f(&p.camera.imgu),
        d(&p.camera.bridge),
        d(&p.camera.vcm),
        d(&p.battery.san),
        d(&p.battery.battery),
        d(&p.battery.ac),
        d(&p.detach.ssam),
        d(&p.detach.pinctrl),
        d(&p.detach.lpss_pci),
        d(&p.detach.uart),
        d(&p.detach.serdev),
        d(&p.detach.dtx),
        d(&p.input.keyboard_hid),
        d(&p.input.buttons),
        d(&p.input.lid),
        d(&p.input.gpe),
        d(&p.dgpu.hotplug),
        f(&p.wireless.wifi),
        d(&p.wireless.bt),
        d(&p.platform.hub),
        d(&p.platform.profile),
        d(&p.platform.profile_core),
    ];
    v.extend(p.camera.sensors.iter().map(|s| d(&s.driver)));
    v.extend(p.camera.int3472.iter().map(d));
    v
}

/// Every config option the profile names, sorted.
fn options(p: &Profile) -> Vec<&'static str> {
    let mut o: Vec<&'static str> = parts(p)
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| !c.is_empty())
        .collect();
    o.extend(p.patches.config_options);
    o.sort_unstable();
    o.dedup();
    o
}

/// The udev rules the profile names.
fn rules(p: &Profile) -> Vec<&'static str> {
    vec![p.touch.iptsd_rule]
}

/// A service the profile names: its units and its process.
struct Service {
    subsystem: &'static str,
    /// The unit's name without `@` and `.service`: `iptsd`, `surface-dtx-daemon`.
    name: String,
    units: Vec<&'static str>,
    process: &'static str,
}

fn services(p: &Profile) -> Vec<Service> {
    let stem = |u: &str| {
        u.trim_end_matches(".service")
            .trim_end_matches('@')
            .to_string()
    };
    vec![
        Service {
            subsystem: "touch",
            name: stem(p.touch.iptsd_unit),
            units: vec![p.touch.iptsd_unit, p.touch.iptsd_legacy_unit],
            process: p.touch.iptsd_process,
        },
        Service {
            subsystem: "detach",
            name: stem(p.detach.daemon_unit),
            units: vec![p.detach.daemon_unit],
            process: p.detach.daemon_process,
        },
    ]
}

/// Whether running unit `running` (`iptsd@dev-hidraw0.service`) is an instance of
/// unit file `unit` (`iptsd@.service`), or that unit itself.
fn unit_is(running: &str, unit: &str) -> bool {
    running == unit
        || unit
            .strip_suffix("@.service")
            .is_some_and(|t| running.starts_with(&format!("{t}@")) && running.ends_with(".service"))
}

/// How the profile picks out one of its devices on a bus.
#[derive(Debug, Clone)]
enum Sel {
    /// A PCI function by vendor:device, with its usual slot.
    Pci((u16, u16), Option<&'static str>),
    /// A device with this exact name (`serial0-0`, `surface_gpe`, a PCI slot).
    Name(&'static str),
    /// A device named by ACPI id (`MSHW0091:00`, `i2c-INT33BE:00`).
    Acpi(&'static str),
    /// The interfaces of a USB device (vendor:product), where its driver binds.
    UsbIfaces((u16, u16)),
    /// A HID device by vendor and product ids.
    Hid(u16, Vec<u16>),
    /// A MEI client device by its UUID.
    Mei(&'static str),
}

#[derive(Debug, Clone)]
struct DevSpec {
    subsystem: &'static str,
    bus: &'static str,
    sel: Sel,
}

impl Sel {
    /// Whether device `d` on `bus` is the one selected (for `UsbIfaces`: an
    /// interface of it).
    fn matches(&self, bus: &str, d: &BusDevice) -> bool {
        match self {
            Sel::Pci(id, _) => d.pci_id() == Some(*id),
            Sel::UsbIfaces(_) => false,
            _ => self.names(bus, &stable_name(bus, &d.name)),
        }
    }

    /// Whether a device's (stable) name is the one selected.
    fn names(&self, _bus: &str, name: &str) -> bool {
        match self {
            Sel::Pci(_, slot) => *slot == Some(name),
            Sel::Name(n) => *n == name,
            Sel::Acpi(hid) => {
                let n = name.strip_prefix("i2c-").unwrap_or(name);
                n.split_once(':').is_some_and(|(h, inst)| {
                    h == *hid && inst.len() == 2 && inst.bytes().all(|b| b.is_ascii_hexdigit())
                })
            }
            Sel::UsbIfaces(_) => false,
            Sel::Hid(vendor, products) => crate::facts::parse::hid_name(&format!("{name}.0"))
                .is_some_and(|(_, v, p)| v == *vendor && products.contains(&p)),
            Sel::Mei(uuid) => name
                .to_ascii_lowercase()
                .contains(&uuid.to_ascii_lowercase()),
        }
    }

    /// The id attributes a selector by ids reads.
    fn ids(&self) -> Option<&'static [&'static str]> {
        match self {
            Sel::Pci(..) => Some(crate::checks::ctx::PCI_IDS),
            Sel::UsbIfaces(_) => Some(crate::checks::ctx::USB_IDS),
            _ => None,
        }
    }
}

/// The devices whose bindings the profile's checks rest on.
fn devices(p: &Profile) -> Vec<DevSpec> {
    let spec = |subsystem, bus, sel| DevSpec {
        subsystem,
        bus,
        sel,
    };
    let pci = |f: &PciFn| Sel::Pci((f.vendor, f.device), Some(f.slot));
    let mut v = vec![
        spec("touch", "pci", pci(&p.touch.mei_pci)),
        spec("touch", "mei", Sel::Mei(p.touch.mei_client_uuid)),
        spec(
            "touch",
            "hid",
            Sel::Hid(
                p.touch.hid_vendor,
                p.variants.iter().map(|x| x.ipts_product).collect(),
            ),
        ),
        spec("camera", "pci", pci(&p.camera.cio2)),
        spec("camera", "pci", pci(&p.camera.imgu)),
        spec("battery", "platform", Sel::Acpi(p.battery.san_hid)),
        spec("detach", "serial", Sel::Name(p.detach.ssam_serdev)),
        spec("detach", "pci", Sel::Pci(p.detach.uart_pci, None)),
        spec("detach", "platform", Sel::Acpi(p.detach.dtx_hid)),
        spec(
            "input",
            "hid",
            Sel::Hid(p.input.usb_vendor, vec![p.input.keyboard_product]),
        ),
        spec("input", "platform", Sel::Acpi(p.input.buttons_hid)),
        spec("input", "acpi", Sel::Acpi(p.input.lid_hid)),
        spec("input", "platform", Sel::Name(p.input.gpe_device)),
        spec("dgpu", "platform", Sel::Acpi(p.dgpu.hotplug_hid)),
        spec("wireless", "pci", pci(&p.wireless.wifi)),
        spec("wireless", "usb", Sel::UsbIfaces(p.wireless.bt_usb)),
        spec("platform", "platform", Sel::Acpi(p.platform.hub_hid)),
        spec(
            "platform",
            "surface_aggregator",
            Sel::Name(p.platform.profile_device),
        ),
    ];
    for s in p.camera.sensors {
        v.push(spec("camera", "i2c", Sel::Acpi(s.hid)));
    }
    v.push(spec("camera", "i2c", Sel::Acpi(p.camera.int3472_hid)));
    for c in p.camera.i2c_controllers {
        v.push(spec("camera", "pci", Sel::Name(c)));
    }
    v
}

/// A device's name as stable across boots: a HID device's without its instance
/// number (`0003:045E:0922.0002` -> `0003:045E:0922`), which enumeration order sets.
fn stable_name(bus: &str, name: &str) -> String {
    if bus == "hid"
        && let Some((ids, inst)) = name.rsplit_once('.')
        && !inst.is_empty()
        && inst.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return ids.to_string();
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{KernelConfig, LoadedModule, ModuleTree};
    use crate::profiles::SURFACE_BOOK_2 as P;
    use crate::report::Report;

    /// Facts the real collector reads from an empty root: nearly everything absent or
    /// unknown.
    fn empty_facts() -> Facts {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::root::Root::open(dir.path()).unwrap();
        crate::facts::collect_unwatched(&root, &P)
    }

    fn loaded(names: &[&str]) -> Fact<BTreeMap<String, LoadedModule>> {
        Fact::Ok(
            names
                .iter()
                .map(|n| {
                    (
                        n.to_string(),
                        LoadedModule {
                            name: n.to_string(),
                            size: 1,
                            refcount: 0,
                            used_by: vec![],
                            state: "Live".into(),
                            taint: String::new(),
                        },
                    )
                })
                .collect(),
        )
    }

    fn tree(builtin: &[&str], files: &[(&str, bool)]) -> Fact<ModuleTree> {
        Fact::Ok(ModuleTree {
            dir: "/lib/modules/6.19.8".into(),
            builtin: Fact::Ok(builtin.iter().map(|s| s.to_string()).collect()),
            available: Fact::Ok(
                files
                    .iter()
                    .map(|(m, _)| (m.to_string(), format!("kernel/{m}.ko")))
                    .collect(),
            ),
            aliases: Fact::Ok(vec![]),
            files_present: files.iter().map(|(m, p)| (m.to_string(), *p)).collect(),
        })
    }

    fn config(opts: &[(&str, &str)]) -> Fact<KernelConfig> {
        Fact::Ok(KernelConfig {
            source: "/proc/config.gz".into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A boot whose report has `statuses`, given per check (`input.keyboard`) or per
    /// subsystem (`touch`, then its first check's), every other check ok; and base
    /// `base`.
    fn boot(
        id: &str,
        kernel: &str,
        generation: Option<u32>,
        statuses: &[(&str, Status)],
        base: &str,
        facts: DiffFacts,
    ) -> BootRecord {
        let mut report: Report = crate::checks::diagnose(&empty_facts(), &P, "test");
        let listed = |id: &str| statuses.iter().find(|(x, _)| *x == id).map(|(_, st)| *st);
        for s in &mut report.subsystems {
            for c in &mut s.checks {
                c.status = listed(&c.id).unwrap_or(Status::Ok);
            }
            // A subsystem's status is its worst check's: a status given for the
            // subsystem alone is its first check's.
            if let Some(st) = listed(&s.id)
                && !s.checks.iter().any(|c| c.status == st)
                && let Some(c) = s.checks.first_mut()
            {
                c.status = st;
            }
            s.status = listed(&s.id).unwrap_or_else(|| {
                s.checks
                    .iter()
                    .map(|c| c.status)
                    .max_by_key(|st| st.severity())
                    .unwrap_or(Status::Ok)
            });
            s.summary = format!("{} is {}", s.id, s.status);
            s.hint = s.status.is_problem().then(|| format!("fix {}", s.id));
        }
        report.machine.base = base.into();
        report.machine.base_evidence = "/sys/bus/usb/devices: no base USB hubs".into();
        BootRecord {
            boot_id: id.into(),
            recorded_us: 0,
            kernel: kernel.into(),
            generation,
            report,
            facts,
        }
    }

    fn healthy() -> DiffFacts {
        DiffFacts {
            modules_loaded: set(&["ipts", "mei_me", "surface_acpi_notify"]),
            modules_in_kernel: set(&["ipts", "mei_me", "surface_acpi_notify", "ithc"]),
            config: [
                ("HID_IPTS", "m"),
                ("SURFACE_ACPI_NOTIFY", "m"),
                ("PINCTRL_SUNRISEPOINT", "y"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            firmware: [
                ("intel/ipu3-fw.bin", true),
                ("mrvl/pcie8897_uapsta.bin", true),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
            bound: [
                ("platform/MSHW0091:00", "surface_acpi_notify"),
                (
                    "mei/0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04",
                    "ipts",
                ),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            services: set(&["iptsd", "surface-dtx-daemon"]),
            udev_rules: set(&["50-iptsd.rules"]),
            unknown: vec![],
        }
    }

    #[test]
    fn changes_read_as_sentences() {
        let s = |c: FactChange| c.to_string();
        assert_eq!(
            s(FactChange::ModuleGone {
                module: "ipts".into()
            }),
            "module ipts is missing from this kernel"
        );
        assert_eq!(
            s(FactChange::ConfigGone {
                option: "HID_IPTS".into(),
                was: "m".into()
            }),
            "config option HID_IPTS is no longer set (was m)"
        );
        assert_eq!(
            s(FactChange::FirmwareGone {
                file: "intel/ipu3-fw.bin".into()
            }),
            "firmware intel/ipu3-fw.bin is gone"
        );
        assert_eq!(
            s(FactChange::DriverUnbound {
                bus: "platform".into(),
                device: "MSHW0091:00".into(),
                driver: "surface_acpi_notify".into()
            }),
            "driver surface_acpi_notify no longer bound to MSHW0091:00"
        );
        assert_eq!(
            s(FactChange::ServiceStopped {
                name: "iptsd".into()
            }),
            "iptsd is no longer running"
        );
        assert_eq!(
            s(FactChange::UdevRuleGone {
                name: "50-iptsd.rules".into()
            }),
            "udev rule 50-iptsd.rules is gone"
        );
        assert_eq!(
            s(FactChange::ConfigChanged {
                option: "PINCTRL_SUNRISEPOINT".into(),
                was: "y".into(),
                now: "m".into()
            }),
            "config option PINCTRL_SUNRISEPOINT is m (was y)"
        );
        assert_eq!(
            s(FactChange::ModuleAdded {
                module: "ipts".into()
            }),
            "module ipts is now in this kernel"
        );
        let j = serde_json::to_value(FactChange::ModuleGone {
            module: "ipts".into(),
        })
        .unwrap();
        assert_eq!(
            j,
            serde_json::json!({"change": "module_gone", "module": "ipts"})
        );
        let back: FactChange = serde_json::from_value(j).unwrap();
        assert_eq!(
            back,
            FactChange::ModuleGone {
                module: "ipts".into()
            }
        );
    }

    #[test]
    fn every_change_kind_both_ways_deepest_cause_first() {
        let a = healthy();
        let mut b = healthy();
        b.modules_in_kernel.remove("ipts");
        b.modules_loaded.remove("ipts");
        b.modules_loaded.remove("surface_acpi_notify");
        b.config.remove("HID_IPTS");
        b.config.insert("PINCTRL_SUNRISEPOINT".into(), "m".into());
        b.firmware.insert("intel/ipu3-fw.bin".into(), false);
        b.bound.remove("platform/MSHW0091:00");
        b.services.remove("iptsd");
        b.udev_rules.remove("50-iptsd.rules");
        let c = changes(&a, &b, &P);
        let text: Vec<String> = c.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "module ipts is missing from this kernel",
                "config option HID_IPTS is no longer set (was m)",
                "config option PINCTRL_SUNRISEPOINT is m (was y)",
                "firmware intel/ipu3-fw.bin is gone",
                // ipts is gone from the kernel, so its not being loaded is not repeated.
                "module surface_acpi_notify is no longer loaded",
                "driver surface_acpi_notify no longer bound to MSHW0091:00",
                "iptsd is no longer running",
                "udev rule 50-iptsd.rules is gone",
            ]
        );
        assert!(c.iter().all(FactChange::is_loss));
        // And back: the reverse changes, none a loss but the changed option.
        let r = changes(&b, &a, &P);
        let text: Vec<String> = r.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "config option PINCTRL_SUNRISEPOINT is y (was m)",
                "module ipts is now in this kernel",
                "config option HID_IPTS is now set (m)",
                "firmware intel/ipu3-fw.bin is now found",
                "module ipts is now loaded",
                "module surface_acpi_notify is now loaded",
                "driver surface_acpi_notify is now bound to MSHW0091:00",
                "iptsd is now running",
                "udev rule 50-iptsd.rules is now present",
            ]
        );
        assert!(changes(&a, &a, &P).is_empty());
    }

    #[test]
    fn a_fact_unknown_on_either_side_is_never_claimed() {
        let a = healthy();
        let mut b = DiffFacts {
            unknown: vec![
                "config".into(),
                "modules_loaded".into(),
                "modules_in_kernel:ipts".into(),
                "services:iptsd".into(),
                "bound:platform".into(),
                "firmware:intel/ipu3-fw.bin".into(),
            ],
            ..DiffFacts::default()
        };
        b.firmware.insert("mrvl/pcie8897_uapsta.bin".into(), true);
        b.services.insert("surface-dtx-daemon".into());
        b.udev_rules.insert("50-iptsd.rules".into());
        b.bound.insert(
            "mei/0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04".into(),
            "ipts".into(),
        );
        let c = changes(&a, &b, &P);
        // What was known on both sides: ithc, mei_me and surface_acpi_notify are no
        // longer in the kernel. Nothing about ipts, the config, the loaded modules,
        // iptsd, the platform bus or the ImgU firmware.
        assert_eq!(
            c,
            vec![
                FactChange::ModuleGone {
                    module: "ithc".into()
                },
                FactChange::ModuleGone {
                    module: "mei_me".into()
                },
                FactChange::ModuleGone {
                    module: "surface_acpi_notify".into()
                },
            ]
        );
        // Either direction.
        let r = changes(&b, &a, &P);
        assert!(
            r.iter()
                .all(|c| matches!(c, FactChange::ModuleAdded { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn knows_fields_items_and_buses() {
        let d = DiffFacts {
            unknown: vec![
                "config".into(),
                "bound:pci".into(),
                "bound:hid/0000:045E:0020".into(),
                "modules_in_kernel:ipts".into(),
            ],
            ..DiffFacts::default()
        };
        assert!(!d.knows("config", "HID_IPTS"));
        assert!(!d.knows("bound", "pci/0000:00:14.3"));
        assert!(d.knows("bound", "platform/MSHW0091:00"));
        assert!(!d.knows("bound", "hid/0000:045E:0020"));
        assert!(d.knows("bound", "hid/0003:045E:0922"));
        assert!(!d.knows("modules_in_kernel", "ipts"));
        assert!(d.knows("modules_in_kernel", "ipts2"));
        assert!(d.knows("modules_loaded", "ipts"));
        // `config` does not make `config_x` unknown.
        assert!(d.knows("configx", "A"));
    }

    #[test]
    fn changes_concern_their_own_subsystems() {
        let c = |ch: FactChange| concerns(&ch, &P);
        let unbound = |bus: &str, device: &str, driver: &str| FactChange::DriverUnbound {
            bus: bus.into(),
            device: device.into(),
            driver: driver.into(),
        };
        assert_eq!(
            c(FactChange::ModuleGone {
                module: "ipts".into()
            }),
            ["kernel", "touch"]
        );
        assert_eq!(
            c(FactChange::ModuleGone {
                module: "ov5693".into()
            }),
            ["camera"]
        );
        assert_eq!(
            c(FactChange::ModuleNotLoaded {
                module: "surface_aggregator".into()
            }),
            ["battery", "detach", "platform"]
        );
        assert_eq!(
            c(FactChange::ConfigGone {
                option: "HID_IPTS".into(),
                was: "m".into()
            }),
            ["kernel", "touch"]
        );
        assert_eq!(
            c(FactChange::ConfigGone {
                option: "SURFACE_GPE".into(),
                was: "m".into()
            }),
            ["input"]
        );
        assert_eq!(
            c(FactChange::FirmwareGone {
                file: "intel/ipu3-fw.bin".into()
            }),
            ["camera"]
        );
        assert_eq!(
            c(FactChange::FirmwareGone {
                file: "mrvl/pcie8897_uapsta.bin".into()
            }),
            ["wireless"]
        );
        assert_eq!(
            c(unbound("platform", "MSHW0091:00", "surface_acpi_notify")),
            ["battery"]
        );
        assert_eq!(
            c(unbound(
                "mei",
                "0000:00:16.4-3E8D0870-271A-4208-8EB5-9ACB9402AE04",
                "ipts"
            )),
            ["touch"]
        );
        assert_eq!(
            c(unbound("hid", "0000:045E:0020", "hid-generic")),
            ["touch"]
        );
        assert_eq!(
            c(unbound("hid", "0003:045E:0922", "hid-multitouch")),
            ["input"]
        );
        assert_eq!(c(unbound("i2c", "i2c-INT33BE:00", "ov5693")), ["camera"]);
        assert_eq!(
            c(unbound("platform", "MSHW0153:00", "surface_hotplug")),
            ["dgpu"]
        );
        assert_eq!(
            c(unbound(
                "surface_aggregator",
                "01:03:01:00:01",
                "surface_platform_profile"
            )),
            ["platform"]
        );
        // PCI: by slot first (an I2C controller is the camera's), else by driver (the
        // aggregator's UART has no fixed slot in the profile).
        assert_eq!(c(unbound("pci", "0000:00:15.2", "intel-lpss")), ["camera"]);
        assert_eq!(c(unbound("pci", "0000:00:1e.0", "intel-lpss")), ["detach"]);
        assert_eq!(c(unbound("pci", "0000:00:14.3", "ipu3-cio2")), ["camera"]);
        assert_eq!(c(unbound("usb", "1-6:1.0", "btusb")), ["wireless"]);
        assert!(c(unbound("pci", "0000:00:02.0", "i915")).is_empty());
        assert_eq!(
            c(FactChange::ServiceStopped {
                name: "iptsd".into()
            }),
            ["touch"]
        );
        assert_eq!(
            c(FactChange::ServiceStopped {
                name: "surface-dtx-daemon".into()
            }),
            ["detach"]
        );
        assert_eq!(
            c(FactChange::UdevRuleGone {
                name: "50-iptsd.rules".into()
            }),
            ["touch"]
        );
    }

    #[test]
    fn from_facts_reads_only_what_the_profile_names() {
        let mut f = empty_facts();
        // The real collector on an empty root: the loaded modules, the module tree, the
        // config and the services cannot be read; firmware is known not found.
        let d = DiffFacts::from_facts(&f, &P);
        assert!(
            d.unknown.contains(&"modules_loaded".to_string()),
            "{:?}",
            d.unknown
        );
        assert!(d.unknown.contains(&"modules_in_kernel:ipts".to_string()));
        assert!(d.unknown.contains(&"config".to_string()));
        assert!(d.unknown.contains(&"services:iptsd".to_string()));
        assert!(d.firmware.values().all(|found| !found));
        assert_eq!(d.firmware.len(), P.firmware().len());

        f.modules.loaded = loaded(&["ipts", "mei_me", "snd_hda_intel"]);
        f.module_tree = tree(
            &["battery"],
            &[("ipts", true), ("ithc", false), ("mei_me", true)],
        );
        f.config = config(&[
            ("HID_IPTS", "m"),
            ("SND_HDA_INTEL", "m"),
            ("INTEL_ATOMISP", ""),
            ("SURFACE_GPE", "y"),
        ]);
        let d = DiffFacts::from_facts(&f, &P);
        assert_eq!(d.modules_loaded, set(&["ipts", "mei_me"]));
        // ithc is in modules.dep but its file is gone; surface_gpe is built in (=y).
        assert_eq!(
            d.modules_in_kernel,
            set(&["battery", "ipts", "mei_me", "surface_gpe"])
        );
        assert_eq!(
            d.config.keys().collect::<Vec<_>>(),
            ["HID_IPTS", "SURFACE_GPE"]
        );
        assert!(
            !d.unknown
                .iter()
                .any(|u| u.starts_with("modules") || u == "config"),
            "{:?}",
            d.unknown
        );

        // Without a module tree: a module is missing when the config shows it is not
        // built in; unknown when the config does not say.
        f.module_tree = Fact::Absent {
            path: "/lib/modules/6.19.8".into(),
        };
        f.config = config(&[("HID_IPTS", "m")]);
        let d = DiffFacts::from_facts(&f, &P);
        assert_eq!(
            d.modules_in_kernel,
            set(&["ipts", "mei_me"]),
            "loaded ones are in it"
        );
        assert!(d.knows("modules_in_kernel", "surface_gpe"));
        assert!(!d.knows("modules_in_kernel", "atomisp"), "{:?}", d.unknown);
        f.config = Fact::Unknown {
            path: "/proc/config.gz".into(),
            reason: "garbled".into(),
        };
        let d = DiffFacts::from_facts(&f, &P);
        assert!(!d.knows("modules_in_kernel", "surface_gpe"));
        assert!(
            d.knows("modules_in_kernel", "ipts"),
            "a loaded module is known in it"
        );
    }

    #[test]
    fn stored_facts_survive_json_and_missing_fields() {
        let d = healthy();
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DiffFacts>(&j).unwrap(), d);
        // A record written with fewer fields (older, or by the placeholder) still reads.
        assert_eq!(
            serde_json::from_str::<DiffFacts>("{}").unwrap(),
            DiffFacts::default()
        );
    }

    #[test]
    fn regression_against_the_newest_ok_boot_with_its_changes() {
        let b1 = boot("b1", "6.18.8", Some(41), &[], "attached", healthy());
        let mut f2 = healthy();
        f2.services.remove("iptsd");
        let b2 = boot(
            "b2",
            "6.18.8",
            Some(41),
            &[("touch", Status::Failed)],
            "attached",
            f2.clone(),
        );
        let mut f3 = f2.clone();
        f3.modules_in_kernel.remove("ipts");
        f3.modules_loaded.remove("ipts");
        f3.modules_loaded.remove("surface_acpi_notify");
        f3.bound.clear();
        let b3 = boot(
            "b3",
            "6.19.8",
            Some(42),
            &[("touch", Status::Failed), ("battery", Status::Degraded)],
            "attached",
            f3,
        );

        let c = compare(std::slice::from_ref(&b1), &b2, &P);
        assert_eq!(c.regressions.len(), 1, "{c:?}");
        let r = &c.regressions[0];
        assert_eq!(
            (r.subsystem.as_str(), r.previous.boot_id.as_str()),
            ("touch", "b1")
        );
        assert_eq!(
            r.changes,
            [FactChange::ServiceStopped {
                name: "iptsd".into()
            }]
        );
        assert_eq!(
            r.to_string(),
            "touch worked on an earlier boot of 6.18.8 (generation 41), fails now: iptsd is no longer running"
        );

        let c = compare(&[b2.clone(), b1.clone()], &b3, &P);
        let ids: Vec<&str> = c.regressions.iter().map(|r| r.subsystem.as_str()).collect();
        assert_eq!(ids, ["touch", "battery"]);
        let touch = &c.regressions[0];
        assert_eq!(touch.previous.to_string(), "6.18.8 (generation 41)");
        assert_eq!(touch.current.to_string(), "6.19.8 (generation 42)");
        assert_eq!(
            (touch.old_status, touch.new_status),
            (Status::Ok, Status::Failed)
        );
        assert_eq!(touch.summary, "touch is failed");
        assert_eq!(touch.hint.as_deref(), Some("fix touch"));
        assert_eq!(
            touch.to_string(),
            "touch worked on 6.18.8 (generation 41), fails on 6.19.8 (generation 42): \
             module ipts is missing from this kernel; \
             driver ipts no longer bound to 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04; \
             iptsd is no longer running"
        );
        // The battery's regression names only the battery's changes.
        let battery = &c.regressions[1];
        assert_eq!(battery.previous.boot_id, "b2");
        assert_eq!(
            battery.changes,
            [
                FactChange::ModuleNotLoaded {
                    module: "surface_acpi_notify".into()
                },
                FactChange::DriverUnbound {
                    bus: "platform".into(),
                    device: "MSHW0091:00".into(),
                    driver: "surface_acpi_notify".into()
                },
            ]
        );
        assert!(c.recoveries.is_empty() && c.explained.is_empty());
    }

    #[test]
    fn never_ok_absent_unknown_and_the_same_boot_are_no_regressions() {
        let b1 = boot(
            "b1",
            "6.18.8",
            None,
            &[("camera", Status::Failed), ("dgpu", Status::Unknown)],
            "attached",
            healthy(),
        );
        let now = boot(
            "b2",
            "6.19.8",
            None,
            &[
                ("camera", Status::Failed),
                ("touch", Status::Absent),
                ("input", Status::Unknown),
                ("dgpu", Status::Degraded),
            ],
            "attached",
            healthy(),
        );
        let c = compare(std::slice::from_ref(&b1), &now, &P);
        assert!(c.regressions.is_empty(), "{c:?}");
        // The same boot recorded before (a second run in one boot) is not compared.
        let same = boot("b2", "6.19.8", None, &[], "attached", healthy());
        let c = compare(&[same], &now, &P);
        assert!(c.regressions.is_empty(), "{c:?}");
        // No earlier boot at all.
        assert!(compare(&[], &now, &P).is_empty());
    }

    #[test]
    fn a_detached_base_explains_the_base_subsystems_only() {
        let before = boot("b1", "6.19.8", None, &[], "attached", healthy());
        // As a report of the base's checks that did not know the base was away
        // would read (an older surface-check's, recorded in the history).
        let drops = [
            ("battery.base", Status::Degraded),
            ("input.keyboard", Status::Failed),
            ("input.touchpad", Status::Failed),
            ("dgpu.present", Status::Failed),
            ("wireless", Status::Failed),
        ];
        let now = boot("b2", "6.19.8", None, &drops, "detached", healthy());
        let c = compare(std::slice::from_ref(&before), &now, &P);
        let explained: Vec<&str> = c.explained.iter().map(|e| e.subsystem.as_str()).collect();
        assert_eq!(explained, ["battery", "input", "dgpu"]);
        assert!(
            c.explained[0].reason.contains("detached"),
            "{}",
            c.explained[0].reason
        );
        let regressed: Vec<&str> = c.regressions.iter().map(|r| r.subsystem.as_str()).collect();
        assert_eq!(regressed, ["wireless"]);
        // A base whose state is unknown explains nothing.
        let now = boot("b2", "6.19.8", None, &drops, "unknown", healthy());
        assert_eq!(
            compare(std::slice::from_ref(&before), &now, &P)
                .regressions
                .len(),
            4
        );
        // Nor one already detached on the boot that worked.
        let detached = boot("b1", "6.19.8", None, &[], "detached", healthy());
        let now = boot("b2", "6.19.8", None, &drops, "detached", healthy());
        assert_eq!(compare(&[detached], &now, &P).regressions.len(), 4);
        // A check of the clipboard that fails while the base is away (the buttons)
        // is not the base's doing.
        let now = boot(
            "b2",
            "6.19.8",
            None,
            &[
                ("input.keyboard", Status::Failed),
                ("input.buttons", Status::Failed),
            ],
            "detached",
            healthy(),
        );
        let c = compare(std::slice::from_ref(&before), &now, &P);
        assert!(c.explained.is_empty(), "{c:?}");
        assert_eq!(c.regressions[0].subsystem, "input");
    }

    #[test]
    fn recovery_against_the_newest_earlier_boot() {
        let mut broken = healthy();
        broken.modules_in_kernel.remove("ipts");
        broken.modules_loaded.remove("ipts");
        let b1 = boot(
            "b1",
            "6.19.8",
            Some(42),
            &[("touch", Status::Failed)],
            "attached",
            broken,
        );
        let b2 = boot("b2", "6.19.9", Some(43), &[], "attached", healthy());
        let c = compare(std::slice::from_ref(&b1), &b2, &P);
        assert!(c.regressions.is_empty());
        assert_eq!(c.recoveries.len(), 1, "{c:?}");
        let r = &c.recoveries[0];
        assert_eq!((r.old_status, r.new_status), (Status::Failed, Status::Ok));
        assert_eq!(
            r.changes,
            [
                FactChange::ModuleAdded {
                    module: "ipts".into()
                },
                FactChange::ModuleLoaded {
                    module: "ipts".into()
                }
            ]
        );
        assert_eq!(
            r.to_string(),
            "touch works again on 6.19.9 (generation 43) (it was failed on 6.19.8 (generation 42)): \
             module ipts is now in this kernel; module ipts is now loaded"
        );
        // Only the newest earlier boot counts: failed two boots ago, unknown on the
        // last one, ok now is no recovery.
        let mid = boot(
            "bm",
            "6.19.8",
            Some(42),
            &[("touch", Status::Unknown)],
            "attached",
            healthy(),
        );
        assert!(compare(&[mid, b1], &b2, &P).recoveries.is_empty());
    }

    #[test]
    fn one_verdict_per_subsystem_even_from_a_hostile_report() {
        let before = boot("b1", "6.19.8", None, &[], "attached", healthy());
        let mut now = boot(
            "b2",
            "6.19.8",
            None,
            &[("touch", Status::Failed)],
            "attached",
            healthy(),
        );
        let dup = now.report.subsystems[1].clone();
        assert_eq!(dup.id, "touch");
        now.report.subsystems.push(dup);
        let c = compare(std::slice::from_ref(&before), &now, &P);
        assert_eq!(c.regressions.len(), 1);
        let d = diff(&before, &now, &P);
        assert_eq!(
            d.statuses,
            [("touch".to_string(), Status::Ok, Status::Failed)]
        );
    }

    #[test]
    fn diff_lists_status_and_fact_changes() {
        let a = boot("b1", "6.18.8", Some(41), &[], "attached", healthy());
        let mut f = healthy();
        f.firmware.insert("intel/ipu3-fw.bin".into(), false);
        let b = boot(
            "b2",
            "6.19.8",
            Some(42),
            &[("camera", Status::Degraded), ("dgpu", Status::Absent)],
            "attached",
            f,
        );
        let d = diff(&a, &b, &P);
        assert_eq!(
            d.statuses,
            [
                ("camera".to_string(), Status::Ok, Status::Degraded),
                ("dgpu".to_string(), Status::Ok, Status::Absent)
            ]
        );
        assert_eq!(
            d.changes,
            [FactChange::FirmwareGone {
                file: "intel/ipu3-fw.bin".into()
            }]
        );
        let j = serde_json::to_value(&d).unwrap();
        assert_eq!(
            j["statuses"][0],
            serde_json::json!(["camera", "ok", "degraded"])
        );
        assert_eq!(j["changes"][0]["change"], "firmware_gone");
        assert_eq!(diff(&a, &a, &P), BootDiff::default());
    }
}
