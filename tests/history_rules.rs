//! The regression rules on boots made from fixture trees: the real binary reads each
//! tree (`capture --root` for the facts, `status --local --json --root` for the
//! report), and each boot is recorded from them as the history keeps it; then
//! `compare` and `diff` run on those records.

mod common;

use common::sb2::{Break, Distro, NIX_MODULES, NIX_SYSTEM, Sb2, Size};
use common::tree::Tree;
use surface_check::facts::Facts;
use surface_check::history::BootRecord;
use surface_check::history::diff::{Comparison, DiffFacts, FactChange, compare, diff};
use surface_check::profiles::SURFACE_BOOK_2 as P;
use surface_check::report::{Report, Status};

/// The boot `id` as the history records it, from what the real binary reads in `t`.
fn record(t: &Tree, id: &str) -> BootRecord {
    let root = t.path().to_str().unwrap();
    let (code, out, err) = common::run(&["capture", "--root", root]);
    assert_eq!(code, 0, "capture --root {root}: {err}");
    let facts = Facts::from_json(out.as_bytes())
        .unwrap_or_else(|e| panic!("the capture of {root} does not read back: {e}"));
    let v = common::verdict::verdict(t, &[]);
    let report: Report = serde_json::from_value(v.report.clone())
        .unwrap_or_else(|e| panic!("status --json of {root} is not a Report: {e}\n{}", v.report));
    BootRecord {
        boot_id: id.to_string(),
        recorded_us: 0,
        kernel: facts
            .kernel
            .release
            .ok()
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        generation: facts
            .nixos
            .as_ref()
            .and_then(|n| n.booted.ok())
            .and_then(|g| g.number),
        facts: DiffFacts::from_facts(&facts, &P),
        report,
    }
}

/// A healthy 15" on NixOS booted into kernel `release` of generation `generation`.
fn nixos(release: &str, generation: u32) -> (Sb2, Tree) {
    let m = Sb2::new(Size::In15, Distro::NixOs);
    let t = m.build();
    if release != m.release() {
        std::fs::rename(
            t.path().join(m.module_dir()),
            t.path()
                .join(format!("{NIX_MODULES}/lib/modules/{release}")),
        )
        .expect("moving the module tree");
        t.attr("proc/sys/kernel/osrelease", release);
        t.attr(
            "proc/version",
            &format!(
                "Linux version {release} (nixbld@localhost) #1-NixOS SMP PREEMPT_DYNAMIC Tue Jan  1 00:00:00 UTC 1980"
            ),
        );
    }
    t.remove("nix/var/nix/profiles/system-42-link");
    t.link(
        &format!("nix/var/nix/profiles/system-{generation}-link"),
        &format!("/{NIX_SYSTEM}"),
    );
    t.link(
        "nix/var/nix/profiles/system",
        &format!("system-{generation}-link"),
    );
    (m, t)
}

/// Takes module `ipts` out of the kernel's module tree: its file, its modules.dep
/// and modules.alias lines (the config still says `=m`).
fn drop_ipts_module(m: &Sb2, t: &Tree) {
    let dir = m.module_dir();
    let path = "kernel/drivers/hid/ipts/ipts.ko.zst";
    t.remove(&format!("{dir}/{path}"));
    for (index, gone) in [("modules.dep", path), ("modules.alias", " ipts")] {
        let f = format!("{dir}/{index}");
        let text = t.read(&f).expect("module index");
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(gone) && !l.ends_with(gone))
            .map(|l| format!("{l}\n"))
            .collect();
        t.file(&f, kept);
    }
}

fn regressed(c: &Comparison) -> Vec<&str> {
    c.regressions.iter().map(|r| r.subsystem.as_str()).collect()
}

fn status(b: &BootRecord, id: &str) -> Status {
    b.report
        .subsystems
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no subsystem {id}"))
        .status
}

fn all_ok(b: &BootRecord) {
    for s in &b.report.subsystems {
        assert_eq!(
            s.status,
            Status::Ok,
            "{}: {} ({})",
            b.boot_id,
            s.id,
            s.summary
        );
    }
}

