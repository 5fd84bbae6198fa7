#!/usr/bin/env bash
# A SYN flood while `watch --json` writes into a slow pipe (its reader takes one line every 10 ms):
# ROUNDS x 20,000 SYNs (raw sender scripts/bench/synflood.c) to a port nobody listens on. watch
# blocks on its stdout, the ring buffer fills, the kernel's detail bound holds most events back;
# what must hold: synwhy's memory stays bounded (peak RSS), the kernel's totals are exact (the
# metrics file and watch's last detail-lost line), the loss of per-flow detail is told while it
# happens and at the end (detail-lost lines with the rate-limited and lost counts), every line
# the reader got is whole JSON with the right verdict, and watch ends promptly on SIGTERM.
# The port is 2201, which no lab scenario uses: the verdict is no-listener whatever other tests'
# namespaces hold (an sshd on :22 elsewhere would make it other-netns).
. "$(dirname "$0")/lib.sh"
PER_ROUND=20000
ROUNDS=${ROUNDS:-5}
TOTAL=$((PER_ROUND * ROUNDS))
PORT=2201
RSS_LIMIT_KB=$((64 * 1024))  # the project's target is 30 MB; this is the claim the test makes
PY=/usr/bin/python3
[ -x "$PY" ] || fail "python3 is missing (Debian package python3)"
command -v gcc >/dev/null || fail "gcc is missing (Debian package gcc)"
src="$(dirname "$0")/../../scripts/bench/synflood.c"
gcc -O2 -o "$WORK/synflood" "$src" 2>"$WORK/gcc.err" || fail "cannot build synflood: $(cat "$WORK/gcc.err")"
# Under ASan (scripts/sanitize.sh) the RSS is the sanitizer's shadow and quarantine, not synwhy's.
asan=0
if ldd "$SYNWHY" 2>/dev/null | grep -Eq 'libasan|asan'; then asan=1; fi

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"

# The slow reader: one line every 10 ms, each kept; ends at EOF, or after 180 s whatever happens.
cat >"$WORK/reader.py" <<'EOF'
import sys, time
deadline = time.monotonic() + 180
with open(sys.argv[1], "rb") as pipe, open(sys.argv[2], "wb") as out:
    for line in pipe:
        out.write(line)
        out.flush()
        time.sleep(0.01)
        if time.monotonic() > deadline:
            break
EOF
mkfifo "$WORK/pipe"
"$PY" "$WORK/reader.py" "$WORK/pipe" "$WORK/lines.jsonl" &
reader=$!
BACKGROUND_PIDS="$reader"

rm -f "$WORK/ready"
"$SYNWHY" watch --json --netns "$srv" --port "$PORT" --metrics-file "$WORK/synwhy.prom" --ready-file "$WORK/ready" \
    >"$WORK/pipe" 2>"$WORK/watch.err" &
SYNWHY_PID=$!
for _ in $(seq 1 100); do
    [ -f "$WORK/ready" ] && break
    kill -0 "$SYNWHY_PID" 2>/dev/null || fail "watch exited before attaching: $(cat "$WORK/watch.err")"
    sleep 0.1
done
[ -f "$WORK/ready" ] || fail "watch did not attach within 10 s"

peak_rss=0
sample() {
    local v
    v=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SYNWHY_PID/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak_rss" ] && peak_rss=$v
    return 0
}
rates=""
for round in $(seq 1 "$ROUNDS"); do
    out=$("$LAB" cli timeout 60 "$WORK/synflood" 192.0.2.1 192.0.2.2 "$PORT" "$PER_ROUND") || fail "synflood round $round: $out"
    [[ $out =~ ^sent\ $PER_ROUND\ in\ ([0-9]+)\ ns ]] || fail "synflood round $round: $out"
    rates+=" $((PER_ROUND * 1000000000 / ${BASH_REMATCH[1]}))"
    kill -0 "$SYNWHY_PID" 2>/dev/null || fail "watch died during round $round: $(cat "$WORK/watch.err")"
    for _ in 1 2 3 4 5 6 7 8 9 10; do sample; sleep 0.2; done
done
lines_during=$(grep -c . "$WORK/lines.jsonl" || true)

# SIGTERM: watch ends (bounded) although its reader is still behind, and leaves its last lines.
sample
t_term=$(date +%s%N)
kill -TERM "$SYNWHY_PID"
wait_synwhy 30
term_ms=$(( ($(date +%s%N) - t_term) / 1000000 ))
[ "$SYNWHY_RC" -eq 0 ] || fail "watch exited $SYNWHY_RC after SIGTERM: $(cat "$WORK/watch.err")"
for _ in $(seq 1 300); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
kill -0 "$reader" 2>/dev/null && fail "the reader did not reach the end of watch's output within 30 s"
wait "$reader" || fail "the reader failed"
BACKGROUND_PIDS=""

