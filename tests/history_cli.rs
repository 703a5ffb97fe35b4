//! The history commands through the real binary: `report` records one entry per
//! boot and names regressions with both kernels, `history` lists the boots with
//! their changes, `history --accept` moves the baseline, `diff` compares two boots,
//! and every regression and recovery reaches the journal as a structured entry
//! (received here on a real unix datagram socket, parsed as journald parses it).
//!
//! The boots are fixture trees of a NixOS Surface Book 2 (tests/common/sb2.rs), each
//! with its own `proc/sys/kernel/random/boot_id`:
//! 1. kernel 6.18.8, generation 41, healthy;
//! 2. the same kernel and generation, iptsd gone (not installed, not running);
//! 3. kernel 6.19.8, generation 42, whose kernel has no ipts module.

mod common;

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::boots::{BOOT1, BOOT2, BOOT3, boot_on_6_19_8, boot1, boot2, boot3};
use common::tree::Tree;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");
const REGRESSION_ID: &str = "cea4bddb88e1c94b01a8ee4aaa5435f6";
const RECOVERY_ID: &str = "a1b0276ebda03e11603ba816238ba2f7";

// ---- running it -----------------------------------------------------------------

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// `surface-check ARGS` with `env`; the journal goes to `journal` (a path where
/// nothing listens when None).
fn run(args: &[&str], journal: Option<&Path>, env: &[(&str, &str)]) -> Run {
    let none = std::env::temp_dir().join("surface-check-no-journal-here");
    let out = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("STATE_DIRECTORY")
        .env("SURFACE_CHECK_JOURNAL_SOCKET", journal.unwrap_or(&none))
        .envs(env.iter().copied())
        .output()
        .expect("running surface-check");
    let r = Run {
        code: out.status.code().expect("exited, not killed"),
        out: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        err: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    };
    eprintln!(
        "$ surface-check {}\n{}{}(exit {})",
        args.join(" "),
        r.out,
        r.err,
        r.code
    );
    r
}

/// `report --local --root TREE --state-dir STATE [extra]`.
fn report(tree: &Tree, state: &Path, journal: Option<&Path>, extra: &[&str]) -> Run {
    let mut args = vec![
        "report",
        "--local",
        "--root",
        tree.path().to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args, journal, &[])
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", r.out, r.err))
}

// ---- the journal ----------------------------------------------------------------

/// A bound datagram socket standing in for journald.
struct Journal {
    sock: UnixDatagram,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Journal {
    fn bind() -> Journal {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let sock = UnixDatagram::bind(&path).expect("binding a datagram socket");
        sock.set_nonblocking(true).unwrap();
        Journal {
            sock,
            path,
            _dir: dir,
        }
    }

    /// Every entry received so far, parsed.
    fn entries(&self) -> Vec<BTreeMap<String, String>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let entry = parse_native(&buf[..n]);
                    eprintln!("journal entry:");
                    for (k, v) in &entry {
                        eprintln!("    {k}={v:?}");
                    }
                    out.push(entry);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("receiving: {e}"),
            }
        }
    }
}

/// A datagram of journald's native protocol: `KEY=value\n`, or `KEY\n`, a 64-bit
/// little-endian length, the value and `\n`. Anything else fails the test.
fn parse_native(mut d: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    while !d.is_empty() {
        let nl = d
            .iter()
            .position(|&b| b == b'\n')
            .expect("a field ends in a newline");
        let line = &d[..nl];
        let (key, value, rest) = match line.iter().position(|&b| b == b'=') {
            Some(eq) => (&line[..eq], line[eq + 1..].to_vec(), &d[nl + 1..]),
            None => {
                let after = &d[nl + 1..];
                let len = u64::from_le_bytes(after[..8].try_into().unwrap()) as usize;
                let value = after[8..8 + len].to_vec();
                assert_eq!(
                    after[8 + len],
                    b'\n',
                    "binary field not closed by a newline"
                );
                (line, value, &after[8 + len + 1..])
            }
        };
        let key = String::from_utf8(key.to_vec()).unwrap();
        assert!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && !key.starts_with('_'),
            "field name {key:?}"
        );
        fields.insert(key, String::from_utf8(value).unwrap());
        d = rest;
    }
    fields
}

