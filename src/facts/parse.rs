//! Parsers for the formats the kernel, udev and distributions write. Every one takes
//! untrusted bytes: it never panics, bounds its output, and rejects what it cannot
//! understand with a reason. Each has a fuzz target in `fuzz/`.

use std::collections::{BTreeMap, BTreeSet};

use std::io::BufRead;

use super::{LoadedModule, ModAlias};

/// A value that could not be parsed, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// Longest line the streamed parsers accept (the kernel's command line, the longest
/// config value, is at most 4 KiB).
pub const MAX_LINE: usize = 16 << 10;
/// Most options a kernel config may set (a full x86 config sets about 10,000).
pub const MAX_CONFIG_OPTIONS: usize = 65_536;
/// Most modules a module index may list (a distribution kernel has about 6,000).
pub const MAX_MODULES: usize = 65_536;
/// Most bytes of names and values a streamed parse keeps.
pub const MAX_KEPT: usize = 8 << 20;

/// Calls `f` on each line of `r` (without the `\n` or a trailing `\r`, lossy UTF-8),
/// as `str::lines` splits text, holding one line at a time. A line longer than
/// [`MAX_LINE`] or a read error ends it with an error.
pub fn for_each_line<R: std::io::BufRead + ?Sized>(
    r: &mut R,
    mut f: impl FnMut(&str) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut *r, MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|e| ParseError(e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if line.len() > MAX_LINE {
            return err(format!("a line longer than {MAX_LINE} bytes"));
        }
        f(&String::from_utf8_lossy(&line))?;
    }
}

/// Counts what a streamed parse keeps, against [`MAX_KEPT`].
struct Kept(usize);

impl Kept {
    fn add(&mut self, n: usize) -> Result<(), ParseError> {
        self.0 += n;
        if self.0 > MAX_KEPT {
            return err(format!("more than {} MiB of entries", MAX_KEPT >> 20));
        }
        Ok(())
    }
}

/// Kernel `.config` text: `CONFIG_X=y|m|"str"|123` lines; `# CONFIG_X is not set`
/// and comments are skipped. Returns option names without the `CONFIG_` prefix.
/// Rejects text with no option at all (garbage, or not a config).
pub fn kernel_config(text: &str) -> Result<BTreeMap<String, String>, ParseError> {
    kernel_config_from(&mut text.as_bytes())
}

/// [`kernel_config`] as a stream: only `CONFIG_` option lines are kept, at most
/// [`MAX_CONFIG_OPTIONS`] of them.
pub fn kernel_config_from<R: std::io::BufRead + ?Sized>(
    r: &mut R,
) -> Result<BTreeMap<String, String>, ParseError> {
    let mut out = BTreeMap::new();
    let mut bad = 0usize;
    let mut kept = Kept(0);
    for_each_line(r, |line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        match line
            .strip_prefix("CONFIG_")
            .and_then(|rest| rest.split_once('='))
        {
            Some((name, value))
                if !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                let value = value.trim_matches('"');
                kept.add(name.len() + value.len())?;
                out.insert(name.to_string(), value.to_string());
                if out.len() > MAX_CONFIG_OPTIONS {
                    return err(format!("more than {MAX_CONFIG_OPTIONS} options"));
                }
            }
            _ => bad += 1,
        }
        Ok(())
    })?;
    if out.is_empty() {
        return err(format!("no CONFIG_ option in {} non-comment lines", bad));
    }
    Ok(out)
}

/// `/proc/modules`: `name size refcount deps state address [taint]`.
pub fn proc_modules(text: &str) -> Result<BTreeMap<String, LoadedModule>, ParseError> {
    proc_modules_from(&mut text.as_bytes())
}

