//! Prediction: what a kernel will do for each subsystem of the profile, judged
//! before it boots.
//!
//! A [`KernelImage`] becomes [`Facts`] that hold only what a kernel on disk shows
//! (release, config, module tree; no loaded modules, no devices), and each driver
//! the profile says a subsystem needs ([`Profile::kernel_needs`]) is asked of
//! [`Ctx::kernel_has`], the lookup the live diagnosis uses. Whether a missing
//! driver may make a prediction `failed` or `degraded` comes from the `basis` of
//! the check that rests on it in the registry: only verified facts fail, anything
//! weaker is a notice. Fixes come from [`Ctx::provide_fix`], so they fit the
//! target's own config and tree. Nothing here reads a file; renderers only print
//! what is computed here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::boot::{self, BootVerdict};
use super::{KernelImage, TargetKind};
use crate::checks::ctx::{Has, why};
use crate::checks::{self, Ctx, Tag};
use crate::facts::{Fact, Facts, Source};
use crate::profiles::{KernelNeed, Profile, Reliance};
use crate::report::Status;

/// Version of the JSON shape of `surface-check kernel --json` ([`KernelReport`]).
pub const SCHEMA_VERSION: u32 = 1;

/// What a kernel will do for one subsystem.
#[derive(Debug, Clone, Serialize)]
pub struct SubsystemPrediction {
    /// The check registry's subsystem id (`touch`).
    pub id: String,
    pub title: String,
    /// `ok`: will work; `degraded`: will work in part; `failed`: will not work;
    /// `unknown`: cannot tell (no config and no module tree).
    pub status: Status,
    /// `touch: will work (HID_IPTS=m, ipts.ko present; needs iptsd >= 1.0 in
    /// userspace)`.
    pub summary: String,
    /// Each driver the subsystem needs, in chain order.
    pub drivers: Vec<DriverPrediction>,
    /// Advice that changes no status (an unverified expectation, an older driver).
    pub notices: Vec<String>,
    /// What to do, chosen from the target's own config and module tree.
    pub fix: Option<String>,
}

/// Whether a kernel has a driver, as `Ctx::kernel_has` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Builtin,
    Module,
    Missing,
    Unknown,
}

/// One driver a subsystem needs, judged in the target.
#[derive(Debug, Clone, Serialize)]
pub struct DriverPrediction {
    pub role: String,
    pub config: String,
    pub module: String,
    /// `CONFIG_<config>` in the target: `y`, `m`, `""` (not set); `null` when the
    /// config cannot be read.
    pub value: Option<String>,
    pub presence: Presence,
    /// The older driver that serves the role in this kernel (`MISC_IPTS`).
    pub older: Option<String>,
    /// `required`: the subsystem does not work without it; `partial`: it works
    /// in part.
    pub reliance: &'static str,
    /// The check whose verdict rests on this driver.
    pub check: Option<String>,
    /// The weakest tag of that check's reference facts (`V`, `I`, `U`): only `V`
    /// lets a missing driver fail the prediction.
    pub basis: &'static str,
    /// `HID_IPTS=m, ipts.ko present`, or why it is missing.
    pub evidence: String,
    /// What is lost without it.
    pub without: String,
}

/// What a kernel will do on this machine, before it boots.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// What was inspected, as named (`running kernel` for the running one).
    pub target: String,
    pub kind: TargetKind,
    /// The module directory's release (`lib/modules/<release>`).
    pub release: Option<String>,
    /// The release inside the kernel image.
    pub image_release: Option<String>,
    /// What `uname -r` will say once booted: the image's release, else the module
    /// directory's.
    pub boots_as: Option<String>,
    pub image_path: Option<String>,
    pub generation: Option<u32>,
    /// Where the config was read, or why it could not be.
    pub config: String,
    pub config_options: Option<usize>,
    /// The module directory, or why there is none.
    pub module_tree: String,
    pub modules: Option<usize>,
    /// Whether it carries the linux-surface patches (`null`: cannot tell).
    pub surface_patches: Option<bool>,
    pub patch_evidence: Vec<String>,
    pub subsystems: Vec<SubsystemPrediction>,
    /// What the reader noted about the target.
    pub notes: Vec<String>,
}

impl Prediction {
    /// The worst status of the subsystems.
    pub fn overall(&self) -> Status {
        worst(self.subsystems.iter().map(|s| s.status))
    }

    pub fn subsystem(&self, id: &str) -> Option<&SubsystemPrediction> {
        self.subsystems.iter().find(|s| s.id == id)
    }
}

fn worst(it: impl Iterator<Item = Status>) -> Status {
    it.max_by_key(|s| s.severity()).unwrap_or(Status::Unknown)
}

