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
wait_for_answer 198.51.100.2 22 open "the container's sshd at 198.51.100.2 is not reachable through the host"
wait_for_answer 2001:db8:1::2 22 open "the container's sshd at 2001:db8:1::2 is not reachable through the host"

start_synwhy report "$SYNWHY" report --json --netns "$SRV" --port 22 --count 1 --duration 5s
before=$(client_syns)
for addr in 198.51.100.2 2001:db8:1::2; do
    "$LAB" cli nc -z -w 1 "$addr" 22 >/dev/null 2>&1 || fail "the connection to the container at $addr failed"
done
sent=$(($(client_syns) - before))
wait_synwhy 30

r="$WORK/report.out"
jq_check "$r" '[.causes[].code] == ["not-arriving"]' "cause is not only not-arriving"
jq_check "$r" '.syns_seen == 0 and (.flows | length) == 0' "forwarded SYNs counted as this host's own"
jq_check "$r" "$sent >= 2 and .syns_forwarded == $sent" "syns_forwarded is not the $sent SYNs the client sent"
# Counted apart in the kernel: nothing of the host's (no SYN arrived, no container's SYN-ACK
# leaving), 'SYN forwarded' as many as sent.
jq_check "$r" '[.kernel_counts[] | select(.what | startswith("SYN forwarded") | not)] | length == 0' \
    "the forwarded handshakes are in the host's kernel totals"
jq_check "$r" "[.kernel_counts[] | select(.port == 22 and (.what | startswith(\"SYN forwarded\"))) | .count] | add == $sent" \
    "the kernel's 'SYN forwarded' is not the $sent SYNs the client sent"
jq_check "$r" '.capture_seconds >= 4' "--count 1 ended the capture on a forwarded SYN"
for who in 198.51.100.2 2001:db8:1::2 192.0.2.1 2001:db8::1; do
    jq_check "$r" "[.causes[0].evidence[], .causes[0].fix[]] | map(select(startswith(\"this host's addresses\") | not)
        | contains(\"$who\")) | any | not" "not-arriving names $who"
done
echo "ok: docker forwarded: client sent $sent SYNs; $(jq -c '{syns_seen, syns_forwarded, kernel_counts: [.kernel_counts[] | "\(.what): \(.count)"], capture_seconds, causes: [.causes[].code]}' "$r")"
echo "first line: $(jq -r '.causes[0].summary' "$r")"
