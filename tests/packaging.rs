//! The distribution packages install one layout: the files of the Debian package
//! (cargo-deb's assets in Cargo.toml's `[package.metadata.deb]`), of the Arch
//! package (packaging/arch/PKGBUILD's package(), run with bash), of the RPM
//! (packaging/rpm/surface-check.spec, built with the real rpmbuild from prebuilt
//! binaries and listed with `rpm -qlp`) and of `scripts/install.sh --prefix /usr`
//! are the same set, and every file in systemd/ and dbus/ is in it. The Debian
//! maintainer scripts enable exactly the system units that have an [Install]
//! section. scripts/package-test.sh installs the .deb itself in a Debian chroot
//! (docs/packaging.md).

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_surface-check");
const DAEMON: &str = env!("CARGO_BIN_EXE_surface-checkd");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e}); scripts/test.sh installs it"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Every file (not directory) under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(p.strip_prefix(dir).unwrap().to_str().unwrap().to_string());
            }
        }
    }
    files
}

/// One spelling for every package: no leading `/`, man pages without the `.gz`
/// the packagers add, and without the build-id links rpmbuild adds.
fn normalize(paths: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    paths
        .into_iter()
        .map(|p| p.trim_start_matches('/').to_string())
        .filter(|p| !p.starts_with("usr/lib/.build-id"))
        .map(|p| match p.strip_suffix(".gz") {
            Some(stem) if p.starts_with("usr/share/man/") => stem.to_string(),
            _ => p,
        })
        .collect()
}

/// A source tree as the packages' build steps see it: the repository's files,
/// with the test's own binaries as target/release/surface-check{,d}.
fn source_tree(top: &Path) -> PathBuf {
    let src = top.join(format!("surface-check-{VERSION}"));
    std::fs::create_dir_all(src.join("target/release")).unwrap();
    std::fs::create_dir_all(src.join("docs")).unwrap();
    for dir in ["systemd", "dbus", "docs/man", "docs/completions"] {
        std::os::unix::fs::symlink(repo().join(dir), src.join(dir)).unwrap();
    }
    for (from, name) in [(BIN, "surface-check"), (DAEMON, "surface-checkd")] {
        std::fs::copy(from, src.join("target/release").join(name)).unwrap();
    }
    src
}

/// The files of `scripts/install.sh --prefix /usr`.
fn install_sh_files(tmp: &Path) -> BTreeSet<String> {
    let dest = tmp.join("install-sh");
    run(
        "scripts/install.sh --prefix /usr",
        Command::new(repo().join("scripts/install.sh"))
            .args(["--prefix", "/usr", "--destdir"])
            .arg(&dest)
            .arg("--binary")
            .arg(BIN)
            .arg("--daemon")
            .arg(DAEMON),
    );
    normalize(files_under(&dest))
}

/// The spec's License: (the project has chosen none yet: a placeholder that
/// every recipe uses alike).
fn rpm_license() -> String {
    let spec = std::fs::read_to_string(repo().join("packaging/rpm/surface-check.spec")).unwrap();
    let license = spec
        .lines()
        .find_map(|l| l.strip_prefix("License:"))
        .expect("the spec has a License: line")
        .trim()
        .to_string();
    assert_eq!(
        license, "LicenseRef-Unspecified",
        "Cargo.toml sets no license: the recipes say LicenseRef-Unspecified"
    );
    license
}

