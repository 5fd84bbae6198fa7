#!/usr/bin/env bash
# On a Docker-like host (lab scenario docker-published), clients that reach the container's own
# address through the host (routed, not DNATed: the host only forwards them) are not the host's
# SSH clients: watching the host's port 22, the report counts none of their SYNs as its own,
# counts them apart as forwarded, names none of them, and --count 1 is not satisfied by them.
. "$(dirname "$0")/lib.sh"

"$LAB" up docker-published >"$WORK/lab.out" 2>&1 || fail "lab up"
SRV="${LAB_PREFIX}-srv"
"$LAB" cli ip route add 198.51.100.0/24 via 192.0.2.2
"$LAB" cli ip -6 route add 2001:db8:1::/64 via 2001:db8::2
# Proof that the container is reachable through the host before the capture (bounded tries:
# the lab's neighbours may still be resolving).
reach() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        "$LAB" cli nc -z -w 1 "$1" 22 >/dev/null 2>&1 && return 0
        sleep 0.3
    done
    fail "the container's sshd at $1 is not reachable through the host"
}
reach 198.51.100.2
reach 2001:db8:1::2

start_synwhy report "$SYNWHY" report --json --netns "$SRV" --port 22 --count 1 --duration 5s
for addr in 198.51.100.2 2001:db8:1::2; do
    "$LAB" cli nc -z -w 1 "$addr" 22 >/dev/null 2>&1 || fail "the connection to the container at $addr failed"
done
wait_synwhy 30

r="$WORK/report.out"
jq_check "$r" '[.causes[].code] == ["not-arriving"]' "cause is not only not-arriving"
jq_check "$r" '.syns_seen == 0 and (.flows | length) == 0' "forwarded SYNs counted as this host's own"
jq_check "$r" '.syns_forwarded >= 2' "the SYNs forwarded to the container were not counted apart"
jq_check "$r" '.capture_seconds >= 4' "--count 1 ended the capture on a forwarded SYN"
for who in 198.51.100.2 2001:db8:1::2 192.0.2.1 2001:db8::1; do
    jq_check "$r" "[.causes[0].evidence[], .causes[0].fix[]] | map(select(startswith(\"this host's addresses\") | not)
        | contains(\"$who\")) | any | not" "not-arriving names $who"
done
echo "ok: docker forwarded: $(jq -c '{syns_seen, syns_forwarded, capture_seconds, causes: [.causes[].code]}' "$r")"
echo "first line: $(jq -r '.causes[0].summary' "$r")"
