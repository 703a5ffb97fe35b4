//! Daemon benchmark: what `surface-checkd` costs a desktop that asks it, and how fast
//! it tells of a change.
//!
//! Like `benches/probe.rs`, every time is reported next to a baseline measured in the
//! same run, interleaved with it, because the machines this runs on are shared and
//! noisy. Measured:
//!
//! 1. GetReport round trip (p50, p99) against `org.freedesktop.DBus.Peer.Ping` to the
//!    daemon and a `Version` property Get, on the same connection, calls interleaved
//!    (target: GetReport at most 3x Ping);
//! 2. `surface-check status --session --json`, which asks the daemon, against
//!    `surface-check status --local --json --root FIXTURE`, and `/bin/true`;
//! 3. the daemon's resident memory (VmRSS) when idle after its first probe (target:
//!    under 10 MB), and again after the load of 1, 2 and 5;
//! 4. its voluntary context switches, summed over its threads, over 10 idle seconds
//!    (target: zero);
//! 5. event to signal: logind's `PrepareForSleep(false)` (resume) to the arrival of
//!    `SubsystemChanged`, with the default debounce of 200 ms (target: under
//!    300 ms), and a Refresh call that makes the same change, for comparison.
//!
//! Three daemons run, on private `dbus-daemon`s that the bench starts and stops
//! (session configuration: anyone may own any name):
//!
//! - daemon F, `surface-checkd --session --root FIXTURE` on the healthy Surface Book 2
//!   15" fixture of the integration tests, on bus F (1 to 4). Its system-bus
//!   connection for logind's resume goes to bus F too, so nothing reaches it from
//!   the host;
//! - daemon E, `surface-checkd --root FIXTURE2` (a second copy of the fixture) on bus
//!   L, named by DBUS_SYSTEM_BUS_ADDRESS, where python-dbusmock's `logind` template
//!   owns org.freedesktop.login1 (5, and 3 and 4 after the events). The change is
//!   the battery BAT1's class link moved out of `sys/class/power_supply` and back
//!   (battery: ok <-> failed);
//! - daemon U, the live configuration (root `/`: the uevent listener thread, the DTX
//!   attempt) on bus L after daemon E stopped, for 3 and 4 only. It runs chrooted
//!   into a third copy of the fixture, in a private mount namespace into which the
//!   host's library directories (from `ldd`) and the binary are bind-mounted; bus L
//!   listens on an abstract socket, which the chroot does not hide. Nothing is
//!   mounted in the bench's own namespace. The kernel's uevents reach it from the
//!   whole host, so its log (uevents and probes at debug level) is read to say why
//!   it woke, if it did.
//!
//! The binaries are the ones cargo builds for this bench (`CARGO_BIN_EXE_*`):
//! `cargo bench` builds them with the bench profile (optimized, `target/release`)
//! before running the bench, so they are never stale and no build runs from here.
//!
//! Run with `cargo bench --bench daemon` as root (fixture device nodes, the mount
//! namespace and chroot). Needs `dbus-daemon`, `ldd` and `/usr/bin/python3` with
//! python-dbusmock. `DAEMON_BENCH_ROUNDS=N` sets the round-trip rounds (default
//! 5000), `DAEMON_BENCH_CLI_ROUNDS` the process rounds (100), `DAEMON_BENCH_EVENTS`
//! the changes per trigger (20). Without `--bench` (`cargo test --all-targets`) it
//! runs a few rounds of everything as a smoke test. A measurement that cannot be made
//! fails the bench; a target missed does not (the figures are printed with their
//! targets).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::sb2::{Distro, Sb2, Size};
use futures_util::{FutureExt, StreamExt};
use surface_check::dbus::client::{Bus, Client, Event};
use surface_check::dbus::{BUS_NAME, OBJECT_PATH};
use zbus::zvariant::Value;

const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");
const CLI: &str = env!("CARGO_BIN_EXE_surface-check");
const PYTHON: &str = "/usr/bin/python3";
const LOGIND: &str = "org.freedesktop.login1";
const LOGIND_PATH: &str = "/org/freedesktop/login1";
/// The subsystem the event rounds flip, and the link that flips it.
const FLIP_SUBSYSTEM: &str = "battery";
const FLIP_LINK: &str = "sys/class/power_supply/BAT1";
/// The daemons' log filter: each probe and its cause, and each uevent.
const DAEMON_LOG: &str = "info,surface_check::daemon=debug";
/// How long after an event's probe that changed something the daemon probes again
/// (`surface_check::daemon::SETTLE`).
const SETTLE: Duration = surface_check::daemon::SETTLE;

// ---- statistics -------------------------------------------------------------------

#[derive(Clone)]
struct Row {
    samples: Vec<Duration>,
}

impl Row {
    fn new() -> Row {
        Row {
            samples: Vec::new(),
        }
    }

