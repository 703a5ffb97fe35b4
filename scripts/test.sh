#!/usr/bin/env bash
# The whole test suite of surface-check, from a fresh Debian 12 machine:
#
#   sudo scripts/test.sh
#
# It installs what it needs (build tools from apt, cargo-fuzz from crates.io), then
# runs, in order and stopping at the first failure:
#   rustfmt, clippy (warnings are errors), every test, the Debian package built and
#   installed in a fresh chroot (scripts/package-test.sh), the fuzzers for a bounded
#   time, and the benchmarks (probe cost, hostile trees, the daemon, the history, the preflight: reports, never a failure).
#
# Needs root: the tests build fixture trees with device nodes (mknod), and set-up
# uses apt-get. Needs Rust at least as new as Cargo.toml's `rust-version` (rustup's
# stable) with the clippy and rustfmt components; Debian 12's own cargo (1.63) is
# too old. Under sudo, the invoking user's rustup toolchain (~/.cargo/bin and
# ~/.rustup) is used when root has none, although sudo's secure_path drops it from
# PATH.
#
# Environment:
#   FUZZ_SECONDS=N     seconds per fuzz target (default 15)
#   SKIP_APT=1         do not run apt-get (the build tools are already there)
#   BENCH_TIMEOUT=N    give the benchmark at most N seconds (default 1200)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/rust-toolchain.sh
. scripts/rust-toolchain.sh

export DEBIAN_FRONTEND=noninteractive
FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-1200}"

started=$SECONDS
section_start=$SECONDS
section_name=""
timings=()

fail() {
    echo "test.sh: $*" >&2
    exit 1
}

section() {
    end_section
    section_name="$1"
    section_start=$SECONDS
    echo
    echo "================================================================"
    echo "== $section_name"
    echo "================================================================"
}

end_section() {
    if [[ -n "$section_name" ]]; then
        timings+=("$(printf '%5ds  %s' $((SECONDS - section_start)) "$section_name")")
    fi
    section_name=""
}

on_exit() {
    local rc=$? failed_in="$section_name"
    end_section
    echo
    echo "================================================================"
    for t in "${timings[@]}"; do
        echo "$t"
    done
    if [[ $rc -eq 0 ]]; then
        echo "test.sh: PASSED in $((SECONDS - started))s"
    else
        echo "test.sh: FAILED (exit $rc) after $((SECONDS - started))s${failed_in:+, in: $failed_in}" >&2
    fi
}
trap on_exit EXIT

# ---------------------------------------------------------------------------
section "set-up: root"
if [[ "$(id -u)" -ne 0 ]]; then
    fail "must run as root: the tests create device nodes with mknod and set-up uses apt-get (try: sudo scripts/test.sh)"
fi
echo "running as root"

