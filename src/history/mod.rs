//! The history of boots: one record per boot (the kernel's boot id) in a SQLite
//! database in the state directory, and the regressions a kernel update caused.
//!
//! - [`store`]: the database (`History`): WAL, schema migrations from the first
//!   version on, retention, a corrupt file moved aside, a newer schema left alone.
//! - [`diff`]: pure: the facts that matter for a diff ([`DiffFacts`], taken from the
//!   collected facts and the profile), and the regression rules ([`diff::compare`]):
//!   a subsystem ok on an earlier boot and degraded or failed now, unless the
//!   context explains it, named with both kernels and what changed between them.
//!
//! - [`view`]: the JSON documents (`history --json`, `report --json`, the daemon's
//!   GetHistory).
//!
//! Writers: `surface-check report` (the timer), `surface-check history --accept`
//! and the daemon's AcceptBaseline. Readers: `history`, `diff`, the daemon.

pub mod diff;
pub mod store;
pub mod view;

use serde::{Deserialize, Serialize};

use crate::facts::{Fact, Facts};
use crate::profiles::Profile;
use crate::report::{Report, Status};

pub use diff::DiffFacts;
pub use store::{History, HistoryError};

/// One boot as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootRecord {
    /// `proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// When the record was written (last updated), in microseconds since the epoch.
    pub recorded_us: u64,
    /// The boot's kernel release; `unknown` when it could not be read.
    pub kernel: String,
    /// The NixOS generation booted, where there is one.
    pub generation: Option<u32>,
    /// The report of this boot (the last one recorded for it).
    pub report: Report,
    /// The facts that matter for diffs.
    pub facts: DiffFacts,
}

impl BootRecord {
    /// The boot as a regression names it: `6.19.8 (generation 42)`.
    pub fn label(&self) -> String {
        match self.generation {
            Some(g) => format!("{} (generation {g})", self.kernel),
            None => self.kernel.clone(),
        }
    }
}

/// This boot's id, or why there is none (the history keys its records by it).
pub fn boot_id(facts: &Facts) -> Result<String, String> {
    match &facts.kernel.boot_id {
        Fact::Ok(b) => Ok(b.clone()),
        other => {
            let (path, why) = other.failure().unwrap_or(("boot id", None));
            Err(format!(
                "this boot has no boot id ({path}: {}); the history records one entry per \
                 boot, keyed by the kernel's boot id",
                why.unwrap_or("does not exist")
            ))
        }
    }
}

impl BootRecord {
    /// This boot's record from its facts and its report, or why there is none (no
    /// boot id: the history keys its records by it).
    pub fn from_facts(
        facts: &Facts,
        report: Report,
        recorded_us: u64,
        p: &Profile,
    ) -> Result<BootRecord, String> {
        let boot_id = boot_id(facts)?;
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
        Ok(BootRecord {
            boot_id,
            recorded_us,
            kernel,
            generation,
            facts: DiffFacts::from_facts(facts, p),
            report,
        })
    }
}

/// The earlier boots the regression rules need for `current`, newest first: the
/// newest boot recorded before it, and for each subsystem degraded or failed now
/// the newest earlier boot where it was ok (the one a regression names), back to
/// the baseline (included). Boots recorded after `current`, or a baseline recorded
/// after it, leave nothing to compare with. Each is one indexed lookup, however
/// long the history: [`diff::compare`] needs no other boot.
pub fn earlier_boots(h: &History, current: &BootRecord) -> Result<Vec<BootRecord>, HistoryError> {
    // One snapshot: a report pruning meanwhile cannot split the lookups.
    h.snapshot(|h| earlier_boots_in(h, current))
}

fn earlier_boots_in(h: &History, current: &BootRecord) -> Result<Vec<BootRecord>, HistoryError> {
    let baseline = h.baseline()?;
    if baseline.as_deref() == Some(current.boot_id.as_str()) {
        return Ok(Vec::new());
    }
    let from = match &baseline {
        Some(b) => h.seq_of(b)?.unwrap_or(0),
        None => 0,
    };
    // Not recorded yet: every recorded boot is earlier.
    let before = h.seq_of(&current.boot_id)?;
    if before.is_some_and(|b| b < from) {
        return Ok(Vec::new());
    }
    let mut found: std::collections::BTreeMap<i64, BootRecord> = Default::default();
    if let Some((seq, b)) = h.newest_in(before, from)? {
        found.insert(seq, b);
    }
    let mut asked = std::collections::BTreeSet::new();
    for sub in &current.report.subsystems {
        if !sub.status.is_problem() || !asked.insert(sub.id.as_str()) {
            continue;
        }
        if let Some((seq, b)) = h.newest_with_status(&sub.id, Status::Ok, before, from)? {
            found.entry(seq).or_insert(b);
        }
    }
    Ok(found.into_values().rev().collect())
}

