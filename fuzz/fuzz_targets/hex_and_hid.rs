//! `parse::hex_u16`, `parse::dec_u64` and `parse::hid_name` on arbitrary text
//! (sysfs `id/vendor`, PCI `vendor`, `proc/sys/kernel/tainted`, HID device names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use surface_check::facts::parse;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = parse::hex_u16(&text) {
        assert_eq!(parse::hex_u16(&format!("{v:04x}\n")), Ok(v));
        assert_eq!(parse::hex_u16(&format!("0x{v:04X}")), Ok(v));
    }
    if let Ok(v) = parse::dec_u64(&text) {
        assert_eq!(parse::dec_u64(&format!("{v}\n")), Ok(v));
    }
    if let Some((bus, vendor, product)) = parse::hid_name(&text) {
        assert_eq!(
            parse::hid_name(&format!("{bus:04X}:{vendor:04X}:{product:04X}.0001")),
            Some((bus, vendor, product))
        );
    }
});
