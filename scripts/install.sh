#!/usr/bin/env bash
# Installs surface-check: the binary, its man pages and its shell completions.
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR] [--binary PATH | --no-build]
#
#   --prefix DIR    where it goes (default /usr/local):
#                     DIR/bin/surface-check
#                     DIR/share/man/man1/surface-check.1, surface-check-<command>.1
#                     DIR/share/bash-completion/completions/surface-check
#                     DIR/share/zsh/site-functions/_surface-check
#                     DIR/share/fish/vendor_completions.d/surface-check.fish
#   --destdir DIR   stage the files under DIR (DIR/PREFIX/...), as packagers do
#   --binary PATH   install this surface-check binary instead of building one
#   --no-build      install target/release/surface-check as it is (build it first)
#
# Without --binary or --no-build it builds the release binary (`cargo build
# --release`), which needs Rust at least as new as Cargo.toml's rust-version. To
# install into /usr/local, build as yourself and copy as root:
#
#   cargo build --release && sudo scripts/install.sh --no-build
#
# Or, without root: scripts/install.sh --prefix ~/.local
# The man pages and completions are the committed, generated ones (docs/man,
# docs/completions; tests/generated_docs.rs keeps them equal to the code). Every
# installed file is listed on standard output; removing them uninstalls.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")/.."

usage() { # EXIT_CODE
    sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//' >&"$(( $1 == 0 ? 1 : 2 ))"
    exit "$1"
}
# A path given relative to where the script was started from.
from_caller() { [[ "$1" == /* ]] && echo "$1" || echo "$caller/$1"; }

prefix=/usr/local
destdir=
binary=
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --prefix) [[ $# -ge 2 ]] || usage 2; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --destdir) [[ $# -ge 2 ]] || usage 2; destdir="$2"; shift 2 ;;
    --destdir=*) destdir="${1#*=}"; shift ;;
    --binary) [[ $# -ge 2 ]] || usage 2; binary="$2"; build=0; shift 2 ;;
    --binary=*) binary="${1#*=}"; build=0; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done
[[ "$prefix" == /* ]] || { echo "install.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2; }
[[ -z "$destdir" ]] || destdir="$(from_caller "$destdir")"
[[ -z "$binary" ]] || binary="$(from_caller "$binary")"

# shellcheck source=scripts/rust-toolchain.sh
. scripts/rust-toolchain.sh

if [[ $build -eq 1 ]]; then
    find_rust install.sh
    find_libclang install.sh
    cargo build --release --quiet --bin surface-check
fi
binary="${binary:-target/release/surface-check}"
if [[ ! -x "$binary" ]]; then
    echo "install.sh: $binary is not an executable; build it with \`cargo build --release\` or name one with --binary" >&2
    exit 2
fi
if ! version="$("$binary" --version)"; then
    echo "install.sh: $binary does not run" >&2
    exit 2
fi

root="${destdir%/}$prefix"
put() { # MODE SOURCE DEST
    install -D -m "$1" "$2" "$root/$3"
    echo "$root/$3"
}
put 0755 "$binary" bin/surface-check
for page in docs/man/*.1; do
    put 0644 "$page" "share/man/man1/${page##*/}"
done
put 0644 docs/completions/surface-check.bash share/bash-completion/completions/surface-check
put 0644 docs/completions/_surface-check share/zsh/site-functions/_surface-check
put 0644 docs/completions/surface-check.fish share/fish/vendor_completions.d/surface-check.fish
echo "install.sh: installed $version under $root" >&2
