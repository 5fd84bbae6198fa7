#!/usr/bin/env bash
# Bad input: one line on stderr, the documented exit status, nothing left behind.
. "$(dirname "$0")/lib.sh"

# Output paths the bad invocations name: nothing may appear there.
OUT="$WORK/out"
mkdir -p "$OUT"
tried=0
expect() {  # expect STATUS ARGS...
    local want=$1
    shift
    set +e
    "$SYNWHY" "$@" >"$WORK/usage.out" 2>"$WORK/usage.err" </dev/null
    local rc=$?
    set -e
    tried=$((tried + 1))
    [ "$rc" -eq "$want" ] || fail "synwhy $*: exit $rc, expected $want"
    if [ "$want" -ne 0 ]; then
        [ "$(wc -l <"$WORK/usage.err")" -eq 1 ] || fail "synwhy $*: expected one line on stderr, got: $(cat "$WORK/usage.err")"
        grep -q '^synwhy: ' "$WORK/usage.err" || fail "synwhy $*: error line does not start with 'synwhy: '"
        [ ! -s "$WORK/usage.out" ] || fail "synwhy $*: printed on stdout: $(head -c 300 "$WORK/usage.out")"
        [ -z "$(ls -A "$OUT")" ] || fail "synwhy $*: left files behind: $(ls -A "$OUT")"
        nft list tables 2>/dev/null | grep -q synwhy_trace && fail "synwhy $*: an nft trace table was left behind"
        bpftool prog show 2>/dev/null | grep -qE 'name (syn_rx|kfree_skb_reason|tx|sock_state) ' &&
            fail "synwhy $*: a BPF program is loaded"
    fi
    return 0
}
# The matrix: each option with malformed values, each time with valid output paths beside it, so
# that a refusal provably comes before any file, table or program is made.
outs=(--ready-file "$OUT/ready" --pcap "$OUT/x.pcap")
for bad in 0 65536 ssh 22-25 22,23 0x16 " 22" +22 -1 1e3 ""; do
    expect 2 report --port "$bad" "${outs[@]}"
    expect 2 watch --port "$bad" --metrics-file "$OUT/m.prom"
done
expect 2 report --port 22 --port 22 "${outs[@]}"
expect 2 report --port 22 --port 022 "${outs[@]}"
for bad in -1 1y "" 0 1.5s 169h 99999999999 " 1s" s; do
    expect 2 report --duration "$bad" "${outs[@]}"
    expect 2 report --settle "$bad" "${outs[@]}"
done
for bad in 0 -1 1.5 abc "" 99999999999999999999 100000001; do
    expect 2 report --count "$bad" "${outs[@]}"
done
expect 2 bogus
grep -qx "synwhy: unknown command 'bogus': the commands are watch, report, doctor.* (see synwhy --help)" "$WORK/usage.err" ||
    fail "an unknown command is not named with the commands: $(cat "$WORK/usage.err")"
expect 2 frobnicate --port 22
grep -q "unknown command 'frobnicate'" "$WORK/usage.err" || fail "synwhy frobnicate: $(cat "$WORK/usage.err")"
# Bare synwhy: the short help on stdout (the commands and what each does), nothing on stderr.
set +e
"$SYNWHY" >"$WORK/usage.out" 2>"$WORK/usage.err" </dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bare synwhy: exit $rc, expected 2"
[ ! -s "$WORK/usage.err" ] || fail "bare synwhy wrote on stderr: $(cat "$WORK/usage.err")"
for c in watch report doctor; do
    grep -Eq "^  $c +[a-z]" "$WORK/usage.out" || fail "bare synwhy does not list '$c': $(cat "$WORK/usage.out")"
done
grep -q -- '--help' "$WORK/usage.out" || fail "bare synwhy does not point at --help"
expect 2 watch --no-such-flag "${outs[@]}"
expect 2 report --count 1 --bogus
expect 2 watch --count 1 "${outs[@]}"
expect 2 report --metrics-file "$OUT/m.prom"
expect 2 doctor --port 22
expect 2 report --netns synwhy-no-such-netns --count 1 "${outs[@]}"
expect 2 report --netns /nonexistent/netns --count 1 "${outs[@]}"
expect 2 report --netns "" --count 1 "${outs[@]}"
expect 2 report --netns x --all-netns "${outs[@]}"
expect 2 report --hostname "" "${outs[@]}"
# Output files in a missing or read-only place: refused before anything is attached.
expect 2 report --count 1 --pcap /nonexistent-synwhy-dir/x.pcap --ready-file "$OUT/ready"
expect 2 report --count 1 --pcap /proc/synwhy.pcap --ready-file "$OUT/ready"
expect 2 report --count 1 --pcap "" --ready-file "$OUT/ready"
expect 2 report --count 1 --pcap "$OUT" --ready-file "$OUT/ready"
expect 2 watch --metrics-file /nonexistent-synwhy-dir/x.prom --pcap "$OUT/x.pcap"
expect 2 watch --metrics-file /proc/synwhy.prom --pcap "$OUT/x.pcap"
expect 2 report --count 1 --ready-file /nonexistent-synwhy-dir/ready --pcap "$OUT/x.pcap"
expect 2 report --count 1 --ready-file /proc/synwhy.ready --pcap "$OUT/x.pcap"
echo "bad inputs tried: $tried"
expect 0 --version
expect 0 report --help
# Not root: a clear line and exit 3, before touching anything.
id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null || fail "setpriv or user nobody missing"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$SYNWHY" report --count 1 \
    >"$WORK/usage.out" 2>"$WORK/usage.err"
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "unprivileged: exit $rc, expected 3"
[ "$(wc -l <"$WORK/usage.err")" -eq 1 ] || fail "unprivileged: not one line: $(cat "$WORK/usage.err")"
grep -q 'privileges' "$WORK/usage.err" || fail "unprivileged: $(cat "$WORK/usage.err")"
# doctor: as root every signal of this kernel is found and the programs load and attach; the
# JSON form says the same; unprivileged, it says why not and exits 3.
"$SYNWHY" doctor >"$WORK/doctor.out" 2>&1 || fail "doctor as root: exit $?: $(cat "$WORK/doctor.out")"
grep -q '^load_and_attach  ok$' "$WORK/doctor.out" || fail "doctor: $(cat "$WORK/doctor.out")"
grep -q '^nft_trace        ok' "$WORK/doctor.out" || fail "doctor: no nft trace: $(cat "$WORK/doctor.out")"
grep -qE '^  ok  kfree_skb \(packet drops\) +kfree_skb_reason$' "$WORK/doctor.out" || fail "doctor: $(cat "$WORK/doctor.out")"
"$SYNWHY" doctor --json | jq -e '.can_trace and (.tracepoints | length) >= 8' >/dev/null || fail "doctor --json"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$SYNWHY" doctor >"$WORK/doctor.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "doctor unprivileged: exit $rc, expected 3"
grep -q 'cannot trace here: .*permission denied' "$WORK/doctor.out" || fail "doctor unprivileged: $(cat "$WORK/doctor.out")"
nft list tables 2>/dev/null | grep -q synwhy_trace && fail "doctor left an nft trace table"
synwhy_programs_left && fail "BPF programs left behind"
echo "ok: usage"
