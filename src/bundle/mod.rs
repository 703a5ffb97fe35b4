//! `surface-check bundle`: one redacted archive for a bug report.
//!
//! The command line gathers the inputs ([`Inputs`]: the report as `status --json`
//! gives it, the facts it was made from, the host and user names, the kernel log
//! lines of the bundle's subsystems, the history's last boots); [`build`] turns them
//! into the files of the archive, in memory ([`Bundle`]), redacted; [`Bundle::review`]
//! lists every file and field; [`Bundle::to_tar_gz`] writes the archive. Nothing here
//! judges: the report goes in as it was computed.
//!
//! What is redacted, and how, is [`crate::facts::redact`]'s: the facts as `capture`
//! redacts them, every other file line by line (or string by string) as a
//! kernel-log line is. History boot ids become `<boot-1>`, `<boot-2>`, ... (newest
//! first), the same placeholder for the same boot everywhere.

pub mod tar;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::cli::render::visible;
use crate::facts::identity::Identity;
use crate::facts::redact;
use crate::facts::{Fact, Facts, KernelLog};
use crate::report::Report;

/// The words whose kernel-log lines go in `kernel-log.txt`: searched for as
/// [`log_needles`] spells them.
pub const LOG_WORDS: &[&str] = &[
    "surface", "ssam", "ipts", "ipu3", "ov5693", "ov8865", "ov7251", "int3472", "dtx", "mwifiex",
];

/// Most lines in `kernel-log.txt`: what the kernel-log reader keeps.
pub const MAX_LOG_LINES: usize = crate::facts::kmsg::MAX_LINES;
/// Most bytes of kernel-log lines in `kernel-log.txt`.
pub const MAX_LOG_BYTES: usize = 1 << 20;
/// Boots of the history in `history.json`.
pub const HISTORY_BOOTS: usize = 10;
/// The directory the archive's files are in.
pub const ARCHIVE_DIR: &str = "surface-check-bundle";

/// The markers redaction leaves, by kind, as the manifest counts them.
const MARKERS: &[(&str, &str)] = &[
    (
        "<redacted>",
        "serial numbers, machine ids, command-line values and other masked values",
    ),
    ("<mac>", "MAC addresses"),
    ("<uuid>", "UUIDs (boot ids, file-system UUIDs)"),
    ("<ip>", "IPv4 and IPv6 addresses"),
    ("<ssid>", "Wi-Fi network names"),
    ("<host>", "host names"),
    ("<user>", "user names and home directories"),
    ("<name>", "people's names before a possessive"),
    ("<boot-", "history boot ids (placeholders <boot-N>)"),
];

/// The kernel-log reader's needles for [`LOG_WORDS`]: each word as the kernel spells
/// such names (lower case, upper case, capitalized); [`log_line_matches`] then keeps
/// a line when a word occurs in it in any case.
pub fn log_needles() -> Vec<String> {
    let mut v = Vec::new();
    for w in LOG_WORDS {
        let mut cap = w.to_string();
        cap[..1].make_ascii_uppercase();
        v.extend([w.to_string(), w.to_ascii_uppercase(), cap]);
    }
    v.sort();
    v.dedup();
    v
}

/// Whether a kernel-log message names one of [`LOG_WORDS`], in any case.
pub fn log_line_matches(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    LOG_WORDS.iter().any(|w| l.contains(w))
}

/// What the history gave.
#[derive(Debug, Clone)]
pub enum HistoryInput {
    /// `history --json` of the last boots ([`crate::history::view::boots_json`]).
    Boots(Value),
    /// No history, or it could not be read: why.
    Note(String),
}

