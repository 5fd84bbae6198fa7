#!/usr/bin/env bash
# synwhy watch as the packaged service on the systemd server lab, its entries read back from the
# real journald: one ssh attempt, then `journalctl -u synwhy-watch -o json SYNWHY_VERDICT=...` must
# give one entry for it with the fields an operator filters on, its priority, and the same line as
# MESSAGE; stdout (the journal itself) adds no plain duplicate; stderr carries no internals.
# Usage: syslab_journal_test.sh SCENARIO FAMILY(4|6) VERDICT OWNER PRIORITY
# Needs: SYSLAB (scripts/syslab.sh), a server that is up (the ctest fixture e2e.syslab.up).
set -euo pipefail
SCENARIO=$1 FAMILY=$2 VERDICT=$3 OWNER=$4 PRIORITY=$5
WORK=$(mktemp -d /tmp/synwhy-syslab-journal.XXXXXX)
UNIT=/etc/systemd/system/synwhy-watch.service
cleanup() {
    local rc=$?
    "$SYSLAB" srv sh -c "systemctl stop synwhy-watch.service; rm -rf $UNIT $UNIT.d; systemctl daemon-reload; \
        systemctl reset-failed synwhy-watch.service" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
fail() {
    echo "FAIL: journal $SCENARIO/ipv$FAMILY: $*" >&2
    for f in "$WORK"/*; do [ -s "$f" ] && { echo "--- $f" >&2; head -c 6000 "$f" >&2; echo >&2; }; done
    exit 1
}

"$SYSLAB" scenario "$SCENARIO" >"$WORK/scenario.log" 2>&1 || fail "scenario setup failed"
port=$("$SYSLAB" port)
client=$([ "$FAMILY" = 4 ] && echo 203.0.113.1 || echo 2001:db8:5::1)
cursor=$("$SYSLAB" srv journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p')
[ -n "$cursor" ] || fail "no journal cursor"

# The example unit as the package ships it; a drop-in adds only the ready file (in a runtime
# directory: the unit's file system is read-only) and the lab's port.
"$SYSLAB" srv sh -c "cp /usr/share/doc/synwhy/examples/synwhy-watch.service $UNIT && mkdir -p $UNIT.d && \
    sed -n 's|^ExecStart=\(/usr/sbin/synwhy watch .*\)|[Service]\nRuntimeDirectory=synwhy-test\nExecStart=\nExecStart=\1 --port $port --ready-file /run/synwhy-test/ready|p' \
        $UNIT >$UNIT.d/test.conf && systemctl daemon-reload && systemctl start synwhy-watch.service" \
    >"$WORK/start.log" 2>&1 || fail "cannot start synwhy-watch.service"
for _ in $(seq 1 150); do
    "$SYSLAB" srv test -f /run/synwhy-test/ready && break
    "$SYSLAB" srv systemctl is-failed -q synwhy-watch.service && break
    sleep 0.1
done
"$SYSLAB" srv test -f /run/synwhy-test/ready || {
    "$SYSLAB" srv systemctl status --no-pager synwhy-watch.service >"$WORK/status.txt" 2>&1 || true
    fail "synwhy-watch.service did not attach within 15 s"
}

"$SYSLAB" connect "$FAMILY" 3 >"$WORK/client.txt" 2>&1
# This test's entries: after the cursor (Debian 12's journalctl 252 finds nothing when
# --after-cursor and a field match are combined, so the field is selected with jq here, and the
# operator's own query is checked below).
query=(journalctl -u synwhy-watch.service -o json --no-pager --after-cursor "$cursor")
entry=""
for _ in $(seq 1 50); do
    "$SYSLAB" srv "${query[@]}" >"$WORK/all.json" 2>"$WORK/journalctl.err" || true
    entry=$(jq -c -s --arg v "$VERDICT" '[.[] | select(.SYNWHY_VERDICT == $v)] | first // empty' "$WORK/all.json")
    [ -n "$entry" ] && break
    sleep 0.2
done
[ -n "$entry" ] || fail "no journal entry with SYNWHY_VERDICT=$VERDICT within 10 s (client: $(cat "$WORK/client.txt"))"
# The operator's query finds it: journalctl -u synwhy-watch SYNWHY_VERDICT=...
"$SYSLAB" srv journalctl -u synwhy-watch -o json --no-pager "SYNWHY_VERDICT=$VERDICT" >"$WORK/operator.json" 2>&1 || true
jq -e -s --argjson e "$entry" 'any(.[]; .__CURSOR == $e.__CURSOR)' "$WORK/operator.json" >/dev/null ||
    fail "journalctl -u synwhy-watch SYNWHY_VERDICT=$VERDICT does not list the entry"
jq -e -s --arg v "$VERDICT" 'all(.[]; .SYNWHY_VERDICT == $v)' "$WORK/operator.json" >/dev/null ||
    fail "journalctl -u synwhy-watch SYNWHY_VERDICT=$VERDICT lists other entries"

check() { jq -e "$1" <<<"$entry" >/dev/null || fail "entry: $2 (jq: $1): $entry"; }
check ".SYNWHY_CLIENT == \"$client\"" "client"
check ".SYNWHY_PORT == \"$port\"" "port"
check ".SYNWHY_OWNER == \"$OWNER\"" "owner"
check ".PRIORITY == \"$PRIORITY\"" "priority"
check '._SYSTEMD_UNIT == "synwhy-watch.service"' "unit"
check '.SYNWHY_EVENT == "flow" and (.SYNWHY_NETNS | test("^[0-9]+$")) and (.SYNWHY_CAUSE | length > 0)' "fields"
check "(.MESSAGE | contains(\"$VERDICT\")) and (.MESSAGE | contains(\"$client\"))" "MESSAGE is the text line"
case $VERDICT in firewall-*) check '.SYNWHY_RULE | length > 0' "rule" ;; esac
# stdout is the journal: no plain line repeats the entry; stderr has no internals without -v.
dups=$(jq -s --arg v "$VERDICT" '[.[] | select((.SYNWHY_EVENT == null) and (.MESSAGE | tostring | contains($v)))] | length' "$WORK/all.json")
[ "$dups" -eq 0 ] || fail "$dups plain lines repeat the entry"
noise=$(jq -r -s '[.[] | select(.SYNWHY_EVENT == null) | .MESSAGE | tostring | select(test("^synwhy: (watching|capabilities)"))] | length' "$WORK/all.json")
[ "$noise" -eq 0 ] || fail "internals on stderr without -v"
printf 'ok: %s ipv%s -> journal entry %s\n' "$SCENARIO" "$FAMILY" \
    "$(jq -c '{PRIORITY, SYNWHY_VERDICT, SYNWHY_OWNER, SYNWHY_CLIENT, SYNWHY_PORT, SYNWHY_RULE}' <<<"$entry")"
