//! Diagnosis: pure functions from [`Facts`] to a [`Report`]. Nothing here reads a file.
//!
//! Every check is declared once, in [`REGISTRY`] order, with a stable id, its
//! subsystem, what it verifies, why it matters and how to fix a failure. A
//! subsystem is a chain of checks; its status is the worst of its checks and its
//! summary names the first check with that status (the first broken link).
//! `docs/checks.md` and `surface-check explain` are generated from these
//! declarations.

mod battery;
mod camera;
pub mod ctx;
mod detach;
mod dgpu;
mod input;
mod kernel;
mod platform;
mod touch;
mod wireless;

use crate::facts::{Fact, Facts};
use crate::profiles::Profile;
use crate::report::{CheckResult, Report, SCHEMA_VERSION, Status, SubsystemReport};
use crate::root::ReadError;

pub use ctx::Ctx;

/// A subsystem: an id, a title, and its checks in chain order.
pub struct SubsystemDef {
    pub id: &'static str,
    pub title: &'static str,
    pub checks: &'static [CheckDef],
}

/// How well a fact of the hardware reference (`docs/hardware.md`) is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tag {
    /// [U]: a hypothesis.
    Unverified,
    /// [I]: inferred from cited sources.
    Inferred,
    /// [V]: read in a cited source or a real machine's log.
    Verified,
}

impl Tag {
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Verified => "V",
            Tag::Inferred => "I",
            Tag::Unverified => "U",
        }
    }
}

/// One reference fact a check's failing verdict rests on.
pub struct Basis {
    /// The fact, as the reference states it.
    pub fact: &'static str,
    pub tag: Tag,
    /// Where it is established (a section of `docs/hardware.md`, a real record).
    pub source: &'static str,
}

/// Shorthand for a [`Basis`] in the registry.
pub const fn fact(tag: Tag, fact: &'static str, source: &'static str) -> Basis {
    Basis { fact, tag, source }
}

/// One declared check.
pub struct CheckDef {
    /// Stable id, `<subsystem>.<name>`.
    pub id: &'static str,
    pub title: &'static str,
    /// What the check verifies.
    pub verifies: &'static str,
    /// Why it matters: what breaks for the user.
    pub rationale: &'static str,
    /// How to fix a failure, in general; an outcome may give a more specific hint.
    pub fix: &'static str,
    /// Checks that must be ok for this one to be meaningful.
    pub requires: &'static [&'static str],
    /// The reference facts a `failed` or `degraded` verdict of this check rests on.
    /// A check with any fact weaker than [`Tag::Verified`] never fails: its unmet
    /// expectation is a notice (enforced by [`diagnose`]).
    pub basis: &'static [Basis],
    /// The later links that prove this one worked when its own fact is missing.
    pub proven_by: &'static str,
    /// What a captured or copied tree (not the live `/`) can and cannot show.
    pub captured: &'static str,
    pub run: fn(&Ctx) -> Outcome,
}

impl CheckDef {
    /// The weakest tag among the facts this check's failure rests on.
    pub fn weakest(&self) -> Tag {
        self.basis
            .iter()
            .map(|b| b.tag)
            .min()
            .unwrap_or(Tag::Unverified)
    }

    /// Whether this check may return `failed` or `degraded`: only when every fact
    /// it rests on is verified.
    pub fn may_fail(&self) -> bool {
        self.weakest() == Tag::Verified
    }
}

/// The result of running one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<String>,
    /// A hint specific to this outcome; otherwise the check's `fix` is used.
    pub hint: Option<String>,
    /// Advice that changes no status.
    pub notices: Vec<String>,
}

