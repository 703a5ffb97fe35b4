//! Terminal output is data from the machine (issue 6, item 8): escape sequences and
//! control characters from os-release, DMI, device names or a capture never reach
//! the terminal raw, with or without colour, nor through the logs; and error
//! messages say each thing once.

mod common;

use std::process::{Command, Output};

use common::sb2::{Distro, Sb2, Size};
use common::tree::Tree;

/// A window-title escape (OSC ... BEL), a clear-screen (CSI 2J), a carriage return
/// and backspace, a C1 CSI (U+009B) and bidi overrides (U+202E, U+2066).
const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J\r\x08\u{9b}31m\u{202e}evil\u{2066}";

/// The keyboard's input device, whose name the input checks quote.
const KEYBOARD_NAME: &str = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.3/1-1.3:1.0/0003:045E:0922.0002/input/input10/name";

/// A healthy 15" whose os-release PRETTY_NAME, DMI BIOS version and keyboard name
/// carry [`HOSTILE`]; with `in_hostile_dir` it lies in a directory whose name
/// carries it too (the root's path is logged).
fn hostile_tree_in(in_hostile_dir: Option<&std::path::Path>) -> Tree {
    let machine = Sb2::new(Size::In15, Distro::DebianSurface);
    let t = match in_hostile_dir {
        Some(parent) => {
            let dir = parent.join(format!("root{HOSTILE}"));
            std::fs::create_dir(&dir).unwrap();
            machine.build_into(Tree::new_in(&dir))
        }
        None => machine.build(),
    };
    t.file(
        "etc/os-release",
        format!("PRETTY_NAME=\"Debian {HOSTILE} 12\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n"),
    );
    assert!(t.exists(KEYBOARD_NAME), "the fixture's keyboard moved");
    t.attr(
        KEYBOARD_NAME,
        &format!("Microsoft Surface Keyboard{HOSTILE}"),
    );
    t.attr("sys/class/dmi/id/bios_version", &format!("389{HOSTILE}"));
    t
}

fn hostile_tree() -> Tree {
    hostile_tree_in(None)
}

fn surface_check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(common::BIN);
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("SURFACE_CHECK_LOG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("running surface-check")
}

/// The characters that must never reach a terminal raw: C0 and C1 controls and DEL
/// (but the line feed), bidi controls.
fn raw_controls(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| c != '\n' && surface_check::cli::render::is_unsafe(c))
        .collect()
}

/// `s` without the renderer's own SGR colour codes (`ESC [ digits m`).
fn without_sgr(s: &str) -> String {
    let mut o = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\x1b') {
        o.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let sgr = after.strip_prefix('[').and_then(|a| {
            let digits = a
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ';')
                .count();
            (digits > 0 && a[digits..].starts_with('m')).then_some(digits + 2)
        });
        match sgr {
            Some(n) => rest = &after[n..],
            None => {
                // Not an SGR: keep the ESC so the assertion sees it.
                o.push('\x1b');
                rest = after;
            }
        }
    }
    o.push_str(rest);
    o
}

#[test]
fn status_shows_control_characters_from_the_machine_visibly() {
    let t = hostile_tree();
    let root = t.path().to_str().unwrap();
    for color in ["never", "always"] {
        for verbose in [false, true] {
            let mut args = vec!["status", "--root", root, "--color", color];
            if verbose {
                args.push("-v");
            }
            let out = surface_check(&args, &[]);
            let stdout = String::from_utf8(out.stdout).expect("UTF-8");
            let shown = if color == "always" {
                assert!(
                    stdout.contains("\x1b[32m"),
                    "--color always paints:\n{stdout}"
                );
                without_sgr(&stdout)
            } else {
                stdout.clone()
            };
            let raw = raw_controls(&shown);
            assert!(
                raw.is_empty(),
                "--color {color} -v={verbose}: raw control characters {raw:?} in\n{stdout:?}"
            );
            // The data is shown, visibly.
            assert!(
                stdout.contains("Debian \\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x08\\u{009b}31m\\u{202e}evil\\u{2066} 12"),
                "os-release's name is not shown with visible escapes:\n{stdout}"
            );
            if verbose {
                assert!(
                    stdout.contains("Microsoft Surface Keyboard\\x1b]0;pwned"),
                    "the keyboard's name is not shown:\n{stdout}"
                );
            }
        }
    }
}

