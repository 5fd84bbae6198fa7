#!/usr/bin/env bash
# A SYN flood of exactly N SYNs to a port nobody listens on: the kernel's totals are exact (every
# SYN, every drop, every RST), the per-flow detail is a bounded sample and says so, and the only
# cause is the right one.
. "$(dirname "$0")/lib.sh"
command -v hping3 >/dev/null || fail "hping3 is not installed (scripts/setup.sh installs it)"
N=20000

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --duration 30s --count "$N" --settle 2s
"$LAB" cli timeout 60 hping3 -q -S -p 22 -c "$N" -i u20 192.0.2.2 >"$WORK/hping.out" 2>&1 || true
wait_synwhy 60
r="$WORK/report.out"
jq -e . "$r" >/dev/null 2>&1 || fail "report is not JSON"
jq_check "$r" ".syns_seen == $N" "syns_seen is $(jq .syns_seen "$r"), expected exactly $N"
count_of() { jq "[.kernel_counts[] | select(.port == 22 and .what == \"$1\") | .count] | add // 0" "$r"; }
[ "$(count_of 'SYN arrived')" -eq "$N" ] || fail "kernel count of SYNs: $(count_of 'SYN arrived')"
[ "$(count_of 'SYN dropped: NO_SOCKET')" -eq "$N" ] || fail "kernel count of NO_SOCKET drops: $(count_of 'SYN dropped: NO_SOCKET')"
[ "$(count_of 'answered with RST by TCP (NO_SOCKET)')" -eq "$N" ] || fail "kernel count of RSTs: $(count_of 'answered with RST by TCP (NO_SOCKET)')"
jq_check "$r" '[.causes[].code] == ["no-listener"]' "causes are $(jq -c '[.causes[].code]' "$r")"
# The detail is a sample, and the report says how much of the flood it does not detail.
jq_check "$r" ".syns_detailed < $N and .syns_detailed > 0" "syns_detailed is $(jq .syns_detailed "$r")"
jq_check "$r" "(.events_rate_limited + .events_lost + .events_not_kept) > 0" "the loss of detail is not reported"
echo "ok: flood of $N: syns_seen $(jq .syns_seen "$r"), detailed $(jq .syns_detailed "$r"), rate-limited $(jq .events_rate_limited "$r")"
