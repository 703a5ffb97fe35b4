//! `camera`: libcamera's `cam` lists the cameras and captures one frame from each,
//! every run bounded in time and output. Parsing is pure; running is here too.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::signal;

/// Output kept of each stream of a `cam` run; the rest is read and dropped.
pub const OUTPUT_CAP: usize = 64 << 10;
/// Cameras captured from, at most.
pub const MAX_CAMERAS: usize = 8;
/// What libcamera logs: errors only.
pub const LOG_LEVELS: &str = "*:ERROR";

/// The message when `cam` is not there.
pub const NOT_INSTALLED: &str = "libcamera's `cam` is not installed: install libcamera-tools / \
libcamera (NixOS: pkgs.libcamera)";

/// What the camera test found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CameraReport {
    pub libcamera: Libcamera,
    /// Cameras `cam --list` named.
    pub cameras: Vec<CameraEntry>,
    /// One frame from each camera listed.
    pub captures: Vec<Capture>,
    /// The V4L2 video nodes of this machine, for context.
    pub video_nodes: Vec<VideoNodeSeen>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Libcamera {
    /// Whether `cam` was found in `PATH`.
    pub installed: bool,
    /// Where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cam: Option<String>,
    /// Whether `cam --list` ran to its end and printed its list (empty or not).
    pub answered: bool,
    /// Why it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What libcamera printed on standard error (its last lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraEntry {
    /// The index `cam -c` takes.
    pub index: u32,
    /// `Internal front camera (\_SB_.PCI0.LNK1)`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capture {
    pub camera: u32,
    pub captured: bool,
    /// Bytes written for the frame.
    pub bytes: u64,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoNodeSeen {
    /// `/dev/video0`.
    pub node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `VIDIOC_QUERYCAP` driver, when it was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<bool>,
}

/// The cameras of `cam --list` output, or `None` when it is not such output.
///
/// ```text
/// Available cameras:
/// 1: Internal front camera (\_SB_.PCI0.LNK1)
/// 2: 'ov8865' (\_SB_.PCI0.LNK0)
/// ```
pub fn parse_list(stdout: &str) -> Option<Vec<CameraEntry>> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| l.trim() != "Available cameras:");
    lines.next()?;
    Some(
        lines
            .filter_map(|l| {
                let (n, name) = l.trim().split_once(": ")?;
                Some(CameraEntry {
                    index: n.trim().parse().ok()?,
                    name: name.trim().to_string(),
                })
            })
            .take(MAX_CAMERAS)
            .collect(),
    )
}

