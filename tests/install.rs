//! The edges a new user touches: `scripts/install.sh` puts the binary, the man pages
//! and the completions where the system looks for them; the quick-start scripts
//! check the Rust toolchain against Cargo.toml's `rust-version` with a clear
//! message, and under sudo find the invoking user's rustup toolchain.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn committed(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn install_puts_binary_man_pages_and_completions_in_place() {
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new(repo().join("scripts/install.sh"))
        .args(["--prefix", "/usr", "--destdir"])
        .arg(dest.path())
        .args(["--binary", BIN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let usr = dest.path().join("usr");
    let bin = usr.join("bin/surface-check");
    let mode = std::fs::metadata(&bin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "{}", bin.display());
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(text(&v.stdout).starts_with("surface-check "), "{v:?}");

    // Every man page, the main one and one per command.
    let pages = committed("docs/man");
    assert!(pages.len() >= 5, "{pages:?}");
    for page in &pages {
        let put = usr.join("share/man/man1").join(page.file_name().unwrap());
        assert_eq!(std::fs::read(&put).unwrap(), std::fs::read(page).unwrap());
    }
    for (from, to) in [
        (
            "surface-check.bash",
            "share/bash-completion/completions/surface-check",
        ),
        ("_surface-check", "share/zsh/site-functions/_surface-check"),
        (
            "surface-check.fish",
            "share/fish/vendor_completions.d/surface-check.fish",
        ),
    ] {
        let want = std::fs::read(repo().join("docs/completions").join(from)).unwrap();
        assert_eq!(std::fs::read(usr.join(to)).unwrap(), want, "{to}");
    }
    // Each installed file is listed, nothing else is installed.
    let listed: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let mut files = Vec::new();
    let mut stack = vec![dest.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.to_str().unwrap().to_string());
            }
        }
    }
    files.sort();
    let mut listed_sorted: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    listed_sorted.sort();
    assert_eq!(files, listed_sorted);
}

#[test]
fn install_refuses_a_relative_prefix_and_a_missing_binary() {
    let dest = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(repo().join("scripts/install.sh"))
            .arg("--destdir")
            .arg(dest.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--prefix", "usr", "--binary", BIN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("absolute"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["--binary", "/nonexistent/surface-check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not an executable"));
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}

/// A directory of fake `cargo` and `rustc`: `rustc --version` says `version`, and
/// `cargo` records its arguments and RUSTUP_HOME in `calls` and does nothing.
fn fake_toolchain(dir: &Path, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, body: String| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write(
        "rustc",
        format!("#!/bin/sh\necho 'rustc {version} (0000000 2025-01-01)'\n"),
    );
    write(
        "cargo",
        format!(
            "#!/bin/sh\necho \"$* RUSTUP_HOME=${{RUSTUP_HOME:-}}\" >> '{}'\n",
            dir.join("calls").display()
        ),
    );
}

/// Runs `scripts/check.sh --version` with only `env` (and a PATH of `path` plus the
/// system directories).
fn check_sh(path: &[&Path], env: &[(&str, &str)]) -> Output {
    let mut p: Vec<String> = path.iter().map(|d| d.display().to_string()).collect();
    p.extend(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(String::from));
    Command::new(repo().join("scripts/check.sh"))
        .arg("--version")
        .env_clear()
        .env("PATH", p.join(":"))
        .env("HOME", "/nonexistent")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn rust_version() -> String {
    let toml = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    toml.lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml states rust-version")
        .to_string()
}

#[test]
fn check_sh_refuses_a_rust_older_than_rust_version() {
    let want = rust_version();
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    fake_toolchain(&old, "1.63.0");
    let out = check_sh(&[&old], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("older than {want}")), "{err}");
    assert!(err.contains("rustup update"), "{err}");
    assert!(
        !old.join("calls").exists(),
        "cargo ran although rustc is too old"
    );

    // No cargo at all: how to get it, and never Debian's cargo package.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = check_sh(&[&empty], &[]);
    let err = text(&out.stderr);
    if Path::new("/usr/bin/cargo").exists() {
        // A system cargo (Debian's 1.63) is on PATH: refused as too old, or used
        // when new enough; either way the message never suggests the package.
        assert!(!err.contains("apt-get install cargo"), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("rustup") && err.contains(&want), "{err}");
    }
    assert!(!err.contains("apt-get install cargo"), "{err}");

    // A new enough rustc passes the check: cargo builds.
    let new = tmp.path().join("new");
    fake_toolchain(&new, "1.95.0-nightly");
    let _ = check_sh(&[&new], &[]);
    let calls = std::fs::read_to_string(new.join("calls")).unwrap();
    assert!(calls.contains("build --release"), "{calls}");
}

/// `sudo scripts/check.sh`: sudo's secure_path drops the user's ~/.cargo/bin and
/// sets HOME to root's; the script finds the invoking user's toolchain through
/// SUDO_USER's home directory and points rustup at that user's ~/.rustup.
#[test]
fn check_sh_under_sudo_finds_the_invoking_user_s_rustup_toolchain() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home/alice");
    fake_toolchain(&home.join(".cargo/bin"), "1.95.0");
    std::fs::create_dir_all(home.join(".rustup")).unwrap();
    // getent answers for the invoking user from the password database; this one
    // answers for alice.
    let shim = tmp.path().join("shim");
    std::fs::create_dir(&shim).unwrap();
    let getent = shim.join("getent");
    std::fs::write(
        &getent,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = 'passwd alice' ] && echo 'alice:x:1000:1000::{}:/bin/bash'\n",
            home.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&getent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = check_sh(
        &[&shim],
        &[("SUDO_USER", "alice"), ("HOME", "/nonexistent")],
    );
    let err = text(&out.stderr);
    assert!(err.contains("using alice's Rust toolchain"), "{err}");
    let calls = std::fs::read_to_string(home.join(".cargo/bin/calls"))
        .unwrap_or_else(|_| panic!("alice's cargo did not run: {err}"));
    assert!(calls.contains("build --release"), "{calls}");
    assert!(
        calls.contains(&format!("RUSTUP_HOME={}", home.join(".rustup").display())),
        "{calls}"
    );
}

/// One toolchain check serves every script: each sources scripts/rust-toolchain.sh
/// and none defines its own.
#[test]
fn scripts_share_one_toolchain_check() {
    let lib = std::fs::read_to_string(repo().join("scripts/rust-toolchain.sh")).unwrap();
    assert!(lib.contains("find_rust() {"), "{lib}");
    for name in ["check.sh", "test.sh", "install.sh"] {
        let s = std::fs::read_to_string(repo().join("scripts").join(name)).unwrap();
        assert!(
            s.contains("\n. scripts/rust-toolchain.sh\n"),
            "{name} does not source it"
        );
        assert!(
            !s.contains("find_rust() {"),
            "{name} defines its own find_rust"
        );
        assert!(s.contains("find_rust "), "{name} does not call find_rust");
    }
}
