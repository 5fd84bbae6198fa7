#!/usr/bin/env bash
# --all-netns: synwhy runs in the root namespace, the SYN arrives in the lab's server namespace;
# the flow is tagged with that namespace and diagnosed against that namespace's snapshot.
. "$(dirname "$0")/lib.sh"

"$LAB" up sshd-other-port >"$WORK/lab.out" 2>&1 || fail "lab up"
srv_inode=$(stat -L -c %i "/run/netns/${LAB_PREFIX}-srv")
start_synwhy report "$SYNWHY" report --all-netns --json --count 1 --duration 15s
"$LAB" connect 4 2 >"$WORK/client.out" 2>&1
wait_synwhy 30
jq_check "$WORK/report.out" ".flows[0].netns == $srv_inode" "flow not tagged with the server netns ($srv_inode)"
jq_check "$WORK/report.out" '.causes[0].code == "listening-elsewhere"' "wrong cause"
jq_check "$WORK/report.out" "[.hosts[] | select(.netns == $srv_inode and .netns_name == \"${LAB_PREFIX}-srv\")] | length == 1" \
    "no snapshot of the server netns"

start_synwhy watch "$SYNWHY" watch --all-netns
"$LAB" connect 6 2 >"$WORK/client.out" 2>&1
for _ in $(seq 1 30); do [ -s "$WORK/watch.out" ] && break; sleep 0.1; done
kill -INT "$SYNWHY_PID"
wait_synwhy 10
grep -q "\[${LAB_PREFIX}-srv\] \[2001:db8::1\]:[0-9]* *-> \[2001:db8::2\]:22 *listening-elsewhere" "$WORK/watch.out" ||
    fail "watch line does not name the namespace: $(cat "$WORK/watch.out")"
echo "ok: all-netns"
