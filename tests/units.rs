//! The system integration files as the system reads them: every systemd unit passes
//! `systemd-analyze verify` as scripts/install.sh installs it (its ExecStart= then
//! exists), the daemon's unit and the report service are hardened to a
//! `systemd-analyze security` exposure of 2.0 or lower and wait on no device, the
//! report timer is set to fire after boot and after resume, the daemon's unit, the
//! activation file and the bus policy name one bus name, and the policy does on a
//! real `dbus-daemon` what it says: only root owns the name, anyone calls the read
//! methods, nothing else passes, and a call activates the daemon.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::bus::PrivateBus;
use common::unit_entries as entries;
use surface_check::dbus::{BUS_NAME, INTERFACE, OBJECT_PATH, members};

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");
const UNIT: &str = "surface-checkd.service";
/// `surface-check report`, run by [`REPORT_TIMER`].
const REPORT_SERVICE: &str = "surface-check-report.service";
const REPORT_TIMER: &str = "surface-check-report.timer";
/// The most `systemd-analyze security` may rate the daemon's unit and the report
/// service.
const MAX_EXPOSURE: f64 = 2.0;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Runs `cmd`; a missing program fails with the package to install.
fn run(cmd: &mut Command, package: &str) -> Output {
    let name = cmd.get_program().to_string_lossy().into_owned();
    cmd.env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "cat")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!("{name} not found: install {package} (apt-get install {package})");
            }
            panic!("running {name}: {e}");
        })
}

/// The values of `key` in `section`.
fn values(e: &[(String, String, String)], section: &str, key: &str) -> Vec<String> {
    e.iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.clone())
        .collect()
}

/// The one value of `key` in `section`.
fn value(e: &[(String, String, String)], section: &str, key: &str) -> String {
    let v = values(e, section, key);
    assert_eq!(v.len(), 1, "[{section}] {key}= set {} times", v.len());
    v[0].clone()
}

/// Every unit file in systemd/ (system units) and systemd/user/ (user units).
fn units() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("systemd"))
        .expect("systemd/")
        .chain(std::fs::read_dir(repo().join("systemd/user")).expect("systemd/user/"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| {
                ["service", "socket", "timer", "path", "target"].contains(&x.to_str().unwrap())
            })
        })
        .collect();
    v.sort();
    assert!(
        v.iter().any(|p| p.ends_with(UNIT)),
        "no systemd/{UNIT}: {v:?}"
    );
    v
}

/// Installs everything with scripts/install.sh under the prefix `dir` (no staging:
/// ExecStart= names a binary that exists). Returns install.sh's standard error.
fn install_under(dir: &Path) -> String {
    let out = run(
        Command::new(repo().join("scripts/install.sh"))
            .arg("--prefix")
            .arg(dir)
            .args(["--binary", BIN, "--daemon", DAEMON]),
        "bash",
    );
    assert!(out.status.success(), "install.sh failed: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_unit_verifies_as_installed() {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    install_under(p);
    for unit in units() {
        let name = unit.file_name().unwrap();
        let user = unit.parent().is_some_and(|d| d.ends_with("user"));
        let installed = p
            .join(if user {
                "lib/systemd/user"
            } else {
                "lib/systemd/system"
            })
            .join(name);
        let e = entries(&installed);
        for exec in values(&e, "Service", "ExecStart") {
            let exe = exec.split_whitespace().next().unwrap();
            assert!(
                exe.starts_with(p.to_str().unwrap()),
                "install.sh left {exe} in {}",
                installed.display()
            );
            assert!(Path::new(exe).is_file(), "{exe} is not installed");
        }
        // Documentation=man:... is checked against the installed man pages.
        // A user manager needs a runtime directory of its own.
        let runtime = tempfile::tempdir().unwrap();
        let out = run(
            Command::new("systemd-analyze")
                .args(if user { &["--user"][..] } else { &[][..] })
                .arg("verify")
                .arg(&installed)
                .env("XDG_RUNTIME_DIR", runtime.path())
                .env("MANPATH", p.join("share/man")),
            "systemd",
        );
        let said = text(&out);
        eprintln!("systemd-analyze verify {}: {said}", installed.display());
        // verify exits 0 on a setting it ignores ("Failed to parse ..., ignoring",
        // "Unknown key name"): any output is a failure.
        assert!(
            out.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {}:\n{said}",
            installed.display()
        );
    }
}

/// The figure of `systemd-analyze security`'s last line: "→ Overall exposure level
/// for surface-checkd.service: 2.0 OK 🙂".
fn exposure(report: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level for"))
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    line.rsplit_once(".service:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"))
}

