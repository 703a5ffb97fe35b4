//! `surface-check metrics`: the report and this boot's regressions in the Prometheus
//! text exposition format (version 0.0.4), for node_exporter's textfile collector.
//!
//! [`render`] is a pure function of the report, the history's judgement of this
//! boot ([`Assessment`]) and the time of the run: it does no I/O and computes no
//! verdict. Every metric is declared once, in [`FAMILIES`]; `docs/fleet.md` lists
//! them.
//!
//! Statuses are state sets: one series per possible value, 1 for the current one and
//! 0 for the others, so that an alert or a graph compares numbers, never strings.
//! Labels carry only values from small fixed sets (subsystem ids, statuses) and the
//! running kernel's identity (one series per boot); summaries, hints and paths never
//! become labels.

use std::fmt::Write as _;

use crate::history::diff::{BootRef, Comparison};
use crate::report::{Report, Status};

/// The file `--textfile DIR` writes: node_exporter's textfile collector reads the
/// files of its directory whose names end in `.prom`.
pub const TEXTFILE_NAME: &str = "surface_check.prom";

/// The longest label value taken from the machine (a kernel version string);
/// longer ones are cut at a character boundary.
pub const MAX_LABEL_VALUE: usize = 256;

/// Every status, in the order the state sets list them.
pub const STATUSES: [Status; 5] = [
    Status::Ok,
    Status::Degraded,
    Status::Failed,
    Status::Absent,
    Status::Unknown,
];

/// The values of `surface_check_patches{verdict}`.
pub const PATCH_VERDICTS: [&str; 3] = ["present", "absent", "unknown"];

/// A metric family: its name, labels, type and help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    /// The label names each series carries.
    pub labels: &'static [&'static str],
    /// `gauge` for all of them: each is a value now, none counts up.
    pub kind: &'static str,
    pub help: &'static str,
}

const fn gauge(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Family {
    Family {
        name,
        labels,
        kind: "gauge",
        help,
    }
}

/// Every metric `surface-check metrics` writes, in the order written.
pub const FAMILIES: &[Family] = &[
    gauge(
        "surface_check_status",
        &["status"],
        "Overall status of the machine (the worst subsystem's): 1 for the current status, 0 \
         for the others.",
    ),
    gauge(
        "surface_check_subsystem_status",
        &["subsystem", "status"],
        "Status of each subsystem: 1 for its current status, 0 for the others.",
    ),
    gauge(
        "surface_check_patches",
        &["verdict"],
        "Whether the running kernel carries the linux-surface patch set: 1 for the current \
         verdict (present, absent, unknown), 0 for the others.",
    ),
    gauge(
        "surface_check_kernel_info",
        &["release", "version", "nixos_generation"],
        "The running kernel: release (uname -r), version (uname -v) and the NixOS generation \
         booted; a label is empty when unknown. Always 1.",
    ),
    gauge(
        "surface_check_machine_info",
        &["model"],
        "The machine model as surface-check tells it (surface-book-2-13, surface-book-2-15, \
         surface-book-2, other, unknown). Always 1.",
    ),
    gauge(
        "surface_check_build_info",
        &["version"],
        "The version of surface-check that wrote these metrics. Always 1.",
    ),
    gauge(
        "surface_check_history_judged",
        &[],
        "1 when this boot was compared with the boots in the history, 0 when it could not be \
         (the history is unreadable, or this boot has no boot id); the regression metrics are \
         absent then.",
    ),
    gauge(
        "surface_check_regressions",
        &[],
        "Subsystems that worked on an earlier boot and are degraded or failed on this one.",
    ),
    gauge(
        "surface_check_subsystem_regressed",
        &["subsystem"],
        "1 when the subsystem worked on an earlier boot and is degraded or failed on this one, \
         else 0.",
    ),
    gauge(
        "surface_check_subsystem_regressed_after_kernel_update",
        &["subsystem"],
        "1 when the subsystem regressed (surface_check_subsystem_regressed) and the earlier \
         boot where it worked ran another kernel than this one (another release, or another \
         NixOS generation), else 0.",
    ),
    gauge(
        "surface_check_recoveries",
        &[],
        "Subsystems degraded or failed on the previous boot and working on this one.",
    ),
    gauge(
        "surface_check_history_boots",
        &[],
        "Boots recorded in the history.",
    ),
    gauge(
        "surface_check_boot_recorded",
        &[],
        "1 when this boot is recorded in the history (surface-check report ran on it), else 0.",
    ),
    gauge(
        "surface_check_hung_paths",
        &[],
        "Reads that hung and were cut off while probing: the verdicts resting on them are \
         unknown.",
    ),
    gauge(
        "surface_check_run_duration_seconds",
        &[],
        "Time taken to collect the facts and obtain the report.",
    ),
    gauge(
        "surface_check_last_run_timestamp_seconds",
        &[],
        "When these metrics were written, in seconds since the epoch.",
    ),
];

/// What the history says about this boot.
#[derive(Debug, Clone, PartialEq)]
pub enum Assessment {
    /// This boot compared with the earlier boots, as `surface-check report` compares
    /// it.
    Judged {
        comparison: Comparison,
        /// Boots recorded in the history.
        boots: usize,
        /// Whether this boot is one of them.
        recorded: bool,
    },
    /// The boot could not be compared; the reason (for the caller to say).
    Unavailable(String),
}

/// The running kernel's identity, for `surface_check_kernel_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelIdentity {
    /// `uname -v`: the build's number, flags and date (`#1 SMP PREEMPT_DYNAMIC ...`).
    pub version: Option<String>,
    /// The NixOS generation booted.
    pub nixos_generation: Option<u32>,
}

