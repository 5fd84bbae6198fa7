#!/usr/bin/env bash
# Packaging: `cmake --install` lays the files out as documented, and the .deb that
# `cpack -G DEB` builds installs, runs (`synwhy --version`), carries its man page and bash
# completion, and removes cleanly. The package is always removed again (trap), so the system is
# left as it was.
# Usage: package_test.sh BUILD_DIR VERSION (the registration in tests/CMakeLists.txt passes both).
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: package_test.sh BUILD_DIR VERSION}
VERSION=${2:?usage: package_test.sh BUILD_DIR VERSION}
[ -f "$BUILD/CPackConfig.cmake" ] || fail "$BUILD/CPackConfig.cmake missing: is cmake/Packaging.cmake included?"
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/setup.sh installs dpkg-dev)"
done
ARCH=$(dpkg --print-architecture)
# Set while this test has (or may have) the package installed; the marker outlives a SIGKILLed run
# so the next run knows the installed package is its own leftover.
MARKER=/run/synwhy-package-test.installed
INSTALLED=""

# dpkg OUTFILE ARGS...: dpkg, bounded, waiting (up to 60 s) for a lock another dpkg/apt holds.
run_dpkg() {
    local out=$1
    shift
    for _ in $(seq 1 30); do
        timeout 120 dpkg "$@" >"$out" 2>&1 && return 0
        grep -qi 'lock' "$out" || return 1
        sleep 2
    done
    return 1
}

remove_package() {
    if [ -n "$INSTALLED" ]; then
        run_dpkg "$WORK/purge.out" --purge synwhy || echo "WARNING: dpkg --purge synwhy failed: $(cat "$WORK/purge.out")" >&2
        rm -f "$MARKER"
        INSTALLED=""
    fi
}
with_status() { return "$1"; }
on_exit() {
    local rc=$?
    set +e
    remove_package
    with_status "$rc"
    cleanup  # lib.sh's: takes the status from $?
}
trap on_exit EXIT

# Never replace a synwhy this test did not install.
pkg_state() { dpkg-query -W -f='${db:Status-Status}' synwhy 2>/dev/null || true; }
state=$(pkg_state)
if [ -n "$state" ] && [ "$state" != not-installed ]; then
    if [ -f "$MARKER" ]; then
        echo "note: removing the synwhy package left by an earlier run of this test"
        run_dpkg "$WORK/purge.out" --purge synwhy || fail "dpkg --purge synwhy (leftover) failed"
        rm -f "$MARKER"
    else
        # A skipped test would be a silent pass: refuse loudly instead.
        fail "a synwhy package is on this system ($state); dpkg --purge synwhy, then run this test"
    fi
fi
if [ -e /usr/sbin/synwhy ]; then
    fail "/usr/sbin/synwhy exists and belongs to no package (a hand install?); the .deb would replace it"
fi

# --- 1. cpack -G DEB, in a directory of its own (it brings the build up to date first) ---
timeout 240 cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$WORK/cpack" >"$WORK/cpack.out" 2>"$WORK/cpack.err" \
    || { cat "$WORK"/cpack/_CPack_Packages/*/DEB/*.log >"$WORK/cpack-logs.err" 2>/dev/null || true; fail "cpack -G DEB failed"; }
DEB="$WORK/cpack/synwhy_${VERSION}_${ARCH}.deb"
[ -f "$DEB" ] || fail "cpack made no $(basename "$DEB") (made: $(ls "$WORK/cpack"))"

field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = synwhy ] || fail "Package: '$(field Package)'"
[ "$(field Version)" = "$VERSION" ] || fail "Version: '$(field Version)', expected $VERSION"
[ "$(field Architecture)" = "$ARCH" ] || fail "Architecture: '$(field Architecture)', expected $ARCH"
[ "$(field Section)" = net ] || fail "Section: '$(field Section)', expected net"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
grep -qw nftables <<<"$(field Recommends)" || fail "Recommends: '$(field Recommends)' lacks nftables"
# dpkg-shlibdeps computed the Depends from the libraries the binary links.
depends=$(field Depends)
for lib in libc6 libbpf1 libnftables1 libsystemd0; do
    grep -qw "$lib" <<<"$depends" || fail "Depends: '$depends' lacks $lib (CPACK_DEBIAN_PACKAGE_SHLIBDEPS)"
done
dpkg-deb -c "$DEB" | awk '{print $NF}' >"$WORK/contents.out"
for f in ./usr/sbin/synwhy ./usr/share/man/man8/synwhy.8.gz ./usr/share/bash-completion/completions/synwhy \
         ./usr/share/doc/synwhy/README.md ./usr/share/doc/synwhy/examples/synwhy-watch.service \
         ./usr/share/doc/synwhy/examples/prometheus/synwhy.rules.yml; do
    grep -qxF "$f" "$WORK/contents.out" || fail "the .deb lacks $f"
done
grep -q '^\./lib/systemd\|^\./usr/lib/systemd' "$WORK/contents.out" && fail "the .deb ships a systemd unit outside docs"
echo "ok: $(basename "$DEB"): Depends: $depends"