/// Asserts that systemd/`name` is rated an exposure of [`MAX_EXPOSURE`] or lower, and
/// that what the figure rests on is really set; returns its entries.
fn assert_hardened(name: &str, families: &str) -> Vec<(String, String, String)> {
    let unit = repo().join("systemd").join(name);
    let out = run(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&unit),
        "systemd",
    );
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let figure = exposure(&report);
    eprintln!("systemd-analyze security --offline=yes systemd/{name}: exposure {figure:.1}");
    let open: Vec<&str> = report.lines().filter(|l| l.starts_with('✗')).collect();
    eprintln!("what stays open:\n{}", open.join("\n"));
    assert!(
        figure <= MAX_EXPOSURE,
        "{name}: exposure {figure} > {MAX_EXPOSURE}:\n{report}"
    );
    // The same limit as systemd-analyze itself applies it (exposure x 10).
    let out = run(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(format!("--threshold={}", (MAX_EXPOSURE * 10.0) as u32))
            .arg(&unit),
        "systemd",
    );
    assert!(out.status.success(), "over the threshold:\n{}", text(&out));
    // What the exposure figure rests on is really set, not only its score.
    let e = entries(&unit);
    for (key, want) in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", families),
        ("CapabilityBoundingSet", "CAP_SYSLOG"),
        ("DevicePolicy", "closed"),
        ("IPAddressDeny", "any"),
    ] {
        assert_eq!(value(&e, "Service", key), want, "{name}: {key}=");
    }
    assert!(values(&e, "Service", "SystemCallFilter").contains(&"@system-service".to_string()));
    // Every device it may open, read-only.
    for allow in values(&e, "Service", "DeviceAllow") {
        assert!(
            allow.ends_with(" r"),
            "{name}: DeviceAllow={allow} is not read-only"
        );
    }
    e
}

#[test]
fn the_daemon_unit_is_hardened_to_an_exposure_of_at_most_2_0() {
    assert_hardened(UNIT, "AF_UNIX AF_NETLINK");
}

/// The report service reads what the daemon reads (it probes when no daemon
/// answers, and collects this boot's facts always), and besides writes only its
/// state directory: the same hardening, no uevent socket.
#[test]
fn the_report_service_is_hardened_to_an_exposure_of_at_most_2_0() {
    let e = assert_hardened(REPORT_SERVICE, "AF_UNIX");
    assert_eq!(value(&e, "Service", "Type"), "oneshot");
    assert_eq!(
        value(&e, "Service", "ExecStart"),
        "/usr/bin/surface-check report"
    );
    assert_eq!(value(&e, "Service", "StateDirectory"), "surface-check");
    assert_eq!(value(&e, "Service", "StateDirectoryMode"), "0700");
    assert_eq!(value(&e, "Service", "UMask"), "0077");
    // The timer starts it; enabled on its own it would run at no settled moment.
    assert!(
        e.iter().all(|(s, _, _)| s != "Install"),
        "{REPORT_SERVICE} has an [Install] section"
    );
    // A regression must fail the unit (exit 1) for OnFailure= to act: nothing may
    // count exit 1 as success.
    assert!(values(&e, "Service", "SuccessExitStatus").is_empty());
    assert!(!value(&e, "Service", "ExecStart").starts_with('-'));
}

