//! `parse::key_values` on arbitrary text (`uevent`, `etc/os-release`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(kv) = parse::key_values(&text) else {
        return;
    };
    assert!(kv.len() <= common::lines(&text));
    for (k, v) in &kv {
        assert!(
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
            "key {k:?}"
        );
        assert!(common::one_line(v), "value {v:?} spans lines");
        // Quotes go, what they enclose stays as written (spaces included).
        assert!(text.contains(v.as_str()), "value {v:?} not in the text");
    }
});
