//! The history commands: `report` (what the timer runs after boot and resume:
//! record this boot, name what broke since an earlier one), `history` (the boots
//! recorded, `--accept` for a new baseline) and `diff` (two boots side by side).
//!
//! They render what [`crate::history`] stores and judges; the regression rules are
//! in [`crate::history::diff`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use super::render::{mark, visible};
use super::{BusArgs, ColorWhen, RootArgs, StatusArgs};
use crate::history::diff::Comparison;
use crate::history::store::{self, Recorded};
use crate::history::view::{self, utc};
use crate::history::{self, BootRecord, History, HistoryError};
use crate::profiles::SURFACE_BOOK_2;

/// Where the history is kept.
#[derive(Debug, Clone, Default, Args)]
pub struct StateArgs {
    /// The directory of the history database (default: $STATE_DIRECTORY, as
    /// systemd's StateDirectory= sets it, else /var/lib/surface-check).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    fn dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(store::state_dir)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Probe in this process, not through surface-checkd (as `status --local`).
    /// Without it, `report` on `/` takes the report from the daemon when it runs
    /// (or D-Bus can start it) and probes here otherwise; --root and --dmesg always
    /// probe here.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub bus: BusArgs,
    #[command(flatten)]
    pub source: RootArgs,
    /// Print the outcome as one JSON object: {boot, recorded, regressions,
    /// recoveries, explained}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
    /// Keep this many boots (the oldest go first; the baseline is always kept).
    #[arg(long, value_name = "N", default_value_t = store::DEFAULT_KEEP,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub keep: usize,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show at most this many boots, the newest first.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub limit: usize,
    /// Print the boots as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Make this boot the baseline: later reports compare with it and the boots
    /// after it only, so what it lacks is no longer a regression. Without
    /// --state-dir it asks surface-checkd (AcceptBaseline: polkit asks for an
    /// administrator; the boot as the daemon sees it now), and when no daemon runs
    /// it makes the newest recorded boot the baseline itself.
    #[arg(long, conflicts_with = "json")]
    pub accept: bool,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub bus: BusArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The earlier boot: a boot id, a unique prefix of one (4 characters or more),
    /// `latest`, `previous` or `-N` (N boots before the latest). Default: previous.
    #[arg(value_name = "BOOT_A", allow_negative_numbers = true)]
    pub boot_a: Option<String>,
    /// The later boot, as BOOT_A. Default: latest.
    #[arg(value_name = "BOOT_B", allow_negative_numbers = true)]
    pub boot_b: Option<String>,
    /// Print the differences as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

// ---- shared ---------------------------------------------------------------------

/// Now, in microseconds since the epoch.
fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The first 8 characters of a boot id, as the table shows it.
fn short(boot_id: &str) -> &str {
    boot_id.get(..8).unwrap_or(boot_id)
}

/// The history error with what to do about it.
fn history_error(e: HistoryError, dir: &Path) -> anyhow::Error {
    let hint = match &e {
        HistoryError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Some(format!(
                "no access to the history in {} (surface-check-report.service keeps it as \
                 root): run as root, or name another directory with --state-dir",
                dir.display()
            ))
        }
        _ => None,
    };
    let e = anyhow::Error::new(e);
    match hint {
        Some(h) => e.context(h),
        None => e,
    }
}

/// The history for reading, or None (having said so) when there is none yet.
fn open_read_only(dir: &Path, out: &mut impl Write, json: bool) -> Result<Option<History>> {
    match History::open_read_only(dir).map_err(|e| history_error(e, dir))? {
        Some(h) => Ok(Some(h)),
        None => {
            if json {
                writeln!(out, "{}", view::no_history_json())?;
            } else {
                writeln!(
                    out,
                    "no history yet in {}: `surface-check report` records one entry per boot \
                     (surface-check-report.timer runs it after boot and resume)",
                    visible(&dir.display().to_string())
                )?;
            }
            Ok(None)
        }
    }
}

// ---- report ---------------------------------------------------------------------

