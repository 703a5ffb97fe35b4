//! Redaction of captured facts: serial numbers, MAC addresses, UUIDs, addresses,
//! host and user names never leave the machine in a `capture`, and the capture still
//! gives the live verdicts (`status --from`), whatever the host is called.
//!
//! Redaction is by field. Everywhere (the JSON form of the facts, so a field added
//! later is covered): MAC addresses (with `:`, `-` or `_`, after a colon, or without
//! separators where a MAC stands: `enx001122334455`, `ID_NET_NAME_MAC`, `address`),
//! UUIDs, IPv4 and IPv6 addresses (`<ip>`), Wi-Fi network names where a driver names
//! one (`trying to associate to '<ssid>'`, `SSID: <ssid>`), NixOS system names
//! (`nixos-system-<host>-24.11...`), home directories (`/home/<user>`), people's
//! names before a possessive (`<name>'s Magic Keyboard`), and the values of
//! [`SECRET_KEYS`] and [`MASKED_KEYS`]. Kept on purpose: MEI client
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
    // Kernel releases that only look like addresses (`6.1.2.3`) are kept wherever
    // they stand: the checks compare them (the booted generation's module
    // directories against `uname -r`), and a capture must give the live verdicts.
    let releases = address_like_releases(&v);
    shield(&mut v, &releases, true);
    walk(&mut v, false);
    shield(&mut v, &releases, false);
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
    let text = |s: &str| redact_str(&names(s, host, &users), false);
    match &mut out.kernel_log {
        Fact::Ok(log) => {
            log.source = text(&log.source);
            for l in &mut log.lines {
                *l = redact_log_line_with(l, host, &users, &needles);
            }
        }
        // A log that could not be read names its path (`--dmesg /home/<user>/...`),
        // and the reason repeats it: the walk above left both to this.
        Fact::Unknown { path, reason } => {
            *path = text(path);
            *reason = text(reason);
        }
        Fact::Absent { path } => *path = text(path),
    }
    out.source.redacted = true;
    Ok(out)
}

