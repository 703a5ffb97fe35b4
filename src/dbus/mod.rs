//! The D-Bus interface `io.github.SurfaceCheck1`: one definition, [`Service`], serves
//! the daemon (`surface-checkd`), generates `dbus/io.github.SurfaceCheck1.xml`
//! ([`interface_xml`]) and names what the client ([`client`]) calls: the client
//! calls members by the names in [`members`], which a test holds against the
//! interface's own introspection.
//!
//! The service holds no verdicts of its own: it publishes the [`Snapshot`] the daemon
//! made from one [`Report`], the same document `surface-check status --json` prints.

pub mod client;
pub mod history;
pub mod polkit;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};
use zbus::fdo;
use zbus::interface;
use zbus::object_server::SignalEmitter;

use crate::report::{Report, Status, SubsystemReport};

/// The well-known bus name.
pub const BUS_NAME: &str = "io.github.SurfaceCheck1";
/// The object path.
pub const OBJECT_PATH: &str = "/io/github/SurfaceCheck1";
/// The interface name.
pub const INTERFACE: &str = "io.github.SurfaceCheck1";

/// Member names of the interface, as the client calls them.
pub mod members {
    pub const GET_REPORT: &str = "GetReport";
    pub const GET_SUBSYSTEM: &str = "GetSubsystem";
    pub const REFRESH: &str = "Refresh";
    pub const EXPLAIN: &str = "Explain";
    pub const SUBSYSTEM_CHANGED: &str = "SubsystemChanged";
    pub const GET_HISTORY: &str = "GetHistory";
    pub const ACCEPT_BASELINE: &str = "AcceptBaseline";
    pub const REGRESSION_DETECTED: &str = "RegressionDetected";
    pub const VERSION: &str = "Version";
    pub const MODEL: &str = "Model";
    pub const KERNEL_RELEASE: &str = "KernelRelease";
    pub const SURFACE_PATCHES: &str = "SurfacePatches";
    pub const OVERALL: &str = "Overall";
    pub const SUBSYSTEMS: &str = "Subsystems";
    pub const LAST_UPDATED: &str = "LastUpdated";

    /// Every member the client uses: (name, kind, signature of the arguments in
    /// order, `in` then `out`, or of the property).
    pub const ALL: &[(&str, &str, &str)] = &[
        (GET_REPORT, "method", "s"),
        (GET_SUBSYSTEM, "method", "ss"),
        (REFRESH, "method", ""),
        (EXPLAIN, "method", "ss"),
        (SUBSYSTEM_CHANGED, "signal", "ssss"),
        (GET_HISTORY, "method", "us"),
        (ACCEPT_BASELINE, "method", ""),
        (REGRESSION_DETECTED, "signal", "ssss"),
        (VERSION, "property", "s"),
        (MODEL, "property", "s"),
        (KERNEL_RELEASE, "property", "s"),
        (SURFACE_PATCHES, "property", "s"),
        (OVERALL, "property", "s"),
        (SUBSYSTEMS, "property", "a(sss)"),
        (LAST_UPDATED, "property", "t"),
    ];
}

/// The most Refresh calls that may wait at once; more get `LimitsExceeded`. Waiting
/// calls share probes (one probe answers every call made before it started), so a
/// flood costs one probe per [`crate::daemon`] rate-limit interval, not one per call.
pub const MAX_WAITING_REFRESH: usize = 4096;

/// One report as the daemon publishes it.
#[derive(Debug)]
pub struct Snapshot {
    /// The probe's number: 1 for the first, counting up.
    pub seq: u64,
    pub report: Report,
    /// The report as `surface-check status --json` prints it.
    pub json: String,
    /// When the probe ended, in microseconds since the epoch.
    pub updated_us: u64,
    /// This boot as the history would record it (None without a boot id): what
    /// regressions are judged from and AcceptBaseline records.
    pub boot: Option<crate::history::BootRecord>,
}

