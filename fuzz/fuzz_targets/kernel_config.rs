//! `parse::kernel_config` on arbitrary text (`/proc/config.gz`, `/boot/config-*`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(options) = parse::kernel_config(&text) else {
        return;
    };
    assert!(!options.is_empty(), "Ok with no option");
    assert!(options.len() <= common::lines(&text));
    for (name, value) in &options {
        assert!(common::is_ident(name), "option name {name:?}");
        assert!(common::one_line(value), "value {value:?} spans lines");
        assert!(
            !value.starts_with('"') && !value.ends_with('"'),
            "value {value:?} keeps its quotes"
        );
        assert!(
            text.contains(&format!("CONFIG_{name}=")),
            "option {name:?} not in the text"
        );
    }
});