/// The facts a kernel on disk shows: its release, config and module tree, and
/// nothing else collected.
pub fn facts_of(image: &KernelImage) -> Facts {
    let mut f = Facts::empty(Source {
        root: image.target.clone(),
        collector: format!("surface-check {} (preflight)", env!("CARGO_PKG_VERSION")),
        redacted: false,
        live: false,
    });
    f.kernel.release = match boots_as(image) {
        Some(r) => Fact::Ok(r),
        None => Fact::Unknown {
            path: image.target.clone(),
            reason: "no release found".into(),
        },
    };
    f.config = image.config.clone();
    f.module_tree = image.module_tree.clone();
    // A generation is NixOS's; so is a running kernel whose modules are where only
    // NixOS keeps them (the fixes then name NixOS's way).
    f.os.is_nixos = image.kind == TargetKind::NixGeneration
        || (image.kind == TargetKind::Running
            && image
                .module_tree
                .ok()
                .is_some_and(|t| t.dir.starts_with("run/booted-system/")));
    f
}

/// What `uname -r` will say: the image's own release, else the module directory's.
pub fn boots_as(image: &KernelImage) -> Option<String> {
    image
        .image_release
        .clone()
        .or_else(|| image.release.clone())
}

/// The check a need rests on, and the weakest tag of its reference facts.
fn basis(need: &KernelNeed) -> (Option<&'static checks::CheckDef>, Tag) {
    match need.check.and_then(checks::find) {
        Some((_, c)) => (Some(c), c.weakest()),
        None => (None, Tag::Unverified),
    }
}

/// Predicts, subsystem by subsystem, what `image` will do on this profile's
/// machine.
pub fn predict(image: &KernelImage, profile: &Profile) -> Prediction {
    let facts = facts_of(image);
    let ctx = Ctx::new(&facts, profile);
    let needs = profile.kernel_needs();
    let (patches, patch_ev) = ctx.surface_patches();
    // The evidence names the live file; here the release is the target's.
    let patch_evidence: Vec<String> = patch_ev
        .into_iter()
        .map(|e| e.replace("/proc/sys/kernel/osrelease", "release"))
        .collect();
    let subsystems = checks::REGISTRY
        .iter()
        .map(|sub| {
            if sub.id == "kernel" {
                return kernel_prediction(image, sub, patches, &patch_evidence);
            }
            let n = needs.iter().find(|n| n.subsystem == sub.id);
            match n {
                Some(n) => subsystem_prediction(&ctx, sub.id, sub.title, n),
                None => SubsystemPrediction {
                    id: sub.id.into(),
                    title: sub.title.into(),
                    status: Status::Unknown,
                    summary: format!(
                        "{}: cannot tell (the profile names no kernel driver for it)",
                        sub.id
                    ),
                    drivers: Vec::new(),
                    notices: Vec::new(),
                    fix: None,
                },
            }
        })
        .collect();
    Prediction {
        target: image.target.clone(),
        kind: image.kind,
        release: image.release.clone(),
        image_release: image.image_release.clone(),
        boots_as: boots_as(image),
        image_path: image.image_path.clone(),
        generation: image.generation,
        config: match &image.config {
            Fact::Ok(c) => c.source.clone(),
            f => why(f),
        },
        config_options: image.config.ok().map(|c| c.options.len()),
        module_tree: match &image.module_tree {
            Fact::Ok(t) => t.dir.clone(),
            f => why(f),
        },
        modules: image
            .module_tree
            .ok()
            .and_then(|t| t.available.ok())
            .map(|a| a.len()),
        surface_patches: patches,
        patch_evidence,
        subsystems,
        notes: image.notes.clone(),
    }
}