impl Snapshot {
    pub fn new(seq: u64, report: Report, updated_us: u64) -> Snapshot {
        let mut json = serde_json::to_string_pretty(&report).unwrap_or_else(|e| {
            // A report is plain data; serializing it cannot fail short of a bug.
            format!("{{\"error\": \"the report does not serialize: {e}\"}}")
        });
        json.push('\n');
        Snapshot {
            seq,
            report,
            json,
            updated_us,
            boot: None,
        }
    }

    /// The snapshot with this boot's record.
    pub fn with_boot(mut self, boot: Option<crate::history::BootRecord>) -> Snapshot {
        self.boot = boot;
        self
    }

    /// The values of the properties: the getters and the change signals read
    /// them here.
    pub fn model(&self) -> &str {
        &self.report.machine.model
    }

    pub fn kernel_release(&self) -> &str {
        self.report.kernel.release.as_deref().unwrap_or_default()
    }

    pub fn overall(&self) -> &'static str {
        self.report.overall.as_str()
    }

    pub fn surface_patches(&self) -> &'static str {
        match self.report.kernel.surface_patches {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
    }

    pub fn subsystems(&self) -> Vec<(String, String, String)> {
        self.report
            .subsystems
            .iter()
            .map(|s| (s.id.clone(), s.status.to_string(), s.summary.clone()))
            .collect()
    }

    pub fn subsystem(&self, id: &str) -> Option<&SubsystemReport> {
        self.report.subsystems.iter().find(|s| s.id == id)
    }
}

/// What the service and the daemon's probe loop share.
#[derive(Debug)]
pub struct Shared {
    current: watch::Sender<Option<Arc<Snapshot>>>,
    /// The last probe whose report is in place and whose signals are sent.
    done: watch::Sender<u64>,
    /// Probes started so far; the next probe gets this number plus one.
    started: AtomicU64,
    /// Refresh calls waiting now.
    waiting: AtomicUsize,
    /// Wakes the probe loop for a Refresh.
    wake: Notify,
    /// The history: this boot's regressions, GetHistory, AcceptBaseline.
    pub history: history::HistoryState,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            current: watch::Sender::new(None),
            done: watch::Sender::new(0),
            started: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            wake: Notify::new(),
            history: history::HistoryState::new(crate::history::store::state_dir()),
        }
    }
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared::default())
    }

    /// Shared state whose history is in `state_dir`.
    pub fn with_state_dir(state_dir: std::path::PathBuf) -> Arc<Shared> {
        Arc::new(Shared {
            history: history::HistoryState::new(state_dir),
            ..Shared::default()
        })
    }

    /// The report in place, if a probe has ended.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.borrow().clone()
    }

    /// Waits for the first report.
    pub async fn first(&self) -> Arc<Snapshot> {
        let mut rx = self.current.subscribe();
        match rx.wait_for(|s| s.is_some()).await {
            Ok(s) => s.clone().expect("waited for a report"),
            // The sender lives in `self`: it cannot be dropped while we wait.
            Err(_) => unreachable!("the report channel closed while borrowed"),
        }
    }

    /// Numbers the probe about to start; the probe loop calls it as it starts one.
    pub fn start_probe(&self) -> u64 {
        self.started.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Puts a new report in place; returns the one it replaces.
    pub fn publish(&self, s: Arc<Snapshot>) -> Option<Arc<Snapshot>> {
        self.current.send_replace(Some(s))
    }

    /// Marks probe `seq` done: its report is in place, its signals are sent.
    pub fn announced(&self, seq: u64) {
        self.done.send_replace(seq);
    }

    /// Waits until probe `seq` is done: its report in place, its signals sent.
    pub async fn wait_announced(&self, seq: u64) {
        let mut rx = self.done.subscribe();
        // The sender lives in `self`: the channel cannot close while we wait.
        let _ = rx.wait_for(|&done| done >= seq).await;
    }

    /// Whether a Refresh call is waiting for a probe not yet started.
    pub async fn wait_for_refresh(&self) {
        self.wake.notified().await
    }

    /// Asks for a probe that starts after this call and waits for its report.
    pub async fn refresh(&self) -> fdo::Result<Arc<Snapshot>> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING_REFRESH {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(fdo::Error::LimitsExceeded(format!(
                "{MAX_WAITING_REFRESH} Refresh calls are waiting already; the next probe answers them"
            )));
        }
        let _waiting = Waiting(&self.waiting);
        let mut rx = self.done.subscribe();
        let target = self.started.load(Ordering::SeqCst) + 1;
        self.wake.notify_one();
        if rx.wait_for(|&done| done >= target).await.is_err() {
            return Err(fdo::Error::Failed("the daemon is stopping".into()));
        }
        self.current()
            .ok_or_else(|| fdo::Error::Failed("no report in place".into()))
    }
}

