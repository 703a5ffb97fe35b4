//! `surface-check test`: the live functional tests as the binary runs them on the
//! machine running the tests (which has no touchscreen, no DTX device and no
//! camera), with the real libcamera `cam`, without it, and with stand-ins for `cam`
//! that behave as it does on a machine with a camera or as a camera stack that
//! hangs. Injected input events are driven in the QEMU layer (`tests/vm`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");

fn run(args: &[&str], path: Option<&Path>) -> (i32, Output) {
    let mut c = Command::new(BIN);
    c.args(args);
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let out = c.output().expect("runs");
    (out.status.code().expect("exit code"), out)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory holding an executable `cam` with `script` as its body.
fn fake_cam(script: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cam");
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

#[test]
fn camera_with_libcamera_and_no_camera_says_none_was_listed() {
    let cam = ["/usr/bin/cam", "/usr/local/bin/cam"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("libcamera's cam (Debian: libcamera-tools) is installed on the test machine");
    let (code, out) = run(&["test", "camera", "--json"], None);
    assert_eq!(code, 1, "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["test"], "camera");
    assert_eq!(j["outcome"], "not_arrived");
    assert_eq!(j["exit_code"], 1);
    let lc = &j["camera"]["libcamera"];
    assert_eq!(lc["installed"], true);
    assert_eq!(lc["cam"], cam);
    assert_eq!(lc["answered"], true, "{j:#}");
    assert_eq!(j["camera"]["cameras"], serde_json::json!([]));
    assert_eq!(j["expectations"][0]["id"], "listed");
    assert_eq!(j["expectations"][0]["arrived"], false);
    assert_eq!(j["message"], "libcamera answered and lists no camera");
    // The prompt goes to stderr with --json; stdout is the object alone.
    assert!(stderr(&out).contains("libcamera is asked for the cameras"));
}

#[test]
fn camera_human_output_says_libcamera_answered_with_no_camera() {
    let (code, out) = run(&["test", "camera"], None);
    assert_eq!(code, 1);
    let s = stdout(&out);
    assert!(s.contains("answered: 0 cameras"), "{s}");
    assert!(
        s.contains("✗ libcamera lists a camera (cam --list): did not arrive"),
        "{s}"
    );
    assert!(s.contains("camera: not everything arrived."), "{s}");
}

#[test]
fn camera_without_cam_says_libcamera_is_not_installed() {
    let empty = tempfile::tempdir().unwrap();
    let (code, out) = run(&["test", "camera", "--json"], Some(empty.path()));
    assert_eq!(code, 2);
    let j = json(&out);
    assert_eq!(j["outcome"], "error");
    assert_eq!(j["camera"]["libcamera"]["installed"], false);
    let msg = "libcamera's `cam` is not installed: install libcamera-tools / libcamera (NixOS: pkgs.libcamera)";
    assert_eq!(j["message"], msg);
    assert!(stderr(&out).contains(msg));
    // And in the human form.
    let (code, out) = run(&["test", "camera"], Some(empty.path()));
    assert_eq!(code, 2);
    assert!(stderr(&out).contains(msg), "{}", stderr(&out));
}

#[test]
fn camera_that_lists_one_and_captures_passes() {
    // What `cam` does on a machine with a camera: the list, then a frame file in the
    // directory `--file=DIR/` names; its log levels are shown back on stderr.
    let d = fake_cam(
        r#"echo "levels=$LIBCAMERA_LOG_LEVELS" >&2
case "$*" in
  *--list*) echo "Available cameras:"; echo '1: Internal front camera (\_SB_.PCI0.LNK1)'; exit 0;;
esac
for a in "$@"; do
  case "$a" in --file=*) printf '0123456789' > "${a#--file=}frame-cam1-stream0-000000.bin";; esac
done
echo "cam0: Capture 1 frames"
"#,
    );
    let (code, out) = run(&["test", "camera", "--json"], Some(d.path()));
    assert_eq!(code, 0, "{}", stdout(&out));
    let j = json(&out);
    assert_eq!(j["outcome"], "passed");
    assert_eq!(
        j["camera"]["cameras"][0]["name"],
        r"Internal front camera (\_SB_.PCI0.LNK1)"
    );
    assert_eq!(j["camera"]["captures"][0]["captured"], true);
    assert_eq!(j["camera"]["captures"][0]["bytes"], 10);
    assert_eq!(j["camera"]["libcamera"]["log"][0], "levels=*:ERROR");
    assert_eq!(j["expectations"][1]["count"], 1);
}

#[test]
fn camera_that_lists_one_and_captures_nothing_fails() {
    let d = fake_cam(
        r#"case "$*" in
  *--list*) echo "Available cameras:"; echo "1: 'ov8865' (\_SB_.PCI0.LNK0)"; exit 0;;
esac
echo "Failed to start camera session" >&2
exit 1
"#,
    );
    let (code, out) = run(&["test", "camera", "--json"], Some(d.path()));
    assert_eq!(code, 1);
    let j = json(&out);
    assert_eq!(j["outcome"], "not_arrived");
    let c = &j["camera"]["captures"][0];
    assert_eq!(c["captured"], false);
    assert_eq!(
        c["error"],
        "cam: exited with status 1: Failed to start camera session"
    );
    assert_eq!(j["expectations"][1]["detail"], "none from camera 1");
}

#[test]
fn a_camera_stack_that_hangs_is_cut_off_at_the_timeout() {
    let d = fake_cam("exec /bin/sleep 60");
    let start = Instant::now();
    let (code, out) = run(
        &["test", "camera", "--json", "--timeout", "1"],
        Some(d.path()),
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, 1);
    let j = json(&out);
    assert_eq!(j["camera"]["libcamera"]["answered"], false);
    assert_eq!(
        j["camera"]["libcamera"]["error"],
        "cam --list: no answer before the deadline; stopped"
    );
    assert_eq!(j["message"], "libcamera did not answer");
}

#[test]
fn touch_without_a_touchscreen_is_an_error_that_says_so() {
    // The test machine has no touchscreen (a container or VM host).
    let start = Instant::now();
    let (code, out) = run(&["test", "touch", "--timeout", "1"], None);
    assert_eq!(code, 2);
    let e = stderr(&out);
    assert!(e.starts_with("surface-check: no touchscreen found:"), "{e}");
    assert!(e.contains("ABS_MT_POSITION_X"), "{e}");
    assert!(stdout(&out).is_empty());
    assert!(start.elapsed() < Duration::from_secs(5));

    let (code, out) = run(&["test", "touch", "--timeout", "1", "--json"], None);
    assert_eq!(code, 2);
    let j = json(&out);
    assert_eq!(j["test"], "touch");
    assert_eq!(j["outcome"], "error");
    assert_eq!(j["exit_code"], 2);
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .starts_with("no touchscreen found:")
    );
    assert_eq!(j["devices"], serde_json::json!([]));
    // Nothing was opened, so no listening line.
    assert!(!stderr(&out).contains("listening on"));
}

