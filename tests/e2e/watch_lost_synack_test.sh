#!/usr/bin/env bash
# watch is as right as report when SYN-ACKs are lost: the client's own firewall drops the first
# ones (nft quotas that they use up), the client retransmits its SYN, the server answers again
# and the handshake completes about 3 s later. watch may print a line before it completes
# (handshake-incomplete after 1.5 s without news); then a correction must follow ("event":
# "update", verdict accepted). The flow's last word is "accepted", and the metrics count it so.
# Usage: watch_lost_synack_test.sh FAMILY(4|6)
FAMILY=$1
. "$(dirname "$0")/lib.sh"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
# The SYN-ACKs of the first second are lost: the first one, then the two that answer at about
# 1 s (the server's timer, and its answer to the client's retransmitted SYN, which the server's
# kernel discards: a drop event, 2 s before the handshake completes at about 3 s). One SYN-ACK is
# 60 bytes (IPv4) or 80 (IPv6) at the input hook: quotas of 190 and 250 bytes drop three.
"$LAB" cli nft -f - <<'NFT' || fail "client nft rule"
table inet lose_synacks {
    chain input {
        type filter hook input priority 0; policy accept;
        meta nfproto ipv4 tcp sport 22 tcp flags & (syn | ack) == syn | ack quota until 190 bytes counter drop
        meta nfproto ipv6 tcp sport 22 tcp flags & (syn | ack) == syn | ack quota until 250 bytes counter drop
    }
}
NFT
start_synwhy watch "$SYNWHY" watch --json --netns "${LAB_PREFIX}-srv" --metrics-file "$WORK/metrics.prom"
"$LAB" connect "$FAMILY" 8 >"$WORK/client.out" 2>&1
grep -q "Permission denied" "$WORK/client.out" || fail "the client did not reach authentication: $(cat "$WORK/client.out")"
dropped=$("$LAB" cli nft list table inet lose_synacks | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
[ "$dropped" -ge 2 ] || fail "the client's rules dropped $dropped SYN-ACKs, not 2 or more"
w="$WORK/watch.out"
target=$("$LAB" target "$FAMILY")
# The correction follows the handshake within a collect interval, unless a snapshot holds watch
# (slow on a loaded machine): wait for it, bounded, then stop watch.
for _ in $(seq 1 50); do
    jq -e --arg dst "$target" 'select(.dst == $dst and .dport == 22 and .verdict == "accepted")' "$w" >/dev/null 2>&1 && break
    sleep 0.1
done
kill -TERM "$SYNWHY_PID"
wait_synwhy 10

# The flow's lines, in order; the last one says accepted.
jq -c --arg dst "$target" 'select(.dst == $dst and .dport == 22)' "$w" >"$WORK/flow.out"
[ -s "$WORK/flow.out" ] || fail "no line for the flow to $target"
last=$(tail -n1 "$WORK/flow.out")
echo "$last" | jq -e '.verdict == "accepted"' >/dev/null || fail "the flow's last line is not accepted: $last"
first=$(head -n1 "$WORK/flow.out")
if ! echo "$first" | jq -e '.verdict == "accepted"' >/dev/null; then
    echo "$last" | jq -e '.event == "update" and .previous_verdict != "accepted"' >/dev/null ||
        fail "the first line said $(echo "$first" | jq -r .verdict) and no update followed: $(cat "$WORK/flow.out")"
fi
# The metrics follow the final verdict: the flow's SYNs are accepted ones, none is anything else.
grep -q '^synwhy_syns_total{.*verdict="accepted".*} [1-9]' "$WORK/metrics.prom" || fail "metrics count no accepted SYN"
if grep -E '^synwhy_syns_total\{.*verdict="(handshake-incomplete|unanswered|kernel-drop)".*\} [1-9]' "$WORK/metrics.prom"; then
    fail "metrics keep a verdict the flow did not end with"
fi
echo "ok: lost SYN-ACK ipv$FAMILY: $(jq -r '"\(.verdict)\(if .event then " (" + .event + ", was " + .previous_verdict + ")" else "" end): \(.detail)"' "$WORK/flow.out" | paste -sd'|')"
