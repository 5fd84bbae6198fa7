#!/usr/bin/env bash
# Builds synwhy and its tests with ASan+UBSan into build-san/ (-DSYNWHY_SANITIZE=ON) and runs ctest
# there with the arguments given, e.g.
#   scripts/sanitize.sh -L '^$' -E e2e     the unit tests only
#   scripts/sanitize.sh                    everything, e2e too (root; they run build-san/synwhy,
#                                          which tests/CMakeLists.txt hands them as $SYNWHY)
# Any sanitizer report fails the test that made it: ASan, UBSan and LeakSanitizer (at exit) abort the
# process (SIGABRT, never an exit status synwhy itself uses, such as 1 for "refused"); known leaks
# of system libraries are suppressed in tests/sanitizers/lsan.supp. Environment: SAN_BUILD_DIR (build-san), SAN_JOBS (2).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
build=${SAN_BUILD_DIR:-build-san}

cmake -S . -B "$build" -DSYNWHY_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${SAN_JOBS:-2}"

supp="$PWD/tests/sanitizers/lsan.supp"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
ctest --test-dir "$build" --output-on-failure "$@"