    /// Nearest-rank percentile, `p` in (0, 1].
    fn pct(&self, p: f64) -> Duration {
        assert!(!self.samples.is_empty(), "a row without samples");
        let mut v = self.samples.clone();
        v.sort();
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    fn p50(&self) -> Duration {
        self.pct(0.5)
    }

    fn p99(&self) -> Duration {
        self.pct(0.99)
    }

    fn min(&self) -> Duration {
        *self.samples.iter().min().expect("a row without samples")
    }

    /// The median over rounds of this row's time divided by `base`'s in the same
    /// round: the two ran back to back, so load from elsewhere tends to hit both.
    fn paired(&self, base: &Row) -> f64 {
        let mut r: Vec<f64> = self
            .samples
            .iter()
            .zip(&base.samples)
            .map(|(a, b)| ratio(*a, *b))
            .collect();
        r.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        r[r.len() / 2]
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

// ---- processes --------------------------------------------------------------------

/// A child process stopped (SIGTERM, then SIGKILL after 5 s) when dropped, so that a
/// failing bench leaves nothing running.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Fails the bench when the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!(
                "{} exited early ({st}); its output:\n{}",
                self.name,
                tail(&self.log)
            );
        }
    }

    /// SIGTERM and wait: the exit status, or `None` when it had to be killed.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        // SAFETY: signalling our own child, which has not been reaped.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A command as a user would run it: without the `LD_LIBRARY_PATH` cargo sets for
/// benches, nor the bus addresses of whoever runs the bench.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env_remove("LD_LIBRARY_PATH")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .env_remove("SURFACE_CHECK_LOG");
    c
}

fn spawn_logged(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
    let out = File::create(&log).expect("creating a log file");
    let err = out.try_clone().expect("duplicating the log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    Proc {
        name: name.to_string(),
        child,
        log,
    }
}

/// A private `dbus-daemon` with the session configuration (anyone may own any name)
/// on `address`; returns it and the address it prints once it listens.
fn start_bus(name: &str, address: &str, log: PathBuf) -> (Proc, String) {
    let err = File::create(&log).expect("creating a log file");
    let mut child = command("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .arg(format!("--address={address}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting dbus-daemon (is it installed?): {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut p = Proc {
        name: name.to_string(),
        child,
        log,
    };
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let addr = line.trim().to_string();
    if addr.is_empty() {
        p.assert_running();
        panic!("{name} printed no address within 10 s:\n{}", tail(&p.log));
    }
    (p, addr)
}

/// The directories of the libraries and the program interpreter `bin` loads, from
/// `ldd`.
fn library_dirs(bin: &Path) -> Vec<PathBuf> {
    let out = command("ldd")
        .arg(bin)
        .output()
        .expect("running ldd (libc-bin) to find the daemon's libraries");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.contains("not found"),
        "ldd {}: {}{}",
        bin.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dirs: Vec<PathBuf> = text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .filter_map(|w| Path::new(w).parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    assert!(!dirs.is_empty(), "ldd named no library: {text}");
    dirs
}

fn cstring(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("a path without NUL")
}

/// `surface-checkd` with its default root `/` chrooted into `tree`, in a private mount
/// namespace with the host's library directories and the binary bind-mounted into
/// it: the live configuration (udev listener, logind's resume) on fixture content.
/// Nothing is mounted in the bench's own namespace.
fn chrooted_daemon(tree: &Path, bus: &str, log: PathBuf) -> Proc {
    let libs = library_dirs(Path::new(DAEMON));
    let mut mounts: Vec<(CString, CString)> = Vec::new();
    for dir in &libs {
        let inside = tree.join(dir.strip_prefix("/").expect("absolute"));
        std::fs::create_dir_all(&inside).expect("making a library mount point");
        mounts.push((cstring(dir), cstring(&inside)));
    }
    let bin_inside = Path::new("/.bench/surface-checkd");
    let bin_point = tree.join(".bench/surface-checkd");
    std::fs::create_dir_all(bin_point.parent().expect("a parent")).expect("mkdir .bench");
    File::create(&bin_point).expect("making the binary's mount point");
    mounts.push((cstring(Path::new(DAEMON)), cstring(&bin_point)));
    let root = cstring(tree);
    let lib_path = std::env::join_paths(&libs).expect("library paths");

    let mut cmd = command(bin_inside);
    cmd.env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env("LD_LIBRARY_PATH", lib_path)
        .env("SURFACE_CHECK_LOG", DAEMON_LOG);
    // SAFETY: only async-signal-safe calls between fork and exec (unshare, mount,
    // chroot, chdir), on strings made before the fork; errors are raw errno values.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            let null = std::ptr::null::<libc::c_char>();
            let no_data = std::ptr::null::<libc::c_void>();
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            // Private first: no mount below may propagate to the host.
            if libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                no_data,
            ) != 0
            {
                return fail();
            }
            for (src, dst) in &mounts {
                if libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    null,
                    libc::MS_BIND | libc::MS_REC,
                    no_data,
                ) != 0
                {
                    return fail();
                }
            }
            if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return fail();
            }
            Ok(())
        });
    }
    let out = File::create(&log).expect("creating a log file");
    let err = out.try_clone().expect("duplicating the log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "starting surface-checkd in a mount namespace chrooted into {} \
                 (unshare, bind mounts of {libs:?} and the binary, chroot; needs root): {e}",
                tree.display()
            )
        });
    Proc {
        name: "daemon U (surface-checkd, root / chrooted into a fixture)".into(),
        child,
        log,
    }
}

