//! `parse::proc_modules` on arbitrary text (`/proc/modules`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(modules) = parse::proc_modules(&text) else {
        return;
    };
    assert!(modules.len() <= common::lines(&text));
    for (name, m) in &modules {
        assert_eq!(name, &m.name, "keyed by its own name");
        assert!(common::is_module_name(name), "module name {name:?}");
        assert_eq!(parse::normalize_module(name), *name, "normalized");
        for user in &m.used_by {
            assert!(
                !user.is_empty()
                    && !user.contains(',')
                    && !user.contains('-')
                    && !user.contains(char::is_whitespace),
                "used_by entry {user:?}"
            );
        }
        assert!(
            !m.state.is_empty() && !m.state.contains(char::is_whitespace),
            "state {:?}",
            m.state
        );
        assert!(
            !m.taint.contains(char::is_whitespace),
            "taint {:?}",
            m.taint
        );
    }
});
