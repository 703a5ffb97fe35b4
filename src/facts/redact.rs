//! Redaction of captured facts: serial numbers, MAC addresses, UUIDs, addresses,
//! host and user names never leave the machine in a `capture`, and the capture still
//! gives the live verdicts (`status --from`), whatever the host is called.
//!
//! Redaction is by field. Everywhere (the JSON form of the facts, so a field added
//! later is covered): MAC addresses (with `:`, `-` or `_`, after a colon, or without
//! separators where a MAC stands: `enx001122334455`, `ID_NET_NAME_MAC`, `address`),
//! UUIDs, NixOS system names (`nixos-system-<host>-24.11...`), home directories
//! (`/home/<user>`), people's names before a possessive (`<name>'s Magic Keyboard`),
//! and the values of [`SECRET_KEYS`] and [`MASKED_KEYS`]. Kept on purpose: MEI client
//! UUIDs (the `mei` bus device names and `uuid` attributes) are firmware protocol
//! constants that every Surface Book 2 shares, and the IPTS check needs them.
//!
//! The host and user names are never replaced as substrings, nor across identifiers
//! (a host named `surface` leaves `surface_serial_hub` be). They are masked where
//! they stand: `proc/version`'s `(user@host)`, the command line (whose values are
//! masked except the parameters a diagnosis needs, see [`redact_cmdline`]), the
//! kernel config's `CMDLINE` and `DEFAULT_HOSTNAME`, the root path, and kernel-log
//! lines as whole words.
//!
//! Kernel-log lines are free text that checks search for substrings (a driver name, a
//! device name, `WLAN FW is active`). A mask there never touches a span where such a
//! needle matches (see [`LOG_CHECK_NEEDLES`]): a host named `active` stays in that
//! line, and `status --from` sees the line the live run saw.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Fact, Facts};

pub const MASK: &str = "<redacted>";

/// Keys whose values identify a unit or a person, wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "serial_number",
    "serial",
    "uniq",
    "ID_SERIAL",
    "ID_SERIAL_SHORT",
    "ID_USB_SERIAL",
    "ID_USB_SERIAL_SHORT",
    "ID_WWN",
    "ID_FS_UUID",
    "ID_PART_ENTRY_UUID",
    "DEVLINKS",
    "ID_MODEL_ID_SERIAL",
];

/// udev properties whose values carry a device's address (a Bluetooth MAC in
/// `LIBINPUT_DEVICE_GROUP`, the path tag): masked, the key kept. No check reads them.
const MASKED_KEYS: &[&str] = &["LIBINPUT_DEVICE_GROUP", "ID_PATH_TAG"];

/// Tags of [`NodeKind`](crate::root::NodeKind) (`"type": "char_device"`): the
/// program's own words, never host data.
const NODE_KIND_TAGS: &[&str] = &[
    "file",
    "dir",
    "char_device",
    "block_device",
    "fifo",
    "socket",
];

/// The substrings the checks look for in kernel-log lines (`Ctx::log_lines`), besides
/// the profile's strings and the facts' device, driver, module and supply names. No
/// mask touches a span of a log line where one of these matches; `tests/redaction.rs`
/// fails when a check searches for a literal missing here.
pub const LOG_CHECK_NEEDLES: &[&str] = &[
    "0000:",
    "0000:00:14.3",
    "0000:02:00.0",
    "0003:045E:0922",
    "Connected",
    "FW download over",
    "INT3472",
    "IPTS",
    "Lid Switch [LID0]",
    "MSHW0133",
    "Passthrough IOMMU for IPTS",
    "SAM firmware version",
    "WLAN FW is active",
    "atomisp",
    "battery",
    "camera",
    "deferred probe pending",
    "fail",
    "failed",
    "failed with error",
    "failed with error -2",
    "i2c-",
    "ipu3-cio2",
    "ipu3-fw.bin",
    "loaded firmware version irci_",
    "mwifiex_pcie",
    "not compliant to SW_LID",
    "pcie8897_uapsta.bin",
    "serial serial0",
    "serial0-0",
    "soc_button_array",
    "surface_dtx",
    "surface_serial_hub",
];

/// Redacts `facts`. `hostname` is the machine's host name, masked where a host name
/// stands (see the module documentation).
pub fn redact(facts: &Facts, hostname: Option<&str>) -> Result<Facts, serde_json::Error> {
    redact_with_users(facts, hostname, &[])
}