// ---- /proc --------------------------------------------------------------------------

fn status_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[derive(Debug, Clone, Copy)]
struct Memory {
    rss_kb: u64,
    anon_kb: u64,
    file_kb: u64,
    hwm_kb: u64,
    threads: u64,
}

fn memory(pid: i32) -> Memory {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    let f =
        |k: &str| status_field(&text, k).unwrap_or_else(|| panic!("/proc/{pid}/status has no {k}"));
    Memory {
        rss_kb: f("VmRSS"),
        anon_kb: f("RssAnon"),
        file_kb: f("RssFile"),
        hwm_kb: f("VmHWM"),
        threads: f("Threads"),
    }
}

/// Each thread's (name, voluntary, involuntary) context switches.
fn switches(pid: i32) -> BTreeMap<u32, (String, u64, u64)> {
    let dir = format!("/proc/{pid}/task");
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("listing {dir}: {e}")) {
        let e = e.expect("a task entry");
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A thread may end between the listing and the read.
        let Ok(text) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("")
            .trim()
            .to_string();
        let vol = status_field(&text, "voluntary_ctxt_switches").expect("voluntary switches");
        let inv = status_field(&text, "nonvoluntary_ctxt_switches").expect("involuntary switches");
        m.insert(tid, (name, vol, inv));
    }
    assert!(!m.is_empty(), "{dir} lists no thread");
    m
}

/// What the threads of a process did between two [`switches`] snapshots.
struct Idle {
    voluntary: u64,
    involuntary: u64,
    /// Threads with switches, started or ended: "name(tid): +N" lines.
    detail: Vec<String>,
}

fn idle_diff(
    before: &BTreeMap<u32, (String, u64, u64)>,
    after: &BTreeMap<u32, (String, u64, u64)>,
) -> Idle {
    let mut idle = Idle {
        voluntary: 0,
        involuntary: 0,
        detail: Vec::new(),
    };
    for (tid, (name, v1, i1)) in after {
        match before.get(tid) {
            Some((_, v0, i0)) => {
                let (dv, di) = (v1 - v0, i1 - i0);
                idle.voluntary += dv;
                idle.involuntary += di;
                if dv + di > 0 {
                    idle.detail
                        .push(format!("{name}({tid}): +{dv} voluntary, +{di} involuntary"));
                }
            }
            None => {
                // Started during the window: all its switches happened in it.
                idle.voluntary += v1;
                idle.involuntary += i1;
                idle.detail
                    .push(format!("{name}({tid}) started: {v1} voluntary"));
            }
        }
    }
    for (tid, (name, _, _)) in before {
        if !after.contains_key(tid) {
            idle.detail.push(format!(
                "{name}({tid}) ended (its last switches are not counted)"
            ));
        }
    }
    idle
}

// ---- bus calls ----------------------------------------------------------------------

async fn connect(address: &str) -> zbus::Connection {
    zbus::connection::Builder::address(address)
        .expect("a bus address")
        .build()
        .await
        .unwrap_or_else(|e| panic!("connecting to the private bus {address}: {e}"))
}

async fn ping(conn: &zbus::Connection) {
    let reply = conn
        .call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some("org.freedesktop.DBus.Peer"),
            "Ping",
            &(),
        )
        .await
        .expect("Peer.Ping to the daemon");
    black_box(reply);
}

/// Sends logind's resume signal from the logind mock.
async fn emit_resume(conn: &zbus::Connection) {
    conn.call_method(
        Some(LOGIND),
        LOGIND_PATH,
        Some("org.freedesktop.DBus.Mock"),
        "EmitSignal",
        &(
            "org.freedesktop.login1.Manager",
            "PrepareForSleep",
            "b",
            vec![Value::from(false)],
        ),
    )
    .await
    .expect("EmitSignal PrepareForSleep(false) through the logind mock");
}

type Events = futures_util::stream::BoxStream<'static, Event>;

/// Drops the events already received; returns the SubsystemChanged among them.
fn drain(events: &mut Events) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(Some(e)) = events.next().now_or_never() {
        if let Event::SubsystemChanged {
            id,
            old_status,
            new_status,
            ..
        } = e
        {
            seen.push(format!("{id}: {old_status} -> {new_status}"));
        }
    }
    seen
}

