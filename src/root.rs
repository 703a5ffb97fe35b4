//! `Root`: every read of the host goes through here.
//!
//! A root is a directory that stands for `/`: the live machine (`/`) or a captured
//! tree (`--root DIR`). Paths are resolved inside the root as under chroot, with
//! `openat2(RESOLVE_IN_ROOT)`: absolute symlinks (NixOS `/run/booted-system`) and `..`
//! never leave it. Every read is bounded:
//!
//! - a size cap per file ([`Limits::max_file`], [`Limits::max_large_file`]);
//! - symlink loops end in `ELOOP`, reported as [`ReadError::SymlinkLoop`];
//! - only regular files are read and only directories listed, on every root: a path
//!   is first opened with `O_PATH` (which never runs a driver's `open`, never blocks
//!   on a FIFO and never makes a terminal the controlling one), `fstat`ed, and only a
//!   regular file is then reopened for reading through `/proc/self/fd/N`, which opens
//!   exactly the inode just checked. A device node, FIFO or socket where a file is
//!   expected is [`ReadError::NotRegular`], with no side effect of opening it.
//!   Directories are opened with `O_DIRECTORY`, which the kernel checks before any
//!   driver `open`. Device nodes are opened only by [`Root::with_device`], only on the
//!   live `/`, only at the paths in [`DEVICE_NODES`], and only when they are
//!   character devices;
//! - a read that blocks (a hung sysfs attribute) is cut off by the watchdog in
//!   [`Root::run_watched`]: the path is marked hung, the work starts again, and that
//!   path then answers [`ReadError::TimedOut`] at once;
//! - one watched run has a deadline ([`Limits::deadline`]) and budgets of bytes read
//!   and directory entries listed ([`Limits::max_run_bytes`],
//!   [`Limits::max_run_entries`]), counted over every pass of the run, abandoned ones
//!   included: past them every read answers [`ReadError::Deadline`] or
//!   [`ReadError::BudgetSpent`], so a hostile tree costs bounded time and memory.
//!
//! Failures are values, never panics: collectors turn them into recorded facts.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, SFlag, fstat};
use serde::{Deserialize, Serialize};

/// Why a read of the host did not give a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ReadError {
    #[error("not found")]
    NotFound,
    #[error("permission denied")]
    PermissionDenied,
    #[error("larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("timed out after {after_ms} ms")]
    TimedOut { after_ms: u64 },
    #[error("symlink loop")]
    SymlinkLoop,
    #[error("not a directory")]
    NotADirectory,
    #[error("is a directory")]
    IsADirectory,
    #[error("too many entries (cap {limit})")]
    TooManyEntries { limit: usize },
    #[error("a device node in a tree that is not the live system is never opened")]
    NotLive,
    /// A device node, FIFO or socket where a regular file is expected: never opened.
    #[error("{what}, not a regular file: never opened")]
    NotRegular { what: String },
    /// A device node opened with [`Root::with_device`] is not a character device.
    #[error("{what}, not a character device: never opened")]
    NotCharDevice { what: String },
    /// A device node the profile does not name: [`Root::with_device`] refuses it.
    #[error("not a device node this tool opens")]
    DeviceNotNamed,
    /// The run's deadline passed before this read.
    #[error("not read: the probe's {after_ms} ms deadline passed")]
    Deadline { after_ms: u64 },
    /// The run's budget of bytes or directory entries is spent.
    #[error("not read: the run's budget of {what} is spent")]
    BudgetSpent { what: String },
    #[error("{0}")]
    Io(String),
}

impl ReadError {
    fn from_errno(e: Errno) -> Self {
        match e {
            Errno::ENOENT => ReadError::NotFound,
            Errno::EACCES | Errno::EPERM => ReadError::PermissionDenied,
            Errno::ELOOP => ReadError::SymlinkLoop,
            Errno::ENOTDIR => ReadError::NotADirectory,
            Errno::EISDIR => ReadError::IsADirectory,
            other => ReadError::Io(other.desc().to_string()),
        }
    }

    fn from_io(e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Self::from_errno(Errno::from_raw(code)),
            None => ReadError::Io(e.to_string()),
        }
    }

    /// The path does not exist: evidence of absence, not a failure to know.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound)
    }
}

/// Errors of the root as a whole (opening it, or a watched run giving up).
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("cannot open root {path}: {source}")]
    Open { path: PathBuf, source: ReadError },
    #[error("more than {0} reads hung; giving up")]
    TooManyHung(usize),
    #[error("the collector thread panicked: {0}")]
    Panicked(String),
}

/// Bounds on every read.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Cap for ordinary files (sysfs attributes, proc files, udev records).
    pub max_file: u64,
    /// Cap for the few large files (kernel config, modules.alias, modules.dep).
    pub max_large_file: u64,
    /// A single read (open, read, readdir, readlink) longer than this is cut off.
    pub read_timeout: Duration,
    /// Cap on entries of one directory.
    pub max_dir_entries: usize,
    /// How many hung paths a watched run tolerates before giving up.
    pub max_hung: usize,
    /// The whole watched run (every pass, after hung reads) ends by then: later reads
    /// answer [`ReadError::Deadline`]. At least the read timeout.
    pub deadline: Duration,
    /// Bytes read in one run, all files and passes together.
    pub max_run_bytes: u64,
    /// Directory entries listed in one run, all directories and passes together.
    pub max_run_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 1 << 20,
            max_large_file: 64 << 20,
            read_timeout: Duration::from_millis(1500),
            max_dir_entries: 100_000,
            max_hung: 16,
            deadline: Duration::from_secs(10),
            max_run_bytes: 256 << 20,
            max_run_entries: 262_144,
        }
    }
}

/// How often a lookup is tried again when openat2 answers EAGAIN (a concurrent
/// rename elsewhere on the system); each try is one system call.
const OPENAT2_RETRIES: u32 = 64;

/// Stack buffer of an ordinary read: a sysfs attribute is at most a page.
const SMALL_READ: usize = 4096;

/// The only device nodes this tool opens (root-relative), and only on the live `/`:
/// the clipboard-detach device (its state ioctls) and the kernel log, and the nodes
/// of [`DEVICE_FAMILIES`].
pub const DEVICE_NODES: &[&str] = &["dev/surface/dtx", "dev/kmsg"];