fn unbound(bus: &str, device: &str, driver: &str) -> FactChange {
    FactChange::DriverUnbound {
        bus: bus.into(),
        device: device.into(),
        driver: driver.into(),
    }
}

const MEI_CLIENT: &str = "0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04";
/// The 15"'s IPTS HID device, without its instance number.
const IPTS_HID: &str = "0000:045E:0020";

/// The three boots of the issue: healthy on 6.18.8 (generation 41); then iptsd gone;
/// then a newer kernel, 6.19.8 (generation 42), whose module tree lacks ipts.
fn three_boots() -> [BootRecord; 3] {
    let (_, t1) = nixos("6.18.8", 41);
    let b1 = record(&t1, "boot-1");

    let (m2, t2) = nixos("6.18.8", 41);
    Break::IptsdNotInstalled.apply(&m2, &t2);
    let b2 = record(&t2, "boot-2");

    let (m3, t3) = nixos("6.19.8", 42);
    Break::IptsdNotInstalled.apply(&m3, &t3);
    Break::IptsNotLoaded.apply(&m3, &t3);
    drop_ipts_module(&m3, &t3);
    let b3 = record(&t3, "boot-3");
    [b1, b2, b3]
}

#[test]
fn three_boots_name_exactly_the_touch_regressions_with_both_kernels() {
    let [b1, b2, b3] = three_boots();
    all_ok(&b1);
    assert_eq!(b1.label(), "6.18.8 (generation 41)");
    assert_eq!(b3.label(), "6.19.8 (generation 42)");
    assert!(b1.facts.unknown.is_empty(), "{:?}", b1.facts.unknown);

    // Boot 2: iptsd is gone; touch worked on the boot before.
    let c = compare(std::slice::from_ref(&b1), &b2, &P);
    assert_eq!(regressed(&c), ["touch"], "{c:#?}");
    assert!(c.recoveries.is_empty() && c.explained.is_empty(), "{c:#?}");
    let r = &c.regressions[0];
    assert_eq!(r.previous.to_string(), "6.18.8 (generation 41)");
    assert_eq!(r.current.to_string(), "6.18.8 (generation 41)");
    assert_eq!(
        (r.old_status, r.new_status),
        (Status::Ok, status(&b2, "touch"))
    );
    assert!(r.new_status.is_problem());
    assert_eq!(
        r.changes,
        [
            FactChange::ServiceStopped {
                name: "iptsd".into()
            },
            FactChange::UdevRuleGone {
                name: "50-iptsd.rules".into()
            },
        ]
    );
    assert_eq!(r.summary, b2.report.subsystems[1].summary);
    assert!(r.hint.is_some());

    // Boot 3: the new kernel lacks ipts. Touch last worked on boot 1 (6.18.8,
    // generation 41): the regression names that kernel and this one, the module
    // first, then what follows from it.
    let c = compare(&[b2.clone(), b1.clone()], &b3, &P);
    assert_eq!(regressed(&c), ["touch"], "{c:#?}");
    assert!(c.recoveries.is_empty() && c.explained.is_empty(), "{c:#?}");
    let r = &c.regressions[0];
    assert_eq!(r.previous.boot_id, "boot-1");
    assert_eq!(r.previous.to_string(), "6.18.8 (generation 41)");
    assert_eq!(r.current.to_string(), "6.19.8 (generation 42)");
    assert_eq!(
        r.changes,
        [
            FactChange::ModuleGone {
                module: "ipts".into()
            },
            unbound("hid", IPTS_HID, "hid-generic"),
            unbound("mei", MEI_CLIENT, "ipts"),
            FactChange::ServiceStopped {
                name: "iptsd".into()
            },
            FactChange::UdevRuleGone {
                name: "50-iptsd.rules".into()
            },
        ]
    );
    assert!(
        r.to_string().starts_with(
            "touch worked on 6.18.8 (generation 41), fails on 6.19.8 (generation 42): module ipts is missing from this kernel; "
        ),
        "{r}"
    );
    assert!(
        r.summary.contains("ipts"),
        "the summary is the report's: {}",
        r.summary
    );

    // diff between boots 2 and 3: the kernel changed, touch stayed broken.
    let d = diff(&b2, &b3, &P);
    assert_eq!(
        d.changes,
        [
            FactChange::ModuleGone {
                module: "ipts".into()
            },
            unbound("hid", IPTS_HID, "hid-generic"),
            unbound("mei", MEI_CLIENT, "ipts"),
        ]
    );
    let moved: Vec<&str> = d.statuses.iter().map(|(id, _, _)| id.as_str()).collect();
    assert!(!moved.contains(&"kernel"), "{:?}", d.statuses);
    for (id, a, b) in &d.statuses {
        assert_eq!((*a, *b), (status(&b2, id), status(&b3, id)));
        assert_ne!(a, b);
    }
    // diff between boots 1 and 3: touch's status change and every fact change.
    let d = diff(&b1, &b3, &P);
    assert!(
        d.statuses
            .contains(&("touch".to_string(), Status::Ok, status(&b3, "touch"))),
        "{:?}",
        d.statuses
    );
    assert_eq!(d.changes.len(), 5, "{:?}", d.changes);
    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j["changes"][0]["change"], "module_gone");
}

