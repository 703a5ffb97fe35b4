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
                    caps: super::not_collected(),
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
                    parent: media_parent(root, &dir),
                    node: Fact::from_read(&format!("dev/{n}"), root.stat(&format!("dev/{n}"))),
                    info: super::not_collected(),
                    topology: super::not_collected(),
                    sysname: n,
                }
            })
            .collect()
    })
}

/// The parent device of a media device. Media devices sit on the media bus, not in a
/// class, so sysfs gives them no `device` link: the directory of
/// `/sys/devices/.../<parent>/media0` is the parent's.
fn media_parent(root: &Root, dir: &str) -> Option<String> {
    let real = root.canonical(dir).ok()?;
    let (parent, _) = real.rsplit_once('/')?;
    (parent.starts_with("/sys/devices/") && parent != "/sys/devices/virtual")
        .then(|| parent.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_media_device_s_parent_is_the_directory_above_it() {
        // As Linux 6.1 lays out vivid's media device (no `device` link).
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("sys/devices/platform/vivid.0/media0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("model"), "vivid\n").unwrap();
        std::fs::create_dir_all(d.path().join("sys/bus/media/devices")).unwrap();
        symlink(
            "../../../devices/platform/vivid.0/media0",
            d.path().join("sys/bus/media/devices/media0"),
        )
        .unwrap();
        let root = Root::open(d.path()).unwrap();
        let m = media(&root);
        let m = &m.ok().unwrap()[0];
        assert_eq!(m.model.ok().map(String::as_str), Some("vivid"));
        assert_eq!(m.parent.as_deref(), Some("/sys/devices/platform/vivid.0"));
    }
}