/// [`redact`], also masking `users` (login names) where a user name stands.
pub fn redact_with_users(
    facts: &Facts,
    hostname: Option<&str>,
    users: &[String],
) -> Result<Facts, serde_json::Error> {
    let host = identifying(hostname);
    let users = identifying_users(users);
    let mut v = serde_json::to_value(facts)?;
    walk(&mut v, false);
    let mut out: Facts = serde_json::from_value(v)?;

    if let Fact::Ok(s) = &mut out.kernel.version {
        *s = apply(s, at_spans(s), &[]);
    }
    if let Fact::Ok(s) = &mut out.kernel.cmdline {
        *s = redact_cmdline(s);
    }
    if let Fact::Ok(c) = &mut out.config {
        if let Some(s) = c.options.get_mut("CMDLINE") {
            *s = match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                Some(inner) => format!("\"{}\"", redact_cmdline(inner)),
                None => redact_cmdline(s),
            };
        }
        if let Some(s) = c.options.get_mut("DEFAULT_HOSTNAME")
            && !ANONYMOUS_HOSTS.contains(&s.trim_matches('"'))
            && !s.trim_matches('"').is_empty()
        {
            *s = MASK.into();
        }
    }
    out.source.root = names(&out.source.root, host, &users);

    // Log lines: from the original facts, whose identifiers the checks search for.
    let needles = log_needles(facts);
    if let Fact::Ok(log) = &mut out.kernel_log {
        log.source = redact_str(&names(&log.source, host, &users), false);
        for l in &mut log.lines {
            *l = redact_log_line_with(l, host, &users, &needles);
        }
    }
    out.source.redacted = true;
    Ok(out)
}

/// Whether a kernel-log line keeps `word` (a host or user name) where it stands
/// because the checks search the log for an identifier containing it (a host
/// named `ipts`, `00` or `active`). Its other places in the capture are masked.
pub fn log_keeps(facts: &Facts, word: &str) -> bool {
    let needles = log_needles(facts);
    let line = format!(" {word} ");
    !protected(&line, &needles).is_empty()
}

/// Host names that identify nothing: `localhost`, and the kernel's own default until
/// something sets a name, `(none)` (CONFIG_DEFAULT_HOSTNAME).
const ANONYMOUS_HOSTS: &[&str] = &["localhost", "(none)"];

/// The host name to mask, if it identifies the machine.
fn identifying(hostname: Option<&str>) -> Option<&str> {
    hostname.filter(|h| h.len() >= 2 && !ANONYMOUS_HOSTS.contains(h))
}

fn identifying_users(users: &[String]) -> Vec<&str> {
    users
        .iter()
        .map(String::as_str)
        .filter(|u| u.len() >= 2)
        .collect()
}

/// The host and user names as whole words, in a value that names no identifier.
fn names(s: &str, host: Option<&str>, users: &[&str]) -> String {
    let mut spans = Vec::new();
    if let Some(h) = host {
        spans.extend(word_spans(s, h, "<host>"));
    }
    for u in users {
        spans.extend(word_spans(s, u, "<user>"));
    }
    apply(s, spans, &[])
}

/// Redacts one kernel-log line: MAC addresses, UUIDs, NixOS system names, home
/// directories, `SerialNumber:` values, `(user@host)`, systemd's `Hostname set to
/// <host>`, the command line's values, people's names, and the host and user names
/// as whole words; never inside a span the checks search for (a driver's name, the
/// profile's messages).
pub fn redact_log_line(s: &str, host: Option<&str>, users: &[String]) -> String {
    redact_log_line_with(
        s,
        identifying(host),
        &identifying_users(users),
        &static_needles(),
    )
}

fn redact_log_line_with(s: &str, host: Option<&str>, users: &[&str], needles: &[String]) -> String {
    let mut spans = generic_spans(s, false);
    spans.extend(after_spans(s, "SerialNumber: ", MASK));
    spans.extend(at_spans(s));
    spans.extend(between_spans(s, "Hostname set to <", '>', "<host>"));
    for marker in ["Kernel command line: ", "Command line: "] {
        if let Some(p) = s.find(marker) {
            let start = p + marker.len();
            spans.extend(cmdline_spans(&s[start..]).into_iter().map(|x| Span {
                start: x.start + start,
                end: x.end + start,
                with: x.with,
            }));
        }
    }
    if let Some(h) = host {
        spans.extend(word_spans(s, h, "<host>"));
    }
    for u in users {
        spans.extend(word_spans(s, u, "<user>"));
    }
    apply(s, spans, &protected(s, needles))
}

