//! `surface-check bundle` on fixture trees, run as the real binary and unpacked with
//! the real `tar`: nothing planted that identifies the machine or its people reaches
//! the archive, the log lines the checks need do, `--review` lists every file and
//! writes nothing without `--yes` when not on a terminal, and a hostile source (a
//! huge log, an unreadable history) still gives a bundle with notes. A property test
//! plants generated values the same way and calls the library in-process.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;
use proptest::prelude::*;
use surface_check::bundle::{self, HistoryInput, Inputs};
use surface_check::facts::identity::Identity;

/// The files an archive holds, by name, unpacked with `tar -xzf`.
fn unpack(archive: &Path) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("running tar (Debian package tar: scripts/test.sh installs it)");
    assert!(st.success(), "tar -xzf failed on {}", archive.display());
    let top = dir.path().join(bundle::ARCHIVE_DIR);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&top)
        .unwrap_or_else(|e| panic!("{}: {e}", top.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const NAMES: &[&str] = &[
    "MANIFEST.txt",
    "facts.json",
    "history.json",
    "kernel-log.txt",
    "modules.txt",
    "report.json",
    "services.txt",
];

fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    &files.iter().find(|(n, _)| n == name).unwrap().1
}

/// Runs `bundle` on `t` with `extra` arguments, writing into a fresh directory;
/// returns (exit code, stdout, stderr, the archive's path).
fn bundle(t: &Tree, extra: &[&str]) -> (i32, String, String, PathBuf, tempfile::TempDir) {
    bundle_at(t.path(), extra)
}

/// [`bundle`] of the tree at `root`.
fn bundle_at(root: &Path, extra: &[&str]) -> (i32, String, String, PathBuf, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("b.tar.gz");
    let mut args = vec![
        "bundle",
        "--root",
        root.to_str().unwrap(),
        "-o",
        archive.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, o, e) = common::run(&args);
    (code, o, e, archive, out)
}

// ---- planted values ------------------------------------------------------------------
//
// Each value is planted where the collector or the kernel-log reader actually reads
// it, and `raw_holds_every_planted_value` proves it: its absence from the bundle
// means redaction, not a file nobody reads. The host and user names contain words
// the checks search the log for (`ipts`, `fail`), which must not shield them.

const HOST: &str = "ipts-alicebook";
const DOMAIN: &str = "corp.example.com";
const USER: &str = "failalice";
/// The battery's `serial_number` (power supply), a USB device's `SerialNumber:` and
/// a `serial_number=` in log lines.
const SERIALS: &[&str] = &["BATSERIAL7788", "USBSERIAL4455", "XBAT1Z99"];
/// The battery's supply name (a Bluetooth device's MAC) and log lines, one in upper
/// case and one with dashes.
const MACS: &[&str] = &[
    "a0:b1:c2:d3:e4:f5",
    "70:BC:10:AA:BB:CD",
    "4c-5d-6e-7f-80-91",
];
/// The command line's root=UUID=, the boot id, a file-system UUID in the log, and one
/// the log reader's 512-byte line cap cuts through.
const UUIDS: &[&str] = &[
    "0b5e1c1e-1234-4abc-9def-0123456789ab",
    "5f2a9c1d-7b3e-4f60-8a21-c3d4e5f60718",
    "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
    "3c1d9e8d-7a6b-4c5d-8e9f-a0b1c2d3e4f5",
];
const MACHINE_ID: &str = "6a9857a393724b7a981ebb5b8495b9ea";
const IPS: &[&str] = &[
    "192.168.178.42",
    "10.20.30.40",
    "2001:db8:85a3::8a2e:370:7334",
    "fe80::1ff:fe23:4567:890a",
    "172.16.5.4",
    "fe80:0000:0000:0000:0202:b3ff:fe1e:8329",
    "2001:db8::7",
];
const SSID: &str = "AliceHomeNet";
/// An unquoted network name with spaces, and one with an apostrophe.
const SSIDS: &[&str] = &[SSID, "Carol Home Net", "Bob's Net"];

/// A healthy 15" on a linux-surface kernel with every class of identifying value
/// planted where a machine keeps it and the collector reads it.
fn planted() -> Tree {
    let m = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = m.build();
    t.power_supply(
        &format!("hid-{}-battery", MACS[0]),
        "sys/devices/virtual/misc/uhid/0005:004C:0269.00AB",
        &[
            ("type", "Battery"),
            ("scope", "Device"),
            ("capacity", "50"),
            ("serial_number", SERIALS[0]),
        ],
    );
    t.attr("proc/sys/kernel/random/boot_id", UUIDS[1]);
    t.attr("proc/sys/kernel/hostname", HOST);
    t.attr("etc/hostname", HOST);
    t.mkdir(&format!("home/{USER}"));
    t.file(
        "etc/passwd",
        format!("root:x:0:0:root:/root:/bin/sh\n{USER}:x:1000:1000:Alice:/home/{USER}:/bin/bash\n"),
    );
    t.attr(
        "proc/cmdline",
        &format!(
            "BOOT_IMAGE=/boot/vmlinuz-{} root=UUID={} ro resume=/home/{USER}/swap \
             ip={}::{}:255.255.255.0:{HOST}:wlp1s0:off quiet",
            m.release(),
            UUIDS[0],
            IPS[0],
            IPS[1]
        ),
    );
    t.attr(
        "proc/version",
        &format!(
            "Linux version {} ({USER}@{HOST}) (gcc 12.2.0) #1 SMP",
            m.release()
        ),
    );
    t
}

/// A message of the bundle's words whose UUID straddles the reader's 512-byte cap.
fn cut_line() -> String {
    let head = "surface_battery: pad ";
    let pad = "x".repeat(500 - head.len() - 1);
    format!("{head}{pad} {} end", UUIDS[3])
}

/// The kernel log of a real Surface Book 2 (hw-probe record 79D657BBD855) with lines
/// naming the planted values, each carrying a word the bundle keeps.
fn planted_dmesg() -> String {
    let mut s = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real/79D657BBD855.dmesg"),
    )
    .unwrap();
    s.push_str(&format!(
        "[    9.100000] systemd[1]: Hostname set to <{HOST}>; surface-dtx-daemon starting\n\
         [    9.200000] surface_serial_hub serial0-0: {HOST} {USER} /home/{USER}/x\n\
         [    9.210000] surface_serial_hub serial0-0: {host_uc} {user_cap} on {HOST}.{DOMAIN}\n\
         [    9.300000] mwifiex_pcie 0000:01:00.0: info: trying to associate to '{SSID}' bssid {mac1}\n\
         [    9.310000] mwifiex_pcie 0000:01:00.0: info: associated to bssid {mac1} successfully\n\
         [    9.315000] mwifiex_pcie 0000:01:00.0: info: trying to associate to '{ssid3}' bssid {mac1}\n\
         [    9.320000] mwifiex_pcie 0000:01:00.0: mac {mac2} ip {ip0} gw {ip1} addr:{ip4}\n\
         [    9.330000] mwifiex_pcie 0000:01:00.0: IPv6 {ip2}/64 and [{ip3}]:22 SSID: {SSID}\n\
         [    9.335000] mwifiex_pcie 0000:01:00.0: peer {ip5} IPv6:{ip6} SSID: {ssid2}\n\
         [    9.400000] ipts 0000:00:16.4: {USER}@{HOST} EXT4-fs (nvme0n1p2): mounted {uuid0} \
         boot {uuid2} machine {MACHINE_ID}\n\
         [    9.500000] usb 1-1.3: SerialNumber: {ser1} (Surface Keyboard)\n\
         [    9.550000] usb 1-1.4: SerialNumber: {ser2} (Surface Pen)\n\
         [    9.600000] surface_battery: serial_number={ser0}\n\
         [    9.700000] {cut}\n",
        host_uc = HOST.to_ascii_uppercase(),
        user_cap = "Failalice",
        mac1 = MACS[1],
        mac2 = MACS[2],
        ip0 = IPS[0],
        ip1 = IPS[1],
        ip2 = IPS[2],
        ip3 = IPS[3],
        ip4 = IPS[4],
        ip5 = IPS[5],
        ip6 = IPS[6],
        ssid2 = SSIDS[1],
        ssid3 = SSIDS[2],
        uuid0 = UUIDS[0],
        uuid2 = UUIDS[2],
        ser0 = SERIALS[0],
        ser1 = SERIALS[1],
        ser2 = SERIALS[2],
        cut = cut_line(),
    ));
    s
}

