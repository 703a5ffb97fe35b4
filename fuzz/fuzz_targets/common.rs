//! Invariants shared by the fuzz targets.

#![allow(dead_code)]

/// A `CONFIG_` option name without its prefix: ASCII letters, digits and `_`.
pub fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A normalized module name: at most 64 bytes of ASCII letters, digits and `_`.
pub fn is_module_name(s: &str) -> bool {
    s.len() <= 64 && is_ident(s)
}

/// A parsed value comes from one line: it never spans a newline.
pub fn one_line(s: &str) -> bool {
    !s.contains('\n')
}

/// The number of lines `str::lines` sees: no parser returns more entries than this.
pub fn lines(text: &str) -> usize {
    text.lines().count()
}
