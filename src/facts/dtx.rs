//! The clipboard-detach (DTX) device: node, misc registration, live state, and the
//! event stream.
//!
//! The UAPI is `include/uapi/linux/surface_aggregator/dtx.h`; the driver is
//! `drivers/platform/surface/surface_dtx.c`. Status words carry a category in their
//! top nibble (`SDTX_CATEGORY_MASK` 0xf000): STATUS 0x0000, RUNTIME_ERROR 0x1000,
//! HARDWARE_ERROR 0x2000, UNKNOWN 0xf000 (a firmware value the driver did not know,
//! in the low byte). Words are in the machine's byte order.

use std::fmt;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

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
    nix::ioctl_none!(events_enable, 0xa5, 0x21);
    nix::ioctl_none!(events_disable, 0xa5, 0x22);
    nix::ioctl_read!(get_base_info, 0xa5, 0x29, [u16; 2]);
    nix::ioctl_read!(get_device_mode, 0xa5, 0x2a, u16);
    nix::ioctl_read!(get_latch_status, 0xa5, 0x2b, u16);
}

/// What a failed DTX ioctl or read means, for the record.
fn dtx_error(what: &str, e: Errno) -> ReadError {
    match e {
        Errno::EACCES | Errno::EPERM => ReadError::PermissionDenied,
        Errno::ENOTTY => ReadError::Io(format!("{what}: not a DTX device (ENOTTY)")),
        Errno::ENODEV | Errno::ENXIO => ReadError::Io(format!(
            "{what}: the DTX device went away ({})",
            if e == Errno::ENODEV {
                "ENODEV"
            } else {
                "ENXIO"
            }
        )),
        other => ReadError::Io(format!("{what}: {}", other.desc())),
    }
}

/// Asks the DTX device for its state (live machine only: a captured tree has no
/// device to answer).
fn read_state(root: &Root) -> Fact<DtxState> {
    let r = root.with_device(NODE, |f| {
        let fd = f.as_raw_fd();
        let mut base = [0u16; 2];
        let mut mode = 0u16;
        let mut latch = 0u16;
        // SAFETY: fd is open for the calls' duration and the buffers match the UAPI sizes.
        unsafe {
            uapi::get_base_info(fd, &mut base).map_err(|e| dtx_error("ioctl GET_BASE_INFO", e))?;
            uapi::get_device_mode(fd, &mut mode)
                .map_err(|e| dtx_error("ioctl GET_DEVICE_MODE", e))?;
            uapi::get_latch_status(fd, &mut latch)
                .map_err(|e| dtx_error("ioctl GET_LATCH_STATUS", e))?;
        }
        Ok(DtxState {
            base_state: base[0],
            base_id: base[1],
            device_mode: mode,
            latch_status: latch,
        })
    });
    match r.and_then(|inner| inner) {
        Ok(s) => Fact::Ok(s),
        Err(e) => Fact::from_read(NODE, Err(e)),
    }
}

// ---------------------------------------------------------------------------
// The typed layer over the raw words.

const CATEGORY_MASK: u16 = 0xf000;
const CATEGORY_STATUS: u16 = 0x0000;
const CATEGORY_RUNTIME_ERROR: u16 = 0x1000;
const CATEGORY_HARDWARE_ERROR: u16 = 0x2000;
const CATEGORY_UNKNOWN: u16 = 0xf000;

const DETACH_NOT_FEASIBLE: u16 = 0x1001;
const DETACH_TIMEDOUT: u16 = 0x1002;
const ERR_FAILED_TO_OPEN: u16 = 0x2001;
const ERR_FAILED_TO_REMAIN_OPEN: u16 = 0x2002;
const ERR_FAILED_TO_CLOSE: u16 = 0x2003;

const DEVICE_TYPE_MASK: u16 = 0x0f00;
const DEVICE_TYPE_HID: u16 = 0x0100;
const DEVICE_TYPE_SSH: u16 = 0x0200;

