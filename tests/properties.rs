//! Properties of the whole pipeline:
//! - verdicts (and facts) do not depend on the order in which directories are listed;
//! - `capture` then `status --from` gives the same verdicts as the live run, and the
//!   capture carries no serial number, host name or root UUID;
//! - breaking a link never makes a subsystem better, and repairing it (the healthy
//!   tree) never makes it worse; two broken links are no better than either alone;
//! - a working downstream link (sensors bound, a sane battery, iptsd's virtual
//!   devices) never leaves an upstream check of its chain failed;
//! - no check that rests on an unverified fact returns failed or degraded;
//! - a corrupted DMI identity file never turns a Surface Book 2 into another
//!   machine, nor any subsystem absent, nor the run into a silent all-clear.
//!
//! Each case runs the real binary on a tree built in memory.

mod common;

use std::sync::OnceLock;

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use proptest::prelude::*;
use serde_json::Value;
use surface_check::checks::diagnose;
use surface_check::facts::{self, Facts};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::root::Root;

fn fixtures() -> &'static Vec<Tree> {
    static F: OnceLock<Vec<Tree>> = OnceLock::new();
    F.get_or_init(|| {
        let mut detached = Sb2::new(Size::In15, Distro::DebianSurface);
        detached.base_attached = false;
        let broken = Sb2::new(Size::In13, Distro::NixOs).build();
        broken.unbind("serial", "serial0-0");
        vec![
            Sb2::new(Size::In13, Distro::NixOs).build(),
            Sb2::new(Size::In15, Distro::DebianSurface).build(),
            Sb2::new(Size::In15, Distro::DebianStock).build(),
            detached.build(),
            broken,
        ]
    })
}

fn collect(root: &Root) -> Facts {
    facts::collect(root, &SURFACE_BOOK_2).expect("collects")
}

fn baseline(i: usize) -> &'static (Facts, String) {
    static B: OnceLock<Vec<(Facts, String)>> = OnceLock::new();
    &B.get_or_init(|| {
        fixtures()
            .iter()
            .map(|t| {
                let f = collect(&Root::open(t.path()).unwrap());
                let r = serde_json::to_string(&diagnose(&f, &SURFACE_BOOK_2, "x")).unwrap();
                (f, r)
            })
            .collect()
    })[i]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn listing_order_changes_nothing(seed in any::<u64>(), which in 0usize..5) {
        let t = &fixtures()[which];
        let shuffled = Root::open(t.path()).unwrap().with_listing_shuffle(seed).unwrap();
        let f = collect(&shuffled);
        let (base_facts, base_report) = baseline(which);
        prop_assert_eq!(&f, base_facts);
        let r = serde_json::to_string(&diagnose(&f, &SURFACE_BOOK_2, "x")).unwrap();
        prop_assert_eq!(&r, base_report);
    }
}

/// The parts of a report that are verdicts.
fn verdicts(r: &Value) -> Vec<(String, String, String, String)> {
    let mut v = vec![(
        "machine".into(),
        r["machine"]["model"].to_string(),
        r["kernel"]["surface_patches"].to_string(),
        r["overall"].to_string(),
    )];
    for s in r["subsystems"].as_array().unwrap() {
        v.push((
            s["id"].to_string(),
            s["status"].to_string(),
            s["summary"].to_string(),
            s["decided_by"].to_string(),
        ));
        for c in s["checks"].as_array().unwrap() {
            v.push((
                c["id"].to_string(),
                c["status"].to_string(),
                c["summary"].to_string(),
                c["hint"].to_string(),
            ));
        }
    }
    v
}