/// The `kernel` subsystem: identity, config, module tree, linux-surface patches.
fn kernel_prediction(
    image: &KernelImage,
    sub: &checks::SubsystemDef,
    patches: Option<bool>,
    patch_evidence: &[String],
) -> SubsystemPrediction {
    let check = |id: &str| checks::find(id).map(|(_, c)| c);
    // A problem's status: `failed` only when its check rests on verified facts.
    let may_fail = |id: &str, s: Status| {
        if check(id).is_some_and(|c| c.may_fail()) {
            s
        } else {
            Status::Ok
        }
    };
    let mut notices = Vec::new();
    // (status, what, fix) of each problem, in chain order.
    let mut problems: Vec<(Status, String, Option<String>)> = Vec::new();
    match &image.config {
        Fact::Ok(_) => {}
        f => notices.push(format!(
            "no kernel config ({}): drivers are judged from the module tree alone",
            why(f)
        )),
    }
    match &image.module_tree {
        Fact::Ok(t) if matches!(t.available, Fact::Ok(_)) => {}
        Fact::Ok(t) => notices.push(format!(
            "the module list of {} cannot be read: {}",
            t.dir,
            why(&t.available)
        )),
        f @ Fact::Absent { .. } if boot::modules_off(image) => notices.push(format!(
            "no module tree ({}), and none is needed: the kernel is built without loadable \
             modules (CONFIG_MODULES not set), so every driver must be built in",
            why(f)
        )),
        f @ Fact::Absent { .. } => problems.push((
            may_fail("kernel.modules", Status::Failed),
            format!(
                "no module tree ({}): no driver built as a module can load",
                why(f)
            ),
            if image.kind == TargetKind::Running {
                check("kernel.modules").map(|c| c.fix.to_string())
            } else {
                Some("Use the kernel together with its modules (a package that ships lib/modules/<release>, or the generation's kernel-modules).".into())
            },
        )),
        f => problems.push((
            Status::Unknown,
            format!("the module tree cannot be read ({})", why(f)),
            None,
        )),
    }
    match patches {
        Some(true) => {}
        Some(false) => problems.push((
            may_fail("kernel.surface-patches", Status::Failed),
            "stock kernel: no linux-surface patches, so no IPTS touch and pen driver".into(),
            check("kernel.surface-patches").map(|c| c.fix.to_string()),
        )),
        None => problems.push((
            Status::Unknown,
            "cannot tell whether it has the linux-surface patches: neither its config nor its module tree is readable".into(),
            None,
        )),
    }
    let status = worst(
        problems
            .iter()
            .map(|(s, _, _)| *s)
            .chain(std::iter::once(Status::Ok)),
    );
    let release = boots_as(image).unwrap_or_else(|| "an unknown release".into());
    let (summary, fix) = match problems.iter().find(|(s, _, _)| *s == status) {
        Some((_, what, fix)) if status != Status::Ok => {
            let others: Vec<&str> = problems
                .iter()
                .filter(|(s, w, _)| s.is_problem() && w != what)
                .map(|(_, w, _)| w.split(':').next().unwrap_or_default())
                .collect();
            let more = if others.is_empty() {
                String::new()
            } else {
                format!("; also: {}", others.join("; "))
            };
            (format!("{}: {what}{more}", sub.id), fix.clone())
        }
        _ => (
            format!(
                "{}: boots as {release}{}",
                sub.id,
                match patches {
                    Some(true) => format!(
                        ", with the linux-surface patches ({})",
                        patch_evidence.first().cloned().unwrap_or_default()
                    ),
                    _ => String::new(),
                }
            ),
            None,
        ),
    };
    SubsystemPrediction {
        id: sub.id.into(),
        title: sub.title.into(),
        status,
        summary,
        drivers: Vec::new(),
        notices,
        fix,
    }
}

/// `ipts.ko.xz` from a module path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// How a present driver shows in the target, short: `HID_IPTS=m, ipts.ko present`.
fn present_evidence(ctx: &Ctx, d: &crate::profiles::Driver, has: &Has) -> String {
    match (has, ctx.config(d.config)) {
        (Has::Builtin(_), Some(v)) if !v.is_empty() => format!("{}={v} (built in)", d.config),
        (Has::Builtin(_), _) => format!("{} built in (modules.builtin)", d.module),
        (Has::Module(p), Some(v)) if !v.is_empty() => {
            format!("{}={v}, {} present", d.config, file_name(p))
        }
        (Has::Module(p), _) => format!("{} present (no config to confirm)", file_name(p)),
        (Has::No(e) | Has::Unknown(e), _) => e.clone(),
    }
}

/// Why a driver counts as missing, short: `HID_IPTS not set`.
fn missing_evidence(ctx: &Ctx, d: &crate::profiles::Driver) -> String {
    match ctx.config(d.config) {
        Some("") => format!("{} not set", d.config),
        Some("m") => format!("{}=m but {} is not in the module tree", d.config, d.module),
        Some(v) => format!("{}={v} but {} is missing", d.config, d.module),
        None => format!("{} is neither built in nor in the module tree", d.module),
    }
}

