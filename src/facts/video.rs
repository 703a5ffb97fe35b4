//! video4linux nodes and media-controller devices.

use super::{Fact, MediaDevice, VideoNode, list_sorted, text};
use crate::root::Root;

pub fn video(root: &Root) -> Fact<Vec<VideoNode>> {
    let base = "sys/class/video4linux";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| {
                let dir = format!("{base}/{n}");
                VideoNode {
                    name: text(root, &format!("{dir}/name")),
                    parent: root.canonical(&format!("{dir}/device")).ok(),
                    node: Fact::from_read(&format!("dev/{n}"), root.stat(&format!("dev/{n}"))),
                    sysname: n,
                }
            })
            .collect()
    })
}

pub fn media(root: &Root) -> Fact<Vec<MediaDevice>> {
    let base = "sys/bus/media/devices";
    list_sorted(root, base).map(|names| {
        names
            .into_iter()
            .map(|n| {
                let dir = format!("{base}/{n}");
                MediaDevice {
                    model: text(root, &format!("{dir}/model")),
                    parent: root.canonical(&format!("{dir}/device")).ok(),
                    node: Fact::from_read(&format!("dev/{n}"), root.stat(&format!("dev/{n}"))),
                    sysname: n,
                }
            })
            .collect()
    })
}
