//! `surface-checkd`: keeps the report current and publishes it on D-Bus
//! ([`crate::dbus`]).
//!
//! Event-driven, never polling: a probe runs at start-up, on a Refresh call, and after
//! an event (a udev uevent of a watched subsystem, a DTX event, a resume from logind's
//! `PrepareForSleep(false)`). Events are debounced: a burst (a base attach sends
//! hundreds of uevents) gives one probe once the events have been quiet for the
//! debounce interval, or at most [`MAX_DEBOUNCE`] after the first. Probes are at least
//! [`Options::min_interval`] apart, and a Refresh call made while one waits shares it;
//! the call returns once the probe's report is in place and its signals are sent. An
//! event's probe is followed by one more [`SETTLE`] later, for what udevd's rules
//! write and start after the kernel's uevent (the udev database, iptsd).
//! While idle nothing wakes: the udev and DTX listeners block in `poll` on their own
//! threads, the runtime sleeps on its sockets.
//!
//! A probe runs on a blocking thread under the root's read watchdog and deadline, so
//! the bus keeps answering (from the report in place) while it runs. Each probe's
//! report is compared with the one before; only real changes are signalled.
//!
//! The bus connection is remade when it drops (the bus restarted), after 0.25 s,
//! doubling to 5 s; the first connection failing is an error at start-up.

pub mod events;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};
use zbus::Connection;
use zbus::message::Type as MessageType;

use crate::cli::RootArgs;
use crate::dbus::client::Bus;
use crate::dbus::{BUS_NAME, Changes, OBJECT_PATH, Object, Shared, Snapshot};

/// The longest a burst of events delays its probe.
pub const MAX_DEBOUNCE: Duration = Duration::from_secs(2);

/// After an event's probe, the daemon probes once more this much later: the
/// kernel's uevent comes before udevd's rules ran, and what they write (the udev
/// database) and start (iptsd for a new touch device, through systemd) would be
/// missing from a verdict that stands until the next event.
pub const SETTLE: Duration = Duration::from_secs(3);

/// Why a probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    Start,
    Refresh,
    /// A uevent of this subsystem.
    Udev(String),
    Dtx,
    Resume,
    /// [`SETTLE`] after an event's probe.
    Settle,
    /// The bus connection was made (again): what could not be announced while
    /// there was none is announced now.
    Connected,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Start => f.write_str("start"),
            Cause::Refresh => f.write_str("refresh"),
            Cause::Udev(s) => write!(f, "udev:{s}"),
            Cause::Dtx => f.write_str("dtx"),
            Cause::Resume => f.write_str("resume"),
            Cause::Settle => f.write_str("settle"),
            Cause::Connected => f.write_str("connected"),
        }
    }
}

/// `surface-checkd`'s command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "surface-checkd",
    version,
    about = "Keep the Surface Book 2's hardware report current and publish it on D-Bus",
    long_about = "Keeps the report of `surface-check status` current and publishes it on D-Bus as \
io.github.SurfaceCheck1 (docs/dbus-api.md), with a signal when a subsystem's status changes.\n\n\
Probes at start-up, on a Refresh call, and after uevents (input, hid, video4linux, media, \
power_supply, hidraw, mei, usb, pci, platform, surface_aggregator, module), DTX events and resume \
from sleep, then once more 3 s after an event's probe (what udev's rules start comes after the \
uevent); never on a timer. Runs on the system bus (DBUS_SYSTEM_BUS_ADDRESS when set), or on the \
session bus with --session to try it without installing anything.\n\n\
Logs to standard error (SURFACE_CHECK_LOG=debug for each probe and its cause). Exits 0 on \
SIGTERM or SIGINT, 2 on an error at start-up."
)]
pub struct Args {
    #[command(flatten)]
    pub source: RootArgs,
    /// Serve on the session bus instead of the system bus.
    #[arg(long)]
    pub session: bool,
    /// Probe once events have been quiet this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub debounce: u64,
    /// Start probes at least this many milliseconds apart (Refresh calls made
    /// meanwhile share the next one).
    #[arg(long, value_name = "MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub min_interval: u64,
    /// The directory of the history database (default: $STATE_DIRECTORY, as
    /// systemd's StateDirectory= sets it, else /var/lib/surface-check): regressions
    /// are judged against it, AcceptBaseline writes it.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,
}

