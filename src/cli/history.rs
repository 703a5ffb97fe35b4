//! The history commands: `report` (what the timer runs after boot and resume:
//! record this boot, name what broke since an earlier one), `history` (the boots
//! recorded, `--accept` for a new baseline) and `diff` (two boots side by side).
//!
//! They render what [`crate::history`] stores and judges; the regression rules are
//! in [`crate::history::diff`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use super::render::{mark, visible};
use super::{BusArgs, ColorWhen, RootArgs, StatusArgs};
use crate::facts::Fact;
use crate::history::diff::{self, BootRef, Comparison};
use crate::history::store::{self, Recorded};
use crate::history::{BootRecord, DiffFacts, History, HistoryError};
use crate::profiles::SURFACE_BOOK_2;
use crate::report::Status;

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
    /// Make the newest recorded boot the baseline: later reports compare with it
    /// and the boots after it only, so what it lacks is no longer a regression.
    #[arg(long, conflicts_with = "json")]
    pub accept: bool,
    #[command(flatten)]
    pub state: StateArgs,
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

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time in microseconds since the epoch.
pub fn utc(us: u64) -> String {
    let secs = us / 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
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
                writeln!(
                    out,
                    "{}",
                    json!({"database": Value::Null, "baseline": Value::Null, "boots": []})
                )?;
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

fn boot_json(b: &BootRef) -> Value {
    json!({"boot_id": b.boot_id, "kernel": b.kernel, "generation": b.generation,
           "label": b.to_string()})
}

// ---- report ---------------------------------------------------------------------

/// The boots `current` is compared with: those recorded before it, newest first,
/// back to the baseline (included) or the oldest. Read in growing pages and only as
/// far as the rules need: until every subsystem that is degraded or failed now has
/// an earlier boot where it was ok (the newest such is the one a regression names).
fn earlier_boots(h: &History, current: &BootRecord) -> Result<Vec<BootRecord>, HistoryError> {
    let baseline = h.baseline()?;
    if baseline.as_deref() == Some(current.boot_id.as_str()) {
        return Ok(Vec::new());
    }
    // A stored record of this boot that does not parse is replaced by this one; the
    // boots listed are then all earlier.
    let recorded = match h.boot(&current.boot_id) {
        Ok(b) => b.is_some(),
        Err(HistoryError::Record(why)) => {
            tracing::debug!("this boot's stored record does not parse: {why}");
            false
        }
        Err(e) => return Err(e),
    };
    let problems: Vec<&str> = current
        .report
        .subsystems
        .iter()
        .filter(|s| s.status.is_problem())
        .map(|s| s.id.as_str())
        .collect();
    let mut limit = 16usize;
    loop {
        let boots = h.boots(limit)?;
        let exhausted = boots.len() < limit;
        // Boots listed before this one were first recorded after it: newer, and a
        // baseline among them leaves nothing to compare with.
        let start = match boots.iter().position(|b| b.boot_id == current.boot_id) {
            Some(i) => i + 1,
            None if recorded && !exhausted => {
                limit = limit.saturating_mul(8);
                continue;
            }
            None => 0,
        };
        if boots[..start]
            .iter()
            .any(|b| baseline.as_deref() == Some(b.boot_id.as_str()))
        {
            return Ok(Vec::new());
        }
        let mut earlier = Vec::new();
        let mut complete = exhausted;
        for b in boots.into_iter().skip(start) {
            let is_baseline = baseline.as_deref() == Some(b.boot_id.as_str());
            earlier.push(b);
            if is_baseline {
                complete = true;
                break;
            }
        }
        let enough = problems.iter().all(|id| {
            earlier.iter().any(|b| {
                b.report
                    .subsystems
                    .iter()
                    .any(|s| s.id == *id && s.status == Status::Ok)
            })
        });
        if complete || enough || limit == usize::MAX {
            return Ok(earlier);
        }
        limit = limit.saturating_mul(8);
    }
}

/// `surface-check report`.
pub fn report(a: &ReportArgs, out: &mut impl Write) -> Result<i32> {
    // This boot's facts first: without a boot id there is nothing to record, and
    // that is said before the daemon is asked.
    let facts = super::collect(&a.source).context("collecting this boot's facts")?;
    let boot_id = match &facts.kernel.boot_id {
        Fact::Ok(b) => b.clone(),
        other => {
            let (path, why) = other.failure().unwrap_or(("boot id", None));
            bail!(
                "this boot has no boot id ({path}: {}); the history records one entry per \
                 boot, keyed by the kernel's boot id",
                why.unwrap_or("does not exist")
            )
        }
    };
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
    let kernel = facts
        .kernel
        .release
        .ok()
        .cloned()
        .or_else(|| report.kernel.release.clone())
        .unwrap_or_else(|| "unknown".into());
    let generation = facts
        .nixos
        .as_ref()
        .and_then(|n| n.booted.ok())
        .and_then(|g| g.number);
    let rec = BootRecord {
        boot_id,
        recorded_us: now_us(),
        kernel,
        generation,
        facts: DiffFacts::from_facts(&facts, &SURFACE_BOOK_2),
        report,
    };

    let dir = a.state.dir();
    let mut h = History::open_with(&dir, a.keep).map_err(|e| history_error(e, &dir))?;
    // A corrupt database was moved aside: the store's warning (on standard error,
    // in the journal under the timer) says where.
    let earlier = earlier_boots(&h, &rec).map_err(|e| history_error(e, &dir))?;
    let cmp = diff::compare(&earlier, &rec, &SURFACE_BOOK_2);
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
        serde_json::to_writer_pretty(&mut *out, &report_json(&rec, recorded_word, &cmp))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report_human(&rec, recorded_word, &earlier, &cmp))?;
    }
    out.flush()?;
    recorded
        .map_err(|e| history_error(e, &dir))
        .context("recording this boot")?;
    Ok(if cmp.regressions.is_empty() { 0 } else { 1 })
}

