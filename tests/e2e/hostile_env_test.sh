#!/usr/bin/env bash
# A hostile environment gives a correct report or one precise line, never a crash or a hang:
# no BTF, no tracefs, no sshd binary, a sshd_config with a syntax error. Each case runs in a
# private mount namespace (unshare -m) so the host itself is never touched.
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
in_private_mounts() {
    local script=$1
    shift
    timeout 60 unshare -m --propagation private sh -c "$script" sh "$@"
}

# 1. No BTF: one line that says so and that the packet socket captures instead (issue 14: the
# fallback below the floor), the report's first line names that capture; nothing is heard here, so
# the verdict is not-arriving (exit 1), never the "cannot trace" exit 3.
set +e
in_private_mounts 'mount --bind /dev/null /sys/kernel/btf/vmlinux && exec "$1" report --count 1 --duration 2s' \
    "$SYNWHY" >"$WORK/nobtf.out" 2>"$WORK/nobtf.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "no BTF: exit $rc, expected 1 (not-arriving through the fallback): $(cat "$WORK/nobtf.err")"
[ "$(wc -l <"$WORK/nobtf.err")" -eq 1 ] || fail "no BTF: expected one line, got: $(cat "$WORK/nobtf.err")"
grep -q 'BTF.*packet socket' "$WORK/nobtf.err" || fail "no BTF: the line does not say BTF and the fallback: $(cat "$WORK/nobtf.err")"
head -n1 "$WORK/nobtf.out" | grep -q '^capture: packet socket (BPF cannot load: .*BTF' ||
    fail "no BTF: the report's first line does not name the capture: $(head -n1 "$WORK/nobtf.out")"

# 2. No tracefs (and no debugfs): tp_btf programs need neither; the verdict is right.
"$LAB" up sshd-stopped >"$WORK/lab.out" 2>&1 || fail "lab up"
ns="${LAB_PREFIX}-srv"
( sleep 1.5; "$LAB" connect 4 2 >/dev/null 2>&1 || true ) &
set +e
in_private_mounts 'umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null;
    ! grep -q " /sys/kernel/tracing " /proc/self/mounts || exit 99
    exec "$1" report --json --netns "$2" --count 1 --duration 15s' "$SYNWHY" "$ns" >"$WORK/notracefs.out" 2>"$WORK/notracefs.err"
rc=$?
set -e
wait
[ "$rc" -eq 1 ] || fail "no tracefs: exit $rc: $(cat "$WORK/notracefs.err")"
jq_check "$WORK/notracefs.out" '[.causes[].code] == ["no-listener"]' "no tracefs: wrong verdict"

# 3. No sshd binary and 4. a sshd_config with a syntax error: the report still stands, and says
# what it could not learn or what is wrong with the config.
printf 'Port 22\nListenAddresss 0.0.0.0\n' >"$WORK/broken_config"
for case in nosshd brokenconfig; do
    if [ $case = nosshd ]; then
        setup='mount --bind /dev/null /usr/sbin/sshd'
    else
        setup="mount --bind $WORK/broken_config /etc/ssh/sshd_config"
    fi
    ( sleep 1.5; "$LAB" connect 4 2 >/dev/null 2>&1 || true ) &
    set +e
    in_private_mounts "$setup"' && exec "$1" report --json --netns "$2" --count 1 --duration 15s' "$SYNWHY" "$ns" \
        >"$WORK/$case.out" 2>"$WORK/$case.err"
    rc=$?
    set -e
    wait
    [ "$rc" -eq 1 ] || fail "$case: exit $rc: $(cat "$WORK/$case.err")"
    jq_check "$WORK/$case.out" '[.causes[].code] == ["no-listener"]' "$case: wrong verdict"
done
jq_check "$WORK/brokenconfig.out" '[.causes[0].fix[] | test("ListenAddresss")] | any' \
    "the broken sshd_config is not quoted in the fix: $(jq -c '.causes[0].fix' "$WORK/brokenconfig.out")"
echo "ok: hostile environment (no BTF, no tracefs, no sshd, broken sshd_config)"
