//! Who the machine is: its host name and the login names under `/home`, which
//! `capture` masks. Read through [`Root`] like every other fact, so the caller runs
//! [`read`] under the watchdog (`Root::run_watched`): a FIFO or a hung file at
//! `proc/sys/kernel/hostname` or `etc/hostname` is cut off after the read timeout
//! instead of blocking the capture forever.

use crate::root::Root;

/// The names a capture must not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The host name: the kernel's, else `/etc/hostname`'s; `None` when neither
    /// gives a non-empty one.
    pub hostname: Option<String>,
    /// The entries of `/home` (login names, as far as a listing shows them).
    pub users: Vec<String>,
}

/// Where the host name is read, in order.
pub const HOSTNAME_PATHS: [&str; 2] = ["proc/sys/kernel/hostname", "etc/hostname"];

/// Reads the host name and the user names. Pure in what it reads, so safe to run
/// again after a hung read (the hung path then answers `TimedOut` and is skipped).
pub fn read(root: &Root) -> Identity {
    let hostname = HOSTNAME_PATHS.iter().find_map(|p| {
        root.read_text(p)
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
    });
    let users = root.list_dir("home").unwrap_or_default();
    Identity { hostname, users }
}
