#!/usr/bin/env bash
# One lab scenario, one address family: build the scenario, run `synwhy report --json` in the
# server's namespace, make one real SSH connection attempt from the client, and check the verdict.
# Usage: scenario_test.sh SCENARIO FAMILY(4|6) EXPECTED_CAUSE [JQ_FILTER...]
# Each JQ_FILTER runs on the report and must print true. With LAB_TOPOLOGY (bridge, vlan, macvlan,
# ipvlan) the lab's server sits behind that topology. The SYNs synwhy counted (kernel and report)
# and the answers it counted leaving are printed beside the SYNs the client's kernel sent, and
# checked with a topology or SYN_COUNTS_CHECKED=1 (the Docker-like host): one SYN is one SYN.
# With SYNWHY_NO_BPF=1 synwhy runs with --no-bpf (the packet-socket capture) and the report must
# say so (capture, capture_note); the verdicts expected are the same.
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
syns_before=$(client_syns)
capture=()
[ "${SYNWHY_NO_BPF:-0}" = 1 ] && capture=(--no-bpf)
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --port "$port" "${limit[@]}" "${capture[@]}"
"$LAB" connect "$FAMILY" 3 >"$WORK/client.out" 2>&1
wait_synwhy 30
syns_sent=$(($(client_syns) - syns_before))

report="$WORK/report.out"
jq -e . "$report" >/dev/null 2>&1 || fail "report is not JSON"
# The JSON contract.
jq_check "$report" '(.ports|type=="array") and (.syns_seen|type=="number") and (.flows|type=="array")
    and (.causes|type=="array") and (.host.listeners|type=="array")' "report lacks contract fields"
jq_check "$report" '[.flows[] | has("src","sport","dst","dport","family","syns","verdict","detail")] | all' \
    "a flow lacks contract fields"
jq_check "$report" '[.causes[] | has("code","flows","summary","evidence","fix")] | all' "a cause lacks contract fields"
jq_check "$report" '[.host.listeners[] | has("addr","port","family","pid","comm")] | all' "a listener lacks fields"

if [ "${SYNWHY_NO_BPF:-0}" = 1 ]; then
    jq_check "$report" '.capture == "packet-socket" and .capture_note == "--no-bpf"' "the report does not say it used the packet socket"
else
    jq_check "$report" '.capture == "bpf"' "the report does not say it used BPF"
fi
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
# One SYN is one SYN, whatever it crossed (bridge, VLAN, macvlan, a Docker-like host's DNAT): the
# SYNs counted (kernel and report) against those the client's kernel sent, and each answer that
# left (SYN-ACK, RST) counted once, not once per device it crossed (a bridge and its port).
# The report may end (--count 1) before the client's last retransmission: never more SYNs than
# were sent, at least the first, and each flow's count within the same bound.
counts=""
if [ "$EXPECTED" != "not-arriving" ]; then
    seen=$(jq '.syns_seen' "$report")
    detailed=$(jq '.syns_detailed' "$report")
    in_flows=$(jq '[.flows[].syns] | add // 0' "$report")
    answers=$(jq '[.kernel_counts[] | select(.what == "SYN-ACK left" or .what == "RST left") | .count] | add // 0' "$report")
    counts=": client sent $syns_sent SYNs, kernel counted $seen, report detailed $detailed ($in_flows in flows), answers counted leaving $answers"
    if [ -n "${LAB_TOPOLOGY:-}" ] || [ "${SYN_COUNTS_CHECKED:-0}" = 1 ]; then
        [ "$seen" -ge 1 ] && [ "$seen" -le "$syns_sent" ] ||
            fail "$SCENARIO/ipv$FAMILY ${LAB_TOPOLOGY:+over $LAB_TOPOLOGY}: $seen SYNs counted, the client sent $syns_sent"
        [ "$in_flows" -le "$syns_sent" ] || fail "flows hold $in_flows SYNs, the client sent $syns_sent"
        [ "$answers" -le "$seen" ] || fail "$answers SYN-ACKs/RSTs counted leaving for $seen SYNs: an answer counted twice"
    fi
    counts="${LAB_TOPOLOGY:+ over $LAB_TOPOLOGY}$counts"
fi
echo "ok: $SCENARIO ipv$FAMILY -> $primary$counts"
echo "first line: $(jq -r '.flows[0] | "\(.src):\(.sport) -> \(.dst):\(.dport) \(.verdict) \(.detail) [\(.ifname)\(if .bridge then ", bridge " + .bridge else "" end)\(if .vlan_id then ", VLAN \(.vlan_id)" else "" end) -> \(.ip_ifname)]"' "$report" 2>/dev/null)"
