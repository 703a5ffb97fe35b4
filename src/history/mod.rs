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
//! Writers: `surface-check report` (the timer) and `surface-check history
//! --accept`. Readers: `history`, `diff`, the daemon.

pub mod diff;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::report::Report;

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