fn report_json(rec: &BootRecord, recorded: Option<&str>, cmp: &Comparison) -> Value {
    let regressions: Vec<Value> = cmp
        .regressions
        .iter()
        .map(|r| {
            json!({
                "subsystem": r.subsystem,
                "message": r.to_string(),
                "previous": boot_json(&r.previous),
                "current": boot_json(&r.current),
                "old_status": r.old_status,
                "new_status": r.new_status,
                "summary": r.summary,
                "hint": r.hint,
                "changes": serde_json::to_value(&r.changes).unwrap_or(Value::Null),
            })
        })
        .collect();
    let recoveries: Vec<Value> = cmp
        .recoveries
        .iter()
        .map(|r| {
            json!({
                "subsystem": r.subsystem,
                "message": r.to_string(),
                "previous": boot_json(&r.previous),
                "current": boot_json(&r.current),
                "old_status": r.old_status,
                "new_status": r.new_status,
                "changes": serde_json::to_value(&r.changes).unwrap_or(Value::Null),
            })
        })
        .collect();
    let explained: Vec<Value> = cmp
        .explained
        .iter()
        .map(|e| json!({"subsystem": e.subsystem, "reason": e.reason}))
        .collect();
    json!({
        "boot": {
            "boot_id": rec.boot_id,
            "kernel": rec.kernel,
            "generation": rec.generation,
            "label": rec.label(),
            "overall": rec.report.overall,
            "recorded_us": rec.recorded_us,
        },
        "recorded": recorded,
        "regressions": regressions,
        "recoveries": recoveries,
        "explained": explained,
    })
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

fn statuses(b: &BootRecord) -> BTreeMap<&str, Status> {
    b.report
        .subsystems
        .iter()
        .map(|s| (s.id.as_str(), s.status))
        .collect()
}

/// The subsystems whose status changed from `before` to `b`: (id, from, to).
fn changes<'a>(b: &'a BootRecord, before: Option<&BootRecord>) -> Vec<(&'a str, Status, Status)> {
    let Some(before) = before else {
        return Vec::new();
    };
    let old = statuses(before);
    b.report
        .subsystems
        .iter()
        .filter_map(|s| {
            let was = *old.get(s.id.as_str())?;
            (was != s.status).then_some((s.id.as_str(), was, s.status))
        })
        .collect()
}