/// What the command line gathered for a bundle.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The report, as `status --json` prints it.
    pub report: &'a Report,
    /// Whether the report was made from the redacted facts
    /// ([`redact::redact_with_users`] of [`Inputs::facts`]): then every value in it
    /// that comes from the machine is redacted already, and it goes in as it is,
    /// in the program's own words. Otherwise (a report from surface-checkd) each of
    /// its strings is redacted as a kernel-log line is.
    pub report_redacted: bool,
    /// Where the report came from (`probed here`, `surface-checkd 0.1.0`).
    pub report_origin: String,
    /// The facts collected (unredacted).
    pub facts: &'a Facts,
    /// The host and user names to mask.
    pub identity: &'a Identity,
    /// The kernel log read with [`log_needles`], or why there is none.
    pub kernel_log: Result<KernelLog, String>,
    pub history: HistoryInput,
    /// The command line that made the bundle (redacted before it goes in).
    pub command_line: Vec<String>,
    /// When the bundle was made, in seconds since the epoch.
    pub created: u64,
}

/// The content of one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Text(String),
}

impl Body {
    /// The bytes written to the archive.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => {
                let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
                s.push('\n');
                s.into_bytes()
            }
            Body::Text(t) => t.clone().into_bytes(),
        }
    }
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFile {
    pub name: String,
    /// What the file is, for the manifest.
    pub about: String,
    pub body: Body,
}

/// The files of a bundle, redacted, in the order they are archived.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub files: Vec<BundleFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("redacting the facts: {0}")]
    Redact(#[from] serde_json::Error),
    #[error("writing the archive: {0}")]
    Archive(#[from] std::io::Error),
}

/// Builds the bundle's files from `inputs`, redacted; the manifest comes last.
pub fn build(inputs: &Inputs) -> Result<Bundle, BundleError> {
    let host = inputs.identity.hostname.as_deref();
    let users = &inputs.identity.users;
    // Control characters (a terminal's escape sequences) as `\xNN`, as the
    // program's other output shows them.
    let line = |s: &str| visible(&redact::redact_log_line(s, host, users)).into_owned();
    let mut notes = Vec::new();

    let mut report = serde_json::to_value(inputs.report)?;
    if !inputs.report_redacted {
        redact::redact_json(&mut report, host, users);
    }

    let facts = redact::redact_with_users(inputs.facts, host, users)?;
    let facts = serde_json::to_value(&facts)?;

    let (log, log_notes) = kernel_log(&inputs.kernel_log, &line);
    notes.extend(log_notes);

    let modules = modules(inputs.facts);
    let services = services(inputs.facts, inputs.report, &line);

    let history = match &inputs.history {
        HistoryInput::Boots(v) => {
            let mut v = v.clone();
            placeholder_boot_ids(&mut v);
            redact::redact_json(&mut v, host, users);
            v
        }
        HistoryInput::Note(n) => {
            notes.push(format!("history: {}", line(n)));
            serde_json::json!({ "note": line(n) })
        }
    };

    let mut files = vec![
        file(
            "report.json",
            &format!(
                "the report, as `surface-check status --json` prints it ({})",
                inputs.report_origin
            ),
            Body::Json(report),
        ),
        file(
            "facts.json",
            "the facts the checks read, redacted as `surface-check capture` redacts them \
             (`surface-check status --from facts.json` diagnoses them again)",
            Body::Json(facts),
        ),
        file(
            "kernel-log.txt",
            &format!(
                "this boot's kernel messages naming {} (any case), each line redacted",
                LOG_WORDS.join(", ")
            ),
            Body::Text(log),
        ),
        file(
            "modules.txt",
            "the loaded modules (/proc/modules): name, size, use count, state, users",
            Body::Text(modules),
        ),
        file(
            "services.txt",
            "iptsd and surface-dtx-daemon: unit files, enablement, processes, and the \
             report's checks about them",
            Body::Text(services),
        ),
        file(
            "history.json",
            &format!(
                "the history's last {HISTORY_BOOTS} boots (`surface-check history --json`), \
                 boot ids replaced by <boot-N>"
            ),
            Body::Json(history),
        ),
    ];
    let manifest = manifest(inputs, &files, &notes, &line);
    files.push(file("MANIFEST.txt", "this file", Body::Text(manifest)));
    Ok(Bundle { files })
}

fn file(name: &str, about: &str, body: Body) -> BundleFile {
    BundleFile {
        name: name.into(),
        about: about.into(),
        body,
    }
}

/// `kernel-log.txt` and notes about what it lacks.
fn kernel_log(
    log: &Result<KernelLog, String>,
    line: &dyn Fn(&str) -> String,
) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut out = String::new();
    match log {
        Err(why) => {
            let n = format!("no kernel log: {}", line(why));
            let _ = writeln!(out, "# {n}");
            notes.push(format!("kernel log: {n}"));
        }
        Ok(log) => {
            let _ = writeln!(
                out,
                "# source: {}; {} messages read{}",
                line(&log.source),
                log.total,
                if log.from_boot {
                    ", from the kernel's first message"
                } else {
                    "; the log does not reach back to the kernel's first message"
                }
            );
            let (mut kept, mut bytes, mut cut) = (0usize, 0usize, false);
            for l in log.lines.iter().filter(|l| log_line_matches(l)) {
                let r = line(l);
                if kept >= MAX_LOG_LINES || bytes + r.len() + 1 > MAX_LOG_BYTES {
                    cut = true;
                    break;
                }
                bytes += r.len() + 1;
                kept += 1;
                out.push_str(&r);
                out.push('\n');
            }
            if log.lines.len() >= crate::facts::kmsg::MAX_LINES {
                cut = true;
            }
            if cut {
                let n = format!(
                    "cut: {kept} lines kept (at most {} lines, {} MiB); later lines are missing",
                    MAX_LOG_LINES,
                    MAX_LOG_BYTES >> 20
                );
                let _ = writeln!(out, "# {n}");
                notes.push(format!("kernel log: {n}"));
            }
        }
    }
    (out, notes)
}