/// A status word in the UNKNOWN category: the firmware value the driver passed on.
fn unknown_code(v: u16) -> Option<u8> {
    (v & CATEGORY_MASK == CATEGORY_UNKNOWN && v & 0x0f00 == 0).then_some((v & 0xff) as u8)
}

/// The base's connection state (`sdtx_base_info.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseState {
    /// `SDTX_BASE_DETACHED`.
    Detached,
    /// `SDTX_BASE_ATTACHED`.
    Attached,
    /// `SDTX_DETACH_NOT_FEASIBLE`: the base is attached and cannot be detached now
    /// (for example the clipboard's battery is too low).
    NotFeasible,
    /// `SDTX_UNKNOWN(code)`: the firmware reported a state the driver did not know.
    Unknown(u8),
    /// Any other word: not a value the driver sends.
    Other(u16),
}

impl From<u16> for BaseState {
    fn from(v: u16) -> Self {
        match v {
            0x0000 => BaseState::Detached,
            0x0001 => BaseState::Attached,
            DETACH_NOT_FEASIBLE => BaseState::NotFeasible,
            _ => match unknown_code(v) {
                Some(c) => BaseState::Unknown(c),
                None => BaseState::Other(v),
            },
        }
    }
}

impl fmt::Display for BaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseState::Detached => f.write_str("base detached"),
            BaseState::Attached => f.write_str("base attached"),
            BaseState::NotFeasible => f.write_str("base attached, detach not feasible"),
            BaseState::Unknown(c) => write!(f, "base state unknown to the driver ({c:#04x})"),
            BaseState::Other(v) => write!(f, "unexpected base state {v:#06x}"),
        }
    }
}

/// The base's type and id (`sdtx_base_info.base_id`: type in 0x0f00, id in 0x00ff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseType {
    /// `SDTX_DEVICE_TYPE_HID`.
    Hid(u8),
    /// `SDTX_DEVICE_TYPE_SSH`: what the driver reports (`SDTX_BASE_TYPE_SSH(id)`).
    Ssh(u8),
    /// Any other word.
    Other(u16),
}

impl From<u16> for BaseType {
    fn from(v: u16) -> Self {
        let id = (v & 0xff) as u8;
        if v & !(DEVICE_TYPE_MASK | 0xff) != 0 {
            return BaseType::Other(v);
        }
        match v & DEVICE_TYPE_MASK {
            DEVICE_TYPE_HID => BaseType::Hid(id),
            DEVICE_TYPE_SSH => BaseType::Ssh(id),
            _ => BaseType::Other(v),
        }
    }
}

impl BaseType {
    /// The base's id, when the type is known.
    pub fn id(&self) -> Option<u8> {
        match self {
            BaseType::Hid(id) | BaseType::Ssh(id) => Some(*id),
            BaseType::Other(_) => None,
        }
    }
}

impl fmt::Display for BaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseType::Hid(id) => write!(f, "HID, id {id:#04x}"),
            BaseType::Ssh(id) => write!(f, "SSH, id {id:#04x}"),
            BaseType::Other(v) => write!(f, "unknown base type, id word {v:#06x}"),
        }
    }
}

/// State and type of the base together, as `sdtx_base_info` carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseInfo {
    pub state: BaseState,
    pub kind: BaseType,
}

impl BaseInfo {
    pub fn from_raw(state: u16, base_id: u16) -> Self {
        BaseInfo {
            state: state.into(),
            kind: base_id.into(),
        }
    }
}

impl fmt::Display for BaseInfo {
    /// "base attached (SSH, id 0x07)"; a detached base is only "base detached" (the id
    /// word then names the last base, not one that is there).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            BaseState::Detached => write!(f, "{}", self.state),
            _ => write!(f, "{} ({})", self.state, self.kind),
        }
    }
}

/// How the clipboard sits on the base (`enum sdtx_device_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceMode {
    /// Detached: the clipboard works as a tablet.
    Tablet,
    /// Attached normally.
    Laptop,
    /// Attached in reverse: keyboard and touchpad off, base battery and dGPU usable.
    Studio,
    Other(u16),
}

