//! Structured journal entries for regressions and recoveries, sent over the
//! journal's native protocol (what `sd_journal_send()` does, without libsystemd).
//!
//! One entry is one datagram to `/run/systemd/journal/socket` (the path in
//! `SURFACE_CHECK_JOURNAL_SOCKET` instead, for tests): a list of fields, each
//! `KEY=value\n`, or, for a value holding a newline, the binary-safe form `KEY\n`,
//! the value's length as a 64-bit little-endian number, the value, `\n`.
//!
//! Every entry carries `MESSAGE`, a fixed `MESSAGE_ID` ([`REGRESSION_MESSAGE_ID`] or
//! [`RECOVERY_MESSAGE_ID`]), `PRIORITY` (3 for a subsystem that now fails, 4 for one
//! that is now degraded, 5 for a recovery), `SYSLOG_IDENTIFIER=surface-check` and
//! `SURFACE_CHECK_*` fields: the subsystem, both kernels, both boots, both
//! generations (when known), both statuses, the fact changes (one a line) and the
//! fix. `journalctl MESSAGE_ID=cea4bddb88e1c94b01a8ee4aaa5435f6` lists every
//! regression ever found; `journalctl SURFACE_CHECK_SUBSYSTEM=touch` those of one
//! subsystem.
//!
//! Logging never stops a report: with no journal (no socket: a container, a system
//! without systemd) a debug line says so; any other failure is a warning. A send
//! never blocks for long ([`SEND_TIMEOUT`]) and a value is cut at [`MAX_VALUE`] bytes,
//! so that an entry always fits one datagram.

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use crate::history::diff::{BootRef, Recovery, Regression};
use crate::report::Status;

/// The `MESSAGE_ID` of a regression: a subsystem that worked on an earlier boot and
/// is degraded or failed on this one.
pub const REGRESSION_MESSAGE_ID: &str = "cea4bddb88e1c94b01a8ee4aaa5435f6";

/// The `MESSAGE_ID` of a recovery: a subsystem that was degraded or failed on the
/// boot before and works on this one.
pub const RECOVERY_MESSAGE_ID: &str = "a1b0276ebda03e11603ba816238ba2f7";

/// Where journald listens for native entries.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";

/// The environment variable naming another socket (tests bind their own).
pub const SOCKET_ENV: &str = "SURFACE_CHECK_JOURNAL_SOCKET";

/// `SYSLOG_IDENTIFIER` of every entry.
pub const IDENTIFIER: &str = "surface-check";

/// The longest value sent, in bytes; a longer one is cut (at a character boundary)
/// and ends in `…`. Ten fields of this size fit the smallest datagram limit a
/// system has by default (`net.core.wmem_default`, 208 KiB).
pub const MAX_VALUE: usize = 8 * 1024;

/// How long a send may block (a journald that does not read).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// The socket entries go to: `$SURFACE_CHECK_JOURNAL_SOCKET`, else journald's.
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// Whether `key` is a field name journald accepts from a client: upper-case ASCII
/// letters, digits and underscores, not starting with an underscore or a digit, at
/// most 64 characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && !key.starts_with('_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `value` cut to at most [`MAX_VALUE`] bytes at a character boundary.
fn capped(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= MAX_VALUE {
        return value.into();
    }
    let mut end = MAX_VALUE - '…'.len_utf8();
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end]).into()
}

/// The datagram for `fields`, in the native protocol. A field whose key journald
/// would refuse is left out (with a debug line); values are capped at [`MAX_VALUE`].
pub fn encode(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        if !valid_key(key) {
            tracing::debug!(key, "journal: not a valid field name; left out");
            continue;
        }
        let value = capped(value);
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// What became of an entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// journald (or the socket named) took it.
    Sent,
    /// No journal listens there.
    NoJournal,
}

/// Sends one entry of `fields` to [`socket_path`].
pub fn send(fields: &[(&str, &str)]) -> std::io::Result<Sent> {
    let path = socket_path();
    let sock = UnixDatagram::unbound()?;
    sock.set_write_timeout(Some(SEND_TIMEOUT))?;
    match sock.send_to(&encode(fields), &path) {
        Ok(_) => Ok(Sent::Sent),
        // No socket file, or a socket nobody reads (journald stopped).
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            tracing::debug!(socket = %path.display(), "no journal listening: {e}");
            Ok(Sent::NoJournal)
        }
        Err(e) => Err(e),
    }
}

