#!/usr/bin/env bash
# One lab scenario, one address family: build the scenario, run `synwhy report --json` in the
# server's namespace, make one real SSH connection attempt from the client, and check the verdict.
# Usage: scenario_test.sh SCENARIO FAMILY(4|6) EXPECTED_CAUSE [JQ_FILTER...]
# Each JQ_FILTER runs on the report and must print true.
SCENARIO=$1 FAMILY=$2 EXPECTED=$3
shift 3
. "$(dirname "$0")/lib.sh"

"$LAB" up "$SCENARIO" >"$WORK/lab.out" 2>&1 || fail "lab up $SCENARIO"
target=$("$LAB" target "$FAMILY")
port=$("$LAB" port)

# wrong-ip sends nothing to the server: the capture ends by time, not by count.
if [ "$EXPECTED" = "not-arriving" ]; then
    limit=(--duration 4s)
else
    limit=(--count 1 --duration 15s)
fi
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --port "$port" "${limit[@]}"
"$LAB" connect "$FAMILY" 3 >"$WORK/client.out" 2>&1
wait_synwhy 30

report="$WORK/report.out"
jq -e . "$report" >/dev/null 2>&1 || fail "report is not JSON"
# The JSON contract.
jq_check "$report" '(.ports|type=="array") and (.syns_seen|type=="number") and (.flows|type=="array")
    and (.causes|type=="array") and (.host.listeners|type=="array")' "report lacks contract fields"
jq_check "$report" '[.flows[] | has("src","sport","dst","dport","family","syns","verdict","detail")] | all' \
    "a flow lacks contract fields"
jq_check "$report" '[.causes[] | has("code","flows","summary","evidence","fix")] | all' "a cause lacks contract fields"
jq_check "$report" '[.host.listeners[] | has("addr","port","family","pid","comm")] | all' "a listener lacks fields"

primary=$(jq -r '.causes[0].code' "$report")
[ "$primary" = "$EXPECTED" ] || fail "$SCENARIO/ipv$FAMILY: primary cause is '$primary', expected '$EXPECTED' (client: $(cat "$WORK/client.out"))"
# The whole cause list: one connection attempt, one cause; a wrong secondary cause fails too.
causes=$(jq -c '[.causes[].code]' "$report")
[ "$causes" = "[\"$EXPECTED\"]" ] || fail "$SCENARIO/ipv$FAMILY: causes are $causes, expected only $EXPECTED"

if [ "$EXPECTED" != "not-arriving" ]; then
    fam="ipv$FAMILY"
    jq_check "$report" "[.flows[] | select(.dst == \"$target\")] | length >= 1" "no flow to $target"
    jq_check "$report" "[.flows[] | .family == \"$fam\"] | all" "flows are not all $fam"
    jq_check "$report" ".flows[0].verdict == \"$EXPECTED\"" "the flow's verdict is not $EXPECTED"
fi
# Exit status: 0 only when every SYN was accepted.
if [ "$EXPECTED" = "accepted" ]; then
    [ "$SYNWHY_RC" -eq 0 ] || fail "exit status $SYNWHY_RC, expected 0"
    jq_check "$report" '[.causes[].code] == ["accepted"]' "a healthy server got a failure cause"
else
    [ "$SYNWHY_RC" -eq 1 ] || fail "exit status $SYNWHY_RC, expected 1 (failure found)"
fi
for filter in "$@"; do
    jq_check "$report" "$filter" "assertion failed"
done
echo "ok: $SCENARIO ipv$FAMILY -> $primary"
