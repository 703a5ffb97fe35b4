//! `surface-check metrics` through the real binary on fixture trees and fixture
//! histories (tests/common/boots.rs: a NixOS Surface Book 2 healthy on 6.18.8, then
//! 6.19.8 without the ipts module).
//!
//! The output is read by real consumers: Python's prometheus_client parser
//! (`text_string_to_metric_families`, Debian's python3-prometheus-client), `promtool
//! check metrics` (Debian's prometheus package) and node_exporter's own textfile
//! collector (prometheus-node-exporter), scraped over HTTP. The alerting rules of
//! docs/fleet/ go through `promtool check rules` and `promtool test rules`.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::boots::{BOOT3, boot1, boot2, boot3};
use common::tree::Tree;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const TEXTFILE: &str = "surface_check.prom";

// ---- running it -----------------------------------------------------------------

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn run_cmd(mut c: Command, shown: &str) -> Run {
    let none = std::env::temp_dir().join("surface-check-no-journal-here");
    let out = c
        .env("NO_COLOR", "1")
        .env_remove("STATE_DIRECTORY")
        .env("SURFACE_CHECK_JOURNAL_SOCKET", &none)
        .output()
        .unwrap_or_else(|e| panic!("running {shown}: {e}"));
    let r = Run {
        code: out.status.code().expect("exited, not killed"),
        out: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        err: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    };
    eprintln!("$ {shown}\n{}(exit {})", r.err, r.code);
    r
}

fn run(args: &[&str]) -> Run {
    let mut c = Command::new(BIN);
    c.args(args);
    run_cmd(c, &format!("surface-check {}", args.join(" ")))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `metrics --local --root TREE --state-dir STATE [extra]`.
fn metrics(tree: &Tree, state: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "metrics",
        "--local",
        "--root",
        s(tree.path()),
        "--state-dir",
        s(state),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `report --local --root TREE --state-dir STATE`: records the tree's boot.
fn record(tree: &Tree, state: &Path) -> i32 {
    run(&[
        "report",
        "--local",
        "--root",
        s(tree.path()),
        "--state-dir",
        s(state),
    ])
    .code
}

// ---- the real parsers -----------------------------------------------------------

/// Python's prometheus_client parser: each family with its type, help and samples,
/// as JSON.
const PARSE_PY: &str = r#"
import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    sys.exit("prometheus_client is missing (%s): install Debian's python3-prometheus-client (scripts/test.sh does)" % e)
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value,
                             "timestamp": s.timestamp} for s in f.samples]})
json.dump(out, sys.stdout)
"#;

/// A family as prometheus_client parsed it.
#[derive(Debug)]
struct Family {
    kind: String,
    help: String,
    /// (labels, value) in the order written.
    samples: Vec<(BTreeMap<String, String>, f64)>,
}