impl From<u16> for DeviceMode {
    fn from(v: u16) -> Self {
        match v {
            0 => DeviceMode::Tablet,
            1 => DeviceMode::Laptop,
            2 => DeviceMode::Studio,
            _ => DeviceMode::Other(v),
        }
    }
}

impl fmt::Display for DeviceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceMode::Tablet => f.write_str("tablet mode"),
            DeviceMode::Laptop => f.write_str("laptop mode"),
            DeviceMode::Studio => f.write_str("studio mode"),
            DeviceMode::Other(v) => write!(f, "unknown device mode {v:#06x}"),
        }
    }
}

/// A hardware error of the latch (the `SDTX_ERR_*` codes, category 0x2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchError {
    FailedToOpen,
    FailedToRemainOpen,
    FailedToClose,
}

impl LatchError {
    fn from_word(v: u16) -> Option<Self> {
        match v {
            ERR_FAILED_TO_OPEN => Some(LatchError::FailedToOpen),
            ERR_FAILED_TO_REMAIN_OPEN => Some(LatchError::FailedToRemainOpen),
            ERR_FAILED_TO_CLOSE => Some(LatchError::FailedToClose),
            _ => None,
        }
    }
}

impl fmt::Display for LatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LatchError::FailedToOpen => "failed to open",
            LatchError::FailedToRemainOpen => "failed to remain open",
            LatchError::FailedToClose => "failed to close",
        })
    }
}

/// The latch holding the clipboard on the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchStatus {
    Closed,
    Opened,
    /// A hardware error (`SDTX_ERR_FAILED_TO_*`).
    Error(LatchError),
    /// `SDTX_UNKNOWN(code)`: a firmware status the driver did not know.
    Unknown(u8),
    Other(u16),
}

impl From<u16> for LatchStatus {
    fn from(v: u16) -> Self {
        match v {
            0x0000 => LatchStatus::Closed,
            0x0001 => LatchStatus::Opened,
            _ => match (LatchError::from_word(v), unknown_code(v)) {
                (Some(e), _) => LatchStatus::Error(e),
                (None, Some(c)) => LatchStatus::Unknown(c),
                (None, None) => LatchStatus::Other(v),
            },
        }
    }
}

impl fmt::Display for LatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatchStatus::Closed => f.write_str("latch closed"),
            LatchStatus::Opened => f.write_str("latch opened"),
            LatchStatus::Error(e) => write!(f, "latch error: {e}"),
            LatchStatus::Unknown(c) => {
                write!(f, "latch status unknown to the driver ({c:#04x})")
            }
            LatchStatus::Other(v) => write!(f, "unexpected latch status {v:#06x}"),
        }
    }
}

/// Why the firmware cancelled a detach (`SDTX_EVENT_CANCEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// `SDTX_DETACH_NOT_FEASIBLE` (the firmware's "low battery").
    NotFeasible,
    /// `SDTX_DETACH_TIMEDOUT`: nobody confirmed the request in time.
    TimedOut,
    /// The latch failed (`SDTX_ERR_FAILED_TO_*`).
    Latch(LatchError),
    /// `SDTX_UNKNOWN(code)`.
    Unknown(u8),
    Other(u16),
}

impl From<u16> for CancelReason {
    fn from(v: u16) -> Self {
        match v {
            DETACH_NOT_FEASIBLE => CancelReason::NotFeasible,
            DETACH_TIMEDOUT => CancelReason::TimedOut,
            _ => match (LatchError::from_word(v), unknown_code(v)) {
                (Some(e), _) => CancelReason::Latch(e),
                (None, Some(c)) => CancelReason::Unknown(c),
                (None, None) => CancelReason::Other(v),
            },
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::NotFeasible => f.write_str("not feasible (clipboard battery low?)"),
            CancelReason::TimedOut => f.write_str("timed out"),
            CancelReason::Latch(e) => write!(f, "latch {e}"),
            CancelReason::Unknown(c) => write!(f, "reason unknown to the driver ({c:#04x})"),
            CancelReason::Other(v) => write!(f, "unexpected reason {v:#06x}"),
        }
    }
}

