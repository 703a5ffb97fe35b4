//! surface-checkd on a real, private `dbus-daemon` (system-bus policy with this
//! project's policy file, tests/common/bus.rs): the report over the bus, signals on
//! exactly what changed, resume from logind (python-dbusmock's logind template),
//! unprivileged callers, a flood of Refresh calls, bad arguments, a slow probe, the
//! bus going away and coming back, and SIGTERM.
//!
//! The daemon reads fixture trees (`--root`), so only Refresh and logind's resume
//! make it probe again here; udev events are tested on a real kernel (tests/vm.rs).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bus::PrivateBus;
use common::sb2::{Break, Distro, Sb2, Size};
use futures_util::StreamExt;
use serde_json::Value;
use surface_check::dbus::client::{Bus, Client, Event};
use surface_check::dbus::{BUS_NAME, INTERFACE, OBJECT_PATH, members};

const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");

/// A running surface-checkd whose standard error is kept.
struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts the daemon on `bus` reading `root` and waits until it owns its name.
    fn start(bus: &PrivateBus, root: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(DAEMON)
            .arg("--root")
            .arg(root)
            .args(extra)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .env("SURFACE_CHECK_LOG", "surface_check::daemon=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting surface-checkd");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut d = Daemon { child, log };
        // The name is taken once the first report is in place.
        d.wait_log("serving io.github.SurfaceCheck1", Duration::from_secs(30));
        d
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle`; panics with the log after `limit` or when
    /// the daemon exits.
    fn wait_log(&mut self, needle: &str, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                panic!("surface-checkd exited ({st}):\n{}", self.log());
            }
            assert!(
                Instant::now() < until,
                "no {needle:?} from surface-checkd within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The probes the daemon ran, with their causes, as its log says.
    fn probes(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(" probe seq="))
            .map(|l| l.split("cause=").nth(1).unwrap_or("").to_string())
            .collect()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// VmRSS in KiB.
    fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn conn(bus: &PrivateBus) -> zbus::Connection {
    zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .build()
        .await
        .expect("connecting to the private bus")
}

async fn client(bus: &PrivateBus) -> Client {
    Client::on(Bus::System, conn(bus).await).await.unwrap()
}

fn healthy(size: Size) -> (Sb2, common::tree::Tree) {
    let m = Sb2::new(size, Distro::NixOs);
    let t = m.build();
    (m, t)
}

/// `surface-check ARGS` with the private bus as the system bus.
fn cli(bus: &PrivateBus, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::BIN)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn local_json(root: &Path) -> String {
    let (code, out, err) = common::run(&[
        "status",
        "--local",
        "--json",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(
        code == 0 || code == 1,
        "status --local failed ({code}): {err}"
    );
    out
}

/// Everything announced within `quiet` of the last announcement (or of the call,
/// when nothing comes), at most `limit` in all.
async fn drain(
    events: &mut futures_util::stream::BoxStream<'static, Event>,
    quiet: Duration,
    limit: Duration,
) -> Vec<Event> {
    let until = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    loop {
        let wait = quiet.min(until.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, events.next()).await {
            Ok(Some(e)) => got.push(e),
            Ok(None) | Err(_) => return got,
        }
    }
}

#[test]
fn get_report_over_the_bus_is_status_local_json_and_the_cli_uses_it() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In15);
    let _d = Daemon::start(&bus, t.path(), &[]);
    let local = local_json(t.path());
    let over_bus = rt().block_on(async { client(&bus).await.report_json().await.unwrap() });
    assert_eq!(
        over_bus, local,
        "GetReport differs from status --local --json"
    );
    let v: Value = serde_json::from_str(&over_bus).unwrap();
    common::assert_schema(&v);

    // `status` without --local asks the daemon, says so, and prints the same.
    let (code, out, err) = cli(&bus, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, local);
    assert!(
        err.contains(&format!(
            "report from surface-checkd {} on the system bus",
            env!("CARGO_PKG_VERSION")
        )),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
    // --local never asks.
    let (_, _, err) = cli(&bus, &["status", "--local", "--json"]);
    assert!(!err.contains("surface-checkd"), "{err}");

    // The properties say what the report says.
    rt().block_on(async {
        let c = client(&bus).await;
        assert_eq!(c.version().await.unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(c.overall().await.unwrap(), v["overall"].as_str().unwrap());
        assert_eq!(
            c.string(members::MODEL).await.unwrap(),
            v["machine"]["model"]
        );
        assert_eq!(
            c.string(members::KERNEL_RELEASE).await.unwrap(),
            v["kernel"]["release"]
        );
        assert_eq!(c.string(members::SURFACE_PATCHES).await.unwrap(), "yes");
        let subs = c.subsystems().await.unwrap();
        let want: Vec<(String, String, String)> = v["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                    s["summary"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(subs, want);
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let updated = c.last_updated().await.unwrap();
        assert!(
            updated > now_us - 120_000_000 && updated <= now_us,
            "{updated} vs {now_us}"
        );
        let touch: Value = serde_json::from_str(&c.subsystem_json("touch").await.unwrap()).unwrap();
        let want = v["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "touch")
            .unwrap();
        assert_eq!(&touch, want);
        assert_eq!(
            c.explain("touch.iptsd").await.unwrap(),
            surface_check::docs::explain("touch.iptsd").unwrap()
        );
    });
}

/// The `<interface name="io.github.SurfaceCheck1">` element of an introspection, each
/// line trimmed.
fn interface_element(xml: &str) -> String {
    let start = xml
        .find(&format!("<interface name=\"{INTERFACE}\">"))
        .expect("the interface in the XML");
    let end = start + xml[start..].find("</interface>").unwrap() + "</interface>".len();
    xml[start..end]
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn live_introspection_is_the_committed_xml_and_has_every_client_member() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let _d = Daemon::start(&bus, t.path(), &[]);
    let live = rt().block_on(async {
        let c = conn(&bus).await;
        zbus::fdo::IntrospectableProxy::builder(&c)
            .destination(BUS_NAME)
            .unwrap()
            .path(OBJECT_PATH)
            .unwrap()
            .build()
            .await
            .unwrap()
            .introspect()
            .await
            .unwrap()
    });
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dbus/io.github.SurfaceCheck1.xml"),
    )
    .unwrap();
    let element = interface_element(&committed);
    assert_eq!(interface_element(&live), element);
    // Every member the client calls, with its kind and signature.
    for (name, kind, sig) in members::ALL {
        let open = format!("<{kind} name=\"{name}\"");
        let at = element
            .find(&open)
            .unwrap_or_else(|| panic!("no {kind} {name} in the interface"));
        let types: String = if *kind == "property" {
            let rest = &element[at..];
            let ty = rest.split("type=\"").nth(1).unwrap();
            ty[..ty.find('"').unwrap()].to_string()
        } else {
            let close = format!("</{kind}>");
            let body = &element[at..at + element[at..].find(&close).unwrap()];
            body.split("type=\"")
                .skip(1)
                .map(|t| &t[..t.find('"').unwrap()])
                .collect()
        };
        assert_eq!(&types, sig, "{kind} {name}");
    }
}

/// The subsystems whose status differs between two reports:
/// (id, old status, new status, new summary).
fn status_changes(old: &Value, new: &Value) -> Vec<(String, String, String, String)> {
    let mut v = Vec::new();
    for s in new["subsystems"].as_array().unwrap() {
        let before = old["subsystems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == s["id"])
            .unwrap();
        if before["status"] != s["status"] {
            v.push((
                s["id"].as_str().unwrap().to_string(),
                before["status"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
                s["summary"].as_str().unwrap().to_string(),
            ));
        }
    }
    v
}

fn subsystem_changed(events: &[Event]) -> Vec<(String, String, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SubsystemChanged {
                id,
                old_status,
                new_status,
                summary,
            } => Some((
                id.clone(),
                old_status.clone(),
                new_status.clone(),
                summary.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn properties_changed(events: &[Event]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::PropertiesChanged(m) => Some(m.keys().cloned().collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    v.sort();
    v
}

#[test]
fn refresh_signals_exactly_what_changed_and_nothing_when_nothing_did() {
    let bus = PrivateBus::start();
    let (m, t) = healthy(Size::In15);
    let d = Daemon::start(&bus, t.path(), &[]);
    rt().block_on(async {
        let c = client(&bus).await;
        let mut events = c.events().await.unwrap();

        // Nothing changed: Refresh probes again, and nothing is sent.
        c.refresh().await.unwrap();
        let got = drain(
            &mut events,
            Duration::from_millis(700),
            Duration::from_secs(5),
        )
        .await;
        assert!(got.is_empty(), "signals although nothing changed: {got:?}");

        // Each step breaks more; the signals are exactly the status changes that
        // `status --local --json` shows between before and after.
        let steps: &[(&str, &[Break])] = &[
            ("base detached", &[Break::KeyboardGone, Break::TouchpadGone]),
            ("iptsd stopped", &[Break::IptsdStopped]),
            ("CIO2 removed", &[Break::Cio2Removed]),
        ];
        let mut before: Value = serde_json::from_str(&local_json(t.path())).unwrap();
        for (what, breaks) in steps {
            for b in *breaks {
                assert!(b.applies(&m), "{b:?}");
                b.apply(&m, &t);
            }
            let after: Value = serde_json::from_str(&local_json(t.path())).unwrap();
            let want = status_changes(&before, &after);
            assert!(
                !want.is_empty(),
                "{what}: the fixture change changed no status: {}",
                common::overview(&after)
            );
            c.refresh().await.unwrap();
            // Refresh returns once the signals are sent; they are all on the wire.
            let got = drain(
                &mut events,
                Duration::from_millis(700),
                Duration::from_secs(5),
            )
            .await;
            assert_eq!(subsystem_changed(&got), want, "{what}: {got:?}");
            let mut props = vec!["Subsystems".to_string()];
            if before["overall"] != after["overall"] {
                props.push("Overall".into());
            }
            props.sort();
            assert_eq!(properties_changed(&got), props, "{what}: {got:?}");
            // In the order sent: the subsystems, then one PropertiesChanged.
            assert!(
                matches!(got.last(), Some(Event::PropertiesChanged(_)))
                    && got[..got.len() - 1]
                        .iter()
                        .all(|e| matches!(e, Event::SubsystemChanged { .. })),
                "{what}: {got:?}"
            );
            // The report in place is the new one.
            assert_eq!(c.report_json().await.unwrap(), local_json(t.path()));
            before = after;
        }
    });
    let probes = d.probes();
    assert_eq!(
        probes.first().map(String::as_str),
        Some("start"),
        "{probes:?}"
    );
    assert!(probes[1..].iter().all(|c| c == "refresh"), "{probes:?}");
}

#[test]
fn resume_from_logind_probes_again_and_a_forged_resume_does_not() {
    let bus = PrivateBus::start();
    let (m, t) = healthy(Size::In13);
    // logind as python-dbusmock's template: the real org.freedesktop.login1 API on
    // the private bus, whose PrepareForSleep the test makes it send.
    let mut logind = Command::new("/usr/bin/python3")
        .args(["-m", "dbusmock", "--system", "--template", "logind"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3-dbusmock (apt-get install python3-dbusmock)");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _logind = Kill(&mut logind);
    let mut d = Daemon::start(&bus, t.path(), &[]);
    rt().block_on(async {
        let c = client(&bus).await;
        let dbus = zbus::fdo::DBusProxy::new(c.connection()).await.unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while !dbus
            .name_has_owner("org.freedesktop.login1".try_into().unwrap())
            .await
            .unwrap()
        {
            assert!(Instant::now() < until, "dbusmock's logind did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut events = c.events().await.unwrap();
        let before: Value = serde_json::from_str(&local_json(t.path())).unwrap();
        Break::IptsdStopped.apply(&m, &t);
        let after: Value = serde_json::from_str(&local_json(t.path())).unwrap();
        let want = status_changes(&before, &after);
        assert!(!want.is_empty());

        // Anyone may send a signal: one named like logind's but not from logind's
        // connection changes nothing.
        let forger = conn(&bus).await;
        forger
            .emit_signal(
                None::<&str>,
                "/org/freedesktop/login1",
                "org.freedesktop.login1.Manager",
                "PrepareForSleep",
                &(false,),
            )
            .await
            .unwrap();
        let got = drain(
            &mut events,
            Duration::from_millis(1000),
            Duration::from_secs(3),
        )
        .await;
        assert!(
            got.is_empty(),
            "a forged resume made the daemon probe: {got:?}"
        );

        // Going to sleep changes nothing; waking up probes again.
        let mock = zbus::Proxy::new(
            c.connection(),
            "org.freedesktop.login1",
            "/org/freedesktop/login1",
            "org.freedesktop.DBus.Mock",
        )
        .await
        .unwrap();
        for sleeping in [true, false] {
            let _: () = mock
                .call(
                    "EmitSignal",
                    &(
                        "org.freedesktop.login1.Manager",
                        "PrepareForSleep",
                        "b",
                        vec![zbus::zvariant::Value::from(sleeping)],
                    ),
                )
                .await
                .unwrap();
        }
        let got = drain(
            &mut events,
            Duration::from_millis(1000),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(subsystem_changed(&got), want, "{got:?}");
    });
    d.wait_log("cause=resume", Duration::from_secs(5));
    // One probe at start, one on resume, and the settle probe a resume that changed
    // something is followed by (none for the forged resume, none for going to sleep).
    d.wait_log("cause=settle", Duration::from_secs(10));
    let probes = d.probes();
    assert_eq!(probes, ["start", "resume", "settle"], "{}", d.log());
}

#[test]
fn an_unprivileged_caller_reads_everything_and_cannot_own_the_name() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In15);
    let d = Daemon::start(&bus, t.path(), &[]);
    let local = local_json(t.path());
    let out = common::setpriv_nobody()
        .args([common::BIN, "status", "--json"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("report from surface-checkd"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), local);

    // Properties, Refresh and Explain as uid 65534, through busctl.
    let busctl = |args: &[&str]| {
        let out = common::setpriv_nobody()
            .arg("busctl")
            .arg(format!("--address={}", bus.address))
            .args(args)
            .output()
            .expect("busctl (systemd)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = busctl(&["get-property", BUS_NAME, OBJECT_PATH, INTERFACE, "Overall"]);
    assert!(ok, "{text}");
    assert_eq!(text.trim(), "s \"ok\"");
    let (ok, text) = busctl(&["call", BUS_NAME, OBJECT_PATH, INTERFACE, "Refresh"]);
    assert!(ok, "Refresh as uid 65534: {text}");
    let (ok, text) = busctl(&[
        "call",
        BUS_NAME,
        OBJECT_PATH,
        INTERFACE,
        "Explain",
        "s",
        "touch.iptsd",
    ]);
    assert!(ok && text.contains("touch.iptsd"), "{text}");
    // There is nothing to set, and uid 65534 may not try.
    let (ok, text) = busctl(&[
        "set-property",
        BUS_NAME,
        OBJECT_PATH,
        INTERFACE,
        "Overall",
        "s",
        "ok",
    ]);
    assert!(!ok, "{text}");
    assert!(d.probes().len() >= 2, "Refresh as uid 65534 did not probe");

    // uid 65534 cannot serve the name: the daemon says why and exits 2.
    let out = common::setpriv_nobody()
        .args([DAEMON, "--root", "/"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(BUS_NAME) && err.contains("AccessDenied"),
        "{err}"
    );
}

#[test]
fn bad_arguments_get_invalid_args() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let _d = Daemon::start(&bus, t.path(), &[]);
    rt().block_on(async {
        let c = conn(&bus).await;
        let p = zbus::Proxy::new(&c, BUS_NAME, OBJECT_PATH, INTERFACE)
            .await
            .unwrap();
        let name = |r: zbus::Result<String>| match r {
            Err(zbus::Error::MethodError(n, _, _)) => n.to_string(),
            other => panic!("not an error: {other:?}"),
        };
        let invalid = "org.freedesktop.DBus.Error.InvalidArgs";
        assert_eq!(name(p.call("GetSubsystem", &("nope",)).await), invalid);
        assert_eq!(name(p.call("Explain", &("nope",)).await), invalid);
        assert_eq!(name(p.call("GetSubsystem", &(42u32,)).await), invalid);
        assert_eq!(name(p.call("GetSubsystem", &()).await), invalid);
        assert_eq!(
            name(p.call("Explain", &("x".repeat(1 << 20),)).await),
            invalid
        );
        assert_eq!(
            name(p.call("GetReport", &("extra",)).await),
            invalid,
            "GetReport takes no argument"
        );
        // Still answering.
        let r: String = p.call("GetReport", &()).await.unwrap();
        assert!(r.contains("\"schema_version\""));
    });
}

#[test]
fn a_flood_of_refresh_calls_is_coalesced_memory_stays_flat_and_get_report_answers() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In15);
    let d = Daemon::start(&bus, t.path(), &[]);
    let (rss, outcomes, slowest) = rt().block_on(async {
        let c = client(&bus).await;
        let reader = client(&bus).await;
        let mut rss = vec![d.rss_kib()];
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        let mut slowest = Duration::ZERO;
        // 10 rounds of 1,000 concurrent calls: 10,000 from one connection.
        for _ in 0..10 {
            let calls = (0..1000).map(|_| c.refresh());
            let flood = futures_util::future::join_all(calls);
            // GetReport from another client while the flood is in flight.
            let read = async {
                let start = Instant::now();
                let r = reader.report_json().await.unwrap();
                assert!(r.contains("\"schema_version\""));
                start.elapsed()
            };
            let (results, took) = tokio::join!(flood, read);
            slowest = slowest.max(took);
            for r in results {
                let k = match r {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e
                        .to_string()
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                };
                *outcomes.entry(k).or_default() += 1;
            }
            rss.push(d.rss_kib());
        }
        (rss, outcomes, slowest)
    });
    let probes = d.probes().len();
    eprintln!(
        "flood: outcomes {outcomes:?}; {probes} probes; RSS KiB per round {rss:?}; \
         slowest GetReport during a round {slowest:?}"
    );
    assert_eq!(outcomes.values().sum::<usize>(), 10_000);
    for k in outcomes.keys() {
        assert!(
            k == "ok" || k.contains("LimitsExceeded"),
            "unexpected outcome {k:?}: {outcomes:?}"
        );
    }
    assert!(outcomes.get("ok").copied().unwrap_or(0) > 0, "{outcomes:?}");
    // Coalesced: far fewer probes than calls.
    assert!(probes <= 60, "{probes} probes for 10,000 Refresh calls");
    // Flat: after the first round, 9,000 more calls grow the daemon by less than
    // 4 MiB.
    let grown = rss.last().unwrap().saturating_sub(rss[1]);
    assert!(
        grown < 4096,
        "RSS grew {grown} KiB over 9,000 calls: {rss:?}"
    );
}

#[test]
fn a_slow_probe_never_blocks_the_bus() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let d = Daemon::start(&bus, t.path(), &[]);
    // Tens of thousands of entries make the next probe slow.
    for i in 0..40_000 {
        t.link(
            &format!("sys/bus/acpi/devices/JUNK{i:05}:00"),
            "../../../devices/nowhere",
        );
    }
    rt().block_on(async {
        let c = client(&bus).await;
        let reader = client(&bus).await;
        let refresh = c.refresh();
        tokio::pin!(refresh);
        // The probe is under way: Refresh has not returned.
        let first = tokio::select! {
            r = &mut refresh => { r.unwrap(); "refresh" }
            _ = tokio::time::sleep(Duration::from_millis(50)) => "waiting",
        };
        assert_eq!(first, "waiting", "the probe was not slow enough to test");
        // While it runs, the report in place and the properties answer.
        let r = tokio::select! {
            r = async {
                (reader.report_json().await.unwrap(), reader.overall().await.unwrap())
            } => Some(r),
            _ = &mut refresh => None,
        };
        let (report, overall) = r.expect("the bus waited for the probe");
        assert!(report.contains("\"schema_version\""));
        assert_eq!(overall, "ok");
        refresh.await.unwrap();
    });
    let log = d.log();
    let took: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("report in place"))
        .filter_map(|l| l.split("took_ms=").nth(1))
        .collect();
    eprintln!("probe times (ms): {took:?}");
}

#[test]
fn the_daemon_survives_the_bus_going_away_and_coming_back() {
    let mut bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let mut d = Daemon::start(&bus, t.path(), &[]);
    bus.restart();
    d.wait_log("back on the system bus", Duration::from_secs(30));
    let report = rt().block_on(async { client(&bus).await.report_json().await.unwrap() });
    assert_eq!(report, local_json(t.path()));
}

#[test]
fn sigterm_stops_it_cleanly_and_frees_the_name() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let mut d = Daemon::start(&bus, t.path(), &[]);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(d.pid() as i32, libc::SIGTERM) }, 0);
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < until,
            "no exit 10 s after SIGTERM:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", d.log());
    d.wait_log("SIGTERM: stopping", Duration::from_secs(2));
    let owned = rt().block_on(async {
        zbus::fdo::DBusProxy::new(&conn(&bus).await)
            .await
            .unwrap()
            .name_has_owner(BUS_NAME.try_into().unwrap())
            .await
            .unwrap()
    });
    assert!(!owned, "the name is still owned after the daemon stopped");
}

#[test]
fn a_second_daemon_does_not_take_the_name_from_the_first() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    let _d = Daemon::start(&bus, t.path(), &[]);
    let out = Command::new(DAEMON)
        .args(["--root"])
        .arg(t.path())
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(BUS_NAME) && err.contains("is surface-checkd running already?"),
        "{err}"
    );
}

/// Lines a child writes to standard output, collected by a thread.
struct Lines {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Lines {
    fn spawn(bus: &PrivateBus, args: &[&str]) -> Lines {
        let mut child = Command::new(common::BIN)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Lines { child, lines }
    }

    /// Waits for a line from index `from` on for which `f` holds; returns its index.
    fn wait(&self, from: usize, what: &str, f: impl Fn(&Value) -> bool) -> (usize, Value) {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            {
                let lines = self.lines.lock().unwrap();
                for (i, l) in lines.iter().enumerate().skip(from) {
                    let v: Value = serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
                    if f(&v) {
                        return (i, v);
                    }
                }
                assert!(
                    Instant::now() < until,
                    "no line with {what} within 20 s: {lines:#?}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_and_waybar_follow_the_daemon_and_its_coming_and_going() {
    let bus = PrivateBus::start();
    let (m, t) = healthy(Size::In15);
    let mut d = Daemon::start(&bus, t.path(), &[]);
    let watch = Lines::spawn(&bus, &["watch", "--json"]);
    let waybar = Lines::spawn(&bus, &["waybar"]);
    let (w0, connected) = watch.wait(0, "connected", |v| v["event"] == "connected");
    assert_eq!(connected["overall"], "ok");
    assert_eq!(connected["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(connected["subsystems"].as_array().unwrap().len(), 9);
    let (b0, first) = waybar.wait(0, "a first line", |_| true);
    assert_eq!(first["class"], "ok");
    assert_eq!(first["text"], "SB2 ✓");
    assert!(first["tooltip"].as_str().unwrap().contains("touch: ok"));

    Break::IptsdStopped.apply(&m, &t);
    rt().block_on(async { client(&bus).await.refresh().await.unwrap() });
    let (_, changed) = watch.wait(w0 + 1, "SubsystemChanged", |v| {
        v["event"] == "SubsystemChanged"
    });
    assert_eq!(changed["id"], "touch");
    assert_eq!(changed["old_status"], "ok");
    let touch_now = changed["new_status"].as_str().unwrap().to_string();
    assert!(
        touch_now == "failed" || touch_now == "degraded",
        "{changed}"
    );
    watch.wait(w0 + 1, "Overall in PropertiesChanged", |v| {
        v["event"] == "PropertiesChanged" && v["changed"]["Overall"] == touch_now
    });
    let (b1, broken) = waybar.wait(b0 + 1, "the broken state", |v| v["class"] != "ok");
    assert_eq!(broken["class"], touch_now.as_str());
    assert_eq!(broken["text"], "SB2 ✗ touch");

    // The daemon stops: both say so and wait for it.
    let _ = d.child.kill();
    let _ = d.child.wait();
    watch.wait(w0 + 1, "the daemon stopping", |v| {
        v["event"] == "daemon" && v["running"] == false
    });
    let (_, gone) = waybar.wait(b1 + 1, "no daemon", |v| v["class"] == "unknown");
    assert_eq!(gone["text"], "SB2 ?");
    assert!(
        gone["tooltip"].as_str().unwrap().contains("not running"),
        "{gone}"
    );
    // And it comes back.
    let _d2 = Daemon::start(&bus, t.path(), &[]);
    let (w1, _) = watch.wait(w0 + 1, "the daemon starting", |v| {
        v["event"] == "daemon" && v["running"] == true
    });
    // The new daemon's state, read as at start.
    let (_, again) = watch.wait(w1 + 1, "connected again", |v| v["event"] == "connected");
    assert_eq!(again["overall"], touch_now.as_str());
    waybar.wait(b1 + 2, "the state again", |v| {
        v["class"] == touch_now.as_str()
    });
}

#[test]
fn status_warns_when_the_daemon_is_another_version_and_falls_back_when_none_runs() {
    let bus = PrivateBus::start();
    let (_, t) = healthy(Size::In13);
    // Nothing owns the name: status probes here and says why.
    let (code, _, err) = cli(&bus, &["status", "--json"]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        err.contains("probing here: surface-checkd is not running on the system bus"),
        "{err}"
    );
    // An older daemon, as a stand-in in Python (dbus-python, which python3-dbusmock
    // brings) serves it: the report it sends, and a warning.
    let report = local_json(t.path());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.json"), &report).unwrap();
    let script = r#"
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
REPORT = open(sys.argv[1]).read()
bus = dbus.SystemBus()
class Old(dbus.service.Object):
    @dbus.service.method("io.github.SurfaceCheck1", in_signature="", out_signature="s")
    def GetReport(self):
        return REPORT
    @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        return dbus.String("0.0.1")
Old(bus, "/io/github/SurfaceCheck1")
name = dbus.service.BusName("io.github.SurfaceCheck1", bus)
GLib.MainLoop().run()
"#;
    let mut mock = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir.path().join("report.json"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with dbus-python and gi (python3-dbusmock, python3-gi)");
    rt().block_on(async {
        let c = conn(&bus).await;
        let dbus = zbus::fdo::DBusProxy::new(&c).await.unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while !dbus
            .name_has_owner(BUS_NAME.try_into().unwrap())
            .await
            .unwrap()
        {
            assert!(Instant::now() < until, "the stand-in did not take the name");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let (_, out, err) = cli(&bus, &["status", "--json"]);
    let _ = mock.kill();
    let _ = mock.wait();
    assert_eq!(out, report, "{err}");
    assert!(err.contains("report from surface-checkd 0.0.1"), "{err}");
    assert!(
        err.contains(&format!(
            "warning: surface-checkd is version 0.0.1, this is {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{err}"
    );
}

#[test]
fn waybar_without_a_bus_says_unknown_before_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::BIN)
        .arg("waybar")
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", dir.path().join("no-bus").display()),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["class"], "unknown");
    assert_eq!(lines[0]["text"], "SB2 ?");
    assert!(
        lines[0]["tooltip"]
            .as_str()
            .unwrap()
            .contains("cannot connect to the system bus"),
        "{stdout}"
    );
}

#[test]
fn status_gives_up_on_a_bus_that_never_answers_and_probes_here() {
    // A socket that accepts and then says nothing, as a hung bus daemon would.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hung-bus");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().map_while(Result::ok) {
            held.push(s);
        }
    });
    let mut child = Command::new(common::BIN)
        .args(["status", "--json"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", path.display()),
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < until,
            "status waited on a silent bus for 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    assert!(
        err.contains("probing here") && err.contains("timed out"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], "/");
}
