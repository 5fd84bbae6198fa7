#!/bin/bash
# Runs inside the vmtest guest (scripts/vmtest.sh), as PID 1, on the guest kernel with the host's
# root as its (overlaid, read-only underneath) filesystem: the host-built synwhy and the lab's
# end-to-end scenario tests, each run exactly as ctest runs it (command, arguments, environment and
# working directory from `ctest --show-only=json-v1`), then synwhy's own account of the kernel
# signals it found (`report --json`: kernel_signals, missing_signals). Powers the guest off.
#
# The human log goes to the console (ttyS0). Machine-readable lines go to the second serial port
# (ttyS1), which carries nothing else, for vmtest.sh to parse:
#   START <uptime_s> <kernel release>        the guest script is running
#   INFO <text>                              facts about the guest (kernel, BTF, binary)
#   PLAN <n>                                 tests that will run
#   RESULT PASS|FAIL <test> <seconds> [why]  one per test, as it ends
#   VERSION <line>                           synwhy --version
#   SIGNALS <json>                           {kernel_signals, missing_signals, exit, stderr}
#   DONE pass=<n> fail=<n> seconds=<s>       the end; anything missing means the run failed
#
# Configuration: /run/vmtest/conf (written by vmtest.sh into the initramfs): BUILD, SYNWHY,
# SYNWHY_SHA256, TESTS (ctest names), TIMEOUT_SCALE; RESULTS_TTY when the result lines' port is
# not ttyS1 (arm64: hvc0).
set -u -o pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
cd /
exec </dev/null >/dev/console 2>&1

# shellcheck source=/dev/null
. /run/vmtest/conf
RESULTS_TTY=${RESULTS_TTY:-/dev/ttyS1}
stty -F "$RESULTS_TTY" raw -echo 2>/dev/null
exec 3>"$RESULTS_TTY"

res() { printf '%s\n' "$*" >&3; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

poweroff_now() {
    # Closing the port waits for its output to drain; then ACPI power-off (QEMU exits).
    exec 3>&-
    sleep 1
    echo o >/proc/sysrq-trigger
    sleep 60
}

T0=$(now)
res "START $(cut -d' ' -f1 /proc/uptime) $(uname -r)"
echo "=== vmtest guest: $(uname -srvm)"
res "INFO kernel $(uname -rv)"
if [ -r /sys/kernel/btf/vmlinux ]; then
    res "INFO btf /sys/kernel/btf/vmlinux $(stat -c %s /sys/kernel/btf/vmlinux) bytes"
else
    res "INFO btf MISSING /sys/kernel/btf/vmlinux"
fi
sha=$(sha256sum "$SYNWHY" | cut -d' ' -f1)
res "INFO synwhy $SYNWHY sha256 $sha (host: $SYNWHY_SHA256)"
echo "synwhy: $SYNWHY sha256 $sha (host: $SYNWHY_SHA256)"

pass=0
fail=0
# A mismatch means the binary changed under the run: it is not the one the host asked about.
if [ "$sha" != "$SYNWHY_SHA256" ]; then
    res "RESULT FAIL same-binary 0 the guest sees another $SYNWHY than the host hashed"
    fail=$((fail + 1))
fi

echo "=== synwhy --version"
ver=$("$SYNWHY" --version 2>&1)
echo "$ver"
while IFS= read -r line; do res "VERSION $line"; done <<<"$ver"

echo "=== synwhy doctor"
doc=$("$SYNWHY" doctor 2>&1) || true
echo "$doc"
while IFS= read -r line; do res "DOCTOR $line"; done <<<"$doc"

# The tests as ctest knows them.
tests_json=/run/vmtest/tests.json
if ! ctest --test-dir "$BUILD" --show-only=json-v1 >"$tests_json" 2>/run/vmtest/ctest.err; then
    echo "ctest --show-only failed: $(cat /run/vmtest/ctest.err)"
    res "RESULT FAIL ctest-list 0 ctest --test-dir $BUILD --show-only=json-v1 failed"
    fail=$((fail + 1))
    echo '{"tests":[]}' >"$tests_json"
fi
read -r -a names <<<"$TESTS"
res "PLAN ${#names[@]}"

# Removes whatever a killed test left behind (its lab's namespaces and processes): this guest is
# disposable, and the next test must start clean.
scrub_labs() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf /run/synwhy-lab
}