/// `surface-check report`.
pub fn report(a: &ReportArgs, out: &mut impl Write) -> Result<i32> {
    // This boot's facts first: without a boot id there is nothing to record, and
    // that is said before the daemon is asked.
    let facts = super::collect(&a.source).context("collecting this boot's facts")?;
    history::boot_id(&facts).map_err(anyhow::Error::msg)?;
    let status_args = StatusArgs {
        local: a.local,
        bus: a.bus.clone(),
        source: a.source.clone(),
        from: None,
        json: a.json,
        verbose: false,
        color: ColorWhen::Never,
    };
    let report = super::status_report_with(&status_args, Some(&facts))?;
    let rec = BootRecord::from_facts(&facts, report, now_us(), &SURFACE_BOOK_2)
        .map_err(anyhow::Error::msg)?;

    let dir = a.state.dir();
    let mut h = History::open_with(&dir, a.keep).map_err(|e| history_error(e, &dir))?;
    // A corrupt database was moved aside: the store's warning (on standard error,
    // in the journal under the timer) says where.
    let (earlier, cmp) =
        history::assess(&h, &rec, &SURFACE_BOOK_2).map_err(|e| history_error(e, &dir))?;
    // Recorded before anything is printed, but a failure to record (a full disk)
    // still lets the regressions be said and logged; it is the error after that.
    let recorded = h.record(&rec);

    for r in &cmp.regressions {
        let sentence = r.to_string();
        tracing::warn!(
            subsystem = %r.subsystem,
            previous_kernel = %r.previous.kernel,
            current_kernel = %r.current.kernel,
            "regression: {sentence}"
        );
        super::journal::regression(r, &sentence);
    }
    for r in &cmp.recoveries {
        super::journal::recovery(r, &r.to_string());
    }

    let recorded_word = match &recorded {
        Ok(Recorded::New) => Some("new"),
        Ok(Recorded::Updated) => Some("updated"),
        Err(_) => None,
    };
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &view::outcome_json(&rec, recorded_word, &cmp))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report_human(&rec, recorded_word, &earlier, &cmp))?;
    }
    out.flush()?;
    let recorded = recorded
        .map_err(|e| history_error(e, &dir))
        .context("recording this boot")?;
    // The daemon judges regressions once this boot is recorded: have it probe and
    // announce them (RegressionDetected) now rather than at its next event.
    let via_daemon = !(a.local || a.source.dmesg.is_some() || a.source.root != Path::new("/"));
    if via_daemon && let Err(e) = super::follow::daemon_refresh(a.bus.bus()) {
        tracing::debug!(?recorded, "surface-checkd not told of the new record: {e}");
    }
    Ok(if cmp.regressions.is_empty() { 0 } else { 1 })
}

fn report_human(
    rec: &BootRecord,
    recorded: Option<&str>,
    earlier: &[BootRecord],
    cmp: &Comparison,
) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "boot {} · {} · overall {}{}",
        visible(short(&rec.boot_id)),
        visible(&rec.label()),
        rec.report.overall,
        match recorded {
            Some("new") => " · recorded",
            Some(_) => " · record of this boot updated",
            None => " · not recorded",
        }
    );
    for r in &cmp.regressions {
        let _ = writeln!(o, "regression: {}", visible(&r.to_string()));
        let _ = writeln!(o, "    now: {}", visible(&r.summary));
        if let Some(h) = &r.hint {
            let _ = writeln!(o, "    fix: {}", visible(h));
        }
    }
    for r in &cmp.recoveries {
        let _ = writeln!(o, "recovered: {}", visible(&r.to_string()));
    }
    for e in &cmp.explained {
        let _ = writeln!(
            o,
            "note: {} is not counted as a regression: {}",
            visible(&e.subsystem),
            visible(&e.reason)
        );
    }
    if cmp.regressions.is_empty() {
        match earlier.len() {
            0 => {
                let _ = writeln!(o, "no earlier boot to compare with");
            }
            n => {
                let _ = writeln!(
                    o,
                    "no regressions since {} earlier boot{}",
                    n,
                    if n == 1 { "" } else { "s" }
                );
            }
        }
    } else {
        let _ = writeln!(
            o,
            "`surface-check diff` shows what changed; `surface-check history --accept` makes \
             this state the baseline."
        );
    }
    o
}

// ---- history --------------------------------------------------------------------