// ---- the needles the checks search kernel-log lines for ------------------------

/// Every string of the profile (device ids, module names, patch markers), but the
/// log collector's filter (`log_needles`: what lines to keep, not what checks match)
/// and the release marker, and [`LOG_CHECK_NEEDLES`].
fn static_needles() -> Vec<String> {
    let profile = &crate::profiles::SURFACE_BOOK_2;
    let mut all = quoted_strings(&format!("{profile:?}"));
    // The release marker is matched against `uname -r`, never the log.
    for n in profile
        .log_needles
        .iter()
        .chain([&profile.patches.release_marker])
    {
        if let Some(i) = all.iter().position(|x| x == n) {
            all.swap_remove(i);
        }
    }
    // Shorter strings are module names (`ac`), never what a check looks for, and
    // would protect half the words of a line.
    all.retain(|s| s.len() >= 4);
    all.extend(LOG_CHECK_NEEDLES.iter().map(|s| s.to_string()));
    all.sort();
    all.dedup();
    all
}

/// The strings of a `Debug` rendering (`"ipts"` -> `ipts`).
fn quoted_strings(debug: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = debug.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                '"' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// [`static_needles`] and the names the checks pass as needles from the facts: bus
/// device names (`MSHW0084:00`, `i2c-INT347A:00` and its client name) and power
/// supply names. A name that redaction changes (one with a MAC) is masked in the log
/// the same way, so it is no needle here.
fn log_needles(facts: &Facts) -> Vec<String> {
    let mut set: BTreeSet<String> = static_needles().into_iter().collect();
    for devs in facts.buses.values() {
        if let Fact::Ok(devs) = devs {
            for d in devs {
                set.insert(d.name.clone());
                set.insert(d.name.trim_start_matches("i2c-").to_string());
            }
        }
    }
    if let Fact::Ok(p) = &facts.power {
        set.extend(p.iter().map(|x| x.name.clone()));
    }
    set.into_iter()
        .filter(|n| n.len() >= 3 && redact_str(n, true) == *n)
        .collect()
}

/// Byte ranges of `s` where a needle matches.
fn protected(s: &str, needles: &[String]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for n in needles {
        let mut from = 0;
        while let Some(p) = s[from..].find(n.as_str()) {
            out.push((from + p, from + p + n.len()));
            from += p + s[from + p..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

// ---- the JSON walk ------------------------------------------------------------

fn walk(v: &mut Value, keep_uuids: bool) {
    match v {
        Value::String(s) => *s = redact_str(s, keep_uuids),
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, keep_uuids)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                // A secret key masks a string, never a structure: `serial` is also the
                // name of a bus (`buses.serial`, `drivers.serial`), whose devices are
                // walked like any other.
                if x.is_string()
                    && (SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k))
                        || MASKED_KEYS.contains(&k.as_str()))
                {
                    *x = Value::String(MASK.into());
                    continue;
                }
                if k == "type" && x.as_str().is_some_and(|t| NODE_KIND_TAGS.contains(&t)) {
                    continue;
                }
                // Redacted line by line, against the checks' needles.
                if k == "kernel_log" {
                    continue;
                }
                if let Value::String(s) = x
                    && names_a_mac(k)
                {
                    let mut spans = generic_spans(s, keep_uuids);
                    spans.extend(hex12_spans(s));
                    *s = apply(s, spans, &[]);
                    continue;
                }
                walk(x, keep_uuids || k == "mei");
            }
        }
        _ => {}
    }
}

/// A key whose value is an address (`ID_NET_NAME_MAC`, `address`, `ID_BDADDR`) or may
/// carry one (`ID_PATH` of a Bluetooth device).
fn names_a_mac(k: &str) -> bool {
    let k = k.to_ascii_uppercase();
    k.contains("MAC") || k.contains("ADDR") || k == "ID_PATH"
}

/// Redacts the values that identify a machine or a person wherever they stand: MAC
/// addresses, UUIDs (unless kept), NixOS system names, home directories, people's
/// names before a possessive.
pub fn redact_str(s: &str, keep_uuids: bool) -> String {
    apply(s, generic_spans(s, keep_uuids), &[])
}

