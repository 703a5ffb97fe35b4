//! What a person reads during and after a test: the prompt, the countdown, the
//! summary. Formatting only: verdicts come from the matchers.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use crate::cli::render::visible;

use super::{Outcome, TestResult};

/// `12 s left (1 of 2 arrived)`.
pub fn countdown_text(left: Duration, arrived: usize, wanted: usize) -> String {
    let s = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    format!("{s} s left ({arrived} of {wanted} arrived)")
}

/// The prompt and the countdown, on standard output for a person, on standard
/// error with `--json`. On a terminal the countdown is rewritten in place; elsewhere
/// it is a plain line every 5 seconds.
pub struct Console<'a> {
    out: &'a mut dyn Write,
    tty: bool,
    last: Option<u64>,
    width: usize,
}

impl<'a> Console<'a> {
    pub fn new(out: &'a mut dyn Write, tty: bool) -> Console<'a> {
        Console {
            out,
            tty,
            last: None,
            width: 0,
        }
    }

    /// A line (made visible: it may carry device names).
    pub fn line(&mut self, text: &str) {
        self.clear();
        let _ = writeln!(self.out, "{}", visible(text));
        let _ = self.out.flush();
    }

    pub fn countdown(&mut self, left: Duration, arrived: usize, wanted: usize) {
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let text = countdown_text(left, arrived, wanted);
        if self.tty {
            if self.last == Some(secs) && self.width == text.len() {
                return;
            }
            let pad = self.width.saturating_sub(text.len());
            let _ = write!(self.out, "\r  {text}{}", " ".repeat(pad));
            self.width = text.len();
        } else {
            let first = self.last.is_none();
            if self.last == Some(secs) || !(first || secs.is_multiple_of(5)) {
                return;
            }
            let _ = writeln!(self.out, "  {text}");
        }
        self.last = Some(secs);
        let _ = self.out.flush();
    }

    /// Ends an in-place countdown line.
    pub fn clear(&mut self) {
        if self.tty && self.width > 0 {
            let _ = write!(self.out, "\r{}\r", " ".repeat(self.width + 2));
            self.width = 0;
            let _ = self.out.flush();
        }
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a test's outcome means, in a sentence.
pub fn outcome_line(r: &TestResult) -> String {
    let secs = r.elapsed_ms / 1000;
    match r.outcome {
        Outcome::Passed => format!("{}: passed: everything asked for arrived.", r.test),
        Outcome::NotArrived => format!(
            "{}: not everything arrived{}.",
            r.test,
            if r.camera.is_some() {
                String::new()
            } else {
                format!(" within {} s", r.timeout_s)
            }
        ),
        Outcome::Interrupted => format!(
            "{}: interrupted after {secs} s; not everything arrived.",
            r.test
        ),
        Outcome::DeviceGone => format!("{}: the device went away: was the base detached?", r.test),
        Outcome::Error => format!("{}: could not run the test.", r.test),
    }
}

/// The summary after a test.
pub fn summary(r: &TestResult) -> String {
    let mut s = String::new();
    if let Some(c) = &r.camera {
        camera_summary(&mut s, c);
    }
    if !r.expectations.is_empty() {
        s.push_str("What arrived:\n");
    }
    for e in &r.expectations {
        let (mark, state) = match (e.arrived, e.required) {
            (true, _) => ("✓", "yes".to_string()),
            (false, true) => ("✗", "did not arrive".to_string()),
            (false, false) => ("·", "not seen (optional)".to_string()),
        };
        let _ = write!(s, "  {mark} {}: {state}", e.what);
        if e.count > 0 {
            let _ = write!(s, ", {}", plural(e.count, "event", "events"));
        }
        if let Some(d) = &e.detail {
            let _ = write!(s, " ({d})");
        }
        s.push('\n');
    }
    if r.events.total > 0 {
        let mut top: Vec<(&String, &u64)> = r.events.by_code.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = top
            .iter()
            .take(6)
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        let _ = writeln!(
            s,
            "Events: {}{}{}",
            r.events.total,
            if shown.is_empty() { "" } else { ": " },
            shown.join(", ")
        );
        if r.events.dropped > 0 {
            let _ = writeln!(
                s,
                "  the kernel dropped events {} (SYN_DROPPED)",
                plural(r.events.dropped, "time", "times")
            );
        }
    } else if !r.devices.is_empty() {
        s.push_str("Events: none\n");
    }
    for d in &r.devices {
        if let Some(g) = &d.gone {
            let _ = writeln!(s, "{} ({}): {g}", d.node, d.name);
        }
    }
    if let Some(dtx) = &r.dtx_events
        && !dtx.is_empty()
    {
        let _ = writeln!(s, "DTX events: {}", dtx.join(", "));
    }
    if let Some(m) = &r.message {
        let _ = writeln!(s, "{m}");
    }
    let _ = writeln!(s, "{}", outcome_line(r));
    visible_lines(&s)
}

fn camera_summary(s: &mut String, c: &super::camera::CameraReport) {
    if !c.video_nodes.is_empty() {
        let nodes: Vec<String> = c
            .video_nodes
            .iter()
            .map(|v| match (&v.name, &v.driver) {
                (Some(n), Some(d)) if n != d => format!("{} ({n}, {d})", v.node),
                (Some(n), _) => format!("{} ({n})", v.node),
                (None, Some(d)) => format!("{} ({d})", v.node),
                (None, None) => v.node.clone(),
            })
            .collect();
        let _ = writeln!(s, "V4L2 video nodes: {}", nodes.join(", "));
    } else {
        s.push_str("V4L2 video nodes: none\n");
    }
    if let Some(cam) = &c.libcamera.cam {
        let state = if c.libcamera.answered {
            format!(
                "answered: {}",
                plural(c.cameras.len() as u64, "camera", "cameras")
            )
        } else {
            "did not answer".to_string()
        };
        let _ = writeln!(s, "libcamera ({cam} --list): {state}");
    }
    for cam in &c.cameras {
        let _ = writeln!(s, "  {}: {}", cam.index, cam.name);
    }
    for cap in &c.captures {
        if cap.captured {
            let _ = writeln!(
                s,
                "  camera {}: one frame captured ({} bytes, {} ms)",
                cap.camera, cap.bytes, cap.elapsed_ms
            );
        } else {
            let _ = writeln!(
                s,
                "  camera {}: no frame: {}",
                cap.camera,
                cap.error.as_deref().unwrap_or("unknown")
            );
        }
    }
    if let Some(e) = &c.libcamera.error {
        let _ = writeln!(s, "  {e}");
    }
    for l in &c.libcamera.log {
        let _ = writeln!(s, "  libcamera: {l}");
    }
}

/// Every line of `s` made visible (device names and tool output are data).
fn visible_lines(s: &str) -> String {
    s.lines().map(|l| visible(l).into_owned() + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_console(tty: bool, lefts: &[u64]) -> String {
        let mut buf = Vec::new();
        {
            let mut c = Console::new(&mut buf, tty);
            c.line("Press any key on the keyboard.");
            for l in lefts {
                c.countdown(Duration::from_millis(*l), 0, 2);
            }
            c.line("done");
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn on_a_terminal_the_countdown_is_rewritten_in_place() {
        let s = run_console(true, &[15_000, 14_900, 14_000, 9_500]);
        let text = "15 s left (0 of 2 arrived)";
        assert_eq!(
            s,
            format!(
                "Press any key on the keyboard.\n\r  {text}\r  14 s left (0 of 2 arrived)\
                 \r  10 s left (0 of 2 arrived)\r{}\rdone\n",
                " ".repeat(text.len() + 2)
            )
        );
    }

    #[test]
    fn elsewhere_the_countdown_is_a_line_every_5_seconds() {
        let s = run_console(false, &[15_000, 14_900, 14_000, 10_000, 9_000, 5_000, 200]);
        assert_eq!(
            s,
            "Press any key on the keyboard.\n  15 s left (0 of 2 arrived)\n  \
             10 s left (0 of 2 arrived)\n  5 s left (0 of 2 arrived)\ndone\n"
        );
    }

    #[test]
    fn lines_from_the_machine_are_made_visible() {
        let mut buf = Vec::new();
        Console::new(&mut buf, false).line("watching evil\x1b[2J name");
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "watching evil\\x1b[2J name\n"
        );
    }
}