/// The timer: after boot once devices have settled, and again after every resume.
#[test]
fn the_report_timer_fires_after_boot_and_after_resume() {
    let e = entries(&repo().join("systemd").join(REPORT_TIMER));
    assert_eq!(value(&e, "Timer", "Unit"), REPORT_SERVICE);
    // Counted from the timer's own start (at boot, and again after a resume): an
    // OnBootSec= long past when the timer starts after a resume would fire at once,
    // before the devices are back.
    assert_eq!(value(&e, "Timer", "OnActiveSec"), "2min");
    assert!(values(&e, "Timer", "OnBootSec").is_empty());
    // Inactive once elapsed, so that the start after a resume arms it again.
    assert_eq!(value(&e, "Timer", "RemainAfterElapse"), "no");
    let wanted_by: Vec<String> = values(&e, "Install", "WantedBy")
        .iter()
        .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    let after: Vec<String> = values(&e, "Unit", "After")
        .iter()
        .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    assert!(
        wanted_by.contains(&"timers.target".to_string()),
        "{wanted_by:?}"
    );
    // Started when a sleep target is reached, which is after the wake-up (the
    // target is ordered after systemd-suspend.service &c., which return on
    // resume); sleep.target is reached before the sleep and would be wrong.
    for target in [
        "suspend.target",
        "hibernate.target",
        "hybrid-sleep.target",
        "suspend-then-hibernate.target",
    ] {
        assert!(
            wanted_by.iter().any(|w| w == target),
            "WantedBy= lacks {target}"
        );
        assert!(after.iter().any(|a| a == target), "After= lacks {target}");
    }
    assert!(!wanted_by.iter().any(|w| w == "sleep.target"));
    // The stock targets are ordered as this relies on.
    let suspend = Path::new("/usr/lib/systemd/system/suspend.target");
    let suspend = if suspend.exists() {
        suspend.to_path_buf()
    } else {
        PathBuf::from("/lib/systemd/system/suspend.target")
    };
    let s = entries(&suspend);
    assert!(
        values(&s, "Unit", "After")
            .iter()
            .any(|v| v.split_whitespace().any(|u| u == "systemd-suspend.service")),
        "{}: suspend.target is not ordered after systemd-suspend.service",
        suspend.display()
    );
}

/// The daemon starts without waiting for any device: a detached base or a camera
/// off in UEFI never appears, and a boot that waits for it hangs until its timeout.
#[test]
fn start_up_waits_on_no_device() {
    for unit in units() {
        let e = entries(&unit);
        for (section, key, v) in &e {
            if section != "Unit" {
                continue;
            }
            if [
                "After",
                "Requires",
                "Requisite",
                "BindsTo",
                "Wants",
                "Upholds",
                "PartOf",
            ]
            .contains(&key.as_str())
            {
                for dep in v.split_whitespace() {
                    assert!(
                        !dep.ends_with(".device") && !dep.contains("udev-settle"),
                        "{}: {key}={dep} makes start-up wait on a device",
                        unit.display()
                    );
                }
            }
        }
        for (_, key, v) in &e {
            if key.starts_with("ExecStart") || key.starts_with("ExecCondition") {
                assert!(
                    !v.contains("udevadm settle") && !v.contains("udevadm wait"),
                    "{}: {key}={v} waits for udev",
                    unit.display()
                );
            }
        }
    }
}

#[test]
fn unit_activation_file_and_policy_name_one_bus_name() {
    let unit = entries(&repo().join("systemd").join(UNIT));
    assert_eq!(value(&unit, "Service", "Type"), "dbus");
    assert_eq!(value(&unit, "Service", "BusName"), BUS_NAME);
    assert_eq!(
        value(&unit, "Service", "ExecStart"),
        "/usr/bin/surface-checkd"
    );
    assert_eq!(
        value(&unit, "Install", "Alias"),
        format!("dbus-{BUS_NAME}.service")
    );
    assert_eq!(value(&unit, "Install", "WantedBy"), "multi-user.target");

    let act = entries(&repo().join(format!("dbus/{BUS_NAME}.service")));
    assert!(act.iter().all(|(s, _, _)| s == "D-BUS Service"), "{act:?}");
    assert_eq!(value(&act, "D-BUS Service", "Name"), BUS_NAME);
    assert_eq!(value(&act, "D-BUS Service", "SystemdService"), UNIT);
    assert_eq!(
        value(&act, "D-BUS Service", "Exec"),
        "/usr/bin/surface-checkd"
    );
    assert_eq!(value(&act, "D-BUS Service", "User"), "root");

    // The policy: root owns exactly this name, and anyone may call exactly the
    // interface's methods.
    let policy = std::fs::read_to_string(common::bus::POLICY).unwrap();
    let owns = attrs(&policy, "own");
    assert_eq!(owns, [BUS_NAME], "{policy}");
    assert!(!policy.contains("own_prefix"), "{policy}");
    assert!(
        !policy.contains("send_type=\"method_call\""),
        "a blanket method_call rule:\n{policy}"
    );
    let allowed: BTreeSet<&str> = attrs(&policy, "send_member").into_iter().collect();
    let mut want: BTreeSet<&str> = members::ALL
        .iter()
        .filter(|(_, kind, _)| *kind == "method")
        .map(|(name, _, _)| *name)
        .collect();
    want.extend(["Get", "GetAll"]);
    assert_eq!(allowed, want, "{policy}");
    for dest in attrs(&policy, "send_destination") {
        assert_eq!(dest, BUS_NAME);
    }
}