/// `surface-check history`.
pub fn history(a: &HistoryArgs, out: &mut impl Write) -> Result<i32> {
    let dir = a.state.dir();
    if a.accept {
        // The daemon's history, through the daemon when it runs: it records this
        // boot as it sees it and makes it the baseline, once polkit allows the
        // caller (no root needed). A named --state-dir is always written here.
        if a.state.state_dir.is_none() {
            match super::follow::daemon_accept(a.bus.bus()) {
                Ok(()) => {
                    writeln!(
                        out,
                        "baseline: this boot, as surface-checkd reports it now\nlater \
                         reports compare with it and the boots after it; what does not work \
                         on it is no longer a regression"
                    )?;
                    return Ok(0);
                }
                Err(crate::dbus::client::ClientError::Bus(zbus::Error::MethodError(
                    name,
                    msg,
                    _,
                ))) => bail!(
                    "surface-checkd did not accept the baseline: {}{}",
                    name.as_str(),
                    msg.map(|m| format!(": {m}")).unwrap_or_default()
                ),
                Err(crate::dbus::client::ClientError::Fdo(e)) => {
                    bail!("surface-checkd did not accept the baseline: {e}")
                }
                // No daemon: accept here. Anything else (a timeout, a broken
                // connection) may have reached it: say so rather than accept
                // another boot here.
                Err(
                    e @ (crate::dbus::client::ClientError::NotRunning(_)
                    | crate::dbus::client::ClientError::Connect(..)
                    | crate::dbus::client::ClientError::ConnectTimeout(..)),
                ) => tracing::debug!("surface-checkd not asked: {e}; accepting here"),
                Err(e) => bail!(
                    "asking surface-checkd to accept the baseline: {e}; nothing was accepted \
                     here (`surface-check history` shows whether it did)"
                ),
            }
        }
        return accept(&dir, out);
    }
    let Some(h) = open_read_only(&dir, out, a.json)? else {
        return Ok(0);
    };
    let err = |e| history_error(e, &dir);
    if a.json {
        let doc = view::boots_json(&h, a.limit).map_err(err)?;
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(0);
    }
    // One more than shown: the changes of the oldest shown need the boot before it.
    let boots = h.boots(a.limit.saturating_add(1)).map_err(err)?;
    let baseline = h.baseline().map_err(err)?;
    let total = h.count().map_err(err)?;
    write!(
        out,
        "{}",
        table(&boots, a.limit, baseline.as_deref(), total)
    )?;
    Ok(0)
}

