//! The kernel log of the current boot: the messages that matter to the profile.
//!
//! Three sources, one parser ([`parse_text`], [`Parser`]):
//!
//! - the live `/dev/kmsg` ([`collect`] on the live root): read without blocking and
//!   without consuming anything (each reader of `/dev/kmsg` has its own position), one
//!   record per `read()`, bounded by [`MAX_LIVE_BYTES`] and [`MAX_RECORDS`];
//! - when `/dev/kmsg` cannot be read (`dmesg_restrict` for a user, no device), the
//!   journal's kernel messages of this boot: `journalctl -k -b -o short-monotonic`,
//!   run with a hard timeout ([`JOURNAL_TIMEOUT`]) and bounded output;
//! - a file given with `--dmesg FILE` ([`read_file`]): `dmesg` output (with
//!   `[    1.234567]` stamps, `dmesg -T` dates, ISO dates, or none), a hw-probe upload,
//!   `journalctl -k` output (`short-monotonic`, `short`, `cat`), or a copy of
//!   `/dev/kmsg` records.
//!
//! A captured tree without `--dmesg` has no log: the fact is
//! `Unknown { path: "kernel log", reason: "not provided: ..." }`, never `Absent`. Absent
//! is evidence that a thing is not there; a log nobody passed is no evidence at all,
//! and checks treat it as "cannot tell".
//!
//! Only messages containing one of the profile's `log_needles` are kept, as text (no timestamp,
//! priority or host), trimmed, at most [`MAX_LINE`] bytes each and [`MAX_LINES`] in
//! all. `from_boot` says whether the log holds the kernel's first message (`Linux
//! version ...`); when the kept lines were capped, or the source was cut short, it is
//! `false`, since a line that is missing then proves nothing either.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Fact, KernelLog};
use crate::root::{ReadError, Root};

/// Longest kept message, in bytes (cut at a character boundary).
pub const MAX_LINE: usize = 512;
/// Most kept messages.
pub const MAX_LINES: usize = 2000;
/// Most bytes read from `/dev/kmsg` (the ring buffer is rarely above 1 MiB).
pub const MAX_LIVE_BYTES: usize = 8 << 20;
/// Most records read from `/dev/kmsg`.
pub const MAX_RECORDS: usize = 200_000;
/// Largest `--dmesg` file and largest journal output.
pub const MAX_FILE: u64 = 16 << 20;
/// How long `journalctl` may run before it is killed.
pub const JOURNAL_TIMEOUT: Duration = Duration::from_secs(2);

/// The source path of the live kernel log.
pub const KMSG: &str = "dev/kmsg";

/// How the lines of a text look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/dev/kmsg` records: `prio,seq,usec,flags;message`, dictionary lines after a space.
    Kmsg,
    /// `journalctl -k` with a timestamp and `HOST kernel: ` before the message.
    Journal,
    /// `dmesg` output, `journalctl -o cat`, hw-probe uploads: a message per line, with
    /// or without a timestamp.
    Dmesg,
}

/// Whether a message matches a needle (`a ... b`: `a` then `b`).
pub fn matches(msg: &str, needle: &str) -> bool {
    let mut rest = msg;
    for part in needle.split("...").map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Collects messages one at a time.
#[derive(Debug)]
pub struct Parser<'n> {
    needles: &'n [&'n str],
    format: Format,
    from_boot: bool,
    total: u64,
    capped: bool,
    lines: Vec<String>,
}

