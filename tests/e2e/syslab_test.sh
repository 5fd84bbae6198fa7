#!/usr/bin/env bash
# One scenario of the systemd server lab (scripts/syslab.sh), one address family: set the server up,
# run the installed synwhy *inside* it as its operator would (`synwhy report --json --count 1`), make
# one real ssh attempt from the client, and check the whole cause list, the first fix line, and that
# no fix line names a tool or unit the scenario does not have.
# Usage: syslab_test.sh SCENARIO FAMILY(4|6) CAUSES FIRST_FIX_REGEX ALLOWED_TERMS [JQ_FILTER...]
#   CAUSES         the cause codes, comma-separated, most important first ("no-listener")
#   ALLOWED_TERMS  comma-separated words from FIX_TERMS below that this scenario's fixes may name
# Needs: SYSLAB (scripts/syslab.sh), a server that is up (the ctest fixture e2e.syslab.up).
set -euo pipefail
SCENARIO=$1 FAMILY=$2 CAUSES=$3 FIRST_FIX=$4 ALLOWED=$5
shift 5

# Words that name a firewall manager, a unit or a tool; a fix line with one the scenario does not
# allow is a fix for something this server does not have.
FIX_TERMS=(ufw firewall-cmd fail2ban-client sshguard nft iptables ip6tables ssh.socket ssh.service
           semanage docker tc sshd_config reset-failed unmask squatter)

WORK=$(mktemp -d /tmp/synwhy-syslab.XXXXXX)
ROOT=/var/tmp/synwhy-syslab/root
READY=/var/tmp/synwhy-ready   # inside the server; $ROOT$READY from here
SYNWHY_PID=""
cleanup() {
    local rc=$?
    [ -n "$SYNWHY_PID" ] && kill "$SYNWHY_PID" 2>/dev/null
    "$SYSLAB" srv pkill -x synwhy >/dev/null 2>&1 || true
    rm -rf "$WORK" "$ROOT$READY"
    exit "$rc"
}
trap cleanup EXIT
fail() {
    [ -z "${SYSLAB_KEEP:-}" ] || cp "$WORK/report.json" "$SYSLAB_KEEP" 2>/dev/null || true
    echo "FAIL: $SCENARIO/ipv$FAMILY: $*" >&2
    for f in "$WORK"/*; do [ -s "$f" ] && { echo "--- $f" >&2; head -c 8000 "$f" >&2; echo >&2; }; done
    exit 1
}
jq_check() { jq -e "$1" "$WORK/report.json" >/dev/null 2>&1 || fail "$2 (jq: $1)"; }

"$SYSLAB" scenario "$SCENARIO" >"$WORK/scenario.log" 2>&1 || fail "scenario setup failed"
port=$("$SYSLAB" port)

rm -f "$ROOT$READY"
# timeout inside: nsenter forks into the server's PID namespace, so only an inner bound reaches synwhy.
"$SYSLAB" srv timeout 40 synwhy report --json --count 1 --duration 20s --port "$port" --ready-file "$READY" \
    >"$WORK/report.json" 2>"$WORK/report.err" &
SYNWHY_PID=$!
for _ in $(seq 1 150); do
    [ -f "$ROOT$READY" ] && break
    kill -0 "$SYNWHY_PID" 2>/dev/null || fail "synwhy exited before attaching"
    sleep 0.1
done
[ -f "$ROOT$READY" ] || fail "synwhy did not attach within 15 s"
"$SYSLAB" connect "$FAMILY" 3 >"$WORK/client.txt" 2>&1
set +e
wait "$SYNWHY_PID"
rc=$?
set -e
SYNWHY_PID=""

jq -e . "$WORK/report.json" >/dev/null 2>&1 || fail "the report is not JSON (exit $rc)"
want=$(jq -cn --arg c "$CAUSES" '$c | split(",")')
got=$(jq -c '[.causes[].code]' "$WORK/report.json")
[ "$got" = "$want" ] || fail "causes are $got, expected $want (client: $(cat "$WORK/client.txt"))"
if [ "$CAUSES" = accepted ]; then
    [ "$rc" -eq 0 ] || fail "exit status $rc, expected 0"
else
    [ "$rc" -eq 1 ] || fail "exit status $rc, expected 1"
fi
first=$(jq -r '.causes[0].fix[0] // ""' "$WORK/report.json")
[[ $first =~ $FIRST_FIX ]] || fail "first fix is '$first', expected /$FIRST_FIX/"
# No fix line may name what the scenario does not have.
IFS=, read -r -a allowed <<<"$ALLOWED"
while IFS= read -r line; do
    for term in "${FIX_TERMS[@]}"; do
        [[ " ${allowed[*]} " == *" $term "* ]] && continue
        if grep -qwF -- "$term" <<<"$line"; then fail "a fix names '$term', which $SCENARIO does not have: $line"; fi
    done
done < <(jq -r '.causes[].fix[]' "$WORK/report.json")
for filter in "$@"; do jq_check "$filter" "assertion failed"; done
printf 'ok: %s ipv%s -> %s\n  %s\n  fix: %s\n' "$SCENARIO" "$FAMILY" "$got" \
    "$(jq -r '.causes[0].summary' "$WORK/report.json")" "$first"
