#!/usr/bin/env bash
# Sets up, builds, and runs every test: the unit tests and the end-to-end lab scenarios
# (which need root, BPF and network namespaces). This is the README's test command and CI's.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
scripts/setup.sh
# Serial: the end-to-end tests attach to the same kernel tracepoints and share the lab's addresses.
ctest --test-dir build --output-on-failure --timeout 120 "$@"
