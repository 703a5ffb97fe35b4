//! The history as the daemon serves it: this boot's regressions against the
//! earlier boots (the same rules as `surface-check report`), `GetHistory`, and
//! `AcceptBaseline`'s write.
//!
//! The daemon judges regressions only once this boot is recorded in the history,
//! that is once `surface-check report` (the timer, two minutes after boot and resume,
//! when devices have settled) or AcceptBaseline wrote it: a probe at start-up,
//! before iptsd or the cameras are up, never announces a regression. From then on
//! every probe's report is compared, and each regression is announced once (again
//! if it went away and came back).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::history::diff::{Comparison, Regression};
use crate::history::{self, BootRecord, History, HistoryError, view};
use crate::profiles::SURFACE_BOOK_2;

/// The most boots GetHistory returns, whatever the limit asked for.
pub const MAX_HISTORY_LIMIT: u32 = 1000;
/// The boots GetHistory returns for a limit of 0.
pub const DEFAULT_HISTORY_LIMIT: u32 = 20;

/// The daemon's view of the history.
#[derive(Debug)]
pub struct HistoryState {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The comparison of the last report with the earlier boots (empty while this
    /// boot is not recorded).
    comparison: Comparison,
    /// Regressions announced: (subsystem, previous boot, new status).
    announced: HashSet<(String, String, String)>,
}

fn key(r: &Regression) -> (String, String, String) {
    (
        r.subsystem.clone(),
        r.previous.boot_id.clone(),
        r.new_status.to_string(),
    )
}

impl HistoryState {
    pub fn new(dir: PathBuf) -> HistoryState {
        HistoryState {
            dir,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it (a bug) leaves plain data: go on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Compares `current` (this boot as the last probe saw it) with the earlier
    /// boots, when this boot is recorded; blocking (SQLite). Keeps the comparison
    /// and returns the regressions not announced yet, marking them announced.
    pub fn assess(&self, current: &BootRecord) -> Result<Vec<Regression>, HistoryError> {
        let cmp = match History::open_read_only(&self.dir)? {
            Some(h) if h.boot(&current.boot_id).ok().flatten().is_some() => {
                history::assess(&h, current, &SURFACE_BOOK_2)?.1
            }
            _ => Comparison::default(),
        };
        Ok(self.keep(cmp))
    }

    fn keep(&self, cmp: Comparison) -> Vec<Regression> {
        let mut inner = self.lock();
        let now: HashSet<_> = cmp.regressions.iter().map(key).collect();
        // A regression that went away is announced again if it comes back.
        inner.announced.retain(|k| now.contains(k));
        let new: Vec<Regression> = cmp
            .regressions
            .iter()
            .filter(|r| !inner.announced.contains(&key(r)))
            .cloned()
            .collect();
        inner.announced.extend(new.iter().map(key));
        inner.comparison = cmp;
        new
    }

    /// Forgets that `regressions` were announced (their signal could not be sent),
    /// so that the next probe announces them.
    pub fn unannounce(&self, regressions: &[Regression]) {
        let mut inner = self.lock();
        for r in regressions {
            inner.announced.remove(&key(r));
        }
    }

    /// The GetHistory document: `history --json`'s (at most `limit` boots, 0 for
    /// the default) with this boot's regressions and recoveries as the daemon
    /// judged them last. Blocking.
    pub fn get(&self, limit: u32) -> Result<Value, HistoryError> {
        let limit = match limit {
            0 => DEFAULT_HISTORY_LIMIT,
            n => n.min(MAX_HISTORY_LIMIT),
        } as usize;
        let mut doc = match History::open_read_only(&self.dir)? {
            Some(h) => view::boots_json(&h, limit)?,
            None => view::no_history_json(),
        };
        let cmp = view::comparison_json(&self.lock().comparison);
        if let (Value::Object(d), Value::Object(c)) = (&mut doc, cmp) {
            d.extend(c);
        }
        Ok(doc)
    }

    /// Records `current` (this boot as the last probe saw it) and makes it the
    /// baseline; then judges again (nothing is a regression against itself).
    /// Blocking.
    pub fn accept(&self, current: &BootRecord) -> Result<(), HistoryError> {
        let mut h = History::open(&self.dir)?;
        h.record(current)?;
        h.accept(&current.boot_id)?;
        let cmp = history::assess(&h, current, &SURFACE_BOOK_2)?.1;
        self.keep(cmp);
        Ok(())
    }
}
