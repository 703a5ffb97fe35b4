//! The edges a new user touches: `scripts/install.sh` puts the binaries, the man
//! pages, the completions, the systemd unit and the D-Bus files where the system
//! looks for them (tests/units.rs verifies the unit as installed); the quick-start scripts
//! check the Rust toolchain against Cargo.toml's `rust-version` with a clear
//! message, and under sudo find the invoking user's rustup toolchain.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");

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

/// Runs scripts/install.sh with `args`.
fn install(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(repo().join("scripts/install.sh"))
        .args(args)
        .output()
        .unwrap()
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
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
    files
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The systemd and D-Bus files, (committed, installed under the prefix).
const SERVICE_FILES: [(&str, &str); 8] = [
    (
        "systemd/surface-checkd.service",
        "lib/systemd/system/surface-checkd.service",
    ),
    (
        "systemd/surface-check-report.service",
        "lib/systemd/system/surface-check-report.service",
    ),
    (
        "systemd/surface-check-report.timer",
        "lib/systemd/system/surface-check-report.timer",
    ),
    (
        "systemd/user/surface-check-notify.service",
        "lib/systemd/user/surface-check-notify.service",
    ),
    (
        "dbus/io.github.SurfaceCheck1.policy",
        "share/polkit-1/actions/io.github.SurfaceCheck1.policy",
    ),
    (
        "dbus/io.github.SurfaceCheck1.conf",
        "share/dbus-1/system.d/io.github.SurfaceCheck1.conf",
    ),
    (
        "dbus/io.github.SurfaceCheck1.service",
        "share/dbus-1/system-services/io.github.SurfaceCheck1.service",
    ),
    (
        "dbus/io.github.SurfaceCheck1.xml",
        "share/dbus-1/interfaces/io.github.SurfaceCheck1.xml",
    ),
];

#[test]
fn install_puts_binaries_man_pages_completions_unit_and_bus_files_in_place() {
    let dest = tempfile::tempdir().unwrap();
    let out = install(&[
        "--prefix".as_ref(),
        "/usr".as_ref(),
        "--destdir".as_ref(),
        dest.path().as_os_str(),
        "--binary".as_ref(),
        BIN.as_ref(),
        "--daemon".as_ref(),
        DAEMON.as_ref(),
    ]);
    assert!(
        out.status.success(),
        "install.sh failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let usr = dest.path().join("usr");
    for (name, from) in [("surface-check", BIN), ("surface-checkd", DAEMON)] {
        let bin = usr.join("bin").join(name);
        let mode = std::fs::metadata(&bin).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{}", bin.display());
        assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(from).unwrap());
        let v = Command::new(&bin).arg("--version").output().unwrap();
        assert!(text(&v.stdout).starts_with(&format!("{name} ")), "{v:?}");
    }

    // Every man page, the main one, one per command, and the daemon's.
    let pages = committed("docs/man");
    assert!(pages.len() >= 6, "{pages:?}");
    assert!(
        pages.iter().any(|p| p.ends_with("surface-checkd.8")),
        "{pages:?}"
    );
    for page in &pages {
        let name = page.file_name().unwrap().to_str().unwrap();
        let section = name.rsplit('.').next().unwrap();
        let put = usr.join(format!("share/man/man{section}")).join(name);
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
    // Under /usr the unit and the bus files are the committed ones, byte for byte.
    for (from, to) in SERVICE_FILES {
        assert!(repo().join(from).exists(), "{from} is not committed");
        assert_eq!(read(&usr.join(to)), read(&repo().join(from)), "{to}");
        let mode = std::fs::metadata(usr.join(to))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{to}");
    }
    // Each installed file is listed, nothing else is installed.
    let mut listed: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    listed.sort();
    assert_eq!(files_under(dest.path()), listed);
    // How to start it, for /usr: the files are where systemd and the bus look.
    let err = text(&out.stderr);
    for step in [
        "systemctl daemon-reload",
        "systemctl reload dbus",
        "systemctl enable --now surface-checkd",
    ] {
        assert!(err.contains(step), "{err}");
    }
    assert!(
        !err.contains("ln -s") && !err.contains("systemctl link"),
        "{err}"
    );
}

/// Another prefix: the unit and the activation file name that prefix's daemon, the
/// daemon beside --binary is found, and the message says how to link what systemd
/// and the system bus would not find there.
#[test]
fn install_under_another_prefix_names_its_daemon_and_says_how_to_link_the_rest() {
    let dest = tempfile::tempdir().unwrap();
    // --binary alone: surface-checkd beside it (cargo builds both into one directory).
    let out = install(&[
        "--prefix".as_ref(),
        "/opt/sc".as_ref(),
        "--destdir".as_ref(),
        dest.path().as_os_str(),
        "--binary".as_ref(),
        BIN.as_ref(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let opt = dest.path().join("opt/sc");
    assert_eq!(
        std::fs::read(opt.join("bin/surface-checkd")).unwrap(),
        std::fs::read(DAEMON).unwrap()
    );
    for (from, to) in SERVICE_FILES {
        let want =
            read(&repo().join(from)).replace("/usr/bin/surface-check", "/opt/sc/bin/surface-check");
        assert_eq!(read(&opt.join(to)), want, "{to}");
    }
    let unit = read(&opt.join(SERVICE_FILES[0].1));
    assert!(
        unit.contains("\nExecStart=/opt/sc/bin/surface-checkd\n"),
        "{unit}"
    );
    let act = read(&opt.join("share/dbus-1/system-services/io.github.SurfaceCheck1.service"));
    assert!(act.contains("\nExec=/opt/sc/bin/surface-checkd\n"), "{act}");
    for step in [
        "systemctl link /opt/sc/lib/systemd/system/surface-checkd.service",
        "ln -s /opt/sc/share/dbus-1/system.d/io.github.SurfaceCheck1.conf /etc/dbus-1/system.d/",
        "ln -s /opt/sc/share/dbus-1/system-services/io.github.SurfaceCheck1.service \
         /usr/local/share/dbus-1/system-services/",
        "systemctl daemon-reload",
        "systemctl reload dbus",
        "systemctl enable --now surface-checkd",
    ] {
        assert!(err.contains(step), "no {step:?} in:\n{err}");
    }
    assert!(
        err.find("systemctl link").unwrap() < err.find("systemctl enable").unwrap(),
        "{err}"
    );

    // /usr/local: systemd and the activation directory are found, the policy is not.
    let dest = tempfile::tempdir().unwrap();
    let out = install(&[
        "--destdir".as_ref(),
        dest.path().as_os_str(),
        "--binary".as_ref(),
        BIN.as_ref(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        dest.path()
            .join("usr/local/lib/systemd/system/surface-checkd.service")
            .is_file()
    );
    assert!(
        err.contains(
            "ln -s /usr/local/share/dbus-1/system.d/io.github.SurfaceCheck1.conf /etc/dbus-1/system.d/"
        ),
        "{err}"
    );
    assert!(!err.contains("systemctl link"), "{err}");
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
    // The service files name PREFIX/bin/surface-checkd unquoted.
    let out = run(&["--prefix", "/opt/my sc", "--binary", BIN]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--prefix may hold only"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["--binary", "/nonexistent/surface-check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not an executable"));

    // A surface-check without its daemon beside it, and no --daemon.
    let lone = tempfile::tempdir().unwrap();
    let cli = lone.path().join("surface-check");
    std::fs::copy(BIN, &cli).unwrap();
    let out = run(&["--binary", cli.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("surface-checkd is not an executable") && err.contains("--daemon"),
        "{err}"
    );

    // A daemon of another version.
    let other = lone.path().join("surface-checkd");
    std::fs::write(&other, "#!/bin/sh\necho 'surface-checkd 0.0.1'\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(&["--binary", cli.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("matching pair"), "{err}");

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