impl<'n> Parser<'n> {
    pub fn new(format: Format, needles: &'n [&'n str]) -> Self {
        Parser {
            needles,
            format,
            from_boot: false,
            total: 0,
            capped: false,
            lines: Vec::new(),
        }
    }

    /// Feeds one line of the source (without its newline).
    pub fn line(&mut self, line: &str) {
        let line = line.trim_end_matches(['\r', '\n']);
        let msg = match self.format {
            Format::Kmsg => {
                // Dictionary lines (` SUBSYSTEM=pci`) belong to the record before.
                if line.starts_with([' ', '\t']) {
                    return;
                }
                kmsg_message(line).unwrap_or(line)
            }
            Format::Journal => {
                // `-- Boot <id> --` (and `-- Reboot --`) separates boots in journal
                // output without `-b`: only the last boot is this one.
                if line.starts_with("-- Boot ") || line.starts_with("-- Reboot") {
                    self.new_boot();
                    return;
                }
                if line.starts_with("-- ") {
                    return;
                }
                journal_message(line)
            }
            Format::Dmesg => dmesg_message(line),
        };
        self.message(msg);
    }

    /// Feeds one message (no prefix).
    pub fn message(&mut self, msg: &str) {
        let msg = msg.trim();
        if msg.is_empty() {
            return;
        }
        // A second kernel banner starts another boot (a file spanning boots): what
        // an earlier boot logged proves nothing about the last one.
        if msg.starts_with("Linux version ") {
            if self.total > 0 {
                self.new_boot();
            }
            self.from_boot = true;
        }
        self.total += 1;
        if !self.needles.iter().any(|n| matches(msg, n)) {
            return;
        }
        if self.lines.len() >= MAX_LINES {
            self.capped = true;
            return;
        }
        let line = cap_len(msg, MAX_LINE);
        if !line.is_empty() {
            self.lines.push(line.to_string());
        }
    }

    /// Forgets what earlier boots logged.
    fn new_boot(&mut self) {
        self.lines.clear();
        self.total = 0;
        self.capped = false;
        self.from_boot = false;
    }

    /// The log. `complete` is false when the source was cut short (a size cap).
    pub fn finish(self, source: impl Into<String>, complete: bool) -> KernelLog {
        KernelLog {
            source: source.into(),
            from_boot: self.from_boot && complete && !self.capped,
            total: self.total,
            lines: self.lines,
        }
    }
}

/// `s` cut to at most `max` bytes, back to the last whitespace: the word the cut
/// falls in is dropped whole, so no part of an identifier (a UUID's first groups, an
/// address's first octets) is kept where redaction can no longer recognize it. A
/// line without whitespace before the cut keeps nothing.
fn cap_len(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // The cut falls between two words: nothing of a word is lost.
    if s[end..].starts_with(char::is_whitespace) {
        return s[..end].trim_end();
    }
    match s[..end].rfind(char::is_whitespace) {
        Some(p) => s[..p].trim_end(),
        None => "",
    }
}

/// The message of a `/dev/kmsg` record line, `None` when the header is malformed.
fn kmsg_message(line: &str) -> Option<&str> {
    let (head, msg) = line.split_once(';')?;
    let mut fields = head.split(',');
    // priority, sequence number, microseconds: numbers; then flags and, on newer
    // kernels, a caller id.
    for _ in 0..3 {
        let f = fields.next()?;
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some(msg)
}

/// Whether `line` starts like a `/dev/kmsg` record.
fn is_kmsg_record(line: &str) -> bool {
    kmsg_message(line).is_some()
}

/// Splits a leading `[...]` stamp: a monotonic time (`[    1.234567]`) or a
/// `dmesg -T` date (`[Mon Oct 24 10:30:44 2022]`). Other brackets (`[drm]`,
/// `[Firmware Bug]`) are message text.
fn split_bracket_stamp(line: &str) -> Option<&str> {
    let inner_end = line.strip_prefix('[')?.find(']')? + 1;
    let inner = line[1..inner_end].trim();
    let monotonic = {
        let (a, b) = inner.split_once('.').unwrap_or((inner, "0"));
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && !b.is_empty()
            && b.bytes().all(|c| c.is_ascii_digit())
    };
    let date = inner.len() <= 40
        && inner.contains(':')
        && inner.bytes().any(|c| c.is_ascii_digit())
        && inner
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b" :.,+-".contains(&c))
        && WEEKDAYS.iter().any(|d| inner.starts_with(d));
    (monotonic || date).then(|| &line[inner_end + 1..])
}

const WEEKDAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Splits a leading ISO date (`2022-10-24T10:30:44,123456+00:00 `: `dmesg
/// --time-format iso`, `journalctl -o short-iso`).
fn split_iso_stamp(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let iso = b.len() > 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':';
    if !iso {
        return None;
    }
    let end = line.find(' ')?;
    Some(&line[end + 1..])
}

