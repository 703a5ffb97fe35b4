#!/usr/bin/env bash
# Checks this machine: builds surface-check (release) and runs `status` on `/`.
# Extra arguments go to surface-check, e.g. `scripts/check.sh status --json`.
# Exit status is surface-check's: 0 all fine, 1 something degraded or failed, 2 error.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
    echo "check.sh: cargo is required (install Rust: https://rustup.rs or apt-get install cargo)" >&2
    exit 2
fi
cargo build --release --quiet --bin surface-check
exec target/release/surface-check "$@"
