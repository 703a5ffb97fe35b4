//! `surface-check metrics`: the report and this boot's regressions as Prometheus
//! metrics ([`crate::metrics`]), on standard output or written atomically into
//! node_exporter's textfile directory.
//!
//! The report is taken as `status` and `report` take it (from surface-checkd on `/`
//! when it runs, else probed here); this boot is compared with the history read
//! only, as `surface-check report` compares it: nothing is recorded, and no history
//! is created.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::history::StateArgs;
use super::{BusArgs, ColorWhen, RootArgs, StatusArgs};
use crate::facts::Facts;
use crate::history::{self, BootRecord, History};
use crate::metrics::{self, Assessment, KernelIdentity, Run, TEXTFILE_NAME};
use crate::profiles::SURFACE_BOOK_2;
use crate::report::Report;

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Write DIR/surface_check.prom (node_exporter's textfile collector directory)
    /// instead of standard output: through a temporary file in DIR that the
    /// collector ignores, synced and renamed into place, mode 0644.
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
    /// Probe in this process, not through surface-checkd (as `status --local`).
    /// Without it, `metrics` on `/` takes the report from the daemon when it runs
    /// (or D-Bus can start it) and probes here otherwise; --root and --dmesg always
    /// probe here.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub bus: BusArgs,
    #[command(flatten)]
    pub source: RootArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `surface-check metrics`. Exit 0 when written, whatever the machine's state (the
/// metrics carry it); an error (exit 2) writes nothing.
pub fn run(a: &MetricsArgs, out: &mut impl Write) -> Result<i32> {
    let started = Instant::now();
    // Where the file goes is checked before the probe: a missing directory fails at
    // once.
    let dir = a.textfile.as_deref().map(textfile_dir).transpose()?;
    let status_args = StatusArgs {
        local: a.local,
        bus: a.bus.clone(),
        source: a.source.clone(),
        from: None,
        json: false,
        verbose: false,
        color: ColorWhen::Never,
    };
    // One probe at most. Probing here, the facts give both the report and this
    // boot's identity. With surface-checkd's report, only the identity is read here
    // (the boot id, the kernel, the NixOS generation: a few small files): the
    // judgement needs the boot's id, release and generation and the statuses, not
    // the facts a regression's "what changed" names, which metrics does not write.
    // (When the daemon cannot answer, the report is probed by `status_report_with`
    // and the identity read beside it: the same few files, not a second probe.)
    let probe_here = a.local || a.source.dmesg.is_some() || a.source.root != Path::new("/");
    let (facts, report) = if probe_here {
        let facts = super::collect(&a.source).context("collecting this boot's facts")?;
        let report = super::status_report_with(&status_args, Some(&facts))?;
        (facts, report)
    } else {
        let report = super::status_report_with(&status_args, None)?;
        let facts = identity(&a.source).context("reading this boot's identity")?;
        (facts, report)
    };
    let state_dir = a
        .state
        .state_dir
        .clone()
        .unwrap_or_else(history::store::state_dir);
    let assessment = assess(&facts, &report, &state_dir);
    if let Assessment::Unavailable(why) = &assessment {
        tracing::warn!("regressions not judged: {why}");
    }
    let kernel = KernelIdentity {
        version: facts
            .kernel
            .version
            .ok()
            .and_then(|v| KernelIdentity::version_from_proc(v)),
        nixos_generation: facts
            .nixos
            .as_ref()
            .and_then(|n| n.booted.ok())
            .and_then(|g| g.number),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let run = Run {
        now: (now * 1000.0).round() / 1000.0,
        duration: (started.elapsed().as_secs_f64() * 1e6).round() / 1e6,
    };
    let text = metrics::render(&report, &kernel, &assessment, run);
    match dir {
        None => {
            out.write_all(text.as_bytes())?;
        }
        Some(dir) => {
            write_textfile(&dir, text.as_bytes())
                .with_context(|| format!("writing {}", dir.path.join(TEXTFILE_NAME).display()))?;
        }
    }
    Ok(0)
}

/// This boot's identity only: its kernel (`proc/sys/kernel/{osrelease,random/boot_id}`,
/// `proc/version`), the OS release and the NixOS generation booted; every other fact
/// is left "not collected". Read under the same watchdog as a probe.
fn identity(source: &RootArgs) -> Result<Facts> {
    use crate::facts::{self, Source};
    let root = super::open_root(source)?;
    let live = root.is_live();
    let at = source.root.display().to_string();
    let mut f = root.run_watched(move |r| {
        let mut f = Facts::empty(Source {
            root: at.clone(),
            collector: format!("surface-check {}", env!("CARGO_PKG_VERSION")),
            redacted: false,
            live,
        });
        f.os = facts::kernel::os(r);
        f.kernel = facts::kernel::kernel(r);
        f.nixos = facts::nixos::collect(r, f.os.is_nixos);
        f
    })?;
    f.hung_paths = root.hung_paths();
    Ok(f)
}

/// This boot compared with the earlier boots in the history at `dir`, read only:
/// the judgement `surface-check report` makes (the same earlier boots, the same
/// rules), of the report just taken.
fn assess(facts: &Facts, report: &Report, dir: &Path) -> Assessment {
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let rec = match BootRecord::from_facts(facts, report.clone(), now_us, &SURFACE_BOOK_2) {
        Ok(r) => r,
        Err(why) => return Assessment::Unavailable(why),
    };
    let h = match History::open_read_only(dir) {
        Ok(Some(h)) => h,
        // No history yet: nothing to compare with, so nothing regressed.
        Ok(None) => {
            return Assessment::Judged {
                comparison: Default::default(),
                boots: 0,
                recorded: false,
            };
        }
        Err(e) => return Assessment::Unavailable(format!("the history in {}: {e}", dir.display())),
    };
    // `assess` reads its boots in one snapshot of its own (snapshots do not nest);
    // the count and this boot's presence are read after it.
    let judged = (|| {
        let (_, comparison) = history::assess(&h, &rec, &SURFACE_BOOK_2)?;
        Ok::<_, history::HistoryError>(Assessment::Judged {
            comparison,
            boots: h.count()?,
            recorded: h.seq_of(&rec.boot_id)?.is_some(),
        })
    })();
    judged.unwrap_or_else(|e| {
        Assessment::Unavailable(format!("the history in {}: {e}", dir.display()))
    })
}

/// The textfile directory, open.
struct TextfileDir {
    path: PathBuf,
    fd: std::os::fd::OwnedFd,
}

/// Opens `path` as the directory to write into; refuses anything else.
fn textfile_dir(path: &Path) -> Result<TextfileDir> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("the textfile directory {}", path.display()))?;
    if !meta.is_dir() {
        bail!(
            "the textfile directory {} is not a directory (give node_exporter's \
             --collector.textfile.directory)",
            path.display()
        );
    }
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening the textfile directory {}", path.display()))?;
    Ok(TextfileDir {
        path: path.to_path_buf(),
        fd,
    })
}