/// Splits a leading syslog date (`Oct 24 10:30:44 `: `journalctl -o short`).
fn split_syslog_stamp(line: &str) -> Option<&str> {
    if !MONTHS.iter().any(|m| line.starts_with(m)) {
        return None;
    }
    let rest = line[3..].trim_start();
    let (day, rest) = rest.split_once(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    let ok = !day.is_empty()
        && day.bytes().all(|c| c.is_ascii_digit())
        && time.len() >= 8
        && time
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b':' || c == b'.');
    ok.then_some(rest)
}

/// The message of a `dmesg` line: a raw `<6>` priority and a stamp removed.
fn dmesg_message(line: &str) -> &str {
    let line = strip_priority(line);
    split_bracket_stamp(line)
        .or_else(|| split_iso_stamp(line))
        .unwrap_or(line)
}

/// `<6>` before a raw `dmesg -r` line.
fn strip_priority(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('<')
        && let Some(end) = rest.find('>')
        && end > 0
        && end <= 3
        && rest[..end].bytes().all(|c| c.is_ascii_digit())
    {
        return &rest[end + 1..];
    }
    line
}

/// The message of a `journalctl` line: stamp, host and `kernel: ` removed.
fn journal_message(line: &str) -> &str {
    let rest = split_bracket_stamp(line)
        .or_else(|| split_iso_stamp(line))
        .or_else(|| split_syslog_stamp(line));
    match rest {
        Some(r) => split_host_kernel(r.trim_start()).unwrap_or(r),
        None => line,
    }
}

/// `HOST kernel: msg` -> `msg`.
fn split_host_kernel(s: &str) -> Option<&str> {
    let (host, rest) = s.split_once(' ')?;
    (!host.is_empty()).then_some(())?;
    rest.strip_prefix("kernel: ")
        .or_else(|| (rest == "kernel:").then_some(""))
}

/// Guesses the format from the first lines.
pub fn detect(text: &str) -> Format {
    let first: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with("-- "))
        .take(8)
        .collect();
    if first.first().is_some_and(|l| is_kmsg_record(l)) {
        return Format::Kmsg;
    }
    let journal = first.iter().any(|l| {
        split_bracket_stamp(l)
            .or_else(|| split_iso_stamp(l))
            .or_else(|| split_syslog_stamp(l))
            .and_then(|r| split_host_kernel(r.trim_start()))
            .is_some()
    });
    if journal {
        Format::Journal
    } else {
        Format::Dmesg
    }
}

/// Parses a whole text in any of the supported formats.
pub fn parse_text(text: &str, needles: &[&str], source: &str, complete: bool) -> KernelLog {
    let mut p = Parser::new(detect(text), needles);
    for line in text.lines() {
        p.line(line);
    }
    p.finish(source, complete)
}

/// [`parse_text`] on bytes: invalid UTF-8 is replaced, never a panic.
pub fn parse_bytes(bytes: &[u8], needles: &[&str], source: &str, complete: bool) -> KernelLog {
    parse_text(&String::from_utf8_lossy(bytes), needles, source, complete)
}

/// Why a `--dmesg` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DmesgError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a regular file (a FIFO, device or directory is never read)")]
    NotRegular { path: String },
    #[error("{path}: larger than the {} MiB cap; pass the boot's first part", MAX_FILE >> 20)]
    TooLarge { path: String },
}

/// Reads a `--dmesg` file (a host path, not inside the root). Only a regular file of
/// at most [`MAX_FILE`] bytes is read: it is opened non-blocking and checked before
/// any read, so a FIFO or a device cannot hang the run.
pub fn read_file(path: &Path, needles: &[&str]) -> Result<KernelLog, DmesgError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let io = |source| DmesgError::Io {
        path: shown.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(DmesgError::NotRegular { path: shown });
    }
    if meta.len() > MAX_FILE {
        return Err(DmesgError::TooLarge { path: shown });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(DmesgError::TooLarge { path: shown });
    }
    Ok(parse_bytes(&bytes, needles, &shown, true))
}