#[test]
fn the_boot_that_repairs_touch_is_a_recovery() {
    let [b1, b2, b3] = three_boots();
    let (_, t4) = nixos("6.19.9", 43);
    let b4 = record(&t4, "boot-4");
    all_ok(&b4);
    let c = compare(&[b3, b2, b1], &b4, &P);
    assert!(c.regressions.is_empty(), "{c:#?}");
    assert_eq!(c.recoveries.len(), 1, "{c:#?}");
    let r = &c.recoveries[0];
    assert_eq!(r.subsystem, "touch");
    assert_eq!(r.previous.to_string(), "6.19.8 (generation 42)");
    assert_eq!(r.current.to_string(), "6.19.9 (generation 43)");
    assert_eq!(r.new_status, Status::Ok);
    assert!(r.old_status.is_problem());
    assert_eq!(
        r.changes[0],
        FactChange::ModuleAdded {
            module: "ipts".into()
        }
    );
    assert!(r.changes.contains(&FactChange::ServiceStarted {
        name: "iptsd".into()
    }));
    assert!(r.changes.iter().all(|c| !c.is_loss()), "{:?}", r.changes);
}

#[test]
fn a_detached_base_is_no_regression() {
    let attached = Sb2::new(Size::In15, Distro::NixOs);
    let b1 = record(&attached.build(), "attached");
    let mut m = attached.clone();
    m.base_attached = false;
    let b2 = record(&m.build(), "detached");
    assert_eq!(b2.report.machine.base, "detached");

    // The keyboard's binding and the dGPU went with the base: facts changed, and
    // the checks that know the base is away judge its parts absent.
    let d = diff(&b1, &b2, &P);
    assert!(
        d.changes
            .contains(&unbound("hid", "0003:045E:0922", "hid-multitouch")),
        "{:?}",
        d.changes
    );
    let c = compare(std::slice::from_ref(&b1), &b2, &P);
    assert!(c.regressions.is_empty(), "{c:#?}");
    assert!(
        c.explained
            .iter()
            .all(|e| ["input", "battery", "dgpu"].contains(&e.subsystem.as_str())),
        "{c:#?}"
    );
    for id in ["input", "battery", "dgpu"] {
        assert!(!status(&b2, id).is_problem(), "{id}: {:?}", status(&b2, id));
    }

    // What fails on the clipboard while the base is away is still a regression.
    let t = m.build();
    Break::ButtonsGone.apply(&m, &t);
    let b3 = record(&t, "detached-no-buttons");
    assert!(status(&b3, "input").is_problem());
    let c = compare(std::slice::from_ref(&b1), &b3, &P);
    assert_eq!(regressed(&c), ["input"], "{c:#?}");
    assert!(c.explained.is_empty(), "{c:#?}");
}

