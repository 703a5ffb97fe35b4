//! `Facts::from_json` on arbitrary bytes (a capture file given to `status --from`),
//! then everything `status` does with the facts: diagnose, serialize the report,
//! render it. A capture that parses must never make any of these panic.
//!
//! Also checked on parsed facts: they round-trip through JSON unchanged, and
//! redaction (as `capture` does, with the last component of `source.root` as the
//! host name) keeps them parseable.
//!
//! Random bytes almost never stay a valid capture, so the mutator works on the JSON
//! tree most of the time: it changes one value (a string, a number, a `Fact`
//! variant), drops or duplicates a list entry or drops a key, and writes the tree
//! back. The rest of the time it mutates bytes, which covers malformed input.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use serde_json::{Value, json};
use surface_check::checks;
use surface_check::cli::render;
use surface_check::facts::{Facts, redact};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::report::Report;

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = Facts::from_json(data) else {
        return;
    };

    let report = checks::diagnose(&facts, &SURFACE_BOOK_2, "capture fuzz.json");
    let json = serde_json::to_string(&report).expect("the report serializes");
    let back: Report = serde_json::from_str(&json).expect("the report parses back");
    assert_eq!(back, report, "the report round-trips");
    let _ = report.exit_code();
    let _ = render::human(&report, false, false);
    let _ = render::human(&report, true, true);

    let bytes = serde_json::to_vec(&facts).expect("facts serialize");
    let again = Facts::from_json(&bytes).expect("serialized facts parse");
    assert_eq!(again, facts, "facts round-trip");

    let host = facts.source.root.rsplit('/').next();
    let redacted = redact::redact(&facts, host).expect("redaction keeps the facts shape");
    assert!(redacted.source.redacted);
    let _ = checks::diagnose(&redacted, &SURFACE_BOOK_2, "capture fuzz.json");
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed) ^ 0x9e37_79b9_7f4a_7c15);
    if rng.below(8) != 0
        && let Ok(mut tree) = serde_json::from_slice::<Value>(&data[..size])
    {
        mutate_tree(&mut tree, &mut rng);
        if let Ok(out) = serde_json::to_vec(&tree)
            && out.len() <= max_size
        {
            data[..out.len()].copy_from_slice(&out);
            return out.len();
        }
    }
    fuzzer_mutate(data, size, max_size)
});

/// splitmix64: enough randomness for picking nodes, seeded by libFuzzer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(m) => m.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node in pre-order.
fn nth<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth(x, n)),
        Value::Object(m) => m.values_mut().find_map(|x| nth(x, n)),
        _ => None,
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn mutate_tree(tree: &mut Value, rng: &mut Rng) {
    let mut pool = Vec::new();
    strings(tree, &mut pool);
    let mut n = rng.below(count(tree));
    let Some(node) = nth(tree, &mut n) else {
        return;
    };
    match node {
        Value::String(s) => match rng.below(4) {
            // Another value of the same document: a driver name where a device
            // name was, a path where a state was.
            0 if !pool.is_empty() => *s = pool[rng.below(pool.len())].clone(),
            1 => s.clear(),
            _ => {
                let mut b = s.clone().into_bytes();
                let len = b.len();
                b.resize(len * 2 + 16, 0);
                let new = fuzzer_mutate(&mut b, len, len * 2 + 16);
                b.truncate(new);
                *s = String::from_utf8_lossy(&b).into_owned();
            }
        },
        Value::Number(_) => {
            *node = match rng.below(6) {
                0 => json!(0),
                1 => json!(1),
                2 => json!(u64::MAX),
                3 => json!(-1),
                4 => json!(u16::MAX),
                _ => json!(rng.next() >> rng.below(64)),
            }
        }
        Value::Bool(b) => *b = !*b,
        Value::Array(a) => match rng.below(3) {
            0 if !a.is_empty() => {
                a.remove(rng.below(a.len()));
            }
            1 if !a.is_empty() => {
                let x = a[rng.below(a.len())].clone();
                a.insert(rng.below(a.len() + 1), x);
            }
            _ => a.clear(),
        },
        Value::Object(m) => {
            let is_fact = m.len() == 1
                && m.keys()
                    .all(|k| matches!(k.as_str(), "ok" | "absent" | "unknown"));
            if is_fact && rng.below(2) == 0 {
                // The same fact, failed another way.
                *node = match rng.below(2) {
                    0 => json!({ "absent": { "path": "sys/fuzz" } }),
                    _ => json!({ "unknown": { "path": "sys/fuzz", "reason": "fuzz" } }),
                };
            } else if !m.is_empty() {
                let key = m.keys().nth(rng.below(m.len())).cloned();
                if let Some(k) = key {
                    m.remove(&k);
                }
            }
        }
        Value::Null => *node = Value::String(String::new()),
    }
}
