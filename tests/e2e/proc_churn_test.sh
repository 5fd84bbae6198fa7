#!/usr/bin/env bash
# Processes that exit while synwhy reads their /proc entries: for CHURN_SECONDS (30) a churner in
# the server's namespace forks short-lived processes named "sshd" that each listen on the watched
# port 2200 (SO_REUSEPORT; IPv4 and IPv6) and exit at once or within 20 ms, some left as zombies
# for a moment. synwhy then walks /proc/*/fd, stat, comm, cmdline and exe of processes that are
# going (listener owners, sshd processes), on every snapshot: each failing verdict's and each
# listener change's. Meanwhile a client connects, from a known source port each time, to :22
# (accepted), :2323 (dropped by an nft rule) and :2525 (nothing listens), both families.
# watch --json and a report run across the churn; neither may crash or hang, and every attempt
# gets its own right verdict.
. "$(dirname "$0")/lib.sh"
CHURN_SECONDS=${CHURN_SECONDS:-30}
PY=/usr/bin/python3
[ -x "$PY" ] || fail "python3 is missing (Debian package python3)"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"
"$LAB" srv nft -f - <<'NFT' || fail "cannot load the test's rules"
table inet churn_test {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 2323 drop comment "drop"
    }
}
NFT

cat >"$WORK/churn.py" <<'EOF'
# churn.py SECONDS PORT READY STATS: forks listeners on PORT that exit at once, for SECONDS.
import ctypes, os, random, socket, sys, time
secs, port, ready, stats = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
libc = ctypes.CDLL(None)
end = time.monotonic() + secs
spawned = 0
live = 0
open(ready, "w").close()
while time.monotonic() < end:
    pid = os.fork()
    if pid == 0:
        try:
            libc.prctl(15, b"sshd", 0, 0, 0)  # PR_SET_NAME: synwhy reads every "sshd" it finds
            fam = socket.AF_INET6 if spawned % 2 else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
            s.listen(4)
            if spawned % 3 == 0:
                time.sleep(random.random() * 0.02)
        finally:
            os._exit(0)
    spawned += 1
    live += 1
    # Reap lazily: up to 16 children (running or zombie) at a time.
    while live > 16:
        os.waitpid(-1, 0)
        live -= 1
while live:
    os.waitpid(-1, 0)
    live -= 1
with open(stats, "w") as f:
    f.write("%d\n" % spawned)
EOF

start_synwhy watch "$SYNWHY" watch --json --netns "$srv" --port 22 --port 2200 --port 2323 --port 2525
watch_pid=$SYNWHY_PID
rm -f "$WORK/churn.ready"
"$LAB" srv "$PY" "$WORK/churn.py" "$CHURN_SECONDS" 2200 "$WORK/churn.ready" "$WORK/churn.stats" 2>"$WORK/churn.err" &
churn=$!
BACKGROUND_PIDS="$churn"
for _ in $(seq 1 50); do [ -f "$WORK/churn.ready" ] && break; sleep 0.1; done
[ -f "$WORK/churn.ready" ] || fail "the churner did not start"

# A report across the first part of the churn, beside watch (its end snapshot falls in the churn).
report_seconds=$((CHURN_SECONDS / 2))
rm -f "$WORK/ready"
"$SYNWHY" report --json --netns "$srv" --port 22 --port 2200 --port 2323 --port 2525 --duration "${report_seconds}s" \
    --ready-file "$WORK/report.ready" >"$WORK/report.out" 2>"$WORK/report.err" &
report_pid=$!
BACKGROUND_PIDS="$churn $report_pid"
for _ in $(seq 1 100); do [ -f "$WORK/report.ready" ] && break; kill -0 "$report_pid" 2>/dev/null || break; sleep 0.1; done
[ -f "$WORK/report.ready" ] || fail "report did not attach: $(cat "$WORK/report.err")"

# The client: each attempt from its own source port, so each one's line can be found.
: >"$WORK/attempts.txt"
sport=41000
t_end=$(($(date +%s) + CHURN_SECONDS - 2))
while [ "$(date +%s)" -lt "$t_end" ]; do
    for target in "4 22" "6 2323" "4 2525" "6 22" "4 2323" "6 2525"; do
        set -- $target
        addr=$("$LAB" target "$1")
        sport=$((sport + 1))
        "$LAB" cli nc -z -w 1 -p "$sport" "$addr" "$2" >/dev/null 2>&1 || true
        echo "$1 $sport $2 $(date +%s)" >>"$WORK/attempts.txt"
    done
    kill -0 "$watch_pid" 2>/dev/null || fail "watch died during the churn: $(tail -c 2000 "$WORK/watch.err")"
