#!/usr/bin/env bash
# not-arriving, made precise: the name the client uses does not point here, and the client did
# reach this host, on another port.
. "$(dirname "$0")/lib.sh"

"$LAB" up wrong-ip >"$WORK/lab.out" 2>&1 || fail "lab up"
wrong=$("$LAB" target 4)
start_synwhy report "$SYNWHY" report --netns "${LAB_PREFIX}-srv" --json --duration 4s --hostname "$wrong"
"$LAB" cli nc -z -w 1 192.0.2.2 2222 >/dev/null 2>&1 || true   # the wrong port, on the right host
"$LAB" connect 4 2 >"$WORK/client.out" 2>&1                      # the right port, on the wrong address
wait_synwhy 20
r="$WORK/report.out"
jq_check "$r" '[.causes[].code] == ["not-arriving"]' "cause is not only not-arriving"
jq_check "$r" "[.causes[0].evidence[] | test(\"^$wrong resolves to $wrong: none of them is an address of this host\")] | any" \
    "no hostname evidence"
jq_check "$r" '[.causes[0].evidence[] | test("SYN from 192.0.2.1 arrived on port 2222 instead")] | any' \
    "no other-port evidence"
jq_check "$r" '.causes[0].fix[0] | test("client 192.0.2.1 connects to port 2222, not 22")' "no other-port fix"
jq_check "$r" "[.causes[0].fix[] | test(\"$wrong points elsewhere\")] | any" "no hostname fix"
echo "ok: not-arriving explained"
