//! hidraw nodes: which HID device each belongs to, and what the node answers.

use super::{Fact, Hidraw, list_sorted};
use crate::root::Root;

pub fn collect(root: &Root) -> Fact<Vec<Hidraw>> {
    let base = "sys/class/hidraw";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| Hidraw {
                hid_device: root
                    .canonical(&format!("{base}/{n}/device"))
                    .ok()
                    .and_then(|p| p.rsplit('/').next().map(str::to_string)),
                node: Fact::from_read(&format!("dev/{n}"), root.stat(&format!("dev/{n}"))),
                info: super::not_collected(),
                sysname: n,
            })
            .collect()
    })
}
