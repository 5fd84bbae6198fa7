#!/usr/bin/env bash
# watch --metrics-file: a Prometheus textfile, replaced atomically, with the SYNs per port and
# verdict; promtool accepts it; when watch ends it says synwhy_up 0 and leaves no temporary file.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || fail "promtool is not installed (scripts/setup.sh installs it)"

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
mkdir "$WORK/textfile"
prom="$WORK/textfile/synwhy.prom"
start_synwhy watch "$SYNWHY" watch --netns "${LAB_PREFIX}-srv" --metrics-file "$prom"
[ -s "$prom" ] || fail "no metrics file once attached"
grep -q '^synwhy_up 1$' "$prom" || fail "synwhy_up is not 1 while watching: $(cat "$prom")"
"$LAB" connect 4 3 >/dev/null 2>&1 || true
"$LAB" connect 6 3 >/dev/null 2>&1 || true
# Written at most every 2 s: wait (bounded) for both refusals.
for _ in $(seq 1 50); do
    grep -q '^synwhy_syns_total{port="22",verdict="no-listener",netns="'"${LAB_PREFIX}"'-srv"} 2$' "$prom" && break
    sleep 0.2
done
grep -q '^synwhy_syns_total{port="22",verdict="no-listener",netns="'"${LAB_PREFIX}"'-srv"} 2$' "$prom" ||
    fail "metrics do not count the two refused SYNs: $(cat "$prom")"
promtool check metrics <"$prom" >"$WORK/promtool.out" 2>&1 || fail "promtool rejects the file: $(cat "$WORK/promtool.out")"
grep -q '^synwhy_kernel_syns_total [1-9]' "$prom" || fail "no kernel SYN count"

kill -TERM "$SYNWHY_PID"
wait_synwhy 10
[ "$SYNWHY_RC" -eq 0 ] || fail "watch exited $SYNWHY_RC after SIGTERM"
grep -q '^synwhy_up 0$' "$prom" || fail "synwhy_up is not 0 after watch ended: $(cat "$prom")"
[ "$(ls "$WORK/textfile")" = "synwhy.prom" ] || fail "files left in the textfile directory: $(ls "$WORK/textfile")"
[ "$(stat -c %a "$prom")" = 644 ] || fail "mode $(stat -c %a "$prom"), expected 644"
echo "ok: metrics"
