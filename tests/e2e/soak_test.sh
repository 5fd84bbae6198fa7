#!/usr/bin/env bash
# Soak: `watch --json --metrics-file` for SOAK_SECONDS (600) under mixed traffic at a bounded rate,
# both families: accepted (sshd on :22), dropped (nft rule, :2323), rejected with a RST (nft rule,
# :2424) and refused (nothing on :2525), each attempt from its own source port. Every 10 s the
# watch's RSS (VmRSS) and open fds are sampled; after a 60 s warm-up both must be flat: the highest
# RSS of the second half at most 2 MB above the highest of the first half, and the same number of
# fds in every sample (each sample the least of three reads 0.1 s apart, so a file a snapshot
# holds open for a moment does not count). The curve (seconds, rss_kb, fds) is printed at the end
# and written to $WORK/soak_curve.txt (and to SOAK_CURVE_FILE when set). Every attempt must have
# its line with the right verdict, and the metrics must add up.
. "$(dirname "$0")/lib.sh"
SOAK_SECONDS=${SOAK_SECONDS:-600}
WARMUP=60
INTERVAL=10
RSS_GROWTH_LIMIT_KB=2048
[[ $SOAK_SECONDS =~ ^[0-9]+$ ]] && [ "$SOAK_SECONDS" -ge $((WARMUP + 4 * INTERVAL)) ] ||
    fail "SOAK_SECONDS must be a number of seconds of at least $((WARMUP + 4 * INTERVAL)) (got '$SOAK_SECONDS')"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"
"$LAB" srv nft -f - <<'NFT' || fail "cannot load the test's rules"
table inet soak_test {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 2323 drop comment "drop"
        tcp dport 2424 reject with tcp reset comment "reject"
    }
}
NFT

start_synwhy watch "$SYNWHY" watch --json --netns "$srv" --port 22 --port 2323 --port 2424 --port 2525 \
    --metrics-file "$WORK/synwhy.prom"
pid=$SYNWHY_PID
t0=$(date +%s)
deadline=$((t0 + SOAK_SECONDS))

# The client: rounds of 8 attempts (4 ports x 2 families), a second apart, until the deadline.
# Source ports 20000 + n: unique for the whole soak (600 s makes ~1,500 attempts).
client() {
    local n=0 fam port addr4 addr6 addr
    addr4=$("$LAB" target 4)
    addr6=$("$LAB" target 6)
    while [ "$(date +%s)" -lt $((deadline - 5)) ] && [ "$n" -lt 40000 ]; do
        for fam in 4 6; do
            for port in 22 2323 2424 2525; do
                n=$((n + 1))
                if [ "$fam" = 4 ]; then addr=$addr4; else addr=$addr6; fi
                "$LAB" cli nc -z -w 1 -p $((20000 + n)) "$addr" "$port" >/dev/null 2>&1 || true
                echo "$fam $((20000 + n)) $port" >>"$WORK/attempts.txt"
            done
        done
        sleep 1
    done
}
: >"$WORK/attempts.txt"
client &
BACKGROUND_PIDS=$!

fds_now() {
    local least="" n _
    for _ in 1 2 3; do
        n=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        if [ -z "$least" ] || [ "$n" -lt "$least" ]; then least=$n; fi
        sleep 0.1
    done
    echo "$least"
}
curve="$WORK/soak_curve.txt"
echo "# seconds rss_kb fds" >"$curve"
next=$t0
while :; do
    now=$(date +%s)
    [ "$now" -ge "$deadline" ] && break
    if [ "$now" -ge "$next" ]; then
        kill -0 "$pid" 2>/dev/null || fail "watch died after $((now - t0)) s: $(tail -c 2000 "$WORK/watch.err")"
        rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
        echo "$((now - t0)) $rss $(fds_now)" | tee -a "$curve"
        next=$((next + INTERVAL))
    fi
    sleep 0.5
