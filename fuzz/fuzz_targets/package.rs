//! `preflight::source::inspect` on a file holding arbitrary bytes: whatever the file
//! looks like (a .deb, an Arch package, an RPM, an image, nothing known), it is a
//! kernel image or a clear error, never a panic or a hang.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use surface_check::preflight::source::{self, Caps};
use surface_check::profiles::SURFACE_BOOK_2;
use surface_check::root::Root;

/// A directory of this process's own for the file inspected.
fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d =
            std::env::temp_dir().join(format!("surface-check-fuzz-package.{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a scratch directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let caps = Caps {
        max_unpacked: 16 << 20,
        max_entries: 4096,
        max_kept_file: 1 << 20,
    };
    std::fs::write(dir().join("package"), data).expect("writing the input");
    let root = Root::open(dir()).expect("the scratch directory as root");
    if let Ok(k) = source::inspect(&root, "/package", &SURFACE_BOOK_2, &caps)
        && let Some(r) = &k.release
    {
        assert!(common::one_line(r), "{r:?}");
    }
});
