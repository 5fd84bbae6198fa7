#!/usr/bin/env bash
# End-to-end: `synwhy probe` on the client of the three-namespace lab (scripts/probelab.sh), one
# scenario and family per run. Checks the exit status, the verdict, the text's first line, that no
# address got more than 3 SYNs (counted on the wire as root), then the caller's jq filters.
# Usage: probe_test.sh [unprivileged-]SCENARIO FAMILY VERDICT [JQ_FILTER...]
#   unprivileged-: the probe runs as nobody (no packet socket: error queue and TCP_INFO only).
# Needs: SYNWHY (the binary), PROBELAB (scripts/probelab.sh), root, jq.
set -euo pipefail

scenario=$1 family=$2 verdict=$3
shift 3
as_nobody=0
if [[ $scenario == unprivileged-* ]]; then
    as_nobody=1
    scenario=${scenario#unprivileged-}
fi

export PROBELAB_PREFIX="swp$$"
WORK=$(mktemp -d /tmp/synwhy-probe-e2e.XXXXXX)
chmod 0755 "$WORK"

fail() {
    echo "FAIL: $*" >&2
    for f in "$WORK"/out.*; do
        [ -s "$f" ] && { echo "--- $f" >&2; head -c 6000 "$f" >&2; echo >&2; }
    done
    exit 1
}

cleanup() {
    local rc=$?
    "$PROBELAB" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || fail "the probe lab needs root (network namespaces)"
[ -x "$SYNWHY" ] || fail "SYNWHY=$SYNWHY is not an executable"

# The name each scenario is probed by (scripts/probelab.sh's header lists the records).
host="ssh$family.probe.example"
[ "$scenario" != aaaa-dead ] || host=$([ "$family" = 6 ] && echo dual.probe.example || echo dual4.probe.example)
args=(--timeout 2s)
[ "$scenario" != wrong-port ] || args+=(-F "$("$PROBELAB" ssh-config)")

"$PROBELAB" up "$scenario" >"$WORK/out.lab" 2>&1 || fail "probelab.sh up $scenario"

# synwhy probe ARGS in the client's namespace (its own /etc/hosts and resolv.conf), bounded.
run_probe() {
    if [ $as_nobody = 1 ]; then
        timeout 25 "$PROBELAB" cli setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
            "$SYNWHY" probe "$@"
    else
        timeout 25 "$PROBELAB" cli "$SYNWHY" probe "$@"
    fi
}

expected_rc=1
[ "$verdict" != reachable ] || expected_rc=0
start=${EPOCHREALTIME/./}
set +e
run_probe "${args[@]}" --json "$host" >"$WORK/out.json" 2>"$WORK/out.json.err"
rc=$?
set -e
elapsed_ms=$(((${EPOCHREALTIME/./} - start) / 1000))
[ "$rc" = "$expected_rc" ] || fail "synwhy probe --json exited $rc, expected $expected_rc"
jq -e . "$WORK/out.json" >/dev/null || fail "not one JSON object"

jq_check() {
    local out
    out=$(jq -e "$1" "$WORK/out.json" 2>&1) || fail "${2:-jq} (jq: $1 -> ${out:-false})"
}
jq_check ".verdict == \"$verdict\"" "verdict"
jq_check ".host == \"$host\""
jq_check '(.next | length) >= 1' "no next command"
# Never a flood: at most the 3 SYNs of ssh's first 5 s per address and port.
jq_check '[.addresses[] | (., .also_ports[], (.port_22 // empty)) | .syns_sent] | all(. >= 1 and . <= 3)' "SYNs per address"
if [ $as_nobody = 0 ]; then
    jq_check '.packets_seen and ([.addresses[] | .syns_counted] | all(. == "wire"))' "SYNs counted on the wire"
fi
for filter in "$@"; do jq_check "$filter"; done

# The text report: its first line is the verdict.
set +e
run_probe "${args[@]}" "$host" >"$WORK/out.text" 2>"$WORK/out.text.err"
rc=$?
set -e
[ "$rc" = "$expected_rc" ] || fail "synwhy probe (text) exited $rc, expected $expected_rc"
first=$(head -n 1 "$WORK/out.text")
[[ $first == "$verdict: "* ]] || fail "first line: '$first'"

syns=$(jq -r '[.addresses[] | "\(.addr):\(.syns_sent)"] | join(" ")' "$WORK/out.json")
echo "PASS probe $([ $as_nobody = 1 ] && echo unprivileged-)$scenario ipv$family (probe ${elapsed_ms} ms, SYNs $syns): $first"
