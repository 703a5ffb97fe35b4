//! The clipboard-detach (DTX) device: node, misc registration, and live state.

use super::{Dtx, DtxState, Fact};
use crate::root::{NodeKind, ReadError, Root};

const NODE: &str = "dev/surface/dtx";

pub fn collect(root: &Root) -> Dtx {
    let node = Fact::from_read(NODE, root.stat(NODE));
    let state = match &node {
        Fact::Ok(NodeKind::CharDevice { .. }) => read_state(root),
        Fact::Ok(other) => Fact::Unknown {
            path: NODE.into(),
            reason: format!("not a character device ({other:?})"),
        },
        Fact::Absent { path } => Fact::Absent { path: path.clone() },
        Fact::Unknown { path, reason } => Fact::Unknown {
            path: path.clone(),
            reason: reason.clone(),
        },
    };
    Dtx {
        node,
        misc_registered: root.exists("sys/class/misc/surface_dtx"),
        state,
    }
}

mod uapi {
    // include/uapi/linux/surface_aggregator/dtx.h
    nix::ioctl_read!(get_base_info, 0xa5, 0x29, [u16; 2]);
    nix::ioctl_read!(get_device_mode, 0xa5, 0x2a, u16);
    nix::ioctl_read!(get_latch_status, 0xa5, 0x2b, u16);
}

/// Asks the DTX device for its state (live machine only: a captured tree has no
/// device to answer).
fn read_state(root: &Root) -> Fact<DtxState> {
    use std::os::fd::AsRawFd;
    let r = root.with_device(NODE, |f| {
        let fd = f.as_raw_fd();
        let mut base = [0u16; 2];
        let mut mode = 0u16;
        let mut latch = 0u16;
        // SAFETY: fd is open for the call's duration and the buffers match the UAPI sizes.
        unsafe {
            uapi::get_base_info(fd, &mut base)
                .and_then(|_| uapi::get_device_mode(fd, &mut mode))
                .and_then(|_| uapi::get_latch_status(fd, &mut latch))
        }
        .map(|_| DtxState {
            base_state: base[0],
            base_id: base[1],
            device_mode: mode,
            latch_status: latch,
        })
    });
    match r {
        Err(e) => Fact::from_read(NODE, Err(e)),
        Ok(Ok(s)) => Fact::Ok(s),
        Ok(Err(e)) => Fact::Unknown {
            path: NODE.into(),
            reason: ReadError::Io(format!("ioctl: {}", e.desc())).to_string(),
        },
    }
}
