#!/usr/bin/env bash
# watch tells when the listener goes away and how its process ended, and when it comes back.
. "$(dirname "$0")/lib.sh"

"$LAB" up sshd-crash >"$WORK/lab.out" 2>&1 || fail "lab up"
start_synwhy watch "$SYNWHY" watch --netns "${LAB_PREFIX}-srv"
pid=$(cat "/run/synwhy-lab/${LAB_PREFIX}/sshd.pid")
"$LAB" crash
for _ in $(seq 1 30); do [ "$(grep -c 'stopped listening' "$WORK/watch.out")" -ge 2 ] && break; sleep 0.1; done
"$LAB" connect 4 2 >"$WORK/client.out" 2>&1
for _ in $(seq 1 30); do grep -q 'no-listener' "$WORK/watch.out" && break; sleep 0.1; done
kill -INT "$SYNWHY_PID"
wait_synwhy 10
grep -q "sshd (pid $pid) stopped listening on 0.0.0.0:22 — killed by SIGSEGV" "$WORK/watch.out" ||
    fail "no IPv4 listen-stop line with the signal"
grep -q "sshd (pid $pid) stopped listening on \[::\]:22 — killed by SIGSEGV" "$WORK/watch.out" ||
    fail "no IPv6 listen-stop line with the signal"
grep -q "192.0.2.2:22 *no-listener" "$WORK/watch.out" || fail "the SYN after the crash is not no-listener"
echo "ok: lifecycle"