/// Runs `cmd` with `text` on its standard input; `missing` is the panic message
/// when it cannot start.
fn with_stdin(cmd: &mut Command, text: &str, missing: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(missing);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The text parsed by prometheus_client, by family name; panics when it does not
/// parse.
fn parse(text: &str) -> BTreeMap<String, Family> {
    let out = with_stdin(
        Command::new("/usr/bin/python3").args(["-c", PARSE_PY]),
        text,
        "/usr/bin/python3 must be installed (Debian's python3; scripts/test.sh)",
    );
    assert!(
        out.status.success(),
        "prometheus_client did not parse the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut families = BTreeMap::new();
    for f in v.as_array().unwrap() {
        let name = f["name"].as_str().unwrap().to_string();
        let samples = f["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                if name.starts_with("surface_check_") {
                    assert_eq!(s["name"], f["name"], "a sample outside its family");
                }
                assert!(s["timestamp"].is_null(), "a sample with a timestamp: {s}");
                let labels = s["labels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                (labels, s["value"].as_f64().unwrap())
            })
            .collect();
        let fam = Family {
            kind: f["type"].as_str().unwrap().to_string(),
            help: f["help"].as_str().unwrap().to_string(),
            samples,
        };
        // (prometheus_client names a counter's family without `_total`, so
        // node_exporter's own `x` gauge and `x_total` counter share a name: only
        // this project's families are held to being written once.)
        if families.insert(name.clone(), fam).is_some() {
            assert!(
                !name.starts_with("surface_check_"),
                "family {name} written twice"
            );
        }
    }
    families
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of the series of `family` with exactly these labels.
fn value(fams: &BTreeMap<String, Family>, family: &str, pairs: &[(&str, &str)]) -> f64 {
    let f = fams
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    let want = labels(pairs);
    let hits: Vec<f64> = f
        .samples
        .iter()
        .filter(|(l, _)| *l == want)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(hits.len(), 1, "{family}{want:?}: {:?}", f.samples);
    hits[0]
}

/// `promtool check metrics` on the text: exits 0 and reports no problem.
fn promtool_check_metrics(text: &str) {
    let out = with_stdin(
        Command::new("promtool").args(["check", "metrics"]),
        text,
        "promtool must be installed (Debian's prometheus package; scripts/test.sh)",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );
}

/// The report `status --local --root TREE --json` gives.
fn status_json(tree: &Tree) -> Value {
    let r = run(&["status", "--local", "--json", "--root", s(tree.path())]);
    serde_json::from_str(&r.out).expect("status --json prints JSON")
}

const STATUSES: [&str; 5] = ["ok", "degraded", "failed", "absent", "unknown"];

/// Every subsystem of `report` has exactly its status at 1 in the state set, and the
/// overall status likewise.
fn assert_state_sets_match(fams: &BTreeMap<String, Family>, report: &Value) {
    let subs = report["subsystems"].as_array().unwrap();
    assert_eq!(
        fams["surface_check_subsystem_status"].samples.len(),
        subs.len() * STATUSES.len()
    );
    for sub in subs {
        let id = sub["id"].as_str().unwrap();
        for st in STATUSES {
            let want = if sub["status"] == st { 1.0 } else { 0.0 };
            assert_eq!(
                value(
                    fams,
                    "surface_check_subsystem_status",
                    &[("subsystem", id), ("status", st)]
                ),
                want,
                "{id} {st}"
            );
        }
    }
    for st in STATUSES {
        let want = if report["overall"] == st { 1.0 } else { 0.0 };
        assert_eq!(value(fams, "surface_check_status", &[("status", st)]), want);
    }
}

// ---- the metrics ----------------------------------------------------------------

#[test]
fn a_healthy_machine_without_a_history_gives_every_family_and_creates_nothing() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("history");
    let r = metrics(&t, &state_dir, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    promtool_check_metrics(&r.out);
    let fams = parse(&r.out);
    let want_families = [
        "surface_check_status",
        "surface_check_subsystem_status",
        "surface_check_patches",
        "surface_check_kernel_info",
        "surface_check_machine_info",
        "surface_check_build_info",
        "surface_check_history_judged",
        "surface_check_regressions",
        "surface_check_subsystem_regressed",
        "surface_check_subsystem_regressed_after_kernel_update",
        "surface_check_recoveries",
        "surface_check_history_boots",
        "surface_check_boot_recorded",
        "surface_check_hung_paths",
        "surface_check_run_duration_seconds",
        "surface_check_last_run_timestamp_seconds",
    ];
    assert_eq!(
        fams.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut w = want_families.to_vec();
            w.sort();
            w
        },
        "families"
    );
    for (name, f) in &fams {
        assert_eq!(f.kind, "gauge", "{name}");
        assert!(!f.help.is_empty(), "{name} has no help");
    }
    // Families in the declared order in the text.
    let order: Vec<&str> = r
        .out
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(order, want_families);

    let report = status_json(&t);
    assert_eq!(report["overall"], "ok", "the fixture is healthy");
    assert_state_sets_match(&fams, &report);
    assert_eq!(
        value(&fams, "surface_check_patches", &[("verdict", "present")]),
        1.0
    );
    assert_eq!(
        value(&fams, "surface_check_patches", &[("verdict", "absent")]),
        0.0
    );
    assert_eq!(
        value(&fams, "surface_check_patches", &[("verdict", "unknown")]),
        0.0
    );
    assert_eq!(
        value(
            &fams,
            "surface_check_kernel_info",
            &[
                ("release", "6.18.8"),
                (
                    "version",
                    "#1-NixOS SMP PREEMPT_DYNAMIC Tue Jan  1 00:00:00 UTC 1980"
                ),
                ("nixos_generation", "41"),
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "surface_check_machine_info",
            &[("model", report["machine"]["model"].as_str().unwrap())]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "surface_check_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // No history: judged (nothing to compare with), nothing regressed.
    assert_eq!(value(&fams, "surface_check_history_judged", &[]), 1.0);
    assert_eq!(value(&fams, "surface_check_regressions", &[]), 0.0);
    assert_eq!(value(&fams, "surface_check_recoveries", &[]), 0.0);
    assert_eq!(value(&fams, "surface_check_history_boots", &[]), 0.0);
    assert_eq!(value(&fams, "surface_check_boot_recorded", &[]), 0.0);
    for sub in report["subsystems"].as_array().unwrap() {
        let id = sub["id"].as_str().unwrap();
        for family in [
            "surface_check_subsystem_regressed",
            "surface_check_subsystem_regressed_after_kernel_update",
        ] {
            assert_eq!(value(&fams, family, &[("subsystem", id)]), 0.0, "{family}");
        }
    }
    assert_eq!(value(&fams, "surface_check_hung_paths", &[]), 0.0);
    let d = value(&fams, "surface_check_run_duration_seconds", &[]);
    assert!(d > 0.0 && d < 60.0, "duration {d}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let ts = value(&fams, "surface_check_last_run_timestamp_seconds", &[]);
    assert!((now - ts).abs() < 120.0, "timestamp {ts}, now {now}");
    // Reading never creates the history.
    assert!(
        !state_dir.exists(),
        "metrics created {}",
        state_dir.display()
    );
}

/// The issue's kernel update: boot 1 healthy on 6.18.8 (generation 41), boot 3 on
/// 6.19.8 (generation 42) without the ipts module.
#[test]
fn a_regression_after_a_kernel_update_is_a_one_for_its_subsystem() {
    let state = tempfile::tempdir().unwrap();
    assert_eq!(record(&boot1(), state.path()), 0);
    let t3 = boot3();

    // Before `report` recorded boot 3 (metrics run first): judged against boot 1.
    let r = metrics(&t3, state.path(), &[]);
    assert_eq!(r.code, 0, "a regression is still exit 0: {}", r.err);
    let fams = parse(&r.out);
    assert_eq!(
        value(
            &fams,
            "surface_check_subsystem_regressed",
            &[("subsystem", "touch")]
        ),
        1.0
    );
    assert_eq!(value(&fams, "surface_check_boot_recorded", &[]), 0.0);
    assert_eq!(value(&fams, "surface_check_history_boots", &[]), 1.0);

    // After it (as the report service's ExecStopPost= runs it).
    assert_eq!(record(&t3, state.path()), 1, "report names the regression");
    let db = state.path().join("history.sqlite");
    let before = snapshot_dir(state.path());
    let r = metrics(&t3, state.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    eprintln!("{}", r.out);
    promtool_check_metrics(&r.out);
    let fams = parse(&r.out);
    let report = status_json(&t3);
    assert_state_sets_match(&fams, &report);
    let regressed: Vec<&str> = fams["surface_check_subsystem_regressed"]
        .samples
        .iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(l, _)| l["subsystem"].as_str())
        .collect();
    assert_eq!(regressed, ["touch"]);
    // 6.18.8 (generation 41) then 6.19.8 (generation 42): after a kernel update.
    let after_update: Vec<&str> = fams["surface_check_subsystem_regressed_after_kernel_update"]
        .samples
        .iter()
        .filter(|(_, v)| *v == 1.0)
        .map(|(l, _)| l["subsystem"].as_str())
        .collect();
    assert_eq!(after_update, ["touch"]);
    assert_eq!(
        fams["surface_check_subsystem_regressed"].samples.len(),
        report["subsystems"].as_array().unwrap().len(),
        "one series per subsystem"
    );
    assert_eq!(value(&fams, "surface_check_regressions", &[]), 1.0);
    assert_eq!(value(&fams, "surface_check_recoveries", &[]), 0.0);
    assert_eq!(value(&fams, "surface_check_history_judged", &[]), 1.0);
    assert_eq!(value(&fams, "surface_check_history_boots", &[]), 2.0);
    assert_eq!(value(&fams, "surface_check_boot_recorded", &[]), 1.0);
    assert_eq!(
        value(
            &fams,
            "surface_check_subsystem_status",
            &[("subsystem", "touch"), ("status", "ok")]
        ),
        0.0
    );
    let info = &fams["surface_check_kernel_info"].samples;
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].0["release"], "6.19.8");
    assert_eq!(info[0].0["nixos_generation"], "42");
    // The history was only read: the same files, the same bytes.
    assert!(db.exists(), "{}", db.display());
    assert_eq!(
        snapshot_dir(state.path()),
        before,
        "metrics changed the history"
    );
    // The same judgement `report --json` makes.
    let again = run(&[
        "report",
        "--local",
        "--json",
        "--root",
        s(t3.path()),
        "--state-dir",
        s(state.path()),
    ]);
    let outcome: Value = serde_json::from_str(&again.out).unwrap();
    let subs: Vec<&str> = outcome["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["subsystem"].as_str().unwrap())
        .collect();
    assert_eq!(subs, regressed);
    assert_eq!(outcome["boot"]["boot_id"], BOOT3);
}

/// Boot 1 healthy on 6.18.8 (generation 41), boot 2 on the same kernel and
/// generation with iptsd gone: touch regressed, but not after a kernel update.
#[test]
fn a_regression_on_the_same_kernel_is_not_after_a_kernel_update() {
    let state = tempfile::tempdir().unwrap();
    assert_eq!(record(&boot1(), state.path()), 0);
    let t2 = boot2();
    assert_eq!(record(&t2, state.path()), 1, "report names the regression");
    let r = metrics(&t2, state.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    promtool_check_metrics(&r.out);
    let fams = parse(&r.out);
    let ones = |family: &str| -> Vec<String> {
        fams[family]
            .samples
            .iter()
            .filter(|(_, v)| *v == 1.0)
            .map(|(l, _)| l["subsystem"].clone())
            .collect()
    };
    assert_eq!(ones("surface_check_subsystem_regressed"), ["touch"]);
    assert!(
        ones("surface_check_subsystem_regressed_after_kernel_update").is_empty(),
        "{}",
        r.out
    );
    assert_eq!(
        value(
            &fams,
            "surface_check_subsystem_regressed_after_kernel_update",
            &[("subsystem", "touch")]
        ),
        0.0
    );
    let info = &fams["surface_check_kernel_info"].samples;
    assert_eq!(info[0].0["release"], "6.18.8");
    assert_eq!(info[0].0["nixos_generation"], "41");
}

/// Every file in `dir` with its bytes.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn an_unreadable_history_still_gives_the_report_and_says_it_was_not_judged() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("history.sqlite");
    std::fs::write(&db, b"this is not a SQLite database, and it is long enough").unwrap();
    let before = snapshot_dir(state.path());
    let r = metrics(&t, state.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("regressions not judged"), "{}", r.err);
    promtool_check_metrics(&r.out);
    let fams = parse(&r.out);
    assert_eq!(value(&fams, "surface_check_history_judged", &[]), 0.0);
    for absent in [
        "surface_check_regressions",
        "surface_check_subsystem_regressed",
        "surface_check_subsystem_regressed_after_kernel_update",
        "surface_check_recoveries",
        "surface_check_history_boots",
        "surface_check_boot_recorded",
    ] {
        assert!(!fams.contains_key(absent), "{absent} written");
    }
    assert_state_sets_match(&fams, &status_json(&t));
    // A reader moves nothing aside.
    assert_eq!(snapshot_dir(state.path()), before);

    // No boot id: nothing to key a judgement by.
    let t = boot1();
    t.remove("proc/sys/kernel/random/boot_id");
    let r = metrics(&t, state.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("no boot id"), "{}", r.err);
    let fams = parse(&r.out);
    assert_eq!(value(&fams, "surface_check_history_judged", &[]), 0.0);
}

#[test]
fn label_values_from_the_machine_survive_escaping() {
    let t = boot1();
    let version = r#"#7 SMP "quoted" back\slash ünïcode"#;
    t.attr(
        "proc/version",
        &format!("Linux version 6.18.8 (nixbld@localhost) (gcc) {version}\nsecond line"),
    );
    let state = tempfile::tempdir().unwrap();
    let r = metrics(&t, state.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    promtool_check_metrics(&r.out);
    let fams = parse(&r.out);
    let info = &fams["surface_check_kernel_info"].samples;
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].0["version"], version);
    assert!(!r.out.contains("second line"));
}

// ---- --textfile -----------------------------------------------------------------

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn the_textfile_is_written_whole_with_mode_0644_and_nothing_else_is_left() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An older file is replaced.
    std::fs::write(dir.path().join(TEXTFILE), "old\n").unwrap();
    let r = metrics(&t, state.path(), &["--textfile", s(dir.path())]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.is_empty(), "nothing on stdout: {}", r.out);
    assert_eq!(names(dir.path()), [TEXTFILE]);
    let file = dir.path().join(TEXTFILE);
    assert_eq!(mode(&file), 0o644);
    let text = std::fs::read_to_string(&file).unwrap();
    promtool_check_metrics(&text);
    let fams = parse(&text);
    assert_state_sets_match(&fams, &status_json(&t));
}

/// A reader polling the file while the binary rewrites it over and over only ever
/// sees a whole file; strace shows the temporary file created exclusively under a
/// name the collector ignores, synced, and renamed over the file.
#[test]
fn the_textfile_is_replaced_atomically() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(TEXTFILE);
    assert_eq!(
        metrics(&t, state.path(), &["--textfile", s(dir.path())]).code,
        0
    );
    let last = "surface_check_last_run_timestamp_seconds ";
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (file, stop) = (file.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            let mut seen_tmp = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let mut text = String::new();
                std::fs::File::open(&file)
                    .expect("the file is always there")
                    .read_to_string(&mut text)
                    .unwrap();
                let tail = text.lines().last().unwrap_or("");
                assert!(
                    text.starts_with("# HELP surface_check_status ")
                        && tail.starts_with(last)
                        && text.ends_with('\n'),
                    "a partial file was seen:\n{text}"
                );
                // The collector's view: only *.prom files.
                for n in std::fs::read_dir(file.parent().unwrap()).unwrap() {
                    let n = n.unwrap().file_name().to_string_lossy().into_owned();
                    if n != TEXTFILE {
                        assert!(!n.ends_with(".prom"), "{n} would be collected");
                        seen_tmp += 1;
                    }
                }
                reads += 1;
            }
            (reads, seen_tmp)
        })
    };
    let started = Instant::now();
    let mut runs = 0;
    while runs < 20 || started.elapsed() < Duration::from_secs(2) {
        let r = metrics(&t, state.path(), &["--textfile", s(dir.path())]);
        assert_eq!(r.code, 0, "{}", r.err);
        runs += 1;
        if runs >= 60 {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, seen_tmp) = reader.join().expect("the reader saw only whole files");
    eprintln!("{runs} writes, {reads} whole reads, {seen_tmp} temporary files seen");
    assert!(reads > 0);
    assert_eq!(names(dir.path()), [TEXTFILE]);

    // The system calls of one write.
    let trace = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,rename,renameat,renameat2,fsync,fchmod",
            "-o",
        ])
        .arg(trace.path())
        .arg(BIN)
        .args([
            "metrics",
            "--local",
            "--root",
            s(t.path()),
            "--state-dir",
            s(state.path()),
            "--textfile",
            s(dir.path()),
        ])
        .env_remove("STATE_DIRECTORY")
        .output()
        .expect("strace must be installed (scripts/test.sh installs it)");
    assert_eq!(out.status.code(), Some(0));
    let trace = std::fs::read_to_string(trace.path()).unwrap();
    let lines: Vec<&str> = trace.lines().collect();
    let tmp_re = |l: &str| -> Option<String> {
        let start = l.find("\".surface_check.prom.")? + 1;
        let end = start + l[start..].find('"')?;
        Some(l[start..end].to_string())
    };
    let create = lines
        .iter()
        .position(|l| l.contains("openat(") && tmp_re(l).is_some())
        .unwrap_or_else(|| panic!("no temporary file created:\n{trace}"));
    let tmp = tmp_re(lines[create]).unwrap();
    assert!(tmp.ends_with(".tmp") && !tmp.ends_with(".prom"), "{tmp}");
    for flag in ["O_CREAT", "O_EXCL", "O_NOFOLLOW"] {
        assert!(lines[create].contains(flag), "{}", lines[create]);
    }
    let rename = lines
        .iter()
        .position(|l| {
            l.contains("rename") && l.contains(&tmp) && l.contains("\"surface_check.prom\"")
        })
        .unwrap_or_else(|| panic!("no rename of {tmp} over {TEXTFILE}:\n{trace}"));
    let synced = lines[create..rename].iter().any(|l| l.contains("fsync("));
    assert!(synced, "not synced before the rename:\n{trace}");
    assert!(rename > create);
    // The directory, opened by its path, is synced after the rename (the rename
    // itself is durable only then).
    let dir_open = format!("openat(AT_FDCWD, \"{}\",", s(dir.path()));
    let dir_fd = lines
        .iter()
        .find(|l| l.contains(&dir_open) && l.contains("O_DIRECTORY"))
        .and_then(|l| l.rsplit_once(" = "))
        .and_then(|(_, fd)| fd.trim().parse::<i32>().ok())
        .unwrap_or_else(|| panic!("the directory is not opened by its path:\n{trace}"));
    let dir_synced = lines[rename..]
        .iter()
        .any(|l| l.contains(&format!("fsync({dir_fd})")));
    assert!(
        dir_synced,
        "the directory (fd {dir_fd}) not synced after the rename:\n{trace}"
    );
    assert_eq!(names(dir.path()), [TEXTFILE]);
}

