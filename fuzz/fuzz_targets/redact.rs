//! Redaction (`capture`) on facts with fuzzer-chosen host and user names planted where
//! a host or user name stands, and fuzzer-chosen command lines and kernel-log lines.
//!
//! Input: one byte choosing a seed capture (`fuzz/seeds/facts_json`), then fields
//! separated by NUL bytes: host name, user name, command line, the tail of
//! `proc/version`, and kernel-log lines. The host is planted in `proc/version`'s
//! `(user@host)`, the command line (`hostname=`, a NixOS system path) and the log
//! (`(user@host)`, systemd's `Hostname set to <host>`).
//!
//! Checked:
//! (a) no planted host (2 bytes or more, not `localhost`) or user (3 or more) is left
//!     as a whole word where it was planted: each field holds no more whole-word
//!     occurrences after redaction than it held without the planted ones (a command
//!     line or log line may name the host as a driver would, `ipts`). In the log, a
//!     name that the checks search the log for is kept (`redact::log_keeps`);
//! (b) diagnosing the redacted facts gives every check the status it gets from the
//!     original facts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use surface_check::checks;
use surface_check::facts::{Fact, Facts, KernelLog, redact};
use surface_check::profiles::SURFACE_BOOK_2;

const SEEDS: [&[u8]; 4] = [
    include_bytes!("../seeds/facts_json/sb2-15-nixos.json"),
    include_bytes!("../seeds/facts_json/sb2-13-stock.json"),
    include_bytes!("../seeds/facts_json/sb2-15-detached.json"),
    include_bytes!("../seeds/facts_json/empty.json"),
];

fn sanitize(b: &[u8], max: usize, ok: impl Fn(char) -> bool) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|&c| ok(c))
        .take(max)
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Whole-word occurrences of `w` in `s`, redaction markers read as a word character
/// (so a marker never makes a neighbour a whole word).
fn words(s: &str, w: &str) -> usize {
    let mut t = s.to_string();
    for m in [
        "<host>",
        "<user>",
        "<redacted>",
        "<mac>",
        "<uuid>",
        "<name>",
        "<ip>",
    ] {
        t = t.replace(m, "_");
    }
    let mut n = 0;
    let mut from = 0;
    while let Some(p) = t[from..].find(w) {
        let pos = from + p;
        let end = pos + w.len();
        if !t[..pos].chars().next_back().is_some_and(is_word_char)
            && !t[end..].chars().next().is_some_and(is_word_char)
        {
            n += 1;
        }
        from = end;
    }
    n
}

fn statuses(f: &Facts) -> Vec<(String, String)> {
    let r = checks::diagnose(f, &SURFACE_BOOK_2, "fuzz");
    let v = serde_json::to_value(&r).expect("the report serializes");
    let mut out = vec![
        ("machine".to_string(), v["machine"]["model"].to_string()),
        ("overall".to_string(), v["overall"].to_string()),
    ];
    for s in v["subsystems"].as_array().into_iter().flatten() {
        out.push((s["id"].to_string(), s["status"].to_string()));
        for c in s["checks"].as_array().into_iter().flatten() {
            out.push((c["id"].to_string(), c["status"].to_string()));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(mut facts) = Facts::from_json(SEEDS[usize::from(which) % SEEDS.len()]) else {
        return;
    };
    let mut fields = rest.split(|&b| b == 0);
    let host = sanitize(fields.next().unwrap_or_default(), 63, |c| {
        c.is_ascii_alphanumeric() || c == '-'
    });
    let user = sanitize(fields.next().unwrap_or_default(), 32, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
    });
    let text = |b: &[u8]| sanitize(b, 512, |c| c != '\n' && c != '\r' && c != '#');
    let cmdline = text(fields.next().unwrap_or_default());
    let tail = text(fields.next().unwrap_or_default());
    let extra: Vec<String> = fields.take(16).map(text).collect();

    // Planted where a host and a user stand.
    // `#` stands for the planted names in the texts counted without them.
    let version_plain = format!("Linux version 6.1.0 (#) {tail}");
    let version = format!("Linux version 6.1.0 ({user}@{host}) {tail}");
    let cmdline_plain = format!("{cmdline} hostname=#");
    let cmdline_full = format!("{cmdline} hostname={host}");
    let log_plain: Vec<String> = extra.clone();
    let mut lines = vec![
        version.clone(),
        format!("systemd[1]: Hostname set to <{host}>."),
    ];
    lines.extend(extra);
    facts.kernel.version = Fact::Ok(version);
    facts.kernel.cmdline = Fact::Ok(cmdline_full);
    let (from_boot, total) = match facts.kernel_log.ok() {
        Some(l) => {
            let mut l = l.clone();
            lines.append(&mut l.lines);
            (l.from_boot, l.total)
        }
        None => (true, 0),
    };
    facts.kernel_log = Fact::Ok(KernelLog {
        source: "/dev/kmsg".into(),
        from_boot,
        total: total + lines.len() as u64,
        lines: lines.clone(),
    });

    let users = vec![user.clone()];
    let red = redact::redact_with_users(&facts, Some(&host), &users)
        .expect("redaction keeps the facts shape");
    assert!(red.source.redacted);

    // (b) the verdicts.
    assert_eq!(
        statuses(&red),
        statuses(&facts),
        "redaction changed a verdict (host {host:?}, user {user:?})"
    );

    // (a) the planted names.
    let host_checked = host.len() >= 2 && host != "localhost";
    let user_checked = user.len() >= 3;
    let red_version = red.kernel.version.ok().cloned().unwrap_or_default();
    let red_cmdline = red.kernel.cmdline.ok().cloned().unwrap_or_default();
    let red_log = red
        .kernel_log
        .ok()
        .map(|l| l.lines.join("\n"))
        .unwrap_or_default();
    let seed_log = lines[2 + log_plain.len()..].join("\n");
    let plain_log = format!(
        "Linux version 6.1.0 (#) {tail}\nsystemd[1]: Hostname set to <#>.\n{}\n{seed_log}",
        log_plain.join("\n")
    );
    for (name, checked) in [(&host, host_checked), (&user, user_checked)] {
        if !checked {
            continue;
        }
        assert!(
            words(&red_version, name) <= words(&version_plain, name),
            "{name:?} left in proc/version: {red_version:?}"
        );
        assert!(
            words(&red_cmdline, name) <= words(&cmdline_plain, name),
            "{name:?} left in the command line: {red_cmdline:?}"
        );
        if !redact::log_keeps(&facts, name) {
            assert!(
                words(&red_log, name) <= words(&plain_log, name),
                "{name:?} left in the kernel log: {red_log:?}"
            );
        }
    }
});