/// Numbered device nodes this tool opens to ask the device itself (query ioctls
/// only, never a read or a write): `<prefix><N>`.
pub const DEVICE_FAMILIES: &[&str] = &[
    "dev/video",
    "dev/v4l-subdev",
    "dev/media",
    "dev/input/event",
    "dev/hidraw",
];

/// Whether [`Root::with_device`] may open the root-relative `rel`: one of
/// [`DEVICE_NODES`], or a [`DEVICE_FAMILIES`] prefix followed by a number.
pub fn device_node_allowed(rel: &str) -> bool {
    DEVICE_NODES.contains(&rel)
        || DEVICE_FAMILIES.iter().any(|p| {
            rel.strip_prefix(p).is_some_and(|n| {
                !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// The type of a node, as `stat` (following symlinks) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum NodeKind {
    File,
    Dir,
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
    Socket,
}

/// The operation in flight on one worker, seen by the watchdog.
struct Slot {
    current: Mutex<Option<(String, Instant)>>,
    abandoned: AtomicBool,
}

impl Slot {
    fn new() -> Arc<Self> {
        Arc::new(Slot {
            current: Mutex::new(None),
            abandoned: AtomicBool::new(false),
        })
    }
}

/// What one watched run has spent, shared by all its passes (abandoned ones too).
struct Run {
    deadline: Option<(Instant, Duration)>,
    deadline_hit: AtomicBool,
    bytes: AtomicU64,
    entries: AtomicU64,
    abandoned: AtomicUsize,
}

impl Run {
    fn new(deadline: Option<Duration>) -> Arc<Self> {
        Arc::new(Run {
            deadline: deadline.map(|d| (Instant::now() + d, d)),
            deadline_hit: AtomicBool::new(false),
            bytes: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            abandoned: AtomicUsize::new(0),
        })
    }

    fn check_deadline(&self) -> Result<(), ReadError> {
        match self.deadline {
            Some((at, d)) if Instant::now() >= at => {
                self.deadline_hit.store(true, Ordering::Relaxed);
                Err(ReadError::Deadline {
                    after_ms: d.as_millis() as u64,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts `n` more bytes read; an error once the run's budget is spent.
    fn charge_bytes(&self, n: u64, limit: u64) -> Result<(), ReadError> {
        if self.bytes.fetch_add(n, Ordering::Relaxed).saturating_add(n) > limit {
            return Err(ReadError::BudgetSpent {
                what: format!("{} MiB read", limit >> 20),
            });
        }
        Ok(())
    }

    fn charge_entries(&self, n: u64, limit: u64) -> Result<(), ReadError> {
        if self
            .entries
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n)
            > limit
        {
            return Err(ReadError::BudgetSpent {
                what: format!("{limit} directory entries"),
            });
        }
        Ok(())
    }
}

/// What a run has spent so far (for logs and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub bytes: u64,
    pub entries: u64,
    /// Workers abandoned in a hung read (each may keep what it had parsed).
    pub abandoned: usize,
    pub deadline_passed: bool,
}

/// How paths are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// A captured tree: `openat2(RESOLVE_IN_ROOT)` keeps every path inside it.
    InRoot,
    /// The live `/`: plain path calls through libc, which resolve the same way there,
    /// work on kernels without openat2 (before 5.6), and can be redirected by umockdev.
    Host,
}

struct Shared {
    base: PathBuf,
    resolve: Resolve,
    /// The host path of the root as the kernel names it (for `canonical`).
    base_real: PathBuf,
    dir: OwnedFd,
    limits: Limits,
    hung: Mutex<BTreeSet<String>>,
    /// The last watched run, for [`Root::hung_paths`] and [`Root::spent`].
    last_run: Mutex<Option<Arc<Run>>>,
    /// Test hook: permute directory listings to prove nothing depends on their order.
    shuffle_seed: Option<u64>,
}

/// A directory that stands for `/`. Cheap to clone.
#[derive(Clone)]
pub struct Root {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    run: Arc<Run>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("base", &self.shared.base)
            .finish()
    }
}

/// Marks one operation as in flight for the watchdog; clears it when dropped.
struct OpGuard<'a>(&'a Slot);

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.current.lock() {
            *c = None;
        }
    }
}

impl Root {
    /// Opens `base` as the root with default limits.
    pub fn open(base: impl AsRef<Path>) -> Result<Root, RootError> {
        Root::with_limits(base, Limits::default())
    }

    pub fn with_limits(base: impl AsRef<Path>, limits: Limits) -> Result<Root, RootError> {
        let base = base.as_ref().to_path_buf();
        let dir = nix::fcntl::open(
            &base,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootError::Open {
            path: base.clone(),
            source: ReadError::from_errno(e),
        })?;
        let base_real = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&dir)
        ))
        .unwrap_or_else(|_| base.clone());
        let resolve = if base_real == Path::new("/") {
            Resolve::Host
        } else {
            // A captured tree needs openat2 to stay inside it: refuse rather than escape.
            let probe = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT);
            if let Err(Errno::ENOSYS) = openat2(dir.as_fd(), ".", probe) {
                return Err(RootError::Open {
                    path: base,
                    source: ReadError::Io(
                        "reading a root other than / needs openat2 (Linux 5.6 or later)".into(),
                    ),
                });
            }
            Resolve::InRoot
        };
        Ok(Root {
            shared: Arc::new(Shared {
                base,
                resolve,
                base_real,
                dir,
                limits,
                hung: Mutex::new(BTreeSet::new()),
                last_run: Mutex::new(None),
                shuffle_seed: None,
            }),
            slot: Slot::new(),
            run: Run::new(None),
        })
    }

    /// A copy of this root whose directory listings come back permuted by `seed`.
    /// Used by tests to prove that no verdict depends on listing order.
    pub fn with_listing_shuffle(&self, seed: u64) -> Result<Root, RootError> {
        let mut r = Root::with_limits(&self.shared.base, self.shared.limits.clone())?;
        Arc::get_mut(&mut r.shared)
            .expect("fresh root is unshared")
            .shuffle_seed = Some(seed);
        Ok(r)
    }

    /// Whether this root is the live `/` (device nodes are real and may be opened).
    pub fn is_live(&self) -> bool {
        self.shared.resolve == Resolve::Host
    }

    pub fn base(&self) -> &Path {
        &self.shared.base
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// Paths that hung during watched runs, root-relative; when the last run's
    /// deadline passed, a last entry says so.
    pub fn hung_paths(&self) -> Vec<String> {
        let run = self.reported_run();
        let mut v: Vec<String> = self
            .shared
            .hung
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default();
        if run.deadline_hit.load(Ordering::Relaxed)
            && let Some((_, d)) = run.deadline
        {
            v.push(format!(
                "(the probe's {} ms deadline passed: later reads were not made)",
                d.as_millis()
            ));
        }
        v
    }

    /// What the current (or last watched) run has spent.
    pub fn spent(&self) -> Spent {
        let run = self.reported_run();
        Spent {
            bytes: run.bytes.load(Ordering::Relaxed),
            entries: run.entries.load(Ordering::Relaxed),
            abandoned: run.abandoned.load(Ordering::Relaxed),
            deadline_passed: run.deadline_hit.load(Ordering::Relaxed),
        }
    }

    /// The last watched run of this root, else this root's own reads.
    fn reported_run(&self) -> Arc<Run> {
        self.shared
            .last_run
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| self.run.clone())
    }

    fn rel(path: &str) -> &str {
        let p = path.trim_start_matches('/');
        if p.is_empty() { "." } else { p }
    }

    fn begin(&self, path: &str) -> Result<OpGuard<'_>, ReadError> {
        let timeout = self.shared.limits.read_timeout;
        if self.slot.abandoned.load(Ordering::Relaxed) {
            return Err(ReadError::TimedOut {
                after_ms: timeout.as_millis() as u64,
            });
        }
        if self
            .shared
            .hung
            .lock()
            .map(|h| h.contains(path))
            .unwrap_or(false)
        {
            return Err(ReadError::TimedOut {
                after_ms: timeout.as_millis() as u64,
            });
        }
        self.run.check_deadline()?;
        if let Ok(mut c) = self.slot.current.lock() {
            *c = Some((path.to_string(), Instant::now()));
        }
        Ok(OpGuard(&self.slot))
    }

    /// The host path of a root-relative path, in [`Resolve::Host`] mode.
    fn host_path(rel: &str) -> String {
        if rel == "." {
            "/".into()
        } else {
            format!("/{rel}")
        }
    }

    fn open_in_root(&self, rel: &str, flags: OFlag) -> Result<OwnedFd, ReadError> {
        if self.shared.resolve == Resolve::Host {
            let extra = if flags.contains(OFlag::O_PATH) {
                OFlag::O_CLOEXEC
            } else {
                OFlag::O_CLOEXEC | OFlag::O_NOCTTY
            };
            return nix::fcntl::open(Self::host_path(rel).as_str(), flags | extra, Mode::empty())
                .map_err(ReadError::from_errno);
        }
        // openat2 rejects any flag but O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC beside O_PATH.
        let extra = if flags.contains(OFlag::O_PATH) {
            OFlag::O_CLOEXEC
        } else {
            OFlag::O_CLOEXEC | OFlag::O_NOCTTY
        };
        let how = OpenHow::new()
            .flags(flags | extra)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        // EAGAIN: a rename anywhere on the system raced a `..` step, and the kernel
        // could not prove the walk stayed inside the root. Nothing is wrong with the
        // path; openat2(2) says to retry.
        let mut tries = 0;
        loop {
            match openat2(self.shared.dir.as_fd(), rel, how) {
                Err(Errno::EAGAIN) if tries < OPENAT2_RETRIES => tries += 1,
                r => return r.map_err(ReadError::from_errno),
            }
        }
    }

    /// Opens `rel` for reading only if it is a regular file, without opening anything
    /// else: an `O_PATH` descriptor (no driver `open`, no blocking on a FIFO, no
    /// controlling terminal) is `fstat`ed, and only a regular file is reopened, through
    /// `/proc/self/fd/N`, which opens the very inode just checked (no window for a swap).
    /// Without `/proc` the path is opened again non-blocking and without a controlling
    /// terminal, and kept only when `fstat` shows the same regular file.
    fn open_regular(&self, rel: &str) -> Result<(OwnedFd, nix::sys::stat::FileStat), ReadError> {
        let pfd = self.open_in_root(rel, OFlag::O_PATH)?;
        let st = fstat(&pfd).map_err(ReadError::from_errno)?;
        check_regular(&st)?;
        let proc_path = format!("/proc/self/fd/{}", pfd.as_raw_fd());
        let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        let fd = match nix::fcntl::open(proc_path.as_str(), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let fd = self.open_in_root(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
                let again = fstat(&fd).map_err(ReadError::from_errno)?;
                check_regular(&again)?;
                if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(ReadError::Io("the file changed while it was opened".into()));
                }
                fd
            }
            Err(e) => return Err(ReadError::from_errno(e)),
        };
        Ok((fd, st))
    }

    /// Reads `path` whole, failing past `cap` bytes, and hands the bytes to `take`.
    ///
    /// Ordinary attributes are read into a stack buffer of [`SMALL_READ`] bytes, which
    /// holds any sysfs attribute, and only a longer file moves to the heap. The large
    /// files (`size_hint`) get a heap buffer sized by `fstat`, as their sizes are real.
    fn read_capped_with<T>(
        &self,
        path: &str,
        cap: u64,
        size_hint: bool,
        take: impl FnOnce(Cow<'_, [u8]>) -> T,
    ) -> Result<T, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let (fd, st) = self.open_regular(rel)?;
        let hint = size_hint.then_some(st.st_size.max(0) as u64);
        let too_large =
            |len: usize| (len as u64 > cap).then_some(ReadError::TooLarge { limit: cap });
        let budget = self.shared.limits.max_run_bytes;
        let mut file = std::fs::File::from(fd).take(cap.saturating_add(1));
        let mut small = [0u8; SMALL_READ];
        let mut filled = 0;
        if hint.is_none() {
            while filled < small.len() {
                match file.read(&mut small[filled..]) {
                    Ok(0) => {
                        self.run.charge_bytes(filled as u64, budget)?;
                        return match too_large(filled) {
                            Some(e) => Err(e),
                            None => Ok(take(Cow::Borrowed(&small[..filled]))),
                        };
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ReadError::from_io(&e)),
                }
            }
        }
        // A long file: on the heap, one byte past the expected size (or the cap) so
        // that the read that finds the end, or the byte too many, needs no reallocation.
        // What is left of the run's budget bounds it too.
        let left = budget.saturating_sub(self.run.bytes.load(Ordering::Relaxed));
        let expected = hint.unwrap_or(0).max(2 * SMALL_READ as u64);
        let mut buf = Vec::with_capacity(expected.min(cap).min(left).saturating_add(1) as usize);
        buf.extend_from_slice(&small[..filled]);
        let mut file = file.take(left.saturating_sub(filled as u64).saturating_add(1));
        file.read_to_end(&mut buf)
            .map_err(|e| ReadError::from_io(&e))?;
        self.run.charge_bytes(buf.len() as u64, budget)?;
        match too_large(buf.len()) {
            Some(e) => Err(e),
            None => Ok(take(Cow::Owned(buf))),
        }
    }

    /// Streams a regular file of at most `cap` bytes through `f`, a buffered reader
    /// that also ends at the run's deadline and byte budget. When a bound ends the
    /// stream (or the file fails), that is the answer, whatever `f` made of the part
    /// it saw. A stream that keeps making progress is not taken for a hung read.
    pub fn read_stream<T>(
        &self,
        path: &str,
        cap: u64,
        f: impl FnOnce(&mut dyn BufRead) -> T,
    ) -> Result<T, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let (fd, _) = self.open_regular(rel)?;
        let mut reader = BufReader::with_capacity(
            64 << 10,
            Bounded {
                file: std::fs::File::from(fd),
                read: 0,
                cap,
                root: self,
                failed: None,
            },
        );
        let out = f(&mut reader);
        match reader.into_inner().failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Opens a regular file inside the root for reading as a stream, with the same
    /// containment as every read (resolved inside the root; only a regular file is
    /// opened, never a device node, FIFO or socket) but without a size cap or the
    /// run's byte budget: the caller bounds what it reads (preflight reads a kernel
    /// package of a hundred megabytes once, capping what it decompresses).
    pub fn open_file(&self, path: &str) -> Result<std::fs::File, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let (fd, _) = self.open_regular(rel)?;
        Ok(std::fs::File::from(fd))
    }

    /// Reads an ordinary file (capped at [`Limits::max_file`]).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.read_capped_with(path, self.shared.limits.max_file, false, |b| b.into_owned())
    }

    /// Reads one of the few large files (capped at [`Limits::max_large_file`]).
    pub fn read_large(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.read_capped_with(path, self.shared.limits.max_large_file, true, |b| {
            b.into_owned()
        })
    }

    /// Reads a text attribute: lossy UTF-8, trailing newlines and NULs trimmed.
    pub fn read_text(&self, path: &str) -> Result<String, ReadError> {
        self.read_capped_with(path, self.shared.limits.max_file, false, |b| to_text(&b))
    }

    /// The target of a symlink, as stored (not resolved).
    pub fn read_link(&self, path: &str) -> Result<String, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (if p.is_empty() { "." } else { p }, n),
            None => (".", rel),
        };
        let target = if self.shared.resolve == Resolve::Host {
            nix::fcntl::readlink(Self::host_path(rel).as_str()).map_err(ReadError::from_errno)?
        } else {
            let pfd = self.open_in_root(parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
            nix::fcntl::readlinkat(pfd.as_fd(), name).map_err(ReadError::from_errno)?
        };
        Ok(target.to_string_lossy().into_owned())
    }

    /// The last component of a symlink's target: the driver name behind `.../driver`.
    pub fn link_name(&self, path: &str) -> Result<String, ReadError> {
        let t = self.read_link(path)?;
        Ok(t.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string())
    }

    /// The canonical root-relative path (every symlink resolved inside the root),
    /// starting with `/`.
    pub fn canonical(&self, path: &str) -> Result<String, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        if self.shared.resolve == Resolve::Host {
            let real =
                std::fs::canonicalize(Self::host_path(rel)).map_err(|e| ReadError::from_io(&e))?;
            return Ok(real.to_string_lossy().into_owned());
        }
        let fd = self.open_in_root(rel, OFlag::O_PATH)?;
        let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let host = std::fs::read_link(&proc_path).map_err(|e| ReadError::from_io(&e))?;
        let stripped = host.strip_prefix(&self.shared.base_real).unwrap_or(&host);
        Ok(format!(
            "/{}",
            stripped.to_string_lossy().trim_start_matches('/')
        ))
    }

    /// The node type of `path`, following symlinks inside the root.
    pub fn stat(&self, path: &str) -> Result<NodeKind, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let st = if self.shared.resolve == Resolve::Host {
            nix::sys::stat::stat(Self::host_path(rel).as_str()).map_err(ReadError::from_errno)?
        } else {
            let fd = self.open_in_root(rel, OFlag::O_PATH)?;
            fstat(&fd).map_err(ReadError::from_errno)?
        };
        let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let (major, minor) = (
            libc::major(st.st_rdev) as u32,
            libc::minor(st.st_rdev) as u32,
        );
        Ok(if fmt == SFlag::S_IFDIR {
            NodeKind::Dir
        } else if fmt == SFlag::S_IFCHR {
            NodeKind::CharDevice { major, minor }
        } else if fmt == SFlag::S_IFBLK {
            NodeKind::BlockDevice { major, minor }
        } else if fmt == SFlag::S_IFIFO {
            NodeKind::Fifo
        } else if fmt == SFlag::S_IFSOCK {
            NodeKind::Socket
        } else {
            NodeKind::File
        })
    }

    /// Opens a device node (non-blocking, read-only, never as a controlling terminal)
    /// and runs `f` on it while the watchdog covers the call: an ioctl that hangs is
    /// cut off like a read. Only on the live `/`, only at the paths in
    /// [`DEVICE_NODES`] and [`DEVICE_FAMILIES`], and only when the node is a
    /// character device: a captured tree is data, and no ioctl is ever sent into it.
    pub fn with_device<T>(
        &self,
        path: &str,
        f: impl FnOnce(&std::fs::File) -> T,
    ) -> Result<T, ReadError> {
        let rel = self.device_rel(path)?;
        let _g = self.begin(rel)?;
        let file = self.open_char(rel)?;
        Ok(f(&file))
    }

    /// Opens a device node as [`Root::with_device`] does (same rules: live root,
    /// allowed paths, character devices only; non-blocking, read-only) and hands it
    /// over, for a caller that waits on it for events with its own deadline (`poll`):
    /// no watchdog covers what the caller does with it.
    pub fn open_device(&self, path: &str) -> Result<std::fs::File, ReadError> {
        let rel = self.device_rel(path)?;
        let _g = self.begin(rel)?;
        self.open_char(rel)
    }

    fn device_rel<'a>(&self, path: &'a str) -> Result<&'a str, ReadError> {
        if !self.is_live() {
            return Err(ReadError::NotLive);
        }
        let rel = Self::rel(path);
        if !device_node_allowed(rel) {
            return Err(ReadError::DeviceNotNamed);
        }
        Ok(rel)
    }

    fn open_char(&self, rel: &str) -> Result<std::fs::File, ReadError> {
        let st = {
            let pfd = self.open_in_root(rel, OFlag::O_PATH)?;
            fstat(&pfd).map_err(ReadError::from_errno)?
        };
        check_char(&st)?;
        // Opened by path (umockdev's preload answers the ioctls of the nodes it
        // opens), then held to the node just checked.
        let fd = self.open_in_root(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
        let again = fstat(&fd).map_err(ReadError::from_errno)?;
        check_char(&again)?;
        if again.st_rdev != st.st_rdev {
            return Err(ReadError::Io(
                "the device node changed while it was opened".into(),
            ));
        }
        Ok(std::fs::File::from(fd))
    }

    /// Whether `path` exists (following symlinks). Errors other than "not found" count
    /// as existing: the caller that needs the difference uses [`Root::stat`].
    pub fn exists(&self, path: &str) -> bool {
        !matches!(self.stat(path), Err(ReadError::NotFound))
    }

    /// Names in a directory, without `.` and `..`, in no particular order.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let rel = Self::rel(path);
        let _g = self.begin(rel)?;
        let fd = self.open_in_root(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let cap = self.shared.limits.max_dir_entries;
        let mut out = Vec::new();
        // getdents64 straight into a stack buffer: what readdir(3) does, without
        // fdopendir's checks of a descriptor opened as a directory just above, its
        // 32 KiB heap buffer, or a rewind before closing.
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: `fd` is an open directory and `buf` is writable for its length.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    std::os::fd::AsRawFd::as_raw_fd(&fd),
                    buf.as_mut_ptr(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(ReadError::from_errno(Errno::last()));
            }
            if n == 0 {
                break;
            }
            // The run's budget, per batch, and the deadline: a huge directory (or
            // many links to one) stops here, before its names fill memory.
            self.run.check_deadline()?;
            let before = out.len();
            for entry in Dirents(&buf[..n as usize]) {
                let (ino, name) = entry?;
                // readdir(3) skips entries without an inode (deleted files on old
                // filesystems): so does this.
                if ino == 0 || name == b"." || name == b".." {
                    continue;
                }
                if out.len() >= cap {
                    return Err(ReadError::TooManyEntries { limit: cap });
                }
                out.push(String::from_utf8_lossy(name).into_owned());
            }
            self.run.charge_entries(
                (out.len() - before) as u64,
                self.shared.limits.max_run_entries,
            )?;
        }
        if let Some(seed) = self.shared.shuffle_seed {
            shuffle(&mut out, seed ^ fxhash(rel));
        }
        Ok(out)
    }

    /// Runs `work` on a worker thread under the watchdog. When one read of the worker
    /// stays in flight longer than the read timeout, its path is marked hung, the
    /// worker is abandoned (it stops at its next read), and `work` runs again on a
    /// fresh worker, where that path answers `TimedOut` at once. `work` must therefore
    /// be a pure function of what it reads.
    ///
    /// The whole run, every pass together, has a deadline ([`Limits::deadline`], at
    /// least the read timeout) and byte and entry budgets: a read in flight when the
    /// deadline passes is cut off like a hung one, and every read of the pass that
    /// follows answers [`ReadError::Deadline`] at once. Abandoned workers count
    /// against the same run ([`Root::spent`]).
    pub fn run_watched<T, F>(&self, work: F) -> Result<T, RootError>
    where
        T: Send + 'static,
        F: Fn(&Root) -> T + Send + Sync + 'static,
    {
        let work = Arc::new(work);
        let timeout = self.shared.limits.read_timeout;
        let tick = (timeout / 4).max(Duration::from_millis(5));
        let run = Run::new(Some(self.shared.limits.deadline.max(timeout)));
        if let Ok(mut last) = self.shared.last_run.lock() {
            *last = Some(run.clone());
        }
        let deadline = run.deadline.map(|(at, _)| at);
        loop {
            let worker = Root {
                shared: self.shared.clone(),
                slot: Slot::new(),
                run: run.clone(),
            };
            let slot = worker.slot.clone();
            let (tx, rx) = mpsc::channel();
            let w = work.clone();
            std::thread::Builder::new()
                .name("surface-check-collect".into())
                .spawn(move || {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w(&worker)));
                    let _ = tx.send(r);
                })
                .map_err(|e| RootError::Panicked(e.to_string()))?;
            loop {
                match rx.recv_timeout(tick) {
                    Ok(Ok(v)) => return Ok(v),
                    Ok(Err(p)) => {
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into());
                        return Err(RootError::Panicked(msg));
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(RootError::Panicked("worker vanished".into()));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        // Past the deadline, a read in flight for a tick is cut off.
                        let late = deadline.filter(|d| Instant::now() >= *d + tick).is_some();
                        let stuck = slot.current.lock().ok().and_then(|c| {
                            c.as_ref()
                                .filter(|(_, t)| {
                                    t.elapsed() >= timeout || (late && t.elapsed() >= tick)
                                })
                                .map(|(p, _)| p.clone())
                        });
                        if let Some(path) = stuck {
                            if late {
                                run.deadline_hit.store(true, Ordering::Relaxed);
                            }
                            let abandoned = run.abandoned.fetch_add(1, Ordering::Relaxed) + 1;
                            tracing::warn!(
                                path = %path,
                                abandoned,
                                deadline_passed = late,
                                "read hung; marking it and starting again"
                            );
                            slot.abandoned.store(true, Ordering::Relaxed);
                            let mut hung = self.shared.hung.lock().map_err(|_| {
                                RootError::Panicked("hung-path set poisoned".into())
                            })?;
                            hung.insert(path);
                            if hung.len() > self.shared.limits.max_hung {
                                return Err(RootError::TooManyHung(self.shared.limits.max_hung));
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The file of [`Root::read_stream`]: ends at the cap, the run's deadline and byte
/// budget, and records why, so that a parse of a cut stream is never taken for the
/// whole file. Each chunk read tells the watchdog the stream is making progress.
struct Bounded<'a> {
    file: std::fs::File,
    read: u64,
    cap: u64,
    root: &'a Root,
    failed: Option<ReadError>,
}

impl Bounded<'_> {
    fn fail(&mut self, e: ReadError) -> std::io::Error {
        let io = std::io::Error::other(e.to_string());
        self.failed.get_or_insert(e);
        io
    }
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(std::io::Error::other(e.to_string()));
        }
        if let Err(e) = self.root.run.check_deadline() {
            return Err(self.fail(e));
        }
        let n = match self.file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(self.fail(ReadError::from_io(&e))),
        };
        self.read += n as u64;
        if self.read > self.cap {
            return Err(self.fail(ReadError::TooLarge { limit: self.cap }));
        }
        let budget = self.root.shared.limits.max_run_bytes;
        if let Err(e) = self.root.run.charge_bytes(n as u64, budget) {
            return Err(self.fail(e));
        }
        if let Ok(mut c) = self.root.slot.current.lock()
            && let Some((_, t)) = c.as_mut()
        {
            *t = Instant::now();
        }
        Ok(n)
    }
}

