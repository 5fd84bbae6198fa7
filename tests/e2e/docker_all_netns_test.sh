#!/usr/bin/env bash
# --all-netns on a Docker-like host: the host's published port (:2222) and the container's sshd
# port (:22) are both watched, so the client's SYN arrives twice (in the host's namespace, then,
# after the DNAT, in the container's). One SYN is one flow with both tuples, counted once:
# a completed handshake is `accepted` (not an incomplete one on the host beside an accepted one
# in the container), a stopped container sshd is `dnat-refused` (not "nothing listens on port
# 2222" on the host, which would send the operator to start an SSH server there).
# Usage: docker_all_netns_test.sh SCENARIO(docker-published|docker-ctr-stopped) FAMILY EXPECTED
SCENARIO=$1 FAMILY=$2 EXPECTED=$3
. "$(dirname "$0")/lib.sh"

"$LAB" up "$SCENARIO" >"$WORK/lab.out" 2>&1 || fail "lab up $SCENARIO"
port=$("$LAB" port)
target=$("$LAB" target "$FAMILY")
before=$(client_syns)
start_synwhy report "$SYNWHY" report --json --all-netns --port "$port" --port 22 --count 1 --duration 15s
"$LAB" connect "$FAMILY" 3 >"$WORK/client.out" 2>&1
wait_synwhy 30
sent=$(($(client_syns) - before))

r="$WORK/report.out"
jq -e . "$r" >/dev/null 2>&1 || fail "report is not JSON"
jq_check "$r" "[.causes[].code] == [\"$EXPECTED\"]" "causes are $(jq -c '[.causes[].code]' "$r"), expected only $EXPECTED"
jq_check "$r" "(.flows | length) == 1" "$(jq '.flows | length' "$r") flows for one connection attempt"
jq_check "$r" ".flows[0].dst == \"$target\" and .flows[0].dport == $port and .flows[0].dnat_dport == 22" \
    "the flow is not the client's to $target:$port with its DNAT to :22"
jq_check "$r" ".flows[0].dnat_netns != .flows[0].netns" "the DNAT target's namespace is not named"
jq_check "$r" "[.causes[].summary | test(\"nothing listens on port $port\")] | any | not" "the host's port is blamed"
# One SYN, one count: the second arrival is counted apart, never in syns_seen.
jq_check "$r" ".syns_seen >= 1 and .syns_seen <= $sent and .flows[0].syns <= $sent" \
    "syns_seen $(jq .syns_seen "$r") for $sent SYNs the client sent"
jq_check "$r" '[.kernel_counts[] | select(.what | startswith("SYN arrived again")) | .count] | add >= 1' \
    "the container's arrival is not counted apart"
echo "ok: $SCENARIO ipv$FAMILY --all-netns -> $EXPECTED: client sent $sent SYNs, $(jq -c '{syns_seen, kernel: [.kernel_counts[] | select(.what | startswith("SYN")) | "\(.what): \(.count)"]}' "$r")"
echo "first line: $(jq -r '.causes[0].summary' "$r")"