/// [`send`], logging (never returning) a failure: the report goes on.
fn send_logged(what: &str, fields: &[(&str, &str)]) {
    if let Err(e) = send(fields) {
        tracing::warn!(
            socket = %socket_path().display(),
            "could not log the {what} to the journal: {e}"
        );
    }
}

/// The priority of an entry about a subsystem that is now `status`.
fn priority(status: Status) -> &'static str {
    match status {
        Status::Failed => "3",
        _ => "4",
    }
}

/// What an entry is about: one subsystem between two boots.
struct About<'a> {
    subsystem: &'a str,
    previous: &'a BootRef,
    current: &'a BootRef,
    old_status: Status,
    new_status: Status,
    changes: String,
}

/// The fields both kinds of entry share.
fn common(message: &str, id: &str, priority: &str, a: &About) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("MESSAGE", message.to_string()),
        ("MESSAGE_ID", id.to_string()),
        ("PRIORITY", priority.to_string()),
        ("SYSLOG_IDENTIFIER", IDENTIFIER.to_string()),
        ("SURFACE_CHECK_SUBSYSTEM", a.subsystem.to_string()),
        ("SURFACE_CHECK_PREVIOUS_KERNEL", a.previous.kernel.clone()),
        ("SURFACE_CHECK_CURRENT_KERNEL", a.current.kernel.clone()),
        ("SURFACE_CHECK_PREVIOUS_BOOT", a.previous.boot_id.clone()),
        ("SURFACE_CHECK_BOOT", a.current.boot_id.clone()),
        ("SURFACE_CHECK_OLD_STATUS", a.old_status.to_string()),
        ("SURFACE_CHECK_NEW_STATUS", a.new_status.to_string()),
    ];
    if let Some(g) = a.previous.generation {
        f.push(("SURFACE_CHECK_PREVIOUS_GENERATION", g.to_string()));
    }
    if let Some(g) = a.current.generation {
        f.push(("SURFACE_CHECK_CURRENT_GENERATION", g.to_string()));
    }
    if !a.changes.is_empty() {
        f.push(("SURFACE_CHECK_CHANGES", a.changes.clone()));
    }
    f
}

fn lines<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn send_fields(what: &str, fields: &[(&'static str, String)]) {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send_logged(what, &refs);
}

/// Logs a regression; `message` is the sentence the report prints.
pub fn regression(r: &Regression, message: &str) {
    let about = About {
        subsystem: &r.subsystem,
        previous: &r.previous,
        current: &r.current,
        old_status: r.old_status,
        new_status: r.new_status,
        changes: lines(&r.changes),
    };
    let mut f = common(
        message,
        REGRESSION_MESSAGE_ID,
        priority(r.new_status),
        &about,
    );
    f.push(("SURFACE_CHECK_SUMMARY", r.summary.clone()));
    if let Some(h) = &r.hint {
        f.push(("SURFACE_CHECK_FIX", h.clone()));
    }
    send_fields("regression", &f);
}

/// Logs a recovery; `message` is the sentence the report prints.
pub fn recovery(r: &Recovery, message: &str) {
    let about = About {
        subsystem: &r.subsystem,
        previous: &r.previous,
        current: &r.current,
        old_status: r.old_status,
        new_status: r.new_status,
        changes: lines(&r.changes),
    };
    send_fields(
        "recovery",
        &common(message, RECOVERY_MESSAGE_ID, "5", &about),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_key_equals_value_and_newlines_take_the_binary_form() {
        let d = encode(&[("MESSAGE", "one line"), ("SURFACE_CHECK_CHANGES", "a\nb")]);
        let mut want = b"MESSAGE=one line\nSURFACE_CHECK_CHANGES\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"a\nb\n");
        assert_eq!(d, want);
    }

    #[test]
    fn invalid_keys_are_left_out_and_long_values_capped() {
        let long = "é".repeat(MAX_VALUE);
        let d = encode(&[("_PID", "1"), ("lower", "x"), ("1A", "x"), ("OK", &long)]);
        let text = String::from_utf8(d).unwrap();
        assert!(text.starts_with("OK="), "{text:.40}");
        assert!(text.len() <= "OK=\n".len() + MAX_VALUE);
        assert!(text.ends_with("…\n"));
    }

    #[test]
    fn the_message_ids_are_128_bit_hex_and_differ() {
        for id in [REGRESSION_MESSAGE_ID, RECOVERY_MESSAGE_ID] {
            assert_eq!(id.len(), 32);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
        assert_ne!(REGRESSION_MESSAGE_ID, RECOVERY_MESSAGE_ID);
    }
}