#[test]
fn a_capture_replays_without_raw_control_characters() {
    let t = hostile_tree();
    let root = t.path().to_str().unwrap();
    let out = surface_check(&["capture", "--root", root], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JSON is JSON: control characters are escaped by the serializer, and the
    // capture reads back.
    let json = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(!json.contains('\x1b') && !json.contains('\x07') && !json.contains('\r'));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facts.json");
    std::fs::write(&file, &json).unwrap();
    let out = surface_check(
        &[
            "status",
            "--from",
            file.to_str().unwrap(),
            "-v",
            "--color",
            "never",
        ],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(stdout.contains("\\x1b]0;pwned"), "{stdout}");
    let raw = raw_controls(&stdout);
    assert!(raw.is_empty(), "raw {raw:?} in\n{stdout:?}");
}

#[test]
fn json_status_escapes_control_characters() {
    let t = hostile_tree();
    let out = surface_check(
        &["status", "--root", t.path().to_str().unwrap(), "--json"],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        !stdout.chars().any(|c| c.is_ascii_control() && c != '\n'),
        "{stdout:?}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(v["machine"]["os"].as_str().unwrap().contains(HOSTILE));
}

#[test]
fn logs_carry_no_escape_codes_when_stderr_is_not_a_terminal() {
    // The root's path, which the debug log names, carries the hostile string; a
    // FIFO where a file is expected makes the tool log a hung path.
    let parent = tempfile::tempdir().unwrap();
    let t = hostile_tree_in(Some(parent.path()));
    t.fifo("sys/class/dmi/id/product_version");
    for env in [
        vec![("SURFACE_CHECK_LOG", "debug")],
        vec![("SURFACE_CHECK_LOG", "trace"), ("NO_COLOR", "1")],
    ] {
        let out = surface_check(
            &[
                "status",
                "--root",
                t.path().to_str().unwrap(),
                "--read-timeout",
                "200",
            ],
            &env,
        );
        let stderr = String::from_utf8(out.stderr).expect("UTF-8");
        assert!(
            stderr.contains("pwned"),
            "{env:?}: the debug log does not name the root:\n{stderr}"
        );
        let raw = raw_controls(&stderr);
        assert!(
            raw.is_empty(),
            "{env:?}: raw {raw:?} in the log:\n{stderr:?}"
        );
    }
}

#[test]
fn error_messages_show_control_characters_visibly() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join(format!("x{HOSTILE}"));
    let out = surface_check(&["status", "--root", name.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).expect("UTF-8");
    let raw = raw_controls(&stderr);
    assert!(raw.is_empty(), "raw {raw:?} in\n{stderr:?}");
    assert!(stderr.contains("\\x1b]0;pwned"), "{stderr}");
}

/// "not found: not found", "not a directory: not a directory": an error's cause
/// said twice.
#[test]
fn error_messages_say_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let missing = dir.path().join("missing");
    for args in [
        vec!["status", "--root", missing.to_str().unwrap()],
        vec!["status", "--root", file.to_str().unwrap()],
        vec!["capture", "--root", missing.to_str().unwrap()],
        vec!["status", "--from", missing.to_str().unwrap()],
        vec!["status", "--from", dir.path().to_str().unwrap()],
    ] {
        let out = surface_check(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).expect("UTF-8");
        let msg = stderr.trim_end().trim_start_matches("surface-check: ");
        let parts: Vec<&str> = msg.split(": ").collect();
        for w in parts.windows(2) {
            assert_ne!(w[0], w[1], "{args:?}: said twice: {stderr}");
        }
        assert!(
            !stderr.contains('\n') || stderr.trim_end().lines().count() == 1,
            "{stderr}"
        );
    }
}