/// The object at [`OBJECT_PATH`].
#[derive(Debug, Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

impl Service {
    pub fn new(shared: Arc<Shared>) -> Service {
        Service { shared }
    }

    fn with<T>(&self, f: impl FnOnce(&Snapshot) -> T, none: T) -> T {
        match self.shared.current() {
            Some(s) => f(&s),
            None => none,
        }
    }
}

fn status_str(s: Option<Status>) -> String {
    s.map_or("unknown", Status::as_str).to_string()
}

/// The Surface Book 2's hardware as `surface-check` judges it, kept current on
/// hotplug, clipboard detach and resume.
#[interface(name = "io.github.SurfaceCheck1")]
impl Service {
    /// The report as JSON: the document `surface-check status --json` prints
    /// (docs/report-schema.json). Waits for the first probe after start-up.
    async fn get_report(&self) -> String {
        self.shared.first().await;
        self.with(|s| s.json.clone(), String::new())
    }

    /// One subsystem of the report as JSON (`touch`, `camera`, ...).
    async fn get_subsystem(&self, id: &str) -> fdo::Result<String> {
        let s = self.shared.first().await;
        match s.subsystem(id) {
            Some(sub) => serde_json::to_string_pretty(sub)
                .map_err(|e| fdo::Error::Failed(format!("the subsystem does not serialize: {e}"))),
            None => Err(fdo::Error::InvalidArgs(format!(
                "no subsystem {:?}; the report's subsystems are: {}",
                id.chars().take(64).collect::<String>(),
                s.report
                    .subsystems
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Probes again now and returns when the new report is in place and its change
    /// signals are sent. Calls made while a probe waits to start share it; probes are
    /// at least the daemon's interval apart.
    async fn refresh(&self) -> fdo::Result<()> {
        self.shared.refresh().await.map(|_| ())
    }

    /// The documentation of one check (`touch.iptsd`), as `surface-check explain`
    /// prints it.
    async fn explain(&self, check_id: &str) -> fdo::Result<String> {
        crate::docs::explain(check_id).ok_or_else(|| {
            fdo::Error::InvalidArgs(format!(
                "no check {:?}; `surface-check checks` lists them",
                check_id.chars().take(64).collect::<String>()
            ))
        })
    }

    /// The history of boots as JSON: the newest `limit` boots (0: 20, at most
    /// 200) as `surface-check history --json` prints them, with `regressions` and
    /// `recoveries`: this boot against the earlier ones, as the daemon judged them
    /// last (empty until this boot is recorded).
    async fn get_history(&self, limit: u32) -> fdo::Result<String> {
        let _reader = self.shared.history.reader().ok_or_else(|| {
            fdo::Error::LimitsExceeded(format!(
                "{} GetHistory calls are being served already; call again",
                history::MAX_HISTORY_READERS
            ))
        })?;
        let shared = self.shared.clone();
        let doc = tokio::task::spawn_blocking(move || shared.history.get(limit))
            .await
            .map_err(|e| fdo::Error::Failed(format!("reading the history: {e}")))?
            .map_err(|e| fdo::Error::Failed(format!("reading the history: {e}")))?;
        serde_json::to_string_pretty(&doc)
            .map_err(|e| fdo::Error::Failed(format!("the history does not serialize: {e}")))
    }

    /// Makes this boot, as the report in place shows it, the history's baseline:
    /// later boots are compared with it and the boots after it, so that what it
    /// lacks is no longer a regression. Authorized by polkit (action
    /// `io.github.SurfaceCheck1.accept-baseline`) for the caller; interactive
    /// authentication when the call allows it.
    async fn accept_baseline(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<()> {
        let sender = header.sender().map(|s| s.to_string());
        let interactive = header
            .primary()
            .flags()
            .contains(zbus::message::Flags::AllowInteractiveAuth);
        polkit::authorize(
            conn,
            sender.as_deref(),
            polkit::Action::AcceptBaseline,
            interactive,
        )
        .await
        .map_err(|e| fdo::Error::AccessDenied(e.to_string()))?;
        let snap = self.shared.first().await;
        let Some(boot) = snap.boot.clone() else {
            return Err(fdo::Error::Failed(
                "this boot has no boot id: the history cannot record it".into(),
            ));
        };
        let shared = self.shared.clone();
        let id = boot.boot_id.clone();
        tokio::task::spawn_blocking(move || shared.history.accept(&boot))
            .await
            .map_err(|e| fdo::Error::Failed(format!("accepting the baseline: {e}")))?
            .map_err(|e| fdo::Error::Failed(format!("accepting the baseline: {e}")))?;
        tracing::info!(
            boot = %id,
            caller = sender.as_deref().unwrap_or("?"),
            "this boot is the history's baseline now"
        );
        Ok(())
    }

    /// A subsystem that worked on an earlier boot is degraded or failed on this
    /// one: its id, the earlier and the current kernel (`6.18.8 (generation 41)`),
    /// and the sentence naming what changed (`touch worked on ..., fails on ...:
    /// module ipts is missing from this kernel`). Sent once per regression, once
    /// this boot is recorded in the history.
    #[zbus(signal)]
    pub async fn regression_detected(
        emitter: &SignalEmitter<'_>,
        id: &str,
        previous_kernel: &str,
        current_kernel: &str,
        summary: &str,
    ) -> zbus::Result<()>;

    /// A subsystem's status changed: its id, the old and the new status, and the new
    /// summary.
    #[zbus(signal)]
    pub async fn subsystem_changed(
        emitter: &SignalEmitter<'_>,
        id: &str,
        old_status: &str,
        new_status: &str,
        summary: &str,
    ) -> zbus::Result<()>;

    /// This daemon's version.
    #[zbus(property(emits_changed_signal = "const"))]
    async fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    /// `surface-book-2-13`, `surface-book-2-15`, `surface-book-2`, `other` or
    /// `unknown`.
    #[zbus(property)]
    async fn model(&self) -> String {
        self.with(|s| s.model().to_string(), "unknown".into())
    }

    /// The running kernel's release; empty when it cannot be read.
    #[zbus(property)]
    async fn kernel_release(&self) -> String {
        self.with(|s| s.kernel_release().to_string(), String::new())
    }

    /// Whether the kernel carries the linux-surface patches: `yes`, `no` or
    /// `unknown`.
    #[zbus(property)]
    async fn surface_patches(&self) -> String {
        self.with(|s| s.surface_patches().to_string(), "unknown".into())
    }

    /// The worst status of all subsystems: `ok`, `degraded`, `failed`, `absent` or
    /// `unknown` (also before the first probe ends).
    #[zbus(property)]
    async fn overall(&self) -> String {
        self.with(|s| s.overall().to_string(), status_str(None))
    }

    /// Every subsystem: id, status, summary.
    #[zbus(property)]
    async fn subsystems(&self) -> Vec<(String, String, String)> {
        self.with(Snapshot::subsystems, Vec::new())
    }

    /// When the report in place was made (its probe ended), in microseconds since the
    /// epoch; 0 before the first. Changes with every probe, so it sends no
    /// PropertiesChanged: read it when needed.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn last_updated(&self) -> u64 {
        self.with(|s| s.updated_us, 0)
    }
}

/// The object served at [`OBJECT_PATH`]: [`Service`], with each method call's
/// arguments checked against the method's signature first, so that a call with
/// arguments of the wrong type or number gets `InvalidArgs` (zbus alone answers
/// its own error name, or ignores arguments a method does not take). The
/// signatures are read from [`Service`]'s own introspection: one definition.
#[derive(Debug, Clone)]
pub struct Object(pub Service);

impl Object {
    pub fn new(shared: Arc<Shared>) -> Object {
        Object(Service::new(shared))
    }
}

/// Each method's input signature, from the interface's introspection.
fn in_signatures() -> &'static std::collections::HashMap<String, String> {
    static SIGS: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    SIGS.get_or_init(|| {
        let xml = interface_xml();
        let mut map = std::collections::HashMap::new();
        for part in xml.split("<method name=\"").skip(1) {
            let Some((name, rest)) = part.split_once('"') else {
                continue;
            };
            let body = rest.split("</method>").next().unwrap_or_default();
            let sig: String = body
                .split("<arg ")
                .skip(1)
                .filter(|a| a.contains("direction=\"in\""))
                .filter_map(|a| a.split("type=\"").nth(1)?.split('"').next())
                .collect();
            map.insert(name.to_string(), sig);
        }
        map
    })
}

#[async_trait::async_trait]
impl zbus::object_server::Interface for Object {
    fn name() -> zbus::names::InterfaceName<'static> {
        <Service as zbus::object_server::Interface>::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.0.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &zbus::ObjectServer,
        connection: &zbus::Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<zbus::zvariant::OwnedValue>> {
        self.0
            .get(property_name, server, connection, header, emitter)
            .await
    }

    async fn get_all(
        &self,
        server: &zbus::ObjectServer,
        connection: &zbus::Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<std::collections::HashMap<String, zbus::zvariant::OwnedValue>> {
        self.0.get_all(server, connection, header, emitter).await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call zbus::zvariant::Value<'_>,
        server: &'call zbus::ObjectServer,
        connection: &'call zbus::Connection,
        header: Option<&'call zbus::message::Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        self.0
            .set(property_name, value, server, connection, header, emitter)
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &zbus::zvariant::Value<'_>,
        server: &zbus::ObjectServer,
        connection: &zbus::Connection,
        header: Option<&zbus::message::Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<()>> {
        self.0
            .set_mut(property_name, value, server, connection, header, emitter)
            .await
    }

    fn call<'call>(
        &'call self,
        server: &'call zbus::ObjectServer,
        connection: &'call zbus::Connection,
        msg: &'call zbus::Message,
        name: zbus::names::MemberName<'call>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        if let Some(want) = in_signatures().get(name.as_str()) {
            let body = msg.body();
            let got = body.signature().to_string();
            if &got != want {
                let text = format!(
                    "{name} takes ({want}), not ({})",
                    got.chars().take(64).collect::<String>()
                );
                return zbus::object_server::DispatchResult2::Async(Box::pin(async move {
                    Err(fdo::Error::InvalidArgs(text))
                }));
            }
        }
        self.0.call(server, connection, msg, name)
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call zbus::ObjectServer,
        connection: &'call zbus::Connection,
        msg: &'call zbus::Message,
        name: zbus::names::MemberName<'call>,
    ) -> zbus::object_server::DispatchResult2<'call> {
        self.0.call_mut(server, connection, msg, name)
    }

    fn introspect_to_writer(&self, writer: &mut dyn std::fmt::Write, level: usize) {
        self.0.introspect_to_writer(writer, level)
    }
}

/// The interface's introspection XML, as `dbus/io.github.SurfaceCheck1.xml` holds it.
pub fn interface_xml() -> String {
    use zbus::object_server::Interface;
    let svc = Service::new(Shared::new());
    let mut body = String::new();
    svc.introspect_to_writer(&mut body, 2);
    format!(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n\
         <!-- Generated from src/dbus/mod.rs by `cargo run --example gen-docs`. -->\n\
         <node name=\"{OBJECT_PATH}\">\n{body}</node>\n"
    )
}

/// Sends RegressionDetected for each of `regressions` from the object at
/// [`OBJECT_PATH`] on `conn`.
pub async fn emit_regressions(
    conn: &zbus::Connection,
    regressions: &[crate::history::diff::Regression],
) -> zbus::Result<()> {
    if regressions.is_empty() {
        return Ok(());
    }
    let iface = conn
        .object_server()
        .interface::<_, Object>(OBJECT_PATH)
        .await?;
    let e = iface.signal_emitter();
    for r in regressions {
        Service::regression_detected(
            e,
            &r.subsystem,
            &r.previous.to_string(),
            &r.current.to_string(),
            &r.to_string(),
        )
        .await?;
    }
    Ok(())
}

/// What changed between two reports: the signals to send, in order.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// `(id, old_status, new_status, summary)`, for each subsystem whose status
    /// changed (one that appears or disappears counts from or to `unknown`).
    pub subsystems: Vec<(String, String, String, String)>,
    pub model: bool,
    pub kernel_release: bool,
    pub surface_patches: bool,
    pub overall: bool,
    /// Any subsystem's id, status or summary.
    pub subsystems_property: bool,
}

impl Changes {
    pub fn between(old: Option<&Snapshot>, new: &Snapshot) -> Changes {
        let Some(old) = old else {
            // The first report: every property leaves its "unknown" value.
            return Changes {
                subsystems: new
                    .report
                    .subsystems
                    .iter()
                    .filter(|s| s.status != Status::Unknown)
                    .map(|s| {
                        (
                            s.id.clone(),
                            "unknown".into(),
                            s.status.to_string(),
                            s.summary.clone(),
                        )
                    })
                    .collect(),
                model: new.report.machine.model != "unknown",
                kernel_release: new.report.kernel.release.is_some(),
                surface_patches: new.surface_patches() != "unknown",
                overall: new.report.overall != Status::Unknown,
                subsystems_property: !new.report.subsystems.is_empty(),
            };
        };
        let mut subsystems = Vec::new();
        for s in &new.report.subsystems {
            let before = old.subsystem(&s.id).map(|o| o.status);
            if before != Some(s.status) {
                subsystems.push((
                    s.id.clone(),
                    status_str(before),
                    s.status.to_string(),
                    s.summary.clone(),
                ));
            }
        }
        for o in &old.report.subsystems {
            if new.subsystem(&o.id).is_none() && o.status != Status::Unknown {
                subsystems.push((
                    o.id.clone(),
                    o.status.to_string(),
                    "unknown".into(),
                    "no longer in the report".into(),
                ));
            }
        }
        Changes {
            subsystems,
            model: old.report.machine.model != new.report.machine.model,
            kernel_release: old.report.kernel.release != new.report.kernel.release,
            surface_patches: old.surface_patches() != new.surface_patches(),
            overall: old.report.overall != new.report.overall,
            subsystems_property: old.subsystems() != new.subsystems(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// Sends the signals for `changes` to `snap` from the object at [`OBJECT_PATH`] on
/// `conn`: one SubsystemChanged per subsystem whose status changed, then one
/// PropertiesChanged with every property whose value changed.
pub async fn emit(conn: &zbus::Connection, changes: &Changes, snap: &Snapshot) -> zbus::Result<()> {
    use zbus::zvariant::Value;
    if changes.is_empty() {
        return Ok(());
    }
    let iface = conn
        .object_server()
        .interface::<_, Object>(OBJECT_PATH)
        .await?;
    let e = iface.signal_emitter();
    for (id, old, new, summary) in &changes.subsystems {
        Service::subsystem_changed(e, id, old, new, summary).await?;
    }
    let mut changed: std::collections::HashMap<&str, Value<'_>> = Default::default();
    if changes.model {
        changed.insert(members::MODEL, Value::from(snap.model()));
    }
    if changes.kernel_release {
        changed.insert(members::KERNEL_RELEASE, Value::from(snap.kernel_release()));
    }
    if changes.surface_patches {
        changed.insert(
            members::SURFACE_PATCHES,
            Value::from(snap.surface_patches()),
        );
    }
    if changes.overall {
        changed.insert(members::OVERALL, Value::from(snap.overall()));
    }
    if changes.subsystems_property {
        changed.insert(members::SUBSYSTEMS, Value::new(snap.subsystems()));
    }
    if changed.is_empty() {
        return Ok(());
    }
    zbus::fdo::Properties::properties_changed(
        e,
        zbus::names::InterfaceName::from_static_str_unchecked(INTERFACE),
        changed,
        std::borrow::Cow::Borrowed(&[]),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;
    use crate::profiles::SURFACE_BOOK_2;

    fn snapshot(seq: u64) -> Snapshot {
        let facts = Facts::from_json(include_bytes!(
            "../../fuzz/seeds/facts_json/sb2-15-nixos.json"
        ))
        .expect("the seed capture reads");
        Snapshot::new(
            seq,
            crate::checks::diagnose(&facts, &SURFACE_BOOK_2, "test"),
            seq,
        )
    }

    fn set(s: &mut Snapshot, id: &str, status: Status, summary: &str) {
        let sub = s.report.subsystems.iter_mut().find(|x| x.id == id).unwrap();
        sub.status = status;
        sub.summary = summary.into();
    }

    #[test]
    fn the_same_report_changes_nothing_although_it_is_newer() {
        let (a, b) = (snapshot(1), snapshot(2));
        assert!(Changes::between(Some(&a), &b).is_empty());
    }

    #[test]
    fn a_status_change_is_a_signal_and_a_summary_change_only_a_property() {
        let a = snapshot(1);
        let mut b = snapshot(2);
        let touch_before = a.subsystem("touch").unwrap().status;
        set(&mut b, "touch", Status::Failed, "iptsd is not running");
        let battery_before = a.subsystem("battery").unwrap().status;
        let summary = a.subsystem("battery").unwrap().summary.clone() + " (again)";
        set(&mut b, "battery", battery_before, &summary);
        b.report.overall = Status::Failed;
        let c = Changes::between(Some(&a), &b);
        assert_eq!(
            c.subsystems,
            vec![(
                "touch".to_string(),
                touch_before.to_string(),
                "failed".to_string(),
                "iptsd is not running".to_string()
            )]
        );
        assert!(c.overall && c.subsystems_property);
        assert!(!c.model && !c.kernel_release && !c.surface_patches);
    }

    #[test]
    fn the_first_report_announces_every_known_subsystem() {
        let b = snapshot(1);
        let c = Changes::between(None, &b);
        assert_eq!(c.subsystems.len(), b.report.subsystems.len());
        assert!(c.subsystems.iter().all(|(_, old, _, _)| old == "unknown"));
        assert!(c.overall && c.subsystems_property && c.model);
    }

    #[test]
    fn a_subsystem_that_disappears_goes_to_unknown() {
        let a = snapshot(1);
        let mut b = snapshot(2);
        b.report.subsystems.retain(|s| s.id != "camera");
        let c = Changes::between(Some(&a), &b);
        assert_eq!(c.subsystems.len(), 1);
        assert_eq!(c.subsystems[0].0, "camera");
        assert_eq!(c.subsystems[0].2, "unknown");
    }

    #[test]
    fn the_interface_xml_names_every_member_the_client_calls() {
        let xml = interface_xml();
        for (name, kind, _) in members::ALL {
            assert!(
                xml.contains(&format!("<{kind} name=\"{name}\"")),
                "{kind} {name} missing"
            );
        }
    }

    #[tokio::test]
    async fn refresh_callers_beyond_the_limit_are_refused_and_the_rest_share_a_probe() {
        let shared = Shared::new();
        let mut waiting = Vec::new();
        for _ in 0..MAX_WAITING_REFRESH {
            let s = shared.clone();
            waiting.push(tokio::spawn(
                async move { s.refresh().await.map(|s| s.seq) },
            ));
        }
        // Let every caller register.
        while shared.waiting.load(Ordering::SeqCst) < MAX_WAITING_REFRESH {
            tokio::task::yield_now().await;
        }
        let refused = shared.refresh().await;
        assert!(
            matches!(refused, Err(fdo::Error::LimitsExceeded(_))),
            "{refused:?}"
        );
        // One probe answers them all.
        let seq = shared.start_probe();
        shared.publish(Arc::new(snapshot(seq)));
        shared.announced(seq);
        for w in waiting {
            assert_eq!(w.await.unwrap().unwrap(), 1);
        }
        assert_eq!(shared.waiting.load(Ordering::SeqCst), 0);
    }
}
