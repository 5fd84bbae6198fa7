#!/usr/bin/env bash
# Benchmarks synwhy on this machine, in namespaces of its own (bounded in time, root only).
# Measured now: start-up (exec -> BPF attached and nft trace table in place, i.e. the ready
# file), with the lab's small ruleset and with a 10,000-rule ruleset; the BPF programs' own cost
# per call (kernel.bpf_stats_enabled) during a burst of SYNs. Prints a table, writes JSON.
# Usage: scripts/bench.sh [OUT_JSON]   (default build/bench.json)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
[ -x build/synwhy ] || scripts/setup.sh >/dev/null
out_json=${1:-build/bench.json}
export LAB_PREFIX=bench
runs=7
work=$(mktemp -d /tmp/synwhy-bench.XXXXXX)
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
    sysctl -qw kernel.bpf_stats_enabled="$stats_before" || true
    scripts/lab.sh down >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Time from exec to the ready file, one run.
startup_ms() {
    rm -f "$work/ready"
    local t0 t1 pid
    t0=$(now_ms)
    build/synwhy report --netns "${LAB_PREFIX}-srv" --duration 60s --ready-file "$work/ready" >/dev/null 2>&1 &
    pid=$!
    while [ ! -f "$work/ready" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "bench.sh: synwhy exited early" >&2; exit 1; }
        sleep 0.005
    done
    t1=$(now_ms)
    kill -INT "$pid"
    wait "$pid" || true
    echo $((t1 - t0))
}

scripts/lab.sh up nft-drop >/dev/null
small=$(for _ in $(seq 1 $runs); do startup_ms; done | median)

{
    echo "table inet big {"
    echo "  chain input {"
    echo "    type filter hook input priority 0; policy accept;"
    for i in $(seq 1 10000); do echo "    ip saddr 198.51.100.$((i % 250 + 1)) tcp dport $((10000 + i)) accept"; done
    echo "  }"
    echo "}"
} >"$work/big.nft"
scripts/lab.sh srv nft -f "$work/big.nft"
large=$(for _ in $(seq 1 $runs); do startup_ms; done | median)

# Per-call cost of each program while 200 connection attempts hit the dropping rule.
sysctl -qw kernel.bpf_stats_enabled=1
build/synwhy report --netns "${LAB_PREFIX}-srv" --duration 60s --ready-file "$work/ready2" --json >"$work/report.json" 2>/dev/null &
pid=$!
while [ ! -f "$work/ready2" ]; do sleep 0.01; done
clients=()
for _ in $(seq 1 200); do
    ip netns exec "${LAB_PREFIX}-cli" timeout 2 nc -z -w 1 192.0.2.2 22 >/dev/null 2>&1 &
    clients+=($!)
done
wait "${clients[@]}" 2>/dev/null || true
sleep 0.5
bpftool -j prog show >"$work/progs.json"
kill -INT "$pid"
wait "$pid" || true
progs=$(jq -c '[.[] | select(.name | test("^(syn_rx|kfree_skb_reason|tcp_send_reset_reason|icmp_send|tx|sock_state|synack_retrans)$"))
    | {name, run_cnt: (.run_cnt // 0), run_time_ns: (.run_time_ns // 0),
       ns_per_call: (if (.run_cnt // 0) > 0 then ((.run_time_ns / .run_cnt) | floor) else null end)}]' "$work/progs.json")

jq -n --arg date "$(date -u +%F)" --arg kernel "$(uname -r)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
    --argjson runs "$runs" --argjson small "$small" --argjson large "$large" --argjson progs "$progs" \
    '{date: $date, kernel: $kernel, cpu: $cpu, nproc: '"$(nproc)"', startup_runs: $runs,
      startup_ms_median: {lab_ruleset: $small, ruleset_10000_rules: $large}, bpf_programs: $progs}' >"$out_json"

printf '%-44s %s\n' "synwhy start-up to attached (median of $runs)" ""
printf '  %-42s %6s ms\n' "lab ruleset (1 rule)" "$small" "10,000-rule ruleset" "$large"
printf '%-30s %10s %14s %12s\n' "BPF program" "run_cnt" "run_time_ns" "ns/call"
echo "$progs" | jq -r '.[] | "\(.name) \(.run_cnt) \(.run_time_ns) \(.ns_per_call // "-")"' |
    while read -r n c t p; do printf '%-30s %10s %14s %12s\n' "$n" "$c" "$t" "$p"; done
echo "written: $out_json"