/// The values of `name="..."` attributes in `xml`.
fn attrs<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let pat = format!(" {name}=\"");
    xml.match_indices(pat.as_str())
        .map(|(i, _)| {
            let rest = &xml[i + pat.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// `gdbus call --system` on `bus`, as root or (`nobody`) as uid 65534 without groups
/// or capabilities: (succeeded, what it printed).
fn gdbus(bus: &PrivateBus, nobody: bool, args: &[&str]) -> (bool, String) {
    let mut cmd = if nobody {
        let mut c = common::setpriv_nobody();
        c.arg("gdbus");
        c
    } else {
        Command::new("gdbus")
    };
    cmd.args(["call", "--system", "--timeout", "20"])
        .args(args)
        .envs(bus.env())
        .env("HOME", "/nonexistent");
    let out = run(&mut cmd, "util-linux libglib2.0-bin");
    let said = text(&out);
    assert!(
        !said.contains("failed to execute"),
        "setpriv or gdbus missing (apt-get install util-linux libglib2.0-bin): {said}"
    );
    (out.status.success(), said)
}

fn request_name(bus: &PrivateBus, nobody: bool, name: &str) -> (bool, String) {
    gdbus(
        bus,
        nobody,
        &[
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.RequestName",
            name,
            "4",
        ],
    )
}

const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";

#[test]
fn only_root_may_own_the_name() {
    let bus = PrivateBus::start();
    // 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER.
    let (ok, said) = request_name(&bus, false, BUS_NAME);
    assert!(ok && said.trim() == "(uint32 1,)", "root: {said}");
    let (ok, said) = request_name(&bus, true, BUS_NAME);
    assert!(!ok && said.contains(ACCESS_DENIED), "uid 65534: {said}");
    // The name, not a prefix of names.
    let (ok, said) = request_name(&bus, false, &format!("{BUS_NAME}.Other"));
    assert!(!ok && said.contains(ACCESS_DENIED), "root: {said}");
}

/// The daemon, serving an empty root on `bus`, until dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `BUS_NAME` has an owner on `bus`; `log` is the daemon's.
fn wait_owned(bus: &PrivateBus, log: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, said) = gdbus(
            bus,
            false,
            &[
                "--dest",
                "org.freedesktop.DBus",
                "--object-path",
                "/org/freedesktop/DBus",
                "--method",
                "org.freedesktop.DBus.NameHasOwner",
                BUS_NAME,
            ],
        );
        assert!(ok, "{said}");
        if said.contains("true") {
            return;
        }
        assert!(
            Instant::now() < until,
            "surface-checkd did not take {BUS_NAME} within 30 s; it said:\n{}\nthe bus said:\n{}",
            std::fs::read_to_string(log).unwrap_or_default(),
            bus.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn call(bus: &PrivateBus, nobody: bool, method: &str, args: &[&str]) -> (bool, String) {
    let mut a = vec![
        "--dest",
        BUS_NAME,
        "--object-path",
        OBJECT_PATH,
        "--method",
        method,
    ];
    a.extend_from_slice(args);
    gdbus(bus, nobody, &a)
}

#[test]
fn anyone_may_call_the_read_methods_and_nothing_else_passes() {
    let bus = PrivateBus::start();
    let root = tempfile::tempdir().unwrap();
    let log = bus.dir().join("surface-checkd.log");
    let _d = Daemon(
        Command::new(DAEMON)
            .arg("--root")
            .arg(root.path())
            .arg("--state-dir")
            .arg(root.path().join("state"))
            .envs(bus.env())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting surface-checkd"),
    );
    wait_owned(&bus, &log);
    let get_report = format!("{INTERFACE}.GetReport");
    let get_subsystem = format!("{INTERFACE}.GetSubsystem");
    let explain = format!("{INTERFACE}.Explain");
    let refresh = format!("{INTERFACE}.Refresh");
    let get_history = format!("{INTERFACE}.GetHistory");
    for (method, args) in [
        (get_history.as_str(), &["5"][..]),
        (get_report.as_str(), &[][..]),
        (get_subsystem.as_str(), &["touch"][..]),
        (explain.as_str(), &["touch.iptsd"][..]),
        (refresh.as_str(), &[][..]),
        (
            "org.freedesktop.DBus.Properties.Get",
            &[INTERFACE, "Overall"][..],
        ),
        ("org.freedesktop.DBus.Properties.GetAll", &[INTERFACE][..]),
        ("org.freedesktop.DBus.Introspectable.Introspect", &[][..]),
        ("org.freedesktop.DBus.Peer.Ping", &[][..]),
        ("org.freedesktop.DBus.Peer.GetMachineId", &[][..]),
    ] {
        let (ok, said) = call(&bus, true, method, args);
        assert!(ok, "uid 65534 calling {method}: {said}");
    }
    let (_, report) = call(&bus, true, &get_report, &[]);
    assert!(report.contains("schema_version"), "{report}");

    // AcceptBaseline passes the bus, for anyone, and the daemon asks polkit, which
    // is not running here: refused by the daemon, not by the bus.
    let accept = format!("{INTERFACE}.AcceptBaseline");
    for nobody in [true, false] {
        let (ok, said) = call(&bus, nobody, &accept, &[]);
        assert!(
            !ok && said.contains(ACCESS_DENIED) && said.contains("polkit"),
            "calling AcceptBaseline: {said}"
        );
    }

    // Nothing to set, no other member, no other interface: the bus refuses, for
    // root as for anyone, before the daemon sees the call.
    let frobnicate = format!("{INTERFACE}.Frobnicate");
    for nobody in [true, false] {
        for (method, args) in [
            (
                "org.freedesktop.DBus.Properties.Set",
                &[INTERFACE, "Overall", "<'ok'>"][..],
            ),
            (frobnicate.as_str(), &[][..]),
            (
                "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
                &[][..],
            ),
        ] {
            let (ok, said) = call(&bus, nobody, method, args);
            assert!(
                !ok && said.contains(ACCESS_DENIED),
                "{} calling {method}: {said}",
                if nobody { "uid 65534" } else { "root" }
            );
        }
    }
}

/// The state letter of /proc/PID/stat, or None when the process is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

#[test]
fn a_call_activates_the_daemon_and_stopping_the_bus_stops_it() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let bus = PrivateBus::start_with_activation(Path::new(DAEMON), &["--root", root_arg]);
    // An unprivileged caller starts it, as a desktop widget would.
    let (ok, report) = call(&bus, true, &format!("{INTERFACE}.GetReport"), &[]);
    assert!(ok, "{report}\nthe bus said:\n{}", bus.log());
    assert!(report.contains("schema_version"), "{report}");
    assert!(
        bus.log()
            .contains(&format!("Successfully activated service '{BUS_NAME}'")),
        "{}",
        bus.log()
    );
    let (ok, said) = gdbus(
        &bus,
        false,
        &[
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            BUS_NAME,
        ],
    );
    assert!(ok, "{said}");
    let pid: u32 = said
        .trim()
        .trim_start_matches("(uint32 ")
        .trim_end_matches(",)")
        .parse()
        .unwrap_or_else(|_| panic!("no pid in {said:?}"));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "surface-checkd");
    drop(bus);
    let until = Instant::now() + Duration::from_secs(5);
    while !matches!(proc_state(pid), None | Some('Z') | Some('X')) {
        assert!(
            Instant::now() < until,
            "the activated daemon (pid {pid}) outlived its bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
