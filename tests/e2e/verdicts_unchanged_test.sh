#!/usr/bin/env bash
# synwhy never changes what happens to a connection: a mixed workload (accepted, dropped by a
# rule, rejected with a RST, refused for want of a listener; both families) gives the same outcome
# for every connection without synwhy, with `watch` (nft trace table, pcap copies) and with `report`.
. "$(dirname "$0")/lib.sh"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
"$LAB" srv nft -f - <<'NFT' || fail "cannot load the test's rules"
table inet verdicts_test {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 2323 drop comment "drop"
        tcp dport 2424 reject with tcp reset comment "reject"
    }
}
NFT
ports="22 2323 2424 2525"

# One pass: each (family, port) attempt's outcome: open / refused / timeout.
workload() {
    local out=$1 fam port addr rc start end
    : >"$out"
    for fam in 4 6; do
        addr=$("$LAB" target "$fam")
        for port in $ports; do
            start=$(date +%s%N)
            rc=0
            "$LAB" cli nc -z -w 2 "$addr" "$port" >/dev/null 2>&1 || rc=$?
            end=$(date +%s%N)
            if [ "$rc" -eq 0 ]; then echo "ipv$fam:$port open"
            elif [ $(((end - start) / 1000000)) -ge 1800 ]; then echo "ipv$fam:$port timeout"
            else echo "ipv$fam:$port refused"
            fi >>"$out"
        done
    done
}

workload "$WORK/without.txt"
expected=$'ipv4:22 open\nipv4:2323 timeout\nipv4:2424 refused\nipv4:2525 refused\nipv6:22 open\nipv6:2323 timeout\nipv6:2424 refused\nipv6:2525 refused'
[ "$(cat "$WORK/without.txt")" = "$expected" ] || fail "the workload itself is not as designed: $(cat "$WORK/without.txt")"

port_args=()
for p in $ports; do port_args+=(--port "$p"); done
start_synwhy watch "$SYNWHY" watch --netns "${LAB_PREFIX}-srv" "${port_args[@]}" --pcap "$WORK/w.pcap"
workload "$WORK/with_watch.txt"
kill -TERM "$SYNWHY_PID"
wait_synwhy 10
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" "${port_args[@]}" --duration 60s
workload "$WORK/with_report.txt"
kill -INT "$SYNWHY_PID"
wait_synwhy 15

diff "$WORK/without.txt" "$WORK/with_watch.txt" >"$WORK/diff.out" || fail "outcomes changed under watch: $(cat "$WORK/diff.out")"
diff "$WORK/without.txt" "$WORK/with_report.txt" >"$WORK/diff.out" || fail "outcomes changed under report: $(cat "$WORK/diff.out")"
# And synwhy saw them: 8 attempts, each with its own cause.
[ "$(grep -c . "$WORK/watch.out")" -ge 8 ] || fail "watch printed $(grep -c . "$WORK/watch.out") lines for 8 attempts"
jq_check "$WORK/report.out" '[.causes[].code] | sort == ["accepted","firewall-drop","firewall-reject","no-listener"]' \
    "report causes: $(jq -c '[.causes[].code]' "$WORK/report.out")"
echo "ok: 16 connections, same outcome with and without synwhy"
