//! The report: verdicts per subsystem and check. This is the public JSON interface
//! (`status --json`, D-Bus, history), versioned by [`SCHEMA_VERSION`] and described by
//! `docs/report-schema.json`.

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works in part.
    Degraded,
    /// Does not work.
    Failed,
    /// The hardware is not there, or the check does not apply.
    Absent,
    /// Could not be determined; the summary says why.
    Unknown,
}

impl Status {
    /// Severity for choosing the worst status: failed > degraded > unknown > ok > absent.
    pub fn severity(self) -> u8 {
        match self {
            Status::Absent => 0,
            Status::Ok => 1,
            Status::Unknown => 2,
            Status::Degraded => 3,
            Status::Failed => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Failed => "failed",
            Status::Absent => "absent",
            Status::Unknown => "unknown",
        }
    }

    /// Whether this verdict makes the run exit 1.
    pub fn is_problem(self) -> bool {
        matches!(self, Status::Degraded | Status::Failed)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub machine: Machine,
    pub kernel: KernelSummary,
    pub overall: Status,
    pub subsystems: Vec<SubsystemReport>,
    /// Paths whose reads hung and were cut off.
    pub hung_paths: Vec<String>,
    /// Device nodes whose answers were refused for lack of privileges (`permission
    /// denied`): running as root would also read them. Verdicts that files decide do
    /// not depend on them.
    #[serde(default)]
    pub needs_privileges: Vec<String>,
    /// Where the facts came from (`/`, a root directory, or a capture file).
    pub source: String,
    pub generated_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `surface-book-2-13`, `surface-book-2-15`, `surface-book-2` (size unknown),
    /// `other` or `unknown`.
    pub model: String,
    /// How the model was told: `ipts-hid`, `dmi-sku`, `dgpu` (the dGPU's PCI id),
    /// `dmi-product` or `devices` (size not known; the 13" is assumed and
    /// size-dependent checks do not fail), `dmi` (not this profile), `unknown`
    /// (the evidence is unreadable or conflicts).
    pub model_source: String,
    /// The fact the model rests on (`/sys/class/dmi/id/product_sku: Surface_Book_1793`).
    pub model_evidence: String,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub sku: Option<String>,
    pub os: Option<String>,
    pub nixos: bool,
    /// Whether the clipboard sits on its base: `attached`, `detached` or `unknown`,
    /// with what it rests on.
    pub base: String,
    pub base_evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelSummary {
    pub release: Option<String>,
    /// linux-surface patches detected: true, false, or null when it cannot be told.
    pub surface_patches: Option<bool>,
    pub patch_evidence: Vec<String>,
    pub config_source: Option<String>,
    pub tainted: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsystemReport {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// The first broken link in the chain with its summary, or what works.
    pub summary: String,
    /// The check that decided the status (the first broken link), if any.
    pub decided_by: Option<String>,
    pub hint: Option<String>,
    /// Advice from the subsystem's checks that changes no status, each prefixed by
    /// its check id (`touch.ipts-driver: ...`).
    #[serde(default)]
    pub notices: Vec<String>,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub status: Status,
    pub summary: String,
    /// What to do; null when nothing is to be done.
    pub hint: Option<String>,
    /// Paths and facts the verdict rests on.
    pub evidence: Vec<String>,
    /// Advice that changes no status: an older but working stack, an optional
    /// service missing while the hardware works, an unverified expectation not met,
    /// an upstream fact missing where a later link proves it worked.
    #[serde(default)]
    pub notices: Vec<String>,
}

impl Report {
    /// Process exit code: 1 when a subsystem is degraded or failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.subsystems.iter().any(|s| s.status.is_problem()) {
            1
        } else {
            0
        }
    }
}
