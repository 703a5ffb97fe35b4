#!/usr/bin/env bash
# Checks this machine: builds surface-check (release) and runs `status` on `/`.
# Extra arguments go to surface-check, e.g. `scripts/check.sh status --json`.
# Exit status is surface-check's: 0 all fine, 1 something degraded or failed, 2 error.
#
# Needs Rust at least as new as Cargo.toml's `rust-version` (rustup's stable; Debian
# 12's own cargo is too old). Under sudo, the invoking user's rustup toolchain
# (~/.cargo/bin) is found although sudo's secure_path drops it from PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/rust-toolchain.sh
. scripts/rust-toolchain.sh

find_rust check.sh
find_cc check.sh
find_libclang check.sh
find_libudev check.sh
cargo build --release --quiet --bin surface-check
exec target/release/surface-check "$@"