/// `modules.txt`.
fn modules(facts: &Facts) -> String {
    let mut out = String::new();
    match &facts.modules.loaded {
        Fact::Ok(m) => {
            let _ = writeln!(out, "# name size use_count state used_by taint");
            for x in m.values() {
                let used = if x.used_by.is_empty() {
                    "-".to_string()
                } else {
                    x.used_by.join(",")
                };
                let taint = if x.taint.is_empty() { "-" } else { &x.taint };
                let _ = writeln!(
                    out,
                    "{} {} {} {} {used} {taint}",
                    x.name, x.size, x.refcount, x.state
                );
            }
        }
        other => {
            let (path, why) = other.failure().unwrap_or(("/proc/modules", None));
            let _ = writeln!(
                out,
                "# no module list: {path}: {}",
                why.unwrap_or("not there")
            );
        }
    }
    // Control characters (a hostile tree's module names) as `\xNN`, line by line.
    redact::redact_str(&out, false)
        .lines()
        .map(|l| format!("{}\n", visible(l)))
        .collect()
}

/// The daemons `services.txt` describes: (title, what names its units and
/// processes).
const DAEMONS: &[(&str, &[&str])] = &[
    ("iptsd", &["iptsd"]),
    ("surface-dtx-daemon", &["surface-dtx", "dtx-daem"]),
];

