#!/usr/bin/env bash
# Bad input: one line on stderr, the documented exit status, nothing left behind.
. "$(dirname "$0")/lib.sh"

expect() {  # expect STATUS ARGS...
    local want=$1
    shift
    set +e
    "$SYNWHY" "$@" >"$WORK/usage.out" 2>"$WORK/usage.err" </dev/null
    local rc=$?
    set -e
    [ "$rc" -eq "$want" ] || fail "synwhy $*: exit $rc, expected $want"
    if [ "$want" -ne 0 ]; then
        [ "$(wc -l <"$WORK/usage.err")" -eq 1 ] || fail "synwhy $*: expected one line on stderr, got: $(cat "$WORK/usage.err")"
        grep -q '^synwhy: ' "$WORK/usage.err" || fail "synwhy $*: error line does not start with 'synwhy: '"
    fi
}
expect 2 bogus
expect 2
expect 2 report --port 0
expect 2 report --port 65536
expect 2 report --port ssh
expect 2 report --port 22 --port 22
expect 2 report --duration -1
expect 2 report --duration 1y
expect 2 report --duration ""
expect 2 report --count 0
expect 2 watch --no-such-flag
expect 2 report --netns synwhy-no-such-netns --count 1
expect 2 report --netns x --all-netns
expect 2 report --duration 169h
# Output files in a missing or read-only place: refused before anything is attached.
expect 2 report --count 1 --pcap /nonexistent-synwhy-dir/x.pcap
expect 2 report --count 1 --pcap /proc/synwhy.pcap
expect 2 watch --metrics-file /nonexistent-synwhy-dir/x.prom
expect 2 watch --metrics-file /proc/synwhy.prom
nft list tables 2>/dev/null | grep -q synwhy_trace && fail "an nft trace table was left behind"
expect 0 --version
expect 0 report --help
# Not root: a clear line and exit 3, before touching anything.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    set +e
    setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$SYNWHY" report --count 1 \
        >"$WORK/usage.out" 2>"$WORK/usage.err"
    rc=$?
    set -e
    [ "$rc" -eq 3 ] || fail "unprivileged: exit $rc, expected 3"
    grep -q 'privileges' "$WORK/usage.err" || fail "unprivileged: $(cat "$WORK/usage.err")"
fi
# doctor: as root every signal of this kernel is found and the programs load and attach; the
# JSON form says the same; unprivileged, it says why not and exits 3.
"$SYNWHY" doctor >"$WORK/doctor.out" 2>&1 || fail "doctor as root: exit $?: $(cat "$WORK/doctor.out")"
grep -q '^load_and_attach  ok$' "$WORK/doctor.out" || fail "doctor: $(cat "$WORK/doctor.out")"
grep -q '^nft_trace        ok' "$WORK/doctor.out" || fail "doctor: no nft trace: $(cat "$WORK/doctor.out")"
grep -qE '^  ok  kfree_skb \(packet drops\) +kfree_skb_reason$' "$WORK/doctor.out" || fail "doctor: $(cat "$WORK/doctor.out")"
"$SYNWHY" doctor --json | jq -e '.can_trace and (.tracepoints | length) >= 8' >/dev/null || fail "doctor --json"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    set +e
    setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$SYNWHY" doctor >"$WORK/doctor.out" 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 3 ] || fail "doctor unprivileged: exit $rc, expected 3"
    grep -q 'cannot trace here: .*permission denied' "$WORK/doctor.out" || fail "doctor unprivileged: $(cat "$WORK/doctor.out")"
fi
nft list tables 2>/dev/null | grep -q synwhy_trace && fail "doctor left an nft trace table"
synwhy_programs_left && fail "BPF programs left behind"
echo "ok: usage"