fn subsystem_prediction(
    ctx: &Ctx,
    id: &str,
    title: &str,
    needs: &crate::profiles::SubsystemNeeds,
) -> SubsystemPrediction {
    let mut drivers = Vec::new();
    let mut notices = Vec::new();
    // (status, what is missing, what is missing with what it costs, fix) of every
    // unmet need that counts, in chain order.
    let mut unmet: Vec<(Status, String, String, Option<String>)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    // Unknown needs that only give notices: when every need is unknown, so is the
    // subsystem.
    let mut unknown_notices: Vec<String> = Vec::new();
    let mut via_older: Option<&'static str> = None;
    // Partial needs resting on one check (the front and the rear sensor): each
    // missing one is a part lost, every one of them missing is the whole.
    let mut parts: std::collections::BTreeMap<&str, (usize, Vec<usize>)> = Default::default();
    for need in &needs.needs {
        let (check, tag) = basis(need);
        let counted = need.reliance == Reliance::Partial
            && need.notice_only.is_none()
            && tag == Tag::Verified;
        if counted && let Some(c) = need.check {
            parts.entry(c).or_default().0 += 1;
        }
        let mut has = ctx.kernel_has(&need.driver);
        let mut older = None;
        if !matches!(has, Has::Builtin(_) | Has::Module(_))
            && let Some((od, what)) = &need.older
        {
            let oh = ctx.kernel_has(od);
            if matches!(oh, Has::Builtin(_) | Has::Module(_)) {
                older = Some((od, *what));
                has = oh;
            }
        }
        let shown = older.map_or(&need.driver, |(od, _)| od);
        let (presence, evidence) = match &has {
            Has::Builtin(_) => (Presence::Builtin, present_evidence(ctx, shown, &has)),
            Has::Module(_) => (Presence::Module, present_evidence(ctx, shown, &has)),
            Has::No(_) => (Presence::Missing, missing_evidence(ctx, &need.driver)),
            Has::Unknown(e) => (Presence::Unknown, e.clone()),
        };
        if let Some((od, what)) = older {
            via_older = Some(what);
            notices.push(format!(
                "{} is not set; {} serves instead: {what}",
                need.driver.config, od.config
            ));
        }
        match presence {
            Presence::Builtin | Presence::Module => {}
            Presence::Missing => {
                let phrase = format!("{evidence}: {}", need.without);
                if let Some(why) = need.notice_only {
                    notices.push(format!("{phrase} (a notice: {why})"));
                } else if tag == Tag::Verified {
                    let status = match need.reliance {
                        Reliance::Required => Status::Failed,
                        Reliance::Partial => Status::Degraded,
                    };
                    if counted && let Some(c) = need.check {
                        parts.entry(c).or_default().1.push(unmet.len());
                    }
                    unmet.push((
                        status,
                        evidence.clone(),
                        phrase,
                        ctx.provide_fix(&need.driver),
                    ));
                } else {
                    let facts = check
                        .map(|c| {
                            c.basis
                                .iter()
                                .filter(|b| b.tag != Tag::Verified)
                                .map(|b| format!("[{}] {}", b.tag.as_str(), b.fact))
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "no check rests on this driver".into());
                    notices.push(format!(
                        "{phrase} (an unverified expectation, so a notice: {facts})"
                    ));
                }
            }
            Presence::Unknown => {
                let what = format!(
                    "cannot tell whether the kernel has {} ({evidence})",
                    need.driver.module
                );
                if tag == Tag::Verified && need.notice_only.is_none() {
                    unknown.push(what);
                } else {
                    notices.push(what.clone());
                    unknown_notices.push(what);
                }
            }
        }
        drivers.push(DriverPrediction {
            role: need.role.clone(),
            config: need.driver.config.into(),
            module: need.driver.module.into(),
            value: ctx.config(shown.config).map(str::to_string),
            presence,
            older: older.map(|(od, _)| od.config.to_string()),
            reliance: match need.reliance {
                Reliance::Required => "required",
                Reliance::Partial => "partial",
            },
            check: need.check.map(str::to_string),
            basis: tag.as_str(),
            evidence,
            without: need.without.clone(),
        });
    }
    if unknown.is_empty() && !needs.needs.is_empty() && unknown_notices.len() == needs.needs.len() {
        unknown.push(unknown_notices[0].clone());
    }
    for (total, missing) in parts.values() {
        if *total >= 2 && missing.len() == *total {
            for &i in missing {
                unmet[i].0 = Status::Failed;
            }
        }
    }
    let status = if let Some(s) = unmet
        .iter()
        .map(|(s, _, _, _)| *s)
        .max_by_key(|s| s.severity())
    {
        s
    } else if !unknown.is_empty() {
        Status::Unknown
    } else {
        Status::Ok
    };
    let (summary, fix) = match status {
        Status::Ok => {
            let primary = drivers
                .iter()
                .find(|d| matches!(d.presence, Presence::Builtin | Presence::Module))
                .map(|d| d.evidence.clone())
                .unwrap_or_else(|| "nothing needed".into());
            let user = match (needs.userspace, via_older) {
                (Some(u), None) => format!("; {u}"),
                _ => String::new(),
            };
            (format!("{id}: will work ({primary}{user})"), None)
        }
        Status::Unknown => (format!("{id}: cannot tell ({})", unknown[0]), None),
        s => {
            // The first unmet need with the worst status names the loss; the
            // others are listed short.
            let first = unmet.iter().position(|(x, _, _, _)| *x == s).unwrap_or(0);
            let (_, _, phrase, fix) = &unmet[first];
            let verb = if s == Status::Failed {
                "will not work"
            } else {
                "will work in part"
            };
            let others: Vec<&str> = unmet
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != first)
                .map(|(_, (_, short, _, _))| short.as_str())
                .collect();
            let more = if others.is_empty() {
                String::new()
            } else {
                format!("; also missing: {}", others.join(", "))
            };
            (format!("{id}: {verb} ({phrase}{more})"), fix.clone())
        }
    };
    SubsystemPrediction {
        id: id.into(),
        title: title.into(),
        status,
        summary,
        drivers,
        notices,
        fix,
    }
}

