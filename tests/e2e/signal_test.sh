#!/usr/bin/env bash
# `synwhy report` interrupted by SIGINT or SIGTERM still prints what it captured, and leaves no
# BPF program behind.
SIGNAL=$1
. "$(dirname "$0")/lib.sh"

"$LAB" up nft-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
start_synwhy report "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --duration 60s
"$LAB" connect 4 2 >"$WORK/client.out" 2>&1
kill "-$SIGNAL" "$SYNWHY_PID"
wait_synwhy 10
[ "$SYNWHY_RC" -eq 1 ] || fail "exit status $SYNWHY_RC after SIG$SIGNAL, expected 1 (a failure was captured)"
jq_check "$WORK/report.out" '.causes[0].code == "firewall-drop"' "report after SIG$SIGNAL lacks the capture"
jq_check "$WORK/report.out" '.capture_seconds < 30' "the capture did not stop at SIG$SIGNAL"
if synwhy_programs_left; then
    fail "BPF programs of synwhy remain attached after it exited"
fi
echo "ok: SIG$SIGNAL"
