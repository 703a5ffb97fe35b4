//! Userspace services: unit files, enablement, udev rules, running processes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Fact, Services, UnitEvidence};
use crate::profiles::Profile;
use crate::root::Root;

/// systemd unit directories, in systemd's order (NixOS links /etc/systemd/system
/// into the store, which the root resolves).
pub const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
    "run/current-system/sw/lib/systemd/system",
];

pub const RULE_DIRS: &[&str] = &[
    "etc/udev/rules.d",
    "run/udev/rules.d",
    "usr/local/lib/udev/rules.d",
    "usr/lib/udev/rules.d",
    "lib/udev/rules.d",
    "run/current-system/sw/lib/udev/rules.d",
];

/// A cap on processes scanned: a machine with more is reported as unknown.
const MAX_PROCS: usize = 65_536;

pub fn collect(root: &Root, profile: &Profile) -> Services {
    let mut units = BTreeMap::new();
    for unit in profile.units() {
        let mut ev = UnitEvidence {
            files: Vec::new(),
            enabled_by: Vec::new(),
        };
        for dir in UNIT_DIRS {
            let p = format!("{dir}/{unit}");
            if matches!(root.stat(&p), Ok(crate::root::NodeKind::File)) {
                ev.files.push(format!("/{p}"));
            }
        }
        // Enablement: any `*.wants` directory in /etc/systemd/system naming it.
        if let Ok(entries) = root.list_dir("etc/systemd/system") {
            let mut wants: Vec<_> = entries
                .into_iter()
                .filter(|e| e.ends_with(".wants"))
                .collect();
            wants.sort();
            for w in wants {
                let p = format!("etc/systemd/system/{w}/{unit}");
                if root.exists(&p) {
                    ev.enabled_by.push(format!("/{p}"));
                }
            }
        }
        units.insert(unit.to_string(), ev);
    }

    let mut udev_rules = BTreeSet::new();
    for dir in RULE_DIRS {
        if let Ok(entries) = root.list_dir(dir) {
            udev_rules.extend(entries.into_iter().filter(|e| {
                e.ends_with(".rules") && (e.contains("iptsd") || e.contains("surface"))
            }));
        }
    }

    let legacy_ipts_nodes = root
        .list_dir(profile.touch.legacy_dev_dir)
        .map(|mut v| {
            v.sort();
            v
        })
        .unwrap_or_default();

    Services {
        units,
        udev_rules: udev_rules.into_iter().collect(),
        processes: processes(root, &profile.processes()),
        running_units: running_units(root, profile),
        legacy_ipts_nodes,
    }
}

fn processes(root: &Root, wanted: &[&str]) -> Fact<BTreeMap<String, u32>> {
    let entries = match root.list_dir("proc") {
        Ok(e) => e,
        Err(e) => return Fact::from_read("proc", Err(e)),
    };
    let pids: Vec<_> = entries
        .into_iter()
        .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    if pids.len() > MAX_PROCS {
        return Fact::Unknown {
            path: "/proc".into(),
            reason: format!("more than {MAX_PROCS} processes"),
        };
    }
    // A /proc without a single process is not a process table (a copied tree keeps
    // the directory, not the processes): it shows nothing either way.
    if pids.is_empty() {
        return Fact::Unknown {
            path: "/proc".into(),
            reason: "no processes listed (not a live /proc)".into(),
        };
    }
    // With `hidepid`, other users' processes (PID 1 among them) are invisible: a
    // daemon that is not listed may still run.
    if !pids.iter().any(|p| p == "1") {
        return Fact::Unknown {
            path: "/proc".into(),
            reason: "PID 1 is not visible (proc mounted with hidepid?)".into(),
        };
    }
    let mut out = BTreeMap::new();
    for pid in pids {
        // A process can exit between listing and reading: that is not an error.
        if let Ok(comm) = root.read_text(&format!("proc/{pid}/comm"))
            && wanted.contains(&comm.as_str())
        {
            *out.entry(comm).or_insert(0) += 1;
        }
    }
    Fact::Ok(out)
}

/// Services with live processes, from the cgroup tree: `iptsd@dev-hidraw0.service`
/// under `system.slice/system-iptsd.slice/`.
fn running_units(root: &Root, profile: &Profile) -> Fact<BTreeSet<String>> {
    let base = "sys/fs/cgroup/system.slice";
    let entries = match root.list_dir(base) {
        Ok(e) => e,
        Err(e) => return Fact::from_read(base, Err(e)),
    };
    let stems: Vec<String> = profile
        .units()
        .iter()
        .map(|u| {
            u.trim_end_matches(".service")
                .trim_end_matches('@')
                .to_string()
        })
        .collect();
    let mut out = BTreeSet::new();
    let mut consider = |dir: &str, name: &str| {
        if name.ends_with(".service") && stems.iter().any(|s| name.starts_with(s.as_str())) {
            let procs = root.read_text(&format!("{dir}/{name}/cgroup.procs"));
            if procs.is_ok_and(|p| !p.trim().is_empty()) {
                out.insert(name.to_string());
            }
        }
    };
    for e in &entries {
        if e.ends_with(".slice") && stems.iter().any(|s| e == &format!("system-{s}.slice")) {
            let dir = format!("{base}/{e}");
            for inner in root.list_dir(&dir).unwrap_or_default() {
                consider(&dir, &inner);
            }
        } else {
            consider(base, e);
        }
    }
    Fact::Ok(out)
}