/// The kernel releases in the facts (`kernel.release`, every `module_releases`
/// entry) or in a history listing (every string `kernel`) that redaction would
/// change only by masking an address in them (`6.19.8.3-surface`, `6.1.2.3`),
/// longest first.
fn address_like_releases(v: &Value) -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("module_releases", Value::Array(a)) => {
                            out.extend(a.iter().filter_map(|r| r.as_str().map(String::from)));
                        }
                        // A history listing's boots (`"kernel": "6.1.2.3"`).
                        ("kernel", Value::String(r)) => out.push(r.clone()),
                        _ => collect(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(r) = v.pointer("/kernel/release/ok").and_then(Value::as_str) {
        out.push(r.to_string());
    }
    collect(v, &mut out);
    out.retain(|r| {
        let spans = generic_spans(r, false);
        !spans.is_empty() && spans.iter().all(|sp| sp.with == "<ip>")
    });
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Replaces each of `releases` in every string of `v` by a placeholder no redaction
/// rule reads (Unicode private-use characters), or (`hide` false) back.
fn shield(v: &mut Value, releases: &[String], hide: bool) {
    if releases.is_empty() {
        return;
    }
    let token = |i: usize| format!("\u{e000}{}\u{e001}", "\u{e002}".repeat(i + 1));
    match v {
        Value::String(s) => {
            for (i, r) in releases.iter().enumerate() {
                let (from, to) = if hide {
                    (r.clone(), token(i))
                } else {
                    (token(i), r.clone())
                };
                if s.contains(&from) {
                    *s = s.replace(&from, &to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shield(x, releases, hide)),
        Value::Object(m) => m.values_mut().for_each(|x| shield(x, releases, hide)),
        _ => {}
    }
}

/// Whether a kernel-log line keeps `word` (a host or user name) where it stands
/// because the checks search the log for an identifier containing it (a host
/// named `ipts`, `00` or `active`). Its other places in the capture are masked.
pub fn log_keeps(facts: &Facts, word: &str) -> bool {
    log_needles(facts)
        .iter()
        .any(|n| n.to_ascii_lowercase().contains(&word.to_ascii_lowercase()))
}

/// Host names that identify nothing: `localhost`, and the kernel's own default until
/// something sets a name, `(none)` (CONFIG_DEFAULT_HOSTNAME).
const ANONYMOUS_HOSTS: &[&str] = &["localhost", "(none)"];

/// The host name to mask, if it identifies the machine. Of a fully qualified name
/// (`alicebook.corp.example.com`), its first label: logs name the host by it alone,
/// and where the domain follows, the mask takes it along ([`word_spans`]). A name
/// whose first label is a number (`192.168.1.5`) is kept whole.
fn identifying(hostname: Option<&str>) -> Option<&str> {
    let h = hostname?;
    let h = match h.split_once('.') {
        Some((label, _)) if label.len() >= 2 && label.bytes().any(|c| c.is_ascii_alphabetic()) => {
            label
        }
        _ => h,
    };
    (h.len() >= 2 && !ANONYMOUS_HOSTS.contains(&h)).then_some(h)
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
        static_needles(),
    )
}

fn redact_log_line_with(s: &str, host: Option<&str>, users: &[&str], needles: &[String]) -> String {
    apply(s, line_spans(s, host, users, false), &protected(s, needles))
}

/// The spans [`redact_log_line`] replaces. `program_text`: the line may be the
/// program's own sentence (a report's), where `the profile's devices` is no
/// person's: only a capitalized word before a possessive is a name then.
fn line_spans(s: &str, host: Option<&str>, users: &[&str], program_text: bool) -> Vec<Span> {
    let mut spans = generic_spans(s, false);
    if program_text {
        spans.retain(|sp| sp.with != "<name>" || s[sp.start..].starts_with(char::is_uppercase));
    }
    spans.extend(fixed(after_spans(s, "SerialNumber: ", MASK)));
    spans.extend(fixed(keyed_secret_spans(s)));
    // A machine id (32 hex digits standing alone), as `/etc/machine-id` holds it.
    spans.extend(hex_run_spans(s, 32));
    spans.extend(fixed(at_spans(s)));
    spans.extend(fixed(between_spans(s, "Hostname set to <", '>', "<host>")));
    for marker in ["Kernel command line: ", "Command line: "] {
        if let Some(p) = s.find(marker) {
            let start = p + marker.len();
            spans.extend(cmdline_spans(&s[start..]).into_iter().map(|x| Span {
                start: x.start + start,
                end: x.end + start,
                ..x
            }));
        }
    }
    if let Some(h) = host {
        spans.extend(word_spans(s, h, "<host>"));
    }
    for u in users {
        spans.extend(word_spans(s, u, "<user>"));
    }
    spans
}

// ---- the needles the checks search kernel-log lines for ------------------------

/// Every string of the profile (device ids, module names, patch markers), but the
/// log collector's filter (`log_needles`: what lines to keep, not what checks match)
/// and the release marker, and [`LOG_CHECK_NEEDLES`]. Made once: a bundle redacts
/// up to thousands of lines with them.
fn static_needles() -> &'static [String] {
    static NEEDLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NEEDLES.get_or_init(make_static_needles)
}

fn make_static_needles() -> Vec<String> {
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
    let mut set: BTreeSet<String> = static_needles().iter().cloned().collect();
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
    /// Found by its syntax (`(user@host)`, `/home/<user>`, `SSID: <ssid>`, an
    /// address, a serial number's key): masked even inside a needle.
    fixed: bool,
}

fn span(start: usize, end: usize, with: &str) -> Span {
    Span {
        start,
        end,
        with: with.to_string(),
        fixed: false,
    }
}

/// `v`, marked as found by their syntax: no needle protects them.
fn fixed(v: Vec<Span>) -> Vec<Span> {
    v.into_iter().map(|s| Span { fixed: true, ..s }).collect()
}

/// Applies the spans that overlap no earlier (or longer) span and, unless
/// [`fixed`], lie not wholly inside a protected range: a name that is itself part of
/// what a check searches for (a host named `active` in `WLAN FW is active`) stays,
/// a name that merely contains or touches a needle (`ipts-laptop`) does not.
fn apply(s: &str, mut spans: Vec<Span>, protected: &[(usize, usize)]) -> String {
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for sp in spans {
        if sp.start < at
            || sp.end > s.len()
            || !s.is_char_boundary(sp.start)
            || !s.is_char_boundary(sp.end)
            || (!sp.fixed && protected.iter().any(|&(a, b)| a <= sp.start && sp.end <= b))
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
    v.extend(fixed(cisco_mac_spans(s)));
    v.extend(fixed(labelled_hex12_spans(s)));
    v.extend(ifname_mac_spans(s));
    if !keep_uuids {
        v.extend(uuid_spans(s));
    }
    v.extend(fixed(ip_addr_spans(s)));
    v.extend(fixed(ssid_spans(s)));
    v.extend(nixos_system_spans(s));
    v.extend(fixed(after_spans(s, "/home/", "<user>")));
    v.extend(fixed(after_spans(s, "/Users/", "<user>")));
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

/// `word` where it stands alone (not inside a longer identifier), in any ASCII
/// case. A host name (`with` is `<host>`) takes the domain that follows it along
/// (`alicebook.corp.example.com` -> `<host>`).
fn word_spans(s: &str, word: &str, with: &str) -> Vec<Span> {
    let mut out = Vec::new();
    if word.is_empty() {
        return out;
    }
    // ASCII lower-casing keeps every byte where it is.
    let lower = s.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    let b = s.as_bytes();
    let label = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    let mut from = 0;
    while let Some(p) = lower[from..].find(word.as_str()) {
        let pos = from + p;
        let mut end = pos + word.len();
        let before = s[..pos].chars().next_back();
        let after = s[end..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char) {
            if with == "<host>" {
                // `.label` after `.label`, each starting with a letter or digit.
                while end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_alphanumeric() {
                    let mut e = end + 1;
                    while e < b.len() && label(b[e]) {
                        e += 1;
                    }
                    if e < b.len() && b[e] == b'_' {
                        break;
                    }
                    end = e;
                }
            }
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

/// Cisco's spelling of a MAC, `70bc.10aa.bbcc` (three groups of four hex digits,
/// at least one of them a letter, so that no version number reads as one), standing
/// alone.
fn cisco_mac_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 14 <= b.len() {
        let w = &b[i..i + 14];
        let is_mac = w[4] == b'.'
            && w[9] == b'.'
            && (0..14).filter(|&k| k != 4 && k != 9).all(|k| is_hex(w[k]))
            && w.iter().any(u8::is_ascii_alphabetic);
        let touched = (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
            || (i + 14 < b.len()
                && (b[i + 14].is_ascii_alphanumeric()
                    || (b[i + 14] == b'.'
                        && b.get(i + 15).is_some_and(u8::is_ascii_alphanumeric))));
        if is_mac && !touched {
            out.push(span(i, i + 14, "<mac>"));
            i += 14;
        } else {
            i += 1;
        }
    }
    out
}

/// Words after which twelve hex digits are a MAC without separators
/// (`bssid 70BC10AABBCC`, `HWaddr=70bc10aabbcc`).
const MAC_LABELS: &[&str] = &[
    "mac", "addr", "address", "hwaddr", "lladdr", "bssid", "ether",
];

/// Twelve hex digits standing alone right after one of [`MAC_LABELS`] (and a space,
/// `:` or `=`).
fn labelled_hex12_spans(s: &str) -> Vec<Span> {
    hex12_spans(s)
        .into_iter()
        .filter(|sp| {
            let before = s[..sp.start].trim_end_matches([' ', ':', '=']);
            // The character before the word may be any width (found by fuzzing:
            // `p + 1` inside a multi-byte character).
            let word_start = before
                .char_indices()
                .rev()
                .find(|&(_, c)| !c.is_ascii_alphanumeric() && c != '_')
                .map_or(0, |(p, c)| p + c.len_utf8());
            let word = before[word_start..].to_ascii_lowercase();
            before.len() < sp.start && MAC_LABELS.contains(&word.as_str())
        })
        .collect()
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
                ..x
            }));
        } else {
            out.push(span(vstart, i, MASK));
        }
    }
    out
}

/// In free text, the value after a secret key and `=` or `:` (`serial_number=X`,
/// `ID_SERIAL: X`, `Serial Number: X`), the key matched in any case as a word of its
/// own (`surface_serial_hub` and `serial0-0:` are no keys).
fn keyed_secret_spans(s: &str) -> Vec<Span> {
    let lower = s.to_ascii_lowercase();
    let b = s.as_bytes();
    let mut out = Vec::new();
    let keys = SECRET_KEYS
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .chain(["serial number".to_string(), "serialnumber".to_string()]);
    for key in keys {
        for (p, _) in lower.match_indices(key.as_str()) {
            if lower[..p]
                .bytes()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                continue;
            }
            let mut at = p + key.len();
            while at < b.len() && b[at] == b' ' {
                at += 1;
            }
            if at >= b.len() || !matches!(b[at], b'=' | b':') {
                continue;
            }
            at += 1;
            while at < b.len() && b[at] == b' ' {
                at += 1;
            }
            let len = s[at..]
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')' | ']'))
                .unwrap_or(s.len() - at);
            if len > 0 && !s[at..].starts_with('<') {
                out.push(span(at, at + len, MASK));
            }
        }
    }
    out
}