done
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
for _ in $(seq 1 100); do kill -0 "$BACKGROUND_PIDS" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BACKGROUND_PIDS" 2>/dev/null && fail "the client did not end"
wait "$BACKGROUND_PIDS" || true
BACKGROUND_PIDS=""
sleep 3  # the last attempts' lines (a drop's line comes when its SYN is dropped, a silent one's after 1.5 s)
kill -TERM "$pid"
wait_synwhy 10
[ "$SYNWHY_RC" -eq 0 ] || fail "watch exited $SYNWHY_RC after SIGTERM: $(tail -c 2000 "$WORK/watch.err")"
if [ -n "${SOAK_CURVE_FILE:-}" ]; then cp "$curve" "$SOAK_CURVE_FILE"; fi
echo "--- $curve (seconds rss_kb fds)"
cat "$curve"

# Flat after the warm-up.
awk -v w="$WARMUP" '!/^#/ && $1 >= w' "$curve" >"$WORK/steady.txt"
n=$(grep -c . "$WORK/steady.txt")
[ "$n" -ge 4 ] || fail "only $n samples after the warm-up"
half=$((n / 2))
first_max=$(head -n "$half" "$WORK/steady.txt" | awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }')
second_max=$(tail -n +$((half + 1)) "$WORK/steady.txt" | awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }')
growth=$((second_max - first_max))
fd_values=$(awk '{ print $3 }' "$WORK/steady.txt" | sort -u | paste -sd' ')
[ "$growth" -le "$RSS_GROWTH_LIMIT_KB" ] ||
    fail "RSS grew: highest $second_max kB in the second half, $first_max kB in the first ($growth kB > $RSS_GROWTH_LIMIT_KB kB)"
[ "$(wc -w <<<"$fd_values")" -eq 1 ] || fail "open fds changed after the warm-up: $fd_values"

# Every attempt has its line, with its verdict; the counts add up.
w="$WORK/watch.out"
jq -r 'select(.verdict) | "\(.sport) \(.dport) \(.verdict)"' "$w" | sort -u >"$WORK/verdicts.txt" ||
    fail "watch's output is not JSON lines"
attempts=0 missing=0
while read -r fam sp port; do
    attempts=$((attempts + 1))
    case $port in 22) want=accepted ;; 2323) want=firewall-drop ;; 2424) want=firewall-reject ;; 2525) want=no-listener ;; esac
    got=$(awk -v s="$sp" -v d="$port" '$1 == s && $2 == d { print $3 }' "$WORK/verdicts.txt" | paste -sd,)
    [ "$got" = "$want" ] || fail "ipv$fam :$port from source port $sp: verdicts '$got', expected '$want'"
done <"$WORK/attempts.txt"
[ "$attempts" -ge $(((SOAK_SECONDS - 10) / 10 * 8)) ] || fail "only $attempts attempts in $SOAK_SECONDS s"
m="$WORK/synwhy.prom"
kernel=$(awk '$1 == "synwhy_kernel_syns_total" { print $2 }' "$m")
by_verdict=$(awk '/^synwhy_syns_total\{/ { n += $2 } END { print n + 0 }' "$m")
[ "$kernel" -ge "$attempts" ] || fail "the kernel counted $kernel SYNs for $attempts attempts"
[ "$by_verdict" -le "$kernel" ] && [ "$by_verdict" -ge "$attempts" ] ||
    fail "metrics: $by_verdict SYNs by verdict, $kernel counted in the kernel, $attempts attempts"
if grep -q '"event":"detail-lost"' "$w"; then fail "detail was lost at this rate: $(grep '"event":"detail-lost"' "$w" | tail -n 1)"; fi
echo "ok: soak $SOAK_SECONDS s, $attempts attempts, each with its right verdict; RSS after warm-up: max $first_max kB (first half), $second_max kB (second half), growth $growth kB; fds $fd_values; peak RSS $hwm kB; kernel SYNs $kernel, by verdict $by_verdict"