impl KernelIdentity {
    /// `uname -v` from the text of `/proc/version` (`Linux version RELEASE (BUILDER)
    /// (COMPILER) VERSION`): from the first ` #` on; None when there is none.
    pub fn version_from_proc(proc_version: &str) -> Option<String> {
        let line = proc_version.lines().next()?;
        let at = line.find(" #")?;
        let v = line[at + 1..].trim();
        (!v.is_empty()).then(|| v.to_string())
    }
}

/// Whether two boots ran different kernels, as far as the history tells them apart:
/// another release (`uname -r`), or, when both boots name one, another NixOS
/// generation (a rebuild can change the kernel's build, its patches or its config
/// and keep the release; every NixOS kernel change is a new generation). A boot
/// whose release is unknown is not known to differ by it.
///
/// The history keeps no `uname -v` of earlier boots, so a rebuild of the same
/// release outside NixOS (a distribution kernel rebuilt under the same ABI name)
/// is not seen as another kernel.
pub fn kernel_changed(previous: &BootRef, current: &BootRef) -> bool {
    let known = |k: &str| !k.is_empty() && k != "unknown";
    let release =
        known(&previous.kernel) && known(&current.kernel) && previous.kernel != current.kernel;
    let generation = matches!(
        (previous.generation, current.generation),
        (Some(a), Some(b)) if a != b
    );
    release || generation
}

/// The run: when it ended and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    /// Seconds since the epoch.
    pub now: f64,
    /// Seconds taken to collect the facts and obtain the report.
    pub duration: f64,
}

/// A label value escaped as the format wants it (backslash, double quote and line
/// feed), other control characters replaced by U+FFFD, cut to [`MAX_LABEL_VALUE`]
/// bytes.
pub fn escape_label_value(v: &str) -> String {
    let mut cut = v.len().min(MAX_LABEL_VALUE);
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 8);
    for c in v[..cut].chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Help text escaped as the format wants it (backslash and line feed).
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: integers without a fraction, others as Rust prints them (which
/// the format's float syntax accepts); NaN and the infinities as the format spells
/// them.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The family of `name` in [`FAMILIES`].
fn family(name: &str) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.name == name)
        .expect("every family written is declared in FAMILIES")
}

/// The samples of one family: label values in the family's label order, and the
/// value.
struct Samples {
    family: &'static Family,
    rows: Vec<(Vec<String>, f64)>,
}

impl Samples {
    fn new(name: &str) -> Samples {
        Samples {
            family: family(name),
            rows: Vec::new(),
        }
    }

    /// Adds a sample; its label values are escaped here. A sample whose escaped
    /// label values equal an earlier one's is left out (the first wins): two
    /// values that differ only past [`MAX_LABEL_VALUE`] or in control characters
    /// would otherwise write the same series twice, and a scraper refuses the file.
    fn add(&mut self, labels: &[&str], v: f64) {
        debug_assert_eq!(labels.len(), self.family.labels.len());
        let escaped: Vec<String> = labels.iter().map(|l| escape_label_value(l)).collect();
        if !self.rows.iter().any(|(l, _)| *l == escaped) {
            self.rows.push((escaped, v));
        }
    }