/// IPv4 and IPv6 addresses standing alone in free text (`192.168.1.20`,
/// `192.168.1.20:8080`, `fe80::1ff:fe23:4567:890a`, `::ffff:10.0.0.1`), or after a
/// label and a colon (`addr:192.168.1.5`, `inet6:fe80::1`, `IPv6:2001:db8::7`), as
/// log lines and values show them. A run of hex digits, `.` and `:` counts only when
/// no letter, digit or `_` touches it (but a label's colon) and it parses as an
/// address: a PCI address (`0000:00:14.3`), a time (`10:30:44`), a USB id
/// (`0003:045E:0922`) or a version with three parts (`182.1004.139`) is none. A
/// version with four small parts (`1.2.3.4`) cannot be told from an address and is
/// masked, but a kernel release (`6.19.8.3-surface`: a `-` and a letter after it, or
/// after `/lib/modules/`, `vmlinuz-` or `Linux version `) is kept.
fn ip_addr_spans(s: &str) -> Vec<Span> {
    let b = s.as_bytes();
    let in_run = |c: u8| c.is_ascii_hexdigit() || c == b'.' || c == b':';
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let release = |a: usize, e: usize| {
        (e + 1 < b.len() && b[e] == b'-' && b[e + 1].is_ascii_alphabetic())
            || ["/lib/modules/", "vmlinuz-", "Linux version "]
                .iter()
                .any(|m| s[..a].ends_with(m))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !in_run(b[i]) {
            i += 1;
            continue;
        }
        let (mut a, mut e) = (i, i);
        while e < b.len() && in_run(b[e]) {
            e += 1;
        }
        i = e;
        if e < b.len() && word(b[e]) {
            continue;
        }
        // A sentence's full stop or a label's colon is no part of the address; `::`
        // is (`fe80::`).
        while e > a && (b[e - 1] == b'.' || (b[e - 1] == b':' && !(e >= 2 && b[e - 2] == b':'))) {
            e -= 1;
        }
        // Where the address may start: the run's start when nothing touches it, and
        // after each single colon (`addr:`, `inet6:`: a label whose last letters
        // are hex digits joins the run).
        let touched = a > 0 && word(b[a - 1]);
        let mut starts = Vec::new();
        if !touched {
            starts.push(a);
        }
        for p in a..e {
            if b[p] == b':' && !(p > a && b[p - 1] == b':') && !(p + 1 < e && b[p + 1] == b':') {
                starts.push(p + 1);
            }
        }
        // IPv6: the first start at which the rest parses.
        if let Some(&st) = starts.iter().find(|&&st| {
            let t = &s[st..e];
            t.contains(':') && t != "::" && t.parse::<std::net::Ipv6Addr>().is_ok()
        }) {
            out.push(span(st, e, "<ip>"));
            continue;
        }
        // IPv4, alone, with a port, or joined by colons (`ip=a::b:c`). The first
        // part of a run a word touches is that word's (`v1.2.3.4`), unless a colon
        // parts them (`ip:10.1.2.3`).
        let first_own = !touched || b[a] == b':';
        while a < e && b[a] == b':' && !(a + 1 < e && b[a + 1] == b':') {
            a += 1;
        }
        let mut off = a;
        for (k, part) in s[a..e].split(':').enumerate() {
            let quads: Vec<&str> = part.split('.').collect();
            if (k > 0 || first_own)
                && quads.len() == 4
                && quads
                    .iter()
                    .all(|q| !q.is_empty() && q.len() <= 3 && q.parse::<u8>().is_ok())
                && !release(off, off + part.len())
            {
                out.push(span(off, off + part.len(), "<ip>"));
            }
            off += part.len() + 1;
        }
    }
    out
}

