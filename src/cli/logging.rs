//! Logging and error messages shared by `surface-check` and `surface-checkd`: log
//! lines on standard error with the machine's data made visible, and errors with
//! their causes.

use std::io::{IsTerminal, Write};

use super::render::visible;

/// Standard error for log lines: each line the formatter hands over is written with
/// its control characters made visible (a path or a value from the machine may carry
/// `\r`, an escape sequence or a bidi override), keeping the final newline and, when
/// colour is on, the formatter's own escape sequences. The formatter already writes
/// ESC in field values as `\x1b` (tracing-subscriber's sanitization).
struct LogWriter {
    ansi: bool,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, newline) = match text.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (&*text, ""),
        };
        let mut clean = if self.ansi {
            // Keep ESC for the formatter's colours; escape every other control.
            body.split('\x1b')
                .map(|part| visible(part).into_owned())
                .collect::<Vec<_>>()
                .join("\x1b")
        } else {
            visible(body).into_owned()
        };
        clean.push_str(newline);
        // One write per line, so that lines of two threads never interleave.
        std::io::stderr().lock().write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The error and its causes joined by `: `, as `{:#}` does, but a cause whose text
/// its parent's message already ends with (an error that prints its source and
/// also returns it) is said once: "cannot open root /x: not found", not "...: not
/// found: not found".
pub fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.is_empty() {
            msg = text;
        } else if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

/// Sends `tracing` output to standard error, filtered by `SURFACE_CHECK_LOG` (else
/// `default`), without timestamps (journald adds its own), in colour only on a
/// terminal with NO_COLOR unset (no-color.org).
pub fn init(default: &str) {
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SURFACE_CHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(move || LogWriter { ansi })
        .with_ansi(ansi)
        .without_time()
        .init();
}