/// `surface-check kernel` as data: what is printed and what `--json` writes.
#[derive(Debug, Clone, Serialize)]
pub struct KernelReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `running`, `inspect` or `compare`.
    pub mode: Mode,
    /// The kernel judged: the running one, or TARGET.
    pub kernel: Prediction,
    /// Whether it will boot this system (not judged for the running kernel).
    pub boot: Option<BootVerdict>,
    /// With `--compare`: the running kernel against TARGET.
    pub compare: Option<Comparison>,
    /// `ok` when every subsystem will work and it will boot; `failed` or
    /// `degraded` when one will not (or it will not boot); `unknown` otherwise.
    pub overall: Status,
    /// This machine, when the report knows it: the predictions are for the
    /// profile's model whatever machine runs the command.
    pub machine: Option<ThisMachine>,
    pub generated_by: String,
}

/// This machine as the live identification sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ThisMachine {
    /// `profile` (the profile's model), `other`, or `unknown`.
    pub identity: &'static str,
    /// The report's model id (`surface-book-2-15`), or why not.
    pub model: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Running,
    Inspect,
    Compare,
}

impl KernelReport {
    /// The report of one kernel, with its boot verdict when there is one.
    pub fn new(mode: Mode, kernel: Prediction, boot: Option<BootVerdict>) -> KernelReport {
        let overall = worst(std::iter::once(kernel.overall()).chain(boot.iter().map(|b| b.status)));
        KernelReport {
            schema_version: SCHEMA_VERSION,
            mode,
            kernel,
            boot,
            compare: None,
            overall,
            machine: None,
            generated_by: format!("surface-check {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The report with this machine named. On a machine that is not the profile's
    /// model, the running kernel's predictions are what that model would get: the
    /// overall status is `absent` then (nothing on this machine is lost).
    pub fn on_machine(mut self, facts: &Facts, profile: &Profile) -> KernelReport {
        let id = Ctx::new(facts, profile).machine;
        let identity = match id.identity {
            crate::checks::ctx::Identity::Profile => "profile",
            crate::checks::ctx::Identity::Other => "other",
            crate::checks::ctx::Identity::Unknown => "unknown",
        };
        if identity == "other" && self.mode == Mode::Running {
            self.overall = Status::Absent;
        }
        self.machine = Some(ThisMachine {
            identity,
            model: id.model.to_string(),
            evidence: id.evidence,
        });
        self
    }

    /// Exit code: 1 when a subsystem will not work (or work in part) or the kernel
    /// will not boot this system, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.overall.is_problem() { 1 } else { 0 }
    }
}

/// Judges TARGET against this system: its prediction and whether it boots.
pub fn inspect_report(
    target: &KernelImage,
    host: &boot::HostBoot,
    profile: &Profile,
) -> KernelReport {
    let p = predict(target, profile);
    let b = boot::judge(target, host, profile);
    KernelReport::new(Mode::Inspect, p, Some(b))
}

/// One option that matters, changed between the running kernel and TARGET.
#[derive(Debug, Clone, Serialize)]
pub struct OptionChange {
    pub option: String,
    /// The value in the running kernel (`y`, `m`), `null` when not set.
    pub before: Option<String>,
    pub after: Option<String>,
    /// `gained`, `lost` or `changed` (`y` <-> `m`).
    pub change: &'static str,
    /// What it matters for: subsystem ids, `boot`.
    pub matters_for: Vec<String>,
}

/// One subsystem, before and after.
#[derive(Debug, Clone, Serialize)]
pub struct SubsystemChange {
    pub id: String,
    pub title: String,
    pub before: Status,
    pub after: Status,
    /// `improved`, `regressed`, `unchanged`, or `unclear` (one side unknown).
    pub change: &'static str,
    pub before_summary: String,
    pub after_summary: String,
}

/// The running kernel against TARGET.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub running: Prediction,
    /// Options among those that matter (the profile's drivers, the boot table)
    /// that differ.
    pub options: Vec<OptionChange>,
    /// How many options differ in all, when both configs could be read.
    pub options_changed: Option<usize>,
    pub subsystems: Vec<SubsystemChange>,
    pub notices: Vec<String>,
}

/// The options that matter, each with what it matters for.
fn options_that_matter(profile: &Profile) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in profile.kernel_needs() {
        for n in &s.needs {
            let configs =
                std::iter::once(n.driver.config).chain(n.older.iter().map(|(d, _)| d.config));
            for c in configs {
                m.entry(c.to_string())
                    .or_default()
                    .insert(s.subsystem.to_string());
            }
        }
    }
    for c in profile.patches.config_options {
        m.entry(c.to_string()).or_default().insert("kernel".into());
    }
    for r in boot::REQUIREMENTS {
        for o in std::iter::once(r.option).chain(r.also.iter().copied()) {
            m.entry(o.to_string()).or_default().insert("boot".into());
        }
    }
    m
}

