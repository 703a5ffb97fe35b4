//! Input devices: names, ids, capabilities, properties, event nodes, udev records.

use std::collections::BTreeMap;

use super::{Fact, InputDevice, InputId, list_sorted, parse, parsed, text, text_opt};
use crate::root::Root;

/// Capability types kept, as named under `capabilities/`.
pub const CAPS: &[&str] = &["ev", "key", "sw", "abs", "rel", "msc"];

pub fn collect(root: &Root) -> Fact<Vec<InputDevice>> {
    let base = "sys/class/input";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .filter(|n| n.starts_with("input"))
            .map(|n| device(root, &format!("{base}/{n}"), n))
            .collect()
    })
}

fn bitmap_fact(root: &Root, path: &str) -> Fact<Vec<u16>> {
    parsed(root, path, parse::bitmap)
}

fn id(root: &Root, dir: &str) -> Fact<InputId> {
    let mut v = [0u16; 4];
    for (i, f) in ["bustype", "vendor", "product", "version"]
        .iter()
        .enumerate()
    {
        let p = format!("{dir}/id/{f}");
        match root.read_text(&p) {
            Ok(t) => match parse::hex_u16(&t) {
                Ok(x) => v[i] = x,
                Err(e) => return Fact::unparseable(&p, e),
            },
            Err(e) => return Fact::from_read(&p, Err(e)),
        }
    }
    Fact::Ok(InputId {
        bustype: v[0],
        vendor: v[1],
        product: v[2],
        version: v[3],
    })
}

fn device(root: &Root, dir: &str, sysname: String) -> InputDevice {
    let mut capabilities = BTreeMap::new();
    for c in CAPS {
        capabilities.insert(
            c.to_string(),
            bitmap_fact(root, &format!("{dir}/capabilities/{c}")),
        );
    }
    let event = root.list_dir(dir).ok().and_then(|entries| {
        let mut ev: Vec<String> = entries
            .into_iter()
            .filter(|e| {
                e.strip_prefix("event")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        ev.sort();
        ev.into_iter().next()
    });
    let (node, udev) = match &event {
        Some(ev) => {
            let node = Fact::from_read(
                &format!("dev/input/{ev}"),
                root.stat(&format!("dev/input/{ev}")),
            );
            let udev = match root.read_text(&format!("{dir}/{ev}/dev")) {
                Ok(devnum)
                    if devnum
                        .split(':')
                        .all(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    parsed(root, &format!("run/udev/data/c{devnum}"), parse::udev_db)
                }
                Ok(_) => Fact::unparseable(&format!("{dir}/{ev}/dev"), "not MAJOR:MINOR"),
                Err(e) => Fact::from_read(&format!("{dir}/{ev}/dev"), Err(e)),
            };
            (Some(node), udev)
        }
        None => (
            None,
            Fact::Absent {
                path: format!("{dir}/event*"),
            },
        ),
    };
    InputDevice {
        name: text(root, &format!("{dir}/name")),
        phys: text_opt(root, &format!("{dir}/phys")).filter(|p| !p.is_empty()),
        id: id(root, dir),
        capabilities,
        properties: bitmap_fact(root, &format!("{dir}/properties")),
        parent: root.canonical(&format!("{dir}/device")).ok(),
        event,
        node,
        udev,
        evdev: super::not_collected(),
        sysname,
    }
}
