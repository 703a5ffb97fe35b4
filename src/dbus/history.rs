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
pub const MAX_HISTORY_LIMIT: u32 = 200;
/// GetHistory calls served at once (each parses up to [`MAX_HISTORY_LIMIT`]
/// reports); more get `LimitsExceeded`.
pub const MAX_HISTORY_READERS: usize = 4;
/// The boots GetHistory returns for a limit of 0.
pub const DEFAULT_HISTORY_LIMIT: u32 = 20;

/// The daemon's view of the history.
#[derive(Debug)]
pub struct HistoryState {
    dir: PathBuf,
    inner: Mutex<Inner>,
    /// Held from reading the database to keeping what was read (and from writing
    /// to keeping), so that a judgement made before AcceptBaseline never replaces
    /// the one made after it.
    io: Mutex<()>,
    /// GetHistory calls being served.
    readers: std::sync::atomic::AtomicUsize,
}

/// One GetHistory call being served; dropping it frees its place.
pub struct Reader<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// The comparison of the last report with the earlier boots (empty while this
    /// boot is not recorded).
    comparison: Comparison,
    /// Regressions announced: (subsystem, the earlier boot it worked on). A status
    /// flipping between degraded and failed is the same regression.
    announced: HashSet<(String, String)>,
    /// Regressions were found that could not be announced.
    pending: bool,
}

fn key(r: &Regression) -> (String, String) {
    (r.subsystem.clone(), r.previous.boot_id.clone())
}

impl HistoryState {
    pub fn new(dir: PathBuf) -> HistoryState {
        HistoryState {
            dir,
            inner: Mutex::new(Inner::default()),
            io: Mutex::new(()),
            readers: Default::default(),
        }
    }

    /// A place among the [`MAX_HISTORY_READERS`] GetHistory calls, if one is free.
    pub fn reader(&self) -> Option<Reader<'_>> {
        use std::sync::atomic::Ordering;
        if self.readers.fetch_add(1, Ordering::SeqCst) >= MAX_HISTORY_READERS {
            self.readers.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Reader(&self.readers))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it (a bug) leaves plain data: go on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Judges this boot against the earlier boots, once it is recorded: from its
    /// recorded (settled) report, as `surface-check report` judged it, so that a
    /// probe made the moment the machine resumed, before touch and the cameras are
    /// back, announces nothing. Blocking (SQLite). Keeps the comparison and
    /// returns the regressions not announced yet, marking them announced.
    pub fn assess(&self, current: &BootRecord) -> Result<Vec<Regression>, HistoryError> {
        let _io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let cmp = match History::open_read_only(&self.dir)? {
            Some(h) => match h.boot(&current.boot_id) {
                Ok(Some(recorded)) => history::assess(&h, &recorded, &SURFACE_BOOK_2)?.1,
                Ok(None) => Comparison::default(),
                Err(HistoryError::Record(why)) => {
                    tracing::warn!("this boot's record does not parse ({why}): nothing judged");
                    Comparison::default()
                }
                Err(e) => return Err(e),
            },
            None => Comparison::default(),
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
        inner.pending = false;
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
        inner.pending |= !regressions.is_empty();
    }

    /// Whether regressions wait to be announced (found while there was no bus
    /// connection): the next probe announces them.
    pub fn pending(&self) -> bool {
        self.lock().pending
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
        let _io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        // Keeps every boot: pruning is the timer's (`report --keep N`), which may
        // keep more than the default.
        let mut h = History::open_with(&self.dir, usize::MAX)?;
        h.record(current)?;
        h.accept(&current.boot_id)?;
        let cmp = history::assess(&h, current, &SURFACE_BOOK_2)?.1;
        self.keep(cmp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::DiffFacts;

    fn boot(n: usize) -> BootRecord {
        static REPORT: std::sync::OnceLock<crate::report::Report> = std::sync::OnceLock::new();
        let report = REPORT
            .get_or_init(|| {
                let dir = tempfile::tempdir().unwrap();
                let root = crate::root::Root::open(dir.path()).unwrap();
                let facts = crate::facts::collect_unwatched(&root, &SURFACE_BOOK_2);
                crate::checks::diagnose(&facts, &SURFACE_BOOK_2, "test")
            })
            .clone();
        BootRecord {
            boot_id: format!("{n:08}-0000-4000-8000-000000000000"),
            recorded_us: n as u64,
            kernel: "6.19.8".into(),
            generation: None,
            report,
            facts: DiffFacts::default(),
        }
    }

    /// A history kept longer than the default (`report --keep 2000`) keeps every
    /// boot through AcceptBaseline: pruning is the timer's.
    #[test]
    fn accepting_the_baseline_prunes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open_with(dir.path(), 2000).unwrap();
        for n in 0..600 {
            h.record(&boot(n)).unwrap();
        }
        drop(h);
        let state = HistoryState::new(dir.path().to_path_buf());
        state.accept(&boot(600)).unwrap();
        let h = History::open_read_only(dir.path()).unwrap().unwrap();
        assert_eq!(h.count().unwrap(), 601);
        assert_eq!(
            h.baseline().unwrap().as_deref(),
            Some(boot(600).boot_id.as_str())
        );
    }

    #[test]
    fn get_history_serves_at_most_four_callers_at_once() {
        let state = HistoryState::new(std::env::temp_dir().join("surface-check-none"));
        let held: Vec<_> = (0..MAX_HISTORY_READERS)
            .map(|_| state.reader().unwrap())
            .collect();
        assert!(state.reader().is_none());
        drop(held);
        assert!(state.reader().is_some());
    }
}