impl DtxState {
    /// The base's connection state.
    pub fn base(&self) -> BaseState {
        self.base_state.into()
    }

    /// The base's type and id.
    pub fn base_type(&self) -> BaseType {
        self.base_id.into()
    }

    /// State and type together ("base attached (SSH, id 0x07)").
    pub fn base_info(&self) -> BaseInfo {
        BaseInfo::from_raw(self.base_state, self.base_id)
    }

    pub fn mode(&self) -> DeviceMode {
        self.device_mode.into()
    }

    pub fn latch(&self) -> LatchStatus {
        self.latch_status.into()
    }
}

// ---------------------------------------------------------------------------
// The event stream.

/// `struct sdtx_event` header: `__u16 length; __u16 code;`, then `length` bytes.
const EVENT_HEADER: usize = 4;

/// No DTX event carries more than 4 bytes of payload (`struct sdtx_base_info`);
/// this leaves room for a future one. A header announcing more is corrupt: its 4
/// bytes are skipped and parsing goes on after them.
pub const MAX_EVENT_PAYLOAD: usize = 64;

const EVENT_REQUEST: u16 = 1;
const EVENT_CANCEL: u16 = 2;
const EVENT_BASE_CONNECTION: u16 = 3;
const EVENT_LATCH_STATUS: u16 = 4;
const EVENT_DEVICE_MODE: u16 = 5;

/// One event read from the DTX device after `EVENTS_ENABLE`. The values are the raw
/// words; [`BaseInfo::from_raw`], [`LatchStatus::from`], [`DeviceMode::from`] and
/// [`CancelReason::from`] type them, and `Display` says them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DtxEvent {
    /// The detach button was pressed (or a detach was requested by ioctl).
    Request,
    /// The firmware cancelled the detach.
    Cancel {
        reason: u16,
    },
    BaseConnection {
        state: u16,
        base_id: u16,
    },
    LatchStatus(u16),
    DeviceMode(u16),
    /// A code this tool does not know, or a known code with too short a payload.
    Unknown {
        code: u16,
        data: Vec<u8>,
    },
}

impl fmt::Display for DtxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtxEvent::Request => f.write_str("detach requested"),
            DtxEvent::Cancel { reason } => {
                write!(f, "detach cancelled: {}", CancelReason::from(*reason))
            }
            DtxEvent::BaseConnection { state, base_id } => {
                write!(f, "{}", BaseInfo::from_raw(*state, *base_id))
            }
            DtxEvent::LatchStatus(v) => write!(f, "{}", LatchStatus::from(*v)),
            DtxEvent::DeviceMode(v) => write!(f, "{}", DeviceMode::from(*v)),
            DtxEvent::Unknown { code, data } => {
                write!(f, "unknown event {code:#06x} ({} bytes)", data.len())
            }
        }
    }
}

fn word(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at + 2)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

/// Whether a `BASE_CONNECTION` payload can be a `struct sdtx_base_info` the driver
/// built: a base state it sends (STATUS 0/1, `DETACH_NOT_FEASIBLE`, or
/// `SDTX_UNKNOWN(u8)`) and an id word `SDTX_BASE_TYPE_SSH(u8)` (or HID).
fn is_base_info(state: u16, base_id: u16) -> bool {
    let state_ok = match state & CATEGORY_MASK {
        CATEGORY_STATUS => state <= 1,
        CATEGORY_RUNTIME_ERROR => state == DETACH_NOT_FEASIBLE,
        CATEGORY_HARDWARE_ERROR => false,
        _ => unknown_code(state).is_some(),
    };
    let id_ok = matches!(base_id & 0xff00, DEVICE_TYPE_HID | DEVICE_TYPE_SSH);
    state_ok && id_ok
}

