//! The `surface-check` command line: arguments, commands, exit codes.
//!
//! Exit codes: 0 when no subsystem is degraded or failed, 1 when one is, 2 on a
//! usage or runtime error.

pub(crate) mod atomic;
pub mod bundle;
pub mod follow;
pub mod history;
pub mod journal;
pub mod kernel;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod render;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checks;
use crate::facts::{self, Facts};
use crate::profiles::SURFACE_BOOK_2;
use crate::report::Report;
use crate::root::{Limits, Root};

/// Exit code for usage and runtime errors.
pub const EXIT_ERROR: i32 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "surface-check",
    version,
    about = "Check whether the running kernel really enabled the Surface Book 2's hardware",
    long_about = "Probes the touchscreen and pen (IPTS), cameras (IPU3), batteries and AC, clipboard detach (DTX), \
keyboard, touchpad, buttons and switches, correlates them with the loaded modules, the kernel config and the \
linux-surface patch set, and names the first broken link of each with a fix.\n\n\
Without a command, runs `status` on this machine.\n\n\
Exit status: 0 when nothing is degraded or failed, 1 when something is, 2 on a usage or runtime error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose this machine, a captured root tree, or a capture file.
    Status(StatusArgs),
    /// Print the documentation of one check.
    Explain {
        /// Check id, e.g. `touch.iptsd` (see `surface-check checks`).
        id: String,
    },
    /// List every check.
    Checks {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write this machine's facts as JSON, with serial numbers, MAC addresses, UUIDs,
    /// host and user names redacted, for `status --from` elsewhere.
    Capture {
        /// Write to FILE instead of standard output (`-`: standard output).
        ///
        /// A regular file is replaced atomically and gets mode 0600 (a capture holds
        /// redacted but personal data); a FIFO or a character device (a terminal,
        /// `/dev/null`) is written through, never replaced; a symbolic link, a
        /// directory or a path ending in `/` is refused.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        source: RootArgs,
    },
    /// Ask you to use a device (touch, pen, keyboard, buttons, lid, detach, camera)
    /// and report what it sent.
    #[command(
        long_about = "Ask you to use a device and report what it sent: what arrived and \
what did not.\n\n\
Runs on this machine only (the devices must be live). Prints what to do and a countdown, listens \
to the device's events until what the test asks for arrived or the timeout passed, then says \
what arrived. `test camera` asks libcamera's `cam` for the cameras and captures one frame from \
each.\n\n\
Once the devices are open, one line per device goes to standard error, all at once: \
`surface-check: listening on /dev/input/eventN (NAME)`; a script injecting events waits for it.\n\n\
Exit status: 0 when everything asked for arrived, 1 when something did not (timeout, or \
interrupted with Ctrl-C), 2 when the test could not run (no such device, permission denied, \
the device went away)."
    )]
    Test(TestArgs),
    /// Follow surface-checkd's changes live: one line per change.
    #[command(
        long_about = "Follow surface-checkd's changes live: one line per change.\n\n\
Prints the subsystems' states once subscribed, then a line for each SubsystemChanged signal, each \
change of the overall status, and the daemon's coming and going, until interrupted. Needs \
surface-checkd (D-Bus starts it when it is installed).\n\n\
With --json, each line is one JSON object: `{\"event\":\"connected\",...}`, \
`{\"event\":\"SubsystemChanged\",\"id\":...,\"old_status\":...,\"new_status\":...,\"summary\":...}`, \
`{\"event\":\"PropertiesChanged\",\"changed\":{...}}`, `{\"event\":\"daemon\",\"running\":...}`."
    )]
    Watch {
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        bus: BusArgs,
    },
    /// Stream JSON lines for a waybar or i3status-rust custom module.
    #[command(
        long_about = "Stream JSON lines for a waybar (or i3status-rust) custom module: \
`{\"text\",\"alt\",\"tooltip\",\"class\"}`, one line at start and one whenever surface-checkd \
announces a change. `class` and `alt` are the overall status (ok, degraded, failed, absent, \
unknown); the text names what is broken. While the daemon is not running it says so and waits \
for it. See docs/desktop.md for a waybar configuration."
    )]
    Waybar {
        #[command(flatten)]
        bus: BusArgs,
    },
    /// Record this boot in the history and name what broke since an earlier boot.
    #[command(
        long_about = "Record this boot in the history and name what broke since an earlier boot.\n\n\
Takes the report as `status` does (from surface-checkd, or probed here with --local, --root or \
--dmesg), records it under this boot's id (once per boot: a second run updates the record) and \
compares it with the boots before, back to the baseline (`history --accept`). A subsystem that \
worked on an earlier boot and is degraded or failed now is a regression, named with both kernels \
and what changed between them: `touch worked on 6.18.8 (generation 41), fails on 6.19.8 \
(generation 42): module ipts is missing from this kernel`. Regressions and recoveries also go to \
the journal (`journalctl MESSAGE_ID=cea4bddb88e1c94b01a8ee4aaa5435f6`). \
surface-check-report.timer runs it after boot and after resume.\n\n\
Exit status: 0 when there is no regression, 1 when there is one, 2 on an error (the history \
cannot be opened or written, this boot has no boot id)."
    )]
    Report(history::ReportArgs),
    /// List the boots recorded, a status per subsystem, the changes marked.
    #[command(
        long_about = "List the boots recorded, newest first: boot id, when, kernel and NixOS \
generation, a status per subsystem, and what changed since the boot before; the baseline is \
marked. Reading never creates the history.\n\n\
With --accept, makes this boot the baseline: later reports compare with it and the boots after \
it only, so that what it lacks is no longer reported as a regression. Without --state-dir it asks \
surface-checkd (AcceptBaseline, which polkit authorizes: an administrator's password), which \
records this boot as it sees it now; when no daemon runs, the newest recorded boot becomes the \
baseline here."
    )]
    History(history::HistoryArgs),
    /// Show what differs between two recorded boots.
    Diff(history::DiffArgs),
    /// Turn surface-checkd's regressions into desktop notifications (run as a
    /// systemd user unit).
    #[command(
        long_about = "Turn surface-checkd's regressions into desktop notifications: one org.freedesktop.Notifications notification per regression, titled with the subsystem and the kernel, the sentence naming what changed and the fix as its body.\n\nAt start, on each RegressionDetected signal and whenever the daemon (re)takes its name, reads the daemon's regressions (GetHistory) and notifies those not notified yet; what was notified is kept in $XDG_STATE_HOME/surface-check/notified.json, so logging in again does not repeat it. Follows the daemon until interrupted, and exits with status 2 when a notification cannot be sent (its unit starts it again); with --once, notifies what is known now and exits. Runs in the desktop session: `systemctl --user enable --now surface-check-notify`."
    )]
    Notify(notify::NotifyArgs),
    /// Judge a kernel before booting it: the running one, a NixOS generation, a tree
    /// or a package.
    Kernel(kernel::KernelArgs),
    /// Write one redacted archive for a bug report.
    #[command(
        long_about = "Write one redacted archive for a bug report (.tar.gz): report.json (the report \
of the redacted facts, as `status --from facts.json --json` prints it), facts.json (the facts, redacted as `capture` redacts them), \
kernel-log.txt (this boot's kernel messages naming surface, ssam, ipts, ipu3, ov5693, ov8865, \
ov7251, int3472, dtx or mwifiex), modules.txt (the loaded modules), services.txt (iptsd and \
surface-dtx-daemon), history.json (the history's last 10 boots) and MANIFEST.txt (what each file \
is, what was redacted and how many of each kind).\n\n\
Serial numbers, MAC addresses, UUIDs (boot ids, file-system UUIDs, the machine id), host and user \
names, home directories, IP addresses and Wi-Fi network names are replaced by markers (`<mac>`, \
`<ip>`, `<ssid>`, ...) in every file. --review lists every file and every field (JSON: each key \
path and value; text: each line) before anything is written.\n\n\
Exit status: 0 when the archive was written (or --review listed it and it was not wanted), 2 on \
an error."
    )]
    Bundle(bundle::BundleArgs),
    /// Write Prometheus metrics for node_exporter's textfile collector.
    #[command(
        long_about = "Write Prometheus metrics for node_exporter's textfile collector: a status \
per subsystem, the linux-surface patch verdict, the running kernel, and this boot's regressions \
against the history (read only: nothing is recorded).\n\n\
Takes the report as `status` does (from surface-checkd, or probed here with --local, --root or \
--dmesg). Without --textfile, prints the metrics; with --textfile DIR, replaces \
DIR/surface_check.prom atomically (mode 0644). See docs/fleet.md.\n\n\
Exit status: 0 when the metrics were written, whatever the machine's state (the metrics carry \
it); 2 on an error."
    )]
    Metrics(metrics::MetricsArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct BusArgs {
    /// Talk to a surface-checkd on the session bus (`surface-checkd --session`)
    /// instead of the system bus.
    #[arg(long)]
    pub session: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// What to test.
    #[arg(value_enum)]
    pub test: crate::livetest::TestName,
    /// Stop listening after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Print the result as one JSON object on standard output (the prompt and the
    /// countdown go to standard error).
    #[arg(long)]
    pub json: bool,
    /// `buttons`: ask for the power button too (it may suspend the machine).
    #[arg(long)]
    pub power: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RootArgs {
    /// Read a captured tree instead of `/` (paths resolve inside it as under chroot).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Give up on a read that blocks longer than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub read_timeout: u64,
    /// End the whole probe after this many milliseconds: reads not made by then are
    /// reported unknown (a healthy machine takes a few milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub deadline: u64,
    /// Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a
    /// hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no
    /// kernel log without it.
    #[arg(long, value_name = "FILE")]
    pub dmesg: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Probe in this process, not through surface-checkd. Without it, `status` on `/`
    /// asks the daemon when it runs (or D-Bus can start it) and probes here otherwise;
    /// --root, --from and --dmesg always probe here.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub bus: BusArgs,
    #[command(flatten)]
    pub source: RootArgs,
    /// Diagnose a capture file written by `surface-check capture`.
    ///
    /// Any kind of file up to 64 MiB: a regular file, `/dev/stdin`, a pipe or a FIFO.
    /// Reading gives up when nothing comes for 10 s (a FIFO with no writer) or after
    /// 60 s in all.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "dmesg"])]
    pub from: Option<PathBuf>,
    /// Print the report as JSON (schema: docs/report-schema.json).
    #[arg(long)]
    pub json: bool,
    /// Show every check, not only the broken links.
    #[arg(short, long)]
    pub verbose: bool,
    /// When to use colour: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl Default for StatusArgs {
    fn default() -> Self {
        StatusArgs {
            local: false,
            bus: BusArgs::default(),
            source: RootArgs {
                root: "/".into(),
                read_timeout: 1500,
                deadline: 10_000,
                dmesg: None,
            },
            from: None,
            json: false,
            verbose: false,
            color: ColorWhen::Auto,
        }
    }
}

/// Runs the CLI and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    // Buffered: the JSON report is hundreds of lines, and a locked stdout alone
    // writes each line with its own syscall. Dropped on an error, it still flushes
    // what was written before the error message goes to stderr.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let code = run_to(cli, &mut out)?;
    out.flush()?;
    Ok(code)
}

fn run_to(cli: Cli, mut out: &mut impl Write) -> Result<i32> {
    match cli
        .command
        .unwrap_or(Command::Status(StatusArgs::default()))
    {
        Command::Status(a) => status(&a, out),
        Command::Explain { id } => match checks::find(&id) {
            Some(_) => {
                write!(out, "{}", crate::docs::explain(&id).unwrap_or_default())?;
                Ok(0)
            }
            None => bail!("no check named {id:?}; `surface-check checks` lists them"),
        },
        Command::Checks { json } => {
            if json {
                serde_json::to_writer_pretty(&mut out, &crate::docs::checks_json())?;
                writeln!(out)?;
            } else {
                write!(out, "{}", crate::docs::checks_list())?;
            }
            Ok(0)
        }
        Command::Watch { json, bus } => follow::watch(bus.bus(), json, out),
        Command::Waybar { bus } => follow::waybar(bus.bus(), out),
        Command::Report(a) => history::report(&a, out),
        Command::History(a) => history::history(&a, out),
        Command::Diff(a) => history::diff(&a, out),
        Command::Kernel(a) => kernel::run(&a, out),
        Command::Notify(a) => notify::run(&a, out),
        Command::Bundle(a) => bundle::run(&a, out),
        Command::Metrics(a) => metrics::run(&a, out),
        Command::Test(a) => {
            if a.power && a.test != crate::livetest::TestName::Buttons {
                bail!("--power is for `test buttons` only");
            }
            crate::livetest::run(
                &crate::livetest::Options {
                    test: a.test,
                    timeout: Duration::from_secs(a.timeout),
                    json: a.json,
                    power: a.power,
                },
                out,
            )
        }
        Command::Capture { output, source } => {
            // Where the capture goes is checked before the probe: a directory or a
            // link fails at once, not after seconds of collection.
            let sink = output.as_deref().map(Sink::resolve).transpose()?;
            let root = open_root(&source)?;
            let facts = collect_in(&root, &source)?;
            // The host and user names are read from the same root under the same
            // watchdog as every other read: a FIFO at `etc/hostname` is cut off.
            let id = root
                .run_watched(facts::identity::read)
                .context("reading the host and user names")?;
            if id.hostname.is_none() {
                tracing::debug!("no host name readable; none to redact");
            }
            let redacted =
                facts::redact::redact_with_users(&facts, id.hostname.as_deref(), &id.users)
                    .context("redacting the facts")?;
            let mut json = serde_json::to_string_pretty(&redacted)?;
            json.push('\n');
            match sink {
                Some(sink) => sink.write(out, json.as_bytes())?,
                None => out.write_all(json.as_bytes())?,
            }
            Ok(0)
        }
    }
}

/// Opens the root a command reads, with its read timeout.
pub(crate) fn open_root(source: &RootArgs) -> Result<Root> {
    let limits = Limits {
        read_timeout: Duration::from_millis(source.read_timeout.max(1)),
        deadline: Duration::from_millis(source.deadline.max(1)),
        ..Limits::default()
    };
    // The error names the root and the cause already ("cannot open root X: ...").
    Ok(Root::with_limits(&source.root, limits)?)
}

/// Collects facts from a root under the read watchdog.
pub fn collect(source: &RootArgs) -> Result<Facts> {
    collect_in(&open_root(source)?, source)
}

/// [`collect`] from a root already open.
fn collect_in(root: &Root, source: &RootArgs) -> Result<Facts> {
    // A `--dmesg` file that cannot be used is an error, not an unknown fact: the
    // person named it.
    let kernel_log = match &source.dmesg {
        Some(p) => Some(facts::Fact::Ok(
            facts::kmsg::read_file(p, SURFACE_BOOK_2.log_needles)
                .context("reading the --dmesg file")?,
        )),
        None => None,
    };
    let facts = facts::collect_with_log(root, &SURFACE_BOOK_2, kernel_log)
        .with_context(|| format!("collecting facts from {}", source.root.display()))?;
    Ok(facts)
}

/// The largest capture `--from` reads. `capture` writes well under it.
pub const MAX_CAPTURE: u64 = 64 << 20;

/// `--from` gives up when its file sends nothing for this long (a FIFO with no
/// writer, a stalled pipe).
pub const CAPTURE_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// `--from` gives up when reading its file takes longer than this in all.
pub const CAPTURE_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads a capture file, refusing other facts versions and oversized files.
///
/// Every kind of file is read through the same cap ([`MAX_CAPTURE`]): a regular
/// file, `/dev/stdin`, a pipe or a FIFO. The read runs on a worker thread so that a
/// FIFO with no writer, or a writer that stalls, ends in an error after
/// [`CAPTURE_IDLE_TIMEOUT`] instead of blocking forever; the blocked worker is left
/// behind (the process exits on the error).
pub fn load_capture(path: &Path) -> Result<Facts> {
    let bytes = read_capped(
        path,
        MAX_CAPTURE,
        CAPTURE_IDLE_TIMEOUT,
        CAPTURE_TOTAL_TIMEOUT,
    )?;
    Facts::from_json(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// What the reader of [`read_capped`] reports.
enum Piece {
    Bytes(Vec<u8>),
    End,
    TooLarge,
    Failed(std::io::Error),
}

/// Reads at most `cap` bytes of `path` (an error past it), giving up when no byte
/// comes for `idle` or the whole read takes longer than `total`.
fn read_capped(path: &Path, cap: u64, idle: Duration, total: Duration) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::sync::mpsc;
    let too_large = || anyhow::anyhow!("{} is larger than {} MiB", path.display(), cap >> 20);
    // Bounded: when this side gives up, the reader's next send fails and it stops.
    let (tx, rx) = mpsc::sync_channel::<Piece>(8);
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("surface-check-from".into())
        .spawn(move || {
            // Opening a FIFO blocks until a writer comes: that too is under the timeout.
            let file = match std::fs::File::open(&owned) {
                Ok(f) => f,
                Err(e) => {
                    let _ = tx.send(Piece::Failed(e));
                    return;
                }
            };
            // A regular file past the cap is refused without reading it.
            if file.metadata().is_ok_and(|m| m.is_file() && m.len() > cap) {
                let _ = tx.send(Piece::TooLarge);
                return;
            }
            let mut r = file.take(cap + 1);
            loop {
                let mut buf = vec![0u8; 256 << 10];
                let piece = match r.read(&mut buf) {
                    Ok(0) => Piece::End,
                    Ok(n) => {
                        buf.truncate(n);
                        Piece::Bytes(buf)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Piece::Failed(e),
                };
                let last = !matches!(piece, Piece::Bytes(_));
                if tx.send(piece).is_err() || last {
                    return;
                }
            }
        })
        .context("starting the reader of --from")?;
    let start = std::time::Instant::now();
    let mut bytes = Vec::new();
    loop {
        let left = total.saturating_sub(start.elapsed());
        if left.is_zero() {
            bail!(
                "{}: still reading after {} s; giving up",
                path.display(),
                total.as_secs()
            );
        }
        match rx.recv_timeout(idle.min(left)) {
            Ok(Piece::Bytes(b)) => {
                if bytes.len() as u64 + b.len() as u64 > cap {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&b);
            }
            Ok(Piece::End) => return Ok(bytes),
            Ok(Piece::TooLarge) => return Err(too_large()),
            Ok(Piece::Failed(e)) => {
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
            Err(mpsc::RecvTimeoutError::Timeout) if start.elapsed() < total => bail!(
                "{}: nothing to read for {} s (a FIFO or pipe with no writer?); giving up",
                path.display(),
                idle.as_secs()
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => bail!(
                "{}: still reading after {} s; giving up",
                path.display(),
                total.as_secs()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("reading {}: the reader stopped", path.display())
            }
        }
    }
}

/// Builds the report for `status`.
pub fn report(a: &StatusArgs) -> Result<Report> {
    let (facts, source) = match &a.from {
        Some(f) => (load_capture(f)?, format!("capture {}", f.display())),
        None => (collect(&a.source)?, a.source.root.display().to_string()),
    };
    Ok(checks::diagnose(&facts, &SURFACE_BOOK_2, &source))
}

impl BusArgs {
    pub fn bus(&self) -> crate::dbus::client::Bus {
        crate::dbus::client::Bus::from_session_flag(self.session)
    }
}

/// The report `status` prints: from surface-checkd when it should and can answer,
/// else probed here. Says on standard error which, and warns when the daemon's
/// version is not this one.
fn status_report(a: &StatusArgs) -> Result<Report> {
    status_report_with(a, None)
}

/// [`status_report`] with this root's facts already collected: when the report is
/// made here, it is made from them (no second probe).
pub fn status_report_with(a: &StatusArgs, facts: Option<&Facts>) -> Result<Report> {
    let report = |a: &StatusArgs| match (facts, &a.from) {
        (Some(f), None) => Ok(checks::diagnose(
            f,
            &SURFACE_BOOK_2,
            &a.source.root.display().to_string(),
        )),
        _ => report(a),
    };
    let explicit_local =
        a.local || a.from.is_some() || a.source.dmesg.is_some() || a.source.root != Path::new("/");
    if explicit_local {
        return report(a);
    }
    let bus = a.bus.bus();
    match follow::daemon_report(bus) {
        Ok((report, version)) => {
            eprintln!(
                "surface-check: report from surface-checkd {version} on the {}",
                bus.name()
            );
            if version != env!("CARGO_PKG_VERSION") {
                eprintln!(
                    "surface-check: warning: surface-checkd is version {version}, this is {}; \
                     restart the daemon after an upgrade (`systemctl restart surface-checkd`)",
                    env!("CARGO_PKG_VERSION")
                );
            }
            Ok(report)
        }
        Err(e) => {
            eprintln!("surface-check: probing here: {e}");
            report(a)
        }
    }
}

fn status(a: &StatusArgs, out: &mut impl Write) -> Result<i32> {
    let report = status_report(a)?;
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        let color = match a.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                use std::io::IsTerminal;
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        write!(out, "{}", render::human(&report, color, a.verbose))?;
    }
    Ok(report.exit_code())
}

/// Where `capture -o PATH` writes.
///
/// `capture` runs as root, often into shared directories such as `/tmp`, so the
/// path is data another user may have prepared:
///
/// - `-`, `/dev/stdout` and this process's own descriptors (`/dev/stderr`,
///   `/dev/fd/N`, `/proc/self/fd/N`, as a shell's `>(cmd)` gives) are written to
///   directly;
/// - an existing FIFO or character device (a terminal, `/dev/null`) is written
///   through, never replaced; a FIFO another user planted in a sticky
///   world-writable directory is refused, as the kernel's `protected_fifos` does;
/// - a regular file, or nothing, is replaced atomically: the capture goes to a
///   temporary file created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) under
///   an unpredictable name in the same directory, is synced, and is renamed over the
///   path. The result has mode 0600 whatever the old file had: captures hold
///   redacted but still personal data. The temporary file is removed on every
///   error;
/// - a symbolic link is refused, neither followed nor replaced (as root, a link in a
///   shared directory may point anywhere); so are directories, a path ending in
///   `/`, block devices and sockets.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Standard output.
    Stdout,
    /// Another descriptor of this process.
    Fd(i32),
    /// An existing FIFO or character device.
    Through(PathBuf),
    /// A regular file, or a path where nothing is yet.
    Replace(PathBuf),
}

impl Sink {
    /// Decides where `path` is written, refusing what must not be.
    pub(crate) fn resolve(path: &Path) -> Result<Sink> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::FileTypeExt;
        if let Some(fd) = own_fd(path) {
            return Ok(if fd == 1 { Sink::Stdout } else { Sink::Fd(fd) });
        }
        let shown = path.display();
        if path.as_os_str().as_bytes().ends_with(b"/") || path.file_name().is_none() {
            bail!("{shown} names a directory; give the file to write");
        }
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Sink::Replace(path.to_path_buf()));
            }
            Err(e) => return Err(e).with_context(|| format!("examining {shown}")),
        };
        let ft = meta.file_type();
        if ft.is_file() {
            Ok(Sink::Replace(path.to_path_buf()))
        } else if ft.is_fifo() || ft.is_char_device() {
            Ok(Sink::Through(path.to_path_buf()))
        } else if ft.is_symlink() {
            bail!(
                "{shown} is a symbolic link; it is neither followed nor replaced \
                 (name the file it points to, or `-` for standard output)"
            )
        } else if ft.is_dir() {
            bail!("{shown} is a directory; give the file to write")
        } else {
            bail!("{shown} is a block device or a socket; refusing to write to it")
        }
    }

    /// Writes `bytes` to the sink; `out` is standard output.
    pub(crate) fn write(&self, out: &mut impl Write, bytes: &[u8]) -> Result<()> {
        self.write_owned(out, bytes, None)
    }

    /// [`Sink::write`]; a file it replaces or creates gets `owner` (uid, gid) before
    /// it takes the path's place.
    pub(crate) fn write_owned(
        &self,
        out: &mut impl Write,
        bytes: &[u8],
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        match self {
            Sink::Stdout => Ok(out.write_all(bytes)?),
            Sink::Fd(fd) => write_fd(*fd, bytes).with_context(|| format!("writing to fd {fd}")),
            Sink::Through(p) => {
                write_through(p, bytes).with_context(|| format!("writing {}", p.display()))
            }
            Sink::Replace(p) => {
                write_replace(p, bytes, owner).with_context(|| format!("writing {}", p.display()))
            }
        }
    }
}