/// [`proc_modules`] as a stream, at most [`MAX_MODULES`] modules.
pub fn proc_modules_from<R: std::io::BufRead + ?Sized>(
    r: &mut R,
) -> Result<BTreeMap<String, LoadedModule>, ParseError> {
    let mut out = BTreeMap::new();
    let mut n = 0usize;
    let mut kept = Kept(0);
    for_each_line(r, |line| {
        n += 1;
        if line.trim().is_empty() {
            return Ok(());
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            return err(format!("line {n}: {} fields, expected at least 6", f.len()));
        }
        let name = f[0];
        if !valid_module_name(name) {
            return err(format!("line {n}: bad module name"));
        }
        let size = f[1]
            .parse::<u64>()
            .map_err(|_| ParseError(format!("line {n}: bad size")))?;
        let refcount = f[2]
            .parse::<i64>()
            .map_err(|_| ParseError(format!("line {n}: bad refcount")))?;
        let used_by: Vec<String> = if f[3] == "-" {
            Vec::new()
        } else {
            f[3].split(',')
                .filter(|s| !s.is_empty())
                .map(normalize_module)
                .collect()
        };
        let taint = f
            .get(6)
            .map(|t| t.trim_matches(|c| c == '(' || c == ')').to_string())
            .unwrap_or_default();
        kept.add(line.len())?;
        out.insert(
            normalize_module(name),
            LoadedModule {
                name: normalize_module(name),
                size,
                refcount,
                used_by,
                state: f[4].to_string(),
                taint,
            },
        );
        if out.len() > MAX_MODULES {
            return err(format!("more than {MAX_MODULES} modules"));
        }
        Ok(())
    })?;
    Ok(out)
}

fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Module names are compared with `-` folded to `_`, as the kernel does.
pub fn normalize_module(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a path in `modules.dep`/`modules.builtin`:
/// `kernel/drivers/hid/ipts/ipts.ko.zst` -> `ipts`.
pub fn module_name_of_path(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split_once(".ko").map(|(s, _)| s)?;
    if valid_module_name(stem) {
        Some(normalize_module(stem))
    } else {
        None
    }
}

/// `modules.dep`: `path: dep dep ...` -> module name -> path.
pub fn modules_dep(text: &str) -> Result<BTreeMap<String, String>, ParseError> {
    modules_dep_from(&mut text.as_bytes())
}

/// [`modules_dep`] as a stream: the dependency lists are not kept, and at most
/// [`MAX_MODULES`] modules are.
pub fn modules_dep_from<R: std::io::BufRead + ?Sized>(
    r: &mut R,
) -> Result<BTreeMap<String, String>, ParseError> {
    let mut out = BTreeMap::new();
    let mut kept = Kept(0);
    for_each_line(r, |line| {
        let Some((path, _deps)) = line.split_once(':') else {
            if line.trim().is_empty() {
                return Ok(());
            }
            return err("line without ':'");
        };
        match module_name_of_path(path.trim()) {
            Some(name) => {
                kept.add(name.len() + path.trim().len())?;
                out.insert(name, path.trim().to_string());
                if out.len() > MAX_MODULES {
                    return err(format!("more than {MAX_MODULES} modules"));
                }
                Ok(())
            }
            None => err("entry that is not a .ko path"),
        }
    })?;
    Ok(out)
}

/// `modules.builtin`: one `kernel/.../name.ko` per line.
pub fn modules_builtin(text: &str) -> Result<BTreeSet<String>, ParseError> {
    modules_builtin_from(&mut text.as_bytes())
}

/// [`modules_builtin`] as a stream, at most [`MAX_MODULES`] names.
pub fn modules_builtin_from<R: std::io::BufRead + ?Sized>(
    r: &mut R,
) -> Result<BTreeSet<String>, ParseError> {
    let mut out = BTreeSet::new();
    let mut kept = Kept(0);
    for_each_line(r, |line| {
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        match module_name_of_path(line) {
            Some(n) => {
                kept.add(n.len())?;
                out.insert(n);
                if out.len() > MAX_MODULES {
                    return err(format!("more than {MAX_MODULES} modules"));
                }
                Ok(())
            }
            None => err("entry that is not a .ko path"),
        }
    })?;
    Ok(out)
}

/// `modules.alias`: `alias PATTERN MODULE`, keeping only modules in `wanted`.
pub fn modules_alias(text: &str, wanted: &BTreeSet<String>) -> Result<Vec<ModAlias>, ParseError> {
    modules_alias_from(&mut text.as_bytes(), wanted)
}

/// [`modules_alias`] as a stream, at most [`MAX_MODULES`] aliases kept.
pub fn modules_alias_from<R: std::io::BufRead + ?Sized>(
    r: &mut R,
    wanted: &BTreeSet<String>,
) -> Result<Vec<ModAlias>, ParseError> {
    let mut out = Vec::new();
    let mut kept = Kept(0);
    for_each_line(r, |line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut f = line.split_whitespace();
        match (f.next(), f.next(), f.next(), f.next()) {
            (Some("alias"), Some(pattern), Some(module), None) => {
                let module = normalize_module(module);
                if wanted.contains(&module) {
                    kept.add(pattern.len() + module.len())?;
                    out.push(ModAlias {
                        pattern: pattern.to_string(),
                        module,
                    });
                    if out.len() > MAX_MODULES {
                        return err(format!("more than {MAX_MODULES} aliases"));
                    }
                }
                Ok(())
            }
            _ => err("line that is not `alias PATTERN MODULE`"),
        }
    })?;
    Ok(out)
}