/// Sets the access and modification times of `p` itself (a link, not its target)
/// `secs` seconds back.
fn age(p: &Path, secs: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = libc::timespec {
        tv_sec: now - secs,
        tv_nsec: 0,
    };
    let c = std::ffi::CString::new(s(p)).unwrap();
    // SAFETY: a valid C string and two timespecs that outlive the call.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat {}", p.display());
}

/// A temporary file that a killed run left (older than 10 minutes, the exact name,
/// a regular file, ours) is removed at the next write; nothing else is: not a fresh
/// one (a run in progress), not another name, not a link (nor its target), not a
/// directory, not another user's file.
#[test]
fn leftover_temporary_files_are_removed_and_nothing_else() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("textfile");
    std::fs::create_dir(&dir).unwrap();
    let old = 11 * 60;
    let put = |name: &str, secs: i64| {
        let p = dir.join(name);
        std::fs::write(&p, "x\n").unwrap();
        age(&p, secs);
        p
    };
    put(".surface_check.prom.0123456789abcdef.tmp", old);
    put(".surface_check.prom.fedcba9876543210.tmp", 60);
    put(".surface_check.prom.xyz.tmp", old);
    put(".surface_check.prom.0123456789abcdef.tmp.keep", old);
    put("surface_check.prom.0123456789abcdef.tmp", old);
    put("other.prom", old);
    let theirs = put(".surface_check.prom.3333333333333333.tmp", old);
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    age(&theirs, old);
    let target = base.path().join("target");
    std::fs::write(&target, "target\n").unwrap();
    age(&target, old);
    let link = dir.join(".surface_check.prom.1111111111111111.tmp");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    age(&link, old);
    let sub = dir.join(".surface_check.prom.2222222222222222.tmp");
    std::fs::create_dir(&sub).unwrap();
    age(&sub, old);

    let r = metrics(&t, state.path(), &["--textfile", s(&dir)]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(
        names(&dir),
        [
            ".surface_check.prom.0123456789abcdef.tmp.keep",
            ".surface_check.prom.1111111111111111.tmp",
            ".surface_check.prom.2222222222222222.tmp",
            ".surface_check.prom.3333333333333333.tmp",
            ".surface_check.prom.fedcba9876543210.tmp",
            ".surface_check.prom.xyz.tmp",
            "other.prom",
            "surface_check.prom",
            "surface_check.prom.0123456789abcdef.tmp",
        ]
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "target\n");
    assert!(sub.is_dir());
}

