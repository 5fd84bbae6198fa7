#!/usr/bin/env bash
# An IPv6 client whose SYNs carry an extension header before TCP (a hop-by-hop or destination
# options header, set with the IPV6_HOPOPTS / IPV6_DSTOPTS socket options): synwhy walks the
# header and gives the verdict it gives without one, with one SYN counted per SYN sent.
# Usage: ipv6_exthdr_test.sh SCENARIO hopopts|dstopts EXPECTED_CAUSE
SCENARIO=$1 HEADER=$2 EXPECTED=$3
. "$(dirname "$0")/lib.sh"

"$LAB" up "$SCENARIO" >"$WORK/lab.out" 2>&1 || fail "lab up $SCENARIO"
target=$("$LAB" target 6)
port=$("$LAB" port)
# One connect with a PadN option in the header (8 bytes: next header and length filled by the
# kernel's layout, then PadN of 4); the kernel retransmits the SYN on its own when unanswered.
cat >"$WORK/client.py" <<'PY'
import socket, sys
addr, port, header = sys.argv[1], int(sys.argv[2]), sys.argv[3]
opt = {"hopopts": getattr(socket, "IPV6_HOPOPTS", 54), "dstopts": getattr(socket, "IPV6_DSTOPTS", 59)}[header]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, opt, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)  # at most 2 SYNs
s.settimeout(4)
try:
    s.connect((addr, port))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except (socket.timeout, TimeoutError, OSError) as e:
    print("failed: %s" % e)
PY
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --port "$port" --count 1 --duration 15s
ip netns exec "${LAB_PREFIX}-cli" timeout 10 python3 "$WORK/client.py" "$target" "$port" "$HEADER" >"$WORK/client.out" 2>&1 ||
    fail "client: $(cat "$WORK/client.out")"
wait_synwhy 30
report="$WORK/report.out"
jq -e . "$report" >/dev/null 2>&1 || fail "report is not JSON"
causes=$(jq -c '[.causes[].code]' "$report")
[ "$causes" = "[\"$EXPECTED\"]" ] || fail "$SCENARIO/$HEADER: causes are $causes, expected [\"$EXPECTED\"] (client: $(cat "$WORK/client.out"))"
jq_check "$report" "[.flows[] | select(.dst == \"$target\" and .family == \"ipv6\")] | length == 1" "not one IPv6 flow to $target"
jq_check "$report" ".flows[0].verdict == \"$EXPECTED\" and .flows[0].syns >= 1" "the flow's verdict is not $EXPECTED"
echo "ok: $SCENARIO with an IPv6 $HEADER header -> $causes; client: $(cat "$WORK/client.out")"
