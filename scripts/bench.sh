#!/usr/bin/env bash
# Benchmarks synwhy against the floor (empty tp_btf programs), bpftrace and tcpdump, side by side in
# one run, in two network namespaces of its own (veth, 192.0.2.0/24 and 2001:db8::/64). Root only.
#
# Measured:
#   1. per-program cost, ns per call (kernel.bpf_stats_enabled, run_time_ns / run_cnt from
#      `bpftool prog show -j`, differences across a phase) of synwhy's programs, of an empty tp_btf
#      program on each of the same tracepoints (bench/empty.bpf.c) and of a bpftrace script doing
#      synwhy's filtering (bench/synwhy-equiv.bt), each alone in turn, during (a) iperf3 bulk
#      traffic to a port synwhy does not watch and (b) a SYN flood to the watched port;
#   2. iperf3 throughput with synwhy `watch`, the bpftrace script or tcpdump running, over the
#      throughput without (runs alternated, medians);
#   3. SYN floods of exactly N SYNs to :22 with no listener (hping3 -i u1 -c N, then a raw-socket
#      sender at full speed: bench/synflood.c), with `synwhy report --json` running: syns_seen vs
#      N, the rate, synwhy's CPU and peak RSS;
#   4. start to attached: synwhy's --ready-file vs bpftrace's BEGIN output (medians);
#   5. synwhy's idle RSS and the memory of its BPF maps; and `watch`'s SYN-to-line latency.
# Prints a table (measure, value, unit, target, result) and writes it as JSON with the machine.
# Installs what it needs when missing (apt-get update only then). Every step runs under `timeout`,
# a watchdog ends the whole run after BENCH_BUDGET seconds, and everything it made (namespaces,
# processes, BPF programs, the bpf_stats setting, temporary files) is undone however it exits.
#
# Usage: scripts/bench.sh [OUT_JSON]   (default build/bench.json)
# Environment: BENCH_FLOOD_N (200000), BENCH_PROG_FLOOD_N (50000, the flood of the per-program
#   phase), BENCH_ROUNDS (5 iperf3 rounds), BENCH_IPERF_SECS (5), BENCH_STARTS (7),
#   BENCH_LAT_SYNS (20), BENCH_BULK_SECS (5), BENCH_BUDGET (660 s).
# Other load on the machine skews every number: the load average at the start and the end is
# printed and kept in the JSON.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$(readlink -f "$0")")/.."
[ "$(id -u)" -eq 0 ] || {
    echo "bench.sh: run as root" >&2
    exit 1
}

out_json=${1:-build/bench.json}
FLOOD_N=${BENCH_FLOOD_N:-200000}
PROG_FLOOD_N=${BENCH_PROG_FLOOD_N:-50000}
ROUNDS=${BENCH_ROUNDS:-5}
IPERF_SECS=${BENCH_IPERF_SECS:-5}
STARTS=${BENCH_STARTS:-7}
LAT_SYNS=${BENCH_LAT_SYNS:-20}
BULK_SECS=${BENCH_BULK_SECS:-5}
BUDGET=${BENCH_BUDGET:-660}
for v in FLOOD_N PROG_FLOOD_N ROUNDS IPERF_SECS STARTS LAT_SYNS BULK_SECS BUDGET; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
        echo "bench.sh: $v must be a positive integer" >&2
        exit 2
    }
done

NS_SRV=synwhy-bench-srv
NS_CLI=synwhy-bench-cli
SRV4=192.0.2.2
CLI4=192.0.2.1
SRV6=2001:db8::2
CLI6=2001:db8::1
SRV_IF=veth-srv
CLI_IF=veth-cli
WATCHED=22
BULK_PORT=5201
BENCH_DIR=scripts/bench
start_us=${EPOCHREALTIME/./}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/synwhy-bench.XXXXXX)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
declare -A live=() # pids of the `timeout` processes started in the background, still to reap
watchdog=""

# ---------------------------------------------------------------------------------------------
# Cleanup: every process this script started (by pid, TERM then KILL), the namespaces, the
# bpf_stats setting, the scratch directory. BPF programs and links go with their processes.

# stop_pid PID [SIGNAL [TENTHS]]: signals a background child, waits up to TENTHS tenths of a
# second (50) for it to end, then kills it, and reaps it.
stop_pid() {
    local pid=$1 sig=${2:-TERM} n=${3:-50} i
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < n; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "bench.sh: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120) did not end on SIG$sig: killed" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "live[$pid]"
}