#[test]
fn a_missing_or_wrong_directory_is_exit_2_and_leaves_nothing() {
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();

    let missing = base.path().join("missing");
    let r = metrics(&t, state.path(), &["--textfile", s(&missing)]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.out.is_empty());
    assert!(!missing.exists());

    let file = base.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let r = metrics(&t, state.path(), &["--textfile", s(&file)]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(r.err.contains("not a directory"), "{}", r.err);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");

    // The file's name taken by a directory: the rename fails, the temporary file
    // goes.
    let dir = base.path().join("taken");
    std::fs::create_dir_all(dir.join(TEXTFILE)).unwrap();
    let r = metrics(&t, state.path(), &["--textfile", s(&dir)]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert_eq!(names(&dir), [TEXTFILE]);
    assert!(dir.join(TEXTFILE).is_dir());
    assert_eq!(names(base.path()), ["a-file", "taken"]);
}

/// A directory the caller may not write: run as uid 65534 (the tests run as root,
/// whom permissions do not stop).
#[test]
fn an_unwritable_directory_is_exit_2_and_leaves_nothing() {
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the tests run as root (scripts/test.sh)"
    );
    let t = boot1();
    let base = tempfile::tempdir().unwrap();
    // The tree and the directories readable by uid 65534.
    for p in [t.path(), base.path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = base.path().join("textfile");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = base.path().join("state");
    let mut c = common::setpriv_nobody();
    c.args([
        BIN,
        "metrics",
        "--local",
        "--root",
        s(t.path()),
        "--state-dir",
        s(&state),
        "--textfile",
        s(&dir),
    ]);
    let r = run_cmd(
        c,
        "setpriv --reuid=65534 surface-check metrics --textfile DIR",
    );
    assert_eq!(r.code, 2, "{}", r.err);
    // The probe ran; the write is what failed.
    assert!(
        r.err.contains("creating the temporary file: EACCES"),
        "{}",
        r.err
    );
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

// ---- node_exporter ----------------------------------------------------------------

/// node_exporter with only its textfile collector, reading `dir`, on a free port of
/// the loopback interface, and its first answer on /metrics. The port is free when
/// chosen but may be taken before node_exporter binds it: when node_exporter exits
/// (it cannot listen), another port is tried.
fn start_node_exporter(exporter: &Path, dir: &Path) -> (Killed, String) {
    for attempt in 1..=5 {
        let port = free_port();
        let mut child = Killed(
            Command::new(exporter)
                .arg("--collector.disable-defaults")
                .arg("--collector.textfile")
                .arg(format!("--collector.textfile.directory={}", s(dir)))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting prometheus-node-exporter"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match http_get(port, "/metrics") {
                Ok(b) if b.contains("node_textfile_scrape_error") => return (child, b),
                _ => {}
            }
            if let Some(status) = child.0.try_wait().unwrap() {
                eprintln!("node_exporter exited on port {port} ({status}), attempt {attempt}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node_exporter did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("node_exporter could not listen on any of 5 free ports");
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` over HTTP/1.0 from 127.0.0.1:`port`: the body.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = String::new();
    c.read_to_string(&mut resp)?;
    Ok(resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// node_exporter's own textfile collector reads the file: the series arrive as
/// written, and it reports no scrape error.
#[test]
fn node_exporters_textfile_collector_serves_the_metrics() {
    let state = tempfile::tempdir().unwrap();
    assert_eq!(record(&boot1(), state.path()), 0);
    let t3 = boot3();
    assert_eq!(record(&t3, state.path()), 1);
    let dir = tempfile::tempdir().unwrap();
    let r = metrics(&t3, state.path(), &["--textfile", s(dir.path())]);
    assert_eq!(r.code, 0, "{}", r.err);

    let exporter = PathBuf::from("/usr/bin/prometheus-node-exporter");
    assert!(
        exporter.exists(),
        "{} is missing: install Debian's prometheus-node-exporter (scripts/test.sh does)",
        exporter.display()
    );
    let (_child, body) = start_node_exporter(&exporter, dir.path());
    let fams = parse(&body);
    assert_eq!(value(&fams, "node_textfile_scrape_error", &[]), 0.0);
    assert_eq!(
        value(
            &fams,
            "surface_check_subsystem_regressed",
            &[("subsystem", "touch")]
        ),
        1.0
    );
    assert_eq!(value(&fams, "surface_check_regressions", &[]), 1.0);
    assert_eq!(
        fams["surface_check_kernel_info"].samples[0].0["release"],
        "6.19.8"
    );
    // node_exporter 1.5 (Debian 12) labels the mtime with the file's path, older
    // ones with its name.
    let mtime: Vec<f64> = fams["node_textfile_mtime_seconds"]
        .samples
        .iter()
        .filter(|(l, _)| l["file"] == TEXTFILE || l["file"].ends_with("/surface_check.prom"))
        .map(|(_, v)| *v)
        .collect();
    assert!(mtime.len() == 1 && mtime[0] > 0.0, "{mtime:?}");
}

// ---- the alerting rules -----------------------------------------------------------

fn fleet_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet")
}

fn promtool(args: &[&str]) -> Run {
    let mut c = Command::new("promtool");
    c.args(args).current_dir(fleet_dir());
    run_cmd(c, &format!("promtool {}", args.join(" ")))
}

#[test]
fn the_alerting_rules_check_and_their_unit_tests_pass() {
    let r = promtool(&["check", "rules", "surface-check.rules.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(r.out.contains("SUCCESS: 5 rules found"), "{}", r.out);
    let r = promtool(&["test", "rules", "surface-check.rules.test.yml"]);
    assert_eq!(r.code, 0, "{}{}", r.out, r.err);
    assert!(r.out.contains("SUCCESS"), "{}", r.out);
}

/// The rules name only metrics that `metrics` writes, with their labels.
#[test]
fn the_alerting_rules_use_metrics_that_exist() {
    let rules = std::fs::read_to_string(fleet_dir().join("surface-check.rules.yml")).unwrap();
    let t = boot1();
    let state = tempfile::tempdir().unwrap();
    let r = metrics(&t, state.path(), &[]);
    let fams = parse(&r.out);
    let mut used = 0;
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("surface_check_") {
            assert!(fams.contains_key(word), "the rules use {word}, not written");
            used += 1;
        }
    }
    assert!(used >= 3, "{used}");
    let info = &fams["surface_check_kernel_info"].samples[0].0;
    for l in ["release", "nixos_generation"] {
        assert!(info.contains_key(l), "{l}");
    }
}

// ---- the drop-in ------------------------------------------------------------------

/// docs/fleet's drop-in for surface-check-report.service verifies with the unit as
/// scripts/install.sh installs it: `systemd-analyze verify` says nothing (it reads
/// drop-ins beside the unit, which a bad key in a second drop-in proves).
#[test]
fn the_report_drop_in_verifies_with_the_installed_unit() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    let out = Command::new(repo.join("scripts/install.sh"))
        .arg("--prefix")
        .arg(p)
        .args([
            "--binary",
            BIN,
            "--daemon",
            env!("CARGO_BIN_EXE_surface-checkd"),
        ])
        .output()
        .expect("bash runs scripts/install.sh");
    assert!(
        out.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = p.join("lib/systemd/system/surface-check-report.service");
    assert!(unit.is_file(), "{}", unit.display());
    let drop_in =
        std::fs::read_to_string(repo.join("docs/fleet/surface-check-report-metrics.conf")).unwrap();
    assert!(drop_in.contains("ExecStopPost=-/usr/bin/surface-check metrics --textfile "));
    let d = p.join("lib/systemd/system/surface-check-report.service.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("metrics.conf"),
        drop_in.replace("/usr/bin/", &format!("{}/bin/", s(p))),
    )
    .unwrap();
    let verify = || {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .env("MANPATH", p.join("share/man"))
            .output()
            .expect("systemd-analyze (Debian's systemd package; scripts/test.sh)");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let said = verify();
    assert!(said.trim().is_empty(), "systemd-analyze verify: {said}");
    std::fs::write(d.join("zz-bad.conf"), "[Service]\nNoSuchKey=1\n").unwrap();
    let said = verify();
    assert!(said.contains("NoSuchKey"), "drop-ins not read: {said}");
}

// ---- the docs ---------------------------------------------------------------------

/// docs/fleet.md's table lists every metric, with its labels, and no other.
#[test]
fn the_docs_list_every_metric() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet.md"))
        .unwrap();
    let rows: BTreeMap<String, String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `surface_check_"))
        .map(|l| {
            let (name, rest) = l.split_once('`').unwrap();
            let labels = rest.split('|').nth(1).unwrap().trim().replace('`', "");
            (format!("surface_check_{name}"), labels)
        })
        .collect();
    let declared: BTreeMap<String, String> = surface_check::metrics::FAMILIES
        .iter()
        .map(|f| (f.name.to_string(), f.labels.join(", ")))
        .collect();
    assert_eq!(
        rows, declared,
        "docs/fleet.md's table against src/metrics.rs"
    );
}