/// The descriptor a path names when it is one of this process's own: `-` and
/// `/dev/stdout` (1), `/dev/stderr` (2), `/dev/fd/N`, `/proc/self/fd/N`.
fn own_fd(path: &Path) -> Option<i32> {
    let s = path.to_str()?;
    match s {
        "-" | "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        _ => s
            .strip_prefix("/dev/fd/")
            .or_else(|| s.strip_prefix("/proc/self/fd/"))
            .and_then(|n| n.parse().ok()),
    }
}

/// Writes to an open descriptor of this process (a duplicate of it, so it stays
/// open for whoever else holds it).
fn write_fd(fd: i32, bytes: &[u8]) -> Result<()> {
    use std::os::fd::BorrowedFd;
    // SAFETY: F_GETFD only asks whether the descriptor is open.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        bail!("descriptor {fd} is not open");
    }
    // SAFETY: the descriptor is open (checked above) and stays open while borrowed:
    // this process closes nothing meanwhile; it is duplicated at once.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
    std::fs::File::from(owned).write_all(bytes)?;
    Ok(())
}

/// Whether `uid` may be trusted to own a FIFO in the directory `dir`: the rule of
/// the kernel's `protected_fifos=2`, checked whatever the sysctl says.
fn fifo_owner_trusted(uid: u32, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    if uid == unsafe { libc::geteuid() } {
        return true;
    }
    match std::fs::metadata(dir) {
        // Sticky and world-writable: any user could have made it.
        Ok(m) => m.mode() & 0o1002 != 0o1002 || m.uid() == uid,
        Err(_) => false,
    }
}

