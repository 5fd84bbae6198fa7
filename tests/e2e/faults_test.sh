#!/usr/bin/env bash
# Signals at random moments, 50 runs: watch and report, with SIGINT, SIGTERM, SIGHUP or SIGKILL
# anywhere from before attaching to mid-capture, while a client keeps connecting. After every run:
# no BPF program of synwhy attached, no nft trace table, no temporary file; after SIGINT, SIGTERM
# and SIGHUP a report still prints what was captured (valid JSON) and watch exits 0.
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-50}

"$LAB" up nft-drop >"$WORK/lab.out" 2>&1 || fail "lab up"
ns="${LAB_PREFIX}-srv"
# A client that keeps knocking (each attempt dropped, 1 s), for as long as the test runs.
( while :; do "$LAB" connect 4 1 >/dev/null 2>&1 || true; done ) &
BACKGROUND_PIDS=$!
synwhy_programs() { bpftool prog show 2>/dev/null | grep -cE 'name (syn_rx|kfree_skb_reason|tx|sock_state|proc_exit|synack_retrans) ' || true; }
base=$(synwhy_programs)

signals=(INT TERM HUP KILL)
declare -A seen
attached_runs=0
for run in $(seq 1 "$RUNS"); do
    sig=${signals[RANDOM % 4]}
    mode=$([ $((RANDOM % 2)) -eq 0 ] && echo watch || echo report)
    delay_ms=$((RANDOM % 1500))
    args=("$mode" --netns "$ns" --json)
    [ "$mode" = report ] && args+=(--duration 30s)
    rm -f "$WORK/ready"
    # A background job of a non-interactive shell starts with SIGINT ignored; a terminal's Ctrl-C
    # meets a process whose SIGINT is default. Without this, an INT sent before synwhy installs its
    # handler (tens of ms under ASan) was lost and the run "did not end".
    env --default-signal=INT "$SYNWHY" "${args[@]}" --ready-file "$WORK/ready" >"$WORK/run.out" 2>"$WORK/run.err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    attached=0
    [ -f "$WORK/ready" ] && attached=1
    kill "-$sig" "$pid" 2>/dev/null || true
    rc=0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        fail "run $run: $mode did not end within 10 s of SIG$sig (sent after ${delay_ms} ms)"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    seen["$mode-$sig"]=1
    # Nothing left in the kernel or the ruleset, whatever the signal and the moment. The kernel
    # frees a dead process's programs and owner tables from deferred work: allowed 3 s.
    for _ in $(seq 1 30); do
        [ "$(synwhy_programs)" -eq "$base" ] && ! "$LAB" srv nft list tables 2>/dev/null | grep -q synwhy_trace && break
        sleep 0.1
    done
    [ "$(synwhy_programs)" -eq "$base" ] || fail "run $run: BPF programs left 3 s after $mode got SIG$sig at ${delay_ms} ms"
    "$LAB" srv nft list tables 2>/dev/null | grep -q synwhy_trace && fail "run $run: nft trace table left 3 s after SIG$sig"
    if [ "$sig" != KILL ] && [ "$attached" -eq 1 ]; then
        # Attached before the signal: the capture is reported and the exit status documented.
        if [ "$mode" = report ]; then
            jq -e '.causes | length >= 1' "$WORK/run.out" >/dev/null 2>&1 ||
                fail "run $run: report after SIG$sig at ${delay_ms} ms printed no valid report: $(head -c 300 "$WORK/run.out")"
            [ "$rc" -le 1 ] || fail "run $run: report exit $rc after SIG$sig"
        else
            [ "$rc" -eq 0 ] || fail "run $run: watch exit $rc after SIG$sig"
        fi
        attached_runs=$((attached_runs + 1))
    fi
done
ls "$WORK"/*.tmp >/dev/null 2>&1 && fail "temporary files left: $(ls "$WORK"/*.tmp)"
echo "ok: $RUNS runs survived ($attached_runs signalled after attaching); combinations seen: ${!seen[*]}"
