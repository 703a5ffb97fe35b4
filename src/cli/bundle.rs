//! `surface-check bundle`: gathers the report, the facts, the kernel log lines, the
//! services' states and the history's last boots, and writes them as one redacted
//! archive ([`crate::bundle`] builds it).
//!
//! Exit codes: 0 when the archive was written (or, with `--review`, when it was
//! listed and not wanted), 2 on an error. Never 1: a bundle is no verdict.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::history::StateArgs;
use super::{RootArgs, Sink};
use crate::bundle::{self, HistoryInput, Inputs};
use crate::facts::{self, Fact};
use crate::history::{History, store, view};
use crate::profiles::SURFACE_BOOK_2;

#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// Write the archive to FILE (`-`: standard output). Default:
    /// surface-check-bundle-<UTC date>-<time>.tar.gz in the current directory.
    ///
    /// A regular file is replaced atomically (a temporary file beside it, renamed)
    /// and gets mode 0600; a symbolic link, a directory or a path ending in `/` is
    /// refused.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// List every file and field that goes in before writing. When standard input
    /// and standard error are a terminal, asks "Write FILE? [y/N]"; otherwise
    /// prints the list and writes nothing unless --yes is given.
    #[arg(long)]
    pub review: bool,
    /// With --review: write after listing, without asking.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub source: RootArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `surface-check bundle`.
pub fn run(a: &BundleArgs, out: &mut impl Write) -> Result<i32> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = a.output.clone().unwrap_or_else(|| default_name(now).into());
    // Where it goes is checked before the probe: a directory or a link fails at once.
    let sink = Sink::resolve(&path)?;
    let to_stdout = matches!(sink, Sink::Stdout);
    // An archive that would go to a terminal is refused before the probe, with
    // --review too: its question could otherwise be answered with `y`.
    if writes_to_terminal(&sink) {
        anyhow::bail!(
            "refusing to write a compressed archive to a terminal; redirect it or give -o FILE"
        );
    }

    let root = super::open_root(&a.source)?;
    // A --dmesg file that cannot be used (too large, not a regular file) leaves the
    // facts without a log and a note in the bundle, not an error: a bug report is
    // most wanted when something is odd.
    let log_fact = a.source.dmesg.as_ref().map(|p| {
        match facts::kmsg::read_file(p, SURFACE_BOOK_2.log_needles) {
            Ok(l) => Fact::Ok(l),
            Err(e) => Fact::Unknown {
                path: p.display().to_string(),
                reason: e.to_string(),
            },
        }
    });
    let facts = facts::collect_with_log(&root, &SURFACE_BOOK_2, log_fact)
        .with_context(|| format!("collecting facts from {}", a.source.root.display()))?;
    let identity = root
        .run_watched(facts::identity::read)
        .context("reading the host and user names")?;

    // The report is the diagnosis of the redacted facts, the ones facts.json holds:
    // every value in it that comes from the machine is redacted as there, the
    // program's own words stay as `status --json` prints them (no redaction rule runs
    // over its sentences), and `status --from facts.json` gives it again. Its
    // verdicts are the live ones (tests/captured.rs). Not surface-checkd's report: a
    // report from elsewhere could be redacted only string by string, which cannot
    // tell the program's words from the machine's.
    let redacted =
        facts::redact::redact_with_users(&facts, identity.hostname.as_deref(), &identity.users)
            .context("redacting the facts")?;
    let report = crate::checks::diagnose(&redacted, &SURFACE_BOOK_2, &redacted.source.root);
    let report_redacted = true;
    let report_origin = "made from the redacted facts of facts.json".to_string();

    let needles = bundle::log_needles();
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let kernel_log = match &a.source.dmesg {
        Some(p) => facts::kmsg::read_file(p, &needles).map_err(|e| e.to_string()),
        None => match facts::kmsg::collect(&root, &needles) {
            Fact::Ok(l) => Ok(l),
            other => Err(match other.failure() {
                Some((p, Some(why))) => format!("{p}: {why}"),
                Some((p, None)) => format!("{p}: not there"),
                None => "not read".to_string(),
            }),
        },
    };

    let state_dir = a.state.state_dir.clone().unwrap_or_else(store::state_dir);
    let history = match History::open_read_only(&state_dir) {
        Ok(Some(h)) => match view::boots_json(&h, bundle::HISTORY_BOOTS) {
            Ok(v) => HistoryInput::Boots(v),
            Err(e) => HistoryInput::Note(format!("{}: {e}", state_dir.display())),
        },
        Ok(None) => HistoryInput::Note(format!(
            "no history in {} (`surface-check report` records one)",
            state_dir.display()
        )),
        Err(e) => HistoryInput::Note(format!("{}: {e}", state_dir.display())),
    };

    let inputs = Inputs {
        report: &report,
        report_redacted,
        report_origin,
        facts: &facts,
        identity: &identity,
        kernel_log,
        history,
        // Not `args()`: an argument that is no UTF-8 (a file name) would panic.
        command_line: std::env::args_os()
            .map(|x| x.to_string_lossy().into_owned())
            .collect(),
        created: now,
    };
    let b = bundle::build(&inputs)?;
    let bytes = b.to_tar_gz(now)?;

    if a.review {
        let listing = b.review();
        // The archive may be going to standard output: the listing then goes to
        // standard error.
        if to_stdout {
            eprint!("{listing}");
        } else {
            write!(out, "{listing}")?;
            out.flush()?;
        }
        let write = if a.yes {
            true
        } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            eprint!("Write {}? [y/N] ", path.display());
            let mut answer = String::new();
            std::io::stdin()
                .read_line(&mut answer)
                .context("reading the answer")?;
            matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES")
        } else {
            eprintln!("surface-check: not a terminal: nothing written (--review --yes writes it)");
            return Ok(0);
        };
        if !write {
            eprintln!("surface-check: nothing written");
            return Ok(0);
        }
    }

    sink.write_owned(out, &bytes, sudo_user())?;
    if !to_stdout {
        eprintln!(
            "surface-check: wrote {} ({} bytes, {} files)",
            path.display(),
            bytes.len(),
            b.files.len()
        );
    }
    Ok(0)
}

