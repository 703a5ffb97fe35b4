//! Human output: one line per subsystem with a mark, the broken link and its hint
//! beneath. Renders a report; computes no verdict.

use std::fmt::Write;

use crate::report::{Report, Status};

fn mark(s: Status) -> &'static str {
    match s {
        Status::Ok => "✓",
        Status::Degraded => "!",
        Status::Failed => "✗",
        Status::Absent => "-",
        Status::Unknown => "?",
    }
}

fn paint(s: &str, status: Status, color: bool) -> String {
    if !color {
        return s.to_string();
    }
    let code = match status {
        Status::Ok => "32",
        Status::Degraded => "33",
        Status::Failed => "31",
        Status::Absent => "2",
        Status::Unknown => "35",
    };
    format!("\x1b[{code}m{s}\x1b[0m")
}

fn dim(s: &str, color: bool) -> String {
    if color {
        format!("\x1b[2m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Renders `r` for a terminal. `verbose` lists every check.
pub fn human(r: &Report, color: bool, verbose: bool) -> String {
    let mut o = String::new();
    let m = &r.machine;
    let model = match m.model.as_str() {
        "surface-book-2-13" => "Surface Book 2 13.5\"",
        "surface-book-2-15" => "Surface Book 2 15\"",
        "unknown" => "model unknown",
        _ => "not a Surface Book 2",
    };
    let model = if matches!(m.model_source.as_str(), "dmi-product" | "devices") {
        format!("{model} (size not detected)")
    } else {
        model.to_string()
    };
    let kernel = r.kernel.release.as_deref().unwrap_or("unknown kernel");
    let patches = match r.kernel.surface_patches {
        Some(true) => "linux-surface",
        Some(false) => "no linux-surface patches",
        None => "patches unknown",
    };
    let _ = writeln!(
        o,
        "{model} · kernel {kernel} ({patches}){}",
        m.os.as_deref()
            .map(|s| format!(" · {s}"))
            .unwrap_or_default()
    );
    if m.model == "other" {
        let _ = writeln!(
            o,
            "{}",
            dim(&format!("nothing to check: {}", m.model_evidence), color)
        );
    } else if m.model == "unknown" {
        let _ = writeln!(
            o,
            "{}",
            paint(
                &format!(
                    "cannot tell whether this is a Surface Book 2: {}",
                    m.model_evidence
                ),
                Status::Unknown,
                color
            )
        );
    } else if m.base != "attached" {
        let _ = writeln!(
            o,
            "{}",
            dim(&format!("base: {} ({})", m.base, m.base_evidence), color)
        );
    }
    let _ = writeln!(o);
    let width = r.subsystems.iter().map(|s| s.id.len()).max().unwrap_or(8);
    for s in &r.subsystems {
        let _ = writeln!(
            o,
            "{} {:width$}  {}",
            paint(mark(s.status), s.status, color),
            s.id,
            s.summary,
        );
        if (s.status.is_problem() || s.status == Status::Unknown)
            && let Some(c) = s
                .decided_by
                .as_ref()
                .and_then(|id| s.checks.iter().find(|c| &c.id == id))
        {
            let pad = " ".repeat(width + 4);
            let _ = writeln!(o, "{pad}{}", dim(&format!("check: {}", c.id), color));
            for e in c.evidence.iter().take(4) {
                let _ = writeln!(o, "{pad}{}", dim(&format!("evidence: {e}"), color));
            }
            if let Some(h) = &c.hint {
                let _ = writeln!(o, "{pad}fix: {h}");
            }
        }
        // Notices change no status; shown always, as advice.
        let pad = " ".repeat(width + 4);
        for n in &s.notices {
            let _ = writeln!(o, "{pad}{}", dim(&format!("note: {n}"), color));
        }
        if verbose {
            for c in &s.checks {
                let _ = writeln!(
                    o,
                    "    {} {}: {}",
                    paint(mark(c.status), c.status, color),
                    c.id,
                    c.summary
                );
                for e in &c.evidence {
                    let _ = writeln!(o, "        {}", dim(e, color));
                }
            }
        }
    }
    if !r.hung_paths.is_empty() {
        let _ = writeln!(
            o,
            "\n{}",
            paint(
                &format!(
                    "reads that hung and were cut off: {}",
                    r.hung_paths.join(", ")
                ),
                Status::Unknown,
                color
            )
        );
    }
    let _ = writeln!(
        o,
        "\noverall: {}",
        paint(r.overall.as_str(), r.overall, color)
    );
    if r.exit_code() != 0 && !verbose {
        let _ = writeln!(
            o,
            "{}",
            dim(
                "`surface-check status -v` lists every check; `surface-check explain ID` documents one.",
                color
            )
        );
    }
    o
}