/// `cam` in the directories of `path` (the `PATH` value), if an executable is there.
pub fn find_cam(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .filter(|d| d.is_absolute())
        .map(|d| d.join("cam"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A bounded run of a command.
#[derive(Debug)]
pub struct Ran {
    /// `None` when it was killed (deadline or signal).
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub interrupted: bool,
}

/// Reads a stream to its end, keeping the first `cap` bytes.
fn drain(mut r: impl Read + Send + 'static, cap: usize) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("surface-check-cam-output".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = cap.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = tx.send(kept);
        });
    rx
}

/// Runs `cmd` (stdin closed, output captured up to [`OUTPUT_CAP`] per stream) until
/// it exits, `deadline` passes or a signal comes; then it is killed.
pub fn run_bounded(cmd: &mut Command, deadline: Instant) -> std::io::Result<Ran> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().map(|s| drain(s, OUTPUT_CAP));
    let err = child.stderr.take().map(|s| drain(s, OUTPUT_CAP));
    let (mut timed_out, mut interrupted) = (false, false);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if signal::interrupted() || Instant::now() >= deadline {
            interrupted = signal::interrupted();
            timed_out = !interrupted;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A grandchild may hold the pipes open: the output waits a little, not forever.
    let take = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|rx| rx.recv_timeout(Duration::from_millis(500)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ok(Ran {
        status,
        stdout: take(out),
        stderr: take(err),
        timed_out,
        interrupted,
    })
}

/// `cam` with libcamera's logging held to errors.
pub fn cam_command(cam: &Path) -> Command {
    let mut c = Command::new(cam);
    c.env("LIBCAMERA_LOG_LEVELS", LOG_LEVELS);
    c
}

/// The last `n` non-empty lines of `text`.
pub fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// Why a run did not give what was asked, in words.
pub fn failure(ran: &Ran, what: &str) -> String {
    if ran.interrupted {
        format!("{what}: interrupted")
    } else if ran.timed_out {
        format!("{what}: no answer before the deadline; stopped")
    } else {
        match ran.status {
            Some(s) => match s.code() {
                Some(c) => format!("{what}: exited with status {c}"),
                None => format!("{what}: killed by a signal ({s})"),
            },
            None => format!("{what}: stopped"),
        }
    }
}

/// A private directory for captured frames, removed by [`TempDir::drop`].
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> std::io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = None;
        for i in 0..16u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let p = base.join(format!(
                "surface-check-cam-{}-{:08x}{i}",
                std::process::id(),
                nanos
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no temporary directory")))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Bytes in the regular files of the directory (at most 64 looked at).
    pub fn bytes(&self) -> u64 {
        std::fs::read_dir(&self.0)
            .map(|rd| {
                rd.take(64)
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Captures one frame from camera `index` into `dir`.
pub fn capture(cam: &Path, index: u32, deadline: Instant) -> Capture {
    let start = Instant::now();
    let fail = |error: String| Capture {
        camera: index,
        captured: false,
        bytes: 0,
        elapsed_ms: start.elapsed().as_millis() as u64,
        error: Some(error),
    };
    let dir = match TempDir::new() {
        Ok(d) => d,
        Err(e) => return fail(format!("making a directory for the frame: {e}")),
    };
    let mut file = dir.path().as_os_str().to_owned();
    file.push("/");
    let mut cmd = cam_command(cam);
    cmd.arg("-c")
        .arg(index.to_string())
        .arg("--capture=1")
        .arg(format!("--file={}", file.to_string_lossy()));
    let ran = match run_bounded(&mut cmd, deadline) {
        Ok(r) => r,
        Err(e) => return fail(format!("running cam: {e}")),
    };
    let bytes = dir.bytes();
    let ok = ran.status.is_some_and(|s| s.success()) && bytes > 0;
    Capture {
        camera: index,
        captured: ok,
        bytes,
        elapsed_ms: start.elapsed().as_millis() as u64,
        error: (!ok).then(|| {
            let mut why = if ran.status.is_some_and(|s| s.success()) {
                "cam wrote no frame".to_string()
            } else {
                failure(&ran, "cam")
            };
            if let Some(l) = last_lines(&ran.stderr, 1).pop() {
                why.push_str(": ");
                why.push_str(&l);
            }
            why
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_parsed() {
        let out = "Available cameras:\n1: Internal front camera (\\_SB_.PCI0.LNK1)\n2: 'ov8865' (\\_SB_.PCI0.LNK0)\n";
        let l = parse_list(out).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].index, 1);
        assert_eq!(l[0].name, "Internal front camera (\\_SB_.PCI0.LNK1)");
        assert_eq!(l[1].name, "'ov8865' (\\_SB_.PCI0.LNK0)");
    }

    #[test]
    fn an_empty_list_is_an_answer_and_other_output_is_not() {
        assert_eq!(parse_list("Available cameras:\n"), Some(vec![]));
        assert_eq!(parse_list("[0:00:00.1] ERROR Camera...\n"), None);
        assert_eq!(parse_list(""), None);
    }

    #[test]
    fn the_list_is_bounded() {
        let mut out = String::from("Available cameras:\n");
        for i in 1..100 {
            out.push_str(&format!("{i}: cam {i}\n"));
        }
        assert_eq!(parse_list(&out).unwrap().len(), MAX_CAMERAS);
    }

    #[test]
    fn cam_is_found_only_as_an_executable_in_path() {
        assert_eq!(find_cam(None), None);
        assert_eq!(find_cam(Some("/nonexistent:relative".as_ref())), None);
    }

    #[test]
    fn a_command_past_its_deadline_is_killed() {
        let start = Instant::now();
        let ran = run_bounded(
            Command::new("sleep").arg("30"),
            Instant::now() + Duration::from_millis(200),
        )
        .unwrap();
        assert!(ran.timed_out && ran.status.is_none());
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(failure(&ran, "cam").contains("no answer"));
    }

    #[test]
    fn output_is_capped() {
        let ran = run_bounded(
            Command::new("head").args(["-c", "1000000", "/dev/zero"]),
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap();
        assert!(ran.status.unwrap().success());
        assert_eq!(ran.stdout.len(), OUTPUT_CAP);
    }
}
