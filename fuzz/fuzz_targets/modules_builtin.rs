//! `parse::modules_builtin` on arbitrary text (`modules.builtin`), and
//! `parse::module_name_of_path` on every line of it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        if let Some(name) = parse::module_name_of_path(line) {
            assert!(common::is_module_name(&name), "{line:?} -> {name:?}");
        }
    }
    let Ok(builtin) = parse::modules_builtin(&text) else {
        return;
    };
    assert!(builtin.len() <= common::lines(&text));
    for name in &builtin {
        assert!(common::is_module_name(name), "module name {name:?}");
    }
});
