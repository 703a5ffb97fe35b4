#!/usr/bin/env bash
# Installs surface-check and its daemon surface-checkd: the binaries, man pages, shell
# completions, the systemd units (the daemon; the report service and its timer) and
# the D-Bus files.
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR]
#                      [--binary PATH [--daemon PATH] | --no-build]
#
#   --prefix DIR    where it goes (default /usr/local):
#                     DIR/bin/surface-check, DIR/bin/surface-checkd
#                     DIR/share/man/man1/surface-check.1, surface-check-<command>.1
#                     DIR/share/man/man8/surface-checkd.8
#                     DIR/share/bash-completion/completions/surface-check
#                     DIR/share/zsh/site-functions/_surface-check
#                     DIR/share/fish/vendor_completions.d/surface-check.fish
#                     DIR/lib/systemd/system/surface-checkd.service
#                     DIR/lib/systemd/system/surface-check-report.service
#                     DIR/lib/systemd/system/surface-check-report.timer
#                     DIR/lib/systemd/user/surface-check-notify.service
#                     DIR/share/dbus-1/system.d/io.github.SurfaceCheck1.conf
#                     DIR/share/dbus-1/system-services/io.github.SurfaceCheck1.service
#                     DIR/share/dbus-1/interfaces/io.github.SurfaceCheck1.xml
#                     DIR/share/polkit-1/actions/io.github.SurfaceCheck1.policy
#   --destdir DIR   stage the files under DIR (DIR/PREFIX/...), as packagers do
#   --binary PATH   install this surface-check binary instead of building one
#   --daemon PATH   install this surface-checkd (default: the one beside --binary)
#   --no-build      install target/release/surface-check{,d} as they are (build first)
#
# Without --binary or --no-build it builds both release binaries (`cargo build
# --release`), which needs Rust at least as new as Cargo.toml's rust-version. To
# install into /usr/local, build as yourself and copy as root:
#
#   cargo build --release && sudo scripts/install.sh --no-build
#
# Or, without root: scripts/install.sh --prefix ~/.local (the daemon then serves only
# the session bus: surface-checkd --session).
# The units and the D-Bus activation file name DIR/bin/surface-checkd and
# DIR/bin/surface-check. At the end the script says how to start the service and the
# report timer on a distribution with systemd (NixOS has its own module instead).
# The man pages and completions are the committed, generated ones (docs/man,
# docs/completions; tests/generated_docs.rs keeps them equal to the code). Every
# installed file is listed on standard output; removing them uninstalls.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")/.."