l="$WORK/lines.jsonl"
lines=$(grep -c . "$l" || true)
# Every line is whole JSON: a flow with the right verdict, or a detail-lost line.
jq -e -s 'length > 0' "$l" >/dev/null 2>&1 || fail "watch's output is not JSON lines: $(head -c 500 "$l")"
jq -s -e 'all(.[]; (.event == "detail-lost") or (.verdict == "no-listener" and .dport == 2201))' "$l" >/dev/null ||
    fail "lines other than no-listener flows and detail-lost: $(jq -c -s '[.[] | select(.event != "detail-lost" and .verdict != "no-listener")] | .[0:3]' "$l")"
flows=$(jq -s '[.[] | select(.verdict)] | length' "$l")
[ "$flows" -gt 0 ] || fail "no flow line at all"
# The loss of detail is told while the flood goes on, not only at the end.
[ "$(jq -s '[.[] | select(.event == "detail-lost" and .final == false)] | length' "$l")" -ge 1 ] ||
    fail "no detail-lost line while the flood went on"
last=$(jq -c -s '[.[] | select(.event == "detail-lost")] | last' "$l")
jq -e '.final == true' <<<"$last" >/dev/null || fail "the last detail-lost line is not watch's final one: $last"
# The kernel's totals, exact.
count_of() { jq "[.kernel_counts[] | select(.port == $PORT and .what == \"$1\") | .count] | add // 0" <<<"$last"; }
[ "$(jq .syns_seen <<<"$last")" -eq "$TOTAL" ] || fail "syns_seen $(jq .syns_seen <<<"$last"), expected exactly $TOTAL"
[ "$(count_of 'SYN arrived')" -eq "$TOTAL" ] || fail "kernel count of SYNs: $(count_of 'SYN arrived')"
[ "$(count_of 'SYN dropped: NO_SOCKET')" -eq "$TOTAL" ] || fail "kernel count of NO_SOCKET drops: $(count_of 'SYN dropped: NO_SOCKET')"
[ "$(count_of 'answered with RST by TCP (NO_SOCKET)')" -eq "$TOTAL" ] || fail "kernel count of RSTs: $(count_of 'answered with RST by TCP (NO_SOCKET)')"
limited=$(jq .events_rate_limited <<<"$last") lost=$(jq .events_lost <<<"$last") with_line=$(jq .syns_with_line <<<"$last")
[ $((limited + lost)) -gt 0 ] || fail "the loss of detail is not counted: $last"
[ "$with_line" -gt 0 ] && [ "$with_line" -lt "$TOTAL" ] || fail "syns_with_line $with_line of $TOTAL"
# The metrics file agrees: exact kernel total, losses, and per-verdict SYNs that add up to the
# SYNs that got a line (each SYN counted once, not once per line of its flow).
m="$WORK/synwhy.prom"
grep -q '^synwhy_up 0$' "$m" || fail "synwhy_up is not 0 in the metrics file watch left: $(cat "$m")"
grep -qx "synwhy_kernel_syns_total $TOTAL" "$m" || fail "metrics: $(grep kernel_syns "$m"), expected $TOTAL"
grep -qx "synwhy_events_lost_total $lost" "$m" || fail "metrics: $(grep events_lost "$m"), the detail-lost line says $lost"
by_verdict=$(awk '/^synwhy_syns_total\{/ { n += $2 } END { print n + 0 }' "$m")
[ "$by_verdict" -eq "$with_line" ] || fail "metrics count $by_verdict SYNs by verdict, the lines were about $with_line"
if [ "$asan" -eq 0 ]; then
    [ "$peak_rss" -gt 0 ] && [ "$peak_rss" -le "$RSS_LIMIT_KB" ] || fail "peak RSS of watch $peak_rss kB, limit $RSS_LIMIT_KB kB"
    rss_note="peak RSS ${peak_rss} kB (limit $RSS_LIMIT_KB kB)"
else
    rss_note="peak RSS ${peak_rss} kB (ASan build: not judged)"
fi
echo "ok: $ROUNDS x $PER_ROUND SYNs (sent at${rates} SYN/s) into watch --json | 10 ms/line reader"
echo "ok: kernel totals exact ($TOTAL SYNs, $TOTAL NO_SOCKET drops, $TOTAL RSTs); $with_line SYNs got a line ($flows flow lines); $limited events over the detail rate bound, $lost lost (ring buffer full)"
echo "ok: $rss_note; reader got $lines_during lines during the flood, $lines in all; watch ended $term_ms ms after SIGTERM"
