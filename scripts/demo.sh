#!/usr/bin/env bash
# The quick start's main job: set up, build, then diagnose a few real broken SSH servers built in
# the namespace lab (scripts/lab.sh) and print synwhy's report for each, as an operator sees it.
# Usage: scripts/demo.sh [SCENARIO...]   (default: a tour of the common causes)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
scripts/setup.sh >/dev/null

export LAB_PREFIX="synwhy-demo"
trap 'exit 130' INT TERM

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sshd-stopped sshd-other-port sshd-loopback-only nft-drop nft-reject-rst iptables-legacy-drop healthy)
out=$(mktemp -d /tmp/synwhy-demo.XXXXXX)
trap 'scripts/lab.sh down >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
for scenario in "${scenarios[@]}"; do
    scripts/lab.sh up "$scenario" >/dev/null
    target=$(scripts/lab.sh target 4)
    printf '\n\033[1m=== lab scenario: %s ===\033[0m\n' "$scenario"
    rm -f "$out/ready"
    # What the operator runs on the server, started before the client tries:
    build/synwhy report --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s --ready-file "$out/ready" \
        >"$out/report" 2>"$out/err" &
    pid=$!
    for _ in $(seq 1 100); do [ -f "$out/ready" ] && break; sleep 0.1; done
    printf 'client$ ssh %s\n  %s\n' "$target" "$(scripts/lab.sh connect 4 3)"
    wait "$pid" || true
    printf 'server$ synwhy report --count 1\n'
    cat "$out/report"
    grep -v '^synwhy: watching' "$out/err" || true
    scripts/lab.sh down >/dev/null
done