/// The earlier boots `current` is compared with ([`earlier_boots`]) and what the
/// regression rules find ([`diff::compare`]).
pub fn assess(
    h: &History,
    current: &BootRecord,
    p: &Profile,
) -> Result<(Vec<BootRecord>, diff::Comparison), HistoryError> {
    let earlier = earlier_boots(h, current)?;
    let cmp = diff::compare(&earlier, current, p);
    Ok((earlier, cmp))
}

#[cfg(test)]
mod tests {
    use super::{BootRecord, DiffFacts, History, Status, earlier_boots};
    use crate::profiles::SURFACE_BOOK_2;

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
    fn earlier_boots_are_the_newest_boot_and_the_newest_ok_one_back_to_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path()).unwrap();
        // Boot 0 had touch working, boots 1..=199 not.
        for n in 0..200 {
            let st = if n == 0 { Status::Ok } else { Status::Failed };
            h.record(&boot(n, st)).unwrap();
        }
        let now = boot(200, Status::Failed);
        assert_eq!(ids(&earlier_boots(&h, &now).unwrap()), [199, 0]);
        // Nothing is a problem now: the newest boot only.
        assert_eq!(
            ids(&earlier_boots(&h, &boot(200, Status::Ok)).unwrap()),
            [199]
        );
        // Recorded already (a second run in the same boot): only the boots before it.
        let again = boot(150, Status::Failed);
        assert_eq!(ids(&earlier_boots(&h, &again).unwrap()), [149, 0]);
        // A baseline: back to it, included; touch never worked since.
        h.accept(&boot(120, Status::Failed).boot_id).unwrap();
        assert_eq!(ids(&earlier_boots(&h, &now).unwrap()), [199]);
        // The baseline itself, or a boot recorded before it, has nothing to compare
        // with; a boot after it goes back to it.
        assert!(
            earlier_boots(&h, &boot(120, Status::Failed))
                .unwrap()
                .is_empty()
        );
        assert_eq!(ids(&earlier_boots(&h, &again).unwrap()), [149]);
        assert!(
            earlier_boots(&h, &boot(100, Status::Failed))
                .unwrap()
                .is_empty()
        );
    }

    /// The lookups give the regression rules the same answer as every earlier boot
    /// would, over random histories, baselines, re-recorded boots and records that
    /// do not parse.
    #[test]
    fn comparing_with_the_boots_looked_up_is_comparing_with_every_earlier_boot() {
        use crate::history::diff::compare;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let statuses = [
            Status::Ok,
            Status::Degraded,
            Status::Failed,
            Status::Unknown,
        ];
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let mut h = History::open(dir.path()).unwrap();
            let n = 1 + next(40) as usize;
            for i in 0..n {
                let mut b = boot(i, statuses[next(4) as usize]);
                for s in &mut b.report.subsystems {
                    if s.id != "touch" && next(3) == 0 {
                        s.status = statuses[next(4) as usize];
                    }
                }
                h.record(&b).unwrap();
            }
            if next(3) == 0 {
                h.accept(&boot(next(n as u64) as usize, Status::Ok).boot_id)
                    .unwrap();
            }
            if next(4) == 0 {
                // A record something else garbled.
                let victim = next(n as u64) as i64 + 1;
                h.conn_for_tests()
                    .execute(
                        "UPDATE boots SET report = 'garbage' WHERE seq = ?1",
                        [victim],
                    )
                    .unwrap();
            }
            let mut current = boot(
                if next(2) == 0 {
                    n
                } else {
                    next(n as u64) as usize
                },
                statuses[next(4) as usize],
            );
            for s in &mut current.report.subsystems {
                s.status = statuses[next(4) as usize];
            }
            // Every earlier boot, as a walk through the whole history finds them.
            let all = h.boots(usize::MAX).unwrap();
            let baseline = h.baseline().unwrap();
            let mut every = Vec::new();
            let start = all
                .iter()
                .position(|b| b.boot_id == current.boot_id)
                .map_or(0, |i| i + 1);
            let newer_baseline = all[..start.min(all.len())]
                .iter()
                .any(|b| Some(&b.boot_id) == baseline.as_ref());
            if !newer_baseline && baseline.as_deref() != Some(current.boot_id.as_str()) {
                for b in all.into_iter().skip(start) {
                    let last = Some(&b.boot_id) == baseline.as_ref();
                    every.push(b);
                    if last {
                        break;
                    }
                }
            }
            let looked_up = earlier_boots(&h, &current).unwrap();
            assert_eq!(
                compare(&looked_up, &current, &SURFACE_BOOK_2),
                compare(&every, &current, &SURFACE_BOOK_2),
                "round {round}: looked up {:?}, every {:?}",
                ids(&looked_up),
                ids(&every)
            );
        }
    }
}
