//! Human output: one line per subsystem with a mark, the broken link and its hint
//! beneath. Renders a report; computes no verdict.
//!
//! Every string of a report is data from the machine (os-release, DMI, device names,
//! kernel-log lines, a capture someone sent) and may carry terminal control sequences.
//! None reaches the terminal raw, with or without colour: [`visible`] writes control
//! characters as escapes (C0 and DEL as `\xNN`, so ESC is `\x1b`; C1 controls, bidi
//! controls and line or paragraph separators as `\u{NNNN}`). The only escape sequences
//! in the output are the renderer's own SGR colour codes (`ESC [ digits m`), and only
//! with colour on. A backslash in the data is left as it is: the human form is for
//! reading; `--json` is the exact form.

use std::borrow::Cow;
use std::fmt::Write;

use crate::report::{Report, Status};

/// Whether `c` must not reach a terminal raw: the C0 and C1 control characters and
/// DEL, the bidirectional controls (which reorder what follows them: U+061C,
/// U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and the line and paragraph
/// separators U+2028 and U+2029.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` with every character [`is_unsafe`] written visibly: `\xNN` below U+0080
/// (ESC is `\x1b`, a carriage return `\x0d`), `\u{NNNN}` above. Borrowed when
/// nothing needs escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !is_unsafe(c) {
            o.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(o, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(o, "\\u{{{:04x}}}", c as u32);
        }
    }
    Cow::Owned(o)
}

/// A status as one mark: ✓ ! ✗ - ?
pub fn mark(s: Status) -> &'static str {
    match s {
        Status::Ok => "✓",
        Status::Degraded => "!",
        Status::Failed => "✗",
        Status::Absent => "-",
        Status::Unknown => "?",
    }
}

/// `s` (made [`visible`]) in the colour of `status` when `color`.
fn paint(s: &str, status: Status, color: bool) -> String {
    let s = visible(s);
    if !color {
        return s.into_owned();
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

/// `s` (made [`visible`]) dimmed when `color`.
fn dim(s: &str, color: bool) -> String {
    let s = visible(s);
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
        "surface-book-2" => "Surface Book 2 (size not detected)",
        "unknown" => "model unknown",
        _ => "not a Surface Book 2",
    };
    let kernel = visible(r.kernel.release.as_deref().unwrap_or("unknown kernel"));
    let patches = match r.kernel.surface_patches {
        Some(true) => "linux-surface",
        Some(false) => "no linux-surface patches",
        None => "patches unknown",
    };
    let _ = writeln!(
        o,
        "{model} · kernel {kernel} ({patches}){}",
        m.os.as_deref()
            .map(|s| format!(" · {}", visible(s)))
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
            visible(&s.id),
            visible(&s.summary),
        );
        // With the machine itself unknown, the header already says why, once.
        if (s.status.is_problem() || s.status == Status::Unknown)
            && m.model != "unknown"
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
                let _ = writeln!(o, "{pad}fix: {}", visible(h));
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
                    visible(&c.id),
                    visible(&c.summary)
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
    if !r.needs_privileges.is_empty() {
        let _ = writeln!(o, "\n{}", dim(&privileges_line(&r.needs_privileges), color));
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

/// One line for the device answers that needed privileges: which devices were not
/// asked, and how to ask them. Numbered nodes of one kind are written once:
/// `/dev/input/event{0,1,5}`.
fn privileges_line(paths: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for p in paths {
        let stem = p.trim_end_matches(|c: char| c.is_ascii_digit());
        let number = &p[stem.len()..];
        match groups
            .iter_mut()
            .find(|(s, n)| *s == stem && !n.is_empty() && !number.is_empty())
        {
            Some((_, n)) => n.push(number),
            None if number.is_empty() => groups.push((p, Vec::new())),
            None => groups.push((stem, vec![number])),
        }
    }
    let shown: Vec<String> = groups
        .into_iter()
        .map(|(stem, mut n)| {
            n.sort_by_key(|x| (x.len(), *x));
            match n.as_slice() {
                [] => stem.to_string(),
                [one] => format!("{stem}{one}"),
                many => format!("{stem}{{{}}}", many.join(",")),
            }
        })
        .collect();
    format!(
        "permission denied, so these devices were not asked (run as root to ask them): {}",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::privileges_line;

    #[test]
    fn refused_devices_of_one_kind_are_written_once_in_number_order() {
        let paths: Vec<String> = [
            "/dev/surface/dtx",
            "/dev/input/event0",
            "/dev/input/event10",
            "/dev/input/event2",
            "/dev/video0",
            "/dev/kmsg",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            privileges_line(&paths),
            "permission denied, so these devices were not asked (run as root to ask them): \
             /dev/surface/dtx, /dev/input/event{0,2,10}, /dev/video0, /dev/kmsg"
        );
    }
}
