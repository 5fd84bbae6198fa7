#!/usr/bin/env bash
# A ruleset of 10,000 rules: the dropping rule, the last of them, is still named exactly.
# (Start-up time with it is measured by scripts/bench.sh, not asserted here.)
. "$(dirname "$0")/lib.sh"

"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
srv="${LAB_PREFIX}-srv"
{
    echo "table inet big {"
    echo "  chain input {"
    echo "    type filter hook input priority 0; policy accept;"
    for i in $(seq 1 9999); do echo "    ip saddr 198.51.100.$((i % 250 + 1)) tcp dport $((10000 + i)) accept"; done
    echo "    tcp dport 22 drop comment \"rule-10000\""
    echo "  }"
    echo "}"
} >"$WORK/big.nft"
ip netns exec "$srv" nft -f "$WORK/big.nft" || fail "cannot load the large ruleset"
[ "$(ip netns exec "$srv" nft -a list chain inet big input | grep -cE '^\s+(ip|tcp) .* # handle')" -eq 10000 ] || fail "ruleset is not 10,000 rules"
start_synwhy report "$SYNWHY" report --netns "$srv" --json --count 1 --duration 20s
"$LAB" connect 6 2 >"$WORK/client.out" 2>&1
wait_synwhy 40
jq_check "$WORK/report.out" '.causes[0].code == "firewall-drop"' "wrong cause"
jq_check "$WORK/report.out" '.causes[0].rule.comment == "rule-10000" and .causes[0].rule.chain == "input"' "wrong rule"
echo "ok: 10,000 rules"
