#!/usr/bin/env bash
# Local noise on a healthy server while nobody tries SSH: local connections to 127.0.0.1 and ::1
# and to the host's own address on other ports, and SYNs the server only forwards (to port 22
# and to port 80 of a host behind it, both families). None of them is this host's SSH client:
# the report is not-arriving with no client named, no SYN counted as the host's own, the
# forwarded ones counted apart, and --count 1 is not satisfied by them (the capture runs its time).
. "$(dirname "$0")/lib.sh"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
SRV="${LAB_PREFIX}-srv" CLI="${LAB_PREFIX}-cli"
# The host behind the server: the lab's third namespace name, so that `lab.sh down` removes it.
BHD="${LAB_PREFIX}-ctr"
ip netns add "$BHD"
ip link add fwd0 netns "$SRV" type veth peer name fwd1 netns "$BHD"
ip -n "$SRV" addr add 198.51.100.1/24 dev fwd0
ip -n "$SRV" addr add 2001:db8:9::1/64 dev fwd0 nodad
ip -n "$SRV" link set fwd0 up
ip -n "$BHD" link set lo up
ip -n "$BHD" addr add 198.51.100.2/24 dev fwd1
ip -n "$BHD" addr add 2001:db8:9::2/64 dev fwd1 nodad
ip -n "$BHD" link set fwd1 up
ip -n "$BHD" route add default via 198.51.100.1
ip -n "$BHD" -6 route add default via 2001:db8:9::1
ip netns exec "$SRV" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$CLI" route add 198.51.100.0/24 via 192.0.2.2
ip -n "$CLI" -6 route add 2001:db8:9::/64 via 2001:db8::2
# Proof that forwarding works before the capture: the host behind refuses (nothing listens).
# A few tries: the new veth takes a moment to come up.
wait_for_answer 198.51.100.2 9 refused "no route through the server to 198.51.100.2"
wait_for_answer 2001:db8:9::2 9 refused "no route through the server to 2001:db8:9::2"

start_synwhy report "$SYNWHY" report --json --netns "$SRV" --port 22 --count 1 --duration 5s
noise() {
    "$LAB" "$1" nc -z -w 1 "$2" "$3" >/dev/null 2>&1 || true
}
noise srv 127.0.0.1 5432
noise srv ::1 6379
noise srv 192.0.2.2 8080
noise srv 2001:db8::2 8080
noise cli 198.51.100.2 22
noise cli 2001:db8:9::2 22
noise cli 198.51.100.2 80
noise cli 2001:db8:9::2 80
wait_synwhy 30

r="$WORK/report.out"
jq_check "$r" '[.causes[].code] == ["not-arriving"]' "cause is not only not-arriving"
jq_check "$r" '.syns_seen == 0 and .syns_detailed == 0' "SYNs counted as this host's own"
jq_check "$r" '.syns_forwarded >= 2' "the forwarded SYNs to :22 were not counted apart"
jq_check "$r" '.capture_seconds >= 4' "--count 1 ended the capture on a forwarded SYN"
# No client named, no port, no address of the noise (this host's own addresses are listed as such).
jq_check "$r" '[.causes[0].evidence[] | test("instead|arrived on port|SYNs? from")] | any | not' "not-arriving names a client"
jq_check "$r" '[.causes[0].fix[] | test("connects to port")] | any | not' "not-arriving's fix names a client's port"
for who in 5432 6379 8080 ' 80' 198.51.100.2 2001:db8:9::2 192.0.2.1 2001:db8::1; do
    jq_check "$r" "[.causes[0].evidence[], .causes[0].fix[]] | map(select(startswith(\"this host's addresses\") | not)
        | contains(\"$who\")) | any | not" "not-arriving names $who"
done
echo "ok: local noise: $(jq -c '{syns_seen, syns_forwarded, capture_seconds, causes: [.causes[].code]}' "$r")"
echo "first line: $(jq -r '.causes[0].summary' "$r")"
