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

# `synwhy watch | head -1`: once head has its line and exits, watch ends within a second or so,
# without waiting for a next line to write (the pipe's reader is gone).
mkfifo "$WORK/pipe"
head -1 <"$WORK/pipe" >"$WORK/head.out" &
head_pid=$!
BACKGROUND_PIDS="$head_pid"
rm -f "$WORK/ready"
"$SYNWHY" watch --netns "${LAB_PREFIX}-srv" --ready-file "$WORK/ready" >"$WORK/pipe" 2>"$WORK/piped.err" &
SYNWHY_PID=$!
for _ in $(seq 1 100); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
[ -f "$WORK/ready" ] || fail "piped watch did not attach within 10 s"
"$LAB" connect 4 2 >"$WORK/client-piped.out" 2>&1
for _ in $(seq 1 50); do kill -0 "$head_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$head_pid" 2>/dev/null && fail "head got no line from watch within 5 s"
t_head=$(date +%s%N)
wait_synwhy 5
gone_ms=$(( ($(date +%s%N) - t_head) / 1000000 ))
[ "$gone_ms" -le 2000 ] || fail "watch ended $gone_ms ms after its reader, expected within about a second"
grep -q 'no-listener' "$WORK/head.out" || fail "head's line: $(cat "$WORK/head.out")"
echo "ok: watch | head -1 ended $gone_ms ms after head"
echo "ok: watch"