#[test]
fn pen_without_a_pen_is_an_error_that_says_so() {
    let (code, out) = run(&["test", "pen", "--timeout", "1"], None);
    assert_eq!(code, 2);
    assert!(
        stderr(&out)
            .starts_with("surface-check: no pen found: no input device reports BTN_TOOL_PEN"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn detach_without_a_dtx_device_is_an_error_that_says_so() {
    let (code, out) = run(&["test", "detach", "--timeout", "1", "--json"], None);
    assert_eq!(code, 2);
    let j = json(&out);
    assert_eq!(j["outcome"], "error");
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .starts_with("no DTX device: /dev/surface/dtx does not exist"),
        "{j:#}"
    );
}

#[test]
fn usage_errors_are_clap_errors() {
    let (code, out) = run(&["test", "bogus"], None);
    assert_eq!(code, 2);
    let e = stderr(&out);
    assert!(e.contains("invalid value 'bogus'"), "{e}");
    assert!(
        e.contains("touch, pen, keyboard, buttons, lid, detach, camera"),
        "{e}"
    );
    let (code, out) = run(&["test", "touch", "--timeout", "0"], None);
    assert_eq!(code, 2);
    assert!(stderr(&out).contains("--timeout"));
    // Tests need the live machine: there is no --root.
    let (code, out) = run(&["test", "touch", "--root", "/tmp"], None);
    assert_eq!(code, 2);
    assert!(stderr(&out).contains("unexpected argument '--root'"));
    let (code, out) = run(&["test", "lid", "--power"], None);
    assert_eq!(code, 2);
    assert!(stderr(&out).contains("--power is for `test buttons` only"));
}

#[test]
fn ctrl_c_ends_the_test_with_a_summary() {
    let d = fake_cam("exec /bin/sleep 60");
    let start = Instant::now();
    let child = Command::new(BIN)
        .args(["test", "camera", "--json", "--timeout", "60"])
        .env("PATH", d.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: sends SIGINT to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["outcome"], "interrupted");
    assert_eq!(j["camera"]["libcamera"]["error"], "cam --list: interrupted");
}