/// Compares the running kernel with TARGET: options gained and lost among those
/// that matter, subsystems before and after, and whether TARGET boots.
pub fn compare_report(
    running: &KernelImage,
    target: &KernelImage,
    host: &boot::HostBoot,
    profile: &Profile,
) -> KernelReport {
    let before = predict(running, profile);
    let mut report = inspect_report(target, host, profile);
    report.mode = Mode::Compare;
    let after = &report.kernel;
    let mut notices = Vec::new();
    let (options, options_changed) = match (running.config.ok(), target.config.ok()) {
        (Some(a), Some(b)) => {
            let matter = options_that_matter(profile);
            let keys: BTreeSet<&String> = a.options.keys().chain(b.options.keys()).collect();
            let changed: Vec<&String> = keys
                .into_iter()
                .filter(|k| a.options.get(*k) != b.options.get(*k))
                .collect();
            let options = changed
                .iter()
                .filter_map(|k| {
                    let why = matter.get(*k)?;
                    let (x, y) = (a.options.get(*k).cloned(), b.options.get(*k).cloned());
                    let change = match (&x, &y) {
                        (None, Some(_)) => "gained",
                        (Some(_), None) => "lost",
                        _ => "changed",
                    };
                    Some(OptionChange {
                        option: (*k).clone(),
                        before: x,
                        after: y,
                        change,
                        matters_for: why.iter().cloned().collect(),
                    })
                })
                .collect();
            (options, Some(changed.len()))
        }
        (a, b) => {
            for (side, c, img) in [("running kernel", a, running), ("target", b, target)] {
                if c.is_none() {
                    notices.push(format!(
                        "the {side}'s config cannot be read ({}): options are not compared",
                        why(&img.config)
                    ));
                }
            }
            (Vec::new(), None)
        }
    };
    let subsystems = before
        .subsystems
        .iter()
        .filter_map(|b| {
            let a = after.subsystem(&b.id)?;
            let change = if a.status == b.status {
                "unchanged"
            } else if a.status == Status::Unknown || b.status == Status::Unknown {
                "unclear"
            } else if a.status.severity() > b.status.severity() {
                "regressed"
            } else {
                "improved"
            };
            Some(SubsystemChange {
                id: b.id.clone(),
                title: b.title.clone(),
                before: b.status,
                after: a.status,
                change,
                before_summary: b.summary.clone(),
                after_summary: a.summary.clone(),
            })
        })
        .collect();
    report.compare = Some(Comparison {
        running: before,
        options,
        options_changed,
        subsystems,
        notices,
    });
    report
}