impl Outcome {
    pub fn new(status: Status, summary: impl Into<String>) -> Outcome {
        Outcome {
            status,
            summary: summary.into(),
            evidence: Vec::new(),
            hint: None,
            notices: Vec::new(),
        }
    }
    pub fn ok(summary: impl Into<String>) -> Outcome {
        Outcome::new(Status::Ok, summary)
    }
    pub fn failed(summary: impl Into<String>) -> Outcome {
        Outcome::new(Status::Failed, summary)
    }
    pub fn degraded(summary: impl Into<String>) -> Outcome {
        Outcome::new(Status::Degraded, summary)
    }
    pub fn absent(summary: impl Into<String>) -> Outcome {
        Outcome::new(Status::Absent, summary)
    }
    pub fn unknown(summary: impl Into<String>) -> Outcome {
        Outcome::new(Status::Unknown, summary)
    }
    pub fn evidence(mut self, e: impl Into<String>) -> Outcome {
        self.evidence.push(e.into());
        self
    }
    pub fn evidence_all(mut self, e: impl IntoIterator<Item = String>) -> Outcome {
        self.evidence.extend(e);
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Outcome {
        self.hint = Some(h.into());
        self
    }
    pub fn notice(mut self, n: impl Into<String>) -> Outcome {
        self.notices.push(n.into());
        self
    }
    /// This outcome as a notice on an `ok` verdict: for an expectation that a later
    /// link proves, or that rests on an unverified fact. `summary` says what works.
    pub fn as_notice(self, summary: impl Into<String>) -> Outcome {
        let mut n = self.summary;
        if let Some(h) = self.hint {
            n.push_str(&format!(" ({h})"));
        }
        let mut o = Outcome::ok(summary).evidence_all(self.evidence);
        o.notices.push(n);
        o.notices.extend(self.notices);
        o
    }
}

/// Every subsystem and its checks, in report order.
pub static REGISTRY: &[SubsystemDef] = &[
    kernel::SUBSYSTEM,
    touch::SUBSYSTEM,
    camera::SUBSYSTEM,
    battery::SUBSYSTEM,
    detach::SUBSYSTEM,
    input::SUBSYSTEM,
    dgpu::SUBSYSTEM,
    wireless::SUBSYSTEM,
    platform::SUBSYSTEM,
];

/// All checks, in registry order.
pub fn all_checks() -> impl Iterator<Item = (&'static SubsystemDef, &'static CheckDef)> {
    REGISTRY
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
}

/// Finds a check by id.
pub fn find(id: &str) -> Option<(&'static SubsystemDef, &'static CheckDef)> {
    all_checks().find(|(_, c)| c.id == id)
}

/// Diagnoses `facts` against `profile`. `source` says where the facts came from.
pub fn diagnose(facts: &Facts, profile: &Profile, source: &str) -> Report {
    let ctx = Ctx::new(facts, profile);
    let mut subsystems = Vec::new();
    for sub in REGISTRY {
        let mut results: Vec<CheckResult> = Vec::new();
        for check in sub.checks {
            let outcome = run_one(check, &ctx, &results);
            let hint = match outcome.status {
                // An unknown verdict says what would tell; a generic fix would guess.
                Status::Ok | Status::Absent | Status::Unknown => outcome.hint,
                Status::Failed | Status::Degraded => {
                    Some(outcome.hint.unwrap_or_else(|| check.fix.to_string()))
                }
            };
            let hint = if outcome.summary.starts_with("not checked:") {
                None
            } else {
                hint
            };
            results.push(CheckResult {
                id: check.id.to_string(),
                status: outcome.status,
                summary: outcome.summary,
                hint,
                evidence: outcome.evidence,
                notices: outcome.notices,
            });
        }
        subsystems.push(summarize(sub, results));
    }
    let overall = subsystems
        .iter()
        .map(|s| s.status)
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Unknown);
    Report {
        schema_version: SCHEMA_VERSION,
        machine: ctx.machine_report(),
        kernel: ctx.kernel_summary(),
        overall,
        subsystems,
        hung_paths: facts.hung_paths.clone(),
        needs_privileges: needs_privileges(facts),
        source: source.to_string(),
        generated_by: format!("surface-check {}", env!("CARGO_PKG_VERSION")),
    }
}

