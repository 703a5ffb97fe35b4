//! `kmsg::parse_bytes` on arbitrary bytes (`/dev/kmsg` records, `dmesg` and
//! `journalctl -k` output, hw-probe uploads given with `--dmesg`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use surface_check::facts::kmsg;

fuzz_target!(|data: &[u8]| {
    let log = kmsg::parse_bytes(
        data,
        surface_check::profiles::SURFACE_BOOK_2.log_needles,
        "fuzz",
        true,
    );
    let text = String::from_utf8_lossy(data);
    assert_eq!(log.source, "fuzz");
    assert!(log.lines.len() <= kmsg::MAX_LINES);
    assert!(
        log.lines.len() as u64 <= log.total,
        "more lines than messages"
    );
    assert!(
        log.total as usize <= common::lines(&text),
        "more messages than lines"
    );
    for l in &log.lines {
        assert!(!l.is_empty() && l.len() <= kmsg::MAX_LINE, "line {l:?}");
        assert!(common::one_line(l), "line {l:?} spans lines");
        assert_eq!(l.trim(), l, "line {l:?} is not trimmed");
        assert!(text.contains(l.as_str()), "line {l:?} not in the text");
        assert!(
            surface_check::profiles::SURFACE_BOOK_2
                .log_needles
                .iter()
                .any(|n| kmsg::matches(l, n))
                || text.lines().any(|t| t.len() > kmsg::MAX_LINE),
            "line {l:?} matches no needle"
        );
    }
    if log.from_boot {
        assert!(
            text.contains("Linux version "),
            "from_boot without the first message"
        );
    }
});