done
last_attempt=$(date +%s%N)

# The last attempt's line comes within 5 s (watch is not stuck in a snapshot).
last_sport=$sport
for _ in $(seq 1 50); do
    grep -q "\"sport\":$last_sport," "$WORK/watch.out" && break
    sleep 0.1
done
grep -q "\"sport\":$last_sport," "$WORK/watch.out" || fail "no line for the last attempt (source port $last_sport) within 5 s"
line_delay=$(( ($(date +%s%N) - last_attempt) / 1000000 ))

for _ in $(seq 1 $((CHURN_SECONDS * 10 + 300))); do kill -0 "$churn" 2>/dev/null || break; sleep 0.1; done
kill -0 "$churn" 2>/dev/null && fail "the churner did not end"
wait "$churn" || fail "the churner failed: $(cat "$WORK/churn.err")"
for _ in $(seq 1 300); do kill -0 "$report_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$report_pid" 2>/dev/null && fail "report did not end within 30 s of its ${report_seconds} s capture"
set +e
wait "$report_pid"
report_rc=$?
set -e
BACKGROUND_PIDS=""
kill -0 "$watch_pid" 2>/dev/null || fail "watch died: $(tail -c 2000 "$WORK/watch.err")"
kill -TERM "$watch_pid"
wait_synwhy 10
[ "$SYNWHY_RC" -eq 0 ] || fail "watch exited $SYNWHY_RC after SIGTERM: $(tail -c 2000 "$WORK/watch.err")"

spawned=$(cat "$WORK/churn.stats")
[ "$spawned" -ge 1000 ] || fail "the churner made only $spawned processes"
w="$WORK/watch.out"
jq -e -s 'length > 0' "$w" >/dev/null 2>&1 || fail "watch's output is not JSON lines"
# Every attempt: its flow has a line, and every line of it has the right verdict.
jq -r 'select(.verdict) | "\(.sport) \(.dport) \(.verdict)"' "$w" | sort -u >"$WORK/verdicts.txt"
attempts=0
while read -r fam sp dport _; do
    attempts=$((attempts + 1))
    case $dport in 22) want=accepted ;; 2323) want=firewall-drop ;; 2525) want=no-listener ;; esac
    got=$(awk -v s="$sp" -v d="$dport" '$1 == s && $2 == d { print $3 }' "$WORK/verdicts.txt" | paste -sd,)
    [ "$got" = "$want" ] || fail "ipv$fam :$dport from source port $sp: verdicts '$got', expected '$want'"
done <"$WORK/attempts.txt"
[ "$attempts" -ge 12 ] || fail "only $attempts attempts were made"
starts=$(jq -s '[.[] | select(.event == "listen-start" and .port == 2200)] | length' "$w")
stops=$(jq -s '[.[] | select(.event == "listen-stop" and .port == 2200)] | length' "$w")
[ "$starts" -ge 100 ] && [ "$stops" -ge 100 ] || fail "watch saw $starts listen-start and $stops listen-stop lines on :2200"

# The report: exit 1, the three causes of its window and no other.
[ "$report_rc" -eq 1 ] || fail "report exit $report_rc: $(tail -c 2000 "$WORK/report.err")"
r="$WORK/report.out"
jq -e . "$r" >/dev/null 2>&1 || fail "report is not JSON: $(tail -c 500 "$r")"
jq_check "$r" '[.causes[].code] | sort == ["accepted","firewall-drop","no-listener"]' "report causes: $(jq -c '[.causes[].code]' "$r")"
jq_check "$r" '[.flows[] | select(.dport == 2200)] | length == 0' "report judged a flow to :2200"
echo "ok: $spawned short-lived listeners in ${CHURN_SECONDS} s; watch: $attempts attempts each with its right verdict, $starts listen-start / $stops listen-stop lines on :2200, the last attempt's line after $line_delay ms; report over the first ${report_seconds} s: accepted, firewall-drop, no-listener"