# --- 2. cmake --install into a private prefix ---
PREFIX="$WORK/prefix"
timeout 120 cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.out" 2>"$WORK/install.err" \
    || fail "cmake --install $BUILD --prefix $PREFIX failed"
for f in sbin/synwhy share/man/man8/synwhy.8.gz share/bash-completion/completions/synwhy \
         share/doc/synwhy/README.md share/doc/synwhy/examples/synwhy-watch.service \
         share/doc/synwhy/examples/prometheus/synwhy.rules.yml; do
    [ -f "$PREFIX/$f" ] || fail "cmake --install: $f missing under the prefix"
done
[ -x "$PREFIX/sbin/synwhy" ] || fail "cmake --install: sbin/synwhy is not executable"
[ ! -e "$PREFIX/lib/systemd" ] || fail "cmake --install: installed a systemd unit (it must stay an example)"
out=$("$PREFIX/sbin/synwhy" --version) || fail "installed synwhy --version failed"
[ "$out" = "synwhy $VERSION" ] || fail "installed synwhy --version: '$out', expected 'synwhy $VERSION'"
gzip -t "$PREFIX/share/man/man8/synwhy.8.gz" || fail "the installed man page is not valid gzip"
th=$(zcat "$PREFIX/share/man/man8/synwhy.8.gz" | sed -n '/^\.TH /p')
grep -q "^\.TH SYNWHY 8 .*\"synwhy $VERSION\"" <<<"$th" \
    || fail "the man page's .TH line does not carry version $VERSION"
echo "ok: cmake --install"

# --- 3. install it, use it, remove it ---
INSTALLED=1
echo "$VERSION" >"$MARKER"
run_dpkg "$WORK/dpkg-install.out" -i "$DEB" || fail "dpkg -i $(basename "$DEB") failed"
[ "$(dpkg-query -W -f='${Status} ${Version}' synwhy)" = "install ok installed $VERSION" ] \
    || fail "after dpkg -i: $(dpkg-query -W -f='${Status} ${Version}' synwhy)"
out=$(timeout 10 /usr/sbin/synwhy --version) || fail "/usr/sbin/synwhy --version failed"
[ "$out" = "synwhy $VERSION" ] || fail "/usr/sbin/synwhy --version: '$out', expected 'synwhy $VERSION'"

MAN=/usr/share/man/man8/synwhy.8.gz
if [ -f "$MAN" ]; then
    if command -v man >/dev/null; then
        found=$(timeout 20 man -w synwhy 2>&1) || fail "man -w synwhy: $found"
        [ "$found" = "$MAN" ] || fail "man -w synwhy: '$found', expected $MAN"
        MANWIDTH=80 timeout 20 man --warnings -E UTF-8 -l "$MAN" >/dev/null 2>"$WORK/man.err" || fail "man -l $MAN failed"
        [ ! -s "$WORK/man.err" ] || fail "the man page renders with warnings"
    fi
elif grep -rqs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
    echo "note: dpkg is configured to skip man pages here (path-exclude); the page is in the .deb"
else
    fail "$MAN not installed"
fi

COMP=/usr/share/bash-completion/completions/synwhy
[ -f "$COMP" ] || fail "$COMP not installed"
comp=$(timeout 10 bash --norc --noprofile -c '
    source "$1" || exit 1
    complete -p synwhy
    COMP_WORDS=(synwhy wa); COMP_CWORD=1; _synwhy
    echo "synwhy wa -> ${COMPREPLY[*]}"
    COMP_WORDS=(synwhy report --dur); COMP_CWORD=2; _synwhy
    echo "synwhy report --dur -> ${COMPREPLY[*]}"' _ "$COMP" 2>&1) || fail "bash completion: $comp"
grep -qx 'complete -F _synwhy synwhy' <<<"$comp" || fail "bash completion not registered: $comp"
grep -qx 'synwhy wa -> watch' <<<"$comp" || fail "bash completion of 'synwhy wa': $comp"
grep -qx 'synwhy report --dur -> --duration' <<<"$comp" || fail "bash completion of 'synwhy report --dur': $comp"

UNIT=/usr/share/doc/synwhy/examples/synwhy-watch.service
if command -v systemd-analyze >/dev/null; then
    timeout 30 systemd-analyze verify --man=no "$UNIT" >"$WORK/verify.out" 2>&1 \
        || fail "systemd-analyze verify $UNIT: $(cat "$WORK/verify.out")"
fi
echo "ok: dpkg -i, /usr/sbin/synwhy --version, man page, bash completion, unit example"

run_dpkg "$WORK/purge.out" --purge synwhy || fail "dpkg --purge synwhy failed"
rm -f "$MARKER"
INSTALLED=""
state=$(pkg_state)
[ -z "$state" ] || [ "$state" = not-installed ] || fail "dpkg --purge synwhy left it $state"
for f in /usr/sbin/synwhy "$MAN" "$COMP" /usr/share/doc/synwhy; do
    [ ! -e "$f" ] || fail "$f left behind after dpkg --purge"
done
echo "ok: package"