#[test]
fn an_unknown_fact_is_never_claimed_gone() {
    let m = Sb2::new(Size::In15, Distro::NixOs);
    let b1 = record(&m.build(), "healthy");
    // ipts unloaded on a tree whose config is garbled and whose processes and
    // cgroups were not copied: whether iptsd runs and what the config says are
    // unknown.
    let t = m.build();
    Break::IptsNotLoaded.apply(&m, &t);
    t.file("proc/config.gz", b"not gzip");
    for pid in t.list("proc") {
        if pid.bytes().all(|b| b.is_ascii_digit()) {
            t.remove(&format!("proc/{pid}"));
        }
    }
    t.remove("sys/fs/cgroup");
    let b2 = record(&t, "blind");
    for u in ["config", "services:iptsd", "services:surface-dtx-daemon"] {
        assert!(
            b2.facts.unknown.iter().any(|x| x == u),
            "{u} not unknown: {:?}",
            b2.facts.unknown
        );
    }
    let c = compare(std::slice::from_ref(&b1), &b2, &P);
    assert_eq!(regressed(&c), ["touch"], "{c:#?}");
    assert_eq!(
        c.regressions[0].changes,
        [
            FactChange::ModuleNotLoaded {
                module: "ipts".into()
            },
            unbound("hid", IPTS_HID, "hid-generic"),
            unbound("mei", MEI_CLIENT, "ipts"),
        ]
    );
    // Nor in either direction of a diff.
    for d in [diff(&b1, &b2, &P), diff(&b2, &b1, &P)] {
        for ch in &d.changes {
            assert!(
                !matches!(
                    ch,
                    FactChange::ConfigGone { .. }
                        | FactChange::ConfigSet { .. }
                        | FactChange::ConfigChanged { .. }
                        | FactChange::ServiceStopped { .. }
                        | FactChange::ServiceStarted { .. }
                ),
                "claimed {ch} from an unknown fact"
            );
        }
    }
}

/// The ImgU firmware is gone, so the ImgU failed to probe.
fn imgu_without_firmware(m: &Sb2, t: &Tree) {
    Break::ImguFirmwareRemoved.apply(m, t);
    Break::ImguProbeFailed.apply(m, t);
}

#[test]
fn a_subsystem_never_ok_is_no_regression() {
    let (m, t) = nixos("6.18.8", 41);
    imgu_without_firmware(&m, &t);
    let b1 = record(&t, "one");
    assert!(status(&b1, "camera").is_problem());
    let (m, t) = nixos("6.19.8", 42);
    imgu_without_firmware(&m, &t);
    let b2 = record(&t, "two");
    assert!(status(&b2, "camera").is_problem());
    let c = compare(std::slice::from_ref(&b1), &b2, &P);
    assert!(
        c.regressions.is_empty() && c.recoveries.is_empty(),
        "{c:#?}"
    );
    // Once it worked, the same failure is one, with the firmware named.
    let b0 = record(&nixos("6.18.8", 41).1, "zero");
    let c = compare(&[b1, b0], &b2, &P);
    assert_eq!(regressed(&c), ["camera"], "{c:#?}");
    assert_eq!(c.regressions[0].previous.boot_id, "zero");
    assert_eq!(
        c.regressions[0].changes,
        [
            FactChange::FirmwareGone {
                file: "intel/ipu3-fw.bin".into()
            },
            unbound("pci", "0000:00:05.0", "ipu3-imgu"),
        ]
    );
}

#[test]
fn absent_now_is_no_regression() {
    let m = Sb2::new(Size::In15, Distro::NixOs);
    let b1 = record(&m.build(), "cameras-on");
    // Cameras off in the UEFI settings: the CIO2 and ImgU functions are not on PCI.
    let t = m.build();
    for slot in ["0000:00:14.3", "0000:00:05.0"] {
        t.remove_device("pci", slot);
    }
    let b2 = record(&t, "cameras-off");
    assert_eq!(status(&b2, "camera"), Status::Absent);
    let c = compare(std::slice::from_ref(&b1), &b2, &P);
    assert!(c.is_empty(), "{c:#?}");
    let d = diff(&b1, &b2, &P);
    assert_eq!(
        d.statuses,
        [("camera".to_string(), Status::Ok, Status::Absent)]
    );
    assert!(
        d.changes
            .contains(&unbound("pci", "0000:00:14.3", "ipu3-cio2")),
        "{:?}",
        d.changes
    );
}