/// The human table of [`history`]: `boots` newest first (one more than `limit`
/// when there is one, for the changes of the oldest shown).
fn table(boots: &[BootRecord], limit: usize, baseline: Option<&str>, total: usize) -> String {
    use std::fmt::Write as _;
    let shown = &boots[..boots.len().min(limit)];
    // The subsystems in report order, the newest boot's first.
    let mut ids: Vec<&str> = Vec::new();
    for b in shown {
        for s in &b.report.subsystems {
            if !ids.contains(&s.id.as_str()) {
                ids.push(&s.id);
            }
        }
    }
    let kernels: Vec<String> = shown
        .iter()
        .map(|b| visible(&b.label()).into_owned())
        .collect();
    let kw = kernels
        .iter()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut o = String::new();
    let _ = write!(
        o,
        "{:8}  {:19}  {:kw$} ",
        "BOOT", "RECORDED (UTC)", "KERNEL"
    );
    let shown_ids: Vec<String> = ids.iter().map(|i| visible(i).into_owned()).collect();
    for id in &shown_ids {
        let _ = write!(o, " {id}");
    }
    let _ = writeln!(o, "  CHANGES");
    for (i, b) in shown.iter().enumerate() {
        let before = boots.get(i + 1);
        let ch = view::changes(b, before);
        let st = view::statuses(b);
        let mut line = String::new();
        let _ = write!(
            line,
            "{:8}  {:19}  {:kw$} ",
            visible(short(&b.boot_id)),
            utc(b.recorded_us),
            kernels[i]
        );
        for (id, shown_id) in ids.iter().zip(&shown_ids) {
            let cell = match st.get(id) {
                Some(s) => {
                    let changed = ch.iter().any(|(c, _, _)| c == id);
                    format!("{}{}", mark(*s), if changed { "*" } else { "" })
                }
                None => " ".into(),
            };
            let w = shown_id.chars().count();
            let _ = write!(line, " {cell:w$}");
        }
        let mut notes: Vec<String> = Vec::new();
        if baseline == Some(b.boot_id.as_str()) {
            notes.push("[baseline]".into());
        }
        if let Some(before) = before
            && (before.kernel != b.kernel || before.generation != b.generation)
        {
            notes.push(format!(
                "kernel {}→{}",
                visible(&before.label()),
                visible(&b.label())
            ));
        }
        for (id, from, to) in &ch {
            notes.push(format!("{} {from}→{to}", visible(id)));
        }
        if !notes.is_empty() {
            let _ = write!(line, "  {}", notes.join(", "));
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    let _ = writeln!(
        o,
        "\n✓ ok  ! degraded  ✗ failed  - absent  ? unknown  * changed since the boot before"
    );
    if total > shown.len() {
        let _ = writeln!(
            o,
            "{} of {total} boots shown; --limit N shows more",
            shown.len()
        );
    }
    o
}

/// `surface-check history --accept`.
fn accept(dir: &Path, out: &mut impl Write) -> Result<i32> {
    let err = |e| history_error(e, dir);
    // Nothing to accept without a history: do not create one.
    if History::open_read_only(dir).map_err(err)?.is_none() {
        bail!(
            "no history yet in {}: nothing to accept (`surface-check report` records this boot)",
            dir.display()
        );
    }
    let mut h = History::open(dir).map_err(err)?;
    if let Some(moved) = h.moved_aside() {
        bail!(
            "the history database was corrupt and has been moved aside to {}: nothing to \
             accept (`surface-check report` records this boot)",
            moved.display()
        );
    }
    let Some(latest) = h.find("latest").map_err(err)? else {
        bail!("no boots recorded in {}: nothing to accept", dir.display());
    };
    h.accept(&latest.boot_id).map_err(err)?;
    writeln!(
        out,
        "baseline: boot {} · {} · recorded {} UTC · overall {}\nlater reports compare with it \
         and the boots after it; what does not work on it is no longer a regression",
        visible(&latest.boot_id),
        visible(&latest.label()),
        utc(latest.recorded_us),
        latest.report.overall
    )?;
    Ok(0)
}

// ---- diff -----------------------------------------------------------------------

/// `surface-check diff`.
pub fn diff(a: &DiffArgs, out: &mut impl Write) -> Result<i32> {
    let dir = a.state.dir();
    let err = |e| history_error(e, &dir);
    let Some(h) = History::open_read_only(&dir).map_err(err)? else {
        bail!(
            "no history yet in {}: `surface-check report` records one entry per boot",
            dir.display()
        );
    };
    let (sel_a, sel_b) = match (&a.boot_a, &a.boot_b) {
        (Some(x), Some(y)) => (x.as_str(), y.as_str()),
        (Some(x), None) => (x.as_str(), "latest"),
        _ => ("previous", "latest"),
    };
    let find = |sel: &str| -> Result<BootRecord> {
        match h.find(sel).map_err(err)? {
            Some(b) => Ok(b),
            None => bail!(
                "no boot {sel:?} in the history ({} recorded; `surface-check history` lists \
                 them)",
                h.count().map_err(err)?
            ),
        }
    };
    let (ba, bb) = (find(sel_a)?, find(sel_b)?);
    let d = crate::history::diff::diff(&ba, &bb, &SURFACE_BOOK_2);
    let side = |b: &BootRecord| {
        json!({"boot_id": b.boot_id, "kernel": b.kernel, "generation": b.generation,
               "label": b.label(), "recorded_us": b.recorded_us, "overall": b.report.overall})
    };
    if a.json {
        let st: Vec<Value> = d
            .statuses
            .iter()
            .map(|(id, from, to)| json!({"subsystem": id, "from": from, "to": to}))
            .collect();
        serde_json::to_writer_pretty(
            &mut *out,
            &json!({"from": side(&ba), "to": side(&bb), "statuses": st,
                    "changes": serde_json::to_value(&d.changes)?}),
        )?;
        writeln!(out)?;
        return Ok(0);
    }
    for (word, b) in [("from", &ba), ("to  ", &bb)] {
        writeln!(
            out,
            "{word} boot {} · {} · recorded {} UTC · overall {}",
            visible(short(&b.boot_id)),
            visible(&b.label()),
            utc(b.recorded_us),
            b.report.overall
        )?;
    }
    if d.statuses.is_empty() && d.changes.is_empty() {
        writeln!(out, "\nno differences in status or in the facts compared")?;
        return Ok(0);
    }
    if !d.statuses.is_empty() {
        writeln!(out, "\nstatus:")?;
        let w = d
            .statuses
            .iter()
            .map(|(id, _, _)| id.len())
            .max()
            .unwrap_or(0);
        for (id, from, to) in &d.statuses {
            writeln!(out, "  {:w$}  {from} → {to}", visible(id))?;
        }
    }
    if !d.changes.is_empty() {
        writeln!(out, "\nfacts:")?;
        for c in &d.changes {
            writeln!(out, "  {}", visible(&c.to_string()))?;
        }
    }
    Ok(0)
}