/// Waits for SubsystemChanged(FLIP_SUBSYSTEM, .., `want`, ..); returns when it came
/// and any other SubsystemChanged seen meanwhile.
async fn wait_changed(events: &mut Events, want: &str, what: &str) -> (Instant, Vec<String>) {
    let mut other = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(until, events.next())
            .await
            .unwrap_or_else(|_| {
                panic!("no SubsystemChanged({FLIP_SUBSYSTEM} -> {want}) within 10 s of {what}")
            })
            .expect("the daemon's event stream ended");
        if let Event::SubsystemChanged {
            id,
            old_status,
            new_status,
            ..
        } = e
        {
            if id == FLIP_SUBSYSTEM && new_status == want {
                return (Instant::now(), other);
            }
            other.push(format!("{id}: {old_status} -> {new_status}"));
        }
    }
}

// ---- the fixture change -------------------------------------------------------------

/// Moves the battery's class link out of the tree (`broken`) or back.
fn set_battery(tree: &Path, stash: &Path, broken: bool) {
    let link = tree.join(FLIP_LINK);
    let (from, to) = if broken {
        (link, stash.to_path_buf())
    } else {
        (stash.to_path_buf(), link)
    };
    std::fs::rename(&from, &to)
        .unwrap_or_else(|e| panic!("moving {} to {}: {e}", from.display(), to.display()));
}

fn sub_status(report: &serde_json::Value, id: &str) -> String {
    report["subsystems"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("the report has no subsystem {id}"))
        .to_string()
}

// ---- the CLI -------------------------------------------------------------------------

/// Runs `cmd` to completion with its output read through pipes; fails the bench
/// unless it exited 0 or 1 and, for `via_daemon`, said the report came from the
/// daemon.
fn run_cli(cmd: &mut Command, via_daemon: bool) -> Vec<u8> {
    let out = cmd.output().expect("running surface-check");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if via_daemon {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("report from surface-checkd"),
            "`status --session` did not take its report from the daemon:\n{err}"
        );
    }
    out.stdout
}

fn sh(cmd: &str) -> String {
    command("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB ({kb} kB)", kb as f64 / 1024.0)
}

// ---- the daemons' logs -----------------------------------------------------------

/// Where a log ends now: the start of a later [`log_since`].
fn log_len(log: &Path) -> usize {
    std::fs::metadata(log).map_or(0, |m| m.len() as usize)
}

fn log_since(log: &Path, from: usize) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(from..).unwrap_or_default()).into_owned()
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split_whitespace().next()
}

/// What a daemon logged (at [`DAEMON_LOG`]): its probes, by cause, how long each
/// took, and the uevents it received.
#[derive(Default)]
struct Activity {
    causes: BTreeMap<String, usize>,
    took_ms: Vec<u64>,
    uevents: usize,
}

impl Activity {
    fn of(text: &str) -> Activity {
        let mut a = Activity::default();
        for line in text.lines() {
            if line.contains("surface_check::daemon: probe ") {
                let cause = field(line, "cause").unwrap_or("?").to_string();
                *a.causes.entry(cause).or_default() += 1;
            } else if line.contains("surface_check::daemon: report in place") {
                if let Some(ms) = field(line, "took_ms").and_then(|v| v.parse().ok()) {
                    a.took_ms.push(ms);
                }
            } else if line.contains("surface_check::daemon::events: uevent") {
                a.uevents += 1;
            }
        }
        a
    }

    fn describe(&self) -> String {
        let probes = if self.causes.is_empty() {
            "no probe".to_string()
        } else {
            let list: Vec<String> = self
                .causes
                .iter()
                .map(|(c, n)| format!("{n} {c}"))
                .collect();
            format!("probes: {}", list.join(", "))
        };
        format!("{probes}, {} uevents received", self.uevents)
    }
}

// ---- idle ------------------------------------------------------------------------

struct IdleFigure {
    name: String,
    memory: Memory,
    idle: Idle,
    activity: Activity,
}

/// Memory at the start, then context switches and logged activity over `window`,
/// for each daemon at once. Nothing calls them meanwhile.
fn measure_idle(daemons: &mut [&mut Proc], window: Duration) -> Vec<IdleFigure> {
    let mut start = Vec::new();
    for d in daemons.iter_mut() {
        d.assert_running();
        start.push((memory(d.pid()), switches(d.pid()), log_len(&d.log)));
    }
    std::thread::sleep(window);
    daemons
        .iter_mut()
        .zip(start)
        .map(|(d, (memory, before, mark))| {
            d.assert_running();
            IdleFigure {
                name: d.name.clone(),
                memory,
                idle: idle_diff(&before, &switches(d.pid())),
                activity: Activity::of(&log_since(&d.log, mark)),
            }
        })
        .collect()
}