cleanup() {
    local rc=$? pid
    set +e
    trap - EXIT INT TERM HUP
    for pid in "${!live[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${!live[@]}"; do
        stop_pid "$pid" TERM 30 >/dev/null 2>&1
    done
    for ns in "$NS_SRV" "$NS_CLI"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        [ -e "/run/netns/$ns" ] && timeout 10 ip netns del "$ns" 2>/dev/null
    done
    sysctl -qw kernel.bpf_stats_enabled="$stats_before" >/dev/null 2>&1
    if [ -n "$watchdog" ]; then
        pkill -TERM -P "$watchdog" 2>/dev/null
        kill -TERM "$watchdog" 2>/dev/null
        wait "$watchdog" 2>/dev/null
    fi
    [ -n "${nap_fd:-}" ] && exec {nap_fd}>&-
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap '[ -e "$work/over-budget" ] && echo "bench.sh: over the ${BUDGET}s budget, stopped" >&2; exit 143' TERM
trap 'exit 129' HUP

log() { printf '[bench %4ss] %s\n' "$(((${EPOCHREALTIME/./} - start_us) / 1000000))" "$*" >&2; }
die() {
    echo "bench.sh: $*" >&2
    exit 1
}

# A sleep that forks nothing (polling loops): read with a timeout on a FIFO nobody writes.
mkfifo "$work/nap"
exec {nap_fd}<>"$work/nap"
nap() { read -r -t "$1" -u "$nap_fd" _ || true; }

# spawn LIMIT CMD...: starts CMD in the background under `timeout` (LIMIT seconds, KILL 3 s later)
# and records it for cleanup; $BG is the pid of `timeout`, whose signals reach the whole command.
spawn() {
    local limit=$1
    shift
    timeout -k 3 "$limit" "$@" &
    BG=$!
    live[$BG]=1
}
# run LIMIT CMD...: the same in the foreground; waiting with `wait`, so that a signal to this
# script (Ctrl-C, the watchdog) is acted on at once rather than when CMD ends.
run() {
    local rc=0
    spawn "$@"
    wait "$BG" || rc=$?
    unset "live[$BG]"
    return "$rc"
}

# The first process named NAME among PID and its descendants (timeout -> time -> synwhy, ...).
pid_named() {
    local p=$1 name=$2 i c
    for i in 1 2 3 4 5; do
        [ -n "$p" ] || return 1
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$name" ]; then
            echo "$p"
            return 0
        fi
        c=$(cat "/proc/$p/task/$p/children" 2>/dev/null || true)
        read -r p _ <<<"$c" || true
    done
    return 1
}

# wait_for SECONDS CMD...: polls CMD every 5 ms until it succeeds; fails after SECONDS.
wait_for() {
    local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
        nap 0.005
    done
}
has_line() { grep -q -- "$2" "$1" 2>/dev/null; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "null"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# CPU seconds (utime + stime) of PID.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# ---------------------------------------------------------------------------------------------
# Tools, helpers, the binary under test.

# command -> Debian package; files stand for packages without a command.
declare -A need=(
    [iperf3]=iperf3 [hping3]=hping3 [bpftrace]=bpftrace [tcpdump]=tcpdump [bpftool]=bpftool
    [clang]=clang [cc]=gcc [jq]=jq [/usr/bin/time]=time [/usr/include/bpf/libbpf.h]=libbpf-dev
    [unshare]=util-linux [ip]=iproute2
)
missing=()
for c in "${!need[@]}"; do
    if [[ $c == /* ]]; then [ -e "$c" ] && continue; else command -v "$c" >/dev/null && continue; fi
    missing+=("${need[$c]}")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null
    timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x build/synwhy ] || timeout 900 scripts/setup.sh >/dev/null

# The binary is copied: another build may replace build/synwhy while this runs.
cp build/synwhy "$work/synwhy"
SYNWHY=$work/synwhy
synwhy_rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
synwhy_mtime=$(date -u -r build/synwhy +%FT%TZ)

arch_inc=/usr/include/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
timeout 60 clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -Ibpf/vmlinux/x86 -I"$arch_inc" \
    -c "$BENCH_DIR/empty.bpf.c" -o "$work/empty.bpf.o"
timeout 60 cc -O2 -Wall -o "$work/empty_loader" "$BENCH_DIR/empty_loader.c" -lbpf
timeout 60 cc -O2 -Wall -o "$work/synflood" "$BENCH_DIR/synflood.c"
BT_SCRIPT=$BENCH_DIR/synwhy-equiv.bt

# ---------------------------------------------------------------------------------------------
# The network: two namespaces joined by a veth pair, each end created inside its namespace.

for ns in "$NS_SRV" "$NS_CLI"; do
    if [ -e "/run/netns/$ns" ]; then
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        timeout 10 ip netns del "$ns"
    fi
done
timeout 10 ip netns add "$NS_SRV"
timeout 10 ip netns add "$NS_CLI"
timeout 10 ip link add "$SRV_IF" netns "$NS_SRV" type veth peer name "$CLI_IF" netns "$NS_CLI"
timeout 10 ip -n "$NS_SRV" addr add "$SRV4/24" dev "$SRV_IF"
timeout 10 ip -n "$NS_SRV" addr add "$SRV6/64" dev "$SRV_IF" nodad
timeout 10 ip -n "$NS_CLI" addr add "$CLI4/24" dev "$CLI_IF"
timeout 10 ip -n "$NS_CLI" addr add "$CLI6/64" dev "$CLI_IF" nodad
for ns in "$NS_SRV" "$NS_CLI"; do
    timeout 10 ip -n "$ns" link set lo up
done
timeout 10 ip -n "$NS_SRV" link set "$SRV_IF" up
timeout 10 ip -n "$NS_CLI" link set "$CLI_IF" up
timeout 10 ip netns exec "$NS_CLI" ping -c 1 -W 2 "$SRV4" >/dev/null || die "no IPv4 between the namespaces"
timeout 10 ip netns exec "$NS_CLI" ping -6 -c 1 -W 2 "$SRV6" >/dev/null || die "no IPv6 between the namespaces"
srv_inum=$(stat -L -c %i "/run/netns/$NS_SRV")

sysctl -qw kernel.bpf_stats_enabled=1
( sleep "$BUDGET" && touch "$work/over-budget" && kill -TERM $$ ) 2>/dev/null &
watchdog=$!

spawn 900 ip netns exec "$NS_SRV" iperf3 -s -p "$BULK_PORT" >"$work/iperf3-server.log" 2>&1
srv_listens() { [ -n "$(timeout 5 ip netns exec "$NS_SRV" ss -Hltn "sport = :$1")" ]; }
wait_for 10 srv_listens "$BULK_PORT" || die "iperf3 -s did not start"

# TCP counters of the server namespace (/proc/net/snmp): InSegs, OutRsts.
srv_tcp() { timeout 10 ip netns exec "$NS_SRV" awk '/^Tcp:/ && $2 ~ /^[0-9]/ {print $11, $15}' /proc/net/snmp; }

# ---------------------------------------------------------------------------------------------
# Starting and stopping what is measured. Each start_* sets PID (the process itself) and BG.

start_synwhy() { # MODE ARGS...: synwhy MODE in the server namespace, stdout to $SW_OUT
    local mode=$1
    shift
    rm -f "$work/ready"
    spawn 600 "$SYNWHY" "$mode" --netns "$NS_SRV" --ready-file "$work/ready" "$@" >"${SW_OUT:-/dev/null}" 2>>"$work/synwhy.err"
    wait_for 30 test -e "$work/ready" || die "synwhy $mode did not attach (see: $(tail -n 2 "$work/synwhy.err"))"
    PID=$(pid_named "$BG" synwhy) || die "synwhy's pid not found"
}

# bpftrace needs tracefs for its tracepoints: mounted in a mount namespace of its own when the
# host has none at /sys/kernel/tracing, so nothing is left mounted.
start_bpftrace() { # OUTFILE
    : >"$1"
    spawn 600 unshare -m sh -c 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; exec bpftrace "$0" "$1"' \
        "$BT_SCRIPT" "$srv_inum" >"$1" 2>>"$work/bpftrace.err"
}
wait_bpftrace() { # OUTFILE
    wait_for 60 has_line "$1" "bpftrace ready" || die "bpftrace did not start (see: $(grep -v RLIMIT "$work/bpftrace.err" | tail -n 2))"
    PID=$(pid_named "$BG" bpftrace) || die "bpftrace's pid not found"
}

start_empty() {
    : >"$work/empty.out"
    spawn 600 "$work/empty_loader" "$work/empty.bpf.o" >"$work/empty.out" 2>>"$work/empty.err"
    wait_for 30 has_line "$work/empty.out" attached || die "the empty programs did not attach: $(tail -n 2 "$work/empty.err")"
    PID=$(pid_named "$BG" empty_loader) || die "empty_loader's pid not found"
}

start_tcpdump() {
    : >"$work/tcpdump.err"
    spawn 600 ip netns exec "$NS_SRV" tcpdump -i "$SRV_IF" -w /dev/null 'tcp dst port 22 and tcp[tcpflags] & tcp-syn != 0' 2>"$work/tcpdump.err"
    wait_for 30 has_line "$work/tcpdump.err" "listening on" || die "tcpdump did not start: $(tail -n 2 "$work/tcpdump.err")"
    PID=$BG
}

stop_bg() { # BG [SIGNAL [TENTHS]]
    stop_pid "$1" "${2:-INT}" "${3:-50}"
}

# ---------------------------------------------------------------------------------------------
# Rows of the result: name, value, unit, target, pass (true/false/null), note.

: >"$work/rows.tsv"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$work/rows.tsv"; }
fmt() { awk -v v="$1" -v d="${2:-1}" 'BEGIN {if (v == "" || v == "null") print "null"; else printf "%.*f\n", d, v}'; }
# check A OP B: true/false (null when either side is null).
check() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {if (a == "null" || b == "null" || a == "" || b == "") {print "null"; exit}
    r = (op == "<=") ? a <= b : (op == ">=") ? a >= b : (op == "<") ? a < b : (op == "==") ? a == b : 0; print r ? "true" : "false"}'; }
both() { if [ "$1" = null ] || [ "$2" = null ]; then echo null; elif [ "$1" = true ] && [ "$2" = true ]; then echo true; else echo false; fi; }
div() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN {if (a == "null" || b == "null" || a == "" || b == "" || b == 0) print "null"; else printf "%.*f\n", d, a / b}'; }

# =============================================================================================
# 4. Start to attached: synwhy (exec -> ready file) and bpftrace (exec -> BEGIN's line).

log "start-up: synwhy and bpftrace, $STARTS runs each, alternated"
# One start of synwhy to attached (its ready file), in ms appended to FILE; then stopped.
time_synwhy_start() { # FILE
    local t0 t1
    t0=${EPOCHREALTIME/./}
    start_synwhy report --duration 60s
    t1=${EPOCHREALTIME/./}
    echo "$(((t1 - t0) / 1000))" >>"$1"
    stop_bg "$BG"
}
: >"$work/start.synwhy"
: >"$work/start.bpftrace"
for _ in $(seq 1 "$STARTS"); do
    time_synwhy_start "$work/start.synwhy"
    t0=${EPOCHREALTIME/./}
    start_bpftrace "$work/bt-start.out"
    wait_bpftrace "$work/bt-start.out"
    t1=${EPOCHREALTIME/./}
    echo "$(((t1 - t0) / 1000))" >>"$work/start.bpftrace"
    stop_bg "$BG"
done
start_sw=$(median <"$work/start.synwhy")
start_bt=$(median <"$work/start.bpftrace")
speedup=$(div "$start_bt" "$start_sw" 1)
row "start to attached: synwhy (ready file, median of $STARTS)" "$start_sw" ms "<= 300 ms, >= 3x faster than bpftrace" \
    "$(both "$(check "$start_sw" "<=" 300)" "$(check "$speedup" ">=" 3)")" "bpftrace / synwhy = ${speedup}x"
row "start to attached: bpftrace (BEGIN printed, median of $STARTS)" "$start_bt" ms "-" null \
    "bpftrace 0.17 with tracepoint probes (tracefs mounted in its own mount namespace first)"

# The same start-up with 10,000 nft rules in the server namespace (synwhy reads the ruleset).
{
    echo "table inet bench_big {"
    echo "  chain input {"
    echo "    type filter hook input priority 0; policy accept;"
    for i in $(seq 1 10000); do echo "    ip saddr 198.51.100.$((i % 250 + 1)) tcp dport $((10000 + i)) accept"; done
    echo "  }"
    echo "}"
} >"$work/big.nft"
run 60 ip netns exec "$NS_SRV" nft -f "$work/big.nft"
: >"$work/start.big"
for _ in $(seq 1 "$STARTS"); do
    time_synwhy_start "$work/start.big"
done
timeout 30 ip netns exec "$NS_SRV" nft delete table inet bench_big
start_big=$(median <"$work/start.big")
row "start to attached: synwhy, 10,000 nft rules (median of $STARTS)" "$start_big" ms "<= 300 ms" "$(check "$start_big" "<=" 300)"

# =============================================================================================
# watch latency: a SYN sent from the client (stamped just before connect(), refused at once: no
# listener) to the line watch prints for it (stamped as it is read). Alternating IPv4 and IPv6.

log "watch latency: $LAT_SYNS SYNs"
mkfifo "$work/watch.fifo"
spawn 120 bash -c 'while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l"; done <"$1" >"$2"' _ "$work/watch.fifo" "$work/lat.lines"
stamper=$BG
SW_OUT=$work/watch.fifo start_synwhy watch
lat_watch=$BG
run 120 ip netns exec "$NS_CLI" bash -c '
    for ((i = 0; i < $1; i++)); do
        if ((i % 2)); then a=$3; else a=$2; fi
        printf "%s %s\n" "$EPOCHREALTIME" "$a"
        : 2>/dev/null 3<>"/dev/tcp/$a/22"
        sleep 0.25
    done' _ "$LAT_SYNS" "$SRV4" "$SRV6" >"$work/lat.sent"
nap 1
stop_bg "$lat_watch"
stop_pid "$stamper" TERM 30
# Pair each SYN with the next unused line for its address printed after it was sent.
awk -v srv4="$SRV4" -v srv6="[$SRV6]" '
    NR == FNR { st[NR] = $1; dst[NR] = $2; n = NR; next }
    / -> / { for (k = 3; k <= NF; k++) if ($k == "->") { d = $(k + 1); break }
             sub(/:[0-9]+$/, "", d); lt[++m] = $1; ld[m] = d }
    END {
        j = 1
        for (i = 1; i <= n; i++) {
            want = (dst[i] ~ /:/) ? srv6 : srv4
            for (k = j; k <= m; k++) if (!used[k] && ld[k] == want && lt[k] >= st[i]) break
            if (k <= m) { used[k] = 1; printf "%.1f\n", (lt[k] - st[i]) * 1000 } else print "lost"
        }
    }' "$work/lat.sent" "$work/lat.lines" >"$work/lat.ms"
lat_seen=$(grep -vc lost "$work/lat.ms" || true)
lat_med=$(grep -v lost "$work/lat.ms" | median)
lat_max=$(grep -v lost "$work/lat.ms" | sort -g | tail -n 1)
row "watch: SYN sent -> its line printed (median of $lat_seen/$LAT_SYNS)" "$lat_med" ms "<= 100 ms" \
    "$(both "$(check "$lat_med" "<=" 100)" "$(check "$lat_seen" "==" "$LAT_SYNS")")" "max ${lat_max:-null} ms; IPv4 and IPv6 alternated"

# =============================================================================================
# 1 + 5. Per-program cost; synwhy idle RSS and map memory. Each tool alone on the same traffic, one
# after the other: attached together, the first program called on a tracepoint takes the cache
# misses on the skb and its device for all the others, which skews the comparison.

log "per-program cost: the empty programs, synwhy, bpftrace, each alone on bulk traffic then a SYN flood"
snapshot() { # OURS FILE: the programs in OURS with their counters now
    timeout 30 bpftool prog show -j | jq -c --slurpfile ours "$1" '
        [.[] as $p | $ours[0][] | select(.id == $p.id)
         | . + {name: $p.name, run_cnt: ($p.run_cnt // 0), run_time_ns: ($p.run_time_ns // 0)}]' >"$2"
}
# phase_delta BEFORE AFTER PHASE: per program, calls and ns per call across the phase.
phase_delta() {
    jq -c --slurpfile a "$2" --arg phase "$3" '
        [.[] as $b | $a[0][] | select(.id == $b.id)
         | {phase: $phase, owner, name, tracepoint, run_cnt: (.run_cnt - $b.run_cnt), run_time_ns: (.run_time_ns - $b.run_time_ns)}
         | . + {ns_per_call: (if .run_cnt > 0 then (.run_time_ns / .run_cnt * 10 | round / 10) else null end)}]' "$1"
}
: >"$work/programs.parts"
for owner in empty synwhy bpftrace; do
    case $owner in
    empty) start_empty ;;
    synwhy) start_synwhy watch ;;
    bpftrace) start_bpftrace "$work/bt-progs.out" && wait_bpftrace "$work/bt-progs.out" ;;
    esac
    own_bg=$BG
    own_pid=$PID
    nap 3
    # Its programs: by pid and tracepoint from `bpftool perf show` (tp_btf links and perf
    # tracepoints alike), so that other tracers running on the host are never counted.
    timeout 30 bpftool perf show -j >"$work/perf.json"
    jq -c --argjson p "$own_pid" --arg o "$owner" '
        [.[] | select(.pid == $p) | {id: .prog_id, tracepoint, owner: $o}] | unique_by(.id)' "$work/perf.json" >"$work/ours.$owner.json"
    [ "$(jq length "$work/ours.$owner.json")" -gt 0 ] || die "no $owner program found in bpftool perf show"
    if [ "$owner" = synwhy ]; then
        # Idle memory, a few seconds after attaching and before any traffic.
        idle_rss_kb=$(status_kb "$own_pid" VmRSS)
        timeout 30 bpftool prog show -j >"$work/progs0.json"
        timeout 30 bpftool map show -j >"$work/maps.json"
        maps=$(jq -c --slurpfile ours "$work/ours.synwhy.json" --slurpfile maps "$work/maps.json" '
            ([$ours[0][] | .id]) as $ids
            | [.[] | select(.id as $i | $ids | index($i)) | .map_ids // [] | .[]] | unique as $mids
            | [$maps[0][] | select(.id as $i | $mids | index($i)) | {id, name, type, bytes_memlock}]' "$work/progs0.json")
        maps_kb=$(jq '[.[].bytes_memlock] | add / 1024 | floor' <<<"$maps")
        row "synwhy idle RSS (VmRSS, watch, 3 s after attach)" "$(fmt "$(div "$idle_rss_kb" 1024 3)" 1)" MB "<= 30 MB" \
            "$(check "$idle_rss_kb" "<=" $((30 * 1024)))"
        row "synwhy BPF maps (bytes_memlock, $(jq length <<<"$maps") maps)" "$maps_kb" KiB "-" null \
            "$(jq -r 'map("\(.name) \(.bytes_memlock / 1024 | floor)K") | join(", ")' <<<"$maps")"
    fi
    snapshot "$work/ours.$owner.json" "$work/s0.json"
    run $((BULK_SECS + 20)) ip netns exec "$NS_CLI" iperf3 -c "$SRV4" -p "$BULK_PORT" -t "$BULK_SECS" -J >"$work/bulk.$owner.json" ||
        die "iperf3 (bulk phase, $owner) failed"
    snapshot "$work/ours.$owner.json" "$work/s1.json"
    run 300 ip netns exec "$NS_CLI" "$work/synflood" "$CLI4" "$SRV4" "$WATCHED" "$PROG_FLOOD_N" >"$work/flood0.$owner.out"
    nap 2
    snapshot "$work/ours.$owner.json" "$work/s2.json"
    {
        phase_delta "$work/s0.json" "$work/s1.json" bulk
        phase_delta "$work/s1.json" "$work/s2.json" flood
    } >>"$work/programs.parts"
    [ "$owner" = bpftrace ] && bt_lost=$(grep -ciE 'lost [0-9]+ events' "$work/bt-progs.out" || true)
    case $owner in
    empty) stop_bg "$own_bg" TERM ;;
    *) stop_bg "$own_bg" ;;
    esac
done
jq -s -c 'add' "$work/programs.parts" >"$work/programs.json"

# One row per tracepoint and phase: synwhy vs the empty program vs bpftrace.
# get OWNER (with phase, tp set): "NS_PER_CALL CALLS NAMES" over OWNER's programs on tp.
get() {
    jq -r --arg p "$phase" --arg t "$tp" --arg o "$1" \
        '[.[] | select(.phase == $p and .tracepoint == $t and .owner == $o)] | if length == 0 then "null" else
         (map(.run_time_ns) | add) as $ns | (map(.run_cnt) | add) as $n
         | if $n > 0 then "\($ns / $n * 10 | round / 10) \($n) \(map(.name) | join("+"))" else "null 0 \(map(.name) | join("+"))" end end' \
        "$work/programs.json"
}
for phase in bulk flood; do
    case $phase in
    bulk) what="iperf3 to :$BULK_PORT, ${BULK_SECS}s" ;;
    flood) what="$PROG_FLOOD_N SYNs to :$WATCHED" ;;
    esac
    for tp in netif_receive_skb kfree_skb net_dev_queue inet_sock_set_state; do
        read -r sw_ns sw_n sw_name <<<"$(get synwhy)" || true
        read -r e_ns e_n _ <<<"$(get empty)" || true
        read -r b_ns b_n _ <<<"$(get bpftrace)" || true
        [ "${sw_ns:-null}" != null ] || [ "${sw_n:-0}" != 0 ] || [ "${e_n:-0}" != 0 ] || continue
        x=$(div "$sw_ns" "$e_ns" 2)
        pass=$(both "$(check "$x" "<=" 1.5)" "$(check "$sw_ns" "<" "$b_ns")")
        [ "${sw_n:-0}" -ge 100 ] || pass=null # too few calls to judge
        target="<= 1.5x empty, < bpftrace"
        # The issue sets the per-program target for unrelated traffic; under a flood every packet
        # is a watched SYN that is parsed, counted and sampled: measured, not judged.
        [ "$phase" = bulk ] || { pass=null; target="- (watched SYNs)"; }
        row "ns/call $phase ($what): $tp, synwhy ${sw_name:-?}" "$sw_ns" ns \
            "$target" "$pass" "empty ${e_ns} ns, bpftrace ${b_ns} ns, synwhy/empty ${x}x; calls: synwhy ${sw_n:-0}, empty ${e_n:-0}, bpftrace ${b_n:-0}"
    done
done
flood0_ns=$(awk '/^sent/ {print $4}' "$work/flood0.synwhy.out")
row "  (flood of the per-program phase: rate with synwhy attached)" "$(fmt "$(div "$PROG_FLOOD_N" "$(div "$flood0_ns" 1000000000 9)" 0)" 0)" SYN/s "-" null \
    "bpftrace printed $(grep -c '^syn_rx' "$work/bt-progs.out" || true) SYN lines${bt_lost:+, lost-event notices: $bt_lost}"

# =============================================================================================
# 2. iperf3 throughput: each run with synwhy watch, the bpftrace script or tcpdump running comes
# right after a run with nothing, and is divided by it (other load on the machine drifts; a
# ratio of neighbours cancels most of it); the order of the tools rotates every round.

log "iperf3: $ROUNDS rounds of 3 pairs of ${IPERF_SECS}s runs"
iperf_once() { # prints bits per second received
    run $((IPERF_SECS + 20)) ip netns exec "$NS_CLI" iperf3 -c "$SRV4" -p "$BULK_PORT" -t "$IPERF_SECS" -O 1 -J >"$work/iperf.json" ||
        die "iperf3 failed"
    jq '.end.sum_received.bits_per_second' "$work/iperf.json"
}
conds=(synwhy bpftrace tcpdump)
: >"$work/iperf.tsv"
for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < 3; k++)); do
        c=${conds[$(((k + r) % 3))]}
        base=$(iperf_once)
        case $c in
        synwhy) start_synwhy watch ;;
        bpftrace) start_bpftrace "$work/bt-iperf.out" && wait_bpftrace "$work/bt-iperf.out" ;;
        tcpdump) start_tcpdump ;;
        esac
        tool=$BG
        with=$(iperf_once)
        stop_bg "$tool"
        printf 'none\t%s\t\n%s\t%s\t%s\n' "$base" "$c" "$with" "$base" >>"$work/iperf.tsv"
    done
done
gbps() { awk -F'\t' -v c="$1" '$1 == c {print $2 / 1e9}' "$work/iperf.tsv" | median; }
runs() { awk -F'\t' -v c="$1" '$1 == c {printf "%s%.2f", s, $2 / 1e9; s = " "}' "$work/iperf.tsv"; }
ratio() { awk -F'\t' -v c="$1" '$1 == c {printf "%.4f\n", $2 / $3}' "$work/iperf.tsv" | median; }
ratios() { awk -F'\t' -v c="$1" '$1 == c {printf "%s%.3f", s, $2 / $3; s = " "}' "$work/iperf.tsv"; }
g_none=$(gbps none)
row "iperf3 over the veth, nothing attached (median of $((ROUNDS * 3)))" "$(fmt "$g_none" 2)" Gbit/s "-" null "runs: $(runs none)"
r_sw=$(fmt "$(ratio synwhy)" 3)
r_bt=$(fmt "$(ratio bpftrace)" 3)
r_td=$(fmt "$(ratio tcpdump)" 3)
row "iperf3 ratio with synwhy watch running (median of $ROUNDS pairs)" "$r_sw" "x" ">= 0.98, >= bpftrace's, >= tcpdump's" \
    "$(both "$(check "$r_sw" ">=" 0.98)" "$(both "$(check "$r_sw" ">=" "$r_bt")" "$(check "$r_sw" ">=" "$r_td")")")" \
    "pair ratios: $(ratios synwhy); Gbit/s with synwhy: $(runs synwhy)"
row "iperf3 ratio with the bpftrace script running (median of $ROUNDS pairs)" "$r_bt" "x" "-" null \
    "pair ratios: $(ratios bpftrace); Gbit/s: $(runs bpftrace)"
row "iperf3 ratio with tcpdump (SYNs to :22) running (median of $ROUNDS pairs)" "$r_td" "x" "-" null \
    "pair ratios: $(ratios tcpdump); Gbit/s: $(runs tcpdump)"

# =============================================================================================
# 3. SYN floods of exactly N SYNs to :22 (no listener) with `synwhy report --json` running.

# flood LABEL SENDER...: runs one flood under synwhy report and adds its rows.
flood() {
    local label=$1 t0 t1 c0 c1 tprev cprev cnow tnow still tcp0 tcp1 sent_s pid hwm
    shift
    rm -f "$work/ready"
    spawn 300 /usr/bin/time -f '%U %S %M %e' -o "$work/time.$label" "$SYNWHY" report --netns "$NS_SRV" --duration 240s \
        --json --ready-file "$work/ready" >"$work/report.$label.json" 2>>"$work/synwhy.err"
    local tb=$BG
    wait_for 30 test -e "$work/ready" || die "synwhy report did not attach"
    pid=$(pid_named "$tb" synwhy) || die "synwhy's pid not found"
    nap 1
    read -r tcp0 _ <<<"$(srv_tcp)"
    c0=$(cpu_s "$pid")
    t0=${EPOCHREALTIME/./}
    # hping3 exits 1 when no reply matched what it sent: what it says it sent is what counts.
    run 200 "$@" >"$work/sender.$label" 2>&1 || true
    t1=${EPOCHREALTIME/./}
    local claimed
    claimed=$(awk '/^sent [0-9]+ in/ {print $2} / packets transmitted/ {print $1}' "$work/sender.$label")
    [ "$claimed" = "$FLOOD_N" ] || die "the $label sender did not send $FLOOD_N SYNs: $(tail -n 2 "$work/sender.$label" | tr '\n' ' ')"
    sent_s=$(div $((t1 - t0)) 1000000 6)
    if grep -q '^sent [0-9]* in [0-9]* ns' "$work/sender.$label"; then
        sent_s=$(awk '/^sent/ {printf "%.6f\n", $4 / 1e9}' "$work/sender.$label")
    fi
    # Until synwhy has drained what the flood left (its CPU time stands still for 0.5 s; 20 s at most).
    cprev=$c0
    tprev=$t1
    still=0
    for _ in $(seq 1 80); do
        nap 0.25
        cnow=$(cpu_s "$pid")
        tnow=${EPOCHREALTIME/./}
        if [ "$cnow" = "$cprev" ]; then
            still=$((still + 1))
            [ "$still" -lt 2 ] || break
        else
            still=0
            cprev=$cnow
            tprev=$tnow
        fi
    done
    c1=$cprev
    hwm=$(status_kb "$pid" VmHWM)
    read -r tcp1 _ <<<"$(srv_tcp)"
    stop_bg "$tb" INT 300 # the report of a flood takes a few seconds to write
    local syns lost flows u s m
    syns=$(jq '.syns_seen' "$work/report.$label.json" 2>/dev/null || echo null)
    lost=$(jq '.events_lost' "$work/report.$label.json" 2>/dev/null || echo null)
    flows=$(jq '.flows | length' "$work/report.$label.json" 2>/dev/null || echo null)
    read -r u s m _ < <(grep -E '^[0-9.]+ [0-9.]+ [0-9]+ ' "$work/time.$label" || echo "null null null")
    local delivered=$((tcp1 - tcp0))
    local window_s cpu cpu_pct total_cpu
    window_s=$(div $((tprev - t0)) 1000000 3)
    cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f\n", b - a}')
    cpu_pct=$(awk -v c="$cpu" -v w="$window_s" -v f="$sent_s" 'BEGIN {if (w < f) w = f; printf "%.1f\n", (w > 0) ? 100 * c / w : 0}')
    total_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN {if (u == "null") print "null"; else printf "%.2f\n", u + s}')
    row "flood ($label): synwhy syns_seen" "$syns" SYNs "== $FLOOD_N (sent)" "$(check "$syns" "==" "$FLOOD_N")" \
        "delivered to the server's TCP: $delivered; events_lost $lost; flows in report $flows"
    row "flood ($label): rate" "$(fmt "$(div "$FLOOD_N" "$sent_s" 3)" 0)" SYN/s "-" null "$FLOOD_N SYNs in $(fmt "$sent_s" 3) s"
    row "flood ($label): synwhy CPU while flooded and draining" "$cpu_pct" "% of a core" "<= 10 %" "$(check "$cpu_pct" "<=" 10)" \
        "$cpu s CPU in $(fmt "$window_s" 2) s (flood $(fmt "$sent_s" 2) s + drain); whole run (start, capture, report): $total_cpu s"
    row "flood ($label): synwhy peak RSS (VmHWM)" "$(fmt "$(div "${m:-null}" 1024 3)" 1)" MB "<= 30 MB" "$(check "${m:-null}" "<=" $((30 * 1024)))" \
        "VmHWM before the report was rendered: $(fmt "$(div "$hwm" 1024 3)" 1) MB; the peak is over the whole run (GNU time)"
    jq -n --arg lbl "$label" --argjson n "$FLOOD_N" --argjson delivered "$delivered" --argjson syns "$syns" \
        --argjson lost "$lost" --argjson flows "$flows" --argjson secs "$sent_s" --argjson cpu "$cpu" \
        --argjson window "$window_s" --argjson total_cpu "$total_cpu" --argjson maxrss_kb "${m:-null}" \
        --argjson hwm_kb "${hwm:-null}" \
        '{label: $lbl, sent: $n, delivered_to_tcp: $delivered, syns_seen: $syns, events_lost: $lost,
          flows_in_report: $flows, flood_seconds: $secs, synwhy_cpu_seconds_window: $cpu, window_seconds: $window,
          synwhy_cpu_seconds_total: $total_cpu, synwhy_max_rss_kb: $maxrss_kb, synwhy_vmhwm_before_render_kb: $hwm_kb}' \
        >>"$work/floods.json"
}

: >"$work/floods.json"
log "flood: hping3 -S -p $WATCHED -i u1 -c $FLOOD_N"
flood hping3 ip netns exec "$NS_CLI" hping3 -q -S -p "$WATCHED" -i u1 -c "$FLOOD_N" "$SRV4"
log "flood: raw-socket sender, $FLOOD_N SYNs at full speed"
flood raw ip netns exec "$NS_CLI" "$work/synflood" "$CLI4" "$SRV4" "$WATCHED" "$FLOOD_N"

# =============================================================================================
# The table and the JSON.

elapsed=$(div $((${EPOCHREALTIME/./} - start_us)) 1000000 1)
log "done in ${elapsed}s"
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo
echo "synwhy benchmark, $(date -u '+%F %T') UTC, $(uname -r), $(nproc) CPUs, $cpu_model, synwhy $synwhy_rev (built $synwhy_mtime)"
echo "load average at the start: $load_start"
printf '%-72s %11s  %-11s %-38s %s\n' measure value unit target result
awk -F'\t' '{
    res = ($5 == "true") ? "ok" : ($5 == "false") ? "MISSED" : "-"
    printf "%-72s %11s  %-11s %-38s %s\n", $1, $2, $3, $4, res
    if ($6 != "") printf "%-72s %s\n", "", "  " $6
}' "$work/rows.tsv"
echo "run took ${elapsed}s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F'\t' '$5 == "true" {ok++} $5 == "false" {miss++; m = m sprintf("\n  missed: %s = %s %s (target %s)", $1, $2, $3, $4)}
    END {printf "%d targets met, %d missed%s\n", ok, miss, m}' "$work/rows.tsv"

mkdir -p "$(dirname "$out_json")"
jq -R -s -c 'split("\n") | map(select(length > 0) | split("\t")
    | {name: .[0], value: (.[1] | tonumber? // null), unit: .[2], target: .[3],
       pass: (if .[4] == "true" then true elif .[4] == "false" then false else null end), note: .[5]})' \
    "$work/rows.tsv" >"$work/rows.json"
jq -n --arg date "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" --arg cpu "$cpu_model" --argjson nproc "$(nproc)" \
    --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" --arg load0 "$load_start" --arg rev "$synwhy_rev" --arg built "$synwhy_mtime" \
    --argjson elapsed "$elapsed" --slurpfile rows "$work/rows.json" --slurpfile progs "$work/programs.json" \
    --slurpfile floods "$work/floods.json" --argjson maps "$maps" \
    --rawfile iperf "$work/iperf.tsv" --rawfile ss "$work/start.synwhy" --rawfile sb "$work/start.bpftrace" \
    --rawfile sbig "$work/start.big" --rawfile lat "$work/lat.ms" \
    --argjson n "$FLOOD_N" --argjson pn "$PROG_FLOOD_N" --argjson rounds "$ROUNDS" --argjson secs "$IPERF_SECS" '
    def nums: split("\n") | map(select(length > 0) | (tonumber? // .));
    {date: $date, machine: {kernel: $kernel, nproc: $nproc, cpu: $cpu, loadavg_at_start: $load0, loadavg_at_end: $loadavg},
     synwhy: {git: $rev, binary_built: $built}, run_seconds: $elapsed,
     measures: $rows[0],
     details: {
       bpf_programs: $progs[0], synwhy_maps: $maps,
       iperf3: {rounds: $rounds, seconds: $secs,
                runs_bps: ($iperf | split("\n") | map(select(length > 0) | split("\t")
                           | {condition: .[0], bps: (.[1] | tonumber)} + (if .[2] != "" then {paired_none_bps: (.[2] | tonumber)} else {} end)))},
       floods: $floods, flood_n: $n, per_program_flood_n: $pn,
       startup_ms: {synwhy: ($ss | nums), bpftrace: ($sb | nums), synwhy_10000_rules: ($sbig | nums)},
       watch_latency_ms: ($lat | nums)}}' >"$out_json"
echo "written: $out_json"