/// The device nodes whose answers were refused for lack of privileges (`permission
/// denied`), as absolute paths, each once: the DTX device, the event devices, hidraw
/// nodes, video and media devices, and `/dev/kmsg` when the kernel log could be read
/// neither from it nor from the journal.
pub fn needs_privileges(facts: &Facts) -> Vec<String> {
    let denied = ReadError::PermissionDenied.to_string();
    let mut paths: Vec<String> = Vec::new();
    paths.extend(refused(&facts.dtx.state, &denied));
    if let Fact::Ok(inputs) = &facts.inputs {
        paths.extend(inputs.iter().filter_map(|i| refused(&i.evdev, &denied)));
    }
    if let Fact::Ok(h) = &facts.hidraw {
        paths.extend(h.iter().filter_map(|x| refused(&x.info, &denied)));
    }
    if let Fact::Ok(v) = &facts.video {
        paths.extend(v.iter().filter_map(|x| refused(&x.caps, &denied)));
    }
    if let Fact::Ok(m) = &facts.media {
        for x in m {
            paths.extend(refused(&x.info, &denied));
            paths.extend(refused(&x.topology, &denied));
        }
    }
    // The log's fact names no device: its reason says what /dev/kmsg answered.
    if let Fact::Unknown { reason, .. } = &facts.kernel_log
        && reason.starts_with(&format!("/dev/kmsg: {denied}"))
    {
        paths.push("/dev/kmsg".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
}

/// The path (absolute) of a fact refused with `denied`.
fn refused<T>(f: &Fact<T>, denied: &str) -> Option<String> {
    match f {
        Fact::Unknown { path, reason } if reason == denied => Some(ctx::slash(path)),
        _ => None,
    }
}

/// Runs one check in context: the machine's identity, its prerequisites among the
/// results so far, and the rule that only verified facts fail.
fn run_one(check: &CheckDef, ctx: &Ctx, results: &[CheckResult]) -> Outcome {
    let outcome = if ctx.machine.identity == ctx::Identity::Other {
        Outcome::absent(format!("not a {}", ctx.profile.name))
            .evidence(ctx.machine.evidence.clone())
    } else if ctx.machine.identity == ctx::Identity::Unknown {
        Outcome::unknown(format!(
            "cannot tell whether this machine is a {}",
            ctx.profile.name
        ))
        .evidence(ctx.machine.evidence.clone())
    } else if let Some(blocker) = check.requires.iter().find_map(|req| {
        results
            .iter()
            .find(|r| r.id == *req && r.status != Status::Ok)
    }) {
        let status = if blocker.status == Status::Absent {
            Status::Absent
        } else {
            Status::Unknown
        };
        Outcome::new(
            status,
            format!("not checked: {} is {}", blocker.id, blocker.status),
        )
    } else {
        (check.run)(ctx)
    };
    if outcome.status.is_problem() && !check.may_fail() {
        tracing::debug!(check = check.id, "unverified expectation not met: notice");
        let what = format!(
            "{} (an unverified expectation, so a notice, not a {}: {})",
            outcome.summary,
            outcome.status,
            check
                .basis
                .iter()
                .filter(|b| b.tag != Tag::Verified)
                .map(|b| format!("[{}] {}", b.tag.as_str(), b.fact))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let mut o = outcome;
        o.summary = what;
        o.as_notice(format!("{}: not confirmed", check.title))
    } else {
        outcome
    }
}

/// A subsystem's verdict: the worst status of its checks, named by the first check
/// (in chain order) that has it.
fn summarize(sub: &SubsystemDef, checks: Vec<CheckResult>) -> SubsystemReport {
    let status = checks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Unknown);
    let decider = checks
        .iter()
        .find(|c| c.status == status && !c.summary.starts_with("not checked:"))
        .or_else(|| checks.iter().find(|c| c.status == status));
    let (summary, decided_by, hint) = match (status, decider) {
        (Status::Ok, _) => (
            format!(
                "{} checks passed",
                checks.iter().filter(|c| c.status == Status::Ok).count()
            ),
            None,
            None,
        ),
        (_, Some(c)) => (c.summary.clone(), Some(c.id.clone()), c.hint.clone()),
        (_, None) => ("no checks".to_string(), None, None),
    };
    let notices = checks
        .iter()
        .flat_map(|c| c.notices.iter().map(move |n| format!("{}: {n}", c.id)))
        .collect();
    SubsystemReport {
        id: sub.id.to_string(),
        title: sub.title.to_string(),
        status,
        summary,
        decided_by,
        hint,
        notices,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_prefixed_by_their_subsystem() {
        let mut seen = BTreeSet::new();
        for (sub, c) in all_checks() {
            assert!(seen.insert(c.id), "duplicate check id {}", c.id);
            assert!(
                c.id.starts_with(&format!("{}.", sub.id)),
                "{} not under {}",
                c.id,
                sub.id
            );
            assert!(!c.fix.is_empty() && !c.rationale.is_empty() && !c.verifies.is_empty());
        }
    }

    #[test]
    fn every_check_names_its_facts_its_downstream_proof_and_what_a_capture_shows() {
        for (_, c) in all_checks() {
            assert!(!c.basis.is_empty(), "{} rests on no reference fact", c.id);
            for b in c.basis {
                assert!(
                    !b.fact.is_empty() && !b.source.is_empty(),
                    "{}: a basis without fact or source",
                    c.id
                );
            }
            assert!(!c.proven_by.is_empty(), "{}: proven_by is empty", c.id);
            assert!(!c.captured.is_empty(), "{}: captured is empty", c.id);
        }
    }

    #[test]
    fn an_unverified_check_never_fails_whatever_its_code_returns() {
        static UNVERIFIED: CheckDef = CheckDef {
            id: "t.u",
            title: "Unverified thing",
            verifies: "v",
            rationale: "r",
            fix: "f",
            requires: &[],
            basis: &[
                fact(Tag::Verified, "a verified fact", "test"),
                fact(Tag::Unverified, "an unverified fact", "test"),
            ],
            proven_by: "p",
            captured: "c",
            run: |_| Outcome::failed("it is missing").evidence("e"),
        };
        assert!(!UNVERIFIED.may_fail());
        let facts: crate::facts::Facts = serde_json::from_str(include_str!(
            "../../fuzz/seeds/facts_json/sb2-15-nixos.json"
        ))
        .expect("seed parses");
        let ctx = Ctx::new(&facts, &crate::profiles::SURFACE_BOOK_2);
        let o = run_one(&UNVERIFIED, &ctx, &[]);
        assert_eq!(o.status, Status::Ok);
        assert!(
            o.notices
                .iter()
                .any(|n| n.contains("it is missing") && n.contains("[U] an unverified fact"))
        );
        assert!(o.evidence.contains(&"e".to_string()));
    }

    #[test]
    fn requirements_name_earlier_checks_of_the_same_subsystem() {
        for sub in REGISTRY {
            for (i, c) in sub.checks.iter().enumerate() {
                for r in c.requires {
                    assert!(
                        sub.checks[..i].iter().any(|e| e.id == *r),
                        "{} requires {}, which does not come before it",
                        c.id,
                        r
                    );
                }
            }
        }
    }
}