// ---- spans --------------------------------------------------------------------

/// A replacement of `s[start..end]`.
#[derive(Debug, Clone)]
struct Span {
    start: usize,
    end: usize,
    with: String,
}

fn span(start: usize, end: usize, with: &str) -> Span {
    Span {
        start,
        end,
        with: with.to_string(),
    }
}

/// Applies the spans that overlap neither an earlier (or longer) span nor a
/// protected range.
fn apply(s: &str, mut spans: Vec<Span>, protected: &[(usize, usize)]) -> String {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for sp in spans {
        if sp.start < at
            || sp.end > s.len()
            || !s.is_char_boundary(sp.start)
            || !s.is_char_boundary(sp.end)
            || protected.iter().any(|&(a, b)| sp.start < b && a < sp.end)
        {
            continue;
        }
        out.push_str(&s[at..sp.start]);
        out.push_str(&sp.with);
        at = sp.end;
    }
    out.push_str(&s[at..]);
    out
}

fn generic_spans(s: &str, keep_uuids: bool) -> Vec<Span> {
    let mut v = mac_spans(s);
    v.extend(ifname_mac_spans(s));
    if !keep_uuids {
        v.extend(uuid_spans(s));
    }
    v.extend(nixos_system_spans(s));
    v.extend(after_spans(s, "/home/", "<user>"));
    v.extend(after_spans(s, "/Users/", "<user>"));
    v.extend(possessive_spans(s));
    v
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Whether `c` continues an identifier: a name next to it is part of a longer word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// `word` where it stands alone (not inside a longer identifier).
fn word_spans(s: &str, word: &str, with: &str) -> Vec<Span> {
    let mut out = Vec::new();
    if word.is_empty() {
        return out;
    }
    let mut from = 0;
    while let Some(p) = s[from..].find(word) {
        let pos = from + p;
        let end = pos + word.len();
        let before = s[..pos].chars().next_back();
        let after = s[end..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char) {
            out.push(span(pos, end, with));
        }
        from = end;
    }
    out
}

/// `aa:bb:cc:dd:ee:ff` (or with `-` or `_`), not inside a longer run of hex groups;
/// after a colon too (`addr:00:11:22:33:44:55`).
fn mac_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 17 <= b.len() {
        let w = &b[i..i + 17];
        let sep = w[2];
        let is_mac = matches!(sep, b':' | b'-' | b'_')
            && (0..6).all(|g| is_hex(w[g * 3]) && is_hex(w[g * 3 + 1]))
            && (0..5).all(|g| w[g * 3 + 2] == sep);
        let end = i + 17;
        // Part of a longer run of hex groups: a hex digit next to it, or `xx:` before
        // it (`ff:00:11:...`), or `:x` after it.
        let run_before = i > 0
            && (is_hex(b[i - 1])
                || (b[i - 1] == sep && i >= 3 && is_hex(b[i - 2]) && is_hex(b[i - 3])));
        let run_after = end < b.len()
            && (is_hex(b[end]) || (b[end] == sep && end + 1 < b.len() && is_hex(b[end + 1])));
        if is_mac && !run_before && !run_after {
            out.push(span(i, end, "<mac>"));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Exactly twelve hex digits standing alone: a MAC without separators.
fn hex12_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_hex(b[i]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && is_hex(b[j]) {
                j += 1;
            }
            if j - i == 12 && (j == b.len() || !b[j].is_ascii_alphanumeric()) {
                out.push(span(i, j, "<mac>"));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Interface names that embed a MAC (systemd's `enx`, `wlx`, `wwx`, `ibx` names):
/// `enx001122334455` -> `enx<mac>`.
fn ifname_mac_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    for prefix in ["enx", "wlx", "wwx", "ibx", "slx"] {
        let mut from = 0;
        while let Some(p) = s[from..].find(prefix) {
            let pos = from + p;
            let start = pos + prefix.len();
            let end = start + 12;
            if (pos == 0 || !b[pos - 1].is_ascii_alphanumeric())
                && end <= b.len()
                && b[start..end].iter().all(|&c| is_hex(c))
                && (end == b.len() || !b[end].is_ascii_alphanumeric())
            {
                out.push(span(start, end, "<mac>"));
            }
            from = start;
        }
    }
    out
}

/// `8-4-4-4-12` hex UUIDs.
fn uuid_spans(s: &str) -> Vec<Span> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let b = s.as_bytes();
    let is_uuid = |w: &[u8]| {
        let mut p = 0;
        for (gi, g) in GROUPS.iter().enumerate() {
            if !w[p..p + g].iter().all(|&c| is_hex(c)) {
                return false;
            }
            p += g;
            if gi < 4 {
                if w[p] != b'-' {
                    return false;
                }
                p += 1;
            }
        }
        true
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= b.len() {
        if is_uuid(&b[i..i + 36])
            && !(i > 0 && is_hex(b[i - 1]))
            && !(i + 36 < b.len() && is_hex(b[i + 36]))
        {
            out.push(span(i, i + 36, "<uuid>"));
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

/// `nixos-system-<host>-<version>`: the host is everything up to the last `-`
/// that is followed by a digit.
fn nixos_system_spans(s: &str) -> Vec<Span> {
    const MARK: &str = "nixos-system-";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find(MARK) {
        let start = from + p + MARK.len();
        let after = &s[start..];
        let end = after
            .find(|c: char| c == '/' || c == '"' || c.is_whitespace())
            .unwrap_or(after.len());
        let name = &after[..end];
        if let Some(i) = name
            .char_indices()
            .filter(|&(i, c)| c == '-' && name[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
            .map(|(i, _)| i)
            .next_back()
            .filter(|&i| i > 0)
        {
            out.push(span(start, start + i, "<host>"));
        }
        from = start + end;
    }
    out
}

/// The path component after `marker` (`/home/alice/x` -> `/home/<user>/x`).
fn after_spans(s: &str, marker: &str, with: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find(marker) {
        let start = from + p + marker.len();
        let after = &s[start..];
        let end = after
            .find(|c: char| matches!(c, '/' | '"' | ':' | '\'' | ')') || c.is_whitespace())
            .unwrap_or(after.len());
        if end > 0 {
            out.push(span(start, start + end, with));
        }
        from = start + end;
    }
    out
}

/// The text between `open` and `close` (`Hostname set to <sb2>.`).
fn between_spans(s: &str, open: &str, close: char, with: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = s[from..].find(open) {
        let start = from + p + open.len();
        match s[start..].find(close) {
            Some(e) if e > 0 => {
                out.push(span(start, start + e, with));
                from = start + e;
            }
            _ => from = start,
        }
    }
    out
}

/// `(user@host)`, as `proc/version` and the kernel's first message name the build:
/// `(<user>@<host>)`.
fn at_spans(s: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let name = |c: char| !c.is_whitespace() && !matches!(c, '(' | ')' | '@');
    for (open, _) in s.match_indices('(') {
        let inner = &s[open + 1..];
        let Some(close) = inner.find(')') else {
            continue;
        };
        let Some((user, host)) = inner[..close].split_once('@') else {
            continue;
        };
        if (user.is_empty() && host.is_empty())
            || !user.chars().all(name)
            || !host.chars().all(name)
        {
            continue;
        }
        // Either may be empty (`(@host)` when no user name was set).
        let u = open + 1;
        if !user.is_empty() {
            out.push(span(u, u + user.len(), "<user>"));
        }
        let h = u + user.len() + 1;
        if !host.is_empty() {
            out.push(span(h, h + host.len(), "<host>"));
        }
    }
    out
}

/// People's names before a possessive: `Alice Smith's Magic Keyboard` -> `<name>'s
/// Magic Keyboard` (the word before `'s`, and up to two capitalized words before it).
fn possessive_spans(s: &str) -> Vec<Span> {
    let mut out = Vec::new();
    for apos in ["'s", "\u{2019}s"] {
        for (p, _) in s.match_indices(apos) {
            let end = p;
            let next = s[p + apos.len()..].chars().next();
            if next.is_some_and(char::is_alphanumeric) {
                continue;
            }
            let word_start = |to: usize| {
                s[..to]
                    .char_indices()
                    .rev()
                    .take_while(|&(_, c)| c.is_alphanumeric() || c == '-' || c == '.')
                    .last()
                    .map(|(i, _)| i)
            };
            let Some(mut start) = word_start(end) else {
                continue;
            };
            for _ in 0..2 {
                let Some(before) = start.checked_sub(1).filter(|&b| s.as_bytes()[b] == b' ') else {
                    break;
                };
                match word_start(before) {
                    Some(w) if s[w..].starts_with(|c: char| c.is_uppercase()) => start = w,
                    _ => break,
                }
            }
            out.push(span(start, end, "<name>"));
        }
    }
    out
}

// ---- the command line -----------------------------------------------------------

/// Parameters whose values a diagnosis of the Surface hardware needs; every other
/// parameter keeps its name and loses its value (`root=<redacted>`, `ip=<redacted>`).
const CMDLINE_KEEP: &[&str] = &[
    "initcall_blacklist",
    "module_blacklist",
    "modprobe.blacklist",
    "rd.driver.blacklist",
    "rd.driver.pre",
    "mem_sleep_default",
    "intel_iommu",
    "iommu",
    "amd_iommu",
    "pci",
    "acpi",
    "acpi_osi",
    "acpi_backlight",
    "acpi_rev_override",
    "acpi_sleep",
    "pcie_aspm",
    "pcie_ports",
    "pcie_port_pm",
    "intel_pstate",
    "init",
    "BOOT_IMAGE",
    "initrd",
    "loglevel",
];

/// Modules whose parameters (`module.param=value`) a diagnosis needs, besides the
/// profile's modules and any `surface*` module.
const CMDLINE_MODULES: &[&str] = &[
    "i915",
    "nouveau",
    "nvidia",
    "nvidia_drm",
    "nvidia-drm",
    "nvidia_modeset",
    "mwifiex",
    "mwifiex_pcie",
    "btusb",
    "ipts",
    "ithc",
    "hid",
    "usbhid",
    "i2c_hid",
    "i2c_hid_acpi",
    "intel_lpss",
    "intel_lpss_pci",
    "mei",
    "mei_me",
    "ipu3_cio2",
    "ipu3_imgu",
    "intel_ipu3",
    "atomisp",
    "pcie_aspm",
    "xhci_hcd",
    "usbcore",
    "snd_hda_intel",
    "i8042",
    "processor",
    "intel_idle",
    "battery",
    "ac",
    "button",
    "soc_button_array",
    "gpio_keys",
    "nvme_core",
    "pm",
];

fn keeps_value(key: &str) -> bool {
    if CMDLINE_KEEP.contains(&key) {
        return true;
    }
    let Some((module, _)) = key.split_once('.') else {
        return false;
    };
    let normal = module.replace('-', "_");
    CMDLINE_MODULES.contains(&module)
        || normal.starts_with("surface")
        || crate::profiles::SURFACE_BOOK_2
            .modules()
            .iter()
            .any(|m| m.replace('-', "_") == normal)
}

/// The kernel command line with the values a diagnosis does not need masked:
/// `root=<redacted> ro i915.enable_psr=0`. Kept values still lose UUIDs, MACs, IP
/// addresses, machine ids, home directories and NixOS host names.
pub fn redact_cmdline(s: &str) -> String {
    apply(s, cmdline_spans(s), &[])
}

fn cmdline_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut quoted = false;
        while i < b.len() && (quoted || !b[i].is_ascii_whitespace()) {
            if b[i] == b'"' {
                quoted = !quoted;
            }
            i += 1;
        }
        let param = &s[start..i];
        // Whitespace inside a parameter comes only from a quote, and what follows
        // the quote may be anything, even what reads as other parameters
        // (`a="x hostname=y"`, or an unterminated `a"x hostname=y`): masked whole.
        if let Some(q) = param
            .contains(|c: char| c.is_ascii_whitespace())
            .then(|| param.find('"'))
            .flatten()
        {
            out.push(span(start + q, i, MASK));
            continue;
        }
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let vstart = start + key.len() + 1;
        if value.is_empty() {
            continue;
        }
        if keeps_value(key) {
            let mut v = generic_spans(value, false);
            v.extend(ip_spans(value));
            v.extend(hex_run_spans(value, 32));
            out.extend(v.into_iter().map(|x| Span {
                start: x.start + vstart,
                end: x.end + vstart,
                with: x.with,
            }));
        } else {
            out.push(span(vstart, i, MASK));
        }
    }
    out
}

/// IPv4 (`192.168.1.20`) and IPv6 (`fe80::1`, `2001:db8::5`) addresses.
fn ip_spans(s: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let tokens = s
        .char_indices()
        .filter(|&(_, c)| !(c.is_ascii_hexdigit() || c == '.' || c == ':'))
        .map(|(i, c)| (i, i + c.len_utf8()));
    let mut start = 0;
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    for (a, b) in tokens {
        bounds.push((start, a));
        start = b;
    }
    bounds.push((start, s.len()));
    for (a, b) in bounds {
        let t = &s[a..b];
        // `ip=a::b:c` holds several addresses joined by single colons; a run with
        // dots is IPv4 parts, a run with `::` or 2+ colons of hex groups IPv6.
        if t.contains('.') {
            let mut off = a;
            for part in t.split(':') {
                let quads: Vec<&str> = part.split('.').collect();
                if quads.len() == 4
                    && quads
                        .iter()
                        .all(|q| !q.is_empty() && q.len() <= 3 && q.parse::<u8>().is_ok())
                {
                    out.push(span(off, off + part.len(), "<ip>"));
                }
                off += part.len() + 1;
            }
        } else if t.contains("::") || t.matches(':').count() >= 2 {
            let groups: Vec<&str> = t.split(':').collect();
            if groups.len() >= 3
                && groups.iter().all(|g| g.len() <= 4)
                && t.chars().any(|c| c.is_ascii_hexdigit())
            {
                out.push(span(a, b, "<ip>"));
            }
        }
    }
    out
}

/// Runs of exactly `n` hex digits standing alone (a machine id in a boot path).
fn hex_run_spans(s: &str, n: usize) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_hex(b[i]) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && is_hex(b[j]) {
                j += 1;
            }
            if j - i == n && (j == b.len() || !b[j].is_ascii_alphanumeric()) {
                out.push(span(i, j, MASK));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_named_like_a_node_kind_keeps_the_facts_shape() {
        use crate::root::NodeKind;
        let kinds = [
            NodeKind::File,
            NodeKind::Dir,
            NodeKind::CharDevice {
                major: 13,
                minor: 64,
            },
            NodeKind::BlockDevice { major: 8, minor: 0 },
            NodeKind::Fifo,
            NodeKind::Socket,
        ];
        for kind in kinds {
            let mut v = serde_json::json!({ "node": { "ok": kind } });
            walk(&mut v, false);
            let back: super::super::Fact<NodeKind> =
                serde_json::from_value(v["node"].clone()).unwrap();
            assert_eq!(back, super::super::Fact::Ok(kind));
        }
    }

    #[test]
    fn the_kernel_s_default_host_name_is_not_redacted() {
        assert_eq!(identifying(Some("(none)")), None);
        assert_eq!(identifying(Some("localhost")), None);
        assert_eq!(identifying(Some("x")), None);
        assert_eq!(identifying(Some("sb2-alice")), Some("sb2-alice"));
    }

    #[test]
    fn kernel_log_lines() {
        let users = vec!["alice".to_string(), "x".to_string()];
        let r = |s: &str| redact_log_line(s, Some("surface"), &users);
        // The host name as a word, never inside a driver or module name.
        assert_eq!(
            r("surface_serial_hub serial0-0: SAM firmware version: 182.1004.139"),
            "surface_serial_hub serial0-0: SAM firmware version: 182.1004.139"
        );
        assert_eq!(r("surface-check on surface."), "surface-check on <host>.");
        assert_eq!(
            r("Linux version 6.1.0 (alice@surface) (gcc 12)"),
            "Linux version 6.1.0 (<user>@<host>) (gcc 12)"
        );
        assert_eq!(
            r("Linux version 6.1.0 (bob@buildhost) (gcc 12)"),
            "Linux version 6.1.0 (<user>@<host>) (gcc 12)"
        );
        assert_eq!(
            r("Linux version 6.1.0 (@sb2)"),
            "Linux version 6.1.0 (@<host>)"
        );
        assert_eq!(
            r("systemd[1]: Hostname set to <sb2>."),
            "systemd[1]: Hostname set to <<host>>."
        );
        assert_eq!(
            r("alice_driver malice alice2"),
            "alice_driver malice alice2"
        );
        assert_eq!(
            r("mwifiex_pcie 0000:01:00.0: mac 70:bc:10:aa:bb:cc"),
            "mwifiex_pcie 0000:01:00.0: mac <mac>"
        );
        // The IPTS MEI client's UUID is a protocol constant the profile names.
        assert_eq!(
            r("ipts 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04: Starting IPTS"),
            "ipts 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04: Starting IPTS"
        );
        assert_eq!(
            r("EXT4-fs (nvme0n1p2): mounted 0b5e1c1e-1234-4abc-9def-0123456789ab"),
            "EXT4-fs (nvme0n1p2): mounted <uuid>"
        );
        assert_eq!(
            r("usb 1-1.3: SerialNumber: 0123ABC"),
            format!("usb 1-1.3: SerialNumber: {MASK}")
        );
        assert_eq!(r("x marks"), "x marks", "one-letter names are never masked");
        assert_eq!(
            r("Kernel command line: root=UUID=0b5e1c1e-1234-4abc-9def-0123456789ab ipts.debug=1"),
            format!("Kernel command line: root={MASK} ipts.debug=1")
        );
        // A host named like what a check looks for keeps that message intact.
        let a = |s: &str| redact_log_line(s, Some("active"), &[]);
        assert_eq!(
            a("mwifiex_pcie 0000:01:00.0: WLAN FW is active"),
            "mwifiex_pcie 0000:01:00.0: WLAN FW is active"
        );
        assert_eq!(a("Hostname set to <active>."), "Hostname set to <<host>>.");
    }

    #[test]
    fn strings() {
        assert_eq!(redact_str("bt aa:BB:cc:00:11:22 x", false), "bt <mac> x");
        assert_eq!(redact_str("addr:00:11:22:33:44:55", false), "addr:<mac>");
        assert_eq!(redact_str("01:03:01:00:01", false), "01:03:01:00:01");
        assert_eq!(
            redact_str("01:02:03:04:05:06:07", false),
            "01:02:03:04:05:06:07"
        );
        assert_eq!(redact_str("enx001122334455", false), "enx<mac>");
        assert_eq!(redact_str("wlxa0b1c2d3e4f5", false), "wlx<mac>");
        assert_eq!(redact_str("wlp1s0", false), "wlp1s0");
        assert_eq!(
            redact_str("root=UUID=0b5e1c1e-1234-4abc-9def-0123456789ab ro", false),
            "root=UUID=<uuid> ro"
        );
        assert_eq!(
            redact_str("0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04", true),
            "0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04"
        );
        assert_eq!(
            redact_str(
                "init=/nix/store/abc-nixos-system-my-book-24.11.20241101.abcdef/init",
                false
            ),
            "init=/nix/store/abc-nixos-system-<host>-24.11.20241101.abcdef/init"
        );
        assert_eq!(redact_str("/home/alice/x", false), "/home/<user>/x");
        assert_eq!(
            redact_str("Alice Smith's Magic Keyboard", false),
            "<name>'s Magic Keyboard"
        );
        assert_eq!(
            redact_str("the alice\u{2019}s mouse", false),
            "the <name>\u{2019}s mouse"
        );
        assert_eq!(
            redact_str("Microsoft Surface Keyboard", false),
            "Microsoft Surface Keyboard"
        );
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            redact_cmdline(
                "BOOT_IMAGE=/vmlinuz-6.1 root=/dev/disk/by-id/nvme-Samsung_SSD_970_S4EVNF0M123456 ro \
                 ip=192.168.1.20::192.168.1.1:255.255.255.0:sb2:wlp1s0:off wifi.ssid=AliceHome \
                 i915.enable_psr=0 mem_sleep_default=deep modprobe.blacklist=ipts quiet"
            ),
            format!(
                "BOOT_IMAGE=/vmlinuz-6.1 root={MASK} ro ip={MASK} wifi.ssid={MASK} \
                 i915.enable_psr=0 mem_sleep_default=deep modprobe.blacklist=ipts quiet"
            )
        );
        assert_eq!(
            redact_cmdline("initrd=\\6a9857a393724b7a981ebb5b8495b9ea\\6.1.0\\initrd"),
            format!("initrd=\\{MASK}\\6.1.0\\initrd")
        );
        assert_eq!(
            redact_cmdline("init=\"/x hostname=sb2\" quiet"),
            format!("init={MASK} quiet")
        );
        assert_eq!(
            redact_cmdline("i915.enable_psr\"FW is active hostname=sb2 quiet"),
            format!("i915.enable_psr{MASK}")
        );
        assert_eq!(redact_cmdline("\"my sb2\" quiet"), format!("{MASK} quiet"));
        assert_eq!(
            redact_cmdline("pci=192.168.1.20 acpi=fe80::1:2"),
            "pci=<ip> acpi=<ip>"
        );
    }
}