/// What a node is, in words, for errors.
fn describe(st: &nix::sys::stat::FileStat) -> String {
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
    if fmt == SFlag::S_IFCHR {
        format!("a character device ({major}:{minor})")
    } else if fmt == SFlag::S_IFBLK {
        format!("a block device ({major}:{minor})")
    } else if fmt == SFlag::S_IFIFO {
        "a FIFO".into()
    } else if fmt == SFlag::S_IFSOCK {
        "a socket".into()
    } else if fmt == SFlag::S_IFDIR {
        "a directory".into()
    } else if fmt == SFlag::S_IFREG {
        "a regular file".into()
    } else {
        format!("a node of type {:o}", st.st_mode & SFlag::S_IFMT.bits())
    }
}

/// Only a regular file is read; a directory keeps its own error.
fn check_regular(st: &nix::sys::stat::FileStat) -> Result<(), ReadError> {
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if fmt == SFlag::S_IFREG {
        Ok(())
    } else if fmt == SFlag::S_IFDIR {
        Err(ReadError::IsADirectory)
    } else {
        Err(ReadError::NotRegular { what: describe(st) })
    }
}

fn check_char(st: &nix::sys::stat::FileStat) -> Result<(), ReadError> {
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if fmt == SFlag::S_IFCHR {
        Ok(())
    } else {
        Err(ReadError::NotCharDevice { what: describe(st) })
    }
}