impl Args {
    pub fn options(&self) -> Options {
        Options {
            source: self.source.clone(),
            bus: Bus::from_session_flag(self.session),
            debounce: Duration::from_millis(self.debounce),
            min_interval: Duration::from_millis(self.min_interval),
            state_dir: self
                .state_dir
                .clone()
                .unwrap_or_else(crate::history::store::state_dir),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub source: RootArgs,
    pub bus: Bus,
    /// Quiet time after the last event before the probe.
    pub debounce: Duration,
    /// Least time between the starts of two probes.
    pub min_interval: Duration,
    /// The history's directory.
    pub state_dir: std::path::PathBuf,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: Options) -> Result<()> {
    // One thread runs the bus and the probe loop; probes run on the blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_keep_alive(Duration::from_secs(1))
        .build()
        .context("starting the runtime")?;
    let r = rt.block_on(serve(opts));
    // A probe stuck in a read (its worker cut off by the watchdog) must not hold
    // the exit: blocking threads get a moment, then the process ends.
    rt.shutdown_timeout(Duration::from_secs(2));
    r
}

async fn serve(opts: Options) -> Result<()> {
    // Before anything else: SIGTERM during start-up stops it cleanly too.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("handling SIGTERM")?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("handling SIGINT")?;
    // A root that cannot be opened is an error now, not a report later.
    crate::root::Root::open(&opts.source.root)
        .with_context(|| format!("opening the root {}", opts.source.root.display()))?;
    let shared = Shared::with_state_dir(opts.state_dir.clone());
    let (events_tx, events_rx) = mpsc::channel::<Cause>(256);
    let (conn_tx, conn_rx) = watch::channel::<Option<Connection>>(None);

    // On the bus first (no bus is an error at once), then the first report, then
    // the name: a client that sees the name finds a report, never a placeholder.
    // The probe is bounded by its deadline.
    let first = connect_bus(&opts, &shared).await?;
    let live = opts.source.root == std::path::Path::new("/");
    if live {
        events::start_udev(events_tx.clone());
    } else {
        debug!("not the live root: no udev or DTX events (a resume still re-probes)");
    }
    let mut prober = tokio::spawn(probe_loop(
        opts.clone(),
        shared.clone(),
        events_rx,
        events_tx.clone(),
        conn_rx,
    ));
    tokio::select! {
        // The first report in place and judged against the history: GetHistory
        // answers from it once the name is ours.
        _ = shared.wait_announced(1) => {}
        r = &mut prober => return match r { Ok(r) => r, Err(e) => Err(e.into()) },
        _ = term.recv() => { info!("SIGTERM: stopping"); return Ok(()) }
        _ = int.recv() => { info!("SIGINT: stopping"); return Ok(()) }
    }
    take_name(&opts, &first).await?;
    info!(
        bus = opts.bus.name(),
        root = %opts.source.root.display(),
        "surface-checkd {} serving {BUS_NAME}",
        env!("CARGO_PKG_VERSION")
    );
    let bus = tokio::spawn(keep_connected(
        opts.clone(),
        shared.clone(),
        first,
        conn_tx,
        events_tx.clone(),
    ));

    let stop = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        r = prober => { return match r { Ok(r) => r, Err(e) => Err(e.into()) } }
        r = bus => { return match r { Ok(r) => r, Err(e) => Err(e.into()) } }
    };
    info!("{stop}: stopping");
    Ok(())
}

/// Connects to the bus and serves the object, without the name yet.
async fn connect_bus(opts: &Options, shared: &Arc<Shared>) -> Result<Connection> {
    let builder = match opts.bus {
        Bus::System => zbus::connection::Builder::system(),
        Bus::Session => zbus::connection::Builder::session(),
    }
    .with_context(|| format!("finding the {}", opts.bus.name()))?;
    builder
        .serve_at(OBJECT_PATH, Object::new(shared.clone()))?
        .build()
        .await
        .with_context(|| format!("connecting to the {}", opts.bus.name()))
}

/// Takes the name, not queued behind another owner: a second daemon fails at once.
async fn take_name(opts: &Options, conn: &Connection) -> Result<()> {
    let taking = || format!("taking the name {BUS_NAME} on the {}", opts.bus.name());
    match conn
        .request_name_with_flags(BUS_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into())
        .await
    {
        Ok(
            zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner,
        ) => Ok(()),
        Ok(_) | Err(zbus::Error::NameTaken) => anyhow::bail!(
            "{}: another process owns it; is surface-checkd running already?",
            taking()
        ),
        Err(e) => Err(anyhow::Error::new(e).context(taking())),
    }
}

/// Connects, serves the object and takes the name.
async fn connect(opts: &Options, shared: &Arc<Shared>) -> Result<Connection> {
    let conn = connect_bus(opts, shared).await?;
    take_name(opts, &conn).await?;
    Ok(conn)
}

/// Waits until `conn` drops or loses the name.
async fn lost(conn: &Connection) {
    let rule = zbus::MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender("org.freedesktop.DBus")
        .and_then(|b| b.interface("org.freedesktop.DBus"))
        .and_then(|b| b.member("NameLost"))
        .map(|b| b.build());
    let rule = match rule {
        Ok(r) => r,
        Err(e) => {
            error!("cannot watch the bus connection: {e}");
            return std::future::pending().await;
        }
    };
    let mut stream = match zbus::MessageStream::for_match_rule(rule, conn, Some(8)).await {
        Ok(s) => s,
        Err(e) => {
            warn!("cannot watch the bus connection: {e}");
            return;
        }
    };
    while let Some(m) = stream.next().await {
        match m {
            Ok(m) => {
                if m.body()
                    .deserialize::<String>()
                    .is_ok_and(|n| n == BUS_NAME)
                {
                    warn!("lost the name {BUS_NAME}");
                    return;
                }
            }
            Err(e) => {
                warn!("the bus connection dropped: {e}");
                return;
            }
        }
    }
}

/// Keeps the service on the bus: remakes the connection when it drops. Listens on
/// each connection of the system bus for logind's resume (on any root: a captured
/// tree is probed again too, which is harmless).
async fn keep_connected(
    opts: Options,
    shared: Arc<Shared>,
    first: Connection,
    conn_tx: watch::Sender<Option<Connection>>,
    resume_tx: mpsc::Sender<Cause>,
) -> Result<()> {
    let mut conn = Some(first);
    let mut backoff = Duration::from_millis(250);
    // logind is on the system bus; a daemon on the session bus asks it separately.
    if opts.bus == Bus::Session {
        let tx = resume_tx.clone();
        tokio::spawn(async move {
            match crate::dbus::client::connect(Bus::System).await {
                Ok(c) => events::resume(&c, tx).await,
                Err(e) => debug!("no system bus for logind's resume signal: {e}"),
            }
        });
    }
    loop {
        if let Some(c) = conn.take() {
            backoff = Duration::from_millis(250);
            conn_tx.send_replace(Some(c.clone()));
            // Regressions judged while there was no connection (the first probe
            // runs before it is handed over) are announced by a probe now.
            if shared.history.pending() {
                let _ = resume_tx.try_send(Cause::Connected);
            }
            let resume = (opts.bus == Bus::System)
                .then(|| tokio::spawn(events::resume_owned(c.clone(), resume_tx.clone())));
            lost(&c).await;
            conn_tx.send_replace(None);
            if let Some(r) = resume {
                r.abort();
            }
            drop(c);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
        match connect(&opts, &shared).await {
            Ok(c) => {
                info!("back on the {} as {BUS_NAME}", opts.bus.name());
                conn = Some(c);
            }
            Err(e) => warn!(
                "{}; trying again in {backoff:?}",
                crate::cli::logging::message(&e)
            ),
        }
    }
}

/// What one probe gives: the report, and this boot as the history would record it.
struct Probed {
    report: crate::report::Report,
    boot: Option<crate::history::BootRecord>,
}

/// Probes once on a blocking thread.
async fn probe(opts: &Options) -> Result<Probed> {
    let source = opts.source.clone();
    // The probe ends by its own deadline; this is a guard against a bug, generous.
    let limit = Duration::from_millis(opts.source.deadline) + Duration::from_secs(10);
    let work = move || -> Result<Probed> {
        let facts = crate::cli::collect(&source)?;
        let report = crate::checks::diagnose(
            &facts,
            &crate::profiles::SURFACE_BOOK_2,
            &source.root.display().to_string(),
        );
        let boot = crate::history::BootRecord::from_facts(
            &facts,
            report.clone(),
            now_us(),
            &crate::profiles::SURFACE_BOOK_2,
        )
        .map_err(|why| debug!("no history record: {why}"))
        .ok();
        Ok(Probed { report, boot })
    };
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(anyhow::anyhow!("the probe stopped: {e}")),
        Err(_) => Err(anyhow::anyhow!("the probe did not end within {limit:?}")),
    }
}

/// Judges this boot against the history (once it is recorded there) and sends
/// RegressionDetected for each regression not announced yet.
async fn regressions(shared: &Arc<Shared>, snap: &Arc<Snapshot>, conn: Option<&Connection>) {
    let Some(boot) = snap.boot.clone() else {
        return;
    };
    let s = shared.clone();
    let new = match tokio::task::spawn_blocking(move || s.history.assess(&boot)).await {
        Ok(Ok(new)) => new,
        Ok(Err(e)) => {
            warn!(
                "the history in {} cannot be read: {e}; no regressions are judged",
                shared.history.dir().display()
            );
            return;
        }
        Err(e) => {
            warn!("judging regressions stopped: {e}");
            return;
        }
    };
    for r in &new {
        warn!(subsystem = %r.subsystem, "regression: {r}");
    }
    match conn {
        Some(conn) => {
            if let Err(e) = crate::dbus::emit_regressions(conn, &new).await {
                warn!("sending RegressionDetected: {e}; the next probe sends it again");
                shared.history.unannounce(&new);
            }
        }
        // No bus now (it is being reconnected): the next probe announces them.
        None => shared.history.unannounce(&new),
    }
}

/// Probes at start-up and then on every Refresh or event, and publishes each report.
async fn probe_loop(
    opts: Options,
    shared: Arc<Shared>,
    mut events_rx: mpsc::Receiver<Cause>,
    // Kept so that the channel never closes (a closed channel would make `recv`
    // ready at once, a busy loop).
    events_tx: mpsc::Sender<Cause>,
    conn_rx: watch::Receiver<Option<Connection>>,
) -> Result<()> {
    let live = opts.source.root == std::path::Path::new("/");
    let mut dtx: Option<std::thread::JoinHandle<()>> = None;
    let mut cause = Cause::Start;
    let mut last_start: Option<Instant> = None;
    let mut settle: Option<tokio::time::Instant> = None;
    loop {
        if let Some(t) = last_start {
            tokio::time::sleep_until((t + opts.min_interval).into()).await;
        }
        let seq = shared.start_probe();
        let started = Instant::now();
        last_start = Some(started);
        debug!(seq, cause = %cause, "probe");
        match probe(&opts).await {
            Ok(Probed { report, boot }) => {
                let snap = Arc::new(Snapshot::new(seq, report, now_us()).with_boot(boot));
                let old = shared.publish(snap.clone());
                let changes = Changes::between(old.as_deref(), &snap);
                debug!(
                    seq,
                    took_ms = started.elapsed().as_millis() as u64,
                    changed = changes.subsystems.len(),
                    "report in place"
                );
                for (id, old, new, summary) in &changes.subsystems {
                    if old != "unknown" || seq > 1 {
                        info!(subsystem = %id, old = %old, new = %new, "{id}: {old} -> {new}: {summary}");
                    }
                }
                let conn = conn_rx.borrow().clone();
                if let Some(conn) = &conn
                    && let Err(e) = crate::dbus::emit(conn, &changes, &snap).await
                {
                    warn!("sending the change signals: {e}");
                }
                regressions(&shared, &snap, conn.as_ref()).await;
                shared.announced(seq);
            }
            Err(e) if seq == 1 => return Err(e.context("the first probe")),
            Err(e) => {
                error!("{e:#}; the report in place stays");
                // Refresh calls waiting for this probe get the report in place.
                if let Some(old) = shared.current() {
                    shared.publish(Arc::new(
                        Snapshot::new(seq, old.report.clone(), old.updated_us)
                            .with_boot(old.boot.clone()),
                    ));
                }
                shared.announced(seq);
            }
        }
        // An event's probe (re)arms the settle probe; the settle probe ends it;
        // a Refresh meanwhile leaves it due.
        match cause {
            Cause::Udev(_) | Cause::Dtx | Cause::Resume => {
                settle = Some(tokio::time::Instant::now() + SETTLE)
            }
            Cause::Settle => settle = None,
            Cause::Start | Cause::Refresh | Cause::Connected => {}
        }
        // The DTX device may appear later (its module loaded after start-up).
        if live && dtx.as_ref().is_none_or(|h| h.is_finished()) {
            dtx = events::start_dtx(&opts.source.root, events_tx.clone());
        }
        cause = next_cause(&opts, &shared, &mut events_rx, settle).await;
    }
}

/// Waits for the next reason to probe: a Refresh call at once, an event once events
/// have been quiet for the debounce interval (at most [`MAX_DEBOUNCE`]), or the
/// settle time when one is due.
async fn next_cause(
    opts: &Options,
    shared: &Shared,
    events_rx: &mut mpsc::Receiver<Cause>,
    settle: Option<tokio::time::Instant>,
) -> Cause {
    let first = tokio::select! {
        _ = shared.wait_for_refresh() => return Cause::Refresh,
        Some(c) = events_rx.recv() => c,
        _ = tokio::time::sleep_until(settle.unwrap_or_else(tokio::time::Instant::now)),
            if settle.is_some() => return Cause::Settle,
    };
    let until = tokio::time::Instant::now() + MAX_DEBOUNCE;
    let mut n = 1u32;
    loop {
        let quiet = (tokio::time::Instant::now() + opts.debounce).min(until);
        tokio::select! {
            // The probe serves the Refresh call and the event both: it counts as
            // the event's (its settle probe follows).
            _ = shared.wait_for_refresh() => return first,
            Some(_) = events_rx.recv() => n += 1,
            _ = tokio::time::sleep_until(quiet) => break,
        }
    }
    if n > 1 {
        debug!(events = n, first = %first, "debounced");
    }
    first
}
