//! Listening to event devices: open through the root, `poll` with a deadline, read
//! what is there without blocking. The only I/O of the input tests.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::root::{ReadError, Root};

use super::events::Ev;
use super::select::Candidate;
use super::signal;

/// The longest single wait: the countdown and Ctrl-C are looked at this often.
pub const TICK: Duration = Duration::from_millis(200);
/// Reads per device per wake-up: a device that never runs dry cannot hold the loop.
const READS_PER_WAKE: usize = 64;

/// An event device being listened to.
pub struct Watched {
    /// `/dev/input/event3`.
    pub path: String,
    /// The name the device itself gives (`EVIOCGNAME`), else the one sysfs gave.
    pub name: String,
    pub candidate: Candidate,
    dev: evdev::raw_stream::RawDevice,
    /// Why the device stopped answering (it went away), once it has.
    pub gone: Option<String>,
}

impl Watched {
    /// Whether switch `code` is on now (`EVIOCGSW`); `None` when it cannot be asked.
    pub fn switch_on(&self, code: u16) -> Option<bool> {
        self.dev
            .get_switch_state()
            .ok()
            .map(|s| s.contains(evdev::SwitchCode(code)))
    }
}

/// What a failed open means to the person.
pub fn open_error(path: &str, e: &ReadError) -> String {
    match e {
        ReadError::PermissionDenied => {
            format!("{path}: permission denied: run as root or add yourself to the input group")
        }
        ReadError::NotFound => format!("{path} does not exist: did the device go away?"),
        other => format!("{path}: {other}"),
    }
}

/// Opens every candidate's event node; the first that cannot be opened is the error.
pub fn open_all(root: &Root, candidates: &[Candidate]) -> Result<Vec<Watched>, String> {
    let mut out = Vec::new();
    for c in candidates {
        let rel = format!("dev/input/{}", c.event);
        let path = format!("/{rel}");
        let file = root.open_device(&rel).map_err(|e| open_error(&path, &e))?;
        // The crate asserts on strings that do not fit its buffers: asked first.
        crate::facts::input::evdev_crate_can_open(file.as_raw_fd())
            .map_err(|e| format!("{path}: cannot be watched: {e}"))?;
        let dev = evdev::raw_stream::RawDevice::from_fd(OwnedFd::from(file))
            .map_err(|e| format!("{path}: not an event device: {e}"))?;
        let name = dev
            .name()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| c.name.clone());
        out.push(Watched {
            path,
            name,
            candidate: c.clone(),
            dev,
            gone: None,
        });
    }
    Ok(out)
}

/// Why listening stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// What the test waits for arrived.
    Done,
    Timeout,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// Every device went away.
    AllGone,
    /// `poll` itself failed.
    Failed(String),
}

/// Listens until `done` says so, the deadline passes, a signal comes or every
/// device is gone. `feed` gets each event with the index of its device; `tick` is
/// called at least every [`TICK`] with the time left.
pub fn listen(
    devs: &mut [Watched],
    deadline: Instant,
    feed: &mut dyn FnMut(usize, Ev),
    done: &dyn Fn() -> bool,
    tick: &mut dyn FnMut(Duration),
) -> Stop {
    loop {
        if done() {
            return Stop::Done;
        }
        if signal::interrupted() {
            return Stop::Interrupted;
        }
        if devs.iter().all(|d| d.gone.is_some()) {
            return Stop::AllGone;
        }
        let now = Instant::now();
        if now >= deadline {
            return Stop::Timeout;
        }
        let left = deadline - now;
        tick(left);
        let mut fds: Vec<libc::pollfd> = devs
            .iter()
            .map(|d| libc::pollfd {
                fd: if d.gone.is_some() {
                    -1
                } else {
                    d.dev.as_raw_fd()
                },
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let wait = left.min(TICK);
        let ms = wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Stop::Failed(format!("waiting for events: {e}"));
        }
        for (i, p) in fds.iter().enumerate() {
            if p.fd < 0 || p.revents == 0 {
                continue;
            }
            if p.revents & libc::POLLIN != 0 {
                read_ready(&mut devs[i], i, feed);
            } else if p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                devs[i].gone = Some("the device went away".into());
            }
        }
    }
}

/// Reads what a ready device holds, without blocking.
fn read_ready(d: &mut Watched, i: usize, feed: &mut dyn FnMut(usize, Ev)) {
    for _ in 0..READS_PER_WAKE {
        match d.dev.fetch_events() {
            Ok(events) => {
                let mut n = 0usize;
                for e in events {
                    n += 1;
                    feed(i, Ev::from(e));
                }
                if n == 0 {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                d.gone = Some(match e.raw_os_error() {
                    Some(libc::ENODEV) => "the device went away (ENODEV)".into(),
                    _ => format!("reading failed: {e}"),
                });
                return;
            }
        }
    }
}
