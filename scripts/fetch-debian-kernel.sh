#!/usr/bin/env bash
# Fetches Debian 12's current stock kernel image package (the package
# `linux-image-amd64` depends on, e.g. linux-image-6.1.0-28-amd64) into
# target/debian-kernel/, for the preflight tests and benchmark, and prints its path.
#
#   scripts/fetch-debian-kernel.sh
#
# Cached: when a linux-image-*.deb is already there, nothing is downloaded. Runs
# `apt-get update` first when apt knows no `linux-image-amd64` yet (needs root then).
# The tests and benches/preflight.rs read the package from $SURFACE_CHECK_DEBIAN_KERNEL,
# else target/debian-kernel/*.deb. About 70 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=target/debian-kernel
mkdir -p "$dir"

shopt -s nullglob
have=("$dir"/linux-image-*.deb)
shopt -u nullglob
if [[ ${#have[@]} -gt 0 ]]; then
    realpath "${have[0]}"
    exit 0
fi

depends() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

pkg="$(depends || true)"
if [[ -z "$pkg" ]]; then
    echo "fetch-debian-kernel: apt knows no linux-image-amd64: running apt-get update" >&2
    apt-get update >&2
    pkg="$(depends || true)"
fi
if [[ -z "$pkg" ]]; then
    echo "fetch-debian-kernel: cannot resolve linux-image-amd64's kernel package (is this Debian 12 with its main archive?)" >&2
    exit 1
fi
echo "fetch-debian-kernel: downloading $pkg" >&2

# apt-get download writes into the current directory; it drops privileges to the
# `_apt` user, which must be able to write there: download into a private temporary
# directory it may write, then move the package into place.
tmp="$(mktemp -d "$dir/.download.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download "$pkg" >&2)
shopt -s nullglob
got=("$tmp"/*.deb)
shopt -u nullglob
if [[ ${#got[@]} -ne 1 ]]; then
    echo "fetch-debian-kernel: apt-get download $pkg gave no single .deb" >&2
    exit 1
fi
mv "${got[0]}" "$dir/"
realpath "$dir/$(basename "${got[0]}")"
