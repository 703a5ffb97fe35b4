# Sourced by scripts/check.sh, test.sh and install.sh (run from the repository's root):
# the one check of the Rust toolchain.
#
# Finds cargo in $CARGO_HOME/bin or ~/.cargo/bin, else under sudo in the invoking
# user's ~/.cargo/bin (with that user's rustup home; sudo's secure_path drops it),
# else on PATH; then checks that rustc is at least Cargo.toml's rust-version.
find_rust() {
    local me="$1" want have home
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    if [[ -n "${SUDO_USER:-}" && "$SUDO_USER" != root && ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
        home="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
        if [[ -n "$home" && -x "$home/.cargo/bin/cargo" ]]; then
            export PATH="$home/.cargo/bin:$PATH"
            # rustup's proxies find their toolchains through RUSTUP_HOME; sudo set
            # HOME to root's.
            if [[ -z "${RUSTUP_HOME:-}" && -d "$home/.rustup" ]]; then
                export RUSTUP_HOME="$home/.rustup"
            fi
            echo "$me: using $SUDO_USER's Rust toolchain in $home/.cargo/bin" >&2
        fi
    fi
    want="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)"
    if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
        cat >&2 <<MSG
$me: cargo and rustc $want or newer are required, and were not found.
  Install Rust with rustup (https://rustup.rs):
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
    . "\$HOME/.cargo/env"
  Debian 12's own cargo package (1.63) is too old for this code (edition 2024).
MSG
        exit 2
    fi
    have="$(rustc --version 2>/dev/null | awk '{print $2}')"
    have="${have%%-*}"
    if [[ ! "$have" =~ ^[0-9]+\.[0-9]+ ]] ||
        [[ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]]; then
        cat >&2 <<MSG
$me: rustc ${have:-(unknown version)} ($(command -v rustc)) is older than $want, the oldest Rust that builds surface-check (rust-version in Cargo.toml).
  With rustup: rustup update stable
  Without: install rustup (https://rustup.rs); Debian 12's own cargo package (1.63) is too old.
MSG
        exit 2
    fi
}

# The v4l crate generates its V4L2 bindings at build time with bindgen, which needs
# libclang and clang's own headers. Found: nothing to do. Missing: installed with
# apt-get when running as root on Debian/Ubuntu, else the script says what to install.
find_libclang() {
    local me="$1" lib="" hdr=""
    if [[ -n "${LIBCLANG_PATH:-}" ]]; then
        return 0
    fi
    lib="$(compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' || compgen -G '/usr/lib*/libclang*.so*' ||
        compgen -G '/usr/lib/*-linux-gnu/libclang*.so*' || true)"
    hdr="$(compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' ||
        compgen -G '/usr/lib*/clang/*/include/stddef.h' || true)"
    if [[ -n "$lib" && -n "$hdr" ]]; then
        return 0
    fi
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "$me: installing libclang-dev (bindgen needs it to build the V4L2 bindings)" >&2
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends libclang-dev >&2 ||
            { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 &&
                apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends libclang-dev >&2; }
        return 0
    fi
    cat >&2 <<MSG
$me: libclang was not found. Building surface-check generates the V4L2 bindings with bindgen,
  which needs libclang and clang's headers:
    Debian/Ubuntu: sudo apt-get install libclang-dev
    Fedora: sudo dnf install clang-devel    Arch: sudo pacman -S clang
    NixOS: nix-shell -p clang rustPlatform.bindgenHook (or set LIBCLANG_PATH)
MSG
    exit 2
}

# Finds libudev for the udev crate (the daemon's uevent monitor) through pkg-config;
# as root with apt-get, installs libudev-dev and pkg-config, else says what to install.
find_libudev() {
    local me="$1"
    if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libudev; then
        return 0
    fi
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "$me: installing libudev-dev and pkg-config (the udev crate links libudev)" >&2
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends libudev-dev pkg-config >&2 ||
            { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 &&
                apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends libudev-dev pkg-config >&2; }
        return 0
    fi
    cat >&2 <<MSG
$me: libudev was not found (through pkg-config). Building surface-check links libudev for the
  daemon's uevent monitor:
    Debian/Ubuntu: sudo apt-get install libudev-dev pkg-config
    Fedora: sudo dnf install systemd-devel pkgconf    Arch: sudo pacman -S systemd-libs pkgconf
    NixOS: nix-shell -p udev pkg-config
MSG
    exit 2
}

# A C compiler and linker: rustc links through `cc`, and crates build bundled C
# (SQLite, zstd, liblzma). As root with apt-get, installs gcc and libc6-dev, else
# says what to install.
find_cc() {
    local me="$1"
    if command -v cc >/dev/null 2>&1 && command -v ld >/dev/null 2>&1; then
        return 0
    fi
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "$me: installing gcc and libc6-dev (rustc links with cc; bundled C libraries are built)" >&2
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends gcc libc6-dev >&2 ||
            { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 &&
                apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends gcc libc6-dev >&2; }
        return 0
    fi
    cat >&2 <<MSG
$me: no C compiler (cc) or linker (ld) was found. rustc links with cc, and the build compiles
  bundled C code (SQLite, zstd, xz):
    Debian/Ubuntu: sudo apt-get install gcc libc6-dev    Fedora: sudo dnf install gcc
    Arch: sudo pacman -S base-devel    NixOS: nix develop (the flake's dev shell)
MSG
    exit 2
}