usage() { # EXIT_CODE
    sed -n '6,25p' "$0" | sed 's/^# \{0,1\}//' >&"$(( $1 == 0 ? 1 : 2 ))"
    exit "$1"
}
# A path given relative to where the script was started from.
from_caller() { [[ "$1" == /* ]] && echo "$1" || echo "$caller/$1"; }

prefix=/usr/local
destdir=
binary=
daemon=
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --prefix) [[ $# -ge 2 ]] || usage 2; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --destdir) [[ $# -ge 2 ]] || usage 2; destdir="$2"; shift 2 ;;
    --destdir=*) destdir="${1#*=}"; shift ;;
    --binary) [[ $# -ge 2 ]] || usage 2; binary="$2"; build=0; shift 2 ;;
    --binary=*) binary="${1#*=}"; build=0; shift ;;
    --daemon) [[ $# -ge 2 ]] || usage 2; daemon="$2"; build=0; shift 2 ;;
    --daemon=*) daemon="${1#*=}"; build=0; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done
[[ "$prefix" == /* ]] || { echo "install.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2; }
# The unit's ExecStart= and the activation file's Exec= name PREFIX/bin/surface-checkd
# unquoted: no character that either would read specially.
if [[ "$prefix" =~ [^A-Za-z0-9/._+@:,=-] ]]; then
    echo "install.sh: --prefix may hold only letters, digits and / . _ + @ : , = - (the service files name PREFIX/bin/surface-checkd), got '$prefix'" >&2
    exit 2
fi
prefix="${prefix%/}"
prefix="${prefix:-/}"
[[ -z "$destdir" ]] || destdir="$(from_caller "$destdir")"
[[ -z "$binary" ]] || binary="$(from_caller "$binary")"
[[ -z "$daemon" ]] || daemon="$(from_caller "$daemon")"

# shellcheck source=scripts/rust-toolchain.sh
. scripts/rust-toolchain.sh

if [[ $build -eq 1 ]]; then
    find_rust install.sh
    find_cc install.sh
    find_libclang install.sh
    find_libudev install.sh
    cargo build --release --quiet --bin surface-check --bin surface-checkd
fi
binary="${binary:-target/release/surface-check}"
daemon="${daemon:-$(dirname "$binary")/surface-checkd}"
for exe in "$binary" "$daemon"; do
    if [[ ! -x "$exe" || -d "$exe" ]]; then
        echo "install.sh: $exe is not an executable; build it with \`cargo build --release\` or name one with --binary and --daemon" >&2
        exit 2
    fi
done
if ! version="$("$binary" --version)"; then
    echo "install.sh: $binary does not run" >&2
    exit 2
fi
if ! daemon_version="$("$daemon" --version)"; then
    echo "install.sh: $daemon does not run" >&2
    exit 2
fi
if [[ "${version#surface-check }" != "${daemon_version#surface-checkd }" ]]; then
    echo "install.sh: $binary is $version but $daemon is $daemon_version; install a matching pair" >&2
    exit 2
fi

root="${destdir%/}${prefix%/}"
put() { # MODE SOURCE DEST
    install -D -m "$1" "$2" "$root/$3"
    echo "$root/$3"
}
# SOURCE with /usr/bin/surface-check and /usr/bin/surface-checkd made
# PREFIX/bin/surface-check and PREFIX/bin/surface-checkd (one substitution, which
# keeps what follows the common stem).
put_service() { # SOURCE DEST
    local text
    text="$(<"$1")"
    text="${text//\/usr\/bin\/surface-check/"${prefix%/}/bin/surface-check"}"
    install -d "$(dirname "$root/$2")"
    printf '%s\n' "$text" >"$root/$2"
    chmod 0644 "$root/$2"
    echo "$root/$2"
}

put 0755 "$binary" bin/surface-check
put 0755 "$daemon" bin/surface-checkd
for page in docs/man/*.[18]; do
    put 0644 "$page" "share/man/man${page##*.}/${page##*/}"
done
put 0644 docs/completions/surface-check.bash share/bash-completion/completions/surface-check
put 0644 docs/completions/_surface-check share/zsh/site-functions/_surface-check
put 0644 docs/completions/surface-check.fish share/fish/vendor_completions.d/surface-check.fish

unit=lib/systemd/system/surface-checkd.service
report_service=lib/systemd/system/surface-check-report.service
report_timer=lib/systemd/system/surface-check-report.timer
policy=share/dbus-1/system.d/io.github.SurfaceCheck1.conf
activation=share/dbus-1/system-services/io.github.SurfaceCheck1.service
notify_unit=lib/systemd/user/surface-check-notify.service
actions=share/polkit-1/actions/io.github.SurfaceCheck1.policy
put_service systemd/surface-checkd.service "$unit"
put_service systemd/surface-check-report.service "$report_service"
put_service systemd/surface-check-report.timer "$report_timer"
put 0644 dbus/io.github.SurfaceCheck1.conf "$policy"
put_service dbus/io.github.SurfaceCheck1.service "$activation"
put_service systemd/user/surface-check-notify.service "$notify_unit"
put 0644 dbus/io.github.SurfaceCheck1.policy "$actions"
if [[ -f dbus/io.github.SurfaceCheck1.xml ]]; then
    put 0644 dbus/io.github.SurfaceCheck1.xml share/dbus-1/interfaces/io.github.SurfaceCheck1.xml
fi
echo "install.sh: installed $version and its daemon under $root" >&2

# How to start the daemon. systemd reads units from /usr/lib/systemd/system and
# /usr/local/lib/systemd/system; the system bus reads policies from
# /usr/share/dbus-1/system.d and /etc/dbus-1/system.d only, and activation files
# from /usr/share/dbus-1/system-services and /usr/local/share/dbus-1/system-services.
p="${prefix%/}"
{
    echo "install.sh: to run surface-checkd on the system bus (as root; on NixOS use its module instead):"
    case "$p" in
    /usr | /usr/local) ;;
    *)
        echo "    systemctl link $p/$unit"
        echo "    systemctl link $p/$report_service $p/$report_timer"
        echo "    mkdir -p /usr/local/share/dbus-1/system-services"
        echo "    ln -s $p/$activation /usr/local/share/dbus-1/system-services/"
        ;;
    esac
    if [[ "$p" != /usr ]]; then
        echo "    mkdir -p /etc/dbus-1/system.d"
        echo "    ln -s $p/$policy /etc/dbus-1/system.d/"
        echo "    ln -s $p/$actions /usr/share/polkit-1/actions/"
    fi
    echo "    systemctl daemon-reload"
    echo "    systemctl reload dbus"
    echo "    systemctl enable --now surface-checkd"
    echo "    systemctl enable --now surface-check-report.timer"
    echo "  Then \`surface-check status\` reads the report from it, and \`surface-check watch\` follows it;"
    echo "  the timer runs \`surface-check report\` after boot and resume, which records each boot and"
    echo "  names regressions (\`surface-check history\` lists the boots; docs/history.md)."
    echo "  Desktop notifications of regressions, for each user (as that user):"
    case "$p" in
    /usr | /usr/local) ;;
    *) echo "    systemctl --user link $p/$notify_unit" ;;
    esac
    echo "    systemctl --user enable --now surface-check-notify"
} >&2