for name in "${names[@]}"; do
    t=$(jq -c --arg n "$name" '.tests[] | select(.name == $n)' "$tests_json")
    echo
    echo "=== $name"
    if [ -z "$t" ]; then
        echo "no ctest test named $name in $BUILD"
        res "RESULT FAIL $name 0 no such ctest test in $BUILD"
        fail=$((fail + 1))
        continue
    fi
    mapfile -t cmd < <(jq -r '.command[]' <<<"$t")
    mapfile -t envs < <(jq -r '.properties[]? | select(.name == "ENVIRONMENT") | .value[]' <<<"$t")
    wd=$(jq -r '(.properties[]? | select(.name == "WORKING_DIRECTORY") | .value) // "/"' <<<"$t")
    limit=$(jq -r '(.properties[]? | select(.name == "TIMEOUT") | .value) // 1500' <<<"$t")
    limit=$(awk -v l="$limit" -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", l * s + 0.5 }')
    printf 'env'
    printf ' %q' "${envs[@]}"
    printf ' %q' "${cmd[@]}"
    printf '   (cwd %s, timeout %s s)\n' "$wd" "$limit"
    out=/run/vmtest/$name.log
    start=$(now)
    (cd "$wd" && exec env "${envs[@]}" timeout -k 5 "$limit" "${cmd[@]}") >"$out" 2>&1
    rc=$?
    secs=$(since "$start")
    cat "$out"
    if [ "$rc" -eq 0 ]; then
        echo "--- PASS $name ($secs s)"
        res "RESULT PASS $name $secs"
        pass=$((pass + 1))
    else
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            why="timed out after $limit s (ctest TIMEOUT x $TIMEOUT_SCALE)"
            scrub_labs
        else
            why=$(grep -m1 '^FAIL: ' "$out" || tail -n1 "$out")
            why="exit $rc: ${why:-no output}"
        fi
        echo "--- FAIL $name ($secs s): $why"
        res "RESULT FAIL $name $secs $(printf '%s' "$why" | tr '\n\r' '  ' | cut -c1-400)"
        fail=$((fail + 1))
    fi
done

# What synwhy itself says about this kernel's signals: a short capture in the root namespace
# (no traffic is needed: the probe of the tracepoints happens at start).
echo
echo "=== synwhy report --json --port 22 --duration 2s (kernel signals)"
"$SYNWHY" report --json --port 22 --duration 2s >/run/vmtest/signals.json 2>/run/vmtest/signals.err
src=$?
cat /run/vmtest/signals.err
sig=$(jq -c --arg err "$(cat /run/vmtest/signals.err)" --argjson rc "$src" \
    '{kernel_signals, missing_signals, events_lost, exit: $rc, stderr: $err}' /run/vmtest/signals.json 2>/dev/null) ||
    sig=$(jq -nc --arg err "$(cat /run/vmtest/signals.err)" --argjson rc "$src" \
        '{error: "no JSON report", exit: $rc, stderr: $err}')
echo "$sig"
res "SIGNALS $sig"

# The kernel facts behind those signals: the tracepoints synwhy attaches to as this kernel's BTF
# declares them (the host's bpftool), and the enums it reads names from.
echo
echo "=== tracepoints and enums in this kernel's BTF"
if command -v bpftool >/dev/null &&
    bpftool btf dump file /sys/kernel/btf/vmlinux format c >/run/vmtest/vmlinux.h 2>/run/vmtest/bpftool.err; then
    for tp in netif_receive_skb kfree_skb tcp_send_reset icmp_send net_dev_queue inet_sock_set_state \
        tcp_retransmit_synack sched_process_exit; do
        line=$(grep -m1 -F "(*btf_trace_$tp)(" /run/vmtest/vmlinux.h) || line="absent"
        echo "$tp: $line"
        res "TRACEPOINT $tp: $line"
    done
    for e in skb_drop_reason sk_rst_reason; do
        n=$(sed -n "/^enum $e {/,/^};/p" /run/vmtest/vmlinux.h | grep -c '^[[:space:]]*[A-Z][A-Z0-9_]* = ')
        if [ "$n" -gt 0 ]; then line="$n values"; else line="absent"; fi
        if [ "$e" = skb_drop_reason ] && [ "$n" -gt 0 ]; then
            line+=", NETFILTER_DROP: $(grep -c '^[[:space:]]*SKB_DROP_REASON_NETFILTER_DROP = ' /run/vmtest/vmlinux.h)"
        fi
        echo "enum $e: $line"
        res "TRACEPOINT enum $e: $line"
    done
else
    echo "no bpftool on the host, or it failed: $(cat /run/vmtest/bpftool.err 2>/dev/null)"
fi

echo
echo "=== kernel messages (warnings and errors)"
dmesg --level=emerg,alert,crit,err,warn 2>/dev/null | tail -n 40

res "DONE pass=$pass fail=$fail seconds=$(since "$T0")"
echo "=== vmtest guest done: $pass passed, $fail failed"
poweroff_now