/// Writes through an existing FIFO or character device without replacing it.
fn write_through(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    let before = std::fs::symlink_metadata(path)?;
    let dir = parent_dir(path);
    if before.file_type().is_fifo() && !fifo_owner_trusted(before.uid(), dir) {
        bail!(
            "the FIFO belongs to another user in a shared directory ({}); refusing to \
             write a capture into it",
            dir.display()
        );
    }
    // No O_CREAT, no O_TRUNC: opening changes nothing. O_NOFOLLOW: a link swapped
    // in since is refused. O_NOCTTY: a terminal does not become ours.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)?;
    let now = f.metadata()?;
    let ft = now.file_type();
    if (now.dev(), now.ino()) != (before.dev(), before.ino())
        || !(ft.is_fifo() || ft.is_char_device())
    {
        bail!("the file changed while it was being opened; nothing written");
    }
    f.write_all(bytes)?;
    Ok(())
}

/// The directory a path's last component is in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An unpredictable 64-bit number: `getrandom` without blocking, else
/// `/dev/urandom`, else the clock. Predictability would cost nothing but a retry:
/// the temporary file is created with `O_EXCL|O_NOFOLLOW`.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: writes at most 8 bytes into the 8-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), libc::GRND_NONBLOCK) };
    if n == 8 {
        return u64::from_ne_bytes(b);
    }
    {
        use std::io::Read;
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .is_ok()
        {
            return u64::from_ne_bytes(b);
        }
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32)
}

/// Replaces a regular file (or creates it) atomically, as [`Sink`] describes, with
/// mode 0600 and, when given, that owner.
fn write_replace(path: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> Result<()> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let name = path.file_name().context("the path names no file")?;
    let dir_path = parent_dir(path);
    let dir = nix::fcntl::open(
        dir_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .or_else(|_| {
        nix::fcntl::open(
            dir_path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })
    .with_context(|| format!("opening the directory {}", dir_path.display()))?;
    atomic::replace_at(&dir, name, bytes, atomic::Replace { mode: 0o600, owner })
}