/// The longest Wi-Fi network name as a log may escape it (32 bytes, each `\xNN`).
const MAX_SSID_TEXT: usize = 32 * 4;

/// Wi-Fi network names where the kernel names one: mwifiex's `info: trying to
/// associate to '<ssid>' bssid ...` (and `associate with`, `connecting to`,
/// `connected to`, `join to` before a quoted name), its older unquoted `associate
/// to <ssid> and bssid` and `join to <ssid> and bssid`, and the name after a word
/// `SSID` or `ESSID` (any case; never `BSSID`, an address masked as one) with `=`
/// or `:` (`SSID: <ssid>`, `ssid=<ssid>`) or before a quoted name (`ssid '<ssid>'`).
fn ssid_spans(s: &str) -> Vec<Span> {
    let lower = s.to_ascii_lowercase();
    let b = s.as_bytes();
    let mut out = Vec::new();
    // A quoted name at `at`: the span of what is between the quotes.
    let quoted = |at: usize| -> Option<(usize, usize)> {
        let q = *b.get(at)?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let rest = &s[at + 1..];
        let end = rest.find(q as char)?;
        (end > 0 && end <= MAX_SSID_TEXT).then_some((at + 1, at + 1 + end))
    };
    for marker in [
        "associate to ",
        "join to ",
        "associate with ",
        "associating to ",
        "associating with ",
        "connecting to ",
        "connected to ",
    ] {
        for (p, _) in lower.match_indices(marker) {
            let at = p + marker.len();
            // mwifiex quotes the name as it is (`'Bob's Net' bssid ...`): up to the
            // last quote before ` bssid`.
            let bssid = (b.get(at) == Some(&b'\''))
                .then(|| lower[at + 1..].rfind("' bssid"))
                .flatten()
                .filter(|&e| e > 0);
            // Kernels before 5.12 printed it unquoted: `info: Trying to associate
            // to <ssid> and bssid ...`, `info: trying to join to <ssid> and bssid`.
            let unquoted = lower[at..].rfind(" and bssid").filter(|&e| e > 0);
            if let Some(e) = bssid {
                out.push(span(at + 1, at + 1 + e, "<ssid>"));
            } else if let Some((a, e)) = quoted(at) {
                out.push(span(a, e, "<ssid>"));
            } else if let Some(e) = unquoted {
                out.push(span(at, at + e, "<ssid>"));
            }
        }
    }
    for (p, _) in lower.match_indices("ssid") {
        let before = lower[..p].bytes().next_back();
        let essid = before == Some(b'e');
        let start_ok = if essid {
            !lower[..p - 1]
                .bytes()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        } else {
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        };
        if !start_ok {
            continue;
        }
        let mut at = p + 4;
        while at < b.len() && b[at] == b' ' {
            at += 1;
        }
        let separated = at < b.len() && matches!(b[at], b'=' | b':');
        let colon = separated && b[at] == b':';
        if separated {
            at += 1;
            while at < b.len() && b[at] == b' ' {
                at += 1;
            }
        }
        if let Some((a, e)) = quoted(at) {
            out.push(span(a, e, "<ssid>"));
        } else if separated && at < b.len() && b[at] != b'<' {
            // Unquoted after a colon, a name may hold spaces (`SSID: Carol Home
            // Net`): to the end of the line. After `=` (`wifi.ssid=x quiet`, a
            // command line's parameter), to the next space.
            let len = if colon {
                let l = s[at..].find(['\n', '\r']).unwrap_or(s.len() - at);
                s[at..at + l].trim_end().len()
            } else {
                s[at..]
                    .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')' | ']'))
                    .unwrap_or(s.len() - at)
            };
            if len > 0 {
                out.push(span(at, at + len, "<ssid>"));
            }
        }
    }
    out
}