/// The files of packaging/arch/PKGBUILD's package(), run as makepkg runs it: in
/// $srcdir, with $pkgdir.
fn pkgbuild_files(tmp: &Path) -> BTreeSet<String> {
    let srcdir = tmp.join("arch-src");
    source_tree(&srcdir);
    let pkgdir = tmp.join("arch-pkg");
    std::fs::create_dir_all(&pkgdir).unwrap();
    run(
        "bash: PKGBUILD's package()",
        Command::new("bash")
            .arg("-c")
            .arg(r#"set -euo pipefail; source "$1"
[[ "$pkgver" == "$2" ]] || { echo "PKGBUILD's pkgver $pkgver is not Cargo.toml's $2"; exit 1; }
# makepkg's default LTO breaks the bundled C (libsqlite3-sys, zstd-sys).
[[ " ${options[*]} " == *" !lto "* ]] || { echo "PKGBUILD's options lack !lto: ${options[*]}"; exit 1; }
[[ " ${makedepends[*]} " == *" cargo "* && " ${makedepends[*]} " != *" rust "* ]] ||
    { echo "PKGBUILD's makedepends should name cargo, not rust: ${makedepends[*]}"; exit 1; }
[[ "${license[*]}" == "$3" ]] || { echo "PKGBUILD's license ${license[*]} is not the RPM's $3"; exit 1; }
cd "$srcdir"; package"#)
            .arg("bash")
            .arg(repo().join("packaging/arch/PKGBUILD"))
            .arg(VERSION)
            .arg(rpm_license())
            .env("srcdir", &srcdir)
            .env("pkgdir", &pkgdir),
    );
    normalize(files_under(&pkgdir))
}

/// systemd's RPM macros (systemd's src/rpm/macros.systemd.in, with Fedora's
/// paths), which Fedora's systemd-rpm-macros provides and Debian's rpm lacks:
/// the directories and the scriptlet macros the spec uses.
const SYSTEMD_MACROS: &str = r#"
%_unitdir /usr/lib/systemd/system
%_userunitdir /usr/lib/systemd/user
%systemd_requires \
Requires(post): systemd \
Requires(preun): systemd \
Requires(postun): systemd \
%{nil}
%systemd_post() \
if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper install-system-units %{?*} || : \
fi \
%{nil}
%systemd_user_post() \
if [ $1 -eq 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper install-user-units %{?*} || : \
fi \
%{nil}
%systemd_preun() \
if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper remove-system-units %{?*} || : \
fi \
%{nil}
%systemd_user_preun() \
if [ $1 -eq 0 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper remove-user-units %{?*} || : \
fi \
%{nil}
%systemd_postun_with_restart() \
if [ $1 -ge 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper mark-restart-system-units %{?*} || : \
fi \
%{nil}
%systemd_user_postun_with_restart() \
if [ $1 -ge 1 ] && [ -x "/usr/lib/systemd/systemd-update-helper" ]; then \
    /usr/lib/systemd/systemd-update-helper mark-restart-user-units %{?*} || : \
fi \
%{nil}
"#;

/// What Fedora's redhat-rpm-config adds and Debian's rpm lacks: debug packages
/// on, and %debug_package put before %install (its `%install` macro). With them
/// rpmbuild runs find-debuginfo (Debian's debugedit, eu-strip from elfutils) on
/// the packaged binaries, strips them and writes surface-check-debuginfo, as on
/// Fedora, and fails if they carry no debug information.
///
/// Not `%_debugsource_packages`: the debugsource package holds the sources the
/// debug information names under rpmbuild's BUILD directory, and the test's
/// prebuilt binaries were compiled in the repository, not there, so that list
/// is empty and rpmbuild would fail on it ("Empty %files file
/// debugsourcefiles.list"). A build from source (%cargo_build in the BUILD
/// directory) fills it.
const FEDORA_DEBUG_MACROS: &str = r#"
%_enable_debug_packages 1
%install %{?_enable_debug_packages:%{?buildsubdir:%{debug_package}}}\
%%install\
%{nil}
"#;

/// Stand-ins for cargo-rpm-macros (Fedora's, absent here) that print their
/// name and arguments, to read what the spec's build from source runs.
const CARGO_MACROS: &str = r#"
%cargo_prep(v:) CARGO_PREP %{-v:-v %{-v*}}
%cargo_build(-) CARGO_BUILD %{?**}
%cargo_license_summary CARGO_LICENSE_SUMMARY
%cargo_license CARGO_LICENSE
%cargo_vendor_manifest CARGO_VENDOR_MANIFEST
"#;

/// The files of the binary RPM built from packaging/rpm/surface-check.spec with
/// `--with prebuilt` (the source tarball holds the test's binaries, which carry
/// debug information: the dev profile's), as `rpm -qlp` lists them; its
/// scriptlets have every macro expanded, and it comes with a debuginfo package
/// holding both binaries' debug information.
fn rpm_files(tmp: &Path) -> BTreeSet<String> {
    let top = tmp.join("rpm");
    let src = tmp.join("rpm-src");
    source_tree(&src);
    std::fs::create_dir_all(top.join("SOURCES")).unwrap();
    // Uncompressed (rpm finds the format by its content, not its name): quicker.
    run(
        "tar",
        Command::new("tar")
            .arg("-C")
            .arg(&src)
            .arg("-chf")
            .arg(top.join(format!("SOURCES/surface-check-{VERSION}.tar.gz")))
            .arg(format!("surface-check-{VERSION}")),
    );
    let macros = tmp.join("macros.systemd");
    std::fs::write(&macros, SYSTEMD_MACROS).unwrap();
    let debug_macros = tmp.join("macros.debug");
    std::fs::write(&debug_macros, FEDORA_DEBUG_MACROS).unwrap();
    if !Path::new("/usr/bin/eu-strip").exists() {
        panic!("eu-strip not found (rpmbuild's find-debuginfo runs it): apt-get install elfutils");
    }
    run(
        "rpmbuild -bb --with prebuilt",
        Command::new("rpmbuild")
            .args(["-bb", "--with", "prebuilt", "--nodeps", "--quiet"])
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .args(["--define", "_binary_payload w1.gzdio"])
            .arg("--load")
            .arg(&macros)
            .arg("--load")
            .arg(&debug_macros)
            .arg(repo().join("packaging/rpm/surface-check.spec")),
    );
    let debuginfo = top
        .join("RPMS/x86_64")
        .join(format!("surface-check-debuginfo-{VERSION}-1.x86_64.rpm"));
    let debug_files = text(
        &run(
            "rpm -qlp (the debuginfo package)",
            Command::new("rpm").arg("-qlp").arg(&debuginfo),
        )
        .stdout,
    );
    for bin in ["surface-check", "surface-checkd"] {
        let want = format!("/usr/lib/debug/usr/bin/{bin}-{VERSION}-1.x86_64.debug");
        assert!(
            debug_files.lines().any(|l| l == want),
            "the debuginfo package lacks {want}:\n{debug_files}"
        );
    }
    let rpm = top
        .join("RPMS/x86_64")
        .join(format!("surface-check-{VERSION}-1.x86_64.rpm"));
    let list = run("rpm -qlp", Command::new("rpm").arg("-qlp").arg(&rpm));
    let scripts = text(
        &run(
            "rpm -qp --scripts",
            Command::new("rpm").args(["-qp", "--scripts"]).arg(&rpm),
        )
        .stdout,
    );
    assert!(
        !scripts.contains('%'),
        "the RPM's scriptlets hold an unexpanded macro:\n{scripts}"
    );
    assert!(
        scripts.contains("install-system-units surface-checkd.service surface-check-report.timer"),
        "the RPM's %post does not hand the daemon and the timer to systemd's presets:\n{scripts}"
    );
    assert!(
        !scripts.contains("install-user-units"),
        "the RPM hands the notifier (a user unit) to the presets; no package enables it:\n{scripts}"
    );
    // rpm -qlp lists directories the package owns, too; it owns none here.
    normalize(text(&list.stdout).lines().map(str::to_string))
}

/// The spec's build from source (without `--with prebuilt`) builds offline as
/// Fedora's Rust guidelines do: %prep unpacks the vendored crates (Source1)
/// into the source tree and %cargo_prep points cargo at them, %build is
/// %cargo_build (no cargo of its own that could reach the network) and writes
/// the license summary and the vendor manifest, %install takes its binaries
/// from %cargo_build's profile directory, target/rpm.
#[test]
fn rpm_source_build_uses_the_vendored_crates() {
    let tmp = tempfile::tempdir().unwrap();
    let macros = tmp.path().join("macros.cargo");
    std::fs::write(&macros, CARGO_MACROS).unwrap();
    let spec = text(
        &run(
            "rpmspec -P",
            Command::new("rpmspec")
                .arg("-P")
                .args(["--define", "_sourcedir /SOURCES"])
                .arg("--load")
                .arg(&macros)
                .arg(repo().join("packaging/rpm/surface-check.spec")),
        )
        .stdout,
    );
    // rpmspec -P of rpm 4.18 leaves out the `%build` line itself, so %prep and
    // %build are read as one, in order.
    let between = |from: &str, to: &str| -> String {
        let start = spec
            .find(from)
            .unwrap_or_else(|| panic!("no {from:?} in the parsed spec:\n{spec}"));
        let rest = &spec[start..];
        rest[..rest.find(to).unwrap_or(rest.len())].to_string()
    };
    let prep_build = between("\n%prep\n", "\n%install\n");
    let install = between("\n%install\n", "\n%post\n");
    let vendor = format!("/SOURCES/surface-check-{VERSION}-vendor.tar.xz");
    let mut last = 0;
    for step in [
        format!("cd 'surface-check-{VERSION}'"),
        vendor,
        "CARGO_PREP -v vendor".to_string(),
        "CARGO_BUILD -- --locked".to_string(),
        "CARGO_LICENSE_SUMMARY".to_string(),
        "CARGO_VENDOR_MANIFEST".to_string(),
    ] {
        let at = prep_build[last..].find(&step).unwrap_or_else(|| {
            panic!("%prep/%build lack {step:?} (or have it out of order):\n{prep_build}")
        });
        last += at + step.len();
    }
    assert!(
        !prep_build.contains("cargo "),
        "the source build runs cargo itself, outside the vendored set-up:\n{prep_build}"
    );
    assert!(
        install.contains("target/rpm/surface-check target/rpm/surface-checkd"),
        "%install does not take %cargo_build's binaries from target/rpm:\n{install}"
    );
}

/// The files of the Debian package: Cargo.toml's cargo-deb assets (read with
/// `cargo metadata`), globs expanded as cargo-deb expands them (a `*` in the
/// file name), a destination ending in `/` naming a directory.
fn deb_files() -> BTreeSet<String> {
    let out = run(
        "cargo metadata",
        Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
                "--manifest-path",
            ])
            .arg(repo().join("Cargo.toml")),
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deb = &meta["packages"][0]["metadata"]["deb"];
    let assets = deb["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets");
    let mut files = Vec::new();
    for asset in assets {
        let a = asset.as_array().expect("an asset is [source, dest, mode]");
        let (source, dest) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        let sources: Vec<String> = if let Some(bin) = source.strip_prefix("target/release/") {
            vec![bin.to_string()]
        } else if let Some((dir, pattern)) = source.rsplit_once('/')
            && pattern.contains('*')
        {
            let (prefix, suffix) = pattern.split_once('*').unwrap();
            let mut names: Vec<String> = std::fs::read_dir(repo().join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
                .collect();
            names.sort();
            assert!(!names.is_empty(), "the asset {source} matches no file");
            names
        } else {
            assert!(
                repo().join(source).is_file(),
                "the asset {source} is not a file"
            );
            vec![source.rsplit('/').next().unwrap().to_string()]
        };
        for name in sources {
            files.push(match dest.strip_suffix('/') {
                Some(d) => format!("{d}/{name}"),
                None => dest.to_string(),
            });
        }
    }
    normalize(files)
}

#[test]
fn every_package_installs_the_layout_of_install_sh() {
    let tmp = tempfile::tempdir().unwrap();
    let install = install_sh_files(tmp.path());
    let packages = [
        (
            "the Debian package (Cargo.toml's cargo-deb assets)",
            deb_files(),
        ),
        (
            "the Arch package (PKGBUILD's package())",
            pkgbuild_files(tmp.path()),
        ),
        ("the RPM (rpm -qlp)", rpm_files(tmp.path())),
    ];
    for (what, files) in &packages {
        let missing: Vec<_> = install.difference(files).collect();
        let extra: Vec<_> = files.difference(&install).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{what} differs from `scripts/install.sh --prefix /usr`:\n  missing: {missing:?}\n  extra: {extra:?}"
        );
    }
    eprintln!("one layout of {} files: {install:#?}", install.len());

    // Every file of systemd/ and dbus/ (walked), by name, and binaries and docs.
    for dir in ["systemd", "dbus"] {
        for f in files_under(&repo().join(dir)) {
            let name = f.rsplit('/').next().unwrap();
            assert!(
                install.iter().any(|p| p.rsplit('/').next() == Some(name)),
                "{dir}/{f} is installed by no package"
            );
        }
    }
    for f in files_under(&repo().join("docs/man")) {
        let section = f.rsplit('.').next().unwrap();
        assert!(
            install.contains(&format!("usr/share/man/man{section}/{f}")),
            "docs/man/{f} is installed by no package"
        );
    }
    for f in ["usr/bin/surface-check", "usr/bin/surface-checkd"] {
        assert!(install.contains(f), "{f} is missing");
    }
}

/// The [Install] of a unit file: does it have one?
fn has_install(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .any(|l| l.trim() == "[Install]")
}

#[test]
fn debian_maintainer_scripts_enable_the_units_that_have_an_install_section() {
    let postinst = std::fs::read_to_string(repo().join("packaging/debian/postinst")).unwrap();
    let named: BTreeSet<String> = postinst
        .lines()
        .find_map(|l| l.strip_prefix("units=\""))
        .expect("postinst sets units=\"...\"")
        .trim_end_matches('"')
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut with_install = BTreeSet::new();
    for e in std::fs::read_dir(repo().join("systemd")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && has_install(&p) {
            with_install.insert(p.file_name().unwrap().to_str().unwrap().to_string());
        }
    }
    assert_eq!(
        named, with_install,
        "postinst enables {named:?}, the system units with [Install] are {with_install:?}"
    );
    let postrm = std::fs::read_to_string(repo().join("packaging/debian/postrm")).unwrap();
    for unit in &named {
        assert!(
            postrm.contains(unit),
            "postrm's purge does not forget {unit}'s symlinks"
        );
    }
    assert!(
        postrm.contains("rm -rf \"${DPKG_ROOT:-}/var/lib/surface-check\""),
        "postrm does not remove the history on purge"
    );

    for script in ["postinst", "prerm", "postrm"] {
        let path = repo().join("packaging/debian").join(script);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is not executable");
        // POSIX sh, as dpkg runs it (dash on Debian): syntax only.
        run(
            &format!("sh -n {script}"),
            Command::new("sh").arg("-n").arg(&path),
        );
    }
}
