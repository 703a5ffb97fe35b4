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
