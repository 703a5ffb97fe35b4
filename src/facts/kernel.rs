//! DMI, OS release, kernel identity and the running kernel's config.

use std::io::Read;

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
    Kernel {
        release,
        version: text(root, "proc/version"),
        cmdline: text(root, "proc/cmdline"),
        tainted,
    }
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
pub fn config(root: &Root, release: Option<&str>) -> Fact<KernelConfig> {
    let gz = "proc/config.gz";
    let first = match root.read_large(gz) {
        Ok(bytes) => Some(decode_config(
            gz,
            &bytes,
            true,
            root.limits().max_large_file,
        )),
        Err(e) if e.is_not_found() => None,
        Err(e) => Some(Fact::from_read(gz, Err(e))),
    };
    if let Some(Fact::Ok(c)) = first {
        return Fact::Ok(c);
    }
    if let Some(release) = release {
        let path = format!("boot/config-{release}");
        match root.read_large(&path) {
            Ok(bytes) => {
                return decode_config(&path, &bytes, false, root.limits().max_large_file);
            }
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

fn decode_config(path: &str, bytes: &[u8], gzipped: bool, cap: u64) -> Fact<KernelConfig> {
    let text = if gzipped {
        let mut out = Vec::new();
        let dec = flate2::read::GzDecoder::new(bytes);
        if let Err(e) = dec.take(cap + 1).read_to_end(&mut out) {
            return Fact::unparseable(path, format!("gzip: {e}"));
        }
        if out.len() as u64 > cap {
            return Fact::unparseable(path, "decompresses past the size cap");
        }
        String::from_utf8_lossy(&out).into_owned()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    match parse::kernel_config(&text) {
        Ok(options) => Fact::Ok(KernelConfig {
            source: format!("/{path}"),
            options,
        }),
        Err(e) => Fact::unparseable(path, e),
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
}
