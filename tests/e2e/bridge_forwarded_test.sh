#!/usr/bin/env bash
# SYNs the server only forwards are counted apart in the kernel. The server's address sits on a
# bridge (LAB_TOPOLOGY=bridge, br-lab) with a "VM" on a second port; the client reaches the VM's
# port 22 across the bridge (L2: the SYN passes the receive tracepoint on the server's bridge port,
# in the server's namespace, to an address that is not the server's). Watching the server's port
# 22, refused attempts to the VM and one real SSH connection to the server: the server's own SYNs
# are syns_seen and "SYN arrived", the VM's are syns_forwarded and "SYN forwarded" (never a flow,
# never --count, none of the VM's RSTs in the server's totals), each equal to the SYNs the client
# sent; watch's metrics say the same (synwhy_kernel_syns_total, synwhy_forwarded_syns_total).
export LAB_TOPOLOGY=bridge
. "$(dirname "$0")/lib.sh"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
SRV="${LAB_PREFIX}-srv"
# The VM: the lab's third namespace name, so that `lab.sh down` removes it.
VM="${LAB_PREFIX}-ctr"
VM4=192.0.2.4 VM6=2001:db8::4
ip netns add "$VM"
ip link add vm0 netns "$SRV" type veth peer name vm1 netns "$VM"
ip -n "$SRV" link set vm0 master br-lab
ip -n "$SRV" link set vm0 up
ip -n "$VM" link set lo up
ip -n "$VM" addr add "$VM4/24" dev vm1
ip -n "$VM" addr add "$VM6/64" dev vm1 nodad
ip -n "$VM" link set vm1 up
# Proof that the VM answers across the bridge before any capture (nothing listens: refused).
wait_for_answer "$VM4" 22 refused "the VM at $VM4 does not answer across the bridge"
wait_for_answer "$VM6" 22 refused "the VM at $VM6 does not answer across the bridge"

to_vm() {
    local before
    before=$(client_syns)
    for addr in "$VM4" "$VM6"; do "$LAB" cli nc -z -w 1 "$addr" 22 >/dev/null 2>&1 || true; done
    echo $(($(client_syns) - before))
}
to_server() {
    local before
    before=$(client_syns)
    "$LAB" connect 4 3 >"$WORK/client.out" 2>&1 || fail "the SSH connection to the server failed: $(cat "$WORK/client.out")"
    echo $(($(client_syns) - before))
}

# report: the forwarded SYNs first (they must not end --count 1), then the server's own.
start_synwhy report "$SYNWHY" report --json --netns "$SRV" --port 22 --count 1 --duration 15s
fwd=$(to_vm)
sleep 1
kill -0 "$SYNWHY_PID" 2>/dev/null || fail "--count 1 ended the capture on a forwarded SYN"
own=$(to_server)
wait_synwhy 30
r="$WORK/report.out"
[ "$fwd" -ge 2 ] && [ "$own" -ge 1 ] || fail "the client sent $fwd SYNs to the VM and $own to the server"
jq_check "$r" '[.causes[].code] == ["accepted"] and (.flows | length) == 1' "not one accepted flow"
jq_check "$r" ".syns_seen == $own and .syns_detailed == $own" "syns_seen is not the $own SYNs sent to the server"
jq_check "$r" ".syns_forwarded == $fwd" "syns_forwarded is not the $fwd SYNs sent to the VM"
jq_check "$r" "[.kernel_counts[] | select(.port == 22 and .what == \"SYN arrived\") | .count] | add == $own" \
    "the kernel's 'SYN arrived' is not the $own SYNs sent to the server"
jq_check "$r" "[.kernel_counts[] | select(.port == 22 and (.what | startswith(\"SYN forwarded\"))) | .count] | add == $fwd" \
    "the kernel's 'SYN forwarded' is not the $fwd SYNs sent to the VM"
jq_check "$r" '[.kernel_counts[] | select(.what | test("RST"))] | length == 0' "the VM's RSTs are in the server's totals"
jq_check "$r" "[.flows[].dst] | map(. == \"$VM4\" or . == \"$VM6\") | any | not" "a flow to the VM"
echo "ok: report: client sent $own SYNs to the server, $fwd to the VM; $(jq -c '{syns_seen, syns_forwarded, kernel_counts: [.kernel_counts[] | "\(.what): \(.count)"]}' "$r")"

# watch: the same counts in the metrics file it leaves when it ends.
prom="$WORK/metrics.prom"
start_synwhy watch "$SYNWHY" watch --netns "$SRV" --port 22 --metrics-file "$prom"
fwd=$(to_vm)
own=$(to_server)
sleep 0.5
kill -TERM "$SYNWHY_PID"
wait_synwhy 15
grep -q '^synwhy_up 0$' "$prom" || fail "no final metrics: $(cat "$prom")"
grep -q "^synwhy_forwarded_syns_total $fwd\$" "$prom" ||
    fail "synwhy_forwarded_syns_total is not the $fwd SYNs sent to the VM: $(grep forwarded_syns "$prom")"
grep -q "^synwhy_kernel_syns_total $own\$" "$prom" ||
    fail "synwhy_kernel_syns_total is not the $own SYNs sent to the server: $(grep kernel_syns "$prom")"
echo "ok: watch metrics: $(grep -E '^synwhy_(kernel|forwarded)_syns_total' "$prom" | tr '\n' ' ')(client sent $own, $fwd)"

# An address the server gets during the capture is its own at once (rtnetlink, not the next
# snapshot): the SYN to it is the server's, detailed, and ends --count 1.
NEW4=192.0.2.5
start_synwhy report "$SYNWHY" report --json --netns "$SRV" --port 22 --count 1 --duration 10s
ip -n "$SRV" addr add "$NEW4/24" dev br-lab
sleep 0.5
before=$(client_syns)
"$LAB" cli nc -z -w 1 "$NEW4" 22 >/dev/null 2>&1 || fail "the connection to the server's new address $NEW4 failed"
own=$(($(client_syns) - before))
wait_synwhy 30
r="$WORK/report.out"
jq_check "$r" ".syns_seen == $own and .syns_forwarded == 0" "the SYN to the new address $NEW4 is not the server's"
jq_check "$r" "[.flows[] | select(.dst == \"$NEW4\" and .verdict == \"accepted\")] | length == 1" "no accepted flow to $NEW4"
jq_check "$r" '.capture_seconds < 9' "--count 1 did not end the capture on the SYN to the new address"
echo "ok: new address: $(jq -c '{syns_seen, syns_forwarded, flows: [.flows[] | "\(.dst) \(.verdict)"]}' "$r")"
