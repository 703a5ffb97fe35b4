//! `surface-check`: the command people run after a reboot.

use std::io::{IsTerminal, Write};

use clap::Parser;
use surface_check::cli::render::visible;
use surface_check::cli::{Cli, EXIT_ERROR, run};

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
fn message(e: &anyhow::Error) -> String {
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

fn main() {
    // Die quietly on a closed pipe (`surface-check | head`), as Unix filters do.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Colour in logs only on a terminal, and never with NO_COLOR set (no-color.org).
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SURFACE_CHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(move || LogWriter { ansi })
        .with_ansi(ansi)
        .without_time()
        .init();
    // clap exits 2 on usage errors itself.
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // The message may quote the machine's data (a path, a value from a
            // capture): written visibly, as the report is.
            eprintln!("surface-check: {}", visible(&message(&e)));
            EXIT_ERROR
        }
    };
    std::process::exit(code);
}