/// One event from its code and payload.
///
/// The resync quirk: after resume (and at probe) the driver's state refresh
/// (`sdtx_device_state_workfn` -> `__sdtx_device_state_update_latch`) sends a changed
/// latch status as `code = BASE_CONNECTION, length = 4`, from a struct that holds
/// only the 2-byte latch word: the payload is the latch status followed by 2 bytes
/// that are not part of the event. Such a payload is told from a real base info by
/// its words: the driver's base info always has a base state it sends and an id word
/// of the form `0x02NN` (SSH type); a payload that is not of that form (a latch
/// hardware error word, or a second word of another form) is reported as
/// [`DtxEvent::LatchStatus`]. A 2- or 3-byte `BASE_CONNECTION` payload cannot be a
/// base info either and is read the same way. The one case that stays ambiguous is a
/// latch word 0 or 1 whose trailing bytes happen to read `0x01NN`/`0x02NN`: it is
/// taken as a base connection.
fn decode(code: u16, data: &[u8]) -> DtxEvent {
    let first = word(data, 0);
    let unknown = || DtxEvent::Unknown {
        code,
        data: data.to_vec(),
    };
    match code {
        EVENT_REQUEST => DtxEvent::Request,
        EVENT_CANCEL => first.map_or_else(unknown, |reason| DtxEvent::Cancel { reason }),
        EVENT_LATCH_STATUS => first.map_or_else(unknown, DtxEvent::LatchStatus),
        EVENT_DEVICE_MODE => first.map_or_else(unknown, DtxEvent::DeviceMode),
        EVENT_BASE_CONNECTION => match (first, word(data, 2)) {
            (Some(state), Some(base_id)) if is_base_info(state, base_id) => {
                DtxEvent::BaseConnection { state, base_id }
            }
            (Some(latch), _) => DtxEvent::LatchStatus(latch),
            (None, _) => unknown(),
        },
        _ => unknown(),
    }
}

/// Decodes the events in `buf` (bytes read from the DTX device, in order). Returns
/// them and how many bytes they used: a truncated event at the end is left
/// unconsumed, for the caller to complete with the next read. A header announcing
/// more than [`MAX_EVENT_PAYLOAD`] bytes is skipped (its 4 bytes consumed, no
/// event). Never panics; the consumed count is at most `buf.len()`, and what is left
/// is shorter than a header plus [`MAX_EVENT_PAYLOAD`].
pub fn parse_events(buf: &[u8]) -> (Vec<DtxEvent>, usize) {
    let mut events = Vec::new();
    let mut pos = 0;
    while let (Some(len), Some(code)) = (word(buf, pos), word(buf, pos + 2)) {
        let len = usize::from(len);
        if len > MAX_EVENT_PAYLOAD {
            pos += EVENT_HEADER;
            continue;
        }
        let start = pos + EVENT_HEADER;
        let Some(data) = buf.get(start..start + len) else {
            break;
        };
        events.push(decode(code, data));
        pos = start + len;
    }
    (events, pos)
}

/// The driver's per-client event buffer (`DECLARE_KFIFO(buffer, u8, 512)`): one read
/// this size takes all it holds.
const READ_SIZE: usize = 512;

/// After the device said "readable" but a read found nothing, wait this long before
/// polling again, so a device that keeps saying so costs no busy loop.
const SPURIOUS_BACKOFF: Duration = Duration::from_millis(10);

/// The DTX event stream: the device opened (live root only, character device only),
/// `EVENTS_ENABLE` sent; `EVENTS_DISABLE` is sent when it is dropped.
pub struct DtxEvents {
    file: std::fs::File,
    /// Bytes of an event not yet complete (fewer than a header plus
    /// [`MAX_EVENT_PAYLOAD`]).
    pending: Vec<u8>,
}