section "set-up: system packages"
packages=(
    # Build: C/C++ compilers for crates that build C (libFuzzer is C++).
    build-essential pkg-config ca-certificates
    # The v4l crate's V4L2 bindings are generated at build time by bindgen (libclang);
    # the udev crate links libudev.
    libclang-dev libudev-dev
    # tests/daemon.rs, tests/units.rs: a private dbus-daemon with the project's bus
    # policy, logind as python-dbusmock's template, busctl and systemd-analyze
    # (verify, security) from systemd, gdbus from libglib2.0-bin; tests/vm.rs packs
    # dbus-daemon and systemd-udevd (udev) into the guest.
    dbus systemd udev python3-dbusmock libglib2.0-bin
    # tests/vm.rs: boots a Debian kernel under QEMU; fetches the kernel and busybox
    # with apt-get download (hence the update below), unpacks them with dpkg-deb,
    # indexes modules with depmod, copies the libraries ldd lists and strips the
    # binaries it packs.
    qemu-system-x86 kmod dpkg libc-bin binutils
    # tests/livetest.rs: `surface-check test camera` asks libcamera's `cam`.
    libcamera-tools
    # tests/umockdev.rs: the emulated DTX device.
    umockdev gir1.2-umockdev-1.0 python3-gi
    # The benchmark counts the probe's system calls with strace (rows skipped without);
    # tests/containment.rs traces opens with it and attaches a loop device (losetup);
    # tests/bounds.rs and benches/hostile.rs measure peak memory with GNU time.
    strace util-linux time
    # tests/preflight_sources.rs, tests/preflight.rs: builds .rpm packages with
    # rpmbuild, initrds with cpio, Arch packages with zstd and xz; the .deb packages
    # with ar (binutils) and tar. tests/packaging.rs: rpmbuild's find-debuginfo
    # strips with elfutils' eu-strip.
    rpm cpio zstd xz-utils elfutils
    # tests/nix.rs: every .nix file parses and the NixOS module evaluates
    # (nix-instantiate, offline, against a stub of nixpkgs' lib).
    nix-bin
    # tests/metrics.rs: the metrics parsed by Python's prometheus_client, linted by
    # promtool (which also checks and unit-tests the alerting rules of docs/fleet/) and
    # scraped from a real node_exporter's textfile collector.
    prometheus python3-prometheus-client prometheus-node-exporter
    # scripts/package-test.sh: a fresh Debian chroot to install the .deb into;
    # dpkg-shlibdeps for cargo-deb's $auto dependencies.
    debootstrap dpkg-dev
)
if [[ "${SKIP_APT:-}" == 1 ]]; then
    echo "SKIP_APT=1: not running apt-get"
else
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if apt-get -o DPkg::Lock::Timeout=300 update -q; then
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends --no-upgrade "${packages[@]}"
    elif [[ ${#missing[@]} -eq 0 ]]; then
        echo "test.sh: apt-get update failed; every package is already installed, going on" >&2
    else
        fail "apt-get update failed and these packages are missing: ${missing[*]}"
    fi
fi
for tool in cc c++ make qemu-system-x86_64 depmod dpkg-deb ldd strip strace losetup /usr/bin/time \
    rpmbuild cpio zstd xz ar nix-instantiate promtool debootstrap dpkg-shlibdeps eu-strip; do
    command -v "$tool" >/dev/null || fail "$tool not found after set-up"
done

section "set-up: Debian's stock kernel package (preflight tests and benchmark)"
scripts/fetch-debian-kernel.sh || fail "could not fetch Debian's stock kernel package (scripts/fetch-debian-kernel.sh)"

section "set-up: Rust toolchain"
find_rust test.sh
find_cc test.sh
find_libclang test.sh
find_libudev test.sh
cargo --version
rustc --version
if command -v rustup >/dev/null; then
    installed="$(rustup component list --installed)"
    want=()
    grep -q '^clippy' <<<"$installed" || want+=(clippy)
    grep -q '^rustfmt' <<<"$installed" || want+=(rustfmt)
    if [[ ${#want[@]} -ne 0 ]]; then
        echo "adding rustup components: ${want[*]}"
        rustup component add "${want[@]}" ||
            fail "could not add ${want[*]} with rustup (no network to the Rust distribution server?); install them by hand"
    fi
fi
cargo fmt --version || fail "rustfmt is missing: rustup component add rustfmt"
cargo clippy --version || fail "clippy is missing: rustup component add clippy"

section "set-up: cargo-fuzz"
scripts/fuzz.sh --install

# ---------------------------------------------------------------------------
section "format: cargo fmt --check"
cargo fmt --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
echo "formatted"

section "lint: cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

section "test: cargo test --all-targets"
cargo test --all-targets

section "package: the .deb built with cargo-deb, installed with dpkg -i in a fresh chroot"
scripts/package-test.sh

section "fuzz: scripts/fuzz.sh $FUZZ_SECONDS"
scripts/fuzz.sh "$FUZZ_SECONDS"

for bench in probe hostile daemon history preflight; do
    section "bench: cargo bench --bench $bench (report only)"
    if ! timeout "$BENCH_TIMEOUT" cargo bench --bench "$bench"; then
        echo "test.sh: the $bench benchmark failed or ran past ${BENCH_TIMEOUT}s; it is a report, not a gate" >&2
    fi
done
end_section
