#!/usr/bin/env bash
# Least privilege: once attached, synwhy holds only the capabilities its later reads need (in its
# effective, permitted and bounding sets, none inheritable or ambient, no_new_privs set), says which,
# and still does those reads: iptables-legacy-save after the drop names the rule. The files it
# writes are new files renamed into place, 0644 or tighter: a symlink at the path is replaced,
# never written through.
. "$(dirname "$0")/lib.sh"

# The bits of /proc/PID/status's Cap* fields for a list of capability numbers.
mask() {
    local m=0 c
    for c in "$@"; do m=$((m | (1 << c))); done
    printf '%016x' "$m"
}
status_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
check_capabilities() {
    local pid=$1 want=$2 what=$3 f v
    for f in CapEff CapPrm CapBnd; do
        v=$(status_field "$pid" $f)
        [ "$v" = "$want" ] || fail "$what: $f is $v, expected $want"
    done
    for f in CapInh CapAmb; do
        v=$(status_field "$pid" $f)
        [ "$v" = "0000000000000000" ] || fail "$what: $f is $v, expected none"
    done
    [ "$(status_field "$pid" NoNewPrivs)" = 1 ] || fail "$what: no_new_privs is not set"
}
# DAC_READ_SEARCH 2, DAC_OVERRIDE 1, NET_ADMIN 12, NET_RAW 13, SYS_PTRACE 19, SYS_ADMIN 21, SYSLOG 34
base=(2 12 19 21 34)

# 1. iptables-legacy present: CAP_NET_RAW is kept for iptables-legacy-save, which still names the rule.
"$LAB" up iptables-legacy-chain-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
ns="${LAB_PREFIX}-srv"
start_synwhy report "$SYNWHY" report --json --netns "$ns" --count 1 --duration 20s
check_capabilities "$SYNWHY_PID" "$(mask "${base[@]}" 13)" "report with iptables-legacy"
"$LAB" connect 4 3 >/dev/null 2>&1 || true
wait_synwhy 30
[ "$SYNWHY_RC" -eq 1 ] || fail "report exited $SYNWHY_RC"
jq_check "$WORK/report.out" \
    '.privileges.capabilities_kept == ["CAP_DAC_READ_SEARCH","CAP_NET_ADMIN","CAP_NET_RAW","CAP_SYS_PTRACE","CAP_SYS_ADMIN","CAP_SYSLOG"]' \
    "the report does not say which capabilities it kept"
jq_check "$WORK/report.out" '.privileges.note == ""' "a privileges note where the drop worked"
jq_check "$WORK/report.out" \
    '.causes[0].code == "firewall-drop" and .causes[0].rule.backend == "iptables-legacy" and .causes[0].rule.rule_num == 2' \
    "iptables-legacy attribution after the capabilities were dropped"

# 2. watch with --metrics-file and --pcap: CAP_DAC_OVERRIDE kept for the metrics file's directory;
# no iptables-legacy tables here, so no CAP_NET_RAW. The pcap path is a symlink to a file that
# must stay as it was.
"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up healthy"
printf 'precious\n' >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/link.pcap"
start_synwhy watch "$SYNWHY" watch -v --netns "$ns" --metrics-file "$WORK/synwhy.prom" --pcap "$WORK/link.pcap"
check_capabilities "$SYNWHY_PID" "$(mask "${base[@]}" 1)" "watch with --metrics-file"
grep -q '^synwhy: capabilities kept: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYSLOG; the rest dropped$' \
    "$WORK/watch.err" || fail "watch does not say which capabilities it kept"
"$LAB" connect 4 3 >/dev/null 2>&1 || true
for _ in $(seq 1 50); do
    grep -q ' accepted ' "$WORK/watch.out" && break
    sleep 0.1
done
grep -q ' accepted ' "$WORK/watch.out" || fail "no accepted line from watch after the drop"
kill -INT "$SYNWHY_PID"
wait_synwhy 10
[ "$(cat "$WORK/victim")" = precious ] || fail "the symlink's target was written through"
[ -f "$WORK/link.pcap" ] && [ ! -L "$WORK/link.pcap" ] || fail "the pcap did not replace the symlink"
for f in link.pcap synwhy.prom; do
    mode=$(stat -c %a "$WORK/$f")
    [ $((8#$mode & 8#022)) -eq 0 ] || fail "$f has mode $mode (group/other writable)"
done
grep -q '^synwhy_up 0$' "$WORK/synwhy.prom" || fail "the metrics file was not written at the end (CAP_DAC_OVERRIDE kept?)"
ls "$WORK" | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls "$WORK")"
synwhy_programs_left && fail "a BPF program of synwhy is still loaded"
echo "ok: capabilities dropped after attach (effective, permitted, bounding; none ambient; no_new_privs); files replaced, not followed"
