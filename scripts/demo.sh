#!/usr/bin/env bash
# The quick start's main job: set up, build, then diagnose real broken SSH servers and print
# synwhy's report for each, as an operator sees it: first in the namespace lab (scripts/lab.sh),
# then on a Debian 12 booted with systemd (scripts/syslab.sh), with synwhy installed from its .deb
# and run inside that server.
# Usage: scripts/demo.sh [SCENARIO...]   (default: a tour of the common causes)
#   a SCENARIO named sys:NAME is one of `scripts/syslab.sh list`; the others are `scripts/lab.sh list`
#   a SCENARIO named probe:NAME is one of `scripts/probelab.sh list`: synwhy probe run on the client
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
scripts/setup.sh >/dev/null

export LAB_PREFIX="synwhy-demo"
export PROBELAB_PREFIX="synwhy-demo-p"
trap 'exit 130' INT TERM

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sshd-stopped sshd-other-port sshd-loopback-only nft-drop nft-reject-rst
    iptables-legacy-drop healthy probe:router-rst probe:wrong-port sys:stopped-unit sys:socket-port-mismatch sys:fail2ban-nft sys:ufw-default-deny)
out=$(mktemp -d /tmp/synwhy-demo.XXXXXX)
syslab_up=0
trap 'scripts/lab.sh down >/dev/null 2>&1 || true; scripts/probelab.sh down >/dev/null 2>&1 || true; [ $syslab_up = 0 ] || scripts/syslab.sh down; rm -rf "$out"' EXIT

wait_ready() {
    for _ in $(seq 1 150); do [ -f "$1" ] && return 0; sleep 0.1; done
}

namespace_lab() {
    local scenario=$1 target pid
    scripts/lab.sh up "$scenario" >/dev/null
    target=$(scripts/lab.sh target 4)
    printf '\n\033[1m=== lab scenario: %s ===\033[0m\n' "$scenario"
    rm -f "$out/ready"
    # What the operator runs on the server, started before the client tries:
    build/synwhy report --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s --ready-file "$out/ready" \
        >"$out/report" 2>"$out/err" &
    pid=$!
    wait_ready "$out/ready"
    printf 'client$ ssh %s\n  %s\n' "$target" "$(scripts/lab.sh connect 4 3)"
    wait "$pid" || true
    printf 'server$ synwhy report --count 1\n'
    cat "$out/report"
    grep -v '^synwhy: watching' "$out/err" || true
    scripts/lab.sh down >/dev/null
}

# The client's side: ssh fails, then synwhy probe says what the network answered and from where
# (scripts/probelab.sh: client — router — server, the client's own /etc/hosts and resolver).
probe_lab() {
    local scenario=$1 host=ssh4.probe.example args=() said
    scripts/probelab.sh up "$scenario" >/dev/null
    [ "$scenario" != aaaa-dead ] || host=dual.probe.example
    [ "$scenario" != wrong-port ] || args=(-F "$(scripts/probelab.sh ssh-config)")
    printf '\n\033[1m=== client side: %s ===\033[0m\n' "$scenario"
    said=$(scripts/probelab.sh cli timeout 10 ssh -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null "${args[@]}" "$host" true 2>&1 | grep -v '^Warning: Permanently' | tail -n 1) || true
    printf 'client$ ssh %s\n  %s\n' "${args[*]:+${args[*]} }$host" "$said"
    printf 'client$ synwhy probe %s\n' "${args[*]:+${args[*]} }$host"
    scripts/probelab.sh cli build/synwhy probe --timeout 3s "${args[@]}" "$host" || true
    scripts/probelab.sh down >/dev/null
}

# synwhy as installed from the .deb on a systemd server, run by its operator inside it.
systemd_lab() {
    local scenario=$1 target port pid root=/var/tmp/synwhy-syslab/root ready=/var/tmp/synwhy-demo-ready
    if [ $syslab_up = 0 ]; then
        printf '\n(booting a Debian 12 server with systemd for the next scenarios: scripts/syslab.sh up)\n'
        syslab_up=1
        scripts/syslab.sh up >"$out/syslab-up.log" 2>&1 || { cat "$out/syslab-up.log" >&2; exit 1; }
    fi
    scripts/syslab.sh scenario "$scenario" >/dev/null
    target=$(scripts/syslab.sh target 4)
    port=$(scripts/syslab.sh port)
    printf '\n\033[1m=== systemd server: %s ===\033[0m\n' "$scenario"
    rm -f "$root$ready"
    scripts/syslab.sh srv timeout 30 synwhy report --count 1 --duration 15s --port "$port" --ready-file "$ready" \
        >"$out/report" 2>"$out/err" &
    pid=$!
    wait_ready "$root$ready"
    printf 'client$ ssh -p %s %s\n  %s\n' "$port" "$target" "$(scripts/syslab.sh connect 4 3)"
    wait "$pid" || true
    printf 'server# synwhy report --count 1%s\n' "$([ "$port" = 22 ] || echo " --port $port")"
    cat "$out/report"
    grep -v '^synwhy: \(watching\|capabilities kept\)' "$out/err" || true
    rm -f "$root$ready"
}

for scenario in "${scenarios[@]}"; do
    case "$scenario" in
    sys:*) systemd_lab "${scenario#sys:}" ;;
    probe:*) probe_lab "${scenario#probe:}" ;;
    *) namespace_lab "$scenario" ;;
    esac
done
