//! `parse::modules_alias` on arbitrary text (`modules.alias`), filtered by the
//! Surface Book 2 profile's modules as the collector does.
#![no_main]

mod common;

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;
use surface_check::profiles::SURFACE_BOOK_2;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let wanted: BTreeSet<String> = SURFACE_BOOK_2
        .modules()
        .into_iter()
        .map(parse::normalize_module)
        .collect();
    let Ok(aliases) = parse::modules_alias(&text, &wanted) else {
        return;
    };
    assert!(aliases.len() <= common::lines(&text));
    for a in &aliases {
        assert!(wanted.contains(&a.module), "unwanted module {:?}", a.module);
        assert!(
            !a.pattern.is_empty() && !a.pattern.contains(char::is_whitespace),
            "pattern {:?}",
            a.pattern
        );
    }
});