// ---- the three boots ------------------------------------------------------------

#[test]
fn three_boots_name_the_regressions_with_both_kernels_and_accept_moves_the_baseline() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let journal = Journal::bind();
    let j = Some(journal.path.as_path());

    // Nothing recorded yet: `history` says so and creates nothing.
    let r = run(&["history", "--state-dir", st], None, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("no history yet"), "{}", r.out);
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);

    // Boot 1: healthy, the first record.
    let (t1, t2, t3) = (boot1(), boot2(), boot3());
    let r = report(&t1, state.path(), j, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r);
    assert_eq!(v["recorded"], "new");
    assert_eq!(v["boot"]["boot_id"], BOOT1);
    assert_eq!(v["boot"]["kernel"], "6.18.8");
    assert_eq!(v["boot"]["generation"], 41);
    assert_eq!(v["boot"]["overall"], "ok", "boot 1 is healthy");
    assert_eq!(v["regressions"], serde_json::json!([]));
    assert!(journal.entries().is_empty());

    // Boot 2: iptsd gone, same kernel.
    let r = report(&t2, state.path(), j, &[]);
    assert_eq!(r.code, 1, "a regression exits 1: {}", r.err);
    let lines: Vec<&str> = r
        .out
        .lines()
        .filter(|l| l.starts_with("regression: "))
        .collect();
    assert_eq!(lines.len(), 1, "only touch regressed:\n{}", r.out);
    assert!(
        lines[0].starts_with("regression: touch worked on ")
            && lines[0].contains("6.18.8 (generation 41)"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("iptsd"), "names iptsd: {}", lines[0]);
    assert!(
        r.out.contains("    fix: "),
        "the fix is printed:\n{}",
        r.out
    );
    // The tracing warning on standard error.
    assert!(
        r.err.contains("WARN") && r.err.contains("regression: touch worked on"),
        "{}",
        r.err
    );
    let e = journal.entries();
    assert_eq!(e.len(), 1, "{e:?}");
    let e = &e[0];
    assert_eq!(e["MESSAGE_ID"], REGRESSION_ID);
    assert_eq!(e["SYSLOG_IDENTIFIER"], "surface-check");
    assert_eq!(e["SURFACE_CHECK_SUBSYSTEM"], "touch");
    assert_eq!(e["SURFACE_CHECK_PREVIOUS_KERNEL"], "6.18.8");
    assert_eq!(e["SURFACE_CHECK_CURRENT_KERNEL"], "6.18.8");
    assert_eq!(e["SURFACE_CHECK_PREVIOUS_BOOT"], BOOT1);
    assert_eq!(e["SURFACE_CHECK_BOOT"], BOOT2);
    assert_eq!(e["SURFACE_CHECK_PREVIOUS_GENERATION"], "41");
    assert!(["3", "4"].contains(&e["PRIORITY"].as_str()), "{e:?}");
    assert_eq!(
        format!("regression: {}", e["MESSAGE"]),
        lines[0],
        "the journal says what the report printed"
    );

    // Boot 3: a newer kernel without ipts.
    let r = report(&t3, state.path(), j, &["--json"]);
    assert_eq!(r.code, 1, "{}", r.err);
    let v = json(&r);
    assert_eq!(v["recorded"], "new");
    let regs = v["regressions"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "{v:#}");
    let reg = &regs[0];
    assert_eq!(reg["subsystem"], "touch");
    assert_eq!(
        reg["previous"]["boot_id"], BOOT1,
        "the newest boot it was ok"
    );
    assert_eq!(reg["previous"]["kernel"], "6.18.8");
    assert_eq!(reg["previous"]["generation"], 41);
    assert_eq!(reg["current"]["kernel"], "6.19.8");
    assert_eq!(reg["current"]["generation"], 42);
    let msg = reg["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "touch worked on 6.18.8 (generation 41), fails on 6.19.8 (generation 42): "
        ) && msg.contains("module ipts is missing from this kernel"),
        "{msg}"
    );
    assert!(reg["hint"].is_string(), "{reg:#}");
    let e = journal.entries();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["MESSAGE"], msg);
    assert_eq!(e[0]["PRIORITY"], "3", "touch now fails");
    assert_eq!(e[0]["SURFACE_CHECK_PREVIOUS_KERNEL"], "6.18.8");
    assert_eq!(e[0]["SURFACE_CHECK_CURRENT_KERNEL"], "6.19.8");
    assert_eq!(e[0]["SURFACE_CHECK_CURRENT_GENERATION"], "42");
    assert!(
        e[0]["SURFACE_CHECK_CHANGES"]
            .lines()
            .any(|l| l == "module ipts is missing from this kernel"),
        "one change a line (the binary-safe form): {:?}",
        e[0]["SURFACE_CHECK_CHANGES"]
    );

    // The human form of the same report, run again in the same boot: recorded once.
    let r = report(&t3, state.path(), j, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.out.contains(
            "regression: touch worked on 6.18.8 (generation 41), fails on 6.19.8 (generation 42): "
        ) && r.out.contains("module ipts is missing from this kernel"),
        "{}",
        r.out
    );
    assert!(r.out.contains("record of this boot updated"), "{}", r.out);
    journal.entries();

    // history: three boots, newest first, the changes marked.
    let r = run(&["history", "--state-dir", st], None, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    let rows: Vec<&str> = r
        .out
        .lines()
        .filter(|l| {
            ["11111111", "22222222", "33333333"]
                .iter()
                .any(|b| l.starts_with(b))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{}", r.out);
    assert!(rows[0].starts_with("33333333") && rows[2].starts_with("11111111"));
    assert!(rows[0].contains("6.19.8 (generation 42)"), "{}", rows[0]);
    assert!(
        rows[0].contains("kernel 6.18.8 (generation 41)→6.19.8 (generation 42)"),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains("touch ok→failed"), "{}", rows[1]);
    assert!(rows[1].contains("✗*"), "{}", rows[1]);
    assert!(!rows[2].contains('→'), "nothing before boot 1: {}", rows[2]);
    assert!(!r.out.contains("[baseline]"), "{}", r.out);
    let r = run(&["history", "--json", "--state-dir", st], None, &[]);
    let v = json(&r);
    let boots = v["boots"].as_array().unwrap();
    assert_eq!(boots.len(), 3);
    assert_eq!(v["count"], 3);
    assert_eq!(boots[1]["boot_id"], BOOT2);
    assert_eq!(boots[1]["subsystems"]["touch"], "failed");
    assert_eq!(
        boots[1]["changes"],
        serde_json::json!([{"subsystem": "touch", "from": "ok", "to": "failed"}])
    );
    let r = run(&["history", "--limit", "2", "--state-dir", st], None, &[]);
    assert!(r.out.contains("2 of 3 boots shown"), "{}", r.out);
    assert!(r.out.contains("touch ok→failed"), "{}", r.out);

    // diff: previous and latest by default.
    let r = run(&["diff", "--state-dir", st], None, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("from boot 22222222"), "{}", r.out);
    assert!(r.out.contains("to   boot 33333333"), "{}", r.out);
    assert!(
        r.out.contains("module ipts is missing from this kernel"),
        "{}",
        r.out
    );
    let r = run(
        &["diff", "1111", "2222", "--json", "--state-dir", st],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r);
    assert_eq!(v["from"]["boot_id"], BOOT1);
    assert_eq!(v["to"]["boot_id"], BOOT2);
    assert!(
        v["statuses"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"subsystem": "touch", "from": "ok", "to": "failed"})),
        "{v:#}"
    );
    let r = run(&["diff", "1111", "3333", "--state-dir", st], None, &[]);
    assert!(
        r.out.contains("status:\n  touch  ok → failed\n"),
        "{}",
        r.out
    );
    // `-N` selectors are boots, not options.
    let r = run(
        &["diff", "-2", "-1", "--json", "--state-dir", st],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r);
    assert_eq!(
        (&v["from"]["boot_id"], &v["to"]["boot_id"]),
        (&BOOT1.into(), &BOOT2.into())
    );
    let r = run(&["diff", "nosuchboot", "--state-dir", st], None, &[]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("no boot \"nosuchboot\""), "{}", r.err);

    // Accept boot 3: the report of boot 3 has nothing to say any more.
    let r = run(&["history", "--accept", "--state-dir", st], None, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains(BOOT3), "names the boot accepted: {}", r.out);
    let r = report(&t3, state.path(), j, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r);
    assert_eq!(v["regressions"], serde_json::json!([]));
    assert_eq!(v["recorded"], "updated");
    assert!(journal.entries().is_empty());
    let r = run(&["history", "--state-dir", st], None, &[]);
    let row = r.out.lines().find(|l| l.starts_with("33333333")).unwrap();
    assert!(row.contains("[baseline]"), "{}", r.out);

    // A recovery after the baseline: the healthy 6.19.8 boot that follows.
    let t4 = boot_on_6_19_8("44444444-dddd-4ddd-8ddd-000000000004");
    let r = report(&t4, state.path(), j, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v = json(&r);
    let rec = v["recoveries"].as_array().unwrap();
    assert!(
        rec.iter().any(|x| x["subsystem"] == "touch"),
        "touch recovered: {v:#}"
    );
    let e = journal.entries();
    let touch: Vec<_> = e
        .iter()
        .filter(|x| x["SURFACE_CHECK_SUBSYSTEM"] == "touch")
        .collect();
    assert_eq!(touch.len(), 1, "{e:?}");
    assert_eq!(touch[0]["MESSAGE_ID"], RECOVERY_ID);
    assert_eq!(touch[0]["SURFACE_CHECK_PREVIOUS_BOOT"], BOOT3);
    assert_eq!(touch[0]["PRIORITY"], "5");
    let r = report(&t4, state.path(), j, &[]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.out
            .lines()
            .any(|l| l.starts_with("recovered: touch works again on 6.19.8 (generation 42)")),
        "{}",
        r.out
    );
}

#[test]
fn a_corrupt_database_is_moved_aside_and_the_report_still_runs() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("history.sqlite"),
        b"this is not a database, and it is longer than a header would be: \
          0123456789012345678901234567890123456789012345678901234567890123456789",
    )
    .unwrap();
    let t = boot1();
    let r = report(&t, state.path(), None, &[]);
    assert_eq!(r.code, 0, "a healthy first boot: {}", r.err);
    assert!(
        r.err.contains("is corrupt")
            && r.err.contains("moved it aside to")
            && r.err.contains("history.sqlite.corrupt-"),
        "{}",
        r.err
    );
    let aside: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("history.sqlite.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept = std::fs::read(state.path().join(&aside[0])).unwrap();
    assert!(kept.starts_with(b"this is not a database"));
    let r = run(
        &[
            "history",
            "--json",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert_eq!(json(&r)["boots"][0]["boot_id"], BOOT1);

    // With a regression, the exit status follows the verdicts as always.
    std::fs::write(state.path().join("history.sqlite"), b"garbage again").unwrap();
    let r = report(&boot2(), state.path(), None, &[]);
    assert_eq!(r.code, 0, "a fresh history has no earlier boot: {}", r.err);
    assert!(r.err.contains("moved it aside"), "{}", r.err);
}

#[test]
fn a_newer_database_is_left_alone_and_is_an_error() {
    let state = tempfile::tempdir().unwrap();
    let t = boot1();
    assert_eq!(report(&t, state.path(), None, &[]).code, 0);
    let db = state.path().join("history.sqlite");
    // Schema 99, as a later surface-check would write it: `PRAGMA user_version` is
    // the 4 big-endian bytes at offset 60 of the database header.
    let mut bytes = std::fs::read(&db).unwrap();
    assert_eq!(&bytes[..16], b"SQLite format 3\0");
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&db, &bytes).unwrap();
    for args in [
        vec!["report", "--local", "--root", t.path().to_str().unwrap()],
        vec!["history"],
    ] {
        let mut args = args.clone();
        args.extend(["--state-dir", state.path().to_str().unwrap()]);
        let r = run(&args, None, &[]);
        assert_eq!(r.code, 2, "{}", r.err);
        assert!(r.err.contains("newer surface-check"), "{}", r.err);
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file is untouched");
}

#[test]
fn a_boot_without_a_boot_id_is_an_error_and_records_nothing() {
    let state = tempfile::tempdir().unwrap();
    let t = boot1();
    t.remove("proc/sys/kernel/random/boot_id");
    let r = report(&t, state.path(), None, &[]);
    assert_eq!(r.code, 2, "{}", r.err);
    assert!(
        r.err.contains("no boot id") && r.err.contains("proc/sys/kernel/random/boot_id"),
        "{}",
        r.err
    );
    assert!(!state.path().join("history.sqlite").exists());
}

#[test]
fn without_a_journal_the_report_says_so_in_the_debug_log_and_goes_on() {
    let state = tempfile::tempdir().unwrap();
    let (t1, t2) = (boot1(), boot2());
    assert_eq!(report(&t1, state.path(), None, &[]).code, 0);
    let mut args = vec![
        "report",
        "--local",
        "--root",
        t2.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    args.push("--json");
    let r = run(&args, None, &[("SURFACE_CHECK_LOG", "surface_check=debug")]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.err.contains("no journal listening"), "{}", r.err);
    assert!(!r.err.contains("could not log"), "{}", r.err);
    assert_eq!(json(&r)["regressions"][0]["subsystem"], "touch");
}

#[test]
fn reading_commands_never_create_a_history() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("not-yet");
    let d = dir.to_str().unwrap();
    let r = run(&["history", "--json", "--state-dir", d], None, &[]);
    assert_eq!(r.code, 0);
    assert_eq!(json(&r)["boots"], serde_json::json!([]));
    let r = run(&["diff", "--state-dir", d], None, &[]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("no history yet"), "{}", r.err);
    let r = run(&["history", "--accept", "--state-dir", d], None, &[]);
    assert_eq!(r.code, 2);
    assert!(r.err.contains("nothing to accept"), "{}", r.err);
    assert!(!dir.exists(), "nothing was created");
}

/// Without --local on `/`, the report comes from surface-checkd (here activated on a
/// private system bus, serving a fixture tree), as `status` takes it; the boot id
/// and the facts for the history are this machine's.
#[test]
fn report_takes_the_daemon_s_report_as_status_does() {
    let t = boot1();
    let bus = common::bus::PrivateBus::start_with_activation(
        Path::new(DAEMON),
        &["--root", t.path().to_str().unwrap()],
    );
    let state = tempfile::tempdir().unwrap();
    let envs: Vec<(&str, String)> = bus.env().to_vec();
    let env: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = run(
        &[
            "report",
            "--json",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        None,
        &env,
    );
    assert_eq!(r.code, 0, "{}\nthe bus said:\n{}", r.err, bus.log());
    assert!(r.err.contains("report from surface-checkd"), "{}", r.err);
    let v = json(&r);
    let host_boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(v["boot"]["boot_id"], host_boot.trim());
    // The fixture's verdict, not this machine's (which is no Surface Book 2).
    assert_eq!(v["boot"]["overall"], "ok", "{v:#}");
}

#[test]
fn keep_prunes_the_oldest_boots() {
    let state = tempfile::tempdir().unwrap();
    for t in [boot1(), boot2(), boot3()] {
        let r = report(&t, state.path(), None, &["--keep", "2", "--json"]);
        assert_eq!(json(&r)["recorded"], "new", "{}", r.err);
    }
    let r = run(
        &[
            "history",
            "--json",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        None,
        &[],
    );
    let v = json(&r);
    assert_eq!(v["count"], 2);
    let ids: Vec<&str> = v["boots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["boot_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [BOOT3, BOOT2]);
    let r = report(&boot1(), state.path(), None, &["--keep", "0"]);
    assert_eq!(r.code, 2, "--keep 0 is refused: {}", r.err);
}
