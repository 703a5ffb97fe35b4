//! The `surface-check` command line: arguments, commands, exit codes.
//!
//! Exit codes: 0 when no subsystem is degraded or failed, 1 when one is, 2 on a
//! usage or runtime error.

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
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        source: RootArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RootArgs {
    /// Read a captured tree instead of `/` (paths resolve inside it as under chroot).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Give up on a read that blocks longer than this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub read_timeout: u64,
    /// Use FILE as the kernel log of the boot (`dmesg` or `journalctl -k` output, a
    /// hw-probe upload) instead of `/dev/kmsg` or the journal; a captured tree has no
    /// kernel log without it.
    #[arg(long, value_name = "FILE")]
    pub dmesg: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Probe in this process (the only mode so far; the daemon comes later).
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub source: RootArgs,
    /// Diagnose a capture file written by `surface-check capture`.
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
            local: true,
            source: RootArgs {
                root: "/".into(),
                read_timeout: 1500,
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
        Command::Capture { output, source } => {
            let facts = collect(&source)?;
            let root = Root::open(&source.root)?;
            let hostname = ["proc/sys/kernel/hostname", "etc/hostname"]
                .iter()
                .find_map(|p| root.read_text(p).ok().filter(|h| !h.trim().is_empty()))
                .map(|h| h.trim().to_string());
            // User names: the home directories (`/home/<user>` is masked as a path
            // already; the names are masked as whole words in kernel-log lines).
            let users = root.list_dir("home").unwrap_or_default();
            let redacted = facts::redact::redact_with_users(&facts, hostname.as_deref(), &users)
                .context("redacting the facts")?;
            let json = serde_json::to_string_pretty(&redacted)?;
            match output {
                Some(p) => write_atomic(&p, json.as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?,
                None => writeln!(out, "{json}")?,
            }
            Ok(0)
        }
    }
}

/// Collects facts from a root under the read watchdog.
pub fn collect(source: &RootArgs) -> Result<Facts> {
    let limits = Limits {
        read_timeout: Duration::from_millis(source.read_timeout.max(1)),
        ..Limits::default()
    };
    let root = Root::with_limits(&source.root, limits)
        .with_context(|| format!("opening root {}", source.root.display()))?;
    // A `--dmesg` file that cannot be used is an error, not an unknown fact: the
    // person named it.
    let kernel_log = match &source.dmesg {
        Some(p) => Some(facts::Fact::Ok(
            facts::kmsg::read_file(p, SURFACE_BOOK_2.log_needles)
                .context("reading the --dmesg file")?,
        )),
        None => None,
    };
    let facts = facts::collect_with_log(&root, &SURFACE_BOOK_2, kernel_log)
        .with_context(|| format!("collecting facts from {}", source.root.display()))?;
    Ok(facts)
}

/// Loads a capture file, refusing other facts versions and oversized files.
pub fn load_capture(path: &Path) -> Result<Facts> {
    const MAX: u64 = 64 << 20;
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > MAX {
        bail!("{} is larger than {} MiB", path.display(), MAX >> 20);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Facts::from_json(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// Builds the report for `status`.
pub fn report(a: &StatusArgs) -> Result<Report> {
    let (facts, source) = match &a.from {
        Some(f) => (load_capture(f)?, format!("capture {}", f.display())),
        None => (collect(&a.source)?, a.source.root.display().to_string()),
    };
    Ok(checks::diagnose(&facts, &SURFACE_BOOK_2, &source))
}

fn status(a: &StatusArgs, out: &mut impl Write) -> Result<i32> {
    let report = report(a)?;
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

/// Writes a file through a temporary sibling and a rename, so a crash never leaves a
/// half-written capture.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