/// `surface-check history`.
pub fn history(a: &HistoryArgs, out: &mut impl Write) -> Result<i32> {
    let dir = a.state.dir();
    if a.accept {
        return accept(&dir, out);
    }
    let Some(h) = open_read_only(&dir, out, a.json)? else {
        return Ok(0);
    };
    let err = |e| history_error(e, &dir);
    // One more than shown: the changes of the oldest shown need the boot before it.
    let boots = h.boots(a.limit.saturating_add(1)).map_err(err)?;
    let baseline = h.baseline().map_err(err)?;
    let total = h.count().map_err(err)?;
    let shown = &boots[..boots.len().min(a.limit)];
    if a.json {
        let list: Vec<Value> = shown
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let subsystems: serde_json::Map<String, Value> = b
                    .report
                    .subsystems
                    .iter()
                    .map(|s| (s.id.clone(), json!(s.status)))
                    .collect();
                let ch: Vec<Value> = changes(b, boots.get(i + 1))
                    .into_iter()
                    .map(|(id, from, to)| json!({"subsystem": id, "from": from, "to": to}))
                    .collect();
                json!({
                    "boot_id": b.boot_id,
                    "recorded_us": b.recorded_us,
                    "recorded": format!("{}Z", utc(b.recorded_us).replace(' ', "T")),
                    "kernel": b.kernel,
                    "generation": b.generation,
                    "label": b.label(),
                    "overall": b.report.overall,
                    "baseline": baseline.as_deref() == Some(b.boot_id.as_str()),
                    "subsystems": subsystems,
                    "changes": ch,
                })
            })
            .collect();
        serde_json::to_writer_pretty(
            &mut *out,
            &json!({"database": h.path(), "baseline": baseline, "count": total, "boots": list}),
        )?;
        writeln!(out)?;
        return Ok(0);
    }
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
        let ch = changes(b, before);
        let st = statuses(b);
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
    let d = diff::diff(&ba, &bb, &SURFACE_BOOK_2);
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

#[cfg(test)]
mod tests {
    use super::{History, earlier_boots, utc};
    use crate::history::{BootRecord, DiffFacts};
    use crate::profiles::SURFACE_BOOK_2;
    use crate::report::Status;

    /// A boot whose touch subsystem is `touch`, every other subsystem ok.
    fn boot(n: usize, touch: Status) -> BootRecord {
        static REPORT: std::sync::OnceLock<crate::report::Report> = std::sync::OnceLock::new();
        let mut report = REPORT
            .get_or_init(|| {
                let dir = tempfile::tempdir().unwrap();
                let root = crate::root::Root::open(dir.path()).unwrap();
                let facts = crate::facts::collect_unwatched(&root, &SURFACE_BOOK_2);
                crate::checks::diagnose(&facts, &SURFACE_BOOK_2, "test")
            })
            .clone();
        for s in &mut report.subsystems {
            s.status = if s.id == "touch" { touch } else { Status::Ok };
        }
        BootRecord {
            boot_id: format!("{n:08}-0000-4000-8000-000000000000"),
            recorded_us: n as u64,
            kernel: "6.19.8".into(),
            generation: None,
            report,
            facts: DiffFacts::default(),
        }
    }

    fn ids(v: &[BootRecord]) -> Vec<usize> {
        v.iter().map(|b| b.boot_id[..8].parse().unwrap()).collect()
    }

    #[test]
    fn earlier_boots_reach_back_to_the_newest_ok_boot_and_stop_at_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path()).unwrap();
        // Boot 0 had touch working, boots 1..=199 not: past several pages.
        for n in 0..200 {
            let st = if n == 0 { Status::Ok } else { Status::Failed };
            h.record(&boot(n, st)).unwrap();
        }
        let now = boot(200, Status::Failed);
        let e = earlier_boots(&h, &now).unwrap();
        assert_eq!(ids(&e), (0..200).rev().collect::<Vec<_>>());
        // Nothing is a problem now: the first page is enough.
        let e = earlier_boots(&h, &boot(200, Status::Ok)).unwrap();
        assert_eq!(e.len(), 16);
        // Recorded already (a second run in the same boot): only the boots before it.
        let again = boot(150, Status::Failed);
        assert_eq!(
            ids(&earlier_boots(&h, &again).unwrap()),
            (0..150).rev().collect::<Vec<_>>()
        );
        // A baseline: back to it, included.
        h.accept(&boot(120, Status::Failed).boot_id).unwrap();
        assert_eq!(
            ids(&earlier_boots(&h, &now).unwrap()),
            (120..200).rev().collect::<Vec<_>>()
        );
        // The baseline itself, or a boot recorded before it, has nothing to compare
        // with; a boot after it goes back to it.
        assert!(
            earlier_boots(&h, &boot(120, Status::Failed))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            ids(&earlier_boots(&h, &again).unwrap()),
            (120..150).rev().collect::<Vec<_>>()
        );
        assert!(
            earlier_boots(&h, &boot(100, Status::Failed))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn utc_formats_the_civil_date() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        // 2024-02-29 12:34:56 UTC (a leap day).
        assert_eq!(utc(1_709_210_096_000_000), "2024-02-29 12:34:56");
        assert_eq!(utc(951_782_400_000_000), "2000-02-29 00:00:00");
    }
}