/// A temporary file older than this was left by a run that was killed between
/// creating and renaming it (a run takes well under a second).
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The most directory entries looked at for leftovers (a textfile directory holds a
/// handful of files).
const MAX_ENTRIES_SCANNED: usize = 4096;

/// Whether `name` is one of the temporary files [`write_textfile`] creates:
/// `.surface_check.prom.<16 hex digits>.tmp`, exactly.
fn is_tmp_name(name: &[u8]) -> bool {
    super::atomic::is_tmp_for(TEXTFILE_NAME.as_bytes(), name)
}

/// Removes the temporary files that killed runs left in the directory: names that
/// match [`is_tmp_name`] exactly, regular files (never through a link: the entry
/// itself is examined and removed), owned by this process's user, last modified more
/// than [`STALE_TMP`] ago. A run in progress has a fresh file and keeps it. Failures
/// are logged and do not stop the write.
fn remove_stale_tmp(dir: &std::os::fd::OwnedFd, now: SystemTime) {
    use nix::dir::Dir;
    use nix::fcntl::{AtFlags, OFlag};
    use nix::sys::stat::{Mode, SFlag, fstatat};
    let mut d = match Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("listing the textfile directory for leftovers: {e}");
            return;
        }
    };
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::geteuid() };
    let cutoff = now
        .checked_sub(STALE_TMP)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let names: Vec<std::ffi::CString> = d
        .iter()
        .take(MAX_ENTRIES_SCANNED)
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| is_tmp_name(n.to_bytes()))
        .collect();
    for name in names {
        let Ok(st) = fstatat(dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        let regular = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
        if !regular || st.st_uid != uid || st.st_mtime >= cutoff {
            continue;
        }
        match nix::unistd::unlinkat(
            dir,
            name.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) => tracing::info!("removed {}, left by an earlier run", name.to_string_lossy()),
            Err(e) => tracing::warn!("removing {}: {e}", name.to_string_lossy()),
        }
    }
}

/// Replaces `DIR/surface_check.prom` with `bytes` atomically: a temporary file
/// `.surface_check.prom.<random>.tmp` (hidden, and not ending in `.prom`, so the
/// collector never reads it) created exclusively in DIR, mode 0644, written, synced
/// and renamed over the file; the directory synced after. The temporary file is
/// removed on every error. A reader sees the old file or the new one, never a part.
fn write_textfile(dir: &TextfileDir, bytes: &[u8]) -> Result<()> {
    remove_stale_tmp(&dir.fd, SystemTime::now());
    let how = super::atomic::Replace {
        mode: 0o644,
        owner: None,
    };
    super::atomic::replace_at(&dir.fd, std::ffi::OsStr::new(TEXTFILE_NAME), bytes, how)
}