/// `KEY=VALUE` lines (`uevent`, `os-release`); quotes around values are removed.
/// Lines without `=` are rejected, as are keys that are not identifiers.
pub fn key_values(text: &str) -> Result<BTreeMap<String, String>, ParseError> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return err("line without '='");
        };
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return err("bad key");
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// A udev database record (`run/udev/data/c13:64`): the `E:KEY=VALUE` properties.
/// Other record types (`S:`, `G:`, `I:`, `L:`, `W:`, `Q:`, `V:`) are skipped.
pub fn udev_db(text: &str) -> Result<BTreeMap<String, String>, ParseError> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Some((tag, rest)) = line.split_once(':') else {
            return err("line without a record tag");
        };
        if tag.len() != 1 {
            return err("record tag longer than one letter");
        }
        if tag == "E" {
            let Some((k, v)) = rest.split_once('=') else {
                return err("E: record without '='");
            };
            out.insert(k.to_string(), v.to_string());
        }
    }
    Ok(out)
}

/// A sysfs capability bitmap (`capabilities/key`): space-separated hex words, most
/// significant first, each a kernel `long` (64 bits here). Returns the set bit numbers.
/// Bitmaps wider than 16 words (1024 bits, past `KEY_MAX`) are rejected.
pub fn bitmap(text: &str) -> Result<Vec<u16>, ParseError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return err("empty bitmap");
    }
    if words.len() > 16 {
        return err(format!("{} words, more than 16", words.len()));
    }
    let mut bits = Vec::new();
    for (i, w) in words.iter().rev().enumerate() {
        if w.is_empty() || w.len() > 16 {
            return err("word longer than 64 bits");
        }
        let v =
            u64::from_str_radix(w, 16).map_err(|_| ParseError(format!("bad hex word {w:?}")))?;
        for b in 0..64 {
            if v & (1 << b) != 0 {
                bits.push((i * 64 + b) as u16);
            }
        }
    }
    Ok(bits)
}

/// A hex attribute such as `id/vendor` (`045e`) or PCI `vendor` (`0x8086`).
pub fn hex_u16(text: &str) -> Result<u16, ParseError> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u16::from_str_radix(t, 16).map_err(|_| ParseError(format!("bad hex value {t:?}")))
}

/// A decimal attribute such as `proc/sys/kernel/tainted`.
pub fn dec_u64(text: &str) -> Result<u64, ParseError> {
    text.trim()
        .parse()
        .map_err(|_| ParseError("not a decimal number".into()))
}

