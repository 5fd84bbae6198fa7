#!/usr/bin/env bash
# `synwhy watch --json` started with `ip netns exec` prints one JSON line per SYN and its fate,
# for both families, and stops cleanly on SIGINT.
. "$(dirname "$0")/lib.sh"

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
start_synwhy watch ip netns exec "${LAB_PREFIX}-srv" "$SYNWHY" watch --json
"$LAB" connect 4 2 >"$WORK/client4.out" 2>&1
"$LAB" connect 6 2 >"$WORK/client6.out" 2>&1
for _ in $(seq 1 50); do
    [ "$(wc -l <"$WORK/watch.out")" -ge 2 ] && break
    sleep 0.1
done
kill -INT "$SYNWHY_PID"
wait_synwhy 10
[ "$SYNWHY_RC" -eq 0 ] || fail "watch exited with $SYNWHY_RC on SIGINT"
[ "$(wc -l <"$WORK/watch.out")" -eq 2 ] || fail "expected 2 lines, got $(wc -l <"$WORK/watch.out")"
while read -r line; do
    echo "$line" | jq -e 'has("ts","netns","src","sport","dst","dport","family","syns","verdict","detail")' >/dev/null ||
        fail "line lacks fields: $line"
    echo "$line" | jq -e '.verdict == "no-listener"' >/dev/null || fail "wrong verdict: $line"
done <"$WORK/watch.out"
jq -s -e '[.[].family] | sort == ["ipv4","ipv6"]' "$WORK/watch.out" >/dev/null || fail "not one line per family"
echo "ok: watch"