/// The `(inode, name)` of each `struct linux_dirent64` in a getdents64 result.
struct Dirents<'a>(&'a [u8]);

impl<'a> Iterator for Dirents<'a> {
    type Item = Result<(u64, &'a [u8]), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        // d_ino: u64, d_off: i64, d_reclen: u16, d_type: u8, d_name: NUL-terminated.
        const NAME: usize = 19;
        if self.0.is_empty() {
            return None;
        }
        let b = self.0;
        let reclen = match b.get(16..18) {
            Some(r) => u16::from_ne_bytes([r[0], r[1]]) as usize,
            None => 0,
        };
        let Some(rec) = b.get(..reclen).filter(|_| reclen > NAME) else {
            self.0 = &[];
            return Some(Err(ReadError::Io("malformed directory entry".into())));
        };
        let ino = u64::from_ne_bytes(rec[..8].try_into().expect("8 bytes"));
        let name = &rec[NAME..];
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        self.0 = &b[reclen..];
        Some(Ok((ino, &name[..end])))
    }
}

/// Bytes of a text attribute as a string: lossy UTF-8, trailing whitespace and NULs
/// trimmed.
pub fn to_text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.trim_end_matches(['\n', '\r', '\0', ' ', '\t'])
        .to_string()
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn shuffle(v: &mut [String], mut state: u64) {
    for i in (1..v.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Root) {
        let d = tempfile::tempdir().unwrap();
        let r = Root::open(d.path()).unwrap();
        (d, r)
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_root() {
        let (d, r) = tree();
        std::fs::create_dir_all(d.path().join("nix/store/abc-system")).unwrap();
        std::fs::write(
            d.path().join("nix/store/abc-system/kernel-params"),
            "quiet\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("run")).unwrap();
        symlink("/nix/store/abc-system", d.path().join("run/booted-system")).unwrap();
        assert_eq!(
            r.read_text("run/booted-system/kernel-params").unwrap(),
            "quiet"
        );
        assert_eq!(
            r.read_link("/run/booted-system").unwrap(),
            "/nix/store/abc-system"
        );
        assert_eq!(
            r.canonical("run/booted-system").unwrap(),
            "/nix/store/abc-system"
        );
    }

    #[test]
    fn the_live_root_reads_the_host() {
        let r = Root::open("/").unwrap();
        assert_eq!(r.shared.resolve, Resolve::Host);
        let want = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(
            r.read_text("proc/sys/kernel/osrelease").unwrap(),
            want.trim_end()
        );
        assert_eq!(r.read_link("/proc/self").map(|_| ()), Ok(()));
        assert_eq!(r.canonical("proc/self/..").unwrap(), "/proc");
        assert_eq!(
            r.stat("dev/null").unwrap(),
            NodeKind::CharDevice { major: 1, minor: 3 }
        );
        assert!(r.list_dir("/").unwrap().iter().any(|e| e == "proc"));
        assert_eq!(r.read("nonexistent/file"), Err(ReadError::NotFound));
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            Root::open(t.path()).unwrap().shared.resolve,
            Resolve::InRoot
        );
    }

    #[test]
    fn renames_elsewhere_do_not_fail_a_dotdot_lookup() {
        // openat2 answers EAGAIN when a rename anywhere on the system races a `..`
        // step under RESOLVE_IN_ROOT; sysfs class links are all `../../devices/...`.
        let (d, r) = tree();
        std::fs::create_dir_all(d.path().join("sys/devices/v/video4linux/video0")).unwrap();
        std::fs::create_dir_all(d.path().join("sys/class/video4linux")).unwrap();
        std::fs::write(
            d.path().join("sys/devices/v/video4linux/video0/name"),
            "ipu3-cio2 0\n",
        )
        .unwrap();
        symlink(
            "../../devices/v/video4linux/video0",
            d.path().join("sys/class/video4linux/video0"),
        )
        .unwrap();
        let churn = tempfile::tempdir().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let renamer = {
            let (dir, stop) = (churn.path().to_path_buf(), stop.clone());
            std::thread::spawn(move || {
                std::fs::write(dir.join("a"), "").unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
                    std::fs::rename(dir.join("b"), dir.join("a")).unwrap();
                }
            })
        };
        let failures = (0..20_000)
            .filter(|_| {
                r.read_text("sys/class/video4linux/video0/name").as_deref() != Ok("ipu3-cio2 0")
            })
            .count();
        stop.store(true, Ordering::Relaxed);
        renamer.join().unwrap();
        assert_eq!(
            failures, 0,
            "reads failed while files were renamed elsewhere"
        );
    }

    #[test]
    fn dotdot_cannot_escape() {
        let (d, r) = tree();
        symlink("../../../../../../etc/passwd", d.path().join("escape")).unwrap();
        // Inside the root there is no etc/passwd: the link resolves to /etc/passwd of the root.
        assert_eq!(r.read("escape"), Err(ReadError::NotFound));
    }

    #[test]
    fn loops_and_caps_are_errors() {
        let (d, r) = tree();
        symlink("b", d.path().join("a")).unwrap();
        symlink("a", d.path().join("b")).unwrap();
        assert_eq!(r.read("a"), Err(ReadError::SymlinkLoop));
        std::fs::write(d.path().join("big"), vec![b'x'; (1 << 20) + 1]).unwrap();
        assert_eq!(r.read("big"), Err(ReadError::TooLarge { limit: 1 << 20 }));
        assert_eq!(r.read("missing"), Err(ReadError::NotFound));
        std::fs::create_dir(d.path().join("dir")).unwrap();
        assert_eq!(r.read("dir"), Err(ReadError::IsADirectory));
    }

    #[test]
    fn fifos_and_device_nodes_are_never_opened_as_files() {
        let d = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&d.path().join("fifo"), Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
        nix::sys::stat::mknod(
            &d.path().join("null"),
            SFlag::S_IFCHR,
            Mode::S_IRUSR | Mode::S_IWUSR,
            libc::makedev(1, 3),
        )
        .unwrap();
        std::fs::write(d.path().join("ok"), "1\n").unwrap();
        let r = Root::open(d.path()).unwrap();
        let start = Instant::now();
        let (a, b, c) = r
            .run_watched(|r| {
                (
                    r.read_text("fifo"),
                    r.read_stream("null", 10, |_| ()),
                    r.read_text("ok"),
                )
            })
            .unwrap();
        assert_eq!(
            a,
            Err(ReadError::NotRegular {
                what: "a FIFO".into()
            })
        );
        assert!(
            b.unwrap_err()
                .to_string()
                .contains("character device (1:3)")
        );
        assert_eq!(c.unwrap(), "1");
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(r.hung_paths().is_empty());
        assert_eq!(r.list_dir("fifo"), Err(ReadError::NotADirectory));
        // A device a captured tree holds is never opened, nor one the profile does
        // not name on the live root.
        assert_eq!(r.with_device("dev/kmsg", |_| ()), Err(ReadError::NotLive));
        let live = Root::open("/").unwrap();
        assert_eq!(
            live.with_device("dev/null", |_| ()),
            Err(ReadError::DeviceNotNamed)
        );
    }

    #[test]
    fn only_named_device_nodes_and_numbered_families_are_opened() {
        for ok in [
            "dev/kmsg",
            "dev/surface/dtx",
            "dev/video0",
            "dev/media12",
            "dev/input/event3",
            "dev/hidraw1",
            "dev/v4l-subdev7",
        ] {
            assert!(device_node_allowed(ok), "{ok}");
        }
        for no in [
            "dev/null",
            "dev/video",
            "dev/videoX",
            "dev/video0/../sda",
            "dev/input/mice",
            "dev/hidraw1234567",
            "dev/mediaA1",
            "dev/sda",
            "dev/input/event-1",
        ] {
            assert!(!device_node_allowed(no), "{no}");
        }
    }

    #[test]
    fn a_hung_read_is_cut_off_and_the_run_ends_at_its_deadline() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ok"), "1\n").unwrap();
        let limits = Limits {
            read_timeout: Duration::from_millis(100),
            deadline: Duration::from_millis(350),
            max_hung: 100,
            ..Limits::default()
        };
        let r = Root::with_limits(d.path(), limits).unwrap();
        let start = Instant::now();
        // Every "hangN" blocks like a hung sysfs attribute, until the run gives up.
        let got = r
            .run_watched(|r| {
                let mut answers = Vec::new();
                for i in 0..50 {
                    let p = format!("hang{i}");
                    match r.begin(&p) {
                        Ok(_g) => loop {
                            if r.slot.abandoned.load(Ordering::Relaxed) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        },
                        Err(e) => answers.push(e),
                    }
                }
                (answers, r.read_text("ok"))
            })
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(
            got.0.contains(&ReadError::Deadline { after_ms: 350 }),
            "{:?}",
            got.0
        );
        assert_eq!(got.1, Err(ReadError::Deadline { after_ms: 350 }));
        let hung = r.hung_paths();
        assert!(
            hung.iter().any(|p| p.contains("deadline passed")),
            "{hung:?}"
        );
        assert!(hung.iter().any(|p| p == "hang0"), "{hung:?}");
        assert!(r.spent().abandoned >= 1);
    }

    #[test]
    fn a_run_s_budgets_of_bytes_and_entries_are_kept() {
        let (d, _) = tree();
        std::fs::write(d.path().join("f"), vec![b'x'; 3000]).unwrap();
        std::fs::create_dir(d.path().join("dir")).unwrap();
        for i in 0..100 {
            std::fs::write(d.path().join(format!("dir/{i}")), "").unwrap();
        }
        let limits = Limits {
            max_run_bytes: 10_000,
            max_run_entries: 250,
            ..Limits::default()
        };
        let r = Root::with_limits(d.path(), limits).unwrap();
        let (reads, lists, streamed) = r
            .run_watched(|r| {
                let reads: Vec<_> = (0..5).map(|_| r.read("f").map(|b| b.len())).collect();
                let lists: Vec<_> = (0..4).map(|_| r.list_dir("dir").map(|v| v.len())).collect();
                let streamed = r.read_stream("f", 1 << 20, |b| {
                    let mut v = Vec::new();
                    b.read_to_end(&mut v).map(|_| v.len()).ok()
                });
                (reads, lists, streamed)
            })
            .unwrap();
        assert_eq!(reads[..3], [Ok(3000), Ok(3000), Ok(3000)]);
        assert!(
            matches!(reads[3], Err(ReadError::BudgetSpent { .. })),
            "{reads:?}"
        );
        assert_eq!(lists[..2], [Ok(100), Ok(100)]);
        assert!(
            matches!(lists[2], Err(ReadError::BudgetSpent { .. })),
            "{lists:?}"
        );
        assert!(
            matches!(streamed, Err(ReadError::BudgetSpent { .. })),
            "{streamed:?}"
        );
        // A new run starts with a fresh budget.
        assert_eq!(
            r.run_watched(|r| r.read("f").map(|b| b.len())).unwrap(),
            Ok(3000)
        );
    }

    #[test]
    fn listings_span_many_getdents_batches_and_keep_the_cap() {
        let (d, r) = tree();
        // About 300 bytes a record: far more than one 8 KiB getdents64 batch.
        let names: BTreeSet<String> = (0..600).map(|i| format!("{i:0>250}")).collect();
        for n in &names {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        std::fs::create_dir(d.path().join("empty")).unwrap();
        let got: BTreeSet<String> = r.list_dir("/").unwrap().into_iter().collect();
        let mut want = names.clone();
        want.insert("empty".into());
        assert_eq!(got, want);
        assert_eq!(r.list_dir("empty").unwrap(), Vec::<String>::new());
        assert_eq!(r.list_dir("missing"), Err(ReadError::NotFound));
        assert_eq!(
            r.list_dir(names.iter().next().unwrap()),
            Err(ReadError::NotADirectory)
        );
        let limits = Limits {
            max_dir_entries: 600,
            ..Limits::default()
        };
        let small = Root::with_limits(d.path(), limits).unwrap();
        assert_eq!(
            small.list_dir("/"),
            Err(ReadError::TooManyEntries { limit: 600 })
        );
    }

    #[test]
    fn malformed_directory_records_are_errors() {
        let mut rec = vec![0u8; 24];
        rec[0] = 1;
        rec[16] = 24;
        rec[19..22].copy_from_slice(b"abc");
        let got: Vec<_> = Dirents(&rec).collect();
        assert_eq!(got, vec![Ok((1, &b"abc"[..]))]);
        rec[16] = 200;
        assert!(Dirents(&rec).next().unwrap().is_err());
        rec[16] = 0;
        assert!(Dirents(&rec).next().unwrap().is_err());
        assert!(Dirents(&rec[..10]).next().unwrap().is_err());
    }

    #[test]
    fn reads_past_the_first_buffer_and_up_to_the_cap() {
        let (d, _) = tree();
        let limits = Limits {
            max_file: 10_000,
            max_large_file: 100_000,
            ..Limits::default()
        };
        let r = Root::with_limits(d.path(), limits).unwrap();
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(d.path().join("at-cap"), &body).unwrap();
        assert_eq!(r.read("at-cap").unwrap(), body);
        std::fs::write(d.path().join("past-cap"), [&body[..], b"x"].concat()).unwrap();
        assert_eq!(
            r.read("past-cap"),
            Err(ReadError::TooLarge { limit: 10_000 })
        );
        assert_eq!(r.read_large("past-cap").unwrap().len(), 10_001);
        for len in [SMALL_READ - 1, SMALL_READ, SMALL_READ + 1] {
            std::fs::write(d.path().join("text"), format!("{}\n", "a".repeat(len))).unwrap();
            assert_eq!(r.read_text("text").unwrap(), "a".repeat(len));
        }
        std::fs::write(d.path().join("empty"), "").unwrap();
        assert_eq!(r.read("empty").unwrap(), Vec::<u8>::new());
        assert_eq!(r.read_large("empty").unwrap(), Vec::<u8>::new());
        std::fs::create_dir(d.path().join("dir")).unwrap();
        assert_eq!(r.read_large("dir"), Err(ReadError::IsADirectory));
        // procfs files claim size 0 and still read whole.
        let live = Root::open("/").unwrap();
        assert!(!live.read_large("proc/self/status").unwrap().is_empty());
    }

    #[test]
    fn shuffled_listing_has_the_same_entries() {
        let (d, r) = tree();
        for i in 0..20 {
            std::fs::write(d.path().join(format!("f{i}")), "").unwrap();
        }
        let mut a = r.list_dir("/").unwrap();
        let mut b = r.with_listing_shuffle(7).unwrap().list_dir("/").unwrap();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}