    fn write(&self, o: &mut String) {
        if self.rows.is_empty() {
            return;
        }
        let f = self.family;
        let _ = writeln!(o, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(o, "# TYPE {} {}", f.name, f.kind);
        for (labels, v) in &self.rows {
            o.push_str(f.name);
            if !labels.is_empty() {
                o.push('{');
                for (i, (name, val)) in f.labels.iter().zip(labels).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    let _ = write!(o, "{name}=\"{val}\"");
                }
                o.push('}');
            }
            let _ = writeln!(o, " {}", value(*v));
        }
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The metrics of one run, in the text exposition format 0.0.4: the families of
/// [`FAMILIES`] in order, each with its HELP and TYPE lines; the regression
/// families only when the boot was judged. No sample carries a timestamp (the
/// textfile collector refuses files with them).
pub fn render(report: &Report, kernel: &KernelIdentity, history: &Assessment, run: Run) -> String {
    let mut families = Vec::new();

    let mut s = Samples::new("surface_check_status");
    for st in STATUSES {
        s.add(&[st.as_str()], flag(report.overall == st));
    }
    families.push(s);

    // Each subsystem once (the first entry, as the regression rules take it): a
    // report listing one twice must not write duplicate series, which a scraper
    // refuses.
    let mut subsystems: Vec<&crate::report::SubsystemReport> = Vec::new();
    for sub in &report.subsystems {
        if !subsystems.iter().any(|s| s.id == sub.id) {
            subsystems.push(sub);
        }
    }

    let mut s = Samples::new("surface_check_subsystem_status");
    for sub in &subsystems {
        for st in STATUSES {
            s.add(&[&sub.id, st.as_str()], flag(sub.status == st));
        }
    }
    families.push(s);

    let verdict = match report.kernel.surface_patches {
        Some(true) => "present",
        Some(false) => "absent",
        None => "unknown",
    };
    let mut s = Samples::new("surface_check_patches");
    for v in PATCH_VERDICTS {
        s.add(&[v], flag(v == verdict));
    }
    families.push(s);

    let mut s = Samples::new("surface_check_kernel_info");
    let generation = kernel
        .nixos_generation
        .map(|g| g.to_string())
        .unwrap_or_default();
    s.add(
        &[
            report.kernel.release.as_deref().unwrap_or(""),
            kernel.version.as_deref().unwrap_or(""),
            &generation,
        ],
        1.0,
    );
    families.push(s);

    let mut s = Samples::new("surface_check_machine_info");
    s.add(&[&report.machine.model], 1.0);
    families.push(s);

    let mut s = Samples::new("surface_check_build_info");
    s.add(&[env!("CARGO_PKG_VERSION")], 1.0);
    families.push(s);

    let mut s = Samples::new("surface_check_history_judged");
    s.add(&[], flag(matches!(history, Assessment::Judged { .. })));
    families.push(s);

    if let Assessment::Judged {
        comparison,
        boots,
        recorded,
    } = history
    {
        let regressed: std::collections::BTreeSet<&str> = comparison
            .regressions
            .iter()
            .map(|r| r.subsystem.as_str())
            .collect();
        let mut s = Samples::new("surface_check_regressions");
        s.add(&[], regressed.len() as f64);
        families.push(s);

        let after_update: std::collections::BTreeSet<&str> = comparison
            .regressions
            .iter()
            .filter(|r| kernel_changed(&r.previous, &r.current))
            .map(|r| r.subsystem.as_str())
            .collect();
        let mut ids: Vec<&str> = Vec::new();
        for id in subsystems
            .iter()
            .map(|s| s.id.as_str())
            .chain(regressed.iter().copied())
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut s = Samples::new("surface_check_subsystem_regressed");
        for id in &ids {
            s.add(&[id], flag(regressed.contains(id)));
        }
        families.push(s);

        let mut s = Samples::new("surface_check_subsystem_regressed_after_kernel_update");
        for id in &ids {
            s.add(&[id], flag(after_update.contains(id)));
        }
        families.push(s);

        let recovered: std::collections::BTreeSet<&str> = comparison
            .recoveries
            .iter()
            .map(|r| r.subsystem.as_str())
            .collect();
        let mut s = Samples::new("surface_check_recoveries");
        s.add(&[], recovered.len() as f64);
        families.push(s);

        let mut s = Samples::new("surface_check_history_boots");
        s.add(&[], *boots as f64);
        families.push(s);

        let mut s = Samples::new("surface_check_boot_recorded");
        s.add(&[], flag(*recorded));
        families.push(s);
    }

    let mut s = Samples::new("surface_check_hung_paths");
    s.add(&[], report.hung_paths.len() as f64);
    families.push(s);

    let mut s = Samples::new("surface_check_run_duration_seconds");
    s.add(&[], run.duration);
    families.push(s);

    let mut s = Samples::new("surface_check_last_run_timestamp_seconds");
    s.add(&[], run.now);
    families.push(s);

    let mut o = String::new();
    for f in &families {
        f.write(&mut o);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_capped() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("a\nb"), "a\\nb");
        assert_eq!(escape_label_value("a\rb\x1b"), "a\u{fffd}b\u{fffd}");
        let long = "é".repeat(MAX_LABEL_VALUE);
        let cut = escape_label_value(&long);
        assert!(cut.len() <= MAX_LABEL_VALUE && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn values_are_written_as_the_format_reads_them() {
        assert_eq!(value(1.0), "1");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(1_764_774_510.125), "1764774510.125");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
    }

    #[test]
    fn uname_v_is_taken_from_proc_version() {
        let debian = "Linux version 6.1.0-31-amd64 (debian-kernel@lists.debian.org) (gcc-12 \
                      (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP \
                      PREEMPT_DYNAMIC Debian 6.1.128-1 (2025-02-07)\n";
        assert_eq!(
            KernelIdentity::version_from_proc(debian).as_deref(),
            Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.128-1 (2025-02-07)")
        );
        assert_eq!(KernelIdentity::version_from_proc("Linux version 6.1"), None);
        assert_eq!(KernelIdentity::version_from_proc(""), None);
    }

    fn boot(kernel: &str, generation: Option<u32>) -> BootRef {
        BootRef {
            boot_id: "00000000-0000-4000-8000-000000000000".into(),
            kernel: kernel.into(),
            generation,
        }
    }

    /// Touch went from ok to failed between these boots.
    fn touch_failed(previous: BootRef, current: BootRef) -> crate::history::diff::Regression {
        crate::history::diff::Regression {
            subsystem: "touch".into(),
            previous,
            current,
            old_status: Status::Ok,
            new_status: Status::Failed,
            summary: String::new(),
            hint: None,
            changes: Vec::new(),
        }
    }

    #[test]
    fn another_release_or_generation_is_another_kernel() {
        let changed = |a, b| kernel_changed(&a, &b);
        assert!(!changed(boot("6.18.8", Some(41)), boot("6.18.8", Some(41))));
        assert!(!changed(boot("6.18.8", None), boot("6.18.8", None)));
        assert!(changed(boot("6.18.8", Some(41)), boot("6.19.8", Some(42))));
        assert!(changed(boot("6.18.8", None), boot("6.19.8", None)));
        // A NixOS rebuild that keeps the release.
        assert!(changed(boot("6.18.8", Some(41)), boot("6.18.8", Some(42))));
        // A generation on one side only says nothing; an unknown release neither.
        assert!(!changed(boot("6.18.8", Some(41)), boot("6.18.8", None)));
        assert!(!changed(boot("unknown", None), boot("6.19.8", None)));
    }

    /// A report of an empty tree, every subsystem given `status`.
    fn report() -> Report {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::root::Root::open(dir.path()).unwrap();
        let p = &crate::profiles::SURFACE_BOOK_2;
        let facts = crate::facts::collect_unwatched(&root, p);
        crate::checks::diagnose(&facts, p, "test")
    }

    fn series(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn a_subsystem_listed_twice_is_written_once() {
        let mut r = report();
        let touch = r
            .subsystems
            .iter()
            .find(|s| s.id == "touch")
            .unwrap()
            .clone();
        let mut again = touch.clone();
        again.status = if touch.status == Status::Failed {
            Status::Ok
        } else {
            Status::Failed
        };
        r.subsystems.push(again);
        let regression = touch_failed(boot("6.18.8", Some(41)), boot("6.19.8", Some(42)));
        let history = Assessment::Judged {
            comparison: Comparison {
                regressions: vec![regression.clone(), regression],
                ..Default::default()
            },
            boots: 1,
            recorded: false,
        };
        let run = Run {
            now: 1.0,
            duration: 0.5,
        };
        let text = render(&r, &KernelIdentity::default(), &history, run);
        let lines = series(&text);
        let unique: std::collections::BTreeSet<&str> = lines
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().0)
            .collect();
        assert_eq!(unique.len(), lines.len(), "duplicate series:\n{text}");
        // The first entry is the one written.
        let first = format!(
            "surface_check_subsystem_status{{subsystem=\"touch\",status=\"{}\"}} 1",
            touch.status.as_str()
        );
        assert!(lines.contains(&first.as_str()), "{text}");
        assert!(lines.contains(&"surface_check_regressions 1"), "{text}");
        assert!(
            lines.contains(
                &"surface_check_subsystem_regressed_after_kernel_update{subsystem=\"touch\"} 1"
            ),
            "{text}"
        );
        let per_subsystem = |family: &str| {
            lines
                .iter()
                .filter(|l| l.starts_with(&format!("{family}{{")))
                .count()
        };
        let ids = r.subsystems.len() - 1;
        assert_eq!(per_subsystem("surface_check_subsystem_status"), ids * 5);
        assert_eq!(per_subsystem("surface_check_subsystem_regressed"), ids);
        assert_eq!(
            per_subsystem("surface_check_subsystem_regressed_after_kernel_update"),
            ids
        );
    }

    /// Found by fuzz/fuzz_targets/metrics.rs: ids that differ only in control
    /// characters (or past the length cap) escape to the same label value.
    #[test]
    fn ids_that_escape_alike_are_written_once() {
        let mut r = report();
        r.subsystems[0].id = "a\u{1}".into();
        r.subsystems[1].id = "a\u{2}".into();
        let long = "x".repeat(MAX_LABEL_VALUE);
        r.subsystems[2].id = format!("{long}1");
        r.subsystems[3].id = format!("{long}2");
        let history = Assessment::Unavailable("test".into());
        let run = Run {
            now: 1.0,
            duration: 0.5,
        };
        let text = render(&r, &KernelIdentity::default(), &history, run);
        let lines = series(&text);
        let unique: std::collections::BTreeSet<&str> = lines
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().0)
            .collect();
        assert_eq!(unique.len(), lines.len(), "duplicate series:\n{text}");
        let status_rows = lines
            .iter()
            .filter(|l| l.starts_with("surface_check_subsystem_status{"))
            .count();
        assert_eq!(status_rows, (r.subsystems.len() - 2) * 5, "{text}");
    }

    #[test]
    fn a_regression_on_the_same_kernel_is_not_after_a_kernel_update() {
        let r = report();
        let regression = touch_failed(boot("6.18.8", Some(41)), boot("6.18.8", Some(41)));
        let history = Assessment::Judged {
            comparison: Comparison {
                regressions: vec![regression],
                ..Default::default()
            },
            boots: 1,
            recorded: true,
        };
        let run = Run {
            now: 1.0,
            duration: 0.5,
        };
        let text = render(&r, &KernelIdentity::default(), &history, run);
        let lines = series(&text);
        assert!(
            lines.contains(&"surface_check_subsystem_regressed{subsystem=\"touch\"} 1"),
            "{text}"
        );
        assert!(
            lines.contains(
                &"surface_check_subsystem_regressed_after_kernel_update{subsystem=\"touch\"} 0"
            ),
            "{text}"
        );
    }

    #[test]
    fn every_family_has_help_a_type_and_a_unique_valid_name() {
        let mut names = std::collections::BTreeSet::new();
        for f in FAMILIES {
            assert!(names.insert(f.name), "{} declared twice", f.name);
            assert!(f.name.starts_with("surface_check_"));
            assert!(
                f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert!(!f.help.is_empty() && !f.help.contains('\n'));
            assert_eq!(f.kind, "gauge");
        }
    }
}