// ---- other documents -------------------------------------------------------------

/// The program's own words, which a host or user name never masks in a document:
/// the statuses of a report.
const STATUS_WORDS: &[&str] = &["ok", "degraded", "failed", "absent", "unknown"];

/// Keys whose values are the program's vocabulary (check and subsystem ids,
/// statuses, models), never host data.
const VOCABULARY_KEYS: &[&str] = &[
    "id",
    "status",
    "overall",
    "subsystem",
    "from",
    "to",
    "decided_by",
    "requires",
    "model",
];

/// Redacts a JSON document made from the facts (a report, a history listing) the way
/// a kernel-log line is redacted ([`redact_log_line`]): every string loses MAC
/// addresses, UUIDs (but the protocol constants the checks name), IP addresses,
/// Wi-Fi network names, serial numbers, home directories, `(user@host)`, and the
/// host and user names as whole words; the values of [`SECRET_KEYS`] and
/// [`MASKED_KEYS`] are masked, and keys naming an address lose any twelve-hex-digit
/// MAC. Check ids and statuses are kept.
pub fn redact_json(v: &mut Value, hostname: Option<&str>, users: &[String]) {
    let host = identifying(hostname);
    let users = identifying_users(users);
    let needles = static_needles();
    // Kernel releases that only look like addresses (`6.1.2.3`) are kept, as in
    // the facts: a boot's release and its label name the kernel, not a host.
    let releases = address_like_releases(v);
    shield(v, &releases, true);
    redact_json_with(v, host, &users, needles);
    shield(v, &releases, false);
}