impl DtxEvents {
    /// Opens `/dev/surface/dtx` through [`Root::open_device`] and enables events.
    /// A refused `EVENTS_ENABLE` is an error: EACCES/EPERM is
    /// [`ReadError::PermissionDenied`], ENOTTY "not a DTX device", ENODEV "went away".
    pub fn open(root: &Root) -> Result<DtxEvents, ReadError> {
        let file = root.open_device(NODE)?;
        // SAFETY: an ioctl without argument on a descriptor we own.
        unsafe { uapi::events_enable(file.as_raw_fd()) }
            .map_err(|e| dtx_error("ioctl EVENTS_ENABLE", e))?;
        Ok(DtxEvents {
            file,
            pending: Vec::new(),
        })
    }

    /// Waits up to `timeout` for events and returns those that arrived (empty when
    /// none did; `Duration::ZERO` only takes what is there). A truncated event is
    /// kept for the next call. Errors: the device went away (ENODEV), or refused the
    /// read; the stream is then over.
    pub fn next(&mut self, timeout: Duration) -> Result<Vec<DtxEvent>, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !self.wait_readable(remaining)? {
                return Ok(Vec::new());
            }
            let got = self.read_once()?;
            let (events, used) = parse_events(&self.pending);
            self.pending.drain(..used);
            if !events.is_empty() {
                return Ok(events);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(Vec::new());
            }
            if got == 0 {
                std::thread::sleep(remaining.min(SPURIOUS_BACKOFF));
            }
        }
    }

    /// `poll` for input; false when `timeout` passed without any. Hang-up and error
    /// conditions count as readable: the read then says what happened.
    fn wait_readable(&self, timeout: Duration) -> Result<bool, ReadError> {
        // Round up, so a wait shorter than a millisecond does not become a busy loop.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the call's duration.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            return match Errno::last() {
                // A signal: look again (the read answers EAGAIN, and `next` polls
                // again with the time left).
                Errno::EINTR => Ok(true),
                e => Err(dtx_error("poll", e)),
            };
        }
        if n == 0 {
            return Ok(false);
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(ReadError::Io("poll: the DTX descriptor is not open".into()));
        }
        Ok(true)
    }

    /// One non-blocking read into `pending`; the number of bytes read (0 on EAGAIN).
    fn read_once(&mut self) -> Result<usize, ReadError> {
        use std::io::Read;
        let mut buf = [0u8; READ_SIZE];
        match self.file.read(&mut buf) {
            Ok(0) => Err(ReadError::Io(
                "read: the DTX device ended the stream (end of file)".into(),
            )),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                Some(Errno::EAGAIN | Errno::EINTR) => Ok(0),
                Some(errno) => Err(dtx_error("read", errno)),
                None => Err(ReadError::Io(format!("read: {e}"))),
            },
        }
    }
}

