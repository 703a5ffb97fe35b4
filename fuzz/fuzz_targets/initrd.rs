//! `preflight::archive::initrd_modules` on arbitrary bytes: concatenated cpio (newc)
//! archives, raw or gzip/xz/zstd compressed, as an initrd holds them.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::preflight::archive;
use surface_check::preflight::source::Caps;

fuzz_target!(|data: &[u8]| {
    // Small caps: a bomb ends at them, and each input stays fast.
    let caps = Caps {
        max_unpacked: 16 << 20,
        max_entries: 4096,
        max_kept_file: 1 << 20,
    };
    let mut r = data;
    if let Ok(modules) = archive::initrd_modules(&mut r, &caps) {
        for m in &modules {
            assert!(common::is_module_name(m), "{m:?}");
        }
        assert!(modules.len() as u64 <= caps.max_entries);
    }
});