/// `services.txt`.
fn services(facts: &Facts, report: &Report, line: &dyn Fn(&str) -> String) -> String {
    let s = &facts.services;
    let mut out = String::new();
    for (title, keys) in DAEMONS {
        let ours = |n: &str| keys.iter().any(|k| n.contains(k));
        let _ = writeln!(out, "{title}");
        let mut any_unit = false;
        for (unit, ev) in s.units.iter().filter(|(u, _)| ours(u)) {
            any_unit = true;
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            let _ = writeln!(out, "  unit {unit}");
            let _ = writeln!(out, "    unit files: {}", list(&ev.files));
            let _ = writeln!(out, "    enabled by: {}", list(&ev.enabled_by));
        }
        if !any_unit {
            let _ = writeln!(out, "  no unit of it is looked for");
        }
        match &s.processes {
            Fact::Ok(p) => {
                let running: Vec<String> = p
                    .iter()
                    .filter(|(n, _)| ours(n))
                    .map(|(n, c)| format!("{n} ({c})"))
                    .collect();
                let _ = writeln!(
                    out,
                    "  processes: {}",
                    if running.is_empty() {
                        "none running".to_string()
                    } else {
                        running.join(", ")
                    }
                );
            }
            other => {
                let (path, why) = other.failure().unwrap_or(("/proc", None));
                let _ = writeln!(out, "  processes: unknown ({path}: {})", why.unwrap_or("-"));
            }
        }
        match &s.running_units {
            Fact::Ok(u) => {
                let v: Vec<&str> = u.iter().map(String::as_str).filter(|n| ours(n)).collect();
                let _ = writeln!(
                    out,
                    "  services with live processes (cgroup): {}",
                    if v.is_empty() {
                        "none".to_string()
                    } else {
                        v.join(", ")
                    }
                );
            }
            other => {
                let (path, why) = other.failure().unwrap_or(("/sys/fs/cgroup", None));
                let _ = writeln!(
                    out,
                    "  services with live processes (cgroup): unknown ({path}: {})",
                    why.unwrap_or("-")
                );
            }
        }
        let _ = writeln!(out, "  what the report says:");
        let mut said = false;
        for sub in &report.subsystems {
            for c in &sub.checks {
                let text = format!("{} {} {}", c.id, c.summary, c.evidence.join(" "));
                if ours(&text) || (*title == "iptsd" && c.id.contains("iptsd")) {
                    said = true;
                    let status = serde_json::to_value(c.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    {} {status}: {}", c.id, c.summary);
                    if let Some(h) = &c.hint {
                        let _ = writeln!(out, "      hint: {h}");
                    }
                }
            }
        }
        if !said {
            let _ = writeln!(out, "    no check names it");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "udev rules (iptsd, surface): {}",
        if s.udev_rules.is_empty() {
            "none".to_string()
        } else {
            s.udev_rules.join(", ")
        }
    );
    out.lines().map(|l| format!("{}\n", line(l))).collect()
}

/// Replaces every boot id of a history listing (`boot_id`, `baseline`, and wherever
/// else the id appears in a string) by `<boot-N>`, N counting from the newest.
fn placeholder_boot_ids(v: &mut Value) {
    let mut ids: Vec<String> = Vec::new();
    if let Some(boots) = v.get("boots").and_then(Value::as_array) {
        for b in boots {
            if let Some(id) = b.get("boot_id").and_then(Value::as_str)
                && !ids.iter().any(|x| x == id)
            {
                ids.push(id.to_string());
            }
        }
    }
    if let Some(id) = v.get("baseline").and_then(Value::as_str)
        && !ids.iter().any(|x| x == id)
    {
        ids.push(id.to_string());
    }
    // Longest first: an id that contains another is replaced whole.
    let mut order: Vec<(usize, &String)> = ids.iter().enumerate().collect();
    order.sort_by_key(|(_, id)| std::cmp::Reverse(id.len()));
    fn walk(v: &mut Value, order: &[(usize, &String)]) {
        match v {
            Value::String(s) => {
                for (i, id) in order {
                    if !id.is_empty() && s.contains(id.as_str()) {
                        *s = s.replace(id.as_str(), &format!("<boot-{}>", i + 1));
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, order)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, order)),
            _ => {}
        }
    }
    walk(v, &order);
}

/// `MANIFEST.txt`.
fn manifest(
    inputs: &Inputs,
    files: &[BundleFile],
    notes: &[String],
    line: &dyn Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "surface-check bug-report bundle");
    let _ = writeln!(out, "made by: surface-check {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        out,
        "made at: {}Z",
        crate::history::view::utc(inputs.created.saturating_mul(1_000_000)).replace(' ', "T")
    );
    let _ = writeln!(out, "command: {}", line(&inputs.command_line.join(" ")));
    let _ = writeln!(out, "\nfiles:");
    for f in files {
        let _ = writeln!(out, "  {:<15} {}", f.name, f.about);
    }
    let _ = writeln!(out, "  {:<15} this file", "MANIFEST.txt");
    let _ = writeln!(
        out,
        "\nredaction: identifying values are replaced by a marker naming their kind;\n\
         the host and user names are masked where they stand as whole words (any\n\
         case), never inside a longer identifier. Markers in the files:"
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in files {
        let text = String::from_utf8_lossy(&f.body.bytes()).into_owned();
        for (m, _) in MARKERS {
            *counts.entry(m).or_default() += text.matches(m).count();
        }
    }
    for (m, what) in MARKERS {
        let shown = if *m == "<boot-" { "<boot-N>" } else { m };
        let _ = writeln!(out, "  {:<10} {:>6}  {what}", shown, counts[m]);
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

impl Bundle {
    /// Every file and what goes in it: for JSON, every key path with its value
    /// (`/kernel/release = "6.1.0"`); for text, every line.
    pub fn review(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            let bytes = f.body.bytes();
            let _ = writeln!(out, "== {} ({} bytes): {}", f.name, bytes.len(), f.about);
            match &f.body {
                Body::Json(v) => leaves(v, &mut String::new(), &mut out),
                Body::Text(t) => {
                    for l in t.lines() {
                        let _ = writeln!(out, "  | {}", visible(l));
                    }
                }
            }
        }
        out
    }

    /// The archive: the files under [`ARCHIVE_DIR`], as a gzip-compressed tar.
    pub fn to_tar_gz(&self, mtime: u64) -> Result<Vec<u8>, BundleError> {
        let bytes: Vec<(String, Vec<u8>)> = self
            .files
            .iter()
            .map(|f| (f.name.clone(), f.body.bytes()))
            .collect();
        let refs: Vec<(&str, &[u8])> = bytes
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        Ok(tar::tar_gz(ARCHIVE_DIR, &refs, mtime)?)
    }
}

/// Appends `  /path = value` for every leaf of `v` (empty arrays and objects are
/// leaves too).
fn leaves(v: &Value, path: &mut String, out: &mut String) {
    let len = path.len();
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                path.push('/');
                // A key from the machine (a udev property's name) may hold a
                // terminal's escape sequences: shown as `\xNN`, as values are.
                path.push_str(&visible(&k.replace('~', "~0").replace('/', "~1")));
                leaves(x, path, out);
                path.truncate(len);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                let _ = write!(path, "/{i}");
                leaves(x, path, out);
                path.truncate(len);
            }
        }
        leaf => {
            let p = if path.is_empty() { "/" } else { path.as_str() };
            let _ = writeln!(out, "  {p} = {leaf}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_and_matching() {
        let n = log_needles();
        assert!(n.contains(&"IPTS".to_string()) && n.contains(&"Surface".to_string()));
        assert!(log_line_matches(
            "hid-multitouch: Microsoft SURFACE keyboard"
        ));
        assert!(log_line_matches("Int3472-discrete x"));
        assert!(!log_line_matches("usb 1-1: new device"));
    }

    #[test]
    fn boot_ids_become_placeholders() {
        let mut v = serde_json::json!({
            "baseline": "bbbb",
            "boots": [
                {"boot_id": "aaaa", "label": "6.1 aaaa"},
                {"boot_id": "bbbb", "changes": [{"subsystem": "touch"}]},
            ]
        });
        placeholder_boot_ids(&mut v);
        assert_eq!(v["baseline"], "<boot-2>");
        assert_eq!(v["boots"][0]["boot_id"], "<boot-1>");
        assert_eq!(v["boots"][0]["label"], "6.1 <boot-1>");
    }

    #[test]
    fn review_lists_leaves() {
        let b = Bundle {
            files: vec![
                file(
                    "a.json",
                    "a",
                    Body::Json(serde_json::json!({
                        "x": {"y": [1, "z"]},
                        "e": [],
                        "k\u{1b}[2J": "v\u{1b}[2J",
                    })),
                ),
                file("b.txt", "b", Body::Text("one\ntwo\n".into())),
            ],
        };
        let r = b.review();
        assert!(r.contains("  /x/y/0 = 1\n  /x/y/1 = \"z\"\n"), "{r}");
        assert!(r.contains("  /e = []\n"), "{r}");
        // A key from the machine is shown as its value is: no raw escape.
        assert!(r.contains("  /k\\x1b[2J = \"v\\u001b[2J\"\n"), "{r}");
        assert!(!r.contains('\u{1b}'), "{r}");
        assert!(
            r.contains("== b.txt (8 bytes): b\n  | one\n  | two\n"),
            "{r}"
        );
    }
}
