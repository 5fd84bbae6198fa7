#!/usr/bin/env bash
# synwhy's nft trace table exists only while it runs: after a normal end, SIGINT, SIGTERM and
# SIGKILL, the server's `nft list ruleset` is exactly what it was before (owner-flagged table).
. "$(dirname "$0")/lib.sh"

"$LAB" up nft-jump-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"
ip netns exec "$srv" nft list ruleset >"$WORK/before.rules"

for ending in normal INT TERM KILL; do
    if [ "$ending" = normal ]; then
        start_synwhy report "$SYNWHY" report --netns "$srv" --duration 2s --json
    else
        start_synwhy report "$SYNWHY" report --netns "$srv" --duration 60s --json
    fi
    ip netns exec "$srv" nft list tables >"$WORK/during.tables"
    grep -q "synwhy_trace_$SYNWHY_PID" "$WORK/during.tables" || fail "no trace table while running ($ending)"
    "$LAB" connect 4 1 >/dev/null 2>&1
    [ "$ending" = normal ] || kill "-$ending" "$SYNWHY_PID"
    wait_synwhy 15
    ip netns exec "$srv" nft list ruleset >"$WORK/after.rules"
    diff -u "$WORK/before.rules" "$WORK/after.rules" >"$WORK/diff.err" || fail "ruleset changed after $ending"
done
echo "ok: ruleset restored after normal end, SIGINT, SIGTERM, SIGKILL"
