#!/usr/bin/env bash
# Not enough privileges gives exit 3 and one line that names what is missing, and nothing is left
# behind: no BPF program, no nft trace table, no ready file. (1) root without CAP_BPF and without
# CAP_SYS_ADMIN (which also allows BPF), and without CAP_NET_RAW (the packet socket synwhy falls
# back to without BPF: with it, synwhy runs; see nobpf_fallback_test.sh), through capsh's
# bounding-set drop; (2) not root at all (nobody, no groups). Both commands, report and watch.
. "$(dirname "$0")/lib.sh"
command -v capsh >/dev/null || fail "capsh is missing (Debian package libcap2-bin)"
command -v setpriv >/dev/null || fail "setpriv is missing (Debian package util-linux)"
command -v bpftool >/dev/null || fail "bpftool is missing (Debian package bpftool)"

# The test's own shell must be able to trace, or the checks below prove nothing.
grep -q '^CapEff:.*' /proc/self/status || fail "cannot read /proc/self/status"

# What a refused run could leave, told apart from the programs and tables of other synwhy instances
# that may run meanwhile (another test, another lab): a program of synwhy's that no process holds
# (no fd of any process refers to it) and that stays so for 3 s (the kernel frees an exited
# process's programs from deferred work), and a synwhy_trace_PID table whose PID is gone.
SYNWHY_PROGS='^(syn_rx|kfree_skb_reason|tcp_send_reset_reason|icmp_send|tx|sock_state|proc_exit|synack_retrans)$'
orphan_programs() {
    local ids held
    ids=$(bpftool -j prog show 2>/dev/null | jq -r --arg re "$SYNWHY_PROGS" '.[] | select(.name | test($re)) | .id' | sort -u)
    [ -n "$ids" ] || return 0
    held=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -u)
    comm -23 <(echo "$ids") <(echo "$held")
}
programs_left() {
    local first now
    first=$(orphan_programs)
    for _ in $(seq 1 30); do
        [ -n "$first" ] || return 1
        now=$(orphan_programs)
        first=$(comm -12 <(echo "$first") <(echo "$now"))
        sleep 0.1
    done
    [ -n "$first" ]
}
orphan_tables() {
    local t
    for t in $(nft list tables 2>/dev/null | awk '$3 ~ /^synwhy_trace_[0-9]+$/ { print $3 }'); do
        [ -d "/proc/${t#synwhy_trace_}" ] || echo "$t"
    done
}

# expect_refused NAME MISSING_RE COMMAND...: exit 3, one stderr line matching MISSING_RE, no stdout,
# no ready file, nothing left in the kernel or the ruleset.
expect_refused() {
    local name=$1 missing=$2 rc
    shift 2
    rm -f "$WORK/ready"
    set +e
    timeout 20 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    set -e
    [ "$rc" -ne 124 ] || fail "$name: still running after 20 s"
    [ "$rc" -eq 3 ] || fail "$name: exit $rc, expected 3 (cannot trace): $(cat "$WORK/$name.err")"
    [ "$(wc -l <"$WORK/$name.err")" -eq 1 ] || fail "$name: expected exactly one line on stderr, got: $(cat "$WORK/$name.err")"
    grep -Eq "$missing" "$WORK/$name.err" || fail "$name: the line does not name the missing privilege ($missing): $(cat "$WORK/$name.err")"
    [ ! -s "$WORK/$name.out" ] || fail "$name: printed on stdout: $(head -c 300 "$WORK/$name.out")"
    [ ! -e "$WORK/ready" ] || fail "$name: wrote the ready file without attaching"
    if programs_left; then fail "$name: BPF programs of synwhy left with no owner: $(orphan_programs | tr '\n' ' ')"; fi
    [ -z "$(orphan_tables)" ] || fail "$name: nft trace table left: $(orphan_tables)"
    echo "ok: $name: exit 3, '$(cat "$WORK/$name.err")'"
}

for cmd in "report --count 1 --duration 2s" "watch"; do
    mode=${cmd%% *}
    # 1. Root, but CAP_BPF, CAP_SYS_ADMIN and CAP_NET_RAW dropped from the bounding set before exec:
    # the exec'd synwhy is root without them. Proof that the drop took: the shell's CapEff lacks the bits.
    capsh --drop=cap_bpf,cap_sys_admin,cap_net_raw -- -c 'grep "^CapEff:" /proc/self/status' >"$WORK/capeff.txt" 2>&1 ||
        fail "capsh cannot drop capabilities: $(cat "$WORK/capeff.txt")"
    eff=$((16#$(awk '{print $2}' "$WORK/capeff.txt")))
    [ $(((eff >> 39) & 1)) -eq 0 ] && [ $(((eff >> 21) & 1)) -eq 0 ] && [ $(((eff >> 13) & 1)) -eq 0 ] ||
        fail "capsh did not drop CAP_BPF/CAP_SYS_ADMIN/CAP_NET_RAW: $(cat "$WORK/capeff.txt")"
    expect_refused "$mode-no-cap-bpf" 'CAP_BPF.*CAP_NET_RAW' \
        capsh --drop=cap_bpf,cap_sys_admin,cap_net_raw -- -c "exec \"\$0\" $cmd --ready-file \"\$1\"" "$SYNWHY" "$WORK/ready"
    # The line names only what is missing: CAP_PERFMON and CAP_NET_ADMIN are still there.
    if grep -Eq 'CAP_PERFMON|CAP_NET_ADMIN' "$WORK/$mode-no-cap-bpf.err"; then
        fail "$mode without CAP_BPF names privileges it has: $(cat "$WORK/$mode-no-cap-bpf.err")"
    fi

    # 2. Not root: nobody, no supplementary groups; every capability is missing. The ready file's
    # directory is root's: synwhy must fail before it ever tries to write it.
    # shellcheck disable=SC2086
    expect_refused "$mode-not-root" 'root.*CAP_BPF.*CAP_NET_RAW' \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$SYNWHY" $cmd --ready-file "$WORK/ready"
done

# Control: the same capsh wrapper with nothing dropped does attach (so the refusals above are the
# drop's doing, not the wrapper's).
rm -f "$WORK/ready"
capsh -- -c "exec \"\$0\" report --count 1 --duration 1s --json --ready-file \"\$1\"" \
    "$SYNWHY" "$WORK/ready" >"$WORK/control.out" 2>"$WORK/control.err" &
SYNWHY_PID=$!
wait_synwhy 30
[ -e "$WORK/ready" ] || fail "control: synwhy under capsh without a drop did not attach: $(cat "$WORK/control.err")"
jq -e . "$WORK/control.out" >/dev/null 2>&1 || fail "control: no JSON report"
if programs_left; then fail "control: BPF programs left after the run: $(orphan_programs | tr '\n' ' ')"; fi
[ -z "$(orphan_tables)" ] || fail "control: nft trace table left: $(orphan_tables)"
echo "ok: privileges (root without CAP_BPF/CAP_SYS_ADMIN/CAP_NET_RAW, and not root): exit 3, one line, nothing left"
