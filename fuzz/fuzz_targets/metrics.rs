//! The Prometheus text `surface-check metrics` writes, from reports carrying
//! fuzzer-chosen strings where the machine supplies them.
//!
//! Input: one byte choosing a seed capture (`fuzz/seeds/facts_json`), diagnosed into a
//! report, then fields separated by NUL bytes planted into it: the kernel release, the
//! machine model, the ids of the first subsystems, and the kernel's `uname -v`.
//!
//! Checked: every line is a `# HELP`, a `# TYPE NAME gauge` or a sample
//! `NAME{LABEL="VALUE",...} NUMBER` of the family whose TYPE came last; label values
//! hold no raw line feed or unescaped quote and only `\\`, `\"` and `\n` escapes;
//! no series (name and label set) is written twice; the text ends with a newline.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use surface_check::checks;
use surface_check::facts::Facts;
use surface_check::metrics::{self, Assessment, KernelIdentity, Run};
use surface_check::profiles::SURFACE_BOOK_2;

const SEEDS: [&[u8]; 4] = [
    include_bytes!("../seeds/facts_json/sb2-15-nixos.json"),
    include_bytes!("../seeds/facts_json/sb2-13-stock.json"),
    include_bytes!("../seeds/facts_json/sb2-15-detached.json"),
    include_bytes!("../seeds/facts_json/empty.json"),
];

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Parses `{a="x",b="y"}` from the start of `s`; returns the labels and the rest.
fn labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut rest = s.strip_prefix('{')?;
    let mut out = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Some((out, r));
        }
        let eq = rest.find('=')?;
        let name = &rest[..eq];
        assert!(is_name(name), "label name {name:?}");
        rest = rest[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    e @ ('\\' | '"' | 'n') => value.push(e),
                    e => panic!("escape \\{e} in a label value"),
                },
                '\n' => panic!("raw line feed in a label value"),
                c => value.push(c),
            }
        };
        out.push((name.to_string(), value));
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn check(text: &str) {
    assert!(text.ends_with('\n'), "no final newline");
    let mut family: Option<&str> = None;
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let name = help.split(' ').next().unwrap_or("");
            assert!(is_name(name), "HELP of {name:?}");
            continue;
        }
        if let Some(ty) = line.strip_prefix("# TYPE ") {
            let (name, kind) = ty.split_once(' ').expect("TYPE NAME KIND");
            assert!(is_name(name) && kind == "gauge", "TYPE line {line:?}");
            family = Some(name);
            continue;
        }
        assert!(!line.starts_with('#'), "comment {line:?}");
        let end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("sample without value: {line:?}"));
        let name = &line[..end];
        assert_eq!(Some(name), family, "sample of another family: {line:?}");
        let (set, rest) = if line[end..].starts_with('{') {
            labels(&line[end..]).unwrap_or_else(|| panic!("bad labels: {line:?}"))
        } else {
            (Vec::new(), &line[end..])
        };
        let value = rest.strip_prefix(' ').expect("a space before the value");
        assert!(value.parse::<f64>().is_ok(), "value {value:?} in {line:?}");
        assert!(
            seen.insert((name.to_string(), set)),
            "duplicate series {line:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(facts) = Facts::from_json(SEEDS[usize::from(which) % SEEDS.len()]) else {
        return;
    };
    let mut report = checks::diagnose(&facts, &SURFACE_BOOK_2, "fuzz");
    let mut fields = rest
        .split(|&b| b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    if let Some(f) = fields.next() {
        report.kernel.release = Some(f);
    }
    if let Some(f) = fields.next() {
        report.machine.model = f;
    }
    let version = fields.next();
    for sub in report.subsystems.iter_mut().take(3) {
        match fields.next() {
            Some(f) => sub.id = f,
            None => break,
        }
    }
    let kernel = KernelIdentity {
        version,
        nixos_generation: Some(u32::from(which)),
    };
    let history = Assessment::Unavailable("fuzz".into());
    let text = metrics::render(
        &report,
        &kernel,
        &history,
        Run {
            now: 1.0,
            duration: 0.5,
        },
    );
    check(&text);
});