/// The kernel log of the root: `/dev/kmsg`, else the journal, on the live root; on
/// any other root, `Unknown` (a captured tree's log comes only from `--dmesg`).
pub fn collect(root: &Root, needles: &[&str]) -> Fact<KernelLog> {
    if !root.is_live() {
        return not_provided();
    }
    let kmsg_err = match read_kmsg(root, needles) {
        Ok(log) => return Fact::Ok(log),
        Err(e) => e,
    };
    match read_journal(needles) {
        Ok(log) => Fact::Ok(log),
        Err(journal_err) => Fact::Unknown {
            path: "kernel log".into(),
            reason: format!("/dev/kmsg: {kmsg_err}; journal: {journal_err}"),
        },
    }
}

/// The fact for a captured tree without `--dmesg`.
pub fn not_provided() -> Fact<KernelLog> {
    Fact::Unknown {
        path: "kernel log".into(),
        reason: "not provided: a captured tree's kernel log is read only from `--dmesg FILE`"
            .into(),
    }
}

/// Reads every record of `/dev/kmsg` now in the ring buffer, through the root's
/// device primitive (live root only, under the watchdog).
fn read_kmsg(root: &Root, needles: &[&str]) -> Result<KernelLog, String> {
    root.with_device(KMSG, |file| {
        let mut p = Parser::new(Format::Kmsg, needles);
        // A record is at most 8 KiB (CONSOLE_EXT_LOG_MAX); a smaller buffer gives EINVAL.
        let mut buf = vec![0u8; 16 << 10];
        let (mut bytes, mut records, mut complete) = (0usize, 0usize, true);
        let mut reader = file;
        loop {
            if bytes >= MAX_LIVE_BYTES || records >= MAX_RECORDS {
                complete = false;
                break;
            }
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    bytes += n;
                    records += 1;
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    // The record's first line; the rest are dictionary lines.
                    p.line(rec.split('\n').next().unwrap_or_default());
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    // Records were overwritten while reading: go on with the next one.
                    Some(libc::EPIPE) => {}
                    Some(libc::EINTR) => {}
                    _ => return Err(format!("read: {e}")),
                },
            }
        }
        if records == 0 {
            return Err("no records".to_string());
        }
        Ok(p.finish("/dev/kmsg", complete))
    })
    .map_err(|e: ReadError| e.to_string())
    .and_then(|r| r)
}

/// The journal's kernel messages of this boot, with a hard timeout.
fn read_journal(needles: &[&str]) -> Result<KernelLog, String> {
    let args = ["-k", "-b", "-o", "short-monotonic", "--no-pager", "-q"];
    let (out, complete) = run_bounded("journalctl", &args, JOURNAL_TIMEOUT, MAX_FILE)?;
    let log = parse_text(&String::from_utf8_lossy(&out), needles, "journal", complete);
    if log.total == 0 {
        return Err("`journalctl -k -b` shows no kernel messages of this boot".into());
    }
    Ok(log)
}

/// Runs a program with no input, reads at most `cap` bytes of its output, and kills it
/// when it runs past `timeout`. Returns the output and whether it was read whole.
fn run_bounded(
    program: &str,
    args: &[&str],
    timeout: Duration,
    cap: u64,
) -> Result<(Vec<u8>, bool), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("SYSTEMD_PAGER", "")
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("surface-check-journal".into())
        .spawn(move || {
            let mut out = Vec::new();
            let r = stdout.take(cap + 1).read_to_end(&mut out);
            // Dropping the pipe here ends a writer past the cap with EPIPE.
            let _ = tx.send(r.map(|_| out));
        })
        .map_err(|e| e.to_string())?;
    let got = rx.recv_timeout(timeout);
    let status = match &got {
        Ok(_) => {
            // The output is read; give the process the rest of the time to exit.
            wait_until(&mut child, timeout)
        }
        Err(_) => None,
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut out = match got {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(format!("{program}: reading its output: {e}")),
        Err(_) => {
            return Err(format!(
                "{program} timed out after {} ms",
                timeout.as_millis()
            ));
        }
    };
    let complete = out.len() as u64 <= cap;
    out.truncate(cap as usize);
    match status {
        Some(s) if s.success() || !complete => Ok((out, complete)),
        Some(s) => Err(format!("{program} exited with {s}")),
        None => Err(format!("{program} did not exit after writing its output")),
    }
}

