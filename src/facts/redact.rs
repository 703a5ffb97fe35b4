//! Redaction of captured facts: serial numbers, MAC addresses, UUIDs, host and user
//! names never leave the machine in a `capture`.
//!
//! Redaction walks the JSON form of the facts, so a field added later is covered
//! without being listed here. Kept on purpose: MEI client UUIDs (the `mei` bus
//! device names and `uuid` attributes) are firmware protocol constants that every
//! Surface Book 2 shares, and the IPTS check needs them.
//!
//! Kernel-log lines (`kernel_log`) get the same markers, with two differences: the
//! host name and the user names (the home directories) are replaced as whole words
//! only, never inside an identifier (`surface_serial_hub` stays when the host is
//! `surface`), and `SerialNumber: X` values are masked. MEI UUIDs are masked there too:
//! a log line is free text, and its checks match the driver name, not the UUID.

use serde_json::Value;

use super::Facts;

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

/// Tags of [`NodeKind`](crate::root::NodeKind) (`"type": "char_device"`): the
/// program's own words, never host data, so a host named `dev` or `file` leaves them be.
const NODE_KIND_TAGS: &[&str] = &[
    "file",
    "dir",
    "char_device",
    "block_device",
    "fifo",
    "socket",
];

/// Redacts `facts`. `hostname` is the machine's host name, replaced wherever it
/// appears (NixOS store paths carry it: `nixos-system-<host>-<version>`).
pub fn redact(facts: &Facts, hostname: Option<&str>) -> Result<Facts, serde_json::Error> {
    redact_with_users(facts, hostname, &[])
}

/// [`redact`], also masking `users` (login names) as whole words in kernel-log lines.
pub fn redact_with_users(
    facts: &Facts,
    hostname: Option<&str>,
    users: &[String],
) -> Result<Facts, serde_json::Error> {
    let mut v = serde_json::to_value(facts)?;
    let host = identifying(hostname);
    if let Some(log) = v.get_mut("kernel_log") {
        walk_log(log, host, users);
    }
    walk(&mut v, host, false);
    let mut out: Facts = serde_json::from_value(v)?;
    out.source.redacted = true;
    Ok(out)
}

/// Host names that identify nothing: `localhost`, and the kernel's own default until
/// something sets a name, `(none)` (CONFIG_DEFAULT_HOSTNAME). Replacing them would
/// rewrite unrelated values, that config option first.
const ANONYMOUS_HOSTS: &[&str] = &["localhost", "(none)"];

/// The host name to replace, if it identifies the machine.
fn identifying(hostname: Option<&str>) -> Option<&str> {
    hostname.filter(|h| h.len() >= 2 && !ANONYMOUS_HOSTS.contains(h))
}

/// Redacts every string of the kernel-log fact (its lines and source).
fn walk_log(v: &mut Value, host: Option<&str>, users: &[String]) {
    match v {
        Value::String(s) => *s = redact_log_line(s, host, users),
        Value::Array(a) => a.iter_mut().for_each(|x| walk_log(x, host, users)),
        Value::Object(m) => m.values_mut().for_each(|x| walk_log(x, host, users)),
        _ => {}
    }
}

/// Redacts one kernel-log line: MAC addresses, UUIDs, NixOS system names, home
/// directories, `SerialNumber:` values, and the host and user names as whole words.
pub fn redact_log_line(s: &str, host: Option<&str>, users: &[String]) -> String {
    let mut out = mask_uuids(&mask_macs(s));
    out = mask_nixos_system_name(&out);
    out = mask_after(&out, "/home/", "<user>");
    out = mask_after(&out, "SerialNumber: ", MASK);
    if let Some(h) = host {
        out = replace_word(&out, h, "<host>");
    }
    for u in users.iter().filter(|u| u.len() >= 2) {
        out = replace_word(&out, u, "<user>");
    }
    out
}

/// Whether `c` continues an identifier: a name next to it is part of a longer word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Replaces `word` where it stands alone (not inside a longer identifier).
fn replace_word(s: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(word) {
        let before = rest[..pos].chars().next_back();
        let after = rest[pos + word.len()..].chars().next();
        out.push_str(&rest[..pos]);
        if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[pos + word.len()..];
    }
    out.push_str(rest);
    out
}

fn walk(v: &mut Value, host: Option<&str>, keep_uuids: bool) {
    match v {
        Value::String(s) => *s = redact_str(s, host, keep_uuids),
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, host, keep_uuids)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                // A secret key masks a string, never a structure: `serial` is also the
                // name of a bus (`buses.serial`, `drivers.serial`), whose devices are
                // walked like any other.
                if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) && x.is_string() {
                    *x = Value::String(MASK.into());
                    continue;
                }
                if k == "type" && x.as_str().is_some_and(|t| NODE_KIND_TAGS.contains(&t)) {
                    continue;
                }
                // Redacted by `walk_log` already, with whole-word names.
                if k == "kernel_log" {
                    continue;
                }
                walk(x, host, keep_uuids || k == "mei");
            }
        }
        _ => {}
    }
}