/// Every spelling of a planted value the archive must not hold: as planted, upper
/// and lower case, and a MAC with `:`, `-`, `_` or no separators.
fn spellings(v: &str) -> Vec<String> {
    let mut out = vec![
        v.to_string(),
        v.to_ascii_lowercase(),
        v.to_ascii_uppercase(),
    ];
    for sep in [':', '-'] {
        if v.len() == 17 && v.matches(sep).count() == 5 {
            for other in [":", "-", "_", ""] {
                out.push(v.replace(sep, other));
            }
        }
    }
    out
}

/// Every planted value, and the parts that must not survive on their own (the
/// domain of the host, the start of the UUID the line cap cuts).
fn all_planted() -> Vec<String> {
    SERIALS
        .iter()
        .chain(MACS)
        .chain(UUIDS)
        .chain(IPS)
        .chain(SSIDS)
        .chain(&[HOST, USER, MACHINE_ID, DOMAIN, &UUIDS[3][..13]])
        .map(|s| s.to_string())
        .collect()
}

fn assert_nothing_planted(files: &[(String, String)], extra: &[&str]) {
    let mut all = all_planted();
    all.extend(extra.iter().map(|s| s.to_string()));
    for (name, text) in files {
        let lower = text.to_ascii_lowercase();
        for v in &all {
            for s in spellings(v) {
                assert!(
                    !lower.contains(&s.to_ascii_lowercase()),
                    "{name} leaks {s:?}:\n{}",
                    text.lines()
                        .filter(|l| l.to_ascii_lowercase().contains(&s.to_ascii_lowercase()))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }
}

/// `t` reached through `<tmp>/home/<USER>/tree`, a root path that names the user
/// (the report's `source` then does).
fn via_home(t: &Tree) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home").join(USER);
    std::fs::create_dir_all(&home).unwrap();
    let link = home.join("tree");
    std::os::unix::fs::symlink(t.path(), &link).unwrap();
    (d, link)
}

/// What the bundle would hold unredacted: the facts the collector reads from the
/// tree (with the log), the kernel-log lines the bundle keeps, and the report as
/// `status --json` prints it.
fn raw(t: &Tree, at: &Path, dmesg: &Path) -> (String, String) {
    let root = surface_check::root::Root::open(t.path()).unwrap();
    let profile = &surface_check::profiles::SURFACE_BOOK_2;
    let log = surface_check::facts::kmsg::read_file(dmesg, profile.log_needles).unwrap();
    let facts = surface_check::facts::collect_with_log(
        &root,
        profile,
        Some(surface_check::facts::Fact::Ok(log)),
    )
    .unwrap();
    let needles = bundle::log_needles();
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let log = surface_check::facts::kmsg::read_file(dmesg, &needles).unwrap();
    let mut text = serde_json::to_string(&facts).unwrap();
    for l in log.lines.iter().filter(|l| bundle::log_line_matches(l)) {
        text.push('\n');
        text.push_str(l);
    }
    let (_, report, _) = common::run(&[
        "status",
        "--json",
        "--local",
        "--root",
        at.to_str().unwrap(),
        "--dmesg",
        dmesg.to_str().unwrap(),
    ]);
    (text, report)
}

#[test]
fn raw_holds_every_planted_value() {
    let t = planted();
    let log = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(log.path(), planted_dmesg()).unwrap();
    let (_keep, at) = via_home(&t);
    let (text, report) = raw(&t, &at, log.path());
    // The line cap cuts through UUIDS[3]: the reader once kept its start.
    let cut = cut_line();
    let at = cut.find(UUIDS[3]).unwrap();
    assert!(
        at < 512 && at + 36 > 512,
        "the UUID straddles the 512-byte cap"
    );
    assert!(planted_dmesg().contains(&cut));
    for v in all_planted()
        .into_iter()
        .filter(|v| !UUIDS[3].starts_with(v.as_str()))
    {
        assert!(
            text.contains(&v),
            "{v:?} is planted where nothing reads it: its absence from a bundle proves nothing"
        );
    }
    // Upper and other case spellings really are in the log.
    assert!(text.contains(&HOST.to_ascii_uppercase()) && text.contains("Failalice"));
    // The report names the machine's values too (its evidence quotes the log and
    // sysfs): its redaction is tested.
    let in_report: Vec<String> = all_planted()
        .into_iter()
        .filter(|v| report.contains(v.as_str()))
        .collect();
    eprintln!("planted values in the raw report: {in_report:?}");
    assert!(
        in_report.contains(&USER.to_string()),
        "the raw report names {in_report:?}"
    );
}

#[test]
fn nothing_planted_reaches_the_bundle_and_the_checks_lines_do() {
    let t = planted();
    let log = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(log.path(), planted_dmesg()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (_home, at) = via_home(&t);
    let (code, _, err, archive, _keep) = bundle_at(
        &at,
        &[
            "--dmesg",
            log.path().to_str().unwrap(),
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "bundle failed: {err}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let files = unpack(&archive);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, NAMES);
    assert_nothing_planted(&files, &[]);

    // What a maintainer needs is still there.
    let log = file(&files, "kernel-log.txt");
    for kept in [
        "surface_serial_hub serial0-0: SAM firmware version: 182.1004.139",
        "ipu3-cio2 0000:00:14.3: Connected 3 cameras",
        "pci 0000:00:16.4: DMAR: Passthrough IOMMU for IPTS",
        "mwifiex_pcie 0000:01:00.0: info: trying to associate to '<ssid>' bssid <mac>",
        "ip <ip> gw <ip> addr:<ip>",
        "IPv6 <ip>/64 and [<ip>]:22 SSID: <ssid>",
        "peer <ip> IPv6:<ip> SSID: <ssid>",
        "<host> <user> on <host>",
        "surface_battery: pad xxx",
    ] {
        assert!(log.contains(kept), "kernel-log.txt lost {kept:?}:\n{log}");
    }
    // Only the bundle's words: no unrelated line.
    assert!(!log.contains("pinctrl core"), "{log}");
    let report: serde_json::Value = serde_json::from_str(file(&files, "report.json")).unwrap();
    assert_eq!(report["overall"], "ok", "the report as computed");
    let facts = file(&files, "facts.json");
    assert!(facts.contains("\"redacted\": true"));
    let manifest = file(&files, "MANIFEST.txt");
    for kind in [
        "<mac>",
        "<uuid>",
        "<ip>",
        "<ssid>",
        "<host>",
        "<user>",
        "<redacted>",
    ] {
        let line = manifest
            .lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("no count of {kind}:\n{manifest}"));
        let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(n > 0, "{kind} counted 0:\n{manifest}");
    }
    assert!(manifest.contains("command: ") && manifest.contains("bundle --root"));
    let services = file(&files, "services.txt");
    assert!(services.contains("iptsd") && services.contains("surface-dtx-daemon"));
    assert!(file(&files, "history.json").contains("no history"));
}

/// The checks of a report: (id, status, summary, hint).
fn checks(r: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut v = Vec::new();
    for s in r["subsystems"].as_array().unwrap() {
        for c in s["checks"].as_array().unwrap() {
            let f = |k: &str| c[k].as_str().unwrap_or("").to_string();
            v.push((f("id"), f("status"), f("summary"), f("hint")));
        }
    }
    v
}

#[test]
fn the_report_keeps_the_program_s_words() {
    // Without --dmesg (the report then speaks of "a captured ...'s kernel log"), and
    // with a break whose summary has a possessive and a `serial:` (Surface
    // Aggregator's serial device).
    let m = Sb2::new(Size::In15, Distro::DebianSurface);
    for with_break in [false, true] {
        let t = planted();
        if with_break {
            common::sb2::Break::SsamProbeFailed.apply(&m, &t);
        }
        let (code, live, err) = common::run(&[
            "status",
            "--json",
            "--local",
            "--root",
            t.path().to_str().unwrap(),
        ]);
        assert!(code <= 1, "{err}");
        let live: serde_json::Value = serde_json::from_str(&live).unwrap();
        let (code, _, err, archive, _keep) = bundle(&t, &[]);
        assert_eq!(code, 0, "{err}");
        let files = unpack(&archive);
        assert_nothing_planted(&files, &[]);
        let text = file(&files, "report.json");
        assert!(!text.contains("<name>"), "{text}");
        let ours: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours["overall"], live["overall"]);
        let planted = all_planted();
        for (a, b) in checks(&live).iter().zip(checks(&ours)) {
            assert_eq!((&a.0, &a.1), (&b.0, &b.1), "the same verdicts");
            // Wherever the live wording names no planted value, it is kept as is.
            if !planted
                .iter()
                .any(|p| a.2.contains(p.as_str()) || a.3.contains(p.as_str()))
            {
                assert_eq!((&a.2, &a.3), (&b.2, &b.3));
            }
        }
    }
}

#[test]
fn history_boot_ids_become_placeholders() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path().to_str().unwrap();
    for t in [common::boots::boot1(), common::boots::boot3()] {
        let (code, _, err) = common::run(&[
            "report",
            "--local",
            "--root",
            t.path().to_str().unwrap(),
            "--state-dir",
            s,
        ]);
        assert!(code == 0 || code == 1, "report: {err}");
    }
    let t = common::boots::boot3();
    let (code, _, err, archive, _keep) = bundle(&t, &["--state-dir", s]);
    assert_eq!(code, 0, "{err}");
    let files = unpack(&archive);
    for (name, text) in &files {
        for id in [common::boots::BOOT1, common::boots::BOOT3] {
            assert!(!text.contains(id), "{name} holds boot id {id}");
            assert!(
                !text.contains(&id[..8]),
                "{name} holds part of boot id {id}"
            );
        }
    }
    let h: serde_json::Value = serde_json::from_str(file(&files, "history.json")).unwrap();
    let boots = h["boots"].as_array().expect("boots");
    assert_eq!(boots.len(), 2);
    assert_eq!(boots[0]["boot_id"], "<boot-1>");
    assert_eq!(boots[1]["boot_id"], "<boot-2>");
    assert_eq!(boots[0]["subsystems"]["touch"], "failed");
    // No kernel log was given: a note says so.
    assert!(file(&files, "kernel-log.txt").starts_with("# no kernel log: "));
}

#[test]
fn review_lists_every_file_and_writes_nothing_without_yes() {
    let t = planted();
    let (code, out, err, archive, _keep) = bundle(&t, &["--review"]);
    assert_eq!(code, 0, "{err}");
    assert!(!archive.exists(), "written without --yes");
    assert!(err.contains("nothing written"), "{err}");
    for n in NAMES {
        assert!(out.contains(&format!("== {n} (")), "the listing lacks {n}");
    }
    // JSON fields by key path, text by line.
    assert!(
        out.contains("  /overall = \"ok\""),
        "{}",
        &out[..out.len().min(2000)]
    );
    assert!(out.contains("  /source/redacted = true"));
    assert!(out.contains("  | iptsd"));
    assert!(!out.contains(HOST) && !out.contains(SERIALS[1]) && !out.contains(SERIALS[0]));

    let (code, out2, err, archive, _keep) = bundle(&t, &["--review", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(archive.exists());
    assert_eq!(unpack(&archive).len(), NAMES.len());
    assert!(out2.contains("== MANIFEST.txt ("));
}

#[test]
fn refuses_links_and_directories_and_writes_to_stdout() {
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("l.tar.gz");
    std::os::unix::fs::symlink("/tmp/elsewhere", &link).unwrap();
    let root = t.path().to_str().unwrap();
    for target in [link.to_str().unwrap(), dir.path().to_str().unwrap()] {
        let (code, _, err) = common::run(&["bundle", "--root", root, "-o", target]);
        assert_eq!(code, 2, "{target}: {err}");
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let out = Command::new(common::BIN)
        .args(["bundle", "--root", root, "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let f = dir.path().join("s.tar.gz");
    std::fs::write(&f, &out.stdout).unwrap();
    assert_eq!(unpack(&f).len(), NAMES.len());
}

#[test]
fn hostile_sources_still_give_a_bundle_with_notes() {
    let t = Sb2::new(Size::In15, Distro::DebianSurface).build();
    // Far more matching lines than kept.
    let many = tempfile::NamedTempFile::new().unwrap();
    let text: String = (0..30_000)
        .map(|i| format!("[    1.{i:06}] ipts 0000:00:16.4: message {i}\n"))
        .collect();
    std::fs::write(
        many.path(),
        format!("[    0.000000] Linux version 6\n{text}"),
    )
    .unwrap();
    // Past the 16 MiB a kernel log is read to.
    let huge = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(huge.path(), vec![b'x'; 17 << 20]).unwrap();
    // A history that is no database.
    let state = tempfile::tempdir().unwrap();
    std::fs::write(
        state.path().join("history.sqlite"),
        b"not a database at all",
    )
    .unwrap();
    let s = state.path().to_str().unwrap();

    let (code, _, err, archive, _keep) = bundle(
        &t,
        &["--dmesg", many.path().to_str().unwrap(), "--state-dir", s],
    );
    assert_eq!(code, 0, "{err}");
    let files = unpack(&archive);
    let log = file(&files, "kernel-log.txt");
    assert!(log.lines().count() <= surface_check::facts::kmsg::MAX_LINES + 2);
    assert!(log.contains("# cut: "), "no note of the cut");
    let manifest = file(&files, "MANIFEST.txt");
    assert!(manifest.contains("kernel log: cut: "), "{manifest}");
    assert!(manifest.contains("history: "), "{manifest}");
    assert!(file(&files, "history.json").contains("\"note\""));

    let (code, _, err, archive, _keep) = bundle(
        &t,
        &["--dmesg", huge.path().to_str().unwrap(), "--state-dir", s],
    );
    assert_eq!(code, 0, "{err}");
    let files = unpack(&archive);
    assert!(
        file(&files, "kernel-log.txt").contains("larger than the 16 MiB cap"),
        "{}",
        file(&files, "kernel-log.txt")
    );
}

/// A `--dmesg` file that cannot be read leaves a note naming its path, and the
/// path names the user, the host and an address: redacted in every file and in the
/// listing, `facts.json`'s unreadable log included.
#[test]
fn an_unreadable_dmesg_path_is_redacted_everywhere() {
    let t = planted();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home").join(USER);
    // A directory where the log should be: read_file refuses it. (Names are masked
    // as whole words: `alicebook-dmesg` would keep the host, documented.)
    let log = home.join(HOST).join(IPS[0]).join("dmesg");
    std::fs::create_dir_all(&log).unwrap();
    let missing = home.join(format!("{}.txt", UUIDS[2]));
    for path in [&log, &missing] {
        let p = path.to_str().unwrap();
        let (code, out, err, archive, _keep) = bundle(&t, &["--dmesg", p, "--review", "--yes"]);
        assert_eq!(code, 0, "{err}");
        let files = unpack(&archive);
        let facts: serde_json::Value = serde_json::from_str(file(&files, "facts.json")).unwrap();
        let unread = &facts["kernel_log"]["unknown"];
        assert!(
            unread["path"]
                .as_str()
                .is_some_and(|x| x.contains("/home/<user>/")),
            "facts.json's kernel_log: {}",
            facts["kernel_log"]
        );
        assert!(unread["reason"].as_str().is_some(), "{unread}");
        assert_nothing_planted(&files, &[]);
        assert_nothing_planted(&[("the --review listing".into(), out)], &[]);
    }
}

#[test]
fn control_characters_are_escaped() {
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let log = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        log.path(),
        "[    0.0] Linux version 6.1\n[    1.0] surface \u{1b}]0;x\u{7} \u{1b}[31mred\n",
    )
    .unwrap();
    // A module whose state and taint fields (which the parser takes as they are)
    // hold escape sequences.
    let mut modules = std::fs::read_to_string(t.path().join("proc/modules")).unwrap();
    modules.push_str("evil 4096 0 - Live\u{1b}[31m 0x0 (O\u{1b}]0;x\u{7})\n");
    t.file("proc/modules", modules);
    let d = log.path().to_str().unwrap();
    let (code, out, err, archive, _keep) = bundle(&t, &["--dmesg", d, "--review", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("evil 4096 0 Live\\x1b[31m - O\\x1b]0;x\\x07"),
        "{}",
        out.lines()
            .filter(|l| l.contains("evil"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        out.contains("  | surface \\x1b]0;x\\x07 \\x1b[31mred"),
        "{}",
        out.lines()
            .filter(|l| l.contains("red"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'));
    let files = unpack(&archive);
    assert!(file(&files, "kernel-log.txt").contains("surface \\x1b]0;x\\x07"));
    for (name, text) in &files {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{name} holds a raw control character"
        );
    }
}

#[test]
fn an_argument_that_is_no_utf8_is_no_panic() {
    use std::os::unix::ffi::OsStrExt;
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"b\xff.tar.gz"));
    let out = Command::new(common::BIN)
        .arg("bundle")
        .arg("--root")
        .arg(t.path())
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = unpack(&path);
    assert!(file(&files, "MANIFEST.txt").contains("b\u{fffd}.tar.gz"));
}

#[test]
fn under_sudo_the_archive_goes_to_the_user() {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test runs as root, as scripts/test.sh runs the suite"
    );
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, env: &[(&str, &str)]| {
        let path = dir.path().join(name);
        let mut c = Command::new(common::BIN);
        c.args(["bundle", "--root", t.path().to_str().unwrap(), "-o"])
            .arg(&path)
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m = std::fs::metadata(&path).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o777)
    };
    assert_eq!(
        run("a.tar.gz", &[("SUDO_UID", "4242"), ("SUDO_GID", "4343")]),
        (4242, 4343, 0o600)
    );
    assert_eq!(run("b.tar.gz", &[]), (0, 0, 0o600));
    assert_eq!(
        run("c.tar.gz", &[("SUDO_UID", "x"), ("SUDO_GID", "4343")]),
        (0, 0, 0o600)
    );

    // The archive is the user's before it takes its place: never a moment at the path
    // as root's, never a chown of whatever the path holds after the rename.
    let trace = dir.path().join("trace");
    let path = dir.path().join("d.tar.gz");
    let out = Command::new("strace")
        .args([
            "-f",
            "-e",
            "trace=fchown,fchownat,chown,lchown,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&trace)
        .arg(common::BIN)
        .args(["bundle", "--root", t.path().to_str().unwrap(), "-o"])
        .arg(&path)
        .env("SUDO_UID", "4242")
        .env("SUDO_GID", "4343")
        .output()
        .expect("strace (scripts/test.sh installs it)");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = std::fs::read_to_string(&trace).unwrap();
    let at = |what: &str| {
        calls
            .lines()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what} in the trace:\n{calls}"))
    };
    assert!(at("fchown(") < at("rename"), "{calls}");
    assert_eq!(calls.matches("chown").count(), 1, "{calls}");
}

// ---- generated values, in-process ------------------------------------------------------

fn mac() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 6).prop_map(|b| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

fn ipv4() -> impl Strategy<Value = String> {
    (1u8..=254, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn ipv6() -> impl Strategy<Value = String> {
    (0x2001u16..0x3fff, 1u16.., 1u16.., 1u16..)
        .prop_map(|(a, b, c, d)| format!("{a:x}:{b:x}:{c:x}::{d:x}"))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_values_never_reach_the_bundle(
        host_prefix in proptest::sample::select(&["", "ipts-", "fail", "rear", "front", "Camera"][..]),
        user_prefix in proptest::sample::select(&["", "fail", "rear", "front", "ipts"][..]),
        host in "[a-z][a-z0-9]{5,12}",
        user in "[a-z][a-z0-9]{5,10}",
        from_redacted in any::<bool>(),
        serial in "[A-Z0-9]{10,16}",
        ssid in "[A-Za-z][A-Za-z0-9 _-]{6,20}[A-Za-z0-9]",
        m1 in mac(),
        m2 in mac(),
        v4 in ipv4(),
        v6 in ipv6(),
    ) {
        let host = format!("{host_prefix}{host}");
        let user = format!("{user_prefix}{user}");
        let t = Tree::new_in_memory();
        let t = Sb2::new(Size::In15, Distro::DebianSurface).build_into(t);
        t.attr("proc/sys/kernel/hostname", &host);
        t.mkdir(&format!("home/{user}"));
        t.attr("proc/cmdline", &format!("root=/dev/sda1 resume=/home/{user}/swap ip={v4}"));
        let root = surface_check::root::Root::open(t.path()).unwrap();
        let profile = &surface_check::profiles::SURFACE_BOOK_2;
        let facts = surface_check::facts::collect(&root, profile).unwrap();
        // Probed here, the report is made from the redacted facts; from the daemon,
        // it is redacted string by string.
        let report = if from_redacted {
            let r = surface_check::facts::redact::redact_with_users(
                &facts, Some(&host), std::slice::from_ref(&user)).unwrap();
            surface_check::checks::diagnose(&r, profile, "/")
        } else {
            surface_check::checks::diagnose(&facts, profile, "/")
        };
        let dmesg = format!(
            "[    0.000000] Linux version 6.1 ({user}@{host})\n\
             [    9.1] mwifiex_pcie 0000:01:00.0: info: trying to associate to '{ssid}' bssid {m2}\n\
             [    9.2] mwifiex_pcie 0000:01:00.0: addr {v4} {v6} on {host}\n\
             [    9.3] usb 1-1: SerialNumber: {serial} Surface\n\
             [    9.4] ipts 0000:00:16.4: /home/{user}/x {m1} {m1u}\n\
             [    9.5] ipts 0000:00:16.4: {hostu} on {host}.example.org SSID: {ssid}\n",
            m1u = m1.to_ascii_uppercase().replace(':', "-"),
            hostu = host.to_ascii_uppercase()
        );
        let needles = bundle::log_needles();
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let log = surface_check::facts::kmsg::parse_text(&dmesg, &needles, "dmesg", true);
        let identity = Identity { hostname: Some(host.clone()), users: vec![user.clone()] };
        let b = bundle::build(&Inputs {
            report: &report,
            report_redacted: from_redacted,
            report_origin: "test".into(),
            facts: &facts,
            identity: &identity,
            kernel_log: Ok(log),
            history: HistoryInput::Note("none".into()),
            command_line: vec!["surface-check".into(), "bundle".into()],
            created: 0,
        }).unwrap();
        prop_assert_eq!(b.files.len(), NAMES.len());
        let listing = b.review();
        for f in &b.files {
            let text = String::from_utf8(f.body.bytes()).unwrap().to_ascii_lowercase();
            for v in [&host, &user, &serial, &ssid, &m1, &m2, &v4, &v6] {
                for s in spellings(v) {
                    prop_assert!(
                        !text.contains(&s.to_ascii_lowercase()),
                        "{} leaks {:?}", f.name, s
                    );
                }
            }
        }
        prop_assert!(!listing.contains(&serial) && !listing.contains(&m1));
        prop_assert!(!listing.to_ascii_lowercase().contains("example.org"));
        let log = String::from_utf8(b.files[2].body.bytes()).unwrap();
        prop_assert!(log.contains("info: trying to associate to '<ssid>' bssid <mac>"), "{}", log);
    }
}

/// A compressed archive never goes to a terminal: standard output on a pseudo
/// terminal (util-linux's `script` gives one), with `--review` or `--review --yes`
/// too, and `-o /dev/tty`; a file written from the same terminal is fine.
#[test]
fn no_archive_is_written_to_a_terminal() {
    let t = Sb2::new(Size::In13, Distro::DebianSurface).build();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.tar.gz");
    let on_a_terminal = |args: &str| {
        let cmd = format!(
            "{} bundle --root {} {args}",
            common::BIN,
            t.path().to_str().unwrap()
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .expect("script (util-linux; scripts/test.sh installs it)");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for args in [
        "-o -",
        "--review --yes -o -",
        "-o /dev/tty",
        // Asked on the terminal, `y` would send it there.
        "--review -o -",
        "--review -o /dev/tty",
    ] {
        let (code, text) = on_a_terminal(args);
        assert_eq!(code, Some(2), "{args}: {text}");
        assert!(
            text.contains("refusing to write a compressed archive to a terminal"),
            "{args}: {text}"
        );
        assert!(
            !text.contains('\u{1f}'),
            "{args}: gzip bytes reached the terminal"
        );
    }
    let (code, text) = on_a_terminal(&format!("-o {}", file.display()));
    assert_eq!(code, Some(0), "{text}");
    assert!(file.exists());
}