#[test]
fn capture_then_status_from_gives_the_same_verdicts() {
    for t in fixtures() {
        let root = t.path().to_str().unwrap();
        let (live_code, live) = common::status(t.path());
        let file = t.path().join("capture.json");
        let (code, _, err) =
            common::run(&["capture", "--root", root, "-o", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let captured = std::fs::read_to_string(&file).unwrap();
        for secret in [
            "0123456789",
            "9876543210",
            "sb2-owner",
            "0b5e1c1e-1234-4abc-9def-0123456789ab",
        ] {
            assert!(!captured.contains(secret), "capture leaks {secret}");
        }
        assert!(captured.contains("<redacted>"));
        let (code, out, err) = common::run(&["status", "--from", file.to_str().unwrap(), "--json"]);
        assert_eq!(code, live_code, "{err}");
        let offline: Value = serde_json::from_str(&out).unwrap();
        common::assert_schema(&offline);
        assert_eq!(verdicts(&offline), verdicts(&live));
    }
}

#[test]
fn a_capture_of_another_version_or_garbage_is_refused() {
    let t = Tree::new();
    t.file("old.json", r#"{"facts_version": 999}"#);
    t.file("garbage.json", b"\xff\x00{{{");
    t.file("other.json", r#"{"facts_version": 1, "hello": "world"}"#);
    for (f, want) in [
        ("old.json", "version 999"),
        ("garbage.json", "not JSON"),
        ("other.json", "not a surface-check capture"),
    ] {
        let (code, _, err) = common::run(&["status", "--from", t.path().join(f).to_str().unwrap()]);
        assert_eq!(code, 2);
        assert!(err.contains(want), "{f}: {err}");
    }
}

// ---- breaking and repairing links -----------------------------------------------

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use common::sb2::{Break, DMI_IDENTITY, DmiCorruption, corrupt_dmi};
use surface_check::report::Status;

fn status_of(v: &Value) -> Status {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("status {v}: {e}"))
}

/// A healthy machine of the kind the strategy picked.
fn machine(size13: bool, distro: u8, base_attached: bool) -> Sb2 {
    let size = if size13 { Size::In13 } else { Size::In15 };
    let distro = [Distro::NixOs, Distro::DebianSurface, Distro::DebianStock][distro as usize % 3];
    let mut m = Sb2::new(size, distro);
    m.base_attached = base_attached;
    m
}

fn key(m: &Sb2, breaks: &[Break]) -> String {
    format!(
        "{:?} {:?} base={} {breaks:?}",
        m.size, m.distro, m.base_attached
    )
}

/// `status` of `m` with `breaks` applied (in order): exit code and report. Runs
/// are cached by machine and breakers, since a tree and its verdict depend on
/// nothing else.
fn run(m: &Sb2, breaks: &[Break]) -> (i32, Value) {
    static CACHE: OnceLock<Mutex<HashMap<String, (i32, Value)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let k = key(m, breaks);
    if let Some(hit) = cache.lock().unwrap().get(&k) {
        return hit.clone();
    }
    let t = m.build_in_memory();
    for b in breaks {
        b.apply(m, &t);
    }
    let (code, r) = common::status(t.path());
    let found = downstream_violations(&t, &r)
        .into_iter()
        .chain(unverified_violations(&r))
        .collect::<Vec<_>>();
    assert!(
        found.is_empty(),
        "{k}:\n{}\n{}",
        found.join("\n"),
        common::overview(&r)
    );
    cache.lock().unwrap().insert(k, (code, r.clone()));
    (code, r)
}

/// The breakers that apply to `m`.
fn breakers(m: &Sb2) -> Vec<Break> {
    Break::all().into_iter().filter(|b| b.applies(m)).collect()
}

/// Where `after` (more links broken) is better than `before`: a subsystem whose
/// status has a lower severity, or one that turned `absent` (breaking a link
/// never takes hardware away: `absent` there hides the broken link).
fn better(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in before["subsystems"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let b = status_of(&s["status"]);
        let a = status_of(&common::subsystem(after, id)["status"]);
        let summary = common::subsystem(after, id)["summary"]
            .as_str()
            .unwrap_or("");
        if b != Status::Absent && a == Status::Absent {
            out.push(format!("{id}: {b} -> absent ({summary})"));
        } else if a.severity() < b.severity() {
            out.push(format!("{id}: {b} -> {a} ({summary})"));
        }
    }
    out
}

// ---- downstream proof -------------------------------------------------------------

fn problem(r: &Value, id: &str) -> Option<String> {
    let c = common::check(r, id);
    let st = status_of(&c["status"]);
    st.is_problem().then(|| {
        format!(
            "{id} is {st} ({})",
            c["summary"].as_str().unwrap_or_default()
        )
    })
}

/// Upstream checks left failed or degraded although a later link of their chain
/// works, read from the tree itself (not from the tool's facts).
fn downstream_violations(t: &Tree, r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if r["machine"]["model"] == "other" {
        return out;
    }
    // All three sensors bound: their power (INT3472) and the bridge's graph worked.
    let sensors_bound = ["INT33BE", "INT347A", "INT347E"]
        .iter()
        .all(|h| t.exists(&format!("sys/bus/i2c/devices/i2c-{h}:00/driver")));
    if sensors_bound {
        for id in ["camera.int3472", "camera.bridge"] {
            out.extend(problem(r, id).map(|p| format!("all three sensors bound, yet {p}")));
        }
    }
    // A clipboard battery with sane values: the aggregator path (SAN) answers.
    let bat = "sys/class/power_supply/BAT1";
    let capacity = t
        .read(&format!("{bat}/capacity"))
        .and_then(|c| c.trim().parse::<i64>().ok());
    let bat_status = t
        .read(&format!("{bat}/status"))
        .map(|s| s.trim().to_string());
    if capacity.is_some_and(|c| (0..=100).contains(&c))
        && bat_status.as_deref().is_some_and(|s| s != "Unknown")
    {
        out.extend(problem(r, "battery.san").map(|p| format!("BAT1 reports sane values, yet {p}")));
    }
    // iptsd's virtual touchscreen and stylus: MEI, ipts and the raw device worked.
    let names: Vec<String> = t
        .list("sys/class/input")
        .iter()
        .filter(|e| e.starts_with("input"))
        .filter_map(|e| t.read(&format!("sys/class/input/{e}/name")))
        .collect();
    let has = |p: &str| names.iter().any(|n| n.starts_with(p));
    if has("IPTSD Virtual Touchscreen") && has("IPTSD Virtual Stylus") {
        for id in [
            "touch.mei",
            "touch.ipts-driver",
            "touch.ipts-bound",
            "touch.hid",
        ] {
            out.extend(problem(r, id).map(|p| format!("iptsd's virtual devices exist, yet {p}")));
        }
    }
    out
}

// ---- unverified facts never fail ------------------------------------------------

/// Ids of the checks that may not fail: from the library's registry, and from
/// `checks --json` when it publishes `may_fail` (the two must agree).
fn may_not_fail() -> &'static BTreeSet<String> {
    static S: OnceLock<BTreeSet<String>> = OnceLock::new();
    S.get_or_init(|| {
        let lib: BTreeSet<String> = surface_check::checks::all_checks()
            .filter(|(_, c)| !c.may_fail())
            .map(|(_, c)| c.id.to_string())
            .collect();
        let (code, out, err) = common::run(&["checks", "--json"]);
        assert_eq!(code, 0, "{err}");
        let list: Value = serde_json::from_str(&out).expect("checks --json");
        for c in list.as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            let published = c
                .get("may_fail")
                .or_else(|| c.get("basis").and_then(|b| b.get("may_fail")));
            if let Some(mf) = published {
                assert_eq!(
                    mf.as_bool(),
                    Some(!lib.contains(id)),
                    "{id}: checks --json says may_fail {mf}, the registry disagrees"
                );
            }
        }
        lib
    })
}

fn unverified_violations(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in r["subsystems"].as_array().unwrap() {
        for c in s["checks"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            if may_not_fail().contains(id) && status_of(&c["status"]).is_problem() {
                out.push(format!(
                    "{id} rests on an unverified fact, yet is {} ({})",
                    c["status"],
                    c["summary"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// One broken link: no subsystem gets better, and the healthy tree (the link
    /// repaired) is no worse than the broken one, exit code included. Every tree
    /// also satisfies downstream proof and the unverified-fact rule (in `run`).
    #[test]
    fn breaking_one_link_never_makes_a_subsystem_better(
        size13 in any::<bool>(),
        distro in 0u8..3,
        base in prop::bool::weighted(0.85),
        pick in any::<prop::sample::Index>(),
    ) {
        let m = machine(size13, distro, base);
        let list = breakers(&m);
        let b = *pick.get(&list);
        let (healthy_code, healthy) = run(&m, &[]);
        let (code, broken) = run(&m, &[b]);
        let worse = better(&healthy, &broken);
        prop_assert!(
            worse.is_empty(),
            "{}: breaking {:?} made it better:\n{}\nhealthy:\n{}\nbroken:\n{}",
            key(&m, &[]), b, worse.join("\n"), common::overview(&healthy), common::overview(&broken)
        );
        prop_assert!(code >= healthy_code, "{:?}: exit {} -> {}", b, healthy_code, code);
    }

    /// Two broken links are no better than either one alone.
    #[test]
    fn two_broken_links_are_no_better_than_one(
        size13 in any::<bool>(),
        distro in 0u8..3,
        base in prop::bool::weighted(0.85),
        first in any::<prop::sample::Index>(),
        second in any::<prop::sample::Index>(),
    ) {
        let m = machine(size13, distro, base);
        let list = breakers(&m);
        let a = *first.get(&list);
        let mut b = *second.get(&list);
        if a == b {
            b = list[(list.iter().position(|x| *x == a).unwrap() + 1) % list.len()];
        }
        let (code_ab, ab) = run(&m, &[a, b]);
        for one in [a, b] {
            let (code, r) = run(&m, &[one]);
            let worse = better(&r, &ab);
            prop_assert!(
                worse.is_empty(),
                "{}: {:?} + {:?} is better than {:?} alone:\n{}\n{:?} alone:\n{}\nboth:\n{}",
                key(&m, &[]), a, b, one, worse.join("\n"), one, common::overview(&r), common::overview(&ab)
            );
            prop_assert!(code_ab >= code, "{:?}+{:?}: exit {} < {}", a, b, code_ab, code);
        }
    }
}

// ---- identity -------------------------------------------------------------------

fn corruption() -> impl Strategy<Value = DmiCorruption> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..40).prop_map(DmiCorruption::Garbage),
        Just(DmiCorruption::Empty),
        Just(DmiCorruption::ZeroBytes),
        Just(DmiCorruption::Missing),
        Just(DmiCorruption::NonUtf8),
        Just(DmiCorruption::Directory),
        Just(DmiCorruption::DanglingLink),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// One corrupted DMI identity file of a Surface Book 2: the model is the
    /// Surface Book 2 (the right size when the size was decided, else no size) or `unknown`,
    /// never `other`; no subsystem turns absent; the run is no silent all-clear.
    #[test]
    fn a_corrupted_identity_file_never_hides_the_machine(
        size13 in any::<bool>(),
        distro in 0u8..3,
        file in 0usize..4,
        how in corruption(),
    ) {
        let m = machine(size13, distro, true);
        let (_, healthy) = run(&m, &[]);
        let t = m.build_in_memory();
        let name = DMI_IDENTITY[file];
        corrupt_dmi(&t, name, &how);
        let (code, r) = common::status(t.path());
        common::assert_schema(&r);
        let what = format!("{} with {name} {how:?}", key(&m, &[]));
        let model = r["machine"]["model"].as_str().unwrap_or_default().to_string();
        let truth = if size13 { "surface-book-2-13" } else { "surface-book-2-15" };
        prop_assert!(
            ["surface-book-2-13", "surface-book-2-15", "surface-book-2", "unknown"].contains(&model.as_str()),
            "{}: model {} ({})", what, model, r["machine"]["model_evidence"]
        );
        // A size the tool says it decided (from the IPTS HID id or the SKU) is right.
        let source = r["machine"]["model_source"].as_str().unwrap_or_default();
        if ["ipts-hid", "dmi-sku", "dgpu"].contains(&source) {
            prop_assert_eq!(&model, truth, "{}: size from {}", what, source);
        }
        let gone = better(&healthy, &r)
            .into_iter()
            .filter(|l| l.contains("-> absent"))
            .collect::<Vec<_>>();
        prop_assert!(gone.is_empty(), "{}: absent because of identity:\n{}\n{}",
            what, gone.join("\n"), common::overview(&r));
        let all_absent = r["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "absent");
        prop_assert!(!(code == 0 && all_absent), "{}: exit 0 with everything absent", what);
        prop_assert_ne!(&r["overall"], "absent", "{}", what);
        let found = downstream_violations(&t, &r)
            .into_iter()
            .chain(unverified_violations(&r))
            .collect::<Vec<_>>();
        prop_assert!(found.is_empty(), "{}:\n{}", what, found.join("\n"));
    }
}

/// The breakers themselves: each applies to some machine and changes its tree, so
/// the properties above are not vacuous.
#[test]
fn every_breaker_changes_the_report_of_some_machine() {
    let machines: Vec<Sb2> = [(true, 1u8), (false, 1), (false, 0), (true, 2)]
        .iter()
        .map(|&(s, d)| machine(s, d, true))
        .collect();
    let mut inert = Vec::new();
    for b in Break::all() {
        let changed = machines.iter().filter(|m| b.applies(m)).any(|m| {
            let (_, h) = run(m, &[]);
            let (_, r) = run(m, &[b]);
            // Compare what the tool says, not only statuses: a notice counts.
            serde_json::to_string(&h["subsystems"]).unwrap()
                != serde_json::to_string(&r["subsystems"]).unwrap()
        });
        if !changed {
            inert.push(format!("{b:?}"));
        }
    }
    assert!(
        inert.is_empty(),
        "breakers the tool does not notice: {inert:?}"
    );
}
