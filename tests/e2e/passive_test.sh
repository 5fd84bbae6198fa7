#!/usr/bin/env bash
# --passive adds no trace table: the ruleset is untouched even while synwhy runs, the drop is still
# diagnosed (by backend), and the report says attribution is at table level only.
. "$(dirname "$0")/lib.sh"

"$LAB" up nft-jump-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"
ip netns exec "$srv" nft list ruleset >"$WORK/before.rules"
start_synwhy report "$SYNWHY" report --netns "$srv" --passive --json --count 1 --duration 15s
ip netns exec "$srv" nft list ruleset >"$WORK/during.rules"
diff -u "$WORK/before.rules" "$WORK/during.rules" >"$WORK/diff.err" || fail "--passive changed the ruleset"
"$LAB" connect 4 2 >"$WORK/client.out" 2>&1
wait_synwhy 30
jq_check "$WORK/report.out" '.causes[0].code == "firewall-drop"' "wrong cause"
jq_check "$WORK/report.out" '.causes[0].summary | test("nftables")' "backend not named"
jq_check "$WORK/report.out" '.causes[0] | has("rule") | not' "a rule was named without nft trace"
jq_check "$WORK/report.out" '.firewall_attribution | test("passive")' "report does not say attribution is passive"
echo "ok: passive"