/// Waits for `child` up to `timeout`, polling.
fn wait_until(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DMESG: &str = "\
[    0.000000] Linux version 6.0.3-arch1-1-surface (XXX@XXX) (gcc (GCC) 12.2.0, GNU ld (GNU Binutils) 2.39.0) #1 SMP PREEMPT_DYNAMIC Mon, 24 Oct 2022 10:30:44 +0000
[    0.000000] DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 389.2837.768 08/21/2019
[    0.170552] pinctrl core: initialized pinctrl subsystem
[    0.341373] pci 0000:00:05.0: DMAR: Passthrough IOMMU for integrated Intel IPU
[    0.359916] pci 0000:01:00.0: [11ab:2b38] type 00 class 0x020000
[    3.607259] ipu3-cio2 0000:00:14.3: Connected 3 cameras
[    3.623044] ov7251: probe of i2c-INT347E:00 failed with error -2
[    3.889013] surface_serial_hub serial0-0: SAM firmware version: 182.1004.139
[    4.468444] hid-multitouch 0003:045E:0922.0001: input,hiddev96,hidraw0: USB HID v1.11 Keyboard [Microsoft Surface Keyboard] on usb-0000:00:14.0-1.3/input0
";

    fn parse(text: &str) -> KernelLog {
        parse_text(text, crate::profiles::SURFACE_BOOK_2.log_needles, "t", true)
    }

    #[test]
    fn only_the_last_boot_of_a_file_spanning_boots_counts() {
        let two = "\
[    0.000000] Linux version 6.1.0 (old boot)
[    3.889013] surface_serial_hub serial0-0: SAM firmware version: 182.1004.139
[    0.000000] Linux version 6.19.8 (this boot)
[    2.100000] ipu3-cio2 0000:00:14.3: Connected 1 cameras
";
        let l = parse(two);
        assert_eq!(
            l.lines,
            vec![
                "Linux version 6.19.8 (this boot)",
                "ipu3-cio2 0000:00:14.3: Connected 1 cameras"
            ]
        );
        assert_eq!(l.total, 2);
        assert!(l.from_boot);
        let journal = "\
-- Boot 1111 --
Jan 01 00:00:03 host kernel: surface_serial_hub serial0-0: SAM firmware version: 182.1004.139
-- Boot 2222 --
Jan 02 00:00:02 host kernel: ipu3-cio2 0000:00:14.3: Connected 3 cameras
";
        let l = parse_text(
            journal,
            crate::profiles::SURFACE_BOOK_2.log_needles,
            "j",
            true,
        );
        assert_eq!(l.lines, vec!["ipu3-cio2 0000:00:14.3: Connected 3 cameras"]);
    }

    #[test]
    fn dmesg_with_stamps() {
        // Lines from hw-probe record 79D657BBD855 (linuxhw/Dmesg; tests/real/).
        assert_eq!(detect(DMESG), Format::Dmesg);
        let l = parse(DMESG);
        assert!(l.from_boot);
        assert_eq!(l.total, 9);
        assert_eq!(
            l.lines,
            vec![
                "Linux version 6.0.3-arch1-1-surface (XXX@XXX) (gcc (GCC) 12.2.0, GNU ld (GNU Binutils) 2.39.0) #1 SMP PREEMPT_DYNAMIC Mon, 24 Oct 2022 10:30:44 +0000",
                "DMI: Microsoft Corporation Surface Book 2/Surface Book 2, BIOS 389.2837.768 08/21/2019",
                "pinctrl core: initialized pinctrl subsystem",
                "pci 0000:00:05.0: DMAR: Passthrough IOMMU for integrated Intel IPU",
                "ipu3-cio2 0000:00:14.3: Connected 3 cameras",
                "ov7251: probe of i2c-INT347E:00 failed with error -2",
                "surface_serial_hub serial0-0: SAM firmware version: 182.1004.139",
                "hid-multitouch 0003:045E:0922.0001: input,hiddev96,hidraw0: USB HID v1.11 Keyboard [Microsoft Surface Keyboard] on usb-0000:00:14.0-1.3/input0",
            ]
        );
    }

    #[test]
    fn dmesg_without_stamps_and_with_dates() {
        let plain: String = DMESG.lines().map(|l| format!("{}\n", &l[15..])).collect();
        assert_eq!(parse(&plain).lines, parse(DMESG).lines);
        let dated: String = DMESG
            .lines()
            .map(|l| format!("[Mon Oct 24 10:30:44 2022] {}\n", &l[15..]))
            .collect();
        assert_eq!(parse(&dated).lines, parse(DMESG).lines);
        let iso = "2022-10-24T10:30:44,123456+00:00 Linux version 6.1.0\n";
        assert_eq!(parse(iso).lines, vec!["Linux version 6.1.0"]);
        let raw = "<5>[    0.000000] Linux version 6.1.0\n";
        assert_eq!(parse(raw).lines, vec!["Linux version 6.1.0"]);
        // Brackets that are message text stay.
        let l = parse("[drm] surface thing\n[Firmware Bug]: ipts x\n");
        assert_eq!(
            l.lines,
            vec!["[drm] surface thing", "[Firmware Bug]: ipts x"]
        );
        assert!(!l.from_boot);
    }

    #[test]
    fn kmsg_records() {
        let text = "5,0,0,-;Linux version 6.1.0-surface (builder@host) #1\n\
                    6,1,0,-;Command line: quiet\n\
                    6,812,3889013,-,caller=T1;surface_serial_hub serial0-0: SAM firmware version: 182.1004.139\n \
                    SUBSYSTEM=serial\n \
                    DEVICE=+serial:serial0-0\n\
                    3,900,3623044,c;ov7251: probe of i2c-INT347E:00 failed with error -2\n";
        assert_eq!(detect(text), Format::Kmsg);
        let l = parse(text);
        assert_eq!(l.total, 4);
        assert!(l.from_boot);
        assert_eq!(
            l.lines,
            vec![
                "Linux version 6.1.0-surface (builder@host) #1",
                "surface_serial_hub serial0-0: SAM firmware version: 182.1004.139",
                "ov7251: probe of i2c-INT347E:00 failed with error -2",
            ]
        );
    }

    #[test]
    fn journal_outputs() {
        let mono = "-- Journal begins at Mon 2022-10-24 10:30:44 UTC. --\n\
                    [    0.000000] sb2 kernel: Linux version 6.0.3-arch1-1-surface\n\
                    [    3.607259] sb2 kernel: ipu3-cio2 0000:00:14.3: Connected 3 cameras\n\
                    [    3.700000] sb2 kernel: usb 1-1: new device\n";
        assert_eq!(detect(mono), Format::Journal);
        let l = parse(mono);
        assert!(l.from_boot);
        assert_eq!(l.total, 3);
        assert_eq!(
            l.lines,
            vec![
                "Linux version 6.0.3-arch1-1-surface",
                "ipu3-cio2 0000:00:14.3: Connected 3 cameras"
            ]
        );
        let short = "Oct 24 10:30:44 sb2 kernel: Linux version 6.0.3\n\
                     Oct 24 10:30:48 sb2 kernel: ipts 0000:00:16.4: Starting IPTS\n";
        assert_eq!(detect(short), Format::Journal);
        assert_eq!(
            parse(short).lines,
            vec!["Linux version 6.0.3", "ipts 0000:00:16.4: Starting IPTS"]
        );
        // `-o cat` is dmesg without stamps.
        let cat = "Linux version 6.0.3\nipts 0000:00:16.4: Starting IPTS\n";
        assert_eq!(parse(cat).lines, parse(short).lines);
    }

    #[test]
    fn needles_with_gaps_and_case() {
        assert!(matches(
            "ov7251: probe of i2c-INT347E:00 failed with error -2",
            "probe of ... failed"
        ));
        assert!(!matches("probe failed of", "probe of ... failed"));
        let l = parse("Microsoft Surface Keyboard\nsomething else\n");
        assert!(l.lines.is_empty(), "needles are case-sensitive: {l:?}");
        assert_eq!(l.total, 2);
    }

    #[test]
    fn a_cut_line_keeps_no_part_of_a_word() {
        let uuid = "0b5e1c1e-1234-4abc-9def-0123456789ab";
        for pad in 470..512 {
            let line = format!("surface {} {uuid} tail\n", "x".repeat(pad - 8));
            let l = parse(&line);
            let kept = &l.lines[0];
            assert!(kept.len() <= MAX_LINE);
            let last = kept.rsplit(' ').next().unwrap();
            assert!(
                last == uuid || !uuid.starts_with(last) || last.starts_with('x'),
                "{pad}: a cut UUID kept: {last:?}"
            );
            assert!(!kept.contains("0b5e1c1e-") || kept.contains(uuid), "{pad}");
        }
        // One word past the cap: nothing of it stays.
        assert!(
            parse(&format!("surface{}\n", "z".repeat(600)))
                .lines
                .is_empty()
        );
    }

    #[test]
    fn caps_and_garbage() {
        let long = format!("surface {}\n", "é".repeat(600));
        let l = parse(&long);
        assert!(l.lines[0].len() <= MAX_LINE);
        let many: String = (0..MAX_LINES + 5)
            .map(|i| format!("[1.0] ipts {i}\n"))
            .collect();
        let text = format!("[0.0] Linux version 6\n{many}");
        let l = parse(&text);
        assert_eq!(l.lines.len(), MAX_LINES);
        assert_eq!(l.total as usize, MAX_LINES + 6);
        assert!(!l.from_boot, "a capped log cannot tell what is missing");
        // Non-UTF-8, NULs, control bytes, half records: no panic.
        for g in [
            &b"\xff\xfe[\x00]\n5,;\n,,,;x\n[ 1.]\n<>\n<123456>x\n[\n]\n"[..],
            b"5,0,0,-;\xc3\n \xff\n\n",
            b"[Mon Oct 24 10:30:44 2022]",
            b"Oct",
            b"Oct 24 ",
            b"2022-10-24T10:30:44,1+00:00",
            b"\xe2\x82",
        ] {
            let _ = parse_bytes(g, crate::profiles::SURFACE_BOOK_2.log_needles, "g", true);
        }
        assert!(!parse("[Firmware Bug]").from_boot);
    }

    #[test]
    fn the_live_kmsg_reads_without_consuming() {
        // The test runs as root (the suite needs it): /dev/kmsg is readable.
        let root = Root::open("/").unwrap();
        let a =
            read_kmsg(&root, crate::profiles::SURFACE_BOOK_2.log_needles).expect("reads /dev/kmsg");
        let b =
            read_kmsg(&root, crate::profiles::SURFACE_BOOK_2.log_needles).expect("reads it again");
        assert!(a.total > 0);
        assert!(b.total >= a.total, "a second reader sees the same records");
        let t = tempfile::tempdir().unwrap();
        let captured = Root::open(t.path()).unwrap();
        assert_eq!(
            collect(&captured, crate::profiles::SURFACE_BOOK_2.log_needles),
            not_provided()
        );
    }

    #[test]
    fn a_program_past_its_time_is_killed() {
        let start = std::time::Instant::now();
        let r = run_bounded("sleep", &["30"], Duration::from_millis(200), 10);
        assert!(r.unwrap_err().contains("timed out"));
        assert!(start.elapsed() < Duration::from_secs(5));
        let (out, complete) = run_bounded(
            "sh",
            &["-c", "yes | head -c 100000"],
            Duration::from_secs(5),
            10,
        )
        .unwrap();
        assert_eq!(out.len(), 10);
        assert!(!complete);
        assert!(run_bounded("/nonexistent/x", &[], Duration::from_secs(1), 10).is_err());
    }
}
