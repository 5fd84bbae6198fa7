#!/usr/bin/env bash
# Text that users and programs control comes out escaped: a listening process named with a newline
# and an ESC sequence, and an nft rule comment with both, can neither forge report lines nor drive
# the terminal (text report and watch), and the JSON stays valid.
. "$(dirname "$0")/lib.sh"

# 1. A process whose name (comm) is "e\n\e[2Jvil" accepts the connection.
"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
hostile="$WORK/e"$'\n\x1b[2J'"vil"
cp "$(readlink -f "$(command -v nc)")" "$hostile"
"$LAB" srv "$hostile" -l 22 >/dev/null 2>&1 &
for _ in $(seq 1 50); do
    "$LAB" srv ss -Htln 'sport = :22' | grep -q LISTEN && break
    sleep 0.1
done
start_synwhy report "$SYNWHY" report --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s
"$LAB" connect 4 3 >/dev/null 2>&1 || true
wait_synwhy 30
grep -q $'\x1b' "$WORK/report.out" && fail "a raw ESC reached the report"
grep -q '^vil' "$WORK/report.out" && fail "the process name forged a line"
grep -qF 'e\x0a\x1b[2Jvil' "$WORK/report.out" || fail "the process name is not shown escaped"
"$LAB" down >/dev/null 2>&1

# 2. An nft rule comment with a newline and ESC drops the SYN (JSON input: nft's syntax takes it).
"$LAB" up healthy >"$WORK/lab.out" 2>&1 || fail "lab up"
cat >"$WORK/rules.json" <<'JSON'
{"nftables":[{"add":{"table":{"family":"inet","name":"hostile"}}},
{"add":{"chain":{"family":"inet","table":"hostile","name":"input","type":"filter","hook":"input","prio":-10,"policy":"accept"}}},
{"add":{"rule":{"family":"inet","table":"hostile","chain":"input","comment":"evil\nforged line\u001b[2J",
 "expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"drop":null}]}}}]}
JSON
"$LAB" srv nft -j -f "$WORK/rules.json" || fail "cannot load the hostile rule"
start_synwhy watch "$SYNWHY" watch --netns "${LAB_PREFIX}-srv"
"$LAB" connect 4 2 >/dev/null 2>&1 || true
kill -TERM "$SYNWHY_PID"
wait_synwhy 10
grep -q 'firewall-drop' "$WORK/watch.out" || fail "watch did not see the drop"
start_synwhy report "$SYNWHY" report --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s
"$LAB" connect 4 2 >/dev/null 2>&1 || true
wait_synwhy 30
for f in "$WORK/watch.out" "$WORK/report.out"; do
    grep -q $'\x1b' "$f" && fail "a raw ESC reached $(basename "$f")"
    grep -q '^forged line' "$f" && fail "the comment forged a line in $(basename "$f")"
    grep -qF 'evil\x0aforged line\x1b[2J' "$f" || fail "the comment is not shown escaped in $(basename "$f")"
done
start_synwhy json "$SYNWHY" report --json --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s
"$LAB" connect 4 2 >/dev/null 2>&1 || true
wait_synwhy 30
jq -e '.causes[0].rule.comment == "evil\nforged line\u001b[2J"' "$WORK/json.out" >/dev/null ||
    fail "the JSON does not carry the comment exactly: $(jq -c '.causes[0].rule' "$WORK/json.out")"
echo "ok: hostile names"
