# Shared by the end-to-end tests: a lab of our own per test, a ready signal, bounded waits, and
# cleanup of everything the test made, however it ends.
# Needs: SYNWHY (the binary), LAB (scripts/lab.sh).
set -euo pipefail

export LAB_PREFIX="swt$$"
WORK=$(mktemp -d /tmp/synwhy-e2e.XXXXXX)
SYNWHY_PID=""
BACKGROUND_PIDS=""  # helpers a test starts (clients); killed by cleanup

fail() {
    echo "FAIL: $*" >&2
    for f in "$WORK"/*.out "$WORK"/*.err; do
        [ -s "$f" ] && { echo "--- $f" >&2; head -c 6000 "$f" >&2; echo >&2; }
    done
    exit 1
}

cleanup() {
    local rc=$?
    for p in $BACKGROUND_PIDS; do kill "$p" 2>/dev/null || true; done
    if [ -n "$SYNWHY_PID" ] && kill -0 "$SYNWHY_PID" 2>/dev/null; then
        kill -TERM "$SYNWHY_PID" 2>/dev/null || true
        wait "$SYNWHY_PID" 2>/dev/null || true
    fi
    "$LAB" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || fail "end-to-end tests need root (BPF, network namespaces)"

# Starts synwhy in the background with the given arguments; returns once its programs are attached.
start_synwhy() {
    local name=$1
    shift
    rm -f "$WORK/ready"
    "$@" --ready-file "$WORK/ready" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SYNWHY_PID=$!
    for _ in $(seq 1 100); do
        [ -f "$WORK/ready" ] && return 0
        kill -0 "$SYNWHY_PID" 2>/dev/null || fail "synwhy exited before attaching"
        sleep 0.1
    done
    fail "synwhy did not attach within 10 s"
}

# Waits (bounded) for the background synwhy; sets SYNWHY_RC.
wait_synwhy() {
    local limit=${1:-30}
    for _ in $(seq 1 $((limit * 10))); do
        kill -0 "$SYNWHY_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SYNWHY_PID" 2>/dev/null; then
        kill -KILL "$SYNWHY_PID"
        fail "synwhy did not finish within ${limit} s"
    fi
    set +e
    wait "$SYNWHY_PID"
    SYNWHY_RC=$?
    set -e
    SYNWHY_PID=""
}

# SYNs the lab client's kernel sent so far: connections opened plus SYNs retransmitted.
client_syns() {
    "$LAB" cli nstat -asz TcpActiveOpens TcpExtTCPSynRetrans | awk '/^Tcp/ { n += $2 } END { print n + 0 }'
}

# wait_for_answer ADDR PORT refused|open WHAT: up to 10 tries, 0.3 s apart (a new veth or
# neighbour takes a moment), until the lab client's connection to ADDR:PORT gets that answer;
# else fails with WHAT.
wait_for_answer() {
    local out
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        if out=$("$LAB" cli nc -z -v -w 1 "$1" "$2" 2>&1); then
            [ "$3" != open ] || return 0
        else
            case $3-$out in refused-*refused*) return 0 ;; esac
        fi
        sleep 0.3
    done
    fail "$4"
}

# jq_check FILE FILTER DESCRIPTION: FILTER must print true.
jq_check() {
    local out
    out=$(jq -e "$2" "$1" 2>&1) || fail "$3 (jq: $2 -> ${out:-false})"
}

# Whether any BPF program of synwhy is still loaded, allowing the kernel up to 3 s: it frees an
# exited process's links and programs from deferred work.
synwhy_programs_left() {
    for _ in $(seq 1 30); do
        bpftool prog show 2>/dev/null | grep -qE 'name (syn_rx|kfree_skb_reason|tx|sock_state|proc_exit|synack_retrans) ' || return 1
        sleep 0.1
    done
    return 0
}
