#!/usr/bin/env bash
# Scale: 10,000 listening TCP sockets in the server's namespace (127.0.0.1:20000-29999, one
# process) and sshd stopped. One refused SSH attempt still gets the right verdict, no-listener and
# nothing else, within a bounded time; the report lists every listener (the JSON does not cap
# them) and knows which process holds each one.
#
# synwhy runs in private mount and PID namespaces: /run/netns there holds only this test's server
# namespace (a tmpfs over it) and /proc shows only this test's processes, so another lab's sshd on
# :22 (a test running beside this one) cannot turn the verdict into other-netns. The listener
# process lives in that PID namespace too (synwhy must see it to name the sockets' owner), and
# everything in it dies with it (unshare --kill-child).
. "$(dirname "$0")/lib.sh"
N=${LISTENERS:-10000}
PY=/usr/bin/python3
[ -x "$PY" ] || fail "python3 is missing (Debian package python3)"
command -v unshare >/dev/null || fail "unshare is missing (Debian package util-linux)"

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"

cat >"$WORK/listen.py" <<'EOF'
# N listening sockets on 127.0.0.1 from port BASE; writes READY with the count, then sleeps until
# killed (at most 10 minutes).
import ctypes, resource, socket, sys, time
n, base, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctypes.CDLL(None).prctl(15, b"swt-listen", 0, 0, 0)  # PR_SET_NAME: the comm synwhy must report
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
socks = []
for port in range(base, base + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    socks.append(s)
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % len(socks))
import os
os.rename(ready + ".tmp", ready)
time.sleep(600)
EOF

cat >"$WORK/inner.sh" <<'EOF'
# Runs as PID 1 of a new PID namespace, in a private mount namespace (see the top of the test).
set -eu
srv=$1 work=$2 synwhy=$3 py=$4 n=$5
touch "$work/srv.ns"
mount --bind "/run/netns/$srv" "$work/srv.ns"
mount -t tmpfs -o size=64k,mode=0755 swt-netns /run/netns
touch "/run/netns/$srv"
mount --bind "$work/srv.ns" "/run/netns/$srv"
umount "$work/srv.ns"
[ "$(ls /run/netns)" = "$srv" ] || { echo "inner: /run/netns is not private" >&2; exit 97; }

t0=$(date +%s%N)
ip netns exec "$srv" "$py" "$work/listen.py" "$n" 20000 "$work/listeners.ready" 2>"$work/listen.err" &
for _ in $(seq 1 600); do
    [ -f "$work/listeners.ready" ] && break
    kill -0 $! 2>/dev/null || { echo "inner: the listener process died: $(cat "$work/listen.err")" >&2; exit 98; }
    sleep 0.1
done
[ -f "$work/listeners.ready" ] || { echo "inner: $n listeners not open within 60 s" >&2; exit 98; }
echo "$(( ($(date +%s%N) - t0) / 1000000 ))" >"$work/listeners.ms"

date +%s%N >"$work/synwhy.start"
set +e
timeout 60 "$synwhy" report --json --netns "$srv" --count 1 --duration 45s --ready-file "$work/ready" \
    >"$work/report.out" 2>"$work/report.err"
echo $? >"$work/report.rc"
date +%s%N >"$work/synwhy.end"
EOF

unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
    sh "$WORK/inner.sh" "$srv" "$WORK" "$SYNWHY" "$PY" "$N" >"$WORK/inner.out" 2>"$WORK/inner.err" &
inner=$!
BACKGROUND_PIDS="$inner"

# Attached (bounded): the listeners are open, then synwhy took its snapshot of all of them.
for _ in $(seq 1 1200); do
    [ -f "$WORK/ready" ] && break
    kill -0 "$inner" 2>/dev/null || fail "the isolated run ended before synwhy attached: $(cat "$WORK/inner.err")"
    sleep 0.1
done
[ -f "$WORK/ready" ] || fail "synwhy did not attach within 120 s"
attach_ms=$(( ($(date +%s%N) - $(cat "$WORK/synwhy.start")) / 1000000 ))
"$LAB" srv ss -Hltn >"$WORK/ss.txt"
[ "$(grep -c . "$WORK/ss.txt")" -ge "$N" ] || fail "only $(grep -c . "$WORK/ss.txt") listeners in $srv, expected $N"

t_connect=$(date +%s%N)
"$LAB" connect 4 3 >"$WORK/client.out" 2>&1
for _ in $(seq 1 600); do kill -0 "$inner" 2>/dev/null || break; sleep 0.1; done
kill -0 "$inner" 2>/dev/null && fail "synwhy did not report within 60 s of the SYN"
wait "$inner" || fail "the isolated run failed: $(cat "$WORK/inner.err")"
BACKGROUND_PIDS=""
report_ms=$(( ($(cat "$WORK/synwhy.end") - t_connect) / 1000000 ))

rc=$(cat "$WORK/report.rc")
[ "$rc" -eq 1 ] || fail "report exit $rc, expected 1 (failure found): $(cat "$WORK/report.err")"
r="$WORK/report.out"
jq -e . "$r" >/dev/null 2>&1 || fail "report is not JSON"
grep -q 'refused' "$WORK/client.out" || fail "the client was not refused: $(cat "$WORK/client.out")"
jq_check "$r" '[.causes[].code] == ["no-listener"]' "causes are $(jq -c '[.causes[].code]' "$r")"
jq_check "$r" '.flows[0].dport == 22 and .flows[0].verdict == "no-listener"' "the flow: $(jq -c '.flows[0]' "$r")"
jq_check "$r" "(.host.listeners | length) >= $N" "the report lists $(jq '.host.listeners | length' "$r") listeners, expected all $N"
jq_check "$r" "[.host.listeners[] | select(.port >= 20000 and .port < 20000 + $N and .addr == \"127.0.0.1\" and .comm == \"swt-listen\" and .pid > 0)] | length == $N" \
    "$(jq "[.host.listeners[] | select(.comm == \"swt-listen\")] | length" "$r") of the $N listeners are attributed to their process"
jq_check "$r" '[.host.listeners[] | select(.port == 22)] | length == 0' "a listener on :22 was reported"
jq_check "$r" '[.causes[0].evidence[] | test("no socket listens on port 22")] | any' "the evidence does not say nothing listens on :22"
jq_check "$r" '.host.probe_errors == []' "probe errors: $(jq -c '.host.probe_errors' "$r")"
# Bounded: well within the 60 s the run was given (a --count 1 report settles 1 s after its SYN).
[ "$report_ms" -le 20000 ] || fail "the report took $report_ms ms after the SYN"
echo "ok: $N listeners (opened in $(cat "$WORK/listeners.ms") ms): synwhy attached in $attach_ms ms, reported no-listener $report_ms ms after the SYN (report $(stat -c %s "$r") bytes)"
