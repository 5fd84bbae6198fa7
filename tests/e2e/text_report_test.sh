#!/usr/bin/env bash
# The text report as a person reads it: the verdict on the first line, the documented exit status,
# no color codes when stdout is not a terminal, and prose within 80 columns (the verdict line and
# fix commands are kept whole).
# Usage: text_report_test.sh SCENARIO FAMILY EXIT_STATUS FIRST_LINE_ERE
SCENARIO=$1 FAMILY=$2 WANT_RC=$3 FIRST_LINE=$4
. "$(dirname "$0")/lib.sh"

"$LAB" up "$SCENARIO" >"$WORK/lab.out" 2>&1 || fail "lab up $SCENARIO"
start_synwhy report "$SYNWHY" report --netns "${LAB_PREFIX}-srv" --count 1 --duration 15s
"$LAB" connect "$FAMILY" 3 >"$WORK/client.out" 2>&1 || true
wait_synwhy 30
out="$WORK/report.out"
[ "$SYNWHY_RC" -eq "$WANT_RC" ] || fail "exit status $SYNWHY_RC, expected $WANT_RC"
first=$(head -n 1 "$out")
[[ $first =~ $FIRST_LINE ]] || fail "first line is '$first', expected to match '$FIRST_LINE'"
grep -q $'\x1b' "$out" && fail "color codes in a report that does not go to a terminal"
long=$(tail -n +2 "$out" | grep -v 'fix: ' | awk 'length($0) > 80' | head -n 3)
[ -z "$long" ] || fail "lines wider than 80 columns: $long"
grep -q "^flows:" "$out" || fail "no flow table"
echo "ok: $SCENARIO ipv$FAMILY: $first"
