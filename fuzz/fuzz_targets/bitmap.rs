//! `parse::bitmap` on arbitrary text (sysfs `capabilities/*`, `properties`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(bits) = parse::bitmap(&text) else {
        return;
    };
    assert!(bits.iter().all(|&b| b < 1024), "bit past 1024: {bits:?}");
    assert!(
        bits.windows(2).all(|w| w[0] < w[1]),
        "bits not strictly increasing: {bits:?}"
    );
    // Written back as the kernel writes it, the same bits come out.
    let mut words = [0u64; 16];
    for &b in &bits {
        words[b as usize / 64] |= 1 << (b % 64);
    }
    let top = words.iter().rposition(|&w| w != 0).unwrap_or(0);
    let again: Vec<String> = words[..=top]
        .iter()
        .rev()
        .map(|w| format!("{w:x}"))
        .collect();
    assert_eq!(parse::bitmap(&again.join(" ")).as_ref(), Ok(&bits));
});
