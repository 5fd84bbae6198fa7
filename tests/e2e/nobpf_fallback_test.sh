#!/usr/bin/env bash
# BPF cannot load for real: root without CAP_BPF and CAP_SYS_ADMIN (dropped from the bounding set
# by capsh before exec; bpf() is refused, proved with bpftool). synwhy says in one stderr line why
# it does not use BPF, captures with a packet socket, the report's first line says so, and the
# verdict is right (sshd stopped: no-listener). Without CAP_NET_RAW too, nothing can capture: one
# line naming both, exit 3, nothing on stdout.
# synwhy runs inside the server's namespace (ip netns exec): --netns needs CAP_SYS_ADMIN (setns).
. "$(dirname "$0")/lib.sh"
command -v capsh >/dev/null || fail "capsh is missing (Debian package libcap2-bin)"
command -v bpftool >/dev/null || fail "bpftool is missing (Debian package bpftool)"

"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up sshd-stopped"
ns="${LAB_PREFIX}-srv"
target=$("$LAB" target 4)

# The drop really makes bpf() fail: bpftool's first bpf() call is refused under the same wrapper.
if capsh --drop=cap_bpf,cap_sys_admin -- -c 'exec bpftool prog show' >"$WORK/bpftool.out" 2>&1; then
    fail "bpf() still works without CAP_BPF and CAP_SYS_ADMIN: $(head -c 300 "$WORK/bpftool.out")"
fi

# 1. The fallback: text report, first line names the capture, one stderr line says why.
start_synwhy fallback ip netns exec "$ns" capsh --drop=cap_bpf,cap_sys_admin -- \
    -c 'exec "$0" "$@"' "$SYNWHY" report --count 1 --duration 15s
"$LAB" connect 4 3 >"$WORK/client.out" 2>&1 || true
wait_synwhy 30
[ "$SYNWHY_RC" -eq 1 ] || fail "fallback: exit $SYNWHY_RC, expected 1 (failure found)"
[ "$(wc -l <"$WORK/fallback.err")" -eq 1 ] || fail "fallback: expected one line on stderr"
grep -qx 'synwhy: BPF cannot load: not enough privileges, no CAP_BPF; capturing with a packet socket instead (less detail: see --no-bpf in synwhy(8))' \
    "$WORK/fallback.err" || fail "fallback: the stderr line does not say why BPF is not used"
first=$(head -n 1 "$WORK/fallback.out")
[ "$first" = "capture: packet socket (BPF cannot load: not enough privileges, no CAP_BPF)" ] ||
    fail "fallback: first line is '$first'"
second=$(sed -n 2p "$WORK/fallback.out")
echo "$second" | grep -q "are refused: nothing listens on port 22" || fail "fallback: verdict line is '$second'"
grep -qx '1\. no-listener (1 flow)' "$WORK/fallback.out" || fail "fallback: the cause is not no-listener"
grep -q "$target:22" "$WORK/fallback.out" || fail "fallback: no flow to $target:22"
grep -q '^note: packet-socket capture: the kernel.s drops are not seen' "$WORK/fallback.out" ||
    fail "fallback: the report does not say what the packet socket cannot tell"
echo "ok: fallback: $first / $second"

# 2. Neither BPF nor a packet socket: one line, exit 3, nothing on stdout, no ready file.
rm -f "$WORK/ready"
set +e
timeout 20 ip netns exec "$ns" capsh --drop=cap_bpf,cap_sys_admin,cap_net_raw -- \
    -c 'exec "$0" "$@"' "$SYNWHY" report --count 1 --duration 2s --ready-file "$WORK/ready" \
    >"$WORK/neither.out" 2>"$WORK/neither.err"
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "neither: exit $rc, expected 3"
[ "$(wc -l <"$WORK/neither.err")" -eq 1 ] || fail "neither: expected one line on stderr"
grep -qx 'synwhy: not enough privileges: run as root, or grant CAP_BPF (BPF), or CAP_NET_RAW (packet socket)' \
    "$WORK/neither.err" || fail "neither: the line does not name CAP_BPF and CAP_NET_RAW"
[ ! -s "$WORK/neither.out" ] || fail "neither: printed on stdout"
[ ! -e "$WORK/ready" ] || fail "neither: wrote the ready file"
echo "ok: neither: exit 3, '$(cat "$WORK/neither.err")'"
