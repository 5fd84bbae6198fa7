#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan+UBSan, build-fuzz/) and runs each for
# FUZZ_SECONDS (default 30) from its seed corpus in tests/fuzz/corpus/<target>. The repo's corpus is
# only read: new inputs go to a temporary directory, crashes to build-fuzz/artifacts/<target>/.
# Non-interactive (stdin is not read), bounded in time; exits non-zero if any target fails.
#   scripts/fuzz.sh [TARGET...]         (default: every tests/fuzz/fuzz_*.cpp)
# Environment: FUZZ_SECONDS, FUZZ_BUILD_DIR (build-fuzz), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT (10 s per
# input), FUZZ_JOBS (build parallelism, 2), FUZZ_PARALLEL (targets fuzzed at once, 2: with 6
# targets the default run takes about 3 x FUZZ_SECONDS plus the build).
# Needs clang and libclang-rt-14-dev (libFuzzer's runtime).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
rss_mb=${FUZZ_RSS_MB:-2048}
per_input=${FUZZ_TIMEOUT:-10}
jobs=${FUZZ_JOBS:-2}
parallel=${FUZZ_PARALLEL:-2}

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is not installed" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$build" -DSYNWHY_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
mkdir -p "$build/logs"
if ! cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$build/logs/build.log" 2>&1; then
    tail -n 30 "$build/logs/build.log" >&2
    echo "fuzz.sh: the fuzz build failed (libFuzzer's runtime comes with libclang-rt-14-dev)" >&2
    exit 1
fi

# Any sanitizer report is a failure; leaks too (libFuzzer checks them per input).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_target() {  # TARGET: fuzzes it, leaves its exit status in $work/TARGET.rc
    local t=$1 rc=0
    local bin="$build/tests/fuzz/$t" seeds="tests/fuzz/corpus/$t" artifacts="$build/artifacts/$t"
    mkdir -p "$work/$t" "$artifacts"
    # The outer timeout only guards against a hang outside libFuzzer's own clocks.
    timeout --kill-after=10 $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout="$per_input" \
        -rss_limit_mb="$rss_mb" -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$work/$t" "$seeds" </dev/null >"$build/logs/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$work/$t.rc"
}

for t in "${targets[@]}"; do
    [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz.sh: no seed corpus tests/fuzz/corpus/$t" >&2; exit 1; }
done
# FUZZ_PARALLEL targets at a time (one process each).
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$parallel" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$t" &
    running=$((running + 1))
done
wait || true

passed=0
failed=0
for t in "${targets[@]}"; do
    log="$build/logs/$t.log"
    rc=$(cat "$work/$t.rc" 2>/dev/null || echo "?")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "$t: ok, ${execs:-?} executions in ${seconds}s, $(find "$work/$t" -type f | wc -l) new inputs"
    else
        failed=$((failed + 1))
        echo "$t: FAILED (exit $rc) after ${execs:-?} executions; log $log, inputs in $build/artifacts/$t/"
        grep -E "ERROR: |runtime error|invariant violated|SUMMARY|Test unit written" "$log" | head -n 8 | sed 's/^/    /' || true
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
