//! DMI, OS release, kernel identity and the running kernel's config.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use super::{Dmi, Fact, Kernel, KernelConfig, Os, parse, parsed, text};
use crate::root::Root;

pub fn os(root: &Root) -> Os {
    let path = "etc/os-release";
    let os_release = parsed(root, path, parse::key_values);
    let id_nixos = os_release
        .ok()
        .and_then(|kv| kv.get("ID"))
        .is_some_and(|id| id == "nixos");
    Os {
        is_nixos: id_nixos || root.exists("etc/NIXOS"),
        os_release,
    }
}

pub fn dmi(root: &Root) -> Dmi {
    let d = |attr: &str| text(root, &format!("sys/class/dmi/id/{attr}"));
    Dmi {
        sys_vendor: d("sys_vendor"),
        product_name: d("product_name"),
        product_sku: d("product_sku"),
        product_family: d("product_family"),
        product_version: d("product_version"),
        board_name: d("board_name"),
        bios_version: d("bios_version"),
        chassis_type: d("chassis_type"),
    }
}

pub fn kernel(root: &Root) -> Kernel {
    let tainted_path = "proc/sys/kernel/tainted";
    let tainted = parsed(root, tainted_path, parse::dec_u64);
    let release_path = "proc/sys/kernel/osrelease";
    let release = match root.read_text(release_path) {
        Ok(r) if valid_release(&r) => Fact::Ok(r),
        Ok(_) => Fact::unparseable(release_path, "not a kernel release string"),
        Err(e) => Fact::from_read(release_path, Err(e)),
    };
    let boot_id_path = "proc/sys/kernel/random/boot_id";
    let boot_id = match root.read_text(boot_id_path) {
        Ok(b) if valid_boot_id(&b) => Fact::Ok(b),
        Ok(_) => Fact::unparseable(boot_id_path, "not a boot id (a UUID)"),
        Err(e) => Fact::from_read(boot_id_path, Err(e)),
    };
    Kernel {
        release,
        version: text(root, "proc/version"),
        cmdline: text(root, "proc/cmdline"),
        tainted,
        boot_id,
    }
}

/// A boot id as the kernel writes it: a UUID, 36 characters of hex digits and
/// dashes.
pub fn valid_boot_id(b: &str) -> bool {
    b.len() == 36
        && b.bytes().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A release is used to build paths (`lib/modules/<release>`): it must be one
/// plain path component.
pub fn valid_release(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 128
        && r != "."
        && r != ".."
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+~".contains(&b))
}

/// The running kernel's config: `proc/config.gz`, else `boot/config-<release>`.
///
/// Both are parsed as streams, keeping only the `CONFIG_` options: the compressed
/// file is capped at [`crate::root::Limits::max_large_file`], and so is what it
/// decompresses to, every gzip member of it read (`MultiGzDecoder`).
pub fn config(root: &Root, release: Option<&str>) -> Fact<KernelConfig> {
    let cap = root.limits().max_large_file;
    let gz = "proc/config.gz";
    let first = match root.read_stream(gz, cap, |r| decode_gz(r, cap)) {
        Ok(parsed) => Some(config_fact(gz, parsed)),
        Err(e) if e.is_not_found() => None,
        Err(e) => Some(Fact::from_read(gz, Err(e))),
    };
    if let Some(Fact::Ok(c)) = first {
        return Fact::Ok(c);
    }
    if let Some(release) = release {
        let path = format!("boot/config-{release}");
        match root.read_stream(&path, cap, |r| {
            parse::kernel_config_from(r).map_err(|e| e.to_string())
        }) {
            Ok(parsed) => return config_fact(&path, parsed),
            Err(e) if e.is_not_found() => {}
            Err(e) => return first.unwrap_or(Fact::from_read(&path, Err(e))),
        }
    }
    first.unwrap_or(Fact::Absent {
        path: format!(
            "/proc/config.gz, /boot/config-{}",
            release.unwrap_or("<release>")
        ),
    })
}

fn config_fact(path: &str, parsed: Result<BTreeMap<String, String>, String>) -> Fact<KernelConfig> {
    match parsed {
        Ok(options) => Fact::Ok(KernelConfig {
            source: format!("/{path}"),
            options,
        }),
        Err(e) => Fact::unparseable(path, e),
    }
}

/// Decompresses every member of a gzip stream, at most `cap` bytes of output, into
/// the config's options.
pub fn decode_gz(r: &mut dyn BufRead, cap: u64) -> Result<BTreeMap<String, String>, String> {
    let mut out = BufReader::new(GzErrors(MultiGzDecoder::new(r)).take(cap + 1));
    let parsed = parse::kernel_config_from(&mut out);
    if out.get_ref().limit() == 0 {
        return Err("decompresses past the size cap".into());
    }
    parsed.map_err(|e| e.to_string())
}

/// Names gzip's errors as such.
struct GzErrors<R>(R);

impl<R: Read> Read for GzErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("gzip: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_single_components() {
        assert!(valid_release("6.19.8-surface-3"));
        assert!(valid_release("6.6.4-arch1-1-surface"));
        assert!(!valid_release("../../etc"));
        assert!(!valid_release(""));
        assert!(!valid_release("a/b"));
    }

    #[test]
    fn a_boot_id_is_a_uuid_and_nothing_else() {
        assert!(valid_boot_id("3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"));
        for bad in [
            "",
            "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b",
            "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6",
            "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6bX",
            "../../../../etc/passwd-aaaaaaaaaaaaaaaa",
            "3f2a9c1e-5b7d-4e8f-9a0b_1c2d3e4f5a6b",
        ] {
            assert!(!valid_boot_id(bad), "{bad:?}");
        }
    }
}