fn redact_json_with(v: &mut Value, host: Option<&str>, users: &[&str], needles: &[String]) {
    match v {
        Value::String(s) if !STATUS_WORDS.contains(&s.as_str()) => {
            *s = apply(s, line_spans(s, host, users, true), &protected(s, needles));
        }
        Value::Array(a) => a
            .iter_mut()
            .for_each(|x| redact_json_with(x, host, users, needles)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if x.is_string()
                    && (SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k))
                        || MASKED_KEYS.contains(&k.as_str()))
                {
                    *x = Value::String(MASK.into());
                    continue;
                }
                if VOCABULARY_KEYS.contains(&k.as_str()) && x.is_string() {
                    continue;
                }
                if let Value::String(s) = x
                    && names_a_mac(k)
                {
                    let spans = hex12_spans(s);
                    *s = apply(s, spans, &[]);
                }
                redact_json_with(x, host, users, needles);
            }
        }
        _ => {}
    }
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

    /// A NixOS kernel whose release looks like an address (`6.1.2.3`): the booted
    /// generation's module directories and `uname -r` stay equal after redaction,
    /// so the capture gives the live verdicts (the generation check compares them).
    #[test]
    fn an_address_like_release_is_kept_wherever_it_stands() {
        let seed = include_str!("../../fuzz/seeds/facts_json/sb2-15-nixos.json");
        let text = seed.replace("6.19.8", "6.1.2.3");
        let facts = Facts::from_json(text.as_bytes()).expect("the seed capture");
        let out = redact(&facts, Some("alicebook")).unwrap();
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(
            v.pointer("/kernel/release/ok"),
            Some(&Value::from("6.1.2.3"))
        );
        assert_eq!(
            v.pointer("/nixos/booted/ok/module_releases/0"),
            Some(&Value::from("6.1.2.3"))
        );
        let text = serde_json::to_string(&v).unwrap();
        assert!(!text.contains('\u{e000}'), "a placeholder was left");
        let verdicts = |f: &Facts| {
            let r = crate::checks::diagnose(f, &crate::profiles::SURFACE_BOOK_2, "/");
            r.subsystems
                .iter()
                .flat_map(|s| s.checks.iter().map(|c| (c.id.clone(), c.status)))
                .collect::<Vec<_>>()
        };
        assert_eq!(verdicts(&facts), verdicts(&out));
        // An address elsewhere is still masked.
        assert_eq!(redact_str("peer 10.1.2.3 up", false), "peer <ip> up");
    }

    /// Found by fuzzing: a multi-byte character right before twelve hex digits.
    #[test]
    fn a_wide_character_before_hex_digits_is_no_panic() {
        for s in [
            "\u{fffd}0011223344aa",
            "x\u{fffd}:0011223344aa",
            "addr\u{e9}0011223344aa",
        ] {
            let _ = redact_log_line(s, None, &[]);
        }
        assert_eq!(
            redact_log_line("surface: \u{e9} bssid 70BC10AABBCE", None, &[]),
            "surface: \u{e9} bssid <mac>"
        );
    }

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
        assert_eq!(identifying(Some("localhost.localdomain")), None);
    }

    /// A host name set fully qualified is masked where its first label stands alone
    /// too, and with its domain where that follows.
    #[test]
    fn a_fully_qualified_host_name_is_masked_by_its_first_label() {
        let host = Some("alicebook.corp.example.com");
        assert_eq!(identifying(host), Some("alicebook"));
        let r = |s: &str| redact_log_line(s, host, &[]);
        assert_eq!(
            r("systemd[1]: Hostname set to <alicebook.corp.example.com>."),
            "systemd[1]: Hostname set to <<host>>."
        );
        assert_eq!(r("surface: AliceBook ready"), "surface: <host> ready");
        assert_eq!(
            r("surface: alicebook-dock ready"),
            "surface: alicebook-dock ready"
        );
        assert_eq!(identifying(Some("a.example.com")), Some("a.example.com"));
        assert_eq!(identifying(Some("192.168.1.5")), Some("192.168.1.5"));
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
    #[test]
    fn addresses_and_network_names_in_free_text() {
        let r = |s: &str| redact_log_line(s, None, &[]);
        assert_eq!(r("addr 192.168.1.20, gw 10.0.0.1."), "addr <ip>, gw <ip>.");
        assert_eq!(r("peer 192.168.1.20:8080"), "peer <ip>:8080");
        assert_eq!(r("inet6 fe80::1ff:fe23:4567:890a/64"), "inet6 <ip>/64");
        assert_eq!(r("[2001:db8::5]:22"), "[<ip>]:22");
        for kept in [
            "ipu3-cio2 0000:00:14.3: Connected 3 cameras",
            "hid 0003:045E:0922.0001: at 10:30:44",
            "SAM firmware version: 182.1004.139",
            "std::fmt v1.2.3.4",
        ] {
            assert_eq!(r(kept), kept);
        }
        assert_eq!(
            r(
                "mwifiex_pcie 0000:01:00.0: info: trying to associate to 'My Home' bssid 78:32:1b:2d:8a:9c"
            ),
            "mwifiex_pcie 0000:01:00.0: info: trying to associate to '<ssid>' bssid <mac>"
        );
        // Unquoted, a name runs to the end of the line (it may hold spaces).
        assert_eq!(r("SSID: Cafe-5G, ESSID=\"x y\""), "SSID: <ssid>");
        assert_eq!(
            r("ESSID=\"x y\", SSID: Cafe 5G"),
            "ESSID=\"<ssid>\", SSID: <ssid>"
        );
        assert_eq!(r("bssid 78:32:1b:2d:8a:9c"), "bssid <mac>");
        assert_eq!(
            r("battery serial_number=ABC123 ID_SERIAL: X9"),
            format!("battery serial_number={MASK} ID_SERIAL: {MASK}")
        );
        assert_eq!(
            r("surface_serial_hub serial0-0: SAM"),
            "surface_serial_hub serial0-0: SAM"
        );
    }

    /// mwifiex before Linux 5.12 printed the network name unquoted.
    #[test]
    fn unquoted_network_names_of_older_kernels() {
        let r = |s: &str| redact_log_line(s, None, &[]);
        assert_eq!(
            r(
                "mwifiex_pcie 0000:01:00.0: info: Trying to associate to Carol Home and bssid 70:bc:10:aa:bb:cc"
            ),
            "mwifiex_pcie 0000:01:00.0: info: Trying to associate to <ssid> and bssid <mac>"
        );
        assert_eq!(
            r(
                "mwifiex_pcie 0000:01:00.0: info: trying to join to Bob's and bssid Net and bssid 70:bc:10:aa:bb:cc"
            ),
            "mwifiex_pcie 0000:01:00.0: info: trying to join to <ssid> and bssid <mac>"
        );
        // Today's wording names no network: nothing to mask but the address.
        assert_eq!(
            r("mwifiex_pcie 0000:01:00.0: info: trying to join to bssid 70:bc:10:aa:bb:cc"),
            "mwifiex_pcie 0000:01:00.0: info: trying to join to bssid <mac>"
        );
    }

    /// A history listing's releases that look like addresses stay, in the boot and
    /// its label; an address beside them does not.
    #[test]
    fn a_history_listing_keeps_address_like_releases() {
        let mut v = serde_json::json!({
            "boots": [{
                "kernel": "6.1.2.3",
                "label": "6.1.2.3 (generation 42)",
                "note": "from 192.168.1.20",
            }]
        });
        redact_json(&mut v, None, &[]);
        assert_eq!(v["boots"][0]["kernel"], "6.1.2.3");
        assert_eq!(v["boots"][0]["label"], "6.1.2.3 (generation 42)");
        assert_eq!(v["boots"][0]["note"], "from <ip>");
    }

    #[test]
    fn a_needle_protects_only_what_lies_wholly_inside_it() {
        let users = vec!["failsafe".to_string(), "rearden".to_string()];
        let r = |s: &str| redact_log_line(s, Some("ipts-laptop"), &users);
        // Names that merely contain a needle (`ipts`, `fail`, `rear`) are masked.
        assert_eq!(
            r("Linux version 6.1 (failsafe@ipts-laptop) (gcc 12)"),
            "Linux version 6.1 (<user>@<host>) (gcc 12)"
        );
        assert_eq!(
            r("surface ipts-laptop /home/rearden/x failsafe"),
            "surface <host> /home/<user>/x <user>"
        );
        assert_eq!(
            r("systemd[1]: Hostname set to <ipts-laptop>."),
            "systemd[1]: Hostname set to <<host>>."
        );
        // Found by their syntax: masked even where a needle covers them.
        let c = |s: &str| redact_log_line(s, Some("camera"), &["fail".to_string()]);
        assert_eq!(
            c("Linux version 6.1 (fail@camera) /home/fail/x"),
            "Linux version 6.1 (<user>@<host>) /home/<user>/x"
        );
        assert_eq!(r("surface SSID: failover"), "surface SSID: <ssid>");
        assert_eq!(
            r("mwifiex: info: trying to associate to 'frontyard' bssid 70:bc:10:aa:bb:cc"),
            "mwifiex: info: trying to associate to '<ssid>' bssid <mac>"
        );
        assert_eq!(
            r("usb 1-1: SerialNumber: XBAT1Z99"),
            format!("usb 1-1: SerialNumber: {MASK}")
        );
        assert_eq!(
            r("surface peer fe80:0000:0000:0000:0202:b3ff:fe1e:8329"),
            "surface peer <ip>"
        );
        // A word that is itself what a check searches for stays (status --from).
        let a = |s: &str| redact_log_line(s, Some("active"), &[]);
        assert_eq!(a("WLAN FW is active"), "WLAN FW is active");
    }

    #[test]
    fn names_in_any_case_and_with_their_domain() {
        let users = vec!["alicew".to_string()];
        let r = |s: &str| redact_log_line(s, Some("alicebook"), &users);
        assert_eq!(
            r("surface AliceBook ALICEBOOK Alicew ALICEW"),
            "surface <host> <host> <user> <user>"
        );
        assert_eq!(
            r("surface on alicebook.corp.example.com, up."),
            "surface on <host>, up."
        );
        assert_eq!(r("surface on alicebook."), "surface on <host>.");
        assert_eq!(
            r("alicebook_driver malicebook"),
            "alicebook_driver malicebook"
        );
    }

    #[test]
    fn addresses_after_a_label_and_kernel_releases() {
        let r = |s: &str| redact_log_line(s, None, &[]);
        assert_eq!(
            r("addr:192.168.1.5 ip:10.1.2.3 gw:10.0.0.1 inet6:fe80::1 IPv6:2001:db8::7"),
            "addr:<ip> ip:<ip> gw:<ip> inet6:<ip> IPv6:<ip>"
        );
        assert_eq!(r("fe80:0000:0000:0000:0202:b3ff:fe1e:8329"), "<ip>");
        for kept in [
            "Linux version 6.19.8.3-surface (x@y)",
            "/lib/modules/6.19.8.3/kernel",
            "BOOT_IMAGE=/boot/vmlinuz-6.19.8.3",
            "module 6.19.8.3-surface-1",
            "std::fmt v1.2.3.4",
            "hid 0003:045E:0922.0001: at 10:30:44",
        ] {
            assert_eq!(r(kept), kept.replace("(x@y)", "(<user>@<host>)"));
        }
    }

    #[test]
    fn macs_without_separators_and_network_names_with_quotes() {
        let r = |s: &str| redact_log_line(s, None, &[]);
        assert_eq!(
            r("mac 70BC10AABBCE bssid=70bc10aabbcc HWaddr: 70bc10aabbcc"),
            "mac <mac> bssid=<mac> HWaddr: <mac>"
        );
        assert_eq!(r("peer 70bc.10aa.bbcc up"), "peer <mac> up");
        // No label, or no letter: not told from other hex numbers.
        for kept in [
            "hash 70bc10aabbcc",
            "ver 1234.5678.9012",
            "x 0123.4567.89ab.cdef",
        ] {
            assert_eq!(r(kept), kept);
        }
        assert_eq!(
            r("mwifiex: info: trying to associate to 'Bob's Net' bssid 70:bc:10:aa:bb:cc"),
            "mwifiex: info: trying to associate to '<ssid>' bssid <mac>"
        );
        assert_eq!(r("wlan0: SSID: Carol Home Net"), "wlan0: SSID: <ssid>");
    }

    #[test]
    fn the_release_is_kept_in_the_facts() {
        let mut f = Facts::empty(crate::facts::Source {
            root: "/".into(),
            collector: "t".into(),
            redacted: false,
            live: false,
        });
        f.kernel.release = Fact::Ok("6.19.8.3-surface".into());
        let r = redact(&f, None).unwrap();
        assert_eq!(r.kernel.release, Fact::Ok("6.19.8.3-surface".into()));
        f.kernel.release = Fact::Ok("6.1.2.3".into());
        let r = redact(&f, None).unwrap();
        assert_eq!(r.kernel.release, Fact::Ok("6.1.2.3".into()));
    }

    #[test]
    fn documents_keep_the_program_s_words() {
        let mut v = serde_json::json!({
            "status": "ok", "id": "touch.iptsd",
            "summary": "none of the profile's devices; Alice's keyboard at 10.1.2.3",
            "serial": "X1", "list": ["ok", "/home/alice/x"]
        });
        redact_json(&mut v, Some("ok"), &["alice".to_string()]);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["list"][0], "ok");
        assert_eq!(v["list"][1], "/home/<user>/x");
        assert_eq!(v["serial"], MASK);
        assert_eq!(
            v["summary"],
            "none of the profile's devices; <name>'s keyboard at <ip>"
        );
    }
}
