//! `parse::modules_dep` on arbitrary text (`lib/modules/<release>/modules.dep`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(dep) = parse::modules_dep(&text) else {
        return;
    };
    assert!(dep.len() <= common::lines(&text));
    for (name, path) in &dep {
        assert!(common::is_module_name(name), "module name {name:?}");
        assert_eq!(
            parse::module_name_of_path(path).as_deref(),
            Some(name.as_str()),
            "{path:?} does not name {name:?}"
        );
        assert!(
            common::one_line(path) && !path.contains(':'),
            "path {path:?}"
        );
    }
});
