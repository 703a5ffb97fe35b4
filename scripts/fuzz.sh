#!/usr/bin/env bash
# Fuzzes every parser of outside data (the targets in fuzz/fuzz_targets) for a bounded
# time each, with libFuzzer through cargo-fuzz, on the stable toolchain.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 15)
#        scripts/fuzz.sh --install                 install cargo-fuzz if missing, and stop
#
# Environment:
#   FUZZ_TARGETS="bitmap facts_json"  run only these targets (default: all of them)
#   FUZZ_SANITIZER=none|address       default none. `address` builds with ASan, which
#                                     needs the unstable -Zsanitizer flag: the script
#                                     then sets RUSTC_BOOTSTRAP=1 for the build.
#
# Each target starts from the committed seeds in fuzz/seeds/<target>/ and grows its
# corpus in fuzz/corpus/<target>/; crashes land in fuzz/artifacts/<target>/ and logs
# in fuzz/artifacts/logs/. Exits non-zero if any target crashed, timed out or failed
# to run, printing each crash's artifact path and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The cargo-fuzz release this script is written against.
CARGO_FUZZ_VERSION=0.13.2
install_cargo_fuzz() {
    if cargo fuzz --version >/dev/null 2>&1; then
        cargo fuzz --version
    else
        echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
    fi
}
if [[ "${1:-}" == --install ]]; then
    install_cargo_fuzz
    exit 0
fi

secs="${1:-15}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]  (a positive integer, got '$secs')" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-none}"
case "$sanitizer" in
    none) ;;
    address) export RUSTC_BOOTSTRAP=1 ;;
    *)
        echo "fuzz.sh: FUZZ_SANITIZER must be none or address, got '$sanitizer'" >&2
        exit 2
        ;;
esac

install_cargo_fuzz

fuzz=(cargo fuzz)
common=(--fuzz-dir fuzz --sanitizer "$sanitizer")

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <("${fuzz[@]}" list --fuzz-dir fuzz)
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    echo "fuzz.sh: no fuzz targets found" >&2
    exit 1
fi

# The facts_json seeds are captures: one the current facts format no longer reads
# would leave that target fuzzing nothing but the parse error.
if [[ " ${targets[*]} " == *" facts_json "* ]]; then
    cargo build --quiet --bin surface-check
    for f in fuzz/seeds/facts_json/*.json; do
        rc=0
        out="$(target/debug/surface-check status --from "$f" --json 2>&1 >/dev/null)" || rc=$?
        if [[ $rc -ne 0 && $rc -ne 1 ]]; then
            echo "fuzz.sh: seed $f is not a capture this surface-check reads: $out" >&2
            echo "fuzz.sh: write the seeds again (as root) with: cargo run --example fuzz-seeds" >&2
            exit 1
        fi
    done
fi

echo "fuzz.sh: building the fuzz targets (sanitizer: $sanitizer)"
"${fuzz[@]}" build "${common[@]}"

mkdir -p fuzz/artifacts/logs
failed=()
for t in "${targets[@]}"; do
    if [[ ! -d "fuzz/seeds/$t" ]]; then
        echo "fuzz.sh: no seeds in fuzz/seeds/$t" >&2
        failed+=("$t")
        continue
    fi
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/artifacts/logs/$t.log"
    before="$(ls -1 "fuzz/artifacts/$t")"
    echo "fuzz.sh: $t for ${secs}s"
    rc=0
    # The first corpus directory is written to; the seeds are only read.
    "${fuzz[@]}" run "${common[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || rc=$?
    new="$(comm -13 <(echo "$before") <(ls -1 "fuzz/artifacts/$t"))"
    if [[ $rc -ne 0 || -n "$new" ]]; then
        failed+=("$t")
        # From the first sign of the failure (a panic, a libFuzzer or sanitizer
        # error, a timeout), else the end of the log.
        first="$(grep -n -m1 -E 'panicked at|ERROR: libFuzzer|==[0-9]+==ERROR|ALARM: working on the last Unit' "$log" | cut -d: -f1 || true)"
        echo "fuzz.sh: $t FAILED (exit $rc); from $log:" >&2
        if [[ -n "$first" ]]; then
            sed -n "${first},$((first + 30))p" "$log" >&2
        else
            tail -n 40 "$log" >&2
        fi
        while IFS= read -r a; do
            [[ -n "$a" ]] || continue
            echo "fuzz.sh: crash artifact: fuzz/artifacts/$t/$a" >&2
            echo "fuzz.sh:   replay with: cargo fuzz run --fuzz-dir fuzz --sanitizer $sanitizer $t fuzz/artifacts/$t/$a" >&2
        done <<<"$new"
    else
        runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
        cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
        echo "fuzz.sh: $t ok: ${runs:-?} runs, ${cov:-cov: ?}, corpus $(ls -1 "fuzz/corpus/$t" | wc -l) inputs"
    fi
done

if [[ ${#failed[@]} -ne 0 ]]; then
    echo "fuzz.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${secs}s without a crash"