/// Redacts MAC addresses, UUIDs (unless kept), the host name, NixOS system names and
/// home-directory user names inside one string.
pub fn redact_str(s: &str, host: Option<&str>, keep_uuids: bool) -> String {
    let mut out = mask_macs(s);
    if !keep_uuids {
        out = mask_uuids(&out);
    }
    out = mask_nixos_system_name(&out);
    out = mask_after(&out, "/home/", "<user>");
    if let Some(h) = host {
        out = out.replace(h, "<host>");
    }
    out
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `aa:bb:cc:dd:ee:ff` or `aa-bb-...` (six groups of two hex digits).
fn mask_macs(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if i + 17 <= b.len() && is_mac(&b[i..i + 17]) && !hex_neighbour(b, i, i + 17) {
            out.push_str("<mac>");
            i += 17;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

fn is_mac(w: &[u8]) -> bool {
    let sep = w[2];
    (sep == b':' || sep == b'-')
        && (0..6).all(|g| is_hex(w[g * 3]) && is_hex(w[g * 3 + 1]))
        && (0..5).all(|g| w[g * 3 + 2] == sep)
}

fn hex_neighbour(b: &[u8], start: usize, end: usize) -> bool {
    let before = start > 0 && (is_hex(b[start - 1]) || b[start - 1] == b':');
    let after = end < b.len() && (is_hex(b[end]) || b[end] == b':');
    before || after
}

/// `8-4-4-4-12` hex UUIDs.
fn mask_uuids(s: &str) -> String {
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
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len()
            && is_uuid(&b[i..i + 36])
            && !(i > 0 && is_hex(b[i - 1]))
            && !(i + 36 < b.len() && is_hex(b[i + 36]))
        {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

/// `nixos-system-<host>-<version>`: the host is everything up to the last `-`
/// that is followed by a digit.
fn mask_nixos_system_name(s: &str) -> String {
    const MARK: &str = "nixos-system-";
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find(MARK) {
        out.push_str(&rest[..pos + MARK.len()]);
        let after = &rest[pos + MARK.len()..];
        let end = after.find(['/', ' ', '"']).unwrap_or(after.len());
        let name = &after[..end];
        match name
            .char_indices()
            .filter(|&(i, c)| c == '-' && name[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
            .map(|(i, _)| i)
            .next_back()
        {
            Some(i) if i > 0 => {
                out.push_str("<host>");
                out.push_str(&name[i..]);
            }
            _ => out.push_str(name),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces the path component after `marker` (`/home/alice/x` -> `/home/<user>/x`).
fn mask_after(s: &str, marker: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find(marker) {
        out.push_str(&rest[..pos + marker.len()]);
        let after = &rest[pos + marker.len()..];
        let end = after.find(['/', ' ', '"', ':']).unwrap_or(after.len());
        if end > 0 {
            out.push_str(with);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
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
        // `dev` is inside `char_device`; `file` is a whole tag.
        for host in ["dev", "file", "ck", "char_device"] {
            for kind in kinds {
                let mut v = serde_json::json!({ "node": { "ok": kind } });
                walk(&mut v, Some(host), false);
                let back: super::super::Fact<NodeKind> = serde_json::from_value(v["node"].clone())
                    .unwrap_or_else(|e| panic!("host {host:?} broke {kind:?}: {e}"));
                assert_eq!(back, super::super::Fact::Ok(kind));
            }
        }
    }

    #[test]
    fn the_kernel_s_default_host_name_is_not_redacted() {
        // A kernel whose hostname nothing set reports CONFIG_DEFAULT_HOSTNAME: "(none)".
        let mut v = serde_json::json!({
            "config": { "ok": { "options": { "DEFAULT_HOSTNAME": "(none)" } } }
        });
        walk(&mut v, identifying(Some("(none)")), false);
        assert_eq!(v["config"]["ok"]["options"]["DEFAULT_HOSTNAME"], "(none)");
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
            r("alice_driver malice alice2"),
            "alice_driver malice alice2"
        );
        assert_eq!(
            r("mwifiex_pcie 0000:01:00.0: mac 70:bc:10:aa:bb:cc"),
            "mwifiex_pcie 0000:01:00.0: mac <mac>"
        );
        assert_eq!(
            r("ipts 0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04: Starting IPTS"),
            "ipts 0000:00:16.4-<uuid>: Starting IPTS"
        );
        assert_eq!(
            r("usb 1-1.3: SerialNumber: 0123ABC"),
            format!("usb 1-1.3: SerialNumber: {MASK}")
        );
        assert_eq!(r("x marks"), "x marks", "one-letter names are never masked");
    }

    #[test]
    fn strings() {
        assert_eq!(
            redact_str("bt aa:BB:cc:00:11:22 x", None, false),
            "bt <mac> x"
        );
        assert_eq!(redact_str("01:03:01:00:01", None, false), "01:03:01:00:01");
        assert_eq!(
            redact_str(
                "root=UUID=0b5e1c1e-1234-4abc-9def-0123456789ab ro",
                None,
                false
            ),
            "root=UUID=<uuid> ro"
        );
        assert_eq!(
            redact_str(
                "0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04",
                None,
                true
            ),
            "0000:00:16.4-3e8d0870-271a-4208-8eb5-9acb9402ae04"
        );
        assert_eq!(
            redact_str(
                "init=/nix/store/abc-nixos-system-my-book-24.11.20241101.abcdef/init",
                None,
                false
            ),
            "init=/nix/store/abc-nixos-system-<host>-24.11.20241101.abcdef/init"
        );
        assert_eq!(redact_str("/home/alice/x", None, false), "/home/<user>/x");
        assert_eq!(
            redact_str("built on sb2-alice", Some("sb2-alice"), false),
            "built on <host>"
        );
    }
}
