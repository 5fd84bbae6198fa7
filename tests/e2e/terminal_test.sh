#!/usr/bin/env bash
# On a terminal: `report` shows a live status line on stderr (time left, SYNs so far, the leading
# cause) that is erased before the report prints, and colors its verdict; NO_COLOR turns colors
# off. Off a terminal (and with --json) none of it. `watch | head -n 1` ends once head has gone.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script(1) is not installed (util-linux)"

"$LAB" up nft-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
ns="${LAB_PREFIX}-srv"

# 1. A pseudo-terminal via script(1); the client connects while the capture runs (4 s).
( sleep 1.5; "$LAB" connect 4 2 >/dev/null 2>&1 || true ) &
client=$!
timeout 30 script -qec "$SYNWHY report --netns $ns --duration 4s" /dev/null >"$WORK/tty.out" </dev/null || true
wait "$client"
grep -qaE 'synwhy: [0-9]+s left, [0-9]+ SYNs? so far, leading cause: firewall-drop' "$WORK/tty.out" ||
    fail "no live status line naming the leading cause on a terminal: $(tr '\r\033' '|~' <"$WORK/tty.out" | head -c 1500)"
# Erased (CR + erase-line) right before the verdict, which comes in bold red.
grep -qaF $'\r\033[K\033[1;31mA firewall rule (nftables) drops SYNs' "$WORK/tty.out" ||
    fail "the status line is not erased before a colored verdict: $(tr '\r\033' '|~' <"$WORK/tty.out" | head -c 1500)"

# 2. NO_COLOR on a terminal: the status line stays, the colors go.
( sleep 1.5; "$LAB" connect 4 2 >/dev/null 2>&1 || true ) &
client=$!
NO_COLOR=1 timeout 30 script -qec "$SYNWHY report --netns $ns --duration 4s" /dev/null >"$WORK/nocolor.out" </dev/null || true
wait "$client"
grep -qaF $'\033[1;31m' "$WORK/nocolor.out" && fail "colors despite NO_COLOR"
grep -qa 'A firewall rule (nftables) drops SYNs' "$WORK/nocolor.out" || fail "no verdict with NO_COLOR"

# 3. Not a terminal: no status line, no escape at all, on stdout or stderr.
start_synwhy plain "$SYNWHY" report --netns "$ns" --count 1 --duration 15s
"$LAB" connect 4 2 >/dev/null 2>&1 || true
wait_synwhy 30
grep -qa $'\033' "$WORK/plain.out" "$WORK/plain.err" && fail "escape codes off a terminal"
grep -qa 'left, ' "$WORK/plain.err" && fail "a status line off a terminal"

# 4. `watch | head -n 1`: once head has exited, the next line synwhy writes fails and it ends (0).
rm -f "$WORK/ready"
( "$SYNWHY" watch --netns "$ns" --ready-file "$WORK/ready" 2>"$WORK/pipe.err"; echo "rc=$?" >"$WORK/pipe.rc" ) |
    head -n 1 >"$WORK/pipe.out" &
for _ in $(seq 1 100); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
[ -f "$WORK/ready" ] || fail "watch did not attach"
for i in 1 2 3; do
    "$LAB" connect 4 1 >/dev/null 2>&1 || true
    [ -f "$WORK/pipe.rc" ] && break
done
for _ in $(seq 1 50); do [ -f "$WORK/pipe.rc" ] && break; sleep 0.1; done
[ -f "$WORK/pipe.rc" ] || { pkill -f "watch --netns $ns" || true; fail "watch kept running after its reader closed the pipe"; }
grep -q '^rc=0$' "$WORK/pipe.rc" || fail "watch ended with $(cat "$WORK/pipe.rc") when stdout closed"
grep -q 'firewall-drop' "$WORK/pipe.out" || fail "head did not get the first line: $(cat "$WORK/pipe.out")"
echo "ok: terminal"