impl Drop for DtxEvents {
    fn drop(&mut self) {
        // SAFETY: an ioctl without argument on a descriptor we own. A device that
        // went away answers ENODEV; closing the descriptor ends the client anyway.
        let _ = unsafe { uapi::events_disable(self.file.as_raw_fd()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&code.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn words(w: &[u16]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    fn state(base_state: u16, base_id: u16, device_mode: u16, latch_status: u16) -> DtxState {
        DtxState {
            base_state,
            base_id,
            device_mode,
            latch_status,
        }
    }

    #[test]
    fn the_state_words_are_typed_and_named() {
        let s = state(0x0001, 0x0207, 1, 0x0000);
        assert_eq!(s.base(), BaseState::Attached);
        assert_eq!(s.base_type(), BaseType::Ssh(0x07));
        assert_eq!(s.base_type().id(), Some(7));
        assert_eq!(s.mode(), DeviceMode::Laptop);
        assert_eq!(s.latch(), LatchStatus::Closed);
        assert_eq!(s.base_info().to_string(), "base attached (SSH, id 0x07)");
        assert_eq!(s.mode().to_string(), "laptop mode");
        assert_eq!(s.latch().to_string(), "latch closed");

        let s = state(0x0000, 0x0207, 0, 0x0001);
        assert_eq!(s.base_info().to_string(), "base detached");
        assert_eq!(s.mode().to_string(), "tablet mode");
        assert_eq!(s.latch().to_string(), "latch opened");
        assert_eq!(DeviceMode::from(2).to_string(), "studio mode");
        assert_eq!(DeviceMode::from(7), DeviceMode::Other(7));
    }

    #[test]
    fn status_categories_are_told_apart() {
        assert_eq!(BaseState::from(0x1001), BaseState::NotFeasible);
        assert_eq!(BaseState::from(0xf003), BaseState::Unknown(3));
        assert_eq!(BaseState::from(0x2001), BaseState::Other(0x2001));
        assert_eq!(BaseState::from(0x0002), BaseState::Other(2));
        assert_eq!(
            BaseInfo::from_raw(0x1001, 0x0207).to_string(),
            "base attached, detach not feasible (SSH, id 0x07)"
        );
        assert_eq!(
            LatchStatus::from(0x2001),
            LatchStatus::Error(LatchError::FailedToOpen)
        );
        assert_eq!(
            LatchStatus::from(0x2002).to_string(),
            "latch error: failed to remain open"
        );
        assert_eq!(
            LatchStatus::from(0x2003),
            LatchStatus::Error(LatchError::FailedToClose)
        );
        assert_eq!(LatchStatus::from(0xf009), LatchStatus::Unknown(9));
        assert_eq!(LatchStatus::from(0x1001), LatchStatus::Other(0x1001));
        assert_eq!(CancelReason::from(0x1002), CancelReason::TimedOut);
        assert_eq!(CancelReason::from(0x1001), CancelReason::NotFeasible);
        assert_eq!(
            CancelReason::from(0x2001),
            CancelReason::Latch(LatchError::FailedToOpen)
        );
        assert_eq!(BaseType::from(0x0103), BaseType::Hid(3));
        assert_eq!(BaseType::from(0x0307), BaseType::Other(0x0307));
        assert_eq!(BaseType::from(0x1207), BaseType::Other(0x1207));
        assert_eq!(BaseType::from(0x1207).id(), None);
    }

    #[test]
    fn a_stream_of_every_event_decodes_in_order() {
        let mut buf = ev(1, &[]);
        buf.extend(ev(2, &words(&[0x1002])));
        buf.extend(ev(3, &words(&[0x0000, 0x0207])));
        buf.extend(ev(4, &words(&[0x0001])));
        buf.extend(ev(5, &words(&[0x0000])));
        buf.extend(ev(9, &[1, 2, 3]));
        let (events, used) = parse_events(&buf);
        assert_eq!(used, buf.len());
        assert_eq!(
            events,
            vec![
                DtxEvent::Request,
                DtxEvent::Cancel { reason: 0x1002 },
                DtxEvent::BaseConnection {
                    state: 0,
                    base_id: 0x0207
                },
                DtxEvent::LatchStatus(1),
                DtxEvent::DeviceMode(0),
                DtxEvent::Unknown {
                    code: 9,
                    data: vec![1, 2, 3]
                },
            ]
        );
        let text: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            [
                "detach requested",
                "detach cancelled: timed out",
                "base detached",
                "latch opened",
                "tablet mode",
                "unknown event 0x0009 (3 bytes)",
            ]
        );
    }

    #[test]
    fn the_resync_quirk_is_a_latch_event() {
        // __sdtx_device_state_update_latch: code BASE_CONNECTION, length 4, the latch
        // word then 2 bytes that belong to no field.
        for junk in [[0u8, 0], [0xff, 0xff], [0x07, 0x00], [0x34, 0x12]] {
            let mut payload = words(&[0x0001]);
            payload.extend_from_slice(&junk);
            let (events, used) = parse_events(&ev(3, &payload));
            assert_eq!(used, 8);
            assert_eq!(events, vec![DtxEvent::LatchStatus(1)], "junk {junk:?}");
            assert_eq!(events[0].to_string(), "latch opened");
        }
        // A latch hardware error can never be a base state, whatever follows.
        let (events, _) = parse_events(&ev(3, &words(&[0x2002, 0x0207])));
        assert_eq!(events, vec![DtxEvent::LatchStatus(0x2002)]);
        // A 2-byte BASE_CONNECTION payload cannot be a base info.
        let (events, _) = parse_events(&ev(3, &words(&[0x0000])));
        assert_eq!(events, vec![DtxEvent::LatchStatus(0)]);
        // The driver's own base info stays one.
        let (events, _) = parse_events(&ev(3, &words(&[0x1001, 0x0207])));
        assert_eq!(
            events,
            vec![DtxEvent::BaseConnection {
                state: 0x1001,
                base_id: 0x0207
            }]
        );
        let (events, _) = parse_events(&ev(3, &words(&[0xf005, 0x0211])));
        assert!(matches!(events[0], DtxEvent::BaseConnection { .. }));
    }

    #[test]
    fn a_truncated_event_is_left_for_the_next_read() {
        let mut buf = ev(1, &[]);
        let base = ev(3, &words(&[0x0001, 0x0207]));
        buf.extend_from_slice(&base[..6]);
        let (events, used) = parse_events(&buf);
        assert_eq!(events, vec![DtxEvent::Request]);
        assert_eq!(used, 4);
        // A lone partial header, too.
        assert_eq!(parse_events(&[4, 0, 3]), (vec![], 0));
        assert_eq!(parse_events(&[]), (vec![], 0));
        // Completed, it decodes.
        let mut rest = buf[used..].to_vec();
        rest.extend_from_slice(&base[6..]);
        let (events, used) = parse_events(&rest);
        assert_eq!(used, rest.len());
        assert_eq!(events[0].to_string(), "base attached (SSH, id 0x07)");
    }

    #[test]
    fn short_payloads_and_absurd_lengths_never_become_values() {
        let (events, used) = parse_events(&ev(4, &[1]));
        assert_eq!(used, 5);
        assert_eq!(
            events,
            vec![DtxEvent::Unknown {
                code: 4,
                data: vec![1]
            }]
        );
        let (events, _) = parse_events(&ev(3, &[]));
        assert_eq!(
            events,
            vec![DtxEvent::Unknown {
                code: 3,
                data: vec![]
            }]
        );
        // A header announcing 0xffff bytes is skipped, and the event after it read.
        let mut buf = 0xffffu16.to_ne_bytes().to_vec();
        buf.extend_from_slice(&3u16.to_ne_bytes());
        buf.extend(ev(5, &words(&[1])));
        let (events, used) = parse_events(&buf);
        assert_eq!(used, buf.len());
        assert_eq!(events, vec![DtxEvent::DeviceMode(1)]);
        // Longer payloads of known events are read from their leading bytes.
        let (events, _) = parse_events(&ev(5, &words(&[2, 0xaaaa])));
        assert_eq!(events, vec![DtxEvent::DeviceMode(2)]);
    }

    #[test]
    fn events_serialize_with_their_kind() {
        let j = serde_json::to_value(DtxEvent::LatchStatus(1)).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "latch_status", "value": 1}));
        let j = serde_json::to_value(DtxEvent::Request).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "request"}));
        let j = serde_json::to_value(DtxEvent::BaseConnection {
            state: 1,
            base_id: 0x207,
        })
        .unwrap();
        assert_eq!(j["value"]["base_id"], 0x207);
    }

    #[test]
    fn a_captured_tree_never_opens_the_event_stream() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        match DtxEvents::open(&root) {
            Err(e) => assert_eq!(e, ReadError::NotLive),
            Ok(_) => panic!("opened the DTX device of a captured tree"),
        }
    }

    #[test]
    fn ioctl_errors_say_what_they_mean() {
        assert_eq!(
            dtx_error("ioctl EVENTS_ENABLE", Errno::EACCES),
            ReadError::PermissionDenied
        );
        assert_eq!(
            dtx_error("ioctl EVENTS_ENABLE", Errno::ENOTTY).to_string(),
            "ioctl EVENTS_ENABLE: not a DTX device (ENOTTY)"
        );
        assert_eq!(
            dtx_error("read", Errno::ENODEV).to_string(),
            "read: the DTX device went away (ENODEV)"
        );
    }
}
