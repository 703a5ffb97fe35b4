//! Properties of the whole pipeline:
//! - verdicts (and facts) do not depend on the order in which directories are listed;
//! - `capture` then `status --from` gives the same verdicts as the live run, and the
//!   capture carries no serial number, host name or root UUID.

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