/// Waits until `name` is owned by process `pid` on `conn`'s bus.
async fn wait_for_owner(conn: &zbus::Connection, name: &'static str, who: &mut Proc) {
    let dbus = zbus::fdo::DBusProxy::new(conn)
        .await
        .expect("the bus's own interface");
    let bus_name = zbus::names::BusName::try_from(name).expect("a bus name");
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(owner) = dbus.get_name_owner(bus_name.clone()).await
            && let Ok(pid) = dbus
                .get_connection_unix_process_id(zbus::names::BusName::Unique(owner.into_inner()))
                .await
            && pid as i32 == who.pid()
        {
            return;
        }
        who.assert_running();
        assert!(
            Instant::now() < until,
            "{name} is not owned by {} after 20 s; its output:\n{}",
            who.name,
            tail(&who.log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn daemon(name: &str, root: &Path, session: bool, bus: &str, log: PathBuf) -> Proc {
    let mut c = command(DAEMON);
    if session {
        c.arg("--session");
    }
    c.arg("--root")
        .arg(root)
        // Daemon F's system-bus connection (logind's resume) goes to its own bus.
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env("SURFACE_CHECK_LOG", DAEMON_LOG);
    spawn_logged(name, c, log)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench {
        env_usize("DAEMON_BENCH_ROUNDS", 5000)
    } else {
        20
    };
    let warmup = if bench { 200 } else { 2 };
    let cli_rounds = if bench {
        env_usize("DAEMON_BENCH_CLI_ROUNDS", 100)
    } else {
        2
    };
    let events = if bench {
        env_usize("DAEMON_BENCH_EVENTS", 20)
    } else {
        1
    };
    // The quiet time before an idle window lets the runtime's blocking threads end
    // (1 s keep-alive).
    let quiet = Duration::from_millis(if bench { 3000 } else { 1500 });
    let idle_window = Duration::from_secs(if bench { 10 } else { 1 });
    // Event rounds are spaced by more than the daemon's least time between probes
    // (250 ms), so that its rate limit is not part of a figure, and by less than
    // SETTLE, so that no settle probe falls between a change and its trigger (each
    // probe replaces the settle the one before set).
    let spacing = Duration::from_millis(400);
    assert!(spacing < SETTLE);

    let started = Instant::now();
    let date = sh("date -u '+%Y-%m-%d %H:%M UTC'");
    let machine = format!(
        "{}, kernel {}, {} CPUs, load average {}",
        sh(". /etc/os-release 2>/dev/null; echo \"$PRETTY_NAME\""),
        sh("uname -r"),
        sh("nproc"),
        sh("cut -d' ' -f1-3 /proc/loadavg")
    );

    let work = tempfile::Builder::new()
        .prefix("surface-check-daemon-bench-")
        .tempdir()
        .expect("a work directory");
    let w = work.path();
    let healthy = || Sb2::new(Size::In15, Distro::DebianSurface).build();
    let (tree_f, tree_e, tree_u) = (healthy(), healthy(), healthy());
    let fx = tree_f.path().to_path_buf();
    let fx_e = tree_e.path().to_path_buf();
    let stash = fx_e.join(".stash-BAT1");

    // Processes: dropped (stopped) before the trees, in reverse order.
    let (mut bus_f, addr_f) = start_bus(
        "bus F (dbus-daemon)",
        &format!("unix:path={}", w.join("bus").display()),
        w.join("bus-f.log"),
    );
    let (mut bus_l, addr_l) = start_bus(
        "bus L (dbus-daemon)",
        &format!(
            "unix:abstract=/surface-check-bench-{}-{}",
            std::process::id(),
            w.file_name().unwrap().to_string_lossy()
        ),
        w.join("bus-l.log"),
    );
    let mut mock = {
        let mut c = command(PYTHON);
        c.args(["-m", "dbusmock", "--system", "--template", "logind"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &addr_l);
        spawn_logged("python-dbusmock logind", c, w.join("logind.log"))
    };
    let mut daemon_f = daemon(
        "daemon F (--session --root FIXTURE)",
        &fx,
        true,
        &addr_f,
        w.join("daemon-f.log"),
    );
    let mut daemon_e = daemon(
        "daemon E (--root FIXTURE2, system-type bus)",
        &fx_e,
        false,
        &addr_l,
        w.join("daemon-e.log"),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    // The daemons take their names once their first report is in place.
    let (conn_f, client_f, conn_l, client_e, report_json) = rt.block_on(async {
        let conn_f = connect(&addr_f).await;
        wait_for_owner(&conn_f, BUS_NAME, &mut daemon_f).await;
        let client_f = Client::on(Bus::Session, conn_f.clone())
            .await
            .expect("a proxy");
        let report_json = client_f.report_json().await.expect("GetReport (daemon F)");
        let conn_l = connect(&addr_l).await;
        wait_for_owner(&conn_l, LOGIND, &mut mock).await;
        wait_for_owner(&conn_l, BUS_NAME, &mut daemon_e).await;
        let client_e = Client::on(Bus::System, conn_l.clone())
            .await
            .expect("a proxy");
        client_e.report_json().await.expect("GetReport (daemon E)");
        (conn_f, client_f, conn_l, client_e, report_json)
    });
    let report: serde_json::Value =
        serde_json::from_str(&report_json).expect("GetReport returns JSON");
    assert_eq!(
        report["overall"], "ok",
        "the healthy fixture diagnoses healthy through daemon F"
    );
    let local = run_cli(
        command(CLI)
            .args(["status", "--local", "--json", "--root"])
            .arg(&fx),
        false,
    );
    let same_report = local == report_json.as_bytes();

    // ---- 3 and 4: idle after the first probe -------------------------------------------
    std::thread::sleep(quiet);
    let idle_first = measure_idle(&mut [&mut daemon_f, &mut daemon_e], idle_window);

    // ---- 1: round trips, interleaved ---------------------------------------------------
    let (rt_ping, rt_version, rt_report) = rt.block_on(async {
        let mut rows = [Row::new(), Row::new(), Row::new()];
        for round in 0..warmup + rounds {
            for j in 0..3 {
                let i = (round + j) % 3;
                let t = Instant::now();
                match i {
                    0 => ping(&conn_f).await,
                    1 => {
                        black_box(client_f.version().await.expect("Get Version"));
                    }
                    _ => {
                        black_box(client_f.report_json().await.expect("GetReport"));
                    }
                }
                let d = t.elapsed();
                if round >= warmup {
                    rows[i].samples.push(d);
                }
            }
        }
        let [a, b, c] = rows;
        (a, b, c)
    });

    // ---- 2: the CLI through the daemon against --local, interleaved -----------------
    let via_cmd = || {
        let mut c = command(CLI);
        c.args(["status", "--session", "--json"])
            .env("DBUS_SESSION_BUS_ADDRESS", &addr_f);
        c
    };
    let mut via = || {
        black_box(run_cli(&mut via_cmd(), true));
    };
    let mut loc = || {
        let mut c = command(CLI);
        c.args(["status", "--local", "--json", "--root"]).arg(&fx);
        black_box(run_cli(&mut c, false));
    };
    let mut tru = || {
        let out = command("/bin/true").output().expect("/bin/true");
        black_box(out);
    };
    let mut cli_rows = [Row::new(), Row::new(), Row::new()];
    {
        let fs: &mut [&mut dyn FnMut()] = &mut [&mut via, &mut loc, &mut tru];
        for round in 0..3 + cli_rounds {
            for j in 0..3 {
                let i = (round + j) % 3;
                let t = Instant::now();
                (fs[i])();
                let d = t.elapsed();
                if round >= 3 {
                    cli_rows[i].samples.push(d);
                }
            }
        }
    }
    let [cli_via, cli_local, cli_true] = cli_rows;
    let cli_same = run_cli(&mut via_cmd(), true) == local;

    // ---- 5: event to signal (daemon E) -----------------------------------------------
    let events_mark = log_len(&daemon_e.log);
    let (ev_resume, ev_refresh_ret, ev_refresh_sig, emit_ret, unexpected) = rt.block_on(async {
        let mut stream = client_e
            .events()
            .await
            .expect("subscribing to the daemon's signals");
        // The resume listener is subscribed once a resume re-probes (LastUpdated moves).
        let before = client_e.last_updated().await.expect("LastUpdated");
        let mut live = false;
        for _ in 0..5 {
            emit_resume(&conn_l).await;
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if client_e.last_updated().await.expect("LastUpdated") != before {
                    live = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if live {
                break;
            }
        }
        assert!(
            live,
            "daemon E did not re-probe on PrepareForSleep(false) from the logind mock:\n{}",
            tail(&daemon_e.log)
        );
        let status = serde_json::from_str::<serde_json::Value>(
            &client_e.report_json().await.expect("GetReport (daemon E)"),
        )
        .expect("JSON");
        assert_eq!(
            sub_status(&status, FLIP_SUBSYSTEM),
            "ok",
            "{FLIP_SUBSYSTEM} is ok on the fixture before the first change"
        );
        tokio::time::sleep(spacing).await;

        let (mut resume, mut refresh_ret, mut refresh_sig, mut emit) =
            (Row::new(), Row::new(), Row::new(), Row::new());
        let mut unexpected = Vec::new();
        let mut broken = false;
        for i in 0..2 * events {
            // Each trigger makes the change in both directions equally often.
            let by_resume = if (i / 2) % 2 == 0 {
                i % 2 == 0
            } else {
                i % 2 == 1
            };
            unexpected.extend(drain(&mut stream));
            broken = !broken;
            set_battery(&fx_e, &stash, broken);
            let want = if broken { "failed" } else { "ok" };
            let t0 = Instant::now();
            if by_resume {
                emit_resume(&conn_l).await;
                emit.samples.push(t0.elapsed());
                let (t1, other) = wait_changed(&mut stream, want, "PrepareForSleep(false)").await;
                resume.samples.push(t1 - t0);
                unexpected.extend(other);
            } else {
                client_e.refresh().await.expect("Refresh");
                let t1 = Instant::now();
                let (t2, other) = wait_changed(&mut stream, want, "Refresh").await;
                refresh_ret.samples.push(t1 - t0);
                refresh_sig.samples.push(t2.max(t1) - t0);
                unexpected.extend(other);
            }
            tokio::time::sleep(spacing).await;
        }
        if broken {
            set_battery(&fx_e, &stash, false);
        }
        unexpected.extend(drain(&mut stream));
        (resume, refresh_ret, refresh_sig, emit, unexpected)
    });
    let events_activity = Activity::of(&log_since(&daemon_e.log, events_mark));

    // ---- 3 and 4 again, after all that -------------------------------------------------
    // The last resume's change is followed by a settle probe SETTLE later.
    std::thread::sleep(SETTLE + quiet);
    let idle_after = measure_idle(&mut [&mut daemon_f, &mut daemon_e], idle_window);
    let exit_e = daemon_e.stop();

    // ---- 3 and 4 in the live configuration (daemon U) ----------------------------------
    let mut daemon_u = chrooted_daemon(tree_u.path(), &addr_l, w.join("daemon-u.log"));
    rt.block_on(async {
        wait_for_owner(&conn_l, BUS_NAME, &mut daemon_u).await;
        let c = Client::on(Bus::System, conn_l.clone())
            .await
            .expect("a proxy");
        let r: serde_json::Value =
            serde_json::from_str(&c.report_json().await.expect("GetReport (daemon U)"))
                .expect("JSON");
        assert_eq!(
            r["overall"], "ok",
            "the chrooted daemon diagnoses the healthy fixture healthy"
        );
    });
    std::thread::sleep(quiet);
    let idle_u = measure_idle(&mut [&mut daemon_u], idle_window);

    drop(client_f);
    drop(client_e);
    drop(conn_f);
    drop(conn_l);
    drop(rt);
    let exit_f = daemon_f.stop();
    let exit_u = daemon_u.stop();
    mock.stop();
    bus_l.stop();
    bus_f.stop();
    let load_end = sh("cut -d' ' -f1-3 /proc/loadavg");

    // ---- report ---------------------------------------------------------------------------
    println!();
    if !bench {
        println!("smoke run (no --bench): a few rounds of each, not a measurement");
    }
    println!("surface-checkd benchmark, {date}");
    println!("machine: {machine} at the start, {load_end} at the end");
    println!(
        "binaries: {DAEMON}, {CLI} ({})",
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "optimized build"
        }
    );
    println!(
        "daemon F: --session --root <healthy SB2 15\" fixture>; daemon E: --root <a copy>, \
         system-type bus, logind = python-dbusmock; daemon U: root / chrooted into a copy"
    );
    println!(
        "{rounds} round-trip rounds ({warmup} warm-up), {cli_rounds} CLI rounds (3 warm-up), \
         {events} changes per trigger, {}s idle windows after {}s of quiet; took {:.0}s",
        idle_window.as_secs(),
        quiet.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "GetReport equals `status --local --json` on the fixture: {}; \
         `status --session --json` output equals `--local`: {}",
        if same_report { "yes" } else { "NO" },
        if cli_same { "yes" } else { "NO" }
    );
    println!();
    println!(
        "{:<46} {:>10} {:>10} {:>10}  ratio / target",
        "1. round trip on one connection (daemon F)", "p50 ms", "p99 ms", "min ms"
    );
    for (name, r) in [
        ("Peer.Ping", &rt_ping),
        ("Get Version", &rt_version),
        ("GetReport", &rt_report),
    ] {
        println!(
            "{:<46} {:>10} {:>10} {:>10}",
            name,
            ms(r.p50()),
            ms(r.p99()),
            ms(r.min())
        );
    }
    println!(
        "{:<46} {:>10} {:>10} {:>10}  target <= 3 (per-round median {:.2}x)",
        "GetReport / Peer.Ping",
        format!("{:.2}x", ratio(rt_report.p50(), rt_ping.p50())),
        format!("{:.2}x", ratio(rt_report.p99(), rt_ping.p99())),
        "",
        rt_report.paired(&rt_ping)
    );
    println!(
        "{:<46} {:>10} {:>10} {:>10}  (per-round median {:.2}x)",
        "GetReport / Get Version",
        format!("{:.2}x", ratio(rt_report.p50(), rt_version.p50())),
        format!("{:.2}x", ratio(rt_report.p99(), rt_version.p99())),
        "",
        rt_report.paired(&rt_version)
    );
    println!(
        "(GetReport carries the report JSON, {} bytes)",
        report_json.len()
    );
    println!();
    println!(
        "{:<46} {:>10} {:>10} {:>10}  ratio",
        "2. CLI, a process, output through a pipe", "median ms", "p99 ms", "min ms"
    );
    for (name, r, vs) in [
        ("/bin/true", &cli_true, None),
        (
            "status --local --json --root FIXTURE",
            &cli_local,
            Some(("/bin/true", &cli_true)),
        ),
        (
            "status --session --json (through daemon F)",
            &cli_via,
            Some(("--local", &cli_local)),
        ),
    ] {
        let r_txt = vs.map_or(String::new(), |(base, b)| {
            format!(
                "{:.2}x {base} (per-round median; medians {:.2}x)",
                r.paired(b),
                ratio(r.p50(), b.p50())
            )
        });
        println!(
            "{:<46} {:>10} {:>10} {:>10}  {r_txt}",
            name,
            ms(r.p50()),
            ms(r.p99()),
            ms(r.min())
        );
    }
    println!();
    println!(
        "3 and 4. idle: VmRSS at the start of a {}s window (target < 10 MB) and context \
         switches in it, summed over threads (target: 0 voluntary)",
        idle_window.as_secs()
    );
    let all_idle: Vec<(&str, &IdleFigure)> = idle_first
        .iter()
        .map(|f| ("after the first probe", f))
        .chain(idle_after.iter().map(|f| ("after the load", f)))
        .chain(idle_u.iter().map(|f| ("after the first probe", f)))
        .collect();
    for (when, f) in &all_idle {
        let m = f.memory;
        println!("  {}, {when}:", f.name);
        println!(
            "    VmRSS {} (anon {} kB, file {} kB), peak {}, {} threads",
            mib(m.rss_kb),
            m.anon_kb,
            m.file_kb,
            mib(m.hwm_kb),
            m.threads
        );
        println!(
            "    {} voluntary, {} involuntary switches; {}{}",
            f.idle.voluntary,
            f.idle.involuntary,
            f.activity.describe(),
            if f.idle.detail.is_empty() {
                String::new()
            } else {
                format!(" [{}]", f.idle.detail.join("; "))
            }
        );
    }
    println!();
    println!(
        "{:<46} {:>10} {:>10} {:>10}  target",
        "5. change to SubsystemChanged (daemon E)", "p50 ms", "p99 ms", "min ms"
    );
    for (name, r, target) in [
        (
            "resume (PrepareForSleep) -> signal",
            &ev_resume,
            "< 300 ms (includes the 200 ms debounce)",
        ),
        ("  of which the EmitSignal call", &emit_ret, ""),
        ("Refresh call -> return", &ev_refresh_ret, ""),
        ("Refresh call -> signal", &ev_refresh_sig, ""),
    ] {
        println!(
            "{:<46} {:>10} {:>10} {:>10}  {target}",
            name,
            ms(r.p50()),
            ms(r.p99()),
            ms(r.min())
        );
    }
    let mut took = events_activity.took_ms.clone();
    took.sort();
    println!(
        "({} changes of {FLIP_SUBSYSTEM} per trigger, ok <-> failed; daemon E's {}; its probes \
         took {} ms median, {} ms at most (whole ms, from its log); other SubsystemChanged \
         seen: {})",
        ev_resume.samples.len(),
        events_activity.describe(),
        took.get(took.len() / 2).copied().unwrap_or(0),
        took.last().copied().unwrap_or(0),
        if unexpected.is_empty() {
            "none".to_string()
        } else {
            unexpected.join(", ")
        }
    );
    println!();
    let shown = |s: Option<std::process::ExitStatus>| {
        s.map_or("had to be killed".to_string(), |s| s.to_string())
    };
    println!(
        "SIGTERM: daemon F {}, daemon E {}, daemon U {}",
        shown(exit_f),
        shown(exit_e),
        shown(exit_u)
    );
    let worst_rss = all_idle
        .iter()
        .map(|(_, f)| f.memory.rss_kb)
        .max()
        .unwrap_or(0);
    let switches: Vec<String> = all_idle
        .iter()
        .map(|(_, f)| f.idle.voluntary.to_string())
        .collect();
    println!(
        "targets: GetReport/Ping p50 {:.2}x p99 {:.2}x (<= 3); idle VmRSS at most {} (< 10 MB); \
         idle voluntary switches {} (0 each); resume -> signal p50 {} p99 {} ms (< 300)",
        ratio(rt_report.p50(), rt_ping.p50()),
        ratio(rt_report.p99(), rt_ping.p99()),
        mib(worst_rss),
        switches.join("/"),
        ms(ev_resume.p50()),
        ms(ev_resume.p99())
    );
}