/// Whether the sink is a terminal: standard output, another descriptor of this
/// process or a character device (`-o /dev/tty`), asked without making it the
/// controlling terminal and without waiting.
fn writes_to_terminal(sink: &Sink) -> bool {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    match sink {
        Sink::Stdout => std::io::stdout().is_terminal(),
        // SAFETY: isatty only asks about the descriptor.
        Sink::Fd(fd) => (unsafe { libc::isatty(*fd) }) == 1,
        Sink::Through(p) => {
            std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device())
                && std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
                    .open(p)
                    .is_ok_and(|f| f.is_terminal())
        }
        Sink::Replace(_) => false,
    }
}

/// Under `sudo` (euid 0, `SUDO_UID` and `SUDO_GID` numbers), the user who ran sudo:
/// the archive is given to them before it takes its place, so that they can read a
/// 0600 file in their own directory. `None` otherwise (the archive stays this
/// process's user's).
fn sudo_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    Some((id("SUDO_UID")?, id("SUDO_GID")?))
}

/// `surface-check-bundle-20261203-150830.tar.gz` for `now` (UTC).
pub fn default_name(now: u64) -> String {
    // `YYYY-MM-DD HH:MM:SS`
    let t = view::utc(now.saturating_mul(1_000_000));
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(digits.len().min(8));
    format!("surface-check-bundle-{date}-{time}.tar.gz")
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_name_is_utc() {
        assert_eq!(
            super::default_name(1_764_774_510),
            "surface-check-bundle-20251203-150830.tar.gz"
        );
    }
}
