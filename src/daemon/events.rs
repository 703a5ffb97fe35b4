//! What makes the daemon probe again: udev uevents, DTX events and logind's resume.
//! Each listener sends a [`Cause`]; the probe loop debounces them. Listeners block in
//! `poll` or on a bus socket while nothing happens: no timers.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use zbus::Connection;

use super::Cause;

/// The udev subsystems whose uevents may change a verdict.
/// `hid` and `module` beyond the devices' own classes: a HID driver binding (ipts)
/// and a module loading or going are links of the chains too.
pub const UDEV_SUBSYSTEMS: &[&str] = &[
    "input",
    "hid",
    "video4linux",
    "media",
    "power_supply",
    "hidraw",
    "mei",
    "usb",
    "pci",
    "platform",
    "surface_aggregator",
    "module",
];

/// Sends `c` unless the channel is full: a full channel means a probe is coming
/// anyway.
fn send(tx: &mpsc::Sender<Cause>, c: Cause) -> bool {
    match tx.try_send(c) {
        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Waits until one of `fds` is readable, without a timeout; the readable ones. None
/// on a poll error other than EINTR, or when a descriptor failed.
fn wait_readable(fds: &[i32]) -> Option<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: valid pollfds for the call's duration.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) };
        if n > 0 {
            if pfds
                .iter()
                .any(|p| p.revents & (libc::POLLNVAL | libc::POLLERR) != 0)
            {
                return None;
            }
            return Some(pfds.iter().map(|p| p.revents & libc::POLLIN != 0).collect());
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

/// A uevent monitor on `group` (`udev` or `kernel`), filtered to
/// [`UDEV_SUBSYSTEMS`].
fn monitor(kernel: bool) -> std::io::Result<udev::MonitorSocket> {
    let b = if kernel {
        udev::MonitorBuilder::new_kernel()?
    } else {
        udev::MonitorBuilder::new()?
    };
    UDEV_SUBSYSTEMS
        .iter()
        .try_fold(b, |b, s| b.match_subsystem(s))?
        .listen()
}

/// Listens to uevents on a thread of its own, from two sources, since either may be
/// silent: udevd's (the `udev` netlink group: sent once its rules ran; silent without
/// udevd, or in a network namespace of its own, as the unit's `PrivateNetwork=yes`
/// makes) and the kernel's (the `kernel` group, which reaches every network
/// namespace of the initial user namespace and needs no udevd; it comes before
/// udevd's rules ran, which the settle probe after each event's probe covers). One
/// change arriving through both makes one probe: the probe loop debounces.
pub fn start_udev(tx: mpsc::Sender<Cause>) {
    let spawned = std::thread::Builder::new()
        .name("uevents".into())
        .spawn(move || {
            let mut sockets = Vec::new();
            for (kernel, group) in [(false, "udev"), (true, "kernel")] {
                match monitor(kernel) {
                    Ok(s) => sockets.push(s),
                    Err(e) => warn!("cannot listen to the {group} uevent group: {e}"),
                }
            }
            if sockets.is_empty() {
                warn!("no uevents: only Refresh and resume re-probe");
                return;
            }
            info!("listening to uevents: {}", UDEV_SUBSYSTEMS.join(", "));
            let fds: Vec<i32> = sockets.iter().map(|s| s.as_raw_fd()).collect();
            loop {
                let Some(ready) = wait_readable(&fds) else {
                    warn!("the uevent monitor failed; uevents no longer re-probe");
                    return;
                };
                for (socket, _) in sockets.iter().zip(ready).filter(|(_, r)| *r) {
                    for event in socket.iter() {
                        let subsystem = event
                            .subsystem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        debug!(
                            action = ?event.event_type(),
                            subsystem = %subsystem,
                            devpath = %event.devpath().to_string_lossy(),
                            "uevent"
                        );
                        if !send(&tx, Cause::Udev(subsystem)) {
                            return;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        warn!("cannot start the uevent listener: {e}");
    }
}

/// Listens to the DTX event stream on a thread of its own, when the device is there
/// and answers. Returns the thread, which ends when the device goes away or refuses
/// a read (the probe loop then starts it again after the next probe).
pub fn start_dtx(root: &Path, tx: mpsc::Sender<Cause>) -> Option<std::thread::JoinHandle<()>> {
    let root = crate::root::Root::open(root).ok()?;
    let mut stream = match crate::facts::dtx::DtxEvents::open(&root) {
        Ok(s) => s,
        Err(e) => {
            debug!("no DTX events: {e}");
            return None;
        }
    };
    info!("listening to DTX events");
    std::thread::Builder::new()
        .name("dtx".into())
        .spawn(move || {
            loop {
                // poll(2) takes at most ~24 days; the wait is otherwise unbounded.
                match stream.next(Duration::from_secs(20 * 24 * 3600)) {
                    Ok(events) => {
                        for e in &events {
                            debug!(event = %e, "DTX event");
                        }
                        if !events.is_empty() && !send(&tx, Cause::Dtx) {
                            return;
                        }
                    }
                    Err(e) => {
                        info!("the DTX event stream ended: {e}");
                        let _ = send(&tx, Cause::Dtx);
                        return;
                    }
                }
            }
        })
        .map_err(|e| warn!("cannot start the DTX listener: {e}"))
        .ok()
}

/// [`resume`] owning its connection, for a task.
pub async fn resume_owned(conn: Connection, tx: mpsc::Sender<Cause>) {
    resume(&conn, tx).await
}

/// Listens for logind's `PrepareForSleep(false)`, sent on resume, from the name's
/// owner only (anyone may send a signal on the bus).
pub async fn resume(conn: &Connection, tx: mpsc::Sender<Cause>) {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.login1.Manager")
        .and_then(|b| b.member("PrepareForSleep"))
        .and_then(|b| b.path("/org/freedesktop/login1"))
        .map(|b| b.build());
    let rule = match rule {
        Ok(r) => r,
        Err(e) => {
            warn!("cannot watch for resume: {e}");
            return;
        }
    };
    let mut stream = match zbus::MessageStream::for_match_rule(rule, conn, Some(8)).await {
        Ok(s) => s,
        Err(e) => {
            warn!("cannot watch for resume: {e}");
            return;
        }
    };
    let dbus = zbus::fdo::DBusProxy::new(conn).await.ok();
    while let Some(Ok(m)) = stream.next().await {
        let Ok(sleeping) = m.body().deserialize::<bool>() else {
            continue;
        };
        let sender = m.header().sender().map(|s| s.to_string());
        let owner = match &dbus {
            Some(d) => match zbus::names::BusName::try_from("org.freedesktop.login1") {
                Ok(n) => d.get_name_owner(n).await.ok().map(|o| o.to_string()),
                Err(_) => None,
            },
            None => None,
        };
        if sender.is_none() || sender != owner {
            debug!(?sender, ?owner, "PrepareForSleep not from logind; ignored");
            continue;
        }
        if sleeping {
            debug!("going to sleep");
        } else {
            info!("resumed from sleep");
            if !send(&tx, Cause::Resume) {
                return;
            }
        }
    }
}
