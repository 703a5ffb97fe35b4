//! The history over D-Bus, on a real private `dbus-daemon` (tests/common/bus.rs):
//! surface-checkd judges this boot against the history once it is recorded, sends
//! RegressionDetected once per regression, serves GetHistory, and makes this boot
//! the baseline on AcceptBaseline only when polkit (python-dbusmock's polkitd
//! template, a real D-Bus service) says yes for the caller's bus name. `surface-check
//! notify` turns the regression into one org.freedesktop.Notifications notification
//! (python-dbusmock's notification_daemon template on a private session bus).
//!
//! The boots are tests/common/boots.rs's: 6.18.8 (generation 41) healthy, then
//! 6.19.8 (generation 42) without the ipts module.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::boots::{BOOT3, boot1, boot3};
use common::bus::PrivateBus;
use common::tree::Tree;
use futures_util::StreamExt;
use serde_json::Value;
use surface_check::dbus::client::{Bus, Client, Event};
use surface_check::dbus::polkit::Action;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");

/// A child process killed when dropped; its standard error goes to `log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`; panics with the log after `limit` or
    /// when the process exits.
    fn wait_log(&mut self, needle: &str, limit: Duration) {
        let until = Instant::now() + limit;
        while !self.log().contains(needle) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{} exited ({st}):\n{}", self.log.display(), self.log());
            }
            assert!(
                Instant::now() < until,
                "no {needle:?} in {} within {limit:?}:\n{}",
                self.log.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(cmd: &mut Command, log: PathBuf) -> Proc {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    Proc { child, log }
}

/// surface-checkd on `bus`, reading `root`, with its history in `state`.
fn daemon(bus: &PrivateBus, root: &Tree, state: &Path) -> Proc {
    let mut d = spawn(
        Command::new(DAEMON)
            .arg("--root")
            .arg(root.path())
            .arg("--state-dir")
            .arg(state)
            .envs(bus.env())
            .env("SURFACE_CHECK_LOG", "surface_check=info")
            .env("NO_COLOR", "1"),
        bus.dir().join("surface-checkd.log"),
    );
    d.wait_log("serving io.github.SurfaceCheck1", Duration::from_secs(30));
    d
}

/// python-dbusmock's `template` on the system bus `bus` (or the session bus
/// `session`), logging every call to `log`, once its name is owned.
fn dbusmock(template: &str, bus_env: (&str, String), system: bool, name: &str, log: &Path) -> Proc {
    let mut p = spawn(
        Command::new("/usr/bin/python3")
            .args(["-m", "dbusmock", "--template", template, "--logfile"])
            .arg(log)
            .arg(if system { "--system" } else { "--session" })
            .env(bus_env.0, &bus_env.1),
        log.with_extension("stderr"),
    );
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("gdbus")
            .args(["call", if system { "--system" } else { "--session" }])
            .args([
                "--dest",
                "org.freedesktop.DBus",
                "--object-path",
                "/org/freedesktop/DBus",
            ])
            .args(["--method", "org.freedesktop.DBus.NameHasOwner", name])
            .env(
                if system {
                    "DBUS_SYSTEM_BUS_ADDRESS"
                } else {
                    "DBUS_SESSION_BUS_ADDRESS"
                },
                &bus_env.1,
            )
            .output()
            .expect("gdbus (apt-get install libglib2.0-bin)");
        if String::from_utf8_lossy(&out.stdout).contains("true") {
            return p;
        }
        if let Ok(Some(st)) = p.child.try_wait() {
            panic!(
                "python3-dbusmock {template} exited ({st}) (apt-get install python3-dbusmock):\n{}",
                p.log()
            );
        }
        assert!(
            Instant::now() < until,
            "dbusmock {template} did not take {name}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `surface-check ARGS`: (exit code, stdout, stderr).
fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("STATE_DIRECTORY")
        .env(
            "SURFACE_CHECK_JOURNAL_SOCKET",
            std::env::temp_dir().join("surface-check-no-journal-here"),
        )
        .envs(env.iter().copied())
        .output()
        .expect("running surface-check");
    let r = (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!(
        "$ surface-check {}\n{}{}(exit {})",
        args.join(" "),
        r.1,
        r.2,
        r.0
    );
    r
}

/// `report --local --root TREE --state-dir STATE --json`: (exit code, output).
fn report(tree: &Tree, state: &Path) -> (i32, Value) {
    let (code, out, err) = cli(
        &[
            "report",
            "--local",
            "--json",
            "--root",
            tree.path().to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[],
    );
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}{err}"));
    (code, v)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(bus: &PrivateBus) -> Client {
    let conn = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .expect("connecting to the private bus");
    Client::on(Bus::System, conn).await.expect("a client")
}

/// The RegressionDetected signals among the events that arrive within `wait`.
async fn regressions_within(
    events: &mut futures_util::stream::BoxStream<'static, Event>,
    wait: Duration,
) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let until = tokio::time::Instant::now() + wait;
    while let Ok(Some(e)) = tokio::time::timeout_at(until, events.next()).await {
        if let Event::RegressionDetected {
            id,
            previous_kernel,
            current_kernel,
            summary,
        } = e
        {
            out.push((id, previous_kernel, current_kernel, summary));
        }
    }
    out
}

fn history(c: &Client, rt: &tokio::runtime::Runtime, limit: u32) -> Value {
    let s = rt.block_on(c.history_json(limit)).expect("GetHistory");
    serde_json::from_str(&s).expect("GetHistory answers JSON")
}

fn subsystems(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["subsystem"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn regressions_are_announced_once_served_and_the_baseline_needs_polkit_s_yes() {
    let state = tempfile::tempdir().unwrap();
    let (t1, t3) = (boot1(), boot3());
    assert_eq!(report(&t1, state.path()).0, 0);

    let bus = PrivateBus::start();
    let _d = daemon(&bus, &t3, state.path());
    let rt = rt();
    // zbus's streams and connections are dropped inside the runtime.
    let _in_rt = rt.enter();
    let c = rt.block_on(client(&bus));
    let mut events = rt.block_on(c.events()).expect("subscribing");

    // This boot is not recorded yet: nothing is judged, the history is served.
    let h = history(&c, &rt, 10);
    assert_eq!(h["count"], 1, "{h:#}");
    assert_eq!(h["boots"].as_array().unwrap().len(), 1);
    assert_eq!(h["regressions"], serde_json::json!([]), "{h:#}");

    // The timer's report records it (and names the regressions); the daemon's next
    // probe judges it and announces each regression once.
    let (code, out) = report(&t3, state.path());
    assert_eq!(code, 1, "{out:#}");
    let named = subsystems(&out["regressions"]);
    assert!(named.contains(&"touch".to_string()), "{out:#}");
    rt.block_on(c.refresh()).expect("Refresh");
    let got = rt.block_on(regressions_within(&mut events, Duration::from_secs(3)));
    let mut ids: Vec<String> = got.iter().map(|r| r.0.clone()).collect();
    ids.sort();
    assert_eq!(ids, named, "{got:?}");
    let touch = got.iter().find(|r| r.0 == "touch").unwrap();
    assert_eq!(touch.1, "6.18.8 (generation 41)");
    assert_eq!(touch.2, "6.19.8 (generation 42)");
    let sentence = out["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subsystem"] == "touch")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(touch.3, sentence);
    assert!(sentence.contains("ipts"), "{sentence}");

    // Announced once: another probe sends nothing more.
    rt.block_on(c.refresh()).expect("Refresh");
    let again = rt.block_on(regressions_within(&mut events, Duration::from_secs(2)));
    assert!(again.is_empty(), "{again:?}");
    let h = history(&c, &rt, 0);
    assert_eq!(h["count"], 2);
    assert_eq!(subsystems(&h["regressions"]), named, "{h:#}");
    assert_eq!(h["boots"][0]["boot_id"], BOOT3);
    // The same regression as `report` named, with its fix.
    let by_report = out["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subsystem"] == "touch")
        .unwrap();
    let served = h["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subsystem"] == "touch")
        .unwrap();
    assert!(by_report["hint"].is_string(), "{by_report:#}");
    assert_eq!(served["hint"], by_report["hint"]);
    assert_eq!(served["message"], by_report["message"]);

    // AcceptBaseline: refused without polkit, refused when polkit says no, done
    // when it says yes for this caller.
    let accept = |rt: &tokio::runtime::Runtime| rt.block_on(c.accept_baseline());
    let denied = format!("{:?}", accept(&rt).expect_err("no polkit: refused"));
    assert!(
        denied.contains("AccessDenied") && denied.contains("polkit"),
        "{denied}"
    );
    let polkit_log = bus.dir().join("polkitd.log");
    let _polkit = dbusmock(
        "polkitd",
        ("DBUS_SYSTEM_BUS_ADDRESS", bus.address.clone()),
        true,
        "org.freedesktop.PolicyKit1",
        &polkit_log,
    );
    let denied = format!("{:?}", accept(&rt).expect_err("polkit says no"));
    assert!(
        denied.contains("AccessDenied") && denied.contains("polkit said no"),
        "{denied}"
    );
    assert_eq!(history(&c, &rt, 1)["baseline"], Value::Null);
    rt.block_on(c.connection().call_method(
        Some("org.freedesktop.PolicyKit1"),
        "/org/freedesktop/PolicyKit1/Authority",
        Some("org.freedesktop.DBus.Mock"),
        "SetAllowed",
        &(vec![Action::AcceptBaseline.id()],),
    ))
    .expect("SetAllowed");
    accept(&rt).expect("polkit says yes");
    let h = history(&c, &rt, 1);
    assert_eq!(h["baseline"], BOOT3, "{h:#}");
    assert_eq!(h["regressions"], serde_json::json!([]), "{h:#}");
    let (_, out, _) = cli(
        &[
            "history",
            "--json",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        &[],
    );
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["baseline"], BOOT3);

    // polkit was asked about the caller, by its bus name, for the action.
    let me = c.connection().unique_name().unwrap().to_string();
    let asked = std::fs::read_to_string(&polkit_log).unwrap();
    let checks: Vec<&str> = asked
        .lines()
        .filter(|l| l.contains("CheckAuthorization"))
        .collect();
    assert_eq!(checks.len(), 2, "{asked}");
    for l in checks {
        assert!(
            l.contains("system-bus-name")
                && l.contains(&me)
                && l.contains(Action::AcceptBaseline.id()),
            "{l}"
        );
    }
}

#[test]
fn the_policy_file_declares_exactly_the_actions_the_code_uses() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dbus/io.github.SurfaceCheck1.policy"
    ))
    .expect("dbus/io.github.SurfaceCheck1.policy");
    let mut declared: Vec<&str> = text
        .split("<action id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    declared.sort();
    let mut used: Vec<&str> = Action::ALL.iter().map(|a| a.id()).collect();
    used.sort();
    assert_eq!(declared, used);
    // And the code names no action id but through the enum.
    let mut stray = Vec::new();
    for dir in ["src"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let mut s = String::new();
                    std::fs::File::open(&p)
                        .unwrap()
                        .read_to_string(&mut s)
                        .unwrap();
                    for (i, _) in s.match_indices("\"io.github.SurfaceCheck1.") {
                        let id: String = s[i + 1..].chars().take_while(|c| *c != '"').collect();
                        if !used.contains(&id.as_str()) {
                            stray.push(format!("{}: {id}", p.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(
        stray.is_empty(),
        "action ids outside the policy file: {stray:?}"
    );
    // Every action asks for an administrator, never allows anyone outright.
    assert!(!text.contains("<allow_any>yes") && !text.contains("<allow_active>yes"));
}

#[test]
fn notify_turns_a_regression_into_one_desktop_notification() {
    let state = tempfile::tempdir().unwrap();
    let (t1, t3) = (boot1(), boot3());
    assert_eq!(report(&t1, state.path()).0, 0);
    let bus = PrivateBus::start();
    let session = PrivateBus::start_session();
    let _d = daemon(&bus, &t3, state.path());
    let notes = session.dir().join("notifications.log");
    let _n = dbusmock(
        "notification_daemon",
        ("DBUS_SESSION_BUS_ADDRESS", session.address.clone()),
        false,
        "org.freedesktop.Notifications",
        &notes,
    );
    let xdg = tempfile::tempdir().unwrap();
    let env = [
        ("DBUS_SYSTEM_BUS_ADDRESS", bus.address.as_str()),
        ("DBUS_SESSION_BUS_ADDRESS", session.address.as_str()),
        ("XDG_STATE_HOME", xdg.path().to_str().unwrap()),
    ];
    let notified = || {
        std::fs::read_to_string(&notes)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" Notify "))
            .map(String::from)
            .collect::<Vec<_>>()
    };

    // Following: nothing to say until this boot is recorded and judged.
    let mut follower = spawn(
        Command::new(BIN)
            .args(["notify"])
            .envs(env.iter().copied())
            .env("SURFACE_CHECK_LOG", "surface_check=debug")
            .env("NO_COLOR", "1"),
        xdg.path().join("notify.log"),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(notified().is_empty(), "{:?}", notified());
    let (code, out) = report(&t3, state.path());
    assert_eq!(code, 1);
    let n_regressions = out["regressions"].as_array().unwrap().len();
    let rt = rt();
    let _in_rt = rt.enter();
    let c = rt.block_on(client(&bus));
    rt.block_on(c.refresh()).expect("Refresh");
    let until = Instant::now() + Duration::from_secs(15);
    while notified().len() < n_regressions {
        if let Ok(Some(st)) = follower.child.try_wait() {
            panic!("notify exited ({st}):\n{}", follower.log());
        }
        assert!(
            Instant::now() < until,
            "no notification within 15 s:\n{}\n{}",
            follower.log(),
            std::fs::read_to_string(&notes).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = notified();
    assert_eq!(got.len(), n_regressions, "{got:#?}");
    let touch = got
        .iter()
        .find(|l| l.contains("touch stopped working on 6.19.8 (generation 42)"))
        .unwrap_or_else(|| panic!("no touch notification: {got:#?}"));
    assert!(
        touch.contains("touch worked on 6.18.8 (generation 41)"),
        "{touch}"
    );
    // The body's second line is the fix (dbusmock logs it on a line of its own).
    let hint = out["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subsystem"] == "touch")
        .unwrap()["hint"]
        .as_str()
        .unwrap()
        .to_string();
    let log = std::fs::read_to_string(&notes).unwrap();
    assert!(log.contains(&format!("\nFix: {hint}")), "{log}");
    drop(follower);

    // Notified once: a later run (a new login) says nothing again.
    let (code, out, err) = cli(&["notify", "--once"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(notified().len(), n_regressions);

    // Another user (another state directory) is told once.
    let other = tempfile::tempdir().unwrap();
    let mut env2 = env;
    env2[2] = ("XDG_STATE_HOME", other.path().to_str().unwrap());
    let (code, out, _) = cli(&["notify", "--once"], &env2);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("notified")).count(),
        n_regressions
    );
    assert_eq!(notified().len(), 2 * n_regressions);
}

#[test]
fn notify_without_a_session_bus_says_where_to_run_it() {
    let (code, _, err) = cli(
        &["notify", "--once"],
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("session bus"), "{err}");
}