/// A HID device name `BBBB:VVVV:PPPP.NNNN` -> (bus, vendor, product).
pub fn hid_name(name: &str) -> Option<(u16, u16, u16)> {
    let (ids, _inst) = name.split_once('.')?;
    let mut f = ids.split(':');
    let bus = u16::from_str_radix(f.next()?, 16).ok()?;
    let vendor = u16::from_str_radix(f.next()?, 16).ok()?;
    let product = u16::from_str_radix(f.next()?, 16).ok()?;
    if f.next().is_some() {
        return None;
    }
    Some((bus, vendor, product))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines() {
        let c = kernel_config(
            "#\n# Automatically generated\nCONFIG_HID_IPTS=m\n# CONFIG_INTEL_ATOMISP is not set\nCONFIG_LOCALVERSION=\"-surface\"\nCONFIG_NR_CPUS=64\n",
        )
        .unwrap();
        assert_eq!(c["HID_IPTS"], "m");
        assert_eq!(c["LOCALVERSION"], "-surface");
        assert_eq!(c["NR_CPUS"], "64");
        assert!(!c.contains_key("INTEL_ATOMISP"));
        assert!(kernel_config("\u{fffd}\u{fffd}garbage\n").is_err());
        assert!(kernel_config("").is_err());
    }

    #[test]
    fn proc_modules_lines() {
        let m = proc_modules(
            "ipts 40960 0 - Live 0x0000000000000000\nmei_me 53248 1 ipts, Live 0x0 (OE)\nsnd-hda 1 0 - Loading 0x0\n",
        )
        .unwrap();
        assert_eq!(m["ipts"].size, 40960);
        assert_eq!(m["mei_me"].used_by, vec!["ipts"]);
        assert_eq!(m["mei_me"].taint, "OE");
        assert_eq!(m["snd_hda"].state, "Loading");
        assert!(proc_modules("ipts 12 x - Live 0x0").is_err());
        assert!(proc_modules("short line").is_err());
        assert!(proc_modules("").unwrap().is_empty());
    }

    #[test]
    fn module_tree_files() {
        let dep = modules_dep(
            "kernel/drivers/hid/ipts/ipts.ko.zst: kernel/drivers/misc/mei/mei.ko.zst\nkernel/drivers/platform/surface/surface_dtx.ko.xz:\n",
        )
        .unwrap();
        assert_eq!(dep["ipts"], "kernel/drivers/hid/ipts/ipts.ko.zst");
        assert!(dep.contains_key("surface_dtx"));
        assert!(modules_dep("nonsense").is_err());
        let b = modules_builtin("kernel/drivers/pinctrl/intel/pinctrl-sunrisepoint.ko\n").unwrap();
        assert!(b.contains("pinctrl_sunrisepoint"));
        assert!(modules_builtin("/etc/passwd\n").is_err());
        let wanted: BTreeSet<String> = ["ipts".to_string()].into();
        let a = modules_alias(
            "# Aliases\nalias mei:*:3e8d0870-271a-4208-8eb5-9acb9402ae04:*:* ipts\nalias pci:v00008086d* other\n",
            &wanted,
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].module, "ipts");
        assert!(modules_alias("alias only-two", &wanted).is_err());
    }

    #[test]
    fn key_value_and_udev() {
        let kv = key_values("NAME=\"NixOS\"\nID=nixos\nPOWER_SUPPLY_CAPACITY=87\n").unwrap();
        assert_eq!(kv["NAME"], "NixOS");
        assert_eq!(kv["POWER_SUPPLY_CAPACITY"], "87");
        assert!(key_values("no equals sign").is_err());
        let u =
            udev_db("S:input/by-path/x\nI:123\nE:ID_INPUT=1\nE:ID_INPUT_TOUCHSCREEN=1\nG:seat\n")
                .unwrap();
        assert_eq!(u["ID_INPUT_TOUCHSCREEN"], "1");
        assert_eq!(u.len(), 2);
        assert!(udev_db("garbage").is_err());
    }

    #[test]
    fn bitmaps() {
        // EV_SYN, EV_KEY, EV_ABS = bits 0, 1, 3.
        assert_eq!(bitmap("b\n").unwrap(), vec![0, 1, 3]);
        // Second word from the right is bits 64..128: BTN_TOUCH = 330 = 5*64 + 10.
        let key = bitmap("400 0 0 0 0 0").unwrap();
        assert_eq!(key, vec![330]);
        assert!(bitmap("").is_err());
        assert!(bitmap("zz").is_err());
        assert!(bitmap("10000000000000000").is_err());
        assert!(bitmap(&"1 ".repeat(17)).is_err());
    }

    #[test]
    fn hex_and_hid_names() {
        assert_eq!(hex_u16("0x9d3e\n").unwrap(), 0x9d3e);
        assert_eq!(hex_u16("045e").unwrap(), 0x045e);
        assert!(hex_u16("0x123456").is_err());
        assert_eq!(hid_name("0000:045E:0021.0003"), Some((0, 0x045e, 0x21)));
        assert_eq!(hid_name("0003:045E:0922.0001"), Some((3, 0x045e, 0x0922)));
        assert_eq!(hid_name("nonsense"), None);
    }
}