/// The report of the running kernel (no boot verdict: it booted).
pub fn running_report(running: &KernelImage, profile: &Profile) -> KernelReport {
    KernelReport::new(Mode::Running, predict(running, profile), None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::facts::{KernelConfig, ModuleTree};
    use crate::preflight::boot::{HostBoot, REQUIREMENTS};
    use crate::profiles::SURFACE_BOOK_2;

    /// A linux-surface-like kernel: every driver the profile needs as a module
    /// that is present, every boot requirement built in.
    pub(crate) fn healthy() -> KernelImage {
        let mut opts: BTreeMap<String, String> = BTreeMap::new();
        let mut mods: Vec<&str> = Vec::new();
        for s in SURFACE_BOOK_2.kernel_needs() {
            for n in &s.needs {
                opts.insert(n.driver.config.into(), "m".into());
                mods.push(n.driver.module);
            }
        }
        for r in REQUIREMENTS {
            opts.insert(r.option.into(), "y".into());
        }
        image(opts, &mods, &["ext4"])
    }

    pub(crate) fn image(
        opts: BTreeMap<String, String>,
        modules: &[&str],
        builtin: &[&str],
    ) -> KernelImage {
        let rel = "6.19.8-surface-1";
        let available: BTreeMap<String, String> = modules
            .iter()
            .map(|m| (m.to_string(), format!("kernel/drivers/x/{m}.ko.zst")))
            .collect();
        let files_present = SURFACE_BOOK_2
            .modules()
            .iter()
            .filter(|m| available.contains_key(**m))
            .map(|m| (m.to_string(), true))
            .collect();
        KernelImage {
            target: "test-tree".into(),
            kind: TargetKind::Tree,
            release: Some(rel.into()),
            other_releases: Vec::new(),
            image_path: Some(format!("boot/vmlinuz-{rel}")),
            image_release: Some(rel.into()),
            config: Fact::Ok(KernelConfig {
                source: format!("boot/config-{rel}"),
                options: opts,
            }),
            module_tree: Fact::Ok(ModuleTree {
                dir: format!("lib/modules/{rel}"),
                builtin: Fact::Ok(builtin.iter().map(|s| s.to_string()).collect()),
                available: Fact::Ok(available),
                aliases: Fact::Ok(Vec::new()),
                files_present,
            }),
            initrd_modules: None,
            generation: None,
            notes: Vec::new(),
        }
    }

    fn unset(img: &mut KernelImage, opt: &str) {
        if let Fact::Ok(c) = &mut img.config {
            c.options.remove(opt);
        }
    }

    fn set(img: &mut KernelImage, opt: &str, v: &str) {
        if let Fact::Ok(c) = &mut img.config {
            c.options.insert(opt.into(), v.into());
        }
    }

    fn status(p: &Prediction, id: &str) -> Status {
        p.subsystem(id).expect(id).status
    }

    #[test]
    fn the_needs_cover_the_registry_and_name_registered_checks() {
        let needs = SURFACE_BOOK_2.kernel_needs();
        let ids: Vec<&str> = needs.iter().map(|n| n.subsystem).collect();
        let reg: Vec<&str> = checks::REGISTRY.iter().map(|s| s.id).collect();
        assert_eq!(ids, reg);
        for s in &needs {
            for n in &s.needs {
                if let Some(c) = n.check {
                    assert!(checks::find(c).is_some(), "{}: no check {c}", s.subsystem);
                }
                assert!(!n.without.is_empty() && !n.role.is_empty());
                // Every driver a need names is one the profile's collectors know.
                assert!(
                    SURFACE_BOOK_2.modules().contains(&n.driver.module)
                        || n.driver.module == "serdev",
                    "{} is not among the profile's modules",
                    n.driver.module
                );
            }
        }
    }

    #[test]
    fn a_healthy_kernel_works_everywhere_and_boots() {
        let img = healthy();
        let p = predict(&img, &SURFACE_BOOK_2);
        for s in &p.subsystems {
            assert_eq!(s.status, Status::Ok, "{}: {}", s.id, s.summary);
        }
        assert_eq!(p.subsystems.len(), checks::REGISTRY.len());
        assert_eq!(p.surface_patches, Some(true));
        assert_eq!(
            p.subsystem("touch").unwrap().summary,
            "touch: will work (HID_IPTS=m, ipts.ko.zst present; needs iptsd >= 1.0 in userspace)"
        );
        let host = HostBoot {
            root_fs: Some("ext4".into()),
            ..HostBoot::default()
        };
        let b = boot::judge(&img, &host, &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Ok, "{}", b.summary);
        let r = inspect_report(&img, &host, &SURFACE_BOOK_2);
        assert_eq!(r.exit_code(), 0);
    }

    #[test]
    fn each_missing_driver_fails_only_when_its_check_rests_on_verified_facts() {
        for s in SURFACE_BOOK_2.kernel_needs() {
            for n in &s.needs {
                let mut img = healthy();
                unset(&mut img, n.driver.config);
                let p = predict(&img, &SURFACE_BOOK_2);
                let sp = p.subsystem(s.subsystem).unwrap();
                let verified = n.notice_only.is_none()
                    && n.check
                        .and_then(checks::find)
                        .is_some_and(|(_, c)| c.may_fail());
                let want = match (verified, n.reliance) {
                    (false, _) => Status::Ok,
                    (true, Reliance::Required) => Status::Failed,
                    (true, Reliance::Partial) => Status::Degraded,
                };
                assert_eq!(
                    sp.status, want,
                    "{} without {}: {}",
                    s.subsystem, n.driver.config, sp.summary
                );
                let named = format!("{} not set", n.driver.config);
                if verified {
                    assert!(sp.summary.contains(&named), "{}", sp.summary);
                    assert!(sp.summary.contains(&n.without), "{}", sp.summary);
                    // The fix comes from this kernel: the option is not set, so
                    // it is never "load" or "reinstall".
                    let fix = sp.fix.as_deref().unwrap_or_default();
                    assert!(
                        fix.contains(&format!("CONFIG_{}", n.driver.config)),
                        "{fix}"
                    );
                    assert!(!fix.contains("modprobe"), "{fix}");
                } else {
                    assert!(
                        sp.notices.iter().any(|x| x.contains(&named)),
                        "{}: {:?}",
                        s.subsystem,
                        sp.notices
                    );
                }
            }
        }
    }

    #[test]
    fn the_ir_sensor_alone_is_a_notice_and_both_cameras_missing_fail() {
        // Without the IR sensor's driver: whether front and rear still work is [U]
        // (reference F7), so a notice, as the live camera check says.
        let mut img = healthy();
        unset(&mut img, "VIDEO_OV7251");
        let p = predict(&img, &SURFACE_BOOK_2);
        let cam = p.subsystem("camera").unwrap();
        assert_eq!(cam.status, Status::Ok, "{}", cam.summary);
        assert!(
            cam.notices
                .iter()
                .any(|n| n.contains("VIDEO_OV7251 not set") && n.contains("F7")),
            "{:?}",
            cam.notices
        );
        // One of the two cameras lost: in part; both: the cameras are gone.
        unset(&mut img, "VIDEO_OV5693");
        let p = predict(&img, &SURFACE_BOOK_2);
        let cam = p.subsystem("camera").unwrap();
        assert_eq!(cam.status, Status::Degraded, "{}", cam.summary);
        assert!(
            cam.summary.contains("the front camera is lost"),
            "{}",
            cam.summary
        );
        unset(&mut img, "VIDEO_OV8865");
        let p = predict(&img, &SURFACE_BOOK_2);
        let cam = p.subsystem("camera").unwrap();
        assert_eq!(cam.status, Status::Failed, "{}", cam.summary);
    }

    #[test]
    fn a_module_in_the_config_but_not_in_the_tree_is_missing_with_a_reinstall_fix() {
        let mut img = healthy();
        if let Fact::Ok(t) = &mut img.module_tree {
            if let Fact::Ok(a) = &mut t.available {
                a.remove("ipts");
            }
            t.files_present.remove("ipts");
        }
        let p = predict(&img, &SURFACE_BOOK_2);
        let t = p.subsystem("touch").unwrap();
        assert_eq!(t.status, Status::Failed);
        assert!(
            t.summary
                .contains("HID_IPTS=m but ipts is not in the module tree"),
            "{}",
            t.summary
        );
        assert!(
            t.fix.as_deref().unwrap().contains("reinstall"),
            "{:?}",
            t.fix
        );
    }

    #[test]
    fn the_pre_2023_ipts_driver_works_with_a_notice() {
        let mut img = healthy();
        unset(&mut img, "HID_IPTS");
        set(&mut img, "MISC_IPTS", "m");
        let p = predict(&img, &SURFACE_BOOK_2);
        let t = p.subsystem("touch").unwrap();
        assert_eq!(t.status, Status::Ok, "{}", t.summary);
        assert!(t.summary.contains("MISC_IPTS=m"), "{}", t.summary);
        assert!(!t.summary.contains("iptsd >= 1.0"), "{}", t.summary);
        assert!(t.notices.iter().any(|n| n.contains("iptsd <= 0.5.1")));
        assert_eq!(t.drivers[0].older.as_deref(), Some("MISC_IPTS"));
    }

    #[test]
    fn the_old_cio2_bridge_counts_as_the_bridge() {
        let mut img = healthy();
        unset(&mut img, "IPU_BRIDGE");
        set(&mut img, "CIO2_BRIDGE", "y");
        let p = predict(&img, &SURFACE_BOOK_2);
        assert_eq!(status(&p, "camera"), Status::Ok);
    }

    #[test]
    fn a_stock_kernel_is_named_stock() {
        let mut img = healthy();
        for o in SURFACE_BOOK_2.patches.config_options {
            unset(&mut img, o);
        }
        if let Fact::Ok(t) = &mut img.module_tree
            && let Fact::Ok(a) = &mut t.available
        {
            a.remove("ipts");
        }
        // A `surface` release alone says linux-surface.
        img.release = Some("6.1.0-28-amd64".into());
        img.image_release = img.release.clone();
        let p = predict(&img, &SURFACE_BOOK_2);
        assert_eq!(p.surface_patches, Some(false));
        assert_eq!(status(&p, "kernel"), Status::Failed);
        assert!(
            p.subsystem("kernel")
                .unwrap()
                .summary
                .contains("stock kernel")
        );
        assert_eq!(status(&p, "touch"), Status::Failed);
    }

    #[test]
    fn nothing_readable_is_unknown_never_failed() {
        let mut img = healthy();
        img.config = Fact::Unknown {
            path: "boot/config".into(),
            reason: "unparseable".into(),
        };
        img.module_tree = Fact::Unknown {
            path: "lib/modules".into(),
            reason: "unreadable".into(),
        };
        let p = predict(&img, &SURFACE_BOOK_2);
        for s in &p.subsystems {
            assert_eq!(s.status, Status::Unknown, "{}: {}", s.id, s.summary);
        }
        let b = boot::judge(&img, &HostBoot::default(), &SURFACE_BOOK_2);
        assert_eq!(b.status, Status::Unknown, "{}", b.summary);
        assert_eq!(
            inspect_report(&img, &HostBoot::default(), &SURFACE_BOOK_2).exit_code(),
            0
        );
    }

    #[test]
    fn compare_names_options_that_matter_and_subsystems() {
        let before = healthy();
        let mut after = healthy();
        unset(&mut after, "HID_IPTS");
        set(&mut after, "VIDEO_OV7251", "y");
        set(&mut after, "SOME_UNRELATED", "y");
        let r = compare_report(&before, &after, &HostBoot::default(), &SURFACE_BOOK_2);
        let c = r.compare.as_ref().unwrap();
        assert_eq!(c.options_changed, Some(3));
        let names: Vec<(&str, &str)> = c
            .options
            .iter()
            .map(|o| (o.option.as_str(), o.change))
            .collect();
        assert_eq!(
            names,
            vec![("HID_IPTS", "lost"), ("VIDEO_OV7251", "changed")]
        );
        let touch = c.subsystems.iter().find(|s| s.id == "touch").unwrap();
        assert_eq!(
            (touch.before, touch.after, touch.change),
            (Status::Ok, Status::Failed, "regressed")
        );
        assert_eq!(r.exit_code(), 1);
    }
}
