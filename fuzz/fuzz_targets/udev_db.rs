//! `parse::udev_db` on arbitrary text (`run/udev/data/c13:N`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(props) = parse::udev_db(&text) else {
        return;
    };
    assert!(props.len() <= common::lines(&text));
    for (k, v) in &props {
        assert!(!k.contains('='), "key {k:?} holds the separator");
        assert!(
            common::one_line(k) && common::one_line(v),
            "{k:?}={v:?} spans lines"
        );
        assert!(text.contains(&format!("E:{k}=")), "{k:?} not an E: record");
    }
});
